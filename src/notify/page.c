/*
 * page: alert events -> who is paged -> notification items; repeat
 * pages; the runtime's lifecycle and its restore at startup.
 *
 * For each EVENT_ALERT (on the loop, inside the emit that wrote the
 * alert event into the pending batch): the rule of the alert (center,
 * service, customer) says which events page and how often to repeat; the
 * on-call contacts of the alert's center and tier at the event's time
 * are paged (a `resolved`/`acknowledged` tells those paged before), each
 * over the channels of its rules that the severity, the event and its
 * quiet hours allow.  Each (alert, seq, event, contact, channel) becomes
 * an item row in the same pending batch, so it is durable exactly when
 * the event is; the item waits for that batch's commit, then joins its
 * lane (deliver.c).  Unacknowledged alerts are paged again every
 * `repeat` (items "repeat-N" at the alert's seq of the moment) until
 * acknowledged, escalated (the next tier is paged: repeats start over)
 * or resolved.  The paging state of an alert is a row of its own
 * (notify_page), written whenever it changes.
 *
 * Startup: items still pending or sending and the paging state are read
 * from the store; an item found 'sending' was handed to its channel when
 * mamorid stopped: it may have been delivered, so the attempt is
 * recorded as 'unknown' and the item sent again marked as a possible
 * duplicate (same message id).
 *
 * Must never: keep the alert pointer past the callback, page on its own
 * notify_failed events, create an item twice in one run (keys map).
 */
#include "notify/notify_int.h"
#include "alert/alert.h"
#include "app/app.h"
#include "cal/cal.h"
#include "events/events.h"
#include "journal/journal.h"
#include "proto/cmd.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <cJSON.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK          1.0
#define PRUNE_EVERY   60 /* ticks between retention prunes */
#define PRUNE_LIMIT   1000
#define DEFAULT_KEEP  400.0 /* days, as the alerts' retention */
#define MAX_RECIPIENT 32

/* ---- fields ---- */

static char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static double jtime(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	double t = 0;
	if (cJSON_IsString(v) && cmd_parse_rfc3339(v->valuestring, &t) == 0)
		return t;
	return 0;
}

int nfields_from_json(struct nfields *f, const char *json)
{
	memset(f, 0, sizeof *f);
	cJSON *o = json ? cJSON_Parse(json) : NULL;
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return -1;
	}
	f->customer = jstr(o, "customer");
	f->asset = jstr(o, "asset");
	f->check = jstr(o, "check");
	f->service = jstr(o, "service");
	f->summary = jstr(o, "summary");
	f->center = jstr(o, "center");
	f->tier = jstr(o, "tier_name");
	f->status = jstr(o, "status");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
	static const char *const states[4] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	for (int i = 0; i < 4; i++)
		if (cJSON_IsString(st) && strcmp(st->valuestring, states[i]) == 0)
			f->state = i;
	f->opened_at = jtime(o, "opened_at");
	f->ack_due = jtime(o, "ack_due");
	f->resolve_due = jtime(o, "resolve_due");
	cJSON_Delete(o);
	return f->customer ? 0 : -1;
}

/* The alert at this event, as messages tell it. */
static void fields_of(struct notify *n, const struct alert *a, struct nfields *f)
{
	memset(f, 0, sizeof *f);
	f->customer = xstrdup(a->customer);
	const char *name = nconf_customer_name(n->nc, a->customer);
	f->customer_name = name ? xstrdup(name) : NULL;
	f->asset = xstrdup(a->asset);
	f->check = xstrdup(a->check);
	f->service = a->service ? xstrdup(a->service) : NULL;
	f->summary = a->summary ? xstrdup(a->summary) : NULL;
	f->center = a->center ? xstrdup(a->center) : NULL;
	const char *tier = alert_tier_name(a);
	f->tier = tier ? xstrdup(tier) : NULL;
	f->status = xstrdup(alert_status_name(a->status));
	f->state = a->state & 3;
	f->opened_at = a->opened_at;
	/* deadlines only while they run (a paused clock has none) */
	const struct sla_clock *c = &a->sla;
	if (c->terms && !c->stopped && !c->paused) {
		if (!c->acked && !c->ack_breached)
			f->ack_due = c->ack_due;
		if (!c->resolve_breached)
			f->resolve_due = c->resolve_due;
	}
}

/* ---- items ---- */

void notify__item_free(struct nitem *it)
{
	if (!it)
		return;
	free(it->alert_id);
	free(it->event);
	free(it->contact);
	free(it->channel);
	free(it->key);
	nfields_free(&it->f);
	free(it);
}

static char *item_key(const char *alert_id, int64_t seq, const char *event, const char *contact,
                      const char *channel)
{
	return xasprintf("%s\n%lld\n%s\n%s\n%s", alert_id, (long long)seq, event, contact, channel);
}

void notify__item_row(struct notify *n, const struct nitem *it, const char *status,
                      const char *error, double updated)
{
	if (!n->d.journal || !journal_durable(n->d.journal))
		return;
	struct store_notify_item_row r = { .alert_id = it->alert_id,
		                           .seq = it->seq,
		                           .event = it->event,
		                           .contact = it->contact,
		                           .channel = it->channel,
		                           .status = status,
		                           .attempts = (int)it->attempts,
		                           .created = it->created,
		                           .due = strcmp(status, "pending") == 0 ? it->due : 0,
		                           .updated = updated,
		                           .error = error };
	store_batch_notify_update(journal_batch(n->d.journal), &r);
}

void notify__attempt_row(struct notify *n, const struct nitem *it, unsigned attempt,
                         const char *result, const char *detail, const char *message_id)
{
	if (!n->d.journal || !journal_durable(n->d.journal))
		return;
	struct store_notify_attempt_row r = { .alert_id = it->alert_id,
		                              .seq = it->seq,
		                              .event = it->event,
		                              .contact = it->contact,
		                              .channel = it->channel,
		                              .attempt = (int)attempt,
		                              .time = notify__now(n),
		                              .result = result,
		                              .detail = detail,
		                              .message_id = message_id };
	store_batch_notify_attempt(journal_batch(n->d.journal), &r);
}

/* A new item: its row into the pending batch, itself to wait for it. */
static void item_new(struct notify *n, const char *alert_id, int64_t seq, const char *event,
                     const struct nfields *f, const char *contact, const char *channel)
{
	struct notify_rt *rt = n->rt;
	char *key = item_key(alert_id, seq, event, contact, channel);
	if (hmap_get(&rt->keys, key, strlen(key))) {
		free(key);
		return;
	}
	struct nitem *it = xcalloc(1, sizeof *it);
	it->alert_id = xstrdup(alert_id);
	it->seq = seq;
	it->event = xstrdup(event);
	it->contact = xstrdup(contact);
	it->channel = xstrdup(channel);
	it->key = key;
	nfields_copy(&it->f, f);
	it->created = it->due = notify__now(n);
	hmap_put(&rt->keys, it->key, strlen(it->key), it);
	n->st.items++;
	if (!n->d.journal || !journal_durable(n->d.journal)) {
		notify__ready(n, it); /* nothing to wait for */
		return;
	}
	struct store_notify_item_row r = { .alert_id = alert_id,
		                           .seq = seq,
		                           .event = event,
		                           .contact = contact,
		                           .channel = channel,
		                           .status = "pending",
		                           .created = it->created,
		                           .due = it->due,
		                           .updated = it->created };
	store_batch_notify_item(journal_batch(n->d.journal), &r);
	journal_urgent(n->d.journal); /* page as soon as it is durable */
	if (rt->pend_tail)
		rt->pend_tail->next = it;
	else
		rt->pend_head = it;
	rt->pend_tail = it;
}

/* ---- recipients ---- */

static int in_quiet(const struct ncontact *ct, double now)
{
	return ct->quiet && cal_is_open(ct->quiet, (time_t)now);
}

/* Items for one contact: each channel rule that lets this through. */
static void page_contact(struct notify *n, size_t ci, const char *alert_id, int64_t seq,
                         const char *event, uint32_t evbit, int severity, const struct nfields *f)
{
	const struct notify_conf *nc = n->nc;
	const struct ncontact *ct = &nc->contacts[ci];
	unsigned sevbit = 1u << (severity & 3);
	int quiet = in_quiet(ct, notify__now(n));
	for (size_t k = 0; k < ct->n_rules; k++) {
		const struct ncrule *r = &ct->rules[k];
		if (r->events && !(r->events & evbit))
			continue;
		if (severity && !(r->severity & sevbit))
			continue;
		if (quiet && !(ct->quiet_pass & sevbit)) {
			n->st.suppressed_quiet++;
			continue;
		}
		item_new(n, alert_id, seq, event, f, ct->name, nc->channels[r->channel].name);
	}
}

/* The on-call contacts of (center, tier) at t, into out (indexes). */
static size_t on_call(const struct notify_conf *nc, const char *center, const char *tier, double t,
                      size_t *out, size_t max)
{
	size_t n = 0;
	if (!center)
		return 0;
	/* a tier's own schedule; else the center's schedule for all tiers */
	int own = 0;
	for (size_t i = 0; i < nc->n_scheds; i++)
		own |= strcmp(nc->scheds[i].center, center) == 0 && tier && nc->scheds[i].tier &&
		       strcmp(nc->scheds[i].tier, tier) == 0;
	for (size_t i = 0; i < nc->n_scheds; i++) {
		const struct nsched *s = &nc->scheds[i];
		if (strcmp(s->center, center) != 0)
			continue;
		if (own ? !(s->tier && strcmp(s->tier, tier) == 0) : s->tier != NULL)
			continue;
		struct oncall_who w[MAX_RECIPIENT];
		size_t k = oncall_resolve(s, (time_t)t, w, MAX_RECIPIENT);
		for (size_t j = 0; j < k; j++) {
			int dup = 0;
			for (size_t m = 0; m < n; m++)
				dup |= out[m] == w[j].contact;
			if (!dup && n < max)
				out[n++] = w[j].contact;
		}
	}
	return n;
}

/* ---- pages ---- */

static void page_free(struct npage *p)
{
	if (!p)
		return;
	free(p->alert_id);
	free(p->center);
	free(p->tier);
	nfields_free(&p->f);
	for (size_t i = 0; i < p->n_paged; i++)
		free(p->paged[i]);
	free(p->paged);
	free(p);
}

static int was_paged(const struct npage *p, const char *contact)
{
	for (size_t i = 0; i < p->n_paged; i++)
		if (strcmp(p->paged[i], contact) == 0)
			return 1;
	return 0;
}

static void add_paged(struct npage *p, const char *contact)
{
	if (was_paged(p, contact) || p->n_paged >= 256)
		return;
	p->paged = xrealloc(p->paged, (p->n_paged + 1) * sizeof *p->paged);
	p->paged[p->n_paged++] = xstrdup(contact);
}

static void page_store(struct notify *n, const struct npage *p)
{
	if (!n->d.journal || !journal_durable(n->d.journal))
		return;
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < p->n_paged; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(p->paged[i]));
	char *paged = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	struct store_notify_page_row r = { .alert_id = p->alert_id,
		                           .center = p->center,
		                           .tier = p->tier,
		                           .severity = p->severity,
		                           .repeat_at = p->repeat_at,
		                           .repeats = p->repeats,
		                           .paged = paged,
		                           .seq = p->seq };
	store_batch_notify_page(journal_batch(n->d.journal), &r);
	free(paged);
}

static void page_forget(struct notify *n, const char *alert_id)
{
	struct npage *p = hmap_del(&n->rt->pages, alert_id, strlen(alert_id));
	if (!p)
		return;
	if (n->d.journal && journal_durable(n->d.journal))
		store_batch_notify_page_delete(journal_batch(n->d.journal), alert_id);
	page_free(p);
}

static struct npage *page_get(struct notify *n, const char *alert_id)
{
	return hmap_get(&n->rt->pages, alert_id, strlen(alert_id));
}

static struct npage *page_new(struct notify *n, const char *alert_id)
{
	struct npage *p = xcalloc(1, sizeof *p);
	p->alert_id = xstrdup(alert_id);
	hmap_put(&n->rt->pages, p->alert_id, strlen(p->alert_id), p);
	return p;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

static void rule_of(const struct notify_conf *nc, const struct nfields *f, uint32_t *events,
                    double *repeat)
{
	const struct nrule *r = nconf_rule(nc, f->center, f->service, f->customer);
	*events = r ? r->events : nc->events;
	*repeat = r ? r->repeat : nc->repeat;
}

/* Page the on-call contacts of the page's tier (or, for `tell_paged`,
 * those paged before) about one event. */
static void page_people(struct notify *n, struct npage *p, const char *event, uint32_t evbit,
                        int tell_paged)
{
	const struct notify_conf *nc = n->nc;
	size_t who[MAX_RECIPIENT];
	size_t k = 0;
	if (tell_paged) {
		for (size_t i = 0; i < p->n_paged && k < MAX_RECIPIENT; i++) {
			long ci = nconf_contact(nc, p->paged[i]);
			if (ci >= 0)
				who[k++] = (size_t)ci;
		}
	} else {
		k = on_call(nc, p->center, p->tier, notify__now(n), who, MAX_RECIPIENT);
	}
	if (!k && !tell_paged)
		log_info("notify", "%s %s: nobody is on call for %s/%s", p->alert_id, event,
		         p->center ? p->center : "-", p->tier ? p->tier : "*");
	for (size_t i = 0; i < k; i++) {
		page_contact(n, who[i], p->alert_id, p->seq, event, evbit,
		             p->f.state ? p->f.state : p->severity, &p->f);
		if (!tell_paged)
			add_paged(p, nc->contacts[who[i]].name);
	}
}

static void on_alert(void *ud, const struct event *e)
{
	struct notify *n = ud;
	const struct event_alert *ea = e->detail;
	if (!ea || !ea->alert || !ea->ev || !notify_conf_active(n->nc))
		return;
	const struct alert *a = ea->alert;
	const struct alert_event *ev = ea->ev;
	if (ev->type == ALERT_EV_NOTIFY_FAILED || ev->type == ALERT_EV_UPDATED ||
	    ev->type >= ALERT_EV_COUNT)
		return; /* never page on our own failure record; updates are noise */
	uint32_t evbit = 1u << ev->type, events;
	double repeat, now = notify__now(n);
	struct nfields f;
	fields_of(n, a, &f);
	rule_of(n->nc, &f, &events, &repeat);
	struct npage *p = page_get(n, a->id);
	int opening = ev->type == ALERT_EV_OPENED || ev->type == ALERT_EV_REOPENED;
	if (!p && !opening && !(events & evbit)) {
		nfields_free(&f);
		return; /* nobody was paged for it and this event pages nobody */
	}
	if (!p)
		p = page_new(n, a->id);
	set_str(&p->center, a->center);
	set_str(&p->tier, f.tier);
	p->seq = ev->seq;
	if ((a->state & 3) && (!p->severity || (a->state & 3) == 2))
		p->severity = a->state & 3;
	nfields_free(&p->f);
	p->f = f;
	const char *name = alert_event_name(ev->type);
	switch (ev->type) {
	case ALERT_EV_OPENED:
	case ALERT_EV_REOPENED:
	case ALERT_EV_ESCALATED:
	case ALERT_EV_UNACKNOWLEDGED:
		p->acked = 0;
		p->repeats = ev->type == ALERT_EV_UNACKNOWLEDGED ? p->repeats : 0;
		p->repeat_at = repeat > 0 && (events & NEV_REPEAT) ? now + repeat : 0;
		break;
	case ALERT_EV_ACKNOWLEDGED:
		p->acked = 1;
		p->repeat_at = 0;
		break;
	default: break;
	}
	if (events & evbit) {
		int tell_paged =
		    ev->type == ALERT_EV_RESOLVED || ev->type == ALERT_EV_ACKNOWLEDGED ||
		    ev->type == ALERT_EV_UNACKNOWLEDGED || ev->type == ALERT_EV_DISPATCHED ||
		    ev->type == ALERT_EV_COMMENTED || ev->type == ALERT_EV_WAITING;
		page_people(n, p, name, evbit, tell_paged);
	}
	if (ev->type == ALERT_EV_RESOLVED)
		page_forget(n, a->id);
	else
		page_store(n, p);
}

/* ---- repeat pages ---- */

static void repeat_pass(struct notify *n, double now)
{
	struct notify_rt *rt = n->rt;
	if (!notify_conf_active(n->nc))
		return;
	size_t it = 0;
	const struct hmap_entry *e;
	/* collect first: paging adds nothing to `pages` but keep the walk
	 * independent of it anyway */
	struct npage **due = NULL;
	size_t n_due = 0;
	while (hmap_next(&rt->pages, &it, &e)) {
		struct npage *p = e->value;
		if (p->repeat_at > 0 && p->repeat_at <= now && !p->acked) {
			due = xrealloc(due, (n_due + 1) * sizeof *due);
			due[n_due++] = p;
		}
	}
	for (size_t i = 0; i < n_due; i++) {
		struct npage *p = due[i];
		uint32_t events;
		double repeat;
		rule_of(n->nc, &p->f, &events, &repeat);
		p->repeats++;
		char ev[32];
		snprintf(ev, sizeof ev, "repeat-%d", p->repeats);
		page_people(n, p, ev, NEV_REPEAT, 0);
		p->repeat_at = repeat > 0 && (events & NEV_REPEAT) ? now + repeat : 0;
		page_store(n, p);
	}
	free(due);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify *n = w->data;
	double now = notify__now(n);
	repeat_pass(n, now);
	if (n->d.journal && journal_durable(n->d.journal) && ++n->rt->ticks % PRUNE_EVERY == 1)
		store_batch_notify_prune(journal_batch(n->d.journal), now - DEFAULT_KEEP * 86400.0,
		                         PRUNE_LIMIT);
}

/* ---- startup ---- */

static void on_item_row(void *ud, const struct store_notify_item_row *r)
{
	struct notify *n = ud;
	struct notify_rt *rt = n->rt;
	struct nitem *it = xcalloc(1, sizeof *it);
	it->alert_id = xstrdup(r->alert_id);
	it->seq = r->seq;
	it->event = xstrdup(r->event);
	it->contact = xstrdup(r->contact);
	it->channel = xstrdup(r->channel);
	it->key = item_key(r->alert_id, r->seq, r->event, r->contact, r->channel);
	it->attempts = (unsigned)(r->attempts > 0 ? r->attempts : 0);
	it->created = r->created;
	it->due = r->due > 0 ? r->due : r->created;
	if (!r->payload || nfields_from_json(&it->f, r->payload) != 0) {
		nfields_free(&it->f);
		it->f.customer = xstrdup("?");
		it->f.summary = xstrdup("(the alert event is gone)");
	}
	const char *name = nconf_customer_name(n->nc, it->f.customer);
	if (name && !it->f.customer_name)
		it->f.customer_name = xstrdup(name);
	if (hmap_get(&rt->keys, it->key, strlen(it->key))) {
		notify__item_free(it);
		return;
	}
	hmap_put(&rt->keys, it->key, strlen(it->key), it);
	if (strcmp(r->status, "sending") == 0) {
		/* handed to its channel when mamorid stopped: maybe delivered */
		it->possible_dup = 1;
		notify__attempt_row(
		    n, it, it->attempts, "unknown",
		    "mamorid stopped during this attempt: it may have been delivered;"
		    " sent again marked as a possible duplicate",
		    NULL);
		notify__item_row(n, it, "pending", "possible duplicate", notify__now(n));
	}
	notify__ready(n, it);
}

static void on_page_row(void *ud, const struct store_notify_page_row *r)
{
	struct notify *n = ud;
	struct npage *p = page_new(n, r->alert_id);
	p->center = r->center ? xstrdup(r->center) : NULL;
	p->tier = r->tier ? xstrdup(r->tier) : NULL;
	p->severity = r->severity;
	p->repeat_at = r->repeat_at;
	p->acked = r->repeat_at <= 0;
	p->repeats = r->repeats;
	p->seq = r->seq;
	if (!r->payload || nfields_from_json(&p->f, r->payload) != 0) {
		nfields_free(&p->f);
		p->f.customer = xstrdup("?");
	}
	const char *name = nconf_customer_name(n->nc, p->f.customer);
	if (name && !p->f.customer_name)
		p->f.customer_name = xstrdup(name);
	cJSON *arr = r->paged ? cJSON_Parse(r->paged) : NULL;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x))
			add_paged(p, x->valuestring);
	}
	cJSON_Delete(arr);
}

int notify__init(struct notify *n)
{
	struct notify_rt *rt = xcalloc(1, sizeof *rt);
	n->rt = rt;
	hmap_init(&rt->lanes);
	hmap_init(&rt->keys);
	hmap_init(&rt->pages);
	hmap_init(&rt->live);
	rt->tmpl = ntemplates_load(n->d.data_dir);
	ev_timer_init(&rt->tick, on_tick, TICK, TICK);
	rt->tick.data = n;
	notify__deliver_init(n);
	if (n->d.journal && journal_durable(n->d.journal)) {
		journal_on_cut(n->d.journal, notify__on_cut, n);
		journal_on_done(n->d.journal, notify__on_done, n);
		rt->hooked = 1;
	}
	if (n->d.store) {
		size_t before = rt->keys.count;
		if (store_load_notify_pages(n->d.store, on_page_row, n) != 0 ||
		    store_load_notify_items(n->d.store, on_item_row, n) != 0)
			log_err("notify", "cannot read the notifications of the last run");
		if (rt->keys.count > before || rt->pages.count)
			log_info("notify", "restored %zu unsent notifications, %zu alerts paged",
			         rt->keys.count - before, (size_t)rt->pages.count);
	}
	notify__mail_init(n);
	return 0;
}

void notify__start(struct notify *n)
{
	struct notify_rt *rt = n->rt;
	if (n->d.events && !n->sub)
		n->sub = events_subscribe(n->d.events, EVENT_MASK(EVENT_ALERT), on_alert, n);
	ev_timer_start(n->d.loop, &rt->tick);
	ev_unref(n->d.loop);
	/* restored items: their lanes start now */
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&rt->lanes, &it, &e))
		notify__lane_pump(e->value);
	notify__mail_start(n);
}

void notify__stop(struct notify *n)
{
	struct notify_rt *rt = n->rt;
	if (n->sub) {
		events_unsubscribe(n->d.events, n->sub);
		n->sub = NULL;
	}
	if (ev_is_active(&rt->tick)) {
		ev_ref(n->d.loop);
		ev_timer_stop(n->d.loop, &rt->tick);
	}
	notify__cancel_all(n);
}

static void free_list(struct nitem *it)
{
	while (it) {
		struct nitem *next = it->next;
		notify__item_free(it);
		it = next;
	}
}

void notify__fini(struct notify *n)
{
	struct notify_rt *rt = n->rt;
	if (!rt)
		return;
	notify__mail_fini(n);
	notify__deliver_fini(n); /* lanes and what they hold */
	free_list(rt->pend_head);
	free_list(rt->wait_head);
	hmap_free(&rt->keys);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&rt->pages, &it, &e))
		page_free(e->value);
	hmap_free(&rt->pages);
	hmap_free(&rt->lanes);
	hmap_free(&rt->live);
	ntemplates_free(rt->tmpl);
	free(rt);
	n->rt = NULL;
}

void notify__conf_changed(struct notify *n, const struct notify_conf *old)
{
	/* lanes of contacts or channels that went away fail their items at
	 * their next pump; pump them all now */
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&n->rt->lanes, &it, &e))
		notify__lane_pump(e->value);
	notify__mail_start(n);
}

/* ---- the service layer's other hooks ---- */

struct hist_call {
	app_notifications_fn fn;
	void *ud;
};

static char *d0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void on_hist_read(void *ud, const struct store_read *rd)
{
	struct hist_call *c = ud;
	if (store_read_status(rd) != 0) {
		c->fn(c->ud, APP_E_UNAVAILABLE, store_read_error(rd), NULL);
		free(c);
		return;
	}
	struct app_notifications *l = xcalloc(1, sizeof *l);
	l->center = d0(store_read_notify_center(rd));
	l->customer = d0(store_read_notify_customer(rd));
	l->truncated = store_read_more(rd);
	size_t ni = store_read_notify_item_count(rd), na = store_read_notify_attempt_count(rd);
	l->rows = xcalloc(ni + 1, sizeof *l->rows);
	for (size_t i = 0; i < ni; i++) {
		const struct store_notify_item_row *r = store_read_notify_item_at(rd, i);
		struct app_notification *d = &l->rows[l->n++];
		d->event = d0(r->event);
		d->contact = d0(r->contact);
		d->channel = d0(r->channel);
		d->status = d0(r->status);
		d->error = d0(r->error);
		d->seq = (uint32_t)r->seq;
		d->attempts = (unsigned)r->attempts;
		d->created = r->created;
		d->updated = r->updated;
	}
	l->attempts = xcalloc(na + 1, sizeof *l->attempts);
	for (size_t i = 0; i < na; i++) {
		const struct store_notify_attempt_row *r = store_read_notify_attempt_at(rd, i);
		struct app_notify_attempt *d = &l->attempts[l->n_attempts++];
		d->event = d0(r->event);
		d->contact = d0(r->contact);
		d->channel = d0(r->channel);
		d->attempt = (unsigned)r->attempt;
		d->time = r->time;
		d->result = d0(r->result);
		d->detail = d0(r->detail);
		d->message_id = d0(r->message_id);
	}
	c->fn(c->ud, APP_OK, NULL, l);
	free(c);
}

static int hook_history(void *ud, const char *alert_id, app_notifications_fn fn, void *fn_ud)
{
	struct notify *n = ud;
	if (!n->d.store)
		return APP_E_UNAVAILABLE;
	struct hist_call *c = xcalloc(1, sizeof *c);
	c->fn = fn;
	c->ud = fn_ud;
	int rc = store_read_notifications(n->d.store, alert_id, on_hist_read, c);
	if (rc != 0) {
		free(c);
		return APP_E_UNAVAILABLE;
	}
	return APP_OK;
}

void notify__more_hooks(struct notify *n, struct app_notify_hooks *h)
{
	h->history = hook_history;
	notify__reply_hooks(n, h);
}
