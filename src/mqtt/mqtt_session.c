/*
 * mqtt_session: the broker session of the mqtt module (see mqtt.h for the
 * contract, mqtt_int.h for who owns which field).
 *
 * Two halves:
 *   - the connector, a short-lived thread per attempt: a non-blocking TCP
 *     probe bounded by connect_timeout and stop-aware, then
 *     mosquitto_connect_bind[_v5].  Name resolution, the TCP connect and
 *     libmosquitto's blocking connect() happen there, never on the loop.
 *     When it is done it wakes the loop (one ev_async) and ends.  Why the
 *     probe: libmosquitto's connect is a blocking connect(); against a
 *     black-holed address it would hold the thread (and mqtt_stop) for the
 *     kernel's SYN timeout (~2 min).  Cost: one extra TCP handshake per
 *     (re)connect, which the broker logs as a client that closed before
 *     CONNECT.
 *   - the session, on the loop: an ev_io on the broker socket drives
 *     mosquitto_loop_read in bursts, an ev_prepare writes what libmosquitto
 *     queued during the loop iteration (PUBACKs of the burst, the loop's
 *     publishes) in one write() before the loop sleeps, and a 1 s timer
 *     runs mosquitto_loop_misc (keepalive) and the CONNACK deadline.  In
 *     mamorid the socket's bytes go through mqtt_io (one read() per 64
 *     KiB, collected writes; mqtt_interpose.c); where the interposer is
 *     not linked or not seen (tests, tools, --disable-io-interpose),
 *     libmosquitto does its own I/O and the same code runs.  Messages
 *     reach subscribers straight from libmosquitto's callback: no copy,
 *     no queue, no thread hand-off.  When the loop is busy it does not
 *     read, and TCP pushes back on the broker: nothing is dropped.
 * Why not mosquitto_loop_start: libmosquitto's thread hands every message
 * to another thread, and mosquitto_loop handles one packet per select().
 * An earlier version ran its own poll loop in a thread with a locked queue
 * to the loop; its sleep/wake-up and hand-off per batch cost more CPU than
 * judging the messages (doc/benchmarks.md).
 * Reconnect: capped exponential backoff with jitter (mqtt_backoff), reset
 * after a session that reached CONNACK.
 */
#include "mqtt/mqtt_int.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* mosquitto_loop_read calls (each reads at least one packet) per burst
 * before other watchers get their turn (and our PUBACKs go out). */
#define BURST_MAX 64
/* TLS records collected before they leave in one write() */
#define TLS_WBUF  (64 * 1024)

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

/* ---- libmosquitto callbacks (loop thread, inside loop_read/_write/_misc) ---- */

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)flags, (void)props;
	m->lib_events++;
	m->conn_result = rc;
	if (rc == 0) {
		/* libmosquitto formats a debug line for every packet (malloc +
		 * vsnprintf) whenever a log callback is set; in a session we
		 * only want its errors, which end the session and are logged
		 * with its reason code anyway.  The connector sets it again. */
		if (log_get_level() < LOG_LVL_DEBUG)
			mosquitto_log_callback_set(mosq, NULL);
		m->up_pending = 1;
	}
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props;
	m->lib_events++;
	m->down_rc = rc;
	m->down_pending = 1;
}

static void on_publish(struct mosquitto *mosq, void *ud, int mid, int rc,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props, (void)rc;
	m->lib_events++;
	mqtt__handle_ack(m, mid);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	(void)mosq, (void)props;
	m->lib_events++;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	m->cnt.bytes_in += len;
	if (len > m->conf.max_message_size) {
		m->cnt.rejected_size++; /* dropped before anyone parses it; counted */
		return;
	}
	/* libmosquitto allocates payloadlen + 1 and zeroes the last byte:
	 * subscribers get a NUL-terminated payload, as promised. */
	mqtt__dispatch(m, msg->topic, msg->payload ? msg->payload : "", len, msg->qos, msg->retain);
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

/* ---- the connector thread ---- */

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

static int do_connect(struct mqtt *m, int protocol)
{
	if (protocol == 5) {
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

/* The loop does not touch libmosquitto's connection state while this
 * runs (it may publish: libmosquitto queues under its own mutexes). */
static void *connector_main(void *arg)
{
	struct mqtt *m = arg;
	int rc = -1;
	char why[256] = "";
	if (probe_tcp(m) == 0 && !is_stopping(m)) {
		mosquitto_log_callback_set(m->mosq, on_mosq_log); /* TLS errors */
		rc = do_connect(m, m->protocol);
		if (rc == MOSQ_ERR_TLS) {
			/* OpenSSL's reason, e.g. "certificate verify failed", so
			 * an operator sees a wrong CA at once. */
			unsigned long e = ERR_peek_last_error();
			if (e)
				ERR_error_string_n(e, why, sizeof why);
		} else if (rc == MOSQ_ERR_ERRNO)
			snprintf(why, sizeof why, "%s", strerror(errno));
		ERR_clear_error();
	}
	pthread_mutex_lock(&m->lock);
	m->conn_rc = rc;
	snprintf(m->conn_why, sizeof m->conn_why, "%s", why);
	m->conn_done = 1;
	pthread_mutex_unlock(&m->lock);
	ev_async_send(m->loop, &m->async);
	return NULL;
}

static void start_connector(struct mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	m->conn_done = 0;
	pthread_mutex_unlock(&m->lock);
	if (pthread_create(&m->thr, NULL, connector_main, m) != 0) {
		log_err("mqtt", "cannot start the connector thread: %s", strerror(errno));
		m->phase = PH_BACKOFF;
		ev_timer_set(&m->retry_w, m->conf.reconnect_max, 0);
		ev_timer_start(m->loop, &m->retry_w);
		return;
	}
	m->thr_running = 1;
	m->phase = PH_CONNECTING;
}

/* ---- the session (loop) ---- */

static void backoff(struct mqtt *m)
{
	double r = (double)rand_r(&m->seed) / ((double)RAND_MAX + 1.0);
	double d = mqtt_backoff(m->conf.reconnect_min, m->conf.reconnect_max, m->attempt++, r);
	log_debug("mqtt", "broker %s:%d unreachable; retry in %.1f s", m->conf.host, m->conf.port,
	          d);
	m->phase = PH_BACKOFF;
	ev_timer_set(&m->retry_w, d, 0);
	ev_timer_start(m->loop, &m->retry_w);
}

/* libmosquitto's read and write steps, marked for mqtt_io. */
static int lib_read(struct mqtt *m)
{
	mqtt_io_enter(&m->io);
	int rc = mosquitto_loop_read(m->mosq, 1);
	mqtt_io_leave(&m->io);
	return rc;
}

/* mosquitto_loop_write calls packet__write (which writes every queued
 * packet until the socket would block) up to once per queued QoS>0
 * message, stopping early when errno is EAGAIN; a successful write leaves
 * errno alone, so EAGAIN here makes it stop after the first call instead
 * of re-checking an empty queue hundreds of times under its mutexes. */
static int lib_write(struct mqtt *m)
{
	mqtt_io_enter(&m->io);
	errno = EAGAIN;
	int rc = mosquitto_loop_write(m->mosq, 1);
	mqtt_io_leave(&m->io);
	return rc;
}

/* ---- TLS: OpenSSL's own batching (public APIs only) ----
 * Over TLS libmosquitto's reads and writes are SSL_read/SSL_write calls:
 * OpenSSL reads each record with two read()s (header, then body) and
 * sends each SSL_write as a record with its own write().  Read-ahead
 * lets one read() take what the socket has; a buffering BIO in front of
 * the socket BIO collects the records until session_write flushes it
 * (before the loop sleeps, and at session end; OpenSSL flushes it itself
 * after each handshake flight and its close_notify).  This does not
 * need the interposer; with it, the interposer just sees fewer calls.
 * OpenSSL may now hold whole records the socket no longer signals, so
 * bursts and prep_cb go on while SSL_has_pending.
 * Never keep the SSL or a BIO: libmosquitto frees them when it closes. */

static int tls_pending_in(struct mqtt *m)
{
	SSL *ssl = mosquitto_ssl_get(m->mosq);
	return ssl && SSL_has_pending(ssl);
}

static BIO *tls_wbio(struct mqtt *m)
{
	SSL *ssl = m->tls_batch > 1 ? mosquitto_ssl_get(m->mosq) : NULL;
	return ssl ? SSL_get_wbio(ssl) : NULL;
}

static int tls_pending_out(struct mqtt *m)
{
	BIO *b = tls_wbio(m);
	return b && BIO_wpending(b) > 0;
}

/* Send what the write buffer holds: 0 sent or would block (then
 * tls_pending_out), -1 the socket failed. */
static int tls_flush(struct mqtt *m)
{
	BIO *b = tls_wbio(m);
	if (!b || BIO_wpending(b) <= 0 || BIO_flush(b) > 0)
		return 0;
	return BIO_should_retry(b) ? 0 : -1;
}

/* At session start, with the handshake done or under way (OpenSSL's
 * handshake buffer, if still there, stays in front of ours). */
static void tls_start(struct mqtt *m)
{
	SSL *ssl = mosquitto_ssl_get(m->mosq);
	m->tls_batch = 0;
	if (!ssl)
		return;
	SSL_set_read_ahead(ssl, 1);
	m->tls_batch = 1;
	BIO *sock = SSL_get_wbio(ssl), *buf = BIO_new(BIO_f_buffer());
	if (!sock || !buf || BIO_set_write_buffer_size(buf, TLS_WBUF) != 1) {
		BIO_free(buf);
		ERR_clear_error();
		return; /* read-ahead only */
	}
	/* the chain buf -> sock holds its own reference to the socket BIO;
	 * SSL_set0_wbio drops the SSL's old write reference to it */
	BIO_up_ref(sock);
	SSL_set0_wbio(ssl, BIO_push(buf, sock));
	m->tls_batch = 2;
}

/* Once per connection, at CONNACK (read on this thread, so through the
 * interposer if it is in libmosquitto's path): which I/O the session has.
 * Unbuffered works, at about a third more CPU per report; an operator who
 * expected buffering learns here that the interposer is not linked
 * (--disable-io-interpose) or not exported (-fvisibility=hidden,
 * -Wl,--exclude-libs). */
static void log_io(struct mqtt *m)
{
	static const char *const tls[] = { "", "; TLS records batched by OpenSSL (read-ahead)",
		                           "; TLS records batched by OpenSSL (read-ahead, "
		                           "write buffer)" };
	m->cnt.io_buffered = m->io.served;
	if (m->io.served)
		log_info("mqtt",
		         "broker socket I/O: buffered (mamorid's read/write interposer is in "
		         "libmosquitto's path)%s",
		         tls[m->tls_batch]);
	else
		log_info("mqtt",
		         "broker socket I/O: unbuffered, libmosquitto calls libc directly "
		         "(read/write interposer not linked or not exported)%s",
		         tls[m->tls_batch]);
}

/* After a libmosquitto call: the connection events its callbacks noted. */
static void take_events(struct mqtt *m)
{
	if (m->up_pending) {
		m->up_pending = 0;
		m->established = 1;
		mqtt__handle_up(m, m->protocol);
		log_io(m);
	}
	if (m->down_pending) {
		m->down_pending = 0;
		if (m->cnt.connected)
			mqtt__handle_down(m, m->down_rc);
	}
}

static void watch(struct mqtt *m, int events)
{
	if (m->watching == events)
		return;
	ev_io_stop(m->loop, &m->sock_w);
	m->watching = events;
	if (events) {
		ev_io_set(&m->sock_w, m->io.fd, events);
		ev_io_start(m->loop, &m->sock_w);
	}
}

/* The session is over (error, refusal, CONNACK timeout, fallback or
 * stop): close what is left, tell the loop's side, plan the next try. */
static void session_end(struct mqtt *m, int rc)
{
	watch(m, 0);
	ev_idle_stop(m->loop, &m->more_w);
	ev_timer_stop(m->loop, &m->misc_w);
	ev_prepare_stop(m->loop, &m->prep_w);
	if (mosquitto_socket(m->mosq) >= 0) {
		mosquitto_disconnect(m->mosq);
		if (mosquitto_want_write(m->mosq))
			lib_write(m); /* DISCONNECT; closes after it */
		tls_flush(m);
		mqtt_io_flush(&m->io);
	}
	m->tls_batch = 0;
	mqtt_io_detach(&m->io);
	take_events(m);
	if (m->cnt.connected) /* no callback came: say it ourselves */
		mqtt__handle_down(m, rc);
	int was = m->established;
	m->established = 0;
	m->phase = PH_IDLE;
	if (m->stopping_loop)
		return;
	if (m->conn_result > 0 && m->protocol == 5 &&
	    (m->conn_result == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || m->conn_result == 1)) {
		/* 3.1.1-only broker: fall back for good, retry at once */
		m->protocol = 4;
		mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
		log_notice("mqtt", "broker refused MQTT 5; using 3.1.1");
		start_connector(m);
		return;
	}
	if (!was) {
		m->cnt.connect_failures++;
		if (m->conn_result > 0)
			log_warn("mqtt", "broker refused connection: %s",
			         mosquitto_reason_string(m->conn_result));
	} else
		m->attempt = 0; /* the session was up: start the backoff over */
	backoff(m);
}

/* Move what libmosquitto queued (through the TLS write buffer) into
 * mqtt_io and out with one write; watch for writability while some stays.
 * A libmosquitto error code. */
static int session_write(struct mqtt *m)
{
	int rc = MOSQ_ERR_SUCCESS;
	if (mosquitto_want_write(m->mosq))
		rc = lib_write(m);
	if (rc == MOSQ_ERR_SUCCESS && tls_flush(m) != 0)
		rc = MOSQ_ERR_CONN_LOST; /* a dead socket: end, do not poll it */
	if (rc == MOSQ_ERR_SUCCESS && m->io.fd >= 0 && mqtt_io_flush(&m->io) != 0)
		rc = lib_read(m); /* reports the error: disconnect path */
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) < 0)
		rc = MOSQ_ERR_NO_CONN;
	if (rc == MOSQ_ERR_SUCCESS) {
		int more = mqtt_io_pending_out(&m->io) || tls_pending_out(m) ||
		           mosquitto_want_write(m->mosq);
		watch(m, EV_READ | (more ? EV_WRITE : 0));
	}
	return rc;
}

/* Read what the socket has: mosquitto_loop_read (at least one packet
 * per call) until mqtt_io's buffer is empty and either a call brought
 * nothing new or the last real read found the socket drained (and
 * OpenSSL holds nothing more), or BURST_MAX calls; then the writes.
 * "Nothing new" (no libmosquitto callback: no message, ack, CONNACK) is
 * what ends a burst when mqtt_io is not in the path - then nothing sets
 * drained, and without this test every wake-up would make BURST_MAX empty
 * reads and re-arm more_w: one core spinning on EAGAIN at idle.  A packet
 * without a callback (SUBACK, PINGRESP) ends a burst early; the socket is
 * still readable, so sock_w comes back at once. */
static void session_read(struct mqtt *m)
{
	int rc = MOSQ_ERR_SUCCESS, i;
	uint64_t before = m->cnt.msgs_in;
	for (i = 0; i < BURST_MAX && rc == MOSQ_ERR_SUCCESS; i++) {
		uint64_t events = m->lib_events;
		rc = lib_read(m);
		take_events(m);
		if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(m->mosq) < 0)
			break;
		if (mqtt_io_pending_in(&m->io))
			continue; /* each call takes some of it */
		if (m->lib_events == events || (m->io.drained && !tls_pending_in(m)))
			break;
	}
	if (m->cnt.msgs_in != before)
		m->cnt.batches++;
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) < 0)
		rc = MOSQ_ERR_CONN_LOST;
	if (rc == MOSQ_ERR_SUCCESS)
		rc = session_write(m);
	if (rc != MOSQ_ERR_SUCCESS) {
		session_end(m, rc);
		return;
	}
	/* more in the buffer (the socket may be quiet): come back soon */
	if (mqtt_io_pending_in(&m->io) || i == BURST_MAX)
		ev_idle_start(m->loop, &m->more_w);
	else
		ev_idle_stop(m->loop, &m->more_w);
}

static void sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, sock_w);
	(void)loop;
	if (revents & EV_READ) {
		session_read(m);
		return;
	}
	int rc = session_write(m);
	if (rc != MOSQ_ERR_SUCCESS)
		session_end(m, rc);
}

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, more_w);
	(void)loop, (void)revents;
	session_read(m);
}

/* Before the loop sleeps: what this iteration queued goes out together.
 * Input left in mqtt_io's buffer or in OpenSSL's gets a burst here too:
 * more_w alone would starve while timers keep the loop busy (idle
 * watchers run only when nothing else is pending), and the socket may
 * have nothing to make sock_w fire.  OpenSSL may hold only part of a
 * record: that burst is one call that brings nothing, and the loop then
 * sleeps until the socket has the rest - one try per loop iteration, not
 * a spin (no idle watcher is started for it). */
static void prep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, prep_w);
	(void)loop, (void)revents;
	if (mqtt_io_pending_in(&m->io) || tls_pending_in(m)) {
		session_read(m); /* writes at its end */
		return;
	}
	if (!mosquitto_want_write(m->mosq) && !mqtt_io_pending_out(&m->io) && !tls_pending_out(m))
		return;
	int rc = session_write(m);
	if (rc != MOSQ_ERR_SUCCESS)
		session_end(m, rc);
}

static void misc_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, misc_w);
	(void)loop, (void)revents;
	mqtt_io_enter(&m->io);
	int rc = mosquitto_loop_misc(m->mosq);
	mqtt_io_leave(&m->io);
	take_events(m);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = session_write(m);
	if (rc == MOSQ_ERR_SUCCESS && !m->established && m->conn_result > 0)
		rc = MOSQ_ERR_CONN_REFUSED; /* CONNACK with a refusal */
	if (rc == MOSQ_ERR_SUCCESS && !m->established && mono_now() > m->deadline) {
		log_warn("mqtt", "no CONNACK from %s:%d within %.0f s", m->conf.host, m->conf.port,
		         m->conf.connect_timeout);
		rc = MOSQ_ERR_CONN_LOST;
	}
	if (rc != MOSQ_ERR_SUCCESS)
		session_end(m, rc);
}

/* The connector is done: start the session, or plan the next try. */
static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, async);
	(void)revents;
	pthread_mutex_lock(&m->lock);
	int done = m->conn_done, rc = m->conn_rc;
	char why[sizeof m->conn_why];
	memcpy(why, m->conn_why, sizeof why);
	pthread_mutex_unlock(&m->lock);
	if (!done || !m->thr_running)
		return;
	pthread_join(m->thr, NULL);
	m->thr_running = 0;
	m->phase = PH_IDLE;
	if (m->stopping_loop)
		return;
	if (rc != MOSQ_ERR_SUCCESS) {
		if (rc != -1) /* -1: nothing listens; the probe said so quietly */
			log_warn("mqtt", "cannot connect to %s:%d: %s%s%s", m->conf.host,
			         m->conf.port, mosquitto_strerror(rc), why[0] ? ": " : "", why);
		m->cnt.connect_failures++;
		backoff(m);
		return;
	}
	m->phase = PH_SESSION;
	m->conn_result = -1;
	m->established = 0;
	m->deadline = mono_now() + m->conf.connect_timeout;
	mqtt_io_attach(&m->io, mosquitto_socket(m->mosq));
	tls_start(m);
	m->watching = 0;
	ev_timer_set(&m->misc_w, 1.0, 1.0);
	ev_timer_start(loop, &m->misc_w);
	ev_prepare_start(loop, &m->prep_w);
	rc = session_write(m); /* CONNECT */
	if (rc != MOSQ_ERR_SUCCESS)
		session_end(m, rc);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mqtt *m = CONTAINER_OF(w, struct mqtt, retry_w);
	(void)loop, (void)revents;
	if (!m->stopping_loop)
		start_connector(m);
}

/* ---- start / stop ---- */

void mqtt__session_init(struct mqtt *m)
{
	ev_async_init(&m->async, async_cb);
	ev_io_init(&m->sock_w, sock_cb, -1, EV_READ);
	ev_idle_init(&m->more_w, more_cb);
	ev_prepare_init(&m->prep_w, prep_cb);
	ev_timer_init(&m->misc_w, misc_cb, 1.0, 1.0);
	ev_timer_init(&m->retry_w, retry_cb, 0, 0);
	m->protocol = m->conf.protocol;
}

int mqtt_start(struct mqtt *m)
{
	if (m->started)
		return 0;
	ev_async_start(m->loop, &m->async);
	ev_unref(m->loop); /* the watcher alone must not keep ev_run alive */
	m->started = 1;
	start_connector(m);
	return 0;
}

/* Stop: no new attempts; a connector in flight is joined (it checks for
 * stop every 100 ms while probing); a live session publishes "offline"
 * (a clean DISCONNECT suppresses the will), sends DISCONNECT and gets at
 * most 2 s to write them.  Blocks the loop for that long at most: the
 * daemon is stopping. */
void mqtt_stop(struct mqtt *m)
{
	if (!m || !m->started)
		return;
	m->stopping_loop = 1;
	pthread_mutex_lock(&m->lock);
	m->stopping = 1;
	pthread_mutex_unlock(&m->lock);
	ev_timer_stop(m->loop, &m->retry_w);
	if (m->thr_running) {
		pthread_join(m->thr, NULL);
		m->thr_running = 0;
		pthread_mutex_lock(&m->lock);
		int rc = m->conn_rc;
		pthread_mutex_unlock(&m->lock);
		if (rc == MOSQ_ERR_SUCCESS) /* connected just now: hang up */
			mqtt_io_attach(&m->io, mosquitto_socket(m->mosq));
	}
	if (m->established && mosquitto_socket(m->mosq) >= 0) {
		mosquitto_publish(m->mosq, NULL, m->will_topic, 7, "offline", 1, true);
		double end = mono_now() + 2.0;
		/* out goes "offline"; then DISCONNECT (libmosquitto closes after it) */
		while (mono_now() < end && mosquitto_socket(m->mosq) >= 0 &&
		       (mosquitto_want_write(m->mosq) || tls_pending_out(m) ||
		        mqtt_io_pending_out(&m->io))) {
			if (lib_write(m) != MOSQ_ERR_SUCCESS || tls_flush(m) != 0 ||
			    mqtt_io_flush(&m->io) != 0)
				break;
			if (mqtt_io_pending_out(&m->io) || tls_pending_out(m)) {
				struct pollfd p = { .fd = m->io.fd, .events = POLLOUT };
				poll(&p, 1, 100);
			}
		}
		mosquitto_disconnect(m->mosq);
	}
	if (m->phase == PH_SESSION || mosquitto_socket(m->mosq) >= 0)
		session_end(m, MOSQ_ERR_SUCCESS);
	mqtt_io_detach(&m->io);
	ev_ref(m->loop);
	ev_async_stop(m->loop, &m->async);
	m->started = 0;
	m->cnt.connected = 0;
}
