/*
 * store: the one way into persistence - check state, registered assets,
 * alerts and their history, SLA deadlines, the outbox, downtimes, the
 * users, tokens, sessions and audit log of the API, the perfdata and
 * state histories, the reports made.  No
 * SQLite type or name appears here (the backend's own knobs are in
 * store_sqlite.h); only src/store includes <sqlite3.h>.
 *
 * Writes: the loop never waits on the disk.  It fills a batch (copies of
 * rows) and hands it over with store_commit; the writer thread applies
 * each batch in one transaction (group commit) and tells the loop through
 * one ev_async when it is done.  The server coalesces: a check changed 100
 * times between two flushes is written once, and a new batch is only cut
 * when the previous one is committed, so a slow disk delays history,
 * never checks.
 *
 * Reads: the load functions (store_load_*) are synchronous and run at
 * startup, before store_start.  While the loop runs, reads go to a reader
 * thread with its own read-only connection (store_read_*): the request is
 * queued, the result comes back on the loop thread through an ev_async,
 * and each request sees one snapshot (whole batches, never half of one).
 * The outbox read that must follow a batch's writes
 * (store_batch_outbox_read) runs in the writer thread instead.  Tools
 * without a daemon (mamorictl) use store_open_readonly and the same reads
 * on a loop of their own.
 *
 * Schema: versioned with forward migrations; a database written by a
 * newer mamori is refused; a corrupt database is reported at open and
 * never replaced.  Ids that several nodes sharing one database could
 * collide on are per node (store_set_node).
 */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct store;
struct store_batch;

#define STORE_SCHEMA_VERSION 11

/* One run of a daemon (schema 11, monitor_run; written by src/statelog):
 * when it began monitoring, the last moment it is known to have been
 * running, and whether it stopped cleanly then.  An insert of the same
 * (node, started) replaces the row. */
struct store_monitor_run_row {
	const char *node;
	double started, seen;
	int stopped;
};
void store_batch_monitor_run(struct store_batch *b, const struct store_monitor_run_row *r);

struct store_state_row {
	const char *customer, *asset, *name, *plugin;
	int state, hard, attempt, hard_state, flapping, stale;
	uint32_t hist;
	int n_hist;
	double flap_pct;
	double last_check, last_change, last_hard_change, next_check;
	const char *output, *long_output, *perfdata;
	int ack;            /* acknowledged (sticky until OK) */
	double ack_expires; /* 0 = never */
	const char *ack_author, *ack_comment;
};

struct store_asset_row {
	const char *customer, *name, *type, *address, *source;
	double registered_at;
};

/* Open (creating the directory, 0750, and its database if needed).  A
 * state_dir that its group or others may write to is refused (anyone who
 * can write there can plant a database or a -wal of their own).  On
 * failure returns NULL with a message in err. */
struct store *store_open(const char *state_dir, char *err, size_t errlen);
/* Open an existing database read-only, for tools (mamorictl): it never
 * creates, migrates or writes anything, not even at close.  Refused with a
 * message in err: no database in state_dir, a file that is not a mamori
 * database, a schema newer than this binary knows.  An older schema is
 * accepted; a read of tables it lacks is refused (STORE_ESCHEMA).
 * Batches handed to it are dropped (logged); the load functions and the
 * reads work, the reads after store_start with a loop. */
struct store *store_open_readonly(const char *state_dir, char *err, size_t errlen);
/* The node this process is (daemon.node): outbox ids are numbered per
 * node and every outbox read, write and delete sees only this node's rows;
 * store_alert_total counts only its alerts.  Default "": the rows of no
 * node (tests, and what schema 3 wrote).  A node without outbox rows of
 * its own takes over those of node "" (an upgrade loses nothing).  Call
 * after store_open, before the loads and store_start (later: ignored). */
void store_set_node(struct store *s, const char *node);
/* Start the writer thread (`done` runs on the loop after each batch) and,
 * with a loop, the reader thread.  loop NULL (tests, benchmarks): no
 * `done`, no reads.  A read-only store starts only the reader. */
int store_start(struct store *s, struct ev_loop *loop, void (*done)(void *ud), void *ud);
/* Deliver or cancel the pending reads (see below), wait for pending
 * batches, stop the threads, close the database.  On the loop thread. */
void store_close(struct store *s);

int store_load_states(struct store *s, void (*cb)(void *ud, const struct store_state_row *r),
                      void *ud);
int store_load_assets(struct store *s, void (*cb)(void *ud, const struct store_asset_row *r),
                      void *ud);

struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
size_t store_batch_rows(const struct store_batch *b);
/* Copy a row into the batch. */
void store_batch_state(struct store_batch *b, const struct store_state_row *r);
void store_batch_asset(struct store_batch *b, const struct store_asset_row *r);
/* Remove state rows of checks that no longer exist (reload). */
void store_batch_forget(struct store_batch *b, const char *customer, const char *asset,
                        const char *name);
/* Hand the batch to the writer (takes ownership).  Non-blocking.
 * Returns the batch's number (1, 2, ...: batches are written in order);
 * 0 for a read-only store, which drops it. */
uint64_t store_commit(struct store *s, struct store_batch *b);
/* Number of the last batch written.  A batch that cannot be written (disk
 * full, I/O error) is kept and tried again (stats.retries), so this does
 * not move past it until it is written; only store_close gives up on it
 * (logged).  Read it in the `done` callback. */
uint64_t store_committed(const struct store *s);
/* 1 while a batch is queued or being written. */
int store_busy(const struct store *s);
/* 1 while the writer is retrying a batch the disk refused (full, I/O
 * error): nothing new becomes durable until it succeeds (readiness). */
int store_failing(const struct store *s);
/* Block until everything handed over is written (shutdown, tests), or
 * until the writer is retrying a batch it cannot write. */
void store_sync(struct store *s);

struct store_stats {
	uint64_t batches;
	uint64_t rows;
	uint64_t errors;  /* rows that failed on their own and were skipped */
	uint64_t retries; /* batch writes rolled back (disk full, I/O error) and tried again */
	double busy_seconds;
};
void store_get_stats(const struct store *s, struct store_stats *out);

/* ---- alerts, their history, SLA deadlines, commands, outbox (schema 2) ----
 * Written by src/alerting (through the journal) in the same batch
 * (transaction) as the check state that caused them.  Times are epoch seconds; 0 is NULL. */
struct store_alert_row {
	const char *id, *check_key, *customer, *asset, *check_name, *service, *center;
	const char *also; /* JSON array of centers, or NULL */
	const char *summary, *status, *acked_by;
	const char *runbook; /* the check's runbook when the row was written, or NULL */
	int contract, state, flapping, stale, manual;
	int64_t count, seq;
	double opened_at, updated_at, acked_at, resolved_at;
	/* The SLA clock (table deadline); has_clock 0: no row. */
	int has_clock;
	const char *tier_name;
	int tier, paused, acked, stopped, ack_breached, resolve_breached, breaches;
	double ack_due, resolve_due, reannounce_at; /* 0: none */
	double ack_left, resolve_left;              /* < 0: none */
	/* Loading and reading only: the newest dispatch record (vendor,
	 * plan, result). */
	const char *vendor, *result;
	double planned_at;
};

struct store_event_row {
	const char *alert_id, *type, *actor, *note, *cmd_id, *payload;
	int64_t seq;
	double time;
};

struct store_dispatch_row {
	const char *alert_id, *actor, *vendor, *result;
	int64_t seq;
	double time, planned_at;
};

/* An outbox row either carries its payload or refers to the alert event
 * it publishes (alert_id, seq: schema 3).  store_batch_outbox copies the
 * payload only when alert_id is NULL; the event row must be earlier in the
 * same batch (or an earlier one).  store_load_outbox always returns the
 * payload, resolved from alert_event for a reference. */
struct store_outbox_row {
	int64_t id; /* per node, assigned by the caller (store_outbox_last_id + 1 ...) */
	const char *topic;
	const void *payload;
	size_t len;
	const char *alert_id; /* NULL: the row holds payload/len */
	int64_t seq;
	int qos, retain;
	double created;
};

/* Insert or replace the alert row and its deadline row.  Returns a slot
 * that store_batch_alert_again may overwrite while the batch is not
 * committed: an alert with several events in one batch is written once
 * (the row stays before its events, as the foreign keys need). */
void *store_batch_alert(struct store_batch *b, const struct store_alert_row *r);
void store_batch_alert_again(struct store_batch *b, void *slot, const struct store_alert_row *r);
/* The slot's copy of the alert id (lives as long as the batch). */
const char *store_batch_alert_id(const void *slot);
void store_batch_event(struct store_batch *b, const struct store_event_row *r);
void store_batch_dispatch(struct store_batch *b, const struct store_dispatch_row *r);
void store_batch_outbox(struct store_batch *b, const struct store_outbox_row *r);
/* The broker has the message (PUBACK): delete its row. */
void store_batch_outbox_done(struct store_batch *b, int64_t id);
void store_batch_cmd_seen(struct store_batch *b, const char *center, const char *id,
                          const char *result, double time);
/* Retention: delete at most `limit` alerts resolved before alerts_before
 * (their events, deadline and dispatch rows go with them) and command ids
 * older than cmds_before.  Runs in the writer thread. */
void store_batch_prune(struct store_batch *b, double alerts_before, double cmds_before, int limit);

/* Startup reads. */
/* Every unresolved alert, then those resolved at or after resolved_since. */
int store_load_alerts(struct store *s, double resolved_since,
                      void (*cb)(void *ud, const struct store_alert_row *r), void *ud);
/* Unsent outbox rows in id order.  A reference whose alert event is gone
 * is logged and deleted, never passed on. */
int store_load_outbox(struct store *s, void (*cb)(void *ud, const struct store_outbox_row *r),
                      void *ud);
/* Highest id of this node's outbox rows (0 if none): new rows continue
 * after it.
 * Ids are reused once the outbox is empty across a restart, which is safe:
 * they only name rows for the delete on PUBACK within one process. */
int64_t store_outbox_last_id(struct store *s);
/* Reading the outbox in pieces: the daemon keeps a bounded number of
 * messages in memory and reloads the rest from the table as the broker
 * takes them.  A read returns the rows with from <= id <= upto in id
 * order, at most `limit` of them, payloads resolved as store_load_outbox
 * does; a reference whose event is gone is logged, deleted and skipped
 * (it counts towards the limit).  `next` is the first id the read did not
 * look at: upto + 1 when it reached upto, else the id after the last row
 * it looked at - the `from` of the following read. */
struct store_outbox_read;
struct store_outbox_read *store_outbox_read_new(int64_t from, int64_t upto, size_t limit);
void store_outbox_read_free(struct store_outbox_read *rd);
/* Run the read in the writer thread, inside b's transaction, after b's
 * earlier operations.  The caller keeps ownership of rd and must keep it
 * until b is written (store_committed() >= b's number, or store_sync);
 * if b is freed unwritten, rd stays unread. */
void store_batch_outbox_read(struct store_batch *b, struct store_outbox_read *rd);
/* Run it now on the calling thread: before store_start only (startup). */
int store_outbox_read_now(struct store *s, struct store_outbox_read *rd);
/* 1 done, 0 not run yet, -1 failed (nothing returned, next unchanged). */
int store_outbox_read_status(const struct store_outbox_read *rd);
size_t store_outbox_read_count(const struct store_outbox_read *rd);
/* Row i (valid until store_outbox_read_free). */
const struct store_outbox_row *store_outbox_read_row(const struct store_outbox_read *rd, size_t i);
int64_t store_outbox_read_next(const struct store_outbox_read *rd);
/* The newest `limit` processed command ids of each center (origin),
 * oldest first, with the time each was processed. */
int store_load_cmd_seen(struct store *s, size_t limit,
                        void (*cb)(void *ud, const char *center, const char *id, const char *result,
                                   double time),
                        void *ud);
/* Number of this node's alerts, whose ids are "A-<node>-<14 chars>"; with
 * node "" every alert (seeds the alert id counter). */
int64_t store_alert_total(struct store *s);

/* ---- downtimes entered at run time (schema 4) ---- */
struct store_downtime_row {
	const char *id; /* assigned by the caller, e.g. "D-<node>-<n>" */
	const char *customer;
	const char *asset, *check; /* check NULL: the whole asset; asset NULL too: the customer */
	double start, end;
	const char *author, *comment;
	double created;
};
/* Insert, or replace the row with the same id. */
void store_batch_downtime(struct store_batch *b, const struct store_downtime_row *r);
void store_batch_downtime_delete(struct store_batch *b, const char *id);
/* Startup, before store_start: every row, ended ones too (the caller
 * drops those), by start time. */
int store_load_downtimes(struct store *s, void (*cb)(void *ud, const struct store_downtime_row *r),
                         void *ud);

/* ---- users, API tokens, sessions, audit (schema 6; src/auth) ----
 * Rows as src/auth keeps them; the store checks nothing but the table's
 * CHECKs (a role one of "admin", "operator", "viewer"; an operator has
 * centers, a viewer a customer).  Times are epoch seconds; 0 is NULL. */
struct store_auth_user_row {
	const char *name;
	const char *role;     /* "admin", "operator", "viewer" */
	const char *centers;  /* JSON array of center names, or NULL */
	const char *customer; /* or NULL */
	const char *password; /* the PHC string of its Argon2id hash */
	double created;
	int disabled;
};
struct store_auth_token_row {
	const char *id;
	const char *secret; /* hex SHA-256 of the token's secret */
	const char *user;
	const char *role, *centers, *customer; /* the token's scope, as for users */
	const char *label;                     /* or NULL */
	double created, expires, last_used, revoked;
};
struct store_auth_session_row {
	const char *id; /* hex SHA-256 of the cookie's value */
	const char *user;
	const char *csrf;
	double created, last_seen, expires;
};
struct store_auth_audit_row {
	double time;
	const char *who, *what;
	const char *from, *detail; /* or NULL */
};
/* Insert, or replace the row with the same key (name, id). */
void store_batch_auth_user(struct store_batch *b, const struct store_auth_user_row *r);
void store_batch_auth_token(struct store_batch *b, const struct store_auth_token_row *r);
void store_batch_auth_session(struct store_batch *b, const struct store_auth_session_row *r);
/* Delete the user, its tokens and its sessions (one operation: they go
 * in the same transaction). */
void store_batch_auth_user_delete(struct store_batch *b, const char *name);
void store_batch_auth_session_delete(struct store_batch *b, const char *id);
void store_batch_auth_audit(struct store_batch *b, const struct store_auth_audit_row *r);
/* Retention: delete at most `limit` audit rows older than `before`,
 * oldest first. */
void store_batch_auth_audit_prune(struct store_batch *b, double before, int limit);
/* Startup, before store_start: every row (users by name, tokens and
 * sessions by creation).  A row that breaks the table's rules (written
 * behind the store's back) is skipped.  0, or -1 (a schema older than 6
 * fails too). */
int store_load_auth_users(struct store *s,
                          void (*cb)(void *ud, const struct store_auth_user_row *r), void *ud);
int store_load_auth_tokens(struct store *s,
                           void (*cb)(void *ud, const struct store_auth_token_row *r), void *ud);
int store_load_auth_sessions(struct store *s,
                             void (*cb)(void *ud, const struct store_auth_session_row *r),
                             void *ud);
/* ---- perfdata history (schema 7) ----
 * A series is one perfdata label of one check; src/series assigns its id
 * once and keeps the identities in memory (loaded at startup).  Raw
 * samples are timed in milliseconds, rollup buckets by their start in
 * seconds, both since the Unix epoch.  One node per database: ids are not
 * scoped by node (two daemons writing one file would collide). */
struct store_series_row {
	int64_t id;
	const char *customer, *asset, *check, *label;
	const char *unit; /* normalised by src/series; "" when none */
	double created, last_seen;
};
enum store_series_tier { STORE_SERIES_RAW = 0, STORE_SERIES_5M = 1, STORE_SERIES_1H = 2 };
/* A rollup bucket, or what is added to one. */
struct store_series_agg {
	int64_t t; /* the bucket's start (s): a multiple of 300 or 3600 */
	double min, max, sum;
	uint32_t n; /* samples; avg = sum / n */
};
/* Insert the series, or (same id) update its unit and last_seen. */
void store_batch_series(struct store_batch *b, const struct store_series_row *r);
/* One raw sample (a second sample at the same millisecond replaces it). */
void store_batch_series_raw(struct store_batch *b, int64_t id, int64_t t_ms, double v);
/* Add `a` into a bucket of tier STORE_SERIES_5M or STORE_SERIES_1H: the
 * bucket is created, or gets the min of the mins, the max of the maxes
 * and the sums of the sums and counts - so partial buckets written at
 * every batch add up to the whole. */
void store_batch_series_add(struct store_batch *b, int tier, int64_t id,
                            const struct store_series_agg *a);
/* Retention, one bounded step (writer thread): from where the previous
 * step stopped (a cursor over series ids, wrapping around), visit at most
 * max_series series and delete at most max_rows rows older than the
 * cutoffs; a series not seen since series_before and left without rows
 * is deleted too.  Never one long transaction: a step is one statement
 * per series and table, each with a LIMIT. */
struct store_series_prune {
	int64_t raw_before_ms; /* raw samples older than this (ms) */
	int64_t m5_before;     /* 5-minute buckets starting before this (s) */
	int64_t h1_before;     /* hourly buckets starting before this (s) */
	double series_before;  /* series rows last seen before this */
	unsigned max_rows, max_series;
};
void store_batch_series_prune(struct store_batch *b, const struct store_series_prune *p);
/* Rows deleted by the prune steps so far (tests, metrics). */
uint64_t store_series_pruned(struct store *s);
/* Startup, before store_start: every series row, by id. */
int store_load_series(struct store *s, void (*cb)(void *ud, const struct store_series_row *r),
                      void *ud);
/* The largest series id in the table (0 if none): new ids continue after. */
int64_t store_series_last_id(struct store *s);

/* ---- the history of check states, the reports made (schema 8) ----
 * One row per change of a check's hard state or staleness (and its first
 * result), written by src/statelog in the batch of the check state it
 * describes; the monthly report counts availability from them. */
struct store_state_change_row {
	const char *customer, *asset, *check;
	double t;
	int state;          /* 0..3 */
	int stale;          /* the state came from freshness (silence) */
	const char *output; /* first line, at most STORE_CHANGE_OUTPUT_MAX bytes kept */
};
#define STORE_CHANGE_OUTPUT_MAX 200
void store_batch_state_change(struct store_batch *b, const struct store_state_change_row *r);
/* Retention: delete at most `limit` rows older than `before`, oldest
 * first (writer thread). */
void store_batch_state_change_prune(struct store_batch *b, double before, int limit);
/* A monthly report the schedule made: status "handed", "no_delivery" or
 * "failed" (detail: why, or NULL).  Insert or replace (customer, month). */
struct store_report_run_row {
	const char *customer, *month; /* month "YYYY-MM" */
	double time;
	const char *status, *detail;
};
void store_batch_report_run(struct store_batch *b, const struct store_report_run_row *r);
/* Startup, before store_start: the rows of months >= since ("YYYY-MM"). */
int store_load_report_runs(struct store *s, const char *since,
                           void (*cb)(void *ud, const struct store_report_run_row *r), void *ud);

/* ---- synchronous reads of one customer's month (the report workers) ----
 * For a store opened with store_open_readonly and never started, used by
 * one thread at a time (a report worker owns one): each call runs at once
 * on the calling thread.  store_month_begin/end bracket the reads of one
 * report in one read transaction, so they see one snapshot.  Every read
 * returns 0, or a negative enum store_err (STORE_ESCHEMA: the file
 * predates the table; STORE_EFAIL: the database failed, the message in
 * err).  Rows and their strings are valid during the callback only. */
int store_month_begin(struct store *s, char *err, size_t errlen);
void store_month_end(struct store *s);
/* The daemons' runs that tell monitoring gaps within [from, to): the
 * last run seen before `from`, then every run that began before `to`
 * and was seen at or after `from`, by start.  A database before schema
 * 11: none (0). */
int store_month_runs(struct store *s, double from, double to,
                     void (*cb)(void *ud, const struct store_monitor_run_row *r), void *ud,
                     char *err, size_t errlen);
/* The state history of the customer's checks: for each check, its last
 * row before `from` (the state it entered the period in), then its rows
 * in [from, to); ordered by asset, check, t. */
int store_month_changes(struct store *s, const char *customer, double from, double to,
                        void (*cb)(void *ud, const struct store_state_change_row *r), void *ud,
                        char *err, size_t errlen);
/* The customer's check_state rows (the latest state of each check). */
int store_month_states(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_state_row *r), void *ud, char *err,
                       size_t errlen);
/* The customer's assets as registered by agents (type, registered_at). */
int store_month_assets(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_asset_row *r), void *ud, char *err,
                       size_t errlen);
/* The customer's alerts that were open at some time in [from, to)
 * (opened before `to`, not resolved before `from`), by opened_at, each
 * with its events (alert_cb, then event_cb per event in seq order) and
 * the dispatch rows recorded in [from, to) of any of its alerts. */
int store_month_alerts(struct store *s, const char *customer, double from, double to,
                       void (*alert_cb)(void *ud, const struct store_alert_row *r),
                       void (*event_cb)(void *ud, const struct store_event_row *r),
                       void (*dispatch_cb)(void *ud, const struct store_dispatch_row *r,
                                           const char *check_key),
                       void *ud, char *err, size_t errlen);
/* The customer's series (every check and label), by id. */
int store_month_series(struct store *s, const char *customer,
                       void (*cb)(void *ud, const struct store_series_row *r), void *ud, char *err,
                       size_t errlen);
/* The buckets of one series on a rollup tier (STORE_SERIES_5M or _1H)
 * starting in [from, to), oldest first. */
int store_month_buckets(struct store *s, int tier, int64_t series, double from, double to,
                        void (*cb)(void *ud, const struct store_series_agg *a), void *ud, char *err,
                        size_t errlen);

/* ---- on-call notifications (schema 10; src/notify) ----
 * An item is one notification: an alert event (alert_id, seq) told to a
 * contact over a channel; (alert_id, seq, event, contact, channel) is its
 * key and an insert of a key that exists is ignored (the dedup that
 * keeps a restart from paging twice).  Items are this node's
 * (store_set_node).  Times are epoch seconds; 0 is NULL. */
struct store_notify_item_row {
	const char *alert_id;
	int64_t seq;
	const char *event; /* the event's type, or "repeat-N" */
	const char *contact, *channel;
	const char *status; /* "pending", "sending", "sent", "failed" */
	int attempts;
	double created, due, updated;
	const char *error;
	/* loading: the alert_event (alert_id, seq)'s payload; NULL when gone */
	const char *payload;
};
struct store_notify_attempt_row {
	const char *alert_id;
	int64_t seq;
	const char *event, *contact, *channel;
	int attempt;
	double time;
	const char *result; /* "sent", "retry", "failed", "gave_up", "cancelled", "unknown" */
	const char *detail, *message_id;
};
struct store_notify_page_row {
	const char *alert_id, *center, *tier;
	int severity;
	double repeat_at; /* 0: no repeat */
	int repeats;
	int64_t seq;         /* the alert's last event seen */
	const char *paged;   /* JSON array of contact names */
	const char *payload; /* loading: that event's payload (NULL: gone) */
};
/* Insert an item (ignored when its key exists). */
void store_batch_notify_item(struct store_batch *b, const struct store_notify_item_row *r);
/* Its status, attempts, due, updated and error, by key. */
void store_batch_notify_update(struct store_batch *b, const struct store_notify_item_row *r);
void store_batch_notify_attempt(struct store_batch *b, const struct store_notify_attempt_row *r);
/* Insert or replace the paging state of an alert; delete it. */
void store_batch_notify_page(struct store_batch *b, const struct store_notify_page_row *r);
void store_batch_notify_page_delete(struct store_batch *b, const char *alert_id);
/* Retention: delete at most `limit` items (and as many mails) sent or
 * given up before `before`, and the attempts older than it. */
void store_batch_notify_prune(struct store_batch *b, double before, int limit);
/* Startup, before store_start: this node's items still pending or
 * sending (created order), each with its event's payload; the paging
 * state of unresolved alerts.  0 or -1. */
/* The notification key (notify_key): 0 with up to `size` bytes in buf and
 * *len set; 1 when there is none yet; -1 on error. */
int store_load_notify_key(struct store *s, unsigned char *buf, size_t size, size_t *len);
void store_batch_notify_key(struct store_batch *b, const unsigned char *key, size_t len);
int store_load_notify_items(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_item_row *r), void *ud);
int store_load_notify_pages(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_page_row *r), void *ud);
/* A document mailed to one address (a monthly report): (key, address) is
 * the row's key; an insert of a key that exists replaces the row when it
 * was sent or given up (the document mailed again) and is ignored while
 * it is pending or sending.  The row
 * holds the whole message until it is sent or given up (then its html
 * and file are dropped). */
struct store_notify_mail_row {
	const char *key, *address, *channel, *customer;
	const char *subject, *body, *html; /* loads: NULL (store_read_notify_mail) */
	const char *att_name, *att_type;   /* the attached file, or NULL */
	const void *att;
	size_t att_len;
	const char *status; /* "pending", "sending", "sent", "failed" */
	int attempts;
	double created, due, updated;
	const char *error, *message_id;
};
void store_batch_notify_mail(struct store_batch *b, const struct store_notify_mail_row *r);
/* Its status, attempts, due, updated, error and message_id (NULL: kept),
 * by key. */
void store_batch_notify_mail_update(struct store_batch *b, const struct store_notify_mail_row *r);
/* Startup, before store_start: this node's mails still pending or
 * sending (created order), without their content.  0 or -1. */
int store_load_notify_mails(struct store *s,
                            void (*cb)(void *ud, const struct store_notify_mail_row *r), void *ud);

/* ---- reads while the loop runs (the reader thread) ----
 *
 * A store_read_* call returns 0 when it accepted the request: its
 * callback then runs exactly once, later, on the loop thread (never inside
 * the call), with the result or with an error (store_read_status < 0; a
 * database error is logged too).  It returns a negative enum store_err when
 * it refuses the request, and the callback never runs: STORE_EINVAL for a
 * malformed request, STORE_ESTOPPED when the reader does not run (before
 * store_start, a store started without a loop, or during store_close),
 * STORE_ESCHEMA when a read-only store's file predates the tables the read
 * needs.  store_close delivers every accepted request before it returns,
 * on its caller's thread: those that finished with their result, the
 * others with STORE_ECLOSED.  A callback must not call store_close.
 *
 * Results are copies owned by the read (strings in its own memory); `rd`
 * and everything reached through it is freed when the callback returns.
 * While a request is pending the store holds a reference on the loop
 * (ev_ref), so a loop run only for reads (mamorictl) returns once every
 * callback has run; an idle reader keeps no loop alive.
 */
enum store_err {
	STORE_OK = 0,
	STORE_EFAIL = -1,    /* the database failed; store_read_error says how */
	STORE_EINVAL = -2,   /* a malformed request */
	STORE_ESTOPPED = -3, /* the reader does not run */
	STORE_ECLOSED = -4,  /* the store closed before the request ran */
	STORE_ESCHEMA = -5,  /* the database's schema predates this read */
};
/* A constant string for an enum store_err value. */
const char *store_strerror(int err);

struct store_read; /* one request and its result */
typedef void (*store_read_cb)(void *ud, const struct store_read *rd);
/* 0 (STORE_OK), or a negative enum store_err. */
int store_read_status(const struct store_read *rd);
/* What went wrong ("" when status is 0). */
const char *store_read_error(const struct store_read *rd);
/* 1: the result was cut at its bound - another page of alerts exists, or
 * an alert history has more than STORE_READ_MAX_HISTORY events or
 * dispatches. */
int store_read_more(const struct store_read *rd);

#define STORE_READ_MAX_ALERTS  1000 /* rows per page of alerts */
#define STORE_READ_MAX_HISTORY 5000 /* events (and dispatches) of one alert */

/* Alerts, newest first: ordered by (opened_at DESC, id DESC).  Every
 * filter set must hold.  Strings and arrays are copied at the call. */
struct store_alert_query {
	/* the owning center, or a center receiving copies (`also`), is
	 * one of these (n_centers 0: any) */
	const char *const *centers;
	size_t n_centers;
	const char *const *customers; /* any of these (n_customers 0: any) */
	size_t n_customers;
	/* "open", "acknowledged", "resolved", "unresolved" (open or
	 * acknowledged), or NULL: any */
	const char *status;
	const char *service;   /* or NULL */
	const char *check_key; /* "customer/asset/check" (alerts of one check) or NULL */
	/* the alert's (last) state: 1 warning, 2 critical, 3 unknown;
	 * -1 or 0: any (a zeroed query filters nothing) */
	int severity;
	/* 0: any; else unresolved alerts whose running deadline (SLA clock
	 * neither paused nor stopped; ack deadline while not acknowledged,
	 * resolve deadline; not yet breached at the last tier) falls before
	 * this time */
	double due_before;
	/* keyset pagination: rows strictly after (after_opened, after_id)
	 * in the order above, i.e. the last row of the previous page;
	 * after_id NULL: the first page */
	double after_opened;
	const char *after_id;
	unsigned limit; /* 1..STORE_READ_MAX_ALERTS */
};
/* 0, or STORE_EINVAL with the reason in err (the check store_read_alerts
 * makes; for a caller that wants the message). */
int store_alert_query_check(const struct store_alert_query *q, char *err, size_t errlen);
int store_read_alerts(struct store *s, const struct store_alert_query *q, store_read_cb cb,
                      void *ud);
/* The page: rows with their deadline columns and newest dispatch. */
size_t store_read_alert_count(const struct store_read *rd);
const struct store_alert_row *store_read_alert_at(const struct store_read *rd, size_t i);

/* One alert with its whole history: the alert row (with its deadline and
 * newest dispatch), every event row in seq order and every dispatch row
 * in seq order.  An unknown id is not an error: status 0, no alert. */
int store_read_alert_history(struct store *s, const char *alert_id, store_read_cb cb, void *ud);
/* The alert, or NULL when the id is unknown. */
const struct store_alert_row *store_read_history_alert(const struct store_read *rd);
size_t store_read_event_count(const struct store_read *rd);
const struct store_event_row *store_read_event_at(const struct store_read *rd, size_t i);
size_t store_read_dispatch_count(const struct store_read *rd);
const struct store_dispatch_row *store_read_dispatch_at(const struct store_read *rd, size_t i);

/* The SLA summary: per (center, customer) pair, figures over the alerts
 * the lists filter the way store_alert_query does.  center is the alert's
 * owning center (NULL: no route matched); a list of centers selects
 * alerts by their owner or by a copy (`also`), as the alert pages do, and
 * counts them under their owner.
 *   open      unresolved alerts (open or acknowledged)
 *   due       unresolved alerts with a running deadline (as due_before
 *             above) in [now, now + due_within]
 *   breached  alerts with an SLA breach announced in [month_start,
 *             month_end): an `sla_breach` event at that time that is not
 *             a re-announcement (breaches at every tier, the escalating
 *             ones included; an alert counts once however many; an event
 *             whose payload cannot be read counts)
 *   acked     alerts whose (last) acknowledgement, acked_at, is in
 *             [month_start, month_end)
 *   median_ack  the exact median of acked_at - opened_at over those
 *             (the mean of the two middle ones for an even count);
 *             < 0 when acked is 0
 * Rows ordered by center (NULL first), customer; a pair appears when one
 * figure is not 0.  Cost: the unresolved alerts, the month's breach
 * events and the month's acknowledgements (sorted), each through its
 * index (schema 5), never the whole history; with at most 8 customers
 * listed, those customers' alerts instead (store_read_sla.c). */
struct store_sla_query {
	const char *const *centers; /* as store_alert_query (n 0: any) */
	size_t n_centers;
	const char *const *customers;
	size_t n_customers;
	double now, due_within; /* due_within: seconds, > 0 */
	double month_start, month_end;
};
struct store_sla_row {
	const char *center, *customer;
	int64_t open, due, breached, acked;
	double median_ack;
};
/* 0, or STORE_EINVAL with the reason in err. */
int store_sla_query_check(const struct store_sla_query *q, char *err, size_t errlen);
int store_read_sla(struct store *s, const struct store_sla_query *q, store_read_cb cb, void *ud);
size_t store_read_sla_count(const struct store_read *rd);
const struct store_sla_row *store_read_sla_at(const struct store_read *rd, size_t i);

/* Alert events (every type, with the mamori.alert/1 payload as
 * published) newer than `after`, oldest first, of alerts in the scope
 * (centers: owner or a copy; customers; n 0: any), at most `limit`
 * (store_read_more says whether there were more): what a live stream that
 * lost its place in the event ring missed.  Read with
 * store_read_event_count / store_read_event_at. */
int store_read_events_since(struct store *s, double after, const char *const *centers,
                            size_t n_centers, const char *const *customers, size_t n_customers,
                            unsigned limit, store_read_cb cb, void *ud);

/* Check states as stored (what mamorictl status shows), worst first:
 * problems (by state, descending) before OK, then customer, asset, check.
 * filter: "customer", "customer/asset" or NULL (all); problems_only:
 * state != 0.  Every matching row (no bound: one row per check). */
int store_read_states(struct store *s, const char *filter, int problems_only, store_read_cb cb,
                      void *ud);
size_t store_read_state_count(const struct store_read *rd);
const struct store_state_row *store_read_state_at(const struct store_read *rd, size_t i);

/* The perfdata history of one check: its series (one, or every label)
 * with their points in [from, to) on one tier, grouped into buckets of
 * `step` seconds aligned on multiples of step since the epoch (a raw step
 * counts in milliseconds, a rollup step must be a multiple of 300 or
 * 3600).  Buckets without samples have no point.  Series are ordered by
 * label; a series whose points would pass max_points in all is left out
 * whole and the read says more (store_read_more).  An unknown check or
 * label is not an error: no series. */
#define STORE_SERIES_MAX_POINTS 100000
struct store_series_query {
	const char *customer, *asset, *check;
	const char *label; /* NULL: every label */
	int tier;          /* enum store_series_tier */
	double from, to, step;
	unsigned max_points; /* 1..STORE_SERIES_MAX_POINTS */
};
struct store_series_point {
	double t; /* the bucket's start (s) */
	double min, max, sum;
	uint32_t n;
};
/* 0, or STORE_EINVAL with the reason in err. */
int store_series_query_check(const struct store_series_query *q, char *err, size_t errlen);
int store_read_series(struct store *s, const struct store_series_query *q, store_read_cb cb,
                      void *ud);
size_t store_read_series_count(const struct store_read *rd);
const struct store_series_row *store_read_series_at(const struct store_read *rd, size_t i);
/* The points of series i, oldest first (*n of them). */
const struct store_series_point *store_read_series_points(const struct store_read *rd, size_t i,
                                                          size_t *n);
/* One alert's notifications (items by creation, at most
 * STORE_READ_MAX_HISTORY) and their attempts (by time, as many), with
 * the alert's center and customer (the caller's scope check; both NULL
 * and no rows when the alert is unknown).  Needs schema 10. */
int store_read_notifications(struct store *s, const char *alert_id, store_read_cb cb, void *ud);
/* The alert's center and customer (NULL: unknown alert). */
const char *store_read_notify_center(const struct store_read *rd);
const char *store_read_notify_customer(const struct store_read *rd);
size_t store_read_notify_item_count(const struct store_read *rd);
const struct store_notify_item_row *store_read_notify_item_at(const struct store_read *rd,
                                                              size_t i);
size_t store_read_notify_attempt_count(const struct store_read *rd);
/* One mail's whole row, content included (NULL from the accessor when
 * there is no such row). */
int store_read_notify_mail(struct store *s, const char *key, const char *address, store_read_cb cb,
                           void *ud);
const struct store_notify_mail_row *store_read_notify_mail_row(const struct store_read *rd);
const struct store_notify_attempt_row *store_read_notify_attempt_at(const struct store_read *rd,
                                                                    size_t i);

/* Schema steps (schema.c): step v takes user_version v-1 to v. */
int store_schema_latest(void);
const char *store_schema_step(int version);

#endif
