/*
 * mime: an e-mail as RFC 5322 / MIME wants it - Date, From, To, Subject
 * (RFC 2047 encoded-words when it is not plain ASCII), Message-ID,
 * In-Reply-To and References (the thread of the alert), Reply-To,
 * MIME-Version, a text/plain UTF-8 body in base64 (CRLF line ends
 * inside, 76 characters a line outside), Auto-Submitted (RFC 3834: auto
 * responders stay quiet); for a document (a monthly report) an HTML
 * alternative and attached files in multipart/alternative and
 * multipart/mixed.  Pure: no I/O, plain malloc.
 */
#include "email.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sb {
	char *p;
	size_t n, cap;
	int failed;
};

static void put(struct sb *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct sb *b, const char *s)
{
	put(b, s, strlen(s));
}

char *email_base64(const unsigned char *d, size_t n, int wrap)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct sb b = { 0 };
	put(&b, "", 0);
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		char q[4] = { t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=',
			      i + 2 < n ? t[v & 63] : '=' };
		put(&b, q, 4);
		col += 4;
		if (wrap && col >= 76 && i + 3 < n) {
			put(&b, "\r\n", 2);
			col = 0;
		}
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

static int plain(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	/* "=?" would read as the start of an encoded-word */
	return strstr(s, "=?") == NULL;
}

/* Length of the UTF-8 character starting at s (1 for a stray byte). */
static size_t cp_len(const unsigned char *s)
{
	size_t n = (s[0] & 0x80) == 0      ? 1
	           : (s[0] & 0xe0) == 0xc0 ? 2
	           : (s[0] & 0xf0) == 0xe0 ? 3
	           : (s[0] & 0xf8) == 0xf0 ? 4
	                                   : 1;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

char *email_encode_words(const char *v, size_t used)
{
	struct sb b = { 0 };
	put(&b, "", 0);
	if (plain(v)) {
		/* fold at spaces before 78 columns */
		size_t col = used;
		const char *p = v;
		while (*p) {
			const char *sp = strchr(p + 1, ' ');
			size_t w = sp ? (size_t)(sp - p) : strlen(p);
			if (col + w > 76 && p != v && *p == ' ') {
				put(&b, "\r\n", 2);
				col = 0;
			}
			put(&b, p, w);
			col += w;
			p += w;
		}
		return b.failed ? (free(b.p), NULL) : b.p;
	}
	/* encoded-words of at most 39 bytes (52 base64 characters, 64 with
	 * "=?UTF-8?B?" and "?=": a line stays under 76 even after
	 * "Subject: "), cut between characters, one per folded line */
	const unsigned char *p = (const unsigned char *)v;
	int first = 1;
	(void)used;
	while (*p) {
		size_t n = 0;
		while (p[n]) {
			size_t c = cp_len(p + n);
			if (n + c > 39)
				break;
			n += c;
		}
		char *enc = email_base64(p, n, 0);
		if (!enc) {
			free(b.p);
			return NULL;
		}
		if (!first)
			put(&b, "\r\n ", 3);
		puts_(&b, "=?UTF-8?B?");
		puts_(&b, enc);
		puts_(&b, "?=");
		free(enc);
		p += n;
		first = 0;
	}
	return b.failed ? (free(b.p), NULL) : b.p;
}

static int clean(const char *s)
{
	return !s || !strpbrk(s, "\r\n");
}

static void header(struct sb *b, const char *name, const char *value)
{
	if (!value)
		return;
	puts_(b, name);
	puts_(b, ": ");
	puts_(b, value);
	puts_(b, "\r\n");
}

/* Text (UTF-8, "\n" line ends) as base64 of its CRLF form. */
static void text_b64(struct sb *b, const char *text)
{
	struct sb body = { 0 };
	put(&body, "", 0);
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '\n' && (p == text || p[-1] != '\r'))
			put(&body, "\r\n", 2);
		else
			put(&body, p, 1);
	}
	char *enc = body.failed ? NULL : email_base64((const unsigned char *)body.p, body.n, 1);
	free(body.p);
	if (!enc) {
		b->failed = 1;
		return;
	}
	puts_(b, enc);
	puts_(b, "\r\n");
	free(enc);
}

static void put_text_part(struct sb *b, const char *type, const char *text)
{
	puts_(b, "Content-Type: ");
	puts_(b, type);
	puts_(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	text_b64(b, text);
}

/* A boundary line (the closing one with "--"). */
static void delim(struct sb *b, const char *boundary, int last)
{
	puts_(b, "--");
	puts_(b, boundary);
	puts_(b, last ? "--\r\n" : "\r\n");
}

static int part_ok(const struct email_part *p)
{
	if (!p->name || !*p->name || !p->type || !strchr(p->type, '/') || (!p->data && p->len))
		return 0;
	for (const char *s = p->name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == '_'))
			return 0;
	for (const char *s = p->type; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '/' || *s == '.' || *s == '-' || *s == '+'))
			return 0;
	return 1;
}

char *email_build(const struct email_msg *m, size_t *len)
{
	const char *vals[] = { m->from_name,  m->from,       m->to,
		               m->subject,    m->message_id, m->in_reply_to,
		               m->references, m->reply_to,   m->alert_id };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		if (!clean(vals[i]))
			return NULL;
	struct sb b = { 0 };
	char date[64];
	time_t t = (time_t)m->date;
	struct tm tm;
	gmtime_r(&t, &tm);
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday],
	         tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	header(&b, "Date", date);
	if (m->from_name && *m->from_name) {
		char *dn = email_encode_words(m->from_name, 6);
		if (!dn) {
			free(b.p);
			return NULL;
		}
		puts_(&b, "From: ");
		if (plain(m->from_name) && !strpbrk(m->from_name, "()<>[]:;@\\,.\"")) {
			puts_(&b, m->from_name);
		} else if (plain(m->from_name)) {
			/* a quoted string: escape \ and " */
			puts_(&b, "\"");
			for (const char *p = m->from_name; *p; p++) {
				if (*p == '"' || *p == '\\')
					puts_(&b, "\\");
				put(&b, p, 1);
			}
			puts_(&b, "\"");
		} else {
			puts_(&b, dn);
		}
		puts_(&b, " <");
		puts_(&b, m->from);
		puts_(&b, ">\r\n");
		free(dn);
	} else {
		header(&b, "From", m->from);
	}
	header(&b, "To", m->to);
	char *subj = email_encode_words(m->subject ? m->subject : "", 9);
	if (!subj) {
		free(b.p);
		return NULL;
	}
	header(&b, "Subject", subj);
	free(subj);
	header(&b, "Message-ID", m->message_id);
	header(&b, "In-Reply-To", m->in_reply_to);
	header(&b, "References", m->references);
	header(&b, "Reply-To", m->reply_to);
	header(&b, "MIME-Version", "1.0");
	/* boundaries: "=_" never occurs in base64, and every part is base64 */
	char bm[64], ba[64];
	uint64_t h = 1469598103934665603ull; /* FNV-1a of the id and the date */
	for (const char *p = m->message_id ? m->message_id : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ (uint64_t)m->date) * 1099511628211ull;
	snprintf(bm, sizeof bm, "=_mamori_%016llx_m", (unsigned long long)h);
	snprintf(ba, sizeof ba, "=_mamori_%016llx_a", (unsigned long long)h);
	int multi = m->html || m->n_parts;
	if (!multi) {
		header(&b, "Content-Type", "text/plain; charset=UTF-8");
		header(&b, "Content-Transfer-Encoding", "base64");
	} else {
		puts_(&b, "Content-Type: multipart/");
		puts_(&b, m->n_parts ? "mixed" : "alternative");
		puts_(&b, "; boundary=\"");
		puts_(&b, m->n_parts ? bm : ba);
		puts_(&b, "\"\r\n");
	}
	header(&b, "Auto-Submitted", "auto-generated");
	header(&b, "X-Mamori-Alert", m->alert_id);
	if (m->possible_duplicate)
		header(&b, "X-Mamori-Possible-Duplicate", "yes");
	puts_(&b, "\r\n");
	if (!multi) {
		text_b64(&b, m->body);
	} else {
		puts_(&b, "This is a multi-part message in MIME format.\r\n");
		if (m->n_parts) {
			delim(&b, bm, 0);
			if (m->html) {
				puts_(&b, "Content-Type: multipart/alternative; boundary=\"");
				puts_(&b, ba);
				puts_(&b, "\"\r\n\r\n");
			}
		}
		if (m->html) {
			delim(&b, ba, 0);
			put_text_part(&b, "text/plain", m->body);
			delim(&b, ba, 0);
			put_text_part(&b, "text/html", m->html);
			delim(&b, ba, 1);
		} else {
			put_text_part(&b, "text/plain", m->body);
		}
		for (size_t i = 0; i < m->n_parts; i++) {
			const struct email_part *pt = &m->parts[i];
			if (!part_ok(pt)) {
				free(b.p);
				return NULL;
			}
			delim(&b, bm, 0);
			puts_(&b, "Content-Type: ");
			puts_(&b, pt->type);
			puts_(&b, "; name=\"");
			puts_(&b, pt->name);
			puts_(&b, "\"\r\nContent-Disposition: attachment; filename=\"");
			puts_(&b, pt->name);
			puts_(&b, "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
			char *enc = email_base64(pt->data, pt->len, 1);
			if (!enc) {
				free(b.p);
				return NULL;
			}
			puts_(&b, enc);
			puts_(&b, "\r\n");
			free(enc);
		}
		if (m->n_parts)
			delim(&b, bm, 1);
	}
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

/* ---- reading a reply ---- */

#include <ctype.h>
#include <iconv.h>
#include <strings.h>

#define MAX_TEXT  8192
#define MAX_DEPTH 4

void email_reply_free(struct email_reply *r)
{
	free(r->from);
	free(r->message_id);
	free(r->text);
	for (size_t i = 0; i < r->n_refs; i++)
		free(r->refs[i]);
	memset(r, 0, sizeof(*r));
}

/* The end of the header block (the blank line), or NULL. */
static const char *header_end(const char *m, size_t len, const char **body)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n') {
			*body = m + i + 2;
			return m + i + 1;
		}
		if (i + 3 < len && m[i] == '\r' && m[i + 1] == '\n' && m[i + 2] == '\r' &&
		    m[i + 3] == '\n') {
			*body = m + i + 4;
			return m + i + 2;
		}
	}
	return NULL;
}

/* A header's value (unfolded, trimmed) from the block [h, end), malloc'd. */
static char *get_header(const char *h, const char *end, const char *name)
{
	size_t nl = strlen(name);
	const char *p = h;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			struct sb v = { 0 };
			put(&v, "", 0);
			const char *q = p + nl + 1;
			for (;;) {
				size_t l = (size_t)(eol - q);
				while (l && (q[l - 1] == '\r'))
					l--;
				put(&v, q, l);
				if (eol >= end || eol + 1 >= end ||
				    (eol[1] != ' ' && eol[1] != '\t'))
					break;
				q = eol + 1;
				eol = memchr(q, '\n', (size_t)(end - q));
				if (!eol)
					eol = end;
			}
			if (v.failed) {
				free(v.p);
				return NULL;
			}
			/* a bare CR (or a NUL-less LF) left inside is not a line:
			 * a value is one line (found by fuzz_notify_reply) */
			for (char *c = v.p; *c; c++)
				if (*c == '\r' || *c == '\n')
					*c = ' ';
			/* trim */
			char *s = v.p;
			while (*s == ' ' || *s == '\t')
				s++;
			memmove(v.p, s, strlen(s) + 1);
			size_t n = strlen(v.p);
			while (n && (v.p[n - 1] == ' ' || v.p[n - 1] == '\t'))
				v.p[--n] = '\0';
			return v.p;
		}
		p = eol + 1;
	}
	return NULL;
}

/* A parameter of a header value ("boundary", "charset"), malloc'd. */
static char *param(const char *v, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = v ? strchr(v, ';') : NULL; p; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, name, nl) != 0 || q[nl] != '=')
			continue;
		q += nl + 1;
		size_t n;
		if (*q == '"') {
			q++;
			const char *e = strchr(q, '"');
			n = e ? (size_t)(e - q) : strlen(q);
		} else {
			n = strcspn(q, "; \t");
		}
		char *out = malloc(n + 1);
		if (out) {
			memcpy(out, q, n);
			out[n] = '\0';
		}
		return out;
	}
	return NULL;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static void decode_b64(const char *s, size_t n, struct sb *out)
{
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int d = b64val((unsigned char)s[i]);
		if (d < 0)
			continue;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			char c = (char)(v >> bits);
			put(out, &c, 1);
		}
	}
}

static int hexd(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

static void decode_qp(const char *s, size_t n, struct sb *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
			i++; /* a soft line break */
			if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			continue;
		}
		if (s[i] == '=' && i + 2 < n && hexd(s[i + 1]) >= 0 && hexd(s[i + 2]) >= 0) {
			char c = (char)(hexd(s[i + 1]) * 16 + hexd(s[i + 2]));
			put(out, &c, 1);
			i += 2;
			continue;
		}
		put(out, s + i, 1);
	}
}

/* Length of the valid UTF-8 sequence at p (left bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are). */
static size_t u8_seq(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	size_t n = c < 0x80                 ? 1
	           : c >= 0xc2 && c <= 0xdf ? 2
	           : c >= 0xe0 && c <= 0xef ? 3
	           : c >= 0xf0 && c <= 0xf4 ? 4
	                                    : 0;
	if (!n || n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n > 1 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
	              (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

/* s (n bytes, freed) as valid UTF-8: every byte that is not part of a
 * valid sequence becomes U+FFFD.  A body that claims UTF-8 (or a legacy
 * charset iconv could not convert) may hold anything. */
static char *utf8_fix(char *s, size_t n)
{
	if (!s)
		return NULL;
	char *out = malloc(n * 3 + 1);
	if (!out) {
		free(s);
		return NULL;
	}
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t k = u8_seq((const unsigned char *)s + i, n - i);
		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	free(s);
	return out;
}

/* Convert to UTF-8 from a Japanese legacy charset (iconv; nothing else
 * is converted: UTF-8 and ASCII stay as they are). */
static char *to_utf8_raw(const char *s, size_t n, const char *charset, size_t *outlen)
{
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	if (charset && (strcasecmp(charset, "iso-2022-jp") == 0 ||
	                strcasecmp(charset, "shift_jis") == 0 || strcasecmp(charset, "sjis") == 0 ||
	                strcasecmp(charset, "cp932") == 0 || strcasecmp(charset, "euc-jp") == 0)) {
		iconv_t cd =
		    iconv_open("UTF-8", strcasecmp(charset, "sjis") == 0 ? "SHIFT_JIS" : charset);
		if (cd != (iconv_t)-1) {
			char *in = (char *)s, *o = out;
			size_t il = n, ol = n * 4;
			size_t rc = iconv(cd, &in, &il, &o, &ol);
			iconv_close(cd);
			if (rc != (size_t)-1) {
				*o = '\0';
				*outlen = (size_t)(o - out);
				return out;
			}
		}
	}
	memcpy(out, s, n);
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* The text as valid UTF-8 whatever its bytes were (to_utf8_raw, then
 * utf8_fix). */
static char *to_utf8(const char *s, size_t n, const char *charset)
{
	size_t len = 0;
	char *raw = to_utf8_raw(s, n, charset, &len);
	return raw ? utf8_fix(raw, len) : NULL;
}

/* The first text/plain part of [m, m+len) (headers included), decoded;
 * NULL when there is none. */
static char *text_part(const char *m, size_t len, int depth)
{
	const char *body;
	const char *he = header_end(m, len, &body);
	if (!he) /* a part without headers: its body is all of it */
		return NULL;
	char *ct = get_header(m, he, "Content-Type");
	char *cte = get_header(m, he, "Content-Transfer-Encoding");
	size_t blen = len - (size_t)(body - m);
	char *result = NULL;
	if (ct && strncasecmp(ct, "multipart/", 10) == 0 && depth < MAX_DEPTH) {
		char *b = param(ct, "boundary");
		if (b && *b && strlen(b) < 200) {
			char delim[210];
			snprintf(delim, sizeof delim, "--%s", b);
			size_t dl = strlen(delim);
			const char *p = body, *end = body + blen;
			const char *start = NULL;
			while (p < end && !result) {
				const char *eol = memchr(p, '\n', (size_t)(end - p));
				const char *next = eol ? eol + 1 : end;
				if ((size_t)(end - p) >= dl && memcmp(p, delim, dl) == 0) {
					if (start)
						result = text_part(start, (size_t)(p - start),
						                   depth + 1);
					if (p + dl + 1 < end && p[dl] == '-' && p[dl + 1] == '-')
						break;
					start = next;
				}
				p = next;
			}
		}
		free(b);
	} else if (!ct || strncasecmp(ct, "text/plain", 10) == 0) {
		struct sb dec = { 0 };
		put(&dec, "", 0);
		if (cte && strcasecmp(cte, "base64") == 0)
			decode_b64(body, blen, &dec);
		else if (cte && strcasecmp(cte, "quoted-printable") == 0)
			decode_qp(body, blen, &dec);
		else
			put(&dec, body, blen);
		if (!dec.failed) {
			size_t n = dec.n > MAX_TEXT ? MAX_TEXT : dec.n;
			char *cs = ct ? param(ct, "charset") : NULL;
			result = to_utf8(dec.p, n, cs);
			free(cs);
		}
		free(dec.p);
	}
	free(ct);
	free(cte);
	return result;
}

int email_reply_parse(const char *msg, size_t len, struct email_reply *out)
{
	memset(out, 0, sizeof(*out));
	const char *body;
	const char *he = msg ? header_end(msg, len, &body) : NULL;
	if (!he)
		return -1;
	out->from = get_header(msg, he, "From");
	out->message_id = get_header(msg, he, "Message-ID");
	static const char *const refs[] = { "In-Reply-To", "References", "To", "Cc",
		                            "Delivered-To" };
	for (size_t i = 0; i < sizeof refs / sizeof refs[0] && out->n_refs < EMAIL_MAX_REFS; i++) {
		char *v = get_header(msg, he, refs[i]);
		if (v)
			out->refs[out->n_refs++] = v;
	}
	out->text = text_part(msg, len, 0);
	if (!out->from) {
		email_reply_free(out);
		return -1;
	}
	return 0;
}
