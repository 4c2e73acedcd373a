/*
 * Unit tests for src/perfdata: threshold ranges, perfdata, plugin output
 * splitting and durations, including garbage and random input (run under
 * ASan in CI: the point of the random loops is "never crash, never read
 * past the NUL").
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perfdata/perfdata.h"

#define NITEMS 64

static struct mamori_range rng(const char *text, int expect_rc)
{
	struct mamori_range r;
	int rc = perf_range_parse(text, &r);
	ck_assert_msg(rc == expect_rc, "range '%s': rc %d, expected %d", text, rc, expect_rc);
	return r;
}

START_TEST(range_forms)
{
	struct mamori_range r = rng("10", 0);
	ck_assert(r.set && !r.inside && !r.start_inf && !r.end_inf);
	ck_assert(r.start == 0 && r.end == 10);
	r = rng("10:", 0);
	ck_assert(r.start == 10 && r.end_inf && !r.start_inf);
	r = rng("~:10", 0);
	ck_assert(r.start_inf && r.end == 10 && !r.end_inf);
	r = rng("10:20", 0);
	ck_assert(r.start == 10 && r.end == 20);
	r = rng("@10:20", 0);
	ck_assert(r.inside && r.start == 10 && r.end == 20);
	r = rng("-20:-10.5", 0);
	ck_assert(r.start == -20 && r.end == -10.5);
	r = rng("@~:", 0);
	ck_assert(r.inside && r.start_inf && r.end_inf);
	r = rng(":5", 0);
	ck_assert(r.start == 0 && r.end == 5);
	r = rng("1e3:2E3", 0);
	ck_assert(r.start == 1000 && r.end == 2000);
	r = rng("5:5", 0);
	ck_assert(r.start == 5 && r.end == 5);
}
END_TEST

START_TEST(range_errors)
{
	static const char *bad[] = {
		"",     "@",     "~",   "20:10", "-5",  " 10",  "10 ", "10:20:30",
		"abc",  "1e400", "nan", "inf",   "~:~", "10:~", "@@1", "0x10",
		"1,5",  "--1",   "1e",  "+",     ".",   "10;",  "~10", "99999999999999999999999:1",
		"1:2x",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mamori_range r;
		memset(&r, 0xa5, sizeof(r));
		ck_assert_msg(perf_range_parse(bad[i], &r) == MAMORI_E_INVAL, "'%s' accepted",
		              bad[i]);
		ck_assert_msg(!r.set && r.start == 0 && r.end == 0, "'%s' not zeroed", bad[i]);
	}
	ck_assert_int_eq(perf_range_parse(NULL, &(struct mamori_range){ 0 }), MAMORI_E_INVAL);
}
END_TEST

START_TEST(range_alerting)
{
	struct mamori_range r = rng("10", 0);
	ck_assert_int_eq(perf_range_alert(&r, -1), 1);
	ck_assert_int_eq(perf_range_alert(&r, 0), 0);
	ck_assert_int_eq(perf_range_alert(&r, 10), 0);
	ck_assert_int_eq(perf_range_alert(&r, 10.0001), 1);
	ck_assert_int_eq(perf_range_alert(&r, NAN), 1);
	r = rng("10:", 0);
	ck_assert_int_eq(perf_range_alert(&r, 9.9), 1);
	ck_assert_int_eq(perf_range_alert(&r, 1e300), 0);
	r = rng("~:10", 0);
	ck_assert_int_eq(perf_range_alert(&r, -1e300), 0);
	ck_assert_int_eq(perf_range_alert(&r, 11), 1);
	r = rng("@10:20", 0);
	ck_assert_int_eq(perf_range_alert(&r, 15), 1);
	ck_assert_int_eq(perf_range_alert(&r, 10), 1);
	ck_assert_int_eq(perf_range_alert(&r, 21), 0);
	r = rng("@~:", 0);
	ck_assert_int_eq(perf_range_alert(&r, 0), 1);
	ck_assert_int_eq(perf_range_alert(&r, NAN), 1);
	r.set = 0;
	ck_assert_int_eq(perf_range_alert(&r, NAN), 0);
	ck_assert_int_eq(perf_range_alert(NULL, 1), 0);

	struct mamori_range w = rng("80", 0), c = rng("90", 0), none = { 0 };
	ck_assert_int_eq(perf_range_state(&w, &c, 50), MAMORI_OK);
	ck_assert_int_eq(perf_range_state(&w, &c, 85), MAMORI_WARNING);
	ck_assert_int_eq(perf_range_state(&w, &c, 95), MAMORI_CRITICAL);
	ck_assert_int_eq(perf_range_state(&none, &c, 85), MAMORI_OK);
	ck_assert_int_eq(perf_range_state(&w, &none, 95), MAMORI_WARNING);
	ck_assert_int_eq(perf_range_state(NULL, NULL, 95), MAMORI_OK);
}
END_TEST

START_TEST(range_format_roundtrip)
{
	static const char *in[] = { "10",
		                    "10:",
		                    "~:10",
		                    "10:20",
		                    "@10:20",
		                    "@~:",
		                    "-5:-1",
		                    "0.1:0.3",
		                    "1e-300",
		                    "@0:",
		                    "123456789012345678" };
	static const char *canon[] = { "10",
		                       "10:",
		                       "~:10",
		                       "10:20",
		                       "@10:20",
		                       "@~:",
		                       "-5:-1",
		                       "0.1:0.3",
		                       "1e-300",
		                       "@0:",
		                       "1.2345678901234568e+17" };
	size_t i;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct mamori_range a = rng(in[i], 0), b;
		char buf[64];
		int n = perf_range_format(&a, buf, sizeof(buf));
		ck_assert_int_eq(n, (int)strlen(buf));
		ck_assert_str_eq(buf, canon[i]);
		ck_assert_int_eq(perf_range_parse(buf, &b), 0);
		ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	}
	/* snprintf semantics on a short buffer */
	struct mamori_range r = rng("@10:20", 0);
	char small[4];
	ck_assert_int_eq(perf_range_format(&r, small, sizeof(small)), 6);
	ck_assert_str_eq(small, "@10");
	ck_assert_int_eq(perf_range_format(&r, NULL, 0), 6);
}
END_TEST

static int parse(const char *text, struct mamori_perfdata *items, char *buf, size_t bufsize,
                 size_t *bad)
{
	snprintf(buf, bufsize, "%s", text);
	return perf_parse(buf, items, NITEMS, bad);
}

START_TEST(perf_basic)
{
	struct mamori_perfdata it[NITEMS];
	char buf[512];
	size_t bad = 99;
	int n = parse("time=0.003s;1;2;0;10 'in use'=42% 'it''s'=5KB;;;; size=U c=17c", it, buf,
	              sizeof(buf), &bad);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq((int)bad, 0);
	ck_assert_str_eq(it[0].label, "time");
	ck_assert_str_eq(it[0].uom, "s");
	ck_assert(it[0].value == 0.003);
	ck_assert(it[0].warn.set && it[0].warn.end == 1 && it[0].crit.end == 2);
	ck_assert_uint_eq(it[0].flags, MAMORI_PERF_HAS_MIN | MAMORI_PERF_HAS_MAX);
	ck_assert(it[0].min == 0 && it[0].max == 10);
	ck_assert_str_eq(it[1].label, "in use");
	ck_assert_str_eq(it[1].uom, "%");
	ck_assert(it[1].value == 42 && !it[1].warn.set && it[1].flags == 0);
	ck_assert_str_eq(it[2].label, "it's");
	ck_assert_str_eq(it[2].uom, "KB");
	ck_assert_str_eq(it[3].label, "size");
	ck_assert(it[3].flags & MAMORI_PERF_VALUE_UNKNOWN);
	ck_assert(isnan(it[3].value));
	ck_assert_str_eq(it[3].uom, "");
	ck_assert_str_eq(it[4].uom, "c");
}
END_TEST

START_TEST(perf_uoms)
{
	static const char *uoms[] = { "",   "s",  "ms", "us",  "%",     "B",  "KB", "MB",
		                      "GB", "TB", "c",  "dBm", "req/s", "°C", "x/y" };
	size_t i;
	for (i = 0; i < sizeof(uoms) / sizeof(uoms[0]); i++) {
		struct mamori_perfdata it[NITEMS];
		char in[64], buf[64];
		size_t bad;
		snprintf(in, sizeof(in), "x=-1.5%s;~:0", uoms[i]);
		ck_assert_int_eq(parse(in, it, buf, sizeof(buf), &bad), 1);
		ck_assert_str_eq(it[0].uom, uoms[i]);
		ck_assert(it[0].value == -1.5 && it[0].warn.start_inf);
	}
}
END_TEST

/* Each string must yield exactly `good` items and `bad` rejects. */
static const struct {
	const char *text;
	int good;
	int bad;
} garbage[] = {
	{ "", 0, 0 },
	{ "    \t\n ", 0, 0 },
	{ "=1", 0, 1 },
	{ "''=1", 0, 1 },
	{ "a", 0, 1 },
	{ "a b c", 0, 3 },
	{ "a=", 0, 1 },
	{ "a=;1", 0, 1 },
	{ "a=1e400", 0, 1 },
	{ "a=-1e400", 0, 1 },
	{ "a=1e-400", 1, 0 },
	{ "a=99999999999999999999999", 1, 0 },
	{ "a=NaN", 0, 1 },
	{ "a=nan b=inf c=-Infinity d=0x10", 0, 4 },
	/* An unterminated quoted label swallows the rest of the text: inside
	 * quotes a blank is part of the label, not a separator (see
	 * perf_quoted_labels). */
	{ "'unterminated=1 b=2", 0, 1 },
	{ "'unterminated=1", 0, 1 },
	{ "'a''b c=1", 0, 1 },
	{ "x=1 'a''b c=1", 1, 1 },
	{ "'a b'=1 'c''d", 1, 1 },
	{ "'a b'c=1", 0, 1 },
	{ "'a' =1 x=1", 1, 2 },
	{ "a=1;;;;", 1, 0 },
	{ "a=1;;;;;", 1, 0 },
	{ "a=1;;;;;;;;", 1, 0 },
	{ "a=1;2;3;4;5;6", 0, 1 },
	{ "a=1;20:10", 0, 1 },
	{ "a=1;-5:-10", 0, 1 },
	{ "a=1;-10:-5;@~:", 1, 0 },
	{ "a=1;x", 0, 1 },
	{ "a=1;;;min", 0, 1 },
	{ "a=1.2.3", 0, 1 },
	{ "a=1s2 b=5x10", 0, 2 },
	{ "a=0,5", 0, 1 },
	{ "a=Ux", 0, 1 },
	{ "a==1", 0, 1 },
	{ "a=1=2", 0, 1 }, /* UOM "=2" has a digit */
	{ "a=1=x", 1, 0 }, /* UOM "=x": kept as text, like any unknown UOM */
	{ "'''", 0, 1 },
	{ "''''=1", 1, 0 },
	{ "'", 0, 1 },
	{ "a=1 | b=2", 2, 1 },
	{ ";;;", 0, 1 },
	{ "a=+.5 b=-.5e1 c=5. d=.", 3, 1 },
};

START_TEST(perf_garbage)
{
	size_t i;
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		struct mamori_perfdata it[NITEMS];
		char buf[256];
		size_t bad = 1234;
		int n = parse(garbage[i].text, it, buf, sizeof(buf), &bad);
		ck_assert_msg(n == garbage[i].good && (int)bad == garbage[i].bad,
		              "'%s': %d good %zu bad, expected %d/%d", garbage[i].text, n, bad,
		              garbage[i].good, garbage[i].bad);
	}
}
END_TEST

START_TEST(perf_limits)
{
	struct mamori_perfdata it[3];
	char buf[128] = "a=1 b=2 c=3 d=4 e=5";
	size_t bad;
	ck_assert_int_eq(perf_parse(buf, it, 3, &bad), 3);
	ck_assert_str_eq(it[2].label, "c");
	ck_assert_int_eq(perf_parse(buf, it, 0, NULL), 0);
	ck_assert_int_eq(perf_parse(NULL, it, 3, &bad), 0);
	ck_assert_int_eq((int)bad, 0);
}
END_TEST

/* Quoted labels (Monitoring Plugins guidelines: quotes are required when
 * the label has blanks, and '' inside them stands for one '). */
START_TEST(perf_quoted_labels)
{
	static const struct {
		const char *text;
		const char *labels[4]; /* of the good items, in order */
		double values[4];
		int bad;
	} cases[] = {
		{ "'a b'=1", { "a b" }, { 1 }, 0 },
		{ "'it''s'=2", { "it's" }, { 2 }, 0 },
		{ "''''=3", { "'" }, { 3 }, 0 },
		{ "'a''''b'=4", { "a''b" }, { 4 }, 0 },
		{ "'x=y'=5", { "x=y" }, { 5 }, 0 },
		{ "'a b'=1 'it''s'=2;3;4 c=5", { "a b", "it's", "c" }, { 1, 2, 5 }, 0 },
		{ "'it''s'=2 'a b'=1 'q'=7", { "it's", "a b", "q" }, { 2, 1, 7 }, 0 },
		{ "''=1 b=2", { "b" }, { 2 }, 1 },
		{ "'a'b'=1 c=3", { "c" }, { 3 }, 1 },
		{ "'a''b'c=1 d=4", { "d" }, { 4 }, 1 },
		/* The review's case.  The opening quote starts a quoted label; ''
		 * is an escaped quote, so the label is still open at "b c=1" and
		 * its blank is part of it.  No closing quote ever comes, so the
		 * whole rest is one malformed item: no item at all, and above
		 * all not c=1 (a piece of the label read as an item) or c=11 (the
		 * old in-place unescaping shifting "=1" over its own text). */
		{ "'a''b c=1", { NULL }, { 0 }, 1 },
		{ "'unterminated=1", { NULL }, { 0 }, 1 },
		{ "'unterminated=1 b=2 c=3", { NULL }, { 0 }, 1 },
		{ "ok=1 'a''b c=1", { "ok" }, { 1 }, 1 },
		/* a good item after a bad quoted one whose quote was closed */
		{ "'a b'x c=1", { "c" }, { 1 }, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mamori_perfdata it[NITEMS];
		char buf[256];
		size_t bad = 99;
		int n = parse(cases[i].text, it, buf, sizeof(buf), &bad);
		int want = 0;
		while (want < 4 && cases[i].labels[want])
			want++;
		ck_assert_msg(n == want && (int)bad == cases[i].bad,
		              "%s: %d good %zu bad (first: '%s' = %g)", cases[i].text, n, bad,
		              n ? it[0].label : "", n ? it[0].value : 0.0);
		for (int k = 0; k < n; k++) {
			ck_assert_msg(strcmp(it[k].label, cases[i].labels[k]) == 0,
			              "%s: item %d label '%s'", cases[i].text, k, it[k].label);
			ck_assert_msg(it[k].value == cases[i].values[k], "%s: item %d value %g",
			              cases[i].text, k, it[k].value);
		}
	}
	/* In plugin output the first line's perfdata ends with its line: an
	 * open quote there does not swallow the long output's items. */
	struct mamori_perfdata it[NITEMS];
	struct mamori_result res = { 0 };
	size_t bad;
	char text[] = "OK|'a''b c=1\nmore|'d e'=2 f=3";
	ck_assert_int_eq(perf_output_parse(text, &res, it, NITEMS, &bad), 2);
	ck_assert_int_eq((int)bad, 1);
	ck_assert_str_eq(it[0].label, "d e");
	ck_assert_str_eq(it[1].label, "f");
	ck_assert(it[0].value == 2 && it[1].value == 3);
}
END_TEST

/* Text is rewritten (unescaped, NUL-terminated) only for good items: a
 * malformed quoted label leaves its bytes as they were. */
START_TEST(perf_bad_item_untouched)
{
	static const char *const texts[] = {
		"'a''b c=1", "'it''s' =1", "'it''s'=x", "'a''b'c=1", "'''", "'x''''",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct mamori_perfdata it[NITEMS];
		char buf[64];
		size_t bad;
		ck_assert_int_eq(parse(texts[i], it, buf, sizeof(buf), &bad), 0);
		ck_assert_msg(strcmp(buf, texts[i]) == 0, "'%s' became '%s'", texts[i], buf);
	}
}
END_TEST

static void roundtrip_one(const char *text)
{
	struct mamori_perfdata a[NITEMS], b[NITEMS];
	char buf1[1024], out[2048], out2[2048];
	size_t bad;
	int n, m, i, len;

	n = parse(text, a, buf1, sizeof(buf1), &bad);
	ck_assert_msg(n > 0 && bad == 0, "'%s' did not parse cleanly", text);
	len = perf_format_all(a, (size_t)n, out, sizeof(out));
	ck_assert_int_eq(len, (int)strlen(out));
	memcpy(out2, out, (size_t)len + 1);
	m = perf_parse(out2, b, NITEMS, &bad);
	ck_assert_msg(m == n && bad == 0, "'%s' -> '%s' reparsed %d/%d", text, out, m, n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(a[i].label, b[i].label);
		ck_assert_str_eq(a[i].uom, b[i].uom);
		ck_assert_uint_eq(a[i].flags, b[i].flags);
		ck_assert((isnan(a[i].value) && isnan(b[i].value)) || a[i].value == b[i].value);
		ck_assert(memcmp(&a[i].warn, &b[i].warn, sizeof(a[i].warn)) == 0);
		ck_assert(memcmp(&a[i].crit, &b[i].crit, sizeof(a[i].crit)) == 0);
		ck_assert(!(a[i].flags & MAMORI_PERF_HAS_MIN) || a[i].min == b[i].min);
		ck_assert(!(a[i].flags & MAMORI_PERF_HAS_MAX) || a[i].max == b[i].max);
	}
}

START_TEST(perf_roundtrip)
{
	char out[256];
	roundtrip_one("time=0.1s;0.2;0.3;0;10.5 'in use'=42% 'it''s'=5KB;;;0 size=U;~:5;@1:2");
	roundtrip_one("'a=b'=1 'tab\there'=2 x=0.30000000000000004 y=1e-300 z=-123456789012345678");
	roundtrip_one("q=1;;;;100 r=2;;5 s=3;4");
	/* canonical form: trailing empty fields dropped, quotes only if needed */
	char buf[128] = "'plain'=1;;;; 'sp ace'=2%;10:;;0;";
	struct mamori_perfdata it[4];
	size_t bad;
	ck_assert_int_eq(perf_parse(buf, it, 4, &bad), 2);
	perf_format_all(it, 2, out, sizeof(out));
	ck_assert_str_eq(out, "plain=1 'sp ace'=2%;10:;;0");
	ck_assert_int_eq(perf_format(&it[1], out, 5), 18);
	ck_assert_str_eq(out, "'sp ");
}
END_TEST

START_TEST(output_split)
{
	struct mamori_perfdata it[NITEMS];
	struct mamori_result res = { 0 };
	size_t bad;
	char text[] = "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
	              "/ 15272 MB (77%);\n"
	              "/boot 68 MB (69%);\n"
	              "/home 69357 MB (27%);\n"
	              "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
	              "/home=69357MB;253404;253409;0;253414 \n"
	              "/var/log=818MB;970;975;0;980\n";
	int n = perf_output_parse(text, &res, it, NITEMS, &bad);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq((int)bad, 0);
	ck_assert_str_eq(res.output, "DISK OK - free space: / 3326 MB (56%);");
	ck_assert_str_eq(res.long_output, "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB "
	                                  "(27%);\n/var/log 819 MB (84%);");
	ck_assert_ptr_eq(res.perf, it);
	ck_assert_uint_eq(res.n_perf, 4);
	ck_assert_str_eq(it[0].label, "/");
	ck_assert_str_eq(it[3].label, "/var/log");
	ck_assert(it[3].max == 980);
}
END_TEST

START_TEST(output_simple)
{
	struct mamori_perfdata it[NITEMS];
	struct mamori_result res = { 0 };
	size_t bad;
	char t1[] = "OK fine";
	ck_assert_int_eq(perf_output_parse(t1, &res, it, NITEMS, &bad), 0);
	ck_assert_str_eq(res.output, "OK fine");
	ck_assert_ptr_null(res.long_output);
	ck_assert_ptr_null(res.perf);
	char t2[] = "";
	ck_assert_int_eq(perf_output_parse(t2, &res, it, NITEMS, &bad), 0);
	ck_assert_str_eq(res.output, "");
	char t3[] = "WARN x \r\n\n\n";
	ck_assert_int_eq(perf_output_parse(t3, &res, it, NITEMS, &bad), 0);
	ck_assert_str_eq(res.output, "WARN x");
	ck_assert_ptr_null(res.long_output);
	char t4[] = "A|x=1 junk|y=2\nlong|z=3 w";
	ck_assert_int_eq(perf_output_parse(t4, &res, it, NITEMS, &bad), 3);
	ck_assert_int_eq((int)bad, 1); /* "w"; "junk|y" is a (strange) label */
	ck_assert_str_eq(res.output, "A");
	ck_assert_str_eq(res.long_output, "long");
	ck_assert_str_eq(it[1].label, "junk|y");
	ck_assert_str_eq(it[2].label, "z");
	char t5[] = "|a=1\n|b=2";
	ck_assert_int_eq(perf_output_parse(t5, &res, it, 1, &bad), 1);
	ck_assert_str_eq(res.output, "");
	ck_assert_ptr_null(res.long_output);
	ck_assert_int_eq(perf_output_parse(NULL, &res, it, 1, &bad), MAMORI_E_INVAL);
}
END_TEST

START_TEST(output_huge)
{
	/* 1 MB of output: one giant line, then many perf items */
	size_t size = 1 << 20, i, bad;
	char *text = malloc(size + 1);
	struct mamori_perfdata it[NITEMS];
	struct mamori_result res = { 0 };
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', size);
	text[size] = '\0';
	ck_assert_int_eq(perf_output_parse(text, &res, it, NITEMS, &bad), 0);
	ck_assert_uint_eq(strlen(res.output), size);

	memset(text, '7', size); /* one 1 MB number as a perf value */
	memcpy(text, "OK|a=", 5);
	ck_assert_int_eq(perf_output_parse(text, &res, it, NITEMS, &bad), 0);
	ck_assert_int_eq((int)bad, 1);

	memset(text, '0', size); /* 0.000...0001: underflows to a tiny value */
	memcpy(text, "OK|a=0.", 7);
	text[size - 1] = '1';
	ck_assert_int_eq(perf_output_parse(text, &res, it, NITEMS, &bad), 1);
	ck_assert(it[0].value >= 0 && it[0].value < 1e-300);

	size_t pos = 0;
	pos += (size_t)snprintf(text, size, "OK|");
	for (i = 0; pos + 32 < size; i++)
		pos += (size_t)snprintf(text + pos, size - pos, "'l %zu'=%zu.5ms;1;2 ", i, i);
	ck_assert_int_eq(perf_output_parse(text, &res, it, NITEMS, &bad), NITEMS);
	ck_assert_str_eq(it[NITEMS - 1].label, "l 63");
	free(text);
}
END_TEST

/* xorshift: deterministic, no global state */
static unsigned rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(random_inputs)
{
	/* Random bytes biased toward the grammar's own characters so the
	 * parser goes deep; under ASan any overread or overflow aborts. */
	static const char alphabet[] = "0123456789.-+eE;:@~'=| \n\tUsKB%c";
	unsigned seed = 0x9e3779b9u;
	int round;
	for (round = 0; round < 20000; round++) {
		size_t len = rnd(&seed) % 200, i, bad;
		char *text = malloc(len + 1);
		char out[4096];
		struct mamori_perfdata it[8];
		struct mamori_result res = { 0 };
		struct mamori_range r;
		double d;
		ck_assert_ptr_nonnull(text);
		for (i = 0; i < len; i++) {
			unsigned x = rnd(&seed);
			text[i] = (x & 1) ? alphabet[(x >> 1) % (sizeof(alphabet) - 1)]
			                  : (char)((x >> 8) % 255 + 1);
		}
		text[len] = '\0';
		(void)perf_range_parse(text, &r);
		(void)perf_duration_parse(text, &d);
		int n = perf_output_parse(text, &res, it, 8, &bad);
		ck_assert(n >= 0 && n <= 8);
		for (i = 0; i < (size_t)n; i++) {
			ck_assert(it[i].label[0] != '\0');
			ck_assert(perf_format(&it[i], out, sizeof(out)) > 0);
		}
		free(text);
	}
}
END_TEST

START_TEST(durations)
{
	static const struct {
		const char *text;
		double secs;
	} ok[] = {
		{ "500ms", 0.5 }, { "30s", 30 },       { "15m", 900 }, { "4h", 14400 },
		{ "1d", 86400 },  { "1w", 604800 },    { "90", 90 },   { "1h30m", 5400 },
		{ "2.5s", 2.5 },  { "1m500ms", 60.5 }, { "0", 0 },     { "1d2h3m4s5ms", 93784.005 },
	};
	static const char *bad[] = { "",     "s",   "-5s",  "5x",    "1m30m", "30s1m",
		                     " 5s",  "5s ", "1e3s", "inf",   "nan",   "5 s",
		                     "1h30", "5S",  "..5s", "1e400", "+5s" };
	size_t i;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		double d = -1;
		ck_assert_msg(perf_duration_parse(ok[i].text, &d) == 0, "'%s' refused", ok[i].text);
		ck_assert_msg(fabs(d - ok[i].secs) < 1e-9, "'%s' = %g", ok[i].text, d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		double d = 42;
		ck_assert_msg(perf_duration_parse(bad[i], &d) == MAMORI_E_INVAL, "'%s' accepted",
		              bad[i]);
		ck_assert(d == 42);
	}
	ck_assert_int_eq(perf_duration_parse(NULL, &(double){ 0 }), MAMORI_E_INVAL);
}
END_TEST

static Suite *perf_suite(void)
{
	/* not static: START_TEST's pointers are not constant expressions */
	const struct {
		const char *name;
		const TTest *fn;
	} tests[] = {
		{ "range_forms", range_forms },
		{ "range_errors", range_errors },
		{ "range_alerting", range_alerting },
		{ "range_format", range_format_roundtrip },
		{ "perf_basic", perf_basic },
		{ "perf_uoms", perf_uoms },
		{ "perf_garbage", perf_garbage },
		{ "perf_limits", perf_limits },
		{ "perf_quoted_labels", perf_quoted_labels },
		{ "perf_bad_item_untouched", perf_bad_item_untouched },
		{ "perf_roundtrip", perf_roundtrip },
		{ "output_split", output_split },
		{ "output_simple", output_simple },
		{ "output_huge", output_huge },
		{ "random_inputs", random_inputs },
		{ "durations", durations },
	};
	Suite *s = suite_create("perf");
	size_t i;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, tests[i].fn);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(perf_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
