/*
 * alerting_int: what alerting.c (the alert glue) and outbox.c (the outbox
 * in memory: the pending batch's messages, the ready queue, the bound and
 * the reload) share.  Private to src/alerting.
 */
#ifndef MAMORI_ALERTING_INT_H
#define MAMORI_ALERTING_INT_H

#include "alerting/alerting.h"
#include "config/config.h"
#include "sla/sla.h"
#include "util/hmap.h"

#include "util/clockstep.h"

#include <ev.h>
#include <stdint.h>

#define HOUSE_INTERVAL  2.0   /* downtime edges, memory pruning, outbox retries */
#define OUTBOX_MEMORY   10000 /* alerts.outbox_memory default */
#define OUTBOX_INFLIGHT 1000  /* alerts.outbox_inflight default */

struct outmsg {
	struct outmsg *next;
	int64_t id;     /* outbox row; 0: not stored (no store) */
	uint64_t batch; /* store batch holding the row; 0: already committed */
	uint64_t token;
	char *topic;
	size_t len;
	char payload[];
};

struct contract {
	char *customer;
	struct sla_terms *terms;
};

struct alerts_conf {
	struct sla_centers centers;
	struct route_table *routes;
	struct hmap contracts; /* customer id -> struct contract */
};

struct alerts {
	struct ev_loop *loop;
	struct registry *reg;
	struct journal *journal;
	struct events *hub;
	struct store *store;
	struct mqtt *mqtt;
	struct mconf *mc; /* the running config (node, retention, outbox bounds) */
	struct events_sub *state_sub;
	int started; /* between alerting_start and the first alerting_stop */
	struct alerts_conf *conf;
	struct alert_table *t;
	size_t batch_msgs;                    /* outbox messages in the pending batch */
	struct outmsg *pend_head, *pend_tail; /* rows in the pending batch */
	struct outmsg *wait_head, *wait_tail; /* rows in batches not yet committed */
	struct hmap batch_alerts;             /* alert id -> its row's slot in the pending batch */
	struct hmap inflight;                 /* token -> outmsg, published, no PUBACK yet */
	struct outmsg *ready_head, *ready_tail; /* committed, not handed to MQTT yet */
	size_t n_ready;
	int64_t disk_next, disk_max;  /* committed rows only in the table; none if next > max */
	struct store_outbox_read *rd; /* a reload in flight */
	uint64_t rd_batch;            /* its batch: 0 still pending, or the number */
	double rd_retry;              /* after a failed read: not before this time */
	size_t mem_peak;              /* most committed messages in memory at once */
	uint64_t reloaded;            /* messages read back from the table */
	int window_full;              /* MQTT said "not now"; logged once */
	struct hmap open_keys;        /* check key -> own copy: unresolved alerts */
	int64_t next_id;
	ev_prepare prepare;
	ev_timer due_timer;
	ev_timer house_timer;
	struct clockstep clock; /* deadlines are elapsed time: they move with a step */
	double armed;           /* due_timer's target, -1 none */
	unsigned house_turns;
	int dt_seen; /* downtimes existed at the last pass */
	uint64_t events, published, acked;
	uint64_t by_type[16]; /* events by enum alert_ev_type */
};

/* outbox.c */
/* The journal cut the pending batch (number) / wrote up to `done`. */
void alerts__on_cut(void *ud, uint64_t number);
void alerts__on_done(void *ud, uint64_t done);
/* Queue a message (see outbox.c); ref_id/ref_seq name the alert
 * event whose row holds the payload, NULL for other messages. */
void alerts__queue_msg(struct alerts *al, const char *topic, const char *payload, double now,
                       const char *ref_id, int64_t ref_seq);
/* Hand ready messages to MQTT, reload from the table when there is room. */
void alerts__pump(struct alerts *al);
void alerts__on_puback(uint64_t token, void *ud);
/* Startup: the unsent messages of the last run (at most the bound). */
void alerts__restore_outbox(struct alerts *al);
int alerts__spilled(const struct alerts *al);
void alerts__free_msg(struct outmsg *m);
void alerts__free_list(struct outmsg *m);

#endif
