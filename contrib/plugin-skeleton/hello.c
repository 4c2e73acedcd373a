/*
 * hello: a skeleton check plugin for mamori, built out of tree against an
 * installed mamori:
 *
 *   cc -shared -fPIC $(pkg-config --cflags mamori-plugin) -o hello.so hello.c
 *   install -m 644 hello.so $(pkg-config --variable=plugindir mamori-plugin)/
 *
 * Config (check block):  { plugin = "hello"; greeting = "hi"; warn = "10"; crit = "20"; }
 * It reports OK with the greeting, and the greeting's length as perfdata
 * judged against the thresholds.  Copy it and replace check_start with
 * your own non-blocking work: start I/O with host->io_new / timer_new,
 * and call host->run_complete exactly once when done.
 */
#include <mamori/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hello {
	const struct mamori_host *host; /* the core's functions: the only way in */
};

struct hello_check {
	char greeting[128];
	struct mamori_range warn, crit;
};

static const struct mamori_key check_keys[] = {
	{ "greeting", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "text to report", NULL },
	{ "warn", MAMORI_KEY_RANGE, 0, "warning range for the greeting's length", NULL },
	{ "crit", MAMORI_KEY_RANGE, 0, "critical range for the greeting's length", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int hello_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	MAMORI_UNUSED(conf);
	struct hello *h = calloc(1, sizeof *h);
	if (!h)
		return MAMORI_E_NOMEM;
	h->host = host;
	*inst = h;
	return 0;
}

static void hello_destroy(void *inst)
{
	free(inst); /* copes with NULL: init may have failed */
}

static int hello_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                         void **data)
{
	MAMORI_UNUSED(chk);
	struct hello *h = inst;
	const char *g = NULL;
	h->host->conf_string(conf, "greeting", &g); /* the core checked it exists and is a string */
	if (!g || strlen(g) >= sizeof(((struct hello_check *)0)->greeting))
		return h->host->conf_error(conf, "greeting", "must be 1..127 characters");
	struct hello_check *c = calloc(1, sizeof *c);
	if (!c)
		return MAMORI_E_NOMEM;
	snprintf(c->greeting, sizeof c->greeting, "%s", g);
	h->host->conf_range(conf, "warn", &c->warn);
	h->host->conf_range(conf, "crit", &c->crit);
	*data = c;
	return 0;
}

static void hello_release(void *inst, struct mamori_check *chk, void *data)
{
	MAMORI_UNUSED(inst);
	MAMORI_UNUSED(chk);
	free(data);
}

static int hello_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct hello *h = inst;
	struct hello_check *c = data;
	const struct mamori_check_info *info = h->host->check_info(h->host->run_check(run));
	double len = (double)strlen(c->greeting);
	char out[256];
	snprintf(out, sizeof out, "%s from %s", c->greeting, info ? info->asset : "?");
	struct mamori_perfdata p = {
		.label = "length", .uom = "", .value = len, .warn = c->warn, .crit = c->crit
	};
	struct mamori_result r = {
		.struct_size = sizeof r,
		.state = h->host->range_state(&c->warn, &c->crit, len),
		.output = out, /* copied by the core: stack buffers are fine */
		.perf = &p,
		.n_perf = 1,
	};
	h->host->run_complete(run, &r); /* completing inside check_start is allowed */
	*run_state = NULL;
	return 0;
}

static void hello_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	/* Nothing in flight: hello completes at once. */
	MAMORI_UNUSED(inst);
	MAMORI_UNUSED(run);
	MAMORI_UNUSED(run_state);
}

MAMORI_PLUGIN_DEFINE(.name = "hello", .version = "1.0", .description = "skeleton plugin",
                     .check_keys = check_keys, .init = hello_init, .destroy = hello_destroy,
                     .check_prepare = hello_prepare, .check_release = hello_release,
                     .check_start = hello_start, .check_cancel = hello_cancel);
