build/tests/plugins/bad_abi.so: tests/plugins/bad_abi.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
