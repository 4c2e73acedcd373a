/*
 * mqtt_int: what the two halves of the mqtt module share.  Private to
 * src/mqtt (the rest of the daemon sees mqtt.h only).
 *   mqtt.c         the loop thread: draining the queue, subscribers,
 *                  publish, construction and shutdown;
 *   mqtt_thread.c  the connection thread: libmosquitto's callbacks, the
 *                  batches handed to the loop, connect/backoff, the poll
 *                  loop around mosquitto_loop_read/_write/_misc.
 * src/mqtt is the only module that includes <mosquitto.h>.
 *
 * Who owns what in struct mqtt: "lock" fields only under m->lock, "thread"
 * fields only on the connection thread, "loop" fields only on the loop
 * thread (and in mqtt_stop/mqtt_free once the thread is joined).
 */
#ifndef MAMORI_MQTT_INT_H
#define MAMORI_MQTT_INT_H

#include "mqtt/mqtt.h"
#include "mqtt/mqtt_io.h"

#include <ev.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>

/* Events the connection thread hands to the loop. */
enum mqtt__ev_kind { QE_MSG, QE_ACK, QE_UP, QE_DOWN };

struct mqtt__event {
	struct mqtt__event *next;
	int kind, qos, retain, mid, rc;
	size_t len;
	char *topic; /* QE_MSG: points into the same allocation */
	char *payload;
};

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

struct mqtt {
	struct ev_loop *loop;
	ev_async async;
	struct mosquitto *mosq;
	struct mqtt_conf conf; /* private copy, read-only after mqtt_new */
	char *will_topic;
	char *password;
	/* The loop wakes the connection thread through this eventfd after
	 * queueing packets in libmosquitto (publish, subscribe, disconnect);
	 * `kicked` makes that one write() per wake-up, not one per publish. */
	int efd;
	atomic_int kicked;

	pthread_t thr;
	int thr_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* lock */
	struct mqtt__event *qhead, **qtail;
	size_t qlen;
	int stopping;
	int th_connected, th_protocol, th_conn_result;
	uint64_t th_rejected_size, th_connect_failures, th_bytes_in, th_batches;
	unsigned seed;

	/* thread: the batch being collected (handed over by batch_flush) */
	struct mqtt__event *bhead, **btail;
	size_t blen, bmsgs;
	uint64_t b_rejected, b_bytes_in;
	uint64_t b_seen;          /* events (and dropped messages) ever collected */
	struct mqtt_io io;        /* the broker socket's buffers (mqtt_io.c) */

	/* loop */
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

/* mqtt_thread.c */
void mqtt__set_callbacks(struct mqtt *m);
void *mqtt__thread_main(void *arg);
/* mqtt.c: wake the connection thread (loop thread; cheap when repeated). */
void mqtt__kick(struct mqtt *m);

#endif
