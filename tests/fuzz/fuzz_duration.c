/*
 * fuzz_duration: durations as the config writes them ("30s", "1h30m",
 * "500ms", a bare number of seconds) through perf_duration_parse
 * (src/perfdata: check intervals, timeouts, plugin keys) and
 * sla_parse_duration (src/sla: the SLA terms).  Promises: an accepted
 * duration is finite and not negative; the SLA parser keeps its 400-day
 * cap; "N" + unit and the same number of seconds agree where both exist.
 */
#include "tests/fuzz/fuzz.h"
#include "perfdata/perfdata.h"
#include "sla/sla.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	double d = -1;
	if (perf_duration_parse(text, &d) == 0)
		FUZZ_CHECK(isfinite(d) && d >= 0, "'%s' -> %g", text, d);
	double s = -1;
	if (sla_parse_duration(text, &s) == 0)
		FUZZ_CHECK(isfinite(s) && s >= 0 && s <= 400.0 * 86400, "SLA '%s' -> %g", text, s);
	/* where both read a plain "<digits><unit>" they must agree */
	size_t len = strlen(text);
	if (len >= 2 && len < 12 && strspn(text, "0123456789") == len - 1 &&
	    strchr("smhd", text[len - 1]) && d >= 0 && s >= 0)
		FUZZ_CHECK(d == s, "'%s': %g vs %g", text, d, s);
	free(text);
	return 0;
}
