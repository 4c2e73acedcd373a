build/obj/src/plugin/host.o: src/plugin/host.c src/plugin/host.h \
 include/mamori/plugin.h src/config/pconf.h src/perf/perf.h \
 src/proc/proc.h src/util/hmap.h src/util/log.h src/util/mem.h
src/plugin/host.h:
include/mamori/plugin.h:
src/config/pconf.h:
src/perf/perf.h:
src/proc/proc.h:
src/util/hmap.h:
src/util/log.h:
src/util/mem.h:
