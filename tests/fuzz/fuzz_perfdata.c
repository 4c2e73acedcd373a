/*
 * fuzz_perfdata: a plugin's output ("TEXT|perf\nLONG|perf") through
 * perf_output_parse and perf_parse (src/perfdata), the code every exec
 * result and every isolated host's result goes through.  The first byte
 * picks the item limit (1..64); the rest is the output.  Promises: the
 * first line has no '|' or newline, the long output no '|'; labels and
 * UOMs point into the text; and every item survives a round trip:
 * perf_format writes it back and perf_parse reads the same label, value,
 * UOM, thresholds, min and max (this is how 'a''b c=1 reading as c=11
 * would show).
 */
#include "tests/fuzz/fuzz.h"
#include "perfdata/perfdata.h"

#include <math.h>

#define MAX_ITEMS 64

static int same_num(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static void range_text(const struct mamori_range *r, char *buf, size_t size)
{
	perf_range_format(r, buf, size);
}

static void same_item(const struct mamori_perfdata *a, const struct mamori_perfdata *b,
                      const char *text)
{
	FUZZ_CHECK(strcmp(a->label, b->label) == 0, "label '%s' came back '%s' from %s", a->label,
	           b->label, text);
	FUZZ_CHECK(strcmp(a->uom, b->uom) == 0, "uom '%s' came back '%s'", a->uom, b->uom);
	FUZZ_CHECK((a->flags & MAMORI_PERF_VALUE_UNKNOWN) == (b->flags & MAMORI_PERF_VALUE_UNKNOWN),
	           "unknown flag differs in %s", text);
	if (!(a->flags & MAMORI_PERF_VALUE_UNKNOWN))
		FUZZ_CHECK(same_num(a->value, b->value), "value %.17g came back %.17g", a->value,
		           b->value);
	char ra[128], rb[128];
	range_text(&a->warn, ra, sizeof ra);
	range_text(&b->warn, rb, sizeof rb);
	FUZZ_CHECK(strcmp(ra, rb) == 0, "warn '%s' came back '%s'", ra, rb);
	range_text(&a->crit, ra, sizeof ra);
	range_text(&b->crit, rb, sizeof rb);
	FUZZ_CHECK(strcmp(ra, rb) == 0, "crit '%s' came back '%s'", ra, rb);
	int fl = MAMORI_PERF_HAS_MIN | MAMORI_PERF_HAS_MAX;
	FUZZ_CHECK((a->flags & fl) == (b->flags & fl), "min/max flags differ in %s", text);
	if (a->flags & MAMORI_PERF_HAS_MIN)
		FUZZ_CHECK(same_num(a->min, b->min), "min differs in %s", text);
	if (a->flags & MAMORI_PERF_HAS_MAX)
		FUZZ_CHECK(same_num(a->max, b->max), "max differs in %s", text);
}

static void round_trip(const struct mamori_perfdata *it)
{
	char buf[4096];
	int n = perf_format(it, buf, sizeof buf);
	FUZZ_CHECK(n >= 0, "format %d", n);
	if ((size_t)n >= sizeof buf)
		return; /* a label as long as the input; not comparable here */
	FUZZ_CHECK(strlen(buf) == (size_t)n, "format said %d, wrote %zu", n, strlen(buf));
	struct mamori_perfdata back[2];
	size_t bad = 0;
	char copy[4096];
	memcpy(copy, buf, (size_t)n + 1);
	int got = perf_parse(copy, back, 2, &bad);
	FUZZ_CHECK(got == 1 && bad == 0, "'%s' parsed back as %d items, %zu bad", buf, got, bad);
	same_item(it, &back[0], buf);
}

static void in_text(const char *p, const char *text, size_t len, const char *what)
{
	FUZZ_CHECK(p >= text && p <= text + len, "%s points outside the text", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel = fuzz_take_byte(&data, &size);
	size_t max = 1 + sel % MAX_ITEMS;
	char *text = fuzz_str(data, size);
	size_t len = strlen(text);
	struct mamori_perfdata items[MAX_ITEMS];
	size_t bad = 0;
	int n;
	if (sel & 0x80) {
		n = perf_parse(text, items, max, &bad);
	} else {
		struct mamori_result res;
		memset(&res, 0, sizeof res);
		n = perf_output_parse(text, &res, items, max, &bad);
		FUZZ_CHECK(n >= 0, "output parse %d", n);
		FUZZ_CHECK(res.output != NULL, "no output");
		in_text(res.output, text, len, "output");
		FUZZ_CHECK(!strchr(res.output, '\n') && !strchr(res.output, '|'),
		           "first line keeps a newline or '|': %s", res.output);
		if (res.long_output) {
			in_text(res.long_output, text, len, "long output");
			FUZZ_CHECK(!strchr(res.long_output, '|'), "long output keeps a '|'");
		}
		FUZZ_CHECK(res.n_perf == (size_t)n && (n == 0) == (res.perf == NULL),
		           "perf %zu of %d", res.n_perf, n);
	}
	FUZZ_CHECK(n >= 0 && (size_t)n <= max, "%d items, at most %zu", n, max);
	for (int i = 0; i < n; i++) {
		in_text(items[i].label, text, len, "label");
		in_text(items[i].uom, text, len, "uom");
		FUZZ_CHECK(items[i].label[0] != '\0', "empty label");
		round_trip(&items[i]);
	}
	free(text);
	return 0;
}
