/* Unit tests: util/esc (text from outside made safe for a terminal and a
 * log line): what is escaped and how, what is kept (Japanese text, TAB),
 * invalid UTF-8, cutting at the buffer's end, and random bytes (never a
 * crash or an overread, and the result never needs escaping again). */
#include "util/esc.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect(const char *in, const char *want)
{
	char out[256];
	size_t n = esc_text(out, sizeof out, in);
	ck_assert_msg(strcmp(out, want) == 0, "esc(%s) = '%s', want '%s'", in, out, want);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_int_eq(esc_needed(in), strcmp(in, want) != 0);
	char *d = esc_dup(in);
	ck_assert_str_eq(d, want);
	free(d);
}

START_TEST(controls_are_escaped)
{
	expect("", "");
	expect("plain text: 100% ok", "plain text: 100% ok");
	expect("tab\tstays", "tab\tstays");
	expect("a\nb\rc", "a\\nb\\rc");
	expect("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07");
	expect("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
	/* C1 controls, UTF-8 encoded: CSI (U+009B) and NEL (U+0085) */
	expect("\xc2\x9b"
	       "31m\xc2\x85",
	       "\\u009b31m\\u0085");
	/* the first character after them is text (NBSP, e-acute) */
	expect("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");
	/* a backslash is not doubled (Windows paths) */
	expect("C:\\Users\\sato", "C:\\Users\\sato");
}
END_TEST

START_TEST(utf8_is_kept)
{
	const char *ja = "監視サーバ「東京-01」: ディスク残量 5% (警告)";
	expect(ja, ja);
	expect("emoji \xf0\x9f\x98\x80 and U+10FFFF \xf4\x8f\xbf\xbf",
	       "emoji \xf0\x9f\x98\x80 and U+10FFFF \xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(invalid_utf8_is_escaped)
{
	expect("\xff\xfe", "\\xff\\xfe");
	expect("lone \x80 continuation", "lone \\x80 continuation");
	expect("cut \xe6\x9d", "cut \\xe6\\x9d"); /* a character cut short */
	expect("\xe6\x9d"
	       "a",
	       "\\xe6\\x9da");                              /* ... and followed by text */
	expect("overlong \xc0\xaf", "overlong \\xc0\\xaf"); /* '/' */
	expect("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	expect("surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80");
	expect("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
	expect("\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80");
}
END_TEST

START_TEST(cut_at_whole_pieces)
{
	char out[16];
	memset(out, 'z', sizeof out);
	ck_assert_uint_eq(esc_text(out, 5, "ab\ncd"), 6);
	ck_assert_str_eq(out, "ab\\n");
	ck_assert_uint_eq(esc_text(out, 4, "ab\ncd"), 6);
	ck_assert_str_eq(out, "ab"); /* never a lone backslash */
	ck_assert_uint_eq(esc_text(out, 5, "日本"), 6);
	ck_assert_str_eq(out, "日"); /* never half a character */
	ck_assert_uint_eq(esc_text(out, 3,
	                           "\x1b"
	                           "abc"),
	                  7);
	ck_assert_str_eq(out, ""); /* nothing after a piece that did not fit */
	ck_assert_uint_eq(esc_text(out, 1, "x"), 1);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(esc_text(NULL, 0, "a\nb"), 4); /* the size needed */
}
END_TEST

START_TEST(random_bytes)
{
	srand(11);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 40);
		/* on the heap, exactly sized: ASan sees any overread */
		char *in = malloc(n + 1);
		for (size_t k = 0; k < n; k++) {
			int r = rand() % 8;
			in[k] = (char)(r == 0   ? 0xc2
			               : r == 1 ? 0xe3
			               : r == 2 ? 0x80 + rand() % 64
			                        : 1 + rand() % 255);
		}
		in[n] = '\0';
		size_t need = esc_text(NULL, 0, in);
		char *out = malloc(need + 1);
		ck_assert_uint_eq(esc_text(out, need + 1, in), need);
		ck_assert_uint_eq(strlen(out), need);
		ck_assert_msg(!esc_needed(out), "escaped text needs escaping: %s", out);
		ck_assert(strchr(out, '\n') == NULL && strchr(out, '\x1b') == NULL);
		free(out);
		free(in);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("esc");
	TCase *tc = tcase_create("esc");
	tcase_add_test(tc, controls_are_escaped);
	tcase_add_test(tc, utf8_is_kept);
	tcase_add_test(tc, invalid_utf8_is_escaped);
	tcase_add_test(tc, cut_at_whole_pieces);
	tcase_add_test(tc, random_bytes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
