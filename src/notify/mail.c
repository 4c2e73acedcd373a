/*
 * mail: documents the service mails by itself - a monthly report with
 * its PDF - over the e-mail channel, through the same durable outbox as
 * the notifications.
 *
 *   notify_mail()   one row per recipient (notify_mail: the whole
 *                   message, the file included) in the pending store
 *                   batch, beside whatever rows the caller put there (the
 *                   report's own record): a crash keeps both or neither.
 *                   In memory: the key, the address and the schedule,
 *                   never the content.
 *   once written    queued; at most MAIL_INFLIGHT at once, oldest first:
 *                   the row is marked 'sending' (attempts + 1) and, once
 *                   that mark is written, its content is read back on the
 *                   store's reader thread and handed to the channel's
 *                   notifier (notify.mail_channel, or the first e-mail
 *                   channel).
 *   results         sent: the row says so and drops its HTML and file;
 *                   retry: again after the notifications' backoff, for at
 *                   least MAIL_GIVE_UP (a report is worth waiting for),
 *                   and no other mail starts for retry_min (an outage is
 *                   probed, not hammered);
 *                   failed or given up: the row says failed, logged as an
 *                   error.  A row found 'sending' at startup may have gone
 *                   out: it is sent again marked as a possible duplicate,
 *                   with the same Message-ID.
 *
 * Must never: hold the documents in memory (5,000 reports with their
 * PDFs on the first morning of a month while the SMTP server is down
 * stay in the store), hand a mail over before its 'sending' mark is
 * written, hand the same mail to two deliveries, trust a store read that
 * comes back after the mail was requeued or the module freed.
 */
#include "notify/notify_int.h"
#include "journal/journal.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAIL_INFLIGHT 2                   /* mails with the channel at once */
#define MAIL_GIVE_UP  86400.0             /* at least a day of retries */
#define MAIL_MAX_FILE (20u * 1024 * 1024) /* an attachment larger is refused */

enum { NM_UNWRITTEN, NM_QUEUED, NM_MARKING, NM_LOADING, NM_SENDING };

struct nmail {
	struct nmail *next; /* in the list of its state (unwritten, queued, marking) */
	char *id;           /* "key\naddress": its key in `all` */
	char *key, *address, *channel, *customer, *message_id;
	unsigned attempts;
	double created, due;
	uint64_t batch; /* the batch holding its row or its mark; 0: not cut yet */
	int state, possible_dup;
	struct nticket *ticket;  /* NM_LOADING: the read in flight */
	struct ndelivery *deliv; /* NM_SENDING */
};

/* A read of a mail's content in flight: it may come back after the mail
 * was requeued (ticket replaced) or the module freed (dead). */
struct nticket {
	struct notify *n;
	struct nticket *prev, *next;
	char *id;
	int dead;
};

struct nmails {
	struct hmap all;                   /* id -> struct nmail */
	struct nmail *unw_head, *unw_tail; /* rows not written yet */
	struct nmail *q_head, *q_tail;     /* written, waiting to go */
	struct nmail *mk_head, *mk_tail;   /* 'sending' marks not written yet */
	struct nticket *tickets;           /* reads in flight */
	size_t busy;                       /* marking, loading or sending */
	double hold_until;                 /* after a "try again": nothing new starts before */
	ev_timer timer;
	double armed;
};

static void pump(struct notify *n);

/* ---- lists ---- */

static void push(struct nmail **head, struct nmail **tail, struct nmail *x)
{
	x->next = NULL;
	if (*tail)
		(*tail)->next = x;
	else
		*head = x;
	*tail = x;
}

static void mail_free(struct nmail *x)
{
	free(x->id);
	free(x->key);
	free(x->address);
	free(x->channel);
	free(x->customer);
	free(x->message_id);
	free(x);
}

static void forget(struct notify *n, struct nmail *x)
{
	struct nmails *m = n->rt->mails;
	hmap_del(&m->all, x->id, strlen(x->id));
	mail_free(x);
}

static void row(struct notify *n, const struct nmail *x, const char *status, const char *error)
{
	if (!n->d.journal || !journal_durable(n->d.journal))
		return;
	double now = notify__now(n);
	struct store_notify_mail_row r = { .key = x->key,
		                           .address = x->address,
		                           .status = status,
		                           .attempts = (int)x->attempts,
		                           .due = x->due,
		                           .updated = now,
		                           .error = error,
		                           .message_id = x->message_id };
	store_batch_notify_mail_update(journal_batch(n->d.journal), &r);
}

static void requeue(struct notify *n, struct nmail *x, double due)
{
	struct nmails *m = n->rt->mails;
	x->state = NM_QUEUED;
	x->ticket = NULL;
	x->deliv = NULL;
	x->due = due;
	push(&m->q_head, &m->q_tail, x);
}

/* ---- queueing ---- */

static int addr_ok(const char *a)
{
	const char *at = a ? strchr(a, '@') : NULL;
	if (!at || at == a || !at[1] || strchr(at + 1, '@') || strlen(a) > 254)
		return 0;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("<>()[]\\,;:\"", *p) ||
		    (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

static int file_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 100 || s[0] == '.')
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return 0;
	return 1;
}

static int type_ok(const char *s)
{
	const char *sl = s ? strchr(s, '/') : NULL;
	if (!sl || sl == s || !sl[1] || strlen(s) > 100)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/.+-", *p))
			return 0;
	return 1;
}

static int line_ok(const char *s)
{
	return s && *s && !strpbrk(s, "\r\n");
}

int notify_mail(struct notify *n, const struct notify_mail *m)
{
	const struct notify_conf *nc = n->nc;
	const char *key = m ? m->key : NULL;
	if (!m || !key || !*key || strlen(key) > 200 || strchr(key, '\n') || !line_ok(m->subject) ||
	    !m->text) {
		log_err("notify",
		        "mail %s: refused (a key, a one-line subject and a text are needed)",
		        key ? key : "?");
		return -1;
	}
	if (!n->d.journal || !journal_durable(n->d.journal) || !n->d.store) {
		log_err("notify", "mail %s: refused (no store to keep it in)", key);
		return -1;
	}
	if (nc->mail_channel < 0) {
		log_warn("notify", "mail %s: not sent (no e-mail channel in notify.channels)", key);
		return -1;
	}
	if (m->attachment && (!file_name_ok(m->attachment_name) || !type_ok(m->attachment_type) ||
	                      m->attachment_len > MAIL_MAX_FILE)) {
		log_err("notify",
		        "mail %s: refused (the attached file needs a plain name, a type"
		        " and at most %u MB)",
		        key, MAIL_MAX_FILE >> 20);
		return -1;
	}
	struct nmails *mm = n->rt->mails;
	const struct nchannel *ch = &nc->channels[nc->mail_channel];
	double now = notify__now(n);
	size_t queued = 0;
	for (size_t i = 0; i < m->n_to; i++) {
		const char *a = m->to[i];
		if (!addr_ok(a)) {
			log_warn("notify", "mail %s: '%s' is not an e-mail address: skipped", key,
			         a ? a : "");
			continue;
		}
		char *id = xasprintf("%s\n%s", key, a);
		if (hmap_get(&mm->all, id, strlen(id))) {
			free(id); /* already on its way */
			queued++;
			continue;
		}
		struct nmail *x = xcalloc(1, sizeof *x);
		x->id = id;
		x->key = xstrdup(key);
		x->address = xstrdup(a);
		x->channel = xstrdup(ch->name);
		x->customer = m->customer ? xstrdup(m->customer) : NULL;
		/* its own Message-ID per sending: a document mailed again is
		 * a new message (a reader's client must not take it for the
		 * one it lost); a retry of this one keeps it (from the row) */
		char sig[33], who[300];
		snprintf(who, sizeof who, "%s\n%.0f", a, now * 1000);
		ntoken_sig(nc, "mail", key, who, sig);
		x->message_id = xasprintf("<mail.%s@%s>", sig, nc->msgid_domain);
		x->created = x->due = now;
		x->state = NM_UNWRITTEN;
		struct store_notify_mail_row r = {
			.key = key,
			.address = a,
			.channel = ch->name,
			.customer = m->customer,
			.subject = m->subject,
			.body = m->text,
			.html = m->html,
			.att_name = m->attachment ? m->attachment_name : NULL,
			.att_type = m->attachment ? m->attachment_type : NULL,
			.att = m->attachment,
			.att_len = m->attachment ? m->attachment_len : 0,
			.status = "pending",
			.created = now,
			.due = now,
			.updated = now,
			.message_id = x->message_id,
		};
		store_batch_notify_mail(journal_batch(n->d.journal), &r);
		hmap_put(&mm->all, x->id, strlen(x->id), x);
		push(&mm->unw_head, &mm->unw_tail, x);
		n->st.mails++;
		queued++;
	}
	if (!queued)
		return -1;
	journal_urgent(n->d.journal);
	return 0;
}

/* ---- commits ---- */

void notify__mail_on_cut(struct notify *n, uint64_t number)
{
	struct nmails *m = n->rt->mails;
	for (struct nmail *x = m->unw_head; x; x = x->next)
		if (!x->batch)
			x->batch = number;
	for (struct nmail *x = m->mk_head; x; x = x->next)
		if (!x->batch)
			x->batch = number;
}

static void on_loaded(void *ud, const struct store_read *rd);

static void load(struct notify *n, struct nmail *x)
{
	struct nmails *m = n->rt->mails;
	struct nticket *t = xcalloc(1, sizeof *t);
	t->n = n;
	t->id = xstrdup(x->id);
	t->next = m->tickets;
	if (m->tickets)
		m->tickets->prev = t;
	m->tickets = t;
	x->state = NM_LOADING;
	x->ticket = t;
	int rc = store_read_notify_mail(n->d.store, x->key, x->address, on_loaded, t);
	if (rc != 0) {
		/* the callback never runs: the ticket goes now */
		m->tickets = t->next;
		if (t->next)
			t->next->prev = NULL;
		free(t->id);
		free(t);
		x->ticket = NULL;
		notify__mail_done(n, x, MAMORI_NOTIFY_RETRY, "the store cannot read the mail", 0);
	}
}

void notify__mail_on_done(struct notify *n, uint64_t done)
{
	struct nmails *m = n->rt->mails;
	while (m->unw_head && m->unw_head->batch && m->unw_head->batch <= done) {
		struct nmail *x = m->unw_head;
		m->unw_head = x->next;
		if (!m->unw_head)
			m->unw_tail = NULL;
		requeue(n, x, x->due);
	}
	while (m->mk_head && m->mk_head->batch && m->mk_head->batch <= done) {
		struct nmail *x = m->mk_head;
		m->mk_head = x->next;
		if (!m->mk_head)
			m->mk_tail = NULL;
		x->next = NULL;
		load(n, x);
	}
	if (m->q_head)
		pump(n);
}

/* ---- sending ---- */

static void start(struct notify *n, struct nmail *x)
{
	struct nmails *m = n->rt->mails;
	m->busy++;
	x->attempts++;
	x->state = NM_MARKING;
	x->batch = 0;
	row(n, x, "sending", NULL);
	push(&m->mk_head, &m->mk_tail, x);
	journal_urgent(n->d.journal);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notify *n = w->data;
	n->rt->mails->armed = 0;
	pump(n);
}

static void pump(struct notify *n)
{
	struct nmails *m = n->rt->mails;
	if (!n->started)
		return;
	double now = notify__now(n), next = 0;
	if (m->hold_until > now) {
		if (m->q_head && m->armed != m->hold_until) {
			ev_timer_stop(n->d.loop, &m->timer);
			m->armed = m->hold_until;
			ev_timer_set(&m->timer, m->hold_until - now, 0.);
			ev_timer_start(n->d.loop, &m->timer);
		}
		return;
	}
	struct nmail **pp = &m->q_head, *prev = NULL;
	/* full: the next completion pumps again */
	while (*pp && m->busy < MAIL_INFLIGHT) {
		struct nmail *x = *pp;
		if (x->due > now) {
			if (!next || x->due < next)
				next = x->due;
			prev = x;
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		if (m->q_tail == x)
			m->q_tail = prev;
		x->next = NULL;
		start(n, x);
	}
	if (next && m->busy < MAIL_INFLIGHT && next != m->armed) {
		ev_timer_stop(n->d.loop, &m->timer);
		m->armed = next;
		double in = next - now;
		ev_timer_set(&m->timer, in > 0.001 ? in : 0.001, 0.);
		ev_timer_start(n->d.loop, &m->timer);
	}
}

static void send_it(struct notify *n, struct nmail *x, const struct store_notify_mail_row *r)
{
	const struct notify_conf *nc = n->nc;
	long chi = nc->mail_channel;
	if (chi < 0 || !nc->channels[chi].inst) {
		notify__mail_done(n, x, MAMORI_NOTIFY_RETRY, "no e-mail channel is configured", 0);
		return;
	}
	const struct nchannel *ch = &nc->channels[chi];
	struct ndelivery *d = xcalloc(1, sizeof *d);
	d->n = n;
	d->mail = x;
	d->self = d;
	hmap_put(&n->rt->live, (const char *)&d->self, sizeof d->self, d);
	d->attempt = x->attempts;
	d->message_id = xstrdup(x->message_id);
	d->inst = ch->inst;
	d->def = ch->mod->def;
	d->phase = 1;
	d->started = notify__now(n);
	x->state = NM_SENDING;
	x->deliv = d;
	x->ticket = NULL;
	ev_timer_init(&d->timeout, notify__on_timeout, nc->send_timeout, 0.);
	d->timeout.data = d;
	ev_timer_start(n->d.loop, &d->timeout);
	struct mamori_attachment att = {
		.struct_size = sizeof att,
		.name = r->att_name,
		.content_type = r->att_type,
		.data = r->att,
		.len = r->att_len,
	};
	int has_att = r->att && r->att_name && r->att_type;
	struct mamori_notification nn = {
		.struct_size = sizeof nn,
		.channel = ch->name,
		.id = x->message_id,
		.contact = NULL,
		.address = x->address,
		.language = nc->default_lang,
		.severity = NULL,
		.subject = r->subject,
		.body = r->body,
		.short_text = r->subject,
		.message_id = x->message_id,
		.attempt = x->attempts,
		.possible_duplicate = x->possible_dup,
		.html = r->html,
		.attachments = has_att ? &att : NULL,
		.n_attachments = has_att ? 1 : 0,
	};
	struct ndelivery *self = d;
	int rc = d->def->notify_send(d->inst, (struct mamori_delivery *)d, &nn, &d->state);
	if (rc < 0 && hmap_get(&n->rt->live, (const char *)&self, sizeof self) == self) {
		char why[160];
		snprintf(why, sizeof why, "the channel did not start: %s",
		         host_table()->strerror(rc));
		notify__delivery_free(self);
		notify__mail_done(n, x, MAMORI_NOTIFY_RETRY, why, 0);
	}
}

static void untrack(struct nmails *m, struct nticket *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		m->tickets = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void on_loaded(void *ud, const struct store_read *rd)
{
	struct nticket *t = ud;
	if (t->dead) {
		free(t->id);
		free(t);
		return;
	}
	struct notify *n = t->n;
	struct nmails *m = n->rt->mails;
	untrack(m, t);
	struct nmail *x = hmap_get(&m->all, t->id, strlen(t->id));
	free(t->id);
	if (!x || x->state != NM_LOADING || x->ticket != t) {
		free(t);
		return; /* requeued meanwhile: a later read sends it */
	}
	free(t);
	x->ticket = NULL;
	if (store_read_status(rd) != 0) {
		notify__mail_done(n, x, MAMORI_NOTIFY_RETRY, store_read_error(rd), 0);
		return;
	}
	const struct store_notify_mail_row *r = store_read_notify_mail_row(rd);
	if (!r || !r->subject || !r->body) {
		log_err("notify", "mail %s to %s: its row is gone: forgotten", x->key, x->address);
		m->busy--;
		forget(n, x);
		pump(n);
		return;
	}
	send_it(n, x, r);
}

static double backoff(const struct notify_conf *nc, unsigned attempts)
{
	double b = nc->retry_min * pow(2.0, attempts > 1 ? (double)(attempts - 1) : 0.0);
	return b > nc->retry_max ? nc->retry_max : b;
}

void notify__mail_done(struct notify *n, struct nmail *x, int status, const char *detail,
                       double retry_after)
{
	struct nmails *m = n->rt->mails;
	const struct notify_conf *nc = n->nc;
	double now = notify__now(n);
	char why[512];
	snprintf(why, sizeof why, "%s", detail && *detail ? detail : "-");
	m->busy--;
	x->deliv = NULL;
	double give_up = nc->give_up > MAIL_GIVE_UP ? nc->give_up : MAIL_GIVE_UP;
	/* a server that says "later" is probably saying it to every mail: the
	 * queue waits retry_min before starting another, so an SMTP outage
	 * with 5,000 reports waiting costs an attempt per retry_min, not a
	 * stream of them; one mailbox's trouble delays the rest that little */
	m->hold_until = status == MAMORI_NOTIFY_RETRY ? now + nc->retry_min : 0;
	if (status == MAMORI_NOTIFY_SENT) {
		row(n, x, "sent", x->possible_dup ? "possible duplicate" : NULL);
		log_info("notify", "mail %s to %s sent (attempt %u): %s", x->key, x->address,
		         x->attempts, why);
		n->st.mails_sent++;
		forget(n, x);
	} else if (status == MAMORI_NOTIFY_FAILED || now - x->created >= give_up) {
		row(n, x, "failed", why);
		log_err("notify", "mail %s to %s given up after %u attempts: %s", x->key,
		        x->address, x->attempts, why);
		n->st.mails_failed++;
		forget(n, x);
	} else {
		double b = backoff(nc, x->attempts);
		if (retry_after > b)
			b = retry_after < nc->retry_max * 4 ? retry_after : nc->retry_max * 4;
		x->due = now + b;
		row(n, x, "pending", why);
		log_info("notify", "mail %s to %s: %s; tried again in %.1f s", x->key, x->address,
		         why, b);
		n->st.retries++;
		requeue(n, x, x->due);
	}
	pump(n);
}

/* ---- startup, reload, stop ---- */

static void on_mail_row(void *ud, const struct store_notify_mail_row *r)
{
	struct notify *n = ud;
	struct nmails *m = n->rt->mails;
	char *id = xasprintf("%s\n%s", r->key, r->address);
	if (hmap_get(&m->all, id, strlen(id))) {
		free(id);
		return;
	}
	struct nmail *x = xcalloc(1, sizeof *x);
	x->id = id;
	x->key = xstrdup(r->key);
	x->address = xstrdup(r->address);
	x->channel = xstrdup(r->channel);
	x->customer = r->customer ? xstrdup(r->customer) : NULL;
	x->attempts = (unsigned)(r->attempts > 0 ? r->attempts : 0);
	x->created = r->created;
	x->due = r->due > 0 ? r->due : r->created;
	x->message_id = r->message_id ? xstrdup(r->message_id) : NULL;
	if (!x->message_id) {
		char sig[33];
		ntoken_sig(n->nc, "mail", x->key, x->address, sig);
		x->message_id = xasprintf("<mail.%s@%s>", sig, n->nc->msgid_domain);
	}
	hmap_put(&m->all, x->id, strlen(x->id), x);
	if (strcmp(r->status, "sending") == 0) {
		/* handed to the channel when mamorid stopped: maybe delivered */
		x->possible_dup = 1;
		row(n, x, "pending", "possible duplicate");
	}
	requeue(n, x, x->due);
}

void notify__mail_init(struct notify *n)
{
	struct nmails *m = xcalloc(1, sizeof *m);
	n->rt->mails = m;
	hmap_init(&m->all);
	ev_init(&m->timer, timer_cb);
	m->timer.data = n;
	if (n->d.store) {
		if (store_load_notify_mails(n->d.store, on_mail_row, n) != 0)
			log_err("notify", "cannot read the unsent mails of the last run");
		else if (m->all.count)
			log_info("notify", "restored %zu unsent mails", (size_t)m->all.count);
	}
}

void notify__mail_start(struct notify *n)
{
	pump(n);
}

/* Everything marking, loading or sending goes back to the queue (due
 * now): a reload moves the channel's instance, a stop ends the loop. */
void notify__mail_cancel_all(struct notify *n)
{
	struct nmails *m = n->rt ? n->rt->mails : NULL;
	if (!m)
		return;
	ev_timer_stop(n->d.loop, &m->timer);
	m->armed = 0;
	m->mk_head = m->mk_tail = NULL;
	double now = notify__now(n);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m->all, &it, &e)) {
		struct nmail *x = e->value;
		if (x->state == NM_SENDING && x->deliv) {
			struct ndelivery *d = x->deliv;
			if (d->def && d->def->notify_cancel)
				d->def->notify_cancel(d->inst, (struct mamori_delivery *)d,
				                      d->state);
			notify__delivery_free(d);
			row(n, x, "pending", "interrupted (reload or stop); sent again");
		} else if (x->state == NM_MARKING || x->state == NM_LOADING) {
			x->attempts--; /* never handed over */
			row(n, x, "pending", NULL);
		} else {
			continue;
		}
		requeue(n, x, now);
	}
	m->busy = 0;
}

void notify__mail_fini(struct notify *n)
{
	struct nmails *m = n->rt ? n->rt->mails : NULL;
	if (!m)
		return;
	notify__mail_cancel_all(n);
	for (struct nticket *t = m->tickets; t; t = t->next)
		t->dead = 1; /* freed by their callbacks */
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m->all, &it, &e))
		mail_free(e->value);
	hmap_free(&m->all);
	free(m);
	n->rt->mails = NULL;
}

size_t notify__mail_pending(const struct notify *n)
{
	return n->rt && n->rt->mails ? n->rt->mails->all.count : 0;
}
