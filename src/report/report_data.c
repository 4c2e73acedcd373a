/*
 * report_data: step 2 of a report - one customer's month read from the
 * store (its own read-only connection, one snapshot) and counted.
 *
 * Availability is counted from the state history (state_change, written
 * by src/statelog): each check's rows give its timeline - a state holds
 * from its row until the check's next row - and each piece of it is
 * counted as
 *   up       OK or WARNING while reporting,
 *   down     CRITICAL while reporting,
 *   silent   stale: no report within stale_after (a PC switched off,
 *            an agent that stopped),
 *   unknown  UNKNOWN (the check could not tell),
 *   no data  before the check's first result, and while no daemon was
 *            monitoring (between a run's last sign of life and the next
 *            run's start, from the monitor_run rows): a check keeps its
 *            last state in the store while mamorid is down, but nobody
 *            saw it then.
 * Availability is up / (up + down): silence and UNKNOWN are neither
 * (they are shown apart).  The same pieces are cut by the business hours
 * of the customer's calendar for the business-hours column.  A check
 * without any row (a database older than the history) takes its
 * check_state row instead: its hard state since last_hard_change.
 *
 * Must never: run on the daemon's loop thread; trust a payload (alert
 * events are parsed with cJSON, a field that is missing or of the wrong
 * type is simply not used).
 */
#include "report/report_int.h"
#include "store/store.h"
#include "util/mem.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const svc_names[SVC__COUNT] = {
	"defender", "utm", "mail", "dns", "web", "other"
};

const char *rep_svc_name(int s)
{
	return s >= 0 && s < SVC__COUNT ? svc_names[s] : "other";
}

int rep_svc_parse(const char *s)
{
	for (int i = 0; s && i < SVC__COUNT; i++)
		if (strcmp(s, svc_names[i]) == 0)
			return i;
	return SVC_OTHER;
}

/* A plugin's usual service, for checks the configuration no longer has. */
static int svc_of_plugin(const char *p)
{
	if (!p)
		return SVC_OTHER;
	if (strcmp(p, "defender") == 0)
		return SVC_DEFENDER;
	if (strcmp(p, "utm") == 0)
		return SVC_UTM;
	if (strcmp(p, "mail_latency") == 0)
		return SVC_MAIL;
	if (strcmp(p, "dns_txt") == 0)
		return SVC_DNS;
	return SVC_OTHER;
}

static char *dup0(const char *s)
{
	return xstrdup(s ? s : "");
}

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 16;                                              \
			(arr) = xrealloc((arr), (cap) * sizeof *(arr));                            \
		}                                                                                  \
		memset(&(arr)[(n)], 0, sizeof *(arr));                                             \
	} while (0)

static struct rep_check *find_check(struct report *r, const char *asset, const char *check)
{
	for (size_t i = 0; i < r->n_checks; i++)
		if (strcmp(r->checks[i].asset, asset) == 0 &&
		    strcmp(r->checks[i].check, check) == 0)
			return &r->checks[i];
	return NULL;
}

static struct rep_check *add_check(struct report *r, const char *asset, const char *type,
                                   const char *check, const char *plugin, int svc)
{
	GROW(r->checks, r->n_checks, r->cap_checks);
	struct rep_check *c = &r->checks[r->n_checks++];
	c->asset = dup0(asset);
	c->asset_type = dup0(type);
	c->check = dup0(check);
	c->plugin = dup0(plugin);
	c->svc = svc;
	c->worst_sig_age = -1;
	c->end_state = -1;
	return c;
}

/* ---- the timeline ---- */

struct build {
	struct report *r;
	struct rep_check *cur; /* the check whose rows are coming */
	char err[256];
};

static void seg_add(struct rep_check *c, double a, int state, int stale, const char *out)
{
	if (c->n_segs && c->segs[c->n_segs - 1].a >= a) {
		/* the initial row and a row at `from` itself: the later wins */
		struct rep_seg *s = &c->segs[c->n_segs - 1];
		s->state = state;
		s->stale = stale;
		free(s->output);
		s->output = dup0(out);
		return;
	}
	GROW(c->segs, c->n_segs, c->cap_segs);
	struct rep_seg *s = &c->segs[c->n_segs++];
	s->a = a;
	s->state = state;
	s->stale = stale;
	s->output = dup0(out);
}

static void on_change(void *ud, const struct store_state_change_row *row)
{
	struct build *x = ud;
	struct report *r = x->r;
	if (!x->cur || strcmp(x->cur->asset, row->asset) || strcmp(x->cur->check, row->check)) {
		x->cur = find_check(r, row->asset, row->check);
		if (!x->cur)
			x->cur = add_check(r, row->asset, "", row->check, "", SVC_OTHER);
	}
	r->history = 1;
	double a = row->t < r->in->from ? r->in->from : row->t;
	if (!x->cur->first || row->t < x->cur->first)
		x->cur->first = row->t;
	seg_add(x->cur, a, row->state, row->stale, row->output);
}

static void on_state_row(void *ud, const struct store_state_row *row)
{
	struct build *x = ud;
	struct report *r = x->r;
	struct rep_check *c = find_check(r, row->asset, row->name);
	if (!c)
		c = add_check(r, row->asset, "", row->name, row->plugin,
		              svc_of_plugin(row->plugin));
	if (!*c->plugin && row->plugin) {
		free(c->plugin);
		c->plugin = dup0(row->plugin);
	}
	if (!c->configured && c->svc == SVC_OTHER)
		c->svc = svc_of_plugin(row->plugin);
	if (c->n_segs || !row->hard || row->last_check <= 0)
		return;
	/* no history row: the state it has had since its last hard change */
	double since = row->last_hard_change > 0 ? row->last_hard_change : row->last_check;
	if (since >= r->end)
		return;
	c->first = since;
	seg_add(c, since < r->in->from ? r->in->from : since, row->hard_state, row->stale,
	        row->output);
}

static void on_asset_row(void *ud, const struct store_asset_row *row)
{
	struct build *x = ud;
	for (size_t i = 0; i < x->r->n_checks; i++) {
		struct rep_check *c = &x->r->checks[i];
		if (strcmp(c->asset, row->name) == 0 && !*c->asset_type) {
			free(c->asset_type);
			c->asset_type = dup0(row->type);
		}
	}
}

/* A run of a daemon.  One not stopped whose last mark is recent is the
 * one making the report (or another running now): it covers up to now. */
#define RUN_LIVE 180.0 /* s: three missed minutes and a run is taken as gone */

static void on_run_row(void *ud, const struct store_monitor_run_row *row)
{
	struct build *x = ud;
	struct report *r = x->r;
	GROW(r->runs, r->n_runs, r->cap_runs);
	int live = !row->stopped && row->seen >= r->in->now - RUN_LIVE;
	r->runs[r->n_runs++] = (struct report_span){ row->started, live ? -1 : row->seen };
}

static double biz(const struct report_input *in, double a, double b);

/* The gaps between the runs (by start), clipped to [from, end).  Before
 * the first run known nothing is told (a database from before the
 * record): no gap. */
static void find_gaps(struct report *r)
{
	const struct report_input *in = r->in;
	double covered = 0; /* the end of the runs so far; < 0: running now */
	for (size_t i = 0; i < r->n_runs && covered >= 0; i++) {
		const struct report_span *u = &r->runs[i];
		if (i > 0 && u->a > covered) {
			double a = covered > in->from ? covered : in->from;
			double b = u->a < r->end ? u->a : r->end;
			if (b > a) {
				GROW(r->gaps, r->n_gaps, r->cap_gaps);
				r->gaps[r->n_gaps++] = (struct report_span){ a, b };
			}
		}
		if (u->b < 0)
			covered = -1;
		else if (u->b > covered)
			covered = u->b;
	}
	if (r->n_runs && covered >= 0 && covered < r->end) {
		double a = covered > in->from ? covered : in->from;
		GROW(r->gaps, r->n_gaps, r->cap_gaps);
		r->gaps[r->n_gaps++] = (struct report_span){ a, r->end };
	}
	for (size_t i = 0; i < r->n_gaps; i++) {
		r->gap[0] += r->gaps[i].b - r->gaps[i].a;
		r->gap[1] += biz(in, r->gaps[i].a, r->gaps[i].b);
	}
}

/* Business seconds of [a, b): the open spans are sorted. */
static double biz(const struct report_input *in, double a, double b)
{
	if (b <= a || !in->n_open)
		return 0;
	size_t lo = 0, hi = in->n_open;
	while (lo < hi) { /* the first span ending after a */
		size_t m = (lo + hi) / 2;
		if (in->open[m].b <= a)
			lo = m + 1;
		else
			hi = m;
	}
	double s = 0;
	for (size_t i = lo; i < in->n_open && in->open[i].a < b; i++) {
		double x = in->open[i].a > a ? in->open[i].a : a;
		double y = in->open[i].b < b ? in->open[i].b : b;
		if (y > x)
			s += y - x;
	}
	return s;
}

enum { K_UP, K_DOWN, K_SILENT, K_UNKNOWN };

static int kind_of(const struct rep_seg *s)
{
	if (s->stale)
		return K_SILENT;
	if (s->state == 2)
		return K_DOWN;
	if (s->state == 3)
		return K_UNKNOWN;
	return K_UP;
}

/* One piece [a, b) of a check's timeline, of one kind. */
static void count_piece(const struct report_input *in, struct rep_check *c, double a, double b,
                        int k)
{
	double all = b - a, bz = biz(in, a, b);
	double *dst;
	switch (k) {
	case K_DOWN: dst = c->t.down; break;
	case K_SILENT: dst = c->t.silent; break;
	case K_UNKNOWN: dst = c->t.unknown; break;
	default: dst = c->t.up; break;
	}
	dst[0] += all;
	dst[1] += bz;
	/* per day: unprotected beats protected beats silent */
	unsigned char v = k == K_DOWN ? 3 : k == K_UP ? 1 : k == K_SILENT ? 2 : 0;
	for (int d = 0; d < in->n_days; d++) {
		if (in->day[d + 1] <= a || in->day[d] >= b)
			continue;
		unsigned char old = c->day[d];
		if (v == 3 || (v == 1 && old != 3) || (v == 2 && old == 0))
			c->day[d] = v;
	}
}

static void count_check(struct report *r, struct rep_check *c)
{
	const struct report_input *in = r->in;
	double from = in->from, end = r->end;
	/* the pieces end where the next begins, the last at `end` */
	for (size_t i = 0; i < c->n_segs; i++)
		c->segs[i].b = i + 1 < c->n_segs ? c->segs[i + 1].a : end;
	double known = c->n_segs ? c->segs[0].a : end;
	if (known > end)
		known = end;
	c->t.nodata[0] += known - from;
	c->t.nodata[1] += biz(in, from, known);
	for (size_t i = 0; i < c->n_segs; i++) {
		struct rep_seg *s = &c->segs[i];
		if (s->b > end)
			s->b = end;
		if (s->b <= s->a)
			continue;
		/* the parts while nobody was monitoring are no data */
		double a = s->a;
		for (size_t g = 0; g < r->n_gaps && a < s->b; g++) {
			const struct report_span *gp = &r->gaps[g];
			if (gp->b <= a || gp->a >= s->b)
				continue;
			if (gp->a > a)
				count_piece(in, c, a, gp->a, kind_of(s));
			double gb = gp->b < s->b ? gp->b : s->b;
			double ga = gp->a > a ? gp->a : a;
			c->t.nodata[0] += gb - ga;
			c->t.nodata[1] += biz(in, ga, gb);
			a = gb;
		}
		if (a < s->b)
			count_piece(in, c, a, s->b, kind_of(s));
	}
	if (c->n_segs) {
		c->end_state = c->segs[c->n_segs - 1].state;
		c->end_output = dup0(c->segs[c->n_segs - 1].output);
	}
	for (int k = 0; k < 2; k++) {
		r->svc[c->svc].up[k] += c->t.up[k];
		r->svc[c->svc].down[k] += c->t.down[k];
		r->svc[c->svc].silent[k] += c->t.silent[k];
		r->svc[c->svc].unknown[k] += c->t.unknown[k];
		r->svc[c->svc].nodata[k] += c->t.nodata[k];
	}
	r->svc_checks[c->svc]++;
	if (c->first && (!r->first_data || c->first < r->first_data))
		r->first_data = c->first;
}

/* ---- alerts ---- */

static struct rep_alert *alert_by_id(struct report *r, const char *id)
{
	for (size_t i = r->n_alerts; i-- > 0;)
		if (strcmp(r->alerts[i].id, id) == 0)
			return &r->alerts[i];
	return NULL;
}

static void on_alert(void *ud, const struct store_alert_row *row)
{
	struct build *x = ud;
	struct report *r = x->r;
	GROW(r->alerts, r->n_alerts, r->cap_alerts);
	struct rep_alert *a = &r->alerts[r->n_alerts++];
	a->id = dup0(row->id);
	a->asset = dup0(row->asset);
	a->check = dup0(row->check_name);
	a->service = dup0(row->service ? row->service : "other");
	a->summary = dup0(row->summary);
	a->center = dup0(row->center);
	a->tier_name = dup0(row->tier_name);
	a->severity = row->state >= 1 && row->state <= 3 ? row->state : 2;
	a->opened = row->opened_at;
	a->resolved = row->resolved_at;
	a->in_month = row->opened_at >= r->in->from && row->opened_at < r->in->to;
	a->breach_tiers = dup0("");
}

static double json_time(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	double t = 0;
	if (cJSON_IsString(v) && report__parse_rfc3339(v->valuestring, &t) == 0)
		return t;
	return 0;
}

static void on_event(void *ud, const struct store_event_row *e)
{
	struct build *x = ud;
	struct rep_alert *a = alert_by_id(x->r, e->alert_id);
	if (!a || !e->type)
		return;
	if (strcmp(e->type, "acknowledged") == 0) {
		if (!a->acked)
			a->acked = e->time;
		return;
	}
	int opened = strcmp(e->type, "opened") == 0 || strcmp(e->type, "reopened") == 0;
	int breach = strcmp(e->type, "sla_breach") == 0;
	if (!(opened && !a->ack_due && !a->resolve_due) && !breach)
		return;
	cJSON *o = e->payload ? cJSON_Parse(e->payload) : NULL;
	if (!o)
		return;
	if (opened) {
		a->ack_due = json_time(o, "ack_due");
		a->resolve_due = json_time(o, "resolve_due");
	} else {
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(o, "reannounce");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "breach");
		const cJSON *tn = cJSON_GetObjectItemCaseSensitive(o, "tier_name");
		if (!cJSON_IsTrue(re) && cJSON_IsString(b)) {
			if (strcmp(b->valuestring, "ack") == 0)
				a->ack_late = 1;
			else if (strcmp(b->valuestring, "resolve") == 0)
				a->resolve_late = 1;
			if (cJSON_IsString(tn) && strlen(a->breach_tiers) < 200 &&
			    !strstr(a->breach_tiers, tn->valuestring)) {
				char *n = xasprintf("%s%s%s", a->breach_tiers,
				                    *a->breach_tiers ? ", " : "", tn->valuestring);
				free(a->breach_tiers);
				a->breach_tiers = n;
			}
		}
	}
	cJSON_Delete(o);
}

static void on_dispatch(void *ud, const struct store_dispatch_row *d, const char *check_key)
{
	struct build *x = ud;
	struct report *r = x->r;
	/* one visit per alert: its latest record in the month */
	struct rep_visit *v = NULL;
	struct rep_alert *a = alert_by_id(r, d->alert_id);
	for (size_t i = 0; i < r->n_visits; i++)
		if (r->visits[i].actor && strcmp(r->visits[i].actor, d->alert_id) == 0)
			v = &r->visits[i];
	if (!v) {
		GROW(r->visits, r->n_visits, r->cap_visits);
		v = &r->visits[r->n_visits++];
		v->actor = dup0(d->alert_id); /* the alert it belongs to */
		const char *k = check_key ? strchr(check_key, '/') : NULL;
		const char *k2 = k ? strchr(k + 1, '/') : NULL;
		v->asset =
		    k && k2 ? xstrndup(k + 1, (size_t)(k2 - k - 1)) : dup0(a ? a->asset : "");
		v->check = k2 ? dup0(k2 + 1) : dup0(a ? a->check : "");
	}
	v->time = d->time;
	if (d->planned_at > 0)
		v->planned = d->planned_at;
	if (d->vendor && *d->vendor) {
		free(v->vendor);
		v->vendor = dup0(d->vendor);
	}
	if (d->result && *d->result) {
		free(v->result);
		v->result = dup0(d->result);
	}
}

/* ---- perfdata ---- */

struct series_pick {
	struct report *r;
	struct rep_series *s;
	double prev_max; /* counters: the previous bucket's max, NAN none */
	/* mail: every bucket's avg and count, for percentiles */
	double *vals, *wts;
	size_t n, cap;
	int keep;
};

static void on_series_row(void *ud, const struct store_series_row *row)
{
	struct build *x = ud;
	struct report *r = x->r;
	struct rep_check *c = find_check(r, row->asset, row->check);
	int svc = c ? c->svc : SVC_OTHER;
	const char *plugin = c ? c->plugin : "";
	int want = 0;
	if ((strcmp(plugin, "mail_latency") == 0 || svc == SVC_MAIL) &&
	    strcmp(row->label, "latency") == 0)
		want = 1;
	else if (strcmp(plugin, "defender") == 0 && strcmp(row->label, "signature_age_days") == 0)
		want = 1;
	else if (svc == SVC_UTM &&
	         (strcmp(row->label, "cpu") == 0 || strcmp(row->label, "sessions") == 0 ||
	          strstr(row->label, "block")))
		want = 1;
	if (!want)
		return;
	GROW(r->series, r->n_series, r->cap_series);
	struct rep_series *s = &r->series[r->n_series++];
	s->asset = dup0(row->asset);
	s->check = dup0(row->check);
	s->label = dup0(row->label);
	s->unit = dup0(row->unit);
	s->id = row->id;
	s->counter = strcmp(s->unit, "c") == 0 || strstr(s->label, "block") != NULL;
}

static void on_bucket(void *ud, const struct store_series_agg *b)
{
	struct series_pick *p = ud;
	const struct report_input *in = p->r->in;
	if (!b->n || b->t < in->from || b->t >= p->r->end)
		return;
	int d = report__day_of(in, (double)b->t);
	if (d < 0)
		return;
	struct rep_series *s = p->s;
	struct rep_day_stat *ds = &s->day[d];
	if (!ds->n || b->min < ds->min)
		ds->min = b->min;
	if (!ds->n || b->max > ds->max)
		ds->max = b->max;
	ds->n += b->n;
	ds->sum += b->sum;
	if (!s->n || b->max > s->max)
		s->max = b->max;
	s->n += b->n;
	s->sum += b->sum;
	if (s->counter) {
		/* an increase between buckets; a drop is a reset (a reboot):
		 * count from zero again */
		if (!isnan(p->prev_max))
			s->incr[d] += b->max >= p->prev_max ? b->max - p->prev_max : b->max;
		p->prev_max = b->max;
	}
	if (p->keep) {
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 1024;
			p->vals = xrealloc(p->vals, p->cap * sizeof *p->vals);
			p->wts = xrealloc(p->wts, p->cap * sizeof *p->wts);
		}
		p->vals[p->n] = b->sum / b->n;
		p->wts[p->n++] = b->n;
	}
}

struct vw {
	double v, w;
};

static int cmp_vw(const void *x, const void *y)
{
	double a = ((const struct vw *)x)->v, b = ((const struct vw *)y)->v;
	return a < b ? -1 : a > b;
}

/* The weighted percentile q (0..1): the smallest value whose cumulative
 * weight reaches q of the total. */
static double percentile(struct vw *v, size_t n, double q)
{
	double total = 0;
	for (size_t i = 0; i < n; i++)
		total += v[i].w;
	double need = q * total, acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc += v[i].w;
		if (acc >= need - 1e-9)
			return v[i].v;
	}
	return n ? v[n - 1].v : 0;
}

static int read_series(struct store *ro, struct report *r, char *err, size_t errlen)
{
	const struct report_input *in = r->in;
	r->utm_cpu = r->utm_sessions = r->utm_blocked = -1;
	r->mail_worst_day = -1;
	struct vw *mv = NULL;
	size_t mn = 0, mcap = 0;
	for (size_t i = 0; i < r->n_series; i++) {
		struct rep_series *s = &r->series[i];
		int mail = strcmp(s->label, "latency") == 0;
		struct series_pick p = { .r = r, .s = s, .prev_max = NAN, .keep = mail };
		/* the 5-minute tier keeps 35 days (the default): a month that
		 * began longer ago is read from the hourly tier */
		int tier =
		    mail && in->now - in->from < 34 * 86400.0 ? STORE_SERIES_5M : STORE_SERIES_1H;
		int rc = store_month_buckets(ro, tier, s->id, in->from, r->end, on_bucket, &p, err,
		                             errlen);
		if (rc == 0 && mail && !p.n && tier == STORE_SERIES_5M) {
			memset(s->day, 0, sizeof s->day);
			s->n = s->sum = s->max = 0;
			tier = STORE_SERIES_1H;
			rc = store_month_buckets(ro, tier, s->id, in->from, r->end, on_bucket, &p,
			                         err, errlen);
		}
		if (rc) {
			free(p.vals);
			free(p.wts);
			free(mv);
			return rc;
		}
		if (mail && p.n) {
			r->mail_have = 1;
			r->mail_tier = tier == STORE_SERIES_5M ? "5m" : "1h";
			for (size_t k = 0; k < p.n; k++) {
				if (mn == mcap) {
					mcap = mcap ? mcap * 2 : 1024;
					mv = xrealloc(mv, mcap * sizeof *mv);
				}
				mv[mn++] = (struct vw){ p.vals[k], p.wts[k] };
			}
			for (int d = 0; d < in->n_days; d++) {
				struct rep_day_stat *a = &r->mail_day[d], *b = &s->day[d];
				if (!b->n)
					continue;
				if (!a->n || b->max > a->max)
					a->max = b->max;
				if (!a->n || b->min < a->min)
					a->min = b->min;
				a->n += b->n;
				a->sum += b->sum;
			}
		}
		free(p.vals);
		free(p.wts);
		if (strcmp(s->label, "signature_age_days") == 0) {
			struct rep_check *c = find_check(r, s->asset, s->check);
			if (c && s->n && s->max > c->worst_sig_age)
				c->worst_sig_age = s->max;
		}
		if (strcmp(s->label, "cpu") == 0 && r->utm_cpu < 0 && s->n)
			r->utm_cpu = (int)i;
		if (strcmp(s->label, "sessions") == 0 && r->utm_sessions < 0 && s->n)
			r->utm_sessions = (int)i;
		if (s->counter && r->utm_blocked < 0 && s->n && strstr(s->label, "block"))
			r->utm_blocked = (int)i;
	}
	if (mn) {
		qsort(mv, mn, sizeof *mv, cmp_vw);
		r->mail_p50 = percentile(mv, mn, 0.50);
		r->mail_p95 = percentile(mv, mn, 0.95);
		r->mail_max = 0;
		for (int d = 0; d < in->n_days; d++) {
			const struct rep_day_stat *a = &r->mail_day[d];
			if (a->n && (r->mail_worst_day < 0 || a->max > r->mail_worst_max)) {
				r->mail_worst_day = d;
				r->mail_worst_max = a->max;
				r->mail_worst_avg = a->sum / a->n;
			}
			if (a->n && a->max > r->mail_max)
				r->mail_max = a->max;
		}
	}
	free(mv);
	return 0;
}

/* ---- the whole month ---- */

static int cmp_check(const void *x, const void *y)
{
	const struct rep_check *a = x, *b = y;
	int c = strcmp(a->asset, b->asset);
	return c ? c : strcmp(a->check, b->check);
}

int report__build(struct store *ro, const struct report_input *in, struct report *r, char *err,
                  size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	r->end = in->now < in->to ? in->now : in->to;
	if (r->end < in->from)
		r->end = in->from;
	r->future = in->now < in->from;
	r->utm_cpu = r->utm_sessions = r->utm_blocked = r->mail_worst_day = -1;
	for (size_t i = 0; i < in->n_checks; i++) {
		const struct report_check *k = &in->checks[i];
		if (find_check(r, k->asset, k->check))
			continue;
		struct rep_check *c = add_check(r, k->asset, k->asset_type, k->check, k->plugin,
		                                rep_svc_parse(k->service));
		c->configured = 1;
	}
	struct build x = { .r = r };
	int rc = store_month_begin(ro, err, errlen);
	if (rc)
		return REPORT_E_STORE;
	rc = store_month_changes(ro, in->customer, in->from, r->end > in->from ? r->end : in->to,
	                         on_change, &x, err, errlen);
	if (!rc)
		rc = store_month_states(ro, in->customer, on_state_row, &x, err, errlen);
	if (!rc)
		rc = store_month_assets(ro, in->customer, on_asset_row, &x, err, errlen);
	if (!rc)
		rc = store_month_alerts(ro, in->customer, in->from,
		                        r->end > in->from ? r->end : in->to, on_alert, on_event,
		                        on_dispatch, &x, err, errlen);
	if (!rc)
		rc = store_month_runs(ro, in->from, r->end > in->from ? r->end : in->to, on_run_row,
		                      &x, err, errlen);
	if (!rc)
		rc = store_month_series(ro, in->customer, on_series_row, &x, err, errlen);
	if (!rc) {
		/* the series need the checks' services, known by now */
		if (r->n_checks)
			qsort(r->checks, r->n_checks, sizeof *r->checks, cmp_check);
		rc = read_series(ro, r, err, errlen);
	}
	store_month_end(ro);
	if (rc)
		return REPORT_E_STORE;
	find_gaps(r);
	for (size_t i = 0; i < r->n_checks; i++) {
		struct rep_check *c = &r->checks[i];
		/* a check gone from the configuration counts while it has a
		 * history in the period */
		if (!c->configured && !c->n_segs)
			continue;
		count_check(r, c);
	}
	/* what was watched */
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];
		if (!c->configured && !c->n_segs)
			continue;
		if (c->svc == SVC_DEFENDER || strcmp(c->plugin, "defender") == 0) {
			r->n_pcs++;
			for (int d = 0; d < in->n_days; d++) {
				switch (c->day[d]) {
				case 1: r->day_protected[d]++; break;
				case 2: r->day_silent[d]++; break;
				case 3: r->day_unprotected[d]++; break;
				default: r->day_nodata[d]++; break;
				}
			}
		}
		if (c->svc == SVC_UTM) {
			int seen = 0;
			for (size_t j = 0; j < i; j++)
				seen |= r->checks[j].svc == SVC_UTM &&
				        strcmp(r->checks[j].asset, c->asset) == 0;
			r->n_utm += !seen;
		}
		if (c->svc == SVC_MAIL && strcmp(c->plugin, "dns_txt") != 0)
			r->n_mail++;
		if (strcmp(c->plugin, "dns_txt") == 0) {
			int seen = 0;
			for (size_t j = 0; j < i; j++)
				seen |= strcmp(r->checks[j].plugin, "dns_txt") == 0 &&
				        strcmp(r->checks[j].asset, c->asset) == 0;
			r->n_domains += !seen;
		}
	}
	return REPORT_OK;
}

void report__free(struct report *r)
{
	for (size_t i = 0; i < r->n_checks; i++) {
		struct rep_check *c = &r->checks[i];
		free(c->asset);
		free(c->asset_type);
		free(c->check);
		free(c->plugin);
		free(c->end_output);
		for (size_t k = 0; k < c->n_segs; k++)
			free(c->segs[k].output);
		free(c->segs);
	}
	free(r->checks);
	for (size_t i = 0; i < r->n_alerts; i++) {
		struct rep_alert *a = &r->alerts[i];
		free(a->id);
		free(a->asset);
		free(a->check);
		free(a->service);
		free(a->summary);
		free(a->center);
		free(a->tier_name);
		free(a->breach_tiers);
	}
	free(r->alerts);
	for (size_t i = 0; i < r->n_visits; i++) {
		struct rep_visit *v = &r->visits[i];
		free(v->asset);
		free(v->check);
		free(v->vendor);
		free(v->result);
		free(v->actor);
	}
	free(r->visits);
	for (size_t i = 0; i < r->n_series; i++) {
		free(r->series[i].asset);
		free(r->series[i].check);
		free(r->series[i].label);
		free(r->series[i].unit);
	}
	free(r->series);
	free(r->gaps);
	free(r->runs);
	memset(r, 0, sizeof *r);
}
