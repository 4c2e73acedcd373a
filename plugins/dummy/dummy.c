/*
 * dummy: a check that returns a configured state and output, optionally
 * after a delay.  For tests, demos and benchmarks of the pipeline.
 *
 * Keys (check block):
 *   state  = 0..3          result state (default 0)
 *   output = "text"        first line (default "dummy <STATE>")
 *   delay  = "2s"          complete after this long (default: at once)
 *   perf   = "'x'=1;2;3"   optional perfdata text
 *
 * Metrics (plugin ABI 1.2, the example for plugin authors): runs it
 * completed by state, mamori_dummy_runs_total{instance=...,state=...},
 * and runs waiting on their delay, mamori_dummy_runs_delayed.
 */
#include <mamori/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dummy {
	const struct mamori_host *host;
	unsigned long long runs[4]; /* completed, by state */
	unsigned long long delayed; /* runs waiting on their delay now */
};

struct dummy_check {
	int state;
	double delay;
	char *output;
	char *perf;
};

struct dummy_run {
	struct dummy *d;
	struct dummy_check *c;
	struct mamori_run *run;
	struct mamori_timer *timer;
};

static const struct mamori_key check_keys[] = {
	{ "state", MAMORI_KEY_INT, 0, "result state 0..3", NULL },
	{ "output", MAMORI_KEY_STRING, 0, "output text", NULL },
	{ "delay", MAMORI_KEY_DURATION, 0, "complete after this long", NULL },
	{ "perf", MAMORI_KEY_STRING, 0, "perfdata text", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int d_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct dummy *d = calloc(1, sizeof *d);
	if (!d)
		return MAMORI_E_NOMEM;
	d->host = host;
	*inst = d;
	return 0;
}

static void d_destroy(void *inst)
{
	free(inst);
}

static int d_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                     void **data)
{
	struct dummy *d = inst;
	const struct mamori_host *h = d->host;
	long long state = 0;
	const char *out = NULL, *perf = NULL;
	double delay = 0;
	h->conf_int(conf, "state", &state);
	if (state < 0 || state > 3)
		return h->conf_error(conf, "state",
		                     "must be 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN)");
	h->conf_string(conf, "output", &out);
	h->conf_string(conf, "perf", &perf);
	h->conf_duration(conf, "delay", &delay);
	struct dummy_check *c = calloc(1, sizeof *c);
	if (!c)
		return MAMORI_E_NOMEM;
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	char def[32];
	snprintf(def, sizeof def, "dummy %s", names[state]);
	c->state = (int)state;
	c->delay = delay;
	c->output = strdup(out ? out : def);
	c->perf = perf ? strdup(perf) : NULL;
	if (!c->output || (perf && !c->perf)) {
		free(c->output);
		free(c->perf);
		free(c);
		return MAMORI_E_NOMEM;
	}
	*data = c;
	return 0;
}

static void d_release(void *inst, struct mamori_check *chk, void *data)
{
	struct dummy_check *c = data;
	if (!c)
		return;
	free(c->output);
	free(c->perf);
	free(c);
}

static void complete(struct dummy *d, struct mamori_run *run, const struct dummy_check *c)
{
	struct mamori_result r = {
		.struct_size = sizeof r,
		.state = c->state,
		.output = c->output,
		.perf_text = c->perf,
	};
	d->runs[c->state & 3]++;
	d->host->run_complete(run, &r);
}

static void on_delay(struct mamori_timer *t, void *ud)
{
	struct dummy_run *r = ud;
	struct dummy *d = r->d;
	d->host->timer_free(r->timer);
	d->delayed--;
	complete(d, r->run, r->c);
	free(r);
}

static int d_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct dummy *d = inst;
	struct dummy_check *c = data;
	if (c->delay <= 0) {
		*run_state = NULL;
		complete(d, run, c);
		return 0;
	}
	struct dummy_run *r = calloc(1, sizeof *r);
	if (!r)
		return MAMORI_E_NOMEM;
	r->d = d;
	r->c = c;
	r->run = run;
	r->timer = d->host->timer_new(on_delay, r);
	d->host->timer_start(r->timer, c->delay, 0);
	d->delayed++;
	*run_state = r;
	return 0;
}

static void d_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	struct dummy_run *r = run_state;
	struct dummy *d = inst;
	if (!r)
		return;
	d->host->timer_free(r->timer);
	d->delayed--;
	free(r);
}

static void d_metrics(void *inst, struct mamori_metrics *m)
{
	struct dummy *d = inst;
	static const char *const states[] = { "ok", "warning", "critical", "unknown" };
	for (int i = 0; i < 4; i++) {
		const char *labels[] = { "state", states[i] };
		struct mamori_metric x = { .struct_size = sizeof x,
			                   .type = MAMORI_METRIC_COUNTER,
			                   .name = "runs_total",
			                   .help = "Runs the dummy plugin completed, by state.",
			                   .labels = labels,
			                   .n_labels = 1,
			                   .value = (double)d->runs[i] };
		d->host->metric(m, &x);
	}
	struct mamori_metric g = { .struct_size = sizeof g,
		                   .type = MAMORI_METRIC_GAUGE,
		                   .name = "runs_delayed",
		                   .help = "Runs waiting on their delay.",
		                   .value = (double)d->delayed };
	d->host->metric(m, &g);
}

MAMORI_PLUGIN_DEFINE(.name = "dummy", .version = "1.0",
                     .description = "returns a configured result", .check_keys = check_keys,
                     .init = d_init, .destroy = d_destroy, .check_prepare = d_prepare,
                     .check_release = d_release, .check_start = d_start, .check_cancel = d_cancel,
                     .metrics = d_metrics);
