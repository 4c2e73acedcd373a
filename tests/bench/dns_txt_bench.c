/*
 * dns_txt_bench: CPU per check of the dns_txt plugin against a real
 * dnsmasq on loopback, through the real loader and host API on libev.
 *
 *   build/bench/dns_txt_bench [checks=10000] [in_flight=50]
 *
 * Keeps `in_flight` runs going on one check (they share the instance's
 * c-ares channel, as all checks naming one server do) until `checks` runs
 * completed, for kind exists (one query) and kind spf (five queries: the
 * record and one include over TXT, then the include's a and mx targets
 * over A, AAAA and MX, for void lookups and the MX limit).  Prints CPU
 * microseconds per check (user+sys of this process: plugin, c-ares and
 * the host's share; dnsmasq excluded).
 * Target: <= 50 us per check.  Exits 1 if a run did not end OK.
 */
#include <arpa/inet.h>
#include <ev.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "proc/proc.h"

extern char **environ;

struct mamori_check {
	struct mamori_check_info info;
};

struct mamori_run {
	int used;
};

struct bench {
	struct ev_loop *loop;
	const struct plugin_mod *mod;
	void *inst;
	void *data;
	struct mamori_check chk;
	struct mamori_run *runs;
	long started, done, bad, total;
	char first_bad[256];
};

static int start_one(struct bench *b, struct mamori_run *run)
{
	void *rs;

	b->started++;
	return b->mod->def->check_start(b->inst, run, b->data, &rs);
}

static void ops_complete(void *ctx, struct mamori_run *run, const struct mamori_result *r)
{
	struct bench *b = ctx;

	b->done++;
	if (r->state != MAMORI_OK && b->bad++ == 0)
		snprintf(b->first_bad, sizeof(b->first_bad), "%s", r->output ? r->output : "");
	if (b->started < b->total && start_one(b, run) != 0)
		b->bad++;
	if (b->done == b->total)
		ev_break(b->loop, EVBREAK_ALL);
}

static const struct mamori_check_info *ops_info(void *ctx, const struct mamori_check *c)
{
	return &c->info;
}

static struct mamori_check *ops_run_check(void *ctx, const struct mamori_run *run)
{
	return &((struct bench *)ctx)->chk;
}

static void on_err(void *ud, const char *msg)
{
	fprintf(stderr, "config: %s\n", msg);
}

static int prepare(struct bench *b, const char *text)
{
	config_t cfg;
	struct mamori_conf conf = { .on_error = on_err };
	int rc = -1;

	config_init(&cfg);
	if (config_read_string(&cfg, text)) {
		conf.s = config_lookup(&cfg, "check");
		rc = b->mod->def->check_prepare(b->inst, &b->chk, &conf, &b->data);
		pconf_release(&conf);
	}
	config_destroy(&cfg);
	return rc;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int measure(struct bench *b, const char *label, const char *conf, long n, long conc)
{
	double c0, w0;

	if (prepare(b, conf) != 0)
		return -1;
	b->started = b->done = b->bad = 0;
	b->total = n;
	b->first_bad[0] = '\0';
	c0 = cpu_now();
	w0 = ev_time();
	for (long i = 0; i < conc && i < n; i++)
		if (start_one(b, &b->runs[i]) != 0)
			return -1;
	ev_run(b->loop, 0);
	printf(
	    "dns_txt %-7s %ld checks, %ld in flight: %.1f us CPU/check, %.0f checks/s wall%s%s\n",
	    label, n, conc, (cpu_now() - c0) * 1e6 / n, n / (ev_time() - w0),
	    b->bad ? ", NOT OK: " : "", b->first_bad);
	b->mod->def->check_release(b->inst, &b->chk, b->data);
	return b->bad ? -1 : 0;
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start dnsmasq and wait (poll, max 5 s) until a TCP connect succeeds. */
static pid_t dnsmasq(int port)
{
	char portarg[32];
	const char *argv[] = {
		"/usr/sbin/dnsmasq",
		"--no-daemon",
		portarg,
		"--listen-address=127.0.0.1",
		"--bind-interfaces",
		"--no-resolv",
		"--no-hosts",
		"--pid-file=",
		"-C",
		"/dev/null",
		"--log-facility=/dev/null",
		"--local=/test/",
		"--txt-record=a.test,mail-filter-verify=9f86d081884c7d65",
		"--txt-record=spf.test,v=spf1 ip4:192.0.2.0/24 include:_i.spf.test -all",
		"--txt-record=_i.spf.test,v=spf1 a mx ~all",
		NULL
	};
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons((uint16_t)port),
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(portarg, sizeof(portarg), "--port=%d", port);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 50; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return pid;
		poll(NULL, 0, 100);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct host_ops ops = { .run_complete = ops_complete,
		                             .run_check = ops_run_check,
		                             .check_info = ops_info };
	long n = argc > 1 ? atol(argv[1]) : 10000, conc = argc > 2 ? atol(argv[2]) : 50;
	const char *so = getenv("DNS_TXT_SO") ? getenv("DNS_TXT_SO") : "build/plugins/dns_txt.so";
	struct bench b = { 0 };
	struct proc_ctx *procs;
	struct loader *ld;
	char conf[256];
	int port = free_port(), rc = 1;
	pid_t pid;

	if (n < 1 || conc < 1 || port < 0)
		return 2;
	pid = dnsmasq(port);
	if (pid < 0) {
		fprintf(stderr, "dns_txt_bench: cannot start dnsmasq (Debian: dnsmasq-base)\n");
		return 77;
	}
	b.loop = ev_default_loop(0);
	b.runs = calloc((size_t)conc, sizeof(*b.runs));
	b.chk.info.struct_size = sizeof(b.chk.info);
	b.chk.info.address = "";
	procs = proc_ctx_new(b.loop);
	host_bind(b.loop, procs, &ops, &b, "share/mamori");
	ld = loader_new();
	b.mod = loader_load(ld, so);
	if (!b.mod || !b.mod->def ||
	    b.mod->def->init(host_table(), &(struct mamori_conf){ 0 }, &b.inst) != 0) {
		fprintf(stderr, "dns_txt_bench: cannot load %s\n", so);
		goto out;
	}
	snprintf(conf, sizeof(conf), "check = { record = \"a.test\"; server = \"127.0.0.1:%d\"; };",
	         port);
	if (measure(&b, "exists", conf, n, conc))
		goto out;
	snprintf(conf, sizeof(conf),
	         "check = { record = \"spf.test\"; kind = \"spf\"; server = \"127.0.0.1:%d\"; };",
	         port);
	if (measure(&b, "spf", conf, n, conc))
		goto out;
	rc = 0;
out:
	if (b.mod && b.mod->def)
		b.mod->def->destroy(b.inst);
	loader_free(ld);
	proc_ctx_free(procs);
	host_unbind();
	free(b.runs);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return rc;
}
