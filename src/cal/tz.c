/*
 * tz.c: time zones for calendars, without the C library's global TZ state.
 *
 * Reads TZif files (RFC 8536, versions 1 to 4) from the system zoneinfo
 * directory into a private table of transitions, and the POSIX TZ footer
 * string of v2+ files (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") that rules times
 * after the last transition.  The footer's rule is expanded into the table
 * up to year CAL_TZ_EXPAND_YEAR so lookups are one binary search; later
 * times evaluate the rule directly.
 *
 * Must never: call setenv("TZ"), tzset, localtime or mktime (the daemon
 * serves many zones in one process), or trust a byte of the file: every
 * count and index is checked against the buffer.  Leap-second records
 * ("right/" zones) are skipped: mamori counts POSIX seconds.
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAL_TZ_EXPAND_YEAR 2200
#define CAL_TZ_MAX_FILE    (1 << 20)
#define CAL_TZ_MAX_TRANS   100000

struct tz_rule_day {
	char kind;   /* 'J': Jn (1..365, no Feb 29), 'N': n (0..365), 'M': Mm.w.d */
	int a, b, c; /* J/N: a = day; M: a = month, b = week (1..5), c = weekday */
	long time;   /* seconds after local midnight (may be < 0 or > 24h) */
};

struct tz_rule {
	long std_off, dst_off; /* seconds east of UTC */
	int has_dst;
	struct tz_rule_day start, end;
};

struct cal_tz {
	size_t n;
	int64_t *at;  /* transition instants, ascending */
	int32_t *off; /* offset in effect from at[i] */
	int32_t off0; /* before the first transition */
	int has_rule;
	struct tz_rule rule;
	int64_t rule_from; /* at and after this, evaluate the rule */
};

static void tz_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tz_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- civil dates ---- */

int64_t cal__floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01; eras of 400 years keep the arithmetic exact. */
int64_t cal__days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = cal__floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void cal__civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = cal__floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int cal__weekday(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */

	return (int)(w < 0 ? w + 7 : w);
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int cal__days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m < 1 || m > 12)
		return 0;
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- POSIX TZ rules ---- */

/* Local day (days since epoch) on which a rule fires in year y. */
static int64_t rule_day(const struct tz_rule_day *r, int64_t y)
{
	int64_t jan1 = cal__days_from_civil(y, 1, 1), first;
	int d;

	switch (r->kind) {
	case 'J': /* 1..365, Feb 29 never counted */
		return jan1 + r->a - 1 + (is_leap(y) && r->a >= 60);
	case 'N': return jan1 + r->a;
	default:
		first = cal__days_from_civil(y, r->a, 1);
		d = (r->c - cal__weekday(first) + 7) % 7 + (r->b - 1) * 7;
		if (r->b == 5)
			while (d >= cal__days_in_month(y, r->a))
				d -= 7;
		return first + d;
	}
}

static void rule_year(const struct tz_rule *r, int64_t y, int64_t *s, int64_t *e)
{
	*s = rule_day(&r->start, y) * 86400 + r->start.time - r->std_off;
	*e = rule_day(&r->end, y) * 86400 + r->end.time - r->dst_off;
}

static long rule_offset(const struct tz_rule *r, int64_t t)
{
	int64_t y, s, e;
	int m, d, dst;

	if (!r->has_dst)
		return r->std_off;
	cal__civil_from_days(cal__floordiv(t + r->std_off, 86400), &y, &m, &d);
	rule_year(r, y, &s, &e);
	dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
	return dst ? r->dst_off : r->std_off;
}

static const char *parse_name(const char *p)
{
	const char *q = p;

	if (*p == '<') {
		while (*++q && *q != '>')
			;
		return *q == '>' && q - p >= 4 ? q + 1 : NULL;
	}
	while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
		q++;
	return q - p >= 3 ? q : NULL;
}

static int parse_num(const char **pp, int max, long *out)
{
	const char *p = *pp;
	long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v > max)
			return -1;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] -> seconds; hours up to max_h. */
static const char *parse_hms(const char *p, int max_h, long *out)
{
	long sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (parse_num(&p, max_h, &h))
		return NULL;
	if (*p == ':') {
		p++;
		if (parse_num(&p, 59, &m))
			return NULL;
		if (*p == ':') {
			p++;
			if (parse_num(&p, 59, &s))
				return NULL;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *parse_rule_day(const char *p, struct tz_rule_day *r)
{
	long a, b, c;

	r->time = 7200;
	if (*p == 'J') {
		p++;
		if (parse_num(&p, 365, &a) || a < 1)
			return NULL;
		r->kind = 'J', r->a = (int)a;
	} else if (*p == 'M') {
		p++;
		if (parse_num(&p, 12, &a) || a < 1 || *p++ != '.' || parse_num(&p, 5, &b) ||
		    b < 1 || *p++ != '.' || parse_num(&p, 6, &c))
			return NULL;
		r->kind = 'M', r->a = (int)a, r->b = (int)b, r->c = (int)c;
	} else {
		if (parse_num(&p, 365, &a))
			return NULL;
		r->kind = 'N', r->a = (int)a;
	}
	if (*p == '/')
		p = parse_hms(p + 1, 167, &r->time);
	return p;
}

static int parse_rule(const char *p, struct tz_rule *r)
{
	long off;

	memset(r, 0, sizeof(*r));
	if (!(p = parse_name(p)) || !(p = parse_hms(p, 24, &off)))
		return -1;
	r->std_off = -off; /* POSIX offsets count west */
	if (!*p)
		return 0;
	if (!(p = parse_name(p)))
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, 24, &off)))
			return -1;
		r->dst_off = -off;
	}
	if (!*p) /* no dates: POSIX leaves it open; use the US rule like glibc */
		p = ",M3.2.0,M11.1.0";
	if (*p++ != ',' || !(p = parse_rule_day(p, &r->start)) || *p++ != ',' ||
	    !(p = parse_rule_day(p, &r->end)))
		return -1;
	return *p ? -1 : 0;
}

/* ---- zone objects ---- */

static struct cal_tz *tz_alloc(size_t cap)
{
	struct cal_tz *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	z->rule_from = INT64_MAX;
	if (cap) {
		z->at = calloc(cap, sizeof(*z->at));
		z->off = calloc(cap, sizeof(*z->off));
		if (!z->at || !z->off) {
			cal__tz_free(z);
			return NULL;
		}
	}
	return z;
}

void cal__tz_free(struct cal_tz *z)
{
	if (!z)
		return;
	free(z->at);
	free(z->off);
	free(z);
}

/* Append the rule's transitions after the table's end up to the expansion
 * year, and evaluate the rule directly after that. */
static int tz_expand_rule(struct cal_tz *z)
{
	int64_t last = z->n ? z->at[z->n - 1] : INT64_MIN, y0, y, s, e, tr[2];
	int64_t *at;
	int32_t *off;
	size_t cap, i;
	int m, d;
	long o[2];

	z->rule_from = !z->n ? INT64_MIN : last == INT64_MAX ? last : last + 1;
	if (!z->n)
		z->off0 = (int32_t)z->rule.std_off;
	if (!z->rule.has_dst)
		return 0;
	cal__civil_from_days(cal__floordiv(z->n ? last : 0, 86400), &y0, &m, &d);
	if (y0 < 1900)
		y0 = 1900;
	if (y0 > CAL_TZ_EXPAND_YEAR)
		return 0; /* a table reaching past the expansion: rule after it */
	cap = z->n + (size_t)(CAL_TZ_EXPAND_YEAR - y0 + 1) * 2;
	if (!(at = realloc(z->at, cap * sizeof(*at))))
		return -1;
	z->at = at;
	if (!(off = realloc(z->off, cap * sizeof(*off))))
		return -1;
	z->off = off;
	for (y = y0; y <= CAL_TZ_EXPAND_YEAR; y++) {
		rule_year(&z->rule, y, &s, &e);
		tr[0] = s < e ? s : e, tr[1] = s < e ? e : s;
		o[0] = s < e ? z->rule.dst_off : z->rule.std_off;
		o[1] = s < e ? z->rule.std_off : z->rule.dst_off;
		for (i = 0; i < 2; i++) {
			if (tr[i] <= last)
				continue;
			z->at[z->n] = tr[i], z->off[z->n] = (int32_t)o[i];
			last = tr[i];
			z->n++;
		}
	}
	z->rule_from = cal__days_from_civil(CAL_TZ_EXPAND_YEAR + 1, 1, 1) * 86400;
	return 0;
}

long cal__tz_offset(const struct cal_tz *z, int64_t t)
{
	size_t lo = 0, hi = z->n;

	if (!CAL__T_OK(t)) /* clamp: garbage in must not overflow below */
		t = t < 0 ? -CAL__T_LIMIT : CAL__T_LIMIT;
	if (z->has_rule && t >= z->rule_from)
		return rule_offset(&z->rule, t);
	if (!z->n || t < z->at[0])
		return z->off0;
	while (hi - lo > 1) { /* invariant: at[lo] <= t < at[hi] */
		size_t mid = lo + (hi - lo) / 2;

		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[lo];
}

int64_t cal__tz_to_utc(const struct cal_tz *z, int64_t local)
{
	long o[3];
	int64_t best = INT64_MAX, lo = INT64_MAX, hi = INT64_MIN, t;
	int i;

	if (!CAL__T_OK(local))
		local = local < 0 ? -CAL__T_LIMIT : CAL__T_LIMIT;
	o[0] = cal__tz_offset(z, local - 2 * 86400);
	o[2] = cal__tz_offset(z, local + 2 * 86400);
	if (o[0] == o[2] && cal__tz_offset(z, local - o[0]) == o[0])
		return local - o[0]; /* no change nearby: the common case */
	o[1] = cal__tz_offset(z, local);
	for (i = 0; i < 3; i++) {
		t = local - o[i];
		lo = t < lo ? t : lo;
		hi = t > hi ? t : hi;
		if (cal__tz_offset(z, t) == o[i] && t < best)
			best = t; /* the first occurrence wins in an overlap */
	}
	if (best != INT64_MAX)
		return best;
	/* In a gap: the answer is the transition inside (lo, hi]. */
	{
		long o_lo = cal__tz_offset(z, lo);

		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;

			if (cal__tz_offset(z, mid) == o_lo)
				lo = mid;
			else
				hi = mid;
		}
	}
	return hi;
}

struct cal_tz *cal__tz_posix(const char *spec, char *err, size_t errlen)
{
	struct cal_tz *z;

	if (!(z = tz_alloc(0)))
		goto oom;
	if (parse_rule(spec, &z->rule)) {
		tz_err(err, errlen, "bad POSIX TZ string \"%s\"", spec);
		cal__tz_free(z);
		return NULL;
	}
	z->has_rule = 1;
	z->off0 = (int32_t)z->rule.std_off;
	if (tz_expand_rule(z))
		goto oom;
	return z;
oom:
	cal__tz_free(z);
	tz_err(err, errlen, "out of memory");
	return NULL;
}

/* ---- TZif (RFC 8536) ---- */

struct tzif_hdr {
	int ver;
	uint32_t isut, isstd, leap, time, type, chr;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Header at p; 0 and the block's length in *blen, or -1. */
static int tzif_hdr(const unsigned char *p, size_t len, int tsz, struct tzif_hdr *h, size_t *blen)
{
	uint64_t n;

	if (len < 44 || memcmp(p, "TZif", 4))
		return -1;
	if (p[4] != 0 && (p[4] < '2' || p[4] > '4'))
		return -1;
	h->ver = p[4] ? p[4] - '0' : 1;
	h->isut = be32(p + 20), h->isstd = be32(p + 24), h->leap = be32(p + 28);
	h->time = be32(p + 32), h->type = be32(p + 36), h->chr = be32(p + 40);
	if (h->time > CAL_TZ_MAX_TRANS || h->type == 0 || h->type > 256 || h->chr == 0 ||
	    h->leap > CAL_TZ_MAX_TRANS || (h->isut && h->isut != h->type) ||
	    (h->isstd && h->isstd != h->type))
		return -1;
	n = (uint64_t)h->time * (tsz + 1) + (uint64_t)h->type * 6 + h->chr +
	    (uint64_t)h->leap * (tsz + 4) + h->isstd + h->isut;
	if (n > len - 44)
		return -1;
	*blen = (size_t)n;
	return 0;
}

/* Data block after its header: transitions and local time types. */
static int tzif_block(const unsigned char *p, const struct tzif_hdr *h, int tsz, struct cal_tz *z)
{
	const unsigned char *idx = p + (size_t)h->time * tsz, *tt = idx + h->time;
	uint32_t i;

	for (i = 0; i < h->type; i++) {
		int32_t off = (int32_t)be32(tt + 6 * i);

		if (off < -26 * 3600 || off > 26 * 3600 || tt[6 * i + 4] > 1 ||
		    tt[6 * i + 5] >= h->chr)
			return -1;
	}
	z->off0 = (int32_t)be32(tt);
	for (i = 0; i < h->time; i++) {
		int64_t at = tsz == 8 ? be64(p + 8 * i) : (int32_t)be32(p + 4 * i);

		if (idx[i] >= h->type || (i && at <= z->at[i - 1]))
			return -1;
		z->at[i] = at;
		z->off[i] = (int32_t)be32(tt + 6 * idx[i]);
	}
	z->n = h->time;
	return 0;
}

struct cal_tz *cal__tz_parse(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	struct tzif_hdr h;
	struct cal_tz *z = NULL;
	size_t blen, flen;
	const unsigned char *p = buf, *nl;
	char foot[256];
	int tsz = 4;

	if (tzif_hdr(p, len, 4, &h, &blen))
		goto bad;
	if (h.ver >= 2) { /* skip the 32-bit block; the 64-bit one follows */
		p += 44 + blen, len -= 44 + blen;
		tsz = 8;
		if (tzif_hdr(p, len, 8, &h, &blen) || h.ver < 2)
			goto bad;
	}
	if (!(z = tz_alloc(h.time)))
		goto oom;
	if (tzif_block(p + 44, &h, tsz, z))
		goto bad;
	if (tsz == 8) {
		p += 44 + blen, len -= 44 + blen;
		if (len < 2 || p[0] != '\n' || !(nl = memchr(p + 1, '\n', len - 1)))
			goto bad;
		flen = (size_t)(nl - p - 1);
		if (flen >= sizeof(foot))
			goto bad;
		memcpy(foot, p + 1, flen);
		foot[flen] = 0;
		if (flen) {
			if (memchr(foot, 0, flen) || parse_rule(foot, &z->rule))
				goto bad;
			z->has_rule = 1;
			if (tz_expand_rule(z))
				goto oom;
		}
	}
	return z;
bad:
	cal__tz_free(z);
	tz_err(err, errlen, "not a valid TZif file");
	return NULL;
oom:
	cal__tz_free(z);
	tz_err(err, errlen, "out of memory");
	return NULL;
}

static int zone_name_ok(const char *name)
{
	const char *p;

	if (!*name || *name == '/' || strlen(name) > 200)
		return 0;
	for (p = name; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_+-.", *p)))
			return 0;
	return !strstr(name, "..") && !strstr(name, "//");
}

static unsigned char *read_small_file(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CAL_TZ_MAX_FILE) {
		errno = EINVAL;
		goto fail;
	}
	if (!(buf = malloc((size_t)st.st_size + 1)))
		goto fail;
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct cal_tz *cal__tz_load(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[512];
	unsigned char *buf;
	size_t len;
	struct cal_tz *z;

	if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))
		return cal__tz_posix("UTC0", err, errlen);
	if (!zone_name_ok(name)) {
		tz_err(err, errlen, "bad time zone name \"%s\"", name);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", name);
	if (!(buf = read_small_file(path, &len))) {
		tz_err(err, errlen, "unknown time zone \"%s\" (%s: %s)", name, path,
		       strerror(errno));
		return NULL;
	}
	z = cal__tz_parse(buf, len, err, errlen);
	free(buf);
	if (!z && err && errlen) {
		char why[128];

		snprintf(why, sizeof(why), "%s", err);
		tz_err(err, errlen, "time zone \"%s\": %s: %s", name, path, why);
	}
	return z;
}
