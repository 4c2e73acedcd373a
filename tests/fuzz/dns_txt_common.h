/*
 * What the dns_txt fuzz targets share: the plugin's pure files (as
 * tests/unit/test_dns_txt_judge.c includes them) and the checks every
 * verdict must pass.
 */
#ifndef MAMORI_FUZZ_DNS_TXT_COMMON_H
#define MAMORI_FUZZ_DNS_TXT_COMMON_H

#include "tests/fuzz/fuzz.h"

#include "plugins/dns_txt/policy.c"
#include "plugins/dns_txt/spf.c"
#include "plugins/dns_txt/txt.c"

/* A verdict: a state, a message, texts terminated within their buffers. */
static inline void verdict_ok(const struct dt_verdict *v)
{
	FUZZ_CHECK(v->state >= MAMORI_OK && v->state <= MAMORI_UNKNOWN, "state %d", v->state);
	FUZZ_CHECK(v->has_msg && v->out[0], "no message");
	FUZZ_CHECK(memchr(v->out, '\0', sizeof v->out), "message not terminated");
	FUZZ_CHECK(v->lng_len < sizeof v->lng && strlen(v->lng) == v->lng_len,
	           "long output %zu / %zu", strlen(v->lng), v->lng_len);
}

/* Records of a set: the input cut at each 0x1e byte (one record when there
 * is none, as the committed seeds are). */
static inline size_t records(char *s, size_t len, struct dt_txt *t, size_t max)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len && n < max; i++)
		if (i == len || s[i] == '\x1e') {
			t[n].data = s + start;
			t[n].len = i - start;
			n++;
			start = i + 1;
		}
	return n;
}

#endif
