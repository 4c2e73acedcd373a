/*
 * Unit tests: the timing wheel (src/wheel) on virtual ticks.
 *
 * A brute-force reference model (an array of pending dues) is driven with
 * the same random adds, deletes and advances as the wheel; every node must
 * fire exactly at its effective due tick (max(due, now at add)), in tick
 * order, and never otherwise.  Plus far-future dues, jumps over empty
 * time, re-add and delete from inside the fire callback, advances bounded
 * to a few fires at a time (nodes added and deleted between them), and a 1,000,000
 * node timing that is printed, not asserted.
 */
#include "wheel/wheel.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXDUE (((uint64_t)1 << (WHEEL_BITS * (WHEEL_LEVELS - 1))) - 1)

struct tnode {
	struct wheel_node n;
	uint64_t expect; /* tick at which it must fire */
	int pending;     /* reference model */
	int fired;
};

struct fctx {
	struct wheel *w;
	uint64_t last_tick;
	uint64_t fired;
	int bad;
	/* optional behaviours */
	struct tnode **kill; /* when one of these fires, delete the others */
	int nkill;
	int readd_step; /* re-add the fired node this many ticks on */
	int readd_left;
};

static struct tnode *tn(struct wheel_node *n)
{
	return (struct tnode *)((char *)n - offsetof(struct tnode, n));
}

static void fire_check(struct wheel_node *n, void *ud)
{
	struct fctx *f = ud;
	struct tnode *t = tn(n);
	uint64_t tick = f->w->now - 1; /* the tick being processed */
	if (!t->pending || t->expect != tick || tick < f->last_tick || wheel_pending(n)) {
		if (!f->bad)
			fprintf(stderr, "bad fire: pending %d expect %llu tick %llu last %llu\n",
			        t->pending, (unsigned long long)t->expect, (unsigned long long)tick,
			        (unsigned long long)f->last_tick);
		f->bad++;
	}
	f->last_tick = tick;
	t->pending = 0;
	t->fired++;
	f->fired++;
	for (int i = 0; i < f->nkill; i++) {
		struct tnode *v = f->kill[i];
		if (v != t && v->pending) {
			wheel_del(f->w, &v->n);
			v->pending = 0;
		}
	}
	if (f->readd_step && f->readd_left > 0) {
		f->readd_left--;
		t->expect = tick + (uint64_t)f->readd_step;
		t->pending = 1;
		wheel_add(f->w, n, t->expect);
	}
}

static void add(struct wheel *w, struct tnode *t, uint64_t due)
{
	uint64_t eff = due < w->now ? w->now : due;
	if (eff > w->now + MAXDUE)
		eff = w->now + MAXDUE;
	t->expect = eff;
	t->pending = 1;
	wheel_add(w, &t->n, due);
}

static uint64_t rnd64(void)
{
	return ((uint64_t)rand() << 31) ^ (uint64_t)rand();
}

static uint64_t random_due(uint64_t now)
{
	switch (rand() % 8) {
	case 0: return now > 100 ? now - (uint64_t)(rand() % 100) : 0; /* past */
	case 1: return now;                                            /* now */
	case 2: return now + (uint64_t)(rand() % 64);                  /* level 0 */
	case 3: return now + (uint64_t)(rand() % 5000);                /* seconds */
	case 4: return now + (uint64_t)(rand() % 600000);              /* minutes */
	case 5: return now + rnd64() % (7ULL * 86400000);              /* days */
	case 6:
		return now + ((uint64_t)64 << (6 * (rand() % 5))) - 1 +
		       (uint64_t)(rand() % 3);           /* boundaries */
	default: return now + rnd64() % (MAXDUE + 1000); /* beyond the horizon */
	}
}

START_TEST(random_against_reference)
{
	enum { N = 2000, OPS = 100000 };
	struct tnode *nodes = calloc(N, sizeof *nodes);
	struct wheel w;
	uint64_t start = 1000 + (uint64_t)_i * 987654321ULL; /* several origins */
	wheel_init(&w, start);
	struct fctx f = { .w = &w, .last_tick = start };
	srand(42 + (unsigned)_i);
	uint64_t expected_fires = 0;
	for (int op = 0; op < OPS; op++) {
		int k = rand() % 10;
		struct tnode *t = &nodes[rand() % N];
		if (k < 5) {
			if (t->pending) {
				wheel_del(&w, &t->n);
				t->pending = 0;
			}
			add(&w, t, random_due(w.now));
		} else if (k < 7) {
			wheel_del(&w, &t->n); /* also on a node not in the wheel */
			t->pending = 0;
		} else {
			uint64_t step;
			switch (rand() % 4) {
			case 0: step = 0; break;
			case 1: step = (uint64_t)(rand() % 70); break;
			case 2: step = (uint64_t)(rand() % 300000); break;
			default: step = rnd64() % (3ULL * 86400000); break;
			}
			uint64_t to = w.now + step;
			/* Reference: what must fire by `to`. */
			for (int i = 0; i < N; i++)
				if (nodes[i].pending && nodes[i].expect <= to)
					expected_fires++;
			f.last_tick = w.now;
			if (rand() % 2) {
				wheel_advance(&w, to, fire_check, &f);
			} else {
				/* Bounded: yield every few fires; meanwhile nodes
				 * come and go, and what is held is due. */
				size_t max = 1 + (size_t)(rand() % 8);
				while (wheel_advance_max(&w, to, fire_check, &f, max) == max) {
					if (w.cur && wheel_next(&w) != w.now - 1)
						ck_abort_msg(
						    "op %d: held nodes but next %llu, now %llu", op,
						    (unsigned long long)wheel_next(&w),
						    (unsigned long long)w.now);
					struct tnode *u = &nodes[rand() % N];
					if (u->pending) {
						expected_fires -= u->expect <= to;
						wheel_del(&w, &u->n);
						u->pending = 0;
					} else {
						add(&w, u, w.now + (uint64_t)(rand() % 100) - 50);
						expected_fires += u->expect <= to;
					}
				}
			}
			if (f.bad || f.fired != expected_fires || w.now != to + 1)
				ck_abort_msg("op %d: advance to %llu: %d bad fires, %llu fired, "
				             "%llu expected",
				             op, (unsigned long long)to, f.bad,
				             (unsigned long long)f.fired,
				             (unsigned long long)expected_fires);
			int overdue = 0;
			for (int i = 0; i < N; i++)
				overdue += nodes[i].pending && nodes[i].expect <= to;
			ck_assert_int_eq(overdue, 0);
		}
		/* wheel_next never later than the earliest pending due. */
		uint64_t min = UINT64_MAX, cnt = 0;
		for (int i = 0; i < N && op % 97 == 0; i++)
			if (nodes[i].pending) {
				cnt++;
				if (nodes[i].expect < min)
					min = nodes[i].expect;
			}
		if (op % 97 == 0 && (w.count != cnt || wheel_next(&w) > min ||
		                     (!cnt && wheel_next(&w) != UINT64_MAX)))
			ck_abort_msg("op %d: count %llu/%llu, next %llu, earliest %llu", op,
			             (unsigned long long)w.count, (unsigned long long)cnt,
			             (unsigned long long)wheel_next(&w), (unsigned long long)min);
	}
	/* Drain everything. */
	uint64_t left = 0;
	for (int i = 0; i < N; i++)
		left += nodes[i].pending;
	f.last_tick = w.now;
	wheel_advance(&w, w.now + MAXDUE + 10, fire_check, &f);
	ck_assert_int_eq(f.bad, 0);
	ck_assert_uint_eq(f.fired, expected_fires + left);
	ck_assert_uint_eq(w.count, 0);
	ck_assert(wheel_next(&w) == UINT64_MAX);
	free(nodes);
}
END_TEST

START_TEST(far_future_days)
{
	struct wheel w;
	struct tnode a = { 0 }, b = { 0 }, c = { 0 };
	wheel_init(&w, 5);
	struct fctx f = { .w = &w, .last_tick = 5 };
	add(&w, &a, 3ULL * 86400000 + 17); /* 3 days */
	add(&w, &b, 30ULL * 86400000 + 1); /* 30 days */
	add(&w, &c, 400ULL * 86400000);    /* 400 days */
	wheel_advance(&w, 3ULL * 86400000 + 16, fire_check, &f);
	ck_assert_uint_eq(f.fired, 0);
	wheel_advance(&w, 3ULL * 86400000 + 17, fire_check, &f);
	ck_assert_uint_eq(f.fired, 1);
	ck_assert_int_eq(a.fired, 1);
	wheel_advance(&w, 30ULL * 86400000, fire_check, &f);
	ck_assert_uint_eq(f.fired, 1);
	wheel_advance(&w, 401ULL * 86400000, fire_check, &f);
	ck_assert_uint_eq(f.fired, 3);
	ck_assert_int_eq(f.bad, 0);
}
END_TEST

START_TEST(jump_over_empty_time)
{
	struct wheel w;
	struct tnode a = { 0 };
	wheel_init(&w, 0);
	struct fctx f = { .w = &w };
	/* Nothing scheduled: a huge jump is cheap and keeps the wheel sane. */
	wheel_advance(&w, 1ULL << 40, fire_check, &f);
	ck_assert_uint_eq(w.now, (1ULL << 40) + 1);
	ck_assert(wheel_next(&w) == UINT64_MAX);
	add(&w, &a, w.now + 70);
	ck_assert(wheel_next(&w) <= a.expect);
	f.last_tick = w.now;
	wheel_advance(&w, w.now + 69, fire_check, &f);
	ck_assert_uint_eq(f.fired, 0);
	wheel_advance(&w, w.now, fire_check, &f);
	ck_assert_uint_eq(f.fired, 1);
	ck_assert_int_eq(f.bad, 0);
	/* Advancing to a tick in the past does nothing. */
	wheel_advance(&w, 3, fire_check, &f);
	ck_assert_uint_eq(f.fired, 1);
}
END_TEST

START_TEST(readd_during_fire)
{
	struct wheel w;
	struct tnode a = { 0 };
	wheel_init(&w, 100);
	struct fctx f = { .w = &w, .last_tick = 100, .readd_step = 5, .readd_left = 1000 };
	add(&w, &a, 105);
	wheel_advance(&w, 204, fire_check, &f);
	/* Fires at 105, 110, ..., 200: 20 times, re-added at 205 now. */
	ck_assert_uint_eq(f.fired, 20);
	ck_assert_int_eq(f.bad, 0);
	ck_assert(wheel_pending(&a.n));
	ck_assert_uint_eq(a.n.due, 205);
	/* Re-adding at the current tick lands at the next one, never loops. */
	f.readd_step = 0;
	wheel_advance(&w, 205, fire_check, &f);
	ck_assert_uint_eq(f.fired, 21);
	ck_assert(!wheel_pending(&a.n));
}
END_TEST

static void fire_readd_now(struct wheel_node *n, void *ud)
{
	struct fctx *f = ud;
	f->fired++;
	if (f->readd_left-- > 0)
		wheel_add(f->w, n, f->w->now - 1); /* "now", i.e. the current tick */
}

START_TEST(readd_at_current_tick_moves_on)
{
	struct wheel w;
	struct tnode a = { 0 };
	wheel_init(&w, 0);
	struct fctx f = { .w = &w, .readd_left = 1000000 };
	wheel_add(&w, &a.n, 10);
	wheel_advance(&w, 20, fire_readd_now, &f);
	/* Once per tick from 10 to 20, not endlessly within tick 10. */
	ck_assert_uint_eq(f.fired, 11);
}
END_TEST

START_TEST(delete_other_during_fire)
{
	struct wheel w;
	struct tnode a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	wheel_init(&w, 0);
	/* a and b share a tick (one slot list), c is later, d much later. */
	add(&w, &a, 50);
	add(&w, &b, 50);
	add(&w, &c, 51);
	add(&w, &d, 100000);
	struct tnode *ab[] = { &a, &b }, *cd[] = { &c, &d };
	struct fctx f = { .w = &w, .kill = ab, .nkill = 2 };
	/* Whichever of a/b fires first deletes the other... */
	wheel_advance(&w, 50, fire_check, &f);
	ck_assert_int_eq(a.fired + b.fired, 1);
	ck_assert_int_eq(f.bad, 0);
	ck_assert_uint_eq(w.count, 2);
	/* ...and c deletes d (on another level) when it fires. */
	f.kill = cd;
	wheel_advance(&w, 200000, fire_check, &f);
	ck_assert_int_eq(c.fired, 1);
	ck_assert_int_eq(d.fired, 0);
	ck_assert_uint_eq(w.count, 0);
	ck_assert(wheel_next(&w) == UINT64_MAX);
}
END_TEST

START_TEST(delete_rest_of_slot_during_fire)
{
	/* Five nodes in one slot: the first fired deletes all the others,
	 * including the one right behind it and the last of the list. */
	struct wheel w;
	struct tnode n[5];
	struct tnode *k[5];
	memset(n, 0, sizeof n);
	wheel_init(&w, 0);
	for (int i = 0; i < 5; i++) {
		add(&w, &n[i], 7);
		k[i] = &n[i];
	}
	struct tnode later = { 0 };
	add(&w, &later, 8);
	struct fctx f = { .w = &w, .kill = k, .nkill = 5 };
	wheel_advance(&w, 6, fire_check, &f);
	ck_assert_uint_eq(f.fired, 0);
	wheel_advance(&w, 8, fire_check, &f);
	ck_assert_int_eq(f.bad, 0);
	ck_assert_uint_eq(f.fired, 2);
	ck_assert_int_eq(later.fired, 1);
	ck_assert_uint_eq(w.count, 0);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fire_count(struct wheel_node *n, void *ud)
{
	(void)n;
	(*(uint64_t *)ud)++;
}

/* Cost per op with 1,000 vs 1,000,000 nodes spread over 5 minutes: each
 * node added, and the wheel advanced through all of them.  Printed. */
static double cost_per_op(size_t count)
{
	struct wheel w;
	struct wheel_node *ns = calloc(count, sizeof *ns);
	wheel_init(&w, 0);
	srand(7);
	double t0 = now_s();
	for (size_t i = 0; i < count; i++)
		wheel_add(&w, &ns[i], (uint64_t)(rand() % 300000));
	/* Delete and re-add a tenth (reschedule). */
	for (size_t i = 0; i < count; i += 10) {
		wheel_del(&w, &ns[i]);
		wheel_add(&w, &ns[i], (uint64_t)(rand() % 300000));
	}
	uint64_t fired = 0;
	for (uint64_t t = 0; t < 300000; t += 1000)
		wheel_advance(&w, t + 999, fire_count, &fired);
	double dt = now_s() - t0;
	ck_assert_uint_eq(fired, count);
	ck_assert_uint_eq(w.count, 0);
	free(ns);
	return dt * 1e9 / (double)(count + count / 5 + count);
}

START_TEST(million_nodes_cost)
{
	double small = cost_per_op(1000);
	double big = cost_per_op(1000000);
	printf("wheel: %.1f ns/op with 1,000 nodes, %.1f ns/op with 1,000,000 nodes\n", small, big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wheel");
	TCase *tc = tcase_create("wheel");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, random_against_reference, 0, 3);
	tcase_add_test(tc, far_future_days);
	tcase_add_test(tc, jump_over_empty_time);
	tcase_add_test(tc, readd_during_fire);
	tcase_add_test(tc, readd_at_current_tick_moves_on);
	tcase_add_test(tc, delete_other_during_fire);
	tcase_add_test(tc, delete_rest_of_slot_during_fire);
	tcase_add_test(tc, million_nodes_cost);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
