/*
 * mqtt_int: what the two halves of the mqtt module share.  Private to
 * src/mqtt (the rest of the daemon sees mqtt.h only).
 *   mqtt.c          subscribers, dispatch, publish and PUBACK tokens,
 *                   construction;
 *   mqtt_session.c  the connector thread (probe, connect) and the session
 *                   on the loop: libmosquitto's callbacks, read bursts,
 *                   writes, keepalive, backoff, start/stop;
 *   mqtt_io.c       buffered I/O on the broker socket;
 *   mqtt_interpose.c  read/write/close for the process, routing the broker
 *                   socket into mqtt_io (linked into mamorid only).
 * src/mqtt is the only module that includes <mosquitto.h>.
 *
 * Who owns what in struct mqtt: "lock" fields only under m->lock, "loop"
 * fields only on the loop thread.  While the connector thread runs, the
 * loop leaves libmosquitto's connection alone (publish and subscribe only
 * queue, under libmosquitto's own mutexes).
 */
#ifndef MAMORI_MQTT_INT_H
#define MAMORI_MQTT_INT_H

#include "mqtt/mqtt.h"
#include "mqtt/mqtt_io.h"

#include <ev.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>

struct mqtt__filter {
	struct mqtt__filter *next;
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

enum mqtt__phase { PH_IDLE, PH_CONNECTING, PH_BACKOFF, PH_SESSION };

struct mqtt {
	struct ev_loop *loop;
	struct mosquitto *mosq;
	struct mqtt_conf conf; /* private copy, read-only after mqtt_new */
	char *will_topic;
	char *password;

	/* the connector thread and what it reports (lock) */
	pthread_t thr;
	int thr_running; /* loop: joined when its ev_async arrives */
	pthread_mutex_t lock;
	int stopping;
	int conn_done, conn_rc; /* rc: MOSQ_ERR_*, -1 when the probe failed */
	char conn_why[256];
	ev_async async;

	/* loop: the session (mqtt_session.c) */
	int started, stopping_loop;
	enum mqtt__phase phase;
	int protocol;    /* 5, or 4 after the broker refused 5 */
	int conn_result; /* CONNACK reason; -1 none yet */
	int established; /* CONNACK 0 received in this session */
	int up_pending, down_pending, down_rc;
	uint64_t lib_events; /* libmosquitto callbacks so far: a read burst
	                      * ends on a call that made none */
	unsigned attempt;    /* backoff step */
	unsigned seed;
	double deadline; /* CONNACK expected by then */
	int watching;    /* sock_w's events, 0 stopped */
	int tls_batch;   /* TLS batching this session: 0 none (or no TLS),
	                  * 1 read-ahead, 2 and a write buffer */
	struct mqtt_io io;
	ev_io sock_w;
	ev_idle more_w;    /* buffered input left: the loop must not sleep */
	ev_prepare prep_w; /* queued writes leave before the loop sleeps */
	ev_timer misc_w;   /* keepalive, CONNACK deadline */
	ev_timer retry_w;  /* backoff */

	/* loop: subscribers and tokens (mqtt.c) */
	struct mqtt__filter *filters;
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

/* mqtt_session.c */
void mqtt__set_callbacks(struct mqtt *m);
void mqtt__session_init(struct mqtt *m);
/* mqtt.c: what the session hands over (loop thread). */
void mqtt__dispatch(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                    int retain);
void mqtt__handle_ack(struct mqtt *m, int mid);
void mqtt__handle_up(struct mqtt *m, int protocol);
void mqtt__handle_down(struct mqtt *m, int rc);

#endif
