/*
 * isolate: the isolated plugin host process (the child side).  See isolate.h.
 *
 * Owns: one plugin instance, its prepared checks and runs in flight, keyed
 * by the ids the core's proxy chose.  Must never: touch the core's state
 * (there is none here), block its loop, or answer a run twice - runs come
 * from a free list and carry an `active` flag like the core's, so a plugin
 * that completes twice is caught instead of writing freed memory.
 * When the socket closes (mamorid stopped or dropped the instance) it
 * cancels what runs, releases the checks, destroys the instance and exits.
 *
 * With a memory limit (the instance's memory_limit, on the command line)
 * it sets RLIMIT_DATA on itself before the plugin is loaded (see
 * apply_memory_limit for why not RLIMIT_AS), no core dumps, and a handler
 * of the fatal signals that sends WIRE_FATAL (memory in use) when the
 * socket is at a frame boundary, then dies of the signal.
 */
#include "plugin/isolate.h"
#include "config/pconf.h"
#include "plugin/wire.h"
#include "plugin/host.h"
#include "perfdata/perfdata.h"
#include "plugin/loader.h"
#include "proc/proc.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <libconfig.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define N_INFO_STRS 8

struct mamori_check {
	uint32_t id;
	void *data;
	struct mamori_check_info info;
	char *strs[N_INFO_STRS];
};

struct mamori_run {
	uint32_t id;
	struct mamori_check *chk;
	void *state;
	uint8_t active, starting, done;
	struct mamori_run *next_free;
};

struct ph {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	struct wbuf in, out;
	struct loader *loader;
	const char *path;
	const struct mamori_plugin *def;
	const char *refused;
	void *inst;
	struct proc_ctx *procs;
	struct hmap checks; /* id -> struct mamori_check */
	struct hmap runs;   /* id -> struct mamori_run (active) */
	struct mamori_run *free_runs;
	struct wbuf errs; /* config errors of the current init/prepare */
	struct host_ops ops;
};

/* ---- output ---- */

/* 1 while the socket is at a frame boundary (nothing half-sent): only then
 * may the fatal-signal handler add a frame of its own. */
static volatile sig_atomic_t wire_clean = 1;

static void ph_flush(struct ph *ph)
{
	wire_clean = 0;
	int rc = wire_flush(ph->fd, &ph->out);
	wire_clean = rc == 0;
	if (rc < 0) {
		ev_break(ph->loop, EVBREAK_ALL); /* the core is gone */
		return;
	}
	int want = EV_READ | (rc > 0 ? EV_WRITE : 0);
	if ((ph->io.events & (EV_READ | EV_WRITE)) != want) {
		ev_io_stop(ph->loop, &ph->io);
		ev_io_set(&ph->io, ph->fd, want);
		ev_io_start(ph->loop, &ph->io);
	}
}

static void send_reply(struct ph *ph, int type, uint32_t seq, int rc)
{
	size_t m = wire_begin(&ph->out, type);
	wbuf_u32(&ph->out, seq);
	wbuf_i32(&ph->out, rc);
	wbuf_put(&ph->errs, "", 1);
	wbuf_str(&ph->out, ph->errs.p);
	wire_end(&ph->out, m);
	ph->errs.len = 0;
	ph_flush(ph);
}

/* Errors arrive as "(config):LINE: text"; the line is of the text the core
 * sent, meaningless to the user, so keep the text: the core puts it at
 * the key's real file:line. */
static void on_conf_error(void *ud, const char *msg)
{
	struct ph *ph = ud;
	if (strncmp(msg, "(config):", 9) == 0) {
		const char *p = strstr(msg, ": ");
		if (p)
			msg = p + 2;
	}
	wbuf_put(&ph->errs, msg, strlen(msg));
	wbuf_put(&ph->errs, "\n", 1);
}

/* ---- host_ops: what the plugin reaches through the host API ---- */

static void send_result(struct ph *ph, uint32_t id, int rc, const struct mamori_result *res)
{
	char perf[8192] = "";
	const char *perf_text = res ? res->perf_text : NULL;
	if (res && res->perf && res->n_perf) {
		/* Parsed items travel as text; the core parses them back. */
		perf_format_all(res->perf, res->n_perf, perf, sizeof perf);
		perf_text = perf;
	}
	size_t m = wire_begin(&ph->out, WIRE_RESULT);
	wbuf_u32(&ph->out, id);
	wbuf_i32(&ph->out, rc);
	wbuf_i32(&ph->out, res ? res->state : MAMORI_UNKNOWN);
	wbuf_u32(&ph->out, res ? res->flags : 0);
	wbuf_str(&ph->out, res ? res->output : NULL);
	wbuf_str(&ph->out, res ? res->long_output : NULL);
	wbuf_str(&ph->out, perf_text);
	wire_end(&ph->out, m);
	ph_flush(ph);
}

static void run_put(struct ph *ph, struct mamori_run *r)
{
	hmap_del(&ph->runs, (const char *)&r->id, sizeof r->id);
	r->active = 0;
	r->next_free = ph->free_runs;
	ph->free_runs = r;
}

static void ops_run_complete(void *ctx, struct mamori_run *run, const struct mamori_result *res)
{
	struct ph *ph = ctx;
	if (!run || !run->active || run->done) {
		log_warn("plughost", "plugin completed a run twice or after cancel (ignored)");
		return;
	}
	run->done = 1;
	send_result(ph, run->id, 0, res);
	if (!run->starting)
		run_put(ph, run);
}

static struct mamori_check *ops_run_check(void *ctx, const struct mamori_run *run)
{
	return run ? run->chk : NULL;
}

static const struct mamori_check_info *ops_check_info(void *ctx, const struct mamori_check *chk)
{
	return chk ? &chk->info : NULL;
}

static void *ops_check_data(void *ctx, void *inst, const struct mamori_check *chk)
{
	struct ph *ph = ctx;
	return chk && inst == ph->inst ? chk->data : NULL;
}

/* ---- requests ---- */

static int parse_conf(config_t *cfg, const char *text)
{
	config_init(cfg);
	if (config_read_string(cfg, text ? text : "") != CONFIG_TRUE) {
		log_err("plughost", "bad config text from the core: %s", config_error_text(cfg));
		return -1;
	}
	return 0;
}

static void do_init(struct ph *ph, struct rbuf *r)
{
	uint32_t seq = rbuf_u32(r);
	const char *datadir = rbuf_str(r);
	int level = rbuf_i32(r);
	const char *text = rbuf_str(r);
	int rc = MAMORI_E_INVAL;
	config_t cfg;
	if (r->bad || ph->def) {
		send_reply(ph, WIRE_INIT_R, seq, rc);
		return;
	}
	if (level >= LOG_LVL_ERR && level <= LOG_LVL_DEBUG)
		log_set_level(level);
	host_bind(ph->loop, ph->procs, &ph->ops, ph, datadir);
	/* Loaded now, with the core's log level in force. */
	struct plugin_mod *m = loader_load(ph->loader, ph->path);
	ph->def = m ? m->def : NULL;
	ph->refused = m ? m->refused : NULL;
	if (!ph->def) {
		on_conf_error(ph, ph->refused ? ph->refused : "plugin not loaded");
		send_reply(ph, WIRE_INIT_R, seq, MAMORI_E_NOTSUP);
		return;
	}
	if (parse_conf(&cfg, text) == 0) {
		struct mamori_conf conf = { .s = config_root_setting(&cfg),
			                    .on_error = on_conf_error,
			                    .ud = ph };
		rc = ph->def->init(host_table(), &conf, &ph->inst);
		pconf_release(&conf);
		if (rc != 0) {
			ph->def->destroy(ph->inst);
			ph->inst = NULL;
		} else {
			host_name_instance(ph->inst, ph->def->name);
		}
	}
	config_destroy(&cfg);
	send_reply(ph, WIRE_INIT_R, seq, rc);
}

static void check_free(struct mamori_check *c)
{
	for (size_t i = 0; i < N_INFO_STRS; i++)
		free(c->strs[i]);
	free(c);
}

static struct mamori_check *check_decode(struct rbuf *r)
{
	struct mamori_check *c = xcalloc(1, sizeof *c);
	c->id = rbuf_u32(r);
	for (size_t i = 0; i < N_INFO_STRS; i++) {
		const char *s = rbuf_str(r);
		c->strs[i] = xstrdup(s ? s : "");
	}
	struct mamori_check_info *in = &c->info;
	in->struct_size = sizeof *in;
	in->customer = c->strs[0];
	in->customer_name = c->strs[1];
	in->region = c->strs[2];
	in->asset = c->strs[3];
	in->asset_type = c->strs[4];
	in->address = c->strs[5];
	in->check = c->strs[6];
	in->service = c->strs[7];
	in->interval = rbuf_f64(r);
	in->timeout = rbuf_f64(r);
	return c;
}

static void do_prepare(struct ph *ph, struct rbuf *r)
{
	uint32_t seq = rbuf_u32(r);
	struct mamori_check *c = check_decode(r);
	const char *text = rbuf_str(r);
	int rc = MAMORI_E_INVAL;
	config_t cfg;
	if (r->bad || !ph->inst || hmap_get(&ph->checks, (const char *)&c->id, sizeof c->id)) {
		if (!ph->inst)
			on_conf_error(ph, "plugin instance not initialised");
		check_free(c);
		send_reply(ph, WIRE_PREPARE_R, seq, r->bad || ph->inst ? rc : MAMORI_E_NOTSUP);
		return;
	}
	if (parse_conf(&cfg, text) == 0) {
		struct mamori_conf conf = { .s = config_root_setting(&cfg),
			                    .on_error = on_conf_error,
			                    .ud = ph };
		rc = ph->def->check_prepare(ph->inst, c, &conf, &c->data);
		pconf_release(&conf);
	}
	config_destroy(&cfg);
	if (rc == 0)
		hmap_put(&ph->checks, (const char *)&c->id, sizeof c->id, c);
	else
		check_free(c);
	send_reply(ph, WIRE_PREPARE_R, seq, rc);
}

static void do_release(struct ph *ph, struct rbuf *r)
{
	uint32_t id = rbuf_u32(r);
	struct mamori_check *c =
	    r->bad ? NULL : hmap_del(&ph->checks, (const char *)&id, sizeof id);
	if (!c)
		return;
	ph->def->check_release(ph->inst, c, c->data);
	check_free(c);
}

static struct mamori_run *run_get(struct ph *ph, uint32_t id, struct mamori_check *c)
{
	struct mamori_run *run = ph->free_runs;
	if (run)
		ph->free_runs = run->next_free;
	else
		run = xmalloc(sizeof *run);
	memset(run, 0, sizeof *run);
	run->id = id;
	run->chk = c;
	run->active = 1;
	hmap_put(&ph->runs, (const char *)&run->id, sizeof run->id, run);
	return run;
}

static void do_start(struct ph *ph, struct rbuf *r)
{
	uint32_t id = rbuf_u32(r);
	uint32_t cid = rbuf_u32(r);
	if (r->bad || hmap_get(&ph->runs, (const char *)&id, sizeof id))
		return;
	struct mamori_check *c = hmap_get(&ph->checks, (const char *)&cid, sizeof cid);
	if (!c) {
		struct mamori_result res = { .struct_size = sizeof res,
			                     .state = MAMORI_UNKNOWN,
			                     .output =
			                         "plugin host: check not prepared (see the log)" };
		send_result(ph, id, 0, &res);
		return;
	}
	struct mamori_run *run = run_get(ph, id, c);
	void *state = NULL;
	/* `starting`: a completion inside check_start must not free the run
	 * while the plugin may still write *run_state. */
	run->starting = 1;
	int rc = ph->def->check_start(ph->inst, run, c->data, &state);
	run->starting = 0;
	run->state = state;
	if (run->done) {
		run_put(ph, run);
	} else if (rc != 0) {
		send_result(ph, id, rc, NULL);
		run_put(ph, run);
	}
}

static void do_cancel(struct ph *ph, struct rbuf *r)
{
	uint32_t id = rbuf_u32(r);
	struct mamori_run *run = r->bad ? NULL : hmap_get(&ph->runs, (const char *)&id, sizeof id);
	if (!run)
		return; /* completed already: the core drops that result */
	ph->def->check_cancel(ph->inst, run, run->state);
	run_put(ph, run);
}

struct metrics_out {
	struct wbuf *b;
	uint32_t n;
};

static void put_metric(void *ud, const struct mamori_metric *x)
{
	struct metrics_out *mo = ud;
	wire_put_metric(mo->b, x);
	mo->n++;
}

/* The plugin's metrics (ABI 1.2) go with every pong: the core keeps the
 * last ones for its /metrics (it never waits for a host). */
static void send_metrics(struct ph *ph)
{
	if (!ph->inst || !loader_has_metrics(ph->def))
		return;
	size_t m = wire_begin(&ph->out, WIRE_METRICS);
	size_t at = ph->out.len;
	wbuf_u32(&ph->out, 0);
	struct metrics_out mo = { .b = &ph->out };
	host_collect_metrics(ph->def, ph->inst, put_metric, &mo);
	memcpy(ph->out.p + at, &mo.n, sizeof mo.n);
	wire_end(&ph->out, m);
}

static void do_ping(struct ph *ph, struct rbuf *r)
{
	uint32_t seq = rbuf_u32(r);
	size_t m = wire_begin(&ph->out, WIRE_PONG);
	wbuf_u32(&ph->out, seq);
	wire_end(&ph->out, m);
	send_metrics(ph);
	ph_flush(ph);
}

static int dispatch(struct ph *ph, int type, struct rbuf *r)
{
	int needs_inst = type == WIRE_RELEASE || type == WIRE_START || type == WIRE_CANCEL;
	if (needs_inst && !ph->inst)
		return type == WIRE_START ? -1 : 0; /* the core never starts before init */
	switch (type) {
	case WIRE_INIT: do_init(ph, r); break;
	case WIRE_PREPARE: do_prepare(ph, r); break;
	case WIRE_RELEASE: do_release(ph, r); break;
	case WIRE_START: do_start(ph, r); break;
	case WIRE_CANCEL: do_cancel(ph, r); break;
	case WIRE_PING: do_ping(ph, r); break;
	default: return -1;
	}
	return r->bad ? -1 : 0;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ph *ph = w->data;
	if (revents & EV_WRITE)
		ph_flush(ph);
	if (!(revents & EV_READ))
		return;
	int eof = wire_fill(ph->fd, &ph->in) < 0;
	size_t off = 0;
	for (;;) {
		struct rbuf body;
		int type;
		long n = wire_frame(ph->in.p + off, ph->in.len - off, &body, &type);
		if (n == 0)
			break;
		if (n < 0 || dispatch(ph, type, &body) != 0) {
			log_err("plughost", "malformed message from the core: stopping");
			eof = 1;
			break;
		}
		off += (size_t)n;
	}
	wbuf_consume(&ph->in, off);
	if (eof)
		ev_break(loop, EVBREAK_ALL);
}

/* ---- the memory limit ---- */

/* AddressSanitizer maps terabytes of shadow memory as private writable
 * memory, which RLIMIT_DATA counts: under it, no allocation would succeed. */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_ASAN 1
#endif
#endif

#ifndef HOST_ASAN
/* What the fatal-signal handler uses, set before it is installed. */
static int fatal_fd = -1;
static uint32_t fatal_limit_kib, page_kib = 4;

/* KiB of private writable memory (data and stack) in use, from
 * /proc/self/statm; 0 if unknown.  Async-signal-safe. */
static uint32_t data_kib(void)
{
	char buf[256];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* size resident shared text lib data dt, in pages: the sixth */
	const char *p = buf;
	for (int i = 0; i < 5; i++) {
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	uint64_t pages = 0;
	for (; *p >= '0' && *p <= '9' && pages < UINT32_MAX; p++)
		pages = pages * 10 + (uint64_t)(*p - '0');
	uint64_t kib = pages * page_kib;
	return kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
}

/* SIGABRT (a failed allocation the plugin or glibc gives up on), SIGSEGV
 * or SIGBUS: tell the core how much memory was in use (WIRE_FATAL) if the
 * socket is at a frame boundary, then die of the signal as without the
 * handler (SA_RESETHAND).  Only async-signal-safe calls. */
static void on_fatal_signal(int sig)
{
	int saved = errno;
	if (wire_clean && fatal_fd >= 0) {
		unsigned char f[4 + 1 + 12];
		uint32_t len = 1 + 12, used = data_kib();
		int32_t s = sig;
		memcpy(f, &len, 4);
		f[4] = WIRE_FATAL;
		memcpy(f + 5, &s, 4);
		memcpy(f + 9, &used, 4);
		memcpy(f + 13, &fatal_limit_kib, 4);
		ssize_t n = send(fatal_fd, f, sizeof f, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)n;
	}
	errno = saved;
	raise(sig);
}
#endif

/*
 * Limit what the host (and so the plugin) may allocate to `limit` bytes
 * of private writable memory: RLIMIT_DATA, which counts the heap,
 * malloc's blocks and thread stacks, but not mapped files, the libraries'
 * code or address space reserved without access, as RLIMIT_AS would (an
 * idle host: ~35 MB of address space, under 1 MB of data; a plugin's own
 * libraries would eat into an RLIMIT_AS without using memory).  Under
 * AddressSanitizer neither works (see HOST_ASAN).  Soft and hard limit
 * both, so the plugin cannot raise it.  A host with a limit dumps no core
 * (RLIMIT_CORE 0: a runaway host would write one as big as the limit at
 * every restart).  Done before the plugin is loaded.
 */
static void apply_memory_limit(int fd, uint64_t limit)
{
	if (!limit)
		return;
#ifdef HOST_ASAN
	(void)fd;
	log_notice("plughost",
	           "memory_limit not applied: this is an AddressSanitizer build (its shadow "
	           "memory counts as data)");
#else
	struct rlimit rl;
	if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < limit) {
		log_warn("plughost", "memory_limit %llu above the hard limit %llu: using that",
		         (unsigned long long)limit, (unsigned long long)rl.rlim_max);
		limit = rl.rlim_max;
	}
	rl.rlim_cur = rl.rlim_max = limit;
	if (setrlimit(RLIMIT_DATA, &rl) != 0) {
		log_err("plughost", "cannot set memory_limit: %s", strerror(errno));
		return;
	}
	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		rl.rlim_cur = 0;
		setrlimit(RLIMIT_CORE, &rl);
	}
	long ps = sysconf(_SC_PAGESIZE);
	page_kib = ps >= 1024 ? (uint32_t)(ps / 1024) : 4;
	fatal_fd = fd;
	fatal_limit_kib = limit / 1024 > UINT32_MAX ? UINT32_MAX : (uint32_t)(limit / 1024);
	/* its own stack: a stack overflow is a SIGSEGV too */
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	sigaltstack(&ss, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGABRT, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
#endif
}

/* ---- process ---- */

static int stderr_is_devnull(void)
{
	struct stat a, b;
	return fstat(2, &a) == 0 && stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev &&
	       S_ISCHR(a.st_mode);
}

static void ph_cleanup(struct ph *ph)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (ph->inst && hmap_next(&ph->runs, &it, &e)) {
		struct mamori_run *run = e->value;
		ph->def->check_cancel(ph->inst, run, run->state);
	}
	it = 0;
	while (hmap_next(&ph->runs, &it, &e))
		free(e->value);
	hmap_free(&ph->runs);
	while (ph->free_runs) {
		struct mamori_run *run = ph->free_runs;
		ph->free_runs = run->next_free;
		free(run);
	}
	it = 0;
	while (hmap_next(&ph->checks, &it, &e)) {
		struct mamori_check *c = e->value;
		if (ph->inst)
			ph->def->check_release(ph->inst, c, c->data);
		check_free(c);
	}
	hmap_free(&ph->checks);
	if (ph->inst) {
		ph->def->destroy(ph->inst);
		host_forget_instance(ph->inst);
	}
	ev_io_stop(ph->loop, &ph->io);
	proc_ctx_free(ph->procs);
	host_unbind();
	loader_free(ph->loader);
	wbuf_free(&ph->in);
	wbuf_free(&ph->out);
	wbuf_free(&ph->errs);
	close(ph->fd);
}

int plughost_main(int fd, const char *plugin_path, uint64_t memory_limit)
{
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive mamorid */
#endif
	/* Only the core decides when this process ends (it closes the socket);
	 * a terminal's ^C or a HUP to the group must not kill it first. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	log_open("mamorid", !stderr_is_devnull(), LOG_LVL_INFO);
	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_err("plughost", "bad socket fd %d", fd);
		return 2;
	}
	apply_memory_limit(fd, memory_limit); /* before the plugin is loaded */
	struct ph ph;
	memset(&ph, 0, sizeof ph);
	ph.fd = fd;
	ph.loop = ev_default_loop(EVFLAG_AUTO);
	ph.procs = proc_ctx_new(ph.loop);
	hmap_init(&ph.checks);
	hmap_init(&ph.runs);
	ph.ops.run_complete = ops_run_complete;
	ph.ops.run_check = ops_run_check;
	ph.ops.check_info = ops_check_info;
	ph.ops.check_data = ops_check_data;
	host_bind(ph.loop, ph.procs, &ph.ops, &ph, NULL);
	ph.loader = loader_new();
	ph.path = plugin_path;
	ev_io_init(&ph.io, on_io, fd, EV_READ);
	ph.io.data = &ph;
	ev_io_start(ph.loop, &ph.io);
	ev_run(ph.loop, 0);
	ph_cleanup(&ph);
	return 0;
}

int plughost_argv(int argc, char **argv, int *rc)
{
	if ((argc != 4 && argc != 5) || strcmp(argv[1], "--plugin-host") != 0)
		return 0;
	uint64_t limit = 0;
	if (argc == 5) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(argv[4], &end, 10);
		if (errno || end == argv[4] || *end) {
			fprintf(stderr, "mamorid --plugin-host: bad memory limit '%s'\n", argv[4]);
			*rc = 2;
			return 1;
		}
		limit = v;
	}
	*rc = plughost_main(atoi(argv[2]), argv[3], limit);
	return 1;
}
