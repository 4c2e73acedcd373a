/*
 * Unit tests: mamori.state/1 (src/proto/state.c) - the fields, and the cut
 * that keeps a state with a huge output under the broker's size limit.
 */
#include "proto/state.h"

#include <cJSON.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(fields)
{
	struct proto_state s = { .node = "n1",
		                 .customer = "c1",
		                 .asset = "pc-1",
		                 .check = "defender",
		                 .service = "defender",
		                 .state = 2,
		                 .hard = 1,
		                 .attempt = 1,
		                 .max_attempts = 3,
		                 .output = "Real-time protection off",
		                 .long_output = "more",
		                 .perfdata = "sig_age=3d;2;5",
		                 .last_check = 1795767900 };
	char *j = proto_format_state(&s);
	cJSON *o = cJSON_Parse(j);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "schema")->valuestring, "mamori.state/1");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "state_name")->valuestring, "CRITICAL");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "long_output")->valuestring, "more");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "last_check")->valuestring, "2026-11-27T08:25:00Z");
	ck_assert_ptr_null(cJSON_GetObjectItem(o, "truncated"));
	cJSON_Delete(o);
	free(j);
}
END_TEST

START_TEST(cut_to_fit)
{
	/* 64 KiB of control characters: escaped, six times that */
	size_t n = 64 * 1024;
	char *big = malloc(n + 1);
	memset(big, 0x01, n);
	big[n] = 0;
	char out[3000];
	memset(out, 'x', sizeof out - 1);
	out[sizeof out - 1] = 0;
	memcpy(out + 1022, "\xe3\x81\x82", 3); /* a character across the 1 KiB cut */
	struct proto_state s = {
		.customer = "c1", .asset = "a", .check = "k", .output = out, .long_output = big
	};
	char *j = proto_format_state(&s);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_le(strlen(j), PROTO_STATE_MAX);
	cJSON *o = cJSON_Parse(j);
	ck_assert_ptr_nonnull(o);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
	ck_assert_ptr_null(cJSON_GetObjectItem(o, "long_output"));
	const char *got = cJSON_GetObjectItem(o, "output")->valuestring;
	ck_assert_uint_eq(strlen(got), 1022); /* cut before the character, not inside it */
	cJSON_Delete(o);
	free(j);
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto_state");
	TCase *tc = tcase_create("proto_state");
	tcase_add_test(tc, fields);
	tcase_add_test(tc, cut_to_fit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
