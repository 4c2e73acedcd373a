/*
 * server internals shared by the files in src/server.  Not for other modules.
 */
#ifndef MAMORI_SERVER_INT_H
#define MAMORI_SERVER_INT_H

#ifndef MAMORI_SERVER_INTERNAL
#error "server_int.h is internal to src/server"
#endif

#include "config/config.h"
#include "wheel/wheel.h"
#include "server/server.h"
#include "state/state.h"
#include "util/hmap.h"
#include "plugin/host.h"

#include <ev.h>
#include <mamori/plugin.h>

struct loader;
struct mqtt;
struct plugin_mod;
struct proc_ctx;
struct store;
struct store_batch;
struct alerts;
struct alerts_conf;

/* One plugin instance (one `plugins` block, or the default one). */
struct pinst {
	struct plugin_mod *mod;
	void *inst;
	char *name;
	char *broken; /* refused plugin: why its checks are UNKNOWN */
	uint64_t hash;
	int max_concurrent; /* 0 = unlimited */
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
	CK_WAITING = 0x02,   /* in its pinst's wait queue */
	CK_DOWNCOUNT = 0x04, /* counted in asset->crit_checks */
	CK_ACK = 0x08,       /* problem acknowledged (sticky until OK) */
	CK_TEMPLATE = 0x10,  /* made from an agent template */
};

struct mamori_run {
	struct check *chk;
	void *state;
	uint32_t gen;
	uint8_t active;
	struct mamori_run *next_free;
};

struct check {
	struct wheel_node node; /* schedule, run timeout or freshness */
	struct asset *asset;
	const char *name; /* interned */
	struct pinst *pi;
	void *data;             /* plugin's check_data */
	struct mamori_run *run; /* in flight, or NULL */
	struct check *wnext;    /* wait queue */
	struct check *anext;    /* asset's list */
	char *out;              /* "output\0perfdata\0long_output\0" */
	uint32_t out_len;
	uint32_t dirty; /* 1 + index in s->dirty, 0 = clean */
	struct check_state st;
	struct check_params p;
	uint64_t hash;
	uint64_t perf_hash; /* of the last parsed perfdata: format only when it changes */
	double ack_expires;
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
	struct cfg_downtime *downtimes; /* owned copy (moved from mconf) */
	size_t n_downtimes;
	struct cfg_calendar *calendars; /* moved from mconf: checks point at them */
	size_t n_calendars;
};

#define LAG_BUCKETS 64

struct server {
	struct ev_loop *loop;
	struct server_opts opts;
	char *config_path;
	struct mconf *conf;     /* current (tree dropped after load) */
	struct mconf *building; /* config being applied (calendars live there until commit) */
	struct loader *loader;
	struct proc_ctx *procs;
	struct store *store;
	struct mqtt *mqtt;     /* NULL without an `mqtt` config group */
	struct alerts *alerts; /* alert pipeline glue (alerts.c) */
	struct host_ops ops;   /* what the host API calls back into */
	struct model m;
	struct hmap names; /* interned check names */
	struct wheel wheel;
	double t0; /* wall time of wheel tick 0 */
	ev_timer wheel_timer;
	ev_timer flush_timer;
	ev_idle drain_idle; /* starts checks waiting behind limits */
	struct check **dirty;
	size_t n_dirty, cap_dirty;
	struct asset **new_assets; /* registered since the last flush: written with it */
	size_t n_new_assets, cap_new_assets;
	double trim_at; /* give freed memory back after a registration burst */
	struct mamori_run *free_runs;
	uint32_t run_gen;
	struct server_stats stats;
	uint32_t lag_hist[LAG_BUCKETS];
	uint64_t lag_count;
	server_state_hook hook;
	void *hook_ud;
	struct hmap restored; /* key -> struct store_state_row copy (startup only) */
	int stopping;
	int in_wheel; /* inside wheel_advance: it rearms afterwards */
	struct mamori_check_info info_scratch;
};

/* model.c */
int model_build(struct server *s, struct mconf *c, struct model *out, const struct model *old);
void model_commit(struct server *s, struct model *next, struct model *old);
void model_discard(struct server *s, struct model *m, const struct model *old);
void model_free(struct server *s, struct model *m);
struct check *model_check_new(struct server *s, struct asset *a, const char *name, size_t name_len);
int model_register_asset(struct server *s, struct customer *cu, const struct agent_tpl *tpl,
                         const char *name, const char *type, const char *address, double when,
                         int persist);
const char *server__intern(struct server *s, const char *name);

/* bus.c */
int bus_open(struct server *s, const config_setting_t *group);
int bus_start(struct server *s);
void bus_close(struct server *s);
void bus_fill_ops(struct host_ops *ops);
void bus_publish_state(struct server *s, const struct check *c);
void bus_time_rfc3339(double t, char *buf, size_t size);

/* alerts.c */
int alerts_new(struct server *s);
int alerts_start(struct server *s);
void alerts_stop(struct server *s);
void alerts_free(struct server *s);
struct alerts_conf *alerts_conf_parse(struct server *s, struct mconf *c);
void alerts_conf_install(struct server *s, struct alerts_conf *ac);
void alerts_conf_free(struct alerts_conf *ac);
void alerts_on_state(struct server *s, struct check *c, const struct state_event *ev,
                     const struct state_context *ctx, double now);
int alerts_pending(const struct server *s);
struct store_batch *alerts_take_batch(struct server *s);
void alerts_batch_sent(struct server *s, uint64_t number);
void alerts_on_commit(void *ud);

/* run.c */
int server__in_downtime(const struct server *s, const struct check *c, double now);
void sched_check_at(struct server *s, struct check *c, double when);
void sched_first(struct server *s, struct check *c);
void sched_rearm(struct server *s);
void run_cancel(struct server *s, struct check *c, const char *why);
void run_finish_now(struct server *s, struct check *c, int state, const char *output);
void check_apply_result(struct server *s, struct check *c, const struct mamori_result *r,
                        double now);
void check_mark_dirty(struct server *s, struct check *c);
void check_clean(struct server *s, struct check *c);
void server__on_wheel(struct ev_loop *loop, ev_timer *w, int revents);
void server__on_flush(struct ev_loop *loop, ev_timer *w, int revents);
void server__on_drain(struct ev_loop *loop, ev_idle *w, int revents);
void server__flush(struct server *s);
uint64_t server__tick(const struct server *s, double t);
double server__time(const struct server *s, uint64_t tick);
extern const struct host_ops server__host_ops;

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
