/*
 * run: scheduling and running checks, results into the state engine, and
 * group-committed persistence.
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
#define MAMORI_SERVER_INTERNAL
#include "server/server_int.h"
#include "cal/cal.h"
#include "perfdata/perfdata.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OUTPUT      8192 /* first line kept */
#define MAX_LONG_OUTPUT 65536
#define MAX_PERF        8192

uint64_t server__tick(const struct server *s, double t)
{
	double ms = (t - s->t0) * 1000.0;
	return ms <= 0 ? 0 : (uint64_t)ms;
}

double server__time(const struct server *s, uint64_t tick)
{
	return s->t0 + (double)tick / 1000.0;
}

/* ---- scheduling ---- */

void sched_check_at(struct server *s, struct check *c, double when)
{
	if (wheel_pending(&c->node))
		wheel_del(&s->wheel, &c->node);
	wheel_add(&s->wheel, &c->node, server__tick(s, when));
	/* Outside wheel_advance (which re-arms when it is done), a due time
	 * earlier than the armed timer must move the timer: a passive result,
	 * a completion from an I/O callback, a newly registered asset. */
	if (!s->in_wheel && (!ev_is_active(&s->wheel_timer) ||
	                     when < ev_now(s->loop) + ev_timer_remaining(s->loop, &s->wheel_timer)))
		sched_rearm(s);
}

void sched_rearm(struct server *s)
{
	uint64_t next = wheel_next(&s->wheel);
	ev_timer_stop(s->loop, &s->wheel_timer);
	if (next == UINT64_MAX || s->stopping)
		return;
	double at = server__time(s, next) - ev_now(s->loop);
	ev_timer_set(&s->wheel_timer, at > 0 ? at : 0, 0.);
	ev_timer_start(s->loop, &s->wheel_timer);
}

/* Deterministic spread in [0, 1) from the key: the same check lands on the
 * same offset after a restart, and checks spread evenly. */
static double spread(const struct check *c)
{
	uint64_t h = hmap_hash(c->key, strlen(c->key));
	return (double)(h >> 11) / 9007199254740992.0;
}

void sched_first(struct server *s, struct check *c)
{
	double now = ev_now(s->loop);
	if (c->flags & CK_PASSIVE) {
		if (c->p.stale_ms) {
			double last = c->st.has_result ? c->st.last_check : now;
			double due = last + c->p.stale_ms / 1000.0;
			sched_check_at(s, c, due > now ? due : now);
		}
		return;
	}
	double ival = c->p.interval_ms / 1000.0;
	double due;
	if (s->opts.no_spread)
		due = now;
	else if (c->st.has_result && c->st.last_check + ival > now && c->st.last_check <= now)
		due = c->st.last_check + ival; /* keep the rhythm across restarts */
	else
		due = now + spread(c) * (ival < 300 ? ival : 300); /* no thundering herd */
	sched_check_at(s, c, due);
}

static void sched_next(struct server *s, struct check *c, double now)
{
	struct state_policy pol = { .max_attempts = c->p.max_attempts };
	uint32_t ms = state_wants_retry(&c->st, &pol) ? c->p.retry_ms : c->p.interval_ms;
	sched_check_at(s, c, now + ms / 1000.0);
}

/* ---- lag histogram (log2 buckets of microseconds) ---- */

static void lag_record(struct server *s, double lag)
{
	if (lag < 0)
		lag = 0;
	if (lag > s->stats.lag_max)
		s->stats.lag_max = lag;
	double us = lag * 1e6;
	unsigned b = 0;
	while (us >= 1.0 && b < LAG_BUCKETS - 1) {
		us /= 2;
		b++;
	}
	s->lag_hist[b]++;
	s->lag_count++;
}

/* ---- output storage ---- */

static size_t clip_line(const char *s, size_t max)
{
	size_t n = 0;
	while (s[n] && s[n] != '\n' && n < max)
		n++;
	return n;
}

/* Store output, perfdata and long output in one blob; reuse the old one
 * when nothing changed (the common case: no allocation per result). */
static int set_output(struct check *c, const char *out, size_t olen, const char *perf, size_t plen,
                      const char *lng, size_t llen)
{
	size_t need = olen + plen + llen + 3;
	if (c->out && c->out_len == need && memcmp(c->out, out, olen) == 0 &&
	    c->out[olen] == '\0' && memcmp(c->out + olen + 1, perf, plen) == 0 &&
	    memcmp(c->out + olen + plen + 2, lng, llen) == 0)
		return 0;
	if (!c->out || c->out_len != need)
		c->out = xrealloc(c->out, need);
	memcpy(c->out, out, olen);
	c->out[olen] = '\0';
	memcpy(c->out + olen + 1, perf, plen);
	c->out[olen + 1 + plen] = '\0';
	memcpy(c->out + olen + plen + 2, lng, llen);
	c->out[need - 1] = '\0';
	c->out_len = (uint32_t)need;
	return 1;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t range_hash(uint64_t h, const struct mamori_range *r)
{
	h = mix(h, &r->start, sizeof r->start);
	h = mix(h, &r->end, sizeof r->end);
	unsigned char f[4] = { r->set, r->start_inf, r->end_inf, r->inside };
	return mix(h, f, sizeof f);
}

/* Hash of everything perf_format prints (never 0, so 0 means "none"). */
static uint64_t perf_items_hash(const struct mamori_perfdata *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h = mix(h, p[i].label ? p[i].label : "", p[i].label ? strlen(p[i].label) + 1 : 1);
		h = mix(h, p[i].uom ? p[i].uom : "", p[i].uom ? strlen(p[i].uom) + 1 : 1);
		h = mix(h, &p[i].value, sizeof p[i].value);
		h = mix(h, &p[i].min, sizeof p[i].min);
		h = mix(h, &p[i].max, sizeof p[i].max);
		h = mix(h, &p[i].flags, sizeof p[i].flags);
		h = range_hash(h, &p[i].warn);
		h = range_hash(h, &p[i].crit);
	}
	return h | 1;
}

static int store_result_text(struct check *c, const struct mamori_result *r)
{
	const char *out = r->output ? r->output : "";
	size_t olen = clip_line(out, MAX_OUTPUT);
	const char *lng = r->long_output ? r->long_output : "";
	if (!r->long_output && out[olen] == '\n')
		lng = out + olen + 1; /* a multi-line output: the rest is long output */
	size_t llen = strnlen(lng, MAX_LONG_OUTPUT);
	char pbuf[MAX_PERF];
	const char *perf = "";
	size_t plen = 0;
	if (r->perf && r->n_perf) {
		/* Formatting doubles costs more than the rest of a result: skip
		 * it when the items are the same as last time. */
		uint64_t h = perf_items_hash(r->perf, r->n_perf);
		if (h == c->perf_hash && c->out) {
			/* Copied: set_output may reallocate the blob it lives in. */
			plen = strnlen(check_perf(c), sizeof pbuf - 1);
			memcpy(pbuf, check_perf(c), plen);
			pbuf[plen] = '\0';
			perf = pbuf;
		} else {
			int n = perf_format_all(r->perf, r->n_perf, pbuf, sizeof pbuf);
			perf = pbuf;
			plen = n < 0 ? 0 : (size_t)n >= sizeof pbuf ? sizeof pbuf - 1 : (size_t)n;
			c->perf_hash = h;
		}
	} else if (r->perf_text) {
		c->perf_hash = 0;
		perf = r->perf_text;
		plen = clip_line(perf, MAX_PERF - 1);
	} else {
		c->perf_hash = 0;
	}
	return set_output(c, out, olen, perf, plen, lng, llen);
}

/* ---- state ---- */

static int in_downtime(const struct server *s, const struct check *c, double now)
{
	for (size_t i = 0; i < s->m.n_downtimes; i++) {
		const struct cfg_downtime *d = &s->m.downtimes[i];
		if (strcmp(d->customer, c->asset->cust->id) != 0)
			continue;
		if (d->asset && strcmp(d->asset, c->asset->name) != 0)
			continue;
		if (d->check && strcmp(d->check, c->name) != 0)
			continue;
		struct downtime w = { .start = d->start, .end = d->end, .recurring = d->weekly };
		if (downtime_active(&w, now))
			return 1;
	}
	return 0;
}

int server__in_downtime(const struct server *s, const struct check *c, double now)
{
	return in_downtime(s, c, now);
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

static void after_state(struct server *s, struct check *c, const struct state_event *ev, double now)
{
	if (!ev->flags)
		return;
	if (ev->flags & STATE_EV_CHANGE)
		s->stats.state_changes++;
	if (ev->flags & STATE_EV_HARD_CHANGE)
		s->stats.hard_changes++;
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
	/* Acknowledgement is sticky until OK, or until it expires. */
	if ((c->flags & CK_ACK) &&
	    (c->st.state == 0 || (c->ack_expires > 0 && now >= c->ack_expires)))
		c->flags &= (uint8_t)~CK_ACK;
	struct state_context ctx = {
		.in_downtime = (uint8_t)in_downtime(s, c, now),
		.acknowledged = (uint8_t) !!(c->flags & CK_ACK),
		.parent_down = (uint8_t)parent_down(c),
	};
	enum state_suppress why = state_suppressed(&c->st, &ctx);
	log_event(c, ev, why);
	if (s->hook)
		s->hook(s->hook_ud, c->asset->cust->id, c->asset->name, c->name, ev, (int)why);
	alerts_on_state(s, c, ev, &ctx, now);
}

void check_mark_dirty(struct server *s, struct check *c)
{
	if (c->dirty || s->opts.no_store)
		return;
	if (s->n_dirty == s->cap_dirty) {
		s->cap_dirty = s->cap_dirty ? s->cap_dirty * 2 : 1024;
		s->dirty = xrealloc(s->dirty, s->cap_dirty * sizeof *s->dirty);
	}
	s->dirty[s->n_dirty++] = c;
	c->dirty = (uint32_t)s->n_dirty;
}

void check_clean(struct server *s, struct check *c)
{
	if (c->dirty) {
		s->dirty[c->dirty - 1] = NULL;
		c->dirty = 0;
	}
}

void check_apply_result(struct server *s, struct check *c, const struct mamori_result *r,
                        double now)
{
	struct state_policy pol = {
		.max_attempts = c->p.max_attempts,
		.flap_enabled = c->p.flap_enabled,
		.flap_low = c->p.flap_low,
		.flap_high = c->p.flap_high,
	};
	int text_changed = store_result_text(c, r);
	uint8_t attempt = c->st.attempt;
	int st = r->state;
	if (st < 0 || st > 3)
		st = 3;
	struct state_event ev = state_apply(&c->st, &pol, st, now);
	after_state(s, c, &ev, now);
	check_mark_dirty(s, c);
	/* Subscribers see changes, not every repetition of the same result. */
	if (ev.flags & (STATE_EV_CHANGE | STATE_EV_HARD_CHANGE | STATE_EV_FLAP_START |
	                STATE_EV_FLAP_STOP) ||
	    text_changed || attempt != c->st.attempt)
		bus_publish_state(s, c);
}

/* ---- runs ---- */

static struct mamori_run *run_alloc(struct server *s, struct check *c)
{
	struct mamori_run *r = s->free_runs;
	if (r)
		s->free_runs = r->next_free;
	else
		r = xmalloc(sizeof *r);
	r->chk = c;
	r->state = NULL;
	r->gen = ++s->run_gen;
	r->active = 1;
	r->next_free = NULL;
	return r;
}

static void run_release(struct server *s, struct mamori_run *r)
{
	r->active = 0;
	r->chk = NULL;
	r->next_free = s->free_runs;
	s->free_runs = r;
}

static void drain_soon(struct server *s, struct pinst *p)
{
	if (p->wait_head && !ev_is_active(&s->drain_idle))
		ev_idle_start(s->loop, &s->drain_idle);
}

/* The run of c is over (completed, failed, timed out or cancelled). */
static void run_end(struct server *s, struct check *c)
{
	struct pinst *p = c->pi;
	run_release(s, c->run);
	c->run = NULL;
	if (p->running)
		p->running--;
	if (wheel_pending(&c->node))
		wheel_del(&s->wheel, &c->node); /* its timeout */
	drain_soon(s, p);
}

static void result_now(struct server *s, struct check *c, int state, const char *output)
{
	struct mamori_result r = { .struct_size = sizeof r, .state = state, .output = output };
	double now = ev_now(s->loop);
	check_apply_result(s, c, &r, now);
	sched_next(s, c, now);
}

void run_cancel(struct server *s, struct check *c, const char *why)
{
	if (!c->run)
		return;
	struct mamori_run *r = c->run;
	if (c->pi->inst && c->pi->mod->def->check_cancel)
		c->pi->mod->def->check_cancel(c->pi->inst, r, r->state);
	s->stats.runs_cancelled++;
	run_end(s, c);
}

void run_finish_now(struct server *s, struct check *c, int state, const char *output)
{
	result_now(s, c, state, output);
}

static void run_start(struct server *s, struct check *c, double now)
{
	struct pinst *p = c->pi;
	if (p->max_concurrent && p->running >= (unsigned)p->max_concurrent) {
		c->flags |= CK_WAITING;
		c->wnext = NULL;
		if (p->wait_tail)
			p->wait_tail->wnext = c;
		else
			p->wait_head = c;
		p->wait_tail = c;
		s->stats.waiting++;
		return;
	}
	struct mamori_run *r = run_alloc(s, c);
	c->run = r;
	c->run_started = now;
	p->running++;
	s->stats.runs_started++;
	sched_check_at(s, c, now + c->p.timeout_ms / 1000.0);
	int rc = p->mod->def->check_start(p->inst, r, c->data, &r->state);
	if (rc != 0 && c->run == r) {
		/* Not started: the plugin must not complete it. */
		run_end(s, c);
		char msg[200];
		snprintf(msg, sizeof msg, "check could not start: %s", host_table()->strerror(rc));
		result_now(s, c, 3, msg);
	}
}

static void check_due(struct server *s, struct check *c, double now)
{
	if (c->run) {
		/* The run's timeout expired: the core owns timeouts. */
		double t = c->p.timeout_ms / 1000.0;
		run_cancel(s, c, "timeout");
		s->stats.runs_timed_out++;
		char msg[96];
		snprintf(msg, sizeof msg, "timed out after %gs", t);
		result_now(s, c, 3, msg);
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
		int text_changed = store_result_text(c, &r);
		struct state_event ev = state_apply_stale(&c->st, c->p.stale_state, now);
		s->stats.stale_events++;
		after_state(s, c, &ev, now);
		check_mark_dirty(s, c);
		if (ev.flags || text_changed)
			bus_publish_state(s, c);
		sched_check_at(s, c, now + c->p.stale_ms / 1000.0);
		return;
	}
	if (c->p.period && !cal_is_open(c->p.period, (time_t)now)) {
		time_t open = cal_next_open(c->p.period, (time_t)now);
		sched_check_at(s, c, open == (time_t)-1 ? now + 86400 : (double)open);
		return;
	}
	if (!c->pi->inst) {
		result_now(s, c, 3, c->pi->broken ? c->pi->broken : "plugin not available");
		return;
	}
	run_start(s, c, now);
}

static void fire(struct wheel_node *n, void *ud)
{
	struct server *s = ud;
	struct check *c = CONTAINER_OF(n, struct check, node);
	double now = ev_now(s->loop);
	if (!c->run && !(c->flags & CK_PASSIVE))
		lag_record(s, now - server__time(s, n->due));
	check_due(s, c, now);
}

void server__on_wheel(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	s->in_wheel = 1;
	wheel_advance(&s->wheel, server__tick(s, ev_now(loop)), fire, s);
	s->in_wheel = 0;
	sched_rearm(s);
}

void server__on_drain(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct server *s = w->data;
	ev_idle_stop(loop, w);
	double now = ev_now(loop);
	for (size_t i = 0; i < s->m.n_pinsts; i++) {
		struct pinst *p = s->m.pinsts[i];
		while (p->wait_head &&
		       (!p->max_concurrent || p->running < (unsigned)p->max_concurrent)) {
			struct check *c = p->wait_head;
			p->wait_head = c->wnext;
			if (!p->wait_head)
				p->wait_tail = NULL;
			c->wnext = NULL;
			c->flags &= (uint8_t)~CK_WAITING;
			s->stats.waiting--;
			lag_record(s, now - server__time(s, c->node.due));
			run_start(s, c, now);
		}
	}
	sched_rearm(s);
}

/* ---- host ops (the plugin side of runs and passive results) ---- */

static void ops_run_complete(void *ctx, struct mamori_run *r, const struct mamori_result *res)
{
	struct server *s = ctx;
	if (!r || !r->active || !r->chk || r->chk->run != r) {
		s->stats.late_completions++;
		log_warn(
		    "plugin",
		    "a plugin completed a run that was already completed or cancelled (plugin bug)");
		return;
	}
	struct check *c = r->chk;
	double now = ev_now(s->loop);
	s->stats.runs_completed++;
	run_end(s, c);
	check_apply_result(s, c, res, now);
	sched_next(s, c, now); /* re-arms the wheel timer if this is due sooner */
}

static struct mamori_check *ops_run_check(void *ctx, const struct mamori_run *r)
{
	return r && r->active ? (struct mamori_check *)r->chk : NULL;
}

static const struct mamori_check_info *ops_check_info(void *ctx, const struct mamori_check *mc)
{
	struct server *s = ctx;
	const struct check *c = (const struct check *)mc;
	if (!c)
		return NULL;
	struct mamori_check_info *i = &s->info_scratch;
	memset(i, 0, sizeof *i);
	i->struct_size = sizeof *i;
	i->customer = c->asset->cust->id;
	i->customer_name = c->asset->cust->name ? c->asset->cust->name : c->asset->cust->id;
	i->region = c->asset->cust->region ? c->asset->cust->region : "";
	i->asset = c->asset->name;
	i->asset_type = c->asset->type;
	i->address = c->asset->address;
	i->check = c->name;
	i->service = service_name(c->p.service);
	i->interval = c->p.interval_ms / 1000.0;
	i->timeout = c->p.timeout_ms / 1000.0;
	return i;
}

static int ops_check_submit(void *ctx, struct mamori_check *mc, const struct mamori_result *res)
{
	struct server *s = ctx;
	struct check *c = (struct check *)mc;
	if (!c || !res)
		return MAMORI_E_INVAL;
	double now = ev_now(s->loop);
	s->stats.passive_results++;
	check_apply_result(s, c, res, now);
	if (c->flags & CK_PASSIVE) {
		if (MAMORI_HAS_FIELD(res, struct mamori_result, flags) &&
		    (res->flags & MAMORI_RESULT_NO_FRESHNESS)) {
			if (wheel_pending(&c->node))
				wheel_del(&s->wheel, &c->node); /* silence is expected now */
		} else if (c->p.stale_ms) {
			sched_check_at(s, c, now + c->p.stale_ms / 1000.0);
		}
	}
	return 0;
}

static struct mamori_check *ops_check_find(void *ctx, const char *cu, const char *as,
                                           const char *ck)
{
	struct server *s = ctx;
	if (!cu || !as || !ck)
		return NULL;
	char key[1024];
	int n = snprintf(key, sizeof key, "%s/%s/%s", cu, as, ck);
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	return hmap_get(&s->m.checks, key, (size_t)n);
}

static int valid_asset_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (!len || len > 128)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)n[i];
		if (ch < 0x20 || ch == '/' || ch == '+' || ch == '#' || ch == 0x7f)
			return 0;
	}
	return 1;
}

static int ops_asset_register(void *ctx, void *inst, const struct mamori_asset_spec *spec)
{
	struct server *s = ctx;
	if (!spec || !spec->customer || !valid_asset_name(spec->name))
		return MAMORI_E_INVAL;
	struct customer *cu = hmap_get(&s->m.cust_by_id, spec->customer, strlen(spec->customer));
	if (!cu)
		return MAMORI_E_NOTFOUND;
	if (hmap_get(&cu->assets, spec->name, strlen(spec->name)))
		return MAMORI_E_EXISTS;
	const struct agent_tpl *tpl = NULL;
	for (size_t i = 0; i < cu->n_agents; i++)
		if (cu->agents[i].pi && cu->agents[i].pi->inst == inst)
			tpl = &cu->agents[i];
	if (!tpl || !tpl->auto_register)
		return MAMORI_E_DENIED;
	model_register_asset(s, cu, tpl, spec->name, spec->type, spec->address, ev_now(s->loop), 1);
	log_notice("model", "registered asset %s/%s (type %s) reported by its agent", cu->id,
	           spec->name, spec->type ? spec->type : tpl->asset_type);
	return 0;
}

static int ops_calendar_is_open(void *ctx, const char *name, double t)
{
	struct server *s = ctx;
	if (s->building) {
		const struct cal *c = name ? mconf_calendar(s->building, name) : NULL;
		return c ? (cal_is_open(c, (time_t)t) ? 1 : 0) : MAMORI_E_NOTFOUND;
	}
	for (size_t i = 0; name && i < s->m.n_calendars; i++)
		if (strcmp(s->m.calendars[i].name, name) == 0)
			return cal_is_open(s->m.calendars[i].cal, (time_t)t) ? 1 : 0;
	return MAMORI_E_NOTFOUND;
}

static void *ops_check_data(void *ctx, void *inst, const struct mamori_check *mc)
{
	const struct check *c = (const struct check *)mc;
	if (!c || !c->pi || c->pi->inst != inst)
		return NULL;
	return c->data;
}

const struct host_ops server__host_ops = {
	.run_complete = ops_run_complete,
	.run_check = ops_run_check,
	.check_info = ops_check_info,
	.check_submit = ops_check_submit,
	.check_find = ops_check_find,
	.asset_register = ops_asset_register,
	.check_data = ops_check_data,
	.calendar_is_open = ops_calendar_is_open,
};

/* ---- persistence ---- */

static void fill_row(const struct check *c, struct store_state_row *r, const struct server *s)
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
	r->next_check = wheel_pending(&c->node) && !c->run ? server__time(s, c->node.due) : 0;
	r->output = check_output(c);
	r->perfdata = check_perf(c);
	r->long_output = check_long(c);
	r->ack = !!(c->flags & CK_ACK);
	r->ack_expires = c->ack_expires;
}

void server__flush(struct server *s)
{
	if (!s->store || (!s->n_dirty && !s->n_new_assets && !alerts_pending(s)))
		return;
	/* Alert rows and outbox messages caused by these changes are already
	 * in the alerts' pending batch: one transaction for both. */
	struct store_batch *b = alerts_take_batch(s);
	for (size_t i = 0; i < s->n_new_assets; i++) {
		const struct asset *a = s->new_assets[i];
		struct store_asset_row row = { a->cust->id, a->name, a->type,
			                       a->address,  "agent", a->registered_at };
		store_batch_asset(b, &row);
	}
	s->n_new_assets = 0;
	for (size_t i = 0; i < s->n_dirty; i++) {
		struct check *c = s->dirty[i];
		if (!c)
			continue;
		struct store_state_row row;
		fill_row(c, &row, s);
		store_batch_state(b, &row);
		c->dirty = 0;
	}
	s->stats.rows_flushed += store_batch_rows(b);
	s->n_dirty = 0;
	alerts_batch_sent(s, store_commit(s->store, b));
}

void server__on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	/* Group commit: one batch in flight at a time; while the writer is
	 * busy, changes keep coalescing in the dirty list. */
	if (s->store && !store_busy(s->store))
		server__flush(s);
	/* After a burst of registrations (thousands of PCs at 9:00) the
	 * allocator holds freed temporaries: hand them back once it is over. */
	if (s->trim_at > 0 && ev_now(loop) > s->trim_at) {
		s->trim_at = 0;
		malloc_trim(0);
	}
}
