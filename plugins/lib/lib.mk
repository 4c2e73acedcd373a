# Shared plugin helpers: netconn.c uses OpenSSL (plugins that use it link
# $(SSL_LIBS) themselves).
PLUGIN_CFLAGS_lib = $(SSL_CFLAGS)
