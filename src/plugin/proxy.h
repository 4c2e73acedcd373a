/*
 * proxy: a plugin instance run in a separate host process (`isolate =
 * true` in its `plugins` block).  See proxy.c for the design.
 *
 * proxy_new spawns the host, initialises the real plugin in it with the
 * instance block and returns a synthetic plugin module whose functions
 * (check_prepare, check_start, check_cancel, check_release, destroy)
 * forward over a socket; the core uses it exactly like an in-process
 * instance: pinst->mod = proxy_mod(px), pinst->inst = px.
 */
#ifndef MAMORI_PROXY_H
#define MAMORI_PROXY_H

#include <mamori/plugin.h>

struct ev_loop;
struct plugin_mod;
struct proxy;

/* Start an isolated instance of `real` (a usable module).  conf is the
 * instance block (errors are reported through it, with file and line).
 * Returns NULL on failure, after reporting why. */
struct proxy *proxy_new(struct ev_loop *loop, const struct plugin_mod *real,
                        const struct mamori_conf *conf);
/* The synthetic module to use for this instance; its def->destroy(px)
 * frees the proxy (and the module). */
struct plugin_mod *proxy_mod(struct proxy *px);

/* Tuning (tests): seconds without an answer to a ping before the host is
 * declared hung; first restart delay (doubles up to 30s). */
void proxy_set_timing(struct proxy *px, double hang_after, double first_backoff);
/* Process id of the host (tests), 0 when none is running. */
int proxy_pid(const struct proxy *px);
/* How many times the host was restarted (tests, metrics). */
unsigned proxy_restarts(const struct proxy *px);
/* Restarts of all plugin hosts since the process started. */
unsigned long long proxy_total_restarts(void);

#endif
