/*
 * plugbench.h: drive one plugin through the real loader and host API on
 * libev, as fast as it completes, and report the CPU it costs per check
 * (user+sys of this process: plugin, its libraries and the host's share;
 * the servers and spawned children are not counted, see pb_child_cpu).
 * Shared by utm_bench.c and mail_bench.c; header-only because the
 * Makefile builds each C file of tests/bench into its own program.
 *
 * Each in-flight slot is its own prepared check (the core never runs one
 * check twice at once), restarted as soon as its run completes, until the
 * requested number of runs completed.  A run that does not end in the
 * expected state makes the measurement fail (exit 1): a benchmark of a
 * broken check measures nothing.
 */
#ifndef MAMORI_PLUGBENCH_H
#define MAMORI_PLUGBENCH_H

#include <arpa/inet.h>
#include <ev.h>
#include <fcntl.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "proc/proc.h"

extern char **environ;

/* The bench's own view of a check and a run (opaque to the plugin). */
struct mamori_check {
	struct mamori_check_info info;
};

struct mamori_run {
	struct pb_slot *slot;
};

struct pb_slot {
	struct mamori_check chk;
	struct mamori_run run;
	void *data;
	int prepared;
	char name[32]; /* check name: distinct per slot (mail probes are tagged by it) */
};

struct pb {
	struct ev_loop *loop;
	struct proc_ctx *procs;
	struct loader *ld;
	const struct plugin_mod *mod;
	void *inst;
	struct pb_slot *slots;
	long nslots, started, done, bad, total;
	int expect;
	char first_bad[256];
};

static inline int pb_start(struct pb *b, struct pb_slot *s)
{
	void *rs;
	b->started++;
	return b->mod->def->check_start(b->inst, &s->run, s->data, &rs);
}

static inline void pb_ops_complete(void *ctx, struct mamori_run *run, const struct mamori_result *r)
{
	struct pb *b = ctx;
	b->done++;
	if (r->state != b->expect && b->bad++ == 0)
		snprintf(b->first_bad, sizeof(b->first_bad), "state %d: %s", r->state,
		         r->output ? r->output : "");
	if (b->started < b->total && pb_start(b, run->slot) != 0)
		b->bad++, b->done++;
	if (b->done >= b->total)
		ev_break(b->loop, EVBREAK_ALL);
}

static inline const struct mamori_check_info *pb_ops_info(void *ctx, const struct mamori_check *c)
{
	(void)ctx;
	return &c->info;
}

static inline struct mamori_check *pb_ops_run_check(void *ctx, const struct mamori_run *run)
{
	(void)ctx;
	return &run->slot->chk;
}

static inline void pb_on_err(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "config: %s\n", msg);
}

/* Load `so`, init an instance with no instance keys.  0 or -1. */
static inline int pb_open(struct pb *b, const char *so)
{
	static const struct host_ops ops = { .run_complete = pb_ops_complete,
		                             .run_check = pb_ops_run_check,
		                             .check_info = pb_ops_info };
	b->loop = ev_default_loop(0);
	b->procs = proc_ctx_new(b->loop);
	host_bind(b->loop, b->procs, &ops, b, "share/mamori");
	b->ld = loader_new();
	b->mod = loader_load(b->ld, so);
	if (!b->mod || !b->mod->def ||
	    b->mod->def->init(host_table(), &(struct mamori_conf){ 0 }, &b->inst) != 0) {
		fprintf(stderr, "cannot load or init %s\n", so);
		b->mod = NULL;
		return -1;
	}
	return 0;
}

static inline void pb_release(struct pb *b)
{
	for (long i = 0; i < b->nslots; i++)
		if (b->slots[i].prepared)
			b->mod->def->check_release(b->inst, &b->slots[i].chk, b->slots[i].data);
	free(b->slots);
	b->slots = NULL;
	b->nslots = 0;
}

/* Prepare `n` checks from the libconfig text "check = { ... };". */
static inline int pb_prepare(struct pb *b, const char *text, long n, const char *address)
{
	b->slots = calloc((size_t)n, sizeof(*b->slots));
	if (!b->slots)
		return -1;
	b->nslots = n;
	for (long i = 0; i < n; i++) {
		struct pb_slot *s = &b->slots[i];
		struct mamori_conf conf = { .on_error = pb_on_err };
		config_t cfg;
		int rc = -1;
		s->run.slot = s;
		snprintf(s->name, sizeof(s->name), "bench-%ld", i);
		s->chk.info = (struct mamori_check_info){ .struct_size = sizeof(s->chk.info),
			                                  .customer = "c0001",
			                                  .customer_name = "Bench",
			                                  .region = "",
			                                  .asset = "utm-1",
			                                  .asset_type = "host",
			                                  .address = address,
			                                  .check = s->name,
			                                  .service = "other",
			                                  .interval = 60,
			                                  .timeout = 30 };
		config_init(&cfg);
		if (config_read_string(&cfg, text)) {
			conf.s = config_lookup(&cfg, "check");
			rc = b->mod->def->check_prepare(b->inst, &s->chk, &conf, &s->data);
			pconf_release(&conf);
		} else {
			fprintf(stderr, "config line %d: %s\n", config_error_line(&cfg),
			        config_error_text(&cfg));
		}
		config_destroy(&cfg);
		if (rc != 0)
			return -1;
		s->prepared = 1;
	}
	return 0;
}

/* Run `n` checks of config `text` with `conc` in flight; print one line
 * "<label> N checks, C in flight: X us CPU/check, Y checks/s wall".
 * Returns the CPU microseconds per check, or -1. */
static inline double pb_measure(struct pb *b, const char *label, const char *text, long n,
                                long conc, int expect, const char *address)
{
	double c0, w0, us;
	if (conc > n)
		conc = n;
	if (pb_prepare(b, text, conc, address) != 0) {
		pb_release(b);
		return -1;
	}
	b->started = b->done = b->bad = 0;
	b->total = n;
	b->expect = expect;
	b->first_bad[0] = '\0';
	c0 = bench_cpu();
	w0 = bench_mono();
	for (long i = 0; i < conc; i++)
		if (pb_start(b, &b->slots[i]) != 0) {
			pb_release(b);
			return -1;
		}
	ev_run(b->loop, 0);
	us = (bench_cpu() - c0) * 1e6 / (double)n;
	printf("%-22s %ld checks, %ld in flight: %.1f us CPU/check, %.0f checks/s wall%s%s\n",
	       label, n, conc, us, (double)n / (bench_mono() - w0), b->bad ? ", NOT OK: " : "",
	       b->first_bad);
	fflush(stdout);
	pb_release(b);
	return b->bad ? -1 : us;
}

static inline void pb_close(struct pb *b)
{
	if (b->mod)
		b->mod->def->destroy(b->inst);
	if (b->ld)
		loader_free(b->ld);
	if (b->procs)
		proc_ctx_free(b->procs);
	host_unbind();
}

/* A free 127.0.0.1 port for `type` (SOCK_STREAM or SOCK_DGRAM), -1. */
static inline int pb_free_port(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, type, 0), port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Spawn argv with stdin from /dev/null and stdout+stderr to `log`
 * (NULL: /dev/null).  Returns the pid or -1. */
static inline pid_t pb_spawn(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log ? log : "/dev/null",
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static inline void pb_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Wait (max `ms`) until a TCP connect to 127.0.0.1:port succeeds. */
static inline int pb_wait_tcp(int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	for (int t = 0; t < ms; t += 50) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return 0;
		poll(NULL, 0, 50);
	}
	return -1;
}

/* user+sys CPU seconds of the children waited for so far. */
static inline double pb_child_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Run argv `n` times one after another (output discarded) and return the
 * children's CPU microseconds per run, or -1 when one run fails. */
static inline double pb_reference(char *const argv[], long n)
{
	double c0 = pb_child_cpu();
	for (long i = 0; i < n; i++) {
		int st;
		pid_t pid = pb_spawn(argv, NULL);
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			return -1;
	}
	return (pb_child_cpu() - c0) * 1e6 / (double)n;
}

#endif
