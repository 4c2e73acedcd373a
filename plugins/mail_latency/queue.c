/*
 * mail_latency queue mode: the age of the oldest message and the number of
 * messages in a Postfix queue, read from `postqueue -j` (one JSON object
 * per line), run with host->proc_spawn (never fork here: the core spawns,
 * reaps and kills on timeout).  Thresholds: `warning`/`critical` on the age,
 * `count_warning`/`count_critical` on the count.
 */
#include "ml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ML_QUEUE_MAX_OUTPUT (16 * 1024 * 1024) /* ~60,000 queued messages */

struct queue_run {
	int mode; /* ML_QUEUE; first member, see ml.h */
	struct ml_check *c;
	struct mamori_run *run;
	struct mamori_proc *proc;
};

void ml_queue_cancel(void *run_state)
{
	struct queue_run *q = run_state;
	if (!q)
		return;
	if (q->proc)
		q->c->inst->host->proc_kill(q->proc);
	free(q);
}

static int worst(int a, int b)
{
	return a > b ? a : b;
}

static void queue_report(struct queue_run *q, const struct ml_queue_stats *st)
{
	const struct mamori_host *h = q->c->inst->host;
	const struct ml_check *c = q->c;
	double age = st->count ? h->now() - st->oldest_arrival : 0;
	if (age < 0)
		age = 0;
	int s_age = age > c->critical  ? MAMORI_CRITICAL
	            : age > c->warning ? MAMORI_WARNING
	                               : MAMORI_OK;
	int s_cnt = MAMORI_OK;
	if (c->count_critical >= 0 && st->count > c->count_critical)
		s_cnt = MAMORI_CRITICAL;
	else if (c->count_warning >= 0 && st->count > c->count_warning)
		s_cnt = MAMORI_WARNING;
	int state = worst(s_age, s_cnt);
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	char out[256], lng[512];
	snprintf(out, sizeof(out), "MAILQ %s - %ld message%s queued, oldest %.0f s", names[state],
	         st->count, st->count == 1 ? "" : "s", age);
	snprintf(lng, sizeof(lng),
	         "maildrop %ld, incoming %ld, active %ld, deferred %ld, hold %ld, other %ld",
	         st->per_queue[0], st->per_queue[1], st->per_queue[2], st->per_queue[3],
	         st->per_queue[4], st->other_queue);
	struct mamori_perfdata perf[2] = {
		{ .label = "oldest_age",
		  .uom = "s",
		  .value = age,
		  .warn = ml_upper(c->warning),
		  .crit = ml_upper(c->critical),
		  .min = 0,
		  .flags = MAMORI_PERF_HAS_MIN },
		{ .label = "messages",
		  .uom = "",
		  .value = (double)st->count,
		  .min = 0,
		  .flags = MAMORI_PERF_HAS_MIN },
	};
	if (c->count_warning >= 0)
		perf[1].warn = ml_upper((double)c->count_warning);
	if (c->count_critical >= 0)
		perf[1].crit = ml_upper((double)c->count_critical);
	struct mamori_result res = { .struct_size = sizeof(res),
		                     .state = state,
		                     .output = out,
		                     .long_output = lng,
		                     .perf = perf,
		                     .n_perf = 2 };
	h->run_complete(q->run, &res);
}

static void queue_fail(struct queue_run *q, const char *fmt, const char *detail)
{
	char out[512];
	snprintf(out, sizeof(out), fmt, detail);
	struct mamori_result res = { .struct_size = sizeof(res),
		                     .state = MAMORI_UNKNOWN,
		                     .output = out };
	q->c->inst->host->run_complete(q->run, &res);
}

static void on_proc(struct mamori_proc *p, const struct mamori_proc_result *pr, void *ud)
{
	struct queue_run *q = ud;
	struct ml_queue_stats st;
	char first[200] = "";
	q->proc = NULL;
	if (pr->output) /* first line of the output, for error messages */
		snprintf(first, sizeof(first), "%.*s", (int)strcspn(pr->output, "\r\n"),
		         pr->output);
	if (pr->spawn_errno)
		queue_fail(q, "MAILQ UNKNOWN - cannot run %s", q->c->argv[0]);
	else if (pr->timed_out)
		queue_fail(q, "MAILQ UNKNOWN - %s timed out", q->c->argv[0]);
	else if (!pr->exited || pr->status != 0) {
		char why[260];
		snprintf(why, sizeof(why), "%s %d%s%s", pr->exited ? "exit status" : "signal",
		         pr->exited ? pr->status : -pr->status, first[0] ? ": " : "", first);
		queue_fail(q, "MAILQ UNKNOWN - queue listing failed (%s)", why);
	} else if (pr->truncated)
		queue_fail(q, "MAILQ UNKNOWN - queue listing too large (%s)", "output truncated");
	else {
		long bad = ml_queue_parse(pr->output, pr->output_len, &st);
		if (bad) {
			char line[32];
			snprintf(line, sizeof(line), "%ld", bad);
			queue_fail(q, "MAILQ UNKNOWN - queue listing not understood at line %s",
			           line);
		} else {
			queue_report(q, &st);
		}
	}
	free(q);
}

int ml_queue_start(struct ml_check *c, struct mamori_run *run, void **out)
{
	const struct mamori_host *h = c->inst->host;
	struct queue_run *q = calloc(1, sizeof(*q));
	if (!q)
		return MAMORI_E_NOMEM;
	q->mode = ML_QUEUE;
	q->c = c;
	q->run = run;
	struct mamori_spawn sp = { .struct_size = sizeof(sp),
		                   .argv = (const char *const *)c->argv,
		                   .timeout = 0, /* the run's timeout covers it */
		                   .max_output = ML_QUEUE_MAX_OUTPUT,
		                   /* stderr apart: a warning must not break the JSON */
		                   .merge_stderr = 0 };
	int err = h->proc_spawn(&sp, on_proc, q, &q->proc);
	if (err < 0) {
		free(q);
		return err;
	}
	*out = q;
	return 0;
}
