/*
 * hostops: the engine's side of the plugin host (struct host_ops): run
 * completion, passive results, check lookup and info, agents' asset
 * registration, calendars.  The broker side (mqtt_*) is the bus's.
 *
 * Must never: trust a run pointer a plugin hands back (a late completion
 * is counted and ignored), keep the check_info scratch across calls.
 */
#include "engine/engine_int.h"
#include "cal/cal.h"
#include "plugin/host.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

static void ops_run_complete(void *ctx, struct mamori_run *r, const struct mamori_result *res)
{
	struct engine *e = ctx;
	if (!r || !r->active || !r->chk || r->chk->run != r) {
		e->stats.late_completions++;
		log_warn(
		    "plugin",
		    "a plugin completed a run that was already completed or cancelled (plugin bug)");
		return;
	}
	struct check *c = r->chk;
	double now = ev_now(e->loop);
	e->stats.runs_completed++;
	struct engine_plugin_stats *ps = engine__plugin_stats(e, c);
	if (ps) {
		double d = now - r->started;
		ps->runs++;
		ps->dur_sum += d > 0 ? d : 0;
		int b = 0;
		while (b < ENGINE_DUR_BUCKETS - 1 && d * 1000.0 >= (double)(1u << b))
			b++;
		ps->dur_buckets[b]++;
	}
	engine__run_end(e, c);
	engine__apply_result(e, c, res, now);
	engine__sched_next(e, c, now); /* re-arms the wheel timer if this is due sooner */
}

static struct mamori_check *ops_run_check(void *ctx, const struct mamori_run *r)
{
	return r && r->active ? (struct mamori_check *)r->chk : NULL;
}

static const struct mamori_check_info *ops_check_info(void *ctx, const struct mamori_check *mc)
{
	struct engine *e = ctx;
	const struct check *c = (const struct check *)mc;
	if (!c)
		return NULL;
	struct mamori_check_info *i = &e->info_scratch;
	memset(i, 0, sizeof *i);
	i->struct_size = sizeof *i;
	i->customer = c->asset->cust->id;
	i->customer_name = c->asset->cust->name ? c->asset->cust->name : c->asset->cust->id;
	i->region = c->asset->cust->region ? c->asset->cust->region : "";
	i->asset = c->asset->name;
	i->asset_type = c->asset->type;
	i->address = c->asset->address;
	i->check = c->name;
	i->service = service_name(c->p.service);
	i->interval = c->p.interval_ms / 1000.0;
	i->timeout = c->p.timeout_ms / 1000.0;
	return i;
}

static int ops_check_submit(void *ctx, struct mamori_check *mc, const struct mamori_result *res)
{
	struct engine *e = ctx;
	struct check *c = (struct check *)mc;
	if (!c || !res)
		return MAMORI_E_INVAL;
	double now = ev_now(e->loop);
	e->stats.passive_results++;
	engine__apply_result(e, c, res, now);
	if (c->flags & CK_PASSIVE) {
		if (MAMORI_HAS_FIELD(res, struct mamori_result, flags) &&
		    (res->flags & MAMORI_RESULT_NO_FRESHNESS)) {
			if (wheel_pending(&c->node))
				wheel_del(&e->wheel, &c->node); /* silence is expected now */
		} else if (c->p.stale_ms) {
			engine__sched_at(e, c, now + c->p.stale_ms / 1000.0);
		}
	}
	return 0;
}

static struct mamori_check *ops_check_find(void *ctx, const char *cu, const char *as,
                                           const char *ck)
{
	struct engine *e = ctx;
	if (!cu || !as || !ck)
		return NULL;
	char key[1024];
	int n = snprintf(key, sizeof key, "%s/%s/%s", cu, as, ck);
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	return hmap_get(&e->reg->m.checks, key, (size_t)n);
}

static int valid_asset_name(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (!len || len > 128)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)n[i];
		if (ch < 0x20 || ch == '/' || ch == '+' || ch == '#' || ch == 0x7f)
			return 0;
	}
	return 1;
}

static int ops_asset_register(void *ctx, void *inst, const struct mamori_asset_spec *spec)
{
	struct engine *e = ctx;
	if (!spec || !spec->customer || !valid_asset_name(spec->name))
		return MAMORI_E_INVAL;
	struct customer *cu =
	    hmap_get(&e->reg->m.cust_by_id, spec->customer, strlen(spec->customer));
	if (!cu)
		return MAMORI_E_NOTFOUND;
	if (hmap_get(&cu->assets, spec->name, strlen(spec->name)))
		return MAMORI_E_EXISTS;
	const struct agent_tpl *tpl = NULL;
	for (size_t i = 0; i < cu->n_agents; i++)
		if (cu->agents[i].pi && cu->agents[i].pi->inst == inst)
			tpl = &cu->agents[i];
	if (!tpl || !tpl->auto_register)
		return MAMORI_E_DENIED;
	model_register_asset(e->reg, cu, tpl, spec->name, spec->type, spec->address,
	                     ev_now(e->loop), 1);
	log_notice("model", "registered asset %s/%s (type %s) reported by its agent", cu->id,
	           spec->name, spec->type ? spec->type : tpl->asset_type);
	return 0;
}

static int ops_calendar_is_open(void *ctx, const char *name, double t)
{
	struct engine *e = ctx;
	if (e->reg->building) {
		const struct cal *c = name ? mconf_calendar(e->reg->building, name) : NULL;
		return c ? (cal_is_open(c, (time_t)t) ? 1 : 0) : MAMORI_E_NOTFOUND;
	}
	for (size_t i = 0; name && i < e->reg->m.n_calendars; i++)
		if (strcmp(e->reg->m.calendars[i].name, name) == 0)
			return cal_is_open(e->reg->m.calendars[i].cal, (time_t)t) ? 1 : 0;
	return MAMORI_E_NOTFOUND;
}

static void *ops_check_data(void *ctx, void *inst, const struct mamori_check *mc)
{
	const struct check *c = (const struct check *)mc;
	if (!c || !c->pi || c->pi->inst != inst)
		return NULL;
	return c->data;
}

const struct host_ops engine_host_ops = {
	.run_complete = ops_run_complete,
	.run_check = ops_run_check,
	.check_info = ops_check_info,
	.check_submit = ops_check_submit,
	.check_find = ops_check_find,
	.asset_register = ops_asset_register,
	.check_data = ops_check_data,
	.calendar_is_open = ops_calendar_is_open,
};
