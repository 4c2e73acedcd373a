/*
 * mime: an e-mail as RFC 5322 / MIME wants it - Date, From, To, Subject
 * (RFC 2047 encoded-words when it is not plain ASCII), Message-ID,
 * In-Reply-To and References (the thread of the alert), Reply-To,
 * MIME-Version, a text/plain UTF-8 body in base64 (CRLF line ends
 * inside, 76 characters a line outside), Auto-Submitted (RFC 3834: auto
 * responders stay quiet).  Pure: no I/O, plain malloc.
 */
#include "email.h"

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
	header(&b, "Content-Type", "text/plain; charset=UTF-8");
	header(&b, "Content-Transfer-Encoding", "base64");
	header(&b, "Auto-Submitted", "auto-generated");
	header(&b, "X-Mamori-Alert", m->alert_id);
	if (m->possible_duplicate)
		header(&b, "X-Mamori-Possible-Duplicate", "yes");
	puts_(&b, "\r\n");
	/* the body with CRLF line ends, then base64 */
	struct sb body = { 0 };
	put(&body, "", 0);
	for (const char *p = m->body ? m->body : ""; *p; p++) {
		if (*p == '\n' && (p == m->body || p[-1] != '\r'))
			put(&body, "\r\n", 2);
		else
			put(&body, p, 1);
	}
	char *enc = body.failed ? NULL : email_base64((const unsigned char *)body.p, body.n, 1);
	free(body.p);
	if (!enc) {
		free(b.p);
		return NULL;
	}
	puts_(&b, enc);
	puts_(&b, "\r\n");
	free(enc);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}
