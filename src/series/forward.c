/*
 * forward: every value the perfdata history records, as Graphite
 * plaintext lines over one non-blocking TCP connection, or InfluxDB line
 * protocol lines in UDP datagrams of whole lines (see forward.h).
 *
 * The buffer is one array of conf.buffer bytes: [start, end) waits to be
 * written; start moves as the socket takes bytes, and the rest is moved
 * to the front when a new line would not fit behind it.  When it is full
 * the oldest whole lines - a quarter of the buffer at a time, so dropping
 * is not a copy per value - are dropped and counted; a line already
 * partly written stays (the receiver has its head).  A lost connection
 * drops the rest of a partly written line, so the next connection starts
 * on a line boundary.  UDP has no connection and no back-pressure but
 * the socket's buffer: a datagram refused (nobody listens) is dropped and
 * counted, like a full buffer.
 *
 * Must never: block (connect and write are non-blocking, the address is
 * numeric), grow past conf.buffer, log per value (one line per
 * connection state change).  Depends on util.
 */
#include "series/forward.h"

#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_TIMEOUT 10.0 /* s for a connect to complete */
#define DGRAM_MAX       1400 /* bytes of whole lines per UDP datagram (one line may be more) */
#define UDP_REFUSED_FOR 10.0 /* s: UDP counts as not connected this long after a refusal */

enum { DOWN, CONNECTING, UP };

struct forward {
	struct ev_loop *loop;
	struct forward_conf c;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int have_addr;
	int udp;           /* influx: datagrams of whole lines */
	double refused_at; /* UDP: when a datagram was last refused */
	char what[96];     /* "graphite 127.0.0.1:2003", for the log */
	int fd, state;
	ev_io wio, rio;
	ev_timer timer; /* reconnect backoff, or the connect timeout */
	double backoff;
	char *buf;
	size_t start, end;
	int partial; /* buf[start] is inside a line whose head was written */
	struct forward_stats st;
};

void forward_conf_default(struct forward_conf *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->prefix, sizeof c->prefix, "mamori");
	c->buffer = FORWARD_BUF_DEFAULT;
}

int forward_prefix_ok(const char *p)
{
	size_t n = strnlen(p, FORWARD_PREFIX_MAX + 1);
	if (n > FORWARD_PREFIX_MAX)
		return 0;
	char prev = '.';
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		int word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		if (!word && !(ch == '.' && prev != '.'))
			return 0;
		prev = ch;
	}
	return n == 0 || prev != '.';
}

int forward_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
                       size_t errlen)
{
	char host[64];
	const char *port;
	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host)
			goto bad;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		port = e + 2;
	} else {
		const char *e = strrchr(s, ':');
		if (!e || (size_t)(e - s) >= sizeof host || memchr(s, ':', (size_t)(e - s)))
			goto bad;
		memcpy(host, s, (size_t)(e - s));
		host[e - s] = '\0';
		port = e + 1;
	}
	char *pe;
	errno = 0;
	long p = strtol(port, &pe, 10);
	if (!*port || *pe || errno || p < 1 || p > 65535 || port[0] == '+' || port[0] == '-' ||
	    port[0] == ' ') {
		snprintf(err, errlen, "'%.80s': the port must be a number between 1 and 65535", s);
		return -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof *a6;
		return 0;
	}
bad:
	snprintf(err, errlen,
	         "'%.80s' is not a numeric address with a port (\"127.0.0.1:2003\","
	         " \"[::1]:2003\"; no host names: DNS would block)",
	         s);
	return -1;
}

int forward_conf_check(const struct forward_conf *c, char *err, size_t errlen)
{
	if (c->buffer < FORWARD_BUF_MIN || c->buffer > FORWARD_BUF_MAX) {
		snprintf(err, errlen, "buffer must be between %d and %d bytes", FORWARD_BUF_MIN,
		         FORWARD_BUF_MAX);
		return -1;
	}
	if (!forward_prefix_ok(c->prefix)) {
		snprintf(err, errlen,
		         "prefix must be at most %d bytes of dot-separated words of letters,"
		         " digits, '_' and '-'",
		         FORWARD_PREFIX_MAX);
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t len;
	char why[200];
	if (c->graphite[0] && c->influx[0]) {
		snprintf(err, errlen, "graphite and influx: one of them, not both");
		return -1;
	}
	if (c->graphite[0] && forward_parse_addr(c->graphite, &ss, &len, why, sizeof why) != 0) {
		snprintf(err, errlen, "graphite: %s", why);
		return -1;
	}
	if (c->influx[0] && (strncmp(c->influx, "udp://", 6) != 0 ||
	                     forward_parse_addr(c->influx + 6, &ss, &len, why, sizeof why) != 0)) {
		snprintf(err, errlen, "influx: must be udp://ADDRESS:PORT with a numeric address");
		return -1;
	}
	return 0;
}

/* The length of the valid UTF-8 sequence of 2-4 bytes at p, or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	uint32_t cp;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the NUL */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff)
		return 0;
	return n;
}

size_t forward_component(char *out, const char *in)
{
	const unsigned char *p = (const unsigned char *)(in ? in : "");
	size_t o = 0;
	while (*p) {
		unsigned char ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-') {
			if (o + 1 > FORWARD_COMP_MAX)
				break;
			out[o++] = (char)ch;
			p++;
			continue;
		}
		size_t n = ch >= 0x80 ? utf8_len(p) : 0;
		if (n) {
			if (o + n > FORWARD_COMP_MAX)
				break;
			memcpy(out + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (o + 1 > FORWARD_COMP_MAX)
			break;
		out[o++] = '_';
		p++;
	}
	if (!o)
		out[o++] = '_';
	out[o] = '\0';
	return o;
}

size_t forward_graphite_line(char *out, size_t cap, const char *prefix, const char *customer,
                             const char *asset, const char *check, const char *label, double v,
                             double t)
{
	if (!isfinite(v) || !isfinite(t) || t < 0)
		return 0;
	char c[4][FORWARD_COMP_MAX + 1];
	forward_component(c[0], customer);
	forward_component(c[1], asset);
	forward_component(c[2], check);
	forward_component(c[3], label);
	const char *pre = prefix && forward_prefix_ok(prefix) ? prefix : "";
	int n = snprintf(out, cap, "%s%s%s.%s.%s.%s %.17g %lld\n", pre, pre[0] ? "." : "", c[0],
	                 c[1], c[2], c[3], v, (long long)floor(t));
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

size_t forward_influx_tag(char *out, const char *in)
{
	const unsigned char *p = (const unsigned char *)(in ? in : "");
	const unsigned char *p0 = p;
	size_t o = 0;
	while (*p && (size_t)(p - p0) < FORWARD_COMP_MAX) {
		unsigned char ch = *p;
		if (ch >= 0x80) {
			size_t n = utf8_len(p);
			if (n && (size_t)(p - p0) + n > FORWARD_COMP_MAX)
				break;
			if (n) {
				memcpy(out + o, p, n);
				o += n;
				p += n;
			} else {
				out[o++] = '_';
				p++;
			}
			continue;
		}
		if (ch == ',' || ch == '=' || ch == ' ')
			out[o++] = '\\';
		out[o++] = (ch < 0x20 || ch == 0x7f || ch == '\\' || ch == '"') ? '_' : (char)ch;
		p++;
	}
	if (!o)
		out[o++] = '_';
	out[o] = '\0';
	return o;
}

size_t forward_influx_line(char *out, size_t cap, const char *prefix, const char *customer,
                           const char *asset, const char *check, const char *label,
                           const char *unit, double v, double t)
{
	if (!isfinite(v) || !isfinite(t) || t < 0 || t > 9.2e9)
		return 0;
	char c[5][2 * FORWARD_COMP_MAX + 1];
	forward_influx_tag(c[0], customer);
	forward_influx_tag(c[1], asset);
	forward_influx_tag(c[2], check);
	forward_influx_tag(c[3], label);
	int has_unit = unit && unit[0];
	if (has_unit)
		forward_influx_tag(c[4], unit);
	const char *m = prefix && prefix[0] && forward_prefix_ok(prefix) ? prefix : "perfdata";
	int n =
	    snprintf(out, cap, "%s,customer=%s,asset=%s,check=%s,label=%s%s%s value=%.17g %lld\n",
	             m, c[0], c[1], c[2], c[3], has_unit ? ",unit=" : "", has_unit ? c[4] : "", v,
	             (long long)llround(t * 1e6) * 1000LL);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* ---- the buffer ---- */

/* Drop whole lines after a partly written one until need bytes are free
 * at the end (moving the rest to the front); 0 when they are. */
static int make_room(struct forward *f, size_t need)
{
	size_t cap = f->c.buffer;
	if (f->end + need <= cap)
		return 0;
	if (f->start) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
		if (f->end + need <= cap)
			return 0;
	}
	size_t want = need > cap / 4 ? need : cap / 4;
	size_t p = 0;
	if (f->partial) { /* keep the line the receiver has the head of */
		char *nl = memchr(f->buf, '\n', f->end);
		p = nl ? (size_t)(nl - f->buf) + 1 : f->end;
	}
	size_t q = p;
	while (q < f->end && (q - p < want || f->end - (q - p) + need > cap)) {
		char *nl = memchr(f->buf + q, '\n', f->end - q);
		q = nl ? (size_t)(nl - f->buf) + 1 : f->end;
		f->st.dropped++;
	}
	memmove(f->buf + p, f->buf + q, f->end - q);
	f->end -= q - p;
	return f->end + need <= cap ? 0 : -1;
}

int forward__append(struct forward *f, const char *line, size_t len)
{
	if (len > f->c.buffer / 2 || make_room(f, len) != 0) {
		f->st.dropped++;
		return -1;
	}
	memcpy(f->buf + f->end, line, len);
	f->end += len;
	return 0;
}

void forward__consume(struct forward *f, size_t n)
{
	if (n > f->end - f->start)
		n = f->end - f->start;
	for (const char *p = f->buf + f->start, *e = p + n; (p = memchr(p, '\n', (size_t)(e - p)));
	     p++)
		f->st.sent++;
	f->start += n;
	if (n)
		f->partial = f->buf[f->start - 1] != '\n';
	if (f->start == f->end)
		f->start = f->end = 0;
}

const char *forward__peek(const struct forward *f, size_t *len)
{
	*len = f->end - f->start;
	return f->buf + f->start;
}

/* The connection is gone: what was half written is dropped, so the next
 * connection starts on a line boundary. */
static void drop_partial(struct forward *f)
{
	if (!f->partial)
		return;
	char *nl = memchr(f->buf + f->start, '\n', f->end - f->start);
	f->start = nl ? (size_t)(nl - f->buf) + 1 : f->end;
	f->partial = 0;
	f->st.dropped++;
	if (f->start == f->end)
		f->start = f->end = 0;
}

/* ---- the connection ---- */

static void try_connect(struct forward *f);
static void send_dgrams(struct forward *f);

static void close_fd(struct forward *f)
{
	ev_io_stop(f->loop, &f->wio);
	ev_io_stop(f->loop, &f->rio);
	ev_timer_stop(f->loop, &f->timer);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->state = DOWN;
	f->st.connected = 0;
}

static void lost(struct forward *f, const char *what, int err)
{
	if (f->state == UP)
		log_warn("forward", "%s: %s (%s); reconnecting in %.0f s", f->what, what,
		         err ? strerror(err) : "closed", f->backoff);
	else if (f->st.failures == 0 || f->backoff >= FORWARD_BACKOFF_MAX)
		log_warn("forward", "%s: %s (%s); retrying in %.0f s", f->what, what,
		         err ? strerror(err) : "closed", f->backoff);
	close_fd(f);
	drop_partial(f);
	f->st.failures++;
	ev_timer_set(&f->timer, f->backoff, 0);
	ev_timer_start(f->loop, &f->timer);
	f->backoff = f->backoff * 2 > FORWARD_BACKOFF_MAX ? FORWARD_BACKOFF_MAX : f->backoff * 2;
}

static void want_write(struct forward *f)
{
	if (f->state == UP && f->end > f->start && !ev_is_active(&f->wio)) {
		ev_io_set(&f->wio, f->fd, EV_WRITE);
		ev_io_start(f->loop, &f->wio);
	}
}

static void up(struct forward *f)
{
	ev_io_stop(f->loop, &f->wio);
	ev_timer_stop(f->loop, &f->timer);
	f->state = UP;
	f->st.connected = 1;
	f->st.connects++;
	f->backoff = 1;
	log_info("forward", "%s: connected", f->what);
	if (!f->udp) {
		ev_io_set(&f->rio, f->fd, EV_READ);
		ev_io_start(f->loop, &f->rio);
	}
	want_write(f);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct forward *f = w->data;
	if (f->state == CONNECTING) {
		int e = 0;
		socklen_t el = sizeof e;
		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			e = errno;
		if (e) {
			lost(f, "cannot connect", e);
			return;
		}
		up(f);
		return;
	}
	if (f->udp) {
		send_dgrams(f);
		return;
	}
	while (f->end > f->start) {
		ssize_t n =
		    send(f->fd, f->buf + f->start, f->end - f->start, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			forward__consume(f, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* the kernel's buffer is full: wait */
		if (n < 0 && errno == EINTR)
			continue;
		lost(f, "connection lost", n < 0 ? errno : 0);
		return;
	}
	ev_io_stop(loop, w);
}

/* UDP: whole lines, up to DGRAM_MAX bytes (or one longer line) per
 * datagram.  A refused one (ICMP port unreachable of an earlier one, on
 * loopback at once) is dropped and counted: nobody listens. */
static void send_dgrams(struct forward *f)
{
	while (f->end > f->start) {
		const char *p = f->buf + f->start;
		size_t avail = f->end - f->start, len = 0;
		while (len < avail) {
			const char *nl = memchr(p + len, '\n', avail - len);
			size_t next = nl ? (size_t)(nl - p) + 1 : avail;
			if (len && next > DGRAM_MAX)
				break;
			len = next;
		}
		ssize_t n = send(f->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNREFUSED) {
			lost(f, "cannot send", errno);
			return;
		}
		if (n < 0) { /* refused: these lines are lost */
			for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + len - q))); q++)
				f->st.dropped++;
			f->start += len;
			if (f->start == f->end)
				f->start = f->end = 0;
			if (ev_now(f->loop) - f->refused_at > UDP_REFUSED_FOR)
				log_warn("forward", "%s: refused (nobody listens); dropping",
				         f->what);
			f->refused_at = ev_now(f->loop);
			continue;
		}
		forward__consume(f, len);
	}
	ev_io_stop(f->loop, &f->wio);
}

/* The receiver never talks: readable means closed (or reset). */
static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct forward *f = w->data;
	char junk[512];
	ssize_t n = recv(f->fd, junk, sizeof junk, MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
		return;
	lost(f, "connection lost", n < 0 ? errno : 0);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct forward *f = w->data;
	if (f->state == CONNECTING)
		lost(f, "cannot connect", ETIMEDOUT);
	else
		try_connect(f);
}

static void try_connect(struct forward *f)
{
	f->fd = socket(f->addr.ss_family,
	               (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		lost(f, "cannot make a socket", errno);
		return;
	}
	int one = 1;
	if (!f->udp)
		setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(f->fd, (struct sockaddr *)&f->addr, f->addrlen) == 0) {
		up(f);
		return;
	}
	if (errno != EINPROGRESS) {
		lost(f, "cannot connect", errno);
		return;
	}
	f->state = CONNECTING;
	ev_io_set(&f->wio, f->fd, EV_WRITE);
	ev_io_start(f->loop, &f->wio);
	ev_timer_set(&f->timer, CONNECT_TIMEOUT, 0);
	ev_timer_start(f->loop, &f->timer);
}

struct forward *forward_new(struct ev_loop *loop, const struct forward_conf *c)
{
	struct forward *f = xcalloc(1, sizeof *f);
	f->loop = loop;
	f->c = *c;
	if (f->c.buffer < FORWARD_BUF_MIN)
		f->c.buffer = FORWARD_BUF_MIN;
	if (f->c.buffer > FORWARD_BUF_MAX)
		f->c.buffer = FORWARD_BUF_MAX;
	f->buf = xmalloc(f->c.buffer);
	f->fd = -1;
	f->backoff = 1;
	f->refused_at = -INFINITY;
	ev_io_init(&f->wio, on_write, -1, EV_WRITE);
	ev_io_init(&f->rio, on_read, -1, EV_READ);
	ev_timer_init(&f->timer, on_timer, 0, 0);
	f->wio.data = f->rio.data = f->timer.data = f;
	char err[200];
	if (c->graphite[0] &&
	    forward_parse_addr(c->graphite, &f->addr, &f->addrlen, err, sizeof err) == 0) {
		f->have_addr = 1;
		snprintf(f->what, sizeof f->what, "graphite %s", c->graphite);
	} else if (!strncmp(c->influx, "udp://", 6) &&
	           forward_parse_addr(c->influx + 6, &f->addr, &f->addrlen, err, sizeof err) == 0) {
		f->have_addr = 1;
		f->udp = 1;
		snprintf(f->what, sizeof f->what, "influx %s", c->influx);
	}
	if (f->have_addr && loop)
		try_connect(f);
	return f;
}

void forward_free(struct forward *f)
{
	if (!f)
		return;
	if (f->loop)
		close_fd(f);
	free(f->buf);
	free(f);
}

const struct forward_conf *forward_get_conf(const struct forward *f)
{
	return &f->c;
}

void forward_value(struct forward *f, const char *customer, const char *asset, const char *check,
                   const char *label, const char *unit, double v, double t)
{
	char line[FORWARD_PREFIX_MAX + 5 * (2 * FORWARD_COMP_MAX + 16) + 64];
	size_t n = f->udp ? forward_influx_line(line, sizeof line, f->c.prefix, customer, asset,
	                                        check, label, unit, v, t)
	                  : forward_graphite_line(line, sizeof line, f->c.prefix, customer, asset,
	                                          check, label, v, t);
	if (!n)
		return;
	forward__append(f, line, n);
	want_write(f);
}

void forward_get_stats(const struct forward *f, struct forward_stats *out)
{
	*out = f->st;
	out->queued = f->end - f->start;
	if (f->udp && f->loop)
		out->connected =
		    f->state == UP && ev_now(f->loop) - f->refused_at > UDP_REFUSED_FOR;
}
