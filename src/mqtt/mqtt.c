/*
 * mqtt: libmosquitto in its own thread, handed to the libev loop through
 * one locked queue and one ev_async.  See mqtt.h for the contract.  This is
 * the only file of the project that includes <mosquitto.h>.
 *
 * Why not mosquitto_loop_start + mosquitto_connect_async: connect_async
 * resolves the host name in the caller (the loop), libmosquitto's own
 * reconnect delay has no jitter, and MQTT 5 session properties are lost on
 * its internal reconnects.  So the thread here runs its own cycle:
 *   probe TCP (non-blocking, bounded by connect_timeout, stop-aware)
 *   -> mosquitto_connect_bind[_v5] (fast once the probe succeeded)
 *   -> mosquitto_loop until the session ends -> backoff with jitter.
 * The probe exists because libmosquitto's v5 connect is a blocking
 * connect(): against a black-holed address it would hold the thread (and
 * mqtt_stop) for the kernel's SYN timeout (~2 min).  Cost: one extra TCP
 * handshake per (re)connect, which the broker logs as a client that closed
 * before CONNECT.
 */
#include "mqtt/mqtt.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void on_mosq_log(struct mosquitto *mosq, void *obj, int level, const char *str);

#define MAX_UNACKED 60000 /* < 65536 message ids: a token per mid */
/* QoS 1 publishes libmosquitto keeps in flight at once (more wait in its
 * queue).  libmosquitto 2.0 walks its whole in-flight list on every
 * PUBACK (message__release_to_inflight), so the cost of an ack grows with
 * this window: with 1000, registering agents (one retained state message
 * each) spent ~10 % of the daemon's CPU in that walk.  100 still allows
 * ~100,000 publishes/s at a 1 ms round trip. */
#define SEND_WINDOW 100

enum ev_kind { EV_MSG, EV_ACK, EV_UP, EV_DOWN };

struct event {
	struct event *next;
	int kind, qos, retain, mid, rc;
	size_t len;
	char *topic; /* EV_MSG: points into the same allocation */
	char *payload;
};

struct filter {
	struct filter *next;
	char *text;
	int qos, refs;
};

struct mqtt_sub {
	struct mqtt_sub *next;
	char *filter;
	mqtt_msg_cb cb;
	void *ud;
	int dead;
};

struct mqtt {
	struct ev_loop *loop;
	ev_async async;
	struct mosquitto *mosq;
	struct mqtt_conf conf; /* private copy */
	char *will_topic;
	char *password;

	pthread_t thr;
	int thr_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	struct event *qhead, **qtail;
	size_t qlen;
	int stopping;
	int th_connected, th_protocol, th_conn_result;
	uint64_t th_rejected_size, th_connect_failures, th_bytes_in;
	unsigned seed;

	/* loop thread only */
	struct filter *filters;
	struct mqtt_sub *subs;
	int dispatching, have_dead;
	uint64_t *tokens; /* [65536]: mid -> token of an unacked QoS 1 publish */
	uint64_t next_token;
	mqtt_ack_cb ack_cb;
	void *ack_ud;
	mqtt_conn_cb conn_cb;
	void *conn_ud;
	struct mqtt_counters cnt;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the queue (mosquitto thread -> loop) ---- */

static int is_stopping(struct mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	int s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* Append; for messages, wait while the loop is max_queue events behind
 * (back-pressure: libmosquitto stops reading, the broker queues). */
static void queue_push(struct mqtt *m, struct event *e)
{
	pthread_mutex_lock(&m->lock);
	while (e->kind == EV_MSG && m->qlen >= m->conf.max_queue && !m->stopping)
		pthread_cond_wait(&m->cond, &m->lock);
	e->next = NULL;
	*m->qtail = e;
	m->qtail = &e->next;
	m->qlen++;
	pthread_mutex_unlock(&m->lock);
	ev_async_send(m->loop, &m->async);
}

static void push_simple(struct mqtt *m, int kind, int mid, int rc)
{
	struct event *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->mid = mid;
	e->rc = rc;
	queue_push(m, e);
}

/* ---- libmosquitto callbacks (mosquitto thread) ---- */

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)flags, (void)props;
	pthread_mutex_lock(&m->lock);
	m->th_conn_result = rc;
	if (rc == 0)
		m->th_connected = 1;
	pthread_mutex_unlock(&m->lock);
	if (rc == 0)
		push_simple(m, EV_UP, 0, m->th_protocol);
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props;
	pthread_mutex_lock(&m->lock);
	int was = m->th_connected;
	m->th_connected = 0;
	pthread_mutex_unlock(&m->lock);
	if (was)
		push_simple(m, EV_DOWN, 0, rc);
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int rc,
                       const mosquitto_property *props)
{
	(void)mosq, (void)props;
	push_simple(ud, EV_ACK, mid, rc);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (len > m->conf.max_message_size) {
		/* dropped before anyone parses it; counted */
		pthread_mutex_lock(&m->lock);
		m->th_rejected_size++;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	size_t tlen = strlen(msg->topic);
	struct event *e = xmalloc(sizeof(*e) + tlen + 1 + len + 1);
	memset(e, 0, sizeof(*e));
	e->kind = EV_MSG;
	e->qos = msg->qos;
	e->retain = msg->retain;
	e->len = len;
	e->topic = (char *)(e + 1);
	memcpy(e->topic, msg->topic, tlen + 1);
	e->payload = e->topic + tlen + 1;
	if (len)
		memcpy(e->payload, msg->payload, len);
	e->payload[len] = '\0';
	pthread_mutex_lock(&m->lock);
	m->th_bytes_in += len;
	pthread_mutex_unlock(&m->lock);
	queue_push(m, e);
}

/* ---- the connection thread ---- */

/* Wait up to `secs`, waking early on stop.  Returns 1 if stopping. */
static int wait_or_stop(struct mqtt *m, double secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + secs;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&m->lock);
	while (!m->stopping && pthread_cond_timedwait(&m->cond, &m->lock, &ts) != ETIMEDOUT)
		;
	int s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* Non-blocking TCP connect to the broker, bounded by connect_timeout and
 * checked for stop every 100 ms.  0 when something accepts connections. */
static int probe_tcp(struct mqtt *m)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[16];
	int ok = -1;
	snprintf(port, sizeof(port), "%d", m->conf.port);
	if (getaddrinfo(m->conf.host, port, &hints, &res) != 0)
		return -1;
	double deadline = mono_now() + m->conf.connect_timeout;
	for (struct addrinfo *ai = res; ai && ok != 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			ok = 0;
		else if (errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			while (mono_now() < deadline && !is_stopping(m)) {
				if (poll(&p, 1, 100) > 0) {
					int err = 0;
					socklen_t l = sizeof(err);
					getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
					ok = err ? -1 : 0;
					break;
				}
			}
		}
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

static int do_connect(struct mqtt *m)
{
	if (m->th_protocol == 5) {
		mosquitto_property *props = NULL;
		if (!m->conf.clean_session)
			mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
			                             (uint32_t)m->conf.session_expiry);
		int rc = mosquitto_connect_bind_v5(m->mosq, m->conf.host, m->conf.port,
		                                   m->conf.keepalive, NULL, props);
		mosquitto_property_free_all(&props);
		return rc;
	}
	return mosquitto_connect_bind(m->mosq, m->conf.host, m->conf.port, m->conf.keepalive, NULL);
}

/* One session: connect, then run libmosquitto until it ends.  Returns 1 if
 * a session was established (resets the backoff). */
static int run_session(struct mqtt *m)
{
	int established = 0;
	double stop_seen = 0;
	pthread_mutex_lock(&m->lock);
	m->th_conn_result = -1;
	pthread_mutex_unlock(&m->lock);
	if (probe_tcp(m) != 0)
		return 0;
	int crc = do_connect(m);
	if (crc != MOSQ_ERR_SUCCESS) {
		/* Say why (identical lines are rate-limited by the log module):
		 * a TLS failure names OpenSSL's reason, e.g. "certificate
		 * verify failed", so an operator sees a wrong CA at once. */
		unsigned long e = crc == MOSQ_ERR_TLS ? ERR_peek_last_error() : 0;
		char why[256];
		if (e)
			ERR_error_string_n(e, why, sizeof why);
		ERR_clear_error();
		log_warn("mqtt", "cannot connect to %s:%d: %s%s%s", m->conf.host, m->conf.port,
		         crc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(crc),
		         e ? ": " : "", e ? why : "");
		return 0;
	}
	double deadline = mono_now() + m->conf.connect_timeout;
	for (;;) {
		int rc = mosquitto_loop(m->mosq, 100, 1);
		pthread_mutex_lock(&m->lock);
		int cr = m->th_conn_result, stop = m->stopping, up = m->th_connected;
		pthread_mutex_unlock(&m->lock);
		if (up)
			established = 1;
		if (cr > 0 && m->th_protocol == 5 &&
		    (cr == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || cr == 1)) {
			/* 3.1.1-only broker: fall back for good */
			m->th_protocol = 4;
			mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			                     MQTT_PROTOCOL_V311);
			log_notice("mqtt", "broker refused MQTT 5; using 3.1.1");
			return 1; /* retry at once */
		}
		if (rc != MOSQ_ERR_SUCCESS || cr > 0)
			break;
		if (!established && mono_now() > deadline) {
			log_warn("mqtt", "no CONNACK from %s:%d within %.0f s", m->conf.host,
			         m->conf.port, m->conf.connect_timeout);
			break;
		}
		if (stop && !up)
			break;
		if (stop && stop_seen == 0)
			stop_seen = mono_now();
		if (stop && mono_now() - stop_seen > 2.0)
			break; /* the broker did not let us finish cleanly */
	}
	if (!established) {
		pthread_mutex_lock(&m->lock);
		int cr = m->th_conn_result;
		pthread_mutex_unlock(&m->lock);
		if (cr > 0)
			log_warn("mqtt", "broker refused connection: %s",
			         mosquitto_reason_string(cr));
	}
	mosquitto_disconnect(m->mosq);
	return established;
}

static void *thread_main(void *arg)
{
	struct mqtt *m = arg;
	unsigned attempt = 0;
	while (!is_stopping(m)) {
		int up = run_session(m);
		if (is_stopping(m))
			break;
		pthread_mutex_lock(&m->lock);
		if (up)
			attempt = 0; /* the session was up: start the backoff over */
		else
			m->th_connect_failures++;
		double r = (double)rand_r(&m->seed) / ((double)RAND_MAX + 1.0);
		pthread_mutex_unlock(&m->lock);
		double d = mqtt_backoff(m->conf.reconnect_min, m->conf.reconnect_max, attempt++, r);
		log_debug("mqtt", "broker %s:%d unreachable; retry in %.1f s", m->conf.host,
		          m->conf.port, d);
		if (wait_or_stop(m, d))
			break;
	}
	return NULL;
}

/* ---- loop thread: draining the queue ---- */

static void broker_subscribe_all(struct mqtt *m)
{
	for (struct filter *f = m->filters; f; f = f->next)
		mosquitto_subscribe(m->mosq, NULL, f->text, f->qos);
}

static void dispatch(struct mqtt *m, const struct event *e)
{
	int hit = 0;
	m->cnt.msgs_in++;
	m->dispatching++;
	for (struct mqtt_sub *s = m->subs; s; s = s->next)
		if (!s->dead && mqtt_topic_match(s->filter, e->topic)) {
			hit = 1;
			s->cb(e->topic, e->payload, e->len, e->qos, e->retain, s->ud);
		}
	m->dispatching--;
	if (hit)
		m->cnt.msgs_dispatched++;
	else
		m->cnt.rejected_nosub++;
}

static void handle_ack(struct mqtt *m, int mid)
{
	uint64_t tok = m->tokens[(uint16_t)mid];
	if (!tok)
		return; /* QoS 0, or "online"/"offline" status */
	m->tokens[(uint16_t)mid] = 0;
	m->cnt.acks++;
	m->cnt.unacked--;
	if (m->ack_cb)
		m->ack_cb(tok, m->ack_ud);
}

static void handle_up(struct mqtt *m, int protocol)
{
	m->cnt.connected = 1;
	m->cnt.protocol = protocol;
	if (m->cnt.connects++)
		m->cnt.reconnects++;
	log_info("mqtt", "connected to %s:%d (MQTT %s)", m->conf.host, m->conf.port,
	         protocol == 5 ? "5" : "3.1.1");
	broker_subscribe_all(m);
	mosquitto_publish(m->mosq, NULL, m->will_topic, 6, "online", 1, true);
	if (m->conn_cb)
		m->conn_cb(1, m->conn_ud);
}

static void sweep_dead(struct mqtt *m)
{
	for (struct mqtt_sub **pp = &m->subs; *pp;) {
		struct mqtt_sub *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s->filter);
			free(s);
		} else
			pp = &s->next;
	}
	m->have_dead = 0;
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, async);
	(void)loop, (void)revents;
	pthread_mutex_lock(&m->lock);
	struct event *e = m->qhead;
	m->cnt.queue_depth = m->qlen;
	if (m->qlen > m->cnt.queue_max_seen)
		m->cnt.queue_max_seen = m->qlen;
	m->qhead = NULL;
	m->qtail = &m->qhead;
	m->qlen = 0;
	m->cnt.rejected_size = m->th_rejected_size;
	m->cnt.connect_failures = m->th_connect_failures;
	m->cnt.bytes_in = m->th_bytes_in;
	pthread_cond_broadcast(&m->cond); /* wake a back-pressured thread */
	pthread_mutex_unlock(&m->lock);
	while (e) {
		struct event *next = e->next;
		switch (e->kind) {
		case EV_MSG: dispatch(m, e); break;
		case EV_ACK: handle_ack(m, e->mid); break;
		case EV_UP: handle_up(m, e->rc); break;
		case EV_DOWN:
			m->cnt.connected = 0;
			log_msg("mqtt", m->stopping ? LOG_LVL_INFO : LOG_LVL_WARNING,
			        "connection to %s:%d %s (%s)", m->conf.host, m->conf.port,
			        m->stopping ? "closed" : "lost", mosquitto_strerror(e->rc));
			if (m->conn_cb)
				m->conn_cb(0, m->conn_ud);
			break;
		}
		free(e);
		e = next;
	}
	if (m->have_dead && !m->dispatching)
		sweep_dead(m);
}

/* ---- construction ---- */

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void conf_copy(struct mqtt_conf *d, const struct mqtt_conf *s)
{
	*d = *s;
	d->host = xstrdup(s->host);
	d->client_id = xstrdup(s->client_id);
	d->topic_prefix = xstrdup(s->topic_prefix);
	d->node = xstrdup(s->node ? s->node : s->client_id);
	d->username = dup_or_null(s->username);
	d->password_file = dup_or_null(s->password_file);
	d->tls.ca_file = dup_or_null(s->tls.ca_file);
	d->tls.cert_file = dup_or_null(s->tls.cert_file);
	d->tls.key_file = dup_or_null(s->tls.key_file);
	if (!d->port)
		d->port = d->tls.ca_file ? 8883 : 1883;
}

static char *read_secret(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	if (!f) {
		snprintf(err, errlen, "mqtt: cannot read password_file %s: %s", path,
		         strerror(errno));
		return NULL;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	char *p = xstrdup(buf);
	memset(buf, 0, sizeof(buf));
	return p;
}

static int setup_mosq(struct mqtt *m, char *err, size_t errlen)
{
	const struct mqtt_conf *c = &m->conf;
	int rc;
	m->mosq = mosquitto_new(c->client_id, c->clean_session ? true : false, m);
	if (!m->mosq) {
		snprintf(err, errlen, "mqtt: mosquitto_new: %s", strerror(errno));
		return -1;
	}
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	                     c->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, c->inflight);
	mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM,
	                     c->inflight < SEND_WINDOW ? c->inflight : SEND_WINDOW);
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_log_callback_set(m->mosq, on_mosq_log);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
	if ((rc = mosquitto_will_set(m->mosq, m->will_topic, 7, "offline", 1, true))) {
		snprintf(err, errlen, "mqtt: last will: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (c->username && (rc = mosquitto_username_pw_set(m->mosq, c->username, m->password))) {
		snprintf(err, errlen, "mqtt: credentials: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (c->tls.ca_file) {
		rc = mosquitto_tls_set(m->mosq, c->tls.ca_file, NULL, c->tls.cert_file,
		                       c->tls.key_file, NULL);
		if (!rc)
			rc = mosquitto_tls_opts_set(m->mosq, 1, "tlsv1.2", NULL);
		if (rc) {
			snprintf(err, errlen, "mqtt: tls (ca_file %s): %s", c->tls.ca_file,
			         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* libmosquitto's own errors (e.g. "OpenSSL Error[0]: ... certificate verify
 * failed") go to our log; it calls this from the connection thread, and
 * the log module is thread-safe and rate-limits repeats. */
static void on_mosq_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	(void)mosq;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warn("mqtt", "libmosquitto: %s", str);
}

struct mqtt *mqtt_new(struct ev_loop *loop, const struct mqtt_conf *conf, char *err, size_t errlen)
{
	struct mqtt *m = xcalloc(1, sizeof(*m));
	mosquitto_lib_init(); /* idempotent and reference-counted in 2.x */
	m->loop = loop;
	conf_copy(&m->conf, conf);
	m->will_topic = xasprintf("%s/v1/server/%s/status", m->conf.topic_prefix, m->conf.node);
	m->tokens = xcalloc(65536, sizeof(*m->tokens));
	m->qtail = &m->qhead;
	m->th_protocol = m->conf.protocol;
	m->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)m;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	ev_async_init(&m->async, async_cb);
	if (!mqtt_topic_valid(m->will_topic)) {
		snprintf(err, errlen, "mqtt: node/prefix give an invalid topic %s", m->will_topic);
		goto fail;
	}
	if (m->conf.password_file &&
	    !(m->password = read_secret(m->conf.password_file, err, errlen)))
		goto fail;
	if (setup_mosq(m, err, errlen))
		goto fail;
	return m;
fail:
	mqtt_free(m);
	return NULL;
}

int mqtt_start(struct mqtt *m)
{
	if (m->thr_started)
		return 0;
	ev_async_start(m->loop, &m->async);
	ev_unref(m->loop); /* the watcher alone must not keep ev_run alive */
	if (pthread_create(&m->thr, NULL, thread_main, m) != 0) {
		ev_ref(m->loop);
		ev_async_stop(m->loop, &m->async);
		return -1;
	}
	m->thr_started = 1;
	return 0;
}

void mqtt_stop(struct mqtt *m)
{
	if (!m || !m->thr_started)
		return;
	pthread_mutex_lock(&m->lock);
	int up = m->th_connected;
	m->stopping = 1;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (up) {
		/* a clean DISCONNECT suppresses the will: say offline ourselves */
		mosquitto_publish(m->mosq, NULL, m->will_topic, 7, "offline", 1, true);
		mosquitto_disconnect(m->mosq);
	}
	pthread_join(m->thr, NULL);
	m->thr_started = 0;
	ev_ref(m->loop);
	ev_async_stop(m->loop, &m->async);
	async_cb(m->loop, &m->async, 0); /* deliver what is left (acks) */
	m->cnt.connected = 0;
}

void mqtt_free(struct mqtt *m)
{
	if (!m)
		return;
	mqtt_stop(m);
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	for (struct event *e = m->qhead, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	for (struct filter *f = m->filters, *n; f; f = n) {
		n = f->next;
		free(f->text);
		free(f);
	}
	for (struct mqtt_sub *s = m->subs, *n; s; s = n) {
		n = s->next;
		free(s->filter);
		free(s);
	}
	if (m->password) {
		memset(m->password, 0, strlen(m->password));
		free(m->password);
	}
	free(m->will_topic);
	free(m->tokens);
	mqtt_conf_free(&m->conf);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
	mosquitto_lib_cleanup();
}

/* ---- subscribe / publish (loop thread) ---- */

struct mqtt_sub *mqtt_subscribe(struct mqtt *m, const char *filter, int qos, mqtt_msg_cb cb,
                                void *ud)
{
	if (!mqtt_filter_valid(filter) || qos < 0 || qos > 2 || !cb)
		return NULL;
	struct filter *f;
	for (f = m->filters; f && strcmp(f->text, filter); f = f->next)
		;
	if (!f) {
		f = xcalloc(1, sizeof(*f));
		f->text = xstrdup(filter);
		f->qos = qos;
		f->next = m->filters;
		m->filters = f;
		if (m->cnt.connected)
			mosquitto_subscribe(m->mosq, NULL, filter, qos);
	} else if (qos > f->qos) {
		f->qos = qos;
		if (m->cnt.connected)
			mosquitto_subscribe(m->mosq, NULL, filter, qos);
	}
	f->refs++;
	struct mqtt_sub *s = xcalloc(1, sizeof(*s));
	s->filter = xstrdup(filter);
	s->cb = cb;
	s->ud = ud;
	s->next = m->subs;
	m->subs = s;
	return s;
}

void mqtt_unsubscribe(struct mqtt *m, struct mqtt_sub *s)
{
	if (!s || s->dead)
		return;
	for (struct filter **pp = &m->filters; *pp; pp = &(*pp)->next) {
		struct filter *f = *pp;
		if (strcmp(f->text, s->filter))
			continue;
		if (--f->refs == 0) {
			if (m->cnt.connected)
				mosquitto_unsubscribe(m->mosq, NULL, f->text);
			*pp = f->next;
			free(f->text);
			free(f);
		}
		break;
	}
	s->dead = 1;
	m->have_dead = 1;
	if (!m->dispatching)
		sweep_dead(m);
}

int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retain, uint64_t *token)
{
	int mid = 0;
	if (!mqtt_topic_valid(topic) || qos < 0 || qos > 2 || len > 268435455u)
		return -1;
	if (qos > 0 && m->cnt.unacked >= MAX_UNACKED) {
		m->cnt.publish_errors++;
		return -1;
	}
	int rc =
	    mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, qos, retain ? true : false);
	/* NO_CONN: QoS 1/2 messages are queued by libmosquitto all the same */
	if (rc != MOSQ_ERR_SUCCESS && !(rc == MOSQ_ERR_NO_CONN && qos > 0)) {
		m->cnt.publish_errors++;
		return -1;
	}
	m->cnt.msgs_out++;
	m->cnt.bytes_out += len;
	if (qos > 0) {
		uint64_t tok = ++m->next_token;
		m->tokens[(uint16_t)mid] = tok;
		m->cnt.unacked++;
		if (token)
			*token = tok;
	} else if (token)
		*token = 0;
	return 0;
}

void mqtt_set_ack_cb(struct mqtt *m, mqtt_ack_cb cb, void *ud)
{
	m->ack_cb = cb;
	m->ack_ud = ud;
}

void mqtt_set_conn_cb(struct mqtt *m, mqtt_conn_cb cb, void *ud)
{
	m->conn_cb = cb;
	m->conn_ud = ud;
}

const struct mqtt_counters *mqtt_counters(const struct mqtt *m)
{
	return &m->cnt;
}

const char *mqtt_prefix(const struct mqtt *m)
{
	return m->conf.topic_prefix;
}
