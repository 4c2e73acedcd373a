build/tests/plugins/no_symbol.so: tests/plugins/no_symbol.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
