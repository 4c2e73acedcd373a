/*
 * proxy: the core side of an isolated plugin instance.  See proxy.h.
 *
 * The child is `mamorid --plugin-host 3 PATH` (this very binary, found
 * through /proc/self/exe), spawned with posix_spawn and one end of a
 * socketpair as fd 3; src/plugin/isolate.c is its side.  Messages: wire.h.
 *
 * Everything is asynchronous on the loop: runs (START -> RESULT), cancels,
 * releases, pings, and also init and check_prepare.  Writes are buffered
 * and non-blocking; an io watcher reads into a wire_reader (wire.h: the
 * framing and decoding, whatever pieces the stream comes in), and every
 * message is handled as it arrives (nothing a host sends is kept beyond
 * the frame being read).  proxy__detached and proxy__feed drive that
 * reading without a process (tests/fuzz/fuzz_proxy_read.c).
 *
 * Memory: the host gets the instance's memory_limit on its command line
 * and limits itself (src/plugin/isolate.c).  A host that dies of a signal
 * with a limit sends WIRE_FATAL first (its memory in use); when that was
 * near the limit, why it went down says "ran out of memory (memory_limit
 * ...)" (proxy_fatal_why), else "crashed (signal N)".  A child's exit
 * is handled after reading what is left in its socket, so those last
 * words, and results sent just before, are never lost to the order in
 * which the loop sees the exit and the EOF.
 *
 * Init and prepare answers.  The core wants their errors as config errors
 * (file:line) before it accepts a load or reload, but must not stop its
 * loop for a host: so proxy_new and px_prepare only send the request and
 * return; the request is queued on its proxy (a host answers in the order
 * it was asked, so a reply must match the head of the queue - anything
 * else is a broken host) and collected by the build's struct proxy_wait
 * with the conf it came with.  The build's owner waits for the wait: on
 * the loop at a reload (checks, MQTT and HTTP carry on meanwhile), blocking
 * in poll(2) at startup (before the loop runs nothing is frozen, and the
 * same code reads the same frames).  One deadline, ANSWER_TIMEOUT from the
 * start of the build, covers all hosts, which work in parallel; a host
 * still silent then is declared hung (killed, restarted).  While a host
 * has init or prepare requests in flight (a build's, or a restart's) its
 * loop is busy in the plugin: the ping watchdog then allows ANSWER_TIMEOUT
 * instead of hang_after, counted from the host's last answer.  Then proxy_wait_report passes each
 * failure to the core's conf_error at the key's real line: the child's error text
 * ("key 'x': why"), or why the host failed.  A host that sends a reply to
 * a request it was not sent, or floods the core with log messages
 * (HOST_LOG_FLOOD_* a second), is treated as broken like a crashed one.
 *
 * Crash and hang: EOF on the socket, the child's exit, or no answer to a
 * ping within hang_after (the child's loop is stuck) mark the host DOWN:
 * it is killed, runs in flight complete UNKNOWN "plugin host ...",
 * requests waited for fail with why, runs started while it is down
 * complete UNKNOWN at once (their output says why it went down), and it
 * is restarted after a backoff (doubling, reset after a healthy minute)
 * with the same instance block, every check re-prepared (those answers
 * nobody waits for: failures are logged).  A check prepared while the
 * host is down (a reload at that moment) is accepted unvalidated and
 * validated at the restart (failures are logged; its runs go UNKNOWN).  A
 * run whose answer does not come is cancelled by the core's timeout as
 * for any plugin.  A destroyed instance's host gets a second to leave by
 * itself (a timer, never a wait on the loop), then SIGKILL.
 *
 * Must never: block the loop (proxy_wait_block is for the startup only;
 * proxy_reap_all for the shutdown), complete a run twice (a run is in
 * `runs` until completed or cancelled), or keep what a host sends beyond
 * the frame being read - except the plugin's metrics (ABI 1.2): the host
 * sends them with every pong, and the last well-formed set (bounded:
 * 256 series, PX_METRICS_MAX bytes) is what the core's /metrics shows.
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

#define ANSWER_TIMEOUT 10.0          /* s: every init/prepare answer of one build by then */
#define PING_EVERY     1.0           /* s */
#define HANG_AFTER     5.0           /* s without a pong: the host's loop is stuck */
#define PX_METRICS_MAX (512u * 1024) /* bytes of one WIRE_METRICS body */
#define BACKOFF_FIRST  0.5
#define BACKOFF_MAX    30.0
#define HEALTHY_AFTER  60.0 /* s of life that resets the backoff */
#define REAP_GRACE     1.0  /* s for a dropped host to leave before SIGKILL */
#define REAP_POLL      0.02 /* s */
#define CHILD_FD       3
#define MEM_NEAR_KIB   (64u * 1024) /* see proxy_fatal_why */

/* Log messages from the host (WIRE_LOG): per second, HOST_LOG_LINES are
 * passed on to the log and the rest counted; beyond HOST_LOG_FLOOD_* the
 * host is flooding the core and is treated as broken. */
#define HOST_LOG_LINES        20
#define HOST_LOG_FLOOD_BYTES  (1024u * 1024)
#define HOST_LOG_FLOOD_FRAMES 10000
#define WHY_FLOOD_LOG         "flooded the core with log messages"
#define WHY_NO_REQUEST        "answered a request it was not sent"
#define WHY_NO_ANSWER         "did not answer in time (crashed, hung or too slow)"

extern char **environ;

struct pcheck {
	uint32_t id;
	uint8_t failed;   /* its prepare failed while waited for: not re-sent */
	struct wbuf body; /* PREPARE fields after seq: re-sent at restart */
	struct preq *q;   /* its prepare in flight, if any (at most one) */
	struct pcheck *next, **pprev;
};

struct prun {
	uint32_t id;
	struct mamori_run *run;
};

/* An init or prepare sent and not answered yet (in its proxy's queue), or
 * answered and kept for its wait's report. */
struct preq {
	struct preq *next;        /* the proxy's queue, in the order sent */
	struct preq *wnext;       /* the wait's list, in the order sent */
	struct proxy *px;         /* sent to */
	struct proxy_wait *w;     /* NULL: nobody waits (a restart's, or an abandoned one) */
	struct pcheck *pc;        /* a prepare's check (NULL once abandoned) */
	struct mamori_check *chk; /* the core's check, for messages */
	int type;                 /* the reply expected: WIRE_INIT_R or WIRE_PREPARE_R */
	uint32_t seq;
	uint8_t queued;    /* still in px's queue */
	uint8_t lost;      /* failed because the host went down */
	uint8_t abandoned; /* its wait was freed: the answer is ignored */
	int rc;            /* the answer */
	char *errs;
	const config_setting_t *s; /* where errors are reported: the block... */
	pconf_err_fn on_error;     /* ...and the core's sink */
	void *ud;
	char why[96];
};

struct proxy_wait {
	struct ev_loop *loop;
	struct preq *head, **tail;
	size_t pending;
	double deadline; /* CLOCK_MONOTONIC */
	ev_timer timer, kick;
	void (*done)(void *ud);
	void *ud;
	uint8_t started;
};

/* the wait collecting requests now (a build is synchronous code: one at
 * a time) */
static struct proxy_wait *collecting;
static double answer_timeout = ANSWER_TIMEOUT;

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
	struct wire_reader rd; /* what the host sends */
	struct wbuf out;
	struct hmap runs; /* id -> struct prun */
	struct pcheck *checks;
	struct preq *rq_head, **rq_tail; /* requests sent, not answered */
	unsigned waited;                 /* how many of them a wait waits for */
	uint8_t init_failed;             /* its first init failed (a build refuses it) */
	uint32_t next_id, seq, ping_seq;
	double ping_sent; /* 0: no ping outstanding */
	double started, backoff, first_backoff, hang_after;
	unsigned restarts;
	char why[96];          /* why the host went down last: in its runs' output */
	char fatal[96];        /* what its WIRE_FATAL said, until the connection closes */
	uint64_t memory_limit; /* bytes (RLIMIT_DATA of the host), 0: none */
	/* The plugin's metrics (ABI 1.2) as the host last sent them with a
	 * pong: a checked WIRE_METRICS body of metrics_n series. */
	char *metrics;
	size_t metrics_len;
	uint32_t metrics_n;
	struct {
		double start; /* of the current second (CLOCK_MONOTONIC) */
		unsigned lines, frames, dropped;
		size_t bytes;
	} hlog; /* the host's log messages */
};

static void px_lost(struct proxy *px, const char *why);
static void px_read(struct proxy *px);

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

/* ---- requests: init and prepare ---- */

/* Queue a request sent to px (a host answers in order). */
static struct preq *rq_push(struct proxy *px, int type, uint32_t seq, struct pcheck *pc)
{
	struct preq *q = xcalloc(1, sizeof *q);
	q->px = px;
	q->type = type;
	q->seq = seq;
	q->queued = 1;
	q->pc = pc;
	if (pc)
		pc->q = q;
	*px->rq_tail = q;
	px->rq_tail = &q->next;
	return q;
}

/* Let the collecting wait, if any, wait for q; conf says where its errors
 * go (the block's setting and the core's sink: both outlive the wait). */
static void rq_collect(struct preq *q, const struct mamori_conf *conf, struct mamori_check *chk)
{
	struct proxy_wait *w = collecting;
	if (!w || !q->queued)
		return;
	q->w = w;
	q->chk = chk;
	q->s = conf ? conf->s : NULL;
	q->on_error = conf ? conf->on_error : NULL;
	q->ud = conf ? conf->ud : NULL;
	*w->tail = q;
	w->tail = &q->wnext;
	w->pending++;
	q->px->waited++;
}

/* q has its answer (q->rc, q->errs) or failed, and has left its proxy's
 * queue: a waited one stays with its wait for the report, the others go. */
static void rq_done(struct preq *q)
{
	struct proxy_wait *w = q->w;
	q->queued = 0;
	if (q->pc)
		q->pc->q = NULL;
	if (!w) {
		free(q->errs);
		free(q);
		return;
	}
	q->px->waited--;
	if (q->rc != 0 && q->pc)
		q->pc->failed = 1; /* the host does not have it: never re-sent */
	if (q->rc != 0 && q->type == WIRE_INIT_R)
		q->px->init_failed = 1;
	q->pc = NULL;
	if (--w->pending == 0 && w->started)
		ev_timer_start(w->loop, &w->kick); /* done() from the loop, not from here */
}

static struct preq *rq_pop(struct proxy *px)
{
	struct preq *q = px->rq_head;
	if (q) {
		px->rq_head = q->next;
		if (!px->rq_head)
			px->rq_tail = &px->rq_head;
		q->next = NULL;
	}
	return q;
}

/* The host went down (or the instance goes away): every request in
 * flight fails with why. */
static void rq_fail_all(struct proxy *px, const char *why)
{
	struct preq *q;
	while ((q = rq_pop(px))) {
		q->rc = MAMORI_E_IO;
		q->lost = 1;
		snprintf(q->why, sizeof q->why, "%s", why);
		rq_done(q);
	}
}

static struct preq *send_init(struct proxy *px)
{
	char dir[PATH_MAX] = "";
	host_table()->data_path(".", dir, sizeof dir);
	struct preq *q = rq_push(px, WIRE_INIT_R, ++px->seq, NULL);
	size_t m = wire_begin(&px->out, WIRE_INIT);
	wbuf_u32(&px->out, q->seq);
	wbuf_str(&px->out, dir);
	wbuf_i32(&px->out, log_get_level());
	wbuf_str(&px->out, px->inst_text);
	wire_end(&px->out, m);
	px_flush(px);
	return q;
}

static struct preq *send_prepare(struct proxy *px, struct pcheck *pc)
{
	struct preq *q = rq_push(px, WIRE_PREPARE_R, ++px->seq, pc);
	size_t m = wire_begin(&px->out, WIRE_PREPARE);
	wbuf_u32(&px->out, q->seq);
	wbuf_put(&px->out, pc->body.p, pc->body.len);
	wire_end(&px->out, m);
	px_flush(px);
	return q;
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
	/* What it sent before it died (results, its WIRE_FATAL) is still in
	 * the socket: read it first, EOF included. */
	if (px->up && px->fd >= 0)
		px_read(px);
	if (px->up)
		px_lost(px, px->fatal[0] ? px->fatal : "exited");
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
	char fdarg[16], limarg[24];
	snprintf(fdarg, sizeof fdarg, "%d", CHILD_FD);
	snprintf(limarg, sizeof limarg, "%llu", (unsigned long long)px->memory_limit);
	/* The host sets its own limit (RLIMIT_DATA) before it loads the
	 * plugin: posix_spawn has no step between fork and exec for it. */
	char *const argv[] = {
		exe, "--plugin-host", fdarg, px->path, px->memory_limit ? limarg : NULL, NULL
	};
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
	wire_reader_reset(&px->rd);
	px->out.len = px->out.off = 0;
	px->fatal[0] = '\0';
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
	rq_fail_all(px, px->why[0] ? px->why : "crashed or hung");
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

void proxy_fatal_why(int sig, uint32_t used_kib, uint32_t limit_kib, char *buf, size_t n)
{
	/* A host that dies within MEM_NEAR of its limit ran out of it: the
	 * allocation that failed may have asked for a big block at once. */
	uint64_t used = used_kib, limit = limit_kib;
	uint64_t near = limit / 4 < MEM_NEAR_KIB ? limit / 4 : MEM_NEAR_KIB;
	if (limit && used + near >= limit)
		snprintf(
		    buf, n, "ran out of memory (memory_limit %llu MiB, %llu MiB in use, signal %d)",
		    (unsigned long long)(limit / 1024), (unsigned long long)(used / 1024), sig);
	else
		snprintf(buf, n, "crashed (signal %d)", sig);
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
	uint32_t id = m->id;
	int rc = m->rc;
	struct mamori_result res = { .struct_size = sizeof res };
	res.state = m->state;
	res.flags = m->flags;
	res.output = m->output;
	res.long_output = m->long_output;
	res.perf_text = m->perf_text;
	struct prun *run = hmap_del(&px->runs, (const char *)&id, sizeof id);
	if (!run)
		return; /* cancelled meanwhile: never completed twice */
	char msg[200];
	if (rc != 0) {
		snprintf(msg, sizeof msg, "check could not start: %s", host_table()->strerror(rc));
		memset(&res, 0, sizeof res);
		res.struct_size = sizeof res;
		res.state = MAMORI_UNKNOWN;
		res.output = msg;
	}
	host_table()->run_complete(run->run, &res);
	free(run);
}

/* An init or prepare answer: it must answer the oldest request in flight
 * (a host answers in order). */
static void on_reply(struct proxy *px, const struct wire_host_msg *m)
{
	int type = m->type;
	uint32_t seq = m->id;
	int rc = m->rc;
	const char *errs = m->text;
	struct preq *q = px->rq_head;
	if (!q || q->seq != seq || q->type != type) {
		px_lost(px, WHY_NO_REQUEST);
		return;
	}
	rq_pop(px);
	/* It answers, so its loop moves: the watchdog counts from here. */
	if (px->ping_sent > 0)
		px->ping_sent = ev_now(px->loop);
	q->rc = rc;
	if (q->w) {
		q->errs = rc != 0 && errs && *errs ? xstrdup(errs) : NULL;
		rq_done(q);
		return;
	}
	int abandoned = q->abandoned;
	rq_done(q);
	if (rc == 0 || abandoned)
		return;
	/* Nobody waits (a restart re-prepares): logged. */
	log_err("isolate", "plugin '%s' after restart: %s failed: %s", px->def.name,
	        type == WIRE_INIT_R ? "init" : "check_prepare",
	        errs && *errs ? errs : host_table()->strerror(rc));
	if (type == WIRE_INIT_R)
		px_lost(px, "failed to initialise");
}

/* A log message from the host: passed on, HOST_LOG_LINES a second; a host
 * beyond HOST_LOG_FLOOD_* is lost. */
static void on_host_log(struct proxy *px, const struct wire_host_msg *m)
{
	int level = m->level;
	const char *text = m->text;
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
	px->hlog.bytes += m->len;
	if (px->hlog.frames > HOST_LOG_FLOOD_FRAMES || px->hlog.bytes > HOST_LOG_FLOOD_BYTES) {
		px_lost(px, WHY_FLOOD_LOG);
		return;
	}
	if (++px->hlog.lines > HOST_LOG_LINES) {
		px->hlog.dropped++;
		return;
	}
	level = level < LOG_LVL_ERR ? LOG_LVL_ERR : level > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : level;
	log_msg("isolate", level, "plugin '%s' (host %d): %s", px->def.name, (int)px->pid,
	        text ? text : "");
}

/* The instance's metrics, sent with every pong: keep the last ones (the
 * only thing kept of what a host sends; bounded by WIRE_METRICS' limit
 * on series and PX_METRICS_MAX bytes). */
static int on_metrics(struct proxy *px, const struct wire_host_msg *m)
{
	if (m->data_len > PX_METRICS_MAX)
		return -1;
	free(px->metrics);
	px->metrics = m->data_len ? xmalloc(m->data_len) : NULL;
	if (m->data_len)
		memcpy(px->metrics, m->data, m->data_len);
	px->metrics_len = m->data_len;
	px->metrics_n = m->count;
	return 0;
}

/* The host is dying (its signal handler's last words, sent only by a host
 * with a memory limit): why it went down, for the log and its checks'
 * UNKNOWN output, once the connection closes. */
static void on_fatal(struct proxy *px, const struct wire_host_msg *m)
{
	proxy_fatal_why(m->level, m->used_kib, m->limit_kib, px->fatal, sizeof px->fatal);
}

/* The synthetic module's metrics: the host's last values, checked again
 * by host->metric like any plugin's. */
static void px_metrics(void *inst, struct mamori_metrics *mm)
{
	struct proxy *px = inst;
	struct rbuf r = { .p = px->metrics, .len = px->metrics_len };
	for (uint32_t i = 0; i < px->metrics_n; i++) {
		struct mamori_metric x;
		const char *lab[2 * MAMORI_METRIC_MAX_LABELS];
		if (wire_get_metric(&r, &x, lab) != 0)
			break;
		host_table()->metric(mm, &x);
	}
}

/* One message (decoded by the reader: well-formed); 0 ok, -1 refused. */
static int px_dispatch(struct proxy *px, const struct wire_host_msg *m)
{
	switch (m->type) {
	case WIRE_RESULT: on_result(px, m); break;
	case WIRE_PONG:
		if (m->id == px->ping_seq)
			px->ping_sent = 0;
		break;
	case WIRE_INIT_R:
	case WIRE_PREPARE_R: on_reply(px, m); break;
	case WIRE_LOG: on_host_log(px, m); break;
	case WIRE_METRICS: return on_metrics(px, m);
	case WIRE_FATAL: on_fatal(px, m); break;
	default: return -1;
	}
	return 0;
}

/* Handle the complete messages the reader has (wire_reader: the framing
 * and decoding, whatever chunks the stream came in). */
static void px_drain(struct proxy *px)
{
	unsigned gen = px->gen;
	while (px->gen == gen) {
		struct wire_host_msg m;
		int rc = wire_reader_next(&px->rd, &m);
		if (rc == 0)
			break;
		if (rc < 0 || px_dispatch(px, &m) != 0) {
			px_lost(px, "sent a malformed message");
			break;
		}
	}
	if (px->gen != gen)
		wire_reader_reset(&px->rd);
}

/* Read what the host sent and handle it. */
static void px_read(struct proxy *px)
{
	int eof = wire_fill(px->fd, &px->rd.in) < 0;
	px_drain(px); /* results and answers sent just before a crash still count */
	if (eof)
		px_lost(px, px->fatal[0] ? px->fatal : "crashed (connection closed)");
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proxy *px = w->data;
	if (revents & EV_WRITE)
		px_flush(px);
	if ((revents & EV_READ) && px->fd >= 0)
		px_read(px);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	if (px->up && px->fd >= 0 && wire_flush(px->fd, &px->out) < 0)
		px_lost(px, "crashed (write failed)");
	if (!px->up)
		fail_runs(px);
}

static void on_ping(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proxy *px = w->data;
	if (!px->up)
		return;
	double now = ev_now(loop);
	/* A host with init or prepare requests in flight is busy in the
	 * plugin's init or check_prepare, which may take seconds: it gets
	 * answer_timeout from its last answer (a build waiting for it ends
	 * at its own deadline anyway). */
	double limit = px->hang_after;
	if (px->rq_head && answer_timeout > limit)
		limit = answer_timeout;
	if (px->ping_sent > 0 && now - px->ping_sent > limit) {
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
		if (!pc->failed)
			send_prepare(px, pc);
}

/* ---- waiting for answers (struct proxy_wait) ---- */

/* Call done once, from the loop; done may free w. */
static void wait_fire(struct proxy_wait *w)
{
	ev_timer_stop(w->loop, &w->timer);
	ev_timer_stop(w->loop, &w->kick);
	void (*done)(void *) = w->done;
	w->done = NULL;
	if (done)
		done(w->ud);
}

/* The deadline passed: a host that still owes an answer is hung (killed,
 * restarted); its requests fail with why. */
static void wait_expire(struct proxy_wait *w)
{
	for (struct preq *q = w->head; q; q = q->wnext)
		if (q->queued) {
			px_lost(q->px, WHY_NO_ANSWER);
			if (q->queued) /* not up: cannot happen, but never wait on */
				rq_fail_all(q->px, WHY_NO_ANSWER);
		}
}

static void on_wait_kick(struct ev_loop *loop, ev_timer *t, int revents)
{
	wait_fire(t->data);
}

static void on_wait_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct proxy_wait *w = t->data;
	wait_expire(w);
	wait_fire(w);
}

struct proxy_wait *proxy_wait_new(struct ev_loop *loop)
{
	struct proxy_wait *w = xcalloc(1, sizeof *w);
	w->loop = loop;
	w->tail = &w->head;
	w->deadline = mono_now() + answer_timeout;
	ev_timer_init(&w->timer, on_wait_timer, 0, 0);
	ev_timer_init(&w->kick, on_wait_kick, 0, 0);
	w->timer.data = w->kick.data = w;
	return w;
}

void proxy_wait_collect(struct proxy_wait *w)
{
	collecting = w;
}

size_t proxy_wait_pending(const struct proxy_wait *w)
{
	return w ? w->pending : 0;
}

void proxy_wait_start(struct proxy_wait *w, void (*done)(void *ud), void *ud)
{
	w->done = done;
	w->ud = ud;
	w->started = 1;
	if (!w->pending) {
		ev_timer_start(w->loop, &w->kick);
		return;
	}
	double left = w->deadline - mono_now();
	ev_timer_set(&w->timer, left > 0 ? left : 0, 0);
	ev_timer_start(w->loop, &w->timer);
}

void proxy_wait_block(struct proxy_wait *w)
{
	/* The hosts involved (none is freed meanwhile), each once. */
	size_t n = 0, cap = 0;
	struct proxy **pxs = NULL;
	for (struct preq *q = w->head; q; q = q->wnext) {
		size_t i = 0;
		while (i < n && pxs[i] != q->px)
			i++;
		if (i < n)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			pxs = xrealloc(pxs, cap * sizeof *pxs);
		}
		pxs[n++] = q->px;
	}
	struct pollfd *pfd = xcalloc(n ? n : 1, sizeof *pfd);
	while (w->pending) {
		double left = w->deadline - mono_now();
		if (left <= 0) {
			ev_now_update(w->loop); /* for the host's lifetime in the log */
			wait_expire(w);
			break;
		}
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!pxs[i]->waited || pxs[i]->fd < 0)
				continue;
			pfd[k].fd = pxs[i]->fd;
			pfd[k].events = POLLIN;
			if (pxs[i]->out.len > pxs[i]->out.off)
				pfd[k].events |= POLLOUT;
			pfd[k].revents = 0;
			pxs[k++] = pxs[i]; /* the ones still waited for move up */
		}
		n = k;
		if (poll(pfd, n, (int)(left * 1000) + 1) < 0 && errno != EINTR) {
			wait_expire(w);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct proxy *px = pxs[i];
			if (px->fd != pfd[i].fd || !pfd[i].revents)
				continue;
			if ((pfd[i].revents & POLLOUT) && wire_flush(px->fd, &px->out) < 0) {
				px_lost(px, "crashed (write failed)");
				continue;
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				px_read(px);
		}
	}
	free(pfd);
	free(pxs);
}

int proxy_wait_report(struct proxy_wait *w)
{
	const struct mamori_host *h = host_table();
	int failed = 0;
	for (struct preq *q = w->head; q; q = q->wnext) {
		if (q->queued) { /* not answered: cannot happen once nothing is pending */
			q->rc = MAMORI_E_IO;
			q->lost = 1;
			snprintf(q->why, sizeof q->why, "%s", WHY_NO_ANSWER);
		}
		if (q->rc == 0)
			continue;
		failed++;
		struct mamori_conf conf = { .s = q->s, .on_error = q->on_error, .ud = q->ud };
		char fallback[640];
		if (q->type == WIRE_INIT_R) {
			snprintf(fallback, sizeof fallback,
			         "the plugin host could not start the plugin%s%s",
			         q->lost ? ": it " : "", q->lost ? q->why : "");
		} else if (q->px->init_failed) {
			continue; /* its init's error says it all */
		} else if (q->lost) {
			snprintf(fallback, sizeof fallback,
			         "the plugin host %s while preparing this check", q->why);
		} else {
			/* as the registry says it of an in-process plugin */
			const struct mamori_check_info *in = q->chk ? h->check_info(q->chk) : NULL;
			snprintf(fallback, sizeof fallback, "check %s/%s/%s: %s",
			         in ? in->customer : "?", in ? in->asset : "?",
			         in ? in->check : "?", h->strerror(q->rc));
		}
		report_errors(&conf, q->lost ? NULL : q->errs, fallback);
		pconf_release(&conf);
	}
	return failed;
}

void proxy_wait_free(struct proxy_wait *w)
{
	if (!w)
		return;
	if (collecting == w)
		collecting = NULL;
	ev_timer_stop(w->loop, &w->timer);
	ev_timer_stop(w->loop, &w->kick);
	struct preq *next;
	for (struct preq *q = w->head; q; q = next) {
		next = q->wnext;
		if (q->queued) {
			/* still in its proxy's queue: the proxy frees it when
			 * the answer comes (ignored) or the host goes down */
			q->w = NULL;
			q->wnext = NULL;
			q->abandoned = 1;
			q->chk = NULL;
			if (q->pc)
				q->pc->q = NULL;
			q->pc = NULL;
			q->px->waited--;
		} else {
			free(q->errs);
			free(q);
		}
	}
	free(w);
}

void proxy_set_answer_timeout(double seconds)
{
	answer_timeout = seconds > 0 ? seconds : ANSWER_TIMEOUT;
}

/* ---- hosts of destroyed instances ---- */

struct reaper {
	ev_timer t;
	struct ev_loop *loop;
	pid_t pid;
	double kill_at; /* CLOCK_MONOTONIC */
	struct reaper *next, **pprev;
};

static struct reaper *reapers;

/* 1 once pid is gone: reaped here, or already by libev's SIGCHLD handler
 * (the default loop reaps every child). */
static int reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) != 0;
}

static void reaper_free(struct reaper *rp)
{
	ev_timer_stop(rp->loop, &rp->t);
	if (rp->next)
		rp->next->pprev = rp->pprev;
	*rp->pprev = rp->next;
	free(rp);
}

static void on_reap(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct reaper *rp = t->data;
	if (reaped(rp->pid)) {
		reaper_free(rp);
		return;
	}
	if (mono_now() >= rp->kill_at)
		kill(rp->pid, SIGKILL); /* not ours to wait for any longer */
}

/* The host's socket is closed: it cleans up and exits by itself.  Give it
 * REAP_GRACE, checked from a timer; never wait for it here. */
static void reap_later(struct ev_loop *loop, pid_t pid)
{
	if (reaped(pid))
		return;
	struct reaper *rp = xcalloc(1, sizeof *rp);
	rp->loop = loop;
	rp->pid = pid;
	rp->kill_at = mono_now() + REAP_GRACE;
	ev_timer_init(&rp->t, on_reap, REAP_POLL, REAP_POLL);
	rp->t.data = rp;
	ev_timer_start(loop, &rp->t);
	rp->next = reapers;
	if (reapers)
		reapers->pprev = &rp->next;
	rp->pprev = &reapers;
	reapers = rp;
}

void proxy_reap_all(void)
{
	while (reapers) {
		struct reaper *rp = reapers;
		while (!reaped(rp->pid) && mono_now() < rp->kill_at) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (!reaped(rp->pid)) {
			kill(rp->pid, SIGKILL);
			waitpid(rp->pid, NULL, 0);
		}
		reaper_free(rp);
	}
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
	if (pc->q) /* its prepare is still in flight: answered without it */
		pc->q->pc = NULL;
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

/* Sent, not waited for: the collecting wait gets the answer (see
 * proxy_wait); until then the check counts as prepared. */
static int px_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **check_data)
{
	struct proxy *px = inst;
	struct pcheck *pc = pcheck_new(px, chk, conf);
	*check_data = pc;
	if (!px->up)
		return 0; /* validated when the host is back */
	rq_collect(send_prepare(px, pc), conf, chk);
	return 0;
}

static void px_release(void *inst, struct mamori_check *chk, void *check_data)
{
	struct proxy *px = inst;
	struct pcheck *pc = check_data;
	if (!pc)
		return;
	if (px->up && !pc->failed)
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

static void px_destroy(void *inst)
{
	struct proxy *px = inst;
	if (!px)
		return;
	px_close(px, 0); /* it cleans up on EOF and leaves */
	if (px->pid > 0)
		reap_later(px->loop, px->pid);
	px->pid = 0;
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
	wire_reader_free(&px->rd);
	wbuf_free(&px->out);
	free(px->metrics);
	free(px->path);
	free(px->inst_text);
	free(px->mod.name);
	free(px);
}

/* ---- public ---- */

/* What proxy_new and proxy__detached share: the definition's calls, the
 * names, and the watchers (not started).  Takes inst_text. */
static void px_setup(struct proxy *px, struct ev_loop *loop, const char *name, const char *path,
                     char *inst_text)
{
	px->def.init = px_init;
	px->def.destroy = px_destroy;
	px->def.check_prepare = px_prepare;
	px->def.check_release = px_release;
	px->def.check_start = px_start;
	px->def.check_cancel = px_cancel;
	px->mod.name = xstrdup(name);
	px->mod.def = &px->def;
	px->path = xstrdup(path);
	px->inst_text = inst_text;
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
	px->rq_tail = &px->rq_head;
	px->ping.repeat = PING_EVERY;
	px->io.data = px->child.data = px->restart.data = px->kick.data = px->ping.data = px;
}

struct proxy *proxy_new(struct ev_loop *loop, const struct plugin_mod *real,
                        const struct mamori_conf *conf, uint64_t memory_limit)
{
	struct proxy *px = xcalloc(1, sizeof *px);
	px->memory_limit = memory_limit;
	/* A plugin built for an older minor has a shorter struct: copy what
	 * it has, the rest stays zero. */
	size_t have =
	    real->def->struct_size < sizeof px->def ? real->def->struct_size : sizeof px->def;
	memcpy(&px->def, real->def, have);
	px->def.struct_size = sizeof px->def;
	px->def.metrics = loader_has_metrics(real->def) ? px_metrics : NULL;
	px_setup(px, loop, real->name, real->path, conf_text(conf ? conf->s : NULL));
	px->mod.path = real->path; /* borrowed for messages; the loader outlives us */
	if (px_spawn(px) != 0) {
		report_errors(conf, NULL, "the plugin host could not start the plugin");
		px_destroy(px);
		return NULL;
	}
	/* init's answer: see proxy_wait */
	rq_collect(send_init(px), conf, NULL);
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

/* ---- without a process (fuzzing, tests) ---- */

struct proxy *proxy__detached(struct ev_loop *loop, const char *name)
{
	struct proxy *px = xcalloc(1, sizeof *px);
	px->def.struct_size = sizeof px->def;
	px->def.name = "detached";
	px_setup(px, loop, name, "/nonexistent", xstrdup(""));
	/* fd -1: what it sends goes nowhere (px_flush) */
	px->up = 1;
	px->started = ev_now(loop);
	send_init(px); /* a WIRE_INIT_R with seq 1 is expected */
	return px;
}

int proxy__feed(struct proxy *px, const void *data, size_t n, int eof)
{
	if (!px->up)
		return -1; /* as px_close stops the io watcher */
	wire_reader_put(&px->rd, data, n);
	px->out.len = px->out.off = 0; /* nobody reads what it sends */
	px_drain(px);
	if (eof)
		px_lost(px, px->fatal[0] ? px->fatal : "crashed (connection closed)");
	return px->up ? 0 : -1;
}

const char *proxy__why(const struct proxy *px)
{
	return px->up ? NULL : px_why(px);
}

size_t proxy__pending(const struct proxy *px)
{
	return wire_reader_pending(&px->rd);
}

size_t proxy__metrics(const struct proxy *px, uint32_t *n)
{
	*n = px->metrics_n;
	return px->metrics_len;
}
