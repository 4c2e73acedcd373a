/*
 * Test plugin "check" (file metrics_clash.so): a plugin whose metrics
 * (ABI 1.2) test how the core prints them - its name makes one of its
 * families `mamori_check_results_total`, the core's own (never shown in
 * its place); a label value with quotes, backslashes and UTF-8 (escaped);
 * a gauge named like a counter (refused: a name never has two types).  Passive, no checks: it
 * exists through its `plugins` block.
 */
#include <mamori/plugin.h>
#include <stdlib.h>

struct mc {
	const struct mamori_host *host;
};

static int mc_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct mc *p = calloc(1, sizeof *p);
	if (!p)
		return MAMORI_E_NOMEM;
	p->host = host;
	*inst = p;
	return 0;
}

static void mc_destroy(void *inst)
{
	free(inst);
}

static void put(struct mc *p, struct mamori_metrics *m, int type, const char *name,
                const char *const *labels, size_t n, double v)
{
	struct mamori_metric x = { .struct_size = sizeof x,
		                   .type = type,
		                   .name = name,
		                   .help = "A \\ test.",
		                   .labels = labels,
		                   .n_labels = n,
		                   .value = v };
	p->host->metric(m, &x);
}

static void mc_metrics(void *inst, struct mamori_metrics *m)
{
	struct mc *p = inst;
	const char *state[] = { "state", "ok" };
	const char *odd[] = { "text", "a \"quoted\" \\ back\\slash \xe5\xae\x88\xe3\x82\x8a" };
	put(p, m, MAMORI_METRIC_COUNTER, "results_total", state, 1, 5);
	put(p, m, MAMORI_METRIC_COUNTER, "odd_total", odd, 1, 1);
	put(p, m, MAMORI_METRIC_GAUGE, "mixed_total", NULL, 0, 1);
	put(p, m, MAMORI_METRIC_COUNTER, "mixed_total", state, 1, 2);
}

MAMORI_PLUGIN_DEFINE(.name = "check", .version = "1.0",
                     .description = "test: metrics the core must print with care",
                     .flags = MAMORI_PLUGIN_PASSIVE, .init = mc_init, .destroy = mc_destroy,
                     .metrics = mc_metrics);
