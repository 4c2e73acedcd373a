/*
 * mamori-agentsim: plays N Windows agents of M customers publishing
 * Defender reports (schema mamori.defender/1) over MQTT, for the demo and
 * for benchmarks, with scripted faults.
 *
 * Each of --connections threads owns one libev loop and one broker
 * connection (the project's mqtt module, so the simulator exercises the
 * same code path as mamorid) and plays the agents i with i % K == thread.
 * Reports go round-robin over a thread's agents; a thread keeps at most
 * --window QoS 1 messages without PUBACK (flow control, so "sent" means
 * "the broker has it").  The rate is paced by a 1 ms timer.
 *
 * Faults (each a percentage of agents, chosen deterministically from
 * --seed so a run is reproducible): Defender off (real-time protection
 * off), signatures aging (age grows by one day per round), silent (the
 * agent reports once, then never again), bad payloads (a rotating set of
 * malformed reports).  Agents publish "online" (retained) at start.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqtt/mqtt.h"
#include "util/log.h"

struct opts {
	const char *host, *prefix, *username, *password_file, *ca_file;
	int port, qos, connections, window, status, seq;
	unsigned customers, agents;
	double rate, duration;
	unsigned long long count;
	double pct_off, pct_aging, pct_silent, pct_bad;
	unsigned seed;
};

struct worker {
	const struct opts *o;
	int idx;
	pthread_t thr;
	struct ev_loop *loop;
	struct mqtt *m;
	ev_timer tick;
	double t0;
	unsigned long long sent, acked, bad_sent, unacked, limit;
	unsigned next_agent; /* index among this worker's agents */
	unsigned n_agents, round;
	int done, failed;
};

enum fault { F_NONE, F_OFF, F_AGING, F_SILENT, F_BAD };

/* Deterministic fault of agent i (a hash, not rand(): reproducible). */
static enum fault agent_fault(const struct opts *o, unsigned i)
{
	unsigned x = (i + 1) * 2654435761u ^ o->seed;
	x ^= x >> 15;
	double p = (double)(x % 10000) / 100.0;
	if (p < o->pct_off)
		return F_OFF;
	p -= o->pct_off;
	if (p < o->pct_aging)
		return F_AGING;
	p -= o->pct_aging;
	if (p < o->pct_silent)
		return F_SILENT;
	p -= o->pct_silent;
	if (p < o->pct_bad)
		return F_BAD;
	return F_NONE;
}

static void agent_names(const struct opts *o, unsigned i, char *cust, char *host, size_t size)
{
	snprintf(cust, size, "c%04u", i % o->customers + 1);
	snprintf(host, size, "PC-%05u", i / o->customers + 1);
}

static int bad_payload(unsigned k, char *buf, size_t size)
{
	static const char *const bad[] = {
	    "{\"schema\":\"mamori.defender/1\",\"AMServiceEnabled\":tru",
	    "{\"schema\":\"mamori.defender/1\",\"ComputerName\":\"PC-\xff\xfe\",\"AMServiceEnabled\":true}",
	    "{\"schema\":\"mamori.defender/1\",\"AMServiceEnabled\":\"true\",\"AntivirusSignatureAge\":\"9\"}",
	    "{\"schema\":\"mamori.defender/9\",\"AMServiceEnabled\":true}",
	    "{\"schema\":\"mamori.defender/1\",\"AntivirusSignatureAge\":-1,\"QuickScanAge\":1e309}",
	    "\"just a string\"",
	    "",
	};
	size_t n = sizeof(bad) / sizeof(bad[0]);
	if (k % (n + 1) == n) { /* deep nesting */
		size_t d = size / 2 - 1 < 5000 ? size / 2 - 1 : 5000;
		memset(buf, '[', d);
		memset(buf + d, ']', d);
		return (int)(2 * d);
	}
	return snprintf(buf, size, "%s", bad[k % (n + 1)]);
}

static int report(const struct opts *o, unsigned i, unsigned round, unsigned long long seq,
                  enum fault f, const char *host, char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	unsigned age = f == F_AGING ? round : 0;
	const char *on = f == F_OFF ? "false" : "true";
	char seqf[48] = "";
	if (o->seq)
		snprintf(seqf, sizeof(seqf), "\"agent_seq\":%llu,", seq);
	(void)i;
	return snprintf(buf, size,
	    "{\"schema\":\"mamori.defender/1\",\"ts\":\"%s\",\"agent_version\":\"sim-1.0\",%s"
	    "\"ComputerName\":\"%s\",\"AMEngineVersion\":\"1.1.24090.11\","
	    "\"AMProductVersion\":\"4.18.24090.11\",\"AMRunningMode\":\"Normal\","
	    "\"AMServiceEnabled\":true,\"AMServiceVersion\":\"4.18.24090.11\","
	    "\"AntispywareEnabled\":true,\"AntispywareSignatureAge\":%u,"
	    "\"AntispywareSignatureVersion\":\"1.421.1722.0\",\"AntivirusEnabled\":true,"
	    "\"AntivirusSignatureAge\":%u,\"AntivirusSignatureLastUpdated\":\"%s\","
	    "\"AntivirusSignatureVersion\":\"1.421.1722.0\",\"BehaviorMonitorEnabled\":%s,"
	    "\"ComputerState\":0,\"DefenderSignaturesOutOfDate\":false,\"FullScanAge\":4294967295,"
	    "\"FullScanOverdue\":false,\"FullScanRequired\":false,\"IoavProtectionEnabled\":%s,"
	    "\"IsTamperProtected\":true,\"IsVirtualMachine\":false,\"NISEnabled\":true,"
	    "\"NISEngineVersion\":\"1.1.24090.11\",\"NISSignatureAge\":%u,"
	    "\"OnAccessProtectionEnabled\":%s,\"QuickScanAge\":1,\"QuickScanOverdue\":false,"
	    "\"RealTimeProtectionEnabled\":%s,\"TamperProtectionSource\":\"Signatures\"}",
	    ts, seqf, host, age, age, ts, on, on, age, on, on);
}

/* Publish one message for the worker's next agent; 0 or -1. */
static int publish_next(struct worker *w)
{
	const struct opts *o = w->o;
	char cust[32], host[32], topic[256], buf[16384];
	unsigned k = w->next_agent;
	unsigned i = (unsigned)w->idx + k * (unsigned)o->connections; /* global agent index */
	enum fault f = agent_fault(o, i);
	w->next_agent = (k + 1) % w->n_agents;
	if (w->next_agent == 0)
		w->round++;
	if (f == F_SILENT && w->round > 0)
		return 1; /* silent after its first report: skip */
	agent_names(o, i, cust, host, sizeof(cust));
	snprintf(topic, sizeof(topic), "%s/v1/agents/%s/%s/defender", o->prefix, cust, host);
	int n = f == F_BAD ? bad_payload(w->round + i, buf, sizeof(buf))
	                   : report(o, i, w->round, w->sent, f, host, buf, sizeof(buf));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	uint64_t tok;
	if (mqtt_publish(w->m, topic, buf, (size_t)n, o->qos, 0, &tok))
		return -1;
	w->sent++;
	if (f == F_BAD)
		w->bad_sent++;
	if (o->qos > 0)
		w->unacked++;
	return 0;
}

static void on_ack(uint64_t tok, void *ud)
{
	struct worker *w = ud;
	(void)tok;
	w->acked++;
	w->unacked--;
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;
	const struct opts *o = w->o;
	double el = ev_now(loop) - w->t0;
	(void)revents;
	if (!mqtt_counters(w->m)->connected && w->sent == 0)
		return;
	if ((o->duration > 0 && el >= o->duration) || (w->limit && w->sent >= w->limit)) {
		if (w->unacked == 0 || el > o->duration + 30) {
			w->done = 1;
			ev_break(loop, EVBREAK_ALL);
		}
		return;
	}
	unsigned long long due = (unsigned long long)-1;
	if (o->rate > 0) {
		double want = el * o->rate / o->connections;
		due = want > (double)w->sent ? (unsigned long long)want - w->sent : 0;
	}
	for (unsigned long long k = 0; k < due && (!w->limit || w->sent < w->limit); k++) {
		if (o->qos > 0 && w->unacked >= (unsigned long long)o->window)
			break;
		int rc = publish_next(w);
		if (rc < 0) {
			w->failed = 1;
			break;
		}
	}
}

static void status_all(struct worker *w)
{
	const struct opts *o = w->o;
	for (unsigned k = 0; k < w->n_agents; k++) {
		char cust[32], host[32], topic[256];
		unsigned i = (unsigned)w->idx + k * (unsigned)o->connections;
		agent_names(o, i, cust, host, sizeof(cust));
		snprintf(topic, sizeof(topic), "%s/v1/agents/%s/%s/status", o->prefix, cust, host);
		if (mqtt_publish(w->m, topic, "online", 6, 1, 1, NULL) == 0)
			w->unacked++; /* its PUBACK comes through on_ack too */
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	ev_timer_init(&w->tick, tick_cb, 0.001, 0.001);
	w->tick.data = w;
	ev_timer_start(w->loop, &w->tick);
	mqtt_start(w->m);
	/* wait for the session before the clock starts */
	double give_up = ev_time() + 15;
	while (!mqtt_counters(w->m)->connected && ev_time() < give_up)
		ev_run(w->loop, EVRUN_ONCE);
	if (!mqtt_counters(w->m)->connected) {
		fprintf(stderr, "mamori-agentsim: connection %d: broker %s:%d unreachable\n", w->idx,
		        w->o->host, w->o->port);
		w->failed = 1;
		mqtt_stop(w->m);
		return NULL;
	}
	if (w->o->status)
		status_all(w);
	ev_now_update(w->loop);
	w->t0 = ev_now(w->loop);
	ev_run(w->loop, 0);
	mqtt_stop(w->m);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "Usage: mamori-agentsim [options]\n"
	    "Plays N Windows agents of M customers publishing Defender reports over MQTT.\n"
	    "  -H, --host HOST          broker host [127.0.0.1]\n"
	    "  -p, --port PORT          broker port [1883]\n"
	    "      --prefix P           topic prefix [mamori]\n"
	    "  -u, --username U         broker login (all connections)\n"
	    "      --password-file F    file with the password\n"
	    "      --tls-ca FILE        enable TLS, verify the broker with this CA\n"
	    "  -c, --customers M        customers c0001..cM [3]\n"
	    "  -n, --agents N           agents (PCs) in total [30]\n"
	    "  -r, --rate R             reports per second in total; 0 = as fast as possible [10]\n"
	    "  -d, --duration S         stop after S seconds [10]\n"
	    "  -N, --count C            stop after C reports (overrides duration when set)\n"
	    "  -k, --connections K      broker connections, one thread each [2]\n"
	    "  -q, --qos Q              0 or 1 [1]\n"
	    "  -w, --window W           QoS 1 messages in flight per connection [2000]\n"
	    "      --status             publish retained \"online\" for every agent first\n"
	    "      --seq                add \"agent_seq\" (a per-connection counter) to reports\n"
	    "Faults, in %% of agents (deterministic from --seed):\n"
	    "      --defender-off P     real-time protection off\n"
	    "      --aging P            signatures age one day per round\n"
	    "      --silent P           report once, then go silent\n"
	    "      --bad P              send malformed payloads (rotating set)\n"
	    "      --seed S             [1]\n"
	    "Prints: sent, acked, bad, elapsed seconds and rate.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"host", 1, 0, 'H'},         {"port", 1, 0, 'p'},          {"prefix", 1, 0, 1},
	    {"username", 1, 0, 'u'},     {"password-file", 1, 0, 2},   {"tls-ca", 1, 0, 3},
	    {"customers", 1, 0, 'c'},    {"agents", 1, 0, 'n'},        {"rate", 1, 0, 'r'},
	    {"duration", 1, 0, 'd'},     {"count", 1, 0, 'N'},         {"connections", 1, 0, 'k'},
	    {"qos", 1, 0, 'q'},          {"window", 1, 0, 'w'},        {"status", 0, 0, 4},
	    {"seq", 0, 0, 5},            {"defender-off", 1, 0, 6},    {"aging", 1, 0, 7},
	    {"silent", 1, 0, 8},         {"bad", 1, 0, 9},             {"seed", 1, 0, 10},
	    {"help", 0, 0, 'h'},         {0, 0, 0, 0},
	};
	*o = (struct opts){.host = "127.0.0.1", .prefix = "mamori", .port = 1883, .qos = 1,
	                   .connections = 2, .window = 2000, .customers = 3, .agents = 30,
	                   .rate = 10, .duration = 10, .seed = 1};
	int c;
	while ((c = getopt_long(argc, argv, "H:p:u:c:n:r:d:N:k:q:w:h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 1: o->prefix = optarg; break;
		case 'u': o->username = optarg; break;
		case 2: o->password_file = optarg; break;
		case 3: o->ca_file = optarg; break;
		case 'c': o->customers = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': o->agents = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': o->rate = atof(optarg); break;
		case 'd': o->duration = atof(optarg); break;
		case 'N': o->count = strtoull(optarg, NULL, 10); break;
		case 'k': o->connections = atoi(optarg); break;
		case 'q': o->qos = atoi(optarg); break;
		case 'w': o->window = atoi(optarg); break;
		case 4: o->status = 1; break;
		case 5: o->seq = 1; break;
		case 6: o->pct_off = atof(optarg); break;
		case 7: o->pct_aging = atof(optarg); break;
		case 8: o->pct_silent = atof(optarg); break;
		case 9: o->pct_bad = atof(optarg); break;
		case 10: o->seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (o->customers < 1 || o->agents < o->customers || o->connections < 1 ||
	    o->connections > 64 || (unsigned)o->connections > o->agents || o->qos < 0 || o->qos > 1 ||
	    o->window < 1 || o->port < 1 || o->port > 65535 || o->rate < 0) {
		fprintf(stderr, "mamori-agentsim: bad option values (see --help)\n");
		return -1;
	}
	if (o->count)
		o->duration = 0;
	return 0;
}

static int worker_init(struct worker *w, const struct opts *o, int idx)
{
	struct mqtt_conf c;
	char err[256];
	memset(w, 0, sizeof(*w));
	w->o = o;
	w->idx = idx;
	w->n_agents = o->agents / (unsigned)o->connections +
	              ((unsigned)idx < o->agents % (unsigned)o->connections ? 1 : 0);
	if (o->count)
		w->limit = o->count / (unsigned)o->connections +
		           ((unsigned)idx < o->count % (unsigned)o->connections ? 1 : 0);
	w->loop = ev_loop_new(EVFLAG_AUTO);
	mqtt_conf_init(&c);
	free(c.host);
	c.host = strdup(o->host);
	c.port = o->port;
	free(c.client_id);
	char id[64];
	snprintf(id, sizeof(id), "agentsim-%ld-%d", (long)getpid(), idx);
	c.client_id = strdup(id);
	free(c.topic_prefix);
	c.topic_prefix = strdup(o->prefix);
	c.clean_session = 1;
	c.inflight = o->window < 65535 ? o->window : 65535;
	if (o->username)
		c.username = strdup(o->username);
	if (o->password_file)
		c.password_file = strdup(o->password_file);
	if (o->ca_file)
		c.tls.ca_file = strdup(o->ca_file);
	w->m = mqtt_new(w->loop, &c, err, sizeof(err));
	mqtt_conf_free(&c);
	if (!w->m) {
		fprintf(stderr, "mamori-agentsim: %s\n", err);
		return -1;
	}
	mqtt_set_ack_cb(w->m, on_ack, w);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct worker *ws;
	int rc = 0;
	if (parse_opts(argc, argv, &o))
		return 2;
	log_open("mamori-agentsim", 1, LOG_LVL_WARNING);
	ws = calloc((size_t)o.connections, sizeof(*ws));
	for (int k = 0; k < o.connections; k++)
		if (worker_init(&ws[k], &o, k))
			return 1;
	double t0 = ev_time();
	for (int k = 0; k < o.connections; k++)
		pthread_create(&ws[k].thr, NULL, worker_main, &ws[k]);
	unsigned long long sent = 0, acked = 0, bad = 0;
	for (int k = 0; k < o.connections; k++) {
		pthread_join(ws[k].thr, NULL);
		sent += ws[k].sent;
		acked += ws[k].acked;
		bad += ws[k].bad_sent;
		if (ws[k].failed)
			rc = 1;
	}
	double el = ev_time() - t0;
	printf("sent %llu acked %llu (incl. status) bad %llu elapsed %.2f rate %.0f reports/s\n", sent, acked, bad, el,
	       el > 0 ? (double)sent / el : 0.0);
	for (int k = 0; k < o.connections; k++) {
		mqtt_free(ws[k].m);
		ev_loop_destroy(ws[k].loop);
	}
	free(ws);
	return rc;
}
