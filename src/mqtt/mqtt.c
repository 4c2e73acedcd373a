/*
 * mqtt: subscribers, dispatch, PUBACK tokens, subscribe/publish and
 * construction (see mqtt.h for the contract, mqtt_int.h for the split).
 * Nothing here waits for the network: publish and subscribe only queue
 * packets in libmosquitto; the session (mqtt_session.c) writes them before
 * the loop sleeps.
 */
#include "mqtt/mqtt_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_UNACKED 60000 /* < 65536 message ids: a token per mid */
/* QoS 1 publishes libmosquitto keeps in flight at once (more wait in its
 * queue).  libmosquitto 2.0 walks its whole in-flight list on every
 * PUBACK (message__release_to_inflight), so the cost of an ack grows with
 * this window: with 1000, registering agents (one retained state message
 * each) spent ~10 % of the daemon's CPU in that walk.  100 still allows
 * ~100,000 publishes/s at a 1 ms round trip. */
#define SEND_WINDOW 100

/* ---- what the session hands over (loop thread) ---- */

static void broker_subscribe_all(struct mqtt *m)
{
	for (struct mqtt__filter *f = m->filters; f; f = f->next)
		mosquitto_subscribe(m->mosq, NULL, f->text, f->qos);
}

static void sweep_dead(struct mqtt *m);

void mqtt__dispatch(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                    int retain)
{
	int hit = 0, in_lib = m->io.in_lib;
	m->cnt.msgs_in++;
	m->dispatching++;
	m->io.in_lib = 0; /* subscribers' own writes are theirs (mqtt_io.c) */
	for (struct mqtt_sub *s = m->subs; s; s = s->next)
		if (!s->dead && mqtt_topic_match(s->filter, topic)) {
			hit = 1;
			s->cb(topic, payload, len, qos, retain, s->ud);
		}
	m->io.in_lib = in_lib;
	m->dispatching--;
	if (hit)
		m->cnt.msgs_dispatched++;
	else
		m->cnt.rejected_nosub++;
	if (m->have_dead && !m->dispatching)
		sweep_dead(m);
}

void mqtt__handle_ack(struct mqtt *m, int mid)
{
	uint64_t tok = m->tokens[(uint16_t)mid];
	if (!tok)
		return; /* QoS 0, or "online"/"offline" status */
	m->tokens[(uint16_t)mid] = 0;
	m->cnt.acks++;
	m->cnt.unacked--;
	if (m->ack_cb) {
		int in_lib = m->io.in_lib;
		m->io.in_lib = 0;
		m->ack_cb(tok, m->ack_ud);
		m->io.in_lib = in_lib;
	}
}

void mqtt__handle_up(struct mqtt *m, int protocol)
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

void mqtt__handle_down(struct mqtt *m, int rc)
{
	m->cnt.connected = 0;
	log_msg("mqtt", m->stopping_loop ? LOG_LVL_INFO : LOG_LVL_WARNING,
	        "connection to %s:%d %s (%s)", m->conf.host, m->conf.port,
	        m->stopping_loop ? "closed" : "lost", mosquitto_strerror(rc));
	if (m->conn_cb)
		m->conn_cb(0, m->conn_ud);
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

/* The first line of password_file (util/secret.h: its permission rules). */
static char *read_password(const char *path, char *err, size_t errlen)
{
	char *p, e[1024];
	size_t len;
	if (secret_read_file(path, &p, &len, e, sizeof e) != 0) {
		snprintf(err, errlen, "mqtt: password_file: %s", e);
		return NULL;
	}
	size_t first = strcspn(p, "\r\n");
	explicit_bzero(p + first, len - first); /* later lines: not ours to keep */
	p[first] = '\0';
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
	mqtt__set_callbacks(m);
	if ((rc = mosquitto_will_set(m->mosq, m->will_topic, 7, "offline", 1, true))) {
		snprintf(err, errlen, "mqtt: last will: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (c->username && (rc = mosquitto_username_pw_set(m->mosq, c->username, m->password))) {
		snprintf(err, errlen, "mqtt: credentials: %s", mosquitto_strerror(rc));
		return -1;
	}
	if (c->tls.ca_file) {
		/* libmosquitto reads the client key itself; the rules are ours */
		char e[1024];
		if (c->tls.key_file && secret_check_mode(c->tls.key_file, e, sizeof e) != 0) {
			snprintf(err, errlen, "mqtt: tls key_file: %s", e);
			return -1;
		}
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

struct mqtt *mqtt_new(struct ev_loop *loop, const struct mqtt_conf *conf, char *err, size_t errlen)
{
	struct mqtt *m = xcalloc(1, sizeof(*m));
	mqtt_io_init(&m->io);
	mosquitto_lib_init(); /* idempotent and reference-counted in 2.x */
	m->loop = loop;
	conf_copy(&m->conf, conf);
	m->will_topic = xasprintf("%s/v1/server/%s/status", m->conf.topic_prefix, m->conf.node);
	m->tokens = xcalloc(65536, sizeof(*m->tokens));
	m->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)m;
	pthread_mutex_init(&m->lock, NULL);
	mqtt__session_init(m);
	if (!mqtt_topic_valid(m->will_topic)) {
		snprintf(err, errlen, "mqtt: node/prefix give an invalid topic %s", m->will_topic);
		goto fail;
	}
	if (m->conf.password_file &&
	    !(m->password = read_password(m->conf.password_file, err, errlen)))
		goto fail;
	if (setup_mosq(m, err, errlen))
		goto fail;
	return m;
fail:
	mqtt_free(m);
	return NULL;
}

void mqtt_free(struct mqtt *m)
{
	if (!m)
		return;
	mqtt_stop(m);
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	mqtt_io_free(&m->io);
	for (struct mqtt__filter *f = m->filters, *n; f; f = n) {
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
	free(m);
	mosquitto_lib_cleanup();
}

/* ---- subscribe / publish (loop thread) ---- */

struct mqtt_sub *mqtt_subscribe(struct mqtt *m, const char *filter, int qos, mqtt_msg_cb cb,
                                void *ud)
{
	if (!mqtt_filter_valid(filter) || qos < 0 || qos > 2 || !cb)
		return NULL;
	struct mqtt__filter *f;
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
	for (struct mqtt__filter **pp = &m->filters; *pp; pp = &(*pp)->next) {
		struct mqtt__filter *f = *pp;
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
		return MQTT_PUB_NEVER;
	if (qos > 0 && m->cnt.unacked >= MAX_UNACKED) {
		m->cnt.publish_errors++;
		return MQTT_PUB_LATER; /* PUBACKs free the window */
	}
	int rc =
	    mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, qos, retain ? true : false);
	/* NO_CONN: QoS 1/2 messages are queued by libmosquitto all the same */
	if (rc != MOSQ_ERR_SUCCESS && !(rc == MOSQ_ERR_NO_CONN && qos > 0)) {
		m->cnt.publish_errors++;
		return rc == MOSQ_ERR_NOMEM ? MQTT_PUB_LATER : MQTT_PUB_NEVER;
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
