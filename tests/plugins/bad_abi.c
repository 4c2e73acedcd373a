/* Test plugin: claims ABI major 99; the loader must refuse it. */
#include <mamori/plugin.h>
static int i(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	return 0;
}
static void d(void *inst)
{
}
MAMORI_EXPORT extern const struct mamori_plugin mamori_plugin_v1;
const struct mamori_plugin mamori_plugin_v1 = { .abi_major = 99,
	                                        .abi_minor = 0,
	                                        .struct_size = sizeof(struct mamori_plugin),
	                                        .name = "bad_abi",
	                                        .version = "0",
	                                        .flags = MAMORI_PLUGIN_PASSIVE,
	                                        .init = i,
	                                        .destroy = d };
