/*
 * Unit tests for the defender plugin's pure judge (plugins/defender/judge.c,
 * compiled into this test): every test vector with the verdict its README
 * gives, thresholds, dates in both forms, every bad payload rejected with a
 * reason, and random mutations that must never crash or be half-judged.
 * Fixtures: tests/fixtures/defender (or the folder in $MAMORI_FIXTURES).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/defender/judge.c"

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

static int judge_file(const char *rel, const struct defender_policy *p, struct defender_verdict *v)
{
	size_t len;
	char *buf = load(rel, &len);
	int rc = defender_judge(buf, len, p, v);
	free(buf);
	return rc;
}

static const struct {
	const char *file;
	int state;
	const char *words; /* must appear in the output */
} vectors[] = {
	{ "healthy.json", MAMORI_OK,
	  "Defender OK: real-time protection on, signatures 0 days old" },
	{ "realtime-off.json", MAMORI_CRITICAL, "real-time protection off" },
	{ "service-stopped.json", MAMORI_CRITICAL, "antimalware service not running" },
	{ "passive-third-party-av.json", MAMORI_WARNING, "passive mode" },
	{ "stale-signatures.json", MAMORI_CRITICAL, "signatures 9 days old" },
	{ "tamper-off.json", MAMORI_WARNING, "tamper protection off" },
	{ "never-scanned.json", MAMORI_WARNING, "no quick scan ever" },
	{ "reboot-pending.json", MAMORI_WARNING, "reboot pending" },
	{ "powershell51-dates.json", MAMORI_OK, "Defender OK" },
};

START_TEST(test_vectors)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	ck_assert_int_eq(judge_file(vectors[_i].file, &p, &v), 0);
	ck_assert_int_eq(v.reject, DEF_ACCEPTED);
	ck_assert_msg(v.state == vectors[_i].state, "%s: state %d, expected %d (%s)",
	              vectors[_i].file, v.state, vectors[_i].state, v.output);
	ck_assert_msg(strstr(v.output, vectors[_i].words), "%s: output '%s' lacks '%s'",
	              vectors[_i].file, v.output, vectors[_i].words);
	ck_assert_str_eq(v.computer_name, "PC-001");
	ck_assert_uint_ge(v.n_perf, 1);
	ck_assert_str_eq(v.perf[0].label, "signature_age_days");
}
END_TEST

START_TEST(test_output_words)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	/* service stopped: the cause only, not every consequence */
	ck_assert_int_eq(judge_file("service-stopped.json", &p, &v), 0);
	ck_assert_ptr_null(strstr(v.output, "real-time"));
	/* stale: 9 days, perfdata with value and @3:/@7: thresholds */
	ck_assert_int_eq(judge_file("stale-signatures.json", &p, &v), 0);
	ck_assert(v.perf[0].value == 9);
	ck_assert(v.perf[0].warn.set && v.perf[0].warn.inside && v.perf[0].warn.start == 3);
	ck_assert(v.perf[0].crit.set && v.perf[0].crit.start == 7);
	/* never scanned: perf value unknown, not 4294967295 */
	ck_assert_int_eq(judge_file("never-scanned.json", &p, &v), 0);
	ck_assert_str_eq(v.perf[1].label, "quick_scan_age_days");
	ck_assert(v.perf[1].flags & MAMORI_PERF_VALUE_UNKNOWN);
	ck_assert_str_eq(v.output, "no quick scan ever");
}
END_TEST

START_TEST(test_policy)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	p.passive_ok = 1;
	ck_assert_int_eq(judge_file("passive-third-party-av.json", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_OK);
	ck_assert_ptr_nonnull(strstr(v.output, "passive mode (other antivirus in use)"));
	defender_policy_default(&p);
	p.tamper_state = MAMORI_CRITICAL;
	ck_assert_int_eq(judge_file("tamper-off.json", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_CRITICAL);
	p.tamper_state = MAMORI_OK;
	ck_assert_int_eq(judge_file("tamper-off.json", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_OK);
	ck_assert_ptr_nonnull(strstr(v.output, "tamper protection off"));
	defender_policy_default(&p);
	p.sig_warn_days = 10;
	p.sig_crit_days = 20;
	ck_assert_int_eq(judge_file("stale-signatures.json", &p, &v), 0);
	/* below thresholds, but Defender itself says out of date */
	ck_assert_int_eq(v.state, MAMORI_WARNING);
	ck_assert_ptr_nonnull(strstr(v.output, "out of date"));
	defender_policy_default(&p);
	p.full_warn_days = 30;
	ck_assert_int_eq(judge_file("healthy.json", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_WARNING);
	ck_assert_ptr_nonnull(strstr(v.output, "no full scan ever"));
}
END_TEST

#define J(lit, pol, v) defender_judge(lit, sizeof(lit) - 1, pol, v)
#define BASE                                                                                       \
	"{\"schema\":\"mamori.defender/1\",\"AMServiceEnabled\":true,\"AntivirusEnabled\":true,"

START_TEST(test_thresholds_and_bits)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":2}", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_OK);
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":3}", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_WARNING);
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":7}", &p, &v), 0);
	ck_assert_int_eq(v.state, MAMORI_CRITICAL);
	ck_assert_int_eq(J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":1,"
	                        "\"QuickScanAge\":15}",
	                   &p, &v),
	                 0);
	ck_assert_int_eq(v.state, MAMORI_CRITICAL);
	ck_assert_str_eq(v.output, "last quick scan 15 days ago");
	ck_assert_int_eq(J(BASE "\"RealTimeProtectionEnabled\":false,\"AntivirusSignatureAge\":9,"
	                        "\"ComputerState\":31}",
	                   &p, &v),
	                 0);
	ck_assert_int_eq(v.state, MAMORI_CRITICAL);
	ck_assert_str_eq(v.output,
	                 "real-time protection off; signatures 9 days old; critical failure; "
	                 "full scan required; reboot pending; manual steps required; "
	                 "offline scan required");
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":4294967295}", &p,
	      &v),
	    0);
	ck_assert_int_eq(v.state, MAMORI_CRITICAL);
	ck_assert_str_eq(v.output, "signatures never updated");
}
END_TEST

START_TEST(test_dates)
{
	double t;
	ck_assert_int_eq(defender_parse_date("2026-11-26T03:41:10+09:00", &t), 0);
	ck_assert(t == 1795632070.0);
	ck_assert_int_eq(defender_parse_date("/Date(1795632070000)/", &t), 0);
	ck_assert(t == 1795632070.0);
	ck_assert_int_eq(defender_parse_date("2026-11-25T18:41:10Z", &t), 0);
	ck_assert(t == 1795632070.0);
	ck_assert_int_eq(defender_parse_date("2026-11-25T18:41:10.5z", &t), 0);
	ck_assert(t == 1795632070.5);
	ck_assert_int_eq(defender_parse_date("/Date(1795632070000+0900)/", &t), 0);
	ck_assert_int_eq(defender_parse_date("1970-01-01T00:00:00Z", &t), 0);
	ck_assert(t == 0);
	static const char *const bad[] = {
		"",
		"2026-11-26",
		"2026-13-26T03:41:10Z",
		"2026-11-31T03:41:10Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T03:41:10",
		"2026-11-26T03:41:10+9:00",
		"2026-11-26T03:41:10Zjunk",
		"/Date()/",
		"/Date(12a)/",
		"/Date(1795632070000)",
		"\\/Date(1)\\/",
		"/Date(99999999999999999999)/",
		"2026-11-26T03:41:10.Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(defender_parse_date(bad[i], &t) == -1, "accepted '%s'", bad[i]);
}
END_TEST

static const struct {
	const char *file;
	enum defender_reject why;
} bad_files[] = {
	{ "bad/deep-nesting.json", DEF_R_JSON },  { "bad/empty.json", DEF_R_JSON },
	{ "bad/invalid-utf8.json", DEF_R_JSON },  { "bad/not-an-object.json", DEF_R_NOT_OBJECT },
	{ "bad/out-of-range.json", DEF_R_RANGE }, { "bad/oversized.json", DEF_R_JSON },
	{ "bad/truncated.json", DEF_R_JSON },     { "bad/unknown-schema.json", DEF_R_SCHEMA },
	{ "bad/wrong-types.json", DEF_R_TYPE },
};

START_TEST(test_bad)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	ck_assert_int_eq(judge_file(bad_files[_i].file, &p, &v), -1);
	ck_assert_msg(v.reject == bad_files[_i].why, "%s: %s (%s)", bad_files[_i].file,
	              defender_reject_name(v.reject), v.reason);
	ck_assert(v.reason[0] != '\0');
	ck_assert_int_eq(v.n_perf, 0);
}
END_TEST

START_TEST(test_bad_inline)
{
	struct defender_policy p;
	struct defender_verdict v;
	defender_policy_default(&p);
	ck_assert_int_eq(J("{\"schema\":\"mamori.defender/1\"}", &p, &v), -1);
	ck_assert_int_eq(v.reject, DEF_R_MISSING);
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":1.5}", &p, &v),
	    -1);
	ck_assert_int_eq(v.reject, DEF_R_RANGE);
	ck_assert_int_eq(
	    J(BASE "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":4294967296}", &p,
	      &v),
	    -1);
	ck_assert_int_eq(v.reject, DEF_R_RANGE);
	ck_assert_int_eq(
	    J(BASE
	      "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":1,\"ts\":\"yesterday\"}",
	      &p, &v),
	    -1);
	ck_assert_int_eq(v.reject, DEF_R_DATE);
	ck_assert_int_eq(
	    J(BASE
	      "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":1,\"AMRunningMode\":7}",
	      &p, &v),
	    -1);
	ck_assert_int_eq(v.reject, DEF_R_TYPE);
	ck_assert_int_eq(
	    J(BASE
	      "\"RealTimeProtectionEnabled\":true,\"RealTimeProtectionEnabled\":false,\"AntivirusSignatureAge\":1}",
	      &p, &v),
	    -1);
	ck_assert_int_eq(v.reject, DEF_R_JSON);
	ck_assert_int_eq(v.json_err, JSONW_E_DUPKEY);
	ck_assert_int_eq(J("[]", &p, &v), -1);
	ck_assert_int_eq(v.reject, DEF_R_NOT_OBJECT);
	/* unknown extra fields are fine */
	ck_assert_int_eq(
	    J(BASE
	      "\"RealTimeProtectionEnabled\":true,\"AntivirusSignatureAge\":1,\"NewField2030\":{\"x\":[1]}}",
	      &p, &v),
	    0);
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_fuzz)
{
	uint64_t seed = 12345;
	struct defender_policy p;
	struct defender_verdict v;
	size_t len;
	char *base = load("healthy.json", &len);
	char *buf = malloc(len);
	defender_policy_default(&p);
	for (int it = 0; it < 20000; it++) {
		memcpy(buf, base, len);
		for (int k = 0; k < 1 + (int)(rng_next(&seed) % 3); k++)
			buf[rng_next(&seed) % len] = (char)rng_next(&seed);
		size_t l = rng_next(&seed) % 5 ? len : rng_next(&seed) % len;
		int rc = defender_judge(buf, l, &p, &v);
		if (rc == 0)
			ck_assert(v.state >= MAMORI_OK && v.state <= MAMORI_UNKNOWN && v.output[0]);
		else
			ck_assert(v.reject > DEF_ACCEPTED && v.reject < DEF_R__COUNT &&
			          v.reason[0]);
	}
	free(buf);
	free(base);
}
END_TEST

/* The Windows agent's committed sample (contrib/agent/windows) must pass
 * the server's own checks and be judged OK. */
START_TEST(test_agent_sample)
{
	struct defender_policy p;
	struct defender_verdict v;
	const char *path = getenv("MAMORI_AGENT_SAMPLE");
	FILE *f = fopen(path ? path : "contrib/agent/windows/sample-payload.json", "rb");
	ck_assert_ptr_nonnull(f);
	char buf[8192];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	defender_policy_default(&p);
	ck_assert_msg(defender_judge(buf, len, &p, &v) == 0, "sample rejected: %s", v.reason);
	ck_assert_int_eq(v.state, MAMORI_OK);
}
END_TEST

static Suite *defender_suite(void)
{
	Suite *s = suite_create("defender");
	TCase *tc = tcase_create("judge");
	tcase_add_loop_test(tc, test_vectors, 0, (int)(sizeof(vectors) / sizeof(vectors[0])));
	tcase_add_test(tc, test_output_words);
	tcase_add_test(tc, test_policy);
	tcase_add_test(tc, test_thresholds_and_bits);
	tcase_add_test(tc, test_dates);
	tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	tcase_add_test(tc, test_bad_inline);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_agent_sample);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(defender_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
