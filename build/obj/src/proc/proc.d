build/obj/src/proc/proc.o: src/proc/proc.c src/proc/proc.h \
 include/mamori/plugin.h src/util/log.h src/util/mem.h
src/proc/proc.h:
include/mamori/plugin.h:
src/util/log.h:
src/util/mem.h:
