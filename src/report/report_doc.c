/*
 * report_doc: step 3 of a report - the month's figures as a document of
 * blocks (headings, paragraphs, tables, charts, lists) in the customer's
 * language, so that the HTML and the PDF say exactly the same things and
 * the words live in share/mamori/report, not here.
 *
 * Numbers are formatted once, here: percentages are cut (never rounded
 * up) to two decimals, so an outage never shows as 100.00 %; durations
 * are whole minutes; times are local to the customer's calendar.
 *
 * Must never: put a text from the store anywhere but a cell or a
 * sentence's value (the renderers escape them), or decide a figure (the
 * figures are report_data.c's).
 */
#include "report/report_int.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time helpers ---- */

static long offset_at(const struct report_input *in, double t)
{
	long off = in->n_offs ? in->offs[0].off : 0;
	for (size_t i = 0; i < in->n_offs; i++)
		if (t >= in->offs[i].t)
			off = in->offs[i].off;
	return off;
}

static void local_tm(const struct report_input *in, double t, struct tm *tm)
{
	time_t lt = (time_t)floor(t) + offset_at(in, t);
	gmtime_r(&lt, tm);
}

void report__local(const struct report_input *in, double t, int with_date, char *buf, size_t len)
{
	struct tm tm;
	local_tm(in, t, &tm);
	if (with_date)
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		         tm.tm_mday, tm.tm_hour, tm.tm_min);
	else
		snprintf(buf, len, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

int report__day_of(const struct report_input *in, double t)
{
	if (t < in->day[0] || t >= in->day[in->n_days])
		return -1;
	int lo = 0, hi = in->n_days - 1;
	while (lo < hi) {
		int m = (lo + hi + 1) / 2;
		if (in->day[m] <= t)
			lo = m;
		else
			hi = m - 1;
	}
	return lo;
}

int report__parse_rfc3339(const char *s, double *out)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	const char *p = s + 19;
	double frac = 0;
	if (*p == '.') {
		double scale = 0.1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	long off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
			return -1;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	struct tm tm = { .tm_year = y - 1900,
		         .tm_mon = mo - 1,
		         .tm_mday = d,
		         .tm_hour = h,
		         .tm_min = mi,
		         .tm_sec = sec };
	*out = (double)timegm(&tm) - (double)off + frac;
	return 0;
}

/* ---- the document ---- */

struct ctx {
	const struct report *r;
	const struct report_input *in;
	const struct rtexts *t;
	struct rdoc *d;
};

static const char *T(const struct ctx *x, const char *key)
{
	return rtext(x->t, key);
}

/* key filled with vars, as a new string */
static char *F(const struct ctx *x, const char *key, const char *const *vars)
{
	struct rbuf b = { 0 };
	rtext_fill(&b, x->t, key, vars);
	if (!b.p)
		rbuf_add(&b, "", 0);
	return b.p;
}

static struct rblk *blk(struct ctx *x, int type, char *text /* taken */)
{
	struct rdoc *d = x->d;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->b = xrealloc(d->b, d->cap * sizeof *d->b);
	}
	struct rblk *b = &d->b[d->n++];
	memset(b, 0, sizeof *b);
	b->type = type;
	b->text = text;
	return b;
}

static struct rblk *para(struct ctx *x, int type, const char *key, const char *const *vars)
{
	return blk(x, type, F(x, key, vars));
}

static struct rblk *table(struct ctx *x, int ncols, const char *const *head)
{
	struct rblk *b = blk(x, RB_TABLE, NULL);
	b->ncols = ncols;
	b->num_col = xcalloc((size_t)ncols, sizeof *b->num_col);
	b->cells = NULL;
	b->nrows = 0;
	b->row_cls = NULL;
	/* header */
	b->cells = xcalloc((size_t)ncols, sizeof *b->cells);
	b->row_cls = xcalloc(1, sizeof *b->row_cls);
	for (int i = 0; i < ncols; i++)
		b->cells[i] = xstrdup(head[i] ? head[i] : "");
	b->nrows = 1;
	return b;
}

/* The block at index i (blocks move when the array grows). */
static void row(struct rblk *b, int cls, const char *const *cells)
{
	b->cells = xrealloc(b->cells, (size_t)(b->nrows + 1) * (size_t)b->ncols * sizeof *b->cells);
	b->row_cls = xrealloc(b->row_cls, (size_t)(b->nrows + 1) * sizeof *b->row_cls);
	for (int i = 0; i < b->ncols; i++)
		b->cells[b->nrows * b->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
	b->row_cls[b->nrows++] = cls;
}

static void list_add(struct rblk *b, char *item /* taken */)
{
	b->items = xrealloc(b->items, (size_t)(b->n_items + 1) * sizeof *b->items);
	b->items[b->n_items++] = item;
}

/* ---- formatting ---- */

static void fmt_num(char *buf, size_t len, double v, int decimals)
{
	snprintf(buf, len, "%.*f", decimals, v);
}

/* up / (up + down) cut to two decimals; "-" without data */
static void fmt_pct(const struct ctx *x, char *buf, size_t len, double up, double down)
{
	if (up + down <= 0) {
		snprintf(buf, len, "%s", T(x, "no_data_short"));
		return;
	}
	double p = floor(10000.0 * up / (up + down)) / 100.0;
	char v[32];
	snprintf(v, sizeof v, "%.2f", p);
	const char *vars[] = { "v", v, NULL };
	char *s = F(x, "pct", vars);
	snprintf(buf, len, "%s", s);
	free(s);
}

static void fmt_dur(const struct ctx *x, char *buf, size_t len, double secs)
{
	long min = (long)floor(secs / 60.0 + 0.5);
	char h[32], m[32];
	snprintf(h, sizeof h, "%ld", min / 60);
	snprintf(m, sizeof m, "%ld", min % 60);
	const char *vars[] = { "h", h, "m", m, NULL };
	const char *key = min >= 60 ? (min % 60 ? "dur_hm" : "dur_h") : "dur_m";
	char *s = F(x, key, vars);
	snprintf(buf, len, "%s", s);
	free(s);
}

static void fmt_secs(const struct ctx *x, char *buf, size_t len, double secs)
{
	char v[32];
	if (secs < 10)
		fmt_num(v, sizeof v, secs, 1);
	else
		fmt_num(v, sizeof v, secs, 0);
	const char *vars[] = { "v", v, NULL };
	char *s = F(x, "secs", vars);
	snprintf(buf, len, "%s", s);
	free(s);
}

static void fmt_date(const struct ctx *x, char *buf, size_t len, double t)
{
	struct tm tm;
	local_tm(x->in, t, &tm);
	char y[16], m[16], d[16], key[24];
	snprintf(y, sizeof y, "%d", tm.tm_year + 1900);
	snprintf(m, sizeof m, "%d", tm.tm_mon + 1);
	snprintf(d, sizeof d, "%d", tm.tm_mday);
	snprintf(key, sizeof key, "month.%d", tm.tm_mon + 1);
	const char *vars[] = { "y", y, "m", m, "d", d, "mon", T(x, key), NULL };
	char *s = F(x, "date", vars);
	snprintf(buf, len, "%s", s);
	free(s);
}

static void fmt_when(const struct ctx *x, char *buf, size_t len, double t)
{
	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	report__local(x->in, t, 1, buf, len);
}

static char *month_title(const struct ctx *x)
{
	char y[16], m[16], key[24];
	snprintf(y, sizeof y, "%d", x->in->year);
	snprintf(m, sizeof m, "%d", x->in->month);
	snprintf(key, sizeof key, "month.%d", x->in->month);
	const char *vars[] = { "y", y, "m", m, "mon", T(x, key), NULL };
	return F(x, "month_title", vars);
}

static const char *sev_key(int s)
{
	return s == 1 ? "sev.warning" : s == 3 ? "sev.unknown" : "sev.critical";
}

static const char *svc_key(int s)
{
	static const char *const k[SVC__COUNT] = { "svc.defender", "svc.utm", "svc.mail",
		                                   "svc.dns",      "svc.web", "svc.other" };
	return s >= 0 && s < SVC__COUNT ? k[s] : "svc.other";
}

static int is_pc(const struct rep_check *c)
{
	return (c->svc == SVC_DEFENDER || strcmp(c->plugin, "defender") == 0) &&
	       (c->configured || c->n_segs);
}

static int counts(const struct rep_check *c)
{
	return c->configured || c->n_segs;
}

/* ---- findings (what the recommendations are chosen from) ---- */

enum finding {
	FD_DEFENDER_OFF,
	FD_PC_SILENT,
	FD_SIG_OLD,
	FD_UTM_DOWN,
	FD_UTM_CPU,
	FD_MAIL_SLOW,
	FD_DNS_SPF,
	FD_DNS_DKIM,
	FD_DNS_DMARC,
	FD_DNS_OTHER,
	FD_SLA_LATE,
	FD__COUNT
};
static const char *const finding_key[FD__COUNT] = {
	"rec.defender_off", "rec.pc_silent", "rec.signatures_old", "rec.utm_down",
	"rec.utm_cpu",      "rec.mail_slow", "rec.dns_spf",        "rec.dns_dkim",
	"rec.dns_dmarc",    "rec.dns_other", "rec.sla_late",
};

/* Which kind of DNS record a dns_txt check watches: by its name, else by
 * its output. */
static const char *dns_kind(const struct rep_check *c)
{
	const char *k[] = { "spf", "dkim", "dmarc" };
	for (int i = 0; i < 3; i++) {
		char up[8];
		snprintf(up, sizeof up, "%s", k[i]);
		for (char *p = up; *p; p++)
			*p = (char)(*p - 32);
		if (strcasestr(c->check, k[i]) || (c->end_output && strstr(c->end_output, up)))
			return k[i];
	}
	return "txt";
}

/* ---- the sections ---- */

static void summary(struct ctx *x, int *found)
{
	const struct report *r = x->r;
	const struct report_input *in = x->in;
	struct rbuf s = { 0 };
	char a[128], b[128], c[128], n[32];
	char *mt = month_title(x);
	/* sentences: a space between them in English, none in Japanese */
	const char *sep = strcmp(in->lang, "ja") == 0 ? "" : " ";
	if (!r->first_data && !r->n_alerts) {
		const char *v[] = { "customer", in->name, "month", mt, NULL };
		rtext_fill(&s, x->t, "sum.no_data", v);
		rbuf_puts(&s, sep);
	}
	if (in->now < in->to) {
		fmt_date(x, a, sizeof a, r->end);
		const char *v[] = { "date", a, NULL };
		rtext_fill(&s, x->t, "sum.partial", v);
		rbuf_puts(&s, sep);
	}
	if (r->first_data > in->from + 3600) {
		fmt_date(x, a, sizeof a, r->first_data);
		const char *v[] = { "date", a, NULL };
		rtext_fill(&s, x->t, "sum.started", v);
		rbuf_puts(&s, sep);
	}
	if (r->gap[0] >= 60) {
		fmt_dur(x, a, sizeof a, r->gap[0]);
		const char *v[] = { "all", a, NULL };
		rtext_fill(&s, x->t, "sum.gap", v);
		rbuf_puts(&s, sep);
	}
	/* PCs */
	if (r->n_pcs) {
		struct rbuf ex = { 0 };
		int n_ex = 0;
		for (size_t i = 0; i < r->n_checks; i++) {
			const struct rep_check *k = &r->checks[i];
			if (!is_pc(k) || k->t.down[0] <= 0)
				continue;
			fmt_dur(x, a, sizeof a, k->t.down[1]);
			fmt_dur(x, b, sizeof b, k->t.down[0]);
			const char *v[] = { "pc", k->asset, "biz", a, "all", b, NULL };
			if (n_ex++)
				rbuf_puts(&ex, T(x, "list_sep"));
			rtext_fill(&ex, x->t, in->calendar ? "sum.pc_off" : "sum.pc_off_nobiz", v);
			found[FD_DEFENDER_OFF] = 1;
		}
		snprintf(n, sizeof n, "%u", r->n_pcs);
		if (n_ex) {
			const char *v[] = { "n", n, "list", ex.p, NULL };
			rtext_fill(&s, x->t, "sum.pcs_except", v);
		} else if (r->svc[SVC_DEFENDER].up[0] > 0) {
			const char *v[] = { "n", n, NULL };
			rtext_fill(&s, x->t, "sum.pcs_all", v);
		} else {
			const char *v[] = { "n", n, NULL };
			rtext_fill(&s, x->t, "sum.pcs_nodata", v);
		}
		rbuf_puts(&s, sep);
		rbuf_free(&ex);
		unsigned silent = 0;
		for (size_t i = 0; i < r->n_checks; i++)
			silent += is_pc(&r->checks[i]) && r->checks[i].t.silent[1] >= 3600;
		if (silent) {
			snprintf(n, sizeof n, "%u", silent);
			const char *v[] = { "n", n, NULL };
			rtext_fill(&s, x->t, "sum.pcs_silent", v);
			rbuf_puts(&s, sep);
			found[FD_PC_SILENT] = 1;
		}
	}
	/* UTM */
	if (r->n_utm) {
		const struct rep_time *u = &r->svc[SVC_UTM];
		if (u->down[0] > 0) {
			fmt_dur(x, a, sizeof a, u->down[0]);
			fmt_dur(x, b, sizeof b, u->down[1]);
			const char *v[] = { "all", a, "biz", b, NULL };
			rtext_fill(&s, x->t, in->calendar ? "sum.utm_down" : "sum.utm_down_nobiz",
			           v);
			found[FD_UTM_DOWN] = 1;
		} else if (u->up[0] > 0) {
			rtext_fill(&s, x->t, "sum.utm_ok", NULL);
		}
		rbuf_puts(&s, sep);
	}
	/* mail */
	if (r->mail_have) {
		fmt_secs(x, a, sizeof a, r->mail_p50);
		fmt_secs(x, b, sizeof b, r->mail_worst_max);
		c[0] = '\0';
		if (r->mail_worst_day >= 0)
			fmt_date(x, c, sizeof c, in->day[r->mail_worst_day]);
		const char *v[] = { "p50", a, "max", b, "day", c, NULL };
		rtext_fill(&s, x->t, "sum.mail", v);
		rbuf_puts(&s, sep);
		if (r->mail_p95 > 300)
			found[FD_MAIL_SLOW] = 1;
	}
	/* DNS */
	int dns = 0, dns_bad = 0;
	struct rbuf bad = { 0 };
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct rep_check *k = &r->checks[i];
		if (strcmp(k->plugin, "dns_txt") != 0 || !counts(k))
			continue;
		dns++;
		if (k->end_state > 0) {
			const char *kind = dns_kind(k);
			char key[32];
			snprintf(key, sizeof key, "dns.%s", kind);
			if (dns_bad++)
				rbuf_puts(&bad, T(x, "list_sep"));
			rbuf_puts(&bad, T(x, key));
			found[strcmp(kind, "spf") == 0     ? FD_DNS_SPF
			      : strcmp(kind, "dkim") == 0  ? FD_DNS_DKIM
			      : strcmp(kind, "dmarc") == 0 ? FD_DNS_DMARC
			                                   : FD_DNS_OTHER] = 1;
		}
	}
	if (dns) {
		const char *v[] = { "list", bad.p ? bad.p : "", NULL };
		rtext_fill(&s, x->t, dns_bad ? "sum.dns_bad" : "sum.dns_ok", v);
		rbuf_puts(&s, sep);
	}
	rbuf_free(&bad);
	/* alerts */
	unsigned na = 0, late = 0;
	for (size_t i = 0; i < r->n_alerts; i++) {
		if (!r->alerts[i].in_month)
			continue;
		na++;
		late += r->alerts[i].ack_late || r->alerts[i].resolve_late;
	}
	if (na) {
		char nn[32], nl[32];
		snprintf(nn, sizeof nn, "%u", na);
		snprintf(nl, sizeof nl, "%u", late);
		const char *v[] = { "n", nn, "late", nl, NULL };
		rtext_fill(&s, x->t, late ? "sum.alerts_late" : "sum.alerts_ok", v);
		if (late)
			found[FD_SLA_LATE] = 1;
	} else if (r->first_data) {
		rtext_fill(&s, x->t, "sum.no_alerts", NULL);
	}
	/* trailing space */
	while (s.n && s.p[s.n - 1] == ' ')
		s.p[--s.n] = '\0';
	if (!s.p)
		rbuf_add(&s, "", 0);
	blk(x, RB_PARA, xstrdup(s.p));
	x->d->summary = s.p;
	free(mt);
}

static void watched(struct ctx *x)
{
	const struct report *r = x->r;
	para(x, RB_H2, "h.watched", NULL);
	struct rblk *l = blk(x, RB_LIST, NULL);
	char n[32];
	struct rbuf names = { 0 };
	int k = 0;
	for (size_t i = 0; i < r->n_checks; i++)
		if (is_pc(&r->checks[i])) {
			if (k++)
				rbuf_puts(&names, T(x, "list_sep"));
			rbuf_puts(&names, r->checks[i].asset);
		}
	snprintf(n, sizeof n, "%u", r->n_pcs);
	const char *v1[] = { "n", n, "names", names.p ? names.p : "", NULL };
	if (r->n_pcs)
		list_add(l, F(x, "w.pcs", v1));
	rbuf_free(&names);
	snprintf(n, sizeof n, "%u", r->n_utm);
	const char *v2[] = { "n", n, NULL };
	if (r->n_utm)
		list_add(l, F(x, "w.utm", v2));
	snprintf(n, sizeof n, "%u", r->n_mail);
	const char *v3[] = { "n", n, NULL };
	if (r->n_mail)
		list_add(l, F(x, "w.mail", v3));
	snprintf(n, sizeof n, "%u", r->n_domains);
	const char *v4[] = { "n", n, NULL };
	if (r->n_domains)
		list_add(l, F(x, "w.dns", v4));
	if (r->svc_checks[SVC_WEB]) {
		snprintf(n, sizeof n, "%u", r->svc_checks[SVC_WEB]);
		const char *v5[] = { "n", n, NULL };
		list_add(l, F(x, "w.web", v5));
	}
	if (!l->n_items)
		list_add(l, xstrdup(T(x, "w.nothing")));
}

/* The time no daemon was monitoring: said, with its times (the first
 * few), and that it counts as no data. */
static void gaps(struct ctx *x)
{
	const struct report *r = x->r;
	if (!r->n_gaps)
		return;
	char all[64], bz[64];
	fmt_dur(x, all, sizeof all, r->gap[0]);
	fmt_dur(x, bz, sizeof bz, r->gap[1]);
	struct rbuf when = { 0 };
	for (size_t i = 0; i < r->n_gaps && i < 5; i++) {
		char a[64], b[64];
		fmt_when(x, a, sizeof a, r->gaps[i].a);
		fmt_when(x, b, sizeof b, r->gaps[i].b);
		if (i)
			rbuf_puts(&when, T(x, "list_sep"));
		rbuf_puts(&when, a);
		rbuf_puts(&when, " - ");
		rbuf_puts(&when, b);
	}
	if (r->n_gaps > 5)
		rbuf_puts(&when, T(x, "list_more"));
	const char *v[] = { "all", all, "biz", bz, "when", when.p ? when.p : "", NULL };
	para(x, RB_PARA, x->in->calendar ? "av.gap" : "av.gap_nobiz", v);
	rbuf_free(&when);
}

static void availability(struct ctx *x)
{
	const struct report *r = x->r;
	para(x, RB_H2, "h.availability", NULL);
	const char *head[] = { T(x, "av.service"), T(x, "av.checks"), T(x, "av.biz"),
		               T(x, "av.all"),     T(x, "av.down"),   T(x, "av.silent") };
	struct rblk *b = table(x, 6, head);
	for (int i = 1; i < 6; i++)
		b->num_col[i] = 1;
	size_t bi = (size_t)(b - x->d->b);
	int any = 0;
	for (int s = 0; s < SVC__COUNT; s++) {
		if (!r->svc_checks[s])
			continue;
		any = 1;
		const struct rep_time *t = &r->svc[s];
		char n[32], pb[64], pa[64], dn[64], si[64];
		snprintf(n, sizeof n, "%u", r->svc_checks[s]);
		if (x->in->calendar)
			fmt_pct(x, pb, sizeof pb, t->up[1], t->down[1]);
		else
			snprintf(pb, sizeof pb, "%s", T(x, "no_calendar_short"));
		fmt_pct(x, pa, sizeof pa, t->up[0], t->down[0]);
		fmt_dur(x, dn, sizeof dn, t->down[0]);
		fmt_dur(x, si, sizeof si, t->silent[0]);
		const char *cells[] = { T(x, svc_key(s)), n, pb, pa, dn, si };
		row(&x->d->b[bi],
		    t->down[0] > 0 ? RC_BAD
		    : t->up[0] > 0 ? RC_GOOD
		                   : RC_MUTED,
		    cells);
	}
	if (!any)
		para(x, RB_NOTE, "av.none", NULL);
	para(x, RB_NOTE, x->in->calendar ? "av.note" : "av.note_nobiz", NULL);
	gaps(x);
}

/* The SLA terms the alerts ran on, one line per tier: the contract's, or
 * each routed center's (named when there are several). */
static void terms(struct ctx *x)
{
	const struct report_input *in = x->in;
	if (!in->n_tiers)
		return;
	int centers = 0; /* more than one center: each tier says whose */
	const char *c0 = in->tiers[0].center;
	for (size_t i = 1; i < in->n_tiers; i++) {
		const char *c = in->tiers[i].center;
		if (!c != !c0 || (c && strcmp(c, c0) != 0))
			centers = 1;
	}
	para(x, RB_PARA, "al.terms", NULL);
	struct rblk *l = blk(x, RB_LIST, NULL);
	for (size_t i = 0; i < in->n_tiers; i++) {
		const struct report_tier *t = &in->tiers[i];
		char d[64], who[300];
		char *ack, *res;
		if (t->ack_within > 0) {
			fmt_dur(x, d, sizeof d, t->ack_within);
			const char *v[] = { "d", d, NULL };
			ack = F(x, "al.term_ack", v);
		} else
			ack = F(x, "al.term_ack_none", NULL);
		if (t->resolve_within > 0) {
			fmt_dur(x, d, sizeof d, t->resolve_within);
			const char *v[] = { "d", d, NULL };
			res = F(x, "al.term_res", v);
		} else
			res = F(x, "al.term_res_none", NULL);
		if (centers && t->center)
			snprintf(who, sizeof who, "%s / %s", t->center, t->tier);
		else
			snprintf(who, sizeof who, "%s", t->tier);
		const char *v[] = { "who", who, "ack", ack, "res", res, NULL };
		list_add(l, F(x, "al.term", v));
		free(ack);
		free(res);
	}
}

static void alerts(struct ctx *x, int *found)
{
	const struct report *r = x->r;
	para(x, RB_H2, "h.alerts", NULL);
	unsigned by[SVC__COUNT][4] = { { 0 } };
	unsigned n = 0, acked_ok = 0, acked_late = 0, not_acked = 0, res_ok = 0, res_late = 0,
	         open = 0;
	for (size_t i = 0; i < r->n_alerts; i++) {
		const struct rep_alert *a = &r->alerts[i];
		if (!a->in_month)
			continue;
		n++;
		by[rep_svc_parse(a->service)][a->severity]++;
		if (a->acked && a->acked < r->end)
			a->ack_late ? acked_late++ : acked_ok++;
		else if (a->ack_late)
			acked_late++;
		else
			not_acked++;
		if (a->resolved && a->resolved < r->end)
			a->resolve_late ? res_late++ : res_ok++;
		else
			open++;
	}
	char nn[32];
	snprintf(nn, sizeof nn, "%u", n);
	const char *v[] = { "n", nn, NULL };
	para(x, RB_PARA, n ? "al.count" : "al.none", v);
	terms(x);
	if (!n)
		return;
	const char *head[] = { T(x, "al.service"), T(x, "sev.warning"), T(x, "sev.critical"),
		               T(x, "sev.unknown"), T(x, "al.total") };
	struct rblk *b = table(x, 5, head);
	for (int i = 1; i < 5; i++)
		b->num_col[i] = 1;
	size_t bi = (size_t)(b - x->d->b);
	for (int s = 0; s < SVC__COUNT; s++) {
		unsigned tot = by[s][1] + by[s][2] + by[s][3];
		if (!tot)
			continue;
		char c1[16], c2[16], c3[16], c4[16];
		snprintf(c1, sizeof c1, "%u", by[s][1]);
		snprintf(c2, sizeof c2, "%u", by[s][2]);
		snprintf(c3, sizeof c3, "%u", by[s][3]);
		snprintf(c4, sizeof c4, "%u", tot);
		const char *cells[] = { T(x, svc_key(s)), c1, c2, c3, c4 };
		row(&x->d->b[bi], RC_NONE, cells);
	}
	/* response against the SLA */
	char s1[16], s2[16], s3[16], s4[16], s5[16], s6[16];
	snprintf(s1, sizeof s1, "%u", acked_ok);
	snprintf(s2, sizeof s2, "%u", acked_late);
	snprintf(s3, sizeof s3, "%u", not_acked);
	snprintf(s4, sizeof s4, "%u", res_ok);
	snprintf(s5, sizeof s5, "%u", res_late);
	snprintf(s6, sizeof s6, "%u", open);
	const char *h2[] = { "", T(x, "al.within"), T(x, "al.late"), T(x, "al.pending") };
	b = table(x, 4, h2);
	for (int i = 1; i < 4; i++)
		b->num_col[i] = 1;
	bi = (size_t)(b - x->d->b);
	const char *r1[] = { T(x, "al.acked"), s1, s2, s3 };
	const char *r2[] = { T(x, "al.resolved"), s4, s5, s6 };
	row(&x->d->b[bi], acked_late ? RC_WARN : RC_GOOD, r1);
	row(&x->d->b[bi], res_late ? RC_WARN : RC_GOOD, r2);
	/* the breaches, by name */
	if (acked_late || res_late) {
		found[FD_SLA_LATE] = 1;
		para(x, RB_PARA, "al.breaches", NULL);
		const char *h3[] = { T(x, "al.opened"),  T(x, "al.what"),   T(x, "al.severity"),
			             T(x, "al.ack_due"), T(x, "al.ack_at"), T(x, "al.res_due"),
			             T(x, "al.res_at"),  T(x, "al.breach") };
		b = table(x, 8, h3);
		bi = (size_t)(b - x->d->b);
		for (size_t i = 0; i < r->n_alerts; i++) {
			const struct rep_alert *a = &r->alerts[i];
			if (!a->in_month || !(a->ack_late || a->resolve_late))
				continue;
			char op[40], what[256], ad[40], aa[40], rd[40], ra[40];
			fmt_when(x, op, sizeof op, a->opened);
			snprintf(what, sizeof what, "%s / %s", a->asset, a->check);
			fmt_when(x, ad, sizeof ad, a->ack_due);
			fmt_when(x, aa, sizeof aa, a->acked);
			fmt_when(x, rd, sizeof rd, a->resolve_due);
			fmt_when(x, ra, sizeof ra, a->resolved);
			struct rbuf br = { 0 };
			if (a->ack_late)
				rbuf_puts(&br, T(x, "al.breach_ack"));
			if (a->ack_late && a->resolve_late)
				rbuf_puts(&br, T(x, "list_sep"));
			if (a->resolve_late)
				rbuf_puts(&br, T(x, "al.breach_resolve"));
			if (*a->breach_tiers) {
				rbuf_puts(&br, " (");
				rbuf_puts(&br, a->breach_tiers);
				rbuf_puts(&br, ")");
			}
			const char *cells[] = { op, what, T(x, sev_key(a->severity)), ad, aa, rd,
				                ra, br.p };
			row(&x->d->b[bi], RC_BAD, cells);
			rbuf_free(&br);
		}
	}
	/* every alert of the month (the first 40) */
	para(x, RB_PARA, "al.list", NULL);
	const char *h4[] = { T(x, "al.opened"), T(x, "al.what"),   T(x, "al.severity"),
		             T(x, "al.ack_at"), T(x, "al.res_at"), T(x, "al.summary") };
	b = table(x, 6, h4);
	bi = (size_t)(b - x->d->b);
	int shown = 0;
	for (size_t i = 0; i < r->n_alerts && shown < 40; i++) {
		const struct rep_alert *a = &r->alerts[i];
		if (!a->in_month)
			continue;
		shown++;
		char op[40], what[256], aa[40], ra[40];
		fmt_when(x, op, sizeof op, a->opened);
		snprintf(what, sizeof what, "%s / %s", a->asset, a->check);
		fmt_when(x, aa, sizeof aa, a->acked);
		fmt_when(x, ra, sizeof ra, a->resolved);
		const char *cells[] = { op, what, T(x, sev_key(a->severity)), aa, ra, a->summary };
		row(&x->d->b[bi], a->ack_late || a->resolve_late ? RC_BAD : RC_NONE, cells);
	}
	if ((unsigned)shown < n) {
		char more[16];
		snprintf(more, sizeof more, "%u", n - (unsigned)shown);
		const char *vm[] = { "n", more, NULL };
		para(x, RB_NOTE, "al.more", vm);
	}
}

static char *day_label(int d)
{
	return xasprintf("%d", d + 1);
}

static void mark_days(struct ctx *x, struct rblk *b)
{
	/* a day without business hours (weekend, holiday) is marked */
	const struct report_input *in = x->in;
	b->x_mark = xcalloc((size_t)in->n_days, sizeof *b->x_mark);
	if (!in->calendar)
		return;
	for (int d = 0; d < in->n_days; d++) {
		double open = 0;
		for (size_t i = 0; i < in->n_open; i++)
			if (in->open[i].a < in->day[d + 1] && in->open[i].b > in->day[d])
				open = 1;
		b->x_mark[d] = !open;
	}
}

static void defender(struct ctx *x, int *found)
{
	const struct report *r = x->r;
	const struct report_input *in = x->in;
	if (!r->n_pcs)
		return;
	para(x, RB_H2, "h.defender", NULL);
	int days = in->n_days;
	struct rblk *b = blk(x, RB_BARS, F(x, "df.chart", NULL));
	b->n_x = days;
	b->x_labels = xcalloc((size_t)days, sizeof *b->x_labels);
	for (int d = 0; d < days; d++)
		b->x_labels[d] = day_label(d);
	b->n_series = 4;
	const char *names[] = { "df.protected", "df.unprotected", "df.silent", "df.nodata" };
	const int cls[] = { RC_GOOD, RC_BAD, RC_WARN, RC_MUTED };
	const unsigned *src[] = { r->day_protected, r->day_unprotected, r->day_silent,
		                  r->day_nodata };
	for (int s = 0; s < 4; s++) {
		b->s_name[s] = xstrdup(T(x, names[s]));
		b->s_cls[s] = cls[s];
		b->s_val[s] = xcalloc((size_t)days, sizeof(double));
		for (int d = 0; d < days; d++)
			b->s_val[s][d] = in->day[d] >= r->end ? NAN : (double)src[s][d];
	}
	b->ymax = r->n_pcs;
	mark_days(x, b);
	/* PCs with something to say */
	const char *head[] = { T(x, "df.pc"), T(x, "df.off_biz"), T(x, "df.off_all"),
		               T(x, "df.silent_all"), T(x, "df.sig") };
	b = table(x, 5, head);
	for (int i = 1; i < 5; i++)
		b->num_col[i] = 1;
	size_t bi = (size_t)(b - x->d->b);
	unsigned fine = 0, old_sig = 0;
	double worst_sig = -1;
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];
		if (!is_pc(c))
			continue;
		if (c->worst_sig_age > worst_sig)
			worst_sig = c->worst_sig_age;
		int sig_bad = c->worst_sig_age >= 3;
		old_sig += sig_bad;
		if (c->t.down[0] <= 0 && c->t.silent[0] < 3600 && !sig_bad) {
			fine++;
			continue;
		}
		char ob[64], oa[64], sa[64], sg[64];
		if (in->calendar)
			fmt_dur(x, ob, sizeof ob, c->t.down[1]);
		else
			snprintf(ob, sizeof ob, "%s", T(x, "no_calendar_short"));
		fmt_dur(x, oa, sizeof oa, c->t.down[0]);
		fmt_dur(x, sa, sizeof sa, c->t.silent[0]);
		if (c->worst_sig_age >= 0) {
			char v[32];
			fmt_num(v, sizeof v, c->worst_sig_age, 0);
			const char *vv[] = { "v", v, NULL };
			char *s = F(x, "days", vv);
			snprintf(sg, sizeof sg, "%s", s);
			free(s);
		} else {
			snprintf(sg, sizeof sg, "-");
		}
		const char *cells[] = { c->asset, ob, oa, sa, sg };
		row(&x->d->b[bi], c->t.down[0] > 0 ? RC_BAD : RC_WARN, cells);
	}
	if (old_sig)
		found[FD_SIG_OLD] = 1;
	char nf[16];
	snprintf(nf, sizeof nf, "%u", fine);
	const char *vf[] = { "n", nf, NULL };
	if (x->d->b[bi].nrows == 1) { /* nobody to name: a sentence instead */
		x->d->b[bi].type = RB_NOTE;
		x->d->b[bi].text = F(x, "df.all_fine", vf);
	} else if (fine) {
		para(x, RB_NOTE, "df.others_fine", vf);
	}
	if (worst_sig >= 0) {
		char v[32];
		fmt_num(v, sizeof v, worst_sig, 0);
		char no[16];
		snprintf(no, sizeof no, "%u", old_sig);
		const char *vs[] = { "max", v, "n", no, NULL };
		para(x, RB_PARA, old_sig ? "df.sig_old" : "df.sig_fresh", vs);
	}
}

static void mail(struct ctx *x, int *found)
{
	const struct report *r = x->r;
	const struct report_input *in = x->in;
	if (!r->mail_have && !r->n_mail)
		return;
	para(x, RB_H2, "h.mail", NULL);
	if (!r->mail_have) {
		para(x, RB_NOTE, "ml.nodata", NULL);
		return;
	}
	struct rblk *f = blk(x, RB_FIGURES, NULL);
	char a[64], b[64], c[64], d[64];
	fmt_secs(x, a, sizeof a, r->mail_p50);
	fmt_secs(x, b, sizeof b, r->mail_p95);
	fmt_secs(x, c, sizeof c, r->mail_worst_max);
	d[0] = '\0';
	if (r->mail_worst_day >= 0)
		fmt_date(x, d, sizeof d, in->day[r->mail_worst_day]);
	list_add(f, xstrdup(a));
	list_add(f, xstrdup(b));
	list_add(f, xstrdup(c));
	f->item_sub = xcalloc(3, sizeof *f->item_sub);
	f->item_sub[0] = xstrdup(T(x, "ml.p50"));
	f->item_sub[1] = xstrdup(T(x, "ml.p95"));
	const char *vd[] = { "day", d, NULL };
	f->item_sub[2] = F(x, "ml.worst", vd);
	struct rblk *ch = blk(x, RB_LINES, F(x, "ml.chart", NULL));
	int days = in->n_days;
	ch->n_x = days;
	ch->x_labels = xcalloc((size_t)days, sizeof *ch->x_labels);
	for (int k = 0; k < days; k++)
		ch->x_labels[k] = day_label(k);
	ch->n_series = 2;
	ch->s_name[0] = xstrdup(T(x, "ml.avg"));
	ch->s_name[1] = xstrdup(T(x, "ml.max"));
	ch->s_cls[0] = RC_GOOD;
	ch->s_cls[1] = RC_WARN;
	for (int s = 0; s < 2; s++)
		ch->s_val[s] = xcalloc((size_t)days, sizeof(double));
	double ymax = 0;
	for (int k = 0; k < days; k++) {
		const struct rep_day_stat *ds = &r->mail_day[k];
		ch->s_val[0][k] = ds->n ? ds->sum / ds->n : NAN;
		ch->s_val[1][k] = ds->n ? ds->max : NAN;
		if (ds->n && ds->max > ymax)
			ymax = ds->max;
	}
	ch->ymax = ymax;
	ch->yunit = xstrdup(T(x, "unit.s"));
	mark_days(x, ch);
	const char *vt[] = { "tier", r->mail_tier, NULL };
	para(x, RB_NOTE, "ml.note", vt);
	if (r->mail_p95 > 300)
		found[FD_MAIL_SLOW] = 1;
}

static struct rblk *series_chart(struct ctx *x, const struct rep_series *s, const char *key,
                                 const char *unit, int counter)
{
	const struct report_input *in = x->in;
	struct rblk *ch = blk(x, counter ? RB_BARS : RB_LINES, F(x, key, NULL));
	int days = in->n_days;
	ch->n_x = days;
	ch->x_labels = xcalloc((size_t)days, sizeof *ch->x_labels);
	for (int k = 0; k < days; k++)
		ch->x_labels[k] = day_label(k);
	ch->n_series = counter ? 1 : 2;
	ch->s_name[0] = xstrdup(T(x, counter ? "ut.blocked" : "ml.avg"));
	ch->s_cls[0] = counter ? RC_NONE : RC_GOOD;
	if (!counter) {
		ch->s_name[1] = xstrdup(T(x, "ml.max"));
		ch->s_cls[1] = RC_WARN;
	}
	for (int i = 0; i < ch->n_series; i++)
		ch->s_val[i] = xcalloc((size_t)days, sizeof(double));
	double ymax = 0;
	for (int k = 0; k < days; k++) {
		const struct rep_day_stat *ds = &s->day[k];
		if (counter) {
			ch->s_val[0][k] = ds->n ? s->incr[k] : NAN;
			if (ds->n && s->incr[k] > ymax)
				ymax = s->incr[k];
		} else {
			ch->s_val[0][k] = ds->n ? ds->sum / ds->n : NAN;
			ch->s_val[1][k] = ds->n ? ds->max : NAN;
			if (ds->n && ds->max > ymax)
				ymax = ds->max;
		}
	}
	ch->ymax = ymax;
	ch->yunit = xstrdup(unit);
	mark_days(x, ch);
	return ch;
}

static void utm(struct ctx *x, int *found)
{
	const struct report *r = x->r;
	if (!r->n_utm)
		return;
	para(x, RB_H2, "h.utm", NULL);
	char a[64], b[64];
	const struct rep_time *u = &r->svc[SVC_UTM];
	fmt_pct(x, a, sizeof a, u->up[0], u->down[0]);
	fmt_dur(x, b, sizeof b, u->down[0]);
	const char *v[] = { "pct", a, "down", b, NULL };
	para(x, RB_PARA, "ut.avail", v);
	/* the outages, each with its times */
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];
		if (c->svc != SVC_UTM)
			continue;
		for (size_t k = 0; k < c->n_segs; k++) {
			const struct rep_seg *s = &c->segs[k];
			if (s->b <= s->a || s->stale || s->state != 2)
				continue;
			char f[64], t[64], dd[64];
			fmt_when(x, f, sizeof f, s->a);
			fmt_when(x, t, sizeof t, s->b);
			fmt_dur(x, dd, sizeof dd, s->b - s->a);
			const char *vo[] = { "from",  f,        "to",     t,         "dur", dd,
				             "asset", c->asset, "output", s->output, NULL };
			para(x, RB_NOTE, "ut.outage", vo);
		}
	}
	if (r->utm_cpu >= 0) {
		series_chart(x, &r->series[r->utm_cpu], "ut.cpu_chart", "%", 0);
		if (r->series[r->utm_cpu].max >= 90)
			found[FD_UTM_CPU] = 1;
	}
	if (r->utm_sessions >= 0)
		series_chart(x, &r->series[r->utm_sessions], "ut.sessions_chart", "", 0);
	if (r->utm_blocked >= 0) {
		const struct rep_series *s = &r->series[r->utm_blocked];
		series_chart(x, s, "ut.blocked_chart", "", 1);
		double tot = 0;
		for (int d = 0; d < x->in->n_days; d++)
			tot += s->incr[d];
		char n[32];
		fmt_num(n, sizeof n, tot, 0);
		const char *vb[] = { "n", n, NULL };
		para(x, RB_PARA, "ut.blocked_total", vb);
	} else {
		para(x, RB_NOTE, "ut.no_blocked", NULL);
	}
}

static void dns(struct ctx *x)
{
	const struct report *r = x->r;
	int any = 0;
	for (size_t i = 0; i < r->n_checks; i++)
		any |= strcmp(r->checks[i].plugin, "dns_txt") == 0 && counts(&r->checks[i]);
	if (!any)
		return;
	para(x, RB_H2, "h.dns", NULL);
	const char *head[] = { T(x, "dn.record"), T(x, "dn.domain"), T(x, "dn.status"),
		               T(x, "dn.changes") };
	struct rblk *b = table(x, 4, head);
	size_t bi = (size_t)(b - x->d->b);
	struct rbuf changes = { 0 };
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];
		if (strcmp(c->plugin, "dns_txt") != 0 || !counts(c))
			continue;
		char st[32];
		snprintf(st, sizeof st, "state.%d", c->end_state);
		unsigned nch = 0;
		for (size_t k = 1; k < c->n_segs; k++) {
			if (c->segs[k].a <= x->in->from || c->segs[k].a >= r->end)
				continue;
			nch++;
			char when[64], sk[32];
			fmt_when(x, when, sizeof when, c->segs[k].a);
			snprintf(sk, sizeof sk, "state.%d", c->segs[k].state);
			char dk[32];
			snprintf(dk, sizeof dk, "dns.%s", dns_kind(c));
			const char *vc[] = { "when",  when,     "record", T(x, dk),
				             "state", T(x, sk), "output", c->segs[k].output,
				             NULL };
			if (changes.n)
				rbuf_puts(&changes, "\n");
			rtext_fill(&changes, x->t, "dn.change", vc);
		}
		char nc[16];
		snprintf(nc, sizeof nc, "%u", nch);
		char kk[32];
		snprintf(kk, sizeof kk, "dns.%s", dns_kind(c));
		const char *cells[] = { T(x, kk), c->asset,
			                c->end_state < 0 ? T(x, "no_data_short") : T(x, st), nc };
		row(&x->d->b[bi],
		    c->end_state == 0  ? RC_GOOD
		    : c->end_state < 0 ? RC_MUTED
		                       : RC_BAD,
		    cells);
	}
	if (changes.n) {
		para(x, RB_PARA, "dn.changes_h", NULL);
		struct rblk *l = blk(x, RB_LIST, NULL);
		char *save = NULL;
		for (char *p = strtok_r(changes.p, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
			list_add(l, xstrdup(p));
	} else {
		para(x, RB_NOTE, "dn.no_changes", NULL);
	}
	rbuf_free(&changes);
}

static void visits(struct ctx *x)
{
	const struct report *r = x->r;
	para(x, RB_H2, "h.visits", NULL);
	if (!r->n_visits) {
		para(x, RB_NOTE, "vi.none", NULL);
		return;
	}
	const char *head[] = { T(x, "vi.when"), T(x, "vi.what"), T(x, "vi.vendor"),
		               T(x, "vi.planned"), T(x, "vi.result") };
	struct rblk *b = table(x, 5, head);
	size_t bi = (size_t)(b - x->d->b);
	for (size_t i = 0; i < r->n_visits; i++) {
		const struct rep_visit *v = &r->visits[i];
		char w[64], p[64], what[256];
		fmt_when(x, w, sizeof w, v->time);
		fmt_when(x, p, sizeof p, v->planned);
		snprintf(what, sizeof what, "%s / %s", v->asset, v->check);
		const char *cells[] = { w, what, v->vendor ? v->vendor : "-", p,
			                v->result ? v->result : T(x, "vi.no_result") };
		row(&x->d->b[bi], v->result ? RC_NONE : RC_WARN, cells);
	}
}

static void recommendations(struct ctx *x, const int *found)
{
	para(x, RB_H2, "h.recommend", NULL);
	struct rblk *l = blk(x, RB_LIST, NULL);
	for (int i = 0; i < FD__COUNT; i++)
		if (found[i] && *T(x, finding_key[i]))
			list_add(l, xstrdup(T(x, finding_key[i])));
	if (!l->n_items)
		list_add(l, xstrdup(T(x, "rec.none")));
}

int report__doc(const struct report *r, const struct rtexts *t, struct rdoc *d)
{
	memset(d, 0, sizeof *d);
	snprintf(d->lang, sizeof d->lang, "%s", r->in->lang);
	struct ctx x = { .r = r, .in = r->in, .t = t, .d = d };
	int found[FD__COUNT] = { 0 };
	char *mt = month_title(&x);
	const char *vt[] = { "customer", r->in->name, "month", mt, NULL };
	d->title = F(&x, "title", vt);
	d->footer = F(&x, "footer", vt);
	d->page = xstrdup(T(&x, "page"));
	blk(&x, RB_TITLE, F(&x, "title_short", vt));
	char made[64], off[32];
	report__local(r->in, r->in->now, 1, made, sizeof made);
	long o = r->in->n_offs ? r->in->offs[0].off : 0;
	snprintf(off, sizeof off, "UTC%c%02ld:%02ld", o < 0 ? '-' : '+', labs(o) / 3600,
	         labs(o) % 3600 / 60);
	for (size_t i = 1; i < r->in->n_offs; i++) {
		long o2 = r->in->offs[i].off;
		size_t l = strlen(off);
		snprintf(off + l, sizeof off - l, "/%c%02ld:%02ld", o2 < 0 ? '-' : '+',
		         labs(o2) / 3600, labs(o2) % 3600 / 60);
		break;
	}
	const char *vs[] = {
		"customer", r->in->name,
		"id",       r->in->customer,
		"month",    mt,
		"made",     made,
		"tz",       off,
		"calendar", r->in->calendar ? r->in->calendar : T(&x, "no_calendar_short"),
		NULL
	};
	para(&x, RB_SUBTITLE, "subtitle", vs);
	free(mt);
	para(&x, RB_H2, "h.summary", NULL);
	/* the sections add their findings; the summary is written first
	 * and fills its own */
	summary(&x, found);
	watched(&x);
	availability(&x);
	alerts(&x, found);
	defender(&x, found);
	mail(&x, found);
	utm(&x, found);
	dns(&x);
	visits(&x);
	recommendations(&x, found);
	return 0;
}

void report__doc_free(struct rdoc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct rblk *b = &d->b[i];
		free(b->text);
		if (b->cells)
			for (int k = 0; k < b->nrows * b->ncols; k++)
				free(b->cells[k]);
		free(b->cells);
		free(b->row_cls);
		free(b->num_col);
		for (int k = 0; k < b->n_x && b->x_labels; k++)
			free(b->x_labels[k]);
		free(b->x_labels);
		for (int s = 0; s < RB_MAX_SERIES; s++) {
			free(b->s_name[s]);
			free(b->s_val[s]);
		}
		free(b->yunit);
		free(b->x_mark);
		for (int k = 0; k < b->n_items; k++) {
			free(b->items[k]);
			if (b->item_sub)
				free(b->item_sub[k]);
		}
		free(b->items);
		free(b->item_sub);
	}
	free(d->b);
	free(d->title);
	free(d->footer);
	free(d->page);
	free(d->summary);
	memset(d, 0, sizeof *d);
}
