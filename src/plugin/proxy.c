/*
 * proxy: the core side of an isolated plugin instance.  See proxy.h.
 *
 * The child is `mamorid --plugin-host 3 PATH` (this very binary, found
 * through /proc/self/exe), spawned with posix_spawn and one end of a
 * socketpair as fd 3; src/plugin/isolate.c is its side.  Messages: wire.h.
 *
 * Asynchronous on the loop: runs (START -> RESULT), cancels, releases and
 * pings.  Writes are buffered and non-blocking; an io watcher reads.
 * Synchronous, bounded by SYNC_TIMEOUT: init and check_prepare, because
 * the core wants their errors as config errors (file:line) before the
 * load or reload is accepted - as it does for an in-process plugin, whose
 * init and prepare block the loop for the same moment.  All the waits for
 * one host within one loop iteration (a reload prepares every check in a
 * row) share SYNC_TIMEOUT, so a slow host stalls the loop that long at
 * most, not that long per check.  Errors from the
 * child come back as text ("key 'x': why"); the proxy reports them through
 * the core's conf_error at the key's real line.  While the core waits, the
 * host's log messages and pongs are handled at once and what else it
 * sends (results, late replies) is kept for the loop, at most
 * PENDING_MAX_*.
 *
 * The host is not trusted with the core's memory: a host that sends more
 * than that while the core waits, or floods it with log messages
 * (HOST_LOG_FLOOD_* a second), is treated as broken like a crashed one.
 *
 * Crash and hang: EOF on the socket, the child's exit, or no answer to a
 * ping within hang_after (the child's loop is stuck) mark the host DOWN:
 * it is killed, runs in flight complete UNKNOWN "plugin host ...", runs
 * started while it is down complete UNKNOWN at once (their output says
 * why it went down), and it is restarted after a backoff (doubling, reset
 * after a healthy minute) with the same instance block, every check
 * re-prepared.  A check prepared while the host is down (a reload at
 * that moment) is accepted unvalidated and validated at the restart
 * (failures are logged; its runs go UNKNOWN).  A run whose answer does
 * not come is cancelled by the core's timeout as for any plugin.  Must
 * never: block the loop outside init/prepare, complete a run twice (a run
 * is in `runs` until completed or cancelled), or hold more of what a host
 * sends than the limits above.
 */
#include "plugin/proxy.h"
#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/wire.h"
#include "proc/proc.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYNC_TIMEOUT  10.0 /* s: init and prepares of one loop iteration answered by then */
#define PING_EVERY    1.0  /* s */
#define HANG_AFTER    5.0  /* s without a pong: the host's loop is stuck */
#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX   30.0
#define HEALTHY_AFTER 60.0 /* s of life that resets the backoff */
#define CHILD_FD      3

/* What a host may send while the core waits for a synchronous answer and
 * the core keeps for later: results of runs in flight and late replies.
 * A run's result is clipped by the engine to ~80 KiB, and runs in flight
 * are bounded by the concurrency limits; more than this is a broken host,
 * not a busy one. */
#define PENDING_MAX_BYTES     (8u * 1024 * 1024)
#define PENDING_MAX_FRAMES    16384
/* Log messages from the host (WIRE_LOG): per second, HOST_LOG_LINES are
 * passed on to the log and the rest counted; beyond HOST_LOG_FLOOD_* the
 * host is flooding the core and is treated as broken. */
#define HOST_LOG_LINES        20
#define HOST_LOG_FLOOD_BYTES  (1024u * 1024)
#define HOST_LOG_FLOOD_FRAMES 10000
#define WHY_FLOOD_LOG         "flooded the core with log messages"
#define WHY_FLOOD_WAIT        "sent too much while the core waited for an answer"

extern char **environ;

struct pcheck {
	uint32_t id;
	struct wbuf body; /* PREPARE fields after seq: re-sent at restart */
	struct pcheck *next, **pprev;
};

struct prun {
	uint32_t id;
	struct mamori_run *run;
};

/* every restart of every plugin host since the start (metrics) */
static unsigned long long total_restarts;

struct proxy {
	struct plugin_mod mod; /* synthetic: def = &def */
	struct mamori_plugin def;
	char *path, *inst_text;
	struct ev_loop *loop;
	int fd;
	pid_t pid;
	int up;       /* host running (maybe still initialising) */
	unsigned gen; /* bumped when the host goes down: stops stale dispatch */
	ev_io io;
	ev_child child;
	ev_timer ping, restart, kick;
	struct wbuf in, out;
	struct hmap runs; /* id -> struct prun */
	struct pcheck *checks;
	uint32_t next_id, seq, ping_seq;
	double ping_sent; /* 0: no ping outstanding */
	double started, backoff, first_backoff, hang_after;
	unsigned restarts;
	char why[96];       /* why the host went down last: in its runs' output */
	unsigned sync_iter; /* loop iteration of sync_used */
	double sync_used;   /* seconds waited synchronously in it */
	struct {
		double start; /* of the current second (CLOCK_MONOTONIC) */
		unsigned lines, frames, dropped;
		size_t bytes;
	} hlog; /* the host's log messages */
};

static void px_lost(struct proxy *px, const char *why);

/* ---- config text ---- */

static void conf_copy(config_setting_t *dst, const config_setting_t *src)
{
	int n = config_setting_length(src);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
		int t = config_setting_type(e);
		config_setting_t *d = config_setting_add(dst, config_setting_name(e), t);
		if (!d)
			continue;
		switch (t) {
		case CONFIG_TYPE_INT: config_setting_set_int(d, config_setting_get_int(e)); break;
		case CONFIG_TYPE_INT64:
			config_setting_set_int64(d, config_setting_get_int64(e));
			break;
		case CONFIG_TYPE_FLOAT:
			config_setting_set_float(d, config_setting_get_float(e));
			break;
		case CONFIG_TYPE_BOOL:
			config_setting_set_bool(d, config_setting_get_bool(e));
			break;
		case CONFIG_TYPE_STRING:
			config_setting_set_string(d, config_setting_get_string(e));
			break;
		default: conf_copy(d, e); break; /* group, array, list */
		}
	}
}

/* A config block as libconfig text (the child reads it back). */
static char *conf_text(const config_setting_t *s)
{
	char *text = NULL;
	size_t len = 0;
	config_t cfg;
	config_init(&cfg);
	if (s)
		conf_copy(config_root_setting(&cfg), s);
	FILE *f = open_memstream(&text, &len);
	if (f) {
		config_write(&cfg, f);
		fclose(f);
	}
	config_destroy(&cfg);
	return text ? text : xstrdup("");
}

/* Report the child's error lines through the core's conf_error: at the
 * key's line when the text names a key of this block. */
static void report_errors(const struct mamori_conf *conf, const char *errs, const char *fallback)
{
	const struct mamori_host *h = host_table();
	int any = 0;
	while (errs && *errs) {
		const char *nl = strchr(errs, '\n');
		size_t n = nl ? (size_t)(nl - errs) : strlen(errs);
		char line[1024], key[128];
		snprintf(line, sizeof line, "%.*s", (int)n, errs);
		errs += n + (nl ? 1 : 0);
		if (!line[0])
			continue;
		any = 1;
		const char *rest = strstr(line, "': ");
		size_t kl = rest ? (size_t)(rest - line) - 5 : 0;
		if (strncmp(line, "key '", 5) == 0 && rest && kl < sizeof key) {
			snprintf(key, sizeof key, "%.*s", (int)kl, line + 5);
			if (conf->s && config_setting_get_member(conf->s, key)) {
				h->conf_error(conf, key, "%s", rest + 3);
				continue;
			}
		}
		h->conf_error(conf, NULL, "%s", line);
	}
	if (!any && fallback)
		h->conf_error(conf, NULL, "%s", fallback);
}

/* ---- socket ---- */

/* b's bytes from off (NULL for an empty buffer that never had storage:
 * NULL + 0 is undefined). */
static const char *wb_at(const struct wbuf *b, size_t off)
{
	return b->p ? b->p + off : NULL;
}

static double mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void px_want(struct proxy *px, int events)
{
	if (px->fd < 0 ||
	    (ev_is_active(&px->io) && (px->io.events & (EV_READ | EV_WRITE)) == events))
		return;
	ev_io_stop(px->loop, &px->io);
	ev_io_set(&px->io, px->fd, events);
	ev_io_start(px->loop, &px->io);
}

static void px_flush(struct proxy *px)
{
	if (px->fd < 0)
		return;
	int rc = wire_flush(px->fd, &px->out);
	if (rc < 0) {
		/* Handled from the loop, not inside the caller (check_start...). */
		ev_timer_start(px->loop, &px->kick);
		return;
	}
	px_want(px, EV_READ | (rc > 0 ? EV_WRITE : 0));
}

static void send_u32(struct proxy *px, int type, uint32_t a, const uint32_t *b)
{
	size_t m = wire_begin(&px->out, type);
	wbuf_u32(&px->out, a);
	if (b)
		wbuf_u32(&px->out, *b);
	wire_end(&px->out, m);
	px_flush(px);
}

static uint32_t send_init(struct proxy *px)
{
	char dir[PATH_MAX] = "";
	host_table()->data_path(".", dir, sizeof dir);
	size_t m = wire_begin(&px->out, WIRE_INIT);
	wbuf_u32(&px->out, ++px->seq);
	wbuf_str(&px->out, dir);
	wbuf_i32(&px->out, log_get_level());
	wbuf_str(&px->out, px->inst_text);
	wire_end(&px->out, m);
	px_flush(px);
	return px->seq;
}

static uint32_t send_prepare(struct proxy *px, const struct pcheck *pc)
{
	size_t m = wire_begin(&px->out, WIRE_PREPARE);
	wbuf_u32(&px->out, ++px->seq);
	wbuf_put(&px->out, pc->body.p, pc->body.len);
	wire_end(&px->out, m);
	px_flush(px);
	return px->seq;
}

/* ---- the host process ---- */

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct proxy *px = w->data;
	ev_child_stop(loop, w);
	int st = w->rstatus;
	if (WIFSIGNALED(st))
		log_err("isolate", "plugin host of '%s' (pid %d) killed by signal %d", px->def.name,
		        (int)w->rpid, WTERMSIG(st));
	else if (px->up)
		log_err("isolate", "plugin host of '%s' (pid %d) exited with %d", px->def.name,
		        (int)w->rpid, WEXITSTATUS(st));
	px->pid = 0;
	if (px->up)
		px_lost(px, "exited");
}

static int px_spawn(struct proxy *px)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int sv[2];
	if (n <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("isolate", "cannot start a plugin host: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	if (sv[1] == CHILD_FD) { /* dup2(3, 3) would leave close-on-exec set */
		int d = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
		close(sv[1]);
		sv[1] = d;
	}
	char fdarg[16];
	snprintf(fdarg, sizeof fdarg, "%d", CHILD_FD);
	char *const argv[] = { exe, "--plugin-host", fdarg, px->path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], CHILD_FD);
	/* The host gets its socket and stdin/out/err, never the core's
	 * descriptors (the broker connection among them). */
	int rc = sv[1] < 0 ? EBADF : proc_closefrom(&fa, CHILD_FD + 1);
	pid_t pid;
	if (rc == 0)
		rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (sv[1] >= 0)
		close(sv[1]);
	if (rc != 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		log_err("isolate", "cannot start the plugin host %s: %s", exe, strerror(rc));
		close(sv[0]);
		return -1;
	}
	px->fd = sv[0];
	px->pid = pid;
	px->up = 1;
	px->in.len = px->out.len = px->out.off = 0;
	px->ping_sent = 0;
	px->started = ev_now(px->loop);
	ev_io_set(&px->io, px->fd, EV_READ);
	ev_io_start(px->loop, &px->io);
	if (ev_is_default_loop(px->loop)) {
		ev_child_set(&px->child, pid, 0);
		ev_child_start(px->loop, &px->child);
	}
	ev_timer_again(px->loop, &px->ping);
	log_info("isolate", "plugin '%s' runs in host process %d", px->def.name, (int)pid);
	return 0;
}

/* Stop talking to the host; kill it if `kill_it` (hung, crashed, or the
 * instance is going away and it did not leave by itself). */
static void px_close(struct proxy *px, int kill_it)
{
	ev_io_stop(px->loop, &px->io);
	ev_timer_stop(px->loop, &px->ping);
	if (px->fd >= 0)
		close(px->fd);
	px->fd = -1;
	px->up = 0;
	px->gen++;
	if (px->pid > 0 && kill_it)
		kill(px->pid, SIGKILL);
	if (px->pid > 0 && !ev_is_default_loop(px->loop) && waitpid(px->pid, NULL, WNOHANG) != 0)
		px->pid = 0; /* reaped (or not ours any more) */
}

static void px_lost(struct proxy *px, const char *why)
{
	if (!px->up)
		return;
	snprintf(px->why, sizeof px->why, "%s", why);
	double lived = ev_now(px->loop) - px->started;
	log_err("isolate",
	        "plugin host of '%s' %s after %.1fs: its runs report UNKNOWN, restart in %gs",
	        px->def.name, why, lived, lived >= HEALTHY_AFTER ? px->first_backoff : px->backoff);
	px_close(px, 1);
	if (lived >= HEALTHY_AFTER)
		px->backoff = px->first_backoff;
	ev_timer_set(&px->restart, px->backoff, 0);
	ev_timer_start(px->loop, &px->restart);
	px->backoff = px->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : px->backoff * 2;
	/* Runs in flight complete from the loop, not inside whatever called. */
	ev_timer_start(px->loop, &px->kick);
}

/* Why the host is down, for an UNKNOWN output. */
static const char *px_why(const struct proxy *px)
{
	return px->why[0] ? px->why : "crashed or hung";
}

static void fail_runs(struct proxy *px)
{
	size_t it = 0;
	const struct hmap_entry *e;
	char msg[200];
	snprintf(msg, sizeof msg, "plugin host of '%s' %s; restarting it", px->def.name,
	         px_why(px));
	struct mamori_result res = { .struct_size = sizeof res,
		                     .state = MAMORI_UNKNOWN,
		                     .output = msg };
	while (hmap_next(&px->runs, &it, &e)) {
		struct prun *r = e->value;
		hmap_del(&px->runs, (const char *)&r->id, sizeof r->id);
		host_table()->run_complete(r->run, &res);
		free(r);
		it = 0;
	}
}

/* ---- messages from the host ---- */

static void on_result(struct proxy *px, const struct wire_host_msg *m)
{
	struct mamori_result res = { .struct_size = sizeof res };
	res.state = m->state;
	res.flags = m->flags;
	res.output = m->output;
	res.long_output = m->long_output;
	res.perf_text = m->perf_text;
	uint32_t id = m->id;
	struct prun *run = hmap_del(&px->runs, (const char *)&id, sizeof id);
	if (!run)
		return; /* cancelled meanwhile: never completed twice */
	char msg[200];
	if (m->rc != 0) {
		snprintf(msg, sizeof msg, "check could not start: %s",
		         host_table()->strerror(m->rc));
		memset(&res, 0, sizeof res);
		res.struct_size = sizeof res;
		res.state = MAMORI_UNKNOWN;
		res.output = msg;
	}
	host_table()->run_complete(run->run, &res);
	free(run);
}

static void on_async_reply(struct proxy *px, const struct wire_host_msg *m)
{
	/* m->id, the seq: nobody waits for it any more */
	if (m->rc == 0)
		return;
	log_err("isolate", "plugin '%s' after restart: %s failed: %s", px->def.name,
	        m->type == WIRE_INIT_R ? "init" : "check_prepare",
	        m->text ? m->text : host_table()->strerror(m->rc));
	if (m->type == WIRE_INIT_R)
		px_lost(px, "failed to initialise");
}

/* A log message from the host (`size` bytes of frame body): passed on,
 * HOST_LOG_LINES a second; a host beyond HOST_LOG_FLOOD_* is lost. */
static void on_host_log(struct proxy *px, const struct wire_host_msg *m, size_t size)
{
	double now = mono_now();
	if (now - px->hlog.start >= 1.0) {
		if (px->hlog.dropped)
			log_warn(
			    "isolate",
			    "plugin '%s': %u log messages of its host dropped (more than %d a second)",
			    px->def.name, px->hlog.dropped, HOST_LOG_LINES);
		memset(&px->hlog, 0, sizeof px->hlog);
		px->hlog.start = now;
	}
	px->hlog.frames++;
	px->hlog.bytes += size;
	if (px->hlog.frames > HOST_LOG_FLOOD_FRAMES || px->hlog.bytes > HOST_LOG_FLOOD_BYTES) {
		px_lost(px, WHY_FLOOD_LOG);
		return;
	}
	if (++px->hlog.lines > HOST_LOG_LINES) {
		px->hlog.dropped++;
		return;
	}
	int level = m->level < LOG_LVL_ERR     ? LOG_LVL_ERR
	            : m->level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG
	                                       : m->level;
	log_msg("isolate", level, "plugin '%s' (host %d): %s", px->def.name, (int)px->pid,
	        m->text ? m->text : "");
}

/* One message; 0 ok, -1 malformed (wire_host_decode is the one reader of
 * what a host sends: tests/fuzz/fuzz_wire.c fuzzes it). */
static int px_dispatch(struct proxy *px, int type, struct rbuf *r)
{
	struct wire_host_msg m;
	if (wire_host_decode(type, r, &m) != 0)
		return -1;
	switch (type) {
	case WIRE_RESULT: on_result(px, &m); break;
	case WIRE_PONG:
		if (m.id == px->ping_seq)
			px->ping_sent = 0;
		break;
	case WIRE_INIT_R:
	case WIRE_PREPARE_R: on_async_reply(px, &m); break;
	case WIRE_LOG: on_host_log(px, &m, r->len); break;
	}
	return 0;
}

/* Dispatch the complete messages in px->in. */
static void px_drain(struct proxy *px)
{
	unsigned gen = px->gen;
	size_t off = 0;
	while (px->gen == gen) {
		struct rbuf body;
		int type;
		long n = wire_frame(wb_at(&px->in, off), px->in.len - off, &body, &type);
		if (n == 0)
			break;
		if (n < 0 || px_dispatch(px, type, &body) != 0) {
			px_lost(px, "sent a malformed message");
			break;
		}
		off += (size_t)n;
	}
	if (px->gen == gen)
		wbuf_consume(&px->in, off);
	else
		px->in.len = 0;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy *px = w->data;
	if (revents & EV_WRITE)
		px_flush(px);
	if (!(revents & EV_READ) || px->fd < 0)
		return;
	int eof = wire_fill(px->fd, &px->in) < 0;
	px_drain(px); /* results sent just before a crash still count */
	if (eof)
		px_lost(px, "crashed (connection closed)");
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	if (px->up && px->fd >= 0 && wire_flush(px->fd, &px->out) < 0)
		px_lost(px, "crashed (write failed)");
	if (!px->up)
		fail_runs(px);
	else
		px_drain(px); /* messages left behind by a synchronous wait */
}

static void on_ping(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	if (!px->up)
		return;
	double now = ev_now(loop);
	if (px->ping_sent > 0 && now - px->ping_sent > px->hang_after) {
		char why[80];
		snprintf(why, sizeof why, "hung (no answer for %.1fs)", now - px->ping_sent);
		px_lost(px, why);
		return;
	}
	if (px->ping_sent == 0) {
		px->ping_sent = now;
		send_u32(px, WIRE_PING, ++px->ping_seq, NULL);
	}
}

static void on_restart(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	if (px->up)
		return;
	if (px_spawn(px) != 0) {
		ev_timer_set(&px->restart, px->backoff, 0);
		ev_timer_start(loop, &px->restart);
		return;
	}
	px->restarts++;
	total_restarts++;
	send_init(px);
	for (struct pcheck *pc = px->checks; pc; pc = pc->next)
		send_prepare(px, pc);
}

/* Wait for the reply (type, seq) to a synchronous request, with the loop
 * stopped.  Log messages and pongs are handled as they come; results and
 * late replies are kept for the loop (in front of px->in, in order), at
 * most PENDING_MAX_*.  On success the reply's body is in *out (the caller
 * frees it); on failure *why says what went wrong. */
static int px_wait(struct proxy *px, int type, uint32_t seq, struct wbuf *out, const char **why)
{
	struct wbuf pend = { 0 };
	size_t frames = 0;
	int rc = -1, eof = 0;
	if (ev_iteration(px->loop) != px->sync_iter) {
		px->sync_iter = ev_iteration(px->loop);
		px->sync_used = 0;
	}
	double start = mono_now(), end = start + SYNC_TIMEOUT - px->sync_used;
	*why = "did not answer in time (crashed, hung or too slow)";
	while (px->up && px->fd >= 0) {
		size_t off = 0;
		long n;
		struct rbuf body;
		int ty, found = 0;
		while (!found &&
		       (n = wire_frame(wb_at(&px->in, off), px->in.len - off, &body, &ty)) > 0) {
			const char *frame = px->in.p + off;
			off += (size_t)n;
			if (ty == type && rbuf_u32(&body) == seq && !body.bad) {
				wbuf_put(out, body.p, body.len);
				found = 1;
			} else if (ty == WIRE_LOG || ty == WIRE_PONG) {
				if (px_dispatch(px, ty, &body) != 0) {
					*why = "sent a malformed message";
					goto done;
				}
				if (!px->up)
					goto done; /* flooding: lost, px->why says so */
			} else if (ty != WIRE_RESULT && ty != WIRE_INIT_R && ty != WIRE_PREPARE_R) {
				*why = "sent a malformed message";
				goto done;
			} else if (++frames > PENDING_MAX_FRAMES ||
			           pend.len + (size_t)n > PENDING_MAX_BYTES) {
				*why = WHY_FLOOD_WAIT;
				goto done;
			} else {
				wbuf_put(&pend, frame, (size_t)n);
			}
		}
		if (n < 0) {
			*why = "sent a malformed message";
			goto done;
		}
		wbuf_consume(&px->in, off);
		if (found) {
			rc = 0;
			goto done;
		}
		double left = end - mono_now();
		if (eof || left <= 0)
			goto done;
		struct pollfd pfd = { .fd = px->fd, .events = POLLIN };
		if (px->out.len > px->out.off)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			goto done;
		if ((pfd.revents & POLLOUT) && wire_flush(px->fd, &px->out) < 0)
			goto done;
		/* Closed: a reply may still be in what was read. */
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			eof = wire_fill(px->fd, &px->in) < 0;
	}
done:
	px->sync_used += mono_now() - start;
	if (rc == 0 && pend.len) {
		wbuf_put(&pend, px->in.p, px->in.len);
		struct wbuf t = px->in;
		px->in = pend;
		pend = t;
	}
	if (rc == 0 && px->in.len)
		ev_timer_start(px->loop, &px->kick);
	wbuf_free(&pend);
	return rc;
}

/* A synchronous request's reply: rc and error text. */
static int px_call(struct proxy *px, int type, uint32_t seq, char **errs)
{
	struct wbuf reply = { 0 };
	const char *why;
	*errs = NULL;
	if (px_wait(px, type, seq, &reply, &why) != 0) {
		px_lost(px, why); /* unless lost already, with its own reason */
		wbuf_free(&reply);
		return MAMORI_E_IO;
	}
	struct rbuf r = { .p = reply.p, .len = reply.len };
	struct wire_host_msg m;
	int ok = wire_host_decode(type, &r, &m) == 0;
	*errs = ok && m.text && *m.text ? xstrdup(m.text) : NULL;
	wbuf_free(&reply);
	return ok ? m.rc : MAMORI_E_INVAL;
}

/* ---- the plugin functions the core calls ---- */

static int px_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	return MAMORI_E_NOTSUP; /* instances are made by proxy_new */
}

static void pcheck_free(struct pcheck *pc)
{
	if (pc->pprev)
		*pc->pprev = pc->next;
	if (pc->next)
		pc->next->pprev = pc->pprev;
	wbuf_free(&pc->body);
	free(pc);
}

static struct pcheck *pcheck_new(struct proxy *px, struct mamori_check *chk,
                                 const struct mamori_conf *conf)
{
	const struct mamori_check_info *in = host_table()->check_info(chk);
	struct pcheck *pc = xcalloc(1, sizeof *pc);
	pc->id = ++px->next_id;
	wbuf_u32(&pc->body, pc->id);
	const char *strs[] = { in->customer,   in->customer_name, in->region, in->asset,
		               in->asset_type, in->address,       in->check,  in->service };
	for (size_t i = 0; i < ARRAY_LEN(strs); i++)
		wbuf_str(&pc->body, strs[i]);
	wbuf_f64(&pc->body, in->interval);
	wbuf_f64(&pc->body, in->timeout);
	char *text = conf_text(conf->s);
	wbuf_str(&pc->body, text);
	free(text);
	pc->next = px->checks;
	if (px->checks)
		px->checks->pprev = &pc->next;
	pc->pprev = &px->checks;
	px->checks = pc;
	return pc;
}

static int px_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **check_data)
{
	struct proxy *px = inst;
	struct pcheck *pc = pcheck_new(px, chk, conf);
	*check_data = pc;
	if (!px->up)
		return 0; /* validated when the host is back */
	char *errs;
	int rc = px_call(px, WIRE_PREPARE_R, send_prepare(px, pc), &errs);
	if (rc != 0) {
		char why[160];
		snprintf(why, sizeof why, "the plugin host %s while preparing this check",
		         px_why(px));
		report_errors(conf, errs, rc == MAMORI_E_IO ? why : NULL);
		pcheck_free(pc);
		*check_data = NULL;
	}
	free(errs);
	return rc;
}

static void px_release(void *inst, struct mamori_check *chk, void *check_data)
{
	struct proxy *px = inst;
	struct pcheck *pc = check_data;
	if (!pc)
		return;
	if (px->up)
		send_u32(px, WIRE_RELEASE, pc->id, NULL);
	pcheck_free(pc);
}

static int px_start(void *inst, struct mamori_run *run, void *check_data, void **run_state)
{
	struct proxy *px = inst;
	struct pcheck *pc = check_data;
	*run_state = NULL;
	if (!px->up || !pc) {
		char msg[160];
		snprintf(msg, sizeof msg, "plugin host of '%s' is down (%s); restarting",
		         px->def.name, px_why(px));
		struct mamori_result res = { .struct_size = sizeof res,
			                     .state = MAMORI_UNKNOWN,
			                     .output = msg };
		host_table()->run_complete(run, &res);
		return 0;
	}
	struct prun *r = xcalloc(1, sizeof *r);
	r->id = ++px->next_id;
	r->run = run;
	hmap_put(&px->runs, (const char *)&r->id, sizeof r->id, r);
	*run_state = r;
	send_u32(px, WIRE_START, r->id, &pc->id);
	return 0;
}

static void px_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	struct proxy *px = inst;
	struct prun *r = run_state;
	if (!r || hmap_del(&px->runs, (const char *)&r->id, sizeof r->id) != r)
		return;
	if (px->up)
		send_u32(px, WIRE_CANCEL, r->id, NULL);
	free(r);
}

/* Give the host a moment to leave by itself (it cleans up on EOF). */
static void px_reap(struct proxy *px)
{
	for (int i = 0; px->pid > 0 && i < 100; i++) {
		pid_t r = waitpid(px->pid, NULL, WNOHANG);
		if (r != 0) { /* gone, or reaped by libev's SIGCHLD handler */
			px->pid = 0;
			return;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (px->pid > 0) {
		kill(px->pid, SIGKILL);
		waitpid(px->pid, NULL, 0);
		px->pid = 0;
	}
}

static void px_destroy(void *inst)
{
	struct proxy *px = inst;
	if (!px)
		return;
	px_close(px, 0);
	px_reap(px);
	ev_child_stop(px->loop, &px->child);
	ev_timer_stop(px->loop, &px->restart);
	ev_timer_stop(px->loop, &px->kick);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&px->runs, &it, &e))
		free(e->value); /* the core cancels runs first; belt and braces */
	hmap_free(&px->runs);
	while (px->checks)
		pcheck_free(px->checks);
	wbuf_free(&px->in);
	wbuf_free(&px->out);
	free(px->path);
	free(px->inst_text);
	free(px->mod.name);
	free(px);
}

/* ---- public ---- */

struct proxy *proxy_new(struct ev_loop *loop, const struct plugin_mod *real,
                        const struct mamori_conf *conf)
{
	struct proxy *px = xcalloc(1, sizeof *px);
	px->def = *real->def;
	px->def.init = px_init;
	px->def.destroy = px_destroy;
	px->def.check_prepare = px_prepare;
	px->def.check_release = px_release;
	px->def.check_start = px_start;
	px->def.check_cancel = px_cancel;
	px->mod.name = xstrdup(real->name);
	px->mod.path = real->path; /* borrowed for messages; the loader outlives us */
	px->mod.def = &px->def;
	px->path = xstrdup(real->path);
	px->inst_text = conf_text(conf ? conf->s : NULL);
	px->loop = loop;
	px->fd = -1;
	px->first_backoff = px->backoff = BACKOFF_FIRST;
	px->hang_after = HANG_AFTER;
	hmap_init(&px->runs);
	ev_io_init(&px->io, on_io, -1, EV_READ);
	ev_init(&px->child, on_child);
	ev_init(&px->restart, on_restart);
	ev_timer_init(&px->kick, on_kick, 0, 0);
	ev_init(&px->ping, on_ping);
	px->ping.repeat = PING_EVERY;
	px->io.data = px->child.data = px->restart.data = px->kick.data = px->ping.data = px;
	char *errs = NULL;
	int rc = px_spawn(px) != 0 ? MAMORI_E_IO : px_call(px, WIRE_INIT_R, send_init(px), &errs);
	if (rc != 0) {
		char why[160];
		snprintf(why, sizeof why, "the plugin host could not start the plugin%s%s",
		         px->why[0] ? ": it " : "", px->why);
		report_errors(conf, errs, why);
		free(errs);
		ev_timer_stop(loop, &px->restart); /* px_lost armed it */
		px_destroy(px);
		return NULL;
	}
	return px;
}

struct plugin_mod *proxy_mod(struct proxy *px)
{
	return &px->mod;
}

void proxy_set_timing(struct proxy *px, double hang_after, double first_backoff)
{
	px->hang_after = hang_after;
	px->first_backoff = px->backoff = first_backoff;
}

int proxy_pid(const struct proxy *px)
{
	return px->up ? (int)px->pid : 0;
}

unsigned long long proxy_total_restarts(void)
{
	return total_restarts;
}

unsigned proxy_restarts(const struct proxy *px)
{
	return px->restarts;
}
