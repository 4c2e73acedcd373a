/*
 * alerts_bench: the two alert figures of make bench (section "alerts").
 *
 *   alerts_bench persist [N]
 *     Alert events persisted per second with group commit: the loop side
 *     fills a pending batch with what the daemon writes per event (alert
 *     upsert, event row with a ~1 kB mamori.alert/1 payload, an outbox row
 *     referring to that event - schema 3 - and the delete of an earlier
 *     outbox row, as the PUBACKs of committed batches cause) and hands it
 *     to the writer thread whenever the writer is idle; the figure is
 *     N / (time until the last batch is committed), with the store's own
 *     checkpointer thread running as in the daemon.  Target >= 50,000/s.
 *
 *   alerts_bench latency HOST PORT ROUNDS
 *     Against a running mamorid (see alerts_latency.sh): flips one PC's
 *     Defender report between real-time protection off and healthy and
 *     times each publish to the arrival of the alert event (opened /
 *     reopened / resolved) on mamori/v1/alerts/#.  Prints p50/p99/max.
 *
 * Output: "key=value" lines for tests/bench/section-alerts.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem (the Makefile defines it; a build by hand may not) */
#endif
#include "bench.h"
#include "mqtt/mqtt.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/log.h"

#include <ev.h>
#include <stdint.h>
#include <unistd.h>

#ifndef PAYLOAD
#define PAYLOAD 1100
#endif

/* ---- persist ---- */

static int bench_persist(long n)
{
	char dir[] = "/tmp/mamori-alerts-bench.XXXXXX", err[512] = "";
	if (!mkdtemp(dir))
		return 1;
	struct store *s = store_open(dir, err, sizeof err);
	if (!s || store_start(s, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "store: %s\n", err);
		return 1;
	}
	char payload[PAYLOAD];
	memset(payload, 'x', sizeof payload - 1);
	payload[sizeof payload - 1] = 0;
	memcpy(payload, "{\"schema\":\"mamori.alert/1\",\"pad\":\"", 35);
	payload[sizeof payload - 3] = '"';
	payload[sizeof payload - 2] = '}';
	double t0 = bench_mono();
	struct store_batch *b = NULL;
	long batches = 0;
	/* outbox ids 1..cut are in batches handed over; ids up to acked are
	 * deleted already (their PUBACK went into a later batch) */
	int64_t cut = 0, acked = 0;
	void *slot = NULL;
	char id[64], key[64];
	for (long i = 0; i < n; i++) {
		if (!b)
			b = store_batch_new();
		long alert =
		    i / 4; /* 4 events per alert: opened, sla_breach, escalated, resolved */
		snprintf(id, sizeof id, "A-bench-%010ld", alert);
		snprintf(key, sizeof key, "c%04ld/pc-%ld/defender", alert % 1000, alert);
		struct store_alert_row a = { .id = id,
			                     .check_key = key,
			                     .customer = "c0001",
			                     .asset = "pc",
			                     .check_name = "defender",
			                     .service = "defender",
			                     .center = "cc-east",
			                     .summary = "real-time protection off",
			                     .status = i % 4 == 3 ? "resolved" : "open",
			                     .state = 2,
			                     .count = 1,
			                     .seq = i % 4 + 1,
			                     .opened_at = 1e9,
			                     .updated_at = 1e9 + (double)i,
			                     .has_clock = 1,
			                     .tier_name = "t1",
			                     .ack_due = 2e9,
			                     .resolve_due = 2e9,
			                     .ack_left = -1,
			                     .resolve_left = -1 };
		/* as the daemon does: one alert row per alert and batch */
		if (slot && strcmp(store_batch_alert_id(slot), id) == 0)
			store_batch_alert_again(b, slot, &a);
		else
			slot = store_batch_alert(b, &a);
		struct store_event_row e = { .alert_id = id,
			                     .type = "updated",
			                     .actor = "mamori",
			                     .payload = payload,
			                     .seq = i % 4 + 1,
			                     .time = 1e9 + (double)i };
		store_batch_event(b, &e);
		struct store_outbox_row o = { .id = i + 1,
			                      .topic = "mamori/v1/alerts/cc-east/c0001",
			                      .payload = payload,
			                      .len = sizeof payload - 1,
			                      .alert_id = id,
			                      .seq = i % 4 + 1,
			                      .qos = 1 };
		store_batch_outbox(b, &o);
		/* group commit: cut a batch whenever the writer is idle; every
		 * batch handed over before is committed then, and its messages
		 * are acknowledged by the broker: delete their rows in this one */
		if ((i & 63) == 63 && !store_busy(s)) {
			while (acked < cut)
				store_batch_outbox_done(b, ++acked);
			cut = i + 1;
			store_commit(s, b);
			b = NULL;
			slot = NULL;
			batches++;
		}
	}
	if (b) {
		store_commit(s, b);
		batches++;
	}
	store_sync(s);
	double dt = bench_mono() - t0;
	struct store_stats st;
	struct store_checkpoint_stats ck;
	store_get_stats(s, &st);
	store_get_checkpoint_stats(s, &ck);
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	printf("persist events=%ld seconds=%.3f rate=%.0f batches=%ld errors=%llu deleted=%lld"
	       " checkpoints=%llu ckpt_seconds=%.3f restarts=%llu restart_seconds=%.3f\n",
	       n, dt, n / dt, batches, (unsigned long long)st.errors, (long long)acked,
	       (unsigned long long)ck.checkpoints, ck.checkpoint_seconds,
	       (unsigned long long)ck.checkpoint_restarts, ck.restart_seconds);
	return st.errors != 0;
}

/* ---- latency ---- */

struct lat {
	struct ev_loop *loop;
	struct mqtt *m;
	char *off, *ok;
	size_t off_len, ok_len;
	int rounds, round, bad;
	double sent;
	double *samples;
	int n;
	ev_timer timeout, start;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(65536);
	*len = fread(buf, 1, 65535, f);
	buf[*len] = 0;
	fclose(f);
	return buf;
}

static void send_next(struct lat *l)
{
	l->bad = !l->bad;
	l->sent = bench_mono();
	mqtt_publish(l->m, "mamori/v1/agents/c0001/PC-LAT/defender", l->bad ? l->off : l->ok,
	             l->bad ? l->off_len : l->ok_len, 1, 0, NULL);
	ev_timer_again(l->loop, &l->timeout);
}

static void on_alert(const char *topic, const void *payload, size_t len, int qos, int retain,
                     void *ud)
{
	struct lat *l = ud;
	if (!memmem(payload, len, "PC-LAT", 6))
		return;
	int opened = memmem(payload, len, "\"event\":\"opened\"", 16) ||
	             memmem(payload, len, "\"event\":\"reopened\"", 18);
	int resolved = memmem(payload, len, "\"event\":\"resolved\"", 18) != NULL;
	if (!l->sent || (l->bad && !opened) || (!l->bad && !resolved))
		return;
	l->samples[l->n++] = bench_mono() - l->sent;
	l->sent = 0;
	if (++l->round >= l->rounds) {
		ev_break(l->loop, EVBREAK_ALL);
		return;
	}
	send_next(l);
}

static void on_start(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_next(w->data);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	fprintf(stderr, "latency: no alert event within 10 s (round %d)\n",
	        ((struct lat *)w->data)->round);
	ev_break(loop, EVBREAK_ALL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int bench_latency(const char *host, int port, int rounds, const char *fixtures)
{
	struct lat l = { .loop = ev_default_loop(0), .rounds = rounds };
	char p[512];
	snprintf(p, sizeof p, "%s/realtime-off.json", fixtures);
	l.off = slurp(p, &l.off_len);
	snprintf(p, sizeof p, "%s/healthy.json", fixtures);
	l.ok = slurp(p, &l.ok_len);
	if (!l.off || !l.ok)
		return 1;
	l.samples = calloc((size_t)rounds, sizeof *l.samples);
	struct mqtt_conf c;
	char err[512];
	mqtt_conf_init(&c);
	free(c.host);
	c.host = strdup(host);
	c.port = port;
	free(c.client_id);
	c.client_id = strdup("alerts-bench-latency");
	c.clean_session = 1;
	l.m = mqtt_new(l.loop, &c, err, sizeof err);
	mqtt_conf_free(&c);
	if (!l.m || mqtt_start(l.m) != 0)
		return 1;
	mqtt_subscribe(l.m, "mamori/v1/alerts/#", 1, on_alert, &l);
	ev_timer_init(&l.timeout, on_timeout, 0., 10.);
	l.timeout.data = &l;
	ev_timer_init(&l.start, on_start, 1.0, 0.);
	l.start.data = &l;
	ev_timer_start(l.loop, &l.start);
	ev_run(l.loop, 0);
	mqtt_stop(l.m);
	mqtt_free(l.m);
	if (l.n < rounds / 2) {
		fprintf(stderr, "latency: only %d of %d samples\n", l.n, rounds);
		return 1;
	}
	qsort(l.samples, (size_t)l.n, sizeof *l.samples, cmp_double);
	printf("latency samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", l.n,
	       l.samples[l.n / 2] * 1e3, l.samples[(int)(l.n * 0.99)] * 1e3,
	       l.samples[l.n - 1] * 1e3);
	free(l.samples);
	free(l.off);
	free(l.ok);
	return 0;
}

int main(int argc, char **argv)
{
	log_set_level(log_level_parse("warning"));
	if (argc >= 2 && strcmp(argv[1], "persist") == 0)
		return bench_persist(argc > 2 ? atol(argv[2]) : 200000);
	if (argc >= 5 && strcmp(argv[1], "latency") == 0)
		return bench_latency(argv[2], atoi(argv[3]), atoi(argv[4]),
		                     argc > 5 ? argv[5] : "tests/fixtures/defender");
	fprintf(stderr, "usage: alerts_bench persist [N] | latency HOST PORT ROUNDS [FIXTURES]\n");
	return 2;
}
