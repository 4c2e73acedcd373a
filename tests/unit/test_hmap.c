/* Unit tests: util/hmap (the string-keyed map behind check and asset
 * lookup): random operations against a brute-force reference, reserve
 * without growth, precomputed hashes, tombstone reuse and iteration. */
#include "util/hmap.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 2000

START_TEST(random_against_reference)
{
	static char keys[NKEYS][32];
	static int present[NKEYS];
	struct hmap m;
	hmap_init(&m);
	memset(present, 0, sizeof present);
	for (int i = 0; i < NKEYS; i++)
		snprintf(keys[i], sizeof keys[i], "c%d/a/k", i);
	srand(7);
	size_t live = 0;
	for (int op = 0; op < 200000; op++) {
		int k = rand() % NKEYS;
		size_t len = strlen(keys[k]);
		switch (rand() % 3) {
		case 0:
			ck_assert_ptr_eq(hmap_put(&m, keys[k], len, keys[k]),
			                 present[k] ? keys[k] : NULL);
			live += !present[k];
			present[k] = 1;
			break;
		case 1:
			ck_assert_ptr_eq(hmap_del(&m, keys[k], len), present[k] ? keys[k] : NULL);
			live -= present[k];
			present[k] = 0;
			break;
		default: ck_assert_ptr_eq(hmap_get(&m, keys[k], len), present[k] ? keys[k] : NULL);
		}
		ck_assert_uint_eq(m.count, live);
	}
	/* Iteration visits every live entry exactly once. */
	size_t it = 0, seen = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m, &it, &e)) {
		int k = atoi((const char *)e->value + 1);
		ck_assert(present[k]);
		seen++;
	}
	ck_assert_uint_eq(seen, live);
	hmap_free(&m);
}
END_TEST

START_TEST(reserve_and_precomputed_hash)
{
	static char keys[3000][32];
	for (size_t n = 0; n < 3000; n += 37) {
		struct hmap m;
		hmap_init(&m);
		hmap_reserve(&m, n);
		size_t cap = m.cap;
		for (size_t i = 0; i < n; i++) {
			snprintf(keys[i], sizeof keys[i], "k%zu", i);
			uint64_t h = hmap_hash(keys[i], strlen(keys[i]));
			ck_assert_ptr_null(hmap_put_h(&m, keys[i], strlen(keys[i]), h, keys[i]));
		}
		if (n)
			ck_assert_uint_eq(m.cap, cap); /* reserved: no growth while filling */
		for (size_t i = 0; i < n; i++) {
			uint64_t h = hmap_hash(keys[i], strlen(keys[i]));
			ck_assert_ptr_eq(hmap_get_h(&m, keys[i], strlen(keys[i]), h), keys[i]);
		}
		for (size_t i = 0; i < n; i += 2)
			hmap_del(&m, keys[i], strlen(keys[i]));
		hmap_reserve(&m, n);
		for (size_t i = 1; i < n; i += 2)
			ck_assert_ptr_eq(hmap_get(&m, keys[i], strlen(keys[i])), keys[i]);
		ck_assert_ptr_null(hmap_get(&m, "zz", 2));
		hmap_free(&m);
	}
}
END_TEST

START_TEST(binary_keys_and_tombstones)
{
	struct hmap m;
	hmap_init(&m);
	/* Keys are byte strings: pointer-sized binary keys work (used for
	 * instance names in the host). */
	void *ptrs[64];
	for (int i = 0; i < 64; i++) {
		ptrs[i] = &ptrs[i];
		ck_assert_ptr_null(hmap_put(&m, (const char *)&ptrs[i], sizeof ptrs[i], ptrs[i]));
	}
	/* Many delete/insert cycles must not fill the table with tombstones. */
	for (int round = 0; round < 10000; round++) {
		int i = round % 64;
		ck_assert_ptr_eq(hmap_del(&m, (const char *)&ptrs[i], sizeof ptrs[i]), ptrs[i]);
		ck_assert_ptr_null(hmap_put(&m, (const char *)&ptrs[i], sizeof ptrs[i], ptrs[i]));
	}
	ck_assert_uint_eq(m.count, 64);
	ck_assert_uint_le(m.cap, 256);
	hmap_free(&m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hmap");
	TCase *tc = tcase_create("hmap");
	tcase_add_test(tc, random_against_reference);
	tcase_add_test(tc, reserve_and_precomputed_hash);
	tcase_add_test(tc, binary_keys_and_tombstones);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
