/*
 * Unit tests: the journal (src/journal) on a real store and loop - one
 * pending batch filled by sources at the cut, cut listeners learn the
 * batch number, tickets complete only once their batch is written, never
 * inside the call that takes them, and without a store at the next turn.
 */
#include "journal/journal.h"
#include "store/store.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct fx {
	struct ev_loop *loop;
	struct store *st;
	struct journal *j;
	char dir[256];
	int pending_rows; /* the source's rows waiting */
	int filled;
	uint64_t cut_no;
	uint64_t done_no;
	int tickets;
	uint64_t ticket_saw; /* committed batch when the ticket fired */
};

static int src_pending(void *ud)
{
	return ((struct fx *)ud)->pending_rows > 0;
}

static void src_fill(void *ud, struct store_batch *b)
{
	struct fx *f = ud;
	for (; f->pending_rows > 0; f->pending_rows--) {
		char name[32];
		snprintf(name, sizeof name, "k%d", f->filled++);
		struct store_state_row r = { .customer = "c1",
			                     .asset = "a",
			                     .name = name,
			                     .plugin = "dummy",
			                     .state = 2,
			                     .hard = 1 };
		store_batch_state(b, &r);
	}
}

static void on_cut(void *ud, uint64_t n)
{
	((struct fx *)ud)->cut_no = n;
}

static void on_done(void *ud, uint64_t n)
{
	((struct fx *)ud)->done_no = n;
}

static void on_ticket(void *ud)
{
	struct fx *f = ud;
	f->tickets++;
	f->ticket_saw = f->st ? store_committed(f->st) : 0;
}

static void fx_init(struct fx *f, int with_store)
{
	memset(f, 0, sizeof *f);
	log_set_level(LOG_LVL_ERR);
	f->loop = ev_default_loop(0);
	if (with_store) {
		ck_assert_int_eq(tmpdir_make(f->dir, sizeof f->dir, "journal"), 0);
		char err[256];
		f->st = store_open(f->dir, err, sizeof err);
		ck_assert_msg(f->st != NULL, "%s", err);
	}
	f->j = journal_new(f->loop, f->st, 10.0); /* the timer never fires here */
	if (f->st)
		ck_assert_int_eq(store_start(f->st, f->loop, journal_on_commit, f->j), 0);
	journal_add_source(f->j, src_fill, src_pending, f);
	journal_on_cut(f->j, on_cut, f);
	journal_on_done(f->j, on_done, f);
	journal_start(f->j);
}

static void fx_done(struct fx *f)
{
	journal_free(f->j);
	if (f->st) {
		store_close(f->st);
		tmpdir_remove(f->dir);
	}
}

static void turn(struct fx *f, int n)
{
	for (int i = 0; i < n; i++)
		ev_run(f->loop, EVRUN_NOWAIT);
}

/* Turn the loop (the writer's completion arrives through its ev_async)
 * until the tickets fired, at most ~5 s. */
static void until_tickets(struct fx *f, int want)
{
	struct timespec ms = { 0, 1000000 };
	for (int i = 0; i < 5000 && f->tickets < want; i++) {
		ev_run(f->loop, EVRUN_NOWAIT);
		if (f->tickets < want)
			nanosleep(&ms, NULL);
	}
}

START_TEST(ticket_after_commit)
{
	struct fx f;
	fx_init(&f, 1);
	f.pending_rows = 3;
	journal_ticket(f.j, on_ticket, &f);
	ck_assert_int_eq(f.tickets, 0); /* never inside the call */
	until_tickets(&f, 1);
	ck_assert_int_eq(f.tickets, 1);
	ck_assert_uint_ge(f.ticket_saw, f.cut_no); /* fired only once written */
	ck_assert_uint_ge(f.cut_no, 1);
	ck_assert_int_eq(f.filled, 3);
	ck_assert_uint_eq(journal_rows(f.j), 3);
	ck_assert_uint_ge(f.done_no, f.cut_no);
	/* nothing pending: a ticket completes at the next turn, after the
	 * batches cut before it */
	journal_ticket(f.j, on_ticket, &f);
	ck_assert_int_eq(f.tickets, 1);
	until_tickets(&f, 2);
	ck_assert_int_eq(f.tickets, 2);
	/* rows appended directly to the pending batch count as pending */
	struct store_asset_row a = { "c1", "pc-9", "pc", "", "agent", 1.0 };
	store_batch_asset(journal_batch(f.j), &a);
	journal_ticket(f.j, on_ticket, &f);
	uint64_t before = f.cut_no;
	until_tickets(&f, 3);
	ck_assert_uint_gt(f.cut_no, before);
	fx_done(&f);
}
END_TEST

START_TEST(without_store)
{
	struct fx f;
	fx_init(&f, 0);
	ck_assert_ptr_null(journal_batch(f.j));
	ck_assert_int_eq(journal_durable(f.j), 0);
	f.pending_rows = 2;
	journal_ticket(f.j, on_ticket, &f);
	ck_assert_int_eq(f.tickets, 0);
	turn(&f, 2);
	ck_assert_int_eq(f.tickets, 1);
	ck_assert_int_eq(f.filled, 0); /* nothing is written without a store */
	fx_done(&f);
}
END_TEST

START_TEST(flush_wait_writes_everything)
{
	struct fx f;
	fx_init(&f, 1);
	f.pending_rows = 5;
	journal_flush(f.j, 1);
	ck_assert_int_eq(f.filled, 5);
	ck_assert_uint_eq(journal_committed(f.j), f.cut_no);
	ck_assert_uint_eq(f.done_no, 0); /* listeners hear it from the store's done */
	fx_done(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ticket_after_commit);
	tcase_add_test(tc, without_store);
	tcase_add_test(tc, flush_wait_writes_everything);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
