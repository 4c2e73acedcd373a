build/obj/tests/lib/plugtest.o: tests/lib/plugtest.c tests/lib/plugtest.h \
 include/mamori/plugin.h src/config/pconf.h src/perf/perf.h \
 src/plugin/host.h src/plugin/loader.h src/proc/proc.h src/util/mem.h
tests/lib/plugtest.h:
include/mamori/plugin.h:
src/config/pconf.h:
src/perf/perf.h:
src/plugin/host.h:
src/plugin/loader.h:
src/proc/proc.h:
src/util/mem.h:
