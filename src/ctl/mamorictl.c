/*
 * mamorictl: command-line client.  Until the HTTP API exists it reads the
 * state database through the store - opened read-only (it never migrates
 * or writes the file, and is safe next to a running mamorid: WAL), the
 * store's reads run on an event loop of mamorictl's own until their
 * callbacks have run.
 *
 *   mamorictl [-d STATE_DIR] status [-p] [CUSTOMER[/ASSET]]
 *       check states, problems first; -p: problems only
 *   mamorictl [-d STATE_DIR] alerts [--center C] [--customer C] [--status S] [--limit N]
 *       alerts, newest first (S: open, acknowledged, resolved, unresolved;
 *       N: default 50; more than 1000 are read in pages)
 *   mamorictl [-d STATE_DIR] alert ID
 *       one alert with its event history
 *   mamorictl --version
 *
 * Exit status: 0 done, 1 failed (no database, a read failed, unknown
 * alert), 2 usage.  Must never: include <sqlite3.h> or know the schema -
 * store.h is the way in; print text from the database or the store
 * unescaped (it comes from agents and plugins: an ESC sequence in a check's
 * output must not drive the operator's terminal) - everything printed goes
 * through S().
 */
#include "buildcfg.h"
#include "store/store.h"
#include "util/esc.h"
#include "util/log.h"

#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

#define DEFAULT_LIMIT 50
#define SAFE_SLOTS    16 /* escaped strings alive at once: more than one printf uses */

struct ctl {
	struct ev_loop *loop;
	struct store *s;
	int rc;
	/* alerts */
	struct store_alert_query q;
	unsigned long want, shown;
	char cursor_id[256];
	/* status: the filter; alert: the id */
	const char *arg;
	/* S()'s copies, reused in turn */
	char *safe[SAFE_SLOTS];
	unsigned safe_next;
};

static void usage(void)
{
	fprintf(stderr, "usage: mamorictl [-d STATE_DIR] status [-p] [CUSTOMER[/ASSET]]\n"
	                "       mamorictl [-d STATE_DIR] alerts [--center C] [--customer C]"
	                " [--status S] [--limit N]\n"
	                "       mamorictl [-d STATE_DIR] alert ID\n"
	                "       mamorictl --version\n");
}

static const char *when(double t, char *buf, size_t len)
{
	if (t <= 0)
		return "-";
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* s as it may be printed: escaped (util/esc.h) when it needs it, NULL as
 * "-".  Valid until SAFE_SLOTS more calls. */
static const char *S(struct ctl *c, const char *s)
{
	if (!s)
		return "-";
	if (!esc_needed(s))
		return s;
	char **slot = &c->safe[c->safe_next++ % SAFE_SLOTS];
	free(*slot);
	*slot = esc_dup(s);
	return *slot;
}

static void safe_free(struct ctl *c)
{
	for (size_t i = 0; i < SAFE_SLOTS; i++)
		free(c->safe[i]);
	memset(c->safe, 0, sizeof c->safe);
}

/* Open the store read-only and start its reader on a loop of our own. */
static int open_store(struct ctl *c, const char *dir)
{
	char err[1024] = "";
	c->s = store_open_readonly(dir, err, sizeof err);
	if (!c->s) {
		fprintf(stderr, "mamorictl: %s\n", S(c, err));
		return -1;
	}
	c->loop = ev_loop_new(EVFLAG_AUTO);
	if (!c->loop || store_start(c->s, c->loop, NULL, NULL) != 0) {
		fprintf(stderr, "mamorictl: cannot start reading %s\n", S(c, dir));
		return -1;
	}
	return 0;
}

static void close_store(struct ctl *c)
{
	store_close(c->s);
	if (c->loop)
		ev_loop_destroy(c->loop);
	safe_free(c);
}

/* The callbacks' common part: 0, or 1 with the message printed. */
static int failed(struct ctl *c, const struct store_read *rd)
{
	if (store_read_status(rd) == 0)
		return 0;
	fprintf(stderr, "mamorictl: %s\n",
	        S(c, *store_read_error(rd) ? store_read_error(rd)
	                                   : store_strerror(store_read_status(rd))));
	c->rc = 1;
	return 1;
}

static int submitted(struct ctl *c, int rc)
{
	if (rc == 0)
		return 0;
	fprintf(stderr, "mamorictl: %s%s\n", store_strerror(rc),
	        rc == STORE_ESCHEMA
	            ? " (an older mamori wrote it: start mamorid once to migrate it)"
	            : "");
	c->rc = 1;
	return -1;
}

/* ---- status ---- */

static void on_states(void *ud, const struct store_read *rd)
{
	struct ctl *c = ud;
	if (failed(c, rd))
		return;
	size_t n = store_read_state_count(rd);
	for (size_t i = 0; i < n; i++) {
		const struct store_state_row *r = store_read_state_at(rd, i);
		/* never checked (e.g. a PC whose agent has not reported yet):
		 * PENDING, as Nagios says, not a made-up OK */
		int pending = r->last_check <= 0;
		printf("%-8s %-4s %s/%s/%s: %s\n", pending ? "PENDING" : state_names[r->state & 3],
		       pending   ? "-"
		       : r->hard ? "HARD"
		                 : "SOFT",
		       S(c, r->customer), S(c, r->asset), S(c, r->name),
		       pending     ? "no result yet"
		       : r->output ? S(c, r->output)
		                   : "");
	}
	if (!n)
		printf("no checks%s\n", c->arg ? " match" : "");
}

static int status(struct ctl *c, const char *filter, int problems_only)
{
	c->arg = filter;
	if (submitted(c, store_read_states(c->s, filter, problems_only, on_states, c)) == 0)
		ev_run(c->loop, 0);
	return c->rc;
}

/* ---- alerts ---- */

static void on_alerts(void *ud, const struct store_read *rd)
{
	struct ctl *c = ud;
	if (failed(c, rd))
		return;
	size_t n = store_read_alert_count(rd);
	for (size_t i = 0; i < n; i++) {
		const struct store_alert_row *a = store_read_alert_at(rd, i);
		char path[512], t[32];
		snprintf(path, sizeof path, "%s/%s/%s", a->customer, a->asset, a->check_name);
		printf("%-24s %-12s %-8s %-32s %-12s %s %s\n", S(c, a->id), S(c, a->status),
		       state_names[a->state & 3], S(c, path), S(c, a->center),
		       when(a->opened_at, t, sizeof t), a->summary ? S(c, a->summary) : "");
	}
	c->shown += n;
	if (!store_read_more(rd))
		return;
	if (c->shown >= c->want) {
		fprintf(stderr, "mamorictl: more alerts than --limit %lu\n", c->want);
		return;
	}
	/* the next page starts after this one's last row */
	const struct store_alert_row *last = store_read_alert_at(rd, n - 1);
	snprintf(c->cursor_id, sizeof c->cursor_id, "%s", last->id); /* a key: raw */
	c->q.after_opened = last->opened_at;
	c->q.after_id = c->cursor_id;
	unsigned long left = c->want - c->shown;
	c->q.limit = left > STORE_READ_MAX_ALERTS ? STORE_READ_MAX_ALERTS : (unsigned)left;
	submitted(c, store_read_alerts(c->s, &c->q, on_alerts, c));
}

static int alerts(struct ctl *c)
{
	if (submitted(c, store_read_alerts(c->s, &c->q, on_alerts, c)) == 0)
		ev_run(c->loop, 0);
	if (!c->rc && !c->shown)
		printf("no alerts%s\n",
		       c->q.n_centers || c->q.n_customers || c->q.status ? " match" : "");
	return c->rc;
}

/* ---- one alert ---- */

static void print_alert(struct ctl *c, const struct store_alert_row *a)
{
	char t1[32], t2[32];
	printf("alert     %s\n", S(c, a->id));
	if (a->acked_by || a->acked_at > 0)
		printf("status    %s (acknowledged by %s, %s)\n", S(c, a->status),
		       S(c, a->acked_by), when(a->acked_at, t1, sizeof t1));
	else
		printf("status    %s\n", S(c, a->status));
	printf("check     %s/%s/%s\n", S(c, a->customer), S(c, a->asset), S(c, a->check_name));
	printf("service   %s\n", S(c, a->service));
	printf("severity  %s\n", state_names[a->state & 3]);
	printf("center    %s\n", S(c, a->center));
	if (a->also)
		printf("also      %s\n", S(c, a->also));
	printf("opened    %s\n", when(a->opened_at, t1, sizeof t1));
	printf("updated   %s\n", when(a->updated_at, t1, sizeof t1));
	if (a->resolved_at > 0)
		printf("resolved  %s%s\n", when(a->resolved_at, t1, sizeof t1),
		       a->manual ? " (by a command)" : "");
	printf("count     %lld\n", (long long)a->count);
	printf("summary   %s\n", S(c, a->summary));
	if (a->has_clock)
		printf("sla       tier %s (%d), ack due %s, resolve due %s%s%s, %d breaches\n",
		       S(c, a->tier_name), a->tier,
		       a->acked ? "(acknowledged)" : when(a->ack_due, t1, sizeof t1),
		       when(a->resolve_due, t2, sizeof t2), a->paused ? ", paused" : "",
		       a->stopped ? ", stopped" : "", a->breaches);
}

static void on_history(void *ud, const struct store_read *rd)
{
	struct ctl *c = ud;
	if (failed(c, rd))
		return;
	const struct store_alert_row *a = store_read_history_alert(rd);
	if (!a) {
		fprintf(stderr, "mamorictl: no alert %s\n", S(c, c->arg));
		c->rc = 1;
		return;
	}
	print_alert(c, a);
	char t[32], t2[32];
	size_t n = store_read_event_count(rd);
	printf("events:\n");
	for (size_t i = 0; i < n; i++) {
		const struct store_event_row *e = store_read_event_at(rd, i);
		printf("  %4lld  %s  %-14s %s%s%s\n", (long long)e->seq, when(e->time, t, sizeof t),
		       S(c, e->type), S(c, e->actor), e->note ? ": " : "",
		       e->note ? S(c, e->note) : "");
	}
	n = store_read_dispatch_count(rd);
	if (n)
		printf("dispatches:\n");
	for (size_t i = 0; i < n; i++) {
		const struct store_dispatch_row *d = store_read_dispatch_at(rd, i);
		printf("  %4lld  %s  %s: vendor %s, planned %s, result %s\n", (long long)d->seq,
		       when(d->time, t, sizeof t), S(c, d->actor), S(c, d->vendor),
		       when(d->planned_at, t2, sizeof t2), S(c, d->result));
	}
	if (store_read_more(rd))
		printf("(more than %d events or dispatches: the rest is not shown)\n",
		       STORE_READ_MAX_HISTORY);
}

static int alert(struct ctl *c, const char *id)
{
	c->arg = id;
	if (submitted(c, store_read_alert_history(c->s, id, on_history, c)) == 0)
		ev_run(c->loop, 0);
	return c->rc;
}

/* ---- command line ---- */

enum { OPT_CENTER = 256, OPT_CUSTOMER, OPT_STATUS, OPT_LIMIT };

int main(int argc, char **argv)
{
	const char *dir = MAMORI_STATEDIR;
	const char *center = NULL, *customer = NULL, *st = NULL, *limit = NULL;
	int c, problems = 0;
	static const struct option longopts[] = { { "state-dir", required_argument, NULL, 'd' },
		                                  { "problems", no_argument, NULL, 'p' },
		                                  { "version", no_argument, NULL, 'V' },
		                                  { "center", required_argument, NULL, OPT_CENTER },
		                                  { "customer", required_argument, NULL,
		                                    OPT_CUSTOMER },
		                                  { "status", required_argument, NULL, OPT_STATUS },
		                                  { "limit", required_argument, NULL, OPT_LIMIT },
		                                  { NULL, 0, NULL, 0 } };
	while ((c = getopt_long(argc, argv, "d:pV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': problems = 1; break;
		case 'V': printf("mamorictl %s\n", MAMORI_VERSION); return 0;
		case OPT_CENTER: center = optarg; break;
		case OPT_CUSTOMER: customer = optarg; break;
		case OPT_STATUS: st = optarg; break;
		case OPT_LIMIT: limit = optarg; break;
		default: usage(); return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : "";
	const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	int is_alerts = strcmp(cmd, "alerts") == 0;
	if ((strcmp(cmd, "status") != 0 && !is_alerts && strcmp(cmd, "alert") != 0) ||
	    (strcmp(cmd, "alert") == 0 && !arg) ||
	    (!is_alerts && (center || customer || st || limit)) ||
	    (strcmp(cmd, "status") != 0 && problems)) {
		usage();
		return 2;
	}
	/* the store's own log lines would only repeat what is printed here */
	log_open("mamorictl", 1, LOG_LVL_ERR - 1);

	struct ctl ctl = { .want = DEFAULT_LIMIT };
	if (is_alerts) {
		if (limit) {
			char *end;
			ctl.want = strtoul(limit, &end, 10);
			if (*end || !*limit || limit[0] == '-' || ctl.want == 0) {
				fprintf(stderr,
				        "mamorictl: --limit must be a positive number, not '%s'\n",
				        S(&ctl, limit));
				safe_free(&ctl);
				return 2;
			}
		}
		ctl.q.severity = -1;
		ctl.q.limit =
		    ctl.want > STORE_READ_MAX_ALERTS ? STORE_READ_MAX_ALERTS : (unsigned)ctl.want;
		ctl.q.status = st;
		if (center) {
			ctl.q.centers = &center;
			ctl.q.n_centers = 1;
		}
		if (customer) {
			ctl.q.customers = &customer;
			ctl.q.n_customers = 1;
		}
		char err[256];
		if (store_alert_query_check(&ctl.q, err, sizeof err) != 0) {
			fprintf(stderr, "mamorictl: %s\n", S(&ctl, err));
			safe_free(&ctl);
			return 2;
		}
	}
	if (open_store(&ctl, dir) != 0) {
		close_store(&ctl);
		return 1;
	}
	int rc = is_alerts                   ? alerts(&ctl)
	         : strcmp(cmd, "alert") == 0 ? alert(&ctl, arg)
	                                     : status(&ctl, arg, problems);
	close_store(&ctl);
	return rc;
}
