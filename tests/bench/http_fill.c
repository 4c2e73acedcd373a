/*
 * http_fill: the data set of the API benchmark (tests/bench/section-http.sh)
 * - a mamori state directory with a store already holding a long alert
 * history, and the matching `customers` list for the daemon's config.
 *
 *   http_fill STATE_DIR CUSTOMERS PCS ALERTS UNRESOLVED [NOW] > customers.conf
 *
 * CUSTOMERS customers (c0001...) of PCS PCs each (pc01...), every PC one
 * `dummy` check named "defender" in service defender: CUSTOMERS * PCS
 * checks.  UNRESOLVED of them, picked at random (distinct), are CRITICAL
 * (state = 2 in the config) and each has an unresolved alert (80 % open,
 * 20 % acknowledged) opened in the last 7 days; the other ALERTS -
 * UNRESOLVED alerts are history: opened over the last 180 days (and more
 * than a day ago, outside the daemon's reopen window, so they stay in the
 * store), resolved 10 minutes to 4 hours later, on random PCs.  Every
 * alert has its `opened` event, and `acknowledged` / `resolved` ones as
 * it went, as the daemon writes them.
 *
 * Every check also gets its state row (hard, last run within the last
 * hour), so a daemon started on this directory with `interval = "1h"`
 * knows every state at once and keeps each check's rhythm: ~CHECKS/3600
 * runs per second, none of which changes anything.  Routing: one center
 * "cc" with tier t1 (ack within 7 days, resolve within 30 days, calendar
 * always), so no deadline falls due while the benchmark runs.
 *
 * Written through the store's own batch API (store_batch_alert, _event,
 * _state; one transaction per 5,000 alerts) before any daemon opens the
 * directory: about 10 s for 100,000 alerts on the test VM, much faster than
 * letting checks flap 100,000 times.
 *
 * Output: the config fragment on stdout; "key value" figures on stderr.
 * Exits 1 when the store refuses anything.
 */
#include "bench.h"
#include "store/store.h"
#include "util/log.h"

#include <stdint.h>
#include <time.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const regions[] = { "kanto", "kansai", "chubu", "kyushu", "tohoku" };

struct ck {
	unsigned char crit, acked;
	double opened, acked_at;
};

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr,
		        "usage: http_fill STATE_DIR CUSTOMERS PCS ALERTS UNRESOLVED [NOW]\n");
		return 2;
	}
	const char *dir = argv[1];
	long nc = atol(argv[2]), np = atol(argv[3]), na = atol(argv[4]), nu = atol(argv[5]);
	double now = argc > 6 ? atof(argv[6]) : (double)time(NULL);
	long nchk = nc * np;
	if (nc < 1 || nc > 9999 || np < 1 || np > 99 || nu < 0 || nu > nchk || na < nu) {
		fprintf(stderr, "http_fill: need 1 <= CUSTOMERS <= 9999, 1 <= PCS <= 99, "
		                "UNRESOLVED <= CUSTOMERS*PCS, ALERTS >= UNRESOLVED\n");
		return 2;
	}
	log_set_level(LOG_LVL_ERR);
	double t0 = bench_mono();
	struct ck *cks = calloc((size_t)nchk, sizeof *cks);
	if (!cks)
		return 1;
	/* the critical checks: distinct, at random */
	for (long k = 0; k < nu;) {
		long i = (long)rnd((unsigned)nchk);
		if (cks[i].crit)
			continue;
		cks[i].crit = 1;
		cks[i].opened = now - 60 - rnd(7 * 86400 - 60);
		if (rnd(5) == 0) {
			cks[i].acked = 1;
			cks[i].acked_at = cks[i].opened + 30 + rnd(3600);
			if (cks[i].acked_at > now)
				cks[i].acked_at = now;
		}
		k++;
	}

	char err[512] = "";
	struct store *s = store_open(dir, err, sizeof err);
	if (!s) {
		fprintf(stderr, "http_fill: store: %s\n", err);
		return 1;
	}
	struct store_batch *b = store_batch_new();
	long rows = 0, events = 0;
	char id[40], cust[32], asset[32], key[80], payload[400];
#define FLUSH_EVERY 5000
	/* check states, and the unresolved alerts of the critical ones */
	long alert_no = 0;
	for (long i = 0; i < nchk; i++) {
		snprintf(cust, sizeof cust, "c%04ld", i / np + 1);
		snprintf(asset, sizeof asset, "pc%02ld", i % np + 1);
		const struct ck *c = &cks[i];
		double last = now - 1 - rnd(3599);
		struct store_state_row st = {
			.customer = cust,
			.asset = asset,
			.name = "defender",
			.plugin = "dummy",
			.state = c->crit ? 2 : 0,
			.hard = 1,
			.attempt = 1,
			.hard_state = c->crit ? 2 : 0,
			.hist = 0,
			.n_hist = 1,
			.last_check = last,
			.last_change = c->crit ? c->opened : now - 86400 * (1 + rnd(60)),
			.last_hard_change = c->crit ? c->opened : now - 86400 * 61,
			.next_check = last + 3600,
			.output = c->crit ? "dummy CRITICAL" : "dummy OK",
			.long_output = "",
			.perfdata = "",
			.ack = c->acked,
			.ack_author = c->acked ? "operator" : NULL,
		};
		store_batch_state(b, &st);
		rows++;
		if (c->crit) {
			snprintf(id, sizeof id, "A-hist-%08ld", alert_no++);
			snprintf(key, sizeof key, "%s/%s/defender", cust, asset);
			struct store_alert_row r = {
				.id = id,
				.check_key = key,
				.customer = cust,
				.asset = asset,
				.check_name = "defender",
				.service = "defender",
				.center = "cc",
				.summary = "dummy CRITICAL",
				.status = c->acked ? "acknowledged" : "open",
				.state = 2,
				.count = 1,
				.seq = c->acked ? 2 : 1,
				.opened_at = c->opened,
				.updated_at = c->acked ? c->acked_at : c->opened,
				.acked_at = c->acked ? c->acked_at : 0,
				.acked_by = c->acked ? "operator" : NULL,
				.has_clock = 1,
				.tier_name = "t1",
				.acked = c->acked,
				.ack_due = c->opened + 7 * 86400,
				.resolve_due = c->opened + 30 * 86400,
				.ack_left = -1,
				.resolve_left = -1,
			};
			store_batch_alert(b, &r);
			snprintf(payload, sizeof payload,
			         "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"seq\":1,"
			         "\"event\":\"opened\",\"customer\":\"%s\",\"center\":\"cc\"}",
			         id, cust);
			struct store_event_row e = { .alert_id = id,
				                     .seq = 1,
				                     .type = "opened",
				                     .time = c->opened,
				                     .actor = "mamori",
				                     .payload = payload };
			store_batch_event(b, &e);
			events++;
			if (c->acked) {
				e.seq = 2;
				e.type = "acknowledged";
				e.time = c->acked_at;
				e.actor = "operator";
				store_batch_event(b, &e);
				events++;
			}
		}
		if ((i + 1) % (FLUSH_EVERY * 4) == 0) {
			store_commit(s, b); /* before store_start: written at once */
			b = store_batch_new();
		}
	}
	/* the history: resolved alerts on random PCs */
	for (long k = nu; k < na; k++) {
		long i = (long)rnd((unsigned)nchk);
		snprintf(cust, sizeof cust, "c%04ld", i / np + 1);
		snprintf(asset, sizeof asset, "pc%02ld", i % np + 1);
		snprintf(id, sizeof id, "A-hist-%08ld", alert_no++);
		snprintf(key, sizeof key, "%s/%s/defender", cust, asset);
		double opened = now - 86400 - rnd(179 * 86400);
		double resolved = opened + 600 + rnd(14400 - 600);
		int acked = rnd(4) != 0;
		double acked_at = acked ? opened + 30 + rnd((unsigned)(resolved - opened - 30)) : 0;
		struct store_alert_row r = {
			.id = id,
			.check_key = key,
			.customer = cust,
			.asset = asset,
			.check_name = "defender",
			.service = "defender",
			.center = "cc",
			.summary = "dummy CRITICAL",
			.status = "resolved",
			.state = 2,
			.count = 1,
			.seq = acked ? 3 : 2,
			.opened_at = opened,
			.updated_at = resolved,
			.acked_at = acked_at,
			.acked_by = acked ? "operator" : NULL,
			.resolved_at = resolved,
			.has_clock = 1,
			.tier_name = "t1",
			.acked = acked,
			.stopped = 1,
			.ack_due = opened + 7 * 86400,
			.resolve_due = opened + 30 * 86400,
			.ack_left = -1,
			.resolve_left = -1,
		};
		store_batch_alert(b, &r);
		snprintf(payload, sizeof payload,
		         "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"seq\":1,"
		         "\"event\":\"opened\",\"customer\":\"%s\",\"center\":\"cc\"}",
		         id, cust);
		struct store_event_row e = { .alert_id = id,
			                     .seq = 1,
			                     .type = "opened",
			                     .time = opened,
			                     .actor = "mamori",
			                     .payload = payload };
		store_batch_event(b, &e);
		int seq = 2;
		if (acked) {
			e.seq = seq++;
			e.type = "acknowledged";
			e.time = acked_at;
			e.actor = "operator";
			store_batch_event(b, &e);
			events++;
		}
		e.seq = seq;
		e.type = "resolved";
		e.time = resolved;
		e.actor = "mamori";
		store_batch_event(b, &e);
		events += 2;
		if ((k + 1) % FLUSH_EVERY == 0) {
			store_commit(s, b);
			b = store_batch_new();
		}
	}
	store_commit(s, b);
	store_close(s);

	/* the config: the same customers, PCs and CRITICAL checks */
	printf("customers = (\n");
	for (long c = 0; c < nc; c++) {
		printf("  { id = \"c%04ld\"; name = \"Customer %ld 株式会社\"; region = \"%s\"; "
		       "assets = (",
		       c + 1, c + 1, regions[c % 5]);
		for (long p = 0; p < np; p++)
			printf("%s\n    { name = \"pc%02ld\"; checks = ( { plugin = \"dummy\"; "
			       "name = \"defender\"; service = \"defender\";%s } ); }",
			       p ? "," : "", p + 1, cks[c * np + p].crit ? " state = 2;" : "");
		printf(" ); }%s\n", c + 1 < nc ? "," : "");
	}
	printf(");\n");
	free(cks);
	fprintf(stderr, "http_fill checks %ld alerts %ld unresolved %ld events %ld seconds %.1f\n",
	        rows, alert_no, nu, events, bench_mono() - t0);
	return fflush(stdout) == 0 ? 0 : 1;
}
