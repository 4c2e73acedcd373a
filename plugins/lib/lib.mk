# plugins/lib: flags for the shared plugin helpers (jsonw.c needs cJSON headers,
# curlloop.c libcurl's: a plugin that uses it links $(CURL_LIBS) itself).
PLUGIN_CFLAGS_lib = $(CJSON_CFLAGS) $(CURL_CFLAGS)
