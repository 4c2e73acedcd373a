/*
 * test_notify_abi: plugin ABI 1.1 (notifier plugins) as a minor version
 * (and 1.2, plugin metrics, which appended a field to the plugin struct).
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
#include <stddef.h>
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
	/* 1.1 did not grow the plugin struct, 1.2 appended `metrics`: the
	 * 1.0 size ends right before it, and the loader never reads it */
	ck_assert_uint_eq(m->def->struct_size, offsetof(struct mamori_plugin, metrics));
	ck_assert_int_eq(loader_has_metrics(m->def), 0);
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
	/* the host it got is the current one, larger than the 1.0 one it knows */
	const struct mamori_host *h = plugtest_host(pt);
	ck_assert_int_eq(h->abi_minor, MAMORI_PLUGIN_ABI_MINOR);
	ck_assert(MAMORI_HAS_FIELD(h, struct mamori_host, notify_done));
	ck_assert(MAMORI_HAS_FIELD(h, struct mamori_host, notify_reply));
	ck_assert(MAMORI_HAS_FIELD(h, struct mamori_host, metric));
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

/* ---- the sms notifier's inbound webhooks ---- */

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_secret(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(v, f);
	fclose(f);
	chmod(path, 0600);
}

static int call_inbound(struct plugtest *pt, const char *ct, const char *h1, const char *v1,
                        const char *body, struct mamori_reply *out)
{
	const char *hv[2] = { h1, v1 };
	struct mamori_http_request req = { .struct_size = sizeof req,
		                           .method = "POST",
		                           .url = "/api/v1/notify/inbound/sms",
		                           .content_type = ct,
		                           .headers = hv,
		                           .n_headers = h1 ? 1 : 0,
		                           .body = body,
		                           .body_len = strlen(body) };
	char answer[256];
	memset(out, 0, sizeof *out);
	return plugtest_def(pt)->notify_inbound(plugtest_instance(pt), &req, out, answer,
	                                        sizeof answer);
}

/* A form body as the core hands it over (decoded by libmicrohttpd). */
static int call_form(struct plugtest *pt, const char *sig, const char *const *form, size_t n,
                     struct mamori_reply *out)
{
	const char *hv[2] = { "X-Twilio-Signature", sig };
	struct mamori_http_request req = { .struct_size = sizeof req,
		                           .method = "POST",
		                           .url = "/api/v1/notify/inbound/sms",
		                           .content_type = "application/x-www-form-urlencoded",
		                           .headers = hv,
		                           .n_headers = sig ? 1 : 0,
		                           .body = "(raw)",
		                           .body_len = 5,
		                           .form = form,
		                           .n_form = n };
	char answer[256];
	memset(out, 0, sizeof *out);
	return plugtest_def(pt)->notify_inbound(plugtest_instance(pt), &req, out, answer,
	                                        sizeof answer);
}

START_TEST(twilio_signature)
{
	char tok[] = "/tmp/mamori-tw.XXXXXX";
	int fd = mkstemp(tok);
	ck_assert_int_ge(fd, 0);
	close(fd);
	write_secret(tok, "12345678901234567890123456789012\n");
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "template = \"twilio\"; url = \"https://api.twilio.test/2010-04-01/Accounts/AC1/"
	         "Messages.json\"; user = \"AC1\"; secret_file = \"%s\"; from = \"+815000000000\";"
	         " inbound = \"twilio\"; inbound_url = \"https://mamori.example.jp/api/v1/notify/"
	         "inbound/sms\";",
	         tok);
	struct plugtest *pt = plugtest_new("build/plugins/sms.so", conf);
	ck_assert_msg(pt != NULL, "%s", plugtest_last_error());
	/* Twilio's rule: URL, then each parameter's name and value sorted
	 * by name; empty values (FromZip) are signed too */
	const char *form[] = { "To", "+815000000000", "From",      "+819011112222", "FromZip",
		               "",   "Body",          "了解 1234", "MessageSid",    "SM0123" };
	const char *data = "https://mamori.example.jp/api/v1/notify/inbound/sms"
	                   "Body了解 1234From+819011112222FromZipMessageSidSM0123To+815000000000";
	unsigned char mac[20];
	unsigned ml = sizeof mac;
	HMAC(EVP_sha1(), "12345678901234567890123456789012", 32, (const unsigned char *)data,
	     strlen(data), mac, &ml);
	char sig[64];
	EVP_EncodeBlock((unsigned char *)sig, mac, (int)ml);
	struct mamori_reply r;
	ck_assert_int_eq(call_form(pt, sig, form, 5, &r), 200);
	ck_assert_str_eq(r.from, "+819011112222");
	ck_assert_str_eq(r.text, "了解 1234");
	ck_assert_str_eq(r.id, "SM0123");
	/* one changed parameter, one left out, no signature, not a form */
	const char *tampered[] = { "To", "+815000000000", "From",      "+819011112223", "FromZip",
		                   "",   "Body",          "了解 1234", "MessageSid",    "SM0123" };
	ck_assert_int_eq(call_form(pt, sig, tampered, 5, &r), 403);
	ck_assert_int_eq(call_form(pt, sig, form, 4, &r), 403);
	ck_assert_int_eq(call_form(pt, NULL, form, 5, &r), 403);
	ck_assert_int_eq(call_form(pt, sig, NULL, 0, &r), 403);
	const char *body =
	    "To=%2B815000000000&From=%2B819011112222&FromZip=&Body=%E4%BA%86%E8%A7%A3"
	    "+1234&MessageSid=SM0123";
	ck_assert_int_eq(call_inbound(pt, "application/x-www-form-urlencoded", "X-Twilio-Signature",
	                              sig, body, &r),
	                 403); /* a raw body alone: the plugin parses no HTTP */
	plugtest_free(pt);
	unlink(tok);
}
END_TEST

START_TEST(json_inbound_signature)
{
	char key[] = "/tmp/mamori-gw.XXXXXX", tok[] = "/tmp/mamori-gt.XXXXXX";
	close(mkstemp(key));
	close(mkstemp(tok));
	write_secret(key, "inbound-key-0123456789");
	write_secret(tok, "bearer-token");
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "template = \"json\"; url = \"https://gw.test/send\"; secret_file = \"%s\";"
	         " from = \"MAMORI\"; inbound = \"json\"; inbound_secret_file = \"%s\";",
	         tok, key);
	struct plugtest *pt = plugtest_new("build/plugins/sms.so", conf);
	ck_assert_msg(pt != NULL, "%s", plugtest_last_error());
	const char *body = "{\"from\":\"+819011112222\",\"text\":\"ack 1234\",\"id\":\"m1\"}";
	unsigned char mac[32];
	unsigned ml = sizeof mac;
	HMAC(EVP_sha256(), "inbound-key-0123456789", 22, (const unsigned char *)body, strlen(body),
	     mac, &ml);
	char sig[80] = "sha256=";
	for (unsigned i = 0; i < ml; i++)
		snprintf(sig + 7 + 2 * i, 3, "%02x", mac[i]);
	struct mamori_reply r;
	ck_assert_int_eq(call_inbound(pt, "application/json", "X-Mamori-Signature", sig, body, &r),
	                 200);
	ck_assert_str_eq(r.text, "ack 1234");
	sig[10] = sig[10] == '0' ? '1' : '0';
	ck_assert_int_eq(call_inbound(pt, "application/json", "X-Mamori-Signature", sig, body, &r),
	                 403);
	ck_assert_int_eq(call_inbound(pt, "application/json", NULL, NULL, body, &r), 403);
	plugtest_free(pt);
	unlink(key);
	unlink(tok);
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
	tcase_add_test(t, twilio_signature);
	tcase_add_test(t, json_inbound_signature);
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
