/*
 * sms: how long a text is as an SMS and where it may be cut.
 *
 * An SMS is GSM-7 when every character is in the GSM 03.38 default
 * alphabet (a few, such as '[' or '€', take an escape and count twice),
 * otherwise UCS-2 (UTF-16 code units: a character outside the BMP is a
 * surrogate pair, two units).  One segment holds 160 septets or 70
 * units; a concatenated message loses room to its header, 153 or 67 per
 * segment.  Japanese text is always UCS-2.  Cuts happen only between
 * characters, so neither a UTF-8 sequence nor a surrogate pair is ever
 * split.
 *
 * Pure: no allocation, no I/O.
 */
#include "notify/notify_int.h"

#include <stddef.h>
#include <stdint.h>

/* The GSM 03.38 default alphabet outside printable ASCII (those are all
 * in it but '`' and the escaped ones). */
static const uint16_t gsm_extra[] = { 0x00a3, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, 0x00f2,
	                              0x00c7, 0x00d8, 0x00f8, 0x00c5, 0x00e5, 0x0394, 0x03a6,
	                              0x0393, 0x039b, 0x03a9, 0x03a0, 0x03a8, 0x03a3, 0x0398,
	                              0x039e, 0x00c6, 0x00e6, 0x00df, 0x00c9, 0x00a4, 0x00a1,
	                              0x00c4, 0x00d6, 0x00d1, 0x00dc, 0x00a7, 0x00bf, 0x00e4,
	                              0x00f6, 0x00f1, 0x00fc, 0x00e0 };

/* Septets of code point c in GSM-7: 1, 2 (escaped), 0 (not in it). */
static int gsm_septets(uint32_t c)
{
	switch (c) {
	case '^':
	case '{':
	case '}':
	case '\\':
	case '[':
	case '~':
	case ']':
	case '|':
	case 0x20ac: /* euro */
	case '\f': return 2;
	case '`': return 0;
	case '\n':
	case '\r': return 1;
	}
	if (c >= 0x20 && c < 0x7f)
		return 1;
	for (size_t i = 0; i < sizeof gsm_extra / sizeof gsm_extra[0]; i++)
		if (gsm_extra[i] == c)
			return 1;
	return 0;
}

/* Decode one UTF-8 character at s: its code point and length (an
 * invalid byte is one character U+FFFD, length 1). */
static size_t next_cp(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t n = (s[0] & 0xe0) == 0xc0   ? 2
	           : (s[0] & 0xf0) == 0xe0 ? 3
	           : (s[0] & 0xf8) == 0xf0 ? 4
	                                   : 0;
	if (!n) {
		*cp = 0xfffd;
		return 1;
	}
	uint32_t c = s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return n;
}

static size_t units_of(uint32_t c, int ucs2)
{
	if (ucs2)
		return c > 0xffff ? 2 : 1;
	int s = gsm_septets(c);
	return s ? (size_t)s : 1;
}

void sms_measure(const char *text, struct sms_len *out)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	out->ucs2 = 0;
	out->units = 0;
	for (const unsigned char *q = p; *q;) {
		uint32_t c;
		q += next_cp(q, &c);
		if (!gsm_septets(c)) {
			out->ucs2 = 1;
			break;
		}
	}
	while (*p) {
		uint32_t c;
		p += next_cp(p, &c);
		out->units += units_of(c, out->ucs2);
	}
	size_t per = out->ucs2 ? 67 : 153, one = out->ucs2 ? 70 : 160;
	out->segments = out->units <= one ? 1 : (unsigned)((out->units + per - 1) / per);
}

size_t sms_capacity(int ucs2, unsigned segments)
{
	if (segments <= 1)
		return ucs2 ? 70 : 160;
	return (size_t)segments * (ucs2 ? 67 : 153);
}

size_t sms_prefix(const char *text, int ucs2, size_t budget, size_t *units)
{
	const unsigned char *s = (const unsigned char *)(text ? text : ""), *p = s;
	size_t used = 0;
	while (*p) {
		uint32_t c;
		size_t n = next_cp(p, &c);
		size_t u = units_of(c, ucs2);
		if (used + u > budget)
			break;
		used += u;
		p += n;
	}
	if (units)
		*units = used;
	return (size_t)(p - s);
}
