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
 * Reads (startup) are synchronous, before the loop runs.
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

#define STORE_SCHEMA_VERSION 1
#define STORE_FILE "mamori.db"

struct store_state_row {
	const char *customer, *asset, *name, *plugin;
	int state, hard, attempt, hard_state, flapping, stale;
	uint32_t hist;
	int n_hist;
	double flap_pct;
	double last_check, last_change, last_hard_change, next_check;
	const char *output, *long_output, *perfdata;
	int ack;               /* acknowledged (sticky until OK) */
	double ack_expires;    /* 0 = never */
	const char *ack_author, *ack_comment;
};

struct store_asset_row {
	const char *customer, *name, *type, *address, *source;
	double registered_at;
};

/* Open (creating the directory's database if needed).  On failure returns
 * NULL with a message in err. */
struct store *store_open(const char *state_dir, char *err, size_t errlen);
/* Start the writer thread; `done` runs on the loop after each batch. */
int store_start(struct store *s, struct ev_loop *loop, void (*done)(void *ud), void *ud);
/* Wait for pending batches, stop the thread, close the database. */
void store_close(struct store *s);

int store_load_states(struct store *s, void (*cb)(void *ud, const struct store_state_row *r), void *ud);
int store_load_assets(struct store *s, void (*cb)(void *ud, const struct store_asset_row *r), void *ud);

struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
size_t store_batch_rows(const struct store_batch *b);
/* Copy a row into the batch. */
void store_batch_state(struct store_batch *b, const struct store_state_row *r);
void store_batch_asset(struct store_batch *b, const struct store_asset_row *r);
/* Remove state rows of checks that no longer exist (reload). */
void store_batch_forget(struct store_batch *b, const char *customer, const char *asset, const char *name);
/* Hand the batch to the writer (takes ownership).  Non-blocking. */
void store_commit(struct store *s, struct store_batch *b);
/* 1 while a batch is queued or being written. */
int store_busy(const struct store *s);
/* Block until everything handed over is written (shutdown, tests). */
void store_sync(struct store *s);

struct store_stats {
	uint64_t batches;
	uint64_t rows;
	uint64_t errors;
	double busy_seconds;
};
void store_get_stats(const struct store *s, struct store_stats *out);

#endif
