/*
 * perf: Monitoring Plugins output, perfdata, threshold ranges, durations.
 *
 * Owns the one implementation of the text format that every Nagios-family
 * plugin prints; the host ABI functions (range_*, perf_format,
 * output_parse, duration_parse) are thin wrappers around these.
 *
 * Rules this file keeps:
 *  - pure: no allocation, no logging, no I/O, no global state;
 *  - never reads past the terminating NUL of its input, whatever the bytes
 *    (plugin output is untrusted; the random-input test runs under ASan);
 *  - numbers use one strict grammar, [+-]digits[.digits][e[+-]digits], so
 *    "nan", "inf", hex floats and locale-specific forms are rejected, and
 *    a value that overflows a double (1e400) is malformed.
 *
 * Speed: output parsing runs for every exec result, so the number parser
 * converts short decimals (<= 15 significant digits, |exp| <= 22) exactly
 * with one multiplication or division (Clinger's fast path) and only falls
 * back to strtod for the rare long or extreme numbers.  strtod and the %g
 * of the formatters assume LC_NUMERIC "C" (mamorid never changes it).
 */
#include "perfdata/perfdata.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exact powers of ten for the fast path (10^22 is the largest exact one). */
static const double perf_pow10[] = {
	1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Scan a decimal number at s.  Returns the first char after it and the
 * value in *out, or NULL when s does not start with a number or the value
 * is not finite.  Stops at the first char outside the grammar, so it never
 * passes a NUL, ';' or blank. */
static const char *num_scan(const char *s, double *out)
{
	const char *p = s;
	int neg = 0, ndig = 0, sig = 0, exp10 = 0;
	uint64_t mant = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; is_digit(*p); p++, ndig++) {
		if (mant == 0 && *p == '0')
			continue;
		if (sig < 19)
			mant = mant * 10 + (uint64_t)(*p - '0');
		else
			exp10++;
		sig++;
	}
	if (*p == '.') {
		for (p++; is_digit(*p); p++, ndig++) {
			if (mant == 0 && *p == '0') {
				exp10--;
				continue;
			}
			if (sig < 19) {
				mant = mant * 10 + (uint64_t)(*p - '0');
				exp10--;
			}
			sig++;
		}
	}
	if (ndig == 0)
		return NULL;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		int eneg = 0, e = 0;
		if (*q == '+' || *q == '-')
			eneg = *q++ == '-';
		if (is_digit(*q)) {
			for (; is_digit(*q); q++)
				if (e < 100000) /* saturate: beyond this it is 0 or inf anyway */
					e = e * 10 + (*q - '0');
			exp10 += eneg ? -e : e;
			p = q;
		}
	}
	double v;
	if (mant == 0) {
		v = 0.0;
	} else if (sig <= 15 && exp10 >= -22 && exp10 <= 22) {
		/* mant < 10^15 < 2^53 is exact, and so is the power of ten: one
		 * correctly rounded operation gives the correctly rounded result. */
		v = (double)mant;
		v = exp10 < 0 ? v / perf_pow10[-exp10] : v * perf_pow10[exp10];
	} else {
		char *end;
		errno = 0;
		v = strtod(s, &end);
		if (end != p || (errno == ERANGE && fabs(v) > 1.0))
			return NULL;
		*out = v;
		return isfinite(v) ? p : NULL;
	}
	*out = neg ? -v : v;
	return p;
}

/* A number filling exactly [s, e). */
static int num_span(const char *s, const char *e, double *out)
{
	const char *p;
	if (s >= e)
		return MAMORI_E_INVAL;
	p = num_scan(s, out);
	return p == e ? 0 : MAMORI_E_INVAL;
}

/* Parse a range filling exactly [s, e); *out is zeroed on error. */
static int range_span(const char *s, const char *e, struct mamori_range *out)
{
	struct mamori_range r = { 0 };
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (s < e && *s == '@') {
		r.inside = 1;
		s++;
	}
	if (s >= e)
		return MAMORI_E_INVAL;
	colon = memchr(s, ':', (size_t)(e - s));
	if (!colon) {
		if (num_span(s, e, &r.end) != 0)
			return MAMORI_E_INVAL;
	} else {
		/* "start:" with start empty means 0, as check_* tools read it */
		if (colon - s == 1 && *s == '~')
			r.start_inf = 1;
		else if (colon > s && num_span(s, colon, &r.start) != 0)
			return MAMORI_E_INVAL;
		if (colon + 1 == e)
			r.end_inf = 1;
		else if (num_span(colon + 1, e, &r.end) != 0)
			return MAMORI_E_INVAL;
	}
	if (!r.start_inf && !r.end_inf && r.start > r.end)
		return MAMORI_E_INVAL;
	r.set = 1;
	*out = r;
	return 0;
}

int perf_range_parse(const char *text, struct mamori_range *out)
{
	if (!text) {
		memset(out, 0, sizeof(*out));
		return MAMORI_E_INVAL;
	}
	return range_span(text, text + strlen(text), out);
}

int perf_range_alert(const struct mamori_range *r, double value)
{
	int in;
	if (!r || !r->set)
		return 0;
	if (isnan(value))
		return 1;
	in = (r->start_inf || value >= r->start) && (r->end_inf || value <= r->end);
	return r->inside ? in : !in;
}

int perf_range_state(const struct mamori_range *warn, const struct mamori_range *crit, double value)
{
	if (perf_range_alert(crit, value))
		return MAMORI_CRITICAL;
	if (perf_range_alert(warn, value))
		return MAMORI_WARNING;
	return MAMORI_OK;
}

/* ---- formatting --------------------------------------------------------- */

/* snprintf-style appender: `len` counts what was needed even when the
 * buffer is full; the buffer stays NUL-terminated. */
struct sbuf {
	char *buf;
	size_t size;
	size_t len;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->len < b->size) {
		size_t room = b->size - b->len - 1;
		size_t k = n < room ? n : room;
		memcpy(b->buf + b->len, s, k);
		b->buf[b->len + k] = '\0';
	}
	b->len += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* Shortest %g form (15..17 digits) that reads back to the same double. */
static void sb_num(struct sbuf *b, double v)
{
	char tmp[40];
	double back;
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (num_scan(tmp, &back) && back == v)
			break;
	}
	sb_puts(b, tmp);
}

static void sb_range(struct sbuf *b, const struct mamori_range *r)
{
	if (!r->set)
		return;
	if (r->inside)
		sb_putn(b, "@", 1);
	if (r->start_inf) {
		sb_putn(b, "~:", 2);
	} else if (r->start != 0.0 || r->end_inf) {
		sb_num(b, r->start);
		sb_putn(b, ":", 1);
	}
	if (!r->end_inf)
		sb_num(b, r->end);
}

int perf_range_format(const struct mamori_range *r, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };
	if (size)
		buf[0] = '\0';
	sb_range(&b, r);
	return (int)b.len;
}

static int label_needs_quotes(const char *s)
{
	for (; *s; s++)
		if (is_blank(*s) || *s == '=' || *s == '\'')
			return 1;
	return 0;
}

static void sb_label(struct sbuf *b, const char *label)
{
	const char *p;
	if (!label_needs_quotes(label)) {
		sb_puts(b, label);
		return;
	}
	sb_putn(b, "'", 1);
	for (p = label; *p; p++) {
		if (*p == '\'')
			sb_putn(b, "'", 1); /* '' escapes a quote */
		sb_putn(b, p, 1);
	}
	sb_putn(b, "'", 1);
}

static void sb_perf(struct sbuf *b, const struct mamori_perfdata *p)
{
	int last = 0;

	sb_label(b, p->label ? p->label : "");
	sb_putn(b, "=", 1);
	if ((p->flags & MAMORI_PERF_VALUE_UNKNOWN) || !isfinite(p->value))
		sb_putn(b, "U", 1);
	else
		sb_num(b, p->value);
	sb_puts(b, p->uom ? p->uom : "");
	if (p->warn.set)
		last = 1;
	if (p->crit.set)
		last = 2;
	if (p->flags & MAMORI_PERF_HAS_MIN)
		last = 3;
	if (p->flags & MAMORI_PERF_HAS_MAX)
		last = 4;
	if (last >= 1) {
		sb_putn(b, ";", 1);
		sb_range(b, &p->warn);
	}
	if (last >= 2) {
		sb_putn(b, ";", 1);
		sb_range(b, &p->crit);
	}
	if (last >= 3) {
		sb_putn(b, ";", 1);
		if (p->flags & MAMORI_PERF_HAS_MIN)
			sb_num(b, p->min);
	}
	if (last >= 4) {
		sb_putn(b, ";", 1);
		sb_num(b, p->max);
	}
}

int perf_format(const struct mamori_perfdata *p, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };
	if (size)
		buf[0] = '\0';
	sb_perf(&b, p);
	return (int)b.len;
}

int perf_format_all(const struct mamori_perfdata *p, size_t n, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };
	size_t i;
	if (size)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			sb_putn(&b, " ", 1);
		sb_perf(&b, &p[i]);
	}
	return (int)b.len;
}

/* ---- perfdata parsing ------------------------------------------------- */

/* Find the label at *pp: quoted or bare up to '='.  Nothing is written:
 * on success *label is its first char, *label_end one past its last (for
 * a quoted label the closing quote, its '' pairs still escaped), *quoted
 * says which, and *pp points at the '='.  On failure *pp is where to
 * resume skipping.
 *
 * Quoted labels follow the Monitoring Plugins guidelines: quotes are
 * needed when a label has blanks, and '' inside them stands for one '.
 * So inside quotes a blank is part of the label, never an item boundary:
 * when no closing quote comes, the item runs to the end of the text and
 * the whole rest is one malformed item.  Resuming inside it would read a
 * piece of the label as an item ("'a''b c=1" is not an item "c").  The
 * closing quote is found before anything is unescaped: unescaping as we
 * went once shifted the rest of an unterminated label over itself and
 * made "'a''b c=1" parse as c=11. */
static int label_scan(char **pp, char **label, char **label_end, int *quoted)
{
	char *p = *pp;

	*quoted = *p == '\'';
	if (!*quoted) {
		*label = p;
		while (*p && *p != '=' && !is_blank(*p))
			p++;
		*pp = p;
		if (*p != '=' || p == *label)
			return MAMORI_E_INVAL;
		*label_end = p;
		return 0;
	}
	*label = ++p;
	for (;;) {
		if (*p == '\0') {
			*pp = p; /* unterminated: the rest of the text is this item */
			return MAMORI_E_INVAL;
		}
		if (*p == '\'') {
			if (p[1] != '\'')
				break;
			p++; /* an escaped quote: skip the pair */
		}
		p++;
	}
	*pp = p + 1;
	if (p[1] != '=' || p == *label)
		return MAMORI_E_INVAL;
	*label_end = p;
	return 0;
}

/* Turn each '' of the quoted label [s, e) into ' in place (label_scan
 * checked that quotes come in pairs there); returns the new end. */
static char *label_unescape(char *s, char *e)
{
	char *w = s;
	for (; s < e; s++) {
		*w++ = *s;
		if (*s == '\'')
			s++;
	}
	return w;
}

/* The end of a ';'-separated field: the next ';', blank or NUL. */
static char *field_end(char *p)
{
	while (*p && *p != ';' && !is_blank(*p))
		p++;
	return p;
}

/* Any UOM text is kept ("dBm", "req/s"), but one with a digit, '.' or ','
 * means a number we did not understand ("1.2.3", "0x10", a locale's "0,5")
 * and must not pass as a smaller number with a unit. */
static int uom_ok(const char *s, const char *e)
{
	for (; s < e; s++)
		if (is_digit(*s) || *s == '.' || *s == ',')
			return 0;
	return 1;
}

/* Parse value[UOM] and the optional ;warn;crit;min;max after the '='.
 * Returns 0 with *pp after the item and *uom_end where the UOM's NUL
 * goes. */
static int fields_scan(char **pp, struct mamori_perfdata *it, char **uom_end)
{
	char *p = *pp, *e;
	const char *v;
	int i;

	if (p[0] == 'U' && (p[1] == '\0' || p[1] == ';' || is_blank(p[1]))) {
		it->flags |= MAMORI_PERF_VALUE_UNKNOWN;
		it->value = NAN;
		v = p + 1;
	} else if (!(v = num_scan(p, &it->value))) {
		*pp = p;
		return MAMORI_E_INVAL;
	}
	e = field_end((char *)v);
	if (!uom_ok(v, e)) {
		*pp = e;
		return MAMORI_E_INVAL;
	}
	it->uom = v;
	*uom_end = e;
	for (i = 0; *e == ';'; i++) {
		char *s = e + 1;
		e = field_end(s);
		if (s == e)
			continue; /* empty field, also trailing semicolons */
		if (i == 0 && range_span(s, e, &it->warn) == 0)
			continue;
		if (i == 1 && range_span(s, e, &it->crit) == 0)
			continue;
		if (i == 2 && num_span(s, e, &it->min) == 0) {
			it->flags |= MAMORI_PERF_HAS_MIN;
			continue;
		}
		if (i == 3 && num_span(s, e, &it->max) == 0) {
			it->flags |= MAMORI_PERF_HAS_MAX;
			continue;
		}
		*pp = e; /* malformed field, or a sixth non-empty one */
		return MAMORI_E_INVAL;
	}
	*pp = e;
	return 0;
}

/* Parse one item at *pp into *it.  The text is written (label unescaped,
 * NULs) only for a good item: a bad one keeps its bytes. */
static int item_scan(char **pp, struct mamori_perfdata *it)
{
	char *label, *label_end, *uom_end;
	int quoted;

	memset(it, 0, sizeof(*it));
	if (label_scan(pp, &label, &label_end, &quoted) != 0)
		return MAMORI_E_INVAL;
	(*pp)++; /* the '=' */
	if (fields_scan(pp, it, &uom_end) != 0)
		return MAMORI_E_INVAL;
	/* *pp is at a blank or the NUL: the UOM's NUL may overwrite that
	 * blank, so step over it first. */
	if (**pp)
		(*pp)++;
	if (quoted)
		label_end = label_unescape(label, label_end);
	*label_end = '\0';
	*uom_end = '\0';
	it->label = label;
	return 0;
}

int perf_parse(char *text, struct mamori_perfdata *items, size_t max, size_t *n_bad)
{
	size_t n = 0, bad = 0;
	char *p = text;

	if (!text)
		goto out;
	while (n < max) {
		while (is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		if (item_scan(&p, &items[n]) == 0) {
			n++;
			continue;
		}
		bad++;
		while (*p && !is_blank(*p))
			p++;
	}
out:
	if (n_bad)
		*n_bad = bad;
	return (int)n;
}

/* ---- whole plugin output -------------------------------------------- */

/* Cut trailing blanks of [s, e) by writing a NUL; e points at a char that
 * is about to become (or already is) a NUL. */
static void rtrim(char *s, char *e)
{
	while (e > s && is_blank(e[-1]))
		e--;
	*e = '\0';
}

int perf_output_parse(char *text, struct mamori_result *res, struct mamori_perfdata *items,
                      size_t max_items, size_t *n_bad)
{
	char *nl, *bar, *rest = NULL, *bar2 = NULL, *perf1 = NULL, *perf2 = NULL, *line_end;
	size_t bad1 = 0, bad2 = 0;
	int n = 0;

	if (n_bad)
		*n_bad = 0;
	if (!text || !res || (!items && max_items))
		return MAMORI_E_INVAL;
	/* Find every boundary before writing any NUL. */
	nl = strchr(text, '\n');
	line_end = nl ? nl : text + strlen(text);
	bar = memchr(text, '|', (size_t)(line_end - text));
	if (nl) {
		rest = nl + 1;
		bar2 = strchr(rest, '|');
	}
	if (bar) {
		perf1 = bar + 1;
		*line_end = '\0';
		rtrim(text, bar);
	} else {
		rtrim(text, line_end);
	}
	res->output = text;
	res->long_output = NULL;
	if (rest) {
		if (bar2) {
			perf2 = bar2 + 1;
			*bar2 = '\0';
		}
		rtrim(rest, rest + strlen(rest));
		if (*rest)
			res->long_output = rest;
	}
	if (perf1)
		n = perf_parse(perf1, items, max_items, &bad1);
	if (perf2 && (size_t)n < max_items)
		n += perf_parse(perf2, items + n, max_items - (size_t)n, &bad2);
	res->perf = n ? items : NULL;
	res->n_perf = (size_t)n;
	if (n_bad)
		*n_bad = bad1 + bad2;
	return n;
}

/* ---- durations ---------------------------------------------------------- */

int perf_duration_parse(const char *text, double *out_seconds)
{
	/* Units from largest to smallest; each may appear once, in this order,
	 * so "1h30m" is fine and the typo "1m30m" is an error. */
	static const struct {
		const char *name;
		size_t len;
		double secs;
	} units[] = {
		{ "w", 1, 604800.0 }, { "d", 1, 86400.0 }, { "h", 1, 3600.0 },
		{ "m", 1, 60.0 },     { "s", 1, 1.0 },     { "ms", 2, 0.001 },
	};
	const char *p = text;
	double total = 0.0, v;
	size_t next = 0, i;

	if (!text || !*text)
		goto fail;
	while (*p) {
		/* digits and a dot only: no sign, no exponent, no "inf" */
		const char *q = p;
		while (is_digit(*q) || *q == '.')
			q++;
		if (num_span(p, q, &v) != 0)
			goto fail;
		p = q;
		if (*p == '\0' && next == 0) {
			total = v; /* a bare number: seconds */
			break;
		}
		for (i = next; i < sizeof(units) / sizeof(units[0]); i++)
			if (strncmp(p, units[i].name, units[i].len) == 0 &&
			    !(units[i].name[0] == 'm' && units[i].len == 1 && p[1] == 's'))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			goto fail;
		total += v * units[i].secs;
		p += units[i].len;
		next = i + 1;
	}
	if (!isfinite(total))
		goto fail;
	*out_seconds = total;
	return 0;
fail:
	return MAMORI_E_INVAL;
}
