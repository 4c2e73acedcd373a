build/tests/plugins/no_init.so: tests/plugins/no_init.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
