build/pobj/plugins/lib/jsonw.o: plugins/lib/jsonw.c src/util/jsonw.c \
 src/util/jsonw.h /usr/include/cjson/cJSON.h
src/util/jsonw.c:
src/util/jsonw.h:
/usr/include/cjson/cJSON.h:
