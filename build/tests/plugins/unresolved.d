build/tests/plugins/unresolved.so: tests/plugins/unresolved.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
