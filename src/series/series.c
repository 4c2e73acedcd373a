/*
 * series: the perfdata history in memory and its journal source (see
 * series.h).
 *
 * Layout, for few cache misses per result: one `struct scheck` per check
 * (the caller keeps a pointer to it; found by key in `checks` the first
 * time), holding its lines (series) in one block - the first two inside
 * the scheck itself, so the common check with one or two values is one
 * allocation.  A line holds `d`, what its buckets got since they were
 * last written: one addition that goes both into its 5-minute bucket and
 * into that bucket's hour (a 5-minute boundary passed before the write
 * closes the addition early: both tiers are additive, so cutting an hour
 * into several additions changes nothing).  Checks that got a value are
 * on the dirty list; raw samples and closed additions wait in two
 * bounded arrays, naming their line by (check, index) since a check's
 * block moves when it grows.  The first cut at least conf.flush after the
 * last write turns all of it into batch rows (write_held).
 *
 * Per result: the parse when the plugin gave text (into a stack copy: the
 * text is not ours), or none when the caller says the perfdata repeats
 * the previous result's (each line keeps the value it got then); per
 * value a label match (the position it had last time first), a unit
 * check and a few additions.  Nothing is allocated once a check's lines
 * exist.
 *
 * Must never: block, log per result, free a check's state while the
 * daemon runs (the engine's slots point at it).
 */
#include "series/series.h"
#include "series/forward.h"
#include "journal/journal.h"
#include "perfdata/perfdata.h"
#include "store/store.h"
#include "util/esc.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <math.h>
#include <mamori/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX      8192    /* perfdata text parsed per result (as the engine keeps) */
#define RAW_WAIT_MAX  2000000 /* raw samples waiting to be written (64 MB) */
#define SHUT_WAIT_MAX 1000000 /* closed additions waiting to be written (56 MB) */
#define PRUNE_EVERY   1.0     /* s between retention steps while batches come */
#define PRUNE_IDLE    60.0    /* s: a step is worth a batch of its own */
#define SEEN_EVERY    86400.0 /* s between two writes of a series' last_seen */
#define VALUE_MAX     1e300   /* larger magnitudes are refused (sums stay finite) */
#define LABEL_INLINE  24      /* labels this long or shorter live in the line */
#define INLINE_LINES  2       /* lines inside the scheck */

struct delta {
	int64_t t; /* the 5-minute bucket's start (s); its hour is t - t % 3600 */
	double min, max, sum;
	uint32_t n; /* 0: nothing since the last batch */
};

struct sline {
	int64_t id;
	double seen_written; /* last_seen as last written */
	double last_raw;     /* when the last raw sample was kept */
	double last_v;       /* the value of this check's previous record */
	struct delta d;
	char unit[SERIES_UNIT_MAX + 1];
	char label_s[LABEL_INLINE + 1];
	char *label_l;   /* a longer label, or NULL */
	uint8_t put;     /* the series row must be written (new, unit, last_seen) */
	uint8_t in_last; /* got a value in the previous record */
};

struct scheck {
	struct sline *lines; /* `first`, or a heap block once there are more */
	uint32_t n, cap;
	uint32_t epoch; /* the replay below is valid while it is the series' */
	uint8_t replay; /* the previous record can be repeated */
	uint8_t dirty;  /* on the dirty list */
	uint8_t warned; /* the label cap was logged */
	char *key;      /* "customer/asset/check"; the names follow in the same block */
	const char *customer, *asset, *check;
	struct sline first[INLINE_LINES];
};

struct raw_wait {
	struct scheck *k;
	uint32_t i;
	int64_t t_ms;
	double v;
};

struct shut_wait {
	struct scheck *k;
	uint32_t i;
	struct delta d;
};

struct series {
	struct series_deps d;
	struct series_conf c;
	struct hmap checks; /* key -> struct scheck */
	int64_t last_id;
	uint32_t epoch; /* changes when replays become invalid (a new conf) */
	struct scheck **dirty;
	size_t n_dirty, cap_dirty;
	struct raw_wait *raw;
	size_t n_raw, cap_raw;
	struct shut_wait *shut;
	size_t n_shut, cap_shut;
	double last_prune;
	double last_write; /* when what was held was last written */
	int flush_all;     /* the next fill writes it whatever the time */
	double bucket_now; /* the time bucket5 is for */
	int64_t bucket5;
	struct series_stats st;
	struct forward *fwd; /* NULL: values are not forwarded */
};

void series_conf_default(struct series_conf *c)
{
	memset(c, 0, sizeof *c);
	c->enabled = 1;
	c->raw_keep = 48 * 3600.0;
	c->keep_5m = 35 * 86400.0;
	c->keep_1h = 395 * 86400.0;
	c->raw_min_interval = 10;
	c->flush = 1;
	c->max_labels = 64;
}

int series_conf_check(const struct series_conf *c, char *err, size_t errlen)
{
	const char *why = NULL;
	if (!(c->raw_keep >= 3600 && c->raw_keep <= 30 * 86400.0))
		why = "raw_retention must be between 1h and 30d";
	else if (!(c->keep_5m >= 86400 && c->keep_5m <= 400 * 86400.0))
		why = "rollup_5m_retention must be between 1d and 400d";
	else if (!(c->keep_1h >= 7 * 86400.0 && c->keep_1h <= 3650 * 86400.0))
		why = "rollup_1h_retention must be between 7d and 3650d";
	else if (c->keep_5m < c->raw_keep)
		why = "rollup_5m_retention must be at least raw_retention";
	else if (c->keep_1h < c->keep_5m)
		why = "rollup_1h_retention must be at least rollup_5m_retention";
	else if (!(c->raw_min_interval >= 0 && c->raw_min_interval <= 3600))
		why = "raw_min_interval must be between 0s and 1h";
	else if (!(c->flush >= 0 && c->flush <= 600))
		why = "flush_interval must be between 0s and 10m";
	else if (c->max_labels < 1 || c->max_labels > SERIES_LABELS_MAX)
		why = "max_labels must be between 1 and 256";
	if (why && errlen)
		snprintf(err, errlen, "%s", why);
	return why ? -1 : 0;
}

static double now_of(const struct series *s)
{
	return s->d.clock ? s->d.clock(s->d.clock_ud) : ev_now(s->d.loop);
}

static const char *label_of(const struct sline *l)
{
	return l->label_l ? l->label_l : l->label_s;
}

/* ---- the index ---- */

static struct scheck *check_new(struct series *s, const char *key, const char *customer,
                                const char *asset, const char *check)
{
	size_t lk = strlen(key) + 1, lc = strlen(customer) + 1, la = strlen(asset) + 1,
	       ln = strlen(check) + 1;
	struct scheck *k = xcalloc(1, sizeof *k);
	char *p = xmalloc(lk + lc + la + ln);
	k->key = p;
	memcpy(p, key, lk);
	k->customer = memcpy(p + lk, customer, lc);
	k->asset = memcpy(p + lk + lc, asset, la);
	k->check = memcpy(p + lk + lc + la, check, ln);
	k->lines = k->first;
	k->cap = INLINE_LINES;
	hmap_put(&s->checks, k->key, lk - 1, k);
	return k;
}

void *series_check(struct series *s, const char *key, const char *customer, const char *asset,
                   const char *check)
{
	struct scheck *k = hmap_get(&s->checks, key, strlen(key));
	return k ? k : check_new(s, key, customer, asset, check);
}

static struct sline *line_add(struct series *s, struct scheck *k, const char *label, int64_t id,
                              const char *unit, double seen)
{
	if (k->n == k->cap) {
		uint32_t cap = k->cap * 2;
		struct sline *lines = xmalloc(cap * sizeof *lines);
		memcpy(lines, k->lines, k->n * sizeof *lines);
		if (k->lines != k->first)
			free(k->lines);
		k->lines = lines;
		k->cap = cap;
	}
	struct sline *l = &k->lines[k->n++];
	memset(l, 0, sizeof *l);
	size_t len = strlen(label);
	if (len <= LABEL_INLINE)
		memcpy(l->label_s, label, len + 1);
	else
		l->label_l = xstrdup(label);
	l->id = id;
	l->seen_written = seen;
	l->last_raw = -INFINITY;
	snprintf(l->unit, sizeof l->unit, "%s", unit ? unit : "");
	s->st.series++;
	return l;
}

/* A label we may keep: short, printable, valid UTF-8 (it is shown in
 * JSON, logs and charts). */
static int label_ok(const char *label)
{
	size_t n = strnlen(label, SERIES_LABEL_MAX + 1);
	return n > 0 && n <= SERIES_LABEL_MAX && !esc_needed(label) && !strchr(label, '\t');
}

/* The index of a new line for label, or -1 (refused). */
static int line_new(struct series *s, struct scheck *k, const char *label, double now)
{
	if (k->n >= s->c.max_labels) {
		if (!k->warned)
			log_warn(
			    "series",
			    "%s: more than %u perfdata labels; '%.64s' and any further new label"
			    " are not recorded (history.max_labels)",
			    k->key, s->c.max_labels, label);
		k->warned = 1;
		return -1;
	}
	if (!label_ok(label))
		return -1;
	struct sline *l = line_add(s, k, label, ++s->last_id, "", now);
	l->put = 1;
	return (int)k->n - 1;
}

/* The index of label's line, or -1; the i-th item usually has the i-th
 * line. */
static int line_find(const struct scheck *k, const char *label, size_t i)
{
	if (i < k->n && strcmp(label_of(&k->lines[i]), label) == 0)
		return (int)i;
	for (uint32_t j = 0; j < k->n; j++)
		if (strcmp(label_of(&k->lines[j]), label) == 0)
			return (int)j;
	return -1;
}

/* ---- values ---- */

/* v in the base unit of uom; *unit is that unit's name. */
static double normalise(const char *uom, double v, const char **unit)
{
	static const struct {
		const char *in, *out;
		double f;
	} conv[] = {
		{ "ms", "s", 1e-3 },
		{ "us", "s", 1e-6 },
		{ "ns", "s", 1e-9 },
		{ "KB", "B", 1024.0 },
		{ "MB", "B", 1048576.0 },
		{ "GB", "B", 1073741824.0 },
		{ "TB", "B", 1099511627776.0 },
		{ "PB", "B", 1125899906842624.0 },
	};
	*unit = uom ? uom : "";
	if (!uom || !uom[0] || !uom[1] || uom[2])
		return v; /* only the two-letter units above convert */
	for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++)
		if (uom[0] == conv[i].in[0] && uom[1] == conv[i].in[1]) {
			*unit = conv[i].out;
			return v * conv[i].f;
		}
	return v;
}

static void mark_dirty(struct series *s, struct scheck *k)
{
	if (k->dirty)
		return;
	if (s->n_dirty == s->cap_dirty) {
		s->cap_dirty = s->cap_dirty ? s->cap_dirty * 2 : 1024;
		s->dirty = xrealloc(s->dirty, s->cap_dirty * sizeof *s->dirty);
	}
	s->dirty[s->n_dirty++] = k;
	k->dirty = 1;
}

static void shut(struct series *s, struct scheck *k, uint32_t i)
{
	if (s->n_shut == SHUT_WAIT_MAX) {
		s->st.rollup_dropped++;
		return;
	}
	if (s->n_shut == s->cap_shut) {
		s->cap_shut = s->cap_shut ? s->cap_shut * 2 : 256;
		s->shut = xrealloc(s->shut, s->cap_shut * sizeof *s->shut);
	}
	s->shut[s->n_shut++] = (struct shut_wait){ .k = k, .i = i, .d = k->lines[i].d };
}

static void add_value(struct series *s, struct scheck *k, uint32_t i, double v, double now)
{
	struct sline *l = &k->lines[i];
	s->st.samples++;
	if (fabs(now - l->last_raw) >= s->c.raw_min_interval) {
		if (s->n_raw < RAW_WAIT_MAX) {
			if (s->n_raw == s->cap_raw) {
				s->cap_raw = s->cap_raw ? s->cap_raw * 2 : 1024;
				s->raw = xrealloc(s->raw, s->cap_raw * sizeof *s->raw);
			}
			s->raw[s->n_raw++] = (struct raw_wait){
				.k = k, .i = i, .t_ms = llround(now * 1000), .v = v
			};
			l->last_raw = now;
		} else {
			s->st.raw_dropped++;
		}
	} else {
		s->st.raw_thinned++;
	}
	struct delta *d = &l->d;
	if (d->n && d->t != s->bucket5) {
		shut(s, k, i); /* its bucket closed before the batch came */
		d->n = 0;
	}
	if (!d->n) {
		*d = (struct delta){ .t = s->bucket5, .min = v, .max = v, .sum = v, .n = 1 };
	} else {
		if (v < d->min)
			d->min = v;
		if (v > d->max)
			d->max = v;
		d->sum += v;
		d->n++;
	}
	l->last_v = v;
	l->in_last = 1;
	if (s->fwd)
		forward_value(s->fwd, k->customer, k->asset, k->check, label_of(l), l->unit, v,
		              now);
	if (now - l->seen_written >= SEEN_EVERY)
		l->put = 1;
}

/* The previous record again: every line that got a value then gets it
 * again. */
static void replay(struct series *s, struct scheck *k, double now)
{
	for (uint32_t i = 0; i < k->n; i++)
		if (k->lines[i].in_last)
			add_value(s, k, i, k->lines[i].last_v, now);
	s->st.replayed++;
}

void series_flush_all(struct series *s)
{
	if (s)
		s->flush_all = 1;
}

int series_recording(const struct series *s)
{
	return s && s->c.enabled;
}

void series_record(struct series *s, void *chk, const struct mamori_perfdata *items, size_t n,
                   const char *perf_text, int same, double now)
{
	struct scheck *k = chk;
	if (!s || !k || !s->c.enabled)
		return;
	if (now != s->bucket_now) {
		s->bucket_now = now;
		s->bucket5 = (int64_t)floor(now / 300) * 300;
	}
	if (same && k->replay && k->epoch == s->epoch) {
		replay(s, k, now);
		mark_dirty(s, k);
		return;
	}
	struct mamori_perfdata parsed[SERIES_LABELS_MAX];
	char text[TEXT_MAX];
	if (!items || !n) {
		if (!perf_text || !*perf_text)
			return;
		size_t len = strnlen(perf_text, sizeof text - 1);
		memcpy(text, perf_text, len);
		text[len] = '\0';
		size_t bad = 0;
		int got = perf_parse(text, parsed, SERIES_LABELS_MAX, &bad);
		s->st.bad_items += bad;
		if (got <= 0)
			return;
		items = parsed;
		n = (size_t)got;
	}
	for (uint32_t i = 0; i < k->n; i++)
		k->lines[i].in_last = 0;
	int ok = 1; /* this record can be replayed */
	for (size_t j = 0; j < n; j++) {
		const struct mamori_perfdata *p = &items[j];
		if ((p->flags & MAMORI_PERF_VALUE_UNKNOWN) || !isfinite(p->value)) {
			s->st.unknown++;
			continue;
		}
		if (!p->label || fabs(p->value) > VALUE_MAX) {
			s->st.bad_items++;
			continue;
		}
		const char *unit;
		double v = normalise(p->uom, p->value, &unit);
		if (fabs(v) > VALUE_MAX) {
			s->st.bad_items++;
			continue;
		}
		int i = line_find(k, p->label, j);
		if (i >= 0 && strcmp(k->lines[i].unit, unit) == 0) {
			/* the common case: a known series in its unit */
		} else if (strlen(unit) > SERIES_UNIT_MAX || esc_needed(unit)) {
			s->st.bad_items++;
			continue;
		} else if (i < 0 && (i = line_new(s, k, p->label, now)) < 0) {
			s->st.refused++;
			continue;
		}
		struct sline *l = &k->lines[i];
		if (l->in_last)
			ok = 0; /* the same label twice: replaying would count it once */
		if (strcmp(l->unit, unit) != 0) {
			snprintf(l->unit, sizeof l->unit, "%s", unit);
			l->put = 1;
		}
		add_value(s, k, (uint32_t)i, v, now);
	}
	k->replay = (uint8_t)ok;
	k->epoch = s->epoch;
	mark_dirty(s, k);
}

/* ---- the journal source ---- */

static void add_rows(struct store_batch *b, const struct sline *l, const struct delta *d)
{
	struct store_series_agg a = {
		.t = d->t, .min = d->min, .max = d->max, .sum = d->sum, .n = d->n
	};
	store_batch_series_add(b, STORE_SERIES_5M, l->id, &a);
	a.t = d->t - d->t % 3600;
	store_batch_series_add(b, STORE_SERIES_1H, l->id, &a);
}

/* Time to write what is held: its interval is over, a flush was asked
 * for, or a waiting array is half full (write early rather than drop). */
static int write_due(const struct series *s, double now)
{
	return s->flush_all || now - s->last_write >= s->c.flush || s->n_raw >= RAW_WAIT_MAX / 2 ||
	       s->n_shut >= SHUT_WAIT_MAX / 2;
}

static int source_pending(void *ud)
{
	struct series *s = ud;
	double now = now_of(s);
	return ((s->n_dirty || s->n_raw || s->n_shut) && write_due(s, now)) ||
	       now - s->last_prune >= PRUNE_IDLE;
}

static void write_held(struct series *s, struct store_batch *b, double now)
{
	for (size_t i = 0; i < s->n_dirty; i++) {
		struct scheck *k = s->dirty[i];
		for (uint32_t j = 0; j < k->n; j++) {
			struct sline *l = &k->lines[j];
			if (!l->put)
				continue;
			struct store_series_row r = { .id = l->id,
				                      .customer = k->customer,
				                      .asset = k->asset,
				                      .check = k->check,
				                      .label = label_of(l),
				                      .unit = l->unit,
				                      .created = now,
				                      .last_seen = now };
			store_batch_series(b, &r);
			l->seen_written = now;
			l->put = 0;
		}
	}
	for (size_t i = 0; i < s->n_shut; i++)
		add_rows(b, &s->shut[i].k->lines[s->shut[i].i], &s->shut[i].d);
	s->n_shut = 0;
	for (size_t i = 0; i < s->n_raw; i++)
		store_batch_series_raw(b, s->raw[i].k->lines[s->raw[i].i].id, s->raw[i].t_ms,
		                       s->raw[i].v);
	s->st.raw_kept += s->n_raw;
	s->n_raw = 0;
	for (size_t i = 0; i < s->n_dirty; i++) {
		struct scheck *k = s->dirty[i];
		for (uint32_t j = 0; j < k->n; j++) {
			struct sline *l = &k->lines[j];
			if (l->d.n) {
				add_rows(b, l, &l->d);
				l->d.n = 0;
			}
		}
		k->dirty = 0;
	}
	s->n_dirty = 0;
	s->last_write = now;
	s->flush_all = 0;
}

static void source_fill(void *ud, struct store_batch *b)
{
	struct series *s = ud;
	double now = now_of(s);
	if ((s->n_dirty || s->n_raw || s->n_shut) && write_due(s, now))
		write_held(s, b, now);
	if (now - s->last_prune >= PRUNE_EVERY) {
		struct store_series_prune p = {
			.raw_before_ms = llround((now - s->c.raw_keep) * 1000),
			.m5_before = (int64_t)floor(now - s->c.keep_5m),
			.h1_before = (int64_t)floor(now - s->c.keep_1h),
			.series_before = now - s->c.keep_1h,
			.max_rows = SERIES_PRUNE_ROWS,
			.max_series = SERIES_PRUNE_VISIT,
		};
		store_batch_series_prune(b, &p);
		s->last_prune = now;
		s->st.prune_steps++;
	}
}

/* ---- lifecycle ---- */

struct series *series_new(const struct series_deps *d, const struct series_conf *c)
{
	struct series *s = xcalloc(1, sizeof *s);
	s->d = *d;
	series_set_conf(s, c);
	hmap_init(&s->checks);
	s->bucket_now = NAN;
	s->last_prune = now_of(s);
	s->last_write = -INFINITY;
	if (d->journal && journal_durable(d->journal))
		journal_add_source(d->journal, source_fill, source_pending, s);
	return s;
}

static void on_loaded(void *ud, const struct store_series_row *r)
{
	struct series *s = ud;
	size_t n = strlen(r->customer) + strlen(r->asset) + strlen(r->check) + 3;
	char *key = xmalloc(n);
	snprintf(key, n, "%s/%s/%s", r->customer, r->asset, r->check);
	struct scheck *k = series_check(s, key, r->customer, r->asset, r->check);
	free(key);
	if (line_find(k, r->label, k->n) < 0 && label_ok(r->label))
		line_add(s, k, r->label, r->id, r->unit, r->last_seen);
	if (r->id > s->last_id)
		s->last_id = r->id;
}

int series_load(struct series *s, struct store *st)
{
	int64_t last = store_series_last_id(st);
	int rc = store_load_series(st, on_loaded, s);
	if (last > s->last_id)
		s->last_id = last;
	if (rc != 0)
		log_err("series", "cannot load the perfdata series from the store");
	else if (s->st.series)
		log_info("series", "%llu perfdata series known", (unsigned long long)s->st.series);
	return rc;
}

void series_set_conf(struct series *s, const struct series_conf *c)
{
	s->c = *c;
	s->epoch++; /* results went unrecorded, or limits changed: parse again */
}

const struct series_conf *series_get_conf(const struct series *s)
{
	return &s->c;
}

void series_get_stats(const struct series *s, struct series_stats *out)
{
	*out = s->st;
}

void series_set_forward(struct series *s, struct forward *f)
{
	if (s)
		s->fwd = f;
}

int series_forward_stats(const struct series *s, struct forward_stats *out)
{
	if (!s || !s->fwd)
		return 0;
	forward_get_stats(s->fwd, out);
	return 1;
}

void series_free(struct series *s)
{
	if (!s)
		return;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&s->checks, &it, &e)) {
		struct scheck *k = e->value;
		for (uint32_t i = 0; i < k->n; i++)
			free(k->lines[i].label_l);
		if (k->lines != k->first)
			free(k->lines);
		free(k->key);
		free(k);
	}
	hmap_free(&s->checks);
	free(s->dirty);
	free(s->raw);
	free(s->shut);
	free(s);
}

/* ---- planning a read ---- */

const char *series_tier_name(int tier)
{
	static const char *const names[] = { "raw", "5m", "1h" };
	return tier >= 0 && tier <= 2 ? names[tier] : "?";
}

int series_plan(const struct series_conf *c, double now, double from, double to, double step,
                size_t max_points, struct series_plan *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!isfinite(from) || !isfinite(to) || from < 0 || to > 1e11) {
		snprintf(err, errlen, "from and to must be times (seconds since the epoch)");
		return -1;
	}
	if (from >= to) {
		snprintf(err, errlen, "from must be before to");
		return -1;
	}
	if (!isfinite(step) || step <= 0) {
		snprintf(err, errlen, "step must be a positive number of seconds");
		return -1;
	}
	if (step < 1) {
		snprintf(err, errlen, "step must be at least 1 second");
		return -1;
	}
	if (from < now - c->keep_1h - 86400) {
		snprintf(err, errlen,
		         "from is older than the history keeps (%.0f days: "
		         "history.rollup_1h_retention)",
		         c->keep_1h / 86400);
		return -1;
	}
	const double keep[3] = { c->raw_keep, c->keep_5m, c->keep_1h };
	const double res[3] = { 0, 300, 3600 };
	int tier = -1;
	for (int t = 2; t >= 0 && tier < 0; t--)
		if (res[t] <= step && from >= now - keep[t])
			tier = t; /* the coarsest that fits the step and reaches back */
	for (int t = 0; t <= 2 && tier < 0; t++)
		if (from >= now - keep[t])
			tier = t; /* else the finest that reaches back */
	if (tier < 0)
		tier = SERIES_1H; /* within the day of slack */
	double st = tier == SERIES_RAW ? step : ceil(step / res[tier]) * res[tier];
	if (tier == SERIES_RAW)
		st = round(st * 1000) / 1000; /* raw buckets count in ms */
	double f = floor(from / st) * st;
	double buckets = ceil((to - f) / st);
	if (buckets > (double)max_points) {
		double need = (to - f) / (double)max_points;
		if (tier != SERIES_RAW)
			need = ceil(need / res[tier]) * res[tier];
		snprintf(
		    err, errlen,
		    "too many points: %.0f buckets of %gs (at most %zu); use a step of at least"
		    " %.0fs",
		    buckets, st, max_points, ceil(need));
		return -1;
	}
	out->tier = tier;
	out->from = f;
	out->to = to;
	out->step = st;
	out->buckets = (size_t)buckets;
	return 0;
}
