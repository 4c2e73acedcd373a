/*
 * host: the core side of the plugin ABI - fills struct mamori_host.
 *
 * The ABI's host functions carry no context argument (timer_new(cb, ud),
 * now(), check_find(...)), so the host reaches the core through one
 * process-wide binding set by host_bind: one mamorid process is one core.
 * Everything check-related is delegated to `struct host_ops`, which the
 * server (or the plugtest harness) implements; timers, fd watchers,
 * processes, config getters and the perfdata helpers are implemented here
 * on libev and the perf/config modules.
 */
#ifndef MAMORI_HOST_H
#define MAMORI_HOST_H

#include <mamori/plugin.h>

struct ev_loop;
struct proc_ctx;

struct host_ops {
	void (*run_complete)(void *ctx, struct mamori_run *run, const struct mamori_result *res);
	struct mamori_check *(*run_check)(void *ctx, const struct mamori_run *run);
	const struct mamori_check_info *(*check_info)(void *ctx, const struct mamori_check *chk);
	int (*check_submit)(void *ctx, struct mamori_check *chk, const struct mamori_result *res);
	struct mamori_check *(*check_find)(void *ctx, const char *customer, const char *asset,
	                                   const char *check);
	int (*asset_register)(void *ctx, void *inst, const struct mamori_asset_spec *spec);
	int (*mqtt_subscribe)(void *ctx, void *inst, const char *filter, int qos, mamori_msg_cb cb,
	                      void *ud, struct mamori_sub **out);
	void (*mqtt_unsubscribe)(void *ctx, struct mamori_sub *s);
	int (*mqtt_publish)(void *ctx, void *inst, const char *topic, const void *payload,
	                    size_t len, int qos, int retain);
	const char *(*mqtt_prefix)(void *ctx);
	void *(*check_data)(void *ctx, void *inst, const struct mamori_check *chk);
	int (*calendar_is_open)(void *ctx, const char *calendar, double t);
	/* notifiers (ABI 1.1): called with notify_ctx */
	void (*notify_done)(void *ctx, struct mamori_delivery *d,
	                    const struct mamori_notify_result *r);
	int (*notify_reply)(void *ctx, void *inst, const struct mamori_reply *r);
	void *notify_ctx;
	/* The mqtt_* ops get this context instead of host_bind's when it is
	 * set (the daemon's broker side is another module than its checks). */
	void *mqtt_ctx;
};

/* Bind the host to a loop, a process spawner and the server's ops.
 * datadir: where host->data_path resolves relative names. */
void host_bind(struct ev_loop *loop, struct proc_ctx *procs, const struct host_ops *ops, void *ctx,
               const char *datadir);
void host_unbind(void);
const struct mamori_host *host_table(void);
/* Map a plugin instance pointer to a name for log prefixes. */
void host_name_instance(void *inst, const char *name);
void host_forget_instance(void *inst);
/* Plugin metrics (ABI 1.2): call def->metrics(inst) when the plugin has
 * it; every series it reports through host->metric is checked (names,
 * labels, type, value; MAMORI_METRIC_MAX_SERIES at most) and handed to fn
 * during the call.  Returns how many were. */
typedef void (*host_metric_fn)(void *ud, const struct mamori_metric *x);
size_t host_collect_metrics(const struct mamori_plugin *def, void *inst, host_metric_fn fn,
                            void *ud);
/* The same checks host->metric makes (series from an isolated host). */
int host_metric_valid(const struct mamori_metric *x);
/* Counters of live plugin-owned objects (leak checks in tests). */
unsigned host_live_timers(void);
unsigned host_live_ios(void);

#endif
