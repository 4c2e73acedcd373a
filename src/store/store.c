/*
 * store: the database file - open (integrity check, migration), start,
 * close - and the list of table files.  See store.h for the API and
 * store_int.h for how the files of the module fit together.
 *
 * Threads: store_open and the load functions run before the loop; after
 * store_start only the writer thread touches the writer's connection
 * (store_batch.c).  WAL checkpoints run on a third thread with its own
 * connection (store_ckpt.c), reads on a fourth (store_read.c).  Must
 * never: modify a database it refuses (newer schema, corrupt, not a
 * database) - those checks are read-only and come before anything that
 * writes - nor, opened read-only (store_open_readonly), any database.
 */
#include "store/store_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"

#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The table files, in the order their statements are prepared.  A new
 * table file adds its line here (and its extern in store_int.h). */
static const struct store__table *const tables[] = {
	&store__state_table,    /* check_state, asset */
	&store__alerts_table,   /* alert, alert_event, deadline, dispatch, cmd_seen */
	&store__outbox_table,   /* outbox */
	&store__downtime_table, /* downtime */
	&store__auth_table,     /* auth_user, auth_token, auth_session, auth_audit */
	&store__series_table,   /* series, series_raw, series_5m, series_1h */
	&store__history_table,  /* state_change, report_run */
	&store__notify_table,   /* notify_item, notify_attempt, notify_page */
};

/* ---- schema ---- */

/* The steps themselves are in schema.c. */

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int check_integrity(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	int rc = sqlite3_step(st);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int ok = res && strcmp(res, "ok") == 0;
	if (!ok)
		snprintf(err, errlen, "%s", res ? res : sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int version = 0;
	if (pragma_int(db, "PRAGMA user_version", &version) != 0) {
		snprintf(err, errlen, "%s: cannot read schema version: %s", path,
		         sqlite3_errmsg(db));
		return -1;
	}
	int latest = store_schema_latest();
	if (version > latest) {
		snprintf(
		    err, errlen,
		    "%s has schema version %d, written by a newer mamori (this one knows up to %d); "
		    "refusing to touch it",
		    path, version, latest);
		return -1;
	}
	for (int v = version; v < latest; v++) {
		char e[512], sql[64];
		if (store__exec(db, "BEGIN IMMEDIATE", e, sizeof e) != 0 ||
		    store__exec(db, store_schema_step(v + 1), e, sizeof e) != 0) {
			snprintf(err, errlen, "%s: migration to schema %d failed: %s", path, v + 1,
			         e);
			store__exec(db, "ROLLBACK", e, sizeof e);
			return -1;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (store__exec(db, sql, e, sizeof e) != 0 ||
		    store__exec(db, "COMMIT", e, sizeof e) != 0) {
			snprintf(err, errlen, "%s: migration to schema %d failed: %s", path, v + 1,
			         e);
			store__exec(db, "ROLLBACK", e, sizeof e);
			return -1;
		}
		if (v > 0 || version > 0)
			log_notice("store", "migrated %s to schema %d", path, v + 1);
	}
	return 0;
}

static int open_tables(struct store *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_LEN(tables); i++) {
		void *ctx = NULL;
		if (tables[i]->open && tables[i]->open(s, s->db, &ctx, err, errlen) != 0) {
			if (tables[i]->close)
				tables[i]->close(ctx);
			return -1;
		}
		s->tables[s->n_tables].t = tables[i];
		s->tables[s->n_tables++].ctx = ctx;
	}
	return 0;
}

static void close_tables(struct store *s)
{
	while (s->n_tables > 0) {
		s->n_tables--;
		if (s->tables[s->n_tables].t->close)
			s->tables[s->n_tables].t->close(s->tables[s->n_tables].ctx);
	}
}

/* Everything store_open made, in reverse (also a half-built store).
 * checkpoint: 0 for a database store_open refused, which is never
 * written to. */
static void free_all(struct store *s, int checkpoint)
{
	store__reader_free(s->r);
	store__writer_free(s->w);
	store__ckpt_free(s->ck);
	close_tables(s);
	if (s->db && checkpoint && !s->readonly) {
		/* the writer is done: checkpoint everything so the WAL does
		 * not grow across restarts */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close(s->db);
	free(s->node);
	free(s->path);
	free(s);
}

/* The database and its -wal and -shm hold every customer's alerts and
 * notes: nothing in them is for others.  mamorid's umask makes new files
 * so; files an older mamori (no umask) left readable by others are
 * tightened here - SQLite keeps an existing file's mode, and gives a new
 * -wal or -shm the database's. */
static void tighten(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		char *p = xasprintf("%s%s", db, sfx[i]);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 027)) {
			mode_t m = st.st_mode & 0750;
			if (chmod(p, m) == 0)
				log_notice("store", "%s was mode %04o: now %04o (not for others)",
				           p, (unsigned)(st.st_mode & 07777), (unsigned)m);
			else
				log_warn("store", "%s is mode %04o, open to others: chmod: %s", p,
				         (unsigned)(st.st_mode & 07777), strerror(errno));
		}
		free(p);
	}
}

struct store *store_open(const char *state_dir, char *err, size_t errlen)
{
	struct stat sb;
	if (errlen)
		err[0] = '\0';
	if (stat(state_dir, &sb) != 0) {
		if (mkdir(state_dir, 0750) != 0) {
			snprintf(err, errlen, "cannot create state_dir %s: %s", state_dir,
			         strerror(errno));
			return NULL;
		}
	} else if (secret_check_dir("state_dir", state_dir, err, errlen) != 0) {
		return NULL; /* not a directory, or others may write there */
	}
	struct store *s = xcalloc(1, sizeof *s);
	s->path = xasprintf("%s/%s", state_dir, STORE_FILE);
	s->node = xstrdup("");
	s->w = store__writer_new(s);
	s->r = store__reader_new(s);
	s->schema = store_schema_latest();
	char e[512];
	if (sqlite3_open_v2(s->path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", s->path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* Read-only checks first: switching to WAL rewrites the header, so a
	 * file we refuse must be refused before that.  A file that is not a
	 * database fails at its first read ("file is not a database"). */
	int version = 0;
	if (pragma_int(s->db, "PRAGMA user_version", &version) != 0) {
		snprintf(err, errlen,
		         "%s is not a usable SQLite database (%s); it was left untouched", s->path,
		         sqlite3_errmsg(s->db));
		goto fail;
	}
	if (version > store_schema_latest()) {
		snprintf(err, errlen,
		         "%s has schema version %d, written by a newer mamori (this one knows "
		         "up to %d); refusing to touch it",
		         s->path, version, store_schema_latest());
		goto fail;
	}
	if (check_integrity(s->db, e, sizeof e) != 0) {
		snprintf(
		    err, errlen,
		    "%s is corrupt (%s); it was left untouched - restore a backup or move it away",
		    s->path, e);
		goto fail;
	}
	tighten(s->path);
	if (store__exec(s->db, "PRAGMA journal_mode=WAL", e, sizeof e) != 0) {
		snprintf(err, errlen,
		         "%s is not a usable SQLite database (%s); it was left untouched", s->path,
		         e);
		goto fail;
	}
	/* synchronous=NORMAL in WAL mode: a commit is durable against a
	 * process crash (kill -9) at once, and against power loss at the
	 * next checkpoint; no fsync per transaction. */
	/* Foreign keys are declared (documentation, tools) but not enforced:
	 * the writer inserts an alert before its events by construction and
	 * retention deletes the children itself; enforcement cost 35% of the
	 * alert event rate (tests/bench/alerts_bench persist). */
	/* 64 MiB page cache: check_state of 100,000 checks stays in memory, so
	 * a batch costs B-tree work, not page reads (the default 2 MiB made
	 * the writer read pages for every row). */
	if (store__exec(
	        s->db,
	        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536", e,
	        sizeof e) != 0 ||
	    migrate(s->db, s->path, err, errlen) != 0 || open_tables(s, e, sizeof e) != 0 ||
	    !(s->ck = store__ckpt_new(s->db, s->path, e, sizeof e))) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", s->path, e);
		goto fail;
	}
	return s;
fail:
	free_all(s, 0);
	return NULL;
}

struct store *store_open_readonly(const char *state_dir, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	struct store *s = xcalloc(1, sizeof *s);
	s->readonly = 1;
	s->path = xasprintf("%s/%s", state_dir, STORE_FILE);
	s->node = xstrdup("");
	s->w = store__writer_new(s);
	s->r = store__reader_new(s);
	struct stat sb;
	if (stat(s->path, &sb) != 0) {
		if (errno == ENOENT)
			snprintf(err, errlen,
			         "no database at %s (has mamorid run with state_dir %s?)", s->path,
			         state_dir);
		else
			snprintf(err, errlen, "cannot open %s: %s", s->path, strerror(errno));
		goto fail;
	}
	/* READONLY: SQLite itself refuses every write on this connection,
	 * query_only says so twice; nothing here migrates or checkpoints */
	if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", s->path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 2000);
	char e[512];
	if (store__exec(s->db, "PRAGMA query_only=1", e, sizeof e) != 0 ||
	    pragma_int(s->db, "PRAGMA user_version", &s->schema) != 0) {
		snprintf(err, errlen, "%s is not a usable SQLite database (%s)", s->path,
		         sqlite3_errmsg(s->db));
		goto fail;
	}
	if (s->schema > store_schema_latest()) {
		snprintf(err, errlen,
		         "%s has schema version %d, written by a newer mamori (this one knows "
		         "up to %d)",
		         s->path, s->schema, store_schema_latest());
		goto fail;
	}
	if (s->schema < 1) {
		snprintf(err, errlen, "%s is not a mamori database (no schema version)", s->path);
		goto fail;
	}
	return s;
fail:
	free_all(s, 0);
	return NULL;
}

/* Rows of node '' were written before schema 4 (or by a store that never
 * had a node): the one daemon that used the file then.  A node without
 * rows of its own takes them over, so an upgrade loses no unsent message;
 * a node that has rows already leaves them (another node's past). */
static void adopt_outbox(struct store *s)
{
	sqlite3_stmt *st;
	const char *q = "UPDATE outbox SET node = ?1 WHERE node = ''"
	                " AND NOT EXISTS (SELECT 1 FROM outbox WHERE node = ?1)";
	if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK) {
		log_err("store", "%s: %s", s->path, sqlite3_errmsg(s->db));
		return;
	}
	store__bind_text(st, 1, s->node);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_err("store", "%s: cannot take over the outbox rows of no node: %s", s->path,
		        sqlite3_errmsg(s->db));
	else if (sqlite3_changes(s->db) > 0)
		log_notice("store",
		           "node %s takes over %d unsent outbox rows written without a node",
		           s->node, sqlite3_changes(s->db));
	sqlite3_finalize(st);
}

void store_set_node(struct store *s, const char *node)
{
	if (s->started) {
		/* the writer reads it without a lock */
		log_err("store", "store_set_node after store_start: ignored");
		return;
	}
	free(s->node);
	s->node = xstrdup(node ? node : "");
	if (*s->node && !s->readonly)
		adopt_outbox(s);
}

int store_start(struct store *s, struct ev_loop *loop, void (*done)(void *ud), void *ud)
{
	if (s->started)
		return -1;
	if (!s->readonly) {
		if (store__writer_start(s->w, loop, done, ud) != 0)
			return -1;
		s->started = 1;
		store__ckpt_start(s->ck); /* on failure, checkpoints stay inline */
	}
	s->started = 1;
	if (!loop)
		return 0; /* no loop to bring results to: no reads */
	char err[512];
	if (store__reader_start(s->r, loop, err, sizeof err) != 0) {
		log_err("store", "%s", err);
		return -1;
	}
	return 0;
}

void store_set_checkpoint(struct store *s, int pages, int64_t max_wal_bytes)
{
	if (s->ck)
		store__ckpt_tune(s->ck, pages, max_wal_bytes);
}

void store_get_checkpoint_stats(const struct store *s, struct store_checkpoint_stats *out)
{
	store__ckpt_stats(s->ck, out);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/* The reader first (every pending read is delivered, and no
	 * snapshot holds back the last checkpoint), the writer (it finishes
	 * what it was handed), then the checkpointer and its connection,
	 * the tables' statements, the final checkpoint. */
	store__reader_stop(s->r);
	store__writer_stop(s->w);
	free_all(s, 1);
}
