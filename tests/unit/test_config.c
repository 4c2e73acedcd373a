/*
 * Unit tests: the configuration loader (src/config) with the real plugin
 * loader (dummy, exec and the passive test plugin).
 *
 * Every kind of error must produce a message naming file and line (the
 * exact line is asserted), all errors of a file are reported at once, and
 * a config with any error is refused.  Defaults are inherited global ->
 * customer -> asset -> check; passive checks default to max_attempts 1;
 * @include works and errors inside included files name that file.
 * Garbage (random bytes, every truncation of a valid file, byte
 * mutations) never crashes and is never refused silently.
 */
#include "config/config.h"
#include "plugin/loader.h"
#include "util/log.h"

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX "tests/fixtures/core/"

/* libconfig 1.5 (Debian 12) leaks its scanner's string buffer when a
 * syntax error interrupts a string (config_destroy cannot reach it); the
 * garbage tests hit that on purpose.  Read by LeakSanitizer builds only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\n";
}

struct errs {
	char buf[32768];
	size_t len;
	int n;
	int without_line; /* messages lacking "file:line: " */
};

static struct loader *L;
static regex_t where_re;

static void setup(void)
{
	log_set_level(LOG_LVL_ERR);
	L = loader_new();
	ck_assert_ptr_nonnull(loader_load(L, "build/plugins/dummy.so")->def);
	ck_assert_ptr_nonnull(loader_load(L, "build/plugins/exec.so")->def);
	ck_assert_ptr_nonnull(loader_load(L, "build/tests/plugins/passive_test.so")->def);
	ck_assert_int_eq(regcomp(&where_re, "^[^:]+:[1-9][0-9]*: ", REG_EXTENDED | REG_NOSUB), 0);
}

static void teardown(void)
{
	loader_free(L);
	regfree(&where_re);
}

static void on_err(void *ud, const char *msg)
{
	struct errs *e = ud;
	size_t n = strlen(msg);
	if (e->len + n + 2 < sizeof e->buf) {
		memcpy(e->buf + e->len, msg, n);
		e->len += n;
		e->buf[e->len++] = '\n';
		e->buf[e->len] = '\0';
	}
	if (regexec(&where_re, msg, 0, NULL, 0) != 0)
		e->without_line++;
	e->n++;
}

static struct mconf *load(const char *text, struct errs *e)
{
	memset(e, 0, sizeof *e);
	return config_load_string(text, L, NULL, on_err, e);
}

static struct mconf *load_file(const char *path, struct errs *e)
{
	memset(e, 0, sizeof *e);
	return config_load(path, L, NULL, on_err, e);
}

/* The config must be refused with a message containing every needle. */
static void refused(const char *text, const char *n1, const char *n2)
{
	struct errs e;
	struct mconf *c = load(text, &e);
	if (c) {
		mconf_free(c);
		ck_abort_msg("accepted, expected an error with '%s':\n%s", n1, text);
	}
	if (!strstr(e.buf, n1) || (n2 && !strstr(e.buf, n2)))
		ck_abort_msg("errors do not mention '%s' / '%s':\n%s", n1, n2 ? n2 : "", e.buf);
	ck_assert_int_ge(e.n, 1);
	ck_assert_int_eq(e.without_line, 0);
}

static void accepted(const char *text)
{
	struct errs e;
	struct mconf *c = load(text, &e);
	if (!c)
		ck_abort_msg("refused:\n%s\nconfig:\n%s", e.buf, text);
	mconf_free(c);
}

#define ONE_CHECK(check_body)                                                                      \
	"customers = ( { id = \"c1\"; assets = ( { name = \"a1\"; checks = ( { " check_body        \
	" } ); } ); } );\n"

/* ---- unknown keys ---- */

START_TEST(unknown_key_top_level)
{
	refused("daemon = { };\nbogus = 1;\n", "(config):2: top level: unknown key 'bogus'", NULL);
}
END_TEST

START_TEST(unknown_key_daemon)
{
	refused("daemon = {\n  log_level = \"info\";\n  statedir = \"/tmp\";\n};\n",
	        "(config):3: daemon: unknown key 'statedir'", "known: state_dir");
}
END_TEST

START_TEST(unknown_key_customer)
{
	refused("customers = (\n { id = \"c1\";\n   colour = \"red\"; } );\n",
	        "(config):3: customer 'c1': unknown key 'colour'", NULL);
}
END_TEST

START_TEST(unknown_key_asset)
{
	refused("customers = ( { id = \"c1\";\n assets = ( { name = \"a1\";\n  adress = \"x\"; } "
	        "); } );\n",
	        "(config):3: asset 'a1' of customer 'c1': unknown key 'adress'", NULL);
}
END_TEST

START_TEST(unknown_key_check)
{
	refused("customers = ( { id = \"c1\"; assets = ( { name = \"a1\";\n checks = (\n"
	        "  { plugin = \"dummy\";\n    stat = 2; } ); } ); } );\n",
	        "(config):4: check 'dummy' of asset 'a1': unknown key 'stat'", "state");
}
END_TEST

START_TEST(unknown_key_plugin_block)
{
	refused("plugins = ( { name = \"dummy\";\n  max_concurent = 2; } );\n",
	        "(config):2: plugin 'dummy': unknown key 'max_concurent'", "max_concurrent");
}
END_TEST

START_TEST(unknown_key_defaults)
{
	refused("defaults = {\n intervall = \"1m\"; };\n",
	        "(config):2: defaults: unknown key 'intervall'", NULL);
}
END_TEST

/* ---- types and values ---- */

START_TEST(wrong_types)
{
	refused("daemon = {\n log_level = 3; };\n",
	        "(config):2: daemon: key 'log_level' must be a string", NULL);
	refused(ONE_CHECK("plugin = \"dummy\";\n state = \"two\";"),
	        "(config):2:", "'state' must be an integer");
	refused(ONE_CHECK("plugin = \"dummy\";\n max_attempts = \"3\";"),
	        "(config):2:", "'max_attempts' must be an integer");
	refused(ONE_CHECK("plugin = \"dummy\";\n flap_detection = 1;"),
	        "(config):2:", "'flap_detection' must be true or false");
	refused("customers = { id = \"c1\"; };\n", "(config):1:", "must be a list");
	refused("customers = (\n 42 );\n", "(config):2:", "must be a group");
	refused(ONE_CHECK("plugin = 5;"), "(config):1:", "needs 'plugin'");
	refused("daemon = 7;\n", "(config):1:", "'daemon' must be a group");
}
END_TEST

START_TEST(bad_durations)
{
	static const char *const bad[] = { "\"5 minutes\"", "\"1x\"",  "\"\"",     "\"-5s\"", "-3",
		                           "\"s\"",         "\"5m5\"", "\"NaNs\"", NULL };
	for (int i = 0; bad[i]; i++) {
		char text[512];
		snprintf(text, sizeof text, ONE_CHECK("plugin = \"dummy\";\n interval = %s;"),
		         bad[i]);
		refused(text, "(config):2:", "bad duration");
	}
	refused(ONE_CHECK("plugin = \"dummy\";\n timeout = \"0s\";"),
	        "(config):2:", "timeout must be more than 0");
	refused("daemon = {\n flush_interval = \"soon\"; };\n", "(config):2:", "bad duration");
	accepted(ONE_CHECK(
	    "plugin = \"dummy\"; interval = \"500ms\"; retry_interval = 30; timeout = \"1.5s\";"));
}
END_TEST

START_TEST(history_forward)
{
	struct errs e;
	struct mconf *c = load("daemon = { };\n", &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->history.forward.graphite);
	ck_assert_uint_eq(c->history.forward.buffer, 1 << 20);
	mconf_free(c);
	c = load("history = { forward = { graphite = \"127.0.0.1:2003\"; prefix = \"noc.mamori\";"
	         " buffer = 65536; }; };\n",
	         &e);
	ck_assert_msg(c != NULL, "%s", e.buf);
	ck_assert_str_eq(c->history.forward.graphite, "127.0.0.1:2003");
	ck_assert_str_eq(c->history.forward.prefix, "noc.mamori");
	ck_assert_uint_eq(c->history.forward.buffer, 65536);
	mconf_free(c);
	accepted("history = { forward = { graphite = \"[::1]:2003\"; prefix = \"\"; }; };\n");
	accepted("history = { forward = { graphite = \"10.0.0.1:65535\"; }; };\n");
	refused("history = {\n forward = {\n graphite = \"carbon.example:2003\"; }; };\n",
	        "(config):3:", "numeric address with a port");
	refused("history = { forward = {\n graphite = \"127.0.0.1\"; }; };\n",
	        "(config):2:", "history.forward.graphite");
	refused("history = { forward = {\n graphite = \"127.0.0.1:0\"; }; };\n",
	        "(config):2:", NULL);
	refused("history = { forward = {\n graphite = \"127.0.0.1:65536\"; }; };\n",
	        "(config):2:", NULL);
	refused("history = { forward = {\n graphite = \"127.0.0.1:20 03\"; }; };\n",
	        "(config):2:", NULL);
	refused("history = { forward = {\n graphite = \"::1:2003\"; }; };\n", "(config):2:", NULL);
	refused("history = { forward = {\n graphite = 2003; }; };\n", "(config):2:", NULL);
	refused(
	    "history = { forward = { graphite = \"127.0.0.1:2003\";\n prefix = \"a..b\"; }; };\n",
	    "(config):2:", "history.forward.prefix");
	refused(
	    "history = { forward = { graphite = \"127.0.0.1:2003\";\n prefix = \"a b\"; }; };\n",
	    "(config):2:", "history.forward.prefix");
	refused("history = { forward = { graphite = \"127.0.0.1:2003\";\n prefix = \"x.\"; }; };\n",
	        "(config):2:", "history.forward.prefix");
	refused("history = { forward = { graphite = \"127.0.0.1:2003\";\n buffer = 100; }; };\n",
	        "(config):2:", "history.forward.buffer must be between");
	refused("history = { forward = { graphite = \"127.0.0.1:2003\";\n udp = \"x\"; }; };\n",
	        "(config):2:", "unknown key 'udp'");
	c = load("history = { forward = { influx = \"udp://127.0.0.1:8089\"; }; };\n", &e);
	ck_assert_msg(c != NULL, "%s", e.buf);
	ck_assert_str_eq(c->history.forward.influx, "udp://127.0.0.1:8089");
	ck_assert_ptr_null(c->history.forward.graphite);
	mconf_free(c);
	refused("history = { forward = {\n influx = \"127.0.0.1:8089\"; }; };\n",
	        "(config):2:", "history.forward.influx must be udp://");
	refused("history = { forward = {\n influx = \"tcp://127.0.0.1:8089\"; }; };\n",
	        "(config):2:", "history.forward.influx");
	refused("history = { forward = {\n influx = \"udp://influx.example:8089\"; }; };\n",
	        "(config):2:", "history.forward.influx");
	refused(
	    "history = { forward = { graphite = \"127.0.0.1:2003\";\n influx = \"udp://127.0.0.1:8089\"; }; };\n",
	    "(config):2:", "graphite or influx, not both");
	refused("history = {\n forward = { prefix = \"m\"; }; };\n",
	        "(config):2:", "history.forward needs graphite or influx");
}
END_TEST

START_TEST(history_group)
{
	/* defaults */
	struct errs e;
	struct mconf *c = load("daemon = { };\n", &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->history.enabled, 1);
	ck_assert(c->history.raw_retention == 48 * 3600.0);
	ck_assert(c->history.rollup_5m_retention == 35 * 86400.0);
	ck_assert(c->history.rollup_1h_retention == 395 * 86400.0);
	ck_assert(c->history.raw_min_interval == 10);
	ck_assert(c->history.flush_interval == 1);
	ck_assert_uint_eq(c->history.max_labels, 64);
	mconf_free(c);
	/* every key */
	c = load(
	    "history = { enabled = false; raw_retention = \"24h\"; rollup_5m_retention = \"7d\";"
	    " rollup_1h_retention = \"2w\"; raw_min_interval = \"0s\"; max_labels = 8;"
	    " flush_interval = \"0s\"; };\n",
	    &e);
	ck_assert_msg(c != NULL, "%s", e.buf);
	ck_assert_int_eq(c->history.enabled, 0);
	ck_assert(c->history.raw_retention == 86400);
	ck_assert(c->history.rollup_5m_retention == 7 * 86400.0);
	ck_assert(c->history.rollup_1h_retention == 14 * 86400.0);
	ck_assert(c->history.raw_min_interval == 0);
	ck_assert(c->history.flush_interval == 0);
	ck_assert_uint_eq(c->history.max_labels, 8);
	mconf_free(c);
	/* refused with file:line */
	refused("history = {\n  raw_retention = \"48h\";\n  retention = \"1d\"; };\n",
	        "(config):3: history: unknown key 'retention'", "known: enabled");
	refused("history = {\n enabled = \"yes\"; };\n", "(config):2:", NULL);
	refused("history = {\n raw_retention = \"soon\"; };\n", "(config):2:", "bad duration");
	refused("history = {\n raw_retention = \"10m\"; };\n",
	        "(config):2:", "history.raw_retention must be between 1h and 30d");
	refused("history = {\n rollup_1h_retention = \"20y\"; };\n", "(config):2:", NULL);
	refused("history = {\n rollup_5m_retention = \"1d\"; raw_retention = \"2d\"; };\n",
	        "(config):2:", "rollup_5m_retention must be at least raw_retention");
	refused("history = {\n rollup_1h_retention = \"10d\"; };\n",
	        "(config):2:", "rollup_1h_retention must be at least rollup_5m_retention");
	refused("history = {\n raw_min_interval = \"2h\"; };\n",
	        "(config):2:", "history.raw_min_interval must be between 0s and 1h");
	refused("history = {\n flush_interval = \"11m\"; };\n",
	        "(config):2:", "history.flush_interval must be between 0s and 10m");
	refused("history = {\n max_labels = 0; };\n",
	        "(config):2:", "history.max_labels must be between 1 and 256");
	refused("history = {\n max_labels = 1000; };\n", "(config):2:", NULL);
	refused("history = 5;\n", "(config):1:", NULL);
}
END_TEST

START_TEST(reports_group)
{
	struct errs e;
	struct mconf *c = load("daemon = { };\n", &e);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->reports.calendar);
	ck_assert_str_eq(c->reports.lang, "ja");
	ck_assert_int_eq(c->reports.workers, 1);
	ck_assert_int_eq(c->reports.schedule, 1);
	mconf_free(c);
	c = load(
	    "calendars = ( { name = \"biz\"; timezone = \"Asia/Tokyo\";"
	    " hours = [ \"mon-fri 09:00-18:00\" ]; } );\n"
	    "reports = { calendar = \"biz\"; lang = \"en\"; workers = 2; schedule = false; };\n"
	    "customers = ( { id = \"c1\"; report = { email = [ \"boss@example.co.jp\","
	    " \"it@example.co.jp\" ]; lang = \"ja\"; calendar = \"always\"; }; },"
	    " { id = \"c2\"; sla = { calendar = \"biz\"; tiers = ( { name = \"t\"; } ); }; } );\n",
	    &e);
	ck_assert_msg(c != NULL, "%s", e.buf);
	ck_assert_str_eq(c->reports.calendar, "biz");
	ck_assert_str_eq(c->reports.lang, "en");
	ck_assert_int_eq(c->reports.workers, 2);
	ck_assert_int_eq(c->reports.schedule, 0);
	ck_assert_int_eq(c->customers[0].report.set, 1);
	ck_assert_uint_eq(c->customers[0].report.n_email, 2);
	ck_assert_str_eq(c->customers[0].report.email[1], "it@example.co.jp");
	ck_assert_str_eq(c->customers[0].report.lang, "ja");
	ck_assert_str_eq(c->customers[0].report.calendar, "always");
	ck_assert_int_eq(c->customers[1].report.set, 0);
	ck_assert_str_eq(c->customers[1].sla_calendar, "biz");
	mconf_free(c);
	refused("reports = {\n calendar = \"nope\"; };\n",
	        "(config):2:", "reports: undefined calendar 'nope'");
	refused("reports = {\n lang = \"fr\"; };\n", "(config):2:", "reports.lang must be");
	refused("reports = {\n workers = 0; };\n",
	        "(config):2:", "reports.workers must be between 1 and 8");
	refused("reports = {\n workers = 99; };\n", "(config):2:", NULL);
	refused("reports = {\n when = \"now\"; };\n", "(config):2: reports: unknown key 'when'",
	        NULL);
	refused(
	    "customers = ( { id = \"c1\";\n report = { email = [ \"not an address\" ]; }; } );\n",
	    "(config):2:", "'not an address' is not an e-mail address");
	refused("customers = ( { id = \"c1\";\n report = { email = [ \"a@b\" ]; }; } );\n",
	        "(config):2:", "is not an e-mail address");
	refused("customers = ( { id = \"c1\";\n report = { email = [ \"x<y>@b.jp\" ]; }; } );\n",
	        "(config):2:", "is not an e-mail address");
	refused("customers = ( { id = \"c1\";\n report = { lang = \"de\"; }; } );\n",
	        "(config):2:", "lang must be \"ja\" or \"en\"");
	refused("customers = ( { id = \"c1\";\n report = { calendar = \"x\"; }; } );\n",
	        "(config):2:", "undefined calendar 'x'");
	refused("customers = ( { id = \"c1\";\n report = { mail = [ ]; }; } );\n",
	        "(config):2:", "unknown key 'mail'");
}
END_TEST

START_TEST(max_attempts_range)
{
	refused(ONE_CHECK("plugin = \"dummy\";\n max_attempts = 0;"),
	        "(config):2:", "max_attempts must be 1..100");
	refused(ONE_CHECK("plugin = \"dummy\";\n max_attempts = 101;"),
	        "(config):2:", "max_attempts must be 1..100");
	refused(ONE_CHECK("plugin = \"dummy\";\n max_attempts = -1;"),
	        "(config):2:", "max_attempts must be 1..100");
	refused("defaults = {\n max_attempts = 1000; };\n",
	        "(config):2:", "max_attempts must be 1..100");
	accepted(ONE_CHECK("plugin = \"dummy\"; max_attempts = 100;"));
	accepted(ONE_CHECK("plugin = \"dummy\"; max_attempts = 1;"));
	refused(ONE_CHECK("plugin = \"dummy\";\n stale_state = 4;"),
	        "(config):2:", "stale_state must be 0..3");
	refused(ONE_CHECK("plugin = \"dummy\";\n service = \"coffee\";"),
	        "(config):2:", "unknown service 'coffee'");
}
END_TEST

/* ---- duplicates ---- */

START_TEST(duplicate_names)
{
	refused("customers = ( { id = \"c1\"; },\n { id = \"c1\"; } );\n",
	        "(config):2: duplicate customer id 'c1'", NULL);
	refused("customers = ( { id = \"c1\"; assets = ( { name = \"a\"; },\n { name = \"a\"; } ); "
	        "} );\n",
	        "(config):2: customer 'c1': duplicate asset name 'a'", NULL);
	refused(ONE_CHECK("plugin = \"dummy\"; },\n { plugin = \"dummy\";"),
	        "(config):2:", "duplicate check name 'dummy'");
	/* Two checks of one plugin are fine once named apart. */
	accepted(ONE_CHECK("plugin = \"dummy\"; }, { plugin = \"dummy\"; name = \"second\";"));
	refused("calendars = ( { name = \"biz\"; timezone = \"UTC\"; hours = [\"mon-fri "
	        "09:00-17:00\"]; },\n"
	        " { name = \"biz\"; timezone = \"UTC\"; hours = [\"mon-fri 09:00-17:00\"]; } );\n",
	        "(config):2: duplicate calendar name 'biz'", NULL);
	refused("plugins = ( { name = \"dummy\"; },\n { name = \"dummy\"; } );\n",
	        "(config):2: plugins: 'dummy' configured twice", NULL);
	refused("centers = ( { name = \"cc\"; },\n { name = \"cc\"; } );\n",
	        "(config):2: centers: duplicate name 'cc'", NULL);
}
END_TEST

/* ---- references ---- */

START_TEST(undefined_references)
{
	refused(ONE_CHECK("plugin = \"dummy\";\n check_period = \"office\";"),
	        "(config):2:", "undefined calendar 'office'");
	refused("centers = ( { name = \"cc\";\n calendar = \"nope\"; } );\n",
	        "(config):2:", "undefined calendar 'nope'");
	refused("centers = ( { name = \"cc\"; } );\nroutes = ( { service = \"utm\";\n center = "
	        "\"elsewhere\"; } );\n",
	        "(config):3: routes: undefined center 'elsewhere'", NULL);
	refused(ONE_CHECK("\n plugin = \"nosuch\";"), "(config):2:", "unknown plugin 'nosuch'");
	refused("plugins = ( {\n name = \"nosuch\"; } );\n",
	        "(config):1:", "no plugin named 'nosuch'");
	refused("customers = ( { id = \"c1\";\n assets = ( { name = \"a\"; parent = \"gw\"; } ); } "
	        ");\n",
	        "(config):2:", "asset 'a' names undefined parent 'gw'");
	refused("customers = ( { id = \"c1\";\n agents = { nosuch = { }; }; } );\n",
	        "(config):2:", "agents: unknown plugin 'nosuch'");
	refused("customers = ( { id = \"c1\";\n agents = { dummy = { }; }; } );\n",
	        "(config):2:", "not passive");
	refused("downtimes = ( {\n customer = \"ghost\"; start = \"2026-01-01 00:00\"; end = "
	        "\"2026-01-02 00:00\"; } );\n",
	        "(config):1:", "undefined customer 'ghost'");
}
END_TEST

START_TEST(parent_cycle)
{
	refused("customers = ( { id = \"c1\";\n assets = ( { name = \"a\"; parent = \"b\"; },\n"
	        " { name = \"b\"; parent = \"c\"; }, { name = \"c\"; parent = \"a\"; } ); } );\n",
	        "(config):2:", "is a cycle");
	refused(
	    "customers = ( { id = \"c1\";\n assets = ( { name = \"a\"; parent = \"a\"; } ); } );\n",
	    "(config):2:", "is a cycle");
	/* A chain is fine. */
	accepted("customers = ( { id = \"c1\"; assets = ( { name = \"a\"; parent = \"b\"; },"
	         " { name = \"b\"; parent = \"c\"; }, { name = \"c\"; } ); } );\n");
}
END_TEST

START_TEST(all_errors_reported)
{
	struct errs e;
	struct mconf *c = load("bogus = 1;\n"
	                       "daemon = { statedir = \"x\"; };\n" ONE_CHECK(
	                           "plugin = \"dummy\"; max_attempts = 0; colour = 1;"),
	                       &e);
	ck_assert_ptr_null(c);
	ck_assert_int_ge(e.n, 4);
	ck_assert_ptr_nonnull(strstr(e.buf, "(config):1:"));
	ck_assert_ptr_nonnull(strstr(e.buf, "(config):2:"));
	ck_assert_ptr_nonnull(strstr(e.buf, "(config):3:"));
}
END_TEST

START_TEST(bad_names)
{
	refused("customers = ( { id = \"a/b\"; } );\n", "(config):1:", "MQTT topic level");
	refused("customers = ( { id = \"c1\"; assets = ( { name = \"x#\"; } ); } );\n",
	        "(config):1:", "MQTT topic level");
	refused(ONE_CHECK("plugin = \"dummy\"; name = \"a+b\";"),
	        "(config):1:", "MQTT topic level");
}
END_TEST

/* ---- inheritance ---- */

static const struct cfg_check *find_check(const struct mconf *c, const char *cu, const char *as,
                                          const char *ck)
{
	for (size_t i = 0; i < c->n_customers; i++) {
		if (strcmp(c->customers[i].id, cu) != 0)
			continue;
		for (size_t j = 0; j < c->customers[i].n_assets; j++) {
			const struct cfg_asset *a = &c->customers[i].assets[j];
			if (strcmp(a->name, as) != 0)
				continue;
			for (size_t k = 0; k < a->n_checks; k++)
				if (strcmp(a->checks[k].name, ck) == 0)
					return &a->checks[k];
		}
	}
	return NULL;
}

/* ---- runbook ---- */

START_TEST(runbook_values)
{
	char why[200];
	static const char *const ok[] = {
		"https://wiki.example.net/runbooks/defender-passive",
		"http://intra/kb?id=12#top",
		"HTTPS://WIKI.EXAMPLE/x",
		"Call the customer and ask them to turn real-time protection on",
		"お客様に連絡し、Defender のリアルタイム保護を有効にしてもらう",
		"javascript:alert(1) is shown as text, never linked", /* a space: text */
		"KB 123: restart the UTM",
		"",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		ck_assert_msg(config_runbook_check(ok[i], why, sizeof why) == 0, "refused '%s': %s",
		              ok[i], why);
	static const char *const bad[] = {
		"javascript:alert(1)",
		"JavaScript:void(0)",
		"data:text/html,<script>alert(1)</script>",
		"file:///etc/passwd",
		"ftp://files.example/x",
		"mailto:noc@example.net",
		"vbscript:x",
		"http:example.net",
		"https://",
		"http:///path",
		"http://@x",
		"two\nlines",
		"a\ttab",
		"escape \x1b[31m red",
		"del \x7f",
		"c1 \xc2\x85 next line",
		"bad utf-8 \xff\xfe",
		"overlong \xc0\xaf",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why[0] = 0;
		ck_assert_msg(config_runbook_check(bad[i], why, sizeof why) == -1,
		              "accepted runbook #%zu", i);
		ck_assert_msg(why[0] != 0, "no reason for #%zu", i);
	}
	/* the length limit, in bytes */
	char big[CONFIG_RUNBOOK_MAX + 2];
	memset(big, 'x', sizeof big);
	big[CONFIG_RUNBOOK_MAX] = 0;
	ck_assert_int_eq(config_runbook_check(big, why, sizeof why), 0);
	big[CONFIG_RUNBOOK_MAX] = 'x';
	big[CONFIG_RUNBOOK_MAX + 1] = 0;
	ck_assert_int_eq(config_runbook_check(big, why, sizeof why), -1);
	ck_assert_msg(strstr(why, "1025 bytes, at most 1024") != NULL, "%s", why);
}
END_TEST

START_TEST(runbook_keys)
{
	/* inherited defaults -> customer -> asset -> check; "" clears it;
	 * agent templates take it too */
	struct errs e;
	struct mconf *c = load(
	    "defaults = { runbook = \"https://wiki.example/default\"; };\n"
	    "customers = (\n"
	    " { id = \"c1\"; defaults = { runbook = \"Call the customer\"; };\n"
	    "   agents = { passive_test = { runbook = \"https://wiki.example/pc\"; }; };\n"
	    "   assets = ( { name = \"a1\"; checks = ( { plugin = \"dummy\"; },\n"
	    "              { plugin = \"dummy\"; name = \"d2\"; runbook = \"\"; },\n"
	    "              { plugin = \"dummy\"; name = \"d3\"; runbook = \"http://kb/d3\"; } ); } ); },\n"
	    " { id = \"c2\"; assets = ( { name = \"a1\"; defaults = { runbook = \"asset text\"; };\n"
	    "   checks = ( { plugin = \"dummy\"; } ); },\n"
	    "   { name = \"a2\"; checks = ( { plugin = \"dummy\"; } ); } ); } );\n",
	    &e);
	if (!c)
		ck_abort_msg("refused: %s", e.buf);
	ck_assert_str_eq(find_check(c, "c1", "a1", "dummy")->p.runbook, "Call the customer");
	ck_assert_ptr_null(find_check(c, "c1", "a1", "d2")->p.runbook);
	ck_assert_str_eq(find_check(c, "c1", "a1", "d3")->p.runbook, "http://kb/d3");
	ck_assert_str_eq(find_check(c, "c2", "a1", "dummy")->p.runbook, "asset text");
	ck_assert_str_eq(find_check(c, "c2", "a2", "dummy")->p.runbook,
	                 "https://wiki.example/default");
	ck_assert_uint_eq(c->customers[0].n_agents, 1);
	ck_assert_str_eq(c->customers[0].agents[0].p.runbook, "https://wiki.example/pc");
	mconf_free(c);

	/* refusals name file and line, at every level */
	refused("defaults = {\n runbook = \"javascript:alert(1)\"; };\n",
	        "(config):2: runbook: a URL of scheme 'javascript'", "http and https");
	refused("customers = ( { id = \"c1\";\n agents = { passive_test = {\n"
	        "  runbook = \"file:///etc/passwd\"; }; }; } );\n",
	        "(config):3: runbook: a URL of scheme 'file'", NULL);
	refused(ONE_CHECK("plugin = \"dummy\";\n runbook = \"two\\nlines\";"),
	        "(config):2: runbook: control characters", NULL);
	refused(ONE_CHECK("plugin = \"dummy\";\n runbook = 42;"), "(config):2:", "runbook");
	char text[2400];
	char big[1100];
	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = 0;
	snprintf(text, sizeof text,
	         "customers = ( { id = \"c1\";\n defaults = {\n runbook = \"%s\"; }; } );\n", big);
	refused(text, "(config):3: runbook: 1099 bytes, at most 1024", NULL);
}
END_TEST

START_TEST(inheritance)
{
	struct errs e;
	struct mconf *c = load(
	    "defaults = { interval = \"10m\"; retry_interval = \"2m\"; max_attempts = 4; timeout = "
	    "\"20s\"; };\n"
	    "customers = (\n"
	    " { id = \"c1\"; defaults = { interval = \"5m\"; flap_detection = false; };\n"
	    "   assets = ( { name = \"a1\"; defaults = { max_attempts = 2; service = \"web\"; };\n"
	    "                checks = ( { plugin = \"dummy\"; timeout = \"7s\"; },\n"
	    "                           { plugin = \"dummy\"; name = \"d2\"; interval = \"30s\"; "
	    "max_attempts = 6; } ); },\n"
	    "              { name = \"a2\"; checks = ( { plugin = \"dummy\"; } ); } ); },\n"
	    " { id = \"c2\"; assets = ( { name = \"a1\"; checks = ( { plugin = \"dummy\"; } ); } "
	    "); } );\n"
	    "calendars = ( { name = \"biz\"; timezone = \"Asia/Tokyo\"; hours = [\"mon-fri "
	    "09:00-17:30\"]; } );\n",
	    &e);
	if (!c)
		ck_abort_msg("refused: %s", e.buf);
	const struct cfg_check *k = find_check(c, "c1", "a1", "dummy");
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(k->p.interval_ms, 300000); /* customer */
	ck_assert_uint_eq(k->p.retry_ms, 120000);    /* global */
	ck_assert_uint_eq(k->p.max_attempts, 2);     /* asset */
	ck_assert_uint_eq(k->p.timeout_ms, 7000);    /* check */
	ck_assert_uint_eq(k->p.flap_enabled, 0);     /* customer */
	ck_assert_uint_eq(k->p.service, SERVICE_WEB);
	k = find_check(c, "c1", "a1", "d2");
	ck_assert_uint_eq(k->p.interval_ms, 30000);
	ck_assert_uint_eq(k->p.max_attempts, 6);
	k = find_check(c, "c1", "a2", "dummy");
	ck_assert_uint_eq(k->p.interval_ms, 300000);
	ck_assert_uint_eq(k->p.max_attempts, 4);
	ck_assert_uint_eq(k->p.timeout_ms, 20000);
	ck_assert_uint_eq(k->p.service, SERVICE_OTHER);
	k = find_check(c, "c2", "a1", "dummy");
	ck_assert_uint_eq(k->p.interval_ms, 600000);
	ck_assert_uint_eq(k->p.flap_enabled, 1); /* built in */
	ck_assert(k->p.flap_low == 20 && k->p.flap_high == 30);
	ck_assert_ptr_nonnull(mconf_calendar(c, "biz"));
	ck_assert_ptr_nonnull(mconf_calendar(c, "always")); /* built in */
	mconf_free(c);
}
END_TEST

START_TEST(builtin_defaults)
{
	struct errs e;
	struct mconf *c = load(ONE_CHECK("plugin = \"dummy\";")
	                           ONE_CHECK("plugin = \"dummy\"; interval = \"20s\";"),
	                       &e);
	/* (the second customers line is a duplicate setting: libconfig refuses it) */
	if (c)
		mconf_free(c);
	c = load(ONE_CHECK("plugin = \"dummy\";"), &e);
	ck_assert_ptr_nonnull(c);
	const struct cfg_check *k = find_check(c, "c1", "a1", "dummy");
	ck_assert_uint_eq(k->p.interval_ms, 300000);
	ck_assert_uint_eq(k->p.retry_ms, 60000);
	ck_assert_uint_eq(k->p.timeout_ms, 60000);
	ck_assert_uint_eq(k->p.max_attempts, 3);
	mconf_free(c);
	/* retry_interval never exceeds an interval shorter than it. */
	c = load(ONE_CHECK("plugin = \"dummy\"; interval = \"20s\";"), &e);
	k = find_check(c, "c1", "a1", "dummy");
	ck_assert_uint_eq(k->p.retry_ms, 20000);
	mconf_free(c);
}
END_TEST

START_TEST(passive_defaults_to_one_attempt)
{
	struct errs e;
	struct mconf *c =
	    load("defaults = { max_attempts = 4; };\n"
	         "customers = ( { id = \"c1\"; defaults = { max_attempts = 3; };\n"
	         "  agents = { passive_test = { auto_register = true; }; };\n"
	         "  assets = ( { name = \"a1\"; checks = ( { plugin = \"passive_test\"; },\n"
	         "    { plugin = \"passive_test\"; name = \"p2\"; max_attempts = 2; stale_after = "
	         "\"1m\"; },\n"
	         "    { plugin = \"dummy\"; } ); } ); } );\n",
	         &e);
	if (!c)
		ck_abort_msg("refused: %s", e.buf);
	const struct cfg_check *k = find_check(c, "c1", "a1", "passive_test");
	ck_assert_uint_eq(k->p.max_attempts, 1);
	k = find_check(c, "c1", "a1", "p2");
	ck_assert_uint_eq(k->p.max_attempts, 2);
	ck_assert_uint_eq(k->p.stale_ms, 60000);
	k = find_check(c, "c1", "a1", "dummy");
	ck_assert_uint_eq(k->p.max_attempts, 3); /* active: inherits */
	ck_assert_uint_eq(c->customers[0].n_agents, 1);
	ck_assert_uint_eq(c->customers[0].agents[0].p.max_attempts, 1);
	ck_assert_uint_eq(c->customers[0].agents[0].p.stale_ms, 15 * 60 * 1000);
	ck_assert_int_eq(c->customers[0].agents[0].auto_register, 1);
	mconf_free(c);
}
END_TEST

/* ---- files and @include ---- */

START_TEST(include_files)
{
	struct errs e;
	struct mconf *c = load_file(FX "good.conf", &e);
	if (!c)
		ck_abort_msg("refused: %s", e.buf);
	const struct cfg_check *k = find_check(c, "c1", "host1", "dummy");
	ck_assert_ptr_nonnull(k);
	ck_assert_uint_eq(k->p.interval_ms, 600000);
	ck_assert_uint_eq(k->p.max_attempts, 2);
	mconf_free(c);

	c = load_file(FX "bad_include.conf", &e);
	ck_assert_ptr_null(c);
	if (!strstr(e.buf, "inc/customer_bad.conf:3:") || !strstr(e.buf, "unknown key 'colour'"))
		ck_abort_msg("error does not name the included file and line: %s", e.buf);

	c = load_file(FX "missing_include.conf", &e);
	ck_assert_ptr_null(c);
	ck_assert_int_ge(e.n, 1);
	ck_assert_ptr_nonnull(strstr(e.buf, "missing_include.conf:2:"));
}
END_TEST

START_TEST(file_errors)
{
	struct errs e;
	ck_assert_ptr_null(load_file(FX "syntax.conf", &e));
	ck_assert_ptr_nonnull(strstr(e.buf, "syntax.conf:3:"));
	ck_assert_ptr_null(load_file(FX "unknown_key.conf", &e));
	ck_assert_ptr_nonnull(strstr(e.buf, "unknown_key.conf:7:"));
	ck_assert_ptr_nonnull(strstr(e.buf, "'intervall'"));
	ck_assert_ptr_null(load_file(FX "undefined_refs.conf", &e));
	ck_assert_ptr_nonnull(strstr(e.buf, "undefined_refs.conf:5:"));
	ck_assert_ptr_nonnull(strstr(e.buf, "unknown plugin 'nosuchplugin'"));
	ck_assert_ptr_nonnull(strstr(e.buf, "undefined_refs.conf:6:"));
	ck_assert_ptr_nonnull(strstr(e.buf, "undefined calendar 'never-defined'"));
	ck_assert_ptr_nonnull(strstr(e.buf, "undefined parent 'gateway'"));
	ck_assert_ptr_null(load_file(FX "no_such_file.conf", &e));
	ck_assert_ptr_nonnull(strstr(e.buf, "no_such_file.conf"));
}
END_TEST

/* ---- garbage ---- */

static const char *const valid_full =
    "daemon = { log_level = \"info\"; node = \"n1\"; flush_interval = \"200ms\"; };\n"
    "defaults = { interval = \"1m\"; };\n"
    "calendars = ( { name = \"biz\"; timezone = \"Asia/Tokyo\"; hours = [ \"mon-fri 09:00-17:30\" "
    "]; } );\n"
    "centers = ( { name = \"cc\"; calendar = \"biz\"; } );\n"
    "routes = ( { service = \"utm\"; center = \"cc\"; }, { center = \"cc\"; } );\n"
    "plugins = ( { name = \"dummy\"; max_concurrent = 2; } );\n"
    "customers = ( { id = \"c1\"; name = \"C\"; tags = [ \"a\", \"b\" ];\n"
    "  agents = { passive_test = { auto_register = true; stale_after = \"15m\"; }; };\n"
    "  assets = ( { name = \"gw\"; type = \"utm\"; address = \"127.0.0.1\";\n"
    "    checks = ( { plugin = \"dummy\"; state = 2; output = \"x\"; check_period = \"biz\"; } ); "
    "},\n"
    "   { name = \"pc\"; parent = \"gw\";\n"
    "    checks = ( { plugin = \"exec\"; command = \"/bin/true\"; max_attempts = 2; } ); } ); } "
    ");\n"
    "downtimes = ( { customer = \"c1\"; asset = \"gw\"; start = \"2026-01-01 00:00\"; end = "
    "\"2026-01-02 00:00\"; },\n"
    "  { customer = \"c1\"; weekly = [ \"sun 02:00-04:00\" ]; timezone = \"Asia/Tokyo\"; } );\n";

/* Any outcome is fine except a crash, or a refusal with no message. */
static void try_text(const char *text)
{
	struct errs e;
	struct mconf *c = load(text, &e);
	if (c)
		mconf_free(c);
	else if (e.n == 0)
		ck_abort_msg("refused without a message:\n%s", text);
}

START_TEST(valid_full_is_valid)
{
	accepted(valid_full);
}
END_TEST

START_TEST(garbage_truncated)
{
	size_t n = strlen(valid_full);
	char *buf = malloc(n + 1);
	for (size_t cut = 0; cut < n; cut++) {
		memcpy(buf, valid_full, cut);
		buf[cut] = '\0';
		try_text(buf);
	}
	free(buf);
}
END_TEST

START_TEST(garbage_mutated)
{
	static const char tokens[] = "{}()[];,=\"@:#\\/ \n\t0123456789.-+abcxyz\x01\xff";
	size_t n = strlen(valid_full);
	char *buf = malloc(n + 1);
	srand(99);
	for (int round = 0; round < 3000; round++) {
		memcpy(buf, valid_full, n + 1);
		int edits = 1 + rand() % 4;
		for (int k = 0; k < edits; k++)
			buf[rand() % n] = tokens[rand() % (sizeof tokens - 1)];
		try_text(buf);
	}
	free(buf);
}
END_TEST

START_TEST(garbage_random_bytes)
{
	char buf[4096];
	srand(7);
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)(rand() % (int)(sizeof buf - 1));
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(1 + rand() % 255);
		buf[len] = '\0';
		try_text(buf);
	}
}
END_TEST

START_TEST(garbage_type_confusion)
{
	/* Every structural key given every wrong shape. */
	static const char *const keys[] = { "daemon",    "calendars", "centers",  "routes",
		                            "customers", "plugins",   "defaults", "downtimes",
		                            "mqtt",      "http" };
	static const char *const shapes[] = {
		"1",        "\"s\"",     "true",       "1.5",     "( 1, 2 )",
		"[ 1, 2 ]", "( \"a\" )", "{ x = 1; }", "( { } )", "( { name = 1; id = 2; } )",
		"( ( ) )",  "[ ]",       "( )",        "{ }"
	};
	char text[256];
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			snprintf(text, sizeof text, "%s = %s;\n", keys[k], shapes[s]);
			try_text(text);
		}
	static const char *const inner[] = {
		"customers = ( { id = \"c\"; assets = 1; } );",
		"customers = ( { id = \"c\"; assets = ( 1 ); } );",
		"customers = ( { id = \"c\"; assets = ( { name = \"a\"; checks = ( 1, \"x\", ( ) "
		"); } ); } );",
		"customers = ( { id = \"c\"; assets = ( { name = \"a\"; checks = { plugin = "
		"\"dummy\"; }; } ); } );",
		"customers = ( { id = \"c\"; agents = 1; } );",
		"customers = ( { id = \"c\"; agents = { passive_test = 1; }; } );",
		"customers = ( { id = \"c\"; agents = { passive_test = ( ); }; } );",
		"customers = ( { id = \"c\"; tags = ( 1, 2 ); defaults = 3; } );",
		"customers = ( { id = 5; } );",
		"customers = ( { id = \"c\"; assets = ( { name = \"a\"; parent = 3; } ); } );",
		"calendars = ( { name = \"x\"; timezone = \"Nowhere/City\"; hours = [ \"mon "
		"09:00-17:00\" ]; } );",
		"calendars = ( { name = \"x\"; timezone = \"UTC\"; hours = [ \"someday "
		"25:00-99:99\" ]; } );",
		"calendars = ( { name = \"x\"; timezone = \"UTC\"; hours = ( 1 ); holidays = ( 2 "
		"); } );",
		"calendars = ( { name = \"x\"; timezone = \"UTC\"; hours = \"mon 09:00-10:00\"; "
		"holidays = \"../../etc/passwd\"; } );",
		"calendars = ( { name = \"x\"; timezone = \"UTC\"; hours = \"mon 09:00-10:00\"; "
		"closures = [ \"garbage\", \"/\" ]; } );",
		"downtimes = ( { customer = 1; }, { } );",
		"routes = ( { center = 1; } );",
		"plugins = ( { name = \"exec\"; isolate = \"yes\"; } );",
		"plugins = ( { name = 1; } );",
		"defaults = { check_period = \"nope\"; flap_low = \"x\"; flap_high = 1; };",
	};
	for (size_t i = 0; i < sizeof inner / sizeof inner[0]; i++)
		try_text(inner[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_key_top_level);
	tcase_add_test(tc, history_group);
	tcase_add_test(tc, history_forward);
	tcase_add_test(tc, reports_group);
	tcase_add_test(tc, unknown_key_daemon);
	tcase_add_test(tc, unknown_key_customer);
	tcase_add_test(tc, unknown_key_asset);
	tcase_add_test(tc, unknown_key_check);
	tcase_add_test(tc, unknown_key_plugin_block);
	tcase_add_test(tc, unknown_key_defaults);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, bad_durations);
	tcase_add_test(tc, max_attempts_range);
	tcase_add_test(tc, duplicate_names);
	tcase_add_test(tc, undefined_references);
	tcase_add_test(tc, parent_cycle);
	tcase_add_test(tc, all_errors_reported);
	tcase_add_test(tc, bad_names);
	tcase_add_test(tc, file_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("values");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inheritance);
	tcase_add_test(tc, runbook_values);
	tcase_add_test(tc, runbook_keys);
	tcase_add_test(tc, builtin_defaults);
	tcase_add_test(tc, passive_defaults_to_one_attempt);
	tcase_add_test(tc, include_files);
	suite_add_tcase(s, tc);
	tc = tcase_create("garbage");
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_full_is_valid);
	tcase_add_test(tc, garbage_truncated);
	tcase_add_test(tc, garbage_mutated);
	tcase_add_test(tc, garbage_random_bytes);
	tcase_add_test(tc, garbage_type_confusion);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
