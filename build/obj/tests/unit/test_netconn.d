build/obj/tests/unit/test_netconn.o: tests/unit/test_netconn.c \
 plugins/lib/netconn.c plugins/lib/netconn.h include/mamori/plugin.h
plugins/lib/netconn.c:
plugins/lib/netconn.h:
include/mamori/plugin.h:
