/* Unit tests: plugin loader refusals and the dummy plugin through the real host. */
#include "plugin/host.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "../lib/plugtest.h"

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
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

/* ---- ABI 1.2: metrics ---- */

static int t_init(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	return 0;
}

static void t_destroy(void *inst)
{
}

static void t_metrics(void *inst, struct mamori_metrics *m)
{
}

START_TEST(minor_versions_and_sizes)
{
	struct mamori_plugin def = { .abi_major = MAMORI_PLUGIN_ABI_MAJOR,
		                     .abi_minor = 1,
		                     .struct_size = offsetof(struct mamori_plugin, metrics),
		                     .name = "t",
		                     .flags = MAMORI_PLUGIN_PASSIVE,
		                     .init = t_init,
		                     .destroy = t_destroy,
		                     .metrics = t_metrics };
	/* a 1.0/1.1 plugin ends before `metrics`: loaded, and whatever lies
	 * past its end is never read as a function */
	ck_assert_ptr_null(loader_check_def(&def));
	ck_assert_int_eq(loader_has_metrics(&def), 0);
	def.abi_minor = 0;
	ck_assert_ptr_null(loader_check_def(&def));
	/* 1.2 must cover it */
	def.abi_minor = 2;
	ck_assert_ptr_nonnull(loader_check_def(&def));
	def.struct_size = sizeof def;
	ck_assert_ptr_null(loader_check_def(&def));
	ck_assert_int_eq(loader_has_metrics(&def), 1);
	def.metrics = NULL;
	ck_assert_int_eq(loader_has_metrics(&def), 0);
	/* shorter than 1.0 */
	def.struct_size = offsetof(struct mamori_plugin, reserved);
	ck_assert_ptr_nonnull(loader_check_def(&def));
}
END_TEST

struct got {
	char names[64][80];
	int n;
};

static void on_series(void *ud, const struct mamori_metric *x)
{
	struct got *g = ud;
	if (g->n < 64)
		snprintf(g->names[g->n++], sizeof g->names[0], "%s", x->name);
}

static int rcs[32], n_rcs;

static int put(struct mamori_metrics *m, int type, const char *name, const char *help,
               const char *const *labels, size_t n_labels, double v)
{
	struct mamori_metric x = { .struct_size = sizeof x,
		                   .type = type,
		                   .name = name,
		                   .help = help,
		                   .labels = labels,
		                   .n_labels = n_labels,
		                   .value = v };
	int rc = host_table()->metric(m, &x);
	if (n_rcs < 32)
		rcs[n_rcs++] = rc;
	return rc;
}

/* What a careless plugin may report: only well-formed series pass. */
static void bad_metrics(void *inst, struct mamori_metrics *m)
{
	const char *ok[] = { "reason", "json" };
	const char *inst_label[] = { "instance", "x" };
	const char *dup[] = { "a", "1", "a", "2" };
	const char *badname[] = { "Bad", "1" };
	const char *nullv[] = { "a", NULL };
	const char *ctl[] = { "a", "line\nbreak" };
	const char *badutf[] = { "a", "\xc3\x28" };
	const char *utf[] = { "a", "\xe5\xae\x88\xe3\x82\x8a" };
	const char *five[] = { "a", "1", "b", "1", "c", "1", "d", "1", "e", "1" };
	put(m, MAMORI_METRIC_COUNTER, "good_total", "Good.", ok, 1, 3); /* 0 */
	put(m, MAMORI_METRIC_GAUGE, "queue", NULL, NULL, 0, -2);        /* 1 */
	put(m, MAMORI_METRIC_GAUGE, "utf", "x", utf, 1, 1);             /* 2 */
	put(m, MAMORI_METRIC_COUNTER, "no_suffix", NULL, NULL, 0, 1);   /* 3 */
	put(m, MAMORI_METRIC_COUNTER, "neg_total", NULL, NULL, 0, -1);  /* 4 */
	put(m, MAMORI_METRIC_GAUGE, "nan", NULL, NULL, 0, NAN);         /* 5 */
	put(m, MAMORI_METRIC_GAUGE, "inf", NULL, NULL, 0, INFINITY);    /* 6 */
	put(m, 7, "type", NULL, NULL, 0, 1);                            /* 7 */
	put(m, MAMORI_METRIC_GAUGE, "9lives", NULL, NULL, 0, 1);        /* 8 */
	put(m, MAMORI_METRIC_GAUGE, "with space", NULL, NULL, 0, 1);    /* 9 */
	put(m, MAMORI_METRIC_GAUGE, NULL, NULL, NULL, 0, 1);            /* 10 */
	put(m, MAMORI_METRIC_GAUGE, "l1", NULL, inst_label, 1, 1);      /* 11 */
	put(m, MAMORI_METRIC_GAUGE, "l2", NULL, dup, 2, 1);             /* 12 */
	put(m, MAMORI_METRIC_GAUGE, "l3", NULL, badname, 1, 1);         /* 13 */
	put(m, MAMORI_METRIC_GAUGE, "l4", NULL, nullv, 1, 1);           /* 14 */
	put(m, MAMORI_METRIC_GAUGE, "l5", NULL, ctl, 1, 1);             /* 15 */
	put(m, MAMORI_METRIC_GAUGE, "l6", NULL, badutf, 1, 1);          /* 16 */
	put(m, MAMORI_METRIC_GAUGE, "l7", NULL, five, 5, 1);            /* 17 */
	put(m, MAMORI_METRIC_GAUGE, "h1", "two\nlines", NULL, 0, 1);    /* 18 */
	put(m, MAMORI_METRIC_GAUGE, "gauge_total", NULL, NULL, 0, 1);   /* 19 */
	struct mamori_metric small = { .struct_size = 8, .type = 2, .name = "s" };
	rcs[n_rcs++] = host_table()->metric(m, &small); /* 20 */
	rcs[n_rcs++] = host_table()->metric(m, NULL);   /* 21 */
	/* the limit per collection */
	int busy = 0;
	for (int i = 0; i < MAMORI_METRIC_MAX_SERIES + 10; i++) {
		struct mamori_metric x = { .struct_size = sizeof x,
			                   .type = MAMORI_METRIC_GAUGE,
			                   .name = "many",
			                   .value = i };
		busy += host_table()->metric(m, &x) == MAMORI_E_BUSY;
	}
	rcs[n_rcs++] = busy; /* 22 */
}

static struct got many;

static void count_series(void *ud, const struct mamori_metric *x)
{
	on_series(ud, x);
}

START_TEST(metric_checks_what_plugins_report)
{
	struct plugtest *pt = plugtest_new("build/plugins/dummy.so", NULL); /* binds the host */
	ck_assert_ptr_nonnull(pt);
	struct mamori_plugin def = { .abi_major = MAMORI_PLUGIN_ABI_MAJOR,
		                     .abi_minor = MAMORI_PLUGIN_ABI_MINOR,
		                     .struct_size = sizeof def,
		                     .name = "careless",
		                     .init = t_init,
		                     .destroy = t_destroy,
		                     .metrics = bad_metrics };
	int inst = 1;
	memset(&many, 0, sizeof many);
	n_rcs = 0;
	size_t n = host_collect_metrics(&def, &inst, count_series, &many);
	ck_assert_int_eq(n_rcs, 23);
	ck_assert_int_eq(rcs[0], 0);
	ck_assert_int_eq(rcs[1], 0);
	ck_assert_int_eq(rcs[2], 0);
	for (int i = 3; i <= 21; i++)
		ck_assert_msg(rcs[i] == MAMORI_E_INVAL, "series %d: %d", i, rcs[i]);
	ck_assert_int_eq(rcs[22], 3 + 10); /* 256 in all, then BUSY */
	ck_assert_uint_eq(n, MAMORI_METRIC_MAX_SERIES);
	ck_assert_str_eq(many.names[0], "good_total");
	ck_assert_str_eq(many.names[1], "queue");
	ck_assert_str_eq(many.names[2], "utf");
	ck_assert_str_eq(many.names[3], "many");
	/* no metrics function, or no instance: nothing is asked */
	def.metrics = NULL;
	ck_assert_uint_eq(host_collect_metrics(&def, &inst, count_series, &many), 0);
	def.metrics = bad_metrics;
	ck_assert_uint_eq(host_collect_metrics(&def, NULL, count_series, &many), 0);
	plugtest_free(pt);
}
END_TEST

struct dummy_runs {
	double crit, ok, delayed;
	int families_ok;
};

static void dummy_series(void *ud, const struct mamori_metric *x)
{
	struct dummy_runs *d = ud;
	if (strcmp(x->name, "runs_delayed") == 0) {
		d->delayed = x->value;
		return;
	}
	if (strcmp(x->name, "runs_total") != 0 || x->n_labels != 1 ||
	    strcmp(x->labels[0], "state") != 0 || x->type != MAMORI_METRIC_COUNTER)
		return;
	d->families_ok++;
	if (strcmp(x->labels[1], "critical") == 0)
		d->crit = x->value;
	if (strcmp(x->labels[1], "ok") == 0)
		d->ok = x->value;
}

START_TEST(dummy_metrics_in_process)
{
	struct plugtest *pt = plugtest_new("build/plugins/dummy.so", NULL);
	ck_assert_ptr_nonnull(pt);
	struct plugtest_result r;
	ck_assert_int_eq(plugtest_prepare(pt, "state = 2;", NULL), 0);
	ck_assert_int_eq(plugtest_run(pt, 2, &r), 0);
	ck_assert_int_eq(plugtest_run(pt, 2, &r), 0);
	struct dummy_runs d = { 0 };
	ck_assert_uint_eq(
	    host_collect_metrics(plugtest_def(pt), plugtest_instance(pt), dummy_series, &d), 5);
	ck_assert_int_eq(d.families_ok, 4);
	ck_assert(d.crit == 2 && d.ok == 0 && d.delayed == 0);
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
	tcase_add_test(tc, minor_versions_and_sizes);
	tcase_add_test(tc, metric_checks_what_plugins_report);
	tcase_add_test(tc, dummy_metrics_in_process);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
