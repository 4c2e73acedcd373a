build/obj/src/config/pconf.o: src/config/pconf.c src/config/pconf.h \
 include/mamori/plugin.h src/perf/perf.h src/util/mem.h
src/config/pconf.h:
include/mamori/plugin.h:
src/perf/perf.h:
src/util/mem.h:
