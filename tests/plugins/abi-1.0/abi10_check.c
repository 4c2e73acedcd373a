/*
 * A check plugin built against the previous plugin header (ABI 1.0, kept
 * in tests/plugins/abi-1.0/mamori/plugin.h): a core speaking 1.1 must
 * load and run it unchanged (test_notify_abi).  It completes every run
 * OK with its instance's `text`, through the 1.0 host table.
 */
#include <mamori/plugin.h>
#include <stdlib.h>
#include <string.h>

struct inst {
	const struct mamori_host *h;
	char text[128];
};

static const struct mamori_key ikeys[] = { { "text", MAMORI_KEY_STRING, 0, "output", NULL },
	                                   { NULL, 0, 0, NULL, NULL } };

static int i_init(const struct mamori_host *h, const struct mamori_conf *c, void **out)
{
	struct inst *in = calloc(1, sizeof *in);
	if (!in)
		return MAMORI_E_NOMEM;
	in->h = h;
	const char *t = "built against ABI 1.0";
	h->conf_string(c, "text", &t);
	strncpy(in->text, t, sizeof in->text - 1);
	*out = in;
	return 0;
}

static void i_destroy(void *inst)
{
	free(inst);
}

static int c_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *c, void **d)
{
	*d = NULL;
	return 0;
}

static void c_release(void *inst, struct mamori_check *chk, void *d)
{
}

static int c_start(void *inst, struct mamori_run *run, void *d, void **rs)
{
	struct inst *in = inst;
	struct mamori_result r = { .struct_size = sizeof r,
		                   .state = MAMORI_OK,
		                   .output = in->text };
	in->h->run_complete(run, &r);
	return 0;
}

static void c_cancel(void *inst, struct mamori_run *run, void *rs)
{
}

MAMORI_PLUGIN_DEFINE(.name = "abi10_check", .version = "1.0", .instance_keys = ikeys,
                     .init = i_init, .destroy = i_destroy, .check_prepare = c_prepare,
                     .check_release = c_release, .check_start = c_start, .check_cancel = c_cancel);
