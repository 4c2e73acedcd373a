/*
 * report internals shared by the files of src/report: the month's
 * figures (report_data.c fills them from the store), the texts
 * (report_text.c), the document of localised blocks (report_doc.c) and
 * the two renderers (report_html.c, report_pdf.c).  Not for other
 * modules.
 */
#ifndef MAMORI_REPORT_INT_H
#define MAMORI_REPORT_INT_H

#include "report/report.h"

#include <stddef.h>
#include <stdint.h>

/* ---- a growable byte buffer ---- */
struct rbuf {
	char *p;
	size_t n, cap;
};
void rbuf_add(struct rbuf *b, const char *s, size_t n);
void rbuf_puts(struct rbuf *b, const char *s);
void rbuf_printf(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s escaped for HTML text and attribute values; invalid UTF-8 and
 * control characters become U+FFFD. */
void rbuf_html(struct rbuf *b, const char *s);
/* s as valid UTF-8: invalid bytes and control characters but '\n'
 * become U+FFFD (pango refuses invalid text). */
void rbuf_utf8(struct rbuf *b, const char *s);
void rbuf_free(struct rbuf *b);

/* ---- the figures of one month ---- */

enum rep_svc { SVC_DEFENDER, SVC_UTM, SVC_MAIL, SVC_DNS, SVC_WEB, SVC_OTHER, SVC__COUNT };
const char *rep_svc_name(int s);  /* "defender" ... */
int rep_svc_parse(const char *s); /* SVC_OTHER for unknown */

/* Time of one check in the month, split by what it was: [0] every hour,
 * [1] business hours only. */
struct rep_time {
	double up[2];      /* OK or WARNING, reporting */
	double down[2];    /* CRITICAL, reporting */
	double silent[2];  /* no report within stale_after (stale) */
	double unknown[2]; /* UNKNOWN: the check could not tell */
	double nodata[2];  /* before its first result, or not watched */
};

struct rep_seg {
	double a, b;
	int state, stale;
	char *output;
};

struct rep_check {
	char *asset, *asset_type, *check, *plugin;
	int svc;
	int configured;       /* in the configuration now */
	struct rep_seg *segs; /* its timeline within [from, end) */
	size_t n_segs, cap_segs;
	struct rep_time t;
	double first; /* its first known state (0: none at all) */
	/* per day (Defender): 0 no data, 1 protected, 2 silent, 3 unprotected */
	unsigned char day[REPORT_MAX_DAYS];
	double worst_sig_age; /* Defender: the largest signature age seen (days), -1 none */
	int end_state;        /* its state at the end of the period (-1: none) */
	char *end_output;
};

struct rep_alert {
	char *id, *asset, *check, *service, *summary, *center, *tier_name;
	int severity;                   /* 1 warning, 2 critical, 3 unknown */
	double opened, acked, resolved; /* 0: not (yet) */
	double ack_due, resolve_due;    /* as first set when it opened; 0: none */
	int ack_late, resolve_late;     /* an SLA breach of that kind was announced */
	int in_month;                   /* opened in the month (else carried over) */
	char *breach_tiers;             /* "contact-center, back-office" */
};

struct rep_visit {
	double time, planned;
	char *asset, *check, *vendor, *result, *actor;
};

struct rep_day_stat {
	double n, sum, min, max; /* over the day's buckets */
};

struct rep_series {
	char *asset, *check, *label, *unit;
	int64_t id;
	struct rep_day_stat day[REPORT_MAX_DAYS];
	double max, sum, n;
	double incr[REPORT_MAX_DAYS]; /* counters: increase per day */
	int counter;
};

struct report {
	const struct report_input *in;
	double end; /* min(to, now) */
	int future; /* the month has not started */
	struct rep_check *checks;
	size_t n_checks, cap_checks;
	struct rep_alert *alerts;
	size_t n_alerts, cap_alerts;
	struct rep_visit *visits;
	size_t n_visits, cap_visits;
	/* per service, summed over its checks */
	struct rep_time svc[SVC__COUNT];
	unsigned svc_checks[SVC__COUNT];
	double first_data; /* first state known in the period (0: none) */
	/* monitoring gaps: no daemon was running (monitor_run), within
	 * [from, end), in order; their time in all and in business hours */
	struct report_span *gaps;
	size_t n_gaps, cap_gaps;
	double gap[2];
	struct report_span *runs; /* the runs read (started, seen; seen < 0: running now) */
	size_t n_runs, cap_runs;
	/* what was watched */
	unsigned n_pcs, n_utm, n_mail, n_domains;
	/* Defender per day: PCs protected all the day they reported,
	 * unprotected at some time, silent all day, without data */
	unsigned day_protected[REPORT_MAX_DAYS], day_unprotected[REPORT_MAX_DAYS],
	    day_silent[REPORT_MAX_DAYS], day_nodata[REPORT_MAX_DAYS];
	/* mail latency (seconds) */
	int mail_have;
	double mail_p50, mail_p95, mail_max;
	int mail_worst_day; /* index, -1 none */
	double mail_worst_max, mail_worst_avg;
	const char *mail_tier; /* "5m" or "1h" */
	struct rep_day_stat mail_day[REPORT_MAX_DAYS];
	/* the UTM's series: cpu, sessions, counters of blocked events */
	struct rep_series *series;
	size_t n_series, cap_series;
	int utm_cpu, utm_sessions; /* index into series, -1 none */
	int utm_blocked;           /* index of a counter series, -1 none */
	/* the state history reached back: 0 no row at all (the database
	 * predates the history), figures come from check_state */
	int history;
};

/* report_data.c */
int report__build(struct store *ro, const struct report_input *in, struct report *r, char *err,
                  size_t errlen);
void report__free(struct report *r);

/* ---- texts (report_text.c) ---- */
struct rtexts;
/* share/mamori/report/<lang>.txt and recommend.<lang>.txt */
struct rtexts *rtexts_load(const char *datadir, const char *lang, char *err, size_t errlen);
void rtexts_free(struct rtexts *t);
/* The text of key ("" when missing, never NULL). */
const char *rtext(const struct rtexts *t, const char *key);
/* The text of key with {name} placeholders replaced by the values of
 * vars (name, value pairs, NULL-ended); into b. */
void rtext_fill(struct rbuf *b, const struct rtexts *t, const char *key, const char *const *vars);

/* ---- the document (report_doc.c) ---- */
enum rblk_type {
	RB_TITLE,
	RB_SUBTITLE,
	RB_H2,
	RB_PARA,
	RB_NOTE,
	RB_TABLE,
	RB_BARS,
	RB_LINES,
	RB_LIST,
	RB_FIGURES
};
enum rcls { RC_NONE = 0, RC_GOOD, RC_BAD, RC_WARN, RC_MUTED };
#define RB_MAX_SERIES 4
struct rblk {
	int type;
	char *text;
	/* table: ncols columns, nrows rows, row 0 the header */
	char **cells;
	int ncols, nrows;
	int *row_cls; /* enum rcls per row */
	int *num_col; /* 1: a column of numbers (right-aligned) */
	/* charts: one value per x per series; bars are stacked */
	int n_x;
	char **x_labels;
	int n_series;
	char *s_name[RB_MAX_SERIES];
	int s_cls[RB_MAX_SERIES];     /* colour by enum rcls (RC_NONE: neutral) */
	double *s_val[RB_MAX_SERIES]; /* NAN: no value */
	double ymax;
	char *yunit;
	int *x_mark; /* 1: a non-business day (weekend, holiday) */
	/* list / figures */
	char **items;
	int n_items;
	char **item_sub; /* figures: the caption under each value */
};
struct rdoc {
	char lang[4];
	char *title, *footer; /* footer: "Customer - Month" for page footers */
	char *page;           /* "Page {n} of {m}" (PDF page numbers) */
	struct rblk *b;
	size_t n, cap;
	char *summary; /* the summary paragraph as plain text */
};
int report__doc(const struct report *r, const struct rtexts *t, struct rdoc *d);
void report__doc_free(struct rdoc *d);

/* ---- renderers ---- */
/* The colour of a chart series of class cls (enum rcls), "#rrggbb"; i
 * tells neutral series apart. */
const char *report__color(int cls, int i);
int report__html(const struct rdoc *d, struct rbuf *out);
int report__pdf(const struct rdoc *d, struct rbuf *out, char *err, size_t errlen);

/* report.c: steps 2-4, and the summary paragraph when summary is not
 * NULL (*summary then owned by the caller). */
int report__make_all(struct store *ro, const struct report_input *in, char **out, size_t *len,
                     char **summary, char *err, size_t errlen);

/* ---- formatting helpers (report_doc.c) ---- */
/* Local time of t as "YYYY-MM-DD HH:MM" (with_date) or "HH:MM". */
void report__local(const struct report_input *in, double t, int with_date, char *buf, size_t len);
/* Local day index (0-based within the month) of t, or -1. */
int report__day_of(const struct report_input *in, double t);
/* RFC 3339 -> epoch seconds: 0, or -1. */
int report__parse_rfc3339(const char *s, double *out);

#endif
