/*
 * store internals shared by the files of src/store (store.c: database,
 * batches, writer thread; store_alerts.c: the alert tables; store_outbox.c:
 * outbox reads; store_ckpt.c: the checkpointer thread).  Not for
 * other modules.
 */
#ifndef MAMORI_STORE_INT_H
#define MAMORI_STORE_INT_H

#include "store/store.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct store_x;

/* store.c */
/* Memory that lives as long as the batch (8-byte aligned, never moves). */
void *store__balloc(struct store_batch *b, size_t n);
const char *store__bdup(struct store_batch *b, const char *s);
/* Append an alert-table operation made by store_alerts.c. */
void store__push_x(struct store_batch *b, void *xop);
sqlite3 *store__db(struct store *s);
/* Bind a string (NULL binds NULL) / a time (<= 0 binds NULL). */
void store__bind_text(sqlite3_stmt *st, int i, const char *s);
void store__bind_time(sqlite3_stmt *st, int i, double t);

/* store_ckpt.c: WAL checkpoints on their own thread and connection.
 * The writer brackets each batch with enter/leave (a RESTART holds it). */
struct store_ckpt;
struct store_ckpt *store__ckpt_new(sqlite3 *wdb, const char *path, char *err, size_t errlen);
void store__ckpt_enter(struct store_ckpt *c);
void store__ckpt_leave(struct store_ckpt *c);
void store__ckpt_tune(struct store_ckpt *c, int pages, int64_t max_bytes);
int store__ckpt_start(struct store_ckpt *c);
void store__ckpt_stop(struct store_ckpt *c);
void store__ckpt_stats(struct store_ckpt *c, struct store_stats *out);
void store__ckpt_free(struct store_ckpt *c);

/* store_alerts.c (writer thread for apply, startup for the rest) */
struct store_x *store__x_open(sqlite3 *db, char *err, size_t errlen);
void store__x_close(struct store_x *x);
int store__x_apply(struct store_x *x, sqlite3 *db, const void *xop);

/* The outbox in id order, a NULL payload resolved from its event; the
 * last column says the event is gone. */
#define STORE__OUTBOX_READ_SQL                                                                     \
	"SELECT o.id, o.topic, coalesce(o.payload, e.payload), o.qos, o.retain, o.created,"        \
	" o.alert_id, o.seq, o.payload IS NULL AND e.payload IS NULL"                              \
	" FROM outbox o LEFT JOIN alert_event e"                                                   \
	" ON o.payload IS NULL AND e.alert_id = o.alert_id AND e.seq = o.seq"                      \
	" WHERE o.id >= ? AND o.id <= ? ORDER BY o.id LIMIT ?"

/* store_outbox.c: run a read with sel (prepared from the SQL above) and
 * del ("DELETE FROM outbox WHERE id = ?") on the writer thread,
 * inside its transaction.  0 or -1. */
int store__outbox_read(struct store_outbox_read *rd, sqlite3_stmt *sel, sqlite3_stmt *del);

#endif
