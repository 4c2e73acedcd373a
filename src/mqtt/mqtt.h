/*
 * mqtt: the daemon's single broker connection (libmosquitto), on the loop.
 *
 * Threads.  A short-lived connector thread per attempt resolves the name,
 * probes TCP (bounded by connect_timeout) and runs libmosquitto's blocking
 * connect; never the libev loop.  The session then runs on the loop
 * (mqtt_session.c): an ev_io reads the broker socket in bursts through a
 * 64 KiB buffer (mqtt_io.c), messages go straight from libmosquitto's
 * callback to the subscribers (no copy, no queue), and what libmosquitto
 * queued (PUBACKs, publishes) leaves in one write before the loop sleeps.
 * Every function below is called on the loop thread.  While the loop is
 * busy it does not read: TCP pushes back on the broker, which queues; an
 * acknowledged message is never dropped here.  A message's PUBACK leaves
 * after its subscribers have run.
 *
 * Session and delivery.  clean_session = false (MQTT 5: clean start off and
 * a session expiry), so the broker keeps our subscriptions and queues QoS 1
 * messages while we are away; subscriptions are also re-sent on every
 * connect (a restarted broker without persistence forgot them).  Outgoing
 * QoS 1 messages stay in libmosquitto's own queue until PUBACK, including
 * those published while disconnected, and libmosquitto re-sends them after
 * a reconnect; the token callback fires on PUBACK only, so the outbox
 * deletes a message only once the broker has it.
 *
 * Protocol: MQTT 5 first; when the broker refuses the protocol version
 * (CONNACK 0x84 / 1) we fall back to 3.1.1 for the rest of this object's life.
 * Last will: <prefix>/v1/server/<node>/status = "offline" (QoS 1, retained);
 * "online" is published (retained) after every connect, "offline" on
 * mqtt_stop.
 *
 * Wiring (how the daemon uses it: src/bus, src/alerting, src/ingress):
 *   - config: mqtt_conf_init(&c); mqtt_conf_parse(config_lookup(cfg, "mqtt"),
 *     &c, err, sizeof err) (unknown keys -> error with file:line);
 *     m = mqtt_new(loop, &c, err, sizeof err); mqtt_conf_free(&c) (mqtt_new
 *     copies what it needs); mqtt_start(m) after plugins are loaded.
 *   - host->mqtt_subscribe(inst, filter, qos, cb, ud, &out): wrap cb/ud in a
 *     struct that holds the plugin's mamori_msg_cb; call mqtt_subscribe(m,
 *     filter, qos, shim, wrapper) and return the wrapper as struct
 *     mamori_sub (the shim builds a struct mamori_msg from its arguments).
 *     host->mqtt_unsubscribe -> mqtt_unsubscribe(m, sub).  Oversized
 *     messages never reach a subscriber (counted in rejected_size).
 *   - host->mqtt_publish(inst, ...) -> mqtt_publish(m, ..., NULL).
 *   - the outbox: mqtt_publish(..., &token) after storing the row with the
 *     token; mqtt_set_ack_cb(m, cb, ud): cb(token) deletes the row.  Tokens
 *     are unique for the life of the object (not across restarts: after a
 *     restart the outbox re-publishes unacked rows and gets new tokens).
 *   - host->mqtt_prefix -> mqtt_prefix(m).
 *   - metrics: mqtt_counters(m) (a snapshot updated on the loop thread).
 *   - shutdown: mqtt_stop(m) (publishes offline, disconnects; at most
 *     ~2 s), then mqtt_free(m).
 */
#ifndef MAMORI_MQTT_H
#define MAMORI_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

struct ev_loop;
struct mqtt;
struct mqtt_sub;

struct mqtt_conf {
	char *host;              /* "127.0.0.1" */
	int port;                /* 1883 (8883 when tls is set and port is not) */
	char *client_id;         /* "mamorid" */
	char *topic_prefix;      /* "mamori" */
	char *node;              /* node name in server/{node}/status; default client_id */
	char *username;          /* NULL: none */
	char *password_file;     /* NULL: none; first line is the password */
	int keepalive;           /* seconds, 30 */
	size_t max_message_size; /* bytes, 65536; larger messages are dropped and counted */
	int clean_session;       /* 0 (persistent session) */
	int session_expiry;      /* MQTT 5 session expiry, seconds, 3600 */
	int inflight;            /* QoS 1 in flight: receive 1000; send at most 100 (mqtt.c) */
	double reconnect_min;    /* first retry delay, s, 0.5 */
	double reconnect_max;    /* cap, s, 30 */
	double connect_timeout;  /* TCP+TLS+CONNACK, s, 10 */
	int protocol;            /* 5 (try 5, fall back to 4 = 3.1.1) or 4 (3.1.1 only) */
	struct {
		char *ca_file; /* set: TLS on, broker certificate verified */
		char *cert_file;
		char *key_file;
	} tls;
};

/* Defaults into *c (all strings malloc'd). */
void mqtt_conf_init(struct mqtt_conf *c);
/* Parse the libconfig `mqtt` group (NULL group: defaults stay).  Unknown
 * keys and wrong types are errors naming file and line.  0 or -1. */
int mqtt_conf_parse(const config_setting_t *group, struct mqtt_conf *c, char *err, size_t errlen);
void mqtt_conf_free(struct mqtt_conf *c);

struct mqtt_counters {
	uint64_t msgs_in;          /* delivered to the loop (before size check) */
	uint64_t msgs_dispatched;  /* handed to at least one subscriber */
	uint64_t msgs_out;         /* publishes accepted by libmosquitto */
	uint64_t acks;             /* PUBACKs for QoS 1 publishes */
	uint64_t rejected_size;    /* over max_message_size */
	uint64_t rejected_nosub;   /* no local subscriber matched */
	uint64_t publish_errors;   /* mosquitto_publish refused */
	uint64_t connects;         /* successful CONNACKs */
	uint64_t reconnects;       /* connects after the first */
	uint64_t connect_failures; /* refused, unreachable, timed out */
	uint64_t bytes_in, bytes_out;
	uint64_t batches; /* read bursts that brought messages; msgs_in / batches
	                   * is the mean number per wake-up */
	uint64_t unacked; /* QoS 1 publishes without PUBACK yet: the outgoing
	                   * queue's depth (incoming messages are not queued
	                   * here: an unread socket pushes back on the broker) */
	int connected;    /* 1 while the broker session is up */
	int protocol;     /* 5 or 4 (3.1.1) of the current/last session */
	int io_buffered;  /* 1 if the current/last session's socket I/O went
	                   * through mqtt_io (mamorid's interposer), 0 if
	                   * libmosquitto called libc directly */
};

typedef void (*mqtt_msg_cb)(const char *topic, const void *payload, size_t len, int qos, int retain,
                            void *ud);
typedef void (*mqtt_ack_cb)(uint64_t token, void *ud);
typedef void (*mqtt_conn_cb)(int connected, void *ud);

/* Create (nothing connects yet).  Copies conf.  NULL + message on error
 * (bad TLS files, unreadable password file, ...).  password_file and
 * tls.key_file are secrets: refused when others may read them or their
 * group or others may write them (util/secret.h). */
struct mqtt *mqtt_new(struct ev_loop *loop, const struct mqtt_conf *conf, char *err, size_t errlen);
/* Start connecting (the connector thread, then the session).  0. */
int mqtt_start(struct mqtt *m);
/* Publish "offline", disconnect cleanly (at most ~2 s), no more
 * attempts.  Idempotent. */
void mqtt_stop(struct mqtt *m);
void mqtt_free(struct mqtt *m);

/* Subscribe a local callback to a filter (+ and # allowed).  Several local
 * subscribers may share a filter; the broker sees each filter once.  qos is
 * the broker subscription QoS (the highest asked for a filter wins).
 * NULL if the filter is invalid. */
struct mqtt_sub *mqtt_subscribe(struct mqtt *m, const char *filter, int qos, mqtt_msg_cb cb,
                                void *ud);
void mqtt_unsubscribe(struct mqtt *m, struct mqtt_sub *s);

/* Publish (payload copied).  QoS 1 with token != NULL: *token is set and
 * the ack callback gets it on PUBACK.  Works while disconnected (queued).
 * Returns 0, MQTT_PUB_NEVER (-1: invalid topic/qos, too large: this
 * message can never be sent) or MQTT_PUB_LATER (-2: not now - the QoS 1
 * window of unacknowledged messages is full (a long broker outage) or
 * libmosquitto is out of memory; publish it again after PUBACKs arrive). */
#define MQTT_PUB_NEVER (-1)
#define MQTT_PUB_LATER (-2)
int mqtt_publish(struct mqtt *m, const char *topic, const void *payload, size_t len, int qos,
                 int retain, uint64_t *token);
void mqtt_set_ack_cb(struct mqtt *m, mqtt_ack_cb cb, void *ud);
/* Called on the loop thread when the session comes up (1) or goes down (0). */
void mqtt_set_conn_cb(struct mqtt *m, mqtt_conn_cb cb, void *ud);

const struct mqtt_counters *mqtt_counters(const struct mqtt *m);
const char *mqtt_prefix(const struct mqtt *m);

/* Pure helpers (tested in tests/unit/test_mqtt.c). */
/* 1 if topic matches filter (MQTT 3.1.1 section 4.7, incl. $-topics not
 * matching leading wildcards), 0 if not. */
int mqtt_topic_match(const char *filter, const char *topic);
/* 1 if a valid subscription filter / publish topic. */
int mqtt_filter_valid(const char *filter);
int mqtt_topic_valid(const char *topic);
/* Reconnect delay for attempt n (0-based): min * 2^n capped at max, then
 * "full jitter" scaled into [delay/2, delay] by r in [0,1). */
double mqtt_backoff(double min, double max, unsigned attempt, double r);

#endif
