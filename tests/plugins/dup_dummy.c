/* Test plugin: calls itself "dummy" like the real one; must be refused as a duplicate. */
#include <mamori/plugin.h>
static int i(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	return 0;
}
static void d(void *inst)
{
}
MAMORI_PLUGIN_DEFINE(.name = "dummy", .version = "dup", .flags = MAMORI_PLUGIN_PASSIVE, .init = i,
                     .destroy = d);
