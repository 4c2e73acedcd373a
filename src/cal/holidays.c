/*
 * holidays.c: holiday tables (CSV files under share/mamori/holidays/ or
 * the user's own) into a calendar.
 *
 * Format, one holiday a line:  YYYY-MM-DD,name
 * '#' starts a comment line; blank lines, a UTF-8 BOM and CRLF line ends
 * are accepted; anything else is an error that names the file and line, so
 * a typo in a holiday table stops startup instead of silently opening the
 * help desk's clock on a holiday.  This is the only file of the module
 * that does I/O.
 */
#define MAMORI_CAL_INTERNAL
#include "cal/cal.h"

#include "buildcfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CAL_LINE_MAX 1024

/* 0 when line is a valid "YYYY-MM-DD,name": date in *y, *m, *d. */
static int parse_line(const char *s, int *y, int *m, int *d)
{
	int i;
	const char *name = s + 11;

	for (i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i]))
			return -1;
	if (s[10] != ',' || !*name)
		return -1;
	for (; *name; name++)
		if ((unsigned char)*name < 0x20 || *name == 0x7f)
			return -1;
	*y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	*m = (s[5] - '0') * 10 + (s[6] - '0');
	*d = (s[8] - '0') * 10 + (s[9] - '0');
	return 0;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

int cal_holidays_load(struct cal *c, const char *path, char *err, size_t errlen)
{
	char line[CAL_LINE_MAX], *s;
	int y, m, d, lineno = 0;
	FILE *f = fopen(path, "re");

	if (!err || !errlen) /* the messages below need somewhere to go */
		err = line, errlen = sizeof(line);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto fail;
		}
		chomp(line);
		s = line;
		if (lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
			s += 3;
		if (!*s || *s == '#')
			continue;
		if (parse_line(s, &y, &m, &d) || cal_add_holiday(c, y, m, d)) {
			snprintf(err, errlen,
			         "%s:%d: expected \"YYYY-MM-DD,name\" with a valid date", path,
			         lineno);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}

int cal_holidays_path(const char *spec, const char *datadir, char *buf, size_t size)
{
	const char *p;
	int n;

	if (!spec || !*spec)
		return -1;
	if (strchr(spec, '/')) {
		n = snprintf(buf, size, "%s", spec);
	} else {
		for (p = spec; *p; p++)
			if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			      *p == '_' || *p == '-'))
				return -1;
		n = snprintf(buf, size, "%s/holidays/%s.csv", datadir ? datadir : MAMORI_DATADIR,
		             spec);
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
