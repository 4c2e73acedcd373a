/*
 * Tests for src/mqtt.
 *   pure:  topic matching, filter/topic validity, backoff, the `mqtt`
 *          config group (unknown keys with line numbers), the permission
 *          rules of password_file and tls.key_file, mqtt_io's buffers
 *          called directly.
 *   live:  against a REAL mosquitto (Debian's /usr/sbin/mosquitto) that the
 *          test starts on a free 127.0.0.1 port: publish/subscribe/PUBACK
 *          tokens and the size limit; the loop keeps its timers on time
 *          while the broker is black-holed; a broker restart mid-stream
 *          loses no QoS 1 message; back-pressure (a loop that does not run
 *          does not read; nothing is dropped) and read bursts; a publish
 *          leaves at once; several clients on one thread; an idle
 *          session costs no CPU.
 *          Skipped when mosquitto is missing.
 *          This binary does not link the read/write/close interposer
 *          (src/mqtt/mqtt_interpose.c, mamorid only; its own suite is
 *          test_mqtt_interpose): the sessions run on plain libmosquitto
 *          I/O, as in every test and tool.
 * The loop is pumped with ev_run(EVRUN_ONCE) and timers: no sleep().
 */
#include <check.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "mqtt/mqtt_io.h"
#include "tests/lib/tmpdir.h"

extern char **environ;

/* ---- pure ---- */

START_TEST(test_match)
{
	static const struct {
		const char *f, *t;
		int m;
	} v[] = {
		{ "a/b", "a/b", 1 },
		{ "a/b", "a/c", 0 },
		{ "a/+", "a/b", 1 },
		{ "a/+", "a/b/c", 0 },
		{ "a/#", "a/b/c", 1 },
		{ "a/#", "a", 1 },
		{ "#", "a/b", 1 },
		{ "+/+", "/", 1 },
		{ "+", "/a", 0 },
		{ "a/+/c", "a//c", 1 },
		{ "#", "$SYS/x", 0 },
		{ "+/x", "$SYS/x", 0 },
		{ "$SYS/#", "$SYS/x", 1 },
		{ "a/b", "a/b/", 0 },
		{ "a/b/", "a/b/", 1 },
		{ "mamori/v1/agents/+/+/defender", "mamori/v1/agents/c0001/PC-1/defender", 1 },
		{ "mamori/v1/agents/+/+/defender", "mamori/v1/agents/c0001/PC-1/status", 0 },
		{ "mamori/v1/agents/+/+/defender", "mamori/v1/agents/c0001/defender", 0 },
		{ "a", "ab", 0 },
		{ "ab", "a", 0 },
		{ "a/+", "a", 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ck_assert_msg(mqtt_topic_match(v[i].f, v[i].t) == v[i].m, "%s vs %s", v[i].f,
		              v[i].t);
}
END_TEST

START_TEST(test_valid)
{
	ck_assert(mqtt_filter_valid("a/+/b/#"));
	ck_assert(mqtt_filter_valid("+"));
	ck_assert(mqtt_filter_valid("#"));
	ck_assert(!mqtt_filter_valid(""));
	ck_assert(!mqtt_filter_valid("a/b#"));
	ck_assert(!mqtt_filter_valid("a/#/b"));
	ck_assert(!mqtt_filter_valid("a+/b"));
	ck_assert(!mqtt_filter_valid("a/+b"));
	ck_assert(mqtt_topic_valid("a/b"));
	ck_assert(!mqtt_topic_valid("a/+"));
	ck_assert(!mqtt_topic_valid("a/#"));
	ck_assert(!mqtt_topic_valid(""));
}
END_TEST

START_TEST(test_backoff)
{
	double prev = 0;
	for (unsigned a = 0; a < 40; a++) {
		double lo = mqtt_backoff(0.5, 30, a, 0.0), hi = mqtt_backoff(0.5, 30, a, 0.999999);
		ck_assert(lo <= hi && hi <= 30.0 && lo >= 0.25);
		ck_assert(hi >= prev || hi > 29.9);
		prev = hi;
	}
	ck_assert(mqtt_backoff(0.5, 30, 0, 0) == 0.25);
	ck_assert(mqtt_backoff(0.5, 30, 20, 0) == 15.0);
	/* jitter spreads retries */
	ck_assert(mqtt_backoff(1, 8, 3, 0.1) != mqtt_backoff(1, 8, 3, 0.9));
}
END_TEST

static int parse_text(const char *text, struct mqtt_conf *c, char *err, size_t errlen)
{
	config_t cfg;
	config_init(&cfg);
	ck_assert_msg(config_read_string(&cfg, text) == CONFIG_TRUE, "libconfig: %s",
	              config_error_text(&cfg));
	mqtt_conf_init(c);
	int rc = mqtt_conf_parse(config_lookup(&cfg, "mqtt"), c, err, errlen);
	config_destroy(&cfg);
	return rc;
}

START_TEST(test_conf)
{
	struct mqtt_conf c;
	char err[256] = "";
	ck_assert_int_eq(
	    parse_text("mqtt = { host = \"broker.lan\"; port = 8883; client_id = \"n1\";\n"
	               "  topic_prefix = \"acme\"; node = \"east\"; username = \"srv\";\n"
	               "  password_file = \"/x\"; keepalive = 20; max_message_size = 2048;\n"
	               "  tls = { ca_file = \"/ca\"; cert_file = \"/c\"; key_file = \"/k\"; };\n"
	               "  reconnect_min = 1; reconnect_max = 5.5; };",
	               &c, err, sizeof(err)),
	    0);
	ck_assert_str_eq(c.host, "broker.lan");
	ck_assert_int_eq(c.port, 8883);
	ck_assert_str_eq(c.topic_prefix, "acme");
	ck_assert_str_eq(c.tls.key_file, "/k");
	ck_assert_uint_eq(c.max_message_size, 2048);
	ck_assert(c.reconnect_max == 5.5);
	mqtt_conf_free(&c);

	ck_assert_int_eq(
	    parse_text("mqtt = {\n host = \"h\";\n hots = \"typo\"; };", &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":3:") && strstr(err, "hots") && strstr(err, "unknown key"), "%s",
	              err);
	mqtt_conf_free(&c);
	ck_assert_int_eq(parse_text("mqtt = { port = 70000; };", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "port"));
	mqtt_conf_free(&c);
	ck_assert_int_eq(parse_text("mqtt = { port = \"1883\"; };", &c, err, sizeof(err)), -1);
	mqtt_conf_free(&c);
	ck_assert_int_eq(
	    parse_text("mqtt = { tls = { ca_file = \"/ca\"; pin = 1; }; };", &c, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "pin"));
	mqtt_conf_free(&c);
	ck_assert_int_eq(
	    parse_text("mqtt = { tls = { cert_file = \"/c\"; }; };", &c, err, sizeof(err)), -1);
	mqtt_conf_free(&c);
	ck_assert_int_eq(parse_text("mqtt = { topic_prefix = \"a/b\"; };", &c, err, sizeof(err)),
	                 -1);
	mqtt_conf_free(&c);
	ck_assert_int_eq(parse_text("x = 1;", &c, err, sizeof(err)), 0); /* no group: defaults */
	ck_assert_str_eq(c.host, "127.0.0.1");
	mqtt_conf_free(&c);
}
END_TEST

/* password_file and tls.key_file are secrets: mqtt_new refuses them when
 * others may read them or their group or others may write them, naming
 * the file and the fix and never showing the password. */
static struct mqtt *secret_client(struct ev_loop *loop, const char *pw, const char *ca,
                                  const char *cert, const char *key, char *err, size_t errlen)
{
	struct mqtt_conf c;
	mqtt_conf_init(&c);
	c.username = strdup("u");
	c.password_file = pw ? strdup(pw) : NULL;
	c.tls.ca_file = ca ? strdup(ca) : NULL;
	c.tls.cert_file = cert ? strdup(cert) : NULL;
	c.tls.key_file = key ? strdup(key) : NULL;
	err[0] = '\0';
	struct mqtt *m = mqtt_new(loop, &c, err, errlen);
	mqtt_conf_free(&c);
	return m;
}

START_TEST(test_secret_files)
{
	static const unsigned ok[] = { 0600, 0640, 0400 };
	static const struct {
		unsigned mode;
		const char *why;
	} bad[] = { { 0644, "readable by others" },
		    { 0660, "writable by its group" },
		    { 0620, "writable by its group" },
		    { 0606, "writable by others" } };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	char dir[64], pw[128], ca[128], cert[128], key[128], err[1024], want[256];
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "mqtt-secret"), 0);
	snprintf(pw, sizeof pw, "%s/pw", dir);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(cert, sizeof cert, "%s/c.pem", dir);
	snprintf(key, sizeof key, "%s/c.key", dir);
	ck_assert_int_eq(tmpdir_write_file(ca, "not parsed before a connect\n", 0644), 0);
	ck_assert_int_eq(tmpdir_write_file(cert, "not parsed before a connect\n", 0644), 0);

	/* missing: a clear error naming the file */
	struct mqtt *m = secret_client(loop, pw, NULL, NULL, NULL, err, sizeof err);
	ck_assert_ptr_null(m);
	snprintf(want, sizeof want, "password_file: cannot read %s: No such file", pw);
	ck_assert_msg(strstr(err, want), "%s", err);
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(tmpdir_write_file(pw, "hunter2-secret\nignored\n", ok[i]), 0);
		m = secret_client(loop, pw, NULL, NULL, NULL, err, sizeof err);
		ck_assert_msg(m != NULL, "%04o refused: %s", ok[i], err);
		mqtt_free(m);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(tmpdir_write_file(pw, "hunter2-secret\n", bad[i].mode), 0);
		m = secret_client(loop, pw, NULL, NULL, NULL, err, sizeof err);
		ck_assert_msg(m == NULL, "%04o accepted", bad[i].mode);
		snprintf(want, sizeof want, "password_file: bad permissions %04o on %s: %s",
		         bad[i].mode, pw, bad[i].why);
		ck_assert_msg(strstr(err, want), "%s", err);
		snprintf(want, sizeof want, "chmod 600 %s", pw);
		ck_assert_msg(strstr(err, want), "%s", err);
		ck_assert_msg(!strstr(err, "hunter2"), "password in the message: %s", err);
	}

	/* the TLS client key: libmosquitto reads it, the rules are ours */
	ck_assert_int_eq(tmpdir_write_file(pw, "hunter2-secret\n", 0600), 0);
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(tmpdir_write_file(key, "not parsed before a connect\n", ok[i]), 0);
		m = secret_client(loop, pw, ca, cert, key, err, sizeof err);
		ck_assert_msg(m != NULL, "key %04o refused: %s", ok[i], err);
		mqtt_free(m);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(tmpdir_write_file(key, "x\n", bad[i].mode), 0);
		m = secret_client(loop, pw, ca, cert, key, err, sizeof err);
		ck_assert_msg(m == NULL, "key %04o accepted", bad[i].mode);
		snprintf(want, sizeof want, "tls key_file: bad permissions %04o on %s: %s",
		         bad[i].mode, key, bad[i].why);
		ck_assert_msg(strstr(err, want), "%s", err);
	}
	unlink(key);
	m = secret_client(loop, pw, ca, cert, key, err, sizeof err);
	ck_assert_ptr_null(m);
	snprintf(want, sizeof want, "cannot read %s", key);
	ck_assert_msg(strstr(err, want), "%s", err);
	ck_assert_int_eq(tmpdir_remove(dir), 0);
	ev_loop_destroy(loop);
}
END_TEST

/* mqtt_io's buffers on a socket pair, called as mqtt_interpose.c calls
 * them (this binary does not link the interposer: its own suite,
 * test_mqtt_interpose, drives them through read()/write()/close()): reads
 * of any size come from one real read; writes wait for mqtt_io_flush; a
 * wake-up byte is recognised only inside a libmosquitto call; only an
 * attached socket is found; a dead peer is reported by the next read. */
static const struct mqtt_io_sys libc_sys = { read, write };

START_TEST(test_io)
{
	int sp[2], other[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, other), 0);
	struct mqtt_io io;
	mqtt_io_init(&io);
	ck_assert_ptr_null(mqtt_io__find(sp[0]));
	mqtt_io_attach(&io, sp[0]);
	ck_assert_ptr_eq(mqtt_io__find(sp[0]), &io);
	ck_assert_ptr_null(mqtt_io__find(sp[1]));
	ck_assert_ptr_null(mqtt_io__find(-1));
	ck_assert_int_eq(io.served, 0);
	ck_assert_int_eq(write(sp[1], "\x30\x05hello\x40\x02\x00\x01", 11), 11);
	char b[16];
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 1), 1);
	ck_assert_int_eq(b[0], 0x30);
	ck_assert_int_eq(io.served, 1);
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 1), 1);
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 5), 5);
	ck_assert_int_eq(memcmp(b, "hello", 5), 0);
	ck_assert_uint_eq(io.sys_reads, 1);
	ck_assert_uint_eq(mqtt_io_pending_in(&io), 4);
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 16), 4); /* what is buffered */
	errno = 0;
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 16), -1); /* empty: EAGAIN */
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(io.drained, 1);
	ck_assert_uint_eq(io.sys_reads, 2);
	/* writes are collected */
	ck_assert_int_eq(mqtt_io__write(&io, &libc_sys, "ab", 2), 2);
	ck_assert_int_eq(mqtt_io__write(&io, &libc_sys, "cd", 2), 2);
	ck_assert_int_eq(read(sp[1], b, 16), -1);
	ck_assert_uint_eq(mqtt_io_pending_out(&io), 4);
	ck_assert_int_eq(mqtt_io_flush(&io), 0);
	ck_assert_uint_eq(io.sys_writes, 1);
	ck_assert_int_eq(read(sp[1], b, 16), 4);
	ck_assert_int_eq(memcmp(b, "abcd", 4), 0);
	/* a 0 byte to another AF_UNIX socket: a wake-up only inside libmosquitto */
	char z = 0;
	ck_assert_int_eq(mqtt_io__is_wake(other[0], &z, 1), 0);
	mqtt_io_enter(&io);
	ck_assert_int_eq(mqtt_io__is_wake(other[0], "x", 1), 0);
	ck_assert_int_eq(mqtt_io__is_wake(sp[0], &z, 1), 0); /* the broker socket's own */
	ck_assert_int_eq(mqtt_io__is_wake(other[0], &z, 1), 1);
	mqtt_io_leave(&io);
	ck_assert_int_eq(io.wake_fd, other[0]);
	ck_assert_int_eq(mqtt_io__is_wake(other[0], "xy", 2), 1); /* learnt: all its writes */
	ck_assert_int_eq(mqtt_io__is_wake(other[1], &z, 1), 0);
	/* detached: not found, nothing buffered */
	mqtt_io_detach(&io);
	ck_assert_ptr_null(mqtt_io__find(sp[0]));
	ck_assert_int_eq(io.fd, -1);
	close(sp[0]);
	close(sp[1]);
	/* a peer that went away: the flush fails, reads report it */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	mqtt_io_attach(&io, sp[0]);
	ck_assert_int_eq(io.served, 0);
	close(sp[1]);
	ck_assert_int_eq(mqtt_io__write(&io, &libc_sys, "x", 1), 1);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(mqtt_io_flush(&io), -1);
	errno = 0;
	ck_assert_int_eq(mqtt_io__read(&io, &libc_sys, b, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	errno = 0;
	ck_assert_int_eq(mqtt_io__write(&io, &libc_sys, "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	mqtt_io_detach(&io);
	close(sp[0]);
	close(other[0]);
	close(other[1]);
	mqtt_io_free(&io);
}
END_TEST

/* ---- live: a real mosquitto ---- */

struct broker {
	pid_t pid;
	int port;
	char dir[256], conf[300];
};

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop, (void)t, (void)revents;
}

/* Run the loop until done(ud) or `secs` pass; a 10 ms timer bounds each
 * iteration so the condition is re-checked. */
static void pump(struct ev_loop *loop, double secs, int (*done)(void *), void *ud)
{
	ev_timer t;
	ev_timer_init(&t, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &t);
	double end = ev_time() + secs;
	while (ev_time() < end && !(done && done(ud)))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
}

static void broker_start(struct broker *b)
{
	FILE *f = fopen(b->conf, "w");
	fprintf(f,
	        "listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
	        "persistence_location %s/\nmax_inflight_messages 1000\nmax_queued_messages 100000\n"
	        "log_type error\n",
	        b->port, b->dir);
	fclose(f);
	char *argv[] = { "mosquitto", "-c", b->conf, NULL };
	ck_assert_int_eq(posix_spawn(&b->pid, "/usr/sbin/mosquitto", NULL, NULL, argv, environ), 0);
	/* wait until it listens */
	for (int i = 0; i < 500; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
			                 .sin_port = htons((uint16_t)b->port),
			                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(s);
		if (ok)
			return;
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("mosquitto did not start on port %d", b->port);
}

static void broker_stop(struct broker *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
}

static void broker_init(struct broker *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/mamori-test-mqtt.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	/* started as root, mosquitto drops to user "mosquitto": it must be able
	 * to write its persistence file here */
	ck_assert_int_eq(chmod(b->dir, 0777), 0);
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	b->port = free_port();
}

static void broker_cleanup(struct broker *b)
{
	char cmd[400];
	broker_stop(b);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct mqtt *client(struct ev_loop *loop, int port, const char *id, size_t max_size)
{
	struct mqtt_conf c;
	char err[256];
	mqtt_conf_init(&c);
	c.port = port;
	free(c.client_id);
	c.client_id = strdup(id);
	c.reconnect_min = 0.1;
	c.reconnect_max = 0.5;
	c.connect_timeout = 1;
	if (max_size)
		c.max_message_size = max_size;
	struct mqtt *m = mqtt_new(loop, &c, err, sizeof(err));
	mqtt_conf_free(&c);
	ck_assert_msg(m != NULL, "%s", err);
	return m;
}

struct sink {
	unsigned n, n_big;
	unsigned char seen[4096];
	unsigned distinct;
	uint64_t acks;
};

static void on_msg(const char *topic, const void *p, size_t len, int qos, int retain, void *ud)
{
	struct sink *s = ud;
	(void)topic, (void)qos, (void)retain;
	s->n++;
	if (len > 100)
		s->n_big++;
	unsigned seq = (unsigned)atoi(p);
	if (seq < 4096 && !s->seen[seq]) {
		s->seen[seq] = 1;
		s->distinct++;
	}
}

static void on_ack(uint64_t tok, void *ud)
{
	(void)tok;
	((struct sink *)ud)->acks++;
}

static int is_connected(void *ud)
{
	return mqtt_counters(ud)->connected;
}

struct want {
	struct sink *s;
	unsigned distinct;
	uint64_t acks;
};

static int got_all(void *ud)
{
	struct want *w = ud;
	return w->s->distinct >= w->distinct && w->s->acks >= w->acks;
}

static int have_mosquitto(void)
{
	return access("/usr/sbin/mosquitto", X_OK) == 0;
}

/* mqtt_publish's answers without a broker: QoS 1 publishes queue (they
 * go out after a connect) up to the window, then "later" (the caller keeps
 * the message); what can never be sent is "never". */
START_TEST(test_publish_codes)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *m = client(loop, 1, "t-codes", 0); /* never started */
	ck_assert_int_eq(mqtt_publish(m, "a/+/b", "x", 1, 1, 0, NULL), MQTT_PUB_NEVER);
	ck_assert_int_eq(mqtt_publish(m, "a/b", "x", 1, 3, 0, NULL), MQTT_PUB_NEVER);
	unsigned n = 0;
	int rc;
	while ((rc = mqtt_publish(m, "a/b", "x", 1, 1, 0, NULL)) == 0 && n < 100000)
		n++;
	ck_assert_int_eq(rc, MQTT_PUB_LATER);
	ck_assert_uint_ge(n, 1000);
	ck_assert_uint_lt(n, 65536);
	ck_assert_uint_eq(mqtt_counters(m)->unacked, n);
	mqtt_free(m);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_live_pubsub)
{
	struct broker b;
	struct sink s = { 0 };
	if (!have_mosquitto())
		return;
	broker_init(&b);
	broker_start(&b);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *m = client(loop, b.port, "t-pubsub", 1024);
	mqtt_set_ack_cb(m, on_ack, &s);
	ck_assert_ptr_null(mqtt_subscribe(m, "bad/#/x", 1, on_msg, &s));
	struct mqtt_sub *sub = mqtt_subscribe(m, "t/+/x", 1, on_msg, &s);
	ck_assert_ptr_nonnull(sub);
	ck_assert_int_eq(mqtt_start(m), 0);
	pump(loop, 5, is_connected, m);
	ck_assert_int_eq(mqtt_counters(m)->connected, 1);
	ck_assert_int_eq(mqtt_counters(m)->protocol, 5);
	pump(loop, 0.3, NULL, NULL); /* let the SUBACK arrive */
	char big[2000];
	memset(big, 'x', sizeof(big));
	big[0] = '9';
	ck_assert_int_eq(mqtt_publish(m, "t/a/x", big, sizeof(big), 1, 0, NULL), 0);
	for (unsigned i = 0; i < 1000; i++) {
		char p[16];
		uint64_t tok = 0;
		int n = snprintf(p, sizeof(p), "%u", i);
		ck_assert_int_eq(
		    mqtt_publish(m, i % 2 ? "t/a/x" : "t/b/x", p, (size_t)n, 1, 0, &tok), 0);
		ck_assert(tok > 0);
	}
	ck_assert_int_eq(mqtt_publish(m, "t/+/x", "x", 1, 1, 0, NULL), -1);
	struct want w = { &s, 1000, 1001 };
	pump(loop, 10, got_all, &w);
	ck_assert_uint_eq(s.distinct, 1000);
	ck_assert_uint_eq(s.n_big, 0); /* over max_message_size: never delivered */
	ck_assert_uint_eq(mqtt_counters(m)->rejected_size, 1);
	ck_assert_uint_eq(s.acks, 1001);
	ck_assert_uint_eq(mqtt_counters(m)->unacked, 0);
	mqtt_unsubscribe(m, sub);
	mqtt_free(m);
	ev_loop_destroy(loop);
	broker_cleanup(&b);
}
END_TEST

struct lag {
	double last, max;
	unsigned ticks;
};

static void lag_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct lag *l = t->data;
	double now = ev_time();
	(void)loop, (void)revents;
	if (l->last > 0 && now - l->last - 0.01 > l->max)
		l->max = now - l->last - 0.01;
	l->last = now;
	l->ticks++;
}

/* A listener whose accept queue is full: further SYNs are dropped, so a
 * connect to it hangs like a black-holed address - on loopback, without
 * firewall rules. */
static int blackhole(int *port, int *fillers, int nfill)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 0), 0);
	getsockname(s, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	for (int i = 0; i < nfill; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
	}
	return s;
}

START_TEST(test_live_blackhole)
{
	int port, fill[4];
	int ls = blackhole(&port, fill, 4);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *m = client(loop, port, "t-blackhole", 0);
	struct lag l = { 0 };
	ev_timer t;
	ev_timer_init(&t, lag_cb, 0.01, 0.01);
	t.data = &l;
	ev_timer_start(loop, &t);
	ck_assert_int_eq(mqtt_start(m), 0);
	/* publishes while unreachable are accepted and queued */
	ck_assert_int_eq(mqtt_publish(m, "t/q", "1", 1, 1, 0, NULL), 0);
	double t0 = ev_time();
	while (ev_time() - t0 < 3.0)
		ev_run(loop, EVRUN_ONCE);
	ck_assert_int_eq(mqtt_counters(m)->connected, 0);
	ck_assert_uint_ge(l.ticks, 200);
	ck_assert_msg(l.max < 0.05, "loop timer was %.3f s late", l.max);
	double s0 = ev_time();
	mqtt_free(m);
	ck_assert_msg(ev_time() - s0 < 1.5, "stop took %.2f s", ev_time() - s0);
	ev_timer_stop(loop, &t);
	ev_loop_destroy(loop);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(ls);
	printf("mqtt: broker black-holed 3 s: %u timer ticks, max lateness %.1f ms\n", l.ticks,
	       l.max * 1000);
}
END_TEST

struct feeder {
	struct mqtt *m;
	struct broker *b;
	unsigned next, total, per_tick, restart_at;
	int restarted;
};

static void feed_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct feeder *f = t->data;
	(void)loop, (void)revents;
	for (unsigned k = 0; k < f->per_tick && f->next < f->total; k++, f->next++) {
		char p[16];
		int n = snprintf(p, sizeof(p), "%u", f->next);
		ck_assert_int_eq(mqtt_publish(f->m, "r/seq", p, (size_t)n, 1, 0, NULL), 0);
	}
	if (!f->restarted && f->next >= f->restart_at) {
		/* mid-stream: stop the broker (it saves its state), start it again */
		f->restarted = 1;
		broker_stop(f->b);
		broker_start(f->b);
	}
	if (f->next >= f->total)
		ev_timer_stop(loop, t);
}

static int both_connected(void *ud)
{
	struct mqtt **mm = ud;
	return mqtt_counters(mm[0])->connected && mqtt_counters(mm[1])->connected;
}

START_TEST(test_live_restart)
{
	struct broker b;
	struct sink s = { 0 }, acks = { 0 };
	if (!have_mosquitto())
		return;
	broker_init(&b);
	broker_start(&b);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *mm[2] = { client(loop, b.port, "t-pub", 0), client(loop, b.port, "t-sub", 0) };
	mqtt_set_ack_cb(mm[0], on_ack, &acks);
	ck_assert_ptr_nonnull(mqtt_subscribe(mm[1], "r/#", 1, on_msg, &s));
	mqtt_start(mm[0]);
	mqtt_start(mm[1]);
	pump(loop, 5, both_connected, mm);
	pump(loop, 0.3, NULL, NULL);
	struct feeder f = {
		.m = mm[0], .b = &b, .total = 3000, .per_tick = 30, .restart_at = 1500
	};
	ev_timer t;
	ev_timer_init(&t, feed_cb, 0.01, 0.01);
	t.data = &f;
	ev_timer_start(loop, &t);
	struct want w = { &s, 3000, 0 }, wa = { &acks, 0, 3000 };
	pump(loop, 30, got_all, &w);
	pump(loop, 10, got_all, &wa); /* unacked ones are re-sent after the reconnect */
	ev_timer_stop(loop, &t);
	printf(
	    "mqtt: broker restart mid-stream: sent %u, received %u distinct (%u with duplicates), "
	    "acks %llu, publisher reconnects %llu, subscriber reconnects %llu\n",
	    f.next, s.distinct, s.n, (unsigned long long)acks.acks,
	    (unsigned long long)mqtt_counters(mm[0])->reconnects,
	    (unsigned long long)mqtt_counters(mm[1])->reconnects);
	ck_assert_int_eq(f.restarted, 1);
	ck_assert_uint_eq(s.distinct, 3000);
	ck_assert_uint_eq(acks.acks, 3000);
	ck_assert_uint_eq(mqtt_counters(mm[0])->unacked, 0);
	ck_assert_uint_ge(mqtt_counters(mm[0])->reconnects, 1);
	ck_assert_uint_ge(mqtt_counters(mm[1])->reconnects, 1);
	mqtt_free(mm[0]);
	mqtt_free(mm[1]);
	ev_loop_destroy(loop);
	broker_cleanup(&b);
}
END_TEST

/* Back-pressure and bursts: the subscriber's loop is not run while 2000
 * QoS 1 messages reach the broker, so nothing reads them (TCP pushes back,
 * the broker queues); once the loop runs again every message arrives
 * exactly once, several per read burst. */
START_TEST(test_live_backpressure)
{
	struct broker b;
	struct sink s = { 0 }, acks = { 0 };
	if (!have_mosquitto())
		return;
	broker_init(&b);
	broker_start(&b);
	struct ev_loop *lp = ev_loop_new(EVFLAG_AUTO), *ls = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *pub = client(lp, b.port, "t-bp-pub", 0);
	struct mqtt_conf c;
	char err[256];
	mqtt_conf_init(&c);
	c.port = b.port;
	free(c.client_id);
	c.client_id = strdup("t-bp-sub");
	struct mqtt *sub = mqtt_new(ls, &c, err, sizeof(err));
	mqtt_conf_free(&c);
	ck_assert_msg(sub != NULL, "%s", err);
	mqtt_set_ack_cb(pub, on_ack, &acks);
	ck_assert_ptr_nonnull(mqtt_subscribe(sub, "bp/#", 1, on_msg, &s));
	mqtt_start(pub);
	mqtt_start(sub);
	pump(lp, 5, is_connected, pub);
	pump(ls, 5, is_connected, sub);
	pump(ls, 0.3, NULL, NULL); /* SUBACK */
	for (unsigned i = 0; i < 2000; i++) {
		char p[16];
		int n = snprintf(p, sizeof(p), "%u", i);
		ck_assert_int_eq(mqtt_publish(pub, "bp/x", p, (size_t)n, 1, 0, NULL), 0);
	}
	struct want wa = { &acks, 0, 2000 };
	pump(lp, 10, got_all, &wa); /* the broker has them all; sub's loop idle */
	ck_assert_uint_eq(acks.acks, 2000);
	pump(lp, 0.3, NULL, NULL);
	ck_assert_uint_eq(s.n, 0);
	struct want w = { &s, 2000, 0 };
	pump(ls, 10, got_all, &w);
	const struct mqtt_counters *k = mqtt_counters(sub);
	printf("mqtt: back-pressure: %u delivered (%u calls), %llu bursts\n", s.distinct, s.n,
	       (unsigned long long)k->batches);
	ck_assert_uint_eq(s.distinct, 2000);
	ck_assert_uint_eq(s.n, 2000);
	ck_assert_uint_ge(k->batches, 2000 / 64);
	ck_assert_uint_lt(k->batches, 2000); /* several messages per wake-up */
	ck_assert_uint_le(k->batches, k->msgs_in);
	mqtt_free(pub);
	mqtt_free(sub);
	ev_loop_destroy(lp);
	ev_loop_destroy(ls);
	broker_cleanup(&b);
}
END_TEST

static int one_ack(void *ud)
{
	return ((struct sink *)ud)->acks > 0;
}

/* A publish leaves at once (before the loop sleeps), not at its
 * next poll timeout (100 ms): 20 publish -> PUBACK round trips, one at a
 * time, on an otherwise idle connection. */
START_TEST(test_live_publish_wakes)
{
	struct broker b;
	struct sink acks = { 0 };
	if (!have_mosquitto())
		return;
	broker_init(&b);
	broker_start(&b);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *m = client(loop, b.port, "t-wake", 0);
	mqtt_set_ack_cb(m, on_ack, &acks);
	mqtt_start(m);
	pump(loop, 5, is_connected, m);
	pump(loop, 0.3, NULL, NULL);
	double t0 = ev_time();
	for (int i = 0; i < 20; i++) {
		acks.acks = 0;
		ck_assert_int_eq(mqtt_publish(m, "w/x", "1", 1, 1, 0, NULL), 0);
		pump(loop, 2, one_ack, &acks);
		ck_assert_uint_eq(acks.acks, 1);
	}
	double dt = ev_time() - t0;
	printf("mqtt: 20 publish->PUBACK round trips in %.1f ms\n", dt * 1000);
	ck_assert_msg(dt < 0.5, "20 round trips took %.3f s", dt);
	mqtt_free(m);
	ev_loop_destroy(loop);
	broker_cleanup(&b);
}
END_TEST

static double cpu_seconds(void)
{
	struct rusage ru;
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* An idle session costs (almost) no CPU on libmosquitto's own I/O (this
 * binary has no interposer: the case of a mamorid whose interposer is
 * not exported).  Connected, subscribed, one message in and one ack
 * (so read bursts ran), then 2 s with nothing to read.  Guards against
 * the spin where a burst ended only when mqtt_io saw the socket drained:
 * without the interposer nothing set it, so every wake-up made BURST_MAX
 * empty reads and re-armed itself - one full core. */
START_TEST(test_live_idle)
{
	struct broker b;
	struct sink s = { 0 };
	if (!have_mosquitto())
		return;
	broker_init(&b);
	broker_start(&b);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mqtt *m = client(loop, b.port, "t-idle", 0);
	mqtt_set_ack_cb(m, on_ack, &s);
	ck_assert_ptr_nonnull(mqtt_subscribe(m, "idle/#", 1, on_msg, &s));
	mqtt_start(m);
	pump(loop, 5, is_connected, m);
	ck_assert_int_eq(mqtt_counters(m)->connected, 1);
	ck_assert_int_eq(mqtt_counters(m)->io_buffered, 0);
	pump(loop, 0.3, NULL, NULL); /* SUBACK */
	ck_assert_int_eq(mqtt_publish(m, "idle/x", "1", 1, 1, 0, NULL), 0);
	struct want w = { &s, 1, 1 };
	pump(loop, 5, got_all, &w);
	ck_assert_uint_eq(s.acks, 1);
	double c0 = cpu_seconds(), t0 = ev_time();
	pump(loop, 2, NULL, NULL);
	double cpu = cpu_seconds() - c0, wall = ev_time() - t0;
	printf("mqtt: idle session on plain libmosquitto I/O: %.3f s CPU in %.2f s\n", cpu, wall);
	ck_assert_msg(cpu < 0.2 * wall, "idle session used %.2f s CPU in %.2f s", cpu, wall);
	ck_assert_int_eq(mqtt_counters(m)->connected, 1);
	mqtt_free(m);
	ev_loop_destroy(loop);
	broker_cleanup(&b);
}
END_TEST

static Suite *mqtt_suite(void)
{
	Suite *s = suite_create("mqtt");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_conf);
	tcase_add_test(tc, test_secret_files);
	tcase_add_test(tc, test_io);
	suite_add_tcase(s, tc);
	tc = tcase_create("live");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_publish_codes); /* ~5 s: libmosquitto queues in O(n) */
	tcase_add_test(tc, test_live_pubsub);
	tcase_add_test(tc, test_live_blackhole);
	tcase_add_test(tc, test_live_restart);
	tcase_add_test(tc, test_live_backpressure);
	tcase_add_test(tc, test_live_publish_wakes);
	tcase_add_test(tc, test_live_idle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mqtt_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
