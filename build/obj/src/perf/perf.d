build/obj/src/perf/perf.o: src/perf/perf.c src/perf/perf.h \
 include/mamori/plugin.h
src/perf/perf.h:
include/mamori/plugin.h:
