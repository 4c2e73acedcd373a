/*
 * events: the daemon's event hub.  Producers (the engine, the alerting
 * glue, the service layer) emit typed events; subscribers (alerting, the
 * MQTT state publisher, tests, later the HTTP live stream, /metrics,
 * notifications and history) receive them in emit order, synchronously,
 * on the loop thread.
 *
 * Every event gets the next sequence number of this node (1, 2, ...; it
 * restarts at 1 with the process, so a consumer that resumes names the
 * node's `epoch` too).  Events that carry a JSON rendering are also kept
 * in a bounded replay ring: a late subscriber (an SSE client reconnecting
 * with Last-Event-ID) replays what it missed from there, or learns that
 * the ring no longer reaches back that far and must reload.
 *
 * What a live subscriber gets in `detail` points into the producer's
 * objects and is valid only during the callback; the ring keeps copies of
 * the scope keys and the JSON only.
 *
 * Emitting from inside a callback is allowed (the nested event gets the
 * next number and is delivered at once); subscribing or unsubscribing
 * from inside a callback is allowed too (a new subscriber sees events
 * emitted after it subscribed).
 *
 * Must never: block, allocate without bound (the ring is fixed), call a
 * subscriber that has unsubscribed.  Depends on util only.
 */
#ifndef MAMORI_EVENTS_H
#define MAMORI_EVENTS_H

#include <stddef.h>
#include <stdint.h>

enum event_type {
	EVENT_STATE = 1,   /* a check result changed something (detail: struct event_state) */
	EVENT_ALERT = 2,   /* an alert event (detail: struct event_alert) */
	EVENT_COMMAND = 3, /* a command was answered (detail: struct event_command) */
	EVENT_DOWNTIME = 4 /* a downtime was added or removed (detail: NULL) */
};
#define EVENT_MASK(t)   (1u << (t))
#define EVENT_MASK_ALL  0xffffffffu
#define EVENTS_RING_DEF 4096

struct event {
	uint64_t seq; /* set by events_emit */
	enum event_type type;
	double time;
	const char *customer; /* scope: the customer it concerns, or NULL */
	const char *center;   /* scope: the contact center it concerns, or NULL */
	const char *subject;  /* check key, alert id, command id or downtime id */
	const char *json;     /* rendering kept for replay, or NULL (live only) */
	const void *detail;   /* live only: the typed detail below */
};

struct check_state;
struct state_event;
struct state_context;

/* EVENT_STATE: one result (or staleness, or an ack change) of a check. */
struct event_state {
	const char *key, *customer, *asset, *check, *service, *region;
	const char *const *tags;
	size_t n_tags;
	const char *output;
	const char *runbook; /* the check's `runbook`, or NULL */
	const struct check_state *st;
	const struct state_event *ev; /* flags 0: nothing in the state engine changed */
	const struct state_context *ctx;
	int suppressed; /* enum state_suppress */
	int visible;    /* something a state subscriber shows changed (publish it) */
	int acknowledged;
	const void *source; /* the registry's check (opaque; during the callback only) */
};

struct alert;
struct alert_event;
/* EVENT_ALERT */
struct event_alert {
	const struct alert *alert;
	const struct alert_event *ev;
};

/* EVENT_COMMAND */
struct event_command {
	const char *origin; /* "mqtt:<center>", "http:<user>" ... */
	const char *id;     /* idempotency key */
	const char *action;
	const char *alert_id;
	int code; /* enum app_err: 0 ok */
	int fresh;
};

struct events;
struct events_sub;
typedef void (*events_fn)(void *ud, const struct event *e);

struct events *events_new(size_t ring_size); /* 0: EVENTS_RING_DEF */
void events_free(struct events *h);
/* Assigns ev->seq; delivers to every subscriber
 * whose mask has the type; keeps a copy in the ring if ev->json is set.
 * Returns the sequence number. */
uint64_t events_emit(struct events *h, struct event *ev);
struct events_sub *events_subscribe(struct events *h, uint32_t mask, events_fn fn, void *ud);
void events_unsubscribe(struct events *h, struct events_sub *s);

/* Replay the ring's events with seq > after (and type in mask), oldest
 * first, as struct event with detail NULL.  Returns 0, or -1 when a kept
 * event newer than `after` has already left the ring (the consumer
 * missed events and must reload; nothing is called then). */
int events_replay(const struct events *h, uint64_t after, uint32_t mask, events_fn fn, void *ud);
uint64_t events_last_seq(const struct events *h);
/* The oldest sequence number still in the ring (0: empty). */
uint64_t events_first_kept(const struct events *h);
/* Events with a rendering (changes a client is shown) emitted so far: what
 * a reader caches an answer against. */
uint64_t events_changes(const struct events *h);
/* Identifies this run of the process (wall-clock start in ms): a
 * sequence number is meaningful only with the epoch it belongs to. */
uint64_t events_epoch(const struct events *h);

#endif
