/*
 * server: the top-level object of mamorid.  Owns the loop's watchers, the
 * plugin loader and instances, the runtime model (customers, assets,
 * checks), the scheduler wheel, the spawner and the store, and wires them:
 *
 *   wheel -> plugin check_start -> run_complete -> state engine -> dirty
 *   list -> store batch (group commit) ; passive results and freshness the
 *   same way from check_submit.
 *
 * Public API for main.c, tests and benchmarks.
 */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct server;

struct server_opts {
	const char *config_path;
	const char *config_text; /* instead of a file (tests, benchmarks) */
	const char *plugin_dir;  /* override daemon.plugin_dir */
	const char *data_dir;    /* override daemon.data_dir */
	const char *state_dir;   /* override daemon.state_dir */
	int no_store;            /* benchmarks: keep state in memory only */
	int no_spread;           /* first runs at once instead of spread */
};

struct server_stats {
	uint64_t checks; /* configured */
	uint64_t runs_started;
	uint64_t runs_completed;
	uint64_t runs_timed_out;
	uint64_t runs_cancelled;
	uint64_t passive_results;
	uint64_t stale_events;
	uint64_t late_completions; /* plugin bugs: completion after cancel/complete */
	uint64_t state_changes;
	uint64_t hard_changes;
	uint64_t rows_flushed;
	uint64_t waiting; /* checks queued behind a concurrency limit */
	double lag_max;   /* worst scheduling lag seen (s) */
};

/* Create and load the configuration (errors are logged with file:line).
 * Returns NULL if the config is invalid or the store cannot be opened. */
struct server *server_new(struct ev_loop *loop, const struct server_opts *opts);
/* Start scheduling (and the store writer). */
int server_start(struct server *s);
/* Reload from the same path: 0 on success; on error the running config
 * is kept and the reasons are logged. */
int server_reload(struct server *s);
/* Like reload, from text (tests). */
int server_reload_text(struct server *s, const char *text);
/* Stop: cancel in-flight runs, flush state, stop watchers. */
void server_stop(struct server *s);
void server_free(struct server *s);
/* --check-config: validate only.  0 = valid. */
int server_check_config(const struct server_opts *opts);

void server_get_stats(const struct server *s, struct server_stats *out);
/* Find a check's state (tests): returns 0 and fills; -1 if unknown. */
struct server_check_view {
	int state, hard, attempt, hard_state, flapping, stale, running;
	double last_check, next_due;
	const char *output, *perfdata, *long_output;
};
int server_check_view(const struct server *s, const char *customer, const char *asset,
                      const char *check, struct server_check_view *out);
/* Record every check's state now (synchronously; tests and shutdown). */
void server_flush(struct server *s, int wait);
/* Scheduling lag histogram (benchmarks): fills p50/p99 in seconds. */
void server_lag_percentiles(const struct server *s, double *p50, double *p99, double *max);
void server_lag_reset(struct server *s);
/* Hook called for every result that changed something (state_event flags
 * != 0): tests, and the alert module.  `suppressed` is an enum
 * state_suppress (downtime, ack, unreachable, flapping). */
struct state_event;
typedef void (*server_state_hook)(void *ud, const char *customer, const char *asset,
                                  const char *check, const struct state_event *ev, int suppressed);
void server_set_state_hook(struct server *s, server_state_hook hook, void *ud);

/* Acknowledge a check's problem: sticky until the check is OK again, or
 * until `expires` (0 = never).  -1 if the check is unknown or OK. */
int server_ack(struct server *s, const char *customer, const char *asset, const char *check,
               const char *author, const char *comment, double expires);
int server_unack(struct server *s, const char *customer, const char *asset, const char *check);
/* Scheduled downtime at run time (asset/check NULL = the whole customer /
 * asset).  Returns 0, or -1 if the customer is unknown. */
int server_add_downtime(struct server *s, const char *customer, const char *asset,
                        const char *check, double start, double end, const char *author,
                        const char *comment);
/* Submit a passive result through the core (API, tests). */
int server_submit(struct server *s, const char *customer, const char *asset, const char *check,
                  int state, const char *output);
/* The wall-clock time the scheduler uses (ev_now). */
double server_now(const struct server *s);

#endif
