/*
 * alerting: the alert pipeline's glue (see alerting.h): configuration of
 * centers, routes and contracts, emit() of alert events into the journal,
 * the outbox and the hub, the state subscriber, deadlines, housekeeping
 * and the restore at startup.  The outbox in memory (the ready queue, its
 * bound, reloading from the table) is outbox.c; struct alerts is in
 * alerting_int.h.
 *
 * Must never: block, call back into the alert module from emit(), or
 * publish an outbox message before its batch is committed.
 */
#include "alerting/alerting.h"
#include "alerting/alerting_int.h"
#include "alert/alert.h"
#include "events/events.h"
#include "journal/journal.h"
#include "mqtt/mqtt.h"
#include "proto/cmd.h"
#include "registry/registry.h"
#include "route/route.h"
#include "sla/sla.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRUNE_EVERY    15   /* housekeeping turns between retention prunes (30 s) */
#define PRUNE_LIMIT    1000 /* alerts deleted per prune (writer thread) */
#define DEFAULT_REOPEN 600.0

/* ---- configuration: centers, routes, contracts ---- */

static const struct cal *cal_lookup(void *arg, const char *name)
{
	return mconf_calendar(arg, name);
}

void alerting_conf_free(struct alerts_conf *ac)
{
	if (!ac)
		return;
	route_free(ac->routes);
	sla_centers_free(&ac->centers);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&ac->contracts, &it, &e)) {
		struct contract *k = e->value;
		sla_terms_free(k->terms);
		free(k->customer);
		free(k);
	}
	hmap_free(&ac->contracts);
	free(ac);
}

/* Parse while c's tree is alive.  NULL after logging every error. */
struct alerts_conf *alerting_conf_parse(struct mconf *c)
{
	struct alerts_conf *ac = xcalloc(1, sizeof *ac);
	char err[512] = "";
	int bad = 0;
	hmap_init(&ac->contracts);
	if (sla_centers_parse(c->centers, cal_lookup, c, &ac->centers, err, sizeof err) != 0) {
		log_always("config", LOG_LVL_ERR, "%s", err);
		alerting_conf_free(ac);
		return NULL;
	}
	if (!(ac->routes = route_parse(c->routes, &ac->centers, err, sizeof err))) {
		log_always("config", LOG_LVL_ERR, "%s", err);
		bad = 1;
	}
	for (size_t i = 0; i < c->n_customers; i++) {
		const struct cfg_customer *cu = &c->customers[i];
		if (!cu->sla)
			continue;
		struct sla_terms *terms = sla_terms_parse(cu->sla, cal_lookup, c, err, sizeof err);
		if (!terms) {
			log_always("config", LOG_LVL_ERR, "%s", err);
			bad = 1;
			continue;
		}
		struct contract *k = xcalloc(1, sizeof *k);
		k->customer = xstrdup(cu->id);
		k->terms = terms;
		struct contract *old =
		    hmap_put(&ac->contracts, k->customer, strlen(k->customer), k);
		if (old) {
			sla_terms_free(old->terms);
			free(old->customer);
			free(old);
		}
	}
	if (bad) {
		alerting_conf_free(ac);
		return NULL;
	}
	return ac;
}

static const struct sla_terms *contract_of(const struct alerts_conf *ac, const char *customer)
{
	if (!customer)
		return NULL;
	struct contract *k = hmap_get(&ac->contracts, customer, strlen(customer));
	return k ? k->terms : NULL;
}

/* The terms an alert runs on: the customer's contract, else its center's. */
static const struct sla_terms *terms_for(void *arg, const struct alert *a)
{
	const struct alerts_conf *ac = arg;
	const struct sla_terms *t = contract_of(ac, a->customer);
	if (t)
		return t;
	const struct sla_center *c = a->center ? sla_centers_find(&ac->centers, a->center) : NULL;
	return c ? &c->terms : NULL;
}

/* Append the tiers of terms t (center NULL: the contract) to out. */
static size_t put_tiers(const char *center, const struct sla_terms *t, struct alerting_tier *out,
                        size_t n, size_t max)
{
	for (size_t k = 0; k < t->n_tiers && n < max; k++)
		out[n++] = (struct alerting_tier){ center, t->tiers[k].name, t->tiers[k].ack_within,
			                           t->tiers[k].resolve_within };
	return n;
}

size_t alerting_customer_tiers(const struct alerts *al, const struct customer *cu,
                               struct alerting_tier *out, size_t max)
{
	const struct alerts_conf *ac = al ? al->conf : NULL;
	if (!ac || !cu || !max)
		return 0;
	const struct sla_terms *t = contract_of(ac, cu->id);
	if (t)
		return put_tiers(NULL, t, out, 0, max);
	const struct sla_center *seen[8];
	size_t n = 0, n_seen = 0, it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&cu->assets, &it, &e)) {
		const struct asset *as = e->value;
		for (const struct check *k = as->checks; k; k = k->anext) {
			struct route_input in = { .customer = cu->id,
				                  .tags = (const char *const *)cu->tags,
				                  .n_tags = cu->n_tags,
				                  .region = cu->region,
				                  .service = service_name(k->p.service),
				                  .severity = "critical",
				                  .check = k->name };
			struct route_result r;
			if (!ac->routes || route_match(ac->routes, &in, &r) != 0 || !r.center)
				continue;
			size_t i = 0;
			while (i < n_seen && seen[i] != r.center)
				i++;
			if (i < n_seen)
				continue;
			if (n_seen == 8 || n == max)
				return n;
			seen[n_seen++] = r.center;
			n = put_tiers(r.center->name, &r.center->terms, out, n, max);
		}
	}
	return n;
}

/* Reload: the new routes and terms replace the old ones (call while the
 * old calendars still exist). */
void alerting_conf_install(struct alerts *al, struct alerts_conf *ac, struct mconf *c)
{
	al->mc = c;
	alert_table_set_routes(al->t, ac->routes);
	alert_table_rebind(al->t, terms_for, ac);
	alerting_conf_free(al->conf);
	al->conf = ac;
	al->armed = -2; /* deadlines may have moved: re-arm */
}

/* ---- emit: one alert event ---- */

static char *also_json(const struct alert *a)
{
	if (!a->n_also)
		return NULL;
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < a->n_also; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(a->also[i]));
	char *j = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return j;
}

static void fill_alert_row(const struct alert *a, struct store_alert_row *r, char *also)
{
	memset(r, 0, sizeof *r);
	r->id = a->id;
	r->check_key = a->key;
	r->customer = a->customer;
	r->asset = a->asset;
	r->check_name = a->check;
	r->service = a->service;
	r->center = a->center;
	r->also = also;
	r->summary = a->summary;
	r->runbook = a->runbook;
	r->status = alert_status_name(a->status);
	r->acked_by = a->acked_by;
	r->contract = a->contract;
	r->state = a->state;
	r->flapping = a->flapping;
	r->stale = a->stale;
	r->manual = a->manual;
	r->count = a->count;
	r->seq = a->seq;
	r->opened_at = a->opened_at;
	r->updated_at = a->updated_at;
	r->acked_at = a->acked_at;
	r->resolved_at = a->resolved_at;
	const struct sla_clock *c = &a->sla;
	r->has_clock = c->terms != NULL;
	r->tier_name = alert_tier_name(a);
	r->tier = (int)c->tier;
	r->paused = (int)c->paused;
	r->acked = c->acked;
	r->stopped = c->stopped;
	r->ack_breached = c->ack_breached;
	r->resolve_breached = c->resolve_breached;
	/* While paused the due times mean nothing (the clock keeps the
	 * business seconds left, and resuming computes new ones): the row says
	 * NULL, so a reader never sees a deadline that is not running. */
	int running = !c->paused || c->stopped;
	r->ack_due = running ? c->ack_due : 0;
	r->resolve_due = running ? c->resolve_due : 0;
	r->ack_left = c->ack_left;
	r->resolve_left = c->resolve_left;
	r->reannounce_at = c->reannounce_at;
	r->breaches = (int)c->breaches;
}

static void store_alert(struct alerts *al, const struct alert *a)
{
	char *also = also_json(a);
	struct store_alert_row r;
	fill_alert_row(a, &r, also);
	struct store_batch *b = journal_batch(al->journal);
	size_t n = strlen(a->id);
	void *slot = hmap_get(&al->batch_alerts, a->id, n);
	if (slot) {
		store_batch_alert_again(b, slot, &r);
	} else {
		slot = store_batch_alert(b, &r);
		/* the key is the row's own copy of the id, alive with the batch */
		hmap_put(&al->batch_alerts, store_batch_alert_id(slot), n, slot);
	}
	free(also);
}

static void track_open(struct alerts *al, const struct alert *a)
{
	size_t n = strlen(a->key);
	if (a->status == ALERT_RESOLVED) {
		free(hmap_del(&al->open_keys, a->key, n));
	} else if (!hmap_get(&al->open_keys, a->key, n)) {
		char *k = xstrdup(a->key);
		hmap_put(&al->open_keys, k, n, k);
	}
}

static void on_emit(void *arg, const struct alert *a, const struct alert_event *ev)
{
	struct alerts *al = arg;
	double now = ev->time;
	char *json = cmd_format_alert(a, ev, al->mc->node);
	if (!json) {
		log_err("alerts", "%s: cannot format event %u (out of memory)", a->id, ev->seq);
		return;
	}
	al->events++;
	if ((unsigned)ev->type < 16)
		al->by_type[ev->type]++;
	track_open(al, a);
	if (journal_durable(al->journal)) {
		store_alert(al, a);
		struct store_event_row e = { .alert_id = a->id,
			                     .type = alert_event_name(ev->type),
			                     .actor = ev->actor,
			                     .note = ev->note,
			                     .cmd_id = ev->cmd_id,
			                     .payload = json,
			                     .seq = ev->seq,
			                     .time = now };
		store_batch_event(journal_batch(al->journal), &e);
		if (ev->type == ALERT_EV_DISPATCHED) {
			struct store_dispatch_row d = { .alert_id = a->id,
				                        .actor = ev->actor,
				                        .vendor = a->dispatch.vendor,
				                        .result = a->dispatch.result,
				                        .seq = ev->seq,
				                        .time = now,
				                        .planned_at = a->dispatch.planned_at };
			store_batch_dispatch(journal_batch(al->journal), &d);
		}
	}
	if (al->mqtt && a->center) {
		const char *prefix = mqtt_prefix(al->mqtt);
		char topic[1024];
		snprintf(topic, sizeof topic, "%s/v1/alerts/%s/%s", prefix, a->center, a->customer);
		/* by reference: the event row holding json is in the batch above */
		alerts__queue_msg(al, topic, json, now, a->id, ev->seq);
		for (size_t i = 0; i < a->n_also; i++) {
			snprintf(topic, sizeof topic, "%s/v1/alerts/%s/%s", prefix, a->also[i],
			         a->customer);
			alerts__queue_msg(al, topic, json, now, a->id, ev->seq);
		}
	}
	if (!a->center && ev->type == ALERT_EV_OPENED)
		log_warn("alerts",
		         "%s (%s/%s/%s) matches no route: stored, but no contact center is told; "
		         "end `routes` with a catch-all rule",
		         a->id, a->customer, a->asset, a->check);
	if (ev->type == ALERT_EV_OPENED || ev->type == ALERT_EV_RESOLVED ||
	    ev->type == ALERT_EV_ESCALATED)
		log_notice("alerts", "%s %s: %s/%s/%s -> %s tier %s", a->id,
		           alert_event_name(ev->type), a->customer, a->asset, a->check,
		           a->center ? a->center : "(no center)",
		           alert_tier_name(a) ? alert_tier_name(a) : "-");
	struct event_alert ea = { .alert = a, .ev = ev };
	struct event out = { .type = EVENT_ALERT,
		             .time = now,
		             .customer = a->customer,
		             .center = a->center,
		             .subject = a->id,
		             .json = json,
		             .detail = &ea };
	events_emit(al->hub, &out);
	free(json);
}

/* ---- state results (EVENT_STATE subscriber) ---- */

static void on_state(void *ud, const struct event *e)
{
	struct alerts *al = ud;
	const struct event_state *es = e->detail;
	if (!es || !es->ev->flags)
		return; /* nothing the state engine decided: no alert business */
	struct alert_input in = {
		.key = es->key,
		.customer = es->customer,
		.asset = es->asset,
		.check = es->check,
		.service = es->service,
		.region = es->region,
		.tags = es->tags,
		.n_tags = es->n_tags,
		.output = es->output,
		.runbook = es->runbook,
		.contract = contract_of(al->conf, es->customer),
		.st = es->st,
		.ev = es->ev,
		.ctx = es->ctx,
	};
	if (alert_on_check_event(al->t, &in, e->time) == ALERT_E_NOMEM)
		log_err("alerts", "%s: out of memory handling a result", es->key);
}

/* ---- actions ---- */

struct alert_table *alerting_table(struct alerts *al)
{
	return al->t;
}

void alerting_queue_msg(struct alerts *al, const char *topic, const char *payload, double now)
{
	alerts__queue_msg(al, topic, payload, now, NULL, 0);
}

void alerting_get_stats(const struct alerts *al, struct alerting_stats *out)
{
	memset(out, 0, sizeof *out);
	out->events = al->events;
	out->published = al->published;
	out->acked = al->acked;
	memcpy(out->by_type, al->by_type, sizeof out->by_type);
	out->open = al->open_keys.count;
	out->ready = al->n_ready;
	out->inflight = al->inflight.count;
	out->in_memory = al->n_ready + al->inflight.count;
}

/* ---- timers ---- */

static void rearm(struct alerts *al)
{
	double due = alert_next_due(al->t);
	if (due == al->armed)
		return;
	struct ev_loop *loop = al->loop;
	ev_timer_stop(loop, &al->due_timer);
	al->armed = due;
	if (due < 0)
		return;
	double in = due - ev_now(loop);
	ev_timer_set(&al->due_timer, in > 0 ? in : 0, 0.);
	ev_timer_start(loop, &al->due_timer);
}

static void on_due(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct alerts *al = w->data;
	/* ev_timer runs on the monotonic clock; deadlines are wall time.  A
	 * timer that fires early (clock steps) just re-arms. */
	double now = ev_now(loop);
	double due = alert_next_due(al->t);
	if (due >= 0 && due <= now + 0.001)
		alert_fire_due(al->t, due > now ? due : now);
	al->armed = -2;
	rearm(al);
}

/* Once per loop iteration, before it sleeps. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct alerts *al = w->data;
	rearm(al);
}

/* Downtime starting or ending without a result: pause or resume the SLA
 * clocks of the unresolved alerts (only while downtimes exist). */
static void downtime_pass(struct alerts *al, double now)
{
	int any = al->reg->m.n_downtimes > 0;
	if (!any && !al->dt_seen)
		return;
	al->dt_seen = any;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&al->open_keys, &it, &e)) {
		struct check *c = registry_check_key(al->reg, e->key, e->keylen);
		struct alert *a = alert_find_check(al->t, e->key);
		if (!a || a->status == ALERT_RESOLVED)
			continue;
		unsigned before = a->sla.paused;
		alert_set_downtime(al->t, e->key, c && registry_in_downtime(al->reg, c, now), now);
		if (a->sla.paused != before && journal_durable(al->journal))
			store_alert(al, a);
	}
}

static void on_house(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct alerts *al = w->data;
	double now = ev_now(loop);
	downtime_pass(al, now);
	alert_prune(al->t, now, 4096);
	if (al->mqtt)
		alerts__pump(al); /* after "not now" without PUBACKs, a failed reload */
	if (journal_durable(al->journal) && ++al->house_turns % PRUNE_EVERY == 1) {
		double keep = (al->mc->retention_days ? al->mc->retention_days : 400) * 86400.0;
		/* command ids as long as resolved alerts: a repeat of an id older
		 * than that mostly finds no alert left to act on */
		store_batch_prune(journal_batch(al->journal), now - keep, now - keep, PRUNE_LIMIT);
	}
}

/* ---- startup: restore from the store ---- */

static enum alert_status status_parse(const char *s)
{
	if (strcmp(s, "acknowledged") == 0)
		return ALERT_ACKED;
	return strcmp(s, "resolved") == 0 ? ALERT_RESOLVED : ALERT_OPEN;
}

static size_t also_parse(const char *json, char **out)
{
	size_t n = 0;
	cJSON *arr = json ? cJSON_Parse(json) : NULL;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (n < ROUTE_MAX_ALSO && cJSON_IsString(it))
			out[n++] = xstrdup(it->valuestring);
	}
	cJSON_Delete(arr);
	return n;
}

static void on_alert_row(void *ud, const struct store_alert_row *r)
{
	struct alerts *al = ud;
	struct alert a = { 0 };
	a.id = (char *)r->id;
	a.key = (char *)r->check_key;
	a.customer = (char *)r->customer;
	a.asset = (char *)r->asset;
	a.check = (char *)r->check_name;
	a.service = (char *)r->service;
	a.summary = (char *)r->summary;
	a.runbook = (char *)r->runbook;
	a.center = (char *)r->center;
	a.acked_by = (char *)r->acked_by;
	a.n_also = also_parse(r->also, a.also);
	a.seq = (uint32_t)r->seq;
	a.state = (uint8_t)(r->state & 3);
	a.flapping = (uint8_t) !!r->flapping;
	a.stale = (uint8_t) !!r->stale;
	a.manual = (uint8_t) !!r->manual;
	a.contract = (uint8_t) !!r->contract;
	a.status = status_parse(r->status);
	a.count = (uint32_t)r->count;
	a.opened_at = r->opened_at;
	a.updated_at = r->updated_at;
	a.acked_at = r->acked_at;
	a.resolved_at = r->resolved_at;
	a.dispatch.vendor = (char *)r->vendor;
	a.dispatch.result = (char *)r->result;
	a.dispatch.planned_at = r->planned_at;
	sla_clock_init(&a.sla);
	const struct sla_terms *terms = NULL;
	if (r->has_clock) {
		struct sla_clock *c = &a.sla;
		c->tier = (unsigned)(r->tier < 0 ? 0 : r->tier);
		c->paused = (unsigned)r->paused;
		c->acked = (unsigned char)!!r->acked;
		c->stopped = (unsigned char)!!r->stopped;
		c->ack_breached = (unsigned char)!!r->ack_breached;
		c->resolve_breached = (unsigned char)!!r->resolve_breached;
		c->ack_due = r->ack_due;
		c->resolve_due = r->resolve_due;
		c->ack_left = r->ack_left;
		c->resolve_left = r->resolve_left;
		c->reannounce_at = r->reannounce_at;
		c->breaches = (unsigned)r->breaches;
		terms = terms_for(al->conf, &a);
	}
	struct alert *got = alert_restore(al->t, &a, terms);
	if (got)
		track_open(al, got);
	for (size_t i = 0; i < a.n_also; i++)
		free(a.also[i]);
}

static void restore(struct alerts *al)
{
	size_t n_out = 0;
	double now = ev_now(al->loop);
	if (store_load_alerts(
	        al->store,
	        now - (al->mc->reopen_within > 0 ? al->mc->reopen_within : DEFAULT_REOPEN),
	        on_alert_row, al) != 0)
		log_err("alerts", "cannot read the alerts from the store");
	alert_table_set_counter(al->t, (uint64_t)store_alert_total(al->store));
	al->next_id = store_outbox_last_id(al->store);
	if (al->mqtt)
		alerts__restore_outbox(al);
	n_out = al->n_ready;
	log_info("alerts", "restored %zu alerts (%zu unresolved), %zu unsent messages%s",
	         alert_count(al->t), (size_t)al->open_keys.count, n_out,
	         alerts__spilled(al) ? " in memory (more wait in the table)" : "");
}

/* ---- lifecycle ---- */

struct alerts *alerting_new(const struct alerting_deps *d)
{
	struct alerts_conf *ac = alerting_conf_parse(d->conf);
	if (!ac)
		return NULL;
	struct alerts *al = xcalloc(1, sizeof *al);
	al->loop = d->loop;
	al->reg = d->reg;
	al->journal = d->journal;
	al->hub = d->events;
	al->store = d->store;
	al->mqtt = d->mqtt;
	al->mc = d->conf;
	al->conf = ac;
	al->armed = -2;
	al->disk_next = 1; /* nothing in the table only */
	hmap_init(&al->inflight);
	hmap_init(&al->open_keys);
	hmap_init(&al->batch_alerts);
	struct alert_policy pol = { .node = d->conf->node,
		                    .reopen_within = d->conf->reopen_within > 0
		                                         ? d->conf->reopen_within
		                                         : DEFAULT_REOPEN };
	al->t = alert_table_new(&pol, ac->routes, on_emit, al);
	if (!al->t) {
		log_err("alerts", "out of memory");
		alerting_free(al);
		return NULL;
	}
	ev_prepare_init(&al->prepare, on_prepare);
	al->prepare.data = al;
	ev_init(&al->due_timer, on_due);
	al->due_timer.data = al;
	ev_timer_init(&al->house_timer, on_house, HOUSE_INTERVAL, HOUSE_INTERVAL);
	al->house_timer.data = al;
	if (al->store)
		restore(al);
	journal_on_cut(al->journal, alerts__on_cut, al);
	journal_on_done(al->journal, alerts__on_done, al);
	al->state_sub = events_subscribe(al->hub, EVENT_MASK(EVENT_STATE), on_state, al);
	return al;
}

/* The wall clock stepped: every running SLA deadline moves with it, so
 * an ack_within of 15 minutes stays 15 minutes from the opening however
 * the clock jumps (a step forward breaching everything at once, a step
 * back holding escalations for an hour, were the alternatives).  The
 * moved deadlines are stored again, so a restart keeps them. */
static void on_clock_step(void *ud, double step)
{
	struct alerts *al = ud;
	size_t n = sla_shift(alert_table_sla(al->t), step);
	if (n && journal_durable(al->journal)) {
		size_t it = 0;
		const struct hmap_entry *e;
		while (hmap_next(&al->open_keys, &it, &e)) {
			struct alert *a = alert_find_check(al->t, e->key);
			if (a && a->status != ALERT_RESOLVED)
				store_alert(al, a);
		}
	}
	log_always("alerts", LOG_LVL_NOTICE,
	           "the wall clock stepped %+.3f s: %zu running SLA deadline%s moved with it", step,
	           n, n == 1 ? "" : "s");
	al->armed = -2;
	rearm(al);
}

int alerting_start(struct alerts *al)
{
	al->started = 1;
	ev_prepare_start(al->loop, &al->prepare);
	ev_unref(al->loop);
	ev_timer_start(al->loop, &al->house_timer);
	ev_unref(al->loop);
	clockstep_start(al->loop, &al->clock, on_clock_step, al);
	if (al->mqtt) {
		mqtt_set_ack_cb(al->mqtt, alerts__on_puback, al);
		/* Unsent messages from the last run: committed, publish now. */
		if (al->store)
			alerts__on_done(al, store_committed(al->store));
		alerts__pump(al); /* also without a store */
	}
	/* Deadlines that passed while we were down fire once, now. */
	size_t n = alert_fire_due(al->t, ev_now(al->loop));
	if (n)
		log_notice("alerts", "%zu deadline events were due while mamorid was down", n);
	rearm(al);
	return 0;
}

void alerting_stop(struct alerts *al)
{
	if (!al)
		return;
	if (ev_is_active(&al->prepare)) {
		ev_ref(al->loop);
		ev_prepare_stop(al->loop, &al->prepare);
	}
	if (ev_is_active(&al->house_timer)) {
		ev_ref(al->loop);
		ev_timer_stop(al->loop, &al->house_timer);
	}
	ev_timer_stop(al->loop, &al->due_timer);
	clockstep_stop(al->loop, &al->clock);
	/* Once: the broker connection goes right after the first stop
	 * (server_stop), and alerting_free stops again. */
	if (al->mqtt && al->started)
		mqtt_set_ack_cb(al->mqtt, NULL, NULL);
	al->started = 0;
	/* Stopped for good: nothing may reach the broker object after this
	 * (the bus frees it next); unsent messages wait in the outbox table. */
	al->mqtt = NULL;
}

void alerting_free(struct alerts *al)
{
	if (!al)
		return;
	alerting_stop(al);
	events_unsubscribe(al->hub, al->state_sub);
	alert_table_free(al->t);
	alerting_conf_free(al->conf);
	alerts__free_list(al->pend_head);
	alerts__free_list(al->wait_head);
	alerts__free_list(al->ready_head);
	if (al->rd) {
		/* a read handed to the writer fills rd: wait for it (shutdown).
		 * If the writer is retrying a batch the disk refuses, store_sync
		 * returns without it: rd stays with the writer (a leak at exit,
		 * never a use after free). */
		int mine = 1;
		if (al->rd_batch && al->store) {
			store_sync(al->store);
			mine = store_committed(al->store) >= al->rd_batch;
		}
		if (mine)
			store_outbox_read_free(al->rd);
	}
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&al->inflight, &it, &e))
		alerts__free_msg(e->value);
	hmap_free(&al->inflight);
	hmap_free(&al->batch_alerts);
	it = 0;
	while (hmap_next(&al->open_keys, &it, &e))
		free(e->value);
	hmap_free(&al->open_keys);
	free(al);
}
