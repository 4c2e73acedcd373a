# sms notifier: libcurl (HTTPS on the loop), OpenSSL (reply signatures),
# cJSON (JSON replies through plugins/lib/jsonw.c).
PLUGIN_CFLAGS_sms = $(CURL_CFLAGS) $(SSL_CFLAGS) $(CJSON_CFLAGS)
PLUGIN_LIBS_sms = $(CURL_LIBS) $(SSL_LIBS) $(CJSON_LIBS)
