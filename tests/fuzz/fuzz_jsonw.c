/*
 * fuzz_jsonw: the strict JSON gate (src/util/jsonw.c), through which
 * every JSON input from outside passes.  The first byte picks limits (the
 * defaults, or small ones so the size, depth and member limits are hit
 * often); the rest is the document.  Promises checked on what is
 * accepted, by brute force independent of jsonw: no object has two equal
 * keys or more than max_members members, nothing is nested deeper than
 * max_depth, every string is valid UTF-8 without NUL; the pre-scan alone
 * accepts it too; the typed getters agree with the member's cJSON type.
 * On refusal: an error code in range with an offset inside the input.
 */
#include "tests/fuzz/fuzz.h"
#include "util/jsonw.h"

#include <math.h>

static int utf8_ok(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s;
		size_t n;
		unsigned min;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 2, min = 0x80, c &= 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 3, min = 0x800, c &= 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 4, min = 0x10000, c &= 0x07;
		} else {
			return 0;
		}
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return 0;
			c = (c << 6) | (s[i] & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return 0;
		s += n;
	}
	return 1;
}

/* Depth as jsonw counts it: the root container is level 1. */
static void walk(const cJSON *n, int depth, const struct jsonw_limits *lim)
{
	if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
		FUZZ_CHECK(depth + 1 <= lim->max_depth, "depth %d accepted", depth + 1);
		size_t members = 0;
		for (const cJSON *a = n->child; a; a = a->next) {
			members++;
			if (cJSON_IsObject(n)) {
				FUZZ_CHECK(a->string && utf8_ok((const unsigned char *)a->string),
				           "bad key accepted");
				for (const cJSON *b = a->next; b; b = b->next)
					FUZZ_CHECK(strcmp(a->string, b->string) != 0,
					           "duplicate key '%s' accepted", a->string);
			}
			walk(a, depth + 1, lim);
		}
		if (cJSON_IsObject(n))
			FUZZ_CHECK(members <= lim->max_members, "%zu members accepted", members);
	} else if (cJSON_IsString(n)) {
		FUZZ_CHECK(utf8_ok((const unsigned char *)n->valuestring), "bad string accepted");
	} else if (cJSON_IsNumber(n)) {
		FUZZ_CHECK(!isnan(n->valuedouble), "NaN accepted");
	}
}

static void getters(const cJSON *obj)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		int b;
		const char *s;
		double d;
		int rb = jsonw_get_bool(obj, m->string, &b);
		int rs = jsonw_get_string(obj, m->string, &s);
		int ru = jsonw_get_uint(obj, m->string, 4294967295.0, &d);
		FUZZ_CHECK(rb == (cJSON_IsBool(m) ? 1 : -1), "get_bool %d", rb);
		FUZZ_CHECK(rs == (cJSON_IsString(m) ? 1 : -1), "get_string %d", rs);
		FUZZ_CHECK(ru == -1 ||
		               (cJSON_IsNumber(m) && d >= 0 && d <= 4294967295.0 && d == floor(d)),
		           "get_uint %d %g", ru, d);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel = fuzz_take_byte(&data, &size);
	struct jsonw_limits lim = { 0, 0, 0 };
	if (sel & 1) {
		lim.max_size = 64 + (sel >> 1) * 16;
		lim.max_depth = 1 + (sel >> 4);
		lim.max_members = 1 + (sel >> 3);
	}
	struct jsonw_limits eff = lim;
	if (!eff.max_size)
		eff.max_size = JSONW_DEFAULT_MAX_SIZE;
	if (!eff.max_depth)
		eff.max_depth = JSONW_DEFAULT_MAX_DEPTH;
	if (!eff.max_members)
		eff.max_members = JSONW_DEFAULT_MAX_MEMBERS;

	/* exactly the input's bytes: jsonw must not read past len */
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct jsonw_error err = { JSONW_OK, 0 };
	cJSON *root = jsonw_parse(buf, size, &lim, &err);
	size_t off = 0;
	enum jsonw_err pre = jsonw_prescan(buf, size, &lim, &off);
	if (root) {
		FUZZ_CHECK(err.code == JSONW_OK, "tree and error %d", err.code);
		FUZZ_CHECK(size <= eff.max_size, "%zu bytes accepted", size);
		FUZZ_CHECK(pre == JSONW_OK, "accepted but the pre-scan says %d", pre);
		walk(root, 0, &eff);
		FUZZ_CHECK(jsonw_check_keys(root, &lim, NULL) == JSONW_OK, "keys refused");
		if (cJSON_IsObject(root))
			getters(root);
		cJSON_Delete(root);
	} else {
		FUZZ_CHECK(err.code > JSONW_OK && err.code < JSONW_E__COUNT, "error %d", err.code);
		FUZZ_CHECK(err.offset <= size, "offset %zu of %zu", err.offset, size);
		FUZZ_CHECK(jsonw_strerror(err.code) && jsonw_errname(err.code), "no text");
		if (pre != JSONW_OK)
			FUZZ_CHECK(pre == err.code, "pre-scan %d, parse %d", pre, err.code);
	}
	free(buf);
	return 0;
}
