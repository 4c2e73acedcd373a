/*
 * Unit tests: the pure state engine (src/state) on virtual time.
 *
 * Soft/hard transitions with Nagios semantics (first failure = attempt 1),
 * hard changes between problem states, soft vs hard recovery, flap
 * detection (weights, window of 21 results, hysteresis), freshness
 * (state_apply_stale), the retry decision, suppression order and absolute
 * downtime windows.  No clock is read: `now` is a counter.
 */
#include "state/state.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

static struct state_policy pol_n(int max_attempts)
{
	struct state_policy p = { .max_attempts = (uint8_t)max_attempts,
		                  .flap_enabled = 1,
		                  .flap_low = 20,
		                  .flap_high = 30 };
	return p;
}

/* Apply a result at t and return the event flags. */
static unsigned ap(struct check_state *st, const struct state_policy *p, int r, double t)
{
	return state_apply(st, p, r, t).flags;
}

START_TEST(hard_at_once_with_one_attempt)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	unsigned f = ap(&st, &p, 0, 1);
	ck_assert(!(f & STATE_EV_HARD_CHANGE));
	f = ap(&st, &p, 2, 2);
	ck_assert(f & STATE_EV_CHANGE);
	ck_assert(f & STATE_EV_HARD_CHANGE);
	ck_assert(f & STATE_EV_HARD_PROBLEM);
	ck_assert(!(f & STATE_EV_SOFT));
	ck_assert_int_eq(st.hard, 1);
	ck_assert_int_eq(st.hard_state, 2);
	ck_assert_int_eq(st.attempt, 1);
	ck_assert(st.last_hard_change == 2);
	/* The same problem again: still a hard problem, no new edge. */
	f = ap(&st, &p, 2, 3);
	ck_assert(!(f & (STATE_EV_HARD_CHANGE | STATE_EV_CHANGE)));
	ck_assert(f & STATE_EV_HARD_PROBLEM);
	ck_assert(st.last_hard_change == 2);
	ck_assert(st.last_change == 2);
}
END_TEST

START_TEST(soft_then_hard_with_three_attempts)
{
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	ap(&st, &p, 0, 1);
	unsigned f = ap(&st, &p, 2, 2);
	ck_assert(f & STATE_EV_SOFT);
	ck_assert(f & STATE_EV_CHANGE);
	ck_assert(!(f & STATE_EV_HARD_CHANGE));
	ck_assert_int_eq(st.attempt, 1); /* first failure is attempt 1 */
	ck_assert_int_eq(st.hard, 0);
	ck_assert_int_eq(st.hard_state, 0);
	f = ap(&st, &p, 2, 3);
	ck_assert(f & STATE_EV_SOFT);
	ck_assert(!(f & STATE_EV_CHANGE));
	ck_assert_int_eq(st.attempt, 2);
	f = ap(&st, &p, 2, 4);
	ck_assert(f & STATE_EV_HARD_CHANGE);
	ck_assert(f & STATE_EV_HARD_PROBLEM);
	ck_assert_int_eq(st.attempt, 3);
	ck_assert_int_eq(st.hard, 1);
	ck_assert_int_eq(st.hard_state, 2);
	ck_assert(st.last_hard_change == 4);
	ck_assert(st.last_change == 2); /* state itself changed at t=2 */
	/* Attempts never pass max_attempts. */
	ap(&st, &p, 2, 5);
	ck_assert_int_eq(st.attempt, 3);
}
END_TEST

START_TEST(first_ever_result_is_attempt_one)
{
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	unsigned f = ap(&st, &p, 1, 1);
	ck_assert(f & STATE_EV_SOFT);
	ck_assert_int_eq(st.attempt, 1);
	ck_assert_int_eq(st.hard, 0);
	ck_assert_int_eq(st.has_result, 1);
}
END_TEST

START_TEST(warning_to_critical_while_hard_is_hard_change)
{
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	ap(&st, &p, 0, 1);
	for (int i = 0; i < 3; i++)
		ap(&st, &p, 1, 2 + i);
	ck_assert_int_eq(st.hard_state, 1);
	unsigned f = ap(&st, &p, 2, 10);
	ck_assert(f & STATE_EV_HARD_CHANGE);
	ck_assert(f & STATE_EV_CHANGE);
	ck_assert(!(f & STATE_EV_SOFT));
	ck_assert(!(f & STATE_EV_RECOVERY));
	ck_assert_int_eq(st.hard_state, 2);
	ck_assert_int_eq(st.hard, 1);
	ck_assert(st.last_hard_change == 10);
}
END_TEST

START_TEST(soft_problem_state_change_counts_attempts)
{
	/* WARNING soft -> CRITICAL soft continues counting (Nagios). */
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	ap(&st, &p, 0, 1);
	ap(&st, &p, 1, 2);
	unsigned f = ap(&st, &p, 2, 3);
	ck_assert(f & STATE_EV_SOFT);
	ck_assert_int_eq(st.attempt, 2);
	f = ap(&st, &p, 2, 4);
	ck_assert(f & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(st.hard_state, 2);
}
END_TEST

START_TEST(soft_recovery_tells_nobody)
{
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	ap(&st, &p, 0, 1);
	ap(&st, &p, 2, 2);
	ap(&st, &p, 2, 3);
	unsigned f = ap(&st, &p, 0, 4);
	ck_assert(f & STATE_EV_CHANGE);
	ck_assert(!(f & STATE_EV_HARD_CHANGE));
	ck_assert(!(f & STATE_EV_RECOVERY));
	ck_assert_int_eq(st.hard, 1);
	ck_assert_int_eq(st.hard_state, 0);
	ck_assert_int_eq(st.attempt, 1);
	/* A new problem starts again at attempt 1. */
	ap(&st, &p, 2, 5);
	ck_assert_int_eq(st.attempt, 1);
}
END_TEST

START_TEST(hard_recovery)
{
	struct check_state st;
	struct state_policy p = pol_n(2);
	state_init(&st);
	ap(&st, &p, 0, 1);
	ap(&st, &p, 2, 2);
	ap(&st, &p, 2, 3);
	ck_assert_int_eq(st.hard, 1);
	struct state_event ev = state_apply(&st, &p, 0, 4);
	ck_assert(ev.flags & STATE_EV_RECOVERY);
	ck_assert(ev.flags & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(ev.old_state, 2);
	ck_assert_int_eq(ev.old_hard_state, 2);
	ck_assert_int_eq(ev.new_state, 0);
	ck_assert_int_eq(st.hard_state, 0);
	ck_assert(st.last_hard_change == 4);
}
END_TEST

START_TEST(out_of_range_result_is_unknown)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	ap(&st, &p, 42, 1);
	ck_assert_int_eq(st.state, 3);
	ap(&st, &p, -7, 2);
	ck_assert_int_eq(st.state, 3);
	/* max_attempts 0 (never valid from config) behaves like 1. */
	struct state_policy z = pol_n(0);
	state_init(&st);
	ap(&st, &z, 0, 1);
	ck_assert(ap(&st, &z, 2, 2) & STATE_EV_HARD_CHANGE);
}
END_TEST

START_TEST(retry_decision)
{
	struct check_state st;
	struct state_policy p3 = pol_n(3), p1 = pol_n(1);
	state_init(&st);
	ck_assert(!state_wants_retry(&st, &p3)); /* no result yet */
	ap(&st, &p3, 0, 1);
	ck_assert(!state_wants_retry(&st, &p3));
	ap(&st, &p3, 2, 2);
	ck_assert(state_wants_retry(&st, &p3)); /* soft problem */
	ap(&st, &p3, 2, 3);
	ck_assert(state_wants_retry(&st, &p3));
	ap(&st, &p3, 2, 4);
	ck_assert(!state_wants_retry(&st, &p3)); /* hard: back to interval */
	state_init(&st);
	ap(&st, &p1, 2, 1);
	ck_assert(!state_wants_retry(&st, &p1));
}
END_TEST

/* ---- flapping ---- */

START_TEST(flap_percent_weights)
{
	/* No change: 0; every one of the 20 transitions a change: 100. */
	ck_assert(state_flap_percent(0, 21) == 0);
	ck_assert(fabsf(state_flap_percent(0xFFFFF, 21) - 100.0f) < 0.01f);
	/* Newest change (bit 0) weighs 1.2, oldest (bit 19) 0.8, over 20. */
	float newest = state_flap_percent(1, 21), oldest = state_flap_percent(1u << 19, 21);
	ck_assert(newest > oldest);
	ck_assert(fabsf(newest - 6.0f) < 0.01f);
	ck_assert(fabsf(oldest - 4.0f) < 0.01f);
	/* Bits outside the window do not count. */
	ck_assert(state_flap_percent(1u << 20, 21) == 0);
	/* Monotonic: adding a change never lowers the percent. */
	for (unsigned i = 0; i < 20; i++)
		ck_assert(state_flap_percent(0x5555u | (1u << i), 21) >=
		          state_flap_percent(0x5555u, 21));
}
END_TEST

START_TEST(flap_window_is_21_results)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	p.flap_enabled = 0;
	state_init(&st);
	for (int i = 0; i < 50; i++)
		ap(&st, &p, i % 2 ? 2 : 0, i);
	ck_assert_int_eq(st.n_hist, STATE_FLAP_WINDOW);
	ck_assert(fabsf(st.flap_pct - 100.0f) < 0.01f);
	/* The first OK is a change; 20 stable results after it push every
	 * change out of the window of 20 transitions. */
	for (int i = 0; i < 20; i++)
		ap(&st, &p, 0, 100 + i);
	ck_assert(st.flap_pct > 0);
	ap(&st, &p, 0, 200);
	ck_assert(st.flap_pct == 0);
	ck_assert_int_eq(st.flapping, 0); /* disabled: never flapping */
}
END_TEST

START_TEST(flap_start_above_high_stop_below_low)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	double t = 0;
	int starts = 0, stops = 0, r = 0;
	float pct_at_start = -1;
	ap(&st, &p, 0, t++);
	/* Alternate until flapping starts; it must start the first time the
	 * percent is above flap_high, not before. */
	for (int i = 0; i < 21 && !starts; i++) {
		r = r ? 0 : 2;
		struct state_event ev = state_apply(&st, &p, r, t++);
		if (ev.flags & STATE_EV_FLAP_START) {
			starts++;
			pct_at_start = ev.flap_pct;
		} else {
			ck_assert(ev.flap_pct <= p.flap_high);
		}
	}
	ck_assert_int_eq(starts, 1);
	ck_assert(pct_at_start > p.flap_high);
	ck_assert_int_eq(st.flapping, 1);
	/* Stable now: flapping stops only once below flap_low (hysteresis:
	 * between low and high it stays flapping). */
	int saw_between = 0;
	for (int i = 0; i < 25 && !stops; i++) {
		struct state_event ev = state_apply(&st, &p, r, t++);
		ck_assert(!(ev.flags & STATE_EV_FLAP_START));
		if (ev.flags & STATE_EV_FLAP_STOP) {
			stops++;
			ck_assert(ev.flap_pct < p.flap_low);
		} else {
			ck_assert(ev.flap_pct >= p.flap_low);
			if (ev.flap_pct < p.flap_high)
				saw_between = 1;
		}
	}
	ck_assert_int_eq(stops, 1);
	ck_assert(saw_between);
	ck_assert_int_eq(st.flapping, 0);
}
END_TEST

START_TEST(flap_threshold_is_strict)
{
	/* Exactly at flap_high: not flapping (strictly above starts). */
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	st.has_result = 1;
	st.n_hist = 21;
	st.hist = 0x7;                                    /* bits 0,1,2 -> (1.2+1.18..)/20 */
	float pct = state_flap_percent(st.hist << 1, 21); /* after one stable result */
	p.flap_high = pct;
	p.flap_low = pct - 1;
	struct state_event ev = state_apply(&st, &p, 0, 1);
	ck_assert(fabsf(ev.flap_pct - pct) < 1e-4f);
	ck_assert(!(ev.flags & STATE_EV_FLAP_START));
	ck_assert_int_eq(st.flapping, 0);
}
END_TEST

/* ---- freshness ---- */

START_TEST(stale_is_hard_at_once)
{
	struct check_state st;
	struct state_policy p = pol_n(3);
	state_init(&st);
	ap(&st, &p, 0, 1);
	struct state_event ev = state_apply_stale(&st, 2, 100);
	ck_assert(ev.flags & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(st.state, 2);
	ck_assert_int_eq(st.hard, 1);
	ck_assert_int_eq(st.stale, 1);
	ck_assert(st.last_check == 100);
	/* Staying stale: no new edge. */
	ev = state_apply_stale(&st, 2, 200);
	ck_assert(!(ev.flags & STATE_EV_HARD_CHANGE));
	ck_assert_int_eq(st.stale, 1);
	/* A real result clears stale; an OK result is a hard recovery. */
	ev = state_apply(&st, &p, 0, 300);
	ck_assert_int_eq(st.stale, 0);
	ck_assert(ev.flags & STATE_EV_RECOVERY);
}
END_TEST

START_TEST(stale_with_unknown_state_and_no_result)
{
	struct check_state st;
	state_init(&st);
	struct state_event ev = state_apply_stale(&st, 3, 5);
	ck_assert(ev.flags & STATE_EV_HARD_CHANGE);
	ck_assert_int_eq(st.state, 3);
	ck_assert_int_eq(st.stale, 1);
}
END_TEST

START_TEST(stale_keeps_flapping)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	for (int i = 0; i < 21; i++)
		ap(&st, &p, i % 2 ? 2 : 0, i);
	ck_assert_int_eq(st.flapping, 1);
	struct state_event ev = state_apply_stale(&st, 2, 100);
	ck_assert_int_eq(st.flapping, 1);
	ck_assert(!(ev.flags & STATE_EV_FLAP_STOP));
}
END_TEST

/* ---- suppression ---- */

START_TEST(suppression_order)
{
	struct check_state st;
	struct state_policy p = pol_n(1);
	state_init(&st);
	ap(&st, &p, 2, 1);
	struct state_context all = { .in_downtime = 1, .acknowledged = 1, .parent_down = 1 };
	st.flapping = 1;
	ck_assert_int_eq(state_suppressed(&st, &all), STATE_SUPPRESS_DOWNTIME);
	all.in_downtime = 0;
	ck_assert_int_eq(state_suppressed(&st, &all), STATE_SUPPRESS_UNREACHABLE);
	all.parent_down = 0;
	ck_assert_int_eq(state_suppressed(&st, &all), STATE_SUPPRESS_ACK);
	all.acknowledged = 0;
	ck_assert_int_eq(state_suppressed(&st, &all), STATE_SUPPRESS_FLAPPING);
	st.flapping = 0;
	ck_assert_int_eq(state_suppressed(&st, &all), STATE_SUPPRESS_NONE);
	/* An ack means nothing once the check is OK. */
	ap(&st, &p, 0, 2);
	struct state_context ack = { .acknowledged = 1 };
	ck_assert_int_eq(state_suppressed(&st, &ack), STATE_SUPPRESS_NONE);
}
END_TEST

START_TEST(downtime_absolute_window)
{
	struct downtime d = { .start = 1000, .end = 2000, .recurring = NULL };
	ck_assert(!downtime_active(&d, 999.999));
	ck_assert(downtime_active(&d, 1000));
	ck_assert(downtime_active(&d, 1999.9));
	ck_assert(!downtime_active(&d, 2000)); /* [start, end) */
	ck_assert(!downtime_active(&d, 5000));
}
END_TEST

START_TEST(state_names)
{
	ck_assert_str_eq(state_name(0), "OK");
	ck_assert_str_eq(state_name(1), "WARNING");
	ck_assert_str_eq(state_name(2), "CRITICAL");
	ck_assert_str_eq(state_name(3), "UNKNOWN");
	ck_assert_str_eq(state_name(-1), "UNKNOWN");
	ck_assert_str_eq(state_name(99), "UNKNOWN");
}
END_TEST

/* Random results never break the invariants. */
START_TEST(random_invariants)
{
	struct check_state st;
	srand(1234);
	for (int run = 0; run < 200; run++) {
		struct state_policy p = pol_n(1 + rand() % 5);
		state_init(&st);
		for (int i = 0; i < 200; i++) {
			int r = rand() % 6 - 1;
			struct state_event ev = (rand() % 10 == 0)
			                            ? state_apply_stale(&st, rand() % 4, i)
			                            : state_apply(&st, &p, r, i);
			ck_assert_int_le(st.state, 3);
			ck_assert_int_ge(st.attempt, 1);
			ck_assert_int_le(st.attempt, p.max_attempts);
			ck_assert_int_le(st.n_hist, STATE_FLAP_WINDOW);
			ck_assert(st.flap_pct >= 0 && st.flap_pct <= 100.01f);
			if (st.hard)
				ck_assert_int_eq(st.hard_state, st.state);
			else
				ck_assert(st.state != 0);
			if (ev.flags & STATE_EV_SOFT)
				ck_assert(!(ev.flags & STATE_EV_HARD_CHANGE));
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("softhard");
	tcase_add_test(tc, hard_at_once_with_one_attempt);
	tcase_add_test(tc, soft_then_hard_with_three_attempts);
	tcase_add_test(tc, first_ever_result_is_attempt_one);
	tcase_add_test(tc, warning_to_critical_while_hard_is_hard_change);
	tcase_add_test(tc, soft_problem_state_change_counts_attempts);
	tcase_add_test(tc, soft_recovery_tells_nobody);
	tcase_add_test(tc, hard_recovery);
	tcase_add_test(tc, out_of_range_result_is_unknown);
	tcase_add_test(tc, retry_decision);
	tcase_add_test(tc, random_invariants);
	suite_add_tcase(s, tc);
	tc = tcase_create("flapping");
	tcase_add_test(tc, flap_percent_weights);
	tcase_add_test(tc, flap_window_is_21_results);
	tcase_add_test(tc, flap_start_above_high_stop_below_low);
	tcase_add_test(tc, flap_threshold_is_strict);
	suite_add_tcase(s, tc);
	tc = tcase_create("freshness");
	tcase_add_test(tc, stale_is_hard_at_once);
	tcase_add_test(tc, stale_with_unknown_state_and_no_result);
	tcase_add_test(tc, stale_keeps_flapping);
	suite_add_tcase(s, tc);
	tc = tcase_create("suppression");
	tcase_add_test(tc, suppression_order);
	tcase_add_test(tc, downtime_absolute_window);
	tcase_add_test(tc, state_names);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
