/*
 * Tests for the utm plugin.
 *
 *  - pure: OID and profile parsing (with garbage), the shipped profiles,
 *    the judge (reboot, TimeTicks wrap, interfaces, thresholds, tables);
 *    profile.c and judge.c are compiled in directly (no Net-SNMP in them);
 *  - plugin: build/plugins/utm.so through plugtest (real loader and host):
 *    config errors, secret files' permissions (through the host's
 *    conf_secret), a silent agent (timeout -> UNKNOWN), cancel contract,
 *    unreachable box -> CRITICAL;
 *  - live: a real snmpd from Debian on a free loopback UDP port with a
 *    generated config (v2c community, v3 authPriv SHA/AES user, `override`
 *    directives for ifOperStatus.1 = down and vendor OIDs); skipped when
 *    snmpd is not installed.  Restarting snmpd resets sysUpTime, which must
 *    read as a reboot.
 *  TLS endpoints are covered by test_netconn and tests/integration/utm.sh.
 */
#include "plugins/utm/judge.c"
#include "plugins/utm/profile.c"
#include "tests/lib/plugtest.h"
#include "tests/lib/tmpdir.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* the plugin under test; UTM_TEST_SO overrides (e.g. a sanitizer build) */
#define SO (getenv("UTM_TEST_SO") ? getenv("UTM_TEST_SO") : "build/plugins/utm.so")

/* ---- pure --------------------------------------------------------- */

START_TEST(oid_parse)
{
	static const char *bad[] = { "",        ".",    "1",
		                     "1..3",    "1.3.", "a.b",
		                     "1.3.6.x", "3.1",  "1.3.99999999999",
		                     "1.3 .6",  "-1.3", "1.3.6.1\n" };
	struct utm_oid o;
	char buf[64];
	ck_assert_int_eq(utm_oid_parse(".1.3.6.1.2.1.1.3.0", &o), 0);
	ck_assert_uint_eq(o.len, 9);
	utm_oid_format(&o, buf, sizeof buf);
	ck_assert_str_eq(buf, "1.3.6.1.2.1.1.3.0");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(utm_oid_parse(bad[i], &o) < 0, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(profile_parse_good)
{
	struct utm_profile p;
	char err[128] = "";
	const char *text = "# c\n\n  cpu = get 1.3.6.1.4.1.1.0   # trailing\n"
	                   "memory=percent 1.3.6.1.4.1.2.0 1.3.6.1.4.1.3.0\n"
	                   "perf.rx-bytes = get 1.3.6.1.4.1.4.0 B\r\n"
	                   "sessions = sum 1.3.6.1.4.1.5";
	ck_assert_int_eq(utm_profile_parse(text, &p, err, sizeof err), 0);
	ck_assert_uint_eq(p.n, 4);
	ck_assert_int_eq(utm_profile_find(&p, "memory")->method, UTM_M_PERCENT);
	ck_assert_str_eq(utm_profile_find(&p, "perf.rx-bytes")->uom, "B");
	ck_assert_int_eq(utm_profile_find(&p, "sessions")->method, UTM_M_SUM);
}
END_TEST

START_TEST(profile_parse_garbage)
{
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
		{ "cpu get 1.3.6.1", "line 1" },
		{ "\n\nfoo = get 1.3.6.1", "line 3: unknown key" },
		{ "cpu = fetch 1.3.6.1", "unknown method" },
		{ "cpu = get 1.3.x", "malformed OID" },
		{ "cpu = get", "line 1" },
		{ "cpu = percent 1.3.6.1", "arguments" },
		{ "cpu = avg 1.3.6.1 extra", "arguments" },
		{ "cpu = get 1.3.6.1 %%%%%%%%%%", "unit" },
		{ "cpu = get 1.3.6.1 k1", "bad unit" },
		{ "cpu = get 1.3.6.1\ncpu = get 1.3.6.2", "line 2: duplicate" },
		{ "perf. = get 1.3.6.1", "unknown key" },
		{ "perf.a/b = get 1.3.6.1", "unknown key" },
		{ "= = = = = = = =", "line 1" },
		{ "\xff\xfe = get 1.3", "unknown key" },
	};
	struct utm_profile p;
	char err[128], longline[700];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(utm_profile_parse(bad[i].text, &p, err, sizeof err) == MAMORI_E_INVAL,
		              "accepted #%zu", i);
		ck_assert_msg(strstr(err, bad[i].want), "#%zu: '%s' lacks '%s'", i, err,
		              bad[i].want);
	}
	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';
	ck_assert_int_eq(utm_profile_parse(longline, &p, err, sizeof err), MAMORI_E_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	/* random bytes never crash and never half-succeed silently */
	srand(7);
	for (int round = 0; round < 2000; round++) {
		char junk[200];
		for (size_t k = 0; k < sizeof junk - 1; k++)
			junk[k] = (char)(rand() % 255 + 1);
		junk[sizeof junk - 1] = '\0';
		if (utm_profile_parse(junk, &p, err, sizeof err) == 0)
			ck_assert_uint_le(p.n, UTM_METRICS_MAX);
	}
}
END_TEST

START_TEST(shipped_profiles)
{
	glob_t g;
	char err[256];
	ck_assert_int_eq(glob("share/mamori/profiles/*.conf", 0, NULL, &g), 0);
	ck_assert_uint_ge(g.gl_pathc, 3);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct utm_profile p;
		struct utm_request req;
		ck_assert_msg(utm_profile_load(g.gl_pathv[i], &p, err, sizeof err) == 0, "%s: %s",
		              g.gl_pathv[i], err);
		ck_assert_msg(utm_profile_find(&p, "cpu") != NULL, "%s has no cpu", g.gl_pathv[i]);
		ck_assert_int_eq(utm_request_build(&p, 1, &req), 0);
	}
	globfree(&g);
}
END_TEST

/* Thresholds for the pure tests: "N" means alert above N. */
static int simple_state(const struct mamori_range *w, const struct mamori_range *c, double v)
{
	if (c->set && v > c->end)
		return MAMORI_CRITICAL;
	if (w->set && v > w->end)
		return MAMORI_WARNING;
	return MAMORI_OK;
}

static void put_num(struct utm_values *vs, const char *oid, double v)
{
	struct utm_vb vb = { .type = UTM_V_NUM, .num = v };
	ck_assert_int_eq(utm_oid_parse(oid, &vb.oid), 0);
	utm_values_add(vs, &vb);
}

static void put_str(struct utm_values *vs, const char *oid, const char *s)
{
	struct utm_vb vb = { .type = UTM_V_STR };
	ck_assert_int_eq(utm_oid_parse(oid, &vb.oid), 0);
	snprintf(vb.str, sizeof vb.str, "%s", s);
	utm_values_add(vs, &vb);
}

static void put_oid(struct utm_values *vs, const char *oid, const char *val)
{
	struct utm_vb vb = { .type = UTM_V_OID };
	ck_assert_int_eq(utm_oid_parse(oid, &vb.oid), 0);
	ck_assert_int_eq(utm_oid_parse(val, &vb.oval), 0);
	utm_values_add(vs, &vb);
}

struct jfix {
	struct utm_profile p;
	struct utm_values vs;
	struct utm_judge_in in;
	struct utm_judge_out out;
};

static void jfix_init(struct jfix *f, const char *profile)
{
	char err[128];
	memset(f, 0, sizeof *f);
	ck_assert_int_eq(utm_profile_parse(profile, &f->p, err, sizeof err), 0);
	f->in.profile = &f->p;
	f->in.values = &f->vs;
	f->in.now = 1700000000;
	f->in.prev_uptime = -1;
	f->in.range_state = simple_state;
	f->in.cpu.warn = (struct mamori_range){ .set = 1, .end = 80 };
	f->in.cpu.crit = (struct mamori_range){ .set = 1, .end = 90 };
	put_num(&f->vs, "1.3.6.1.2.1.1.3.0", 100.0 * 86400 * 3); /* up 3 days */
}

START_TEST(judge_ok_and_cpu)
{
	struct jfix f;
	jfix_init(&f, "cpu = avg 1.3.6.1.2.1.25.3.3.1.2\nmemory = hrstorage 1.3.6.1.2.1.25.2.1.2\n"
	              "perf.temp = get 1.3.6.1.4.1.9.0 C");
	put_num(&f.vs, "1.3.6.1.2.1.25.3.3.1.2.1", 10);
	put_num(&f.vs, "1.3.6.1.2.1.25.3.3.1.2.2", 30);
	put_oid(&f.vs, "1.3.6.1.2.1.25.2.3.1.2.1", "1.3.6.1.2.1.25.2.1.2");
	put_num(&f.vs, "1.3.6.1.2.1.25.2.3.1.4.1", 1024);
	put_num(&f.vs, "1.3.6.1.2.1.25.2.3.1.5.1", 1000);
	put_num(&f.vs, "1.3.6.1.2.1.25.2.3.1.6.1", 250);
	put_num(&f.vs, "1.3.6.1.4.1.9.0", 41);
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_OK);
	ck_assert_str_eq(f.out.output, "up 3d 0h 0m");
	ck_assert_uint_eq(f.out.n_perf, 4); /* uptime, cpu, memory, temp */
	ck_assert(f.out.perf[1].value == 20.0);
	ck_assert(f.out.perf[2].value == 25.0);
	ck_assert_str_eq(f.out.perf[3].label, "temp");
	/* hot CPU */
	f.vs.v[1].num = 180; /* avg (180 + 30) / 2 = 105 */
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_CRITICAL);
	ck_assert_ptr_nonnull(strstr(f.out.output, "cpu 105% (critical)"));
	f.vs.v[1].num = 140; /* 85 */
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_WARNING);
	utm_values_free(&f.vs);
}
END_TEST

START_TEST(judge_reboot)
{
	struct jfix f;
	jfix_init(&f, "cpu = get 1.3.6.1.4.1.1.0");
	f.in.prev_uptime = 86400 * 5; /* was up 5 days, now 3 */
	f.in.prev_check = f.in.now - 60;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_WARNING);
	ck_assert_ptr_nonnull(strstr(f.out.output, "rebooted at "));
	/* cpu in the profile but no value, no threshold: note only */
	f.in.cpu = (struct utm_thresholds){ 0 };
	f.in.prev_uptime = 86400 * 2;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_OK);
	/* with a threshold a missing value is UNKNOWN */
	f.in.cpu.warn = (struct mamori_range){ .set = 1, .end = 80 };
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_UNKNOWN);
	/* TimeTicks wrap: 497.1 days then ~0 is not a reboot */
	f.in.cpu = (struct utm_thresholds){ 0 };
	f.vs.v[0].num = 1000; /* 10 s after the wrap */
	f.in.prev_uptime = TICKS_WRAP - 50;
	f.in.prev_check = f.in.now - 60;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_OK);
	/* young box inside the reboot window */
	f.in.prev_uptime = -1;
	f.in.reboot_window = 1800;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_WARNING);
	/* no sysUpTime at all */
	f.vs.v[0].type = UTM_V_STR;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_UNKNOWN);
	utm_values_free(&f.vs);
}
END_TEST

START_TEST(judge_interfaces)
{
	struct jfix f;
	const char *ifs[] = { "WAN=wan1", "lan" };
	jfix_init(&f, "cpu = get 1.3.6.1.4.1.1.0");
	f.in.cpu = (struct utm_thresholds){ 0 };
	f.in.ifaces = ifs;
	f.in.n_ifaces = 2;
	put_str(&f.vs, "1.3.6.1.2.1.2.2.1.2.1", "Ethernet port 1");
	put_str(&f.vs, "1.3.6.1.2.1.31.1.1.1.1.1", "wan1");
	put_str(&f.vs, "1.3.6.1.2.1.2.2.1.2.7", "lan");
	put_num(&f.vs, "1.3.6.1.2.1.2.2.1.8.1", 1);
	put_num(&f.vs, "1.3.6.1.2.1.2.2.1.8.7", 1);
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_OK);
	f.vs.v[4].num = 2; /* wan1 down */
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_CRITICAL);
	ck_assert_str_eq(f.out.output, "WAN down");
	f.vs.v[4].num = 5;
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_WARNING);
	ifs[1] = "pppoe0"; /* vanished interface */
	utm_judge(&f.in, &f.out);
	ck_assert_int_eq(f.out.state, MAMORI_CRITICAL);
	ck_assert_ptr_nonnull(strstr(f.out.output, "pppoe0 down (interface pppoe0 not found)"));
	utm_values_free(&f.vs);
}
END_TEST

START_TEST(state_order)
{
	ck_assert_int_eq(utm_state_worse(MAMORI_OK, MAMORI_UNKNOWN), MAMORI_UNKNOWN);
	ck_assert_int_eq(utm_state_worse(MAMORI_WARNING, MAMORI_UNKNOWN), MAMORI_WARNING);
	ck_assert_int_eq(utm_state_worse(MAMORI_CRITICAL, MAMORI_WARNING), MAMORI_CRITICAL);
}
END_TEST

/* ---- plugin through the real loader ---------------------------------- */

static char tmpdir[64];

/* 0600: the secrets (community, passwords) must be; the rest may be. */
static void write_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	ck_assert_int_eq(tmpdir_write_file(path, text, 0600), 0);
}

/* A UDP port on 127.0.0.1 that never answers (kept bound) */
static int silent_udp(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static unsigned free_port(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, type, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof a);
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static struct plugtest *load(void)
{
	struct plugtest *pt = plugtest_new(SO, NULL);
	ck_assert_msg(pt != NULL, "load: %s", plugtest_last_error());
	return pt;
}

static char *v2conf(char *buf, size_t size, unsigned port, const char *extra)
{
	snprintf(buf, size,
	         "snmp = { port = %u; community_file = \"%s/community\"; timeout = \"300ms\"; "
	         "retries = 0; }; reboot_window = 0; %s",
	         port, tmpdir, extra ? extra : "");
	return buf;
}

START_TEST(config_errors)
{
	static const struct {
		const char *conf;
		const char *addr;
		const char *want;
	} bad[] = {
		{ "profile = \"generic\";", "127.0.0.1", "snmp and/or an https" },
		{ "snmp = { community_file = \"@/community\"; };", "utm.example.jp", "IP address" },
		{ "snmp = { version = \"1\"; community_file = \"@/community\"; };", "127.0.0.1",
		  "version" },
		{ "snmp = { port = 0; community_file = \"@/community\"; };", "127.0.0.1", "port" },
		{ "snmp = { };", "127.0.0.1", "community_file" },
		{ "snmp = { version = \"3\"; };", "127.0.0.1", "user" },
		{ "snmp = { version = \"3\"; user = \"u\"; auth_protocol = \"SHA3\"; };",
		  "127.0.0.1", "auth_protocol" },
		{ "snmp = { version = \"3\"; user = \"u\"; auth_password_file = \"@/short\"; "
		  "priv_protocol = \"none\"; };",
		  "127.0.0.1", "8 characters" },
		{ "snmp = { community_file = \"@/community\"; }; profile = \"../etc\";",
		  "127.0.0.1", "profile" },
		{ "snmp = { community_file = \"@/community\"; }; profile = \"nosuchvendor\";",
		  "127.0.0.1", "nosuchvendor" },
		{ "interfaces = [ \"wan1\" ]; https = { };", "127.0.0.1", "snmp block" },
		{ "https = { url = \"http://127.0.0.1/\"; };", "127.0.0.1", "https://" },
		{ "https = { url = \"https://[::1/\"; };", "127.0.0.1", "IPv6" },
		{ "https = { url = \"https://127.0.0.1:99999/\"; };", "127.0.0.1", "port" },
		{ "https = { url = \"https://utm.example.jp/\"; };", "", "no DNS" },
		{ "https = { url = \"https://ex ample/\"; };", "127.0.0.1", "url" },
		{ "https = { warning_days = 3; critical_days = 9; };", "127.0.0.1",
		  "critical_days" },
	};
	struct plugtest *pt = load();
	write_file("community", "public\n");
	write_file("short", "short\n");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char conf[512], *at;
		snprintf(conf, sizeof conf, "%s", bad[i].conf);
		while ((at = strchr(conf, '@'))) { /* @ -> tmpdir */
			char tail[512];
			snprintf(tail, sizeof tail, "%s", at + 1);
			snprintf(at, sizeof conf - (size_t)(at - conf), "%s%s", tmpdir, tail);
		}
		ck_assert_msg(plugtest_prepare(pt, conf, bad[i].addr) < 0, "accepted #%zu", i);
		ck_assert_msg(strstr(plugtest_error(pt), bad[i].want), "#%zu: '%s' lacks '%s'", i,
		              plugtest_error(pt), bad[i].want);
	}
	plugtest_free(pt);
}
END_TEST

/* Every secret key goes through the host's conf_secret: a file others may
 * read or its group or others may write is refused at its line, naming
 * the file and the fix, never the secret; 0600 and 0640 are fine. */
START_TEST(secret_file_modes)
{
	static const unsigned ok[] = { 0600, 0640 };
	static const struct {
		unsigned mode;
		const char *why;
	} bad[] = { { 0644, "readable by others" },
		    { 0660, "writable by its group" },
		    { 0622, "writable by others" } };
	static const char *const confs[] = {
		"snmp = { community_file = \"%s/sec\"; };",
		"snmp = { version = \"3\"; user = \"u\"; auth_password_file = \"%s/sec\"; "
		"priv_protocol = \"none\"; };",
	};
	char path[128], conf[512], want[300];
	snprintf(path, sizeof path, "%s/sec", tmpdir);
	struct plugtest *pt = load();
	for (size_t c = 0; c < sizeof confs / sizeof confs[0]; c++) {
		snprintf(conf, sizeof conf, confs[c], tmpdir);
		unlink(path);
		ck_assert_int_lt(plugtest_prepare(pt, conf, "127.0.0.1"), 0);
		snprintf(want, sizeof want, "cannot read file %s: No such file", path);
		ck_assert_msg(strstr(plugtest_error(pt), want), "#%zu missing: %s", c,
		              plugtest_error(pt));
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
			ck_assert_int_eq(tmpdir_write_file(path, "Sekr1t-community\n", ok[i]), 0);
			ck_assert_msg(plugtest_prepare(pt, conf, "127.0.0.1") == 0, "#%zu %04o: %s",
			              c, ok[i], plugtest_error(pt));
		}
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			ck_assert_int_eq(tmpdir_write_file(path, "Sekr1t-community\n", bad[i].mode),
			                 0);
			ck_assert_int_lt(plugtest_prepare(pt, conf, "127.0.0.1"), 0);
			const char *e = plugtest_error(pt);
			snprintf(want, sizeof want, "bad permissions %04o on %s: %s", bad[i].mode,
			         path, bad[i].why);
			ck_assert_msg(strstr(e, want), "#%zu: %s", c, e);
			snprintf(want, sizeof want, "chmod 600 %s", path);
			ck_assert_msg(strstr(e, want), "#%zu: %s", c, e);
			ck_assert_msg(!strstr(e, "Sekr1t"), "secret in the error: %s", e);
			ck_assert_msg(!strstr(e, "cannot read community_file") && !strchr(e, 0x0a),
			              "reported twice: %s", e);
		}
	}
	plugtest_free(pt);
}
END_TEST

START_TEST(silent_agent_unknown)
{
	unsigned port;
	int fd = silent_udp(&port);
	char conf[512];
	struct plugtest_result r;
	struct plugtest *pt = load();
	write_file("community", "public\n");
	ck_assert_int_eq(plugtest_prepare(pt, v2conf(conf, sizeof conf, port, NULL), "127.0.0.1"),
	                 0);
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
	ck_assert_int_eq(r.completions, 1);
	ck_assert_ptr_nonnull(strstr(r.output, "no SNMP answer"));
	ck_assert(r.duration >= 0.25 && r.duration < 2);
	/* the secret never shows */
	ck_assert_ptr_null(strstr(r.output, "public"));
	/* cancel: never completes afterwards */
	ck_assert_int_eq(plugtest_run_cancel(pt, 0, 0.5), 0);
	ck_assert_int_eq(plugtest_run_cancel(pt, 0.1, 0.5), 0);
	/* and a normal run still works after cancels */
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	plugtest_free(pt);
	close(fd);
}
END_TEST

START_TEST(unreachable_box_critical)
{
	unsigned port;
	int fd = silent_udp(&port);
	char conf[512], extra[128];
	struct plugtest_result r;
	struct plugtest *pt = load();
	write_file("community", "public\n");
	snprintf(extra, sizeof extra, "https = { url = \"https://127.0.0.1:%u/\"; };",
	         free_port(SOCK_STREAM));
	ck_assert_int_eq(plugtest_prepare(pt, v2conf(conf, sizeof conf, port, extra), "127.0.0.1"),
	                 0);
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_CRITICAL);
	ck_assert_ptr_nonnull(strstr(r.output, "UTM unreachable"));
	plugtest_free(pt);
	close(fd);
}
END_TEST

/* ---- live: real snmpd ------------------------------------------------- */

#define SNMPD "/usr/sbin/snmpd"
static pid_t snmpd_pid = -1;
static unsigned snmpd_port;

static void snmpd_start(int lo_down)
{
	char conf[128], addr[64], persist[128];
	char *const argv[] = { SNMPD, "-f",           "-Lo", "-C", "-c", conf,
		               "-M",  "/nonexistent", "-m",  "",   addr, NULL };
	char *const envp[] = { persist, NULL };
	posix_spawn_file_actions_t fa;
	char text[1024];
	snprintf(text, sizeof text,
	         "rocommunity mamoritest 127.0.0.1\n"
	         "createUser mamori SHA \"authpass123\" AES \"privpass123\"\n"
	         "rouser mamori authpriv\n"
	         "override .1.3.6.1.2.1.25.3.3.1.2.196608 integer 42\n"
	         "override .1.3.6.1.4.1.12356.101.4.1.3.0 unsigned 95\n"
	         "override .1.3.6.1.4.1.12356.101.4.1.4.0 unsigned 35\n"
	         "override .1.3.6.1.4.1.12356.101.4.1.8.0 unsigned 1234\n"
	         "override .1.3.6.1.4.1.12356.101.4.1.11.0 unsigned 17\n"
	         "%s",
	         lo_down ? "override .1.3.6.1.2.1.2.2.1.8.1 integer 2\n" : "");
	write_file("snmpd.conf", text);
	snprintf(conf, sizeof conf, "%s/snmpd.conf", tmpdir);
	snprintf(addr, sizeof addr, "udp:127.0.0.1:%u", snmpd_port);
	/* snmpd writes its own snmpd.conf into the persistent dir at exit */
	snprintf(persist, sizeof persist, "SNMP_PERSISTENT_DIR=%s/persist", tmpdir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ck_assert_int_eq(posix_spawn(&snmpd_pid, SNMPD, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
}

static void snmpd_stop(void)
{
	if (snmpd_pid > 0) {
		kill(snmpd_pid, SIGTERM);
		waitpid(snmpd_pid, NULL, 0);
	}
	snmpd_pid = -1;
}

/* Run until the agent answers (it is starting), max ~5 s. */
static void run_ready(struct plugtest *pt, struct plugtest_result *r)
{
	for (int i = 0; i < 25; i++) {
		ck_assert_int_eq(plugtest_run(pt, 5.0, r), 0);
		if (!strstr(r->output, "no SNMP answer"))
			return;
		plugtest_pump(pt, 0.2);
	}
}

static char *liveconf(char *buf, size_t size, const char *snmp, const char *extra)
{
	snprintf(buf, size,
	         "snmp = { port = %u; timeout = \"300ms\"; retries = 0; %s }; "
	         "reboot_window = 0; %s",
	         snmpd_port, snmp, extra);
	return buf;
}

START_TEST(live_v2c_v3_reboot)
{
	char conf[1024];
	struct plugtest_result r;
	struct plugtest *pt;
	if (access(SNMPD, X_OK) != 0)
		return; /* snmpd not installed: nothing to test against */
	pt = load();
	write_file("community", "mamoritest\n");
	write_file("wrong", "not-the-community\n");
	write_file("auth", "authpass123\n");
	write_file("priv", "privpass123\n");
	write_file("badauth", "wrongpass123\n");
	snmpd_port = free_port(SOCK_DGRAM);
	snmpd_start(0);

	/* v2c, generic profile, lo is up */
	{
		char snmp[256];
		snprintf(snmp, sizeof snmp, "community_file = \"%s/community\";", tmpdir);
		ck_assert_int_eq(plugtest_prepare(pt,
		                                  liveconf(conf, sizeof conf, snmp,
		                                           "interfaces = [ \"LOOP=lo\" ];"),
		                                  "127.0.0.1"),
		                 0);
	}
	run_ready(pt, &r);
	ck_assert_msg(r.state == MAMORI_OK, "v2c: %d %s", r.state, r.output);
	ck_assert_ptr_nonnull(strstr(r.output, "UTM OK: up "));
	ck_assert_ptr_nonnull(strstr(r.perf, "cpu="));
	ck_assert_ptr_nonnull(strstr(r.perf, "uptime="));
	plugtest_pump(pt, 1.5); /* let sysUpTime grow before the "reboot" */
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_OK);

	/* restart snmpd (uptime resets) with lo forced down */
	snmpd_stop();
	snmpd_start(1);
	run_ready(pt, &r);
	ck_assert_msg(r.state == MAMORI_CRITICAL, "after restart: %d %s", r.state, r.output);
	ck_assert_ptr_nonnull(strstr(r.output, "LOOP down"));
	ck_assert_ptr_nonnull(strstr(r.output, "rebooted at "));

	/* wrong community: the agent stays silent */
	{
		char snmp[256];
		snprintf(snmp, sizeof snmp, "community_file = \"%s/wrong\";", tmpdir);
		ck_assert_int_eq(
		    plugtest_prepare(pt, liveconf(conf, sizeof conf, snmp, ""), "127.0.0.1"), 0);
		ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
		ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
		ck_assert_ptr_nonnull(strstr(r.output, "no SNMP answer"));
	}
	/* v3 authPriv SHA/AES, FortiGate profile against overridden OIDs */
	{
		char snmp[512];
		snprintf(snmp, sizeof snmp,
		         "version = \"3\"; user = \"mamori\"; auth_protocol = \"SHA\"; "
		         "auth_password_file = \"%s/auth\"; priv_protocol = \"AES\"; "
		         "priv_password_file = \"%s/priv\";",
		         tmpdir, tmpdir);
		ck_assert_int_eq(
		    plugtest_prepare(
		        pt,
		        liveconf(conf, sizeof conf, snmp,
		                 "profile = \"fortigate\"; sessions = { warning = \"1000\"; };"),
		        "127.0.0.1"),
		    0);
		ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
		ck_assert_msg(r.state == MAMORI_CRITICAL, "v3: %d %s", r.state, r.output);
		ck_assert_ptr_nonnull(strstr(r.output, "cpu 95% (critical)"));
		ck_assert_ptr_nonnull(strstr(r.output, "sessions 1234 (warning)"));
		ck_assert_ptr_nonnull(strstr(r.perf, "session_rate=17"));
		ck_assert_ptr_nonnull(strstr(r.perf, "memory=35%"));
		/* second run reuses the learned engine ID */
		ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
		ck_assert_int_eq(r.state, MAMORI_CRITICAL);
		/* wrong password: an authentication Report, UNKNOWN */
		snprintf(snmp, sizeof snmp,
		         "version = \"3\"; user = \"mamori\"; auth_password_file = \"%s/badauth\"; "
		         "priv_password_file = \"%s/priv\";",
		         tmpdir, tmpdir);
		ck_assert_int_eq(
		    plugtest_prepare(pt, liveconf(conf, sizeof conf, snmp, ""), "127.0.0.1"), 0);
		ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
		ck_assert_msg(r.state == MAMORI_UNKNOWN, "badauth: %d %s", r.state, r.output);
		ck_assert_int_eq(r.completions, 1);
	}
	snmpd_stop();
	plugtest_free(pt);
}
END_TEST

int main(void)
{
	int failed;
	Suite *s = suite_create("utm");
	TCase *pure = tcase_create("pure"), *plug = tcase_create("plugin"),
	      *live = tcase_create("live");
	SRunner *sr;

	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_utm.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	tcase_add_test(pure, oid_parse);
	tcase_add_test(pure, profile_parse_good);
	tcase_add_test(pure, profile_parse_garbage);
	tcase_add_test(pure, shipped_profiles);
	tcase_add_test(pure, judge_ok_and_cpu);
	tcase_add_test(pure, judge_reboot);
	tcase_add_test(pure, judge_interfaces);
	tcase_add_test(pure, state_order);
	tcase_add_test(plug, config_errors);
	tcase_add_test(plug, secret_file_modes);
	tcase_add_test(plug, silent_agent_unknown);
	tcase_add_test(plug, unreachable_box_critical);
	tcase_add_test(live, live_v2c_v3_reboot);
	tcase_set_timeout(plug, 30);
	tcase_set_timeout(live, 60);
	suite_add_tcase(s, pure);
	suite_add_tcase(s, plug);
	suite_add_tcase(s, live);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	snmpd_stop();
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			failed++;
	}
	return failed ? 1 : 0;
}
