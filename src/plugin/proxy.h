/*
 * proxy: a plugin instance run in a separate host process (`isolate =
 * true` in its `plugins` block).  See proxy.c for the design.
 *
 * proxy_new spawns the host, asks it to initialise the real plugin with
 * the instance block and returns a synthetic plugin module whose functions
 * (check_prepare, check_start, check_cancel, check_release, destroy)
 * forward over a socket; the core uses it exactly like an in-process
 * instance: pinst->mod = proxy_mod(px), pinst->inst = px.
 *
 * The answers to init and check_prepare are not waited for inside those
 * calls: while a proxy_wait collects (a model build), each request is
 * recorded in it, and its owner waits for all of them at once - on the
 * loop (reload) or blocking before the loop runs (startup) - and then has
 * the failures reported through the conf they came with (file:line).
 */
#ifndef MAMORI_PROXY_H
#define MAMORI_PROXY_H

#include <mamori/plugin.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct plugin_mod;
struct proxy;
struct proxy_wait;

/* Start an isolated instance of `real` (a usable module).  conf is the
 * instance block (errors are reported through it, with file and line);
 * memory_limit the host's RLIMIT_DATA in bytes (0: none).  Returns NULL if
 * the host cannot be started, after reporting why; the plugin's init
 * answer comes later (see proxy_wait). */
struct proxy *proxy_new(struct ev_loop *loop, const struct plugin_mod *real,
                        const struct mamori_conf *conf, uint64_t memory_limit);
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
/* Why a host that sent WIRE_FATAL (signal, KiB of data in use, KiB of its
 * limit) went down, as its checks' UNKNOWN output says it: "ran out of
 * memory (...)" when it died near its limit, else "crashed (signal N)".
 * Pure. */
void proxy_fatal_why(int sig, uint32_t used_kib, uint32_t limit_kib, char *buf, size_t n);
/* Restarts of all plugin hosts since the process started. */
unsigned long long proxy_total_restarts(void);

/* ---- waiting for init and check_prepare answers ----
 *
 * A wait is created when a model build starts; its deadline (10 s) runs
 * from then and covers every answer of every host.  Nothing here blocks
 * except proxy_wait_block. */
struct proxy_wait *proxy_wait_new(struct ev_loop *loop);
/* Requests sent from now on (proxy_new, an isolated check_prepare) are
 * collected by w; NULL stops collecting.  Without a collecting wait a
 * request is answered asynchronously and a failure only logged. */
void proxy_wait_collect(struct proxy_wait *w);
/* Answers still outstanding. */
size_t proxy_wait_pending(const struct proxy_wait *w);
/* On the loop: done(ud) is called from the loop (never inside this call)
 * once every answer is in or the deadline passed; a host that has not
 * answered by then is declared hung (killed and restarted). */
void proxy_wait_start(struct proxy_wait *w, void (*done)(void *ud), void *ud);
/* The same, blocking in poll(2) on the hosts' sockets: for the startup,
 * before the loop runs (nothing is there to freeze). */
void proxy_wait_block(struct proxy_wait *w);
/* Report every failed request through the conf it was made with (the
 * host's own error lines at their key's file:line, or why the host
 * failed) and return how many failed.  Call once nothing is pending. */
int proxy_wait_report(struct proxy_wait *w);
/* Free w; answers still outstanding are ignored when they come. */
void proxy_wait_free(struct proxy_wait *w);
/* Tests: the deadline of the waits created from now on (default 10 s). */
void proxy_set_answer_timeout(double seconds);
/* Hosts of destroyed instances get a second to leave by themselves (on
 * the loop, never waited for there) before SIGKILL; at shutdown, wait
 * for those still going (blocking, at most that second). */
void proxy_reap_all(void);

/* ---- without a process: the fuzz target and tests drive the core's
 * reading of a host's stream with these ----
 *
 * A proxy that is up, has no host process nor socket (what it sends is
 * dropped), and waits for the answer to an init (seq 1); its module's
 * functions (proxy_mod(px)->def) prepare checks (seq 2, 3... in that
 * order) and start runs as for a real one.  Free with def->destroy(px). */
struct proxy *proxy__detached(struct ev_loop *loop, const char *name);
/* n bytes of the host's stream, handled as px_read does (eof: then the
 * connection closed).  0 while the host is up, -1 once it is down (then
 * nothing more is read). */
int proxy__feed(struct proxy *px, const void *data, size_t n, int eof);
/* Why the host went down, NULL while it is up. */
const char *proxy__why(const struct proxy *px);
/* Bytes received and not handled yet (an incomplete frame). */
size_t proxy__pending(const struct proxy *px);
/* The metrics kept from the last WIRE_METRICS: bytes, and *n series. */
size_t proxy__metrics(const struct proxy *px, uint32_t *n);

#endif
