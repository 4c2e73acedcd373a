build/tests/plugins/crash_init.so: tests/plugins/crash_init.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
