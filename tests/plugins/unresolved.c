/* Test plugin: references a symbol nobody defines; dlopen(RTLD_NOW) fails. */
#include <mamori/plugin.h>
extern int mamori_symbol_that_does_not_exist(void);
static int i(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	return mamori_symbol_that_does_not_exist();
}
static void d(void *inst)
{
}
MAMORI_PLUGIN_DEFINE(.name = "unresolved", .version = "0", .flags = MAMORI_PLUGIN_PASSIVE,
                     .init = i, .destroy = d);
