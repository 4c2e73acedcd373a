/*
 * alert.c: alert lifecycle from state-engine events, contact-center
 * actions, and SLA events turned into alert events (see alert.h).
 *
 * Every change goes through emit(): it bumps seq, stamps the event and
 * hands it to the caller's callback while the alert is in exactly the
 * state the event describes.
 */
#include "alert/alert_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SYSTEM_ACTOR "mamori"
#define SUMMARY_MAX  512

static const char *const ev_names[ALERT_EV_COUNT] = {
	"opened",   "updated",  "acknowledged", "escalated",      "sla_breach", "dispatched",
	"resolved", "reopened", "commented",    "unacknowledged", "waiting",    "notify_failed",
};

const char *alert_event_name(enum alert_ev_type t)
{
	return (unsigned)t < ALERT_EV_COUNT ? ev_names[t] : "unknown";
}

const char *alert_status_name(enum alert_status s)
{
	return s == ALERT_OPEN ? "open" : s == ALERT_ACKED ? "acknowledged" : "resolved";
}

const char *alert_severity_name(int state)
{
	switch (state) {
	case 0: return "ok";
	case 1: return "warning";
	case 2: return "critical";
	default: return "unknown";
	}
}

const char *alert_tier_name(const struct alert *a)
{
	if (!a->sla.terms || a->sla.tier >= a->sla.terms->n_tiers)
		return NULL;
	return a->sla.terms->tiers[a->sla.tier].name;
}

const char *alert_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case ALERT_E_NOMEM: return "out of memory";
	case ALERT_E_STATE: return "not allowed in the alert's current status";
	case ALERT_E_LAST_TIER: return "already at the last tier";
	case ALERT_E_INVAL: return "invalid argument";
	default: return "unknown error";
	}
}

void alert__emit(struct alert_table *t, struct alert *a, const struct alert_event *tmpl, double now)
{
	struct alert_event ev = *tmpl;
	ev.seq = ++a->seq;
	ev.time = now;
	if (!ev.actor)
		ev.actor = SYSTEM_ACTOR;
	a->updated_at = now;
	t->emit(t->emit_arg, a, &ev);
}

static void emit_simple(struct alert_table *t, struct alert *a, enum alert_ev_type type,
                        const char *note, double now)
{
	struct alert_event ev = { .type = type, .note = note, .breach = -1 };
	alert__emit(t, a, &ev, now);
}

/* Summary: the first line of the output, at most SUMMARY_MAX bytes (cut
 * on a UTF-8 character boundary).  Returns a new string or NULL. */
static char *summary_of(const char *output)
{
	const char *o = output ? output : "";
	size_t n = strcspn(o, "\r\n");
	if (n > SUMMARY_MAX) {
		n = SUMMARY_MAX;
		while (n > 0 && ((unsigned char)o[n] & 0xC0) == 0x80)
			n--;
	}
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, o, n);
	s[n] = 0;
	return s;
}

/* Replace the summary; returns -1 (nothing changed) on no memory, else 1
 * if the text changed, 0 if not. */
static int set_summary(struct alert *a, const char *output)
{
	char *s = summary_of(output);
	if (!s)
		return -1;
	int changed = !a->summary || strcmp(a->summary, s) != 0;
	free(a->summary);
	a->summary = s;
	return changed;
}

/* The check's runbook as of this result (a reload may have changed it):
 * copied only when it differs.  No memory: the old one stays. */
static void set_runbook(struct alert *a, const char *rb)
{
	if (rb && !*rb)
		rb = NULL;
	if (rb == a->runbook || (rb && a->runbook && strcmp(rb, a->runbook) == 0))
		return;
	(void)alert__set_str(&a->runbook, rb);
}

static int fill_identity(struct alert *a, const struct alert_input *in)
{
	if (alert__set_str(&a->customer, in->customer) < 0 ||
	    alert__set_str(&a->asset, in->asset) < 0 || alert__set_str(&a->check, in->check) < 0 ||
	    alert__set_str(&a->service, in->service) < 0)
		return -1;
	set_runbook(a, in->runbook);
	return 0;
}

/* Route a new alert and start its clock. */
static int route_and_start(struct alert_table *t, struct alert *a, const struct alert_input *in,
                           double now)
{
	struct route_result rr;
	struct route_input ri = {
		.customer = in->customer,
		.tags = in->tags,
		.n_tags = in->n_tags,
		.region = in->region,
		.service = in->service,
		.severity = alert_severity_name(a->state),
		.check = in->check,
	};
	const struct sla_terms *terms = NULL;
	if (route_match(t->routes, &ri, &rr) == 0) {
		if (alert__set_str(&a->center, rr.center->name) < 0)
			return -1;
		for (size_t i = 0; i < rr.n_also; i++) {
			if (alert__set_str(&a->also[i], rr.also[i]->name) < 0)
				return -1;
			a->n_also = i + 1;
		}
		terms = &rr.center->terms;
	}
	if (in->contract) {
		terms = in->contract;
		a->contract = 1;
	}
	sla_start(t->sla, &a->sla, terms, 0, now);
	return 0;
}

static int open_alert(struct alert_table *t, const struct alert_input *in, int flapping, double now)
{
	struct alert *old = alert_find_check(t, in->key);
	struct alert *a = alert__new(t, in->key, now);
	if (!a || fill_identity(a, in) < 0 || set_summary(a, in->output) < 0)
		goto fail;
	a->state = in->ev->new_state;
	a->stale = in->st ? in->st->stale : 0;
	a->flapping = (uint8_t)flapping;
	a->count = 1;
	a->opened_at = now;
	a->status = ALERT_OPEN;
	if (route_and_start(t, a, in, now) < 0)
		goto fail;
	if (old) {
		alert__remove(t, old);
		alert__free(old);
	}
	if (alert__insert(t, a) < 0)
		goto fail;
	if (in->ctx && in->ctx->in_downtime)
		sla_pause(t->sla, &a->sla, SLA_PAUSE_DOWNTIME, now);
	emit_simple(t, a, ALERT_EV_OPENED, flapping ? "flapping" : NULL, now);
	return 1;
fail:
	if (a)
		sla_stop(t->sla, &a->sla);
	alert__free(a);
	return ALERT_E_NOMEM;
}

static void resolve(struct alert_table *t, struct alert *a, const struct alert_event *tmpl,
                    double now)
{
	struct alert_event ev = *tmpl;
	a->status = ALERT_RESOLVED;
	a->resolved_at = now;
	sla_stop(t->sla, &a->sla);
	ev.type = ALERT_EV_RESOLVED;
	ev.duration = now - a->opened_at;
	alert__emit(t, a, &ev, now);
}

static int reopen(struct alert_table *t, struct alert *a, const struct alert_input *in,
                  int flapping, double now)
{
	if (set_summary(a, in->output) < 0)
		return ALERT_E_NOMEM;
	set_runbook(a, in->runbook);
	a->state = in->ev->new_state;
	a->flapping = (uint8_t)flapping;
	a->manual = 0;
	a->count++;
	a->status = ALERT_OPEN;
	a->resolved_at = 0;
	free(a->acked_by);
	a->acked_by = NULL;
	sla_start(t->sla, &a->sla, a->sla.terms ? a->sla.terms : NULL, a->sla.tier, now);
	if (in->ctx && in->ctx->in_downtime)
		sla_pause(t->sla, &a->sla, SLA_PAUSE_DOWNTIME, now);
	emit_simple(t, a, ALERT_EV_REOPENED, flapping ? "flapping" : NULL, now);
	return 1;
}

/* A result for a check whose alert is open or acknowledged. */
static int on_active(struct alert_table *t, struct alert *a, const struct alert_input *in,
                     double now)
{
	const struct state_event *ev = in->ev;
	int problem = (ev->flags & STATE_EV_HARD_PROBLEM) != 0;
	int ok = ev->new_state == 0 && (ev->hard || (ev->flags & STATE_EV_RECOVERY));
	struct alert_event up = { .type = ALERT_EV_UPDATED, .breach = -1 };

	set_runbook(a, in->runbook);
	if (in->ctx)
		alert_set_downtime(t, in->key, in->ctx->in_downtime, now);
	if (ev->flags & STATE_EV_FLAP_START && !a->flapping) {
		a->flapping = 1;
		a->state = ev->new_state;
		up.note = "flapping";
		alert__emit(t, a, &up, now);
		return 1;
	}
	if (a->flapping) {
		if (!(ev->flags & STATE_EV_FLAP_STOP)) {
			a->count += problem; /* flaps are counted, not announced */
			a->state = ev->new_state;
			return 0;
		}
		a->flapping = 0;
		up.note = "flapping stopped";
	}
	if (ok) {
		a->state = ev->new_state;
		resolve(t, a, &up, now);
		return 1;
	}
	if (!problem && !up.note)
		return 0;
	int changed = a->state != ev->new_state || up.note;
	int sc = set_summary(a, in->output);
	if (sc < 0)
		return ALERT_E_NOMEM;
	changed |= sc;
	a->state = ev->new_state;
	a->stale = in->st ? in->st->stale : a->stale;
	a->count += problem;
	if (t->updates_on_change && !changed)
		return 0;
	alert__emit(t, a, &up, now);
	return 1;
}

int alert_on_check_event(struct alert_table *t, const struct alert_input *in, double now)
{
	const struct state_event *ev = in->ev;
	if (!in->key || !ev)
		return ALERT_E_INVAL;
	struct alert *a = alert_find_check(t, in->key);
	if (a && a->status != ALERT_RESOLVED)
		return on_active(t, a, in, now);

	int problem = (ev->flags & STATE_EV_HARD_PROBLEM) != 0 ||
	              (in->st && in->st->stale && ev->new_state != 0);
	int flap = (ev->flags & STATE_EV_FLAP_START) || (in->st && in->st->flapping);
	if (!problem && !(ev->flags & STATE_EV_FLAP_START))
		return 0;
	if (in->st && in->ctx) {
		enum state_suppress sup = state_suppressed(in->st, in->ctx);
		if (sup == STATE_SUPPRESS_DOWNTIME || sup == STATE_SUPPRESS_ACK ||
		    sup == STATE_SUPPRESS_UNREACHABLE)
			return 0;
	}
	if (a) {
		/* The same continuing problem after a manual resolve: the center
		 * closed it on purpose; wait for a new problem edge. */
		if (a->manual && !(ev->flags & (STATE_EV_HARD_CHANGE | STATE_EV_FLAP_START)))
			return 0;
		/* Closed by hand while flapping: flaps are not new problems. */
		if (a->manual && in->st && in->st->flapping && !(ev->flags & STATE_EV_FLAP_START))
			return 0;
		if (now - a->resolved_at <= t->reopen_within)
			return reopen(t, a, in, flap, now);
	}
	return open_alert(t, in, flap, now);
}

void alert_set_downtime(struct alert_table *t, const char *key, int on, double now)
{
	struct alert *a = alert_find_check(t, key);
	if (!a || a->status == ALERT_RESOLVED)
		return;
	if (on)
		sla_pause(t->sla, &a->sla, SLA_PAUSE_DOWNTIME, now);
	else
		sla_resume(t->sla, &a->sla, SLA_PAUSE_DOWNTIME, now);
}

double alert_next_due(const struct alert_table *t)
{
	return sla_next_due(t->sla);
}

static void on_sla_fire(void *arg, struct sla_clock *c, enum sla_fire what, enum sla_deadline which,
                        double now)
{
	struct alert_table *t = arg;
	struct alert *a = (struct alert *)((char *)c - offsetof(struct alert, sla));
	struct alert_event ev = { .breach = -1 };
	if (what == SLA_FIRE_ESCALATED) {
		a->status = ALERT_OPEN; /* the new tier must acknowledge */
		ev.type = ALERT_EV_ESCALATED;
		ev.note = which == SLA_ACK ? "automatic: ack deadline passed"
		                           : "automatic: resolve deadline passed";
	} else {
		ev.type = ALERT_EV_SLA_BREACH;
		ev.breach = (int)which;
		ev.reannounce = what == SLA_FIRE_REANNOUNCE;
		ev.note = which == SLA_ACK ? "ack deadline passed" : "resolve deadline passed";
	}
	alert__emit(t, a, &ev, now);
}

size_t alert_fire_due(struct alert_table *t, double now)
{
	return sla_fire_due(t->sla, now, on_sla_fire, t);
}

/* A manual inquiry (a customer calls in): an alert nobody's check raised.
 * Its key is the caller's ("customer/inquiry/<n>" say), routed like any
 * alert by customer, service and region; its clock starts now. */
int alert_open_manual(struct alert_table *t, const struct alert_input *in, int severity,
                      const char *actor, const char *note, double now)
{
	if (!in || !in->key || !in->customer || !actor || severity < 1 || severity > 3)
		return ALERT_E_INVAL;
	struct alert *cur = alert_find_check(t, in->key);
	if (cur && cur->status != ALERT_RESOLVED)
		return ALERT_E_STATE; /* one open alert per key */
	struct alert *a = alert__new(t, in->key, now);
	if (!a || fill_identity(a, in) < 0 || set_summary(a, in->output) < 0)
		goto fail;
	a->state = (uint8_t)severity;
	a->count = 1;
	a->opened_at = now;
	a->status = ALERT_OPEN;
	if (route_and_start(t, a, in, now) < 0)
		goto fail;
	if (cur) {
		alert__remove(t, cur);
		alert__free(cur);
	}
	if (alert__insert(t, a) < 0)
		goto fail;
	struct alert_event ev = {
		.type = ALERT_EV_OPENED, .actor = actor, .note = note, .breach = -1
	};
	alert__emit(t, a, &ev, now);
	return 0;
fail:
	if (a)
		sla_stop(t->sla, &a->sla);
	alert__free(a);
	return ALERT_E_NOMEM;
}
