/*
 * engine internals shared by engine.c (scheduling, runs, results) and
 * hostops.c (the plugin host's check ops).  Not for other modules.
 */
#ifndef MAMORI_ENGINE_INT_H
#define MAMORI_ENGINE_INT_H

#include "engine/engine.h"
#include "registry/registry.h"
#include "util/clockstep.h"
#include "wheel/wheel.h"

#include "util/hmap.h"

#include <ev.h>
#include <mamori/plugin.h>

#define LAG_BUCKETS ENGINE_LAG_BUCKETS
/* on_wheel's share of the loop: checks started per slice, and the time
 * after which it yields to I/O (seconds) when more are due. */
#ifndef ENGINE_WHEEL_SLICE /* (overridable for experiments) */
#define ENGINE_WHEEL_SLICE 256
#endif
#ifndef ENGINE_WHEEL_BUDGET
#define ENGINE_WHEEL_BUDGET 0.002
#endif

struct mamori_run {
	struct check *chk;
	void *state;
	uint32_t gen;
	uint8_t active;
	double started; /* ev_now at the start (durations) */
	struct mamori_run *next_free;
};

struct engine {
	struct ev_loop *loop;
	struct registry *reg;
	struct journal *journal;
	struct events *events;
	struct engine_opts opts;
	char node[128]; /* for the state JSON */
	struct wheel wheel;
	double t0;              /* wall time of wheel tick 0; moved by a clock step */
	struct clockstep clock; /* the wheel counts elapsed time, not wall time */
	ev_timer wheel_timer;
	ev_idle drain_idle; /* starts checks waiting behind limits */
	struct check **dirty;
	size_t n_dirty, cap_dirty;
	struct mamori_run *free_runs;
	uint32_t run_gen;
	struct engine_stats stats;
	struct hmap plugin_stats; /* plugin name -> struct engine_plugin_stats (own copies) */
	uint32_t lag_hist[LAG_BUCKETS];
	uint64_t lag_count;
	int stopping;
	int in_wheel; /* inside wheel_advance: it rearms afterwards */
	struct mamori_check_info info_scratch;
	engine_perf_fn perf_fn; /* the perfdata history, or NULL */
	void *perf_ud;
	/* Checks of the model per current state, [4]: no result yet; kept as
	 * results are applied (engine__count_move), rebuilt on every commit. */
	uint64_t by_state[ENGINE_COUNT_SLOTS];
};

/* The slot of c in by_state: its state, or ENGINE_PENDING without a result. */
static inline unsigned engine__slot(const struct check *c)
{
	return c->st.has_result ? (unsigned)(c->st.state & 3) : ENGINE_PENDING;
}

/* output.c: store a result's texts in c; 1 if they changed.  *perf_same:
 * the perfdata equals the previous result's. */
int engine__store_text(struct check *c, const struct mamori_result *r, int *perf_same);

/* engine.c */
void engine__sched_at(struct engine *e, struct check *c, double when);
void engine__sched_next(struct engine *e, struct check *c, double now);
void engine__run_end(struct engine *e, struct check *c);
struct engine_plugin_stats *engine__plugin_stats(struct engine *e, const struct check *c);
void engine__apply_result(struct engine *e, struct check *c, const struct mamori_result *r,
                          double now);
uint64_t engine__tick(const struct engine *e, double t);
double engine__time(const struct engine *e, uint64_t tick);

#endif
