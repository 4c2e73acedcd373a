/*
 * fuzz_http_time: times from outside through the three parsers that read
 * them: parse_time (src/http/route.c: query parameters such as
 * due_before, body fields such as a downtime's start), cmd_parse_rfc3339
 * (src/proto: a dispatch's planned_at over MQTT) and defender_parse_date
 * (plugins/defender: an agent's dates), checked against a strict RFC 3339
 * reader written here from the RFC's grammar (section 5.6: four-digit
 * year, two-digit fields, a real calendar date, T or t, optional
 * fraction, Z or z or +hh:mm/-hh:mm).  Promises: what a parser accepts as
 * RFC 3339 is RFC 3339 and means the same instant as the reference reads
 * it (parse_time also takes plain seconds, "123" or "123.5"; the defender
 * parser also a space for the T, and \/Date(ms)\/); what the reference
 * accepts from 1970 on, every parser accepts.
 */
#include "tests/fuzz/fuzz.h"
#include "http/http_int.h"
#include "proto/cmd.h"

#include "plugins/defender/judge.c"

static int dig(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static long long civil_days(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The reference: 0 with *out and *year, or -1.  sep: the characters
 * allowed between date and time. */
static int rfc3339(const char *s, const char *sep, double *out, int *year)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	size_t len = strlen(s);
	if (len < 20 || dig(s, 4, &y) || s[4] != '-' || dig(s + 5, 2, &mo) || s[7] != '-' ||
	    dig(s + 8, 2, &d) || !s[10] || !strchr(sep, s[10]) || dig(s + 11, 2, &h) ||
	    s[13] != ':' || dig(s + 14, 2, &mi) || s[16] != ':' || dig(s + 17, 2, &se))
		return -1;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	double frac = 0, scale = 0.1;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	int sign = 0;
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !dig(p + 1, 2, &oh) &&
	           p[3] == ':' && !dig(p + 4, 2, &om) && oh <= 23 && om <= 59) {
		sign = *p == '-' ? -1 : 1;
	} else {
		return -1;
	}
	*out = (double)civil_days(y, mo, d) * 86400.0 + h * 3600 + mi * 60 + se -
	       sign * (oh * 3600 + om * 60) + frac;
	*year = y;
	return 0;
}

/* "123" or "123.25": plain seconds since the epoch. */
static int plain_seconds(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0)
		return 0;
	if (s[n] == '.') {
		size_t f = strspn(s + n + 1, "0123456789");
		return f > 0 && !s[n + 1 + f];
	}
	return !s[n];
}

static void same(double a, double b, const char *who, const char *s)
{
	FUZZ_CHECK(fabs(a - b) < 1e-3, "%s reads '%s' as %.3f, the reference as %.3f", who, s, a,
	           b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	double ref = 0, ref_sp = 0, t;
	int year = 0, year_sp = 0;
	int ok = rfc3339(s, "Tt", &ref, &year) == 0;
	int ok_sp = rfc3339(s, "Tt ", &ref_sp, &year_sp) == 0;

	/* src/http */
	if (parse_time(s, &t) == 0) {
		FUZZ_CHECK(isfinite(t) && t >= 0, "parse_time '%s' -> %g", s, t);
		if (!plain_seconds(s)) {
			FUZZ_CHECK(ok, "parse_time accepts '%s'", s);
			same(t, ref, "parse_time", s);
		}
	} else {
		FUZZ_CHECK(!(ok && year >= 1970), "parse_time refuses '%s'", s);
		if (plain_seconds(s))
			FUZZ_CHECK(strtod(s, NULL) >= 1e11, "parse_time refuses '%s'", s);
	}
	/* src/proto */
	if (cmd_parse_rfc3339(s, &t) == 0) {
		FUZZ_CHECK(ok, "cmd_parse_rfc3339 accepts '%s'", s);
		same(t, ref, "cmd_parse_rfc3339", s);
	} else {
		FUZZ_CHECK(!(ok && year >= 1970), "cmd_parse_rfc3339 refuses '%s'", s);
	}
	/* plugins/defender */
	if (s[0] != '/') {
		if (defender_parse_date(s, &t) == 0) {
			FUZZ_CHECK(ok_sp, "defender_parse_date accepts '%s'", s);
			same(t, ref_sp, "defender_parse_date", s);
		} else {
			FUZZ_CHECK(!ok_sp, "defender_parse_date refuses '%s'", s);
		}
	}
	free(s);
	return 0;
}
