/*
 * bare_timer: the reference for the in-process pipeline benchmark.  A bare
 * libev loop with K repeating timers (one per "check", 1 ms apart, always
 * overdue, like 100,000 checks due as fast as possible), each callback
 * calling the dummy plugin's check_start through dlopen, whose completion
 * lands in a stub run_complete that only counts.  No scheduler wheel, no
 * state engine, no store: what is left when mamori's own pipeline is
 * taken away.
 *
 *   build/bench/bare_timer [seconds=3] [timers=100000] [plugin=build/plugins/dummy.so]
 *
 * Prints "bare_timer RATE/s calls N cpu C wall W" (RATE = calls per CPU
 * second of this process, i.e. per fully used core).  Exits 1 if the
 * plugin cannot be used or nothing completed.
 */
#include "bench.h"

#include <dlfcn.h>
#include <ev.h>
#include <mamori/plugin.h>
#include <stdint.h>

struct bare {
	struct ev_loop *loop;
	const struct mamori_plugin *def;
	void *inst, *data;
	uint64_t started, completed, bad;
};

struct btimer {
	ev_timer w;
	struct bare *b;
};

/* The one bare object the stub host callbacks can reach: the ABI's
 * run_complete has no user pointer; the run handle carries it instead. */
struct mamori_run {
	struct bare *b;
};

static int stub_conf_notfound(const struct mamori_conf *c, const char *k, const char **o)
{
	return MAMORI_E_NOTFOUND;
}
static int stub_conf_int(const struct mamori_conf *c, const char *k, long long *o)
{
	return MAMORI_E_NOTFOUND;
}
static int stub_conf_duration(const struct mamori_conf *c, const char *k, double *o)
{
	return MAMORI_E_NOTFOUND;
}
static int stub_conf_error(const struct mamori_conf *c, const char *k, const char *fmt, ...)
{
	return MAMORI_E_CONFIG;
}

static void stub_run_complete(struct mamori_run *run, const struct mamori_result *res)
{
	run->b->completed++;
	if (res->state != 0)
		run->b->bad++;
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct btimer *t = (struct btimer *)w;
	struct mamori_run run = { t->b };
	void *rs = NULL;
	t->b->started++;
	if (t->b->def->check_start(t->b->inst, &run, t->b->data, &rs) != 0)
		t->b->bad++;
}

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static int plugin_open(struct bare *b, const char *path, struct mamori_host *h)
{
	void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		fprintf(stderr, "bare_timer: %s\n", dlerror());
		return -1;
	}
	b->def = dlsym(so, MAMORI_PLUGIN_SYMBOL);
	if (!b->def || b->def->abi_major != MAMORI_PLUGIN_ABI_MAJOR) {
		fprintf(stderr, "bare_timer: %s: no usable %s\n", path, MAMORI_PLUGIN_SYMBOL);
		return -1;
	}
	h->abi_major = MAMORI_PLUGIN_ABI_MAJOR;
	h->abi_minor = MAMORI_PLUGIN_ABI_MINOR;
	h->struct_size = sizeof *h;
	h->conf_string = stub_conf_notfound;
	h->conf_int = stub_conf_int;
	h->conf_duration = stub_conf_duration;
	h->conf_error = stub_conf_error;
	h->run_complete = stub_run_complete;
	if (b->def->init(h, NULL, &b->inst) != 0 ||
	    b->def->check_prepare(b->inst, NULL, NULL, &b->data) != 0) {
		fprintf(stderr, "bare_timer: %s: init or check_prepare failed\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3;
	long k = argc > 2 ? atol(argv[2]) : 100000;
	const char *path = argc > 3 ? argv[3] : "build/plugins/dummy.so";
	struct mamori_host host = { 0 };
	struct bare b = { .loop = ev_default_loop(EVFLAG_AUTO) };
	if (seconds <= 0 || k < 1) {
		fprintf(stderr, "usage: bare_timer [seconds] [timers] [plugin.so]\n");
		return 2;
	}
	if (plugin_open(&b, path, &host) != 0)
		return 1;
	struct btimer *t = calloc((size_t)k, sizeof *t);
	if (!t)
		return 1;
	for (long i = 0; i < k; i++) {
		t[i].b = &b;
		ev_timer_init(&t[i].w, on_timer, 0., 0.001);
		ev_timer_start(b.loop, &t[i].w);
	}
	ev_timer stop;
	ev_timer_init(&stop, on_stop, seconds, 0.);
	ev_timer_start(b.loop, &stop);
	double c0 = bench_cpu(), w0 = bench_mono();
	ev_run(b.loop, 0);
	double cpu = bench_cpu() - c0, wall = bench_mono() - w0;
	printf("bare_timer %.0f/s calls %llu cpu %.2f wall %.2f timers %ld\n",
	       (double)b.completed / cpu, (unsigned long long)b.completed, cpu, wall, k);
	if (b.bad || b.completed != b.started) {
		fprintf(stderr, "bare_timer: %llu bad, %llu started, %llu completed\n",
		        (unsigned long long)b.bad, (unsigned long long)b.started,
		        (unsigned long long)b.completed);
		return 1;
	}
	b.def->check_release(b.inst, NULL, b.data);
	b.def->destroy(b.inst);
	free(t);
	return b.completed ? 0 : 1;
}
