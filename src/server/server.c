/*
 * server: lifecycle of mamorid's top-level object (new, start, reload,
 * stop, free) and read-only views for tests and benchmarks.  See server.h.
 */
#define MAMORI_SERVER_INTERNAL
#include "server/server_int.h"
#include "cal/cal.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "proc/proc.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include "buildcfg.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		struct check *c = hmap_get(&s->m.checks, e->key, e->keylen);
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
			c->ack_expires = r->ack_expires;
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

static void move_globals(struct server *s, struct model *m, struct mconf *c)
{
	m->downtimes = c->downtimes;
	m->n_downtimes = c->n_downtimes;
	c->downtimes = NULL;
	c->n_downtimes = 0;
	m->calendars = c->calendars;
	m->n_calendars = c->n_calendars;
	c->calendars = NULL;
	c->n_calendars = 0;
}

static void free_globals(struct model *m)
{
	cfg_downtimes_free(m->downtimes, m->n_downtimes);
	cfg_calendars_free(m->calendars, m->n_calendars);
	m->downtimes = NULL;
	m->calendars = NULL;
	m->n_downtimes = m->n_calendars = 0;
}

struct server *server_new(struct ev_loop *loop, const struct server_opts *opts)
{
	struct server *s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->opts = *opts;
	s->config_path = opts->config_path ? xstrdup(opts->config_path) : NULL;
	hmap_init(&s->names);
	hmap_init(&s->restored);
	s->t0 = ev_now(loop) - 1.0;
	wheel_init(&s->wheel, 0);
	ev_init(&s->wheel_timer, server__on_wheel);
	s->wheel_timer.data = s;
	ev_init(&s->flush_timer, server__on_flush);
	s->flush_timer.data = s;
	ev_idle_init(&s->drain_idle, server__on_drain);
	s->drain_idle.data = s;
	s->procs = proc_ctx_new(loop);
	s->loader = loader_new();

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
	s->ops = server__host_ops;
	bus_fill_ops(&s->ops);
	host_bind(loop, s->procs, &s->ops, s, data_dir);
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
	if (bus_open(s, s->conf->mqtt) != 0)
		goto fail;
	if (alerts_new(s) != 0)
		goto fail;
	s->building = s->conf;
	int built = model_build(s, s->conf, &s->m, NULL);
	s->building = NULL;
	if (built != 0)
		goto fail;
	move_globals(s, &s->m, s->conf);
	mconf_drop_tree(s->conf);
	apply_restored(s);
	malloc_trim(0); /* give back the config tree's memory */
	log_info("server", "configuration loaded: %zu customers, %zu checks", s->m.n_custs,
	         (size_t)s->m.checks.count);
	return s;
fail:
	server_free(s);
	return NULL;
}

int server_start(struct server *s)
{
	if (s->store && store_start(s->store, s->loop, alerts_on_commit, s) != 0) {
		log_err("store", "cannot start the writer thread");
		return -1;
	}
	model_commit(s, &s->m, NULL);
	if (bus_start(s) != 0) {
		log_err("mqtt", "cannot start the broker connection");
		return -1;
	}
	alerts_start(s);
	ev_timer_set(&s->flush_timer, s->conf->flush_interval, s->conf->flush_interval);
	if (s->store)
		ev_timer_start(s->loop, &s->flush_timer);
	sched_rearm(s);
	return 0;
}

static int reload(struct server *s, const char *text)
{
	double t0 = ev_time();
	/* Newly registered assets are written before the model is rebuilt
	 * (their pending rows point into the current model). */
	server__flush(s);
	struct mconf *c = load_conf(s, text);
	if (!c) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		return -1;
	}
	struct alerts_conf *ac = alerts_conf_parse(s, c);
	if (!ac) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: configuration has errors; the running configuration stays");
		mconf_free(c);
		return -1;
	}
	struct model next;
	s->building = c;
	int built = model_build(s, c, &next, &s->m);
	s->building = NULL;
	if (built != 0) {
		log_always(
		    "server", LOG_LVL_ERR,
		    "reload refused: plugins rejected the configuration; the running configuration stays");
		alerts_conf_free(ac);
		mconf_free(c);
		return -1;
	}
	alerts_conf_install(s, ac); /* before the old calendars go */
	/* Downtimes added at run time survive a reload; the file's are
	 * replaced by the new file's. */
	size_t keep = 0;
	for (size_t i = 0; i < s->m.n_downtimes; i++)
		if (s->m.downtimes[i].runtime && s->m.downtimes[i].end > ev_now(s->loop))
			keep++;
	struct cfg_downtime *kept = keep ? xcalloc(keep, sizeof *kept) : NULL;
	keep = 0;
	for (size_t i = 0; i < s->m.n_downtimes; i++)
		if (s->m.downtimes[i].runtime && s->m.downtimes[i].end > ev_now(s->loop)) {
			kept[keep++] = s->m.downtimes[i];
			memset(&s->m.downtimes[i], 0, sizeof s->m.downtimes[i]);
		}
	free_globals(&s->m);
	move_globals(s, &next, c);
	if (keep) {
		next.downtimes =
		    xrealloc(next.downtimes, (next.n_downtimes + keep) * sizeof *next.downtimes);
		memcpy(next.downtimes + next.n_downtimes, kept, keep * sizeof *kept);
		next.n_downtimes += keep;
	}
	free(kept);
	mconf_drop_tree(c);
	model_commit(s, &next, &s->m);
	s->m = next;
	/* Keep the store's configured directory: moving it needs a restart. */
	free(c->state_dir);
	c->state_dir = xstrdup(s->conf->state_dir);
	mconf_free(s->conf);
	s->conf = c;
	log_set_level(c->log_level);
	sched_rearm(s);
	/* No malloc_trim here: the next reload reuses these pages instead of
	 * faulting them in again (page faults dominated reload time). */
	log_always("server", LOG_LVL_NOTICE,
	           "configuration reloaded in %.0f ms: %zu customers, %zu checks",
	           (ev_time() - t0) * 1000, s->m.n_custs, (size_t)s->m.checks.count);
	return 0;
}

int server_reload(struct server *s)
{
	return reload(s, s->opts.config_text && !s->config_path ? s->opts.config_text : NULL);
}

int server_reload_text(struct server *s, const char *text)
{
	return reload(s, text);
}

void server_flush(struct server *s, int wait)
{
	server__flush(s);
	if (wait && s->store)
		store_sync(s->store);
}

void server_stop(struct server *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	alerts_stop(s);
	/* Cancel in-flight runs, then save every check's state. */
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&s->m.checks, &it, &e)) {
		struct check *c = e->value;
		if (c->run) {
			run_cancel(s, c, "shutdown");
			sched_check_at(s, c, ev_now(s->loop)); /* run it first thing next start */
		}
		if (!s->opts.no_store)
			check_mark_dirty(s, c);
	}
	server_flush(s, 1);
	bus_close(s);
	ev_timer_stop(s->loop, &s->wheel_timer);
	ev_timer_stop(s->loop, &s->flush_timer);
	ev_idle_stop(s->loop, &s->drain_idle);
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (!s->stopping && s->m.n_pinsts)
		server_stop(s);
	/* model_free clears the whole model: keep its calendars and
	 * downtimes to free them after the modules that still use them. */
	struct model globals = { .downtimes = s->m.downtimes,
		                 .n_downtimes = s->m.n_downtimes,
		                 .calendars = s->m.calendars,
		                 .n_calendars = s->m.n_calendars };
	model_free(s, &s->m);
	alerts_free(s);
	bus_close(s);
	free_globals(&globals);
	if (s->store)
		store_close(s->store);
	mconf_free(s->conf);
	while (s->free_runs) {
		struct mamori_run *r = s->free_runs;
		s->free_runs = r->next_free;
		free(r);
	}
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&s->names, &it, &e))
		free(e->value);
	hmap_free(&s->names);
	while (hmap_next(&s->restored, &it, &e)) {
		struct restored *x = e->value;
		free(x->strings);
		free(x);
	}
	hmap_free(&s->restored);
	free(s->dirty);
	free(s->new_assets);
	loader_free(s->loader);
	proc_ctx_free(s->procs);
	host_unbind();
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
	if (s) {
		printf("configuration OK: %zu customers, %zu checks, %zu plugin instances\n",
		       s->m.n_custs, (size_t)s->m.checks.count, s->m.n_pinsts);
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

void server_get_stats(const struct server *s, struct server_stats *out)
{
	*out = s->stats;
	out->checks = s->m.checks.count;
}

int server_check_view(const struct server *s, const char *customer, const char *asset,
                      const char *check, struct server_check_view *out)
{
	char key[1024];
	int n = snprintf(key, sizeof key, "%s/%s/%s", customer, asset, check);
	const struct check *c = hmap_get(&s->m.checks, key, (size_t)n);
	if (!c)
		return -1;
	out->state = c->st.state;
	out->hard = c->st.hard;
	out->attempt = c->st.attempt;
	out->hard_state = c->st.hard_state;
	out->flapping = c->st.flapping;
	out->stale = c->st.stale;
	out->running = c->run != NULL;
	out->last_check = c->st.last_check;
	out->next_due = wheel_pending(&c->node) ? server__time(s, c->node.due) : 0;
	out->output = check_output(c);
	out->perfdata = check_perf(c);
	out->long_output = check_long(c);
	return 0;
}

void server_lag_percentiles(const struct server *s, double *p50, double *p99, double *max)
{
	uint64_t total = s->lag_count, acc = 0;
	*p50 = *p99 = 0;
	int got50 = 0;
	for (unsigned b = 0; b < LAG_BUCKETS && total; b++) {
		acc += s->lag_hist[b];
		/* bucket b holds lags below 2^b microseconds */
		double upper = (b == 0 ? 1.0 : (double)(1ULL << b)) / 1e6;
		if (!got50 && acc * 2 >= total) {
			*p50 = upper;
			got50 = 1;
		}
		if (acc * 100 >= total * 99) {
			*p99 = upper;
			break;
		}
	}
	*max = s->stats.lag_max;
}

void server_lag_reset(struct server *s)
{
	memset(s->lag_hist, 0, sizeof s->lag_hist);
	s->lag_count = 0;
	s->stats.lag_max = 0;
}

void server_set_state_hook(struct server *s, server_state_hook hook, void *ud)
{
	s->hook = hook;
	s->hook_ud = ud;
}

/* ---- operator actions ---- */

static struct check *find(const struct server *s, const char *customer, const char *asset,
                          const char *check)
{
	char key[1024];
	int n = snprintf(key, sizeof key, "%s/%s/%s", customer, asset, check);
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	return hmap_get(&s->m.checks, key, (size_t)n);
}

int server_ack(struct server *s, const char *customer, const char *asset, const char *check,
               const char *author, const char *comment, double expires)
{
	struct check *c = find(s, customer, asset, check);
	if (!c || c->st.state == 0)
		return -1;
	c->flags |= CK_ACK;
	c->ack_expires = expires;
	check_mark_dirty(s, c);
	log_notice("state", "%s: acknowledged by %s: %s", c->key, author ? author : "?",
	           comment ? comment : "");
	return 0;
}

int server_unack(struct server *s, const char *customer, const char *asset, const char *check)
{
	struct check *c = find(s, customer, asset, check);
	if (!c)
		return -1;
	c->flags &= (uint8_t)~CK_ACK;
	c->ack_expires = 0;
	check_mark_dirty(s, c);
	return 0;
}

int server_add_downtime(struct server *s, const char *customer, const char *asset,
                        const char *check, double start, double end, const char *author,
                        const char *comment)
{
	if (!hmap_get(&s->m.cust_by_id, customer, strlen(customer)) || end <= start)
		return -1;
	s->m.downtimes = xrealloc(s->m.downtimes, (s->m.n_downtimes + 1) * sizeof *s->m.downtimes);
	struct cfg_downtime *d = &s->m.downtimes[s->m.n_downtimes++];
	memset(d, 0, sizeof *d);
	d->customer = xstrdup(customer);
	d->asset = asset ? xstrdup(asset) : NULL;
	d->check = check ? xstrdup(check) : NULL;
	d->start = start;
	d->end = end;
	d->runtime = 1;
	d->author = author ? xstrdup(author) : NULL;
	d->comment = comment ? xstrdup(comment) : NULL;
	return 0;
}

int server_submit(struct server *s, const char *customer, const char *asset, const char *check,
                  int state, const char *output)
{
	struct check *c = find(s, customer, asset, check);
	if (!c)
		return -1;
	struct mamori_result r = { .struct_size = sizeof r, .state = state, .output = output };
	return server__host_ops.check_submit(s, (struct mamori_check *)c, &r);
}

double server_now(const struct server *s)
{
	return ev_now(s->loop);
}
