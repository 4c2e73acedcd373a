# dns_txt: c-ares for queries, OpenSSL (libcrypto) to decode DKIM keys.
PLUGIN_CFLAGS_dns_txt = $(CARES_CFLAGS) $(SSL_CFLAGS)
PLUGIN_LIBS_dns_txt = $(CARES_LIBS) $(SSL_LIBS)
