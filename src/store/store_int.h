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

/* Append an operation of `t`'s kind `kind` to b and return `size` zeroed
 * bytes of the batch's memory for the caller to fill (loop thread). */
void *store__push(struct store_batch *b, const struct store__table *t, unsigned kind, size_t size);
/* Memory that lives as long as the batch. */
void *store__balloc(struct store_batch *b, size_t n);
const char *store__bdup(struct store_batch *b, const char *s);

/* ---- the store ---- */

#define STORE__MAX_TABLES 16

struct store_writer; /* store_batch.c */
struct store_ckpt;   /* store_ckpt.c */

struct store {
	sqlite3 *db; /* the writer's connection */
	char *path;
	char *node; /* "" unless store_set_node */
	int started;
	struct {
		const struct store__table *t;
		void *ctx;
	} tables[STORE__MAX_TABLES];
	size_t n_tables;
	struct store_writer *w;
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
