/*
 * engine: scheduling and running checks, and results into the state
 * engine.
 *
 *   wheel -> plugin check_start -> run_complete -> state_apply ->
 *   EVENT_STATE (events hub) ; passive results and freshness the same way
 *   from check_submit.  Changed checks go on a dirty list that the journal
 *   drains into each batch it cuts (group commit).
 *
 * The engine implements the plugin host's check ops (hostops.c) and the
 * registry's hooks (a check joins or leaves the model).  It does not know
 * who listens to its events: alerting, the MQTT state publisher, tests.
 *
 * Must never: block, scan all checks on a hot path, or let a plugin's
 * late completion touch a run it no longer owns.  Depends on registry,
 * state, plugin (host ops), journal, events, wheel, perfdata, cal.
 */
#ifndef MAMORI_ENGINE_H
#define MAMORI_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct engine;
struct events;
struct host_ops;
struct journal;
struct registry;
struct registry_hooks;
struct check;
struct mamori_result;

struct engine_stats {
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
	double lag_sum;   /* of every lag recorded (s) */
};

struct engine_opts {
	int no_store;     /* keep no dirty list (nothing persisted) */
	int no_spread;    /* first runs at once instead of spread */
	const char *node; /* node name in the state JSON (copied) */
};

struct engine *engine_new(struct ev_loop *loop, struct registry *reg, struct journal *journal,
                          struct events *events, const struct engine_opts *opts);
void engine_free(struct engine *e);
/* Persistence and the node name, once the configuration is loaded (the
 * engine exists before: plugins may call the host while loading). */
void engine_attach(struct engine *e, struct journal *journal, const char *node);
/* What the registry calls back (fill a struct registry_hooks). */
void engine_registry_hooks(struct engine *e, struct registry_hooks *h);
/* The plugin host's check ops (ctx = the engine). */
extern const struct host_ops engine_host_ops;
/* Arm the wheel timer (after start and reload). */
void engine_rearm(struct engine *e);
/* Shutdown: cancel in-flight runs (each runs first thing at the next
 * start) and mark every check dirty so the last flush saves it. */
void engine_stop(struct engine *e);

/* Every result that carries perfdata (parsed items or text), as it is
 * applied, before the state subscribers hear of it: the perfdata history
 * (src/series, wired by the server).  It runs for every such result, so
 * it must be cheap and must not keep c; c->hist is a slot it may use for
 * its own per-check state.  same: the perfdata equals the previous
 * result's of c (the text, or the hash of the parsed items the engine
 * computes anyway).  One function; NULL turns it off. */
typedef void (*engine_perf_fn)(void *ud, struct check *c, const struct mamori_result *r, int same,
                               double now);
void engine_on_perfdata(struct engine *e, engine_perf_fn fn, void *ud);

/* A result from outside a plugin (service layer, tests). */
int engine_submit(struct engine *e, struct check *c, const struct mamori_result *r);
/* The check's acknowledgement mirrors its alert's (see doc/alerts.md):
 * set or clear it, persist it and tell the state subscribers. */
void engine_set_ack(struct engine *e, struct check *c, int on);
/* When c runs next (or its run times out, or its freshness expires);
 * 0 if nothing is scheduled. */
double engine_next_due(const struct engine *e, const struct check *c);
int engine_in_downtime(const struct engine *e, const struct check *c, double now);

void engine_get_stats(const struct engine *e, struct engine_stats *out);
/* Checks of the model per current state: out[0..3] OK, WARNING, CRITICAL,
 * UNKNOWN, out[ENGINE_PENDING] no result yet.  Kept up to date as results
 * are applied and rebuilt when the model is committed (start, reload), so
 * reading it costs nothing (a walk of 100,000 checks cost ~2 ms). */
#define ENGINE_PENDING     4
#define ENGINE_COUNT_SLOTS 5
void engine_check_counts(const struct engine *e, uint64_t out[ENGINE_COUNT_SLOTS]);
/* Per plugin (by name, kept across reloads): results by state (active and
 * passive), completed runs and their durations (histogram: below 2^b ms,
 * b = 0..ENGINE_DUR_BUCKETS-1). */
#define ENGINE_DUR_BUCKETS 18
struct engine_plugin_stats {
	uint64_t results[4];
	uint64_t runs;
	double dur_sum;
	uint32_t dur_buckets[ENGINE_DUR_BUCKETS];
};
void engine_plugin_stats(const struct engine *e,
                         void (*fn)(void *ud, const char *plugin,
                                    const struct engine_plugin_stats *st),
                         void *ud);
/* The plugins' own metrics (ABI 1.2, mamori_plugin.metrics) of every
 * check plugin instance: fn gets the plugin's name, the instance's and
 * each series, checked (valid during the call).  In-process instances
 * are asked now; isolated ones answer with what their host last sent. */
struct mamori_metric;
typedef void (*engine_series_fn)(void *ud, const char *plugin, const char *instance,
                                 const struct mamori_metric *x);
void engine_plugin_series(struct engine *e, engine_series_fn fn, void *ud);
/* Restarts of isolated plugin hosts since the start. */
unsigned long long engine_host_restarts(const struct engine *e);
void engine_lag_percentiles(const struct engine *e, double *p50, double *p99, double *max);
void engine_lag_reset(struct engine *e);
/* The scheduling-lag histogram: counts[b] holds lags below 2^b
 * microseconds (b = 0..ENGINE_LAG_BUCKETS-1); returns the total. */
#define ENGINE_LAG_BUCKETS 64
uint64_t engine_lag_histogram(const struct engine *e, uint32_t counts[ENGINE_LAG_BUCKETS]);

#endif
