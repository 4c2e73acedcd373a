/*
 * registry_downtime: scheduled downtimes.  The file's downtimes (ids
 * "config-N") are replaced by every reload; runtime ones (added through
 * the service layer, ids "D-<node>-<n>") survive reloads and restarts:
 * each add and delete is a row in the journal's pending batch, and
 * startup reads them back.  Also the calendars the model's checks point
 * at, which move with the downtimes from a loaded config into the model.
 *
 * Must never: block; keep an expired runtime downtime past a reload.
 */
#include "registry/registry.h"
#include "cal/cal.h"
#include "events/events.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int registry_in_downtime(const struct registry *r, const struct check *c, double now)
{
	const struct model *m = &r->m;
	for (size_t i = 0; i < m->n_downtimes; i++) {
		const struct cfg_downtime *d = &m->downtimes[i];
		if (strcmp(d->customer, c->asset->cust->id) != 0)
			continue;
		if (d->asset && strcmp(d->asset, c->asset->name) != 0)
			continue;
		if (d->check && strcmp(d->check, c->name) != 0)
			continue;
		struct downtime w = { .start = d->start, .end = d->end, .recurring = d->weekly };
		if (downtime_active(&w, now))
			return 1;
	}
	return 0;
}

void registry_free_globals(struct model *m)
{
	cfg_downtimes_free(m->downtimes, m->n_downtimes);
	cfg_calendars_free(m->calendars, m->n_calendars);
	m->downtimes = NULL;
	m->calendars = NULL;
	m->n_downtimes = m->n_calendars = 0;
}

static void persist(struct registry *r, const struct cfg_downtime *d)
{
	if (!r->journal || !journal_durable(r->journal))
		return;
	struct store_downtime_row row = { .id = d->id,
		                          .customer = d->customer,
		                          .asset = d->asset,
		                          .check = d->check,
		                          .start = d->start,
		                          .end = d->end,
		                          .author = d->author,
		                          .comment = d->comment,
		                          .created = d->created };
	store_batch_downtime(journal_batch(r->journal), &row);
}

static void unpersist(struct registry *r, const char *id)
{
	if (r->journal && journal_durable(r->journal))
		store_batch_downtime_delete(journal_batch(r->journal), id);
}

static void append(struct model *m, const struct cfg_downtime *d)
{
	m->downtimes = xrealloc(m->downtimes, (m->n_downtimes + 1) * sizeof *m->downtimes);
	m->downtimes[m->n_downtimes++] = *d;
}

void registry_take_globals(struct registry *r, struct model *next, struct mconf *c, double now)
{
	/* Runtime downtimes still to come or running stay; the file's are
	 * replaced by the new file's. */
	struct cfg_downtime *kept = NULL;
	size_t n_kept = 0;
	if (next != &r->m) {
		for (size_t i = 0; i < r->m.n_downtimes; i++) {
			struct cfg_downtime *d = &r->m.downtimes[i];
			if (d->runtime && d->end <= now)
				unpersist(r, d->id); /* over: its row goes too */
			if (!d->runtime || d->end <= now)
				continue;
			kept = xrealloc(kept, (n_kept + 1) * sizeof *kept);
			kept[n_kept++] = *d;
			memset(d, 0, sizeof *d);
		}
		registry_free_globals(&r->m);
	}
	next->downtimes = c->downtimes;
	next->n_downtimes = c->n_downtimes;
	c->downtimes = NULL;
	c->n_downtimes = 0;
	next->calendars = c->calendars;
	next->n_calendars = c->n_calendars;
	c->calendars = NULL;
	c->n_calendars = 0;
	for (size_t i = 0; i < n_kept; i++)
		append(next, &kept[i]);
	free(kept);
}

static int find_dt(const struct model *m, const char *id)
{
	for (size_t i = 0; i < m->n_downtimes; i++)
		if (m->downtimes[i].id && strcmp(m->downtimes[i].id, id) == 0)
			return (int)i;
	return -1;
}

static void emit(struct registry *r, const struct cfg_downtime *d, const char *what, double now)
{
	if (!r->events)
		return;
	char json[1024];
	snprintf(json, sizeof json,
	         "{\"schema\":\"mamori.downtime/1\",\"event\":\"%s\",\"id\":\"%s\"}", what, d->id);
	struct event e = { .type = EVENT_DOWNTIME,
		           .time = now,
		           .customer = d->customer,
		           .subject = d->id,
		           .json = json,
		           .detail = d };
	events_emit(r->events, &e);
}

int registry_downtime_add(struct registry *r, const char *customer, const char *asset,
                          const char *check, double start, double end, const char *author,
                          const char *comment, double now, char *id_out, size_t id_size,
                          const char **why)
{
	struct customer *cu = registry_customer(r, customer);
	*why = NULL;
	if (!cu) {
		*why = "unknown customer";
		return MAMORI_E_NOTFOUND;
	}
	if (asset && !hmap_get(&cu->assets, asset, strlen(asset))) {
		*why = "unknown asset";
		return MAMORI_E_NOTFOUND;
	}
	if (check && (!asset || !registry_check(r, customer, asset, check))) {
		*why = asset ? "unknown check" : "a check needs its asset";
		return MAMORI_E_NOTFOUND;
	}
	if (!(end > start)) {
		*why = "end must be after start";
		return MAMORI_E_INVAL;
	}
	if (end <= now) {
		*why = "the downtime is already over";
		return MAMORI_E_INVAL;
	}
	struct cfg_downtime d = { 0 };
	d.id = xasprintf("D-%s-%llu-%llu", *r->node ? r->node : "local",
	                 (unsigned long long)(now * 1000), (unsigned long long)++r->dt_counter);
	d.customer = xstrdup(customer);
	d.asset = asset ? xstrdup(asset) : NULL;
	d.check = check ? xstrdup(check) : NULL;
	d.start = start;
	d.end = end;
	d.runtime = 1;
	d.created = now;
	d.author = author ? xstrdup(author) : NULL;
	d.comment = comment ? xstrdup(comment) : NULL;
	append(&r->m, &d);
	persist(r, &d);
	snprintf(id_out, id_size, "%s", d.id);
	emit(r, &d, "added", now);
	log_notice("downtime", "%s added by %s: %s%s%s%s%s", d.id, author ? author : "?", customer,
	           asset ? "/" : "", asset ? asset : "", check ? "/" : "", check ? check : "");
	return 0;
}

int registry_downtime_delete(struct registry *r, const char *id, double now)
{
	int i = id ? find_dt(&r->m, id) : -1;
	if (i < 0)
		return MAMORI_E_NOTFOUND;
	struct cfg_downtime *d = &r->m.downtimes[i];
	if (!d->runtime)
		return MAMORI_E_DENIED;
	emit(r, d, "deleted", now);
	log_notice("downtime", "%s deleted", d->id);
	unpersist(r, d->id);
	struct cfg_downtime gone = *d;
	memmove(d, d + 1, (r->m.n_downtimes - (size_t)i - 1) * sizeof *d);
	r->m.n_downtimes--;
	free(gone.id);
	free(gone.customer);
	free(gone.asset);
	free(gone.check);
	free(gone.author);
	free(gone.comment);
	cal_free(gone.weekly);
	return 0;
}

struct restore_ctx {
	struct registry *r;
	double now;
	size_t kept, dropped;
};

static void on_downtime_row(void *ud, const struct store_downtime_row *row)
{
	struct restore_ctx *x = ud;
	struct registry *r = x->r;
	/* Over, or about something the configuration no longer has: the
	 * row goes (logged, so an operator can tell where it went). */
	const char *gone = NULL;
	if (!registry_customer(r, row->customer))
		gone = "its customer is no longer configured";
	else if (row->check && !registry_check(r, row->customer, row->asset, row->check))
		gone = "its check is no longer configured";
	else if (row->asset && !row->check &&
	         !hmap_get(&registry_customer(r, row->customer)->assets, row->asset,
	                   strlen(row->asset)))
		gone = "its asset is no longer configured";
	if (row->end <= x->now || gone) {
		if (gone)
			log_warn("downtime", "%s dropped at startup: %s", row->id, gone);
		unpersist(r, row->id);
		x->dropped++;
		return;
	}
	struct cfg_downtime d = { 0 };
	d.id = xstrdup(row->id);
	d.customer = xstrdup(row->customer);
	d.asset = row->asset ? xstrdup(row->asset) : NULL;
	d.check = row->check ? xstrdup(row->check) : NULL;
	d.start = row->start;
	d.end = row->end;
	d.runtime = 1;
	d.created = row->created;
	d.author = row->author ? xstrdup(row->author) : NULL;
	d.comment = row->comment ? xstrdup(row->comment) : NULL;
	append(&r->m, &d);
	x->kept++;
}

void registry_restore_downtimes(struct registry *r, double now)
{
	if (!r->store)
		return;
	struct restore_ctx x = { .r = r, .now = now };
	if (store_load_downtimes(r->store, on_downtime_row, &x) != 0) {
		log_err("downtime", "cannot read the runtime downtimes from the store");
		return;
	}
	if (x.kept || x.dropped)
		log_info("downtime",
		         "restored %zu runtime downtimes (%zu over or obsolete, removed)", x.kept,
		         x.dropped);
}
