/*
 * http: libmicrohttpd on the libev loop (see http.h).
 *
 * One MHD daemon per listen socket, started with MHD_USE_EPOLL and no
 * thread of its own.  MHD keeps its connections in its own epoll set; that
 * set's descriptor becomes readable whenever any of them (or the listen
 * socket) has work, so one ev_io per daemon is enough.  After every
 * MHD_run the timer is set to MHD's next timeout (idle connections are
 * closed by MHD then).  A response is built whole only because every
 * answer today is a few bytes; large ones will be streamed with
 * MHD_create_response_from_callback.
 */
#include "http/http.h"
#include "app/app.h"
#include "util/log.h"
#include "util/mem.h"

#include "buildcfg.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MEMORY_LIMIT   (32 * 1024) /* per connection: request line, headers, buffers */
#define DEF_MAX_CONN   1000
#define DEF_TIMEOUT    30
#define LISTEN_BACKLOG 128

struct listener {
	struct http *h;
	struct MHD_Daemon *d;
	int fd;       /* the listen socket (MHD closes it) */
	char *path;   /* UNIX socket file to unlink, or NULL */
	char *name;   /* as configured, for logs */
	int metrics;  /* a metrics_listen address: /metrics without login */
	ev_io io;     /* MHD's epoll descriptor */
	ev_timer tmo; /* MHD's next timeout */
};

struct http {
	struct ev_loop *loop;
	struct app *app;
	double started;
	struct listener ls[2 * HTTP_MAX_LISTEN];
	size_t n;
	struct http_stats stats;
};

/* ---- configuration ---- */

static int where(const config_setting_t *s, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(s);
	snprintf(err, errlen, "%s:%u: http.%s: %s", file ? file : "config",
	         config_setting_source_line(s),
	         config_setting_name(s) ? config_setting_name(s) : "", what);
	return -1;
}

/* "host:port" with a numeric IPv4 host, "[v6]:port", or "unix:/abs/path". */
static int parse_listen(const char *v, struct sockaddr_storage *ss, socklen_t *len,
                        const char **path)
{
	memset(ss, 0, sizeof *ss);
	*path = NULL;
	if (strncmp(v, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *p = v + 5;
		if (p[0] != '/' || strlen(p) >= sizeof un->sun_path)
			return -1;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, strlen(p) + 1);
		*len = (socklen_t)sizeof *un;
		*path = p;
		return 0;
	}
	char host[64];
	const char *colon;
	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (!end || end[1] != ':' || (size_t)(end - v - 1) >= sizeof host)
			return -1;
		memcpy(host, v + 1, (size_t)(end - v - 1));
		host[end - v - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return -1;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	char *e = NULL;
	long port = strtol(colon + 1, &e, 10);
	if (!colon[1] || *e || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (v[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof *in4;
		return 0;
	}
	if (v[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = (socklen_t)sizeof *in6;
		return 0;
	}
	return -1;
}

static int add_listen(const config_setting_t *s, struct http_conf *c, int metrics, char *err,
                      size_t errlen)
{
	const char *v = config_setting_get_string(s);
	struct sockaddr_storage ss;
	socklen_t len;
	const char *path;
	if (!v)
		return where(s, err, errlen, "expected a string");
	if (parse_listen(v, &ss, &len, &path) != 0) {
		char msg[320];
		snprintf(msg, sizeof msg,
		         "'%s' is not \"IPv4:port\", \"[IPv6]:port\" or \"unix:/absolute/path\""
		         " (numeric addresses only)",
		         v);
		return where(s, err, errlen, msg);
	}
	size_t *n = metrics ? &c->n_metrics : &c->n_listen;
	char **to = metrics ? c->metrics_listen : c->listen;
	if (*n == HTTP_MAX_LISTEN)
		return where(s, err, errlen, "too many addresses (at most 8)");
	for (size_t i = 0; i < c->n_listen; i++)
		if (strcmp(c->listen[i], v) == 0)
			return where(s, err, errlen,
			             "the same address twice (listen, metrics_listen)");
	for (size_t i = 0; i < c->n_metrics; i++)
		if (strcmp(c->metrics_listen[i], v) == 0)
			return where(s, err, errlen,
			             "the same address twice (listen, metrics_listen)");
	to[(*n)++] = xstrdup(v);
	return 0;
}

/* "30s", "2m" or a number of seconds. */
static int get_seconds(const config_setting_t *s, unsigned lo, unsigned hi, unsigned *out,
                       char *err, size_t errlen)
{
	double v = -1;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		char *e = NULL;
		const char *t = config_setting_get_string(s);
		v = strtod(t, &e);
		if (e == t)
			v = -1;
		else if (strcmp(e, "m") == 0)
			v *= 60;
		else if (strcmp(e, "h") == 0)
			v *= 3600;
		else if (*e && strcmp(e, "s") != 0)
			v = -1;
	}
	if (!(v >= lo && v <= hi)) {
		char msg[96];
		snprintf(msg, sizeof msg, "must be a duration of %u..%u seconds (\"30s\", \"2m\")",
		         lo, hi);
		return where(s, err, errlen, msg);
	}
	*out = (unsigned)v;
	return 0;
}

int http_conf_parse(const config_setting_t *group, struct http_conf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->max_connections = DEF_MAX_CONN;
	c->timeout = DEF_TIMEOUT;
	if (!group)
		return 0;
	if (!config_setting_is_group(group))
		return where(group, err, errlen, "expected a group { ... }");
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *k = config_setting_name(s);
		int rc = 0;
		if (strcmp(k, "listen") == 0 || strcmp(k, "metrics_listen") == 0) {
			int m = k[0] == 'm';
			if (config_setting_is_array(s) || config_setting_is_list(s)) {
				for (int j = 0; rc == 0 && j < config_setting_length(s); j++)
					rc = add_listen(config_setting_get_elem(s, (unsigned)j), c,
					                m, err, errlen);
			} else {
				rc = add_listen(s, c, m, err, errlen);
			}
		} else if (strcmp(k, "max_connections") == 0) {
			int t = config_setting_type(s);
			long long v = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64
			                  ? config_setting_get_int64(s)
			                  : -1;
			if (v < 1 || v > 100000)
				rc = where(s, err, errlen, "must be an integer 1..100000");
			else
				c->max_connections = (unsigned)v;
		} else if (strcmp(k, "timeout") == 0) {
			rc = get_seconds(s, 1, 3600, &c->timeout, err, errlen);
		} else {
			rc = where(
			    s, err, errlen,
			    "unknown key (known: listen, metrics_listen, max_connections, timeout)");
		}
		if (rc != 0) {
			http_conf_free(c);
			return -1;
		}
	}
	if (!c->n_listen && !c->n_metrics) {
		http_conf_free(c);
		return where(group, err, errlen, "needs a `listen` or `metrics_listen` address");
	}
	return 0;
}

void http_conf_free(struct http_conf *c)
{
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	for (size_t i = 0; i < c->n_metrics; i++)
		free(c->metrics_listen[i]);
	memset(c, 0, sizeof *c);
}

/* ---- requests ---- */

static enum MHD_Result answer(struct http *h, struct MHD_Connection *conn, unsigned status,
                              const char *type, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	if (status >= 500)
		h->stats.responses_5xx++;
	else if (status >= 400)
		h->stats.responses_4xx++;
	else
		h->stats.responses_2xx++;
	return rc;
}

static enum MHD_Result error(struct http *h, struct MHD_Connection *conn, unsigned status,
                             const char *msg)
{
	char body[256];
	snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg);
	return answer(h, conn, status, "application/json", body);
}

static enum MHD_Result readyz(struct http *h, struct MHD_Connection *conn)
{
	struct app_health hl;
	app_health(h->app, &hl);
	int ready = hl.store_ok && (!hl.broker_configured || hl.broker_ok);
	char body[256];
	snprintf(body, sizeof body, "{\"ready\":%s,\"store\":\"%s\",\"broker\":\"%s\"}\n",
	         ready ? "true" : "false", hl.store_ok ? "ok" : "failing",
	         !hl.broker_configured ? "none"
	         : hl.broker_ok        ? "connected"
	                               : "disconnected");
	return answer(h, conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
	              "application/json", body);
}

/* ---- /metrics (Prometheus text format 0.0.4) ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static void bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (n > 0 ? (size_t)n : 0);
		b->p = xrealloc(b->p, b->cap);
	}
}

/* A label value: backslash, quote and newline escaped; other control
 * bytes dropped (names come from the configuration). */
static void blabel(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			bput(b, "\\%c", *v);
		else if (*v == '\n')
			bput(b, "\\n");
		else if ((unsigned char)*v >= 0x20)
			bput(b, "%c", *v);
	}
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
	bput(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct buf *b, const char *name, const char *type, const char *help,
                unsigned long long v)
{
	family(b, name, type, help);
	bput(b, "%s %llu\n", name, v);
}

static void process_metrics(struct buf *b, double started)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
	bput(b, "process_cpu_seconds_total %.6f\n",
	     (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	         ru.ru_stime.tv_usec / 1e6);
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	long pg = sysconf(_SC_PAGESIZE);
	family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	bput(b, "process_resident_memory_bytes %ld\n", rss * pg);
	family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	bput(b, "process_virtual_memory_bytes %ld\n", pages * pg);
	unsigned long fds = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		fds += e->d_name[0] != '.';
	if (d)
		closedir(d);
	family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
	bput(b, "process_open_fds %lu\n", fds);
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since the epoch in seconds.");
	bput(b, "process_start_time_seconds %.3f\n", started);
}

static void format_metrics(struct http *h, struct buf *b)
{
	static const char *const states[4] = { "ok", "warning", "critical", "unknown" };
	static const char *const ev_names[11] = { "opened",         "updated",    "acknowledged",
		                                  "escalated",      "sla_breach", "dispatched",
		                                  "resolved",       "reopened",   "commented",
		                                  "unacknowledged", "waiting" };
	struct app_metrics m;
	app_metrics(h->app, &m);
	family(b, "mamori_build_info", "gauge", "The running mamorid (always 1).");
	bput(b, "mamori_build_info{version=\"%s\"} 1\n", MAMORI_VERSION);
	one(b, "mamori_checks", "gauge", "Checks configured and registered.", m.checks);
	family(b, "mamori_checks_by_state", "gauge",
	       "Checks by current state (pending: no result yet).");
	for (int i = 0; i < 4; i++)
		bput(b, "mamori_checks_by_state{state=\"%s\"} %llu\n", states[i], m.by_state[i]);
	bput(b, "mamori_checks_by_state{state=\"pending\"} %llu\n", m.pending);
	one(b, "mamori_checks_waiting", "gauge", "Checks waiting for a concurrency slot.",
	    m.waiting);
	one(b, "mamori_check_runs_started_total", "counter", "Active check runs started.",
	    m.runs_started);
	one(b, "mamori_check_runs_completed_total", "counter", "Check runs completed by plugins.",
	    m.runs_completed);
	one(b, "mamori_check_runs_timed_out_total", "counter", "Check runs that hit their timeout.",
	    m.runs_timed_out);
	one(b, "mamori_check_runs_cancelled_total", "counter",
	    "Check runs cancelled (timeout, reload, shutdown).", m.runs_cancelled);
	one(b, "mamori_passive_results_total", "counter", "Passive results (agents, API).",
	    m.passive_results);
	one(b, "mamori_stale_total", "counter", "Freshness expiries of passive checks.",
	    m.stale_events);
	one(b, "mamori_plugin_late_completions_total", "counter",
	    "Completions of runs already over (plugin bugs).", m.late_completions);
	one(b, "mamori_state_changes_total", "counter", "Check state changes.", m.state_changes);
	one(b, "mamori_hard_state_changes_total", "counter", "Hard check state changes.",
	    m.hard_changes);
	family(b, "mamori_scheduling_lag_seconds", "histogram",
	       "How late checks started against their schedule.");
	unsigned long long acc = 0;
	for (int i = 0; i < 64; i++) {
		acc += m.lag_buckets[i];
		/* every 2nd log2 bucket as a boundary, up to 2^30 us (~18 min) */
		if (i % 2 == 0 && i <= 30)
			bput(b, "mamori_scheduling_lag_seconds_bucket{le=\"%g\"} %llu\n",
			     (double)(1ULL << i) / 1e6, acc);
	}
	bput(b, "mamori_scheduling_lag_seconds_bucket{le=\"+Inf\"} %llu\n", m.lag_count);
	bput(b, "mamori_scheduling_lag_seconds_sum %.6f\n", m.lag_sum);
	bput(b, "mamori_scheduling_lag_seconds_count %llu\n", m.lag_count);
	one(b, "mamori_alert_events_total", "counter", "Alert events emitted.", m.alert_events);
	family(b, "mamori_alert_events_by_type_total", "counter", "Alert events by type.");
	for (int i = 0; i < 11; i++)
		bput(b, "mamori_alert_events_by_type_total{event=\"%s\"} %llu\n", ev_names[i],
		     m.alert_events_by_type[i]);
	one(b, "mamori_sla_breaches_total", "counter", "SLA deadlines missed.",
	    m.alert_events_by_type[4]);
	family(b, "mamori_alerts_open", "gauge", "Unresolved alerts by center and tier.");
	for (size_t i = 0; i < m.n_open_by_center; i++) {
		bput(b, "mamori_alerts_open{center=\"");
		blabel(b, m.open_by_center[i].center);
		bput(b, "\",tier=\"");
		blabel(b, m.open_by_center[i].tier);
		bput(b, "\"} %llu\n", m.open_by_center[i].open);
	}
	one(b, "mamori_outbox_published_total", "counter", "Outbox messages handed to the broker.",
	    m.outbox_published);
	one(b, "mamori_outbox_acked_total", "counter", "Outbox messages the broker acknowledged.",
	    m.outbox_acked);
	family(b, "mamori_outbox_messages", "gauge", "Outbox messages in memory.");
	bput(b, "mamori_outbox_messages{where=\"ready\"} %llu\n", m.outbox_ready);
	bput(b, "mamori_outbox_messages{where=\"inflight\"} %llu\n", m.outbox_inflight);
	one(b, "mamori_mqtt_connected", "gauge", "1 while the broker session is up.",
	    (unsigned long long)m.broker.connected);
	one(b, "mamori_mqtt_messages_received_total", "counter", "MQTT messages received.",
	    m.broker.msgs_in);
	one(b, "mamori_mqtt_messages_sent_total", "counter", "MQTT messages published.",
	    m.broker.msgs_out);
	family(b, "mamori_mqtt_messages_rejected_total", "counter",
	       "MQTT messages dropped on arrival, by reason.");
	bput(b, "mamori_mqtt_messages_rejected_total{reason=\"size\"} %llu\n",
	     m.broker.rejected_size);
	bput(b, "mamori_mqtt_messages_rejected_total{reason=\"no_subscriber\"} %llu\n",
	     m.broker.rejected_nosub);
	one(b, "mamori_mqtt_unacked", "gauge", "QoS 1 publishes waiting for PUBACK.",
	    m.broker.unacked);
	one(b, "mamori_mqtt_connects_total", "counter", "Broker sessions established.",
	    m.broker.connects);
	one(b, "mamori_mqtt_connect_failures_total", "counter",
	    "Broker connection attempts failed.", m.broker.connect_failures);
	one(b, "mamori_store_batches_total", "counter", "Store transactions committed.",
	    m.store_batches);
	one(b, "mamori_store_rows_total", "counter", "Rows written.", m.store_rows);
	one(b, "mamori_store_row_errors_total", "counter", "Rows that failed on their own.",
	    m.store_row_errors);
	one(b, "mamori_store_retries_total", "counter",
	    "Batches the disk refused, rolled back and written again.", m.store_retries);
	family(b, "mamori_store_busy_seconds_total", "counter",
	       "Seconds the writer spent writing.");
	bput(b, "mamori_store_busy_seconds_total %.6f\n", m.store_busy_seconds);
	one(b, "mamori_store_failing", "gauge", "1 while the writer retries a refused batch.",
	    (unsigned long long)m.store_failing);
	one(b, "mamori_events_total", "counter", "Events through the hub.", m.events_emitted);
	one(b, "mamori_command_ids", "gauge", "Request ids remembered for idempotency.",
	    m.command_ids);
	family(b, "mamori_http_responses_total", "counter", "HTTP responses by status class.");
	bput(b, "mamori_http_responses_total{class=\"2xx\"} %llu\n", h->stats.responses_2xx);
	bput(b, "mamori_http_responses_total{class=\"4xx\"} %llu\n", h->stats.responses_4xx);
	bput(b, "mamori_http_responses_total{class=\"5xx\"} %llu\n", h->stats.responses_5xx);
	one(b, "mamori_http_requests_total", "counter", "HTTP requests received.",
	    h->stats.requests);
	process_metrics(b, h->started);
	app_metrics_clear(&m);
}

static enum MHD_Result metrics(struct http *h, struct MHD_Connection *conn)
{
	struct buf b = { .p = xmalloc(16384), .cap = 16384 };
	h->stats.scrapes++;
	format_metrics(h, &b);
	struct MHD_Response *r = MHD_create_response_from_buffer(b.n, b.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(b.p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	h->stats.responses_2xx++;
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct http *h = l->h;
	/* The first call for a request brings its headers; a body would come
	 * in later calls.  No endpoint takes a body yet, so every answer is
	 * given right here and a body is never read (MHD closes such a
	 * connection after the answer). */
	if (*con_cls)
		return MHD_NO; /* a body arrived after all: drop the connection */
	*con_cls = h;
	h->stats.requests++;
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	int body = te || (cl && strcmp(cl, "0") != 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return error(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
	if (body)
		return error(h, conn, MHD_HTTP_CONTENT_TOO_LARGE,
		             "request bodies are not accepted");
	if (strcmp(url, "/healthz") == 0)
		return answer(h, conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return readyz(h, conn);
	if (l->metrics && strcmp(url, "/metrics") == 0)
		return metrics(h, conn);
	return error(h, conn, MHD_HTTP_NOT_FOUND, "not found");
}

/* ---- the loop ---- */

/* MHD's next deadline, but at least once a second: at its connection
 * limit MHD takes the listen socket out of its epoll set and puts it back
 * only during a later MHD_run, which no event would bring once the
 * connections that made room have closed. */
#define MHD_POLL_MAX 1.0

static void rearm(struct listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	double in = MHD_POLL_MAX;
	ev_timer_stop(l->h->loop, &l->tmo);
	if (MHD_get_timeout(l->d, &ms) == MHD_YES && (double)ms / 1000.0 < in)
		in = (double)ms / 1000.0;
	ev_timer_set(&l->tmo, in, 0.);
	ev_timer_start(l->h->loop, &l->tmo);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	MHD_run(l->d);
	rearm(l);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;
	MHD_run(l->d);
	rearm(l);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_info("http", "%s", msg);
}

static int open_socket(const char *spec, char **unlink_path, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *path;
	*unlink_path = NULL;
	if (parse_listen(spec, &ss, &len, &path) != 0) {
		snprintf(err, errlen, "http: bad listen address '%s'", spec);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "http: %s: socket: %s", spec, strerror(errno));
		return -1;
	}
	int one = 1;
	if (ss.ss_family != AF_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (path) {
		/* A socket file left by an earlier run is replaced; anything
		 * else at that path is not touched. */
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "http: cannot listen on %s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	if (path) {
		/* local administration: the daemon's user and group only */
		chmod(path, 0660);
		*unlink_path = xstrdup(path);
	}
	return fd;
}

struct http *http_start(struct ev_loop *loop, const struct http_conf *c, struct app *app, char *err,
                        size_t errlen)
{
	struct http *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->app = app;
	h->started = ev_time();
	for (size_t i = 0; i < c->n_listen + c->n_metrics; i++) {
		struct listener *l = &h->ls[h->n];
		const char *spec =
		    i < c->n_listen ? c->listen[i] : c->metrics_listen[i - c->n_listen];
		l->h = h;
		l->metrics = i >= c->n_listen;
		l->name = xstrdup(spec);
		l->fd = open_socket(spec, &l->path, err, errlen);
		if (l->fd < 0) {
			free(l->name);
			goto fail;
		}
		l->d = MHD_start_daemon(
		    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, l,
		    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
		    (MHD_socket)l->fd, MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
		    MHD_OPTION_CONNECTION_TIMEOUT, c->timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)MEMORY_LIMIT, MHD_OPTION_END);
		const union MHD_DaemonInfo *di =
		    l->d ? MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
		if (!di) {
			snprintf(err, errlen, "http: cannot start serving %s", spec);
			if (l->d)
				MHD_stop_daemon(l->d);
			close(l->fd);
			if (l->path)
				unlink(l->path);
			free(l->path);
			free(l->name);
			goto fail;
		}
		ev_io_init(&l->io, on_io, di->epoll_fd, EV_READ);
		l->io.data = l;
		ev_init(&l->tmo, on_timeout);
		l->tmo.data = l;
		ev_io_start(loop, &l->io);
		h->n++;
		rearm(l);
		log_notice("http", "listening on %s%s", spec, l->metrics ? " (metrics)" : "");
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		struct listener *l = &h->ls[i];
		ev_io_stop(h->loop, &l->io);
		ev_timer_stop(h->loop, &l->tmo);
		MHD_stop_daemon(l->d); /* closes the listen socket and every connection */
		if (l->path)
			unlink(l->path);
		free(l->path);
		free(l->name);
	}
	free(h);
}

void http_get_stats(const struct http *h, struct http_stats *out)
{
	*out = h->stats;
}
