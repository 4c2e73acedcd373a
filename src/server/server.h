/*
 * server: the top-level object of mamorid - it creates the modules, wires
 * them and runs their lifecycle (new, start, reload, stop, free):
 *
 *   engine (wheel -> plugin runs -> state engine) -> EVENT_STATE -> events
 *   hub -> alerting, bus (MQTT state), tests; every durable change -> the
 *   journal's pending batch -> store writer (group commit) -> outbox
 *   publishing and command completion.  Front ends reach it through the
 *   service layer (server_app: src/app).
 *
 * Public API for main.c, tests and benchmarks.
 */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct server;
struct notify;

struct server_opts {
	const char *config_path;
	const char *config_text; /* instead of a file (tests, benchmarks) */
	const char *plugin_dir;  /* override daemon.plugin_dir */
	const char *data_dir;    /* override daemon.data_dir */
	const char *state_dir;   /* override daemon.state_dir */
	int no_store;            /* benchmarks: keep state in memory only */
	int no_spread;           /* first runs at once instead of spread */
};

/* Create and load the configuration (errors are logged with file:line).
 * Returns NULL if the config is invalid or the store cannot be opened. */
struct server *server_new(struct ev_loop *loop, const struct server_opts *opts);
/* Start scheduling (and the store writer). */
int server_start(struct server *s);
/* Reload from the same path: 0 committed; -1 refused (the running config
 * is kept and the reasons are logged); 1 pending: isolated plugins'
 * answers are awaited on the loop, and the commit or refusal follows from
 * the loop (logged).  A reload asked for while one is pending is queued:
 * any number of them make one more reload after the pending one (1). */
int server_reload(struct server *s);
/* Like reload, from text (tests). */
int server_reload_text(struct server *s, const char *text);
/* 1 while a reload waits for isolated plugins' answers. */
int server_reload_pending(const struct server *s);
/* Reloads committed and refused since the start (tests). */
void server_reload_counts(const struct server *s, unsigned *committed, unsigned *refused);
/* Stop: cancel in-flight runs, flush state, stop watchers. */
void server_stop(struct server *s);
void server_free(struct server *s);
/* --check-config: validate only.  0 = valid. */
int server_check_config(const struct server_opts *opts);
/* Started as root: become daemon.user (default "mamori") after preparing
 * the state directory, or stay root only with daemon.allow_root = true
 * (src/server/privs.c).  Not root: nothing.  0, or -1 with the reason in
 * err (the start is refused). */
int server_drop_privileges(const char *config_path, char *err, size_t errlen);

void server_get_stats(const struct server *s, struct engine_stats *out);
/* Find a check's state (tests): returns 0 and fills; -1 if unknown. */
struct server_check_view {
	int state, hard, attempt, hard_state, flapping, stale, running, acknowledged;
	double last_check, next_due;
	const char *output, *perfdata, *long_output;
};
int server_check_view(const struct server *s, const char *customer, const char *asset,
                      const char *check, struct server_check_view *out);
/* Record every check's state and the perfdata history held in memory
 * now (with wait, synchronously; tests and shutdown). */
void server_flush(struct server *s, int wait);
/* Scheduling lag histogram (benchmarks): fills p50/p99 in seconds. */
void server_lag_percentiles(const struct server *s, double *p50, double *p99, double *max);
void server_lag_reset(struct server *s);
/* Hook called for every result that changed something (state_event flags
 * != 0): tests (an EVENT_STATE subscriber).  `suppressed` is an enum
 * state_suppress (downtime, ack, unreachable, flapping). */
struct state_event;
typedef void (*server_state_hook)(void *ud, const char *customer, const char *asset,
                                  const char *check, const struct state_event *ev, int suppressed);
void server_set_state_hook(struct server *s, server_state_hook hook, void *ud);

/* Shortcuts to the service layer with an admin scope (tests, bench):
 * acknowledge / unacknowledge the problem of a check (its unresolved
 * alert; -1 if it has none), add a downtime (-1 if invalid), submit a
 * passive result (-1 if the check is unknown). */
int server_ack(struct server *s, const char *customer, const char *asset, const char *check,
               const char *author, const char *comment);
int server_unack(struct server *s, const char *customer, const char *asset, const char *check);
int server_add_downtime(struct server *s, const char *customer, const char *asset,
                        const char *check, double start, double end, const char *author,
                        const char *comment);
int server_submit(struct server *s, const char *customer, const char *asset, const char *check,
                  int state, const char *output);
/* The service layer and the event hub (front ends, tests). */
struct app *server_app(struct server *s);
/* The perfdata history's counters (zeros without a store). */
struct series_stats;
void server_series_stats(const struct server *s, struct series_stats *out);
struct events *server_events(struct server *s);
/* The notifications (notify_mail: documents such as monthly reports). */
struct notify *server_notify(struct server *s);
/* The wall-clock time the scheduler uses (ev_now). */
double server_now(const struct server *s);

#endif
