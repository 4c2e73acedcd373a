build/tests/plugins/dup_dummy.so: tests/plugins/dup_dummy.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
