build/pobj/plugins/dummy/dummy.o: plugins/dummy/dummy.c \
 include/mamori/plugin.h
include/mamori/plugin.h:
