/*
 * test_alert: the alert lifecycle driven by the real state engine
 * (state_apply) on virtual time: open, update, resolve, reopen, flapping,
 * suppression, stale, manual resolve, SLA events through the table,
 * downtime pause, contract terms, pruning and restore.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "cal/cal.h"

#define MAXEV 256

struct seen {
	enum alert_ev_type type;
	uint32_t seq;
	char id[80];
	enum alert_status status;
	unsigned tier;
	uint32_t count;
	int flapping;
	int breach;
	double duration;
	double ack_due;
};

struct fx {
	struct cal *cal;
	struct sla_tier tiers[3];
	struct sla_center centers[2];
	struct sla_centers cs;
	config_t cfg;
	struct route_table *rt;
	struct alert_table *t;
	struct check_state st;
	struct state_policy pol;
	struct state_context ctx;
	struct seen ev[MAXEV];
	int n;
};

static void on_emit(void *arg, const struct alert *a, const struct alert_event *e)
{
	struct fx *f = arg;
	ck_assert_int_lt(f->n, MAXEV);
	struct seen *s = &f->ev[f->n++];
	s->type = e->type;
	s->seq = e->seq;
	snprintf(s->id, sizeof(s->id), "%s", a->id);
	s->status = a->status;
	s->tier = a->sla.tier;
	s->count = a->count;
	s->flapping = a->flapping;
	s->breach = e->breach;
	s->duration = e->duration;
	s->ack_due = a->sla.ack_due;
	ck_assert_uint_eq(e->seq, a->seq);
}

static struct fx *fx_new(double reopen)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];
	const char *h[] = { "mon-sun 00:00-24:00" };
	f->cal = cal_new("always", "UTC", h, 1, err, sizeof(err));
	ck_assert_ptr_nonnull(f->cal);
	f->tiers[0] = (struct sla_tier){ "contact-center", 120, 3600 };
	f->tiers[1] = (struct sla_tier){ "back-office", 600, 7200 };
	f->tiers[2] = (struct sla_tier){ "onsite-vendor", 3600, 86400 };
	f->centers[0] = (struct sla_center){ "cc-east", { f->cal, f->tiers, 3, 900 } };
	f->centers[1] = (struct sla_center){ "cc-west", { f->cal, f->tiers, 2, 900 } };
	f->cs = (struct sla_centers){ f->centers, 2 };
	config_init(&f->cfg);
	ck_assert(config_read_string(&f->cfg,
	                             "routes = ( { service = \"utm\"; center = \"cc-west\"; },"
	                             " { customer = \"nobody\"; center = \"cc-east\"; } );"));
	f->rt = route_parse(config_lookup(&f->cfg, "routes"), &f->cs, err, sizeof(err));
	ck_assert_msg(f->rt != NULL, "%s", err);
	struct alert_policy ap = { .node = "n1", .reopen_within = reopen };
	f->t = alert_table_new(&ap, f->rt, on_emit, f);
	ck_assert_ptr_nonnull(f->t);
	state_init(&f->st);
	f->pol = (struct state_policy){
		.max_attempts = 1, .flap_enabled = 0, .flap_low = 20, .flap_high = 30
	};
	return f;
}

static void fx_free(struct fx *f)
{
	alert_table_free(f->t);
	route_free(f->rt);
	config_destroy(&f->cfg);
	cal_free(f->cal);
	free(f);
}

/* One check result through state engine and lifecycle. */
static int feed_svc(struct fx *f, const char *service, int result, double now, const char *out)
{
	struct state_event ev = state_apply(&f->st, &f->pol, result, now);
	struct alert_input in = { .key = "c0001/pc-1/defender",
		                  .customer = "c0001",
		                  .asset = "pc-1",
		                  .check = "defender",
		                  .service = service,
		                  .output = out,
		                  .st = &f->st,
		                  .ev = &ev,
		                  .ctx = &f->ctx };
	int r = alert_on_check_event(f->t, &in, now);
	ck_assert_int_ge(r, 0);
	return r;
}

static int feed(struct fx *f, int result, double now)
{
	return feed_svc(f, "defender", result, now, result ? "RTP off\nlong output" : "all good");
}

static int count_type(struct fx *f, enum alert_ev_type t)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		n += f->ev[i].type == t;
	return n;
}

#define T0 1790000000.0

START_TEST(open_update_resolve)
{
	struct fx *f = fx_new(600);
	ck_assert_int_eq(feed(f, 0, T0), 0);
	ck_assert_int_eq(feed(f, 2, T0 + 60), 1);
	ck_assert_int_eq(f->ev[0].type, ALERT_EV_OPENED);
	ck_assert_uint_eq(f->ev[0].seq, 1);
	struct alert *a = alert_find(f->t, f->ev[0].id);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(alert_find_check(f->t, "c0001/pc-1/defender"), a);
	ck_assert_str_eq(a->summary, "RTP off");
	ck_assert_ptr_null(a->center); /* no route for defender in this fixture */
	ck_assert_ptr_null(alert_tier_name(a));
	ck_assert(strncmp(a->id, "A-n1-", 5) == 0);
	feed(f, 2, T0 + 120);
	feed(f, 1, T0 + 180);
	ck_assert_int_eq(f->ev[1].type, ALERT_EV_UPDATED);
	ck_assert_uint_eq(f->ev[2].seq, 3);
	ck_assert_uint_eq(f->ev[2].count, 3);
	ck_assert_uint_eq(a->state, 1);
	feed(f, 0, T0 + 240);
	ck_assert_int_eq(f->ev[3].type, ALERT_EV_RESOLVED);
	ck_assert_double_eq(f->ev[3].duration, 180);
	ck_assert_int_eq(a->status, ALERT_RESOLVED);
	ck_assert_int_eq(feed(f, 0, T0 + 300), 0); /* OK again: nothing */
	ck_assert_int_eq(count_type(f, ALERT_EV_OPENED), 1);
	ck_assert_uint_eq(alert_count(f->t), 1);
	fx_free(f);
}
END_TEST

START_TEST(soft_states_do_not_open)
{
	struct fx *f = fx_new(600);
	f->pol.max_attempts = 3;
	feed(f, 2, T0);
	feed(f, 2, T0 + 60);
	ck_assert_int_eq(f->n, 0);
	feed(f, 0, T0 + 120); /* soft recovery: no alert ever */
	ck_assert_int_eq(f->n, 0);
	feed(f, 2, T0 + 180);
	feed(f, 2, T0 + 240);
	feed(f, 2, T0 + 300);
	ck_assert_int_eq(f->n, 1);
	ck_assert_int_eq(f->ev[0].type, ALERT_EV_OPENED);
	fx_free(f);
}
END_TEST

START_TEST(reopen_within_window)
{
	struct fx *f = fx_new(600);
	feed(f, 2, T0);
	feed(f, 0, T0 + 100);
	feed(f, 2, T0 + 100 + 599);
	ck_assert_int_eq(f->ev[2].type, ALERT_EV_REOPENED);
	ck_assert_str_eq(f->ev[2].id, f->ev[0].id);
	ck_assert_uint_eq(f->ev[2].seq, 3);
	ck_assert_int_eq(f->ev[2].status, ALERT_OPEN);
	feed(f, 0, T0 + 800);
	feed(f, 2, T0 + 800 + 601); /* too late: a new incident */
	ck_assert_int_eq(f->ev[4].type, ALERT_EV_OPENED);
	ck_assert_str_ne(f->ev[4].id, f->ev[0].id);
	ck_assert_uint_eq(f->ev[4].seq, 1);
	ck_assert_ptr_null(alert_find(f->t, f->ev[0].id)); /* replaced */
	ck_assert_uint_eq(alert_count(f->t), 1);
	fx_free(f);
}
END_TEST

START_TEST(flapping_raises_one_alert)
{
	struct fx *f = fx_new(600);
	f->pol.flap_enabled = 1;
	double t = T0;
	for (int i = 0; i < 40; i++, t += 60)
		feed(f, (i % 2) ? 2 : 0, t);
	ck_assert(f->st.flapping);
	ck_assert_int_eq(count_type(f, ALERT_EV_OPENED), 1);
	int flap_at = -1;
	for (int i = 0; i < f->n; i++)
		if (f->ev[i].flapping && flap_at < 0)
			flap_at = i;
	ck_assert_int_ge(flap_at, 0);
	/* from the flap on: no resolve/reopen per flap */
	for (int i = flap_at + 1; i < f->n; i++)
		ck_assert_int_ne(f->ev[i].type, ALERT_EV_RESOLVED);
	int before = f->n;
	for (int i = 0; i < 10; i++, t += 60)
		feed(f, i % 2 ? 2 : 0, t);
	ck_assert_int_eq(f->n, before);
	/* stable OK: flapping stops -> resolved once */
	for (int i = 0; i < 40 && f->st.flapping; i++, t += 60)
		feed(f, 0, t);
	ck_assert(!f->st.flapping);
	ck_assert_int_eq(f->ev[f->n - 1].type, ALERT_EV_RESOLVED);
	ck_assert_int_eq(count_type(f, ALERT_EV_OPENED), 1);
	fx_free(f);
}
END_TEST

START_TEST(suppression)
{
	struct fx *f = fx_new(600);
	f->ctx.in_downtime = 1;
	feed(f, 2, T0);
	feed(f, 2, T0 + 60);
	ck_assert_int_eq(f->n, 0);
	f->ctx.in_downtime = 0;
	f->ctx.parent_down = 1;
	feed(f, 2, T0 + 120);
	ck_assert_int_eq(f->n, 0);
	f->ctx.parent_down = 0;
	f->ctx.acknowledged = 1;
	feed(f, 2, T0 + 180);
	ck_assert_int_eq(f->n, 0);
	f->ctx.acknowledged = 0;
	feed(f, 2, T0 + 240); /* continuing problem, nothing suppresses: opens now */
	ck_assert_int_eq(f->n, 1);
	ck_assert_int_eq(f->ev[0].type, ALERT_EV_OPENED);
	fx_free(f);
}
END_TEST

START_TEST(stale_opens)
{
	struct fx *f = fx_new(600);
	feed(f, 0, T0);
	struct state_event ev = state_apply_stale(&f->st, 2, T0 + 900);
	struct alert_input in = { .key = "c0001/pc-1/defender",
		                  .customer = "c0001",
		                  .asset = "pc-1",
		                  .check = "defender",
		                  .service = "defender",
		                  .output = "no report for 15m",
		                  .st = &f->st,
		                  .ev = &ev,
		                  .ctx = &f->ctx };
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0 + 900), 1);
	ck_assert_int_eq(f->ev[0].type, ALERT_EV_OPENED);
	struct alert *a = alert_find(f->t, f->ev[0].id);
	ck_assert(a->stale);
	ck_assert_uint_eq(a->state, 2);
	fx_free(f);
}
END_TEST

START_TEST(manual_resolve_waits_for_new_edge)
{
	struct fx *f = fx_new(600);
	feed(f, 2, T0);
	struct alert *a = alert_find(f->t, f->ev[0].id);
	struct alert_action act = { .type = ALERT_ACT_RESOLVE, .actor = "op", .note = "fixed" };
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 60), 0);
	ck_assert_int_eq(f->ev[1].type, ALERT_EV_RESOLVED);
	ck_assert_int_eq(feed(f, 2, T0 + 120), 0); /* same continuing problem */
	ck_assert_int_eq(feed(f, 0, T0 + 180), 0);
	ck_assert_int_eq(feed(f, 2, T0 + 240), 1); /* new edge within window: reopened */
	ck_assert_int_eq(f->ev[2].type, ALERT_EV_REOPENED);
	fx_free(f);
}
END_TEST

START_TEST(routing_and_sla_events)
{
	struct fx *f = fx_new(600);
	feed_svc(f, "utm", 2, T0, "WAN down");
	struct alert *a = alert_find(f->t, f->ev[0].id);
	ck_assert_str_eq(a->center, "cc-west");
	ck_assert_str_eq(alert_tier_name(a), "contact-center");
	ck_assert_double_eq(a->sla.ack_due, T0 + 120);
	ck_assert_double_eq(alert_next_due(f->t), T0 + 120);
	ck_assert_uint_eq(alert_fire_due(f->t, T0 + 119), 0);
	ck_assert_uint_eq(alert_fire_due(f->t, T0 + 120), 2);
	ck_assert_int_eq(f->ev[1].type, ALERT_EV_SLA_BREACH);
	ck_assert_int_eq(f->ev[1].breach, SLA_ACK);
	ck_assert_uint_eq(f->ev[1].tier, 0);
	ck_assert_int_eq(f->ev[2].type, ALERT_EV_ESCALATED);
	ck_assert_uint_eq(f->ev[2].tier, 1);
	ck_assert_uint_eq(f->ev[2].seq, 3);
	/* cc-west has 2 tiers: next breach stays at tier 2 and re-announces */
	alert_fire_due(f->t, T0 + 720);
	ck_assert_int_eq(f->ev[3].type, ALERT_EV_SLA_BREACH);
	ck_assert_uint_eq(f->ev[3].tier, 1);
	ck_assert_double_eq(alert_next_due(f->t), T0 + 720 + 900);
	/* ack stops the ack re-announcement; resolve stops all */
	struct alert_action act = { .type = ALERT_ACT_ACK, .actor = "op" };
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 800), 0);
	ck_assert_double_eq(alert_next_due(f->t), a->sla.resolve_due);
	feed_svc(f, "utm", 0, T0 + 900, "WAN up");
	ck_assert_int_eq(f->ev[f->n - 1].type, ALERT_EV_RESOLVED);
	ck_assert_double_eq(alert_next_due(f->t), -1);
	fx_free(f);
}
END_TEST

START_TEST(downtime_pauses_open_alert)
{
	struct fx *f = fx_new(600);
	feed_svc(f, "utm", 2, T0, "WAN down");
	struct alert *a = alert_find(f->t, f->ev[0].id);
	alert_set_downtime(f->t, a->key, 1, T0 + 60);
	ck_assert_double_eq(alert_next_due(f->t), -1);
	ck_assert_double_eq(a->sla.ack_left, 60);
	alert_set_downtime(f->t, a->key, 0, T0 + 1000);
	ck_assert_double_eq(a->sla.ack_due, T0 + 1060);
	/* a result during downtime keeps it paused via the context */
	f->ctx.in_downtime = 1;
	feed_svc(f, "utm", 2, T0 + 1010, "WAN down");
	ck_assert_double_eq(alert_next_due(f->t), -1);
	fx_free(f);
}
END_TEST

START_TEST(contract_terms)
{
	struct fx *f = fx_new(600);
	struct sla_tier premium[] = { { "premium-24x7", 30, 600 } };
	struct sla_terms contract = { f->cal, premium, 1, 60 };
	struct state_event ev = state_apply(&f->st, &f->pol, 2, T0);
	struct alert_input in = { .key = "k",
		                  .customer = "c0002",
		                  .asset = "utm-1",
		                  .check = "utm",
		                  .service = "utm",
		                  .contract = &contract,
		                  .st = &f->st,
		                  .ev = &ev,
		                  .ctx = &f->ctx };
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0), 1);
	struct alert *a = alert_find_check(f->t, "k");
	ck_assert(a->contract);
	ck_assert_str_eq(a->center, "cc-west"); /* routing still picks the center */
	ck_assert_str_eq(alert_tier_name(a), "premium-24x7");
	ck_assert_double_eq(a->sla.ack_due, T0 + 30);
	fx_free(f);
}
END_TEST

START_TEST(actions)
{
	struct fx *f = fx_new(600);
	feed_svc(f, "utm", 2, T0, "WAN down");
	struct alert *a = alert_find(f->t, f->ev[0].id);
	struct alert_action act = { .type = ALERT_ACT_UNACK, .actor = "op" };
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 1), ALERT_E_STATE);
	act.type = ALERT_ACT_WAIT;
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 10), 0);
	ck_assert_uint_eq(a->sla.paused, SLA_PAUSE_WAIT);
	act.type = ALERT_ACT_COMMENT; /* any next command ends the wait */
	act.note = "called the customer";
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 500), 0);
	ck_assert_uint_eq(a->sla.paused, 0);
	ck_assert_double_eq(a->sla.ack_due, T0 + 610);
	act.type = ALERT_ACT_ESCALATE;
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 600), 0);
	ck_assert_uint_eq(a->sla.tier, 1);
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 601), ALERT_E_LAST_TIER);
	act = (struct alert_action){ .type = ALERT_ACT_DISPATCH,
		                     .actor = "op",
		                     .vendor = "Gifu IT",
		                     .planned_at = T0 + 86400 };
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 700), 0);
	ck_assert_str_eq(a->dispatch.vendor, "Gifu IT");
	act = (struct alert_action){ .type = ALERT_ACT_DISPATCH,
		                     .actor = "vendor",
		                     .result = "replaced the UTM power supply" };
	ck_assert_int_eq(alert_act(f->t, a, &act, T0 + 90000), 0);
	ck_assert_str_eq(a->dispatch.vendor, "Gifu IT");
	ck_assert_str_eq(a->dispatch.result, "replaced the UTM power supply");
	int n = f->n;
	const enum alert_ev_type want[] = { ALERT_EV_WAITING, ALERT_EV_COMMENTED,
		                            ALERT_EV_ESCALATED, ALERT_EV_DISPATCHED,
		                            ALERT_EV_DISPATCHED };
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(f->ev[n - 5 + i].type, want[i]);
	for (int i = 1; i < n; i++)
		ck_assert_uint_eq(f->ev[i].seq, f->ev[i - 1].seq + 1);
	fx_free(f);
}
END_TEST

START_TEST(prune_and_restore)
{
	struct fx *f = fx_new(600);
	feed_svc(f, "utm", 2, T0, "WAN down");
	struct alert *a = alert_find(f->t, f->ev[0].id);
	/* snapshot as the store would hold it, then restore into a new table
	 * after "downtime" of the daemon: the overdue ack deadline fires once */
	struct alert snap = *a;
	struct alert_policy ap = { .node = "n1" };
	struct fx *g = fx_new(600);
	alert_table_free(g->t);
	g->t = alert_table_new(&ap, g->rt, on_emit, g);
	struct alert *r = alert_restore(g->t, &snap, &g->centers[1].terms);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_null(alert_restore(g->t, &snap, &g->centers[1].terms)); /* duplicate id */
	ck_assert_str_eq(r->id, a->id);
	ck_assert_double_eq(alert_next_due(g->t), T0 + 120);
	ck_assert_uint_eq(alert_fire_due(g->t, T0 + 5000), 2);
	ck_assert_uint_eq(g->ev[0].seq, snap.seq + 1);
	fx_free(g);

	feed_svc(f, "utm", 0, T0 + 100, "ok");
	ck_assert_uint_eq(alert_prune(f->t, T0 + 100 + 3600, 1 << 20), 0);
	ck_assert_uint_eq(alert_prune(f->t, T0 + 100 + 86401, 1 << 20), 1);
	ck_assert_uint_eq(alert_count(f->t), 0);
	fx_free(f);
}
END_TEST

/* The alert keeps a copy of its check's runbook, as of the latest
 * result: a changed runbook (a reload) reaches the open alert with the
 * check's next result, a resolved alert keeps the last one, a restore
 * copies it, and an empty one is none. */
START_TEST(runbook_copy)
{
	struct fx *f = fx_new(600);
	struct state_event ev = state_apply(&f->st, &f->pol, 2, T0);
	char rb[64];
	snprintf(rb, sizeof rb, "%s", "https://wiki.example/a");
	struct alert_input in = { .key = "c0001/pc-1/defender",
		                  .customer = "c0001",
		                  .asset = "pc-1",
		                  .check = "defender",
		                  .service = "defender",
		                  .output = "RTP off",
		                  .runbook = rb,
		                  .st = &f->st,
		                  .ev = &ev,
		                  .ctx = &f->ctx };
	ck_assert_int_eq(alert_on_check_event(f->t, &in, T0), 1);
	struct alert *a = alert_find(f->t, f->ev[0].id);
	ck_assert_str_eq(a->runbook, "https://wiki.example/a");
	ck_assert_ptr_ne(a->runbook, rb); /* a copy, not the caller's */
	snprintf(rb, sizeof rb, "%s", "changed under it");
	ck_assert_str_eq(a->runbook, "https://wiki.example/a");
	/* the same text again: no new copy */
	in.runbook = "https://wiki.example/a";
	const char *before = a->runbook;
	ev = state_apply(&f->st, &f->pol, 2, T0 + 60);
	alert_on_check_event(f->t, &in, T0 + 60);
	ck_assert_ptr_eq(a->runbook, before);
	/* a reload changed it: the next result carries it */
	in.runbook = "Call the customer";
	ev = state_apply(&f->st, &f->pol, 2, T0 + 120);
	alert_on_check_event(f->t, &in, T0 + 120);
	ck_assert_str_eq(a->runbook, "Call the customer");
	/* restore copies it */
	struct alert_policy ap = { .node = "n1" };
	struct alert_table *t2 = alert_table_new(&ap, f->rt, on_emit, f);
	struct alert *r = alert_restore(t2, a, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->runbook, "Call the customer");
	ck_assert_ptr_ne(r->runbook, a->runbook);
	alert_table_free(t2);
	/* resolved: kept as it was */
	ev = state_apply(&f->st, &f->pol, 0, T0 + 180);
	alert_on_check_event(f->t, &in, T0 + 180);
	ck_assert_int_eq(a->status, ALERT_RESOLVED);
	ck_assert_str_eq(a->runbook, "Call the customer");
	/* reopened after the runbook was removed ("" or NULL): none */
	in.runbook = "";
	ev = state_apply(&f->st, &f->pol, 2, T0 + 240);
	alert_on_check_event(f->t, &in, T0 + 240);
	ck_assert_int_eq(a->status, ALERT_OPEN);
	ck_assert_ptr_null(a->runbook);
	fx_free(f);
}
END_TEST

START_TEST(many_alerts)
{
	struct fx *f = fx_new(600);
	char key[64];
	struct check_state st;
	for (int i = 0; i < 20000; i++) {
		state_init(&st);
		struct state_event ev = state_apply(&st, &f->pol, 2, T0);
		snprintf(key, sizeof(key), "c%05d/utm/utm", i);
		struct alert_input in = { .key = key,
			                  .customer = key,
			                  .asset = "utm",
			                  .check = "utm",
			                  .service = "utm",
			                  .st = &st,
			                  .ev = &ev,
			                  .ctx = &f->ctx };
		f->n = 0;
		ck_assert_int_eq(alert_on_check_event(f->t, &in, T0 + i * 0.001), 1);
	}
	ck_assert_uint_eq(alert_count(f->t), 20000);
	ck_assert_uint_eq(sla_pending(alert_table_sla(f->t)), 20000);
	ck_assert_ptr_nonnull(alert_find_check(f->t, "c12345/utm/utm"));
	fx_free(f);
}
END_TEST

static const struct sla_terms *new_terms(void *arg, const struct alert *a)
{
	return strcmp(a->customer, "c0001") == 0 ? arg : NULL;
}

START_TEST(rebind_after_reload)
{
	struct fx *f = fx_new(600);
	feed_svc(f, "utm", 2, T0, "WAN down");
	alert_act(f->t, alert_find(f->t, f->ev[0].id),
	          &(struct alert_action){ .type = ALERT_ACT_ESCALATE, .actor = "op" }, T0 + 1);
	struct alert *a = alert_find(f->t, f->ev[0].id);
	ck_assert_uint_eq(a->sla.tier, 1);
	struct sla_tier one[] = { { "only", 60, 0 } };
	struct sla_terms t1 = { f->cal, one, 1, 0 };
	alert_table_rebind(f->t, new_terms, &t1);
	ck_assert_ptr_eq(a->sla.terms, &t1);
	ck_assert_uint_eq(a->sla.tier, 0); /* clamped to the new tiers */
	ck_assert_str_eq(alert_tier_name(a), "only");
	ck_assert_double_eq(alert_next_due(f->t), a->sla.ack_due); /* deadlines kept */
	alert_table_rebind(f->t, new_terms, NULL);
	ck_assert_ptr_null(a->sla.terms);
	ck_assert_double_eq(alert_next_due(f->t), -1);
	fx_free(f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, open_update_resolve);
	tcase_add_test(tc, soft_states_do_not_open);
	tcase_add_test(tc, reopen_within_window);
	tcase_add_test(tc, flapping_raises_one_alert);
	tcase_add_test(tc, suppression);
	tcase_add_test(tc, stale_opens);
	tcase_add_test(tc, manual_resolve_waits_for_new_edge);
	tcase_add_test(tc, routing_and_sla_events);
	tcase_add_test(tc, downtime_pauses_open_alert);
	tcase_add_test(tc, contract_terms);
	tcase_add_test(tc, actions);
	tcase_add_test(tc, prune_and_restore);
	tcase_add_test(tc, many_alerts);
	tcase_add_test(tc, runbook_copy);
	tcase_add_test(tc, rebind_after_reload);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
