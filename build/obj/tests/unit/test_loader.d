build/obj/tests/unit/test_loader.o: tests/unit/test_loader.c \
 src/plugin/loader.h include/mamori/plugin.h src/util/log.h \
 tests/unit/../lib/plugtest.h
src/plugin/loader.h:
include/mamori/plugin.h:
src/util/log.h:
tests/unit/../lib/plugtest.h:
