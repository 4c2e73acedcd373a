/*
 * wire: the framing and encoding of messages between mamorid and an
 * isolated plugin host (see src/plugin/proxy.c and src/plugin/isolate.c).
 *
 * A frame is [u32 body length][body]; the body starts with a u8 message
 * type followed by fields: u32/i32 (native order: both ends are the same
 * binary on the same machine), f64, and strings as [u32 n][n bytes] where
 * n counts a terminating NUL and n = 0 means NULL.  The reader never trusts
 * a length: a malformed body marks the reader bad, a malformed frame header
 * makes wire_frame return -1 (the peer is then treated as broken).
 * Nothing here blocks: wire_flush and wire_fill stop at EAGAIN.
 */
#ifndef MAMORI_WIRE_H
#define MAMORI_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX (16u * 1024 * 1024) /* largest body accepted */

enum wire_type {
	/* core -> host */
	WIRE_INIT = 1, /* seq, datadir, log level, instance config text */
	WIRE_PREPARE,  /* seq, check id, check_info fields, check config text */
	WIRE_RELEASE,  /* check id */
	WIRE_START,    /* run id, check id */
	WIRE_CANCEL,   /* run id */
	WIRE_PING,     /* seq */
	/* host -> core */
	WIRE_INIT_R = 32, /* seq, rc, error text */
	WIRE_PREPARE_R,   /* seq, rc, error text (one error per line) */
	WIRE_RESULT,      /* run id, rc, state, flags, output, long output, perfdata */
	WIRE_PONG,        /* seq */
	WIRE_LOG,         /* level, text (reserved) */
	WIRE_METRICS,     /* count, then per series (wire_put_metric) */
	WIRE_FATAL,       /* signal, KiB of data in use, KiB of the limit: the host is dying
	                   * (sent from its signal handler when it has a memory limit) */
};

struct wbuf {
	char *p;
	size_t len, cap, off; /* off: bytes already sent (wire_flush) */
};

struct rbuf {
	const char *p;
	size_t len, off;
	int bad; /* a read ran past the end or a string was malformed */
};

void wbuf_free(struct wbuf *b);
void wbuf_put(struct wbuf *b, const void *data, size_t n);
void wbuf_u32(struct wbuf *b, uint32_t v);
void wbuf_i32(struct wbuf *b, int32_t v);
void wbuf_f64(struct wbuf *b, double v);
void wbuf_str(struct wbuf *b, const char *s); /* NULL allowed */
/* Drop the first n bytes (consumed input). */
void wbuf_consume(struct wbuf *b, size_t n);

/* Start a frame of `type` in b; returns its offset for wire_end. */
size_t wire_begin(struct wbuf *b, int type);
void wire_end(struct wbuf *b, size_t start);

uint32_t rbuf_u32(struct rbuf *r);
int32_t rbuf_i32(struct rbuf *r);
double rbuf_f64(struct rbuf *r);
/* Pointer into the frame (NUL-terminated), or NULL for a NULL string. */
const char *rbuf_str(struct rbuf *r);

/* Look for a complete frame at the start of buf.  Returns its total size
 * (> 0) and fills body/type, 0 if more bytes are needed, -1 if the header
 * is garbage (empty or oversized body). */
long wire_frame(const char *buf, size_t len, struct rbuf *body, int *type);

/* One message from a plugin host, decoded as the core reads it.  Strings
 * point into the frame (NULL for a NULL string). */
struct wire_host_msg {
	int type;      /* WIRE_INIT_R, WIRE_PREPARE_R, WIRE_RESULT, WIRE_PONG, WIRE_LOG,
	                  WIRE_METRICS, WIRE_FATAL */
	uint32_t id;   /* RESULT: run id; INIT_R, PREPARE_R, PONG: seq */
	int32_t rc;    /* RESULT, INIT_R, PREPARE_R */
	int32_t state; /* RESULT: as sent (the engine maps anything else than 0..3 to UNKNOWN) */
	uint32_t flags;
	const char *output, *long_output, *perf_text; /* RESULT */
	const char *text;                             /* INIT_R/PREPARE_R: errors; LOG: the line */
	int32_t level;                                /* LOG; FATAL: the signal */
	uint32_t used_kib, limit_kib;                 /* FATAL */
	size_t len;                                   /* the body's length */
	/* METRICS: `count` series (already checked to be well-formed; read
	 * them with wire_get_metric) in data[0..data_len) */
	uint32_t count;
	const char *data;
	size_t data_len;
};

/* One series of a WIRE_METRICS body: i32 type, name, help, u32 n_labels,
 * n_labels x (label name, label value), f64 value. */
struct mamori_metric;
void wire_put_metric(struct wbuf *b, const struct mamori_metric *x);
/* Read the next series into x: strings point into the body, the label
 * pairs into lab (room for 2 * MAMORI_METRIC_MAX_LABELS).  0, or -1 when
 * malformed (r->bad set).  The values are not judged: host_metric_valid. */
int wire_get_metric(struct rbuf *r, struct mamori_metric *x, const char **lab);

/* Decode the body of one frame a host sent (type and body from
 * wire_frame).  0, or -1 when the body is malformed or the type is not one
 * a host sends: the host is then treated as broken.  Bytes after the
 * fields are ignored (a newer host may append fields).  Pure: no I/O. */
int wire_host_decode(int type, struct rbuf *body, struct wire_host_msg *m);

/* The core's reader of one host's stream: bytes in (wire_fill into `in`,
 * or wire_reader_put), decoded messages out, whatever the chunks the
 * stream arrives in.  A message's strings point into `in` and stay valid
 * until the next wire_reader_put / wire_fill / wire_reader_reset: read
 * every message of a fill before filling again.  Once a frame is bad the
 * reader stays broken (the host is then dropped).  Pure: no I/O. */
struct wire_reader {
	struct wbuf in;
	size_t off; /* bytes of `in` already handed out as messages */
	int broken;
};
void wire_reader_put(struct wire_reader *rd, const void *data, size_t n);
/* The next complete message: 1 (in m), 0 when more bytes are needed (what
 * was handed out is dropped from `in` then), -1 when the stream is broken
 * (a bad frame header, a malformed body or a type a host does not send). */
int wire_reader_next(struct wire_reader *rd, struct wire_host_msg *m);
/* Forget everything buffered (a new host, or the old one went down). */
void wire_reader_reset(struct wire_reader *rd);
void wire_reader_free(struct wire_reader *rd);
/* Bytes buffered and not yet handed out. */
size_t wire_reader_pending(const struct wire_reader *rd);

/* Send what is pending in out (non-blocking).  0: all sent, 1: some left
 * (wait for POLLOUT), -1: error (peer gone). */
int wire_flush(int fd, struct wbuf *out);
/* Read what is available into in (non-blocking).  0: ok (maybe nothing),
 * -1: EOF or error. */
int wire_fill(int fd, struct wbuf *in);

#endif
