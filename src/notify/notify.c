/*
 * notify: the module's object - lifecycle (new, start, reload, stop,
 * free), the configuration in force, and the on-call query.  The alert
 * events and paging are page.c, the delivery queue deliver.c (see
 * notify.h for the whole road).
 *
 * Must never: block, free a channel instance a delivery still runs on
 * (deliveries are cancelled first).
 */
#include "notify/notify.h"
#include "notify/notify_int.h"
#include "app/app.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

double notify__now(const struct notify *n)
{
	return n->d.clock ? n->d.clock(n->d.clock_ud) : ev_now(n->d.loop);
}

/* Without secret_file the key is the store's (made once): replies to
 * messages of an earlier run verify, a message sent again keeps its id. */
static void use_key(struct notify *n, struct notify_conf *nc)
{
	if (!n->have_key || nc->secret_from_file || !nc->secret || nc->secret_len < 32)
		return;
	memcpy(nc->secret, n->key, 32);
	nc->secret_len = 32;
}

static void load_key(struct notify *n)
{
	size_t len = 0;
	if (n->d.store && store_load_notify_key(n->d.store, n->key, sizeof n->key, &len) == 0 &&
	    len == 32) {
		n->have_key = 1;
		return;
	}
	if (RAND_bytes(n->key, sizeof n->key) != 1)
		return; /* the conf's own random key stays */
	n->have_key = 1;
	if (n->d.store && n->d.journal && journal_durable(n->d.journal))
		store_batch_notify_key(journal_batch(n->d.journal), n->key, sizeof n->key);
}

struct notify *notify_new(const struct notify_deps *d, struct notify_conf *nc)
{
	struct notify *n = xcalloc(1, sizeof *n);
	n->d = *d;
	n->node = xstrdup(d->node ? d->node : "");
	n->data_dir = xstrdup(d->data_dir ? d->data_dir : "");
	n->d.node = n->node;
	n->d.data_dir = n->data_dir;
	n->nc = nc ? nc : notify_conf_empty();
	load_key(n);
	use_key(n, n->nc);
	if (notify__init(n) != 0) {
		notify_free(n);
		return NULL;
	}
	return n;
}

int notify_start(struct notify *n)
{
	if (n->started)
		return 0;
	n->started = 1;
	notify__start(n);
	return 0;
}

void notify_stop(struct notify *n)
{
	if (!n || !n->started)
		return;
	n->started = 0;
	notify__stop(n);
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	notify_stop(n);
	notify__fini(n);
	notify_conf_free(n->nc);
	free(n->node);
	free(n->data_dir);
	free(n);
}

void notify_conf_install(struct notify *n, struct notify_conf *nc)
{
	struct notify_conf *old = n->nc;
	use_key(n, nc);
	/* Deliveries run on the old instances: cancel them (they are sent
	 * again on the new ones), then move the unchanged instances over. */
	notify__cancel_all(n);
	for (size_t i = 0; i < nc->n_channels; i++) {
		struct nchannel *ch = &nc->channels[i];
		if (ch->reuse < 0 || (size_t)ch->reuse >= old->n_channels)
			continue;
		struct nchannel *o = &old->channels[ch->reuse];
		ch->inst = o->inst;
		o->inst = NULL;
		ch->reuse = -1;
	}
	n->nc = nc;
	notify__conf_changed(n, old);
	notify_conf_free(old);
}

const struct notify_conf *notify_conf_current(const struct notify *n)
{
	return n->nc;
}

/* ---- who is on call ---- */

static char *source_name(const struct nsched *s, int src)
{
	if (src == ONC_OVERRIDE)
		return xstrdup("override");
	if (src == ONC_FALLBACK)
		return xstrdup("fallback");
	return xstrdup(s->layers[src].name);
}

int notify_oncall(struct notify *n, double at, const char *center, struct app_oncall **out)
{
	const struct notify_conf *nc = n->nc;
	struct app_oncall *o = xcalloc(1, sizeof *o);
	o->at = at;
	o->rows = xcalloc(nc->n_scheds + 1, sizeof *o->rows);
	for (size_t i = 0; i < nc->n_scheds; i++) {
		const struct nsched *s = &nc->scheds[i];
		if (center && strcmp(center, s->center) != 0)
			continue;
		struct app_oncall_row *r = &o->rows[o->n++];
		r->center = xstrdup(s->center);
		r->tier = s->tier ? xstrdup(s->tier) : NULL;
		struct oncall_who who[16];
		size_t k = oncall_resolve(s, (time_t)at, who, 16);
		r->on = xcalloc(k + 1, sizeof *r->on);
		for (size_t j = 0; j < k; j++) {
			r->on[r->n_on].contact = xstrdup(nc->contacts[who[j].contact].name);
			r->on[r->n_on++].source = source_name(s, who[j].source);
		}
		/* the next change that changes the answer */
		time_t t = (time_t)at;
		for (int step = 0; step < 64; step++) {
			time_t nx = oncall_next_change(s, t);
			if (nx == (time_t)-1) {
				t = 0;
				break;
			}
			struct oncall_who w2[16];
			size_t k2 = oncall_resolve(s, nx, w2, 16);
			int same = k2 == k;
			for (size_t j = 0; same && j < k; j++)
				same = w2[j].contact == who[j].contact &&
				       w2[j].source == who[j].source;
			t = nx;
			if (!same)
				break;
		}
		r->until = (double)t;
	}
	*out = o;
	return APP_OK;
}

/* ---- the app's hooks ---- */

static int hook_oncall(void *ud, double at, const char *center, struct app_oncall **out)
{
	return notify_oncall(ud, at, center, out);
}

static void hook_stats(void *ud, struct app_notify_stats *out)
{
	struct notify_stats st;
	notify_get_stats(ud, &st);
	*out = (struct app_notify_stats){ .items = st.items,
		                          .sent = st.sent,
		                          .failed = st.failed,
		                          .retries = st.retries,
		                          .messages = st.deliveries,
		                          .bundles = st.bundles,
		                          .suppressed_quiet = st.suppressed_quiet,
		                          .capped = st.capped,
		                          .replies = st.replies,
		                          .acks = st.acks,
		                          .replies_refused = st.replies_refused,
		                          .mails = st.mails,
		                          .mails_sent = st.mails_sent,
		                          .mails_failed = st.mails_failed,
		                          .pending = st.pending,
		                          .in_flight = st.in_flight,
		                          .mails_pending = st.mails_pending };
}

void notify_app_hooks(struct notify *n, struct app_notify_hooks *h)
{
	memset(h, 0, sizeof *h);
	h->oncall = hook_oncall;
	h->stats = hook_stats;
	notify__more_hooks(n, h);
}
