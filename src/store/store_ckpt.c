/*
 * store_ckpt: WAL checkpoints off the writer thread.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that crosses the
 * threshold: the writer thread then reads the WAL, writes the pages into
 * the database and fsyncs it (~10 ms), and every batch queued behind it -
 * and the alert messages waiting for that commit - waits too.  Instead:
 *
 *   - the writer connection has wal_autocheckpoint=0 and a wal_hook that
 *     only counts: after each commit SQLite passes the WAL's frame count;
 *     when it has grown by `pages` frames since the last request, the hook
 *     signals the checkpointer (a mutex and a condvar, no I/O);
 *   - the checkpointer is its own thread with its own connection to the
 *     same file.  It runs PASSIVE checkpoints, which never take the write
 *     lock: the writer keeps committing into the WAL while the pages are
 *     copied and the database is fsynced.  A fully copied WAL is rewound
 *     from its start by the writer's next transaction.
 *   - Under constant load a PASSIVE checkpoint never catches up (frames
 *     arrive while it copies), so the WAL would grow forever.  When the
 *     WAL holds more than `max_bytes`, the checkpointer copies what it can
 *     (PASSIVE), then takes `wmu` - the mutex the writer holds around each
 *     batch (store__ckpt_enter/leave) - and runs a RESTART checkpoint: the
 *     writer waits for the copy of the frames written meanwhile and one
 *     fsync, about once per max_bytes of writes, never in the common case.
 *     Holding `wmu` keeps the writer blocked on a mutex instead of spinning
 *     in its busy handler.  The WAL peaks at about max_bytes plus what the
 *     writer writes during one PASSIVE checkpoint.  If a
 *     reader outside the daemon (sqlite3, mamorictl) holds an old
 *     snapshot, the RESTART gives up after RESTART_BUSY_MS and is not
 *     tried again for RESTART_BACKOFF seconds.  journal_size_limit cuts
 *     the WAL file back to max_bytes when it is rewound.
 *
 * Before store__ckpt_start and after store__ckpt_stop the hook checkpoints
 * inline (PASSIVE, on the calling thread), like SQLite's own automatic
 * checkpoint: startup writes and tests without a writer thread.
 * Durability is unchanged: synchronous=NORMAL in WAL mode, a commit is in
 * the OS cache at once (kill -9 safe) and on disk after a checkpoint.
 */
#include "store/store_int.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESTART_BUSY_MS 200
#define RESTART_BACKOFF 1.0

struct store_ckpt {
	sqlite3 *wdb; /* the writer's connection */
	char *path;
	pthread_mutex_t wmu; /* held by the writer around each batch */
	int pages;           /* request a checkpoint every `pages` new frames */
	int max_frames;      /* RESTART beyond this */
	int64_t max_bytes;
	int page_size;
	/* The writer's hook only (no lock): frames at the last request. */
	int base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int want; /* 1 passive, 2 restart (under lock) */
	int hold; /* a RESTART wants wmu: the writer waits on `gate` */
	pthread_cond_t gate;
	int stop, started;
	pthread_t thread;
	sqlite3 *db; /* the checkpointer's connection */
	double restart_after;
	struct store_checkpoint_stats st; /* under lock */
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void account(struct store_ckpt *c, int restart, double seconds)
{
	pthread_mutex_lock(&c->lock);
	if (restart) {
		c->st.checkpoint_restarts++;
		c->st.restart_seconds += seconds;
	} else {
		c->st.checkpoints++;
		c->st.checkpoint_seconds += seconds;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Writer thread, after each commit (the write lock is already released). */
static int on_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_ckpt *c = arg;
	if (frames < c->base)
		c->base = 0; /* the WAL was rewound */
	int over = frames >= c->max_frames;
	if (frames - c->base < c->pages && !over)
		return SQLITE_OK;
	c->base = frames;
	pthread_mutex_lock(&c->lock);
	if (c->started) {
		if (c->want < (over ? 2 : 1))
			c->want = over ? 2 : 1;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return SQLITE_OK;
	}
	pthread_mutex_unlock(&c->lock);
	/* no checkpointer thread: inline, like wal_autocheckpoint */
	double t0 = now_mono();
	sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	account(c, 0, now_mono() - t0);
	return SQLITE_OK;
}

static void tune(struct store_ckpt *c)
{
	int64_t f = c->max_bytes / (c->page_size + 24);
	c->max_frames = f < 1 ? 1 : f > 1000000000 ? 1000000000 : (int)f;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld", (long long)c->max_bytes);
	sqlite3_exec(c->wdb, sql, NULL, NULL, NULL);
}

struct store_ckpt *store__ckpt_new(sqlite3 *wdb, const char *path, char *err, size_t errlen)
{
	struct store_ckpt *c = calloc(1, sizeof *c);
	if (!c || !(c->path = strdup(path))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->wdb = wdb;
	c->pages = STORE_CKPT_PAGES;
	c->max_bytes = STORE_WAL_MAX;
	c->page_size = 4096;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->gate, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(wdb, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
			c->page_size = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	/* The pragma first: it installs SQLite's own hook (none for 0). */
	if (sqlite3_exec(wdb, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(wdb));
		store__ckpt_free(c);
		return NULL;
	}
	tune(c);
	sqlite3_wal_hook(wdb, on_wal, c);
	return c;
}

void store__ckpt_tune(struct store_ckpt *c, int pages, int64_t max_bytes)
{
	c->pages = pages > 0 ? pages : STORE_CKPT_PAGES;
	c->max_bytes = max_bytes > 0 ? max_bytes : STORE_WAL_MAX;
	tune(c);
}

/* The writer, around each batch.  `hold` makes the writer queue behind a
 * RESTART instead of winning the unfair mutex again and again. */
void store__ckpt_enter(struct store_ckpt *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->hold)
		pthread_cond_wait(&c->gate, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->wmu);
}

void store__ckpt_leave(struct store_ckpt *c)
{
	pthread_mutex_unlock(&c->wmu);
}

static void set_hold(struct store_ckpt *c, int hold)
{
	pthread_mutex_lock(&c->lock);
	c->hold = hold;
	if (!hold)
		pthread_cond_broadcast(&c->gate);
	pthread_mutex_unlock(&c->lock);
}

/* Copy the last frames and rewind the WAL, the writer held off. */
static void restart(struct store_ckpt *c)
{
	double t0 = now_mono();
	set_hold(c, 1);
	pthread_mutex_lock(&c->wmu);
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	pthread_mutex_unlock(&c->wmu);
	set_hold(c, 0);
	double t1 = now_mono();
	if (rc == SQLITE_OK) {
		account(c, 1, t1 - t0);
		return;
	}
	/* a reader outside the daemon holds an old snapshot */
	c->restart_after = t1 + RESTART_BACKOFF;
	log_info("store", "WAL restart postponed: %s", sqlite3_errmsg(c->db));
}

static void *checkpointer(void *arg)
{
	struct store_ckpt *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->want && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		int want = c->want;
		c->want = 0;
		pthread_mutex_unlock(&c->lock);
		double t0 = now_mono();
		int rc =
		    sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			log_warn("store", "checkpoint failed: %s", sqlite3_errmsg(c->db));
		account(c, 0, now_mono() - t0);
		if (want == 2 && now_mono() >= c->restart_after)
			restart(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int store__ckpt_start(struct store_ckpt *c)
{
	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_warn("store", "checkpointer: cannot open %s (%s); checkpoints stay inline",
		         c->path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, RESTART_BUSY_MS);
	/* A connection learns that the file is in WAL mode at its first read;
	 * until then a checkpoint is a no-op that reports success. */
	if (sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		log_warn("store", "checkpointer: cannot read %s (%s); checkpoints stay inline",
		         c->path, sqlite3_errmsg(c->db));
		goto fail;
	}
	pthread_mutex_lock(&c->lock);
	c->stop = 0;
	c->started = 1;
	pthread_mutex_unlock(&c->lock);
	if (pthread_create(&c->thread, NULL, checkpointer, c) != 0) {
		pthread_mutex_lock(&c->lock);
		c->started = 0;
		pthread_mutex_unlock(&c->lock);
		log_warn("store", "checkpointer: no thread; checkpoints stay inline");
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(c->db);
	c->db = NULL;
	return -1;
}

void store__ckpt_stop(struct store_ckpt *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	int started = c->started;
	c->stop = 1;
	c->started = 0;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (started)
		pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	c->db = NULL;
}

void store__ckpt_stats(struct store_ckpt *c, struct store_checkpoint_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	*out = c->st;
	pthread_mutex_unlock(&c->lock);
}

void store__ckpt_free(struct store_ckpt *c)
{
	if (!c)
		return;
	store__ckpt_stop(c);
	sqlite3_wal_hook(c->wdb, NULL, NULL);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->gate);
	pthread_mutex_destroy(&c->wmu);
	free(c->path);
	free(c);
}
