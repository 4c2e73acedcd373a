/* Test plugin: init fails half-way; destroy must cope with a half-built instance. */
#include <mamori/plugin.h>
#include <stdlib.h>
struct half {
	char *a;
	char *b;
};
static int i(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	struct half *x = calloc(1, sizeof *x);
	if (!x)
		return MAMORI_E_NOMEM;
	x->a = malloc(16);
	*inst = x;
	return MAMORI_E_IO; /* b never allocated */
}
static void d(void *inst)
{
	struct half *x = inst;
	if (!x)
		return;
	free(x->a);
	free(x->b);
	free(x);
}
MAMORI_PLUGIN_DEFINE(.name = "crash_init", .version = "0", .flags = MAMORI_PLUGIN_PASSIVE,
                     .init = i, .destroy = d);
