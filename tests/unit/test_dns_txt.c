/*
 * Unit tests of the dns_txt plugin through the real loader (plugtest)
 * against real DNS servers on loopback:
 *   - `main`: dnsmasq answering .test locally (NXDOMAIN/NODATA for unknown
 *     names) with every record the tests need; it validates DNSSEC for
 *     anything else and forwards it to
 *   - `upstream`: a second dnsmasq serving an unsigned .invalid zone, so the
 *     answer for x.servfail.invalid is BOGUS and `main` says SERVFAIL;
 *   - a black hole (a UDP socket we bind and never read: timeouts) and a
 *     dead port (nothing bound: ICMP refused);
 *   - `chg`: a dnsmasq restarted with other records (change detection).
 * DKIM keys are generated here with OpenSSL and published through dnsmasq.
 * Servers start once (unchecked fixture); every test forks (check default).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin/host.h"
#include "tests/lib/plugtest.h"

extern char **environ;

#define DNSMASQ "/usr/sbin/dnsmasq"
/* A made-up root trust anchor: nothing validates under it. */
#define FAKE_ANCHOR                                                                                \
	"--trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
#define MAX_ARGS 160

static struct {
	int port, up_port, hole_port, dead_port, chg_port;
	pid_t main_pid, up_pid, chg_pid;
	int hole_fd;
	char *dkim_rsa, *dkim_short, *dkim_ed;
	const char *so;
} F;

static char srv_buf[5][64];

static const char *srv(int which, int port)
{
	snprintf(srv_buf[which], sizeof(srv_buf[which]), "server = \"127.0.0.1:%d\";", port);
	return srv_buf[which];
}

/* ---- servers ---- */

/* A loopback port free for UDP and for TCP: dnsmasq binds both and exits
 * when either is taken (the machine is shared with other tests). */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
			                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);
		int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), ok;

		ck_assert(u >= 0 && t >= 0);
		ck_assert_int_eq(bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
		ck_assert_int_eq(getsockname(u, (struct sockaddr *)&a, &len), 0);
		ok = bind(t, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(u);
		close(t);
		if (ok)
			return ntohs(a.sin_port);
	}
	ck_abort_msg("no loopback port free for both UDP and TCP");
	return -1;
}

/* Poll `port` with a TXT query for `name` until any answer comes (5 s). */
static int wait_dns(int port, const char *name)
{
	unsigned char q[300] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }, r[512];
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t n = 12;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok = 0;

	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		q[n++] = (unsigned char)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	memcpy(q + n, "\0\0\x10\0\x01", 5);
	n += 5;
	for (int i = 0; i < 50 && !ok; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		sendto(fd, q, n, 0, (struct sockaddr *)&a, sizeof(a));
		if (poll(&pfd, 1, 100) == 1 && recv(fd, r, sizeof(r), 0) > 0)
			ok = 1;
	}
	close(fd);
	return ok;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static pid_t dnsmasq(int port, const char *const *extra)
{
	const char *argv[MAX_ARGS];
	char portarg[32];
	posix_spawn_file_actions_t fa;
	size_t n = 0;
	pid_t pid;

	snprintf(portarg, sizeof(portarg), "--port=%d", port);
	for (const char *a0[] = { DNSMASQ, "--no-daemon", portarg, "--listen-address=127.0.0.1",
	                          "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
	                          "-C", "/dev/null", "--log-facility=/dev/null", NULL },
	                **p = a0;
	     *p; p++)
		argv[n++] = *p;
	for (; extra && *extra && n < MAX_ARGS - 1; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (!getenv("DNS_TXT_VERBOSE")) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	ck_assert_msg(posix_spawn(&pid, DNSMASQ, &fa, NULL, (char *const *)argv, environ) == 0,
	              "cannot run %s (Debian package dnsmasq-base)", DNSMASQ);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* dnsmasq on *port, answering a TXT query for `name`; when it does not
 * (the port was taken in between: it exits), again on other ports. */
static pid_t dnsmasq_up(int *port, const char *const *extra, const char *name)
{
	for (int i = 0; i < 3; i++) {
		pid_t pid = dnsmasq(*port, extra);

		if (wait_dns(*port, name))
			return pid;
		stop(&pid);
		*port = free_port();
	}
	ck_abort_msg("dnsmasq did not answer %s on 3 ports", name);
	return -1;
}

/* DKIM key record text "v=DKIM1; k=..; p=<base64>" split into strings of at
 * most 255 bytes, joined by commas for dnsmasq. */
static char *dkim_record(EVP_PKEY *key, int raw)
{
	unsigned char der[4096], *p = der;
	char b64[6000], *out = malloc(7000);
	size_t dl = sizeof(der), o = 0;
	int bl;

	if (raw)
		ck_assert_int_eq(EVP_PKEY_get_raw_public_key(key, der, &dl), 1);
	else
		dl = (size_t)i2d_PUBKEY(key, &p);
	bl = EVP_EncodeBlock((unsigned char *)b64, der, (int)dl);
	o = (size_t)sprintf(out, "v=DKIM1; k=%s; p=", raw ? "ed25519" : "rsa");
	for (int i = 0; i < bl; i++) {
		if (i % 200 == 0 && i)
			out[o++] = ',';
		out[o++] = b64[i];
	}
	out[o] = '\0';
	EVP_PKEY_free(key);
	return out;
}

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void start_main(void)
{
	char *long_a = repeat('a', 250), *long_z = repeat('z', 250), many_terms[2048] = "";
	const char *ex[MAX_ARGS];
	size_t n = 0;

	for (int i = 0; i < 100; i++)
		snprintf(many_terms + strlen(many_terms), sizeof(many_terms) - strlen(many_terms),
		         " ip4:192.0.2.%d", i);

#define R(...) (ex[n++] = xfmt(__VA_ARGS__))
	R("--local=/test/");
	R("--dnssec");
	R(FAKE_ANCHOR);
	R("--dnssec-check-unsigned");
	R("--server=127.0.0.1#%d", F.up_port);
	R("--server=/slow.test/127.0.0.1#%d", F.hole_port);
	R("--txt-record=spf-slow.test,v=spf1 include:x.slow.test -all");
	R("--txt-record=a.test,hello world");
	R("--txt-record=a.test,second");
	R("--txt-record=split.test,part one ,part two");
	R("--txt-record=token.test,mail-filter-verify=9f86d081884c7d65");
	R("--host-record=nodata.test,127.0.0.1");
	/* 2000 bytes in one record: too big for UDP with EDNS 1232, so the
	 * answer is truncated and c-ares retries over TCP. */
	R("--txt-record=long.test,%s,%s,%s,%s,%s,%s,%s,%s", long_a, long_a, long_a, long_a, long_a,
	  long_a, long_a, long_z);
	R("--txt-record=bin.test,x\xff\xfe\x7f\ty\"q\\");
	R("--txt-record=oversize.test,%s%s", long_a, long_z); /* 500 bytes in one string */
	/* SPF */
	R("--txt-record=spf-ok.test,v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.inc.test -all");
	R("--txt-record=spf-ok.test,google-site-verification=abc");
	R("--txt-record=_spf.inc.test,v=spf1 a mx/24 ~all");
	R("--txt-record=spf-over.test,v=spf1 include:i1.test include:i2.test include:i3.test -all");
	for (int i = 1; i <= 3; i++)
		R("--txt-record=i%d.test,v=spf1 a mx ptr exists:%%{i}.x.test -all", i);
	R("--txt-record=spf-loop.test,v=spf1 include:spf-loop.test -all");
	R("--txt-record=spf-plus.test,v=spf1 mx +all");
	R("--txt-record=spf-bare.test,v=spf1 mx all");
	R("--txt-record=spf-q.test,v=spf1 ip4:192.0.2.1 ?all");
	R("--txt-record=spf-noall.test,v=spf1 ip4:192.0.2.1");
	R("--txt-record=spf-two.test,v=spf1 -all");
	R("--txt-record=spf-two.test,v=spf1 mx -all");
	R("--txt-record=spf-badip.test,v=spf1 ip4:300.1.1.1 -all");
	R("--txt-record=spf-unknown.test,v=spf1 foo:bar -all");
	R("--txt-record=spf-cidr.test,v=spf1 a/33 -all");
	R("--txt-record=spf-bin.test,v=spf1 mx\xff -all");
	R("--txt-record=spf-redir2.test,v=spf1 redirect=a.test redirect=b.test");
	R("--txt-record=spf-noinc.test,v=spf1 include:nx.test -all");
	R("--txt-record=spf-many.test,v=spf1%s -all", many_terms);
	R("--txt-record=spf-longinc.test,v=spf1 include:%s.test -all", long_a);
	R("--txt-record=spf-qmod.test,v=spf1 +redirect=a.test");
	R("--txt-record=spf-macro.test,v=spf1 exists:%%{i.x.test -all");
	R("--txt-record=spf-redir.test,v=spf1 redirect=spf-plus.test");
	R("--txt-record=spf-redirall.test,v=spf1 -all redirect=spf-plus.test");
	/* SPF, issue 16: the first all decides; domain-specs; modifiers and
	 * macros; not too strict; void lookups and the MX limit */
	R("--txt-record=spf-allall.test,v=spf1 all -all");
	R("--txt-record=spf-after.test,v=spf1 -all ip4:192.0.2.1");
	R("--txt-record=spf-aip.test,v=spf1 a:192.0.2.1 -all");
	R("--txt-record=spf-crt.test,v=spf1 -all exp=%%{r}.example.test");
	R("--txt-record=spf-emptymod.test,v=spf1 =all -all");
	R("--txt-record=spf-cidr2.test,v=spf1 a:mail.cidr.test/24//64 mx:cidr.test/24 -all");
	R("--host-record=mail.cidr.test,192.0.2.10,2001:db8::10");
	R("--mx-host=cidr.test,mail.cidr.test,10");
	R("--txt-record=spf-void.test,v=spf1 a:nx1.test a:nx2.test a:nx3.test -all");
	R("--txt-record=spf-void6.test,v=spf1 a:v4a.test a:v4b.test a:v4c.test -all");
	R("--host-record=v4a.test,192.0.2.1");
	R("--host-record=v4b.test,192.0.2.2");
	R("--host-record=v4c.test,192.0.2.3");
	R("--txt-record=spf-dead.test,v=spf1 a:nx1.test ip4:192.0.2.1 -all");
	R("--txt-record=spf-mx11.test,v=spf1 mx:mx11.test -all");
	R("--txt-record=spf-mx10.test,v=spf1 mx:mx10.test -all");
	for (int i = 0; i < 11; i++) {
		R("--mx-host=mx11.test,m%d.cidr.test,%d", i, i);
		if (i < 10)
			R("--mx-host=mx10.test,m%d.cidr.test,%d", i, i);
	}
	R("--txt-record=spf-tempfail.test,v=spf1 a:x.servfail.invalid -all");
	R("--txt-record=spf-slowa.test,v=spf1 a:x.slow.test -all");
	/* DMARC */
	R("--txt-record=_dmarc.dm-reject.test,v=DMARC1; p=reject; rua=mailto:d@dm-reject.test");
	R("--txt-record=_dmarc.dm-none.test,v=DMARC1; p=none; rua=mailto:d@dm-none.test");
	R("--txt-record=_dmarc.dm-bad.test,v=DMARC1; p=maybe");
	R("--txt-record=_dmarc.dm-nop.test,v=DMARC1; rua=mailto:d@x.test");
	R("--txt-record=_dmarc.dm-garbage.test,v=DMARC1;;;==p\xff");
	R("--txt-record=_dmarc.dm-two.test,v=DMARC1; p=reject");
	R("--txt-record=_dmarc.dm-two.test,v=DMARC1; p=none");
	R("--txt-record=_dmarc.dm-other.test,some other text");
	R("--txt-record=_dmarc.dm-space.test,v = DMARC1 ; p = reject; rua = mailto:d@dm-space.test");
	R("--txt-record=_dmarc.dm-case.test,V=DMARC1; P=Reject; RUA=mailto:d@dm-case.test");
	R("--txt-record=_dmarc.dm-adkim.test,v=DMARC1; p=reject; adkim=x; rua=mailto:d@x.test");
	R("--txt-record=_dmarc.dm-sp.test,v=DMARC1; p=reject; sp=maybe; rua=mailto:d@x.test");
	R("--txt-record=_dmarc.dm-lower.test,v=dmarc1; p=reject");
	/* DKIM */
	R("--txt-record=good._domainkey.dk.test,%s", F.dkim_rsa);
	R("--txt-record=short._domainkey.dk.test,%s", F.dkim_short);
	R("--txt-record=ed._domainkey.dk.test,%s", F.dkim_ed);
	R("--txt-record=revoked._domainkey.dk.test,v=DKIM1; k=rsa; p=");
	R("--txt-record=notakey._domainkey.dk.test,v=DKIM1; p=AAAAAAAAAAAAAAAAAAAAAAAA");
	R("--txt-record=badb64._domainkey.dk.test,v=DKIM1; p=!!!$$$***");
	R("--txt-record=badk._domainkey.dk.test,v=DKIM1; k=dsa; p=AAAA");
	R("--txt-record=nop._domainkey.dk.test,v=DKIM1; k=rsa");
#undef R
	ex[n] = NULL;
	F.main_pid = dnsmasq_up(&F.port, ex, "a.test");
	for (size_t i = 0; i < n; i++)
		free((char *)ex[i]);
	free(long_a);
	free(long_z);
}

static void start_chg(const char *value)
{
	char *rec = xfmt("--txt-record=chg.test,%s", value);
	const char *ex[] = { "--local=/test/", rec, "--txt-record=chg.test,stable", NULL };

	F.chg_pid = dnsmasq(F.chg_port, ex);
	ck_assert_msg(wait_dns(F.chg_port, "chg.test"), "dnsmasq (chg) did not answer");
	free(rec);
}

static void servers_up(void)
{
	const char *up[] = { "--local=/invalid/", "--txt-record=x.servfail.invalid,unsigned",
		             NULL };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	F.so = getenv("DNS_TXT_SO") ? getenv("DNS_TXT_SO") : "build/plugins/dns_txt.so";
	F.dkim_rsa = dkim_record(EVP_RSA_gen(2048), 0);
	F.dkim_short = dkim_record(EVP_RSA_gen(512), 0);
	F.dkim_ed = dkim_record(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 1);
	F.port = free_port();
	F.up_port = free_port();
	F.dead_port = free_port();
	F.chg_port = free_port();
	F.hole_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(F.hole_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(F.hole_fd, (struct sockaddr *)&a, &len), 0);
	F.hole_port = ntohs(a.sin_port);
	F.up_pid = dnsmasq_up(&F.up_port, up, "x.servfail.invalid");
	start_main();
}

static void servers_down(void)
{
	stop(&F.main_pid);
	stop(&F.up_pid);
	close(F.hole_fd);
	free(F.dkim_rsa);
	free(F.dkim_short);
	free(F.dkim_ed);
}

/* ---- helpers ---- */

static struct plugtest *pt_new(const char *inst_conf)
{
	struct plugtest *pt = plugtest_new(F.so, inst_conf);

	ck_assert_msg(pt != NULL, "plugtest_new: %s", plugtest_last_error());
	return pt;
}

static void prep(struct plugtest *pt, const char *conf)
{
	char *c = xfmt("%s %s", conf, srv(0, F.port));

	ck_assert_msg(plugtest_prepare(pt, c, "") == 0, "prepare \"%s\": %s", c,
	              plugtest_error(pt));
	free(c);
}

/* Run one check against the main server; returns its result. */
static struct plugtest_result run1(struct plugtest *pt, const char *conf)
{
	struct plugtest_result r;

	prep(pt, conf);
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	return r;
}

#define EXPECT(conf, st, text)                                                                     \
	do {                                                                                       \
		struct plugtest_result r_ = run1(pt, conf);                                        \
		ck_assert_msg(r_.state == (st) && strstr(r_.output, text),                         \
		              "%s: state %d output \"%s\" (want %d, \"%s\")\n%s", conf, r_.state,  \
		              r_.output, st, text, r_.long_output);                                \
	} while (0)

/* ---- content kinds ---- */

START_TEST(t_exists)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest_result r = run1(pt, "record = \"a.test\";");

	ck_assert_int_eq(r.state, MAMORI_OK);
	ck_assert_msg(strstr(r.output, "2 TXT records"), "%s", r.output);
	ck_assert_msg(strstr(r.perf, "time=") && strstr(r.perf, "s"), "perf: %s", r.perf);
	ck_assert_msg(strstr(r.long_output, "TXT \"hello world\""), "%s", r.long_output);
	EXPECT("record = \"token.test.\"; kind = \"exists\";", MAMORI_OK, "1 TXT record");
	plugtest_free(pt);
	ck_assert_uint_eq(host_live_ios(), 0);
	ck_assert_uint_eq(host_live_timers(), 0);
}
END_TEST

START_TEST(t_match)
{
	struct plugtest *pt = pt_new(NULL);

	EXPECT("record = \"a.test\"; kind = \"equals\"; expect = \"hello world\";", MAMORI_OK,
	       "equals");
	EXPECT("record = \"a.test\"; kind = \"equals\"; expect = \"hello\";", MAMORI_CRITICAL,
	       "no TXT record equals \"hello\"");
	EXPECT("record = \"a.test\"; kind = \"contains\"; expect = \"lo wor\";", MAMORI_OK,
	       "contains");
	EXPECT("record = \"a.test\"; kind = \"contains\"; expect = \"nope\";", MAMORI_CRITICAL,
	       "no TXT record contains");
	EXPECT("record = \"token.test\"; kind = \"regex\"; "
	       "expect = \"^mail-filter-verify=[0-9a-f]{16}$\";",
	       MAMORI_OK, "matches");
	EXPECT("record = \"token.test\"; kind = \"regex\"; expect = \"^verify=\";", MAMORI_CRITICAL,
	       "no TXT record matches");
	/* strings of one record are concatenated (RFC 7208 3.3) */
	EXPECT("record = \"split.test\"; kind = \"equals\"; expect = \"part one part two\";",
	       MAMORI_OK, "equals");
	/* the asset address is the default record */
	ck_assert_int_eq(plugtest_prepare(pt, srv(0, F.port), "a.test"), 0);
	{
		struct plugtest_result r;

		ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
		ck_assert_int_eq(r.state, MAMORI_OK);
	}
	plugtest_free(pt);
}
END_TEST

/* ---- failures, distinguished ---- */

START_TEST(t_nxdomain_nodata_servfail)
{
	struct plugtest *pt = pt_new(NULL);

	EXPECT("record = \"nx.test\";", MAMORI_CRITICAL, "NXDOMAIN");
	EXPECT("record = \"nodata.test\";", MAMORI_CRITICAL, "NODATA");
	EXPECT("record = \"x.servfail.invalid\";", MAMORI_CRITICAL, "SERVFAIL");
	plugtest_free(pt);
}
END_TEST

START_TEST(t_timeout_refused)
{
	struct plugtest *pt = pt_new("query_timeout = \"200ms\"; tries = 1;");
	struct plugtest_result r;
	char *c = xfmt("record = \"a.test\"; %s", srv(1, F.hole_port));

	ck_assert_int_eq(plugtest_prepare(pt, c, ""), 0);
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
	free(c);
	c = xfmt("127.0.0.1:%d", F.hole_port);
	ck_assert_msg(strstr(r.output, "timeout") && strstr(r.output, c), "%s", r.output);
	ck_assert(r.duration >= 0.15 && r.duration < 2.0);
	free(c);
	/* an SPF include that times out: UNKNOWN, not a verdict on the zone */
	prep(pt, "record = \"spf-slow.test\"; kind = \"spf\";");
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_msg(r.state == MAMORI_UNKNOWN && strstr(r.output, "x.slow.test: timeout"), "%s",
	              r.output);
	c = xfmt("record = \"a.test\"; %s", srv(1, F.dead_port));
	ck_assert_int_eq(plugtest_prepare(pt, c, ""), 0);
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strstr(r.output, "connection refused"), "%s", r.output);
	free(c);
	plugtest_free(pt);
}
END_TEST

/* The check's timeout bounds an SPF walk (the default c-ares timeouts of
 * 2 s + 4 s are longer): an unanswered a: target is left unjudged and an
 * unanswered include leaves the verdict UNKNOWN, both inside the timeout,
 * not cancelled by the core. */
START_TEST(t_spf_deadline)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest_result r;

	prep(pt, "record = \"spf-slowa.test\"; kind = \"spf\"; timeout = \"1s\";");
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_msg(r.state == MAMORI_OK && strstr(r.long_output, "not answered in time") &&
	                  r.duration < 1.0,
	              "%d %s %.3f\n%s", r.state, r.output, r.duration, r.long_output);
	prep(pt, "record = \"spf-slow.test\"; kind = \"spf\"; timeout = \"1s\";");
	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_msg(r.state == MAMORI_UNKNOWN &&
	                  strstr(r.output, "not answered within the check's timeout") &&
	                  r.duration < 1.0,
	              "%d %s %.3f", r.state, r.output, r.duration);
	plugtest_free(pt);
	ck_assert_uint_eq(host_live_timers(), 0);
}
END_TEST

/* The core's timeout fires first: the run is cancelled, never completed. */
START_TEST(t_core_timeout)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest_result r;
	char *c = xfmt("record = \"a.test\"; %s", srv(1, F.hole_port));

	ck_assert_int_eq(plugtest_prepare(pt, c, ""), 0);
	ck_assert_int_eq(plugtest_run(pt, 0.2, &r), MAMORI_E_TIMEOUT);
	ck_assert_int_eq(r.completions, 0);
	plugtest_pump(pt, 0.1);
	free(c);
	plugtest_free(pt); /* destroys the channel with the query still inside */
	ck_assert_uint_eq(host_live_ios(), 0);
	ck_assert_uint_eq(host_live_timers(), 0);
}
END_TEST

START_TEST(t_cancel)
{
	struct plugtest *pt = pt_new(NULL);

	/* cancelled before the answer arrives: the late answer is ignored */
	prep(pt, "record = \"a.test\";");
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(plugtest_run_cancel(pt, 0, 0.02), 0);
	prep(pt, "record = \"spf-over.test\"; kind = \"spf\";");
	ck_assert_int_eq(plugtest_run_cancel(pt, 0, 0.05), 0);
	/* cancelled in the middle of an SPF include walk (the include's
	 * server never answers) */
	prep(pt, "record = \"spf-slow.test\"; kind = \"spf\";");
	ck_assert_int_eq(plugtest_run_cancel(pt, 0.1, 0.1), 0);
	/* the shared channel still works */
	EXPECT("record = \"a.test\";", MAMORI_OK, "2 TXT records");
	plugtest_free(pt);
	ck_assert_uint_eq(host_live_timers(), 0); /* SPF deadlines freed on cancel */
}
END_TEST

/* ---- SPF ---- */

START_TEST(t_spf_good)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest_result r = run1(pt, "record = \"spf-ok.test\"; kind = \"spf\";");

	ck_assert_msg(r.state == MAMORI_OK && strstr(r.output, "3 DNS lookups, ends in -all"),
	              "%d %s\n%s", r.state, r.output, r.long_output);
	ck_assert_msg(strstr(r.perf, "lookups=3;;10"), "perf: %s", r.perf);
	EXPECT("record = \"spf-q.test\"; kind = \"spf\";", MAMORI_WARNING, "?all");
	EXPECT("record = \"spf-noall.test\"; kind = \"spf\";", MAMORI_WARNING, "no all");
	/* redirect= next to an all is never used */
	EXPECT("record = \"spf-redirall.test\"; kind = \"spf\";", MAMORI_WARNING,
	       "redirect= is never used");
	/* a dual CIDR after a domain, mx resolved: 2 lookups, no void */
	r = run1(pt, "record = \"spf-cidr2.test\"; kind = \"spf\";");
	ck_assert_msg(r.state == MAMORI_OK && strstr(r.output, "2 DNS lookups, ends in -all") &&
	                  !strstr(r.long_output, "void"),
	              "%d %s\n%s", r.state, r.output, r.long_output);
	EXPECT("record = \"spf-mx10.test\"; kind = \"spf\";", MAMORI_OK, "1 DNS lookup,");
	/* not too strict: 100 ip4 terms are a warning with the size */
	EXPECT("record = \"spf-many.test\"; kind = \"spf\";", MAMORI_WARNING, "bytes, over 512");
	plugtest_free(pt);
}
END_TEST

START_TEST(t_spf_bad)
{
	struct plugtest *pt = pt_new(NULL);

	EXPECT("record = \"spf-over.test\"; kind = \"spf\";", MAMORI_CRITICAL, "limit is 10");
	EXPECT("record = \"spf-loop.test\"; kind = \"spf\";", MAMORI_CRITICAL, "limit is 10");
	EXPECT("record = \"spf-plus.test\"; kind = \"spf\";", MAMORI_CRITICAL, "+all");
	EXPECT("record = \"spf-bare.test\"; kind = \"spf\";", MAMORI_CRITICAL, "+all");
	EXPECT("record = \"spf-redir.test\"; kind = \"spf\";", MAMORI_CRITICAL, "via redirect");
	EXPECT("record = \"spf-two.test\"; kind = \"spf\";", MAMORI_CRITICAL, "more than one");
	EXPECT("record = \"a.test\"; kind = \"spf\";", MAMORI_CRITICAL, "no SPF record");
	EXPECT("record = \"nx.test\"; kind = \"spf\";", MAMORI_CRITICAL, "NXDOMAIN");
	EXPECT("record = \"spf-noinc.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "included nx.test: no SPF");
	EXPECT("record = \"spf-badip.test\"; kind = \"spf\";", MAMORI_CRITICAL, "bad address");
	EXPECT("record = \"spf-unknown.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "unknown mechanism");
	EXPECT("record = \"spf-cidr.test\"; kind = \"spf\";", MAMORI_CRITICAL, "prefix length");
	EXPECT("record = \"spf-bin.test\"; kind = \"spf\";", MAMORI_CRITICAL, "non-ASCII");
	EXPECT("record = \"spf-redir2.test\"; kind = \"spf\";", MAMORI_CRITICAL, "twice");
	EXPECT("record = \"spf-longinc.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "longer than 253 bytes");
	EXPECT("record = \"spf-qmod.test\"; kind = \"spf\";", MAMORI_CRITICAL, "modifier");
	EXPECT("record = \"spf-macro.test\"; kind = \"spf\";", MAMORI_CRITICAL, "bad macro");
	/* issue 16 */
	EXPECT("record = \"spf-allall.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "stops at its first all, +all: anyone may send; 1 later term never reached");
	EXPECT("record = \"spf-after.test\"; kind = \"spf\";", MAMORI_WARNING,
	       "senders listed after it are not authorised");
	EXPECT("record = \"spf-aip.test\"; kind = \"spf\";", MAMORI_CRITICAL, "use ip4:192.0.2.1");
	EXPECT("record = \"spf-crt.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "only allowed in explanation text");
	EXPECT("record = \"spf-emptymod.test\"; kind = \"spf\";", MAMORI_CRITICAL, "empty name");
	EXPECT("record = \"spf-void.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "3 void lookups for IPv4 senders");
	EXPECT("record = \"spf-void6.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "3 void lookups for IPv6 senders");
	EXPECT("record = \"spf-dead.test\"; kind = \"spf\";", MAMORI_WARNING,
	       "term a:nx1.test matches no sender");
	EXPECT("record = \"spf-mx11.test\"; kind = \"spf\";", MAMORI_CRITICAL,
	       "mx11.test has 11 MX records, more than 10");
	EXPECT("record = \"spf-tempfail.test\"; kind = \"spf\";", MAMORI_WARNING, "temperror");
	plugtest_free(pt);
}
END_TEST

/* ---- DMARC ---- */

START_TEST(t_dmarc)
{
	struct plugtest *pt = pt_new(NULL);

	EXPECT("record = \"dm-reject.test\"; kind = \"dmarc\";", MAMORI_OK, "p=reject");
	EXPECT("record = \"dm-none.test\"; kind = \"dmarc\";", MAMORI_WARNING, "p=none");
	EXPECT("record = \"dm-none.test\"; kind = \"dmarc\"; dmarc_none = \"critical\";",
	       MAMORI_CRITICAL, "p=none");
	EXPECT("record = \"dm-none.test\"; kind = \"dmarc\"; dmarc_none = \"ok\";", MAMORI_OK,
	       "p=none");
	EXPECT("record = \"dm-bad.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "invalid p=");
	EXPECT("record = \"dm-nop.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "no p=");
	EXPECT("record = \"dm-garbage.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "no p= policy");
	EXPECT("record = \"dm-two.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "2 DMARC records");
	EXPECT("record = \"dm-other.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "no DMARC record");
	/* issue 16: RFC 7489 6.4 whitespace, case-insensitive names, the bad
	 * tag named, an invalid sp= as bad as an invalid p= */
	EXPECT("record = \"dm-space.test\"; kind = \"dmarc\";", MAMORI_OK, "DMARC p=reject");
	EXPECT("record = \"dm-case.test\"; kind = \"dmarc\";", MAMORI_OK, "DMARC p=Reject");
	EXPECT("record = \"dm-adkim.test\"; kind = \"dmarc\";", MAMORI_WARNING,
	       "DMARC tag adkim=\"x\": must be r or s");
	EXPECT("record = \"dm-sp.test\"; kind = \"dmarc\";", MAMORI_CRITICAL,
	       "invalid sp=\"maybe\"");
	EXPECT("record = \"dm-lower.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "in capitals");
	EXPECT("record = \"dm-missing.test\"; kind = \"dmarc\";", MAMORI_CRITICAL,
	       "no DMARC record, _dmarc.dm-missing.test: NXDOMAIN");
	plugtest_free(pt);
}
END_TEST

/* ---- DKIM ---- */

START_TEST(t_dkim)
{
	struct plugtest *pt = pt_new(NULL);

	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"good\";", MAMORI_OK,
	       "rsa 2048 bits");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"ed\";", MAMORI_OK, "ed25519");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"short\";", MAMORI_CRITICAL,
	       "too short (512 bits)");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"revoked\";", MAMORI_CRITICAL,
	       "revoked");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"notakey\";", MAMORI_CRITICAL,
	       "does not hold a public key");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"badb64\";", MAMORI_CRITICAL,
	       "base64");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"badk\";", MAMORI_CRITICAL,
	       "key type");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"nop\";", MAMORI_CRITICAL,
	       "no p=");
	EXPECT("record = \"dk.test\"; kind = \"dkim\"; selector = \"missing\";", MAMORI_CRITICAL,
	       "no DKIM key, missing._domainkey.dk.test: NXDOMAIN");
	plugtest_free(pt);
}
END_TEST

/* ---- change detection (its own server, restarted with other records) ---- */

static struct plugtest_result run_chg(struct plugtest *pt)
{
	struct plugtest_result r;

	ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
	ck_assert_int_eq(r.completions, 1);
	return r;
}

START_TEST(t_change)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest *pt2 = pt_new(NULL);
	struct plugtest_result r;
	char *c = xfmt("record = \"chg.test\"; %s", srv(2, F.chg_port));
	char *c2 = xfmt("record = \"chg.test\"; on_change = \"ok\"; %s", srv(3, F.chg_port));

	start_chg("v1");
	ck_assert_int_eq(plugtest_prepare(pt, c, ""), 0);
	ck_assert_int_eq(plugtest_prepare(pt2, c2, ""), 0);
	ck_assert_int_eq(run_chg(pt).state, MAMORI_OK); /* baseline */
	ck_assert_int_eq(run_chg(pt2).state, MAMORI_OK);
	ck_assert_int_eq(run_chg(pt).state, MAMORI_OK); /* unchanged */
	stop(&F.chg_pid);
	start_chg("v2");
	r = run_chg(pt);
	ck_assert_msg(r.state == MAMORI_WARNING && strstr(r.output, "removed \"v1\"") &&
	                  strstr(r.output, "added \"v2\"") && !strstr(r.output, "stable"),
	              "%d %s", r.state, r.output);
	ck_assert_int_eq(run_chg(pt).state, MAMORI_OK); /* new baseline */
	r = run_chg(pt2);
	ck_assert_msg(r.state == MAMORI_OK && strstr(r.long_output, "TXT changed"), "%s",
	              r.long_output);
	/* the name disappears: NXDOMAIN is CRITICAL and both records "removed" */
	stop(&F.chg_pid);
	{
		const char *ex[] = { "--local=/test/", "--txt-record=other.test,x", NULL };

		F.chg_pid = dnsmasq(F.chg_port, ex);
		ck_assert(wait_dns(F.chg_port, "other.test"));
	}
	r = run_chg(pt);
	ck_assert_msg(r.state == MAMORI_CRITICAL && strstr(r.output, "NXDOMAIN") &&
	                  strstr(r.long_output, "removed \"stable\""),
	              "%d %s\n%s", r.state, r.output, r.long_output);
	stop(&F.chg_pid);
	free(c);
	free(c2);
	plugtest_free(pt2);
	plugtest_free(pt);
}
END_TEST

/* ---- config errors ---- */

START_TEST(t_config_errors)
{
	static const struct {
		const char *conf, *err;
	} cases[] = {
		{ "record = \"a.test\"; kind = \"txt\";", "unknown kind" },
		{ "record = \"a.test\"; kind = \"equals\";", "needs `expect`" },
		{ "record = \"a.test\"; expect = \"x\";", "not used by kind exists" },
		{ "record = \"a.test\"; kind = \"regex\"; expect = \"(unclosed\";",
		  "regular expression" },
		{ "record = \"a.test\"; kind = \"contains\"; expect = \"\";", "empty" },
		{ "record = \"bad name.test\";", "not a valid DNS name" },
		{ "record = \"a..test\";", "not a valid DNS name" },
		{ "record = \"\";", "required" },
		{ "kind = \"exists\";", "required" },
		{ "record = \"dk.test\"; kind = \"dkim\";", "needs `selector`" },
		{ "record = \"a.test\"; selector = \"s\";", "only used by kind dkim" },
		{ "record = \"a.test\"; on_change = \"maybe\";", "on_change must be" },
		{ "record = \"a.test\"; dmarc_none = \"ok\";", "only used by kind dmarc" },
		{ "record = \"a.test\"; server = \"dns.example\";", "IP address" },
		{ "record = \"a.test\"; server = \"127.0.0.1:0\";", "IP address" },
		{ "record = \"a.test\"; server = \"127.0.0.1:99999\";", "IP address" },
		{ "record = \"a.test\"; server = \"[::1\";", "IP address" },
		{ "record = \"a.test\"; kind = 5;", "" },         /* wrong type: the core says */
		{ "record = \"a.test\"; colour = \"red\";", "" }, /* unknown key: the core says */
	};
	struct plugtest *pt = pt_new(NULL);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = plugtest_prepare(pt, cases[i].conf, "");

		ck_assert_msg(rc != 0, "accepted: %s", cases[i].conf);
		ck_assert_msg(strstr(plugtest_error(pt), cases[i].err) && plugtest_error(pt)[0],
		              "%s -> \"%s\"", cases[i].conf, plugtest_error(pt));
	}
	/* accepted forms of server */
	ck_assert_int_eq(plugtest_prepare(pt, "record = \"a.test\"; server = \"::1\";", ""), 0);
	ck_assert_int_eq(plugtest_prepare(pt, "record = \"a.test\"; server = \"[::1]:53\";", ""),
	                 0);
	ck_assert_int_eq(plugtest_prepare(pt, "record = \"a.test\"; server = \"127.0.0.1\";", ""),
	                 0);
	plugtest_free(pt);
	ck_assert_ptr_null(plugtest_new(F.so, "tries = 0;"));
	ck_assert_ptr_null(plugtest_new(F.so, "query_timeout = \"2h\";"));
	ck_assert_ptr_null(plugtest_new(F.so, "tries = \"many\";"));
}
END_TEST

/* ---- garbage answers ---- */

START_TEST(t_garbage)
{
	struct plugtest *pt = pt_new(NULL);
	struct plugtest_result r;

	/* high bytes, DEL, tab, quote, backslash: escaped, never raw */
	r = run1(pt, "record = \"bin.test\";");
	ck_assert_int_eq(r.state, MAMORI_OK);
	ck_assert_msg(strstr(r.long_output, "x\\xff\\xfe\\x7f\\x09y\\x22q\\x5c"), "%s",
	              r.long_output);
	EXPECT("record = \"bin.test\"; kind = \"regex\"; expect = \"^x.*y\";", MAMORI_OK,
	       "matches");
	EXPECT("record = \"bin.test\"; kind = \"contains\"; expect = \"\\\"q\";", MAMORI_OK,
	       "contains");
	/* a 2000-byte record over TCP, concatenated from 8 strings */
	EXPECT("record = \"long.test\"; kind = \"regex\"; expect = \"^a{1750}z{250}$\";", MAMORI_OK,
	       "matches");
	/* dnsmasq splits a 500-byte string in two; we join them again */
	EXPECT("record = \"oversize.test\"; kind = \"regex\"; expect = \"^a{250}z{250}$\";",
	       MAMORI_OK, "matches");
	/* garbage where SPF/DMARC/DKIM are expected */
	EXPECT("record = \"bin.test\"; kind = \"spf\";", MAMORI_CRITICAL, "no SPF record");
	EXPECT("record = \"long.test\"; kind = \"dkim\"; selector = \"x\";", MAMORI_CRITICAL,
	       "no DKIM key");
	EXPECT("record = \"token.test\"; kind = \"dmarc\";", MAMORI_CRITICAL, "no DMARC record");
	plugtest_free(pt);
}
END_TEST

static Suite *dns_txt_suite(void)
{
	const struct {
		const char *name;
		const TTest *fn;
	} tests[] = {
		{ "exists", t_exists },
		{ "match", t_match },
		{ "errors", t_nxdomain_nodata_servfail },
		{ "timeout", t_timeout_refused },
		{ "core_timeout", t_core_timeout },
		{ "spf_deadline", t_spf_deadline },
		{ "cancel", t_cancel },
		{ "spf_good", t_spf_good },
		{ "spf_bad", t_spf_bad },
		{ "dmarc", t_dmarc },
		{ "dkim", t_dkim },
		{ "change", t_change },
		{ "config", t_config_errors },
		{ "garbage", t_garbage },
	};
	Suite *s = suite_create("dns_txt");

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);

		tcase_add_unchecked_fixture(tc, servers_up, servers_down);
		tcase_add_test(tc, tests[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dns_txt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
