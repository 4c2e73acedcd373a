build/obj/src/util/jsonw.o: src/util/jsonw.c src/util/jsonw.h \
 /usr/include/cjson/cJSON.h
src/util/jsonw.h:
/usr/include/cjson/cJSON.h:
