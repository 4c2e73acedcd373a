# utm plugin: Net-SNMP (asynchronous session API) and OpenSSL (netconn).
PLUGIN_CFLAGS_utm = $(SNMP_CFLAGS) $(SSL_CFLAGS)
PLUGIN_LIBS_utm = $(SNMP_LIBS) $(SSL_LIBS) -lpthread -lm
