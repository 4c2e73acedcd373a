/*
 * server: lifecycle of mamorid's top-level object (new, start, reload,
 * stop, free): it creates every module, wires them together and tears
 * them down in order.  No logic of its own beyond that, and the thin
 * views for tests and benchmarks.  See server.h.
 */
#include "server/server_int.h"
#include "alert/alert.h"
#include "alerting/alerting.h"
#include "app/app.h"
#include "bus/bus.h"
#include "cal/cal.h"
#include "events/events.h"
#include "auth/auth.h"
#include "http/http.h"
#include "ingress/mqtt_cmd.h"
#include "journal/journal.h"
#include "notify/notify.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/proxy.h"
#include "proc/proc.h"
#include "series/forward.h"
#include "series/series.h"
#include "statelog/statelog.h"
#include "report/report.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"

#include "buildcfg.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void log_config_error(void *ud, const char *msg)
{
	log_always("config", LOG_LVL_ERR, "%s", msg);
}

/* ---- restored state (startup) ---- */

struct restored {
	struct store_state_row row;
	char *strings;
};

static void on_state_row(void *ud, const struct store_state_row *r)
{
	struct server *s = ud;
	size_t lo = strlen(r->output ? r->output : ""), lp = strlen(r->perfdata ? r->perfdata : ""),
	       ll = strlen(r->long_output ? r->long_output : "");
	char *key = xasprintf("%s/%s/%s", r->customer, r->asset, r->name);
	struct restored *x = xcalloc(1, sizeof *x + 0);
	x->row = *r;
	x->strings = xmalloc(lo + lp + ll + 3 + strlen(key) + 1);
	char *p = x->strings;
	memcpy(p, r->output ? r->output : "", lo + 1);
	x->row.output = p;
	p += lo + 1;
	memcpy(p, r->perfdata ? r->perfdata : "", lp + 1);
	x->row.perfdata = p;
	p += lp + 1;
	memcpy(p, r->long_output ? r->long_output : "", ll + 1);
	x->row.long_output = p;
	p += ll + 1;
	strcpy(p, key);
	x->row.customer = x->row.asset = x->row.name = x->row.plugin = NULL;
	x->row.ack_author = x->row.ack_comment = NULL;
	free(hmap_put(&s->restored, p, strlen(p), x));
	free(key);
}

static void apply_restored(struct server *s)
{
	size_t it = 0;
	const struct hmap_entry *e;
	size_t n = 0;
	while (hmap_next(&s->restored, &it, &e)) {
		struct restored *x = e->value;
		struct check *c = registry_check_key(&s->reg, e->key, e->keylen);
		if (c) {
			const struct store_state_row *r = &x->row;
			c->st.state = (uint8_t)(r->state & 3);
			c->st.hard = (uint8_t) !!r->hard;
			c->st.attempt = (uint8_t)(r->attempt < 1     ? 1
			                          : r->attempt > 100 ? 100
			                                             : r->attempt);
			c->st.hard_state = (uint8_t)(r->hard_state & 3);
			c->st.flapping = (uint8_t) !!r->flapping;
			c->st.stale = (uint8_t) !!r->stale;
			c->st.hist = r->hist;
			c->st.n_hist = (uint8_t)(r->n_hist > STATE_FLAP_WINDOW ? STATE_FLAP_WINDOW
			                                                       : r->n_hist);
			c->st.flap_pct = (float)r->flap_pct;
			c->st.last_check = r->last_check;
			c->st.last_change = r->last_change;
			c->st.last_hard_change = r->last_hard_change;
			c->st.has_result = r->last_check > 0;
			if (r->ack)
				c->flags |= CK_ACK;
			size_t lo = strlen(r->output), lp = strlen(r->perfdata),
			       ll = strlen(r->long_output);
			c->out_len = (uint32_t)(lo + lp + ll + 3);
			c->out = xmalloc(c->out_len);
			memcpy(c->out, r->output, lo + 1);
			memcpy(c->out + lo + 1, r->perfdata, lp + 1);
			memcpy(c->out + lo + lp + 2, r->long_output, ll + 1);
			n++;
		}
		free(x->strings);
		free(x);
	}
	hmap_free(&s->restored);
	if (n)
		log_info("server", "restored the state of %zu checks", n);
}

/* ---- lifecycle ---- */

static struct mconf *load_conf(struct server *s, const char *text)
{
	struct mconf *c =
	    text ? config_load_string(text, s->loader, s->opts.data_dir, log_config_error, s)
	         : config_load(s->config_path, s->loader, s->opts.data_dir, log_config_error, s);
	if (c && s->opts.state_dir) {
		free(c->state_dir);
		c->state_dir = xstrdup(s->opts.state_dir);
	}
	return c;
}

/* Readiness for the service layer (/readyz). */
static void health(void *ud, struct app_health *out)
{
	struct server *s = ud;
	int up = bus_connected(s->bus);
	out->store_ok = !s->store || !store_failing(s->store);
	out->broker_configured = up >= 0;
	out->broker_ok = up == 1;
}

static void broker_stats(void *ud, struct app_broker_stats *out)
{
	struct server *s = ud;
	struct bus_stats b;
	bus_get_stats(s->bus, &b);
	out->configured = b.configured;
	out->connected = b.connected;
	out->msgs_in = b.msgs_in;
	out->msgs_out = b.msgs_out;
	out->acks = b.acks;
	out->rejected_size = b.rejected_size;
	out->rejected_nosub = b.rejected_nosub;
	out->publish_errors = b.publish_errors;
	out->connects = b.connects;
	out->connect_failures = b.connect_failures;
	out->unacked = b.unacked;
	out->bytes_in = b.bytes_in;
	out->bytes_out = b.bytes_out;
}

/* ---- the perfdata history ---- */

static void history_conf(const struct mconf *c, struct series_conf *out)
{
	series_conf_default(out);
	out->enabled = c->history.enabled;
	out->raw_keep = c->history.raw_retention;
	out->keep_5m = c->history.rollup_5m_retention;
	out->keep_1h = c->history.rollup_1h_retention;
	out->raw_min_interval = c->history.raw_min_interval;
	out->flush = c->history.flush_interval;
	out->max_labels = c->history.max_labels;
}

/* The engine's per-result hook: the check's slot holds its series state
 * (made, with the check's names, the first time). */
static void on_perfdata(void *ud, struct check *c, const struct mamori_result *r, int same,
                        double now)
{
	struct server *s = ud;
	if (!c->hist)
		c->hist =
		    series_check(s->series, c->key, c->asset->cust->id, c->asset->name, c->name);
	series_record(s->series, c->hist, r->perf, r->perf ? r->n_perf : 0, r->perf_text, same,
	              now);
}

/* history.forward: a forwarder for the configured receiver, kept across a
 * reload that does not change it (its buffer and connection stay); a
 * changed one replaces it (what the old one held is dropped). */
static void forward_wire(struct server *s, const struct mconf *c)
{
	struct forward_conf fc;
	forward_conf_default(&fc);
	if (c->history.forward.graphite)
		snprintf(fc.graphite, sizeof fc.graphite, "%s", c->history.forward.graphite);
	if (c->history.forward.influx)
		snprintf(fc.influx, sizeof fc.influx, "%s", c->history.forward.influx);
	if (c->history.forward.prefix)
		snprintf(fc.prefix, sizeof fc.prefix, "%s", c->history.forward.prefix);
	fc.buffer = c->history.forward.buffer;
	char err[256];
	if ((fc.graphite[0] || fc.influx[0]) && forward_conf_check(&fc, err, sizeof err) != 0) {
		log_err("forward", "history.forward: %s; not forwarding", err);
		fc.graphite[0] = fc.influx[0] = '\0';
	}
	if ((fc.graphite[0] || fc.influx[0]) && !c->history.enabled)
		log_warn("forward", "history.forward is set but history.enabled is false:"
		                    " nothing is forwarded until the history records");
	if (s->forward && memcmp(forward_get_conf(s->forward), &fc, sizeof fc) == 0)
		return;
	series_set_forward(s->series, NULL);
	forward_free(s->forward);
	s->forward = NULL;
	if (!fc.graphite[0] && !fc.influx[0])
		return;
	s->forward = forward_new(s->loop, &fc);
	series_set_forward(s->series, s->forward);
}

/* The hook runs only while the history records: off costs nothing per
 * result. */
static void history_wire(struct server *s)
{
	int on = s->series && series_recording(s->series);
	engine_on_perfdata(s->engine, on ? on_perfdata : NULL, on ? s : NULL);
}

/* The test hook (server_set_state_hook) as an EVENT_STATE subscriber. */
static void on_hook(void *ud, const struct event *e)
{
	struct server *s = ud;
	const struct event_state *es = e->detail;
	if (s->hook && es && es->ev->flags)
		s->hook(s->hook_ud, es->customer, es->asset, es->check, es->ev, es->suppressed);
}

/* The monthly report's delivery hook: each report goes to the
 * notification outbox as one mail per address (src/notify: notify_mail),
 * in the store batch that records the report as handed on. */
static int report_deliver(void *ud, const struct app_report_mail *r)
{
	char key[200];
	int n = snprintf(key, sizeof key, "report/%s/%s", r->customer, r->month);
	if (n < 0 || (size_t)n >= sizeof key)
		return -1;
	struct notify_mail m = { .key = key,
		                 .customer = r->customer,
		                 .to = r->to,
		                 .n_to = r->n_to,
		                 .subject = r->subject,
		                 .text = r->summary,
		                 .html = r->html,
		                 .attachment = r->pdf,
		                 .attachment_len = r->pdf_len,
		                 .attachment_name = r->pdf_name,
		                 .attachment_type = "application/pdf" };
	return notify_mail(ud, &m);
}

struct server *server_new(struct ev_loop *loop, const struct server_opts *opts)
{
	struct server *s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->opts = *opts;
	s->config_path = opts->config_path ? xstrdup(opts->config_path) : NULL;
	hmap_init(&s->restored);
	s->procs = proc_ctx_new(loop);
	s->loader = loader_new();
	s->events = events_new(0);

	/* Plugins first: the config is validated against their key tables. */
	char *plugin_dir = NULL, *data_dir = NULL;
	if (s->config_path) {
		if (config_peek_daemon(s->config_path, &plugin_dir, &data_dir, log_config_error,
		                       s) != 0)
			goto fail;
	} else {
		plugin_dir = xstrdup(MAMORI_PLUGINDIR);
		data_dir = xstrdup(MAMORI_DATADIR);
	}
	if (opts->plugin_dir) {
		free(plugin_dir);
		plugin_dir = xstrdup(opts->plugin_dir);
	}
	if (opts->data_dir) {
		free(data_dir);
		data_dir = xstrdup(opts->data_dir);
	}
	/* The engine (the host's check side) and the registry exist before
	 * the plugins are scanned, so the host binding is complete from the
	 * first plugin call on; persistence joins once the config is read. */
	struct registry_hooks hooks;
	struct engine_opts eo = { .no_store = opts->no_store, .no_spread = opts->no_spread };
	s->engine = engine_new(loop, &s->reg, NULL, s->events, &eo);
	engine_registry_hooks(s->engine, &hooks);
	registry_init(&s->reg, loop, s->loader, &hooks);
	s->ops = engine_host_ops;
	host_bind(loop, s->procs, &s->ops, s->engine, data_dir);
	loader_scan(s->loader, plugin_dir);
	free(plugin_dir);
	free(data_dir);

	s->conf = load_conf(s, opts->config_text);
	if (!s->conf)
		goto fail;
	log_set_level(s->conf->log_level);
	if (!opts->no_store) {
		char err[1024] = "";
		s->store = store_open(s->conf->state_dir, err, sizeof err);
		if (!s->store) {
			log_always("store", LOG_LVL_ERR, "%s", err);
			goto fail;
		}
		store_set_node(s->store, s->conf->node);
		store_load_states(s->store, on_state_row, s);
	}
	s->journal = journal_new(loop, s->store, s->conf->flush_interval);
	engine_attach(s->engine, s->journal, s->conf->node);
	registry_attach(&s->reg, s->store, s->journal, s->events, s->conf->node);
	if (s->store) {
		/* after the engine's source: a batch holds the check states first */
		struct series_conf hc;
		history_conf(s->conf, &hc);
		struct series_deps sd = { .loop = loop, .journal = s->journal };
		s->series = series_new(&sd, &hc);
		series_load(s->series, s->store);
		forward_wire(s, s->conf);
		history_wire(s);
		/* the state history: after alerting would do as well (it only
		 * appends rows); before it, a change and its alert share a batch */
		s->statelog = statelog_new(loop, s->events, s->journal, s->conf->node,
		                           s->conf->retention_days);
	}
	if (!(s->bus = bus_open(loop, s->conf->mqtt, s->conf->node, s->events)))
		goto fail;
	bus_fill_ops(s->bus, &s->ops);
	struct alerting_deps ad = { .loop = loop,
		                    .reg = &s->reg,
		                    .journal = s->journal,
		                    .events = s->events,
		                    .store = s->store,
		                    .mqtt = bus_mqtt(s->bus),
		                    .conf = s->conf };
	if (!(s->alerts = alerting_new(&ad)))
		goto fail;
	if (s->store) {
		char rerr[256] = "";
		s->reports = report_pool_new(loop, s->conf->state_dir, s->conf->reports.workers, 0,
		                             rerr, sizeof rerr);
		if (!s->reports) {
			log_always("report", LOG_LVL_ERR, "%s", rerr);
			goto fail;
		}
	}
	struct app_deps pd = { .loop = loop,
		               .reg = &s->reg,
		               .engine = s->engine,
		               .alerts = alerting_table(s->alerts),
		               .alerting = s->alerts,
		               .journal = s->journal,
		               .events = s->events,
		               .store = s->store,
		               .series = s->series,
		               .reports = s->reports,
		               .datadir = s->conf->data_dir,
		               .retention_days = s->conf->retention_days,
		               .node = s->conf->node,
		               .health = health,
		               .broker_stats = broker_stats,
		               .health_ud = s };
	if (!(s->app = app_new(&pd)))
		goto fail;
	app_set_report_defaults(s->app, s->conf->reports.calendar, s->conf->reports.lang);
	/* on-call notifications: their channels are notifier plugins, made
	 * here while the config tree lives */
	struct notify_conf *nc = notify_conf_parse(s->conf, s->loader, NULL, ev_now(loop));
	if (!nc)
		goto fail;
	struct notify_deps nd = { .loop = loop,
		                  .journal = s->journal,
		                  .events = s->events,
		                  .store = s->store,
		                  .app = s->app,
		                  .node = s->conf->node,
		                  .data_dir = s->conf->data_dir };
	if (!(s->notify = notify_new(&nd, nc)))
		goto fail;
	struct app_notify_hooks nh;
	notify_app_hooks(s->notify, &nh);
	app_set_notify(s->app, &nh, s->notify);
	s->ops.notify_done = notify_host_done;
	s->ops.notify_reply = notify_host_reply;
	s->ops.notify_ctx = s->notify;
	/* the monthly reports go out through the notification outbox */
	app_set_report_delivery(s->app, report_deliver, s->notify);
	char herr[512] = "";
	if (http_conf_parse(s->conf->http, &s->http_conf, herr, sizeof herr) != 0 ||
	    auth_conf_parse(s->conf->auth, &s->auth_conf, herr, sizeof herr) != 0) {
		log_always("config", LOG_LVL_ERR, "%s", herr);
		goto fail;
	}
	/* the dashboard's files: share/mamori/www where the daemon's data is */
	s->http_conf.www = xasprintf("%s/www", s->conf->data_dir);
	/* users, sessions and tokens: read before the store's writer starts */
	if (!opts->no_store && (s->http_conf.n_listen || s->http_conf.n_metrics)) {
		if (!(s->auth =
		          auth_new(loop, s->journal, s->store, &s->auth_conf, herr, sizeof herr))) {
			log_always("auth", LOG_LVL_ERR, "%s", herr);
			goto fail;
		}
	}
	s->reg.building = s->conf;
	struct model_build b;
	int built = model_build(&s->reg, s->conf, &b, NULL);
	if (built == 0) {
		/* The startup waits for isolated plugins' init and prepare
		 * answers right here: the loop does not run yet, so nothing
		 * is frozen.  A reload waits for them on the loop (reload). */
		model_build_wait_here(&b);
		built = model_build_finish(&s->reg, &b, NULL);
	}
	s->reg.building = NULL;
	if (built != 0)
		goto fail;
	s->reg.m = b.m;
	registry_take_globals(&s->reg, &s->reg.m, s->conf, ev_now(loop));
	registry_restore_downtimes(&s->reg, ev_now(loop));
	mconf_drop_tree(s->conf);
	apply_restored(s);
	malloc_trim(0); /* give back the config tree's memory */
	log_info("server", "configuration loaded: %zu customers, %zu checks", s->reg.m.n_custs,
	         (size_t)s->reg.m.checks.count);
	return s;
fail:
	server_free(s);
	return NULL;
}

/* Every second: has the store started or stopped failing (disk full,
 * I/O errors)?  Said loudly once per change - an error line, the retained
 * health message on the broker (which does not need the database), and
 * /metrics' mamori_store_failing, which the store keeps itself.  Checks go
 * on meanwhile; what they change waits in memory and is written and
 * published when the disk takes it again (src/store/store_batch.c). */
static void on_health(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	int down = store_failing(s->store);
	if (down == s->store_down)
		return;
	s->store_down = down;
	double now = ev_now(loop);
	if (down) {
		s->store_down_at = now;
		log_always("server", LOG_LVL_ERR,
		           "STORE FAILING: %s/mamori.db cannot be written (disk full or I/O "
		           "errors); checks go on, their results and alert events wait in memory "
		           "and are written and published when it works again",
		           s->conf->state_dir);
	} else {
		log_always("server", LOG_LVL_NOTICE,
		           "store writable again after %.0f s: the waiting results and alert "
		           "events are being written and published",
		           now - s->store_down_at);
		s->store_down_at = 0;
	}
	bus_publish_health(s->bus, down, down ? s->store_down_at : now, now);
}

int server_start(struct server *s)
{
	if (s->store && store_start(s->store, s->loop, journal_on_commit, s->journal) != 0) {
		log_err("store", "cannot start the writer thread");
		return -1;
	}
	model_commit(&s->reg, &s->reg.m, NULL);
	if (bus_start(s->bus) != 0) {
		log_err("mqtt", "cannot start the broker connection");
		return -1;
	}
	s->mqtt_cmd = mqtt_cmd_new(s->app, bus_mqtt(s->bus), s->conf->node);
	if (s->http_conf.n_listen || s->http_conf.n_metrics) {
		char err[512] = "";
		s->http = http_start(s->loop, &s->http_conf, s->app, s->auth, err, sizeof err);
		if (!s->http) {
			log_err("http", "%s", err);
			return -1;
		}
	}
	if (s->store) {
		bus_publish_health(s->bus, 0, ev_now(s->loop), ev_now(s->loop));
		ev_timer_init(&s->health_w, on_health, 1.0, 1.0);
		s->health_w.data = s;
		ev_timer_start(s->loop, &s->health_w);
	}
	alerting_start(s->alerts);
	app_report_schedule(s->app, s->reports && s->conf->reports.schedule);
	notify_start(s->notify);
	journal_start(s->journal);
	engine_rearm(s->engine);
	return 0;
}

/* ---- reload ----
 *
 * A reload builds the new model beside the running one (src/registry).
 * In-process plugins answer init and check_prepare at once; isolated ones
 * answer from their host processes, and the loop never waits for them:
 * the reload is then pending (reload returns 1), the running model keeps
 * checking, MQTT and HTTP carry on, and the commit - or the refusal, with
 * the same log lines as a synchronous one - comes from the loop once every
 * answer is in or 10 s passed (a host silent that long is restarted).
 * Reloads asked for while one is pending (SIGHUP, tests) coalesce into
 * one more, started when the pending one is done and reading the file as
 * it is then; the pending one is neither cancelled nor restarted.  Stopping
 * abandons a pending reload (the running configuration stays).
 */

struct reload_job {
	struct mconf *c;
	struct alerts_conf *ac;
	struct notify_conf *nc;
	struct model_build b;
	double t0;
};

static void reload_job_free(struct reload_job *job)
{
	alerting_conf_free(job->ac);
	notify_conf_free(job->nc);
	mconf_free(job->c);
	free(job);
}

/* The build is complete (every answer in): commit it or refuse it. */
static int reload_finish(struct server *s, struct reload_job *job)
{
	if (model_build_finish(&s->reg, &job->b, &s->reg.m) != 0) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: plugins rejected the configuration; the running configuration stays");
		reload_job_free(job);
		s->reloads_refused++;
		return -1;
	}
	/* Assets registered while the answers were awaited are written
	 * before the model they point into goes. */
	journal_flush(s->journal, 0);
	struct mconf *c = job->c;
	struct model next = job->b.m;
	alerting_conf_install(s->alerts, job->ac, c); /* before the old calendars go */
	job->ac = NULL;
	notify_conf_install(s->notify, job->nc);
	job->nc = NULL;
	registry_take_globals(&s->reg, &next, c, ev_now(s->loop));
	mconf_drop_tree(c);
	model_commit(&s->reg, &next, &s->reg.m);
	app_reloaded(s->app);
	s->reg.m = next;
	/* Keep the store's configured directory: moving it needs a restart. */
	free(c->state_dir);
	c->state_dir = xstrdup(s->conf->state_dir);
	mconf_free(s->conf);
	s->conf = c;
	job->c = NULL;
	journal_set_interval(s->journal, c->flush_interval);
	statelog_set_retention(s->statelog, c->retention_days);
	if (s->series) {
		struct series_conf sc;
		history_conf(c, &sc);
		series_set_conf(s->series, &sc);
		forward_wire(s, c);
		history_wire(s);
	}
	log_set_level(c->log_level);
	engine_rearm(s->engine);
	/* No malloc_trim here: the next reload reuses these pages instead of
	 * faulting them in again (page faults dominated reload time). */
	log_always("server", LOG_LVL_NOTICE,
	           "configuration reloaded in %.0f ms: %zu customers, %zu checks",
	           (ev_time() - job->t0) * 1000, s->reg.m.n_custs, (size_t)s->reg.m.checks.count);
	reload_job_free(job);
	s->reloads_committed++;
	return 0;
}

static int reload(struct server *s, const char *text);

/* From the loop: every isolated plugin answered, or the deadline passed. */
static void on_reload_answers(void *ud)
{
	struct server *s = ud;
	struct reload_job *job = s->reloading;
	s->reloading = NULL;
	reload_finish(s, job);
	if (s->reload_again) {
		char *again = s->reload_again_text;
		s->reload_again = 0;
		s->reload_again_text = NULL;
		log_always("server", LOG_LVL_NOTICE,
		           "reloading again: asked for while the last reload waited");
		reload(s, again);
		free(again);
	}
}

/* Stopping: a pending reload is thrown away, the running model stays. */
static void reload_abandon(struct server *s)
{
	struct reload_job *job = s->reloading;
	free(s->reload_again_text);
	s->reload_again_text = NULL;
	s->reload_again = 0;
	if (!job)
		return;
	s->reloading = NULL;
	model_build_abort(&s->reg, &job->b, &s->reg.m);
	reload_job_free(job);
	log_always("server", LOG_LVL_NOTICE,
	           "reload abandoned: mamorid is stopping; the running configuration stays");
}

static int reload(struct server *s, const char *text)
{
	if (s->stopping)
		return -1;
	if (s->reloading) {
		s->reload_again = 1;
		free(s->reload_again_text);
		s->reload_again_text = text ? xstrdup(text) : NULL;
		log_always("server", LOG_LVL_NOTICE,
		           "reload asked for while one waits for isolated plugins: it follows when "
		           "that one is done");
		return 1;
	}
	double t0 = ev_time();
	/* Newly registered assets are written before the model is rebuilt
	 * (their pending rows point into the current model). */
	journal_flush(s->journal, 0);
	struct mconf *c = load_conf(s, text);
	if (!c) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		s->reloads_refused++;
		return -1;
	}
	/* The HTTP listeners stay as started: a change takes effect at the
	 * next start, but a bad group refuses the reload like any error. */
	struct http_conf hc;
	char herr[512] = "";
	struct auth_conf auc; /* validated only: auth's settings apply at restart */
	if (http_conf_parse(c->http, &hc, herr, sizeof herr) != 0 ||
	    auth_conf_parse(c->auth, &auc, herr, sizeof herr) != 0) {
		log_always("config", LOG_LVL_ERR, "%s", herr);
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		mconf_free(c);
		s->reloads_refused++;
		return -1;
	}
	int same = hc.n_listen == s->http_conf.n_listen && hc.n_metrics == s->http_conf.n_metrics;
	for (size_t i = 0; same && i < hc.n_listen; i++)
		same = strcmp(hc.listen[i], s->http_conf.listen[i]) == 0;
	for (size_t i = 0; same && i < hc.n_metrics; i++)
		same = strcmp(hc.metrics_listen[i], s->http_conf.metrics_listen[i]) == 0;
	if (!same || hc.max_connections != s->http_conf.max_connections ||
	    hc.timeout != s->http_conf.timeout)
		log_always("server", LOG_LVL_NOTICE,
		           "the http settings changed: they take effect when mamorid restarts");
	http_conf_free(&hc);
	struct alerts_conf *ac = alerting_conf_parse(c);
	if (!ac) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		mconf_free(c);
		s->reloads_refused++;
		return -1;
	}
	struct notify_conf *nc =
	    notify_conf_parse(c, s->loader, notify_conf_current(s->notify), ev_now(s->loop));
	if (!nc) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		alerting_conf_free(ac);
		mconf_free(c);
		s->reloads_refused++;
		return -1;
	}
	struct reload_job *job = xcalloc(1, sizeof *job);
	job->c = c;
	job->ac = ac;
	job->nc = nc;
	job->t0 = t0;
	s->reg.building = c;
	int built = model_build(&s->reg, c, &job->b, &s->reg.m);
	s->reg.building = NULL;
	if (built != 0) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: plugins rejected the configuration; the running configuration stays");
		reload_job_free(job);
		s->reloads_refused++;
		return -1;
	}
	size_t waiting = model_build_waiting(&job->b);
	if (!waiting)
		return reload_finish(s, job);
	log_always("server", LOG_LVL_NOTICE,
	           "reload: waiting for %zu answer%s of isolated plugins; the running "
	           "configuration stays meanwhile",
	           waiting, waiting == 1 ? "" : "s");
	s->reloading = job;
	model_build_wait(&job->b, on_reload_answers, s);
	return 1;
}

int server_reload(struct server *s)
{
	return reload(s, s->opts.config_text && !s->config_path ? s->opts.config_text : NULL);
}

int server_reload_text(struct server *s, const char *text)
{
	return reload(s, text);
}

int server_reload_pending(const struct server *s)
{
	return s->reloading != NULL;
}

void server_reload_counts(const struct server *s, unsigned *committed, unsigned *refused)
{
	*committed = s->reloads_committed;
	*refused = s->reloads_refused;
}

void server_flush(struct server *s, int wait)
{
	series_flush_all(s->series); /* everything it holds, rollups too */
	journal_flush(s->journal, wait);
}

void server_stop(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	ev_timer_stop(s->loop, &s->health_w);
	reload_abandon(s);
	http_free(s->http);
	s->http = NULL;
	/* reports being made: answered (their requests are gone) */
	report_pool_free(s->reports);
	s->reports = NULL;
	mqtt_cmd_free(s->mqtt_cmd);
	s->mqtt_cmd = NULL;
	notify_stop(s->notify);
	alerting_stop(s->alerts);
	/* Cancel in-flight runs, then save every check's state and all
	 * of the perfdata history held in memory. */
	engine_stop(s->engine);
	statelog_stop(s->statelog); /* "monitoring stopped cleanly now" */
	server_flush(s, 1);
	journal_stop(s->journal);
	bus_close(s->bus);
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (!s->stopping && s->reg.m.n_pinsts)
		server_stop(s);
	reload_abandon(s); /* before the model whose objects it shares goes */
	http_free(s->http);
	report_pool_free(s->reports);
	http_conf_free(&s->http_conf);
	mqtt_cmd_free(s->mqtt_cmd);
	/* model_free clears the whole model: keep its calendars and
	 * downtimes to free them after the modules that still use them. */
	struct model globals = { .downtimes = s->reg.m.downtimes,
		                 .n_downtimes = s->reg.m.n_downtimes,
		                 .calendars = s->reg.m.calendars,
		                 .n_calendars = s->reg.m.n_calendars };
	if (s->reg.hooks.retire)
		model_free(&s->reg, &s->reg.m);
	if (s->app)
		app_set_notify(s->app, NULL, NULL);
	notify_free(s->notify); /* its notifier instances, before the host goes */
	s->notify = NULL;
	app_free(s->app);
	alerting_free(s->alerts);
	bus_free(s->bus);
	registry_free_globals(&globals);
	if (s->store)
		store_close(s->store);
	journal_free(s->journal);
	auth_free(s->auth); /* after the journal: its tickets may name auth's requests */
	if (s->engine)
		engine_on_perfdata(s->engine, NULL, NULL);
	series_set_forward(s->series, NULL);
	forward_free(s->forward);
	series_free(s->series);
	statelog_free(s->statelog);
	mconf_free(s->conf);
	engine_free(s->engine);
	if (s->reg.hooks.retire)
		registry_fini(&s->reg);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&s->restored, &it, &e)) {
		struct restored *x = e->value;
		free(x->strings);
		free(x);
	}
	hmap_free(&s->restored);
	loader_free(s->loader);
	proc_ctx_free(s->procs);
	proxy_reap_all(); /* the hosts of isolated instances, gone or going */
	host_unbind();
	events_unsubscribe(s->events, s->hook_sub);
	events_free(s->events);
	free(s->config_path);
	free(s);
}

int server_check_config(const struct server_opts *opts)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server_opts o = *opts;
	o.no_store = 1;
	struct server *s = server_new(loop, &o);
	int ok = s != NULL;
	/* The store is not opened here, but a state_dir that mamorid would
	 * refuse at start is reported now (a missing one is created then). */
	char err[1024];
	struct stat st;
	if (s && !opts->no_store && stat(s->conf->state_dir, &st) == 0 &&
	    secret_check_dir("state_dir", s->conf->state_dir, err, sizeof err) != 0) {
		log_always("store", LOG_LVL_ERR, "%s", err);
		ok = 0;
	}
	if (ok) {
		printf("configuration OK: %zu customers, %zu checks, %zu plugin instances\n",
		       s->reg.m.n_custs, (size_t)s->reg.m.checks.count, s->reg.m.n_pinsts);
		for (size_t i = 0; i < loader_count(s->loader); i++) {
			struct plugin_mod *m = loader_at(s->loader, i);
			if (m->refused)
				printf("warning: %s\n", m->refused);
		}
	}
	server_free(s);
	ev_loop_destroy(loop);
	return ok ? 0 : 1;
}

/* ---- views ---- */

void server_get_stats(const struct server *s, struct engine_stats *out)
{
	engine_get_stats(s->engine, out);
}

int server_check_view(const struct server *s, const char *customer, const char *asset,
                      const char *check, struct server_check_view *out)
{
	const struct check *c = registry_check(&s->reg, customer, asset, check);
	if (!c)
		return -1;
	out->state = c->st.state;
	out->hard = c->st.hard;
	out->attempt = c->st.attempt;
	out->hard_state = c->st.hard_state;
	out->flapping = c->st.flapping;
	out->stale = c->st.stale;
	out->running = c->run != NULL;
	out->acknowledged = !!(c->flags & CK_ACK);
	out->last_check = c->st.last_check;
	out->next_due = engine_next_due(s->engine, c);
	out->output = check_output(c);
	out->perfdata = check_perf(c);
	out->long_output = check_long(c);
	return 0;
}

void server_lag_percentiles(const struct server *s, double *p50, double *p99, double *max)
{
	engine_lag_percentiles(s->engine, p50, p99, max);
}

void server_lag_reset(struct server *s)
{
	engine_lag_reset(s->engine);
}

void server_set_state_hook(struct server *s, server_state_hook hook, void *ud)
{
	s->hook = hook;
	s->hook_ud = ud;
	if (!s->hook_sub)
		s->hook_sub = events_subscribe(s->events, EVENT_MASK(EVENT_STATE), on_hook, s);
}

void server_series_stats(const struct server *s, struct series_stats *out)
{
	if (s->series)
		series_get_stats(s->series, out);
	else
		memset(out, 0, sizeof *out);
}

struct app *server_app(struct server *s)
{
	return s->app;
}

struct notify *server_notify(struct server *s)
{
	return s->notify;
}

struct events *server_events(struct server *s)
{
	return s->events;
}

/* ---- operator actions (tests): the service layer with an admin scope ---- */

static const struct app_scope admin = { .all = 1 };

int server_ack(struct server *s, const char *customer, const char *asset, const char *check,
               const char *author, const char *comment)
{
	struct app_result r;
	return app_check_ack(s->app, &admin, customer, asset, check, 1, author, comment, &r, NULL,
	                     NULL) == APP_OK
	           ? 0
	           : -1;
}

int server_unack(struct server *s, const char *customer, const char *asset, const char *check)
{
	struct app_result r;
	return app_check_ack(s->app, &admin, customer, asset, check, 0, "mamori", NULL, &r, NULL,
	                     NULL) == APP_OK
	           ? 0
	           : -1;
}

int server_add_downtime(struct server *s, const char *customer, const char *asset,
                        const char *check, double start, double end, const char *author,
                        const char *comment)
{
	struct app_result r;
	return app_downtime_add(s->app, &admin, customer, asset, check, start, end,
	                        author ? author : "mamori", comment, NULL, NULL, &r, NULL,
	                        NULL) == APP_OK
	           ? 0
	           : -1;
}

int server_submit(struct server *s, const char *customer, const char *asset, const char *check,
                  int state, const char *output)
{
	return app_submit(s->app, &admin, customer, asset, check, state, output) == APP_OK ? 0 : -1;
}

double server_now(const struct server *s)
{
	return ev_now(s->loop);
}
