/*
 * wire: message framing for the isolated plugin host.  See wire.h.
 */
#include "plugin/wire.h"
#include "util/mem.h"

#include <mamori/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void wbuf_put(struct wbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void wbuf_u32(struct wbuf *b, uint32_t v)
{
	wbuf_put(b, &v, sizeof v);
}

void wbuf_i32(struct wbuf *b, int32_t v)
{
	wbuf_put(b, &v, sizeof v);
}

void wbuf_f64(struct wbuf *b, double v)
{
	wbuf_put(b, &v, sizeof v);
}

void wbuf_str(struct wbuf *b, const char *s)
{
	if (!s) {
		wbuf_u32(b, 0);
		return;
	}
	size_t n = strlen(s) + 1;
	if (n > WIRE_MAX / 2)
		n = WIRE_MAX / 2; /* never build a frame the reader refuses */
	wbuf_u32(b, (uint32_t)n);
	wbuf_put(b, s, n - 1);
	wbuf_put(b, "", 1);
}

void wbuf_consume(struct wbuf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

size_t wire_begin(struct wbuf *b, int type)
{
	size_t start = b->len;
	unsigned char t = (unsigned char)type;
	wbuf_u32(b, 0);
	wbuf_put(b, &t, 1);
	return start;
}

void wire_end(struct wbuf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - sizeof n);
	memcpy(b->p + start, &n, sizeof n);
}

static const void *take(struct rbuf *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	const void *p = r->p + r->off;
	r->off += n;
	return p;
}

uint32_t rbuf_u32(struct rbuf *r)
{
	uint32_t v = 0;
	const void *p = take(r, sizeof v);
	if (p)
		memcpy(&v, p, sizeof v);
	return v;
}

int32_t rbuf_i32(struct rbuf *r)
{
	int32_t v = 0;
	const void *p = take(r, sizeof v);
	if (p)
		memcpy(&v, p, sizeof v);
	return v;
}

double rbuf_f64(struct rbuf *r)
{
	double v = 0;
	const void *p = take(r, sizeof v);
	if (p)
		memcpy(&v, p, sizeof v);
	return v;
}

const char *rbuf_str(struct rbuf *r)
{
	uint32_t n = rbuf_u32(r);
	if (r->bad || n == 0)
		return NULL;
	const char *s = take(r, n);
	if (!s || s[n - 1] != '\0') {
		r->bad = 1;
		return NULL;
	}
	return s;
}

long wire_frame(const char *buf, size_t len, struct rbuf *body, int *type)
{
	uint32_t n;
	if (len < sizeof n)
		return 0;
	memcpy(&n, buf, sizeof n);
	if (n == 0 || n > WIRE_MAX)
		return -1;
	if (len - sizeof n < n)
		return 0;
	*type = (unsigned char)buf[sizeof n];
	body->p = buf + sizeof n + 1;
	body->len = n - 1;
	body->off = 0;
	body->bad = 0;
	return (long)(sizeof n + n);
}

int wire_host_decode(int type, struct rbuf *r, struct wire_host_msg *m)
{
	memset(m, 0, sizeof *m);
	m->type = type;
	m->len = r->len;
	switch (type) {
	case WIRE_RESULT:
		m->id = rbuf_u32(r);
		m->rc = rbuf_i32(r);
		m->state = rbuf_i32(r);
		m->flags = rbuf_u32(r);
		m->output = rbuf_str(r);
		m->long_output = rbuf_str(r);
		m->perf_text = rbuf_str(r);
		break;
	case WIRE_PONG: m->id = rbuf_u32(r); break;
	case WIRE_INIT_R:
	case WIRE_PREPARE_R:
		m->id = rbuf_u32(r);
		m->rc = rbuf_i32(r);
		m->text = rbuf_str(r);
		break;
	case WIRE_LOG:
		m->level = rbuf_i32(r);
		m->text = rbuf_str(r);
		break;
	case WIRE_METRICS: {
		m->count = rbuf_u32(r);
		if (r->bad || m->count > MAMORI_METRIC_MAX_SERIES)
			return -1;
		m->data = r->p + r->off;
		struct rbuf walk = { .p = m->data, .len = r->len - r->off };
		struct mamori_metric x;
		const char *lab[2 * MAMORI_METRIC_MAX_LABELS];
		for (uint32_t i = 0; i < m->count; i++)
			if (wire_get_metric(&walk, &x, lab) != 0)
				return -1;
		m->data_len = walk.off;
		r->off += walk.off;
		break;
	}
	case WIRE_FATAL:
		m->level = rbuf_i32(r);
		m->used_kib = rbuf_u32(r);
		m->limit_kib = rbuf_u32(r);
		break;
	default: return -1;
	}
	return r->bad ? -1 : 0;
}

void wire_reader_put(struct wire_reader *rd, const void *data, size_t n)
{
	wbuf_put(&rd->in, data, n);
}

int wire_reader_next(struct wire_reader *rd, struct wire_host_msg *m)
{
	if (rd->broken)
		return -1;
	struct rbuf body;
	int type;
	const char *at = rd->in.p ? rd->in.p + rd->off : NULL; /* NULL + 0 is undefined */
	long n = wire_frame(at, rd->in.len - rd->off, &body, &type);
	if (n == 0) {
		wbuf_consume(&rd->in, rd->off); /* nothing handed out is in use now */
		rd->off = 0;
		return 0;
	}
	if (n < 0 || wire_host_decode(type, &body, m) != 0) {
		rd->broken = 1;
		return -1;
	}
	rd->off += (size_t)n;
	return 1;
}

void wire_reader_reset(struct wire_reader *rd)
{
	rd->in.len = 0;
	rd->off = 0;
	rd->broken = 0;
}

void wire_reader_free(struct wire_reader *rd)
{
	wbuf_free(&rd->in);
	rd->off = 0;
	rd->broken = 0;
}

size_t wire_reader_pending(const struct wire_reader *rd)
{
	return rd->in.len - rd->off;
}

void wire_put_metric(struct wbuf *b, const struct mamori_metric *x)
{
	wbuf_i32(b, x->type);
	wbuf_str(b, x->name);
	wbuf_str(b, x->help);
	wbuf_u32(b, (uint32_t)x->n_labels);
	for (size_t i = 0; i < 2 * x->n_labels; i++)
		wbuf_str(b, x->labels[i]);
	wbuf_f64(b, x->value);
}

int wire_get_metric(struct rbuf *r, struct mamori_metric *x, const char **lab)
{
	memset(x, 0, sizeof *x);
	x->struct_size = sizeof *x;
	x->type = rbuf_i32(r);
	x->name = rbuf_str(r);
	x->help = rbuf_str(r);
	uint32_t n = rbuf_u32(r);
	if (r->bad || n > MAMORI_METRIC_MAX_LABELS || !x->name) {
		r->bad = 1;
		return -1;
	}
	for (uint32_t i = 0; i < 2 * n; i++)
		if (!(lab[i] = rbuf_str(r)))
			r->bad = 1;
	x->labels = lab;
	x->n_labels = n;
	x->value = rbuf_f64(r);
	return r->bad ? -1 : 0;
}

int wire_flush(int fd, struct wbuf *out)
{
	while (out->off < out->len) {
		ssize_t n = send(fd, out->p + out->off, out->len - out->off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
		}
		out->off += (size_t)n;
	}
	out->off = out->len = 0;
	return 0;
}

int wire_fill(int fd, struct wbuf *in)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n > 0) {
			wbuf_put(in, tmp, (size_t)n);
			if (in->len > (size_t)WIRE_MAX + 4096)
				return 0; /* let the caller consume first */
			continue;
		}
		if (n == 0)
			return -1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}
