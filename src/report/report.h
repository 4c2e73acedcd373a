/*
 * report: the monthly customer report (doc/report.md) - what one customer
 * got from the service in one month, for a company owner with no IT
 * staff, as one self-contained HTML file or an A4 PDF, in Japanese or
 * English.
 *
 * The pipeline, each step a plain function:
 *   1. report_input (on the loop thread): a snapshot of what the
 *      configuration says - the customer, its checks now, the month's
 *      bounds, local days, UTC offsets and business hours in the
 *      customer's calendar (report_input_calendar).  Copies only: no
 *      registry or calendar pointer crosses into step 2.
 *   2. report_build (anywhere but the loop: a worker): the month's data
 *      from a read-only store - state history, alerts with their events,
 *      dispatch records, perfdata buckets - into figures (struct report).
 *   3. report_doc: the figures as a document of localised blocks
 *      (paragraphs, tables, charts) with the texts of share/mamori/report.
 *   4. report_html / report_pdf: that document as bytes.
 * report_pool runs 2-4 on worker threads; report_make does 2-4 at once
 * (tests, benchmarks, tools).
 *
 * Must never: run on the daemon's loop thread past step 1 (a month is
 * many rows), write to the store, fetch anything from the network (the
 * HTML has no external reference, no script), or trust a text from the
 * store (outputs, names, notes are escaped by the renderers).
 * Depends on store (the month reads), cal (step 1 only), util.
 */
#ifndef MAMORI_REPORT_H
#define MAMORI_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct cal;
struct store;
struct ev_loop;

enum report_format { REPORT_HTML = 0, REPORT_PDF = 1 };

/* Errors (negative). */
enum report_err {
	REPORT_OK = 0,
	REPORT_E_INVALID = -1, /* a bad month, language or format (the message says) */
	REPORT_E_STORE = -2,   /* the store failed or is too old */
	REPORT_E_RENDER = -3,  /* the PDF library failed (fonts missing...) */
	REPORT_E_BUSY = -4,    /* the queue of the workers is full */
	REPORT_E_CLOSED = -5,  /* the pool stopped before the job ran */
};

/* A check as configured when the report is made. */
struct report_check {
	char *asset, *asset_type, *check, *plugin;
	char *service; /* "defender", "web", "mail", "utm", "dns", "other" */
};

/* An SLA tier the customer's alerts run on (stated in the report's alert
 * section): its contract's, else those of the centers its checks route
 * to.  Durations in the terms' calendar's open (business) seconds; 0: no
 * deadline. */
struct report_tier {
	char *center; /* NULL: the customer's own contract */
	char *tier;
	double ack_within, resolve_within;
};

struct report_span {
	double a, b;
};

struct report_offset {
	double t; /* from this instant on ... */
	long off; /* ... local time is UTC + off seconds */
};

#define REPORT_MAX_DAYS 31

struct report_input {
	char *customer, *name;
	char lang[4]; /* "ja" or "en" */
	int format;   /* enum report_format */
	int year, month;
	double from, to; /* local midnights: the month is [from, to) */
	double now;      /* when it is made: nothing after it is counted */
	char *tz;        /* the zone's name ("Asia/Tokyo") */
	char *calendar;  /* the business calendar's name; NULL: none (no business hours) */
	double day[REPORT_MAX_DAYS + 1]; /* local midnight of day i + 1; day[n_days] == to */
	int n_days;
	struct report_offset *offs; /* at least one; the first at or before `from` */
	size_t n_offs;
	struct report_span *open; /* business hours within [from, to), in order */
	size_t n_open;
	struct report_check *checks;
	size_t n_checks;
	struct report_tier *tiers; /* the SLA terms (report_input_add_tier) */
	size_t n_tiers;
	char *datadir; /* where report/ (the texts) is: share/mamori */
};

/* "YYYY-MM" -> year, month: 0, or -1 (also for years outside 2000..2999). */
int report_parse_month(const char *s, int *year, int *month);
/* Fill the calendar fields of `in` (from, to, day[], offs, open, tz,
 * calendar) for in->year/in->month in calendar c (the zone: c's; the
 * business hours: c's when `business`, none otherwise).  0, or -1 for a
 * month the calendar cannot express. */
int report_input_calendar(struct report_input *in, const struct cal *c, const char *cal_name,
                          int business);
/* The first business day of a month in c, as the instant it opens (its
 * first open moment that day); -1 when the calendar does not open that
 * month. */
double report_first_business_day(const struct cal *c, int year, int month);
/* Which month's report is due at `now` for a calendar: the month before
 * the local month of now, once now has reached that local month's first
 * business day (its first open moment).  1 with *year, *month set; 0 when
 * not yet (*at: when it will be, or -1 when that month never opens). */
int report_due(const struct cal *c, double now, int *year, int *month, double *at);
/* The summary paragraph as a small HTML document (an e-mail body): the
 * text escaped, in one <p>; malloc'ed. */
char *report_summary_html(const char *summary, const char *lang, const char *title);
/* Deep copy / free (the copy owns every string and array). */
struct report_input *report_input_dup(const struct report_input *in);
void report_input_free(struct report_input *in);
/* Add an SLA tier (strings copied; center NULL: the contract's). */
void report_input_add_tier(struct report_input *in, const char *center, const char *tier,
                           double ack_within, double resolve_within);
/* Add a configured check (strings copied). */
void report_input_add_check(struct report_input *in, const char *asset, const char *asset_type,
                            const char *check, const char *plugin, const char *service);

/* Steps 2-4 at once: the report of `in` from the store (opened
 * read-only, used by this thread only) into *out (malloc'ed, *len bytes;
 * the caller frees).  REPORT_OK, or an error with a message in err. */
int report_make(struct store *ro, const struct report_input *in, char **out, size_t *len, char *err,
                size_t errlen);
/* Only the summary paragraph of the report (plain text, the report's
 * language): for an e-mail body.  Same arguments; *out is a string. */
int report_make_summary(struct store *ro, const struct report_input *in, char **out, char *err,
                        size_t errlen);

/* ---- the workers ----
 * A pool of threads, each with its own read-only connection to the
 * store, that make reports; results come back on the loop thread through
 * one ev_async, exactly once per accepted job.  A job's input is copied
 * at submission. */
struct report_pool;
struct report_result {
	int err; /* enum report_err */
	char msg[256];
	char *data; /* the report (owned by the callback: free it or keep it) */
	size_t len;
	char *summary;  /* the summary paragraph (owned by the callback) */
	double seconds; /* time spent making it */
};
typedef void (*report_done_fn)(void *ud, struct report_result *r);
/* threads 1..16; max_queue: jobs waiting at most (more: REPORT_E_BUSY). */
struct report_pool *report_pool_new(struct ev_loop *loop, const char *state_dir, int threads,
                                    size_t max_queue, char *err, size_t errlen);
/* Queue a job: 0, or REPORT_E_BUSY / REPORT_E_CLOSED (fn never runs).
 * want_summary: also make the summary paragraph. */
int report_pool_submit(struct report_pool *p, const struct report_input *in, int want_summary,
                       report_done_fn fn, void *ud);
/* Jobs queued or running. */
size_t report_pool_pending(const struct report_pool *p);
/* Stop: jobs not started are answered REPORT_E_CLOSED, running ones are
 * waited for and answered; then the threads are joined.  Loop thread. */
void report_pool_free(struct report_pool *p);

const char *report_strerror(int err);

#endif
