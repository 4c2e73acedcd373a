/*
 * alerting: the daemon's alert pipeline around the pure alert, route and
 * sla modules.
 *
 *   EVENT_STATE (engine) -> alert_on_check_event -> emit(): alert row,
 *   event row, deadline row and outbox rows into the journal's pending
 *   batch (one transaction with the check states that caused them), and
 *   EVENT_ALERT to the hub.  When the journal reports the batch written,
 *   its outbox messages are published at QoS 1; the PUBACK deletes the row
 *   (in the pending batch).  A crash between commit and PUBACK re-publishes
 *   at the next start (at least once; receivers dedupe on id+seq).
 *
 * Deadlines: one ev_timer at alert_next_due.  Downtime edges without a
 * result pause or resume SLA clocks (housekeeping timer).  Actions on
 * alerts come from the service layer (src/app), which owns validation,
 * scope and idempotency; alerting only applies them.
 *
 * Must never: block, call back into the alert module from emit(), publish
 * an outbox message before its batch is written.  Depends on alert, sla,
 * route, proto, registry (read: checks, downtimes), journal, events,
 * store (startup restore), mqtt (the outbox's channel).
 */
#ifndef MAMORI_ALERTING_H
#define MAMORI_ALERTING_H

#include <stddef.h>
#include <stdint.h>

struct alert;
struct alert_action;
struct alert_table;
struct alerts_conf;
struct ev_loop;
struct events;
struct journal;
struct mconf;
struct mqtt;
struct registry;
struct store;
struct alerts; /* the alerting context */

struct alerting_deps {
	struct ev_loop *loop;
	struct registry *reg;
	struct journal *journal;
	struct events *events;
	struct store *store; /* startup restore; NULL: nothing persisted */
	struct mqtt *mqtt;   /* NULL: no contact center is told */
	struct mconf *conf;  /* current config (replaced by alerting_reload) */
};

/* Parses the centers, routes and contracts of d->conf and restores the
 * alerts and unsent messages of the last run.  NULL after logging. */
struct alerts *alerting_new(const struct alerting_deps *d);
int alerting_start(struct alerts *al);
void alerting_stop(struct alerts *al);
void alerting_free(struct alerts *al);

/* Reload, two-phase: parse while c's tree is alive (NULL after logging
 * every error), then install while the old calendars still exist. */
struct alerts_conf *alerting_conf_parse(struct mconf *c);
void alerting_conf_install(struct alerts *al, struct alerts_conf *ac, struct mconf *c);
void alerting_conf_free(struct alerts_conf *ac);

/* The alert table: the service layer reads it and applies actions to it
 * (their events come back through emit, like any other). */
struct alert_table *alerting_table(struct alerts *al);
/* A message for the outbox (e.g. a command's answer): written with the
 * pending batch, published once it is durable. */
void alerting_queue_msg(struct alerts *al, const char *topic, const char *payload, double now);

/* The SLA tiers a customer's alerts run on (the monthly report states
 * them): its contract's, else those of every center its checks route to
 * (a critical problem of each check), at most `max` tiers.  The names
 * point into the running configuration: use them before the next
 * reload.  Durations: open (business) seconds of the terms' calendar, 0
 * for no deadline. */
struct customer;
struct alerting_tier {
	const char *center; /* NULL: the customer's own contract */
	const char *tier;
	double ack_within, resolve_within;
};
size_t alerting_customer_tiers(const struct alerts *al, const struct customer *cu,
                               struct alerting_tier *out, size_t max);

struct alerting_stats {
	uint64_t events, published, acked;
	uint64_t by_type[16]; /* events by enum alert_ev_type */
	size_t open, in_memory, ready, inflight;
};
void alerting_get_stats(const struct alerts *al, struct alerting_stats *out);

#endif
