/*
 * test_notify_abi: plugin ABI 1.1 (notifier plugins) as a minor version.
 * A check plugin built against the 1.0 header (tests/plugins/abi-1.0)
 * loads and runs unchanged; notifiers are accepted only as 1.1 plugins
 * with notify_send and notify_cancel; the config keeps notifiers out of
 * checks and `plugins` blocks (they are channels).
 */
#include "config/config.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "../lib/plugtest.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define TP "build/tests/plugins/"

START_TEST(old_check_plugin_loads_and_runs)
{
	struct loader *l = loader_new();
	struct plugin_mod *m = loader_load(l, TP "abi10_check.so");
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(m->def != NULL, "refused: %s", m->refused ? m->refused : "?");
	ck_assert_int_eq(m->def->abi_major, 1);
	ck_assert_int_eq(m->def->abi_minor, 0);
	/* 1.1 did not grow the plugin struct: the 1.0 size is the size */
	ck_assert_uint_eq(m->def->struct_size, sizeof(struct mamori_plugin));
	ck_assert_ptr_null(m->def->notify_send);
	ck_assert_ptr_null(m->def->notify_cancel);
	ck_assert_ptr_null(m->def->notify_inbound);
	ck_assert_int_eq(m->def->flags & MAMORI_PLUGIN_NOTIFIER, 0);
	loader_free(l);

	struct plugtest *pt = plugtest_new(TP "abi10_check.so", "text = \"old but fine\";");
	ck_assert_msg(pt != NULL, "%s", plugtest_last_error());
	ck_assert_int_eq(plugtest_prepare(pt, "", "127.0.0.1"), 0);
	struct plugtest_result r;
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_OK);
	ck_assert_int_eq(r.completions, 1);
	ck_assert_str_eq(r.output, "old but fine");
	/* the host it got is 1.1, larger than the 1.0 one it knows */
	const struct mamori_host *h = plugtest_host(pt);
	ck_assert_int_eq(h->abi_minor, 1);
	ck_assert(MAMORI_HAS_FIELD(h, struct mamori_host, notify_done));
	ck_assert(MAMORI_HAS_FIELD(h, struct mamori_host, notify_reply));
	plugtest_free(pt);
}
END_TEST

START_TEST(notifier_loads)
{
	struct loader *l = loader_new();
	struct plugin_mod *m = loader_load(l, TP "fake_mail.so");
	ck_assert_msg(m && m->def, "refused: %s", m && m->refused ? m->refused : "?");
	ck_assert(m->def->flags & MAMORI_PLUGIN_NOTIFIER);
	ck_assert_ptr_nonnull(m->def->notify_send);
	/* no check functions needed */
	ck_assert_ptr_null(m->def->check_start);
	loader_free(l);
}
END_TEST

static int s_init(const struct mamori_host *h, const struct mamori_conf *c, void **inst)
{
	return 0;
}

static void s_destroy(void *inst)
{
}

static int s_send(void *inst, struct mamori_delivery *d, const struct mamori_notification *n,
                  void **st)
{
	return 0;
}

static void s_cancel(void *inst, struct mamori_delivery *d, void *st)
{
}

START_TEST(notifier_rules)
{
	struct mamori_plugin p = { .abi_major = 1,
		                   .abi_minor = 1,
		                   .struct_size = sizeof p,
		                   .name = "n",
		                   .flags = MAMORI_PLUGIN_NOTIFIER,
		                   .init = s_init,
		                   .destroy = s_destroy,
		                   .notify_send = s_send,
		                   .notify_cancel = s_cancel };
	ck_assert_ptr_null(loader_check_def(&p));
	p.abi_minor = 0; /* the flag means nothing to a 1.0 plugin */
	ck_assert_ptr_nonnull(strstr(loader_check_def(&p), "ABI 1.0"));
	p.abi_minor = 1;
	p.notify_cancel = NULL;
	ck_assert_ptr_nonnull(strstr(loader_check_def(&p), "notify_cancel"));
	p.notify_cancel = s_cancel;
	p.flags |= MAMORI_PLUGIN_PASSIVE;
	ck_assert_ptr_nonnull(strstr(loader_check_def(&p), "cannot be passive"));
	/* a check plugin (no flag) still needs its check functions */
	p.flags = 0;
	ck_assert_ptr_nonnull(strstr(loader_check_def(&p), "check_prepare"));
}
END_TEST

static char errs[8192];

static void err_cb(void *ud, const char *msg)
{
	size_t n = strlen(errs);
	snprintf(errs + n, sizeof errs - n, "%s\n", msg);
}

START_TEST(config_keeps_notifiers_out_of_checks)
{
	struct loader *l = loader_new();
	ck_assert_ptr_nonnull(loader_load(l, TP "fake_mail.so")->def);
	ck_assert_ptr_nonnull(loader_load(l, "build/plugins/dummy.so")->def);
	errs[0] = '\0';
	struct mconf *c = config_load_string(
	    "customers = ( { id = \"c\"; name = \"C\"; assets = ( { name = \"a\"; type = \"host\";\n"
	    "  checks = ( { plugin = \"fake_mail\"; } ); } ); } );\n",
	    l, "share/mamori", err_cb, NULL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(errs, "plugin 'fake_mail' is a notifier") != NULL, "%s", errs);
	errs[0] = '\0';
	c = config_load_string("plugins = ( { name = \"fake_mail\"; } );\n", l, "share/mamori",
	                       err_cb, NULL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(errs, "configure it as a channel in notify.channels") != NULL, "%s",
	              errs);
	/* no default instance is made for a notifier */
	errs[0] = '\0';
	c = config_load_string("", l, "share/mamori", err_cb, NULL);
	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; i < c->n_plugins; i++)
		ck_assert_str_ne(c->plugins[i].name, "fake_mail");
	mconf_free(c);
	loader_free(l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("notify_abi");
	TCase *t = tcase_create("core");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, old_check_plugin_loads_and_runs);
	tcase_add_test(t, notifier_loads);
	tcase_add_test(t, notifier_rules);
	tcase_add_test(t, config_keeps_notifiers_out_of_checks);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
