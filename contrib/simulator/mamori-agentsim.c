/*
 * mamori-agentsim: plays N Windows agents of M customers publishing
 * Defender reports (schema mamori.defender/1) over MQTT, for the demo and
 * for benchmarks, with scripted faults.
 *
 * Each of --connections threads owns one libev loop and one broker
 * connection and plays the agents i with i % K == thread.  Reports go
 * round-robin over a thread's agents; a thread keeps at most --window QoS 1
 * messages without PUBACK (flow control, so "sent" means "the broker has
 * it").  The rate is paced by a 1 ms timer; at --rate 0 the thread also
 * publishes again as soon as PUBACKs free the window.
 *
 * Two transports.  Plain TCP (the default): a small MQTT 3.1.1 publisher
 * written here (CONNECT, PUBLISH, PUBACK, PINGREQ, DISCONNECT), which
 * encodes many PUBLISH packets into one buffer and writes them with one
 * write(), and reads the PUBACKs once per 1 ms tick, many per read().  Why not
 * libmosquitto for this: it reads each packet's header byte by byte and
 * writes each packet with its own write() (plus a wake-up byte per
 * publish from another thread), ~50 us of CPU per report here, so the
 * simulator ate the CPU that the broker and mamorid needed and capped
 * the benchmark near 15,000 reports/s.  With --tls-ca (or --libmosquitto)
 * it uses the project's mqtt module (libmosquitto), as before.  The
 * simulator is a load generator, not part of the product: the daemon
 * itself always speaks through libmosquitto.
 *
 * Faults (each a percentage of agents, chosen deterministically from
 * --seed so a run is reproducible): Defender off (real-time protection
 * off), signatures aging (age grows by one day per round), silent (the
 * agent reports once, then never again), bad payloads (a rotating set of
 * malformed reports).  Agents publish "online" (retained) at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <ev.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "util/log.h"

#define RAW_RBUF      65536
#define RAW_HIGH      (256 * 1024) /* stop encoding while this much waits for write() */
#define RAW_KEEPALIVE 60

struct opts {
	const char *host, *prefix, *username, *password_file, *ca_file;
	int port, qos, connections, window, status, seq, libmosq;
	unsigned customers, agents;
	double rate, duration;
	unsigned long long count;
	double pct_off, pct_aging, pct_silent, pct_bad;
	unsigned seed;
};

/* The body of a healthy-looking report after ComputerName, rebuilt only
 * when the second, the age or the protection flag changes. */
struct body_cache {
	time_t sec;
	unsigned age;
	int off, len;
	char ts[32];
	char text[1400];
};

struct worker {
	const struct opts *o;
	int idx;
	pthread_t thr;
	struct ev_loop *loop;
	struct mqtt *m; /* libmosquitto transport */
	ev_timer tick;
	double t0, first_pub, last_ack, last_ping;
	double stop_at; /* elapsed time when a stop signal was seen; 0 none */
	unsigned long long sent, acked, bad_sent, unacked, limit;
	unsigned next_agent; /* index among this worker's agents */
	unsigned n_agents, round;
	int done, failed;
	struct body_cache bc;
	/* raw transport */
	int fd;
	ev_io wio;
	char *wbuf;
	size_t wlen, woff, wcap;
	unsigned char rbuf[RAW_RBUF];
	size_t rlen;
	unsigned short mid;
};

enum fault { F_NONE, F_OFF, F_AGING, F_SILENT, F_BAD };
/* Deterministic fault of agent i (a hash, not rand(): reproducible). */
static enum fault agent_fault(const struct opts *o, unsigned i)
{
	unsigned x = (i + 1) * 2654435761u ^ o->seed;
	x ^= x >> 15;
	double p = (double)(x % 10000) / 100.0;
	if (p < o->pct_off)
		return F_OFF;
	p -= o->pct_off;
	if (p < o->pct_aging)
		return F_AGING;
	p -= o->pct_aging;
	if (p < o->pct_silent)
		return F_SILENT;
	p -= o->pct_silent;
	if (p < o->pct_bad)
		return F_BAD;
	return F_NONE;
}

static void agent_names(const struct opts *o, unsigned i, char *cust, char *host, size_t size)
{
	snprintf(cust, size, "c%04u", i % o->customers + 1);
	snprintf(host, size, "PC-%05u", i / o->customers + 1);
}

static int bad_payload(unsigned k, char *buf, size_t size)
{
	static const char *const bad[] = {
		"{\"schema\":\"mamori.defender/1\",\"AMServiceEnabled\":tru",
		"{\"schema\":\"mamori.defender/1\",\"ComputerName\":\"PC-\xff\xfe\",\"AMServiceEnabled\":true}",
		"{\"schema\":\"mamori.defender/1\",\"AMServiceEnabled\":\"true\",\"AntivirusSignatureAge\":\"9\"}",
		"{\"schema\":\"mamori.defender/9\",\"AMServiceEnabled\":true}",
		"{\"schema\":\"mamori.defender/1\",\"AntivirusSignatureAge\":-1,\"QuickScanAge\":1e309}",
		"\"just a string\"",
		"",
	};
	size_t n = sizeof(bad) / sizeof(bad[0]);
	if (k % (n + 1) == n) { /* deep nesting */
		size_t d = size / 2 - 1 < 5000 ? size / 2 - 1 : 5000;
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		return (int)(2 * d);
	}
	return snprintf(buf, size, "%s", bad[k % (n + 1)]);
}

static void body_build(struct body_cache *bc, time_t sec, unsigned age, int off)
{
	struct tm tm;
	const char *on = off ? "false" : "true";
	gmtime_r(&sec, &tm);
	strftime(bc->ts, sizeof(bc->ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(
	    bc->text, sizeof(bc->text),
	    "\"AMEngineVersion\":\"1.1.24090.11\","
	    "\"AMProductVersion\":\"4.18.24090.11\",\"AMRunningMode\":\"Normal\","
	    "\"AMServiceEnabled\":true,\"AMServiceVersion\":\"4.18.24090.11\","
	    "\"AntispywareEnabled\":true,\"AntispywareSignatureAge\":%u,"
	    "\"AntispywareSignatureVersion\":\"1.421.1722.0\",\"AntivirusEnabled\":true,"
	    "\"AntivirusSignatureAge\":%u,\"AntivirusSignatureLastUpdated\":\"%s\","
	    "\"AntivirusSignatureVersion\":\"1.421.1722.0\",\"BehaviorMonitorEnabled\":%s,"
	    "\"ComputerState\":0,\"DefenderSignaturesOutOfDate\":false,\"FullScanAge\":4294967295,"
	    "\"FullScanOverdue\":false,\"FullScanRequired\":false,\"IoavProtectionEnabled\":%s,"
	    "\"IsTamperProtected\":true,\"IsVirtualMachine\":false,\"NISEnabled\":true,"
	    "\"NISEngineVersion\":\"1.1.24090.11\",\"NISSignatureAge\":%u,"
	    "\"OnAccessProtectionEnabled\":%s,\"QuickScanAge\":1,\"QuickScanOverdue\":false,"
	    "\"RealTimeProtectionEnabled\":%s,\"TamperProtectionSource\":\"Signatures\"}",
	    age, age, bc->ts, on, on, age, on, on);
	bc->sec = sec;
	bc->age = age;
	bc->off = off;
	bc->len = n > 0 && (size_t)n < sizeof(bc->text) ? n : 0;
}

/* A report: a short head with the per-agent fields, then the cached body. */
static int report(struct worker *w, unsigned long long seq, enum fault f, const char *host,
                  char *buf, size_t size)
{
	struct body_cache *bc = &w->bc;
	time_t now = (time_t)ev_now(w->loop);
	unsigned age = f == F_AGING ? w->round : 0;
	int off = f == F_OFF;
	if (bc->sec != now || bc->age != age || bc->off != off || !bc->len)
		body_build(bc, now, age, off);
	char seqf[48] = "";
	if (w->o->seq)
		snprintf(seqf, sizeof(seqf), "\"agent_seq\":%llu,", seq);
	int n = snprintf(
	    buf, size,
	    "{\"schema\":\"mamori.defender/1\",\"ts\":\"%s\",\"agent_version\":\"sim-1.0\",%s"
	    "\"ComputerName\":\"%s\",",
	    bc->ts, seqf, host);
	if (n < 0 || !bc->len || (size_t)n + (size_t)bc->len >= size)
		return -1;
	memcpy(buf + n, bc->text, (size_t)bc->len + 1);
	return n + bc->len;
}

/* ---- raw MQTT 3.1.1 publisher (plain TCP) ---- */

static int raw_reserve(struct worker *w, size_t more)
{
	if (w->woff && w->woff == w->wlen)
		w->woff = w->wlen = 0;
	if (w->wlen + more <= w->wcap)
		return 0;
	if (w->woff) { /* compact before growing */
		memmove(w->wbuf, w->wbuf + w->woff, w->wlen - w->woff);
		w->wlen -= w->woff;
		w->woff = 0;
		if (w->wlen + more <= w->wcap)
			return 0;
	}
	size_t cap = w->wcap ? w->wcap : 65536;
	while (cap < w->wlen + more)
		cap *= 2;
	char *nb = realloc(w->wbuf, cap);
	if (!nb)
		return -1;
	w->wbuf = nb;
	w->wcap = cap;
	return 0;
}

/* Append one packet: fixed header byte, remaining length, then the parts. */
static int raw_packet(struct worker *w, unsigned char type, const void *a, size_t alen,
                      const void *b, size_t blen)
{
	size_t rem = alen + blen;
	if (rem > 268435455u || raw_reserve(w, rem + 5))
		return -1;
	unsigned char *p = (unsigned char *)w->wbuf + w->wlen;
	*p++ = type;
	do {
		unsigned char d = rem % 128;
		rem /= 128;
		*p++ = (unsigned char)(d | (rem ? 128 : 0));
	} while (rem);
	if (alen)
		memcpy(p, a, alen);
	if (blen)
		memcpy(p + alen, b, blen);
	w->wlen = (size_t)((char *)p - w->wbuf) + alen + blen;
	return 0;
}

static int raw_flush(struct worker *w)
{
	while (w->woff < w->wlen) {
		ssize_t n = write(w->fd, w->wbuf + w->woff, w->wlen - w->woff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(w->loop, &w->wio);
			return 0;
		}
		if (n <= 0) {
			fprintf(stderr, "mamori-agentsim: connection %d: write: %s\n", w->idx,
			        strerror(errno));
			return -1;
		}
		w->woff += (size_t)n;
	}
	w->woff = w->wlen = 0;
	ev_io_stop(w->loop, &w->wio);
	return 0;
}

static int raw_publish(struct worker *w, const char *topic, const void *payload, size_t len,
                       int qos, int retain)
{
	unsigned char vh[2 + 65535 + 2];
	size_t tl = strlen(topic), n = 0;
	if (tl > 65535)
		return -1;
	vh[n++] = (unsigned char)(tl >> 8);
	vh[n++] = (unsigned char)tl;
	memcpy(vh + n, topic, tl);
	n += tl;
	if (qos) {
		if (++w->mid == 0)
			w->mid = 1;
		vh[n++] = (unsigned char)(w->mid >> 8);
		vh[n++] = (unsigned char)w->mid;
	}
	return raw_packet(w, (unsigned char)(0x30 | (qos << 1) | (retain ? 1 : 0)), vh, n, payload,
	                  len);
}

static void on_ack(uint64_t tok, void *ud);
static void pump(struct worker *w);

static void raw_fail(struct worker *w, const char *what)
{
	fprintf(stderr, "mamori-agentsim: connection %d: %s\n", w->idx, what);
	w->failed = 1;
	ev_break(w->loop, EVBREAK_ALL);
}

/* Parse what the broker sent: PUBACKs and PINGRESPs (we subscribe to
 * nothing, so nothing else comes). */
static int raw_parse(struct worker *w)
{
	size_t i = 0;
	while (w->rlen - i >= 2) {
		size_t rem = 0, k = 1;
		unsigned mul = 1;
		for (;; k++) {
			if (i + k >= w->rlen)
				goto partial;
			rem += (w->rbuf[i + k] & 127u) * mul;
			mul *= 128;
			if (!(w->rbuf[i + k] & 128))
				break;
			if (k == 4)
				return -1;
		}
		if (rem > RAW_RBUF - 8)
			return -1;
		if (i + k + 1 + rem > w->rlen)
			break;
		if ((w->rbuf[i] & 0xf0) == 0x40)
			on_ack(0, w);
		i += k + 1 + rem;
	}
partial:
	memmove(w->rbuf, w->rbuf + i, w->rlen - i);
	w->rlen -= i;
	return 0;
}

/* Drain the socket until EAGAIN: all the PUBACKs that came since the
 * last tick, in a few reads (reading on every ack would cost one wake-up
 * and one read per report).  0 or -1 (failed). */
static int raw_read(struct worker *w)
{
	for (;;) {
		ssize_t n = read(w->fd, w->rbuf + w->rlen, sizeof(w->rbuf) - w->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			raw_fail(w, n == 0 ? "broker closed the connection" : strerror(errno));
			return -1;
		}
		w->rlen += (size_t)n;
		if (raw_parse(w)) {
			raw_fail(w, "malformed packet from the broker");
			return -1;
		}
	}
}

static void raw_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;
	(void)loop, (void)revents;
	if (raw_flush(w))
		raw_fail(w, "write failed");
	else
		pump(w);
}

/* The client id of connection idx.  With a login it is the login (one
 * connection) or login-idx: a broker that binds client ids to logins
 * (contrib/mosquitto: use_username_as_clientid) replaces it with the login
 * anyway, so there several connections of one login replace each other
 * (main() warns). */
static void client_id(const struct opts *o, int idx, char *buf, size_t size)
{
	if (o->username && o->connections == 1)
		snprintf(buf, size, "%s", o->username);
	else if (o->username)
		snprintf(buf, size, "%s-%d", o->username, idx);
	else
		snprintf(buf, size, "agentsim-%ld-%d", (long)getpid(), idx);
}

static int raw_str(unsigned char *p, const char *s)
{
	size_t l = strlen(s);
	p[0] = (unsigned char)(l >> 8);
	p[1] = (unsigned char)l;
	memcpy(p + 2, s, l);
	return (int)l + 2;
}

/* Blocking TCP connect + CONNECT/CONNACK (this thread is ours: blocking
 * is fine here), then non-blocking for the run.  0 or -1. */
static int raw_connect(struct worker *w, const char *password)
{
	const struct opts *o = w->o;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[16], id[256];
	unsigned char ca[4], vh[1280]; /* 10 + id (< 256) + login, password (< 400 each) */
	snprintf(port, sizeof(port), "%d", o->port);
	if (getaddrinfo(o->host, port, &hints, &res) != 0)
		return -1;
	w->fd = -1;
	for (struct addrinfo *ai = res; ai && w->fd < 0; ai = ai->ai_next) {
		w->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (w->fd >= 0 && connect(w->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(w->fd);
			w->fd = -1;
		}
	}
	freeaddrinfo(res);
	if (w->fd < 0)
		return -1;
	int one = 1;
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	client_id(o, w->idx, id, sizeof(id));
	int n = raw_str(vh, "MQTT");
	vh[n++] = 4; /* 3.1.1 */
	vh[n++] = (unsigned char)(0x02 | (o->username ? 0x80 : 0) | (password ? 0x40 : 0));
	vh[n++] = 0;
	vh[n++] = RAW_KEEPALIVE;
	n += raw_str(vh + n, id);
	if (o->username && strlen(o->username) < 400)
		n += raw_str(vh + n, o->username);
	if (password && strlen(password) < 400)
		n += raw_str(vh + n, password);
	if (raw_packet(w, 0x10, vh, (size_t)n, NULL, 0) || raw_flush(w))
		return -1;
	size_t got = 0;
	while (got < 4) {
		ssize_t r = read(w->fd, ca + got, 4 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	if (ca[0] != 0x20 || ca[3] != 0) {
		fprintf(stderr,
		        "mamori-agentsim: connection %d: broker refused (CONNACK code %u)\n",
		        w->idx, ca[3]);
		return -1;
	}
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&w->wio, raw_write_cb, w->fd, EV_WRITE);
	w->wio.data = w;
	return 0;
}

/* ---- the load ---- */

static int send_msg(struct worker *w, const char *topic, const void *payload, size_t len, int qos,
                    int retain)
{
	if (w->m) {
		uint64_t tok;
		return mqtt_publish(w->m, topic, payload, len, qos, retain, &tok);
	}
	return raw_publish(w, topic, payload, len, qos, retain);
}

/* Publish one message for the worker's next agent; 0, 1 (skipped) or -1. */
static int publish_next(struct worker *w)
{
	const struct opts *o = w->o;
	char cust[32], host[32], topic[256], buf[16384];
	unsigned k = w->next_agent;
	unsigned i = (unsigned)w->idx + k * (unsigned)o->connections; /* global agent index */
	enum fault f = agent_fault(o, i);
	unsigned long long round = w->round; /* this report's round (the last agent's too) */
	w->next_agent = (k + 1) % w->n_agents;
	if (w->next_agent == 0)
		w->round++;
	if (f == F_SILENT && round > 0)
		return 1; /* silent after its first report: skip */
	agent_names(o, i, cust, host, sizeof(cust));
	snprintf(topic, sizeof(topic), "%s/v1/agents/%s/%s/defender", o->prefix, cust, host);
	int n = f == F_BAD ? bad_payload(w->round + i, buf, sizeof(buf))
	                   : report(w, w->sent, f, host, buf, sizeof(buf));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (send_msg(w, topic, buf, (size_t)n, o->qos, 0))
		return -1;
	if (!w->sent)
		w->first_pub = ev_time();
	w->sent++;
	if (f == F_BAD)
		w->bad_sent++;
	if (o->qos > 0)
		w->unacked++;
	return 0;
}

static void on_ack(uint64_t tok, void *ud)
{
	struct worker *w = ud;
	(void)tok;
	w->acked++;
	w->unacked--;
	w->last_ack = ev_now(w->loop);
}

/* SIGTERM/SIGINT: stop publishing, wait up to 5 s for the PUBACKs, then
 * print the summary as at the end of a run (the benches stop background
 * traffic this way). */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int finished(struct worker *w, double el)
{
	const struct opts *o = w->o;
	if (stop_requested && w->stop_at == 0)
		w->stop_at = el;
	if (!((o->duration > 0 && el >= o->duration) || (w->limit && w->sent >= w->limit) ||
	      stop_requested))
		return 0;
	if (w->unacked == 0 || el > o->duration + 30 || (w->stop_at > 0 && el > w->stop_at + 5)) {
		w->done = 1;
		if (!w->m) { /* clean end of session: no will, no error logged */
			raw_packet(w, 0xe0, NULL, 0, NULL, 0);
			raw_flush(w);
		}
		ev_break(w->loop, EVBREAK_ALL);
	}
	return 1;
}

/* Publish what is due (rate) and fits (window, write buffer). */
static void pump(struct worker *w)
{
	const struct opts *o = w->o;
	double el = ev_now(w->loop) - w->t0;
	if (w->done || w->failed || finished(w, el))
		return;
	unsigned long long due = (unsigned long long)-1;
	if (o->rate > 0) {
		double want = el * o->rate / o->connections;
		due = want > (double)w->sent ? (unsigned long long)want - w->sent : 0;
	}
	unsigned skipped = 0;
	for (unsigned long long k = 0; k < due && (!w->limit || w->sent < w->limit); k++) {
		if (o->qos > 0 && w->unacked >= (unsigned long long)o->window)
			break;
		if (!w->m && w->wlen - w->woff >= RAW_HIGH)
			break;
		int rc = publish_next(w);
		if (rc < 0) {
			w->failed = 1;
			ev_break(w->loop, EVBREAK_ALL);
			return;
		}
		/* every agent silent: nothing to send until the run ends (at
		 * --rate 0 `due` has no end, so stop looking) */
		if (rc == 1 && ++skipped >= w->n_agents)
			break;
		if (rc == 0)
			skipped = 0;
	}
	if (!w->m && !ev_is_active(&w->wio) && raw_flush(w))
		raw_fail(w, "write failed");
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;
	(void)revents;
	if (w->m && !mqtt_counters(w->m)->connected && w->sent == 0)
		return;
	if (!w->m) {
		if (raw_read(w))
			return;
		if (ev_now(loop) - w->last_ping > RAW_KEEPALIVE / 2) {
			w->last_ping = ev_now(loop);
			raw_packet(w, 0xc0, NULL, 0, NULL, 0); /* PINGREQ */
		}
	}
	pump(w);
}

static void status_all(struct worker *w)
{
	const struct opts *o = w->o;
	for (unsigned k = 0; k < w->n_agents; k++) {
		char cust[32], host[32], topic[256];
		unsigned i = (unsigned)w->idx + k * (unsigned)o->connections;
		agent_names(o, i, cust, host, sizeof(cust));
		snprintf(topic, sizeof(topic), "%s/v1/agents/%s/%s/status", o->prefix, cust, host);
		if (send_msg(w, topic, "online", 6, 1, 1) == 0)
			w->unacked++; /* its PUBACK comes through on_ack too */
	}
	if (!w->m && raw_flush(w))
		w->failed = 1;
}

/* libmosquitto transport: wait for the session before the clock starts. */
static int start_mosq(struct worker *w)
{
	mqtt_start(w->m);
	double give_up = ev_time() + 15;
	while (!mqtt_counters(w->m)->connected && ev_time() < give_up)
		ev_run(w->loop, EVRUN_ONCE);
	return mqtt_counters(w->m)->connected ? 0 : -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char *password = NULL;
	ev_timer_init(&w->tick, tick_cb, 0.001, 0.001);
	w->tick.data = w;
	ev_timer_start(w->loop, &w->tick);
	if (!w->m && w->o->password_file) {
		FILE *f = fopen(w->o->password_file, "r");
		char line[512] = "";
		if (f && fgets(line, sizeof(line), f))
			line[strcspn(line, "\r\n")] = '\0';
		if (f)
			fclose(f);
		password = strdup(line);
	}
	int rc = w->m ? start_mosq(w) : raw_connect(w, password);
	free(password);
	if (rc) {
		fprintf(stderr,
		        "mamori-agentsim: connection %d: broker %s:%d unreachable or refused\n",
		        w->idx, w->o->host, w->o->port);
		w->failed = 1;
		if (w->m)
			mqtt_stop(w->m);
		return NULL;
	}
	if (w->o->status)
		status_all(w);
	ev_now_update(w->loop);
	w->t0 = w->last_ping = ev_now(w->loop);
	ev_run(w->loop, 0);
	if (w->m)
		mqtt_stop(w->m);
	return NULL;
}
static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: mamori-agentsim [options]\n"
	    "Plays N Windows agents of M customers publishing Defender reports over MQTT.\n"
	    "  -H, --host HOST          broker host [127.0.0.1]\n"
	    "  -p, --port PORT          broker port [1883]\n"
	    "      --prefix P           topic prefix [mamori]\n"
	    "  -u, --username U         broker login (all connections; also the client id).\n"
	    "                           A broker that binds client ids to logins\n"
	    "                           (contrib/mosquitto) allows one connection per login:\n"
	    "                           use -k 1 there; its ACL lets a login publish for\n"
	    "                           its own PC only: -u c0001/PC-00001 -c 1 -n 1 -k 1\n"
	    "      --password-file F    file with the password\n"
	    "      --tls-ca FILE        enable TLS, verify the broker with this CA\n"
	    "  -c, --customers M        customers c0001..cM [3]\n"
	    "  -n, --agents N           agents (PCs) in total [30]\n"
	    "  -r, --rate R             reports per second in total; 0 = as fast as possible [10]\n"
	    "  -d, --duration S         stop after S seconds [10]\n"
	    "  -N, --count C            stop after C reports (overrides duration when set)\n"
	    "  -k, --connections K      broker connections, one thread each [2]\n"
	    "  -q, --qos Q              0 or 1 [1]\n"
	    "  -w, --window W           QoS 1 messages in flight per connection [2000]\n"
	    "      --status             publish retained \"online\" for every agent first\n"
	    "      --seq                add \"agent_seq\" (a per-connection counter) to reports\n"
	    "      --libmosquitto       use libmosquitto (the mqtt module) even without TLS\n"
	    "Faults, in %% of agents (deterministic from --seed):\n"
	    "      --defender-off P     real-time protection off\n"
	    "      --aging P            signatures age one day per round\n"
	    "      --silent P           report once, then go silent\n"
	    "      --bad P              send malformed payloads (rotating set)\n"
	    "      --seed S             [1]\n"
	    "Prints: sent, acked, bad, elapsed seconds, rate (first publish to last PUBACK),\n"
	    "first_publish and last_ack (epoch seconds) and the transport.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'H' },        { "port", 1, 0, 'p' },
		{ "prefix", 1, 0, 1 },        { "username", 1, 0, 'u' },
		{ "password-file", 1, 0, 2 }, { "tls-ca", 1, 0, 3 },
		{ "customers", 1, 0, 'c' },   { "agents", 1, 0, 'n' },
		{ "rate", 1, 0, 'r' },        { "duration", 1, 0, 'd' },
		{ "count", 1, 0, 'N' },       { "connections", 1, 0, 'k' },
		{ "qos", 1, 0, 'q' },         { "window", 1, 0, 'w' },
		{ "status", 0, 0, 4 },        { "seq", 0, 0, 5 },
		{ "defender-off", 1, 0, 6 },  { "aging", 1, 0, 7 },
		{ "silent", 1, 0, 8 },        { "bad", 1, 0, 9 },
		{ "seed", 1, 0, 10 },         { "libmosquitto", 0, 0, 11 },
		{ "help", 0, 0, 'h' },        { 0, 0, 0, 0 },
	};
	*o = (struct opts){ .host = "127.0.0.1",
		            .prefix = "mamori",
		            .port = 1883,
		            .qos = 1,
		            .connections = 2,
		            .window = 2000,
		            .customers = 3,
		            .agents = 30,
		            .rate = 10,
		            .duration = 10,
		            .seed = 1 };
	int c;
	while ((c = getopt_long(argc, argv, "H:p:u:c:n:r:d:N:k:q:w:h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 1: o->prefix = optarg; break;
		case 'u': o->username = optarg; break;
		case 2: o->password_file = optarg; break;
		case 3: o->ca_file = optarg; break;
		case 'c': o->customers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': o->agents = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o->rate = atof(optarg); break;
		case 'd': o->duration = atof(optarg); break;
		case 'N': o->count = strtoull(optarg, NULL, 10); break;
		case 'k': o->connections = atoi(optarg); break;
		case 'q': o->qos = atoi(optarg); break;
		case 'w': o->window = atoi(optarg); break;
		case 4: o->status = 1; break;
		case 5: o->seq = 1; break;
		case 6: o->pct_off = atof(optarg); break;
		case 7: o->pct_aging = atof(optarg); break;
		case 8: o->pct_silent = atof(optarg); break;
		case 9: o->pct_bad = atof(optarg); break;
		case 10: o->seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 11: o->libmosq = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (o->customers < 1 || o->agents < o->customers || o->connections < 1 ||
	    o->connections > 64 || (unsigned)o->connections > o->agents || o->qos < 0 ||
	    o->qos > 1 || o->window < 1 || o->window > 60000 || o->port < 1 || o->port > 65535 ||
	    o->rate < 0) {
		fprintf(stderr, "mamori-agentsim: bad option values (see --help)\n");
		return -1;
	}
	if (o->count)
		o->duration = 0;
	if (o->username && o->connections > 1)
		fprintf(stderr,
		        "mamori-agentsim: warning: %d connections share the login %s; a "
		        "broker that binds client ids to logins (contrib/mosquitto) keeps "
		        "only one of them connected (use -k 1)\n",
		        o->connections, o->username);
	return 0;
}

static int worker_init(struct worker *w, const struct opts *o, int idx)
{
	struct mqtt_conf c;
	char err[256];
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->idx = idx;
	w->n_agents = o->agents / (unsigned)o->connections +
	              ((unsigned)idx < o->agents % (unsigned)o->connections ? 1 : 0);
	if (o->count)
		w->limit = o->count / (unsigned)o->connections +
		           ((unsigned)idx < o->count % (unsigned)o->connections ? 1 : 0);
	w->fd = -1;
	w->loop = ev_loop_new(EVFLAG_AUTO);
	if (!w->loop)
		return -1;
	if (!o->libmosq && !o->ca_file)
		return 0; /* raw transport: connects in its thread */
	mqtt_conf_init(&c);
	free(c.host);
	c.host = strdup(o->host);
	c.port = o->port;
	free(c.client_id);
	char id[256];
	client_id(o, idx, id, sizeof(id));
	c.client_id = strdup(id);
	free(c.topic_prefix);
	c.topic_prefix = strdup(o->prefix);
	c.clean_session = 1;
	c.inflight = o->window < 65535 ? o->window : 65535;
	if (o->username)
		c.username = strdup(o->username);
	if (o->password_file)
		c.password_file = strdup(o->password_file);
	if (o->ca_file)
		c.tls.ca_file = strdup(o->ca_file);
	w->m = mqtt_new(w->loop, &c, err, sizeof(err));
	mqtt_conf_free(&c);
	if (!w->m) {
		fprintf(stderr, "mamori-agentsim: %s\n", err);
		return -1;
	}
	mqtt_set_ack_cb(w->m, on_ack, w);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct worker *ws;
	int rc = 0;
	if (parse_opts(argc, argv, &o))
		return 2;
	log_open("mamori-agentsim", 1, LOG_LVL_WARNING);
	ws = calloc((size_t)o.connections, sizeof(*ws));
	if (!ws)
		return 1;
	for (int k = 0; k < o.connections; k++)
		if (worker_init(&ws[k], &o, k))
			return 1;
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	double t0 = ev_time();
	for (int k = 0; k < o.connections; k++)
		pthread_create(&ws[k].thr, NULL, worker_main, &ws[k]);
	unsigned long long sent = 0, acked = 0, bad = 0;
	double first = 0, last = 0;
	for (int k = 0; k < o.connections; k++) {
		pthread_join(ws[k].thr, NULL);
		sent += ws[k].sent;
		acked += ws[k].acked;
		bad += ws[k].bad_sent;
		if (ws[k].failed)
			rc = 1;
		if (ws[k].sent && (first == 0 || ws[k].first_pub < first))
			first = ws[k].first_pub;
		if (ws[k].last_ack > last)
			last = ws[k].last_ack;
	}
	double el = ev_time() - t0, win = last > first ? last - first : el;
	/* rate: reports over first publish -> last PUBACK (connect excluded) */
	printf("sent %llu acked %llu (incl. status) bad %llu elapsed %.2f rate %.0f reports/s "
	       "first_publish %.6f last_ack %.6f transport %s\n",
	       sent, acked, bad, el, win > 0 ? (double)sent / win : 0.0, first, last,
	       ws[0].m ? "libmosquitto" : "raw");
	for (int k = 0; k < o.connections; k++) {
		mqtt_free(ws[k].m);
		if (ws[k].fd >= 0)
			close(ws[k].fd);
		free(ws[k].wbuf);
		ev_loop_destroy(ws[k].loop);
	}
	free(ws);
	return rc;
}
