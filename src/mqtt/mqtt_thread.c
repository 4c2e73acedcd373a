/*
 * mqtt_thread: the connection thread of the mqtt module (see mqtt.h for
 * the contract, mqtt_int.h for who owns which field).
 *
 * Why not mosquitto_loop_start + mosquitto_connect_async: connect_async
 * resolves the host name in the caller (the loop), libmosquitto's own
 * reconnect delay has no jitter, and MQTT 5 session properties are lost on
 * its internal reconnects.  So this thread runs its own cycle:
 *   probe TCP (non-blocking, bounded by connect_timeout, stop-aware)
 *   -> mosquitto_connect_bind[_v5] (fast once the probe succeeded)
 *   -> the poll loop below until the session ends -> backoff with jitter.
 * The probe exists because libmosquitto's v5 connect is a blocking
 * connect(): against a black-holed address it would hold the thread (and
 * mqtt_stop) for the kernel's SYN timeout (~2 min).  Cost: one extra TCP
 * handshake per (re)connect, which the broker logs as a client that closed
 * before CONNECT.
 *
 * Why not mosquitto_loop: it handles one packet per select() when nothing
 * is queued, and our callbacks then took the lock and woke the loop once
 * per message.  Here one poll() watches the broker socket and the eventfd
 * the loop kicks after queueing packets; when packets pile up,
 * mosquitto_loop_read is called until the socket would block (bounded;
 * one packet per poll while traffic is sparse, see read_burst), every
 * event of that burst goes to the loop with one lock and one
 * ev_async_send (batch_flush), and only then mosquitto_loop_write sends
 * the PUBACKs libmosquitto queued while reading, together.
 * Back-pressure: a batch that holds messages waits while the loop is
 * max_queue events behind (so the queue holds at most max_queue +
 * BATCH_MAX); its PUBACKs go out after it was accepted.  libmosquitto
 * still writes a wake-up byte to its internal socket pair for every packet
 * it queues; only mosquitto_loop reads that pair, so once its buffer is
 * full those writes fail with EAGAIN, which libmosquitto ignores (the
 * eventfd does that job here).
 *
 * Never here: subscriber callbacks, the ack callback, anything of the
 * loop's state.  Never on the loop: connect, name resolution, waiting.
 */
#include "mqtt/mqtt_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Events per batch, and mosquitto_loop_read calls (each reads at least
 * one packet) per burst before the queued writes go out and we poll again
 * (without waiting).  Bounds what the loop waits for before it can start,
 * how long an outgoing alert waits behind incoming reports, and the
 * queue's overshoot past max_queue.  64: a batch's lock and wake-up cost
 * about as much as reading one report, so larger batches gain little. */
#define BATCH_MAX   64
/* poll timeout: the connect deadline and the 2 s stop grace are checked
 * this often; stop and publishes wake the thread at once (eventfd). */
#define POLL_MS     100

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int is_stopping(struct mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	int s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* ---- the batch (thread) -> the queue (loop) ---- */

/* Hand the batch and its counters to the loop: one lock, one wake-up.
 * A batch with messages waits while the loop is max_queue events behind
 * (back-pressure: we stop reading, the broker queues).  Acks, connects and
 * disconnects alone never wait. */
static void batch_flush(struct mqtt *m)
{
	if (!m->bhead && !m->b_rejected && !m->b_bytes_in)
		return;
	pthread_mutex_lock(&m->lock);
	while (m->bmsgs && m->qlen >= m->conf.max_queue && !m->stopping)
		pthread_cond_wait(&m->cond, &m->lock);
	int wake = m->bhead != NULL;
	if (wake) {
		*m->qtail = m->bhead;
		m->qtail = m->btail;
		m->qlen += m->blen;
		m->th_batches++;
	}
	m->th_rejected_size += m->b_rejected;
	m->th_bytes_in += m->b_bytes_in;
	pthread_mutex_unlock(&m->lock);
	m->bhead = NULL;
	m->btail = &m->bhead;
	m->blen = m->bmsgs = 0;
	m->b_rejected = m->b_bytes_in = 0;
	if (wake)
		ev_async_send(m->loop, &m->async);
}

static void batch_add(struct mqtt *m, struct mqtt__event *e)
{
	m->b_seen++;
	e->next = NULL;
	*m->btail = e;
	m->btail = &e->next;
	m->blen++;
	if (e->kind == QE_MSG)
		m->bmsgs++;
	if (m->blen >= BATCH_MAX)
		batch_flush(m);
}

static void add_simple(struct mqtt *m, int kind, int mid, int rc)
{
	struct mqtt__event *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->mid = mid;
	e->rc = rc;
	batch_add(m, e);
}

/* ---- libmosquitto callbacks (this thread, inside loop_read/_write/_misc) ---- */

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
		add_simple(m, QE_UP, 0, m->th_protocol);
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
		add_simple(m, QE_DOWN, 0, rc);
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int rc,
                       const mosquitto_property *props)
{
	(void)mosq, (void)props;
	add_simple(ud, QE_ACK, mid, rc);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	if (len > m->conf.max_message_size) {
		m->b_rejected++; /* dropped before anyone parses it; counted */
		m->b_seen++;
		return;
	}
	size_t tlen = strlen(msg->topic);
	struct mqtt__event *e = xmalloc(sizeof(*e) + tlen + 1 + len + 1);
	memset(e, 0, sizeof(*e));
	e->kind = QE_MSG;
	e->qos = msg->qos;
	e->retain = msg->retain;
	e->len = len;
	e->topic = (char *)(e + 1);
	memcpy(e->topic, msg->topic, tlen + 1);
	e->payload = e->topic + tlen + 1;
	if (len)
		memcpy(e->payload, msg->payload, len);
	e->payload[len] = '\0';
	m->b_bytes_in += len;
	batch_add(m, e);
}

/* libmosquitto's own errors (e.g. "OpenSSL Error[0]: ... certificate verify
 * failed") go to our log; the log module is thread-safe and rate-limits
 * repeats. */
static void on_mosq_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	(void)mosq;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warn("mqtt", "libmosquitto: %s", str);
}

void mqtt__set_callbacks(struct mqtt *m)
{
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_log_callback_set(m->mosq, on_mosq_log);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
}

/* ---- connecting ---- */

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

/* ---- the session's poll loop ---- */

/* Read what the socket has: call mosquitto_loop_read (one packet per
 * call, from mqtt_io's buffer) until the buffer is empty and the last real
 * read found the socket drained, or BATCH_MAX calls (*more = 1 then: do
 * not wait in the next poll).  A single call may read several packets
 * (libmosquitto allows one per queued outgoing message); batch_add
 * flushes a full batch by itself. */
static int read_burst(struct mqtt *m, int *more)
{
	int i;
	for (i = 0; i < BATCH_MAX; i++) {
		int rc = mosquitto_loop_read(m->mosq, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			return rc;
		if (mosquitto_socket(m->mosq) < 0)
			break;
		if (mqtt_io_pending_in(&m->io) == 0 && m->io.drained)
			break;
	}
	*more = mqtt_io_pending_in(&m->io) > 0 || i == BATCH_MAX;
	return MOSQ_ERR_SUCCESS;
}

/* Once the kick's eventfd was read, clear the flag before writing: a
 * publish queued after this point kicks again, one queued before it is
 * written below. */
static void take_kick(struct mqtt *m)
{
	uint64_t v;
	ssize_t r = read(m->efd, &v, sizeof(v));
	(void)r;
	atomic_store(&m->kicked, 0);
}

/* Move what libmosquitto queued (after a burst: its PUBACKs; the loop's
 * publishes) into mqtt_io's output, then out with one write. */
static int write_queued(struct mqtt *m)
{
	int rc = MOSQ_ERR_SUCCESS;
	if (mosquitto_want_write(m->mosq)) {
		/* mosquitto_loop_write calls packet__write (which writes every
		 * queued packet until the socket would block) up to once per
		 * queued QoS>0 message, stopping early when errno is EAGAIN; a
		 * successful write leaves errno alone, so EAGAIN here makes it
		 * stop after the first call instead of re-checking an empty
		 * queue hundreds of times under its mutexes. */
		errno = EAGAIN;
		rc = mosquitto_loop_write(m->mosq, 1);
	}
	if (m->io.fd >= 0 && mqtt_io_flush(&m->io) != 0 && rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_read(m->mosq, 1); /* reports the error: disconnect path */
	return rc;
}

/* One round: wait for the socket or a kick, read a burst, hand its events
 * over, then write what libmosquitto queued (PUBACKs, publishes) and do
 * its keepalive.  A libmosquitto error code, as mosquitto_loop would. */
static int session_io(struct mqtt *m, int *more)
{
	int fd = mosquitto_socket(m->mosq);
	if (fd < 0)
		return MOSQ_ERR_NO_CONN;
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = m->efd, .events = POLLIN } };
	/* mosquitto_want_write reads libmosquitto's queue without its mutex
	 * (mosquitto_loop takes it; we cannot): a stale "no" costs nothing,
	 * the loop's kick after queueing wakes this poll again. */
	if (mosquitto_want_write(m->mosq) || mqtt_io_pending_out(&m->io))
		p[0].events |= POLLOUT;
	int buffered = mqtt_io_pending_in(&m->io) > 0;
	int n = poll(p, 2, *more || buffered ? 0 : POLL_MS);
	if (n < 0)
		return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
	if (p[1].revents & POLLIN)
		take_kick(m);
	int rc = MOSQ_ERR_SUCCESS;
	*more = 0;
	if (buffered || (p[0].revents & (POLLIN | POLLERR | POLLHUP)))
		rc = read_burst(m, more);
	batch_flush(m); /* the loop has the messages before their PUBACKs leave */
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0)
		rc = write_queued(m);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(m->mosq);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0)
		rc = write_queued(m); /* a PINGREQ */
	batch_flush(m); /* acks of QoS 0 publishes, a lost connection */
	return rc;
}

/* One session: connect, then run libmosquitto until it ends.  Returns 1 if
 * a session was established (resets the backoff). */
static int run_session(struct mqtt *m)
{
	int established = 0, more = 0;
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
	mqtt_io_attach(&m->io, mosquitto_socket(m->mosq));
	double deadline = mono_now() + m->conf.connect_timeout;
	for (;;) {
		int rc = session_io(m, &more);
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
	if (mosquitto_socket(m->mosq) >= 0)
		write_queued(m); /* DISCONNECT: libmosquitto closes after it */
	mqtt_io_detach(&m->io);
	batch_flush(m);
	return established;
}

void *mqtt__thread_main(void *arg)
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
	batch_flush(m);
	return NULL;
}
