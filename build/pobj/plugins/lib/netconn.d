build/pobj/plugins/lib/netconn.o: plugins/lib/netconn.c \
 plugins/lib/netconn.h include/mamori/plugin.h
plugins/lib/netconn.h:
include/mamori/plugin.h:
