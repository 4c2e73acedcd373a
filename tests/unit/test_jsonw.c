/*
 * Unit tests for src/util/jsonw: every Defender test vector (good and bad),
 * UTF-8 edge cases, depth and duplicate keys, and seeded random input
 * (pure garbage and mutations of a real report) that must never crash.
 * Fixtures are read from tests/fixtures/defender (run from the repo top,
 * or set MAMORI_FIXTURES).  Prints the parse rate of healthy.json.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/jsonw.h"

static char *load(const char *rel, size_t *len)
{
	const char *dir = getenv("MAMORI_FIXTURES");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures/defender", rel);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char *buf = malloc(1024 * 1024);
	*len = fread(buf, 1, 1024 * 1024, f);
	fclose(f);
	return buf;
}

static enum jsonw_err parse_code(const char *s, size_t len, const struct jsonw_limits *lim)
{
	struct jsonw_error e;
	cJSON *r = jsonw_parse(s, len, lim, &e);
	cJSON_Delete(r);
	return r ? JSONW_OK : e.code;
}

#define CODE(lit) parse_code(lit, sizeof(lit) - 1, NULL)

static const char *const good_files[] = {
	"healthy.json",
	"never-scanned.json",
	"passive-third-party-av.json",
	"powershell51-dates.json",
	"realtime-off.json",
	"reboot-pending.json",
	"service-stopped.json",
	"stale-signatures.json",
	"tamper-off.json",
};

START_TEST(test_good_vectors)
{
	size_t len;
	char *buf = load(good_files[_i], &len);
	struct jsonw_error e;
	cJSON *r = jsonw_parse(buf, len, NULL, &e);
	ck_assert_msg(r != NULL, "%s: %s", good_files[_i], jsonw_strerror(e.code));
	ck_assert(cJSON_IsObject(r));
	const char *schema = NULL;
	ck_assert_int_eq(jsonw_get_string(r, "schema", &schema), 1);
	ck_assert_str_eq(schema, "mamori.defender/1");
	cJSON_Delete(r);
	free(buf);
}
END_TEST

static const struct {
	const char *file;
	enum jsonw_err code; /* JSONW_OK: valid JSON, refused later by its consumer */
} bad_files[] = {
	{ "bad/deep-nesting.json", JSONW_E_SIZE }, { "bad/empty.json", JSONW_E_EMPTY },
	{ "bad/invalid-utf8.json", JSONW_E_UTF8 }, { "bad/not-an-object.json", JSONW_OK },
	{ "bad/out-of-range.json", JSONW_OK },     { "bad/oversized.json", JSONW_E_SIZE },
	{ "bad/truncated.json", JSONW_E_SYNTAX },  { "bad/unknown-schema.json", JSONW_OK },
	{ "bad/wrong-types.json", JSONW_OK },
};

START_TEST(test_bad_vectors)
{
	size_t len;
	char *buf = load(bad_files[_i].file, &len);
	ck_assert_int_eq(parse_code(buf, len, NULL), bad_files[_i].code);
	free(buf);
}
END_TEST

/* 100,000 levels with the size limit lifted: refused by depth, no stack
 * blow-up (the pre-scan is a loop). */
START_TEST(test_deep_nesting_depth)
{
	size_t len;
	char *buf = load("bad/deep-nesting.json", &len);
	struct jsonw_limits lim = { .max_size = 1024 * 1024 };
	size_t off = 0;
	ck_assert_int_eq(jsonw_prescan(buf, len, &lim, &off), JSONW_E_DEPTH);
	ck_assert_uint_eq(off, 32);
	ck_assert_int_eq(parse_code(buf, len, &lim), JSONW_E_DEPTH);
	free(buf);
}
END_TEST

START_TEST(test_depth_limit_exact)
{
	char buf[200];
	struct jsonw_limits lim = { .max_depth = 32 };
	for (int d = 31; d <= 33; d++) {
		memset(buf, '[', (size_t)d);
		memset(buf + d, ']', (size_t)d);
		ck_assert_int_eq(parse_code(buf, 2 * (size_t)d, &lim),
		                 d <= 32 ? JSONW_OK : JSONW_E_DEPTH);
	}
	/* brackets inside strings do not count */
	ck_assert_int_eq(CODE("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}"),
	                 JSONW_OK);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert_int_eq(CODE("\"\xe6\x97\xa5\xe6\x9c\xac\""), JSONW_OK); /* 日本 */
	ck_assert_int_eq(CODE("\"\xf0\x9f\x98\x80\""), JSONW_OK);         /* U+1F600 */
	ck_assert_int_eq(CODE("\"\xc2\x80\""), JSONW_OK);                 /* U+0080 */
	ck_assert_int_eq(CODE("\"\xf4\x8f\xbf\xbf\""), JSONW_OK);         /* U+10FFFF */
	ck_assert_int_eq(CODE("\"\xc0\x80\""), JSONW_E_UTF8);             /* overlong NUL */
	ck_assert_int_eq(CODE("\"\xc1\xbf\""), JSONW_E_UTF8);             /* overlong */
	ck_assert_int_eq(CODE("\"\xe0\x80\xaf\""), JSONW_E_UTF8);         /* overlong '/' */
	ck_assert_int_eq(CODE("\"\xf0\x80\x80\xaf\""), JSONW_E_UTF8);     /* overlong */
	ck_assert_int_eq(CODE("\"\xed\xa0\x80\""), JSONW_E_UTF8);         /* surrogate */
	ck_assert_int_eq(CODE("\"\xf4\x90\x80\x80\""), JSONW_E_UTF8);     /* > U+10FFFF */
	ck_assert_int_eq(CODE("\"\xf5\x80\x80\x80\""), JSONW_E_UTF8);
	ck_assert_int_eq(CODE("\"\xff\""), JSONW_E_UTF8);
	ck_assert_int_eq(CODE("\"\x80\""), JSONW_E_UTF8);     /* lone continuation */
	ck_assert_int_eq(CODE("\"\xe6\x97\""), JSONW_E_UTF8); /* truncated sequence */
	ck_assert_int_eq(CODE("\"\xe6\x97"), JSONW_E_UTF8);   /* truncated at end */
	ck_assert_int_eq(CODE("[1,\xe6]"), JSONW_E_UTF8);     /* outside strings too */
}
END_TEST

START_TEST(test_control_and_nul)
{
	ck_assert_int_eq(CODE("\"a\tb\""), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("\"a\nb\""), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("\"a\\u0000b\""), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("{\"a\":1}\0"), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("\"a\\u0001b\\n\\t\\\"\\\\\""), JSONW_OK);
	ck_assert_int_eq(CODE("{\"a\":\"x\",\"a\\u0000\":\"y\"}"), JSONW_E_CONTROL);
}
END_TEST

START_TEST(test_syntax_and_trailing)
{
	ck_assert_int_eq(CODE(""), JSONW_E_EMPTY);
	ck_assert_int_eq(CODE("  \n\t "), JSONW_E_EMPTY);
	ck_assert_int_eq(CODE("{} "), JSONW_OK);
	ck_assert_int_eq(CODE(" {}\n"), JSONW_OK);
	ck_assert_int_eq(CODE("{} x"), JSONW_E_TRAILING);
	ck_assert_int_eq(CODE("{}{}"), JSONW_E_TRAILING);
	ck_assert_int_eq(CODE("{"), JSONW_E_SYNTAX);
	ck_assert_int_eq(CODE("]"), JSONW_E_SYNTAX);
	ck_assert_int_eq(CODE("{'a':1}"), JSONW_E_SYNTAX);
	ck_assert_int_eq(CODE("[1,]"), JSONW_E_SYNTAX);
	ck_assert_int_eq(CODE("\"\\x\""), JSONW_E_SYNTAX);
	ck_assert_int_eq(CODE("\"\\ud800\""), JSONW_E_SYNTAX); /* lone surrogate escape */
	ck_assert_int_eq(parse_code(NULL, 0, NULL), JSONW_E_EMPTY);
	struct jsonw_limits lim = { .max_size = 4 };
	ck_assert_int_eq(parse_code("[1,2]", 5, &lim), JSONW_E_SIZE);
	ck_assert_int_eq(parse_code("[12]", 4, &lim), JSONW_OK);
}
END_TEST

START_TEST(test_duplicate_keys)
{
	ck_assert_int_eq(CODE("{\"a\":1,\"a\":2}"), JSONW_E_DUPKEY);
	ck_assert_int_eq(CODE("{\"a\":1,\"A\":2}"), JSONW_OK);
	ck_assert_int_eq(CODE("{\"x\":{\"b\":[{\"c\":1,\"c\":1}]}}"), JSONW_E_DUPKEY);
	ck_assert_int_eq(CODE("[{\"a\":1},{\"a\":1}]"), JSONW_OK);
	ck_assert_int_eq(CODE("{\"\":1,\"\":2}"), JSONW_E_DUPKEY);
	ck_assert_int_eq(CODE("{\"ab\\u0063\":1,\"abc\":2}"), JSONW_E_DUPKEY); /* escapes decoded */

	/* a wide object (heap table) and a wide array of objects (stack growth) */
	char *buf = malloc(100000);
	size_t n = 0;
	n += (size_t)sprintf(buf + n, "{");
	for (int i = 0; i < 500; i++)
		n += (size_t)sprintf(buf + n, "%s\"key%04d\":%d", i ? "," : "", i, i);
	ck_assert_int_eq(parse_code(buf, n + (size_t)sprintf(buf + n, "}"), NULL), JSONW_OK);
	n += (size_t)sprintf(buf + n, ",\"key0123\":0}");
	ck_assert_int_eq(parse_code(buf, n, NULL), JSONW_E_DUPKEY);
	n = (size_t)sprintf(buf, "[");
	for (int i = 0; i < 2000; i++)
		n += (size_t)sprintf(buf + n, "%s{\"a\":[{\"b\":1}]}", i ? "," : "");
	n += (size_t)sprintf(buf + n, ",{\"z\":1,\"z\":1}]");
	ck_assert_int_eq(parse_code(buf, n, NULL), JSONW_E_DUPKEY);
	free(buf);
}
END_TEST

/* Step 4 alone, on trees cJSON built, and its probe count. */
START_TEST(test_check_keys)
{
	size_t probes = 99;
	ck_assert_int_eq(jsonw_check_keys(NULL, NULL, &probes), JSONW_OK);
	ck_assert_uint_eq(probes, 0);
	cJSON *r = cJSON_Parse("{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":[{\"f\":4,\"g\":5}]}");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(jsonw_check_keys(r, NULL, &probes), JSONW_OK);
	/* every key of a 2+-member object is placed: at least one slot each */
	ck_assert_uint_ge(probes, 7);
	ck_assert_int_eq(jsonw_check_keys(r, NULL, NULL), JSONW_OK);
	cJSON_Delete(r);
	r = cJSON_Parse("[{\"x\":[{\"a\":1,\"b\":2,\"a\":3}]}]"); /* cJSON keeps duplicates */
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(jsonw_check_keys(r, NULL, &probes), JSONW_E_DUPKEY);
	cJSON_Delete(r);
}
END_TEST

START_TEST(test_getters)
{
	const char *s = "{\"b\":true,\"n\":null,\"s\":\"x\",\"i\":4294967295,\"neg\":-1,"
	                "\"f\":1.5,\"big\":1e309,\"str\":\"9\"}";
	cJSON *r = jsonw_parse(s, strlen(s), NULL, NULL);
	ck_assert_ptr_nonnull(r);
	int b = 0;
	const char *str = NULL;
	double d = 0;
	ck_assert_int_eq(jsonw_get_bool(r, "b", &b), 1);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(jsonw_get_bool(r, "n", &b), -1);
	ck_assert_int_eq(jsonw_get_bool(r, "missing", &b), 0);
	ck_assert_int_eq(jsonw_get_bool(r, "B", &b), 0); /* case-sensitive */
	ck_assert_int_eq(jsonw_get_string(r, "s", &str), 1);
	ck_assert_str_eq(str, "x");
	ck_assert_int_eq(jsonw_get_string(r, "i", &str), -1);
	ck_assert_int_eq(jsonw_get_uint(r, "i", 4294967295.0, &d), 1);
	ck_assert(d == 4294967295.0);
	ck_assert_int_eq(jsonw_get_uint(r, "i", 100, &d), -1);
	ck_assert_int_eq(jsonw_get_uint(r, "neg", 100, &d), -1);
	ck_assert_int_eq(jsonw_get_uint(r, "f", 100, &d), -1);
	ck_assert_int_eq(jsonw_get_uint(r, "big", 1e300, &d), -1);
	ck_assert_int_eq(jsonw_get_uint(r, "str", 100, &d), -1);
	cJSON_Delete(r);
	ck_assert_str_eq(jsonw_strerror(JSONW_E_DUPKEY), "duplicate key");
	ck_assert_str_eq(jsonw_errname(JSONW_E_DEPTH), "depth");
	ck_assert_str_eq(jsonw_strerror((enum jsonw_err)99), "unknown error");
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Garbage and mutated reports: any verdict is fine, crashing or accepting
 * something that does not re-parse is not. */
START_TEST(test_fuzz)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	size_t hlen;
	char *healthy = load("healthy.json", &hlen);
	char *buf = malloc(hlen + 64);
	static const char alphabet[] = "{}[]\",:\\u0123456789truefalsn .-+eE\xc3\xa9\xff\x80";
	unsigned accepted = 0;
	for (int it = 0; it < 20000; it++) {
		size_t len;
		if (it % 2) {
			memcpy(buf, healthy, hlen);
			len = hlen;
			int flips = 1 + (int)(rng_next(&seed) % 4);
			for (int k = 0; k < flips; k++)
				buf[rng_next(&seed) % len] = (char)rng_next(&seed);
			if (rng_next(&seed) % 4 == 0)
				len = rng_next(&seed) % len;
		} else {
			len = rng_next(&seed) % 64;
			for (size_t k = 0; k < len; k++)
				buf[k] = rng_next(&seed) % 2
				             ? alphabet[rng_next(&seed) % (sizeof(alphabet) - 1)]
				             : (char)rng_next(&seed);
		}
		struct jsonw_error e;
		cJSON *r = jsonw_parse(buf, len, NULL, &e);
		if (!r) {
			ck_assert(e.code > JSONW_OK && e.code < JSONW_E__COUNT);
			ck_assert(e.offset <= len);
			continue;
		}
		accepted++;
		char *again = cJSON_PrintUnformatted(r);
		ck_assert_ptr_nonnull(again);
		cJSON *r2 = jsonw_parse(again, strlen(again), NULL, &e);
		ck_assert_msg(r2 != NULL, "accepted input does not round-trip: %s",
		              jsonw_strerror(e.code));
		cJSON_Delete(r2);
		free(again);
		cJSON_Delete(r);
	}
	ck_assert_uint_gt(accepted, 0);
	free(buf);
	free(healthy);
}
END_TEST

static double best_rate(const char *buf, size_t len, int strict)
{
	double best = 0;
	for (int round = 0; round < 3; round++) {
		int n = 30000;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++) {
			cJSON *r = strict ? jsonw_parse(buf, len, NULL, NULL)
			                  : cJSON_ParseWithLength(buf, len);
			ck_assert_ptr_nonnull(r);
			cJSON_Delete(r);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (n / s > best)
			best = n / s;
	}
	return best;
}

/* Not a pass/fail figure (machines differ): printed for the report. */
START_TEST(test_rate)
{
	size_t len;
	char *buf = load("healthy.json", &len);
	double c = best_rate(buf, len, 0), w = best_rate(buf, len, 1);
	printf("jsonw: healthy.json %.0f parses/s, cJSON alone %.0f/s (ratio %.2f)\n", w, c, w / c);
	free(buf);
}
END_TEST

static Suite *jsonw_suite(void)
{
	Suite *s = suite_create("jsonw");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_good_vectors, 0,
	                    (int)(sizeof(good_files) / sizeof(good_files[0])));
	tcase_add_loop_test(tc, test_bad_vectors, 0,
	                    (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	tcase_add_test(tc, test_deep_nesting_depth);
	tcase_add_test(tc, test_depth_limit_exact);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_control_and_nul);
	tcase_add_test(tc, test_syntax_and_trailing);
	tcase_add_test(tc, test_duplicate_keys);
	tcase_add_test(tc, test_check_keys);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_rate);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jsonw_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
