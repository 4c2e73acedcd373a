/*
 * app: the service layer - the one door through which every front end
 * (the MQTT command topic today, the HTTP API and mamorictl next) reads
 * and changes mamori.
 *
 * - Queries return COPIES owned by the caller (free them with the
 *   matching *_free): a reload frees registry objects and pruning frees
 *   resolved alerts, so no pointer into either may outlive the call.
 *   Lists are keyset-paged: a page holds at most `limit` rows (<= 1000)
 *   and a cursor to continue after its last row.
 * - Commands take the caller's scope (which centers and customers it may
 *   act on), validate, apply, and complete only once the change is
 *   durable: the synchronous result says what happened; `done` (optional)
 *   runs when the journal reports it written.  Alert actions are
 *   idempotent by (origin, id): a repeated id gets the first answer again
 *   without acting; the ids are persisted and restored.
 * - Subscriptions replay the hub's ring after a sequence number, then
 *   deliver live events, filtered by the scope.
 *
 * What "acknowledge" means: one thing, the alert's.  An operator takes
 * ownership of the problem: the alert's ack clock stops (SLA), it shows
 * as acknowledged, and its check is marked acknowledged (published in
 * mamori.state/1) until the problem is over (the check is OK again, so
 * the alert resolves) or someone unacknowledges it.  A check without an
 * unresolved alert has nothing to acknowledge.
 *
 * Must never: block; hand out registry or alert pointers; act outside
 * the caller's scope.  Depends on registry, engine, alerting, alert,
 * journal, events, proto (cmd_seen), store (reads).
 */
#ifndef MAMORI_APP_H
#define MAMORI_APP_H

#include <stddef.h>
#include <stdint.h>

struct alert_action;
struct alert_table;
struct alerts;
struct engine;
struct events;
struct ev_loop;
struct journal;
struct registry;
struct report_pool;
struct series;
struct store;
struct app;

#define APP_PAGE_MAX 1000
#define APP_MSG_MAX  256

enum app_err {
	APP_OK = 0,
	APP_E_INVALID = -1,   /* a bad argument (the message says which) */
	APP_E_NOTFOUND = -2,  /* unknown alert, check, customer or downtime */
	APP_E_FORBIDDEN = -3, /* outside the caller's scope */
	APP_E_STATE = -4,     /* not allowed in the alert's status */
	APP_E_LAST_TIER = -5, /* escalate at the last tier */
	APP_E_NOMEM = -6,
	APP_E_DENIED = -7,      /* e.g. deleting a downtime from the file */
	APP_E_UNAVAILABLE = -8, /* no store (nothing persisted), or it is closing */
};
const char *app_strerror(int err);
/* The code of mamori.cmdresult/1 (enum cmd_err, src/proto/cmd.h) that
 * stands for err: one table for the service layer and the MQTT adapter. */
int app_cmd_code(int err);

/* Who is asking.  all: everything (admin, the daemon itself).  Else an
 * alert is in scope when its center is one of `centers`, and a customer
 * when it is one of `customers` (n_customers 0: every customer, for
 * reading; alerts stay limited by centers).  read_by_customer: alerts of
 * the customers in scope are READ whatever their center (an HTTP
 * operator sees every alert, a customer's viewer its own); acting on an
 * alert still needs its center in `centers`. */
struct app_scope {
	int all;
	int read_by_customer;
	const char *const *centers;
	size_t n_centers;
	const char *const *customers;
	size_t n_customers;
};

/* Readiness (for /readyz, load balancers, systemd): the store writes
 * and the broker session (when one is configured) is up. */
struct app_health {
	int store_ok;          /* 1: writing, or nothing is persisted */
	int broker_configured; /* an `mqtt` group exists */
	int broker_ok;         /* its session is up */
};
void app_health(struct app *a, struct app_health *out);

/* ---- metrics: one consistent snapshot for /metrics ---- */
struct app_broker_stats {
	int configured, connected;
	unsigned long long msgs_in, msgs_out, acks, rejected_size, rejected_nosub, publish_errors,
	    connects, connect_failures, unacked, bytes_in, bytes_out;
};
struct app_center_open {
	char center[64], tier[64];
	unsigned long long open;
};
struct app_plugin_metrics {
	char name[64];
	unsigned long long results[4], runs;
	double dur_sum;
	uint32_t dur_buckets[18]; /* below 2^b milliseconds (the last: everything) */
};
/* On-call notifications' counters (src/notify fills them). */
struct app_notify_stats {
	unsigned long long items;    /* notifications queued: (alert, event, contact, channel) */
	unsigned long long sent;     /* items delivered */
	unsigned long long failed;   /* items given up */
	unsigned long long retries;  /* attempts that will be tried again */
	unsigned long long messages; /* messages a channel accepted (one may bundle items) */
	unsigned long long bundles;  /* of those, messages holding more than one item */
	unsigned long long suppressed_quiet; /* not sent: a contact's quiet hours */
	unsigned long long capped;           /* held back by the per-contact SMS cap */
	unsigned long long replies, acks, replies_refused;  /* e-mail/SMS replies and links */
	unsigned long long mails, mails_sent, mails_failed; /* documents (monthly reports) */
	unsigned long long pending;   /* items waiting (due later, retrying, bundling) */
	unsigned long long in_flight; /* messages being handed to a channel now */
	unsigned long long mails_pending;
};

/* One series a plugin reported (plugin ABI 1.2), ready to print. */
struct app_plugin_series {
	char family[160]; /* mamori_<plugin>_<name> */
	char help[208];
	int counter;       /* 1: counter, 0: gauge */
	char labels[1536]; /* instance="...",name="value",... (escaped; fits the ABI's limits) */
	double value;
	unsigned seq; /* order of reporting (ties in the sort) */
};
struct app_metrics {
	/* the plugins' own series, sorted by family (caller frees with
	 * app_metrics_clear) */
	struct app_plugin_series *series;
	size_t n_series;
	/* per plugin (n_plugins entries, caller frees with app_metrics_clear) */
	struct app_plugin_metrics *plugins;
	size_t n_plugins;
	unsigned long long host_restarts;
	/* checks */
	unsigned long long checks, by_state[4], pending, waiting;
	unsigned long long runs_started, runs_completed, runs_timed_out, runs_cancelled;
	unsigned long long passive_results, stale_events, late_completions, state_changes,
	    hard_changes;
	unsigned long long lag_count;
	uint32_t lag_buckets[64]; /* below 2^b microseconds */
	double lag_max, lag_sum;
	/* alerts */
	unsigned long long alert_events, alert_events_by_type[16], outbox_published, outbox_acked;
	unsigned long long alerts_unresolved, outbox_ready, outbox_inflight;
	struct app_center_open *open_by_center; /* n_open_by_center entries, caller frees */
	size_t n_open_by_center;
	/* store */
	int store_configured, store_failing;
	unsigned long long store_batches, store_rows, store_row_errors, store_retries;
	double store_busy_seconds;
	/* broker (from the daemon's health/metrics callback) */
	struct app_broker_stats broker;
	/* events, commands */
	unsigned long long events_emitted, command_ids;
	/* on-call notifications (through the notify hooks; 0 without) */
	int notify_configured;
	struct app_notify_stats notify;
	/* history.forward (0 when not configured) */
	int forward_configured, forward_connected;
	unsigned long long forward_sent, forward_dropped, forward_connects, forward_failures,
	    forward_queued;
};
void app_metrics(struct app *a, struct app_metrics *out);
/* The same without the plugins' own series (cheaper: /api/v1/status). */
void app_metrics_core(struct app *a, struct app_metrics *out);
void app_metrics_clear(struct app_metrics *m);

struct app_deps {
	struct ev_loop *loop;
	struct registry *reg;
	struct engine *engine;
	struct alert_table *alerts; /* the alert table (its emit persists and publishes) */
	struct alerts *alerting;    /* the outbox for answers (app_send); may be NULL */
	struct journal *journal;    /* NULL: nothing persisted, done runs at once */
	struct events *events;
	struct store *store;         /* command ids at startup; NULL: none */
	struct series *series;       /* the perfdata history (its retention); NULL: none */
	struct report_pool *reports; /* the monthly reports' workers; NULL: none */
	const char *datadir;         /* share/mamori (the reports' texts) */
	unsigned retention_days;     /* how long command ids are kept; 0: 400 */
	const char *node;
	/* What readiness depends on, filled by the daemon (NULL: ready). */
	void (*health)(void *ud, struct app_health *out);
	void (*broker_stats)(void *ud, struct app_broker_stats *out);
	void *health_ud; /* for both */
	/* The clock (tests: virtual time); NULL: ev_now(loop). */
	double (*clock)(void *ud);
	void *clock_ud;
};
struct app *app_new(const struct app_deps *d);
/* Command ids remembered for idempotency. */
size_t app_seen_count(const struct app *a);
/* 1 when (origin, id) was processed (and is still remembered: see
 * doc/alerts.md, "Command ids"). */
int app_seen(const struct app *a, const char *origin, const char *id);
void app_free(struct app *a);

/* ---- queries ---- */

struct app_page {
	const char *after; /* cursor of the previous page, or NULL */
	unsigned limit;    /* 1..APP_PAGE_MAX; 0: 100 */
};

struct app_check {
	char *key, *customer, *asset, *check, *service, *plugin;
	int state, hard, attempt, max_attempts, hard_state, flapping, stale, running;
	int acknowledged, in_downtime, passive, has_result;
	double last_check, last_change, next_due;
	char *output, *perfdata, *long_output;
	char *runbook; /* its `runbook` (configured), or NULL */
};
struct app_check_filter {
	const char *customer, *asset, *service; /* NULL: any */
	int state;                              /* -1 any, 0..3 */
	int hard;                               /* -1 any, 0 soft, 1 hard */
	int acknowledged;                       /* -1 any */
	int problems;                           /* 1: state != OK only */
};
struct app_checks {
	struct app_check *rows;
	size_t n;
	char *next; /* cursor for the next page, NULL at the end */
};
/* Checks ordered by key.  APP_E_INVALID (limit, filter), APP_E_FORBIDDEN
 * (customer out of scope) or APP_OK with *out set. */
int app_checks(struct app *a, const struct app_scope *sc, const struct app_check_filter *f,
               const struct app_page *pg, struct app_checks **out, char *msg, size_t msglen);
int app_check_get(struct app *a, const struct app_scope *sc, const char *customer,
                  const char *asset, const char *check, struct app_check *out);
void app_check_clear(struct app_check *c);
void app_checks_free(struct app_checks *l);

struct app_customer {
	char *id, *name, *region;
	size_t n_assets, n_checks;
	int worst; /* worst current state of its checks (0..3; 3 UNKNOWN sorts below 2) */
};
struct app_customers {
	struct app_customer *rows;
	size_t n;
};
int app_customers(struct app *a, const struct app_scope *sc, struct app_customers **out);
void app_customers_free(struct app_customers *l);

/* The overview: one row per customer in scope, by id. */
#define APP_N_SERVICES 6 /* other, defender, web, mail, utm, dns (enum service) */
enum app_pc_verdict {
	/* a PC's Defender check: its state, or why it has none */
	APP_PC_OK = 0,
	APP_PC_WARNING = 1,
	APP_PC_CRITICAL = 2,
	APP_PC_UNKNOWN = 3,
	APP_PC_SILENT = 4,  /* no report within stale_after */
	APP_PC_PENDING = 5, /* registered, no result yet */
	APP_PC__COUNT
};
struct app_overview_row {
	char *id, *name, *region;
	int worst[APP_N_SERVICES];           /* worst state with a result; -1: none */
	unsigned pending[APP_N_SERVICES];    /* checks without a result yet */
	unsigned pcs, pcs_by[APP_PC__COUNT]; /* assets with a Defender check */
	unsigned n_checks, open_alerts, acked_alerts;
	double next_due;    /* nearest running SLA deadline of its open alerts; 0 none */
	double last_change; /* the newest state change of its checks */
};
struct app_overview {
	struct app_overview_row *rows;
	size_t n;
};
int app_overview(struct app *a, const struct app_scope *sc, struct app_overview **out);
void app_overview_free(struct app_overview *o);

struct app_asset {
	char *customer, *name, *type, *address, *parent;
	int registered; /* by its agent (else from the configuration) */
	double registered_at;
	size_t n_checks;
	int worst, down; /* worst state of its checks; down: a check is hard CRITICAL */
};
struct app_assets {
	struct app_asset *rows;
	size_t n;
};
/* The assets of one customer, by name.  APP_E_NOTFOUND, APP_E_FORBIDDEN. */
int app_assets(struct app *a, const struct app_scope *sc, const char *customer,
               struct app_assets **out);
void app_assets_free(struct app_assets *l);

struct app_alert {
	char *id, *key, *customer, *asset, *check, *service, *summary, *center, *tier;
	char *status, *severity, *acked_by;
	char
	    *runbook; /* the check's runbook as of its last result (kept with the alert), or NULL */
	uint32_t seq, count;
	double opened_at, updated_at, acked_at, resolved_at;
	double ack_due, resolve_due; /* 0: none or paused */
	int paused, ack_breached, resolve_breached;
	int waiting;     /* paused: waiting for the customer (`wait`) */
	int in_downtime; /* paused: the check is in a downtime */
};
struct app_alert_filter {
	const char *center, *customer, *status,
	    *service;          /* status: open|acknowledged|resolved|unresolved */
	int severity;          /* -1 any, 1..3 */
	double due_before;     /* 0 any */
	const char *check_key; /* "customer/asset/check": the alerts of one check (stored only) */
};
struct app_alerts {
	struct app_alert *rows;
	size_t n;
	char *next;
};
/* Alerts in memory (every unresolved one, recently resolved ones), newest
 * first (opened_at, then id); older history is the store's. */
int app_alerts(struct app *a, const struct app_scope *sc, const struct app_alert_filter *f,
               const struct app_page *pg, struct app_alerts **out, char *msg, size_t msglen);
int app_alert_get(struct app *a, const struct app_scope *sc, const char *id, struct app_alert *out);
void app_alert_clear(struct app_alert *x);
void app_alerts_free(struct app_alerts *l);

/* ---- history: alerts as the store has them (asynchronous) ----
 * The store is read on its reader thread; the callback runs later on the
 * loop thread, exactly once, with a result the caller owns (free it), or
 * with an error.  The store holds what is written: what a command changed
 * is there once its `done` ran. */
typedef void (*app_alerts_fn)(void *ud, int err, const char *msg, struct app_alerts *page);
/* Every alert the store keeps (retention: daemon.retention_days), newest
 * first, keyset pages as app_alerts. */
int app_alerts_stored(struct app *a, const struct app_scope *sc, const struct app_alert_filter *f,
                      const struct app_page *pg, app_alerts_fn fn, void *ud, char *msg,
                      size_t msglen);

/* The SLA summary per (center, customer): from the store, figures over
 * the alerts app_alerts_stored would list for the same scope, center and
 * customer (NULL: no filter; outside the scope: APP_E_FORBIDDEN at the
 * call).  A row is keyed by the alert's owning center (NULL: no route
 * matched), ordered by center (NULL first) then customer; a pair with
 * nothing to count has no row.  "This month" is the calendar month of now
 * in UTC: [month_start, month_end).
 *   open            unresolved (open or acknowledged) now
 *   due_1h          unresolved with a running deadline (the due_before
 *                   meaning of the alert lists) in [now, now + 3600]
 *   breached_month  alerts with an SLA breach (any tier) announced this
 *                   month, each once; re-announcements do not count
 *   acked_month     alerts acknowledged this month (their last ack)
 *   median_ack      exact median of acked_at - opened_at over those,
 *                   seconds (even count: the mean of the middle two);
 *                   -1 when acked_month is 0
 * Errors through the callback: APP_E_UNAVAILABLE (the store failed or is
 * closing). */
struct app_sla_row {
	char *center, *customer;
	unsigned long long open, due_1h, breached_month;
	double median_ack; /* seconds; -1: none acknowledged */
	unsigned long long acked_month;
};
struct app_sla {
	struct app_sla_row *rows;
	size_t n;
	double month_start, month_end;
};
typedef void (*app_sla_fn)(void *ud, int err, const char *msg, struct app_sla *s);
int app_sla(struct app *a, const struct app_scope *sc, const char *center, const char *customer,
            app_sla_fn fn, void *ud, char *msg, size_t msglen);
void app_sla_free(struct app_sla *s);

struct app_alert_event {
	uint32_t seq;
	double time;
	char *type, *actor, *note, *cmd_id;
	char *json; /* the mamori.alert/1 published for it */
};
struct app_dispatch {
	uint32_t seq;
	double time, planned_at;
	char *actor, *vendor, *result;
};
struct app_history {
	struct app_alert alert;
	struct app_alert_event *events;
	size_t n_events;
	struct app_dispatch *dispatches;
	size_t n_dispatches;
	int truncated; /* more events than one read returns */
};
typedef void (*app_history_fn)(void *ud, int err, const char *msg, struct app_history *h);
/* One alert with its whole history (APP_E_NOTFOUND, APP_E_FORBIDDEN
 * through the callback). */
int app_alert_history(struct app *a, const struct app_scope *sc, const char *id, app_history_fn fn,
                      void *ud);
void app_history_free(struct app_history *h);

/* ---- perfdata history (asynchronous, through the store's reader) ----
 * The values of a check's perfdata labels between from and to (seconds
 * since the epoch), in buckets of about `step` seconds: min, avg, max and
 * the number of samples per bucket, per label.  The tier that answers
 * (raw samples, 5-minute or hourly rollups) is chosen by the range and
 * the step (series_plan in src/series/series.h says the rule; the answer
 * says what was used).  Buckets start on multiples of the step since the
 * epoch and have no point when nothing was recorded in them.  A read
 * sees what the store has written: values reach it at most
 * history.flush_interval (1 s) and one batch after they were recorded.
 *
 * Synchronous errors (returned, the callback never runs): APP_E_INVALID
 * (from >= to, step <= 0 or below 1 s, from older than the hourly
 * retention, more than APP_SERIES_MAX_POINTS buckets - the message names
 * the step that fits), APP_E_NOTFOUND (a customer outside the caller's
 * scope: existence is not revealed), APP_E_UNAVAILABLE (nothing is
 * stored, or the store is closing).  Through the callback: APP_E_NOTFOUND
 * for a check that neither exists nor has history (or a label it has no
 * history of), APP_E_UNAVAILABLE when the store closed first.  At most
 * APP_SERIES_MAX_POINTS points in all: labels that would pass it are left
 * out whole and `truncated` is set (ask for one label at a time). */
#define APP_SERIES_MAX_POINTS 10000
struct app_series_point {
	double t; /* the bucket's start */
	double min, avg, max;
	uint32_t count; /* samples in the bucket */
};
struct app_series_line {
	char *label, *unit; /* unit normalised: "s", "B", "%", "c", "" ... */
	struct app_series_point *points;
	size_t n;
};
struct app_series {
	const char *resolution; /* "raw", "5m" or "1h" (static) */
	double from, to, step;  /* as answered: from aligned down, step rounded up */
	struct app_series_line *lines;
	size_t n;
	int truncated;
};
typedef void (*app_series_fn)(void *ud, int err, const char *msg, struct app_series *s);
/* label NULL: every label of the check. */
int app_series(struct app *a, const struct app_scope *sc, const char *customer, const char *asset,
               const char *check, const char *label, double from, double to, double step,
               app_series_fn fn, void *ud, char *msg, size_t msglen);
void app_series_free(struct app_series *s);

/* ---- the monthly customer report (doc/report.md) ----
 * Made by the report workers (src/report) from the store, off the loop;
 * the callback runs later on the loop thread, exactly once, with the
 * report (the caller frees it) or an error.  month "YYYY-MM"; lang "ja",
 * "en" or NULL (the customer's `report.lang`, else `reports.lang`);
 * format "html", "pdf" or NULL (html).  want_summary: also the summary
 * paragraph as plain text (an e-mail body).
 * Synchronous errors (the callback never runs): APP_E_INVALID (month,
 * lang, format; a month that has not begun), APP_E_NOTFOUND (an unknown
 * customer, or one outside the scope: the same answer),
 * APP_E_UNAVAILABLE (no workers: nothing stored; the queue is full).
 * Through the callback: APP_E_UNAVAILABLE (the store failed, the PDF
 * library failed), APP_E_INVALID. */
struct app_report {
	char *data; /* the HTML or PDF */
	size_t len;
	const char *type;   /* "text/html; charset=utf-8" or "application/pdf" (static) */
	char filename[160]; /* "report-c1-2026-05-ja.pdf" */
	char *summary;      /* want_summary: the summary paragraph (plain text) */
	double seconds;     /* the time a worker spent making it */
};
typedef void (*app_report_fn)(void *ud, int err, const char *msg, struct app_report *r);
int app_report(struct app *a, const struct app_scope *sc, const char *customer, const char *month,
               const char *lang, const char *format, int want_summary, app_report_fn fn, void *ud,
               char *msg, size_t msglen);
void app_report_free(struct app_report *r);
/* The configuration's `reports` defaults (calendar name or NULL, "ja" or
 * "en"); the server sets them at start and reload. */
void app_set_report_defaults(struct app *a, const char *calendar, const char *lang);

/* ---- the monthly reports sent by the service ----
 * On the first business day of a month in a customer's calendar, the
 * previous month's report of every customer with a `report` group is
 * made as a PDF with its summary and handed to the delivery hook, once
 * (report_run records it in the batch the hook appends its rows to).
 *
 * THE DELIVERY HOOK (for the e-mail channel, issue 11): called on the
 * loop thread with everything the mail needs; it must append its outbox
 * rows to the journal's pending batch (journal_batch) before it returns
 * and return 0 - the report is then recorded as handed on in that same
 * batch, so it is sent once, or never lost - or -1 when it refuses (the
 * report is recorded 'no_delivery', not sent).  Every pointer is valid
 * during the call only: copy what is kept. */
struct app_report_mail {
	const char *customer, *customer_name, *month, *lang; /* month "YYYY-MM" */
	const char *const *to;                               /* report.email */
	size_t n_to;
	const char *subject; /* in the report's language */
	const char *summary; /* the summary paragraph, plain text (UTF-8) */
	const char *html;    /* the summary as a small HTML document: the mail's body */
	const char *pdf;     /* the report: the attachment */
	size_t pdf_len;
	const char *pdf_name; /* "report-c1-2026-05.pdf" */
};
typedef int (*app_report_deliver_fn)(void *ud, const struct app_report_mail *m);
void app_set_report_delivery(struct app *a, app_report_deliver_fn fn, void *ud);
/* Start (on) or stop the schedule (the server: reports.schedule). */
void app_report_schedule(struct app *a, int on);
/* One walk of the schedule now, whether it is on or not (tests, tools;
 * the timer does it every minute while it is on). */
void app_report_schedule_now(struct app *a);
/* Send a month's report again (a customer lost the mail): made as the
 * schedule makes it (PDF, the customer's language unless lang) and
 * handed to the same delivery hook, under the same key - the e-mail
 * channel sends it again once the previous one was sent, and not twice
 * while it is still on its way; report_run says 'handed', "sent again on
 * request".  Only a month that has ended.  fn runs later on the loop
 * thread, exactly once: APP_OK once the mails are written to the outbox
 * (s filled), or an error (s NULL).  Synchronous errors (fn never runs):
 * APP_E_INVALID (month, lang, a month not ended), APP_E_NOTFOUND (an
 * unknown customer or one outside the scope), APP_E_STATE (no
 * report.email), APP_E_UNAVAILABLE (no store, no e-mail channel, the
 * workers' queue full). */
struct app_report_sent {
	char customer[128], month[8], lang[4];
	size_t n_to;  /* addresses it was handed to */
	size_t bytes; /* the PDF */
};
typedef void (*app_report_sent_fn)(void *ud, int err, const char *msg,
                                   const struct app_report_sent *s);
int app_report_send(struct app *a, const struct app_scope *sc, const char *customer,
                    const char *month, const char *lang, app_report_sent_fn fn, void *ud, char *msg,
                    size_t msglen);
void app_report_schedule_stats(const struct app *a, unsigned long long *made,
                               unsigned long long *undelivered, unsigned *inflight);

struct app_downtime {
	char *id, *customer, *asset, *check, *author, *comment;
	double start, end, created;
	int runtime, recurring, active;
};
struct app_downtimes {
	struct app_downtime *rows;
	size_t n;
};
int app_downtimes(struct app *a, const struct app_scope *sc, struct app_downtimes **out);
void app_downtimes_free(struct app_downtimes *l);

/* ---- commands ---- */

struct app_result {
	int err;      /* enum app_err */
	int fresh;    /* 1: acted now; 0: refused, or a repeat of an id already seen */
	int repeated; /* 1: the id was seen before (err is the first answer's) */
	char msg[APP_MSG_MAX];
	char id[128]; /* the alert or downtime it concerns */
};
typedef void (*app_done_fn)(void *ud, const struct app_result *r);

/* Every command below that takes origin + idem_id is idempotent by that
 * pair (idem_id NULL or "": not deduplicated): a repeat within the
 * remembered window (100,000 ids, 7 days in the store) gets the first
 * answer (r->repeated) and changes nothing.  Returns r->err. */
/* An action on an alert (ack, unack, resolve, escalate, dispatch, wait,
 * comment). */
int app_alert_act(struct app *a, const struct app_scope *sc, const char *alert_id,
                  const struct alert_action *act, const char *origin, const char *idem_id,
                  struct app_result *r, app_done_fn done, void *ud);
/* Acknowledge (on != 0) or unacknowledge the problem of a check: the
 * action on its unresolved alert (APP_E_NOTFOUND without one). */
int app_check_ack(struct app *a, const struct app_scope *sc, const char *customer,
                  const char *asset, const char *check, int on, const char *actor, const char *note,
                  struct app_result *r, app_done_fn done, void *ud);
/* Open an alert by hand (a manual inquiry).  key: "customer/asset/check"
 * that names it (an asset and check of the caller's choosing, e.g.
 * "c1/inquiry/phone-1"). */
int app_alert_open(struct app *a, const struct app_scope *sc, const char *customer,
                   const char *asset, const char *check, const char *service, int severity,
                   const char *summary, const char *actor, const char *note, const char *origin,
                   const char *idem_id, struct app_result *r, app_done_fn done, void *ud);
/* A downtime at run time (asset/check NULL: the whole customer/asset);
 * r->id is its id.  A repeat names the downtime the first request made. */
int app_downtime_add(struct app *a, const struct app_scope *sc, const char *customer,
                     const char *asset, const char *check, double start, double end,
                     const char *author, const char *comment, const char *origin,
                     const char *idem_id, struct app_result *r, app_done_fn done, void *ud);
/* Only runtime downtimes can be deleted (APP_E_DENIED for the file's). */
int app_downtime_delete(struct app *a, const struct app_scope *sc, const char *id,
                        const char *origin, const char *idem_id, struct app_result *r,
                        app_done_fn done, void *ud);
/* Send a message through the durable outbox: written with the pending
 * batch, published (QoS 1, at least once) once that batch is written -
 * an answer never runs ahead of the change it reports. */
void app_send(struct app *a, const char *topic, const char *payload);
/* A passive result (API, tests). */
int app_submit(struct app *a, const struct app_scope *sc, const char *customer, const char *asset,
               const char *check, int state, const char *output);

/* ---- on-call notifications (src/notify answers through hooks) ----
 * notify acts through this layer (an acknowledgement by reply is an
 * app_alert_act), so this layer cannot call notify: the daemon installs
 * notify's answers as hooks.  Without hooks (no notify) the calls answer
 * APP_E_UNAVAILABLE. */
struct app_oncall_person {
	char *contact;
	char *source; /* "override", "fallback", or the layer's name */
};
struct app_oncall_row {
	char *center;
	char *tier; /* NULL: every tier of the center without a schedule of its own */
	struct app_oncall_person *on;
	size_t n_on;  /* 0: nobody (a gap without a fallback) */
	double until; /* the next time the answer may change; 0: none in sight */
};
struct app_oncall {
	double at;
	struct app_oncall_row *rows;
	size_t n;
};
void app_oncall_free(struct app_oncall *o);

/* One notification of an alert (alert, event, contact, channel) and the
 * attempts to deliver it, as the store has them. */
struct app_notification {
	char *event, *contact, *channel;
	char *status; /* "pending", "sending", "sent", "failed" */
	char *error;  /* the last attempt's error, or NULL */
	uint32_t seq; /* the alert event it tells of */
	unsigned attempts;
	double created, updated;
};
struct app_notify_attempt {
	char *event, *contact, *channel;
	unsigned attempt;
	double time;
	char *result; /* "sent", "retry", "failed", "gave_up", "cancelled", "duplicate?" */
	char *detail; /* the server's answer or the error */
	char *message_id;
};
struct app_notifications {
	char *center, *customer; /* of the alert (scope), NULL: unknown alert */
	struct app_notification *rows;
	size_t n;
	struct app_notify_attempt *attempts;
	size_t n_attempts;
	int truncated;
};
typedef void (*app_notifications_fn)(void *ud, int err, const char *msg,
                                     struct app_notifications *l);
void app_notifications_free(struct app_notifications *l);

/* A request to a channel's inbound webhook (an SMS gateway posting a
 * reply) and the answer for the gateway. */
struct app_inbound {
	const char *channel, *method, *url, *content_type;
	const char *const *headers; /* name, value, ... */
	size_t n_headers;
	const char *body;
	size_t body_len;
	/* a form body, decoded: name, value, ... (n_form pairs), or NULL */
	const char *const *form;
	size_t n_form;
};
struct app_inbound_answer {
	unsigned status;
	char content_type[64];
	char body[1024];
};

/* A signed one-click link (acknowledge from the phone without a login). */
struct app_link {
	int valid; /* the token verified and has not expired */
	int used;  /* ... and was used already (a repeat would change nothing) */
	char alert[96], contact[96], action[16];
	double expires;
	char error[128]; /* why not, when not valid */
};

struct app_notify_hooks {
	int (*oncall)(void *ud, double at, const char *center, struct app_oncall **out);
	int (*history)(void *ud, const char *alert_id, app_notifications_fn fn, void *fn_ud);
	int (*inbound)(void *ud, const struct app_inbound *in, struct app_inbound_answer *out);
	/* check a link's token (confirm 0), or use it (confirm 1: acts; for
	 * a valid token APP_OK and `done` runs once with the outcome - r->
	 * repeated when the link was used already; an invalid token:
	 * APP_E_FORBIDDEN with out->error, and `done` never runs) */
	int (*link)(void *ud, const char *token, int confirm, struct app_link *out,
	            app_done_fn done, void *done_ud);
	/* the counters for app_metrics */
	void (*stats)(void *ud, struct app_notify_stats *out);
};
void app_set_notify(struct app *a, const struct app_notify_hooks *h, void *ud);

/* Who is on call at `at` for each schedule (center NULL: all the scope
 * may see).  A customer's viewer sees none (APP_E_FORBIDDEN); an
 * operator the schedules of its centers; an admin all. */
int app_oncall(struct app *a, const struct app_scope *sc, double at, const char *center,
               struct app_oncall **out, char *msg, size_t msglen);
/* The notifications of one alert (APP_E_NOTFOUND, APP_E_FORBIDDEN through
 * the callback, as app_alert_history). */
int app_alert_notifications(struct app *a, const struct app_scope *sc, const char *alert_id,
                            app_notifications_fn fn, void *ud);
/* A gateway's webhook: verified and acted on by the channel; the answer
 * is filled for the gateway.  APP_E_NOTFOUND: no such channel. */
int app_notify_inbound(struct app *a, const struct app_inbound *in, struct app_inbound_answer *out);
/* A one-click link: see struct app_notify_hooks.link. */
int app_notify_link(struct app *a, const char *token, int confirm, struct app_link *out,
                    app_done_fn done, void *ud);

/* ---- subscriptions ---- */

struct event;
struct app_sub;
typedef void (*app_event_fn)(void *ud, const struct event *e);
#define APP_LIVE_ONLY UINT64_MAX
/* Replay the ring's events after `after` (0: all it holds; APP_LIVE_ONLY:
 * none), then live events of the types in mask, both filtered by scope.
 * Only events with a rendering (e->json: a change a client is shown) are
 * delivered, live as in replay.  *gap is set to 1 when the ring no
 * longer reaches back to `after` (the consumer must reload). */
struct app_sub *app_subscribe(struct app *a, const struct app_scope *sc, uint64_t after,
                              uint32_t mask, app_event_fn fn, void *ud, int *gap);
void app_unsubscribe(struct app *a, struct app_sub *s);
/* Alert events the store has, newer than `after` (epoch s), oldest first,
 * in the scope, at most `limit`: what a live stream missed when the hub's
 * ring no longer reaches back (or the daemon restarted).  json is the
 * mamori.alert/1 payload as published. */
struct app_stored_event {
	char *alert_id, *json;
	uint32_t seq;
	double time;
};
struct app_stored_events {
	struct app_stored_event *rows;
	size_t n;
	int truncated; /* more than `limit` */
};
typedef void (*app_events_since_fn)(void *ud, int err, const char *msg,
                                    struct app_stored_events *l);
int app_events_since(struct app *a, const struct app_scope *sc, double after, unsigned limit,
                     app_events_since_fn fn, void *ud, char *msg, size_t msglen);
void app_stored_events_free(struct app_stored_events *l);
/* The hub's epoch (a resume names it with the sequence number: after a
 * restart the numbers start again and the epoch differs). */
uint64_t app_events_epoch(const struct app *a);
/* What the shown state depends on: changes through the hub and the
 * configuration's generation.  Equal versions: an answer built from the
 * same queries is the same (except for fields that move without a change
 * a client is shown, such as a check's last_check: don't cache those). */
struct app_version {
	uint64_t changes, generation;
};
void app_version(const struct app *a, struct app_version *v);
/* A reload committed a new model (the daemon calls it). */
void app_reloaded(struct app *a);

#endif
