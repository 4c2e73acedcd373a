/*
 * esc: escaping of control characters and invalid UTF-8.  See esc.h.
 */
#include "util/esc.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

/* Length (1..4) of the valid UTF-8 character at s, 0 if s starts with an
 * invalid byte (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF).  s is NUL-terminated: a NUL fails the continuation test, so
 * nothing past it is read. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c < 0xf5) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/* The character at s: its length in *len, and its escape in esc (returns
 * 1) or 0 when it stays as it is. */
static int esc_one(const unsigned char *s, size_t *len, char esc[8])
{
	size_t n = utf8_len(s);
	*len = n ? n : 1;
	if (n == 1 && (*s == '\n' || *s == '\r')) {
		snprintf(esc, 8, "\\%c", *s == '\n' ? 'n' : 'r');
		return 1;
	}
	if (n == 0 || (n == 1 && ((*s < 0x20 && *s != '\t') || *s == 0x7f))) {
		snprintf(esc, 8, "\\x%02x", *s);
		return 1;
	}
	if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) { /* C1: U+0080..U+009F */
		snprintf(esc, 8, "\\u%04x", s[1]);
		return 1;
	}
	return 0;
}

int esc_needed(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		/* the common case, printable ASCII, without decoding */
		if (*p >= 0x20 && *p < 0x7f) {
			p++;
			continue;
		}
		size_t len;
		char esc[8];
		if (esc_one(p, &len, esc))
			return 1;
		p += len;
	}
	return 0;
}

size_t esc_text(char *dst, size_t n, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0;
	int full = 0;
	if (n)
		dst[0] = '\0';
	while (*p) {
		size_t len;
		char esc[8];
		const char *piece = (const char *)p;
		size_t plen;
		if (esc_one(p, &len, esc)) {
			piece = esc;
			plen = strlen(esc);
		} else {
			plen = len;
		}
		/* once a piece did not fit, nothing after it is written */
		if (!full && out + plen < n)
			memcpy(dst + out, piece, plen);
		else
			full = 1;
		if (!full)
			dst[out + plen] = '\0';
		out += plen;
		p += len;
	}
	return out;
}

char *esc_dup(const char *s)
{
	size_t n = esc_text(NULL, 0, s) + 1;
	char *d = xmalloc(n);
	esc_text(d, n, s);
	return d;
}
