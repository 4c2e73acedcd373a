/*
 * alert: the alert lifecycle - one alert per incident of a check, its
 * events in order, routing at opening and the SLA clock while it is open.
 *
 * Input is what the state engine decided for one check result (struct
 * state_event + check_state + state_context) plus the check's identity;
 * output is zero or more alert events handed to the emit callback, in
 * order, each with the next `seq` of its alert.  The callback sees the
 * alert exactly as it is at that event (format/store it there and then).
 *
 * Semantics:
 * - a hard problem (or a stale check) opens an alert unless suppressed
 *   (downtime, ack, unreachable parent: state_suppressed); one per check;
 * - further problem results update it (count, last state); recovery
 *   resolves it (with duration);
 * - a problem returning within `reopen_within` of the resolution reopens
 *   the same alert; later, a new alert is opened;
 * - a flapping check raises one alert marked flapping; flaps do not
 *   resolve or update it; when flapping stops it resolves (state OK) or
 *   continues as a normal alert;
 * - a manually resolved alert whose check is still failing is not reopened
 *   by the same continuing problem, only by a new problem edge.
 *
 * Pure: no I/O, no logging, no clock reads, ids from an injected counter
 * and `now`.  Must never: call the emit callback re-entrantly, keep
 * pointers into the caller's input after returning.
 */
#ifndef MAMORI_ALERT_H
#define MAMORI_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "route/route.h"
#include "sla/sla.h"
#include "state/state.h"

enum alert_status { ALERT_OPEN = 0, ALERT_ACKED = 1, ALERT_RESOLVED = 2 };

enum alert_ev_type {
	ALERT_EV_OPENED,
	ALERT_EV_UPDATED,
	ALERT_EV_ACKNOWLEDGED,
	ALERT_EV_ESCALATED,
	ALERT_EV_SLA_BREACH,
	ALERT_EV_DISPATCHED,
	ALERT_EV_RESOLVED,
	ALERT_EV_REOPENED,
	ALERT_EV_COMMENTED,
	ALERT_EV_UNACKNOWLEDGED,
	ALERT_EV_WAITING,
	ALERT_EV_NOTIFY_FAILED, /* a notification to a technician was given up (src/notify) */
	ALERT_EV_COUNT
};

/* Errors of the action functions (0 = ok). */
enum alert_err {
	ALERT_E_NOMEM = -1,
	ALERT_E_STATE = -2,     /* not allowed in the alert's status */
	ALERT_E_LAST_TIER = -3, /* escalate at the last tier */
	ALERT_E_INVAL = -4,
};
const char *alert_strerror(int err);

struct alert_dispatch {
	char *vendor;
	double planned_at; /* 0: not given */
	char *result;
};

struct alert {
	char *id;     /* "A-<node>-<14 base32>", stable for life */
	uint32_t seq; /* seq of the last event */
	char *key;    /* the caller's check key (e.g. "customer/asset/check") */
	char *customer, *asset, *check, *service, *summary;
	/* The check's `runbook` (a URL or a short text) as of its last
	 * result, or NULL: a copy, so it stays with the alert when a reload
	 * changes or removes the check (doc/alerts.md, "Runbooks"). */
	char *runbook;
	char *center; /* owning center (NULL: no route matched) */
	char *also[ROUTE_MAX_ALSO];
	size_t n_also;
	uint8_t state; /* last check state 0..3 */
	uint8_t flapping;
	uint8_t stale;
	uint8_t manual;   /* resolved by a command */
	uint8_t contract; /* terms are the customer's contract, not the center's */
	enum alert_status status;
	uint32_t count; /* problem results seen */
	double opened_at, resolved_at, acked_at, updated_at;
	char *acked_by;
	struct alert_dispatch dispatch;
	struct sla_clock sla;
	/* table links (private) */
	struct alert *next_key, *next_id;
};

struct alert_event {
	enum alert_ev_type type;
	uint32_t seq;
	double time;
	const char *actor;  /* "mamori" for automatic events, else the command's `by` */
	const char *note;   /* may be NULL */
	const char *cmd_id; /* command that caused it, or NULL */
	int breach;         /* sla_breach: SLA_ACK or SLA_RESOLVE; else -1 */
	int reannounce;     /* sla_breach repeated at the last tier */
	double duration;    /* resolved: seconds since opened_at; else 0 */
};

typedef void (*alert_emit_fn)(void *arg, const struct alert *a, const struct alert_event *ev);

struct alert_policy {
	const char *node;      /* node name (ids, payloads); copied */
	double reopen_within;  /* seconds; <= 0 means the default 600 */
	double keep_resolved;  /* keep resolved alerts in memory this long (>= reopen_within) */
	int updates_on_change; /* 1: emit `updated` only when state or summary changed */
};

/* Everything about one check result the lifecycle needs. */
struct alert_input {
	const char *key; /* unique per check */
	const char *customer, *asset, *check, *service, *region;
	const char *const *tags;
	size_t n_tags;
	const char *output;               /* first line becomes the summary */
	const char *runbook;              /* the check's runbook, or NULL (copied) */
	const struct sla_terms *contract; /* customer's own terms, or NULL */
	const struct check_state *st;     /* after state_apply */
	const struct state_event *ev;     /* what state_apply returned */
	const struct state_context *ctx;  /* downtime / ack / parent down */
};

struct alert_table;

/* routes is borrowed (set it again after a reload); emit is required. */
struct alert_table *alert_table_new(const struct alert_policy *pol,
                                    const struct route_table *routes, alert_emit_fn emit,
                                    void *arg);
void alert_table_free(struct alert_table *t);
void alert_table_set_routes(struct alert_table *t, const struct route_table *routes);
/* Seed the id counter (e.g. from the store after a restart). */
void alert_table_set_counter(struct alert_table *t, uint64_t counter);
struct sla *alert_table_sla(struct alert_table *t);
size_t alert_count(const struct alert_table *t);

struct alert *alert_find(const struct alert_table *t, const char *id);
/* Every alert in memory (unresolved ones and resolved ones not yet
 * pruned), in no particular order.  fn must not change the table. */
typedef void (*alert_each_fn)(void *arg, const struct alert *a);
void alert_table_each(const struct alert_table *t, alert_each_fn fn, void *arg);
struct alert *alert_find_check(const struct alert_table *t, const char *key);

/* Feed one state-engine result.  Returns the number of events emitted or
 * ALERT_E_NOMEM. */
int alert_on_check_event(struct alert_table *t, const struct alert_input *in, double now);
/* Open an alert by hand (a manual inquiry): in->key names it (one
 * unresolved alert per key), in->output is its summary, severity 1..3;
 * in->st/ev/ctx are not used.  Emits `opened` with the actor and note.
 * 0, ALERT_E_STATE (an unresolved alert has this key), ALERT_E_INVAL or
 * ALERT_E_NOMEM. */
int alert_open_manual(struct alert_table *t, const struct alert_input *in, int severity,
                      const char *actor, const char *note, double now);
/* Downtime started/ended for a check without a new result: pauses or
 * resumes its open alert's SLA clock. */
void alert_set_downtime(struct alert_table *t, const char *key, int on, double now);

/* Deadlines: arm one timer at alert_next_due() (-1: none); when it fires
 * call alert_fire_due(now), then re-arm. */
double alert_next_due(const struct alert_table *t);
size_t alert_fire_due(struct alert_table *t, double now);

/* Actions (contact-center commands).  Each emits its event and returns 0,
 * or an alert_err without changing anything. */
enum alert_action_type {
	ALERT_ACT_ACK,
	ALERT_ACT_UNACK,
	ALERT_ACT_RESOLVE,
	ALERT_ACT_ESCALATE,
	ALERT_ACT_DISPATCH,
	ALERT_ACT_WAIT,
	ALERT_ACT_COMMENT,
	/* The daemon's own record that a notification was given up (its
	 * notifications module; not a contact-center command).  Allowed in
	 * any status; changes nothing but the history. */
	ALERT_ACT_NOTIFY_FAILED,
};
struct alert_action {
	enum alert_action_type type;
	const char *actor; /* required */
	const char *note;
	const char *cmd_id;
	const char *vendor; /* dispatch */
	double planned_at;  /* dispatch; 0: not given */
	const char *result; /* dispatch */
};
int alert_act(struct alert_table *t, struct alert *a, const struct alert_action *act, double now);

/* Free resolved alerts older than keep_resolved, visiting at most
 * `budget` buckets per call (call once per loop iteration or timer). */
size_t alert_prune(struct alert_table *t, double now, size_t budget);

/* After a reload: new terms for every alert in memory (NULL: no SLA);
 * a resolved alert keeps its clock stopped and uses them if it reopens. */
typedef const struct sla_terms *(*alert_terms_fn)(void *arg, const struct alert *a);
void alert_table_rebind(struct alert_table *t, alert_terms_fn fn, void *arg);

/* Restore an alert read from the store (strings copied; src->sla fields
 * copied and its clock bound to `terms`).  Overdue deadlines fire at the
 * next alert_fire_due.  Returns the table's alert or NULL (no memory,
 * duplicate id). */
struct alert *alert_restore(struct alert_table *t, const struct alert *src,
                            const struct sla_terms *terms);

const char *alert_event_name(enum alert_ev_type t); /* "opened", ... */
const char *alert_status_name(enum alert_status s); /* "open", ... */
const char *alert_severity_name(int state);         /* "warning", "critical", "unknown", "ok" */
const char *alert_tier_name(const struct alert *a); /* NULL if no SLA */

#endif
