/*
 * store internals shared by the files of src/store.  Not for other
 * modules; only src/store includes <sqlite3.h>.
 *
 *   store.c         the database file: open (integrity, migration), node,
 *                   start, close; the list of table files (tables[])
 *   store_batch.c   the batch engine: batch memory, operations, the writer
 *                   thread, group commit, retry of a refused batch
 *   store_state.c   check_state and asset
 *   store_alerts.c  alert, alert_event, deadline, dispatch, cmd_seen, retention
 *   store_outbox.c  outbox (writes and reads)
 *   store_downtime.c  downtime
 *   store_auth.c    auth_user, auth_token, auth_session, auth_audit
 *   store_series.c  series, series_raw, series_5m, series_1h: the perfdata
 *                   history's writes, retention steps, startup load
 *   store_history.c  state_change and report_run: the state history's
 *                   writes and retention, the reports made
 *   store_month.c   synchronous reads of one customer's month for the
 *                   report workers (their own read-only connections)
 *   store_notify.c  notify_item, notify_attempt, notify_page, notify_mail (writes,
 *                   loads, reads)
 *   store_read.c    the reader thread: requests from the loop, results back
 *   store_read_alerts.c  alert lists and one alert's history (reads); the
 *                   SQL builder and the alert filters other reads share
 *   store_read_sla.c  the SLA summary per center and customer (read)
 *   store_read_series.c  the points of one check's series (reads)
 *   store_ckpt.c    WAL checkpoints on their own thread
 *   schema.c        the migration steps
 *
 * A table file depends on the engine, never the other way round: it
 * defines one `const struct store__table` (statements it prepares on the
 * writer's connection, operation kinds it applies) and store.c lists it.
 * Adding a table: a new file with its table, one line in tables[], and a
 * schema step if it needs new SQL.
 */
#ifndef MAMORI_STORE_INT_H
#define MAMORI_STORE_INT_H

#include "store/store.h"
#include "store/store_sqlite.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* ---- memory that lives as long as its owner (a batch, a read) ----
 * 8-byte aligned, never moves, freed all at once. */
struct store__chunk;
struct store__arena {
	struct store__chunk *head;
};
void *store__arena_alloc(struct store__arena *a, size_t n);
const char *store__arena_dup(struct store__arena *a, const char *s);
void store__arena_free(struct store__arena *a);

/* ---- table files ---- */

/* One kind of batch operation. */
struct store__kind {
	const char *name; /* in log lines */
	/* Writer thread, inside the batch's transaction: apply one
	 * operation (the data store__push returned, as the loop filled it).
	 * 0, or -1 with the error left on db: the engine then skips the row
	 * or rolls the batch back and retries it (see store_batch.c). */
	int (*apply)(void *ctx, sqlite3 *db, const void *op);
};

struct store__table {
	const char *name;
	/* At store_open, after the migration, on the writer's connection
	 * (NULL: nothing to prepare).  *ctx is handed to every apply.
	 * 0, or -1 with a message in err. */
	int (*open)(struct store *s, sqlite3 *db, void **ctx, char *err, size_t errlen);
	/* At store_close after the writer stopped, or when open failed
	 * later (NULL: nothing).  Gets whatever open left in *ctx. */
	void (*close)(void *ctx);
	const struct store__kind *kinds; /* indexed by the kind given to store__push */
	unsigned n_kinds;
};

/* The table files (each defined in its own file, listed in store.c). */
extern const struct store__table store__state_table;
extern const struct store__table store__alerts_table;
extern const struct store__table store__outbox_table;
extern const struct store__table store__downtime_table;
extern const struct store__table store__auth_table;
extern const struct store__table store__series_table;
extern const struct store__table store__history_table;
extern const struct store__table store__notify_table;

/* Append an operation of `t`'s kind `kind` to b and return `size` zeroed
 * bytes of the batch's memory for the caller to fill (loop thread). */
void *store__push(struct store_batch *b, const struct store__table *t, unsigned kind, size_t size);
/* Memory that lives as long as the batch. */
void *store__balloc(struct store_batch *b, size_t n);
const char *store__bdup(struct store_batch *b, const char *s);

/* ---- alert rows (store_alerts.c) ---- */

/* An alert with its deadline row and its newest dispatch row: columns in
 * the order store__alert_row reads them.  Append WHERE / ORDER BY. */
#define STORE__ALERT_SELECT_RB(rb)                                                                    \
	"SELECT a.id, a.check_key, a.customer, a.asset, a.check_name, a.service, a.center, a.also,"   \
	" a.contract, a.state, a.summary, a.status, a.flapping, a.stale, a.manual, a.count, a.seq,"   \
	" a.opened_at, a.updated_at, a.acked_at, a.acked_by, a.resolved_at,"                          \
	" d.alert_id, d.tier, d.tier_name, d.paused, d.acked, d.stopped, d.ack_breached,"             \
	" d.resolve_breached, d.ack_due, d.resolve_due, d.ack_left, d.resolve_left, d.reannounce_at," \
	" d.breaches, p.vendor, p.planned_at, p.result, " rb                                          \
	" FROM alert a LEFT JOIN deadline d ON d.alert_id = a.id"                                     \
	" LEFT JOIN dispatch p ON p.alert_id = a.id AND p.seq ="                                      \
	" (SELECT max(seq) FROM dispatch WHERE alert_id = a.id)"
/* The alert's runbook exists since schema 8: a read-only store of an
 * older file (store_open_readonly) reads it as NULL. */
#define STORE__ALERT_SELECT     STORE__ALERT_SELECT_RB("a.runbook")
#define STORE__ALERT_SELECT_OLD STORE__ALERT_SELECT_RB("NULL")
#define STORE__ALERT_SELECT_FOR(schema)                                                            \
	((schema) >= 8 ? STORE__ALERT_SELECT : STORE__ALERT_SELECT_OLD)
/* The current row of a STORE__ALERT_SELECT statement (strings point into
 * the statement: valid until its next step). */
void store__alert_row(sqlite3_stmt *st, struct store_alert_row *r);

/* ---- the reader (store_read.c) ----
 * A request: what to read (filled on the loop thread, copied into `mem`),
 * how (`run`, on the reader thread, inside one read transaction) and the
 * result (in `mem` and the arrays, handed to `cb` on the loop thread). */
struct store__series_line {
	struct store_series_row row; /* strings in the read's memory */
	size_t first, n;             /* its points: points[first .. first + n) */
};
struct store_read {
	int (*run)(struct store_read *rd, sqlite3 *db); /* 0, or a negative enum store_err */
	int min_schema;                                 /* the tables it reads exist since */
	int schema;                                     /* the file's (set when submitted) */
	store_read_cb cb;
	void *ud;
	struct store__arena mem;
	int status;
	char error[256];
	union {
		struct store_alert_query alerts; /* strings and arrays copied into mem */
		const char *alert_id;
		struct {
			const char *customer, *asset; /* NULL: any */
			int problems_only;
		} states;
		struct store_sla_query sla;       /* lists copied into mem */
		struct store_series_query series; /* strings copied into mem */
		struct {
			const char *key, *address;
		} mail; /* store_notify.c */
	} in;
	struct store_alert_row *alerts;
	size_t n_alerts, cap_alerts;
	struct store_event_row *events;
	size_t n_events, cap_events;
	struct store_dispatch_row *dispatches;
	size_t n_dispatches, cap_dispatches;
	struct store_state_row *states;
	size_t n_states, cap_states;
	struct store_sla_row *sla;
	size_t n_sla, cap_sla;
	struct store__series_line *lines; /* a series and where its points are */
	size_t n_lines, cap_lines;
	struct store_series_point *points;
	size_t n_points, cap_points;
	struct store_notify_item_row *nitems; /* store_notify.c */
	size_t n_nitems, cap_nitems;
	struct store_notify_attempt_row *nattempts;
	size_t n_nattempts, cap_nattempts;
	const char *ncenter, *ncustomer;
	struct store_notify_mail_row *nmail; /* NULL: no such mail */
	int more;
	struct store_read *next;
};
struct store_reader;
struct store_read *store__read_new(store_read_cb cb, void *ud,
                                   int (*run)(struct store_read *rd, sqlite3 *db), int min_schema);
void store__read_free(struct store_read *rd);
/* Queue rd (loop thread; takes it).  0, or a negative enum store_err
 * with rd freed and its callback never run. */
int store__read_submit(struct store *s, struct store_read *rd);
/* An element appended to one of rd's arrays (zeroed). */
void *store__read_push(void **arr, size_t *n, size_t *cap, size_t size);
/* Failing a read on the reader thread: status, and the message. */
int store__read_fail(struct store_read *rd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies of rows into rd's memory. */
void store__read_copy_alert(struct store_read *rd, struct store_alert_row *d,
                            const struct store_alert_row *r);

/* Copies of a list of strings into rd's memory (NULL when n is 0). */
const char *const *store__read_dup_list(struct store_read *rd, const char *const *v, size_t n);

/* ---- SQL text with its values (store_read_alerts.c) ----
 * Reads build their SQL on the reader thread: text with `?` and the
 * values to bind, in order, never spliced into the text. */
struct store__bind {
	const char *text; /* or NULL: num */
	double num;
};
struct store__sql {
	char *sql;
	size_t len, cap;
	struct store__bind *binds;
	size_t n_binds, cap_binds;
};
void store__sql_add(struct store__sql *q, const char *text);
/* Append "?" and its value (text, or num when text is NULL). */
void store__sql_bind(struct store__sql *q, const char *text, double num);
/* The value of a "?" that is already in the text. */
void store__sql_value(struct store__sql *q, const char *text, double num);
/* The filters on an alert `a` that every read of alerts shares, each
 * " AND (...)": its center or a center in its `also` is one of centers,
 * its customer one of customers (n 0: no filter).  index 0 keeps SQLite
 * from driving the query by the customer index (alert_customer): a read
 * that has a narrower index of its own (a time range) says so. */
void store__sql_scope(struct store__sql *q, const char *const *centers, size_t n_centers,
                      const char *const *customers, size_t n_customers, int index);
/* "(the alert's running deadline `cmp`)", a condition: the alert is
 * unresolved and a deadline runs (as the SLA clock sees it, sla.c: the
 * clock neither paused nor stopped, the ack deadline until the ack, the
 * resolve deadline, neither once breached at the last tier) that meets
 * `cmp`, a comparison with nv "?" (e.g. "< ?", "BETWEEN ? AND ?") whose
 * values are v.  Needs `a` (alert) and `d` (its deadline row, LEFT JOIN);
 * NULL or 0 when the alert has no deadline row. */
void store__sql_running_due(struct store__sql *q, const char *cmp, const double *v, size_t nv);
/* Prepare q's text and bind its values: SQLITE_OK or SQLite's error. */
int store__sql_prepare(const struct store__sql *q, sqlite3 *db, sqlite3_stmt **st);
void store__sql_free(struct store__sql *q);

struct store_reader *store__reader_new(struct store *s);
/* Open the reader's connection and start its thread (needs a loop). */
int store__reader_start(struct store_reader *r, struct ev_loop *loop, char *err, size_t errlen);
/* Refuse new requests, stop the thread, deliver every accepted request
 * (finished: its result; others: STORE_ECLOSED) on the calling thread. */
void store__reader_stop(struct store_reader *r);
void store__reader_free(struct store_reader *r);

/* ---- the store ---- */

#define STORE__MAX_TABLES 16

struct store_writer; /* store_batch.c */
struct store_reader; /* store_read.c */
struct store_ckpt;   /* store_ckpt.c */

struct store {
	sqlite3 *db; /* the writer's connection */
	char *path;
	char *node;   /* "" unless store_set_node */
	int readonly; /* store_open_readonly: never migrates, never writes */
	int schema;   /* the file's user_version (latest unless readonly) */
	int started;
	struct {
		const struct store__table *t;
		void *ctx;
	} tables[STORE__MAX_TABLES];
	size_t n_tables;
	struct store_writer *w;
	struct store_reader *r;
	struct store_ckpt *ck;
};

/* store_batch.c: the writer (its own lock; see there). */
struct store_writer *store__writer_new(struct store *s);
int store__writer_start(struct store_writer *w, struct ev_loop *loop, void (*done)(void *ud),
                        void *ud);
/* Let the writer finish what it was handed (a batch it is retrying is
 * given up, logged), join it. */
void store__writer_stop(struct store_writer *w);
void store__writer_free(struct store_writer *w);

/* Bind a string (NULL binds NULL) / a time (<= 0 binds NULL). */
void store__bind_text(sqlite3_stmt *st, int i, const char *s);
void store__bind_time(sqlite3_stmt *st, int i, double t);
/* Step a bound statement that returns no row, reset it: 0 or -1. */
int store__run(sqlite3_stmt *st);
/* sqlite3_exec with the message in err: 0 or -1. */
int store__exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
/* Prepare every statement of sql[0..n-1] into st[]: 0, or -1 with a
 * message in err (those prepared are left for the caller to finalize). */
int store__prepare_all(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n,
                       const char *what, char *err, size_t errlen);
void store__finalize_all(sqlite3_stmt **st, size_t n);

/* store_ckpt.c: WAL checkpoints on their own thread and connection.
 * The writer brackets each batch with enter/leave (a RESTART holds it). */
struct store_ckpt *store__ckpt_new(sqlite3 *wdb, const char *path, char *err, size_t errlen);
void store__ckpt_enter(struct store_ckpt *c);
void store__ckpt_leave(struct store_ckpt *c);
void store__ckpt_tune(struct store_ckpt *c, int pages, int64_t max_bytes);
int store__ckpt_start(struct store_ckpt *c);
void store__ckpt_stop(struct store_ckpt *c);
void store__ckpt_stats(struct store_ckpt *c, struct store_checkpoint_stats *out);
void store__ckpt_free(struct store_ckpt *c);

#endif
