/*
 * journal: the unit of work.  One pending store batch for the whole
 * daemon; whoever changes something durable appends its rows to it
 * (journal_batch), or registers a source that fills rows when the batch
 * is cut (the engine's dirty check states, the registry's new assets).
 * The journal alone decides when to cut: on its flush timer (group
 * commit: at most one batch with the writer at a time, changes coalesce
 * meanwhile), or at the end of the loop iteration once someone asked for
 * it (journal_urgent: a message waits to be published, an answer waits).
 *
 * "Durable" is reported two ways: listeners learn the number of each cut
 * batch and, after every commit, the number of the last batch written
 * (the outbox uses both); a ticket calls its function once everything
 * appended before it is on disk (a command's completion).  Without a
 * store (benchmarks) nothing is written and tickets complete at the next
 * cut.
 *
 * Must never: block on the disk (store_commit hands the batch to the
 * writer thread), read the objects of its sources (they fill rows).
 * Depends on store only.
 */
#ifndef MAMORI_JOURNAL_H
#define MAMORI_JOURNAL_H

#include <stdint.h>

struct ev_loop;
struct store;
struct store_batch;
struct journal;

typedef void (*journal_fill_fn)(void *ud, struct store_batch *b);
typedef void (*journal_cut_fn)(void *ud, uint64_t number);
typedef void (*journal_done_fn)(void *ud, uint64_t committed);
typedef void (*journal_ticket_fn)(void *ud);

/* store may be NULL (nothing is persisted). */
struct journal *journal_new(struct ev_loop *loop, struct store *store, double flush_interval);
void journal_free(struct journal *j);
/* Start the flush timer and the end-of-iteration cut; the store's `done`
 * must call journal_on_commit. */
void journal_start(struct journal *j);
void journal_stop(struct journal *j);
void journal_set_interval(struct journal *j, double flush_interval);

/* The pending batch (created on demand); NULL without a store. */
struct store_batch *journal_batch(struct journal *j);
int journal_durable(const struct journal *j); /* 1 with a store */
/* Sources fill the batch at each cut, in registration order, before it
 * goes; `pending` says whether the source has rows waiting. */
void journal_add_source(struct journal *j, journal_fill_fn fill, int (*pending)(void *ud),
                        void *ud);
void journal_on_cut(struct journal *j, journal_cut_fn fn, void *ud);
void journal_on_done(struct journal *j, journal_done_fn fn, void *ud);
/* Cut at the end of this loop iteration (when the writer is idle; else
 * as soon as it is). */
void journal_urgent(struct journal *j);
/* Call fn(ud) once everything appended so far is written. */
void journal_ticket(struct journal *j, journal_ticket_fn fn, void *ud);

/* Cut now (if anything is pending) and, with wait, block until it is
 * written (shutdown, tests); listeners and tickets are not called here. */
void journal_flush(struct journal *j, int wait);
/* For the store's done callback (loop thread). */
void journal_on_commit(void *ud);
uint64_t journal_committed(const struct journal *j);
uint64_t journal_rows(const struct journal *j); /* rows handed to the writer so far */

#endif
