/*
 * What the HTTP fuzz targets share: src/http/route.c compiled into the
 * target with the four calls it makes into http.c (reply_error,
 * req_query, req_header, req_app) renamed to fakes here, so the real
 * parsers of query parameters and bodies (q_int, q_time, body_*,
 * parse_time, route_find) run on a `struct req` without a libmicrohttpd
 * connection.  The rest of src/http links from the library as usual (the
 * linker takes route.c's symbols from the target).  A fake request holds
 * the query parameters as MHD would hand them over (already split and
 * percent-decoded) and records the error answer, if any.
 */
#ifndef MAMORI_FUZZ_HTTP_COMMON_H
#define MAMORI_FUZZ_HTTP_COMMON_H

#include "tests/fuzz/fuzz.h"

#define reply_error fuzz_reply_error
#define req_query   fuzz_req_query
#define req_header  fuzz_req_header
#define req_app     fuzz_req_app
#include "src/http/route.c"
#ifdef FUZZ_HTTP_HANDLERS
/* the handlers' own parameter helpers (static there): q_page, q_bool,
 * parse_state, parse_types */
#define state_name api_read_state_name /* its own, not state.h's */
#include "src/http/api_read.c"
#undef state_name
#include "src/http/api_events.c"
#endif
#undef reply_error
#undef req_query
#undef req_header
#undef req_app

#include <stdarg.h>

#define FAKE_MAX_ARGS 32

struct fake_req {
	struct req r; /* first: the handlers' helpers get &f->r */
	char *key[FAKE_MAX_ARGS], *val[FAKE_MAX_ARGS];
	size_t n;
	unsigned status; /* an error answer: its status, else 0 */
	char code[32], msg[512];
	int answers;
};

static inline struct fake_req *fake_of(struct req *r)
{
	return (struct fake_req *)r;
}

int fuzz_reply_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
{
	struct fake_req *f = fake_of(r);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	snprintf(f->code, sizeof f->code, "%s", code);
	f->status = status;
	f->answers++;
	return 0;
}

const char *fuzz_req_query(struct req *r, const char *name)
{
	struct fake_req *f = fake_of(r);
	/* MHD's lookup: the first of equal keys */
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->key[i], name) == 0)
			return f->val[i];
	return NULL;
}

const char *fuzz_req_header(struct req *r, const char *name)
{
	return NULL;
}

struct app *fuzz_req_app(struct req *r)
{
	return NULL; /* never reached: no handler that asks the app runs here */
}

static inline int hexval(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Percent-decoding as MHD does it for arguments: '+' is a space, %XY a
 * byte, a bad escape stays as it is; the result is cut at a decoded NUL
 * (a C string). */
static inline char *url_decode(const char *s, size_t n)
{
	char *o = malloc(n + 1), *w = o;
	for (size_t i = 0; i < n; i++) {
		int a, b;
		if (s[i] == '+')
			*w++ = ' ';
		else if (s[i] == '%' && i + 2 < n && (a = hexval(s[i + 1])) >= 0 &&
		         (b = hexval(s[i + 2])) >= 0) {
			*w++ = (char)(a * 16 + b);
			i += 2;
		} else
			*w++ = s[i];
	}
	*w = '\0';
	return o;
}

/* Fill f from a query string "a=1&b=x%20y" (the part after '?'). */
static inline void fake_query(struct fake_req *f, const char *q, size_t len)
{
	size_t i = 0;
	while (i <= len && f->n < FAKE_MAX_ARGS) {
		size_t e = i;
		while (e < len && q[e] != '&')
			e++;
		if (e > i) {
			const char *eq = memchr(q + i, '=', e - i);
			size_t kn = eq ? (size_t)(eq - (q + i)) : e - i;
			f->key[f->n] = url_decode(q + i, kn);
			f->val[f->n] =
			    eq ? url_decode(eq + 1, (size_t)(q + e - eq - 1)) : strdup("");
			f->n++;
		}
		i = e + 1;
	}
}

static inline void fake_clear(struct fake_req *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->key[i]);
		free(f->val[i]);
	}
	f->n = 0;
	if (f->r.json)
		cJSON_Delete(f->r.json);
	f->r.json = NULL;
}

/* An error answer was made, once, with a status and a message. */
static inline void answered_400(const struct fake_req *f, int answers_before)
{
	FUZZ_CHECK(f->answers == answers_before + 1, "%d answers to one refusal",
	           f->answers - answers_before);
	FUZZ_CHECK(f->status == 400 && f->msg[0], "refusal %u '%s'", f->status, f->msg);
}

#endif
