/*
 * overview: the NOC's one-screen summary (see app.h, app_overview) -
 * every customer in scope with the worst state per service, its PCs by
 * Defender verdict and its open alerts with the nearest deadline.
 *
 * One pass over the model and one over the alert table per call: at
 * 5,000 customers and 100,000 checks that is a few milliseconds (see
 * doc/benchmarks.md); the HTTP layer hashes the answer for ETag.
 * Must never: hand out registry pointers, count what the scope hides.
 */
#include "app/app_int.h"
#include "alert/alert.h"
#include "registry/registry.h"
#include "state/state.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* A PC's verdict from several Defender checks: the most alarming. */
static int worse_pc(int a, int b)
{
	static const int rank[APP_PC__COUNT] = {
		[APP_PC_OK] = 0,     [APP_PC_PENDING] = 1, [APP_PC_UNKNOWN] = 2,
		[APP_PC_SILENT] = 3, [APP_PC_WARNING] = 4, [APP_PC_CRITICAL] = 5,
	};
	return rank[b] > rank[a] ? b : a;
}

static int cmp_row(const void *x, const void *y)
{
	const struct app_overview_row *a = x, *b = y;
	return strcmp(a->id, b->id);
}

struct ov_walk {
	struct app_overview *o;
	struct hmap *ix;
	const struct app_scope *sc;
};

static void count_alert(void *arg, const struct alert *al)
{
	struct ov_walk *w = arg;
	if (al->status == ALERT_RESOLVED || !al->customer)
		return;
	struct app_overview_row *row = hmap_get(w->ix, al->customer, strlen(al->customer));
	if (!row)
		return;
	row->open_alerts++;
	if (al->status == ALERT_ACKED)
		row->acked_alerts++;
	int running = !al->sla.paused && !al->sla.stopped;
	double due = 0;
	if (running && !al->sla.acked && al->sla.ack_due > 0)
		due = al->sla.ack_due;
	else if (running && al->sla.resolve_due > 0)
		due = al->sla.resolve_due;
	if (due > 0 && (row->next_due == 0 || due < row->next_due))
		row->next_due = due;
}

int app_overview(struct app *a, const struct app_scope *sc, struct app_overview **out)
{
	const struct model *m = &a->d.reg->m;
	struct app_overview *o = xcalloc(1, sizeof *o);
	o->rows = xcalloc(m->n_custs + 1, sizeof *o->rows);
	struct hmap ix;
	hmap_init(&ix);
	hmap_reserve(&ix, m->n_custs);
	for (size_t i = 0; i < m->n_custs; i++) {
		const struct customer *cu = m->custs[i];
		if (!app__customer_in_scope(sc, cu->id))
			continue;
		struct app_overview_row *r = &o->rows[o->n++];
		r->id = xstrdup(cu->id);
		r->name = app__dup0(cu->name ? cu->name : cu->id);
		r->region = app__dup0(cu->region);
		for (int s = 0; s < APP_N_SERVICES; s++)
			r->worst[s] = -1;
		size_t it = 0;
		const struct hmap_entry *e;
		while (hmap_next(&cu->assets, &it, &e)) {
			const struct asset *as = e->value;
			int pc = -2; /* the asset's Defender verdict, if it has one */
			for (const struct check *c = as->checks; c; c = c->anext) {
				int svc = c->p.service;
				if (svc < 0 || svc >= APP_N_SERVICES)
					svc = SERVICE_OTHER;
				r->n_checks++;
				if (c->st.last_change > r->last_change)
					r->last_change = c->st.last_change;
				int st = c->st.has_result ? c->st.state & 3 : -1;
				if (st >= 0)
					r->worst[svc] = app__worse(r->worst[svc], st);
				else
					r->pending[svc]++;
				if (svc == SERVICE_DEFENDER) {
					int v = !c->st.has_result ? APP_PC_PENDING
					        : c->st.stale     ? APP_PC_SILENT
					                          : st;
					pc = pc == -2 ? v : worse_pc(pc, v);
				}
			}
			if (pc != -2) {
				r->pcs++;
				r->pcs_by[pc]++;
			}
		}
		hmap_put(&ix, r->id, strlen(r->id), r);
	}
	struct ov_walk w = { o, &ix, sc };
	alert_table_each(a->d.alerts, count_alert, &w);
	hmap_free(&ix);
	qsort(o->rows, o->n, sizeof *o->rows, cmp_row);
	*out = o;
	return APP_OK;
}

void app_overview_free(struct app_overview *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		free(o->rows[i].id);
		free(o->rows[i].name);
		free(o->rows[i].region);
	}
	free(o->rows);
	free(o);
}
