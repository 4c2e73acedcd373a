/*
 * engine: scheduling and running checks, results into the state engine
 * and out as events, the dirty list the journal drains.  See engine.h.
 *
 * One wheel node per check serves three purposes, since a check is only
 * ever in one of these phases: waiting for its next run (active), waiting
 * for its run's timeout (running), or waiting for freshness to expire
 * (passive).  The wheel is driven by one ev_timer armed for the next tick
 * that has work, so an idle daemon sleeps.
 *
 * Must never: block, scan all checks, or let a plugin's late completion
 * touch a run it no longer owns.
 */
#include "engine/engine_int.h"
#include "cal/cal.h"
#include "events/events.h"
#include "journal/journal.h"
#include "perfdata/perfdata.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/proxy.h"
#include "proto/state.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t engine__tick(const struct engine *e, double t)
{
	double ms = (t - e->t0) * 1000.0;
	return ms <= 0 ? 0 : (uint64_t)ms;
}

double engine__time(const struct engine *e, uint64_t tick)
{
	return e->t0 + (double)tick / 1000.0;
}

/* ---- scheduling ---- */

void engine__sched_at(struct engine *e, struct check *c, double when)
{
	if (wheel_pending(&c->node))
		wheel_del(&e->wheel, &c->node);
	wheel_add(&e->wheel, &c->node, engine__tick(e, when));
	/* Outside wheel_advance (which re-arms when it is done), a due time
	 * earlier than the armed timer must move the timer: a passive result,
	 * a completion from an I/O callback, a newly registered asset. */
	if (!e->in_wheel && (!ev_is_active(&e->wheel_timer) ||
	                     when < ev_now(e->loop) + ev_timer_remaining(e->loop, &e->wheel_timer)))
		engine_rearm(e);
}

void engine_rearm(struct engine *e)
{
	uint64_t next = wheel_next(&e->wheel);
	ev_timer_stop(e->loop, &e->wheel_timer);
	if (next == UINT64_MAX || e->stopping)
		return;
	double at = engine__time(e, next) - ev_now(e->loop);
	ev_timer_set(&e->wheel_timer, at > 0 ? at : 0, 0.);
	ev_timer_start(e->loop, &e->wheel_timer);
}

/* Deterministic spread in [0, 1) from the key: the same check lands on the
 * same offset after a restart, and checks spread evenly. */
static double spread(const struct check *c)
{
	uint64_t h = hmap_hash(c->key, strlen(c->key));
	return (double)(h >> 11) / 9007199254740992.0;
}

static void sched_first(struct engine *e, struct check *c)
{
	double now = ev_now(e->loop);
	if (c->flags & CK_PASSIVE) {
		if (c->p.stale_ms) {
			double last = c->st.has_result ? c->st.last_check : now;
			double due = last + c->p.stale_ms / 1000.0;
			engine__sched_at(e, c, due > now ? due : now);
		}
		return;
	}
	double ival = c->p.interval_ms / 1000.0;
	double due;
	if (e->opts.no_spread)
		due = now;
	else if (c->st.has_result && c->st.last_check + ival > now && c->st.last_check <= now)
		due = c->st.last_check + ival; /* keep the rhythm across restarts */
	else
		due = now + spread(c) * (ival < 300 ? ival : 300); /* no thundering herd */
	engine__sched_at(e, c, due);
}

void engine__sched_next(struct engine *e, struct check *c, double now)
{
	struct state_policy pol = { .max_attempts = c->p.max_attempts };
	uint32_t ms = state_wants_retry(&c->st, &pol) ? c->p.retry_ms : c->p.interval_ms;
	engine__sched_at(e, c, now + ms / 1000.0);
}

/* ---- lag histogram (log2 buckets of microseconds) ---- */

static void lag_record(struct engine *e, double lag)
{
	if (lag < 0)
		lag = 0;
	if (lag > e->stats.lag_max)
		e->stats.lag_max = lag;
	e->stats.lag_sum += lag;
	double us = lag * 1e6;
	unsigned b = 0;
	while (us >= 1.0 && b < LAG_BUCKETS - 1) {
		us /= 2;
		b++;
	}
	e->lag_hist[b]++;
	e->lag_count++;
}

/* ---- state ---- */

int engine_in_downtime(const struct engine *e, const struct check *c, double now)
{
	return registry_in_downtime(e->reg, c, now);
}

static int parent_down(const struct check *c)
{
	int depth = 0;
	for (const struct asset *p = c->asset->parent; p && depth < 64; p = p->parent, depth++)
		if (p->crit_checks)
			return 1;
	return 0;
}

static void log_event(const struct check *c, const struct state_event *ev, enum state_suppress why)
{
	static const char *const why_text[] = { "", " (in downtime)", " (acknowledged)",
		                                " (unreachable: parent down)", " (flapping)" };
	if (ev->flags & STATE_EV_HARD_CHANGE)
		log_notice("state", "%s: HARD %s%s: %s", c->key, state_name(ev->new_state),
		           why_text[why], check_output(c));
	else if (ev->flags & STATE_EV_CHANGE)
		log_info("state", "%s: %s %s attempt %u/%u: %s", c->key, ev->hard ? "HARD" : "SOFT",
		         state_name(ev->new_state), ev->attempt, c->p.max_attempts,
		         check_output(c));
	if (ev->flags & STATE_EV_FLAP_START)
		log_notice("state", "%s: started flapping (%.1f%% state change)", c->key,
		           ev->flap_pct);
	if (ev->flags & STATE_EV_FLAP_STOP)
		log_notice("state", "%s: stopped flapping (%.1f%% state change)", c->key,
		           ev->flap_pct);
}

/* Tell the subscribers (alerting, the state publisher, tests...) about a
 * result: `visible` when something a state subscriber shows changed. */
static void emit_state(struct engine *e, struct check *c, const struct state_event *ev, double now,
                       int visible)
{
	const struct customer *cu = c->asset->cust;
	struct state_context ctx = {
		.in_downtime = (uint8_t)registry_in_downtime(e->reg, c, now),
		.acknowledged = (uint8_t) !!(c->flags & CK_ACK),
		.parent_down = (uint8_t)parent_down(c),
	};
	enum state_suppress why = state_suppressed(&c->st, &ctx);
	log_event(c, ev, why);
	struct event_state es = {
		.key = c->key,
		.customer = cu->id,
		.asset = c->asset->name,
		.check = c->name,
		.service = service_name(c->p.service),
		.region = cu->region,
		.tags = (const char *const *)cu->tags,
		.n_tags = cu->n_tags,
		.output = check_output(c),
		.runbook = c->p.runbook,
		.st = &c->st,
		.ev = ev,
		.ctx = &ctx,
		.suppressed = (int)why,
		.visible = visible,
		.acknowledged = !!(c->flags & CK_ACK),
		.source = c,
	};
	/* The rendering subscribers publish and the replay ring keeps: made
	 * once, only when something visible changed (a continuing problem
	 * with the same output is an event for alerting, not a change to
	 * show, and formatting it per result would cost more than the rest
	 * of the result's handling). */
	char *json = NULL;
	if (visible) {
		struct proto_state ps = { .node = e->node,
			                  .customer = cu->id,
			                  .asset = c->asset->name,
			                  .check = c->name,
			                  .service = es.service,
			                  .state = c->st.state,
			                  .hard = c->st.hard,
			                  .attempt = c->st.attempt,
			                  .max_attempts = c->p.max_attempts,
			                  .flapping = c->st.flapping,
			                  .stale = c->st.stale,
			                  .acknowledged = es.acknowledged,
			                  .output = check_output(c),
			                  .long_output = check_long(c),
			                  .perfdata = check_perf(c),
			                  .last_check = c->st.last_check,
			                  .last_change = c->st.last_change };
		json = proto_format_state(&ps);
	}
	struct event out = { .type = EVENT_STATE,
		             .time = now,
		             .customer = cu->id,
		             .subject = c->key,
		             .json = json,
		             .detail = &es };
	events_emit(e->events, &out);
	free(json);
}

static void after_state(struct engine *e, struct check *c, const struct state_event *ev, double now,
                        int visible)
{
	if (!ev->flags && !visible)
		return;
	if (ev->flags & STATE_EV_CHANGE)
		e->stats.state_changes++;
	if (ev->flags & STATE_EV_HARD_CHANGE)
		e->stats.hard_changes++;
	/* The asset counts as down while one of its checks is hard CRITICAL
	 * (dependencies: its children's problems are then unreachable). */
	int crit = c->st.hard && c->st.state == 2;
	if (crit && !(c->flags & CK_DOWNCOUNT)) {
		c->asset->crit_checks++;
		c->flags |= CK_DOWNCOUNT;
	} else if (!crit && (c->flags & CK_DOWNCOUNT)) {
		c->asset->crit_checks--;
		c->flags &= (uint8_t)~CK_DOWNCOUNT;
	}
	/* An acknowledgement lasts until the problem is over (its alert
	 * resolves with the same result and says so too). */
	if ((c->flags & CK_ACK) && c->st.state == 0)
		c->flags &= (uint8_t)~CK_ACK;
	emit_state(e, c, ev, now, visible);
}

static void check_mark_dirty(struct engine *e, struct check *c)
{
	if (c->dirty || e->opts.no_store)
		return;
	if (e->n_dirty == e->cap_dirty) {
		e->cap_dirty = e->cap_dirty ? e->cap_dirty * 2 : 1024;
		e->dirty = xrealloc(e->dirty, e->cap_dirty * sizeof *e->dirty);
	}
	e->dirty[e->n_dirty++] = c;
	c->dirty = (uint32_t)e->n_dirty;
}

static void check_clean(struct engine *e, struct check *c)
{
	if (c->dirty) {
		e->dirty[c->dirty - 1] = NULL;
		c->dirty = 0;
	}
}

/* The counters of c's plugin, by the plugin's name (an isolated
 * plugin's synthetic module has the same name); NULL without one. */
struct engine_plugin_stats *engine__plugin_stats(struct engine *e, const struct check *c)
{
	const struct pinst *pi = c->pi;
	const char *name = pi && pi->mod && pi->mod->def ? pi->mod->def->name
	                   : pi                          ? pi->name
	                                                 : NULL;
	if (!name)
		return NULL;
	size_t n = strlen(name);
	struct engine_plugin_stats *ps = hmap_get(&e->plugin_stats, name, n);
	if (!ps) {
		if (e->plugin_stats.count >= 256)
			return NULL; /* bounded: plugins are few */
		ps = xcalloc(1, sizeof *ps + n + 1);
		memcpy((char *)(ps + 1), name, n + 1);
		hmap_put(&e->plugin_stats, (const char *)(ps + 1), n, ps);
	}
	return ps;
}

void engine_plugin_stats(const struct engine *e,
                         void (*fn)(void *ud, const char *plugin,
                                    const struct engine_plugin_stats *st),
                         void *ud)
{
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&e->plugin_stats, &it, &he)) {
		const struct engine_plugin_stats *ps = he->value;
		fn(ud, (const char *)(ps + 1), ps);
	}
}

struct series_walk {
	engine_series_fn fn;
	void *ud;
	const char *plugin, *instance;
};

static void series_one(void *ud, const struct mamori_metric *x)
{
	struct series_walk *w = ud;
	w->fn(w->ud, w->plugin, w->instance, x);
}

void engine_plugin_series(struct engine *e, engine_series_fn fn, void *ud)
{
	for (size_t i = 0; i < e->reg->m.n_pinsts; i++) {
		const struct pinst *p = e->reg->m.pinsts[i];
		if (!p->inst || !p->mod || !p->mod->def)
			continue;
		struct series_walk w = {
			.fn = fn, .ud = ud, .plugin = p->mod->def->name, .instance = p->name
		};
		host_collect_metrics(p->mod->def, p->inst, series_one, &w);
	}
}

unsigned long long engine_host_restarts(const struct engine *e)
{
	(void)e;
	return proxy_total_restarts();
}

/* c's state changed from slot `was`: move it between the counts. */
static void count_move(struct engine *e, const struct check *c, unsigned was)
{
	unsigned now = engine__slot(c);
	if (now == was)
		return;
	if (e->by_state[was])
		e->by_state[was]--;
	e->by_state[now]++;
}

void engine__apply_result(struct engine *e, struct check *c, const struct mamori_result *r,
                          double now)
{
	struct state_policy pol = {
		.max_attempts = c->p.max_attempts,
		.flap_enabled = c->p.flap_enabled,
		.flap_low = c->p.flap_low,
		.flap_high = c->p.flap_high,
	};
	int perf_same;
	int text_changed = engine__store_text(c, r, &perf_same);
	if (e->perf_fn && ((r->perf && r->n_perf) || (r->perf_text && *r->perf_text)))
		e->perf_fn(e->perf_ud, c, r, perf_same, now);
	uint8_t attempt = c->st.attempt;
	int st = r->state;
	if (st < 0 || st > 3)
		st = 3;
	struct engine_plugin_stats *ps = engine__plugin_stats(e, c);
	if (ps)
		ps->results[st]++;
	unsigned slot = engine__slot(c);
	struct state_event ev = state_apply(&c->st, &pol, st, now);
	count_move(e, c, slot);
	/* Subscribers see changes, not every repetition of the same result. */
	int visible = (ev.flags & (STATE_EV_CHANGE | STATE_EV_HARD_CHANGE | STATE_EV_FLAP_START |
	                           STATE_EV_FLAP_STOP)) ||
	              text_changed || attempt != c->st.attempt;
	after_state(e, c, &ev, now, visible);
	check_mark_dirty(e, c);
}

/* ---- runs ---- */

static struct mamori_run *run_alloc(struct engine *e, struct check *c)
{
	struct mamori_run *r = e->free_runs;
	if (r)
		e->free_runs = r->next_free;
	else
		r = xmalloc(sizeof *r);
	r->chk = c;
	r->state = NULL;
	r->gen = ++e->run_gen;
	r->active = 1;
	r->started = ev_now(e->loop);
	r->next_free = NULL;
	return r;
}

static void run_release(struct engine *e, struct mamori_run *r)
{
	r->active = 0;
	r->chk = NULL;
	r->next_free = e->free_runs;
	e->free_runs = r;
}

static void drain_soon(struct engine *e, struct pinst *p)
{
	if (p->wait_head && !ev_is_active(&e->drain_idle))
		ev_idle_start(e->loop, &e->drain_idle);
}

/* The run of c is over (completed, failed, timed out or cancelled). */
void engine__run_end(struct engine *e, struct check *c)
{
	struct pinst *p = c->pi;
	run_release(e, c->run);
	c->run = NULL;
	if (p->running)
		p->running--;
	if (wheel_pending(&c->node))
		wheel_del(&e->wheel, &c->node); /* its timeout */
	drain_soon(e, p);
}

static void result_now(struct engine *e, struct check *c, int state, const char *output)
{
	struct mamori_result r = { .struct_size = sizeof r, .state = state, .output = output };
	double now = ev_now(e->loop);
	engine__apply_result(e, c, &r, now);
	engine__sched_next(e, c, now);
}

static void run_cancel(struct engine *e, struct check *c, const char *why)
{
	if (!c->run)
		return;
	struct mamori_run *r = c->run;
	if (c->pi->inst && c->pi->mod->def->check_cancel)
		c->pi->mod->def->check_cancel(c->pi->inst, r, r->state);
	e->stats.runs_cancelled++;
	engine__run_end(e, c);
}

/* Queue c behind its plugin instance's concurrency limit (FIFO). */
static void wait_push(struct pinst *p, struct check *c)
{
	c->wnext = NULL;
	if (p->wait_tail)
		p->wait_tail->wnext = c;
	else
		p->wait_head = c;
	p->wait_tail = c;
}

static void run_start(struct engine *e, struct check *c, double now)
{
	struct pinst *p = c->pi;
	if (p->max_concurrent && p->running >= (unsigned)p->max_concurrent) {
		c->flags |= CK_WAITING;
		wait_push(p, c);
		e->stats.waiting++;
		return;
	}
	struct mamori_run *r = run_alloc(e, c);
	c->run = r;
	c->run_started = now;
	p->running++;
	e->stats.runs_started++;
	engine__sched_at(e, c, now + c->p.timeout_ms / 1000.0);
	int rc = p->mod->def->check_start(p->inst, r, c->data, &r->state);
	if (rc != 0 && c->run == r) {
		/* Not started: the plugin must not complete it. */
		engine__run_end(e, c);
		char msg[200];
		snprintf(msg, sizeof msg, "check could not start: %s", host_table()->strerror(rc));
		result_now(e, c, 3, msg);
	}
}

static void check_due(struct engine *e, struct check *c, double now)
{
	if (c->run) {
		/* The run's timeout expired: the core owns timeouts. */
		double t = c->p.timeout_ms / 1000.0;
		run_cancel(e, c, "timeout");
		e->stats.runs_timed_out++;
		char msg[96];
		snprintf(msg, sizeof msg, "timed out after %gs", t);
		result_now(e, c, 3, msg);
		return;
	}
	if (c->flags & CK_PASSIVE) {
		/* Freshness: nothing arrived within stale_after. */
		char msg[160], when[64] = "start";
		if (c->st.has_result && !c->st.stale) {
			time_t t = (time_t)c->st.last_check;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		} else if (c->st.stale) {
			snprintf(msg, sizeof msg, "%s", check_output(c));
		}
		/* Passive checks are fed by agents: say it the way the help desk
		 * thinks of it (the PC's agent went quiet). */
		if (!c->st.stale)
			snprintf(msg, sizeof msg, "agent silent since %s (no report within %gs)",
			         when, c->p.stale_ms / 1000.0);
		struct mamori_result r = { .struct_size = sizeof r,
			                   .state = c->p.stale_state,
			                   .output = msg };
		int perf_same;
		int text_changed = engine__store_text(c, &r, &perf_same);
		unsigned slot = engine__slot(c);
		struct state_event ev = state_apply_stale(&c->st, c->p.stale_state, now);
		count_move(e, c, slot);
		e->stats.stale_events++;
		after_state(e, c, &ev, now, ev.flags || text_changed);
		check_mark_dirty(e, c);
		engine__sched_at(e, c, now + c->p.stale_ms / 1000.0);
		return;
	}
	if (c->p.period && !cal_is_open(c->p.period, (time_t)now)) {
		time_t open = cal_next_open(c->p.period, (time_t)now);
		engine__sched_at(e, c, open == (time_t)-1 ? now + 86400 : (double)open);
		return;
	}
	if (!c->pi->inst) {
		result_now(e, c, 3, c->pi->broken ? c->pi->broken : "plugin not available");
		return;
	}
	run_start(e, c, now);
}

static void fire(struct wheel_node *n, void *ud)
{
	struct engine *e = ud;
	struct check *c = CONTAINER_OF(n, struct check, node);
	double now = ev_now(e->loop);
	if (!c->run && !(c->flags & CK_PASSIVE))
		lag_record(e, now - engine__time(e, n->due));
	check_due(e, c, now);
}

/* The wall clock stepped: tick 0 moves with it, so every check's next
 * run stays the same elapsed time away (an interval is elapsed time; a
 * step forward must not run every check at once, nor a step back stop
 * them for as long as it went back).  The due ticks in the wheel stay. */
static void on_clock_step(void *ud, double step)
{
	struct engine *e = ud;
	e->t0 += step;
	log_always("engine", LOG_LVL_NOTICE,
	           "the wall clock stepped %+.3f s: check schedules keep their intervals", step);
	if (!e->in_wheel)
		engine_rearm(e);
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fire what is due, in slices of ENGINE_WHEEL_SLICE checks, for at most
 * ENGINE_WHEEL_BUDGET seconds: when checks saturate the core (always
 * due), one callback would otherwise run for as long as it takes to start
 * every one of them (~100 ms at 100,000) and every request, broker
 * message and completion waits for its end.  What is left stays held in
 * the wheel (due now), the timer is re-armed at 0, and libev polls I/O
 * before it fires again.  The order of the checks is unchanged. */
static void on_wheel(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;
	uint64_t to = engine__tick(e, ev_now(loop));
	double t0 = mono_now();
	e->in_wheel = 1;
	while (wheel_advance_max(&e->wheel, to, fire, e, ENGINE_WHEEL_SLICE) ==
	           ENGINE_WHEEL_SLICE &&
	       mono_now() - t0 < ENGINE_WHEEL_BUDGET)
		;
	e->in_wheel = 0;
	engine_rearm(e);
}

static void on_drain(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct engine *e = w->data;
	ev_idle_stop(loop, w);
	double now = ev_now(loop);
	for (size_t i = 0; i < e->reg->m.n_pinsts; i++) {
		struct pinst *p = e->reg->m.pinsts[i];
		while (p->wait_head &&
		       (!p->max_concurrent || p->running < (unsigned)p->max_concurrent)) {
			struct check *c = p->wait_head;
			p->wait_head = c->wnext;
			if (!p->wait_head)
				p->wait_tail = NULL;
			c->wnext = NULL;
			c->flags &= (uint8_t)~CK_WAITING;
			e->stats.waiting--;
			lag_record(e, now - engine__time(e, c->node.due));
			run_start(e, c, now);
		}
	}
	engine_rearm(e);
}

/* ---- persistence: the journal drains the dirty list ---- */

static void fill_row(const struct engine *e, const struct check *c, struct store_state_row *r)
{
	memset(r, 0, sizeof *r);
	r->customer = c->asset->cust->id;
	r->asset = c->asset->name;
	r->name = c->name;
	r->plugin = c->pi ? c->pi->name : "";
	r->state = c->st.state;
	r->hard = c->st.hard;
	r->attempt = c->st.attempt;
	r->hard_state = c->st.hard_state;
	r->flapping = c->st.flapping;
	r->stale = c->st.stale;
	r->hist = c->st.hist;
	r->n_hist = c->st.n_hist;
	r->flap_pct = c->st.flap_pct;
	r->last_check = c->st.last_check;
	r->last_change = c->st.last_change;
	r->last_hard_change = c->st.last_hard_change;
	r->next_check = wheel_pending(&c->node) && !c->run ? engine__time(e, c->node.due) : 0;
	r->output = check_output(c);
	r->perfdata = check_perf(c);
	r->long_output = check_long(c);
	r->ack = !!(c->flags & CK_ACK);
}

static int dirty_pending(void *ud)
{
	struct engine *e = ud;
	return e->n_dirty > 0;
}

static void dirty_fill(void *ud, struct store_batch *b)
{
	struct engine *e = ud;
	for (size_t i = 0; i < e->n_dirty; i++) {
		struct check *c = e->dirty[i];
		if (!c)
			continue;
		struct store_state_row row;
		fill_row(e, c, &row);
		store_batch_state(b, &row);
		c->dirty = 0;
	}
	e->n_dirty = 0;
}

/* ---- the registry's hooks ---- */

static void hook_retire(void *ud, struct check *oc, struct check *nc)
{
	struct engine *e = ud;
	if (oc->run)
		run_cancel(e, oc, nc ? "reload" : "shutdown");
	if (wheel_pending(&oc->node)) {
		if (nc && !(nc->flags & CK_PASSIVE) == !(oc->flags & CK_PASSIVE))
			engine__sched_at(e, nc, engine__time(e, oc->node.due));
		wheel_del(&e->wheel, &oc->node);
	}
	check_clean(e, oc);
	oc->flags &= (uint8_t)~CK_WAITING;
	/* A check that leaves for good leaves the counts (on a reload the
	 * commit counts again anyway: nc gets oc's state only after this). */
	unsigned slot = engine__slot(oc);
	if (!nc && e->by_state[slot])
		e->by_state[slot]--;
}

static void hook_committed(void *ud, struct model *m)
{
	struct engine *e = ud;
	/* Wait queues are rebuilt from the surviving checks. */
	for (size_t i = 0; i < m->n_pinsts; i++)
		m->pinsts[i]->wait_head = m->pinsts[i]->wait_tail = NULL;
	memset(e->by_state, 0, sizeof e->by_state);
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&m->checks, &it, &he)) {
		struct check *c = he->value;
		e->by_state[engine__slot(c)]++;
		if (c->flags & CK_WAITING)
			wait_push(c->pi, c);
		if (!wheel_pending(&c->node) && !c->run && !(c->flags & CK_WAITING))
			sched_first(e, c);
	}
	e->stats.checks = m->checks.count;
}

static void hook_added(void *ud, struct check *c)
{
	struct engine *e = ud;
	e->by_state[engine__slot(c)]++;
	sched_first(e, c);
	e->stats.checks = e->reg->m.checks.count;
}

void engine_registry_hooks(struct engine *e, struct registry_hooks *h)
{
	h->ud = e;
	h->retire = hook_retire;
	h->committed = hook_committed;
	h->added = hook_added;
}

/* ---- lifecycle and the outside's door ---- */

struct engine *engine_new(struct ev_loop *loop, struct registry *reg, struct journal *journal,
                          struct events *events, const struct engine_opts *opts)
{
	struct engine *e = xcalloc(1, sizeof *e);
	e->loop = loop;
	e->reg = reg;
	e->journal = journal;
	e->events = events;
	e->opts = *opts;
	snprintf(e->node, sizeof e->node, "%s", opts->node ? opts->node : "");
	e->opts.node = NULL;
	e->t0 = ev_now(loop) - 1.0;
	wheel_init(&e->wheel, 0);
	hmap_init(&e->plugin_stats);
	ev_init(&e->wheel_timer, on_wheel);
	e->wheel_timer.data = e;
	ev_idle_init(&e->drain_idle, on_drain);
	e->drain_idle.data = e;
	clockstep_start(loop, &e->clock, on_clock_step, e);
	if (journal)
		engine_attach(e, journal, opts->node);
	return e;
}

void engine_attach(struct engine *e, struct journal *journal, const char *node)
{
	e->journal = journal;
	snprintf(e->node, sizeof e->node, "%s", node ? node : "");
	if (!e->opts.no_store)
		journal_add_source(journal, dirty_fill, dirty_pending, e);
}

void engine_stop(struct engine *e)
{
	if (e->stopping)
		return;
	e->stopping = 1;
	/* Cancel in-flight runs, then mark every check for the last flush. */
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&e->reg->m.checks, &it, &he)) {
		struct check *c = he->value;
		if (c->run) {
			run_cancel(e, c, "shutdown");
			engine__sched_at(e, c, ev_now(e->loop)); /* first thing next start */
		}
		check_mark_dirty(e, c);
	}
	ev_timer_stop(e->loop, &e->wheel_timer);
	ev_idle_stop(e->loop, &e->drain_idle);
	clockstep_stop(e->loop, &e->clock);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	ev_timer_stop(e->loop, &e->wheel_timer);
	ev_idle_stop(e->loop, &e->drain_idle);
	clockstep_stop(e->loop, &e->clock);
	while (e->free_runs) {
		struct mamori_run *r = e->free_runs;
		e->free_runs = r->next_free;
		free(r);
	}
	size_t it = 0;
	const struct hmap_entry *he;
	while (hmap_next(&e->plugin_stats, &it, &he))
		free(he->value);
	hmap_free(&e->plugin_stats);
	free(e->dirty);
	free(e);
}

void engine_on_perfdata(struct engine *e, engine_perf_fn fn, void *ud)
{
	e->perf_fn = fn;
	e->perf_ud = ud;
}

int engine_submit(struct engine *e, struct check *c, const struct mamori_result *r)
{
	return engine_host_ops.check_submit(e, (struct mamori_check *)c, r);
}

void engine_set_ack(struct engine *e, struct check *c, int on)
{
	int was = !!(c->flags & CK_ACK);
	if (on && c->st.state != 0)
		c->flags |= CK_ACK;
	else
		c->flags &= (uint8_t)~CK_ACK;
	if (was == !!(c->flags & CK_ACK))
		return;
	check_mark_dirty(e, c);
	struct state_event none = { 0 };
	emit_state(e, c, &none, ev_now(e->loop), 1);
}

double engine_next_due(const struct engine *e, const struct check *c)
{
	return wheel_pending(&c->node) ? engine__time(e, c->node.due) : 0;
}

void engine_get_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->checks = e->reg->m.checks.count;
	out->rows_flushed = e->journal ? journal_rows(e->journal) : 0;
}

void engine_check_counts(const struct engine *e, uint64_t out[ENGINE_COUNT_SLOTS])
{
	memcpy(out, e->by_state, sizeof e->by_state);
}

void engine_lag_percentiles(const struct engine *e, double *p50, double *p99, double *max)
{
	uint64_t total = e->lag_count, acc = 0;
	*p50 = *p99 = 0;
	int got50 = 0;
	for (unsigned b = 0; b < LAG_BUCKETS && total; b++) {
		acc += e->lag_hist[b];
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
	*max = e->stats.lag_max;
}

uint64_t engine_lag_histogram(const struct engine *e, uint32_t counts[ENGINE_LAG_BUCKETS])
{
	memcpy(counts, e->lag_hist, sizeof e->lag_hist);
	return e->lag_count;
}

void engine_lag_reset(struct engine *e)
{
	memset(e->lag_hist, 0, sizeof e->lag_hist);
	e->lag_count = 0;
	e->stats.lag_max = 0;
	e->stats.lag_sum = 0;
}
