/*
 * test_forward: the perfdata forwarder (src/series/forward.c) on its own.
 *
 * Path components fed hostile names (dots, spaces, newlines, tabs, '/',
 * control bytes, valid and broken UTF-8, long strings cut on a character
 * boundary, empty), whole Graphite lines (one line, three fields, integral
 * time, no unescaped separators whatever the input), numeric addresses
 * and prefixes (accepted and refused), the bounded buffer (never past its
 * size, the oldest whole lines dropped and counted, a partly written line
 * kept, lines counted as sent only when whole), and a real TCP receiver
 * on loopback driven by the libev loop: values arrive as lines, a closed
 * receiver is noticed, the forwarder reconnects and the next line starts
 * on a line boundary; a refused connect counts failures and never blocks.
 */
#include "series/forward.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void no_sep(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(s[i] != '.' && s[i] != ' ' && s[i] != '\n' && s[i] != '\t' &&
		                  s[i] != '/' && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f,
		              "byte %zu of '%s' is 0x%02x", i, s, (unsigned char)s[i]);
}

START_TEST(components)
{
	char out[FORWARD_COMP_MAX + 1];
	ck_assert_uint_eq(forward_component(out, "web-1_A"), 7);
	ck_assert_str_eq(out, "web-1_A");
	forward_component(out, "a.b c\nd\te/f");
	ck_assert_str_eq(out, "a_b_c_d_e_f");
	forward_component(out, "");
	ck_assert_str_eq(out, "_");
	forward_component(out, NULL);
	ck_assert_str_eq(out, "_");
	forward_component(out, "..");
	ck_assert_str_eq(out, "__");
	forward_component(out, "\x01\x7f=,\"'");
	ck_assert_str_eq(out, "______");
	/* UTF-8 kept whole; broken sequences, overlongs and surrogates are not */
	forward_component(out, "応答時間");
	ck_assert_str_eq(out, "応答時間");
	forward_component(out, "a\xe5\xbf"); /* cut in the middle */
	ck_assert_str_eq(out, "a__");
	forward_component(out, "\xc0\xae"); /* overlong '.' */
	ck_assert_str_eq(out, "__");
	forward_component(out, "\xed\xa0\x80"); /* a surrogate */
	ck_assert_str_eq(out, "___");
	forward_component(out, "\xf5\x80\x80\x80");
	ck_assert_str_eq(out, "____");
	/* long: cut at FORWARD_COMP_MAX bytes, on a character boundary */
	char longs[2000];
	memset(longs, 'x', sizeof longs - 1);
	longs[sizeof longs - 1] = '\0';
	ck_assert_uint_eq(forward_component(out, longs), FORWARD_COMP_MAX);
	char jp[1000] = "";
	for (int i = 0; i < 100; i++)
		strcat(jp, "日"); /* 3 bytes each */
	size_t n = forward_component(out, jp);
	ck_assert_uint_le(n, FORWARD_COMP_MAX);
	ck_assert_uint_eq(n % 3, 0);
	ck_assert_uint_eq(n, (FORWARD_COMP_MAX / 3) * 3);
	/* random bytes: never a separator, never longer than the cap */
	srand(7);
	for (int r = 0; r < 2000; r++) {
		char in[300];
		size_t len = (size_t)(rand() % 299);
		for (size_t i = 0; i < len; i++)
			in[i] = (char)(1 + rand() % 255);
		in[len] = '\0';
		n = forward_component(out, in);
		ck_assert_uint_le(n, FORWARD_COMP_MAX);
		ck_assert_uint_eq(strlen(out), n);
		no_sep(out, n);
	}
}
END_TEST

START_TEST(lines)
{
	char line[1024];
	size_t n = forward_graphite_line(line, sizeof line, "mamori", "c1", "web.example.jp",
	                                 "http", "time", 0.25, 1800000000.7);
	ck_assert_str_eq(line, "mamori.c1.web_example_jp.http.time 0.25 1800000000\n");
	ck_assert_uint_eq(n, strlen(line));
	n = forward_graphite_line(line, sizeof line, "", "c 1", "a", "disk /", "used space", 1e12,
	                          5);
	ck_assert_str_eq(line, "c_1.a.disk__.used_space 1000000000000 5\n");
	n = forward_graphite_line(line, sizeof line, "noc.m", "顧客", "a\nb", "c", "x\ny", -3, 5);
	ck_assert_str_eq(line, "noc.m.顧客.a_b.c.x_y -3 5\n");
	/* values not finite, times out of range, a buffer too small */
	ck_assert_uint_eq(forward_graphite_line(line, sizeof line, "m", "a", "b", "c", "d", NAN, 5),
	                  0);
	ck_assert_uint_eq(
	    forward_graphite_line(line, sizeof line, "m", "a", "b", "c", "d", INFINITY, 5), 0);
	ck_assert_uint_eq(forward_graphite_line(line, sizeof line, "m", "a", "b", "c", "d", 1, -1),
	                  0);
	ck_assert_uint_eq(forward_graphite_line(line, 10, "m", "a", "b", "c", "d", 1, 5), 0);
	/* a bad prefix is not used */
	forward_graphite_line(line, sizeof line, "a b", "a", "b", "c", "d", 1, 5);
	ck_assert_str_eq(line, "a.b.c.d 1 5\n");
	/* hostile names everywhere: one line, five components, three fields */
	const char *bad[] = { "",       ".",       "..",       " ",    "\n",         "a.b",
		              "x y\tz", "日本.語", "\xff\xfe", "=,\"", "/etc/passwd" };
	size_t nb = sizeof bad / sizeof bad[0];
	for (size_t i = 0; i < nb; i++)
		for (size_t j = 0; j < nb; j++) {
			n = forward_graphite_line(line, sizeof line, "m", bad[i], bad[j],
			                          bad[nb - 1 - i], bad[(i + j) % nb], 1.5, 100);
			ck_assert_uint_gt(n, 0);
			ck_assert_ptr_eq(strchr(line, '\n'), line + n - 1);
			int dots = 0, spaces = 0;
			for (size_t k = 0; k < n; k++) {
				dots += line[k] == '.';
				spaces += line[k] == ' ';
			}
			ck_assert_int_eq(spaces, 2);
			ck_assert_int_eq(dots, 4 + 1); /* 4 separators and the one in 1.5 */
		}
}
END_TEST

/* Split an Influx line protocol line the way InfluxDB does: unescaped
 * spaces separate the three parts, unescaped commas the tags. */
static int influx_parts(const char *line, int *tags)
{
	int spaces = 0;
	*tags = 0;
	for (const char *p = line; *p && *p != '\n'; p++) {
		if (*p == '\\') {
			ck_assert_msg(p[1] == ',' || p[1] == '=' || p[1] == ' ',
			              "stray backslash in %s", line);
			p++;
			continue;
		}
		if (*p == ' ')
			spaces++;
		if (*p == ',' && spaces == 0)
			(*tags)++;
	}
	return spaces;
}

START_TEST(influx_lines)
{
	char out[2 * FORWARD_COMP_MAX + 1];
	forward_influx_tag(out, "a b,c=d");
	ck_assert_str_eq(out, "a\\ b\\,c\\=d");
	forward_influx_tag(out, "x\ny\tz\\");
	ck_assert_str_eq(out, "x_y_z_");
	forward_influx_tag(out, "");
	ck_assert_str_eq(out, "_");
	forward_influx_tag(out, "応答.時間");
	ck_assert_str_eq(out, "応答.時間");
	forward_influx_tag(out, "\xff\xc0\xae");
	ck_assert_str_eq(out, "___");
	char line[2048];
	size_t n = forward_influx_line(line, sizeof line, "mamori", "c1", "web 1", "http", "time",
	                               "s", 0.25, 1800000000.5);
	ck_assert_str_eq(line, "mamori,customer=c1,asset=web\\ 1,check=http,label=time,unit=s"
	                       " value=0.25 1800000000500000000\n");
	ck_assert_uint_eq(n, strlen(line));
	forward_influx_line(line, sizeof line, "", "c", "a", "k", "l", "", -1, 5);
	ck_assert_str_eq(line, "perfdata,customer=c,asset=a,check=k,label=l value=-1 5000000000\n");
	ck_assert_uint_eq(
	    forward_influx_line(line, sizeof line, "m", "a", "b", "c", "d", "", NAN, 5), 0);
	ck_assert_uint_eq(forward_influx_line(line, 20, "m", "a", "b", "c", "d", "", 1, 5), 0);
	/* hostile names: one line, always three parts and four or five tags */
	const char *bad[] = { "",   " ",   ",",       "=",    "a=b,c d", "\n",
		              "\\", "x\\", "日本 語", "\xff", "\"q\"" };
	size_t nb = sizeof bad / sizeof bad[0];
	for (size_t i = 0; i < nb; i++)
		for (size_t j = 0; j < nb; j++) {
			n = forward_influx_line(line, sizeof line, "m", bad[i], bad[j],
			                        bad[nb - 1 - i], bad[(i + j) % nb], bad[j], 1.5,
			                        100);
			ck_assert_uint_gt(n, 0);
			ck_assert_ptr_eq(strchr(line, '\n'), line + n - 1);
			int tags;
			ck_assert_int_eq(influx_parts(line, &tags), 2);
			ck_assert_int_eq(tags, bad[j][0] ? 5 : 4);
		}
	/* long: cut, on a character boundary */
	char jp[1000] = "";
	for (int i = 0; i < 100; i++)
		strcat(jp, "日");
	n = forward_influx_tag(out, jp);
	ck_assert_uint_le(n, FORWARD_COMP_MAX);
	ck_assert_uint_eq(n % 3, 0);
	char sp[500];
	memset(sp, ' ', sizeof sp - 1);
	sp[sizeof sp - 1] = '\0';
	n = forward_influx_tag(out, sp);
	ck_assert_uint_eq(n, 2 * FORWARD_COMP_MAX);
}
END_TEST

START_TEST(addresses)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256];
	ck_assert_int_eq(forward_parse_addr("127.0.0.1:2003", &ss, &len, err, sizeof err), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 2003);
	ck_assert_int_eq(forward_parse_addr("[::1]:2004", &ss, &len, err, sizeof err), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 2004);
	const char *no[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+5",
		"127.0.0.1: 5",
		"127.0.0.1:5x",
		"localhost:2003",
		"carbon.example.jp:2003",
		"::1:2003",
		"[::1]2003",
		"[::1",
		"[nothex]:1",
		"1.2.3:4",
		"[0123456789012345678901234567890123456789012345678901234567890123456789]:1"
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		err[0] = '\0';
		ck_assert_msg(forward_parse_addr(no[i], &ss, &len, err, sizeof err) == -1, "%s",
		              no[i]);
		ck_assert(err[0]);
	}
	ck_assert(forward_prefix_ok(""));
	ck_assert(forward_prefix_ok("mamori"));
	ck_assert(forward_prefix_ok("noc.tokyo-1.mamori_2"));
	ck_assert(!forward_prefix_ok("."));
	ck_assert(!forward_prefix_ok(".a"));
	ck_assert(!forward_prefix_ok("a."));
	ck_assert(!forward_prefix_ok("a..b"));
	ck_assert(!forward_prefix_ok("a b"));
	ck_assert(!forward_prefix_ok("日本"));
	char longp[80];
	memset(longp, 'a', 65);
	longp[65] = '\0';
	ck_assert(!forward_prefix_ok(longp));
	struct forward_conf c;
	forward_conf_default(&c);
	ck_assert_int_eq(forward_conf_check(&c, err, sizeof err), 0);
	snprintf(c.graphite, sizeof c.graphite, "example:1");
	ck_assert_int_eq(forward_conf_check(&c, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "graphite"));
	snprintf(c.graphite, sizeof c.graphite, "127.0.0.1:1");
	c.buffer = 100;
	ck_assert_int_eq(forward_conf_check(&c, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "buffer"));
}
END_TEST

/* A forwarder without a loop: the buffer alone. */
static struct forward *bare(size_t size)
{
	struct forward_conf c;
	forward_conf_default(&c);
	c.buffer = size;
	return forward_new(NULL, &c);
}

START_TEST(buffer_bounded)
{
	struct forward *f = bare(FORWARD_BUF_MIN);
	struct forward_stats st;
	char line[128];
	size_t len;
	/* 100-byte lines, numbered: the buffer holds 40 of them */
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(line, sizeof line, "%06d", i);
		memset(line + n, 'x', 99 - (size_t)n);
		line[99] = '\n';
		forward__append(f, line, 100);
		forward_get_stats(f, &st);
		ck_assert_uint_le(st.queued, FORWARD_BUF_MIN);
	}
	forward_get_stats(f, &st);
	const char *p = forward__peek(f, &len);
	ck_assert_uint_eq(len % 100, 0);
	ck_assert_uint_eq(st.dropped + len / 100, 1000);
	ck_assert_uint_gt(st.dropped, 0);
	/* what is left is the newest lines, in order, whole */
	int last = -1;
	for (size_t o = 0; o < len; o += 100) {
		int v = atoi(p + o);
		ck_assert_int_eq(p[o + 99], '\n');
		if (last >= 0)
			ck_assert_int_eq(v, last + 1);
		last = v;
	}
	ck_assert_int_eq(last, 999);
	/* a line longer than half the buffer is dropped, not stored */
	char big[3000];
	memset(big, 'y', sizeof big);
	big[sizeof big - 1] = '\n';
	uint64_t before = st.dropped;
	ck_assert_int_eq(forward__append(f, big, sizeof big), -1);
	forward_get_stats(f, &st);
	ck_assert_uint_eq(st.dropped, before + 1);
	forward_free(f);
}
END_TEST

START_TEST(buffer_partial)
{
	struct forward *f = bare(FORWARD_BUF_MIN);
	struct forward_stats st;
	char line[100];
	memset(line, 'a', 99);
	line[99] = '\n';
	forward__append(f, line, 100);
	forward__append(f, line, 100);
	/* 150 bytes written: one line sent, the second started */
	forward__consume(f, 150);
	forward_get_stats(f, &st);
	ck_assert_uint_eq(st.sent, 1);
	ck_assert_uint_eq(st.queued, 50);
	/* fill up: the partly written line is kept, so the receiver gets it
	 * whole; the drops take the lines after it */
	memset(line, 'b', 99);
	for (int i = 0; i < 200; i++)
		forward__append(f, line, 100);
	size_t len;
	const char *p = forward__peek(f, &len);
	ck_assert_uint_ge(len, 50);
	for (size_t i = 0; i < 49; i++)
		ck_assert_int_eq(p[i], 'a');
	ck_assert_int_eq(p[49], '\n');
	ck_assert_int_eq(p[50], 'b');
	ck_assert_uint_eq((len - 50) % 100, 0);
	forward__consume(f, len);
	forward_get_stats(f, &st);
	ck_assert_uint_eq(st.sent, 2 + (len - 50) / 100);
	ck_assert_uint_eq(st.sent + st.dropped, 202);
	ck_assert_uint_eq(st.queued, 0);
	forward_free(f);
}
END_TEST

/* ---- a real receiver on loopback ---- */

static int listen_on(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	a.sin_port = htons((uint16_t)*port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

struct rx {
	int lfd, cfd;
	char got[8192];
	size_t n;
	ev_io w;
};

static void rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rx *r = w->data;
	if (r->cfd < 0) {
		r->cfd = accept(r->lfd, NULL, NULL);
		ev_io_stop(loop, w);
		ev_io_set(w, r->cfd, EV_READ);
		ev_io_start(loop, w);
		return;
	}
	ssize_t n = read(r->cfd, r->got + r->n, sizeof r->got - 1 - r->n);
	if (n > 0) {
		r->n += (size_t)n;
		r->got[r->n] = '\0';
	}
}

static void run_for(struct ev_loop *loop, double s)
{
	ev_now_update(loop);
	double end = ev_now(loop) + s;
	while (ev_now(loop) < end) {
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
		usleep(2000);
		ev_now_update(loop);
	}
}

START_TEST(tcp_receiver)
{
	struct ev_loop *loop = ev_loop_new(0);
	int port = 0;
	struct rx r = { .cfd = -1 };
	r.lfd = listen_on(&port);
	ev_io_init(&r.w, rx_cb, r.lfd, EV_READ);
	r.w.data = &r;
	ev_io_start(loop, &r.w);
	struct forward_conf c;
	forward_conf_default(&c);
	snprintf(c.graphite, sizeof c.graphite, "127.0.0.1:%d", port);
	struct forward *f = forward_new(loop, &c);
	forward_value(f, "c1", "web 1", "http", "time", "s", 0.5, 1800000000);
	forward_value(f, "c1", "web 1", "http", "size", "B", 1024, 1800000000);
	run_for(loop, 0.3);
	ck_assert_str_eq(r.got, "mamori.c1.web_1.http.time 0.5 1800000000\n"
	                        "mamori.c1.web_1.http.size 1024 1800000000\n");
	struct forward_stats st;
	forward_get_stats(f, &st);
	ck_assert_int_eq(st.connected, 1);
	ck_assert_uint_eq(st.sent, 2);
	ck_assert_uint_eq(st.connects, 1);
	/* the receiver goes away: noticed without a write, reconnect after 1 s */
	ev_io_stop(loop, &r.w);
	close(r.cfd);
	r.cfd = -1;
	run_for(loop, 0.2);
	forward_get_stats(f, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_uint_eq(st.failures, 1);
	forward_value(f, "c1", "a", "b", "held", "", 7, 1800000001);
	r.n = 0;
	r.got[0] = '\0';
	ev_io_set(&r.w, r.lfd, EV_READ);
	ev_io_start(loop, &r.w);
	run_for(loop, 1.5);
	forward_get_stats(f, &st);
	ck_assert_int_eq(st.connected, 1);
	ck_assert_uint_eq(st.connects, 2);
	ck_assert_str_eq(r.got, "mamori.c1.a.b.held 7 1800000001\n");
	forward_free(f);
	ev_io_stop(loop, &r.w);
	close(r.cfd);
	close(r.lfd);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(udp_receiver)
{
	struct ev_loop *loop = ev_loop_new(0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t l = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &l);
	struct forward_conf c;
	forward_conf_default(&c);
	snprintf(c.influx, sizeof c.influx, "udp://127.0.0.1:%d", ntohs(a.sin_port));
	struct forward *f = forward_new(loop, &c);
	for (int i = 0; i < 100; i++)
		forward_value(f, "c1", "a", "k", "l", "s", i, 1800000000);
	run_for(loop, 0.2);
	struct forward_stats st;
	forward_get_stats(f, &st);
	ck_assert_uint_eq(st.sent, 100);
	ck_assert_int_eq(st.connected, 1);
	/* the datagrams hold whole lines, at most 1400 bytes each */
	char d[4096];
	int nlines = 0, grams = 0;
	ssize_t n;
	while ((n = recv(fd, d, sizeof d, MSG_DONTWAIT)) > 0) {
		grams++;
		ck_assert_int_le(n, 1400);
		ck_assert_int_eq(d[n - 1], '\n');
		for (ssize_t i = 0; i < n; i++)
			nlines += d[i] == '\n';
		ck_assert(
		    memcmp(d, "mamori,customer=c1,asset=a,check=k,label=l,unit=s value=", 56) == 0);
	}
	ck_assert_int_eq(nlines, 100);
	ck_assert_int_gt(grams, 1);
	/* nobody listens any more: refused datagrams are dropped and counted */
	close(fd);
	for (int r = 0; r < 5; r++) {
		forward_value(f, "c1", "a", "k", "l", "s", r, 1800000001);
		run_for(loop, 0.05);
	}
	forward_get_stats(f, &st);
	ck_assert_uint_gt(st.dropped, 0);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_uint_eq(st.queued, 0);
	forward_free(f);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(tcp_refused)
{
	struct ev_loop *loop = ev_loop_new(0);
	int port = 0;
	int lfd = listen_on(&port);
	close(lfd); /* nobody listens there now */
	struct forward_conf c;
	forward_conf_default(&c);
	c.buffer = FORWARD_BUF_MIN;
	snprintf(c.graphite, sizeof c.graphite, "127.0.0.1:%d", port);
	struct forward *f = forward_new(loop, &c);
	for (int i = 0; i < 500; i++)
		forward_value(f, "customer", "asset", "check", "label", "", i, 1800000000 + i);
	run_for(loop, 0.2);
	struct forward_stats st;
	forward_get_stats(f, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_uint_ge(st.failures, 1);
	ck_assert_uint_gt(st.dropped, 0);
	ck_assert_uint_le(st.queued, FORWARD_BUF_MIN);
	ck_assert_uint_eq(st.sent, 0);
	forward_free(f);
	ev_loop_destroy(loop);
}
END_TEST

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("format");
	tcase_add_test(tc, components);
	tcase_add_test(tc, lines);
	tcase_add_test(tc, influx_lines);
	tcase_add_test(tc, addresses);
	suite_add_tcase(s, tc);
	tc = tcase_create("buffer");
	tcase_add_test(tc, buffer_bounded);
	tcase_add_test(tc, buffer_partial);
	suite_add_tcase(s, tc);
	tc = tcase_create("tcp");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, tcp_receiver);
	tcase_add_test(tc, tcp_refused);
	tcase_add_test(tc, udp_receiver);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
