/*
 * forward: the perfdata history's second consumer - every value the
 * history records is also sent, as one Graphite plaintext line
 * ("path value time\n") over TCP, or one InfluxDB line protocol line
 * over UDP, to a NOC's existing time-series database.
 *
 * The history calls forward_value for each value it records (after unit
 * normalisation, with the sample's time): the engine keeps its one
 * per-result hook, this hangs off the history.  The line goes into a
 * bounded send buffer; a libev watcher writes it out over one TCP
 * connection (Graphite) or UDP socket (InfluxDB).  The address is
 * numeric (IPv4 "a.b.c.d:port" or IPv6 "[addr]:port"): no DNS on the
 * loop.  Connects are non-blocking; a lost
 * connection is retried with a backoff (1 s doubling to 60 s).  When the
 * receiver is slow or down the buffer fills, and the oldest whole lines
 * (a quarter of the buffer at a time) are dropped and counted: memory
 * never grows past the configured size.
 *
 * Must never: block the loop (no blocking connect, DNS or write), grow
 * without bound, send a torn line as a whole one after a reconnect (the
 * first line after a reconnect always starts at a line boundary).
 * Depends on util (and libev).
 */
#ifndef MAMORI_SERIES_FORWARD_H
#define MAMORI_SERIES_FORWARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ev_loop;
struct forward;

#define FORWARD_PREFIX_MAX  64   /* bytes of the path prefix */
#define FORWARD_COMP_MAX    120  /* bytes of one path component, sanitised */
#define FORWARD_BUF_MIN     4096 /* bytes of the send buffer, at least */
#define FORWARD_BUF_MAX     (64 << 20)
#define FORWARD_BUF_DEFAULT (1 << 20)
#define FORWARD_BACKOFF_MAX 60.0 /* s between reconnects, at most */

struct forward_conf {
	char graphite[80]; /* "127.0.0.1:2003", "[::1]:2003"; "" off */
	/* InfluxDB line protocol over UDP (InfluxDB 1.x's [[udp]] listener):
	 * "udp://127.0.0.1:8089"; "" off; at most one of graphite and influx */
	char influx[80];
	char prefix[FORWARD_PREFIX_MAX + 1]; /* "mamori" (may be "") */
	size_t buffer;                       /* bytes */
};
void forward_conf_default(struct forward_conf *c);
/* 0, or -1 with the reason in err (the config module reports it). */
int forward_conf_check(const struct forward_conf *c, char *err, size_t errlen);
/* A numeric address with a port: 0, or -1 with the reason. */
int forward_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err,
                       size_t errlen);
/* A prefix: empty, or dot-separated components of [A-Za-z0-9_-]. */
int forward_prefix_ok(const char *p);

/* One path component: every byte but [A-Za-z0-9_-] and valid UTF-8
 * sequences of two to four bytes becomes '_' (dots, spaces, control
 * characters, '/', stray bytes), cut at FORWARD_COMP_MAX bytes on a
 * character boundary; "" becomes "_".  Returns the length written
 * (out has room for FORWARD_COMP_MAX + 1). */
size_t forward_component(char *out, const char *in);
/* One InfluxDB tag value (or key): '\\' before ',', '=' and ' ' (the line
 * protocol's escapes); control bytes, '\\' and broken UTF-8 become '_'
 * (a newline cannot be escaped; a trailing backslash would swallow the
 * separator); cut at FORWARD_COMP_MAX bytes of the input on a character
 * boundary; "" becomes "_".  out has room for 2 * FORWARD_COMP_MAX + 1. */
size_t forward_influx_tag(char *out, const char *in);
/* The InfluxDB line of one value: measurement prefix (or "perfdata" when
 * empty), tags customer, asset, check, label and unit (when not empty),
 * field value (a float), the time in nanoseconds.  Length, or 0. */
size_t forward_influx_line(char *out, size_t cap, const char *prefix, const char *customer,
                           const char *asset, const char *check, const char *label,
                           const char *unit, double v, double t);
/* The Graphite line of one value into out (cap bytes): its length, or 0
 * when it does not fit or v is not finite. */
size_t forward_graphite_line(char *out, size_t cap, const char *prefix, const char *customer,
                             const char *asset, const char *check, const char *label, double v,
                             double t);

struct forward *forward_new(struct ev_loop *loop, const struct forward_conf *c);
void forward_free(struct forward *f);
const struct forward_conf *forward_get_conf(const struct forward *f);
/* One value (v in the history's base unit, t the sample's time). */
void forward_value(struct forward *f, const char *customer, const char *asset, const char *check,
                   const char *label, const char *unit, double v, double t);

struct forward_stats {
	uint64_t sent;     /* lines written whole to the socket */
	uint64_t dropped;  /* lines dropped: buffer full, or torn by a lost connection */
	uint64_t connects; /* connections established */
	uint64_t failures; /* connects refused, connections lost */
	uint64_t queued;   /* bytes waiting */
	int connected;     /* 1 while connected */
};
void forward_get_stats(const struct forward *f, struct forward_stats *out);

/* Tests: the buffer alone (no socket): append a line as forward_value
 * does (dropping the oldest when full), and take n bytes as if written. */
int forward__append(struct forward *f, const char *line, size_t len);
void forward__consume(struct forward *f, size_t n);
const char *forward__peek(const struct forward *f, size_t *len);

#endif
