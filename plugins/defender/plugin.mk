# defender plugin: cJSON for the agent reports (through plugins/lib/jsonw.c).
PLUGIN_CFLAGS_defender = $(CJSON_CFLAGS)
PLUGIN_LIBS_defender = $(CJSON_LIBS)
