/*
 * Unit tests of the mail_latency plugin.
 *   - parse: the pure parsers (plugins/mail_latency/parse.c is included
 *     here) on real server output and on garbage;
 *   - config: check_prepare errors through the real loader (plugtest),
 *     password_file permissions (the host's conf_secret);
 *   - queue: queue mode through plugtest with fixture scripts written here;
 *   - servers: probe mode and queue mode against real Postfix + Dovecot on
 *     loopback (tests/integration/mailserver.sh starts them once for the
 *     whole binary).  Skipped, with a message, only when they cannot start
 *     (not root: Postfix's master needs it).
 * All plugtest checks share one check id (same customer/asset/check), so
 * the server tests run in order in one tcase and start from an empty mailbox.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugins/mail_latency/parse.c"
#include "tests/lib/plugtest.h"
#include "tests/lib/tmpdir.h"

#define SO         so_path()
#define MAILSERVER "tests/integration/mailserver.sh"

static struct {
	char dir[256]; /* temp dir: servers and fixtures */
	int up;        /* servers running */
	char smtp[64], smtps[64], imap[64], imaps[64];
	char ca[300], pw[300], badpw[300], postqueue[400];
} S;

/* The plugin under test: $B/plugins/mail_latency.so (B as in the Makefile). */
static const char *so_path(void)
{
	static char path[300];
	const char *b = getenv("B");
	snprintf(path, sizeof(path), "%s/plugins/mail_latency.so", b && *b ? b : "build");
	return path;
}

/* ---- parse ---- */

START_TEST(tag_roundtrip)
{
	struct ml_tag t = { .seq = 42, .sent_ms = 1700000000123ULL }, u;
	char buf[ML_TAG_MAX], id[ML_ID_LEN + 1], other[ML_ID_LEN + 1];
	ml_check_id("c1", "a1", "mail", id);
	ml_check_id("c1", "a1", "mail2", other);
	ck_assert_int_eq((int)strlen(id), ML_ID_LEN);
	ck_assert_str_ne(id, other);
	memcpy(t.id, id, sizeof(t.id));
	ck_assert_int_gt(ml_tag_format(&t, buf, sizeof(buf)), 0);
	char line[200];
	snprintf(line, sizeof(line), "\"mamori probe %s\" x", buf);
	ck_assert_int_eq(ml_tag_find(line, strlen(line), id, &u), 1);
	ck_assert_uint_eq(u.seq, 42);
	ck_assert_uint_eq(u.sent_ms, 1700000000123ULL);
	ck_assert_int_eq(ml_tag_find(line, strlen(line), other, &u), 0);
	/* our id inside a longer one is not ours; a truncated tag is not one */
	snprintf(line, sizeof(line), "x%s-1-2", id);
	ck_assert_int_eq(ml_tag_find(line, strlen(line), id, &u), 0);
	snprintf(line, sizeof(line), "%s-1-", id);
	ck_assert_int_eq(ml_tag_find(line, strlen(line), id, &u), 0);
	snprintf(line, sizeof(line), "%s-99999999999999999999999-1", id);
	ck_assert_int_eq(ml_tag_find(line, strlen(line), id, &u), 0);
	ck_assert_int_eq(ml_tag_format(&t, buf, 8), -1);
}
END_TEST

START_TEST(search_parse)
{
	uint32_t u[4];
	const char *ok = "* 3 EXISTS\r\n* SEARCH 1 5 9\r\n";
	ck_assert_int_eq(ml_imap_search_parse(ok, strlen(ok), u, 4), 3);
	ck_assert_uint_eq(u[2], 9);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH\r\n", 10, u, 4), 0);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH 1 2 3 4 5 6", 20, u, 4), 4);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH 1 x", 12, u, 4), -1);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH 0", 10, u, 4), -1);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH 4294967296", 19, u, 4), -1);
	ck_assert_int_eq(ml_imap_search_parse("* SEARCH 12a", 12, u, 4), -1);
	ck_assert_int_eq(ml_imap_search_parse("", 0, u, 4), 0);
}
END_TEST

START_TEST(fetch_parse)
{
	char id[ML_ID_LEN + 1], text[1024];
	struct ml_fetched f[4];
	ml_check_id("c", "a", "k", id);
	/* as Dovecot 2.3 answers UID FETCH n (UID INTERNALDATE ENVELOPE) */
	snprintf(text, sizeof(text),
	         "* 1 FETCH (UID 7 INTERNALDATE \"26-Nov-2026 18:09:57 +0100\" ENVELOPE "
	         "(\"Thu, 26 Nov 2026 18:09:57 +0000\" \"mamori probe %s-3-1795716597123\" "
	         "((NIL NIL \"a\" \"m.test\")) NIL NIL NIL NIL NIL NIL \"<x@y>\"))\r\n"
	         "* 2 FETCH (UID 8 ENVELOPE (NIL \"hello\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
	         id);
	ck_assert_int_eq(ml_imap_fetch_parse(text, strlen(text), id, f, 4), 2);
	ck_assert_uint_eq(f[0].uid, 7);
	ck_assert_int_eq(f[0].has_tag, 1);
	ck_assert_uint_eq(f[0].tag.seq, 3);
	ck_assert(f[0].internal_date == 1795716597.0 - 3600);
	ck_assert_int_eq(f[1].has_tag, 0);
	ck_assert(f[1].internal_date == 0);
	const char *bad = "* 1 FETCH (UID x)";
	ck_assert_int_eq(ml_imap_fetch_parse(bad, strlen(bad), id, f, 4), -1);
	bad = "* 1 FETCH (UID 3 INTERNALDATE \"32-Foo-2026 99:00:00 +0000\")";
	ck_assert_int_eq(ml_imap_fetch_parse(bad, strlen(bad), id, f, 4), -1);
	bad = "* 1 FETCH (UID 3 INTERNALDATE \"1-Jan-2026";
	ck_assert_int_eq(ml_imap_fetch_parse(bad, strlen(bad), id, f, 4), -1);
}
END_TEST

START_TEST(date_parse)
{
	double t;
	ck_assert_int_eq(ml_imap_date_parse(" 1-Jan-1970 00:00:00 +0000", 26, &t), 0);
	ck_assert(t == 0);
	ck_assert_int_eq(ml_imap_date_parse("01-Jan-1970 01:00:00 +0100", 26, &t), 0);
	ck_assert(t == 0);
	ck_assert_int_eq(ml_imap_date_parse("01-Jan-1970 00:00:00 -0030", 26, &t), 0);
	ck_assert(t == 1800);
	ck_assert_int_eq(ml_imap_date_parse("01-Jxn-1970 00:00:00 +0000", 26, &t), -1);
	ck_assert_int_eq(ml_imap_date_parse("01-anF-1970 00:00:00 +0000", 26, &t), -1);
	ck_assert_int_eq(ml_imap_date_parse("01-Jan-1970 00:00:00 +00x0", 26, &t), -1);
	ck_assert_int_eq(ml_imap_date_parse("", 0, &t), -1);
}
END_TEST

START_TEST(uid_set)
{
	uint32_t u[3] = { 1, 22, 4294967295u };
	char buf[32];
	ck_assert_int_eq(ml_uid_set(u, 3, buf, sizeof(buf)), 15);
	ck_assert_str_eq(buf, "1,22,4294967295");
	ck_assert_int_eq(ml_uid_set(u, 3, buf, 6), -1);
}
END_TEST

START_TEST(queue_parse)
{
	struct ml_queue_stats st;
	const char *ok =
	    "{\"queue_name\": \"hold\", \"queue_id\": \"A\", \"arrival_time\": 1000, \"recipients\": []}\n"
	    "\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"B\", \"arrival_time\": 900}\n"
	    "{\"queue_name\": \"weird\", \"arrival_time\": 950}";
	ck_assert_int_eq(ml_queue_parse(ok, strlen(ok), &st), 0);
	ck_assert_int_eq(st.count, 3);
	ck_assert(st.oldest_arrival == 900);
	ck_assert_int_eq(st.per_queue[4], 1);
	ck_assert_int_eq(st.per_queue[3], 1);
	ck_assert_int_eq(st.other_queue, 1);
	ck_assert_int_eq(ml_queue_parse("", 0, &st), 0);
	ck_assert_int_eq(st.count, 0);
	const char *bad = "{\"queue_name\": \"hold\", \"arrival_time\": 1}\n{\"queue_name\": 3}";
	ck_assert_int_eq(ml_queue_parse(bad, strlen(bad), &st), 2);
	ck_assert_int_eq(ml_queue_parse("[1,2]", 5, &st), 1);
	ck_assert_int_eq(ml_queue_parse("{\"queue_name\":\"a\",\"arrival_time\":-5}", 37, &st), 1);
	ck_assert_int_eq(ml_queue_parse("postqueue: fatal: x", 19, &st), 1);
	ck_assert_int_eq(ml_queue_parse("{\"queue_name\":\"hold\",", 22, &st), 1);
}
END_TEST

/* Random bytes and mutated real responses through every parser: nothing
 * may crash or read out of bounds (ASan in CI). */
START_TEST(parse_garbage)
{
	char id[ML_ID_LEN + 1], buf[512];
	uint32_t u[ML_MAX_UIDS];
	struct ml_fetched f[ML_MAX_UIDS];
	struct ml_queue_stats st;
	struct ml_tag t;
	double d;
	ml_check_id("c", "a", "k", id);
	const char *seeds[] = { "* SEARCH 1 2 3\r\n",
		                "* 1 FETCH (UID 7 INTERNALDATE \"26-Nov-2026 18:09:57 +0000\")\r\n",
		                "{\"queue_name\": \"hold\", \"arrival_time\": 1}\n",
		                "26-Nov-2026 18:09:57 +0000" };
	unsigned x = 12345;
	for (int i = 0; i < 20000; i++) {
		size_t n = (x = x * 1103515245u + 12345u) % sizeof(buf);
		if (i % 2) {
			const char *s = seeds[i % 4];
			n = strlen(s);
			memcpy(buf, s, n);
			for (int k = 0; k < 3; k++) {
				x = x * 1103515245u + 12345u;
				buf[x % n] = (char)(x >> 16);
			}
		} else {
			for (size_t k = 0; k < n; k++)
				buf[k] = (char)((x = x * 1103515245u + 12345u) >> 16);
		}
		char *exact = malloc(n ? n : 1); /* no slack after the input for ASan */
		memcpy(exact, buf, n);
		ml_imap_search_parse(exact, n, u, ML_MAX_UIDS);
		ml_imap_fetch_parse(exact, n, id, f, ML_MAX_UIDS);
		ml_queue_parse(exact, n, &st);
		ml_tag_find(exact, n, id, &t);
		ml_imap_date_parse(exact, n, &d);
		free(exact);
	}
}
END_TEST

/* ---- config (plugtest, no servers) ---- */

static struct plugtest *load(void)
{
	struct plugtest *pt = plugtest_new(SO, NULL);
	ck_assert_msg(pt != NULL, "load: %s", plugtest_last_error());
	return pt;
}

static void expect_conf_error(const char *conf, const char *needle)
{
	struct plugtest *pt = load();
	ck_assert_int_ne(plugtest_prepare(pt, conf, NULL), 0);
	ck_assert_msg(strstr(plugtest_error(pt), needle), "error '%s' lacks '%s'",
	              plugtest_error(pt), needle);
	plugtest_free(pt);
}

#define GOOD_SMTP                                                                                  \
	"smtp = { url = \"smtp://127.0.0.1:1\"; from = \"a@b.test\"; to = \"p@probe.test\"; };"
#define GOOD_IMAP "imap = { url = \"imap://127.0.0.1:1\"; };"

START_TEST(config_errors)
{
	expect_conf_error("mode = \"bogus\";", "mode must be");
	expect_conf_error("timeout = \"100s\";", "needs a `smtp` group");
	expect_conf_error(GOOD_SMTP "timeout = \"100s\";", "needs a `imap` group");
	expect_conf_error("smtp = { url = \"http://x\"; from = \"a@b\"; to = \"c@d\"; };" GOOD_IMAP
	                  "timeout = \"1000s\";",
	                  "smtp.url must start");
	expect_conf_error(
	    "smtp = { url = \"smtp://x\"; user = \"u\"; from = \"a@b\"; to = \"c@d\"; };" GOOD_IMAP
	    "timeout = \"1000s\";",
	    "password_file");
	expect_conf_error(
	    "smtp = { url = \"smtp://x\"; from = \"a@b\"; to = \"c@d\\r\\nBcc: x@y\"; };" GOOD_IMAP
	    "timeout = \"1000s\";",
	    "smtp.to");
	expect_conf_error(
	    GOOD_SMTP GOOD_IMAP
	    "lost_after = \"60s\"; warning = \"1s\"; critical = \"30s\"; timeout = \"30s\";",
	    "timeout (30s) must be at least lost_after");
	expect_conf_error(GOOD_SMTP GOOD_IMAP
	                  "warning = \"5m\"; critical = \"1m\"; timeout = \"1000s\";",
	                  "warning <= critical");
	expect_conf_error(GOOD_SMTP GOOD_IMAP "lost_after = \"1m\"; timeout = \"100s\";",
	                  "lost_after");
	expect_conf_error("mode = \"queue\"; queue_command = \"postqueue -j\";", "absolute path");
	expect_conf_error("smtp = { url = \"smtp://x\"; port = 3; };", "port");
	struct plugtest *pt = load();
	ck_assert_int_eq(plugtest_prepare(pt,
	                                  GOOD_SMTP GOOD_IMAP
	                                  "lost_after = \"60s\"; warning = \"10s\"; "
	                                  "critical = \"30s\"; timeout = \"80s\";",
	                                  NULL),
	                 0);
	plugtest_free(pt);
}
END_TEST

/* password_file (smtp and imap) is read through the host's conf_secret:
 * refused when others may read it or its group or others may write it,
 * at its line, naming the file and the fix and never the password; 0600
 * and 0640 are fine; a missing file is a clear error. */
START_TEST(secret_file_modes)
{
	static const unsigned ok[] = { 0600, 0640 };
	static const struct {
		unsigned mode;
		const char *why;
	} bad[] = { { 0644, "readable by others" },
		    { 0620, "writable by its group" },
		    { 0646, "writable by others" } };
	static const char *const confs[] = {
		"smtp = { url = \"smtp://127.0.0.1:1\"; user = \"probe\"; password_file = \"%s\"; "
		"from = \"a@b.test\"; to = \"p@probe.test\"; };" GOOD_IMAP
		"lost_after = \"60s\"; warning = \"10s\"; critical = \"30s\"; timeout = \"80s\";",
		GOOD_SMTP "imap = { url = \"imap://127.0.0.1:1\"; user = \"probe\"; "
		          "password_file = \"%s\"; };"
		          "lost_after = \"60s\"; warning = \"10s\"; critical = \"30s\"; "
		          "timeout = \"80s\";",
	};
	char path[300], conf[1024], want[700];
	snprintf(path, sizeof(path), "%s/secret-pw", S.dir);
	for (size_t c = 0; c < sizeof(confs) / sizeof(confs[0]); c++) {
		snprintf(conf, sizeof(conf), confs[c], path);
		unlink(path);
		snprintf(want, sizeof(want), "cannot read file %s: No such file", path);
		expect_conf_error(conf, want);
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			ck_assert_int_eq(tmpdir_write_file(path, "Hunter2-pw\n", ok[i]), 0);
			struct plugtest *pt = load();
			ck_assert_msg(plugtest_prepare(pt, conf, NULL) == 0, "#%zu %04o: %s", c,
			              ok[i], plugtest_error(pt));
			plugtest_free(pt);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ck_assert_int_eq(tmpdir_write_file(path, "Hunter2-pw\n", bad[i].mode), 0);
			snprintf(want, sizeof(want),
			         "key 'password_file': bad permissions %04o on %s: %s", bad[i].mode,
			         path, bad[i].why);
			expect_conf_error(conf, want);
			snprintf(want, sizeof(want), "chmod 600 %s", path);
			expect_conf_error(conf, want);
			struct plugtest *pt = load();
			ck_assert_int_ne(plugtest_prepare(pt, conf, NULL), 0);
			ck_assert_msg(!strstr(plugtest_error(pt), "Hunter2"), "password shown: %s",
			              plugtest_error(pt));
			ck_assert_msg(!strchr(plugtest_error(pt), '\n'), "reported twice: %s",
			              plugtest_error(pt));
			plugtest_free(pt);
		}
	}
	unlink(path);
}
END_TEST

/* ---- queue mode with fixture scripts ---- */

static const char *script(const char *name, const char *body)
{
	static char path[400];
	snprintf(path, sizeof(path), "%s/%s", S.dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static struct plugtest_result queue_run(const char *body, const char *thresholds)
{
	char conf[1024];
	struct plugtest_result r;
	snprintf(conf, sizeof(conf), "mode = \"queue\"; queue_command = \"%s arg1\"; %s",
	         script("q.sh", body), thresholds);
	struct plugtest *pt = load();
	ck_assert_msg(plugtest_prepare(pt, conf, NULL) == 0, "%s", plugtest_error(pt));
	ck_assert_int_eq(plugtest_run(pt, 10, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	plugtest_free(pt);
	return r;
}

START_TEST(queue_fixture)
{
	struct plugtest_result r;
	char body[600];
	long now = (long)time(NULL);
	r = queue_run("exit 0", "");
	ck_assert_int_eq(r.state, MAMORI_OK);
	ck_assert_msg(strstr(r.output, "0 messages"), "%s", r.output);
	snprintf(
	    body, sizeof(body),
	    "[ \"$1\" = arg1 ] || exit 3\n"
	    "echo '{\"queue_name\": \"deferred\", \"queue_id\": \"A\", \"arrival_time\": %ld}'\n"
	    "echo '{\"queue_name\": \"hold\", \"queue_id\": \"B\", \"arrival_time\": %ld}'",
	    now - 100, now - 4000);
	r = queue_run(body, "warning = \"1h\"; critical = \"2h\";");
	ck_assert_int_eq(r.state, MAMORI_WARNING);
	ck_assert_msg(strstr(r.output, "2 messages"), "%s", r.output);
	ck_assert_msg(strstr(r.long_output, "deferred 1, hold 1"), "%s", r.long_output);
	ck_assert_msg(strstr(r.perf, "messages=2"), "%s", r.perf);
	r = queue_run(
	    body, "warning = \"3h\"; critical = \"4h\"; count_warning = 0; count_critical = 1;");
	ck_assert_int_eq(r.state, MAMORI_CRITICAL);
	r = queue_run(
	    body, "warning = \"3h\"; critical = \"4h\"; count_warning = 1; count_critical = 5;");
	ck_assert_int_eq(r.state, MAMORI_WARNING);
	r = queue_run(body, "warning = \"3h\"; critical = \"4h\";");
	ck_assert_int_eq(r.state, MAMORI_OK);
	r = queue_run("echo '{\"queue_name\": \"hold\"'; echo garbage", "");
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strstr(r.output, "line 1"), "%s", r.output);
	r = queue_run("echo 'postqueue: fatal: Queue report unavailable' >&2; exit 69", "");
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strstr(r.output, "exit status 69"), "%s", r.output);
	r = queue_run("head -c 3000 /dev/urandom", "");
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
}
END_TEST

START_TEST(queue_cancel)
{
	char conf[600];
	snprintf(conf, sizeof(conf), "mode = \"queue\"; queue_command = \"%s\";",
	         script("slowq.sh", "exec sleep 5"));
	struct plugtest *pt = load();
	ck_assert_int_eq(plugtest_prepare(pt, conf, NULL), 0);
	ck_assert_int_eq(plugtest_run_cancel(pt, 0.2, 0.5), 0);
	plugtest_free(pt);
}
END_TEST

/* ---- real servers ---- */

static void servers_start(void)
{
	char cmd[1200], path[300], line[600];
	snprintf(cmd, sizeof(cmd), "MS_SLOW_DELAY=3 sh %s start %s/ms >%s/ms.env 2>%s/ms.err",
	         MAILSERVER, S.dir, S.dir, S.dir);
	snprintf(path, sizeof(path), "%s/ms", S.dir);
	mkdir(path, 0755);
	int rc = system(cmd);
	snprintf(path, sizeof(path), "%s/ms.env", S.dir);
	FILE *f = fopen(path, "r");
	if (rc != 0 || !f) {
		snprintf(path, sizeof(path), "%s/ms.err", S.dir);
		FILE *e = fopen(path, "r");
		fprintf(stderr, "SKIP mail_latency server tests: mail servers did not start:\n");
		while (e && fgets(line, sizeof(line), e))
			fputs(line, stderr);
		if (e)
			fclose(e);
		if (f)
			fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = '\0';
		if (*v == '"') {
			v++;
			v[strcspn(v, "\"")] = '\0';
		}
#define SET(k, field, fmt)                                                                         \
	if (!strcmp(line, k))                                                                      \
	snprintf(S.field, sizeof(S.field), fmt, v)
		SET("MS_SMTP_PORT", smtp, "smtp://127.0.0.1:%s");
		SET("MS_SMTPS_PORT", smtps, "smtps://127.0.0.1:%s");
		SET("MS_IMAP_PORT", imap, "imap://127.0.0.1:%s");
		SET("MS_IMAPS_PORT", imaps, "imaps://127.0.0.1:%s");
		SET("MS_CA", ca, "%s");
		SET("MS_PASSWORD_FILE", pw, "%s");
		SET("MS_BAD_PASSWORD_FILE", badpw, "%s");
		SET("MS_POSTQUEUE", postqueue, "%s");
#undef SET
	}
	fclose(f);
	S.up = 1;
}

static void ms(const char *verb, const char *arg)
{
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "sh %s %s %s/ms %s >/dev/null 2>&1", MAILSERVER, verb, S.dir,
	         arg);
	ck_assert_int_eq(system(cmd), 0);
}

/* Expunge everything from the probe mailbox (between tests). */
static void drain(void)
{
	ms("drain", "");
}

static int mailbox_count(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "sh %s count %s/ms", MAILSERVER, S.dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

/* A probe check: smtp/imap URL, recipient, SMTP and IMAP password files,
 * then extra keys. */
static struct plugtest *probe_check(const char *smtp, const char *to, const char *imap,
                                    const char *spw, const char *ipw, const char *extra)
{
	char conf[2048];
	snprintf(
	    conf, sizeof(conf),
	    "smtp = { url = \"%s\"; user = \"probe\"; password_file = \"%s\"; from = \"mon@mamori.test\";"
	    " to = \"%s\"; ca_file = \"%s\"; };\n"
	    "imap = { url = \"%s\"; user = \"probe\"; password_file = \"%s\"; ca_file = \"%s\"; };\n"
	    "poll_interval = \"200ms\"; %s",
	    smtp, spw, to, S.ca, imap, ipw, S.ca, extra);
	struct plugtest *pt = load();
	ck_assert_msg(plugtest_prepare(pt, conf, NULL) == 0, "%s", plugtest_error(pt));
	return pt;
}

#define NEED_SERVERS()                                                                             \
	do {                                                                                       \
		if (!S.up)                                                                         \
			return; /* reported once at start */                                       \
		drain();                                                                           \
	} while (0)

START_TEST(probe_delivered)
{
	NEED_SERVERS();
	struct plugtest_result r;
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@probe.test", S.imap, S.pw, S.pw,
	    "warning = \"5s\"; critical = \"8s\"; lost_after = \"10s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	ck_assert_msg(r.state == MAMORI_OK, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.output, "delivered in"), "%s", r.output);
	ck_assert_msg(strstr(r.perf, "latency="), "%s", r.perf);
	ck_assert_msg(strstr(r.perf, "late_probes=0"), "%s", r.perf);
	ck_assert_int_eq(mailbox_count(), 0); /* the probe was deleted */
	/* implicit TLS on both sides */
	plugtest_free(pt);
	pt = probe_check(
	    S.smtps, "probe@probe.test", S.imaps, S.pw, S.pw,
	    "warning = \"5s\"; critical = \"8s\"; lost_after = \"10s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_OK, "%d %s", r.state, r.output);
	ck_assert_int_eq(mailbox_count(), 0);
	plugtest_free(pt);
}
END_TEST

START_TEST(probe_auth_failure)
{
	NEED_SERVERS();
	struct plugtest_result r;
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@probe.test", S.imap, S.badpw, S.pw,
	    "lost_after = \"10s\"; warning = \"5s\"; critical = \"5s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_UNKNOWN, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.output, "SMTP authentication failed for user probe"), "%s",
	              r.output);
	ck_assert_msg(!strstr(r.output, "secret"), "password leaked: %s", r.output);
	plugtest_free(pt);
	pt = probe_check(
	    S.smtp, "probe@probe.test", S.imap, S.pw, S.badpw,
	    "lost_after = \"10s\"; warning = \"5s\"; critical = \"5s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_UNKNOWN, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.output, "IMAP login failed"), "%s", r.output);
	plugtest_free(pt);
	/* that probe is delivered but was never looked at: wait for it, drop it */
	for (int i = 0; i < 50 && mailbox_count() < 1; i++)
		usleep(100000);
	ck_assert_int_eq(mailbox_count(), 1);
	drain();
}
END_TEST

START_TEST(probe_lost)
{
	NEED_SERVERS();
	struct plugtest_result r;
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@lost.test", S.imap, S.pw, S.pw,
	    "lost_after = \"2s\"; warning = \"1s\"; critical = \"2s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	ck_assert_msg(r.state == MAMORI_CRITICAL, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.output, "probe not delivered within 2 s"), "%s", r.output);
	ck_assert(r.duration >= 2.0 && r.duration < 15.0);
	plugtest_free(pt);
}
END_TEST

START_TEST(probe_delayed)
{
	NEED_SERVERS();
	struct plugtest_result r;
	/* slow.test: a transport that holds every message 3 s */
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@slow.test", S.imap, S.pw, S.pw,
	    "warning = \"2s\"; critical = \"8s\"; lost_after = \"10s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_WARNING, "%d %s", r.state, r.output);
	double lat = -1;
	const char *p = strstr(r.perf, "latency=");
	ck_assert_ptr_nonnull(p);
	sscanf(p + 8, "%lf", &lat);
	ck_assert_msg(lat >= 2.5 && lat < 6, "latency %f", lat);
	plugtest_free(pt);
}
END_TEST

START_TEST(probe_late)
{
	NEED_SERVERS();
	struct plugtest_result r;
	/* run 1: the slow path (3 s) with lost_after 1 s: reported lost */
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@slow.test", S.imap, S.pw, S.pw,
	    "lost_after = \"1s\"; warning = \"1s\"; critical = \"1s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_CRITICAL && strstr(r.output, "not delivered"), "%s",
	              r.output);
	/* run 2 (same check): its own probe arrives after the old one */
	plugtest_free(pt);
	pt = probe_check(
	    S.smtp, "probe@slow.test", S.imap, S.pw, S.pw,
	    "lost_after = \"10s\"; warning = \"6s\"; critical = \"8s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_msg(r.state == MAMORI_OK, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.long_output, "from an older run arrived after"), "%s",
	              r.long_output);
	ck_assert_msg(strstr(r.perf, "late_probes=1"), "%s", r.perf);
	ck_assert_msg(strstr(r.perf, "late_latency="), "%s", r.perf);
	ck_assert_int_eq(mailbox_count(), 0);
	plugtest_free(pt);
}
END_TEST

START_TEST(queue_real)
{
	NEED_SERVERS();
	struct plugtest_result r;
	char conf[600];
	ms("hold", "on");
	/* the probe is accepted, then held: lost for this run */
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@probe.test", S.imap, S.pw, S.pw,
	    "lost_after = \"1s\"; warning = \"1s\"; critical = \"1s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run(pt, 25, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_CRITICAL);
	plugtest_free(pt);
	snprintf(conf, sizeof(conf), "mode = \"queue\"; queue_command = \"%s\"; count_warning = 0;",
	         S.postqueue);
	pt = load();
	ck_assert_msg(plugtest_prepare(pt, conf, NULL) == 0, "%s", plugtest_error(pt));
	ck_assert_int_eq(plugtest_run(pt, 10, &r), 0);
	ck_assert_msg(r.state == MAMORI_WARNING, "%d %s", r.state, r.output);
	ck_assert_msg(strstr(r.output, "1 message queued"), "%s", r.output);
	ck_assert_msg(strstr(r.long_output, "hold 1"), "%s", r.long_output);
	plugtest_free(pt);
	ms("hold", "off");
	ms("release", "");
	for (int i = 0; i < 50 && mailbox_count() < 1; i++)
		usleep(100000); /* a real server delivering, not a timing guess */
	ck_assert_int_eq(mailbox_count(), 1);
	drain();
}
END_TEST

START_TEST(probe_cancel)
{
	NEED_SERVERS();
	struct plugtest *pt = probe_check(
	    S.smtp, "probe@lost.test", S.imap, S.pw, S.pw,
	    "lost_after = \"10s\"; warning = \"5s\"; critical = \"5s\"; timeout = \"30s\";");
	ck_assert_int_eq(plugtest_run_cancel(pt, 0, 0.5), 0);   /* during SMTP */
	ck_assert_int_eq(plugtest_run_cancel(pt, 1.5, 1.0), 0); /* while polling */
	plugtest_free(pt);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mail_latency");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, tag_roundtrip);
	tcase_add_test(tc, search_parse);
	tcase_add_test(tc, fetch_parse);
	tcase_add_test(tc, date_parse);
	tcase_add_test(tc, uid_set);
	tcase_add_test(tc, queue_parse);
	tcase_add_test(tc, parse_garbage);
	suite_add_tcase(s, tc);
	tc = tcase_create("plugin");
	tcase_add_test(tc, config_errors);
	tcase_add_test(tc, secret_file_modes);
	tcase_add_test(tc, queue_fixture);
	tcase_add_test(tc, queue_cancel);
	suite_add_tcase(s, tc);
	tc = tcase_create("servers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, probe_delivered);
	tcase_add_test(tc, probe_auth_failure);
	tcase_add_test(tc, probe_lost);
	tcase_add_test(tc, probe_delayed);
	tcase_add_test(tc, probe_late);
	tcase_add_test(tc, queue_real);
	tcase_add_test(tc, probe_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char tmpl[] = "/tmp/mamori-mail-test.XXXXXX";
	char cmd[1000];
	if (!mkdtemp(tmpl))
		return 1;
	chmod(tmpl, 0755);
	snprintf(S.dir, sizeof(S.dir), "%s", tmpl);
	servers_start();
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* MAMORI_TEST_KEEP=1 keeps the servers' logs and mail for a look */
	snprintf(cmd, sizeof(cmd), "sh %s stop %s/ms >/dev/null 2>&1; %s %s", MAILSERVER, S.dir,
	         getenv("MAMORI_TEST_KEEP") ? "echo kept" : "rm -rf", S.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", S.dir);
	return failed ? 1 : 0;
}
