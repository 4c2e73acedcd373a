/*
 * jp.c: Japan's national holidays computed from the rules of the Act on
 * National Holidays (国民の祝日に関する法律, Act No. 178 of 1948) as in force
 * from 2020.  This is the generator of share/mamori/holidays/jp.csv (see
 * the README there); the daemon itself reads the CSV, so a government
 * decision that differs from the rules (as in 2020/2021) is one edit of
 * the table and of the special-year switch below.
 *
 * Equinox days are fixed each February by the Cabinet Office from the
 * National Astronomical Observatory's ephemeris; for 1980-2099 the
 * standard approximation (Japanese almanac formula) gives the same days:
 *   vernal   = floor(20.8431 + 0.242194 * (Y - 1980) - floor((Y - 1980) / 4))
 *   autumnal = floor(23.2488 + 0.242194 * (Y - 1980) - floor((Y - 1980) / 4))
 * computed here in integer millionths so no floating-point rounding enters.
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal.h"
#include "cal/cal_int.h"

#include <string.h>

#define JP_MAX_DOY 367

static int equinox(int year, long base_micro)
{
	long y = year - 1980;

	return (int)((base_micro + 242194L * y - 1000000L * (y / 4)) / 1000000L);
}

/* Day of the month of the n-th Monday of a month. */
static int nth_monday(int year, int month, int n)
{
	int first = cal__weekday(cal__days_from_civil(year, month, 1));

	return 1 + (1 - first + 7) % 7 + (n - 1) * 7;
}

struct jp_year {
	int year;
	int64_t jan1;
	const char *nat[JP_MAX_DOY]; /* national holidays (国民の祝日) */
	const char *any[JP_MAX_DOY]; /* plus substitute and citizens' holidays */
};

static void nat(struct jp_year *y, int month, int day, const char *name)
{
	int64_t doy = cal__days_from_civil(y->year, month, day) - y->jan1;

	y->nat[doy] = y->any[doy] = name;
}

static void national_days(struct jp_year *y)
{
	int yr = y->year;

	nat(y, 1, 1, "New Year's Day (元日)");
	nat(y, 1, nth_monday(yr, 1, 2), "Coming of Age Day (成人の日)");
	nat(y, 2, 11, "National Foundation Day (建国記念の日)");
	nat(y, 2, 23, "Emperor's Birthday (天皇誕生日)");
	nat(y, 3, equinox(yr, 20843100L), "Vernal Equinox Day (春分の日)");
	nat(y, 4, 29, "Showa Day (昭和の日)");
	nat(y, 5, 3, "Constitution Memorial Day (憲法記念日)");
	nat(y, 5, 4, "Greenery Day (みどりの日)");
	nat(y, 5, 5, "Children's Day (こどもの日)");
	/* Tokyo Olympics: the 2020 special measures act, amended in 2020 for
	 * the postponed games, moved three holidays in 2020 and 2021 */
	if (yr == 2020) {
		nat(y, 7, 23, "Marine Day (海の日)");
		nat(y, 7, 24, "Sports Day (スポーツの日)");
		nat(y, 8, 10, "Mountain Day (山の日)");
	} else if (yr == 2021) {
		nat(y, 7, 22, "Marine Day (海の日)");
		nat(y, 7, 23, "Sports Day (スポーツの日)");
		nat(y, 8, 8, "Mountain Day (山の日)");
	} else {
		nat(y, 7, nth_monday(yr, 7, 3), "Marine Day (海の日)");
		nat(y, 8, 11, "Mountain Day (山の日)");
		nat(y, 10, nth_monday(yr, 10, 2), "Sports Day (スポーツの日)");
	}
	nat(y, 9, nth_monday(yr, 9, 3), "Respect for the Aged Day (敬老の日)");
	nat(y, 9, equinox(yr, 23248800L), "Autumnal Equinox Day (秋分の日)");
	nat(y, 11, 3, "Culture Day (文化の日)");
	nat(y, 11, 23, "Labor Thanksgiving Day (勤労感謝の日)");
}

int cal_jp_holidays(int year, struct cal_holiday *out, size_t max)
{
	struct jp_year y;
	int64_t ndays, d, e;
	size_t n = 0;
	int64_t yy;

	if (year < 2020 || year > 2099)
		return -1;
	memset(&y, 0, sizeof(y));
	y.year = year;
	y.jan1 = cal__days_from_civil(year, 1, 1);
	ndays = cal__days_from_civil(year + 1, 1, 1) - y.jan1;
	national_days(&y);
	/* Art. 3(3): a day between two national holidays is a holiday */
	for (d = 1; d + 1 < ndays; d++)
		if (!y.nat[d] && y.nat[d - 1] && y.nat[d + 1])
			y.any[d] = "Citizens' Holiday (国民の休日)";
	/* Art. 3(2): a national holiday on a Sunday makes the nearest
	 * following day that is not a national holiday a holiday */
	for (d = 0; d < ndays; d++) {
		if (!y.nat[d] || cal__weekday(y.jan1 + d) != 0)
			continue;
		for (e = d + 1; y.nat[e]; e++)
			;
		y.any[e] = "Substitute Holiday (振替休日)";
	}
	for (d = 0; d < ndays; d++) {
		if (!y.any[d])
			continue;
		if (n < max) {
			cal__civil_from_days(y.jan1 + d, &yy, &out[n].month, &out[n].day);
			out[n].name = y.any[d];
		}
		n++;
	}
	return n <= max ? (int)n : -1;
}
