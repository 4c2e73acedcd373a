# mail_latency: libcurl (SMTP/IMAP on the loop) and cJSON (postqueue -j).
PLUGIN_CFLAGS_mail_latency = $(CURL_CFLAGS) $(CJSON_CFLAGS)
PLUGIN_LIBS_mail_latency = $(CURL_LIBS) $(CJSON_LIBS)
