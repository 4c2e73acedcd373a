/*
 * outbox: the alert outbox in memory (see alerting.h for the whole
 * pipeline).  A message is queued with the pending store batch (its row in
 * the same transaction as the change that caused it), waits for that
 * commit, then waits in `ready` (id order) until it is handed to MQTT; at
 * most alerts.outbox_inflight are handed over without PUBACK (libmosquitto
 * sends 100 at a time anyway), and a refusal "not now" (MQTT_PUB_LATER:
 * its window is full) keeps the message at the head of `ready` until
 * PUBACKs (or the housekeeping timer) pump again.  The PUBACK deletes the
 * row (in the pending batch).
 *
 * Bound: at most alerts.outbox_memory committed messages (ready + in
 * flight) stay in memory: beyond that a committed message is freed - its
 * row is in the outbox table - and so is every later one while any older
 * row waits only in the table (ids disk_next..disk_max), so the order
 * stays the id order.  When memory drains to half the bound, a read of the
 * next rows (id >= disk_next, <= disk_max, at most the free room) rides in
 * the pending batch to the writer thread and its rows join `ready` when
 * that batch is reported written.  Startup loads at most the bound the
 * same way.  A broker outage therefore costs a bounded amount of memory,
 * and no message is ever dropped for lack of room.
 */
#include "alerting/alerting_int.h"
#include "journal/journal.h"
#include "mqtt/mqtt.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the outbox ---- */

void alerts__free_msg(struct outmsg *m)
{
	free(m->topic);
	free(m);
}

static size_t mem_cap(const struct alerts *al)
{
	uint32_t n = al->mc ? al->mc->outbox_memory : 0;
	return n ? n : OUTBOX_MEMORY;
}

static size_t inflight_cap(const struct alerts *al)
{
	uint32_t n = al->mc ? al->mc->outbox_inflight : 0;
	size_t cap = n ? n : OUTBOX_INFLIGHT, mem = mem_cap(al);
	return cap < mem ? cap : mem;
}

static size_t in_memory(const struct alerts *al)
{
	return al->n_ready + al->inflight.count;
}

/* Rows committed but only in the table (not in memory). */
int alerts__spilled(const struct alerts *al)
{
	return al->disk_next <= al->disk_max;
}

static void ready_push(struct alerts *al, struct outmsg *m)
{
	m->next = NULL;
	if (al->ready_tail)
		al->ready_tail->next = m;
	else
		al->ready_head = m;
	al->ready_tail = m;
	al->n_ready++;
	if (in_memory(al) > al->mem_peak)
		al->mem_peak = in_memory(al);
}

static struct outmsg *ready_pop(struct alerts *al)
{
	struct outmsg *m = al->ready_head;
	al->ready_head = m->next;
	if (!al->ready_head)
		al->ready_tail = NULL;
	al->n_ready--;
	m->next = NULL;
	return m;
}

/* Hand one message to MQTT: 0, MQTT_PUB_LATER (m untouched) or
 * MQTT_PUB_NEVER (m and its row are gone). */
static int publish(struct alerts *al, struct outmsg *m)
{
	int rc = mqtt_publish(al->mqtt, m->topic, m->payload, m->len, 1, 0, &m->token);
	if (rc == MQTT_PUB_LATER) {
		if (!al->window_full++)
			log_warn("alerts",
			         "MQTT cannot take more unacknowledged messages now; %zu outbox"
			         " messages wait for PUBACKs",
			         al->n_ready + 1);
		return rc;
	}
	if (rc != 0) {
		/* Too large or invalid topic: it can never be sent; drop the row. */
		log_err("alerts", "cannot publish to %s (%zu bytes); dropping it", m->topic,
		        m->len);
		if (m->id && al->store)
			store_batch_outbox_done(journal_batch(al->journal), m->id);
		alerts__free_msg(m);
		return MQTT_PUB_NEVER;
	}
	if (al->window_full)
		log_info("alerts", "MQTT takes outbox messages again");
	al->window_full = 0;
	al->published++;
	hmap_put(&al->inflight, (const char *)&m->token, sizeof m->token, m);
	return 0;
}

/* Reload the next rows from the table once memory drained to half the
 * bound: a read in the pending batch, run by the writer thread. */
static void reload(struct alerts *al)
{
	size_t cap = mem_cap(al), have = in_memory(al);
	if (!alerts__spilled(al) || al->rd || !al->store || have > cap / 2 ||
	    ev_now(al->loop) < al->rd_retry)
		return;
	al->rd = store_outbox_read_new(al->disk_next, al->disk_max, cap - have);
	al->rd_batch = 0;
	store_batch_outbox_read(journal_batch(al->journal), al->rd);
	journal_urgent(al->journal);
}

/* Hand ready messages to MQTT in id order, up to the in-flight cap. */
void alerts__pump(struct alerts *al)
{
	size_t cap = inflight_cap(al);
	while (al->ready_head && al->inflight.count < cap) {
		struct outmsg *m = ready_pop(al);
		if (publish(al, m) == MQTT_PUB_LATER) {
			m->next = al->ready_head; /* back to the head: order kept */
			al->ready_head = m;
			if (!al->ready_tail)
				al->ready_tail = m;
			al->n_ready++;
			break;
		}
	}
	reload(al);
}

/* Queue a message: with a store it is written to the outbox in the
 * pending batch and published after the commit; without, at once.  A
 * message that publishes an alert event names it (ref_id, ref_seq): its
 * outbox row then refers to the event row, which must already be in the
 * pending batch, instead of holding a second copy of the payload (schema
 * 3).  The outmsg keeps its own copy for publishing. */
void alerts__queue_msg(struct alerts *al, const char *topic, const char *payload, double now,
                       const char *ref_id, int64_t ref_seq)
{
	if (!al->mqtt)
		return;
	size_t len = strlen(payload);
	struct outmsg *m = xmalloc(sizeof *m + len + 1);
	memset(m, 0, sizeof *m);
	m->topic = xstrdup(topic);
	m->len = len;
	memcpy(m->payload, payload, len + 1);
	if (!al->store) {
		ready_push(al, m); /* nothing to reload from: not bounded */
		alerts__pump(al);
		return;
	}
	m->id = ++al->next_id;
	struct store_outbox_row r = { .id = m->id,
		                      .topic = topic,
		                      .payload = payload,
		                      .len = len,
		                      .alert_id = ref_id,
		                      .seq = ref_seq,
		                      .qos = 1,
		                      .created = now };
	store_batch_outbox(journal_batch(al->journal), &r);
	al->batch_msgs++;
	journal_urgent(al->journal); /* publish as soon as it is durable */
	if (al->pend_tail)
		al->pend_tail->next = m;
	else
		al->pend_head = m;
	al->pend_tail = m;
}

/* The journal cut the pending batch: its messages wait for its commit. */
void alerts__on_cut(void *ud, uint64_t number)
{
	struct alerts *al = ud;
	hmap_free(&al->batch_alerts);
	hmap_init(&al->batch_alerts);
	if (al->rd && !al->rd_batch)
		al->rd_batch = number;
	if (!al->pend_head)
		return;
	for (struct outmsg *m = al->pend_head; m; m = m->next)
		m->batch = number;
	if (al->wait_tail)
		al->wait_tail->next = al->pend_head;
	else
		al->wait_head = al->pend_head;
	al->wait_tail = al->pend_tail;
	al->pend_head = al->pend_tail = NULL;
	al->batch_msgs = 0;
}

static struct outmsg *msg_from_row(const struct store_outbox_row *r)
{
	struct outmsg *m = xmalloc(sizeof *m + r->len + 1);
	memset(m, 0, sizeof *m);
	m->id = r->id;
	m->topic = xstrdup(r->topic);
	m->len = r->len;
	if (r->len)
		memcpy(m->payload, r->payload, r->len);
	m->payload[r->len] = '\0';
	return m;
}

/* The rows a reload read join `ready` (their ids are older than any
 * message committed since the reload was asked for). */
static void reload_done(struct alerts *al, uint64_t done)
{
	struct store_outbox_read *rd = al->rd;
	if (!rd || !al->rd_batch || al->rd_batch > done)
		return;
	al->rd = NULL;
	al->rd_batch = 0;
	if (store_outbox_read_status(rd) != 1) {
		log_err("alerts", "cannot reload outbox messages from id %lld; retrying",
		        (long long)al->disk_next);
		al->rd_retry = ev_now(al->loop) + HOUSE_INTERVAL;
		store_outbox_read_free(rd);
		return;
	}
	size_t n = store_outbox_read_count(rd);
	for (size_t i = 0; i < n; i++)
		ready_push(al, msg_from_row(store_outbox_read_row(rd, i)));
	al->reloaded += n;
	al->disk_next = store_outbox_read_next(rd);
	store_outbox_read_free(rd);
	if (!alerts__spilled(al))
		log_notice("alerts",
		           "outbox backlog in the table drained: %llu messages reloaded, at most"
		           " %zu in memory (outbox_memory %zu)",
		           (unsigned long long)al->reloaded, al->mem_peak, mem_cap(al));
}

/* A committed message: into memory, or - the bound reached, or older rows
 * waiting only in the table - left to its row. */
static void take_committed(struct alerts *al, struct outmsg *m)
{
	if (m->id && (alerts__spilled(al) || in_memory(al) >= mem_cap(al))) {
		if (!alerts__spilled(al)) {
			al->disk_next = m->id;
			log_notice("alerts",
			           "outbox: %zu messages in memory (outbox_memory); later ones"
			           " wait in the table until the broker takes them",
			           in_memory(al));
		}
		al->disk_max = m->id;
		alerts__free_msg(m);
		return;
	}
	ready_push(al, m);
}

/* The journal's `done`: reloaded rows, then the committed batches'
 * messages. */
void alerts__on_done(void *ud, uint64_t done)
{
	struct alerts *al = ud;
	reload_done(al, done);
	while (al->wait_head && al->wait_head->batch <= done) {
		struct outmsg *m = al->wait_head;
		al->wait_head = m->next;
		if (!al->wait_head)
			al->wait_tail = NULL;
		take_committed(al, m);
	}
	alerts__pump(al);
}

void alerts__on_puback(uint64_t token, void *ud)
{
	struct alerts *al = ud;
	struct outmsg *m = hmap_del(&al->inflight, (const char *)&token, sizeof token);
	if (m) {
		al->acked++;
		if (m->id && al->store)
			store_batch_outbox_done(journal_batch(al->journal), m->id);
		alerts__free_msg(m);
	} else if (!al->window_full) {
		return; /* a plugin's QoS 1 publish, not ours */
	}
	alerts__pump(al);
}

/* Unsent messages of the last run: at most the bound into memory, the
 * rest (ids up to the last one) left to reload().  A failed read leaves
 * everything to reload(). */
void alerts__restore_outbox(struct alerts *al)
{
	al->disk_next = INT64_MIN;
	al->disk_max = al->next_id;
	struct store_outbox_read *rd = store_outbox_read_new(INT64_MIN, al->next_id, mem_cap(al));
	if (store_outbox_read_now(al->store, rd) == 0) {
		size_t n = store_outbox_read_count(rd);
		for (size_t i = 0; i < n; i++)
			ready_push(al, msg_from_row(store_outbox_read_row(rd, i)));
		al->disk_next = store_outbox_read_next(rd);
	} else {
		log_err("alerts", "cannot read the outbox; retrying once running");
	}
	store_outbox_read_free(rd);
	if (alerts__spilled(al))
		log_notice("alerts",
		           "outbox: %zu unsent messages in memory (outbox_memory); ids %lld to %lld"
		           " wait in the table",
		           al->n_ready, (long long)al->disk_next, (long long)al->disk_max);
}

void alerts__free_list(struct outmsg *m)
{
	while (m) {
		struct outmsg *n = m->next;
		free(m->topic);
		free(m);
		m = n;
	}
}
