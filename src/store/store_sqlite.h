/*
 * store_sqlite: what is particular to the store's SQLite backend - the
 * file name, WAL checkpoint tuning and figures.  store.h is the way into
 * persistence and says nothing of them; this header is for tests,
 * benchmarks and tools that look at the file itself.  It must never
 * include <sqlite3.h> (only src/store does).
 */
#ifndef MAMORI_STORE_SQLITE_H
#define MAMORI_STORE_SQLITE_H

#include <stdint.h>

struct store;

/* The database file inside state_dir. */
#define STORE_FILE "mamori.db"

/* WAL checkpoints (store_ckpt.c): a PASSIVE checkpoint whenever the WAL
 * has grown by `pages` pages since the last one, a RESTART (the writer
 * waits) when it holds more than `max_wal_bytes`.  Defaults
 * STORE_CKPT_PAGES and STORE_WAL_MAX (<= 0 selects them); call before
 * store_start (tests use small values). */
#define STORE_CKPT_PAGES 2000
#define STORE_WAL_MAX    (64 * 1024 * 1024)
void store_set_checkpoint(struct store *s, int pages, int64_t max_wal_bytes);

/* The checkpointer thread: PASSIVE checkpoints run, RESTART checkpoints
 * forced by the WAL bound (the writer waits for those), and the seconds
 * spent in each kind. */
struct store_checkpoint_stats {
	uint64_t checkpoints, checkpoint_restarts;
	double checkpoint_seconds, restart_seconds;
};
void store_get_checkpoint_stats(const struct store *s, struct store_checkpoint_stats *out);

#endif
