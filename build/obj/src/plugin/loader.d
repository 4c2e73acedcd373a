build/obj/src/plugin/loader.o: src/plugin/loader.c src/plugin/loader.h \
 include/mamori/plugin.h src/util/log.h src/util/mem.h
src/plugin/loader.h:
include/mamori/plugin.h:
src/util/log.h:
src/util/mem.h:
