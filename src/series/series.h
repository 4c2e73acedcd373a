/*
 * series: the perfdata history - every perfdata value of every check
 * result, kept in the store at three resolutions (RRD/Graphite style):
 * raw samples (48 h), 5-minute rollups (35 days) and hourly rollups
 * (13 months), each rollup with min, max, sum and count.
 *
 * Off the hot path: a result's perfdata goes into memory (per series:
 * what its current 5-minute and hourly buckets got since they were last
 * written, and the raw samples waiting); the journal's cuts take it into
 * the pending batch as a source, so the store writes it with everything
 * else in the writer's transaction.  Nothing here runs SQL or waits for
 * the disk.  Buckets are written as additions.  What is held is written
 * with the first batch cut at least conf.flush seconds after the last
 * write (1 s; 0: with every batch; sooner when the waiting arrays are half
 * full): each write of a series dirties a page of each table it touches,
 * so holding longer turns several samples of a series into one page write
 * (carbon-cache and rrdcached do the same).  A stop or restart writes
 * everything (series_flush_all); a crash loses the batch that was not
 * committed and at most the last conf.flush of the history - raw samples
 * and rollups alike, so the tiers always agree on disk.
 *
 * Identity: a series is (customer, asset, check, label), its id assigned
 * once here (ids of the store continue after the largest at startup);
 * at most conf.max_labels labels per check (more are refused with one
 * log line per check).  Values are kept in base units: ms, us and ns
 * become s; KB, MB, GB, TB, PB become B (1024-based, as the Monitoring
 * Plugins' disk checks count); other units ("%", "c", "dBm") as given.
 *
 * Retention: one bounded step per second at most, carried by a batch
 * (the store deletes at most SERIES_PRUNE_ROWS rows per step).
 *
 * Must never: block, log per result, hold a pointer to a registry object
 * (the engine's per-check slot holds a pointer to ours, never the other
 * way round).  Values recorded may also go to a forwarder (forward.h:
 * Graphite plaintext to a NOC's time-series database).  Depends on
 * journal, store, perfdata, util.
 */
#ifndef MAMORI_SERIES_H
#define MAMORI_SERIES_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct journal;
struct store;
struct series;
struct mamori_perfdata;

#define SERIES_LABEL_MAX   128   /* bytes of a label */
#define SERIES_UNIT_MAX    15    /* bytes of a unit */
#define SERIES_LABELS_MAX  256   /* the largest max_labels allowed */
#define SERIES_PRUNE_ROWS  10000 /* rows deleted per retention step at most */
#define SERIES_PRUNE_VISIT 1000  /* series visited per retention step at most */

struct series_conf {
	int enabled;             /* record (retention runs either way) */
	double raw_keep;         /* s: raw samples (48 h) */
	double keep_5m, keep_1h; /* s: rollups (35 d, 395 d) */
	/* s: a series keeps at most one raw sample per this (0: every one);
	 * the rollups count every sample */
	double raw_min_interval;
	/* s: the history is written at most this often (0: with every
	 * batch); what a crash may lose of it (up to 600) */
	double flush;
	unsigned max_labels; /* per check */
};
void series_conf_default(struct series_conf *c);
/* 0, or -1 with the reason in err (the config module checks the same). */
int series_conf_check(const struct series_conf *c, char *err, size_t errlen);

struct series_deps {
	struct ev_loop *loop;
	struct journal *journal; /* NULL: nothing is written (tests) */
	/* The clock for retention and batches (tests); NULL: ev_now(loop). */
	double (*clock)(void *ud);
	void *clock_ud;
};
struct series *series_new(const struct series_deps *d, const struct series_conf *c);
void series_free(struct series *s);
/* Startup, before store_start: the series the store knows (their ids). */
int series_load(struct series *s, struct store *st);
/* A reload: retention and limits change at once. */
void series_set_conf(struct series *s, const struct series_conf *c);
const struct series_conf *series_get_conf(const struct series *s);

/* The history's state of one check (key "customer/asset/check"): found,
 * or made on first use with the names copied; it lives as long as s, so
 * the caller may keep the pointer (the engine keeps it in the check). */
void *series_check(struct series *s, const char *key, const char *customer, const char *asset,
                   const char *check);
/* One result's perfdata: parsed items (n > 0), or else the text.  same:
 * the caller knows it equals the previous result's perfdata of this
 * check, so the values recorded then are recorded again without a parse
 * (when this check's previous record is still valid; else it parses). */
void series_record(struct series *s, void *chk, const struct mamori_perfdata *items, size_t n,
                   const char *perf_text, int same, double now);
/* 1 while conf.enabled: only then should a caller feed results. */
int series_recording(const struct series *s);
/* The next batch takes everything, rollups included (before the last
 * flush at a stop; tests). */
void series_flush_all(struct series *s);

struct series_stats {
	uint64_t series;         /* known (in memory) */
	uint64_t samples;        /* values recorded */
	uint64_t replayed;       /* of those, repeated from the previous result (no parse) */
	uint64_t raw_kept;       /* raw samples handed to the store */
	uint64_t raw_thinned;    /* not kept raw: within raw_min_interval */
	uint64_t raw_dropped;    /* not kept raw: too many waiting (slow disk) */
	uint64_t rollup_dropped; /* closed buckets lost: too many waiting */
	uint64_t unknown;        /* "U" values */
	uint64_t bad_items;      /* malformed perfdata items */
	uint64_t refused;        /* values of labels refused (cap, bad label) */
	uint64_t prune_steps;    /* retention steps handed to the store */
};
void series_get_stats(const struct series *s, struct series_stats *out);

/* Forwarding (series/forward.h): every value recorded is also handed to
 * f, after normalisation, with its sample time (NULL: none; the caller
 * owns f and sets NULL before freeing it). */
struct forward;
struct forward_stats;
void series_set_forward(struct series *s, struct forward *f);
/* 1 and the forwarder's counters when one is set, else 0. */
int series_forward_stats(const struct series *s, struct forward_stats *out);

/* ---- reading: which tier answers a request ----
 * Tiers: raw (every kept sample), 5-minute and hourly rollups; each
 * covers [now - its retention, now].  The rule:
 *  - from < to, step > 0 (at least 1 s), from no older than the hourly
 *    retention (plus a day of slack), else an error;
 *  - the coarsest tier whose resolution is at most step and whose
 *    retention reaches back to from; when none of those reaches back,
 *    the finest tier that does (the step is then raised to its
 *    resolution);
 *  - on a rollup tier the step is rounded up to a multiple of the tier
 *    (300 or 3600 s);
 *  - from is aligned down to a multiple of the step (buckets are aligned
 *    on the epoch, so the same chart asked twice gets the same buckets);
 *  - at most max_points buckets, else an error naming the smallest step
 *    that fits. */
enum series_tier { SERIES_RAW = 0, SERIES_5M = 1, SERIES_1H = 2 }; /* = store_series_tier */
struct series_plan {
	int tier;
	double from, to, step; /* as answered: from aligned, step rounded */
	size_t buckets;        /* at most this many points per series */
};
int series_plan(const struct series_conf *c, double now, double from, double to, double step,
                size_t max_points, struct series_plan *out, char *err, size_t errlen);
const char *series_tier_name(int tier); /* "raw", "5m", "1h" */

#endif
