/*
 * deliver: the lanes - one per (contact, channel) - that turn committed
 * notification items into messages and hand them to the channel's
 * notifier plugin, one delivery at a time per lane.
 *
 *   storm control   a lane sends at once when it was quiet for the
 *                   bundling window (notify.bundle_window, default 60 s;
 *                   notify.hold delays even that first message to gather
 *                   a burst); items arriving within the window after a
 *                   message wait for its end and go out together as one
 *                   bundle ("12 notifications: 9 x CRITICAL utm ...").
 *                   An SMS lane also sends at most notify.sms_per_hour
 *                   messages in any hour: the overflow waits and goes
 *                   out as one summary when the hour allows.
 *   durability      before a delivery starts, its items are marked
 *                   'sending' (attempts + 1) in a batch, and the notifier
 *                   is called only once that batch is written: a crash
 *                   after the hand-over is then known at the next start
 *                   (the attempt is recorded 'unknown', the item sent
 *                   again marked as a possible duplicate, with the same
 *                   message id).
 *   results         sent: the item's row says so, its attempt too;
 *                   retry (SMTP 4xx, HTTP 5xx, a timeout of
 *                   notify.send_timeout): again after retry_min doubling
 *                   up to retry_max (or what the server asked), until
 *                   give_up_after from its creation; failed (the channel
 *                   says it never works) or given up: the item's row says
 *                   failed and the alert gets a `notify_failed` event
 *                   through the service layer.
 *
 * Must never: call a notifier on an instance that is not the channel's
 * current one, trust a delivery pointer a notifier hands back without
 * finding it among the live ones, complete a delivery twice, send an
 * item whose row is not written.
 */
#include "notify/notify_int.h"
#include "alert/alert.h"
#include "app/app.h"
#include "journal/journal.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUNDLE 500 /* items per message; a storm sends several */

static void lane_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void delivery_send(struct ndelivery *d);

/* ---- lanes ---- */

static struct nlane *lane_get(struct notify *n, const char *contact, const char *channel)
{
	struct notify_rt *rt = n->rt;
	char key[300];
	int kl = snprintf(key, sizeof key, "%s\n%s", contact, channel);
	if (kl < 0 || (size_t)kl >= sizeof key)
		kl = (int)sizeof key - 1;
	struct nlane *l = hmap_get(&rt->lanes, key, (size_t)kl);
	if (l)
		return l;
	l = xcalloc(1, sizeof *l + (size_t)kl + 1);
	l->n = n;
	l->contact = xstrdup(contact);
	l->channel = xstrdup(channel);
	char *k = (char *)(l + 1);
	memcpy(k, key, (size_t)kl + 1);
	ev_init(&l->timer, lane_timer);
	l->timer.data = l;
	hmap_put(&rt->lanes, k, (size_t)kl, l);
	return l;
}

static void lane_arm(struct nlane *l, double at)
{
	struct ev_loop *loop = l->n->d.loop;
	if (l->armed == at && ev_is_active(&l->timer))
		return;
	ev_timer_stop(loop, &l->timer);
	l->armed = at;
	double in = at - notify__now(l->n);
	ev_timer_set(&l->timer, in > 0.001 ? in : 0.001, 0.);
	ev_timer_start(loop, &l->timer);
}

static void lane_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct nlane *l = w->data;
	l->armed = 0;
	notify__lane_pump(l);
}

static void lane_push(struct nlane *l, struct nitem *it)
{
	it->next = NULL;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
	l->len++;
}

/* Put items back at the head, in their order. */
static void lane_unshift(struct nlane *l, struct nitem **items, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		items[i]->next = l->head;
		l->head = items[i];
		if (!l->tail)
			l->tail = items[i];
		l->len++;
	}
}

void notify__ready(struct notify *n, struct nitem *it)
{
	it->batch = 0;
	if (!it->ready_at)
		it->ready_at = notify__now(n);
	struct nlane *l = lane_get(n, it->contact, it->channel);
	lane_push(l, it);
	if (n->started)
		notify__lane_pump(l);
}

static int sms_lane(const struct notify_conf *nc, long ch)
{
	return ch >= 0 && (nc->channels[ch].flags & MAMORI_PLUGIN_SMS);
}

/* SMS sent in the last hour (the ring drops older ones). */
static size_t sms_recent(struct nlane *l, double now, double *oldest)
{
	while (l->sms_n) {
		size_t first = (l->sms_i + NOTIFY_SMS_RING - l->sms_n) % NOTIFY_SMS_RING;
		if (l->sms[first] > now - 3600) {
			*oldest = l->sms[first];
			break;
		}
		l->sms_n--;
	}
	return l->sms_n;
}

static void sms_note(struct nlane *l, double now)
{
	if (!l->sms)
		l->sms = xcalloc(NOTIFY_SMS_RING, sizeof *l->sms);
	l->sms[l->sms_i] = now;
	l->sms_i = (l->sms_i + 1) % NOTIFY_SMS_RING;
	if (l->sms_n < NOTIFY_SMS_RING)
		l->sms_n++;
}

void notify__lane_pump(struct nlane *l)
{
	struct notify *n = l->n;
	const struct notify_conf *nc = n->nc;
	if (!n->started || l->inflight || !l->head)
		return;
	double now = notify__now(n);
	long ci = nconf_contact(nc, l->contact), ch = nconf_channel(nc, l->channel);
	if (ci < 0 || ch < 0 || !nc->channels[ch].inst) {
		char why[200];
		snprintf(why, sizeof why, "%s '%s' is no longer configured",
		         ci < 0 ? "contact" : "channel", ci < 0 ? l->contact : l->channel);
		while (l->head) {
			struct nitem *it = l->head;
			l->head = it->next;
			l->len--;
			notify__give_up(n, it, "failed", why);
		}
		l->tail = NULL;
		return;
	}
	/* what may go now, and when the rest may */
	double next = 0, oldest_ready = 0;
	size_t eligible = 0;
	for (struct nitem *it = l->head; it; it = it->next) {
		if (it->due <= now) {
			eligible++;
			if (!oldest_ready || it->ready_at < oldest_ready)
				oldest_ready = it->ready_at;
		} else if (!next || it->due < next) {
			next = it->due;
		}
	}
	if (!eligible) {
		if (next)
			lane_arm(l, next);
		return;
	}
	if (nc->hold > 0 && oldest_ready + nc->hold > now) {
		lane_arm(l, oldest_ready + nc->hold);
		return;
	}
	if (l->last_sent > 0 && now < l->last_sent + nc->window) {
		lane_arm(l, l->last_sent + nc->window);
		return;
	}
	if (sms_lane(nc, ch)) {
		double oldest = 0;
		if (sms_recent(l, now, &oldest) >= nc->sms_per_hour) {
			n->st.capped++;
			lane_arm(l, oldest + 3600);
			return;
		}
	}
	/* one delivery with every eligible item (in order) */
	struct ndelivery *d = xcalloc(1, sizeof *d);
	d->n = n;
	d->lane = l;
	d->items = xcalloc(eligible < MAX_BUNDLE ? eligible : MAX_BUNDLE, sizeof *d->items);
	struct nitem **pp = &l->head, *prev = NULL;
	while (*pp && d->n_items < MAX_BUNDLE) {
		struct nitem *it = *pp;
		if (it->due > now) {
			prev = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		if (l->tail == it)
			l->tail = prev;
		l->len--;
		it->next = NULL;
		d->items[d->n_items++] = it;
	}
	l->inflight = d;
	d->self = d;
	hmap_put(&n->rt->live, (const char *)&d->self, sizeof d->self, d);
	d->attempt = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		struct nitem *it = d->items[i];
		it->attempts++;
		it->status = NI_SENDING;
		if (it->attempts > d->attempt)
			d->attempt = it->attempts;
		notify__item_row(n, it, "sending", NULL, now);
	}
	if (n->d.journal && journal_durable(n->d.journal)) {
		/* the notifier is called once the 'sending' marks are written */
		struct notify_rt *rt = n->rt;
		d->phase = 0;
		d->batch = 0;
		if (rt->mark_tail)
			rt->mark_tail->next = d;
		else
			rt->mark_head = d;
		rt->mark_tail = d;
		journal_urgent(n->d.journal);
		return;
	}
	delivery_send(d);
}

/* ---- commits ---- */

void notify__on_cut(void *ud, uint64_t number)
{
	struct notify *n = ud;
	struct notify_rt *rt = n->rt;
	notify__mail_on_cut(n, number);
	for (struct nitem *it = rt->pend_head; it; it = it->next)
		it->batch = number;
	if (rt->pend_head) {
		if (rt->wait_tail)
			rt->wait_tail->next = rt->pend_head;
		else
			rt->wait_head = rt->pend_head;
		rt->wait_tail = rt->pend_tail;
		rt->pend_head = rt->pend_tail = NULL;
	}
	for (struct ndelivery *d = rt->mark_head; d; d = d->next)
		if (!d->batch)
			d->batch = number;
}

void notify__on_done(void *ud, uint64_t done)
{
	struct notify *n = ud;
	struct notify_rt *rt = n->rt;
	while (rt->wait_head && rt->wait_head->batch <= done) {
		struct nitem *it = rt->wait_head;
		rt->wait_head = it->next;
		if (!rt->wait_head)
			rt->wait_tail = NULL;
		it->next = NULL;
		notify__ready(n, it);
	}
	while (rt->mark_head && rt->mark_head->batch && rt->mark_head->batch <= done) {
		struct ndelivery *d = rt->mark_head;
		rt->mark_head = d->next;
		if (!rt->mark_head)
			rt->mark_tail = NULL;
		d->next = NULL;
		delivery_send(d);
	}
	notify__mail_on_done(n, done);
}

/* ---- one delivery ---- */

void notify__delivery_free(struct ndelivery *d)
{
	struct notify *n = d->n;
	ev_timer_stop(n->d.loop, &d->timeout);
	hmap_del(&n->rt->live, (const char *)&d, sizeof d);
	if (d->lane && d->lane->inflight == d)
		d->lane->inflight = NULL;
	free(d->items);
	free(d->message_id);
	free(d);
}

static double backoff(const struct notify_conf *nc, unsigned attempts)
{
	double b = nc->retry_min * pow(2.0, attempts > 1 ? (double)(attempts - 1) : 0.0);
	return b > nc->retry_max ? nc->retry_max : b;
}

static const char *channel_kind(const struct nchannel *ch)
{
	return (ch->flags & MAMORI_PLUGIN_SMS)           ? "SMS"
	       : (ch->flags & MAMORI_PLUGIN_NEEDS_EMAIL) ? "e-mail"
	                                                 : "message";
}

void notify__give_up(struct notify *n, struct nitem *it, const char *result, const char *why)
{
	double now = notify__now(n);
	notify__attempt_row(n, it, it->attempts, result, why, NULL);
	notify__item_row(n, it, "failed", why, now);
	hmap_del(&n->rt->keys, it->key, strlen(it->key));
	n->st.failed++;
	long ch = nconf_channel(n->nc, it->channel);
	const char *kind = ch >= 0 ? channel_kind(&n->nc->channels[ch]) : "message";
	log_warn("notify", "%s %s: %s to %s over %s given up after %u attempts: %s", it->alert_id,
	         it->event, kind, it->contact, it->channel, it->attempts, why ? why : "-");
	if (n->d.app) {
		char note[600], idem[400];
		snprintf(note, sizeof note,
		         "%s (%s) to %s over %s for '%s' given up after %u attempts: %s", kind,
		         it->event, it->contact, it->channel, it->event, it->attempts,
		         why ? why : "-");
		snprintf(idem, sizeof idem, "failed/%s", it->key);
		for (char *p = idem; *p; p++)
			if (*p == '\n')
				*p = '/';
		struct alert_action act = { .type = ALERT_ACT_NOTIFY_FAILED,
			                    .actor = "mamori",
			                    .note = note };
		static const struct app_scope all = { .all = 1 };
		struct app_result r;
		int rc = app_alert_act(n->d.app, &all, it->alert_id, &act, "notify", idem, &r, NULL,
		                       NULL);
		if (rc != APP_OK && rc != APP_E_NOTFOUND)
			log_err("notify", "%s: cannot record notify_failed: %s", it->alert_id,
			        r.msg);
	}
	notify__item_free(it);
}

/* The result of a delivery, for each of its items. */
static void delivery_result(struct ndelivery *d, int status, const char *detail, double retry_after)
{
	struct notify *n = d->n;
	if (d->mail) {
		struct nmail *x = d->mail;
		notify__delivery_free(d);
		notify__mail_done(n, x, status, detail, retry_after);
		return;
	}
	struct nlane *l = d->lane;
	const struct notify_conf *nc = n->nc;
	double now = notify__now(n);
	char why[512];
	snprintf(why, sizeof why, "%s", detail && *detail ? detail : "-");
	struct nitem **back = xcalloc(d->n_items + 1, sizeof *back);
	size_t n_back = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		struct nitem *it = d->items[i];
		it->status = NI_PENDING;
		if (status == MAMORI_NOTIFY_SENT) {
			notify__attempt_row(n, it, it->attempts, "sent", why, d->message_id);
			notify__item_row(n, it, "sent",
			                 it->possible_dup ? "possible duplicate" : NULL, now);
			hmap_del(&n->rt->keys, it->key, strlen(it->key));
			n->st.sent++;
			notify__item_free(it);
		} else if (status == MAMORI_NOTIFY_FAILED) {
			notify__give_up(n, it, "failed", why);
		} else if (now - it->created >= nc->give_up) {
			notify__give_up(n, it, "gave_up", why);
		} else {
			notify__attempt_row(n, it, it->attempts, "retry", why, d->message_id);
			double b = backoff(nc, it->attempts);
			if (retry_after > b)
				b = retry_after < nc->retry_max * 4 ? retry_after
				                                    : nc->retry_max * 4;
			it->due = now + b;
			notify__item_row(n, it, "pending", why, now);
			n->st.retries++;
			back[n_back++] = it;
		}
	}
	if (status == MAMORI_NOTIFY_SENT) {
		l->last_sent = now;
		n->st.deliveries++;
		if (d->n_items > 1)
			n->st.bundles++;
		long ch = nconf_channel(nc, l->channel);
		if (sms_lane(nc, ch))
			sms_note(l, now);
	} else if (n_back) {
		log_info("notify", "%s over %s: %s; %zu notifications retried in %.0f s",
		         l->contact, l->channel, why, n_back, back[0]->due - now);
	}
	l->inflight = NULL;
	lane_unshift(l, back, n_back);
	free(back);
	notify__delivery_free(d);
	notify__lane_pump(l);
}

void notify__on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ndelivery *d = w->data;
	struct notify *n = d->n;
	char why[128];
	snprintf(why, sizeof why, "no answer from the channel within %.0f s", n->nc->send_timeout);
	if (d->def && d->def->notify_cancel)
		d->def->notify_cancel(d->inst, (struct mamori_delivery *)d, d->state);
	delivery_result(d, MAMORI_NOTIFY_RETRY, why, 0);
}

static void fill_item(const struct notify_conf *nc, const struct nitem *it,
                      struct mamori_notify_item *out, char *link, size_t linklen)
{
	const struct nfields *f = &it->f;
	static const char *const sev[4] = { "ok", "warning", "critical", "unknown" };
	nrender_link(nc, it->alert_id, link, linklen);
	*out = (struct mamori_notify_item){
		.struct_size = sizeof *out,
		.alert_id = it->alert_id,
		.event = strncmp(it->event, "repeat-", 7) == 0 ? "repeat" : it->event,
		.customer = f->customer,
		.customer_name = f->customer_name ? f->customer_name : f->customer,
		.asset = f->asset,
		.check = f->check,
		.service = f->service,
		.severity = sev[f->state & 3],
		.summary = f->summary,
		.center = f->center,
		.tier = f->tier,
		.link = link[0] ? link : NULL,
		.runbook = nrender_runbook(nc, f),
		.opened_at = f->opened_at,
		.ack_due = f->ack_due,
		.resolve_due = f->resolve_due,
	};
}

static void delivery_send(struct ndelivery *d)
{
	struct notify *n = d->n;
	struct nlane *l = d->lane;
	const struct notify_conf *nc = n->nc;
	long ci = nconf_contact(nc, l->contact), chi = nconf_channel(nc, l->channel);
	if (ci < 0 || chi < 0 || !nc->channels[chi].inst) {
		delivery_result(d, MAMORI_NOTIFY_FAILED,
		                "the contact or channel is no longer configured", 0);
		return;
	}
	const struct ncontact *ct = &nc->contacts[ci];
	const struct nchannel *ch = &nc->channels[chi];
	struct nmsg msg;
	if (nrender(n->rt->tmpl, nc, ct, ch, d->items, d->n_items, n->node, notify__now(n), &msg) !=
	    0) {
		delivery_result(d, MAMORI_NOTIFY_FAILED, "cannot render the message", 0);
		return;
	}
	d->message_id = msg.message_id ? xstrdup(msg.message_id) : NULL;
	struct mamori_notify_item *items = xcalloc(d->n_items, sizeof *items);
	char(*links)[512] = xcalloc(d->n_items, sizeof *links);
	int dup = 0;
	for (size_t i = 0; i < d->n_items; i++) {
		fill_item(nc, d->items[i], &items[i], links[i], sizeof links[i]);
		dup |= d->items[i]->possible_dup;
	}
	char id[600];
	snprintf(id, sizeof id, "%s", msg.message_id ? msg.message_id : "");
	const char *address = (ch->flags & MAMORI_PLUGIN_NEEDS_PHONE)   ? ct->phone
	                      : (ch->flags & MAMORI_PLUGIN_NEEDS_EMAIL) ? ct->email
	                                                                : NULL;
	struct mamori_notification nn = {
		.struct_size = sizeof nn,
		.channel = ch->name,
		.id = id,
		.contact = ct->name,
		.address = address,
		.language = ct->lang,
		.severity = msg.severity,
		.subject = msg.subject,
		.body = msg.body,
		.short_text = msg.short_text,
		.message_id = msg.message_id,
		.in_reply_to = d->n_items == 1 ? msg.in_reply_to : NULL,
		.references = msg.references,
		.reply_to = msg.reply_to,
		.items = items,
		.n_items = d->n_items,
		.attempt = d->attempt,
		.possible_duplicate = dup,
	};
	d->inst = ch->inst;
	d->def = ch->mod->def;
	d->phase = 1;
	d->started = notify__now(n);
	ev_timer_init(&d->timeout, notify__on_timeout, nc->send_timeout, 0.);
	d->timeout.data = d;
	ev_timer_start(n->d.loop, &d->timeout);
	/* a notifier may complete inside notify_send: the delivery is then
	 * gone when it returns (checked through `live`) */
	struct ndelivery *self = d;
	int rc = d->def->notify_send(d->inst, (struct mamori_delivery *)d, &nn, &d->state);
	if (rc < 0 && hmap_get(&n->rt->live, (const char *)&self, sizeof self) == self) {
		char why[160];
		snprintf(why, sizeof why, "the channel did not start: %s",
		         host_table()->strerror(rc));
		delivery_result(self, MAMORI_NOTIFY_RETRY, why, 0);
	}
	free(items);
	free(links);
	nmsg_free(&msg);
}

void notify_host_done(void *ctx, struct mamori_delivery *pd, const struct mamori_notify_result *r)
{
	struct notify *n = ctx;
	struct ndelivery *d = (struct ndelivery *)pd;
	if (!n || !n->rt || !r || hmap_get(&n->rt->live, (const char *)&d, sizeof d) != d ||
	    d->phase != 1) {
		log_err("notify", "a notifier completed a delivery that is not in flight: ignored");
		return;
	}
	int status = r->status;
	if (status != MAMORI_NOTIFY_SENT && status != MAMORI_NOTIFY_RETRY &&
	    status != MAMORI_NOTIFY_FAILED)
		status = MAMORI_NOTIFY_RETRY;
	double ra =
	    MAMORI_HAS_FIELD(r, struct mamori_notify_result, retry_after) ? r->retry_after : 0;
	if (!(ra >= 0 && ra < 86400))
		ra = 0;
	delivery_result(d, status, r->detail, ra);
}

/* ---- lifecycle ---- */

void notify__deliver_init(struct notify *n)
{
}

/* Stop a delivery (reload, stop): its items back to their lane, due
 * now; the attempt recorded as cancelled. */
static void cancel(struct ndelivery *d, int forget_items)
{
	struct notify *n = d->n;
	struct nlane *l = d->lane;
	double now = notify__now(n);
	if (d->phase == 1 && d->def && d->def->notify_cancel)
		d->def->notify_cancel(d->inst, (struct mamori_delivery *)d, d->state);
	for (size_t i = 0; i < d->n_items; i++) {
		struct nitem *it = d->items[i];
		it->status = NI_PENDING;
		if (d->phase == 1)
			notify__attempt_row(n, it, it->attempts, "cancelled",
			                    "interrupted (reload or stop); sent again",
			                    d->message_id);
		else
			it->attempts--; /* never handed over */
		it->due = now;
		notify__item_row(n, it, "pending", NULL, now);
	}
	if (forget_items) {
		for (size_t i = 0; i < d->n_items; i++) {
			hmap_del(&n->rt->keys, d->items[i]->key, strlen(d->items[i]->key));
			notify__item_free(d->items[i]);
		}
	} else {
		lane_unshift(l, d->items, d->n_items);
	}
	d->n_items = 0;
	l->inflight = NULL;
	notify__delivery_free(d);
}

void notify__cancel_all(struct notify *n)
{
	struct notify_rt *rt = n->rt;
	if (!rt)
		return;
	notify__mail_cancel_all(n);
	rt->mark_head = rt->mark_tail = NULL;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&rt->lanes, &it, &e)) {
		struct nlane *l = e->value;
		if (l->inflight)
			cancel(l->inflight, 0);
		ev_timer_stop(n->d.loop, &l->timer);
		l->armed = 0;
	}
}

void notify__deliver_fini(struct notify *n)
{
	struct notify_rt *rt = n->rt;
	rt->mark_head = rt->mark_tail = NULL;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&rt->lanes, &it, &e)) {
		struct nlane *l = e->value;
		if (l->inflight)
			cancel(l->inflight, 1);
		ev_timer_stop(n->d.loop, &l->timer);
		struct nitem *x = l->head;
		while (x) {
			struct nitem *next = x->next;
			notify__item_free(x);
			x = next;
		}
		free(l->contact);
		free(l->channel);
		free(l->sms);
		free(l);
	}
}

void notify_get_stats(const struct notify *n, struct notify_stats *out)
{
	*out = n->st;
	if (!n->rt)
		return;
	out->pending = n->rt->keys.count;
	out->mails_pending = notify__mail_pending(n);
	out->in_flight = 0;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&n->rt->lanes, &it, &e))
		out->in_flight += ((const struct nlane *)e->value)->inflight ? 1 : 0;
}
