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

#define CODE(lit)          parse_code(lit, sizeof(lit) - 1, NULL)
#define CODE_LIM(lit, lim) parse_code(lit, sizeof(lit) - 1, lim)

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

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Key k of the hash-flooding attack on the old key hash, which covered
 * only the length and the first and last four bytes: all are 10 bytes,
 * "AAAA" + two bytes + "ZZZZ", so all collided.  Two bytes from 90
 * printable characters (no '"' or '\\') give 8,100 distinct keys. */
static size_t flood_key(char *out, unsigned k)
{
	static const char cs[] = "!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
	                         "abcdefghijklmnopqrstuvwxyz{|}";
	const unsigned n = sizeof(cs) - 1;
	ck_assert_uint_lt(k, n * n);
	return (size_t)sprintf(out, "AAAA%c%cZZZZ", cs[k / n], cs[k % n]);
}

/* Append one object of `members` flood keys ("key":0) at buf + len. */
static size_t flood_object(char *buf, size_t len, unsigned members)
{
	buf[len++] = '{';
	for (unsigned k = 0; k < members; k++) {
		if (k)
			buf[len++] = ',';
		buf[len++] = '"';
		len += flood_key(buf + len, k);
		len += (size_t)sprintf(buf + len, "\":0");
	}
	buf[len++] = '}';
	return len;
}

/* Time jsonw_parse and the key check alone (best of a few runs) and
 * return the check's probe count. */
static size_t flood_measure(const char *what, const char *buf, size_t len, enum jsonw_err want)
{
	double parse_ms = 1e9, check_ms = 1e9;
	size_t probes = 0;
	cJSON *tree = cJSON_ParseWithLength(buf, len);
	ck_assert_ptr_nonnull(tree);
	for (int round = 0; round < 3; round++) {
		double t0 = now_ms();
		ck_assert_int_eq(parse_code(buf, len, NULL), want);
		double t1 = now_ms();
		ck_assert_int_eq(jsonw_check_keys(tree, NULL, &probes), want);
		double t2 = now_ms();
		parse_ms = t1 - t0 < parse_ms ? t1 - t0 : parse_ms;
		check_ms = t2 - t1 < check_ms ? t2 - t1 : check_ms;
	}
	cJSON_Delete(tree);
	printf("jsonw: %s (%zu bytes): %s, jsonw_parse %.3f ms, key check %.3f ms, %zu probes\n",
	       what, len, jsonw_errname(want), parse_ms, check_ms, probes);
	return probes;
}

/* The review's attack: one 64 KiB object of keys that all collided under
 * the old hash (~4,300 of them) kept the event loop for ~27 ms.  Now it is
 * refused by the member limit before any key is hashed. */
START_TEST(test_hash_flood_one_object)
{
	char *buf = malloc(JSONW_DEFAULT_MAX_SIZE + 64);
	unsigned members = 0;
	size_t len;
	/* as many members as fit: 15 bytes each ("AAAA..ZZZZ":0,) */
	while (2 + (members + 1) * 15 <= JSONW_DEFAULT_MAX_SIZE)
		members++;
	len = flood_object(buf, 0, members);
	ck_assert_uint_le(len, JSONW_DEFAULT_MAX_SIZE);
	ck_assert_uint_gt(members, 4000);
	size_t probes = flood_measure("one object of flood keys", buf, len, JSONW_E_MEMBERS);
	ck_assert_uint_eq(probes, 0);
	free(buf);
}
END_TEST

/* The worst the member limit still lets through: as many objects of
 * JSONW_DEFAULT_MAX_MEMBERS flood keys as fit in 64 KiB.  Under the old
 * hash every key of an object probed past all earlier ones (n^2/2, ~2.1
 * million probes for four objects, ~12 ms); with the keyed hash the keys
 * spread over a half-empty table, ~1.5 probes each.  The bound (4 per key)
 * is a count, not a time, so a slow or busy machine cannot fail it; a
 * random key exceeding it is vanishingly unlikely (expected total ~1.5n,
 * and linear probing at load 1/2 does not stray that far from it). */
START_TEST(test_hash_flood_at_member_limit)
{
	char *buf = malloc(JSONW_DEFAULT_MAX_SIZE + 64);
	unsigned objects = 0, members = JSONW_DEFAULT_MAX_MEMBERS;
	size_t len = 0;
	buf[len++] = '[';
	while (len + 2 + members * 15 + 1 <= JSONW_DEFAULT_MAX_SIZE) {
		if (objects++)
			buf[len++] = ',';
		len = flood_object(buf, len, members);
	}
	buf[len++] = ']';
	ck_assert_uint_le(len, JSONW_DEFAULT_MAX_SIZE);
	ck_assert_uint_ge(objects, 4);
	size_t probes = flood_measure("objects at the member limit", buf, len, JSONW_OK);
	ck_assert_uint_le(probes, 4 * (size_t)objects * members);

	/* the same keys with a duplicate at the end are still caught */
	len = flood_object(buf, 0, members - 1);
	len--; /* reopen the object */
	len += (size_t)sprintf(buf + len, ",\"");
	len += flood_key(buf + len, 517);
	len += (size_t)sprintf(buf + len, "\":1}");
	ck_assert_int_eq(parse_code(buf, len, NULL), JSONW_E_DUPKEY);
	free(buf);
}
END_TEST

/* Published vectors (key 00 01 .. 0f, message 00 01 .. n-1): SipHash-2-4
 * from the paper's reference code, SipHash-1-3 as other implementations
 * publish them. */
START_TEST(test_siphash_vectors)
{
	static const struct {
		int c, d;
		size_t n;
		uint64_t want;
	} v[] = {
		{ 2, 4, 0, 0x726fdb47dd0e0e31ull },  { 2, 4, 1, 0x74f839c593dc67fdull },
		{ 2, 4, 7, 0xab0200f58b01d137ull },  { 2, 4, 8, 0x93f5f5799a932462ull },
		{ 2, 4, 15, 0xa129ca6149be45e5ull }, { 2, 4, 63, 0x958a324ceb064572ull },
		{ 1, 3, 0, 0xabac0158050fc4dcull },  { 1, 3, 1, 0xc9f49bf37d57ca93ull },
		{ 1, 3, 7, 0xd3927d989bb11140ull },  { 1, 3, 8, 0x369095118d299a8eull },
		{ 1, 3, 9, 0x25a48eb36c063de4ull },  { 1, 3, 15, 0xd320d86d2a519956ull },
	};
	unsigned char key[16], msg[64];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t h = jsonw_siphash(key, msg, v[i].n, v[i].c, v[i].d);
		ck_assert_msg(h == v[i].want, "SipHash-%d-%d of %zu bytes: %016llx", v[i].c, v[i].d,
		              v[i].n, (unsigned long long)h);
	}
}
END_TEST

/* The member limit: exact at the default and at a caller's own, in any
 * object of the tree; the error has a name and a text like the others. */
START_TEST(test_member_limit)
{
	char *buf = malloc(JSONW_DEFAULT_MAX_SIZE);
	size_t len;
	for (unsigned m = JSONW_DEFAULT_MAX_MEMBERS - 1; m <= JSONW_DEFAULT_MAX_MEMBERS + 1; m++) {
		len = (size_t)sprintf(buf, "[1,{\"a\":");
		len = flood_object(buf, len, m);
		len += (size_t)sprintf(buf + len, "}]");
		ck_assert_int_eq(parse_code(buf, len, NULL),
		                 m <= JSONW_DEFAULT_MAX_MEMBERS ? JSONW_OK : JSONW_E_MEMBERS);
	}
	struct jsonw_limits lim = { .max_members = 3 };
	ck_assert_int_eq(CODE_LIM("{\"a\":1,\"b\":2,\"c\":{}}", &lim), JSONW_OK);
	ck_assert_int_eq(CODE_LIM("{\"a\":1,\"b\":2,\"c\":{},\"d\":4}", &lim), JSONW_E_MEMBERS);
	ck_assert_int_eq(CODE_LIM("[[{\"a\":{\"w\":1,\"x\":2,\"y\":3,\"z\":4}}]]", &lim),
	                 JSONW_E_MEMBERS);
	/* arrays are not objects: 5,000 elements are fine */
	len = (size_t)sprintf(buf, "[0");
	for (int i = 1; i < 5000; i++)
		len += (size_t)sprintf(buf + len, ",%d", i % 10);
	len += (size_t)sprintf(buf + len, "]");
	ck_assert_int_eq(parse_code(buf, len, NULL), JSONW_OK);
	/* a limit larger than the default is honoured */
	lim.max_members = 5000;
	len = flood_object(buf, 0, 2000);
	ck_assert_int_eq(parse_code(buf, len, &lim), JSONW_OK);
	ck_assert_int_eq(parse_code(buf, len, NULL), JSONW_E_MEMBERS);
	ck_assert_str_eq(jsonw_errname(JSONW_E_MEMBERS), "members");
	ck_assert_str_eq(jsonw_strerror(JSONW_E_MEMBERS), "too many members in an object");
	free(buf);
}
END_TEST

/* Odd keys: NUL escapes, escapes that decode to the same key, very long
 * keys alike but in one byte, and many small objects. */
START_TEST(test_key_garbage)
{
	/* \u0000 never reaches the key check (C strings cannot hold it) */
	ck_assert_int_eq(CODE("{\"a\\u0000\":1,\"a\\u0000b\":2}"), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("{\"\\u0000\":1}"), JSONW_E_CONTROL);
	ck_assert_int_eq(CODE("{\"x\":{\"\\u0000\\u0000\":1,\"\\u0000\\u0000\":2}}"),
	                 JSONW_E_CONTROL);
	/* an escaped backslash then "u0000" is the 6-byte text \u0000 */
	ck_assert_int_eq(CODE("{\"\\\\u0000\":1,\"\\u005cu0000\":2}"), JSONW_E_DUPKEY);
	ck_assert_int_eq(CODE("{\"\\\\u0000\":1,\"\\\\u0001\":2}"), JSONW_OK);
	ck_assert_int_eq(CODE("{\"\\u00e9\":1,\"\xc3\xa9\":2}"), JSONW_E_DUPKEY); /* é twice */
	ck_assert_int_eq(CODE("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"), JSONW_E_DUPKEY);
	ck_assert_int_eq(CODE("{\"\\/\":1,\"/\":2}"), JSONW_E_DUPKEY);

	/* two 30,000-byte keys, equal but for one byte in the middle */
	size_t klen = 30000, len;
	char *buf = malloc(JSONW_DEFAULT_MAX_SIZE + 64);
	for (int same = 0; same <= 1; same++) {
		len = 0;
		buf[len++] = '{';
		for (int k = 0; k < 2; k++) {
			if (k)
				buf[len++] = ',';
			buf[len++] = '"';
			memset(buf + len, 'k', klen);
			buf[len + klen / 2] = same || !k ? 'k' : 'K';
			len += klen;
			len += (size_t)sprintf(buf + len, "\":%d", k);
		}
		buf[len++] = '}';
		ck_assert_int_eq(parse_code(buf, len, NULL), same ? JSONW_E_DUPKEY : JSONW_OK);
	}
	/* keys of every length 0..300 (every tail length of the hash) */
	len = (size_t)sprintf(buf, "{");
	for (int k = 0; k <= 300; k++) {
		len += (size_t)sprintf(buf + len, "%s\"", k ? "," : "");
		memset(buf + len, 'z', (size_t)k);
		len += (size_t)k;
		len += (size_t)sprintf(buf + len, "\":0");
	}
	len += (size_t)sprintf(buf + len, "}");
	ck_assert_uint_le(len, JSONW_DEFAULT_MAX_SIZE);
	ck_assert_int_eq(parse_code(buf, len, NULL), JSONW_OK);

	/* 64 KiB of small objects: linear work */
	for (int shape = 0; shape < 3; shape++) {
		static const char *const item[] = { "{}", "{\"a\":1}",
			                            "{\"a\":1,\"b\":{\"c\":2,\"d\":3}}" };
		static const size_t item_keys[] = { 0, 1, 4 };
		size_t keys = 0, probes = 0;
		len = (size_t)sprintf(buf, "[");
		while (len + strlen(item[shape]) + 2 <= JSONW_DEFAULT_MAX_SIZE) {
			len += (size_t)sprintf(buf + len, "%s%s", len > 1 ? "," : "", item[shape]);
			keys += item_keys[shape];
		}
		len += (size_t)sprintf(buf + len, "]");
		ck_assert_int_eq(parse_code(buf, len, NULL), JSONW_OK);
		cJSON *t = cJSON_ParseWithLength(buf, len);
		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(jsonw_check_keys(t, NULL, &probes), JSONW_OK);
		ck_assert_uint_le(probes, 4 * keys);
		cJSON_Delete(t);
	}
	free(buf);
}
END_TEST

/* Random objects (random sizes up to past the limit, keys from a small
 * alphabet so some repeat, some written with escapes): jsonw's verdict
 * must match a plain pairwise comparison of the keys cJSON decoded. */
START_TEST(test_dup_oracle)
{
	uint64_t seed = 0xD1B54A32D192ED03ull;
	char *buf = malloc(JSONW_DEFAULT_MAX_SIZE * 2);
	unsigned dups = 0, members = 0;
	for (int it = 0; it < 400; it++) {
		unsigned n = (unsigned)(rng_next(&seed) % 8 == 0
		                            ? JSONW_DEFAULT_MAX_MEMBERS - 2 + rng_next(&seed) % 4
		                            : rng_next(&seed) % 40);
		unsigned klen = 1 + (unsigned)(rng_next(&seed) % (n > 100 ? 12 : 3));
		size_t len = 0;
		buf[len++] = '{';
		for (unsigned k = 0; k < n; k++) {
			if (k)
				buf[len++] = ',';
			buf[len++] = '"';
			for (unsigned b = 0; b < klen; b++) {
				char c = "ab\xc3\xa9"[rng_next(&seed) % 3];
				if (c == 'a' && rng_next(&seed) % 4 == 0)
					len +=
					    (size_t)sprintf(buf + len, "\\u0061"); /* 'a' escaped */
				else if (c == '\xc3')
					len += (size_t)sprintf(buf + len, "\xc3\xa9");
				else
					buf[len++] = c;
			}
			len += (size_t)sprintf(buf + len, "\":%u", k);
		}
		buf[len++] = '}';
		if (len > JSONW_DEFAULT_MAX_SIZE)
			continue;
		cJSON *t = cJSON_ParseWithLength(buf, len);
		ck_assert_ptr_nonnull(t);
		enum jsonw_err want = JSONW_OK;
		if (n > JSONW_DEFAULT_MAX_MEMBERS)
			want = JSONW_E_MEMBERS;
		for (cJSON *a = t->child; a && want == JSONW_OK; a = a->next)
			for (cJSON *b = a->next; b && want == JSONW_OK; b = b->next)
				if (!strcmp(a->string, b->string))
					want = JSONW_E_DUPKEY;
		dups += want == JSONW_E_DUPKEY;
		members += want == JSONW_E_MEMBERS;
		ck_assert_int_eq(parse_code(buf, len, NULL), want);
		cJSON_Delete(t);
	}
	/* the generator produced both outcomes */
	ck_assert_uint_gt(dups, 20);
	ck_assert_uint_gt(members, 5);
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
	tcase_add_test(tc, test_hash_flood_one_object);
	tcase_add_test(tc, test_hash_flood_at_member_limit);
	tcase_add_test(tc, test_siphash_vectors);
	tcase_add_test(tc, test_member_limit);
	tcase_add_test(tc, test_key_garbage);
	tcase_add_test(tc, test_dup_oracle);
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
