/* Unit tests: plugin loader refusals and the dummy plugin through the real host. */
#include "plugin/loader.h"
#include "util/log.h"
#include "../lib/plugtest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define TP "build/tests/plugins/"

START_TEST(refuses_abi_mismatch)
{
	struct loader *l = loader_new();
	struct plugin_mod *m = loader_load(l, TP "bad_abi.so");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(m->def);
	ck_assert_ptr_nonnull(strstr(m->refused, "bad_abi.so"));
	ck_assert_ptr_nonnull(strstr(m->refused, "ABI version 99.0"));
	loader_free(l);
}
END_TEST

START_TEST(refuses_missing_symbol)
{
	struct loader *l = loader_new();
	struct plugin_mod *m = loader_load(l, TP "no_symbol.so");
	ck_assert_ptr_null(m->def);
	ck_assert_ptr_nonnull(strstr(m->refused, "no symbol mamori_plugin_v1"));
	ck_assert_str_eq(m->name, "no_symbol");
	loader_free(l);
}
END_TEST

START_TEST(refuses_unloadable_and_incomplete)
{
	struct loader *l = loader_new();
	struct plugin_mod *m = loader_load(l, TP "unresolved.so");
	ck_assert_ptr_null(m->def);
	ck_assert_ptr_nonnull(strstr(m->refused, "undefined symbol"));
	m = loader_load(l, TP "no_init.so");
	ck_assert_ptr_null(m->def);
	ck_assert_ptr_nonnull(strstr(m->refused, "lacks init"));
	m = loader_load(l, TP "does_not_exist.so");
	ck_assert_ptr_null(m->def);
	ck_assert_ptr_nonnull(strstr(m->refused, "does_not_exist.so"));
	loader_free(l);
}
END_TEST

START_TEST(refuses_duplicate_name)
{
	struct loader *l = loader_new();
	struct plugin_mod *a = loader_load(l, "build/plugins/dummy.so");
	ck_assert_ptr_nonnull(a->def);
	struct plugin_mod *b = loader_load(l, TP "dup_dummy.so");
	/* The duplicate is refused and never shadows the first. */
	ck_assert_ptr_null(b);
	ck_assert_ptr_eq(loader_find(l, "dummy"), a);
	ck_assert_str_eq(loader_find(l, "dummy")->def->version, "1.0");
	loader_free(l);
}
END_TEST

START_TEST(half_built_instance_freed)
{
	struct plugtest *pt = plugtest_new(TP "crash_init.so", NULL);
	ck_assert_ptr_null(pt);
	ck_assert_ptr_nonnull(strstr(plugtest_last_error(), "I/O error"));
}
END_TEST

START_TEST(dummy_states_and_delay)
{
	struct plugtest *pt = plugtest_new("build/plugins/dummy.so", NULL);
	ck_assert_ptr_nonnull(pt);
	struct plugtest_result r;
	ck_assert_int_eq(
	    plugtest_prepare(
	        pt, "state = 2; output = \"disk full\"; perf = \"'used'=91%;80;90;0;100\";", NULL),
	    0);
	ck_assert_int_eq(plugtest_run(pt, 2, &r), 0);
	ck_assert_int_eq(r.state, 2);
	ck_assert_str_eq(r.output, "disk full");
	ck_assert_str_eq(r.perf, "used=91%;80;90;0;100");
	ck_assert_int_eq(r.completions, 1);
	ck_assert_int_eq(plugtest_prepare(pt, "state = 1; delay = \"50ms\";", NULL), 0);
	ck_assert_int_eq(plugtest_run(pt, 2, &r), 0);
	ck_assert_int_eq(r.state, 1);
	ck_assert_str_eq(r.output, "dummy WARNING");
	ck_assert(r.duration >= 0.045);
	/* Cancelled before the delay: never completes. */
	ck_assert_int_eq(plugtest_run_cancel(pt, 0.01, 0.1), 0);
	plugtest_free(pt);
}
END_TEST

START_TEST(dummy_config_errors)
{
	struct plugtest *pt = plugtest_new("build/plugins/dummy.so", NULL);
	ck_assert_ptr_nonnull(pt);
	ck_assert_int_ne(plugtest_prepare(pt, "state = 7;", NULL), 0);
	ck_assert_ptr_nonnull(strstr(plugtest_error(pt), ":2: key 'state': must be 0"));
	ck_assert_int_ne(plugtest_prepare(pt, "bogus = 1;", NULL), 0);
	ck_assert_ptr_nonnull(strstr(plugtest_error(pt), "unknown key 'bogus'"));
	ck_assert_int_ne(plugtest_prepare(pt, "state = \"two\";", NULL), 0);
	ck_assert_ptr_nonnull(strstr(plugtest_error(pt), "must be an integer"));
	ck_assert_int_ne(plugtest_prepare(pt, "delay = \"soon\";", NULL), 0);
	ck_assert_ptr_nonnull(strstr(plugtest_error(pt), "bad duration"));
	ck_assert_int_ne(plugtest_prepare(pt, "state = = 1;", NULL), 0); /* syntax */
	plugtest_free(pt);
}
END_TEST

int main(void)
{
	log_open("test", 1, LOG_LVL_ERR - 1); /* quiet */
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");
	tcase_add_test(tc, refuses_abi_mismatch);
	tcase_add_test(tc, refuses_missing_symbol);
	tcase_add_test(tc, refuses_unloadable_and_incomplete);
	tcase_add_test(tc, refuses_duplicate_name);
	tcase_add_test(tc, half_built_instance_freed);
	tcase_add_test(tc, dummy_states_and_delay);
	tcase_add_test(tc, dummy_config_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
