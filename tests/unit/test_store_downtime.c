/*
 * test_store_downtime: the downtime table of schema 4 - rows written
 * through batches (copied: the caller's buffers may change), replaced by
 * id, deleted, loaded back at startup with NULL asset/check intact; a row
 * the table's CHECKs refuse is skipped alone (the rest of its batch is
 * written).
 */
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];

static void setup(void)
{
	log_set_level(LOG_LVL_ERR - 1); /* the skipped rows are expected */
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "sdt"), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

static struct store *open_store(void)
{
	char err[1024] = "";
	struct store *s = store_open(dir, err, sizeof err);
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

#define MAXROWS 8

struct got {
	int n;
	char line[MAXROWS][256];
};

static void on_row(void *ud, const struct store_downtime_row *r)
{
	struct got *g = ud;
	if (g->n < MAXROWS)
		snprintf(g->line[g->n], sizeof g->line[0], "%s|%s|%s|%s|%.1f|%.1f|%s|%s|%.1f",
		         r->id, r->customer, r->asset ? r->asset : "-", r->check ? r->check : "-",
		         r->start, r->end, r->author ? r->author : "-",
		         r->comment ? r->comment : "-", r->created);
	g->n++;
}

static void load(struct store *s, struct got *g)
{
	memset(g, 0, sizeof *g);
	ck_assert_int_eq(store_load_downtimes(s, on_row, g), 0);
}

START_TEST(round_trip_replace_delete)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	char id[32], customer[32];
	snprintf(id, sizeof id, "D-n1-1");
	snprintf(customer, sizeof customer, "c1");
	struct store_downtime_row r = { .id = id,
		                        .customer = customer,
		                        .start = 100,
		                        .end = 200,
		                        .author = "Sato",
		                        .comment = "office move",
		                        .created = 90 };
	store_batch_downtime(b, &r);
	strcpy(customer, "XX"); /* the batch holds a copy */
	r = (struct store_downtime_row){ .id = "D-n1-2",
		                         .customer = "c2",
		                         .asset = "utm-1",
		                         .start = 50,
		                         .end = 60,
		                         .created = 40 };
	store_batch_downtime(b, &r);
	r = (struct store_downtime_row){ .id = "D-n1-3",
		                         .customer = "c2",
		                         .asset = "pc-1",
		                         .check = "defender",
		                         .start = 70,
		                         .end = 80,
		                         .created = 40 };
	store_batch_downtime(b, &r);
	store_commit(s, b);
	struct got g;
	load(s, &g);
	ck_assert_int_eq(g.n, 3);
	ck_assert_str_eq(g.line[0], "D-n1-2|c2|utm-1|-|50.0|60.0|-|-|40.0");
	ck_assert_str_eq(g.line[1], "D-n1-3|c2|pc-1|defender|70.0|80.0|-|-|40.0");
	ck_assert_str_eq(g.line[2], "D-n1-1|c1|-|-|100.0|200.0|Sato|office move|90.0");
	store_close(s);

	/* through the writer thread: an edit replaces, a delete removes,
	 * deleting an unknown id is harmless */
	s = open_store();
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	b = store_batch_new();
	r = (struct store_downtime_row){
		.id = "D-n1-1", .customer = "c1", .start = 100, .end = 300, .created = 95
	};
	store_batch_downtime(b, &r);
	store_batch_downtime_delete(b, "D-n1-2");
	store_batch_downtime_delete(b, "D-none");
	store_commit(s, b);
	store_sync(s);
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.errors, 0);
	store_close(s);
	s = open_store();
	load(s, &g);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.line[0], "D-n1-3|c2|pc-1|defender|70.0|80.0|-|-|40.0");
	ck_assert_str_eq(g.line[1], "D-n1-1|c1|-|-|100.0|300.0|-|-|95.0");
	store_close(s);
}
END_TEST

START_TEST(bad_row_skipped_alone)
{
	struct store *s = open_store();
	struct store_batch *b = store_batch_new();
	struct store_downtime_row ok = {
		.id = "D-1", .customer = "c1", .start = 1, .end = 2, .created = 1
	};
	struct store_downtime_row backwards = {
		.id = "D-2", .customer = "c1", .start = 5, .end = 2, .created = 1
	};
	struct store_downtime_row check_without_asset = { .id = "D-3",
		                                          .customer = "c1",
		                                          .check = "defender",
		                                          .start = 1,
		                                          .end = 2,
		                                          .created = 1 };
	struct store_downtime_row no_customer = { .id = "D-4", .start = 1, .end = 2, .created = 1 };
	store_batch_downtime(b, &backwards);
	store_batch_downtime(b, &ok);
	store_batch_downtime(b, &check_without_asset);
	store_batch_downtime(b, &no_customer);
	store_commit(s, b);
	struct store_stats st;
	store_get_stats(s, &st);
	ck_assert_uint_eq(st.errors, 3);
	ck_assert_uint_eq(st.batches, 1);
	struct got g;
	load(s, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.line[0], "D-1|c1|-|-|1.0|2.0|-|-|1.0");
	store_close(s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("store_downtime");
	TCase *tc = tcase_create("downtime");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_replace_delete);
	tcase_add_test(tc, bad_row_skipped_alone);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
