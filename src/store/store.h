/*
 * store: SQLite (WAL) persistence of check state, registered assets and
 * acknowledgements, written by one writer thread.
 *
 * The loop never waits on the disk: it fills a batch (copies of rows) and
 * hands it over with store_commit; the writer thread applies each batch in
 * one transaction (group commit) and tells the loop through one ev_async
 * when it is done.  The server coalesces: a check changed 100 times between
 * two flushes is written once, and a new batch is only cut when the
 * previous one is committed, so a slow disk delays history, never checks.
 *
 * WAL checkpoints run on a checkpointer thread with its own connection
 * (store_ckpt.c), so the writer does not stall on them; their tuning and
 * figures, and the file's name, are in store_sqlite.h.
 *
 * Reads (startup) are synchronous, before the loop runs; the one read
 * while running (store_batch_outbox_read) runs in the writer thread and
 * reports through the same `done`.
 * Schema: versioned with PRAGMA user_version and forward migrations; a
 * database written by a newer mamori is refused; a corrupt database is
 * reported at open and never replaced.
 */
#ifndef MAMORI_STORE_H
#define MAMORI_STORE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct store;
struct store_batch;

#define STORE_SCHEMA_VERSION 4

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

/* Open (creating the directory's database if needed).  On failure returns
 * NULL with a message in err. */
struct store *store_open(const char *state_dir, char *err, size_t errlen);
/* The node this process is (daemon.node): outbox ids are numbered per
 * node and every outbox read, write and delete sees only this node's rows;
 * store_alert_total counts only its alerts.  Default "": the rows of no
 * node (tests, and what schema 3 wrote).  A node without outbox rows of
 * its own takes over those of node "" (an upgrade loses nothing).  Call
 * after store_open, before the loads and store_start (later: ignored). */
void store_set_node(struct store *s, const char *node);
/* Start the writer thread; `done` runs on the loop after each batch. */
int store_start(struct store *s, struct ev_loop *loop, void (*done)(void *ud), void *ud);
/* Wait for pending batches, stop the thread, close the database. */
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
 * Returns the batch's number (1, 2, ...: batches are written in order). */
uint64_t store_commit(struct store *s, struct store_batch *b);
/* Number of the last batch written.  A batch that cannot be written (disk
 * full, I/O error) is kept and tried again (stats.retries), so this does
 * not move past it until it is written; only store_close gives up on it
 * (logged).  Read it in the `done` callback. */
uint64_t store_committed(const struct store *s);
/* 1 while a batch is queued or being written. */
int store_busy(const struct store *s);
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
 * Written by src/server/alerts.c in the same batch (transaction) as the
 * check state that caused them.  Times are epoch seconds; 0 is NULL. */
struct store_alert_row {
	const char *id, *check_key, *customer, *asset, *check_name, *service, *center;
	const char *also; /* JSON array of centers, or NULL */
	const char *summary, *status, *acked_by;
	int contract, state, flapping, stale, manual;
	int64_t count, seq;
	double opened_at, updated_at, acked_at, resolved_at;
	/* The SLA clock (table deadline); has_clock 0: no row. */
	int has_clock;
	const char *tier_name;
	int tier, paused, acked, stopped, ack_breached, resolve_breached, breaches;
	double ack_due, resolve_due, reannounce_at; /* 0: none */
	double ack_left, resolve_left;              /* < 0: none */
	/* Loading only: the newest dispatch record (vendor, plan, result). */
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
/* The newest `limit` processed command ids, oldest first. */
int store_load_cmd_seen(struct store *s, size_t limit,
                        void (*cb)(void *ud, const char *center, const char *id,
                                   const char *result),
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

/* Schema steps (schema.c): step v takes user_version v-1 to v. */
int store_schema_latest(void);
const char *store_schema_step(int version);

#endif
