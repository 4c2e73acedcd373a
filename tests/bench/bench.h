/*
 * bench.h: small helpers shared by the benchmark programs in tests/bench
 * (clocks, CPU time, RSS, a growing text buffer for generated configs).
 * Header-only (static inline): the Makefile builds each .c file here
 * into its own program, so there is no shared object to put them in.
 */
#ifndef MAMORI_BENCH_H
#define MAMORI_BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* user + system CPU seconds of this process (all threads). */
static inline double bench_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Resident set size of this process in KiB (VmRSS), -1 if unknown. */
static inline long bench_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

static inline double bench_env_double(const char *name, double def)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return def;
	double d = strtod(v, &end);
	return end == v || d <= 0 ? def : d;
}

/* A growing NUL-terminated buffer; aborts on OOM (benchmarks only). */
struct bench_buf {
	char *p;
	size_t len, cap;
};

static inline void bench_printf(struct bench_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void bench_printf(struct bench_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 65536;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
}

static inline void bench_buf_free(struct bench_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Generate a config: `header` text, then n checks laid out as customers
 * of 100 assets of 10 checks (c000000/a00/k0), each check's own keys
 * written by `check` (e.g. `plugin = "dummy";`). */
static inline void bench_gen_config(struct bench_buf *b, const char *header, size_t n,
                                    void (*check)(struct bench_buf *b, size_t i, void *ud),
                                    void *ud)
{
	bench_printf(b, "%s\ncustomers = (\n", header);
	if (!n)
		bench_printf(b, "{ id = \"c000000\"; assets = (); }\n");
	for (size_t i = 0; i < n; i++) {
		size_t k = i % 10, a = (i / 10) % 100, cu = i / 1000;
		if (!k && !a)
			bench_printf(b, "%s{ id = \"c%06zu\"; assets = (\n", cu ? ") } ) },\n" : "",
			             cu);
		else if (!k)
			bench_printf(b, ") },\n");
		if (!k)
			bench_printf(b, "{ name = \"a%02zu\"; checks = (", a);
		bench_printf(b, "%s{ name = \"k%zu\"; ", k ? ", " : "", k);
		check(b, i, ud);
		bench_printf(b, " }");
	}
	bench_printf(b, "%s);\n", n ? ") } ) }\n" : "");
}

#endif
