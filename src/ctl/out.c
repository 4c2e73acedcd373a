/*
 * out: what mamorictl prints for people - messages in English or
 * Japanese (LC_ALL, else LC_MESSAGES, else LANG: "ja..." is Japanese),
 * text from the server escaped (util/esc.h), API times in the local time
 * zone, and tables whose columns line up in display width (wcwidth: a
 * kanji takes two cells).
 *
 * The strings are pairs in the callers (L("STATE", "状態")): two
 * languages, no catalog to install.  Widths need a UTF-8 LC_CTYPE;
 * when the user's locale is not installed (or not UTF-8), C.UTF-8 is
 * used for it, which Debian always has: what is printed is UTF-8 anyway
 * (the API's text is, and so is esc_text's output).
 * Must never: print a server string without esc_text (a check's output
 * may hold ESC sequences); change anything but LC_CTYPE.
 */
#include "ctl/ctl.h"
#include "util/esc.h"
#include "util/mem.h"

#include <langinfo.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define SAFE_SLOTS 32 /* escaped strings alive at once: more than one printf uses */

static int japanese;
static char *safe[SAFE_SLOTS];
static unsigned safe_next;

void out_init(void)
{
	const char *v = NULL;
	static const char *const vars[] = { "LC_ALL", "LC_MESSAGES", "LANG" };
	for (size_t i = 0; i < ARRAY_LEN(vars) && !v; i++) {
		const char *e = getenv(vars[i]);
		if (e && *e)
			v = e;
	}
	japanese = v && strncmp(v, "ja", 2) == 0;
	if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

int out_japanese(void)
{
	return japanese;
}

const char *L(const char *en, const char *ja)
{
	return japanese ? ja : en;
}

const char *out_word(const char *w)
{
	static const char *const words[][3] = {
		{ "open", "open", "未対応" },
		{ "acknowledged", "acknowledged", "確認済" },
		{ "resolved", "resolved", "解決済" },
		{ "unresolved", "unresolved", "未解決" },
		{ "runtime", "runtime", "実行時" },
		{ "config", "config", "設定" },
		{ "ok", "OK", "OK" },
		{ "warning", "WARNING", "WARNING" },
		{ "critical", "CRITICAL", "CRITICAL" },
		{ "unknown", "UNKNOWN", "UNKNOWN" },
		{ "pending", "PENDING", "PENDING" },
		{ "hard", "HARD", "HARD" },
		{ "soft", "SOFT", "SOFT" },
	};
	if (!w)
		return "-";
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (strcmp(w, words[i][0]) == 0)
			return words[i][japanese ? 2 : 1];
	return out_safe(w);
}

const char *out_safe(const char *s)
{
	if (!s)
		return "-";
	if (!esc_needed(s))
		return s;
	char **slot = &safe[safe_next++ % SAFE_SLOTS];
	free(*slot);
	*slot = esc_dup(s);
	return *slot;
}

void out_free(void)
{
	for (size_t i = 0; i < SAFE_SLOTS; i++) {
		free(safe[i]);
		safe[i] = NULL;
	}
}

size_t out_width(const char *s)
{
	mbstate_t st;
	memset(&st, 0, sizeof st);
	size_t w = 0, n = strlen(s);
	while (n > 0) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s, n, &st);
		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			/* not UTF-8 in this locale: a byte, a cell */
			memset(&st, 0, sizeof st);
			k = 1;
			w++;
		} else {
			int cw = wcwidth(wc);
			w += cw < 0 ? 1 : (size_t)cw;
		}
		s += k;
		n -= k;
	}
	return w;
}

/* ---- times ---- */

int out_parse_time(const char *v, double *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *p = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	double frac = 0;
	if (*p == '.') {
		char *e = NULL;
		frac = strtod(p, &e);
		p = e;
	}
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int hh = (p[1] - '0') * 10 + (p[2] - '0');
		int mm = (p[4] - '0') * 10 + (p[5] - '0');
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (double)t - (double)off + frac;
	return 0;
}

const char *out_time(const cJSON *t, char *buf, size_t len)
{
	double x;
	if (!cJSON_IsString(t) || out_parse_time(t->valuestring, &x) != 0)
		return "-";
	time_t tt = (time_t)x;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		return "-";
	return buf;
}

int opt_time(const char *opt, const char *v, double *out)
{
	char *e = NULL;
	if (v[0] == '+' && v[1] >= '0' && v[1] <= '9') {
		double n = strtod(v + 1, &e);
		double unit = *e == 's'   ? 1
		              : *e == 'm' ? 60
		              : *e == 'h' ? 3600
		              : *e == 'd' ? 86400
		                          : 0;
		if (unit > 0 && e[1] == '\0' && n * unit < 1e10) {
			*out = (double)time(NULL) + n * unit;
			return 0;
		}
	} else if (v[0] >= '0' && v[0] <= '9') {
		double n = strtod(v, &e);
		if (*e == '\0' && n < 1e11) {
			*out = n;
			return 0;
		}
		if (out_parse_time(v, out) == 0)
			return 0;
		/* a local time without a zone: "2026-12-24 18:00[:00]" */
		static const char *const local[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
			                             "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M" };
		for (size_t i = 0; i < ARRAY_LEN(local); i++) {
			struct tm tm;
			memset(&tm, 0, sizeof tm);
			const char *p = strptime(v, local[i], &tm);
			if (p && !*p) {
				tm.tm_isdst = -1;
				time_t t = mktime(&tm);
				if (t != (time_t)-1) {
					*out = (double)t;
					return 0;
				}
			}
		}
	}
	fprintf(stderr, "mamorictl: %s: '%s' %s\n", opt, out_safe(v),
	        L("is not a time (RFC 3339, seconds since the epoch, \"YYYY-MM-DD HH:MM\" in the "
	          "local time zone, or +30m, +2h, +1d from now)",
	          "は時刻ではありません (RFC 3339、エポック秒、現地時刻の \"YYYY-MM-DD HH:MM\"、"
	          "または今からの +30m、+2h、+1d)"));
	return -1;
}

/* ---- JSON ---- */

const cJSON *jt(const cJSON *o, const char *key)
{
	return o && cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

const char *js(const cJSON *o, const char *key)
{
	const cJSON *v = jt(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double jn(const cJSON *o, const char *key, double dflt)
{
	const cJSON *v = jt(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int jb(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(jt(o, key));
}

/* ---- tables ---- */

static void table_add(struct table *t, va_list ap)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
	}
	char **row = &t->cells[t->nrows * t->ncols];
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		char *e = esc_dup(s ? s : "-");
		/* esc keeps TAB (it cannot forge a line): a space here, or the
		 * columns would not line up */
		for (char *p = e; *p; p++)
			if (*p == '\t')
				*p = ' ';
		row[i] = e;
	}
	t->nrows++;
}

void table_init(struct table *t, size_t ncols, ...)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	va_list ap;
	va_start(ap, ncols);
	table_add(t, ap);
	va_end(ap);
}

void table_row(struct table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	table_add(t, ap);
	va_end(ap);
}

void table_print(struct table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof *w);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols; i++) {
			size_t x = out_width(t->cells[r * t->ncols + i]);
			if (x > w[i])
				w[i] = x;
		}
	struct sb line = { 0 };
	for (size_t r = 0; r < t->nrows; r++) {
		line.n = 0;
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			sb_add(&line, s, strlen(s));
			if (i + 1 == t->ncols)
				break;
			for (size_t pad = w[i] - out_width(s) + 2; pad > 0; pad--)
				sb_add(&line, " ", 1);
		}
		/* empty cells at the end leave no trailing blanks */
		while (line.n && line.p[line.n - 1] == ' ')
			line.n--;
		fwrite(line.p, 1, line.n, f);
		fputc('\n', f);
	}
	sb_free(&line);
	free(w);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof *t);
}
