/*
 * Test plugin: checks whose perfdata changes at every run, for the
 * perfdata history's tests and benchmark (the dummy plugin's perfdata is
 * the same every time).  Each run completes at once, OK, with the two
 * values check_ping prints - a round-trip time and a loss percentage -
 * taken from a per-check counter, so consecutive results differ:
 *
 *   rta=<0.001 * (n % 1000) + 0.010>ms;100.000000;500.000000;0.000000 pl=<n % 100>%;20;60;0
 *
 * Check keys:
 *   mode = "text"   hand the perfdata as text (the core parses it), like
 *                   the dummy plugin and isolated plugins (default)
 *          "items"  hand parsed items, like the exec plugin
 *   labels = 2      values per result (1..300): beyond the two above,
 *                   v3=<n>c v4=<n>c ... (for the label cap)
 */
#include <mamori/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg {
	const struct mamori_host *host;
};

struct pg_check {
	int items;
	int labels;
	unsigned long long n;
};

static const struct mamori_key check_keys[] = {
	{ "mode", MAMORI_KEY_STRING, 0, "text or items", NULL },
	{ "labels", MAMORI_KEY_INT, 0, "values per result", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int pg_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct pg *p = calloc(1, sizeof *p);
	if (!p)
		return MAMORI_E_NOMEM;
	p->host = host;
	*inst = p;
	return 0;
}

static void pg_destroy(void *inst)
{
	free(inst);
}

static int pg_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **data)
{
	struct pg *p = inst;
	const char *mode = NULL;
	long long labels = 2;
	p->host->conf_string(conf, "mode", &mode);
	p->host->conf_int(conf, "labels", &labels);
	if (mode && strcmp(mode, "text") != 0 && strcmp(mode, "items") != 0)
		return p->host->conf_error(conf, "mode", "must be text or items");
	if (labels < 1 || labels > 300)
		return p->host->conf_error(conf, "labels", "must be 1..300");
	struct pg_check *c = calloc(1, sizeof *c);
	if (!c)
		return MAMORI_E_NOMEM;
	c->items = mode && strcmp(mode, "items") == 0;
	c->labels = (int)labels;
	*data = c;
	return 0;
}

static void pg_release(void *inst, struct mamori_check *chk, void *data)
{
	free(data);
}

static int pg_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct pg *p = inst;
	struct pg_check *c = data;
	unsigned long long n = c->n++;
	double rta = 0.010 + 0.001 * (double)(n % 1000);
	int pl = (int)(n % 100);
	struct mamori_result r = { .struct_size = sizeof r, .state = 0, .output = "PING OK" };
	*run_state = NULL;
	if (c->items) {
		static char names[300][16];
		struct mamori_perfdata it[300];
		memset(it, 0, sizeof(struct mamori_perfdata) * (size_t)c->labels);
		it[0] = (struct mamori_perfdata){ .label = "rta", .uom = "ms", .value = rta };
		if (c->labels > 1)
			it[1] = (struct mamori_perfdata){ .label = "pl", .uom = "%", .value = pl };
		for (int i = 2; i < c->labels; i++) {
			snprintf(names[i], sizeof names[i], "v%d", i + 1);
			it[i] = (struct mamori_perfdata){ .label = names[i],
				                          .uom = "c",
				                          .value = (double)n };
		}
		r.perf = it;
		r.n_perf = (size_t)c->labels;
		p->host->run_complete(run, &r);
		return 0;
	}
	char text[8192];
	int len = snprintf(text, sizeof text, "rta=%.6fms;100.000000;500.000000;0.000000", rta);
	if (c->labels > 1)
		len += snprintf(text + len, sizeof text - (size_t)len, " pl=%d%%;20;60;0", pl);
	for (int i = 2; i < c->labels && (size_t)len < sizeof text - 32; i++)
		len += snprintf(text + len, sizeof text - (size_t)len, " v%d=%lluc", i + 1, n);
	r.perf_text = text;
	p->host->run_complete(run, &r);
	return 0;
}

static void pg_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	/* runs complete inside check_start: nothing is ever in flight */
}

MAMORI_PLUGIN_DEFINE(.name = "perfgen", .version = "1.0",
                     .description = "perfdata that changes at every run (tests)",
                     .check_keys = check_keys, .init = pg_init, .destroy = pg_destroy,
                     .check_prepare = pg_prepare, .check_release = pg_release,
                     .check_start = pg_start, .check_cancel = pg_cancel);
