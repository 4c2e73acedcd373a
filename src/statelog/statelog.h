/*
 * statelog: the history of check states - one durable row per change of
 * a check's hard state or staleness, and one for its first result, so
 * that what a check was at any moment of the last months can be told
 * (the monthly report counts availability from it: doc/report.md).
 *
 * It subscribes to EVENT_STATE and appends rows to the journal's pending
 * batch, so a change is written in the same transaction as the check
 * state it describes; a retention timer deletes rows older than the
 * retention in bounded steps on the writer thread.  It also records when
 * this daemon was running (monitor_run: its start, every minute, its
 * clean stop), so time without monitoring is not taken for a state.
 *
 * Must never: block, keep anything per check (the rows say it all), or
 * write a row for a result that changed nothing hard (a soft problem, a
 * repeated state, a new output of the same state).  Depends on events,
 * journal, store, state.
 */
#ifndef MAMORI_STATELOG_H
#define MAMORI_STATELOG_H

#include <stdint.h>

struct ev_loop;
struct events;
struct journal;
struct statelog;

/* retention_days: rows older than this are deleted (0: never).  node:
 * this daemon's name (its monitor_run rows: when it was monitoring). */
struct statelog *statelog_new(struct ev_loop *loop, struct events *events, struct journal *journal,
                              const char *node, double retention_days);
/* A clean stop: this run's row says so (before the last flush). */
void statelog_stop(struct statelog *l);
void statelog_set_retention(struct statelog *l, double retention_days);
void statelog_free(struct statelog *l);
/* Rows appended so far (tests, metrics). */
uint64_t statelog_rows(const struct statelog *l);

#endif
