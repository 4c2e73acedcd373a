build/obj/tests/unit/test_jsonw.o: tests/unit/test_jsonw.c \
 src/util/jsonw.h /usr/include/cjson/cJSON.h
src/util/jsonw.h:
/usr/include/cjson/cJSON.h:
