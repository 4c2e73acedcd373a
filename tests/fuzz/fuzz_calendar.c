/*
 * fuzz_calendar: business hours as the config writes them ("mon-fri
 * 09:00-12:00,13:00-17:30", "fri 22:00-02:00", "24x7") through cal_new,
 * local times through cal_parse_local (closures), and the arithmetic the
 * SLA clocks run on (src/cal).  Input: a time zone selector byte, then
 * hour lines separated by '\n', the last line also tried as a local time.
 * Promises for an accepted calendar: cal_next_open(t) is open and not
 * before t; adding N business seconds and counting the business seconds
 * between the start and the result give N back; formatting a parsed
 * local time in RFC 3339 works.
 */
#include "tests/fuzz/fuzz.h"
#include "cal/cal.h"

#define MAX_LINES 8

static const char *const zones[] = { "UTC", "Asia/Tokyo", "Europe/Berlin", "America/New_York" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel = fuzz_take_byte(&data, &size);
	char *text = fuzz_str(data, size);
	const char *lines[MAX_LINES];
	size_t n = 0;
	for (char *p = text; p && n < MAX_LINES;) {
		lines[n++] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	char err[CAL_ERRLEN];
	err[0] = '\0';
	struct cal *c = cal_new("fuzz", zones[sel % 4], lines, n, err, sizeof err);
	if (!c) {
		FUZZ_CHECK(err[0] != '\0', "refused without a message");
		c = cal_new("fuzz", zones[sel % 4], NULL, 0, err, sizeof err);
		FUZZ_CHECK(c != NULL, "an empty calendar refused: %s", err);
	}
	time_t t0 = 1796000000 + (time_t)(sel * 7919);
	time_t o = cal_next_open(c, t0);
	if (o != (time_t)-1)
		FUZZ_CHECK(o >= t0 && cal_is_open(c, o), "next open %ld from %ld", (long)o,
		           (long)t0);
	long long secs = 1 + (long long)(sel * 977);
	time_t end = cal_add_business(c, t0, secs);
	if (end != (time_t)-1) {
		long long back = cal_business_between(c, t0, end);
		FUZZ_CHECK(back == secs, "added %lld business seconds, counted %lld", secs, back);
	}
	time_t lt;
	if (cal_parse_local(c, lines[n - 1], &lt) == 0) {
		char buf[64];
		FUZZ_CHECK(cal_format_rfc3339(c, lt, buf, sizeof buf) == 0, "cannot format %ld",
		           (long)lt);
	}
	cal_free(c);
	free(text);
	return 0;
}
