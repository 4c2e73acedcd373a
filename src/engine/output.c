/*
 * output: a check's latest output, perfdata and long output, kept in one
 * blob per check and reused when a result repeats the last one (the
 * common case: no allocation per result); perfdata items are formatted
 * only when they differ from the last ones (formatting doubles cost more
 * than the rest of a result).
 *
 * Must never: keep more than MAX_* bytes of a plugin's text.
 */
#include "engine/engine_int.h"
#include "perfdata/perfdata.h"
#include "util/mem.h"

#include <string.h>

#define MAX_OUTPUT      8192 /* first line kept */
#define MAX_LONG_OUTPUT 65536
#define MAX_PERF        8192

static size_t clip_line(const char *s, size_t max)
{
	size_t n = 0;
	while (s[n] && s[n] != '\n' && n < max)
		n++;
	return n;
}

/* Store output, perfdata and long output in one blob; reuse the old one
 * when nothing changed (the common case: no allocation per result). */
static int set_output(struct check *c, const char *out, size_t olen, const char *perf, size_t plen,
                      const char *lng, size_t llen)
{
	size_t need = olen + plen + llen + 3;
	if (c->out && c->out_len == need && memcmp(c->out, out, olen) == 0 &&
	    c->out[olen] == '\0' && memcmp(c->out + olen + 1, perf, plen) == 0 &&
	    memcmp(c->out + olen + plen + 2, lng, llen) == 0)
		return 0;
	if (!c->out || c->out_len != need)
		c->out = xrealloc(c->out, need);
	memcpy(c->out, out, olen);
	c->out[olen] = '\0';
	memcpy(c->out + olen + 1, perf, plen);
	c->out[olen + 1 + plen] = '\0';
	memcpy(c->out + olen + plen + 2, lng, llen);
	c->out[need - 1] = '\0';
	c->out_len = (uint32_t)need;
	return 1;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t range_hash(uint64_t h, const struct mamori_range *r)
{
	h = mix(h, &r->start, sizeof r->start);
	h = mix(h, &r->end, sizeof r->end);
	unsigned char f[4] = { r->set, r->start_inf, r->end_inf, r->inside };
	return mix(h, f, sizeof f);
}

/* Hash of everything perf_format prints (never 0, so 0 means "none"). */
static uint64_t perf_items_hash(const struct mamori_perfdata *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h = mix(h, p[i].label ? p[i].label : "", p[i].label ? strlen(p[i].label) + 1 : 1);
		h = mix(h, p[i].uom ? p[i].uom : "", p[i].uom ? strlen(p[i].uom) + 1 : 1);
		h = mix(h, &p[i].value, sizeof p[i].value);
		h = mix(h, &p[i].min, sizeof p[i].min);
		h = mix(h, &p[i].max, sizeof p[i].max);
		h = mix(h, &p[i].flags, sizeof p[i].flags);
		h = range_hash(h, &p[i].warn);
		h = range_hash(h, &p[i].crit);
	}
	return h | 1;
}

int engine__store_text(struct check *c, const struct mamori_result *r, int *perf_same)
{
	const char *out = r->output ? r->output : "";
	size_t olen = clip_line(out, MAX_OUTPUT);
	const char *lng = r->long_output ? r->long_output : "";
	if (!r->long_output && out[olen] == '\n')
		lng = out + olen + 1; /* a multi-line output: the rest is long output */
	size_t llen = strnlen(lng, MAX_LONG_OUTPUT);
	char pbuf[MAX_PERF];
	const char *perf = "";
	size_t plen = 0;
	*perf_same = 0;
	if (r->perf && r->n_perf) {
		/* Formatting doubles costs more than the rest of a result: skip
		 * it when the items are the same as last time. */
		uint64_t h = perf_items_hash(r->perf, r->n_perf);
		if (h == c->perf_hash && c->out) {
			*perf_same = 1;
			/* Copied: set_output may reallocate the blob it lives in. */
			plen = strnlen(check_perf(c), sizeof pbuf - 1);
			memcpy(pbuf, check_perf(c), plen);
			pbuf[plen] = '\0';
			perf = pbuf;
		} else {
			int n = perf_format_all(r->perf, r->n_perf, pbuf, sizeof pbuf);
			perf = pbuf;
			plen = n < 0 ? 0 : (size_t)n >= sizeof pbuf ? sizeof pbuf - 1 : (size_t)n;
			c->perf_hash = h;
		}
	} else if (r->perf_text) {
		perf = r->perf_text;
		plen = clip_line(perf, MAX_PERF - 1);
		if (c->out && !c->perf_hash) {
			const char *old = check_perf(c);
			*perf_same = strncmp(old, perf, plen) == 0 && old[plen] == '\0';
		}
		c->perf_hash = 0;
	} else {
		c->perf_hash = 0;
	}
	return set_output(c, out, olen, perf, plen, lng, llen);
}
