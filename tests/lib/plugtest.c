/*
 * plugtest: one plugin, one check, the real loader and host on the real
 * default libev loop.  See plugtest.h.  Test-only code.
 */
#include "plugtest.h"
#include "config/pconf.h"
#include "perfdata/perfdata.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "proc/proc.h"
#include "util/mem.h"

#include <ev.h>
#include <libconfig.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mamori_check {
	struct mamori_check_info info;
	void *data;
	int prepared;
};

struct mamori_run {
	struct plugtest *pt;
	void *state;
	int done;
	int cancelled;
};

struct plugtest {
	struct ev_loop *loop;
	struct proc_ctx *procs;
	struct loader *loader;
	struct plugin_mod *mod;
	void *inst;
	struct mamori_check chk;
	struct mamori_run *run;
	struct plugtest_result *res;
	int completions;
	double started;
	char address[256];
	char err[2048];
};

static char last_error[2048];

const char *plugtest_last_error(void)
{
	return last_error;
}

const char *plugtest_error(const struct plugtest *pt)
{
	return pt->err;
}

const struct mamori_host *plugtest_host(struct plugtest *pt)
{
	return host_table();
}

static void on_err(void *ud, const char *msg)
{
	char *buf = ud;
	size_t n = strlen(buf);
	snprintf(buf + n, 2048 - n, "%s%s", n ? "\n" : "", msg);
}

static const struct mamori_check_info *ops_check_info(void *ctx, const struct mamori_check *chk)
{
	return &chk->info;
}

static struct mamori_check *ops_run_check(void *ctx, const struct mamori_run *run)
{
	return &run->pt->chk;
}

static void ops_run_complete(void *ctx, struct mamori_run *run, const struct mamori_result *r)
{
	struct plugtest *pt = run->pt;
	pt->completions++;
	if (run->cancelled || run->done) {
		fprintf(stderr, "plugtest: run completed after %s\n",
		        run->cancelled ? "cancel" : "completion");
		return;
	}
	run->done = 1;
	if (pt->res) {
		struct plugtest_result *o = pt->res;
		o->state = r->state;
		snprintf(o->output, sizeof o->output, "%s", r->output ? r->output : "");
		snprintf(o->long_output, sizeof o->long_output, "%s",
		         r->long_output ? r->long_output : "");
		o->perf[0] = '\0';
		if (r->perf && r->n_perf) {
			perf_format_all(r->perf, r->n_perf, o->perf, sizeof o->perf);
		} else if (r->perf_text) {
			char *copy = xstrdup(r->perf_text);
			struct mamori_perfdata items[64];
			int n = perf_parse(copy, items, 64, NULL);
			if (n > 0)
				perf_format_all(items, (size_t)n, o->perf, sizeof o->perf);
			free(copy);
		}
		o->duration = ev_now(pt->loop) - pt->started;
	}
}

static const struct host_ops ops = {
	.run_complete = ops_run_complete,
	.run_check = ops_run_check,
	.check_info = ops_check_info,
};

struct plugtest *plugtest_new(const char *so_path, const char *instance_conf)
{
	struct plugtest *pt = xcalloc(1, sizeof *pt);
	last_error[0] = '\0';
	signal(SIGPIPE, SIG_IGN); /* as mamorid does */
	pt->loop = ev_default_loop(0);
	pt->procs = proc_ctx_new(pt->loop);
	host_bind(pt->loop, pt->procs, &ops, pt, "share/mamori");
	pt->loader = loader_new();
	pt->mod = loader_load(pt->loader, so_path);
	if (!pt->mod || !pt->mod->def) {
		snprintf(last_error, sizeof last_error, "%s",
		         pt->mod && pt->mod->refused ? pt->mod->refused : "load failed");
		goto fail;
	}
	config_t cfg;
	config_init(&cfg);
	char *text = xasprintf("plugin = { %s };", instance_conf ? instance_conf : "");
	struct mamori_conf conf = { .on_error = on_err, .ud = last_error };
	int rc = -1;
	if (!config_read_string(&cfg, text)) {
		snprintf(last_error, sizeof last_error, "line %d: %s", config_error_line(&cfg),
		         config_error_text(&cfg));
	} else {
		conf.s = config_lookup(&cfg, "plugin");
		if (pconf_validate(conf.s, pt->mod->def->instance_keys, NULL, "plugin block",
		                   on_err, last_error) == 0) {
			rc = pt->mod->def->init(host_table(), &conf, &pt->inst);
			if (rc != 0 && !last_error[0])
				snprintf(last_error, sizeof last_error, "init failed: %s",
				         host_table()->strerror(rc));
		}
	}
	pconf_release(&conf);
	free(text);
	config_destroy(&cfg);
	if (rc != 0) {
		pt->mod->def->destroy(pt->inst);
		pt->inst = NULL;
		goto fail;
	}
	host_name_instance(pt->inst, pt->mod->def->name);
	return pt;
fail:
	loader_free(pt->loader);
	proc_ctx_free(pt->procs);
	host_unbind();
	free(pt);
	return NULL;
}

static const struct mamori_key core_check_keys[] = {
	{ "name", MAMORI_KEY_STRING, 0, NULL, NULL },
	{ "plugin", MAMORI_KEY_STRING, 0, NULL, NULL },
	{ "interval", MAMORI_KEY_DURATION, 0, NULL, NULL },
	{ "retry_interval", MAMORI_KEY_DURATION, 0, NULL, NULL },
	{ "max_attempts", MAMORI_KEY_INT, 0, NULL, NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, NULL, NULL },
	{ "service", MAMORI_KEY_STRING, 0, NULL, NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static void release_check(struct plugtest *pt)
{
	if (pt->chk.prepared && pt->mod->def->check_release)
		pt->mod->def->check_release(pt->inst, &pt->chk, pt->chk.data);
	pt->chk.prepared = 0;
	pt->chk.data = NULL;
}

int plugtest_prepare(struct plugtest *pt, const char *check_conf, const char *asset_address)
{
	release_check(pt);
	pt->err[0] = '\0';
	snprintf(pt->address, sizeof pt->address, "%s", asset_address ? asset_address : "");
	struct mamori_check_info *i = &pt->chk.info;
	memset(i, 0, sizeof *i);
	i->struct_size = sizeof *i;
	i->customer = "c0001";
	i->customer_name = "Test Customer";
	i->region = "test";
	i->asset = "asset-1";
	i->asset_type = "host";
	i->address = pt->address;
	i->check = pt->mod->def->name;
	i->service = "other";
	i->interval = 60;
	i->timeout = 10;
	config_t cfg;
	config_init(&cfg);
	char *text = xasprintf("check = {\n%s\n};", check_conf ? check_conf : "");
	int rc = MAMORI_E_CONFIG;
	struct mamori_conf conf = { .on_error = on_err, .ud = pt->err };
	if (!config_read_string(&cfg, text)) {
		snprintf(pt->err, sizeof pt->err, "line %d: %s", config_error_line(&cfg),
		         config_error_text(&cfg));
		goto out;
	}
	conf.s = config_lookup(&cfg, "check");
	if (pconf_validate(conf.s, pt->mod->def->check_keys, core_check_keys, "check", on_err,
	                   pt->err))
		goto out;
	double d;
	if (pconf_duration(&conf, "timeout", &d) == 0)
		i->timeout = d;
	if (pconf_duration(&conf, "interval", &d) == 0)
		i->interval = d;
	rc = pt->mod->def->check_prepare
	         ? pt->mod->def->check_prepare(pt->inst, &pt->chk, &conf, &pt->chk.data)
	         : 0;
	if (rc == 0)
		pt->chk.prepared = 1;
	else if (!pt->err[0])
		snprintf(pt->err, sizeof pt->err, "check_prepare failed: %s",
		         host_table()->strerror(rc));
out:
	pconf_release(&conf);
	free(text);
	config_destroy(&cfg);
	return rc;
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ONE);
}

void plugtest_pump(struct plugtest *pt, double seconds)
{
	ev_timer t;
	ev_timer_init(&t, tick, seconds, 0.);
	ev_timer_start(pt->loop, &t);
	ev_run(pt->loop, 0);
	ev_timer_stop(pt->loop, &t);
}

static int start_run(struct plugtest *pt, struct plugtest_result *out)
{
	pt->run = xcalloc(1, sizeof *pt->run);
	pt->run->pt = pt;
	pt->res = out;
	pt->completions = 0;
	ev_now_update(pt->loop);
	pt->started = ev_now(pt->loop);
	int rc = pt->mod->def->check_start(pt->inst, pt->run, pt->chk.data, &pt->run->state);
	if (rc != 0)
		pt->run->done = 1;
	return rc;
}

int plugtest_run(struct plugtest *pt, double timeout, struct plugtest_result *out)
{
	memset(out, 0, sizeof *out);
	if (!pt->chk.prepared)
		return MAMORI_E_INVAL;
	int rc = start_run(pt, out);
	if (rc != 0) {
		free(pt->run);
		pt->run = NULL;
		return rc;
	}
	double end = ev_time() + timeout;
	while (!pt->run->done && ev_time() < end)
		plugtest_pump(pt, 0.01);
	if (!pt->run->done) {
		pt->run->cancelled = 1;
		pt->mod->def->check_cancel(pt->inst, pt->run, pt->run->state);
		rc = MAMORI_E_TIMEOUT;
	}
	/* Let stray completions show up before the run record goes. */
	plugtest_pump(pt, 0.001);
	out->completions = pt->completions;
	pt->res = NULL;
	free(pt->run);
	pt->run = NULL;
	return rc;
}

int plugtest_run_cancel(struct plugtest *pt, double after, double linger)
{
	struct plugtest_result scratch;
	if (!pt->chk.prepared)
		return MAMORI_E_INVAL;
	int rc = start_run(pt, &scratch);
	if (rc != 0) {
		free(pt->run);
		pt->run = NULL;
		return rc;
	}
	if (after > 0)
		plugtest_pump(pt, after);
	if (!pt->run->done) {
		pt->run->cancelled = 1;
		pt->mod->def->check_cancel(pt->inst, pt->run, pt->run->state);
	}
	plugtest_pump(pt, linger > 0 ? linger : 0.001);
	pt->res = NULL;
	free(pt->run);
	pt->run = NULL;
	return pt->completions;
}

void plugtest_free(struct plugtest *pt)
{
	if (!pt)
		return;
	release_check(pt);
	if (pt->inst || pt->mod)
		pt->mod->def->destroy(pt->inst);
	host_forget_instance(pt->inst);
	loader_free(pt->loader);
	proc_ctx_free(pt->procs);
	host_unbind();
	free(pt);
}

const struct mamori_plugin *plugtest_def(struct plugtest *pt)
{
	return pt->mod ? pt->mod->def : NULL;
}

void *plugtest_instance(struct plugtest *pt)
{
	return pt->inst;
}
