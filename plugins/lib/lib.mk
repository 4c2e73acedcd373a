# plugins/lib: flags for the shared plugin helpers (jsonw.c needs cJSON headers).
PLUGIN_CFLAGS_lib = $(CJSON_CFLAGS)
