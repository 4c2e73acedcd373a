/*
 * fuzz_range: threshold ranges ("10", "@10:20", "~:5", "10:") through
 * perf_range_parse (src/perfdata), used by every warning/critical key of
 * the config and by plugins through the host's range_parse.  Promises: an
 * accepted range is set and has start <= end; its canonical form
 * (perf_range_format) parses back to the same range and is a fixed point;
 * perf_range_alert agrees with the definition (outside start..end alerts,
 * or inside for '@'; NaN always alerts) on values at and around its ends;
 * a refused range is zeroed.
 */
#include "tests/fuzz/fuzz.h"
#include "perfdata/perfdata.h"

#include <math.h>

static int alerts_by_definition(const struct mamori_range *r, double v)
{
	if (isnan(v))
		return 1;
	int in = (r->start_inf || v >= r->start) && (r->end_inf || v <= r->end);
	return r->inside ? in : !in;
}

static void same(const struct mamori_range *a, const struct mamori_range *b, const char *text)
{
	FUZZ_CHECK(a->set == b->set && a->inside == b->inside && a->start_inf == b->start_inf &&
	               a->end_inf == b->end_inf,
	           "flags differ after a round trip of %s", text);
	if (!a->start_inf)
		FUZZ_CHECK(a->start == b->start, "start %.17g / %.17g (%s)", a->start, b->start,
		           text);
	if (!a->end_inf)
		FUZZ_CHECK(a->end == b->end, "end %.17g / %.17g (%s)", a->end, b->end, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct mamori_range r;
	memset(&r, 0x5a, sizeof r);
	if (perf_range_parse(text, &r) != 0) {
		struct mamori_range zero;
		memset(&zero, 0, sizeof zero);
		FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0, "refused '%s' not zeroed", text);
		free(text);
		return 0;
	}
	FUZZ_CHECK(r.set == 1, "accepted '%s' not set", text);
	if (!r.start_inf && !r.end_inf)
		FUZZ_CHECK(r.start <= r.end, "'%s': start > end", text);
	FUZZ_CHECK((r.start_inf || isfinite(r.start)) && (r.end_inf || isfinite(r.end)),
	           "'%s': not finite", text);

	char canon[128], again[128];
	int n = perf_range_format(&r, canon, sizeof canon);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof canon, "format %d", n);
	struct mamori_range back;
	FUZZ_CHECK(perf_range_parse(canon, &back) == 0, "canonical '%s' of '%s' refused", canon,
	           text);
	same(&r, &back, canon);
	perf_range_format(&back, again, sizeof again);
	FUZZ_CHECK(strcmp(canon, again) == 0, "'%s' formats as '%s'", canon, again);

	double vs[] = { r.start, r.end, 0, -1, 1, NAN, INFINITY, -INFINITY, 1e300, -1e300 };
	for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
		double v = vs[i];
		double around[] = { v, nextafter(v, INFINITY), nextafter(v, -INFINITY) };
		for (size_t k = 0; k < 3; k++)
			FUZZ_CHECK(perf_range_alert(&r, around[k]) ==
			               alerts_by_definition(&r, around[k]),
			           "'%s' at %.17g", text, around[k]);
	}
	struct mamori_range none = { 0 };
	FUZZ_CHECK(perf_range_state(&r, &none, r.end) ==
	               (perf_range_alert(&r, r.end) ? MAMORI_WARNING : MAMORI_OK),
	           "state disagrees with alert for '%s'", text);
	FUZZ_CHECK(perf_range_state(&none, &r, r.end) ==
	               (perf_range_alert(&r, r.end) ? MAMORI_CRITICAL : MAMORI_OK),
	           "critical state disagrees with alert for '%s'", text);
	free(text);
	return 0;
}
