/*
 * Test plugin "passive_test": a passive plugin (MAMORI_PLUGIN_PASSIVE) for
 * core tests.  Its checks are never started; results arrive through
 * server_submit (the core's check_submit), and freshness applies.
 * Check key: `tag` (string, ignored).  No globals: one instance per init.
 */
#include <mamori/plugin.h>
#include <stdlib.h>

struct pt_inst {
	const struct mamori_host *host;
};

static const struct mamori_key pt_check_keys[] = {
	{ "tag", MAMORI_KEY_STRING, 0, "free text, ignored", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int pt_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct pt_inst *p = calloc(1, sizeof *p);
	if (!p)
		return MAMORI_E_NOMEM;
	p->host = host;
	*inst = p;
	return 0;
}

static void pt_destroy(void *inst)
{
	free(inst);
}

static int pt_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **data)
{
	*data = NULL;
	return 0;
}

static void pt_release(void *inst, struct mamori_check *chk, void *data)
{
}

MAMORI_PLUGIN_DEFINE(.name = "passive_test", .version = "1",
                     .description = "passive results for core tests",
                     .flags = MAMORI_PLUGIN_PASSIVE, .check_keys = pt_check_keys, .init = pt_init,
                     .destroy = pt_destroy, .check_prepare = pt_prepare,
                     .check_release = pt_release);
