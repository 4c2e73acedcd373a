/*
 * Unit tests: the event hub (src/events) - sequence numbers, delivery by
 * type, nested emits, unsubscribing during a delivery, the replay ring and
 * its gap report.
 */
#include "events/events.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
	uint64_t seq[64];
	char subj[64][32];
	int n;
	struct events *h;
	struct events_sub *self;
	int nest;  /* emit a nested event on the first call */
	int leave; /* unsubscribe itself on the first call */
};

static void on_ev(void *ud, const struct event *e)
{
	struct rec *r = ud;
	if (r->n < 64) {
		r->seq[r->n] = e->seq;
		snprintf(r->subj[r->n], sizeof r->subj[r->n], "%s", e->subject ? e->subject : "");
		r->n++;
	}
	if (r->nest) {
		r->nest = 0;
		struct event n = { .type = EVENT_COMMAND, .subject = "nested", .json = "{}" };
		events_emit(r->h, &n);
	}
	if (r->leave) {
		r->leave = 0;
		events_unsubscribe(r->h, r->self);
	}
}

static uint64_t emit(struct events *h, enum event_type t, const char *subject, const char *json)
{
	struct event e = { .type = t, .subject = subject, .json = json, .customer = "c1" };
	return events_emit(h, &e);
}

START_TEST(sequence_and_masks)
{
	struct events *h = events_new(8);
	struct rec all = { .h = h }, alerts = { .h = h };
	events_subscribe(h, EVENT_MASK_ALL, on_ev, &all);
	events_subscribe(h, EVENT_MASK(EVENT_ALERT), on_ev, &alerts);
	ck_assert_uint_eq(emit(h, EVENT_STATE, "s1", NULL), 1);
	ck_assert_uint_eq(emit(h, EVENT_ALERT, "a1", "{\"x\":1}"), 2);
	ck_assert_uint_eq(emit(h, EVENT_STATE, "s2", "{}"), 3);
	ck_assert_int_eq(all.n, 3);
	ck_assert_int_eq(alerts.n, 1);
	ck_assert_str_eq(alerts.subj[0], "a1");
	ck_assert_uint_eq(events_last_seq(h), 3);
	ck_assert_uint_gt(events_epoch(h), 0);
	events_free(h);
}
END_TEST

START_TEST(nested_and_unsubscribe_during_delivery)
{
	struct events *h = events_new(8);
	struct rec a = { .h = h, .nest = 1 }, b = { .h = h, .leave = 1 }, c = { .h = h };
	events_subscribe(h, EVENT_MASK_ALL, on_ev, &a);
	b.self = events_subscribe(h, EVENT_MASK_ALL, on_ev, &b);
	events_subscribe(h, EVENT_MASK_ALL, on_ev, &c);
	emit(h, EVENT_STATE, "first", NULL);
	/* a saw first then nested (its own emit); b left after its first
	 * event (the nested one, delivered inside a's callback); c saw both */
	ck_assert_int_eq(a.n, 2);
	ck_assert_str_eq(a.subj[0], "first");
	ck_assert_str_eq(a.subj[1], "nested");
	ck_assert_int_eq(b.n, 1);
	ck_assert_int_eq(c.n, 2);
	emit(h, EVENT_STATE, "later", NULL);
	ck_assert_int_eq(b.n, 1);
	ck_assert_int_eq(c.n, 3);
	events_free(h);
}
END_TEST

START_TEST(replay_ring_and_gap)
{
	struct events *h = events_new(4);
	for (int i = 0; i < 3; i++) {
		char s[16];
		snprintf(s, sizeof s, "k%d", i);
		emit(h, EVENT_ALERT, s, "{}");
		emit(h, EVENT_STATE, "live-only", NULL); /* not kept */
	}
	/* seq 1,3,5 kept (k0,k1,k2); 2,4,6 live only */
	struct rec r = { .h = h };
	ck_assert_int_eq(events_replay(h, 0, EVENT_MASK_ALL, on_ev, &r), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_str_eq(r.subj[0], "k0");
	ck_assert_uint_eq(r.seq[2], 5);
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(events_replay(h, 3, EVENT_MASK_ALL, on_ev, &r), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert_str_eq(r.subj[0], "k2");
	/* two more kept events push k0 out: a consumer at 0 has a gap, one at
	 * 1 (it saw k0) does not */
	emit(h, EVENT_ALERT, "k3", "{}");
	emit(h, EVENT_ALERT, "k4", "{}");
	ck_assert_uint_eq(events_first_kept(h), 3);
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(events_replay(h, 0, EVENT_MASK_ALL, on_ev, &r), -1);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(events_replay(h, 1, EVENT_MASK_ALL, on_ev, &r), 0);
	ck_assert_int_eq(r.n, 4);
	/* the mask filters replay too */
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(events_replay(h, 1, EVENT_MASK(EVENT_STATE), on_ev, &r), 0);
	ck_assert_int_eq(r.n, 0);
	/* a subscriber added now does not see the past live */
	struct rec late = { .h = h };
	events_subscribe(h, EVENT_MASK_ALL, on_ev, &late);
	ck_assert_int_eq(late.n, 0);
	emit(h, EVENT_STATE, "new", NULL);
	ck_assert_int_eq(late.n, 1);
	events_free(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");
	tcase_add_test(tc, sequence_and_masks);
	tcase_add_test(tc, nested_and_unsubscribe_during_delivery);
	tcase_add_test(tc, replay_ring_and_gap);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
