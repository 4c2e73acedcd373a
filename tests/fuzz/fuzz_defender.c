/*
 * fuzz_defender: an agent's Defender report (the payload of
 * mamori/v1/agents/{customer}/{host}/defender) through the defender
 * plugin's judge (plugins/defender/judge.c, which parses it with jsonw).
 * The whole input is the payload; the default policy, and every
 * fourth input the "another antivirus" one.  Promises: a verdict or a
 * rejection with a reason, never both; a state in OK..UNKNOWN; the texts
 * terminated inside their buffers; at most three perfdata items with a
 * label each; a date either parses to a finite instant or is refused.
 */
#include "tests/fuzz/fuzz.h"

#include "plugins/defender/judge.c"

static void terminated(const char *s, size_t size, const char *what)
{
	FUZZ_CHECK(memchr(s, '\0', size) != NULL, "%s not terminated", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct defender_policy p;
	defender_policy_default(&p);
	if (size && data[0] % 4 == 3)
		p.passive_ok = 1;
	/* exactly the payload's bytes, not terminated: MQTT payloads are not */
	uint8_t *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct defender_verdict v;
	int rc = defender_judge(buf, size, &p, &v);
	free(buf);
	terminated(v.reason, sizeof v.reason, "reason");
	terminated(v.output, sizeof v.output, "output");
	terminated(v.long_output, sizeof v.long_output, "long output");
	terminated(v.computer_name, sizeof v.computer_name, "computer name");
	FUZZ_CHECK(defender_reject_name(v.reject) != NULL, "reject %d unnamed", v.reject);
	if (rc == 0) {
		FUZZ_CHECK(v.reject == DEF_ACCEPTED, "accepted with reject %d", v.reject);
		FUZZ_CHECK(v.state >= MAMORI_OK && v.state <= MAMORI_UNKNOWN, "state %d", v.state);
		FUZZ_CHECK(v.output[0] != '\0', "accepted without output");
		FUZZ_CHECK(v.n_perf >= 1 && v.n_perf <= 3, "%zu perfdata", v.n_perf);
		for (size_t i = 0; i < v.n_perf; i++)
			FUZZ_CHECK(v.perf[i].label && v.perf[i].label[0], "perfdata without label");
	} else {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(v.reject > DEF_ACCEPTED && v.reject < DEF_R__COUNT, "reject %d",
		           v.reject);
		FUZZ_CHECK(v.reason[0] != '\0', "rejected without a reason");
	}

	/* the date field on its own: "rfc3339-or-/Date(ms)/" */
	char *s = fuzz_str(data, size);
	double t = 0;
	if (defender_parse_date(s, &t) == 0)
		FUZZ_CHECK(isfinite(t), "date '%s' -> %g", s, t);
	free(s);
	return 0;
}
