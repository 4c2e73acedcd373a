/*
 * registry: the runtime model - plugin instances, customers, assets,
 * checks, agent templates - built from a validated config, the two-phase
 * reload that swaps it, agents' asset registration, and the downtimes
 * (from the file and added at run time, with ids; runtime ones persisted).
 *
 * The registry owns these objects; nobody else frees them.  A struct
 * check carries slots that the engine uses (its wheel node, its run, its
 * wait-queue and dirty-list links): the registry never reads or writes
 * them.  When a check leaves the model (a reload drops or replaces it,
 * shutdown) or joins it (a reload, an agent's registration) the registry
 * tells its owner through struct registry_hooks, and the engine
 * (re)schedules: the registry does not schedule.
 *
 * A reload frees every replaced customer, asset and check: no module may
 * keep a pointer to them across a return to the loop except the engine
 * through the hooks.  Queries for the outside (src/app) copy what they
 * need.
 *
 * Must never: block (an isolated plugin's answers are awaited on the loop,
 * see model_build; only the startup waits for them), start or cancel a
 * run, touch the wheel.  Depends on config, plugin (prepare/release of
 * plugin data), store (startup loads), journal (rows), events (downtime
 * events), state (check_state).
 */
#ifndef MAMORI_REGISTRY_H
#define MAMORI_REGISTRY_H

#include "config/config.h"
#include "state/state.h"
#include "util/hmap.h"
#include "wheel/wheel.h"

#include <ev.h>
#include <mamori/plugin.h>
#include <stdint.h>
#include <string.h>

struct events;
struct journal;
struct loader;
struct plugin_mod;
struct store;
struct store_batch;

/* One plugin instance (one `plugins` block, or the default one). */
struct pinst {
	struct plugin_mod *mod;
	void *inst;
	char *name;
	char *broken; /* refused plugin: why its checks are UNKNOWN */
	uint64_t hash;
	int max_concurrent; /* 0 = unlimited */
	/* the engine's: runs in flight and the checks waiting for a slot */
	unsigned running;
	struct check *wait_head, *wait_tail;
	int used; /* reload bookkeeping */
};

struct agent_tpl {
	char *plugin;
	struct pinst *pi;
	int auto_register;
	char *asset_type;
	struct check_params p;
	uint64_t hash;
	const config_setting_t *s; /* only while a config tree is live */
	/* Prepared once per template and shared by every asset's check of
	 * it (100,000 PCs, one set of thresholds). */
	void *data;
	struct check *pseudo; /* the check handed to check_prepare (asset "*") */
	struct asset *pseudo_asset;
	uint8_t borrowed; /* data belongs to another model's template */
	uint8_t prepared;
};

struct customer {
	char *id, *name, *region;
	char **tags;
	size_t n_tags;
	struct agent_tpl *agents;
	size_t n_agents;
	struct hmap assets; /* name -> struct asset */
	/* its monthly report (config's cfg_report): recipients, language,
	 * calendar (names; NULL: the defaults) and the contract's calendar */
	int report_set;
	char **report_email;
	size_t n_report_email;
	char *report_lang, *report_calendar, *sla_calendar;
};

struct asset {
	struct customer *cust;
	char *name, *type, *address, *parent_name;
	struct asset *parent;
	struct check *checks; /* list through check->anext */
	uint32_t crit_checks; /* checks in hard CRITICAL: the asset counts as down */
	uint8_t registered;   /* auto-registered by an agent (persisted) */
	double registered_at;
};

enum {
	CK_PASSIVE = 0x01,
	CK_WAITING = 0x02,   /* in its pinst's wait queue (engine) */
	CK_DOWNCOUNT = 0x04, /* counted in asset->crit_checks */
	CK_ACK = 0x08,       /* its problem's alert is acknowledged (mirrors the alert) */
	CK_TEMPLATE = 0x10,  /* made from an agent template */
};

struct mamori_run;

struct check {
	struct wheel_node node; /* engine: schedule, run timeout or freshness */
	struct asset *asset;
	const char *name; /* interned */
	struct pinst *pi;
	void *data;             /* plugin's check_data */
	struct mamori_run *run; /* engine: in flight, or NULL */
	struct check *wnext;    /* engine: wait queue */
	struct check *anext;    /* asset's list */
	char *out;              /* "output\0perfdata\0long_output\0" */
	uint32_t out_len;
	uint32_t dirty; /* engine: 1 + index in its dirty list, 0 = clean */
	struct check_state st;
	struct check_params p;
	uint64_t hash;
	uint64_t perf_hash; /* of the last parsed perfdata: format only when it changes */
	void *hist;         /* the perfdata history's state of this check (opaque; see
	                     * engine_on_perfdata): a pointer from us to it, never back */
	double run_started;
	uint8_t flags;
	char key[]; /* "customer/asset/check" */
};

struct model {
	struct customer **custs;
	size_t n_custs;
	struct hmap cust_by_id;
	struct hmap checks; /* key -> struct check */
	struct pinst **pinsts;
	size_t n_pinsts;
	struct cfg_downtime *downtimes; /* owned: the file's, then runtime ones */
	size_t n_downtimes;
	struct cfg_calendar *calendars; /* moved from mconf: checks point at them */
	size_t n_calendars;
};

struct registry_hooks {
	void *ud;
	/* `old` leaves the model (reload, shutdown): stop its run, hand its
	 * schedule to `successor` (the check that replaces it, or NULL) and
	 * forget it.  Called before old is freed. */
	void (*retire)(void *ud, struct check *old, struct check *successor);
	/* A commit is done: every check of m is in place and linked. */
	void (*committed)(void *ud, struct model *m);
	/* An agent's registration added c. */
	void (*added)(void *ud, struct check *c);
};

struct registry {
	struct ev_loop *loop;
	struct loader *loader;
	struct store *store; /* startup reads; NULL: nothing persisted */
	struct journal *journal;
	struct events *events;
	struct registry_hooks hooks;
	struct model m;
	struct hmap names;         /* interned check names */
	struct mconf *building;    /* config being applied (its calendars until commit) */
	struct asset **new_assets; /* registered since the last cut: written with it */
	size_t n_new_assets, cap_new_assets;
	const char *node;
	uint64_t dt_counter;
	ev_timer trim_timer; /* give memory back after a registration burst */
};

void registry_init(struct registry *r, struct ev_loop *loop, struct loader *loader,
                   const struct registry_hooks *hooks);
/* Persistence: new assets and runtime downtimes go through the journal. */
void registry_attach(struct registry *r, struct store *store, struct journal *journal,
                     struct events *events, const char *node);
void registry_fini(struct registry *r);

const char *registry_intern(struct registry *r, const char *name);
/* A model being built (startup, reload).  Two steps, because isolated
 * plugins answer init and check_prepare from their host processes and
 * the loop must not stop for them:
 *
 *   model_build          everything new, without touching the running
 *                        model; in-process plugins answer at once, the
 *                        requests to isolated ones are only sent.
 *                        -1: refused now (errors logged, b is empty).
 *   model_build_wait     (reload) done(ud) from the loop once every answer
 *                        is in or the deadline (10 s) passed; the running
 *                        model goes on meanwhile.
 *   model_build_wait_here  (startup) the same, blocking.
 *   model_build_finish   the hosts' errors logged with file:line; -1:
 *                        refused (b discarded), 0: b->m is ready for
 *                        model_commit (assets that agents registered in
 *                        the running model meanwhile are in it).
 *   model_build_abort    throw a build away at any point (shutdown).
 *
 * The config tree of the build must live until finish or abort. */
struct proxy_wait;
struct model_build {
	struct model m;
	struct proxy_wait *wait; /* the isolated plugins' answers */
	int errors;              /* config errors so far (conf_error counts here) */
};
int model_build(struct registry *r, struct mconf *c, struct model_build *b,
                const struct model *old);
size_t model_build_waiting(const struct model_build *b);
void model_build_wait(struct model_build *b, void (*done)(void *ud), void *ud);
void model_build_wait_here(struct model_build *b);
int model_build_finish(struct registry *r, struct model_build *b, const struct model *old);
void model_build_abort(struct registry *r, struct model_build *b, const struct model *old);
void model_commit(struct registry *r, struct model *next, struct model *old);
void model_discard(struct registry *r, struct model *m, const struct model *old);
void model_free(struct registry *r, struct model *m);
struct check *model_check_new(struct registry *r, struct asset *a, const char *name,
                              size_t name_len);
int model_register_asset(struct registry *r, struct customer *cu, const struct agent_tpl *tpl,
                         const char *name, const char *type, const char *address, double when,
                         int persist);
/* Take the file's downtimes and calendars from c (startup, reload: the
 * runtime downtimes still running stay). */
void registry_take_globals(struct registry *r, struct model *next, struct mconf *c, double now);
void registry_free_globals(struct model *m);

struct customer *registry_customer(const struct registry *r, const char *id);
struct check *registry_check(const struct registry *r, const char *customer, const char *asset,
                             const char *check);
struct check *registry_check_key(const struct registry *r, const char *key, size_t len);

/* ---- downtimes (registry_downtime.c) ---- */
int registry_in_downtime(const struct registry *r, const struct check *c, double now);
/* A downtime at run time: validates (the customer, asset and check
 * exist; end after start), assigns an id ("D-<node>-<n>"), persists it
 * (journal) and returns 0 with the id in id_out; else a negative
 * MAMORI_E_* with a reason in why. */
int registry_downtime_add(struct registry *r, const char *customer, const char *asset,
                          const char *check, double start, double end, const char *author,
                          const char *comment, double now, char *id_out, size_t id_size,
                          const char **why);
/* Remove a runtime downtime by id: 0, MAMORI_E_NOTFOUND, or
 * MAMORI_E_DENIED for one from the file (edit the file). */
int registry_downtime_delete(struct registry *r, const char *id, double now);
/* Runtime downtimes persisted by an earlier run (startup). */
void registry_restore_downtimes(struct registry *r, double now);

static inline const char *check_output(const struct check *c)
{
	return c->out ? c->out : "";
}
static inline const char *check_perf(const struct check *c)
{
	return c->out ? c->out + strlen(c->out) + 1 : "";
}
static inline const char *check_long(const struct check *c)
{
	if (!c->out)
		return "";
	const char *p = check_perf(c);
	return p + strlen(p) + 1;
}

#endif
