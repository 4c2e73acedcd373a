# webhook notifier: libcurl (HTTPS on the loop through plugins/lib/curlloop.c).
PLUGIN_CFLAGS_webhook = $(CURL_CFLAGS)
PLUGIN_LIBS_webhook = $(CURL_LIBS)
