/*
 * registry: the runtime objects (plugin instances, customers, assets,
 * checks) built from a validated config, and the reload that swaps them.
 * See registry.h; downtimes are registry_downtime.c.
 *
 * Reload is two-phase so a bad file changes nothing: model_build prepares
 * everything new (plugin instances whose block changed, checks that are new
 * or whose config changed) without touching the running model, and
 * returns an error if any plugin rejects its config; model_commit then
 * moves unchanged checks over as they are (state, schedule, even a run in
 * flight) and hands state and schedule of changed checks to their new
 * objects (through the hooks: the engine moves schedules and runs).
 * Unchanged checks cost a hash lookup each, so a reload of 100,000 checks
 * takes milliseconds, and no check stalls.
 *
 * Isolated plugins (src/plugin/proxy.c) run init and check_prepare in
 * their host processes.  The build does not wait for them: their requests
 * are sent and collected in b->wait with the conf each came with, and the
 * caller waits for the answers - on the loop at a reload, so the running
 * model keeps checking meanwhile; blocking at startup, when nothing runs
 * yet - before model_build_finish reports the hosts' errors exactly where
 * an in-process plugin's would be (file:line, counted in b->errors) and
 * says whether the model may be committed.  What may change in the
 * running model meanwhile is only additions (agents' registrations,
 * runtime downtimes): the finish carries registered assets over, and the
 * caller takes the downtimes when it commits.  A build whose errors are
 * known early still waits for the hosts' answers, so a refusal lists
 * every error, as a synchronous build would.
 */
#include "registry/registry.h"
#include "journal/journal.h"
#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/proxy.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *registry_intern(struct registry *r, const char *name)
{
	size_t n = strlen(name);
	const char *v = hmap_get(&r->names, name, n);
	if (v)
		return v;
	char *copy = xstrndup(name, n);
	hmap_put(&r->names, copy, n, copy);
	return copy;
}

struct check *model_check_new(struct registry *r, struct asset *a, const char *name,
                              size_t name_len)
{
	size_t klen = strlen(a->cust->id) + strlen(a->name) + name_len + 3;
	struct check *c = xcalloc(1, sizeof *c + klen);
	snprintf(c->key, klen, "%s/%s/%.*s", a->cust->id, a->name, (int)name_len, name);
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%.*s", (int)name_len, name);
	c->name = registry_intern(r, tmp);
	c->asset = a;
	state_init(&c->st);
	return c;
}

/* "customer/asset/name" into buf (snprintf's format parsing was a
 * visible part of a reload of 100,000 checks); returns the length of
 * what buf holds (truncated if too small: names of <= 128 bytes fit). */
static int check_key(char *buf, size_t size, const struct asset *a, const char *name)
{
	size_t lc = strlen(a->cust->id), la = strlen(a->name), ln = strlen(name);
	size_t len = lc + la + ln + 2;
	if (len >= size) {
		snprintf(buf, size, "%s/%s/%s", a->cust->id, a->name, name);
		return (int)strlen(buf);
	}
	memcpy(buf, a->cust->id, lc);
	buf[lc] = '/';
	memcpy(buf + lc + 1, a->name, la);
	buf[lc + 1 + la] = '/';
	memcpy(buf + lc + la + 2, name, ln + 1);
	return (int)len;
}

static void conf_err_log(void *ud, const char *msg)
{
	int *errors = ud;
	(*errors)++;
	log_err("config", "%s", msg);
}

/* ---- plugin instances ---- */

static struct pinst *old_pinst(const struct model *old, const char *name, uint64_t hash)
{
	if (!old)
		return NULL;
	for (size_t i = 0; i < old->n_pinsts; i++)
		if (strcmp(old->pinsts[i]->name, name) == 0 && old->pinsts[i]->hash == hash)
			return old->pinsts[i];
	return NULL;
}

static int pinst_is_old(const struct model *old, const struct pinst *p)
{
	for (size_t i = 0; old && i < old->n_pinsts; i++)
		if (old->pinsts[i] == p)
			return 1;
	return 0;
}

static void pinst_free(struct pinst *p)
{
	if (!p)
		return;
	if (p->inst && p->mod && p->mod->def) {
		p->mod->def->destroy(p->inst);
		host_forget_instance(p->inst);
	}
	free(p->name);
	free(p->broken);
	free(p);
}

static struct pinst *pinst_make(struct registry *r, const struct cfg_plugin *cp, int *errors)
{
	struct plugin_mod *mod = loader_find(r->loader, cp->name);
	struct pinst *p = xcalloc(1, sizeof *p);
	p->name = xstrdup(cp->name);
	p->hash = cp->hash;
	p->mod = mod;
	p->max_concurrent = cp->max_concurrent;
	if (!mod || !mod->def) {
		p->broken = xstrdup(mod && mod->refused ? mod->refused : "plugin not loaded");
		return p;
	}
	struct mamori_conf conf = { .s = cp->s, .on_error = conf_err_log, .ud = errors };
	int before = *errors;
	if (cp->isolate) {
		/* In a host process of its own: a synthetic module forwards. */
		struct proxy *px = proxy_new(r->loop, mod, &conf, cp->memory_limit);
		pconf_release(&conf);
		if (!px) {
			if (*errors == before)
				(*errors)++;
			pinst_free(p);
			return NULL;
		}
		p->mod = proxy_mod(px);
		p->inst = px;
		host_name_instance(p->inst, mod->def->name);
		return p;
	}
	if (!mod->shipped && (mod->def->flags & MAMORI_PLUGIN_PASSIVE))
		log_warn("registry",
		         "plugin '%s' (%s) is not shipped with mamori but passive: it cannot be "
		         "isolated and runs in-process (a crash in it stops mamorid)",
		         cp->name, mod->path);
	int rc = mod->def->init(host_table(), &conf, &p->inst);
	pconf_release(&conf);
	if (rc != 0) {
		if (*errors == before) {
			log_err("config", "plugin '%s': init failed: %s", cp->name,
			        host_table()->strerror(rc));
			(*errors)++;
		}
		mod->def->destroy(p->inst);
		p->inst = NULL;
		pinst_free(p);
		return NULL;
	}
	host_name_instance(p->inst, mod->def->name);
	return p;
}

static struct pinst *find_pinst(struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n_pinsts; i++)
		if (strcmp(m->pinsts[i]->name, name) == 0)
			return m->pinsts[i];
	return NULL;
}

/* ---- checks ---- */

static int prepare_check(struct registry *r, struct check *c, const config_setting_t *set,
                         int *errors)
{
	struct pinst *p = c->pi;
	if (!p->inst || !p->mod->def->check_prepare)
		return 0; /* broken plugin: the check will report UNKNOWN */
	struct mamori_conf conf = { .s = set, .on_error = conf_err_log, .ud = errors };
	int before = *errors;
	int rc = p->mod->def->check_prepare(p->inst, (struct mamori_check *)c, &conf, &c->data);
	pconf_release(&conf);
	if (rc != 0) {
		if (*errors == before) {
			char where[512];
			log_err("config", "%s: check %s: %s", pconf_where(set, where, sizeof where),
			        c->key, host_table()->strerror(rc));
			(*errors)++;
		}
		c->data = NULL;
		return -1;
	}
	return 0;
}

static void check_free(struct registry *r, struct check *c)
{
	/* Template checks share their template's data: released with it. */
	if (!(c->flags & CK_TEMPLATE) && c->pi && c->pi->inst && c->pi->mod->def->check_release)
		c->pi->mod->def->check_release(c->pi->inst, (struct mamori_check *)c, c->data);
	free(c->out);
	free(c);
}

/* Add a check to a new asset: reuse the old object when nothing changed,
 * else make and prepare a new one. */
static int add_check(struct registry *r, struct model *m, const struct model *old, struct asset *a,
                     const char *name, struct pinst *pi, const struct check_params *p,
                     uint64_t hash, const config_setting_t *set, int passive,
                     const struct agent_tpl *tpl, int *errors)
{
	char key[1024];
	int klen = check_key(key, sizeof key, a, name);
	/* One hash of the key for both maps (the key of a new check is the
	 * same string). */
	uint64_t kh = hmap_hash(key, (size_t)klen);
	struct check *oc = old ? hmap_get_h(&old->checks, key, (size_t)klen, kh) : NULL;
	struct check *c;
	if (oc && oc->pi == pi && oc->hash == hash && (!tpl || oc->data == tpl->data)) {
		c = oc; /* reused as it is; moved at commit */
	} else {
		c = model_check_new(r, a, name, strlen(name));
		c->pi = pi;
		c->hash = hash;
		c->p = *p; /* check_info in check_prepare reports interval/timeout */
		if (tpl) {
			c->data = tpl->data;
			c->flags |= CK_TEMPLATE;
		} else if (prepare_check(r, c, set, errors) != 0) {
			free(c);
			return -1;
		}
	}
	/* Asset links of a reused check are rewritten at commit; record the
	 * new owner in a side table keyed by the check. */
	size_t clen = strlen(c->key);
	if (clen != (size_t)klen) /* cannot happen with names of <= 128 bytes */
		kh = hmap_hash(c->key, clen);
	hmap_put_h(&m->checks, c->key, clen, kh, c);
	c->p = c == oc ? c->p : *p;
	/* The runbook is the model's, not the plugin's: a reused check takes
	 * a changed one too (interned: lives as long as the registry). */
	c->p.runbook = p->runbook ? registry_intern(r, p->runbook) : NULL;
	if (c != oc && passive)
		c->flags |= CK_PASSIVE;
	return 0;
}

static struct customer *customer_new(const struct cfg_customer *cc)
{
	struct customer *cu = xcalloc(1, sizeof *cu);
	cu->id = xstrdup(cc->id);
	cu->name = xstrdup(cc->name);
	cu->region = xstrdup(cc->region);
	cu->tags = xcalloc(cc->n_tags + 1, sizeof *cu->tags);
	for (size_t i = 0; i < cc->n_tags; i++)
		cu->tags[cu->n_tags++] = xstrdup(cc->tags[i]);
	hmap_init(&cu->assets);
	cu->report_set = cc->report.set;
	cu->report_email = xcalloc(cc->report.n_email + 1, sizeof *cu->report_email);
	for (size_t i = 0; i < cc->report.n_email; i++)
		cu->report_email[cu->n_report_email++] = xstrdup(cc->report.email[i]);
	cu->report_lang = cc->report.lang ? xstrdup(cc->report.lang) : NULL;
	cu->report_calendar = cc->report.calendar ? xstrdup(cc->report.calendar) : NULL;
	cu->sla_calendar = cc->sla_calendar ? xstrdup(cc->sla_calendar) : NULL;
	return cu;
}

static struct asset *asset_new(struct customer *cu, const char *name, const char *type,
                               const char *address, const char *parent)
{
	struct asset *a = xcalloc(1, sizeof *a);
	a->cust = cu;
	a->name = xstrdup(name);
	a->type = xstrdup(type ? type : "host");
	a->address = xstrdup(address ? address : "");
	a->parent_name = parent ? xstrdup(parent) : NULL;
	hmap_put(&cu->assets, a->name, strlen(a->name), a);
	return a;
}

static int template_checks(struct registry *r, struct model *m, const struct model *old,
                           struct customer *cu, struct asset *a, int *errors)
{
	int rc = 0;
	for (size_t i = 0; i < cu->n_agents; i++) {
		struct agent_tpl *t = &cu->agents[i];
		uint64_t h = t->hash ^ hmap_hash(a->type, strlen(a->type));
		if (add_check(r, m, old, a, t->plugin, t->pi, &t->p, h, NULL, 1, t, errors) != 0)
			rc = -1;
	}
	return rc;
}

/* Assets registered by agents (persisted) survive reloads and restarts. */
struct reg_ctx {
	struct registry *reg;
	struct model *m;
	const struct model *old;
	int *errors;
};

static void restore_registered(struct reg_ctx *r, struct customer *cu, const char *name,
                               const char *type, const char *address, double when)
{
	if (hmap_get(&cu->assets, name, strlen(name)) || !cu->n_agents)
		return;
	struct asset *a = asset_new(cu, name, type, address, NULL);
	a->registered = 1;
	a->registered_at = when;
	template_checks(r->reg, r->m, r->old, cu, a, r->errors);
}

static void on_asset_row(void *ud, const struct store_asset_row *row)
{
	struct reg_ctx *r = ud;
	struct customer *cu = hmap_get(&r->m->cust_by_id, row->customer, strlen(row->customer));
	if (cu)
		restore_registered(r, cu, row->name, row->type, row->address, row->registered_at);
}

/* Prepare a template once, or borrow the data of an identical template
 * of the running model (reload). */
static void tpl_prepare(struct registry *r, const struct model *old, struct customer *cu,
                        struct agent_tpl *t, int *errors)
{
	struct customer *ocu = old ? hmap_get(&old->cust_by_id, cu->id, strlen(cu->id)) : NULL;
	for (size_t i = 0; ocu && i < ocu->n_agents; i++) {
		struct agent_tpl *o = &ocu->agents[i];
		if (strcmp(o->plugin, t->plugin) == 0 && o->hash == t->hash && o->pi == t->pi &&
		    o->prepared) {
			t->data = o->data;
			t->prepared = 1;
			t->borrowed = 1;
			return;
		}
	}
	t->pseudo_asset = xcalloc(1, sizeof *t->pseudo_asset);
	t->pseudo_asset->cust = cu;
	t->pseudo_asset->name = xstrdup("*");
	t->pseudo_asset->type = xstrdup(t->asset_type);
	t->pseudo_asset->address = xstrdup("");
	t->pseudo = model_check_new(r, t->pseudo_asset, t->plugin, strlen(t->plugin));
	t->pseudo->pi = t->pi;
	t->pseudo->p = t->p;
	if (prepare_check(r, t->pseudo, t->s, errors) == 0)
		t->prepared = 1;
	t->data = t->pseudo->data;
}

static void tpl_release(struct registry *r, struct agent_tpl *t)
{
	if (t->pseudo) {
		if (!t->borrowed && t->prepared) {
			t->pseudo->data = t->data;
			check_free(r, t->pseudo);
		} else {
			free(t->pseudo);
		}
	}
	if (t->pseudo_asset) {
		free(t->pseudo_asset->name);
		free(t->pseudo_asset->type);
		free(t->pseudo_asset->address);
		free(t->pseudo_asset);
	}
	t->pseudo = NULL;
	t->pseudo_asset = NULL;
}

static void build_customer(struct registry *r, struct model *m, const struct model *old,
                           const struct cfg_customer *cc, int *errors)
{
	struct customer *cu = customer_new(cc);
	hmap_reserve(&cu->assets, cc->n_assets);
	m->custs[m->n_custs++] = cu;
	hmap_put(&m->cust_by_id, cu->id, strlen(cu->id), cu);
	cu->agents = xcalloc(cc->n_agents + 1, sizeof *cu->agents);
	for (size_t i = 0; i < cc->n_agents; i++) {
		const struct cfg_agent *ca = &cc->agents[i];
		struct agent_tpl *t = &cu->agents[cu->n_agents++];
		t->plugin = xstrdup(ca->plugin);
		t->pi = find_pinst(m, ca->plugin);
		t->auto_register = ca->auto_register;
		t->asset_type = xstrdup(ca->asset_type);
		t->p = ca->p;
		t->p.runbook = ca->p.runbook ? registry_intern(r, ca->p.runbook) : NULL;
		t->hash = ca->hash;
		t->s = ca->s;
		tpl_prepare(r, old, cu, t, errors);
	}
	for (size_t i = 0; i < cc->n_assets; i++) {
		const struct cfg_asset *ca = &cc->assets[i];
		struct asset *a = asset_new(cu, ca->name, ca->type, ca->address, ca->parent);
		for (size_t k = 0; k < ca->n_checks; k++) {
			const struct cfg_check *ck = &ca->checks[k];
			struct pinst *pi = find_pinst(m, ck->plugin);
			int passive = pi->mod && pi->mod->def &&
			              (pi->mod->def->flags & MAMORI_PLUGIN_PASSIVE);
			add_check(r, m, old, a, ck->name, pi, &ck->p, ck->hash, ck->s, passive,
			          NULL, errors);
		}
		/* An asset configured with the type of an agent template (e.g. a
		 * PC listed by hand) gets the template's checks too. */
		for (size_t t = 0; t < cu->n_agents; t++)
			if (strcmp(cu->agents[t].asset_type, a->type) == 0) {
				char key[1024];
				int kl = snprintf(key, sizeof key, "%s/%s/%s", cu->id, a->name,
				                  cu->agents[t].plugin);
				if (!hmap_get(&m->checks, key, (size_t)kl)) {
					struct agent_tpl *tp = &cu->agents[t];
					add_check(r, m, old, a, tp->plugin, tp->pi, &tp->p,
					          tp->hash ^ hmap_hash(a->type, strlen(a->type)),
					          NULL, 1, tp, errors);
				}
			}
	}
	for (size_t t = 0; t < cu->n_agents; t++)
		cu->agents[t].s = NULL;
}

/* Assets registered by agents in the running model (old) that m lacks:
 * at the build, and again at its finish (registrations while isolated
 * plugins' answers were awaited). */
static void carry_registered(struct reg_ctx *rc, const struct model *old)
{
	for (size_t i = 0; i < old->n_custs; i++) {
		struct customer *ocu = old->custs[i];
		struct customer *cu = hmap_get(&rc->m->cust_by_id, ocu->id, strlen(ocu->id));
		size_t it = 0;
		const struct hmap_entry *e;
		while (cu && hmap_next(&ocu->assets, &it, &e)) {
			const struct asset *oa = e->value;
			if (oa->registered)
				restore_registered(rc, cu, oa->name, oa->type, oa->address,
				                   oa->registered_at);
		}
	}
}

int model_build(struct registry *r, struct mconf *c, struct model_build *b, const struct model *old)
{
	struct model *m = &b->m;
	int *errors = &b->errors;
	memset(b, 0, sizeof *b);
	hmap_init(&m->cust_by_id);
	hmap_init(&m->checks);
	/* Isolated plugins' init and prepare answers: collected, not waited
	 * for here (model_build_wait). */
	b->wait = proxy_wait_new(r->loop);
	proxy_wait_collect(b->wait);
	/* Sized once: growing a map of 100,000 checks rehashed it 14 times. */
	size_t expect = old && old->checks.count > c->n_checks ? old->checks.count : c->n_checks;
	hmap_reserve(&m->checks, expect);
	hmap_reserve(&m->cust_by_id, c->n_customers);
	m->pinsts = xcalloc(c->n_plugins + 1, sizeof *m->pinsts);
	for (size_t i = 0; i < c->n_plugins; i++) {
		if (!c->plugins[i].used)
			continue; /* no instance for a plugin nobody uses */
		struct pinst *p = old_pinst(old, c->plugins[i].name, c->plugins[i].hash);
		if (p) {
			p->max_concurrent = c->plugins[i].max_concurrent;
		} else {
			p = pinst_make(r, &c->plugins[i], errors);
		}
		if (p)
			m->pinsts[m->n_pinsts++] = p;
	}
	if (*errors)
		goto stop; /* no checks on broken instances */
	/* Agent templates need the checks of restored customers' templates
	 * set up before customers: attach agents' config trees now. */
	m->custs = xcalloc(c->n_customers + 1, sizeof *m->custs);
	for (size_t i = 0; i < c->n_customers; i++) {
		/* The customer's template tree pointers are needed while
		 * building its registered assets below; keep them until then. */
		build_customer(r, m, old, &c->customers[i], errors);
	}
	/* Registered assets: from the previous model on reload, from the
	 * database at startup. */
	struct reg_ctx rc = { r, m, old, errors };
	for (size_t i = 0; i < c->n_customers; i++) {
		struct customer *cu = m->custs[i];
		for (size_t t = 0; t < cu->n_agents; t++)
			cu->agents[t].s = c->customers[i].agents[t].s;
	}
	if (old)
		carry_registered(&rc, old);
	else if (r->store)
		store_load_assets(r->store, on_asset_row, &rc);
	for (size_t i = 0; i < m->n_custs; i++)
		for (size_t t = 0; t < m->custs[i]->n_agents; t++)
			m->custs[i]->agents[t].s = NULL;
stop:
	proxy_wait_collect(NULL);
	/* With errors already, the hosts' answers still count: the refusal
	 * lists their errors too, as one of a synchronous build would. */
	if (*errors && !proxy_wait_pending(b->wait)) {
		model_build_abort(r, b, old);
		return -1;
	}
	return 0;
}

size_t model_build_waiting(const struct model_build *b)
{
	return proxy_wait_pending(b->wait);
}

void model_build_wait(struct model_build *b, void (*done)(void *ud), void *ud)
{
	proxy_wait_start(b->wait, done, ud);
}

void model_build_wait_here(struct model_build *b)
{
	proxy_wait_block(b->wait);
}

int model_build_finish(struct registry *r, struct model_build *b, const struct model *old)
{
	/* The hosts' errors, at their keys' file:line: each one counts in
	 * b->errors through conf_err_log. */
	int failed = proxy_wait_report(b->wait);
	proxy_wait_free(b->wait);
	b->wait = NULL;
	if (failed && !b->errors)
		b->errors++;
	if (b->errors) {
		model_discard(r, &b->m, old);
		return -1;
	}
	if (old) {
		struct reg_ctx rc = { r, &b->m, old, &b->errors };
		carry_registered(&rc, old);
	}
	return 0;
}

void model_build_abort(struct registry *r, struct model_build *b, const struct model *old)
{
	proxy_wait_free(b->wait); /* answers still to come are ignored */
	b->wait = NULL;
	model_discard(r, &b->m, old);
}

static void customer_free(struct registry *r, struct customer *cu, int free_assets)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (free_assets && hmap_next(&cu->assets, &it, &e)) {
		struct asset *a = e->value;
		free(a->name);
		free(a->type);
		free(a->address);
		free(a->parent_name);
		free(a);
	}
	hmap_free(&cu->assets);
	for (size_t i = 0; i < cu->n_agents; i++) {
		tpl_release(r, &cu->agents[i]);
		free(cu->agents[i].plugin);
		free(cu->agents[i].asset_type);
	}
	for (size_t i = 0; i < cu->n_tags; i++)
		free(cu->tags[i]);
	free(cu->tags);
	for (size_t i = 0; i < cu->n_report_email; i++)
		free(cu->report_email[i]);
	free(cu->report_email);
	free(cu->report_lang);
	free(cu->report_calendar);
	free(cu->sla_calendar);
	free(cu->agents);
	free(cu->id);
	free(cu->name);
	free(cu->region);
	free(cu);
}

/* Throw away a model that was built but not committed: free what is new,
 * leave what belongs to `old` alone. */
void model_discard(struct registry *r, struct model *m, const struct model *old)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m->checks, &it, &e)) {
		struct check *c = e->value;
		struct check *oc = old ? hmap_get(&old->checks, c->key, strlen(c->key)) : NULL;
		if (oc != c)
			check_free(r, c);
	}
	hmap_free(&m->checks);
	for (size_t i = 0; i < m->n_custs; i++)
		customer_free(r, m->custs[i], 1);
	free(m->custs);
	hmap_free(&m->cust_by_id);
	for (size_t i = 0; i < m->n_pinsts; i++)
		if (!pinst_is_old(old, m->pinsts[i]))
			pinst_free(m->pinsts[i]);
	free(m->pinsts);
	memset(m, 0, sizeof *m);
}

/* Link checks to their (new) assets and parents to assets. */
static void link_model(struct model *m)
{
	for (size_t i = 0; i < m->n_custs; i++) {
		size_t it = 0;
		const struct hmap_entry *e;
		while (hmap_next(&m->custs[i]->assets, &it, &e)) {
			struct asset *a = e->value;
			a->checks = NULL;
			a->crit_checks = 0;
			a->parent = a->parent_name ? hmap_get(&m->custs[i]->assets, a->parent_name,
			                                      strlen(a->parent_name))
			                           : NULL;
		}
	}
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m->checks, &it, &e)) {
		struct check *c = e->value;
		/* key = customer/asset/check; names cannot contain '/' */
		const char *k = c->key;
		const char *s1 = strchr(k, '/');
		const char *s2 = strchr(s1 + 1, '/');
		struct customer *cu = hmap_get(&m->cust_by_id, k, (size_t)(s1 - k));
		struct asset *a = hmap_get(&cu->assets, s1 + 1, (size_t)(s2 - s1 - 1));
		c->asset = a;
		c->anext = a->checks;
		a->checks = c;
		c->flags &= (uint8_t)~CK_DOWNCOUNT;
		if (c->st.has_result && c->st.hard && c->st.state == 2) {
			a->crit_checks++;
			c->flags |= CK_DOWNCOUNT;
		}
	}
}

static void copy_state(struct check *to, const struct check *from)
{
	to->st = from->st;
	to->flags |= from->flags & CK_ACK;
	if (from->out) {
		to->out = xmalloc(from->out_len);
		memcpy(to->out, from->out, from->out_len);
		to->out_len = from->out_len;
	}
}

void model_commit(struct registry *r, struct model *m, struct model *old)
{
	struct store_batch *forget = r->store ? store_batch_new() : NULL;
	/* Old checks: keep (same object in m), hand over, or drop. */
	size_t it = 0;
	const struct hmap_entry *e;
	while (old && hmap_next(&old->checks, &it, &e)) {
		struct check *oc = e->value;
		struct check *nc = hmap_get(&m->checks, oc->key, strlen(oc->key));
		if (nc == oc)
			continue;
		r->hooks.retire(r->hooks.ud, oc, nc);
		if (nc)
			copy_state(nc, oc);
		else if (forget)
			store_batch_forget(forget, oc->asset->cust->id, oc->asset->name, oc->name);
		oc->flags &= (uint8_t)~CK_WAITING;
		check_free(r, oc);
	}
	link_model(m);
	if (old) {
		/* Template data borrowed by the new model changes owner. */
		for (size_t i = 0; i < m->n_custs; i++) {
			struct customer *cu = m->custs[i];
			struct customer *ocu = hmap_get(&old->cust_by_id, cu->id, strlen(cu->id));
			for (size_t t = 0; ocu && t < cu->n_agents; t++) {
				if (!cu->agents[t].borrowed)
					continue;
				for (size_t k = 0; k < ocu->n_agents; k++)
					if (ocu->agents[k].data == cu->agents[t].data &&
					    ocu->agents[k].prepared) {
						ocu->agents[k].borrowed = 1;
						cu->agents[t].borrowed = 0;
						cu->agents[t].pseudo = ocu->agents[k].pseudo;
						cu->agents[t].pseudo_asset =
						    ocu->agents[k].pseudo_asset;
						ocu->agents[k].pseudo = NULL;
						ocu->agents[k].pseudo_asset = NULL;
						if (cu->agents[t].pseudo)
							cu->agents[t].pseudo_asset->cust = cu;
					}
			}
		}
		for (size_t i = 0; i < old->n_custs; i++)
			customer_free(r, old->custs[i], 1);
		free(old->custs);
		hmap_free(&old->cust_by_id);
		hmap_free(&old->checks);
		for (size_t i = 0; i < old->n_pinsts; i++) {
			int kept = 0;
			for (size_t j = 0; j < m->n_pinsts; j++)
				kept |= m->pinsts[j] == old->pinsts[i];
			if (!kept)
				pinst_free(old->pinsts[i]);
		}
		free(old->pinsts);
		memset(old, 0, sizeof *old);
	}
	if (forget) {
		if (store_batch_rows(forget))
			store_commit(r->store, forget);
		else
			store_batch_free(forget);
	}
	/* The engine rebuilds its wait queues and schedules new checks. */
	r->hooks.committed(r->hooks.ud, m);
}

void model_free(struct registry *r, struct model *m)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&m->checks, &it, &e)) {
		struct check *c = e->value;
		r->hooks.retire(r->hooks.ud, c, NULL);
		check_free(r, c);
	}
	hmap_free(&m->checks);
	for (size_t i = 0; i < m->n_custs; i++)
		customer_free(r, m->custs[i], 1);
	free(m->custs);
	hmap_free(&m->cust_by_id);
	for (size_t i = 0; i < m->n_pinsts; i++)
		pinst_free(m->pinsts[i]);
	free(m->pinsts);
	memset(m, 0, sizeof *m);
}

int model_register_asset(struct registry *r, struct customer *cu, const struct agent_tpl *tpl,
                         const char *name, const char *type, const char *address, double when,
                         int persist)
{
	struct asset *a = asset_new(cu, name, type ? type : tpl->asset_type, address, NULL);
	a->registered = 1;
	a->registered_at = when;
	for (size_t i = 0; i < cu->n_agents; i++) {
		struct agent_tpl *t = &cu->agents[i];
		struct check *c = model_check_new(r, a, t->plugin, strlen(t->plugin));
		c->pi = t->pi;
		c->p = t->p;
		c->flags |= CK_PASSIVE | CK_TEMPLATE;
		c->hash = t->hash ^ hmap_hash(a->type, strlen(a->type));
		c->data = t->data;
		hmap_put(&r->m.checks, c->key, strlen(c->key), c);
		c->anext = a->checks;
		a->checks = c;
		r->hooks.added(r->hooks.ud, c);
	}
	if (persist && r->store) {
		/* Written with the next group commit, in the same transaction
		 * as its first check state (one transaction per asset cost
		 * most of a registration). */
		if (r->n_new_assets == r->cap_new_assets) {
			r->cap_new_assets = r->cap_new_assets ? r->cap_new_assets * 2 : 64;
			r->new_assets =
			    xrealloc(r->new_assets, r->cap_new_assets * sizeof *r->new_assets);
		}
		r->new_assets[r->n_new_assets++] = a;
	}
	/* After a burst of registrations (thousands of PCs at 9:00) the
	 * allocator holds freed temporaries: hand them back once it is over. */
	ev_timer_again(r->loop, &r->trim_timer);
	return 0;
}

/* ---- the registry object ---- */

static void on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	malloc_trim(0);
}

static int assets_pending(void *ud)
{
	struct registry *r = ud;
	return r->n_new_assets > 0;
}

/* Journal source: registered assets go with the next batch, in the same
 * transaction as their first check states (one transaction per asset
 * cost most of a registration). */
static void assets_fill(void *ud, struct store_batch *b)
{
	struct registry *r = ud;
	for (size_t i = 0; i < r->n_new_assets; i++) {
		const struct asset *a = r->new_assets[i];
		struct store_asset_row row = { a->cust->id, a->name, a->type,
			                       a->address,  "agent", a->registered_at };
		store_batch_asset(b, &row);
	}
	r->n_new_assets = 0;
}

void registry_init(struct registry *r, struct ev_loop *loop, struct loader *loader,
                   const struct registry_hooks *hooks)
{
	memset(r, 0, sizeof *r);
	r->loop = loop;
	r->loader = loader;
	r->hooks = *hooks;
	r->node = "";
	hmap_init(&r->names);
	ev_init(&r->trim_timer, on_trim);
	r->trim_timer.repeat = 2.0;
	r->trim_timer.data = r;
}

void registry_attach(struct registry *r, struct store *store, struct journal *journal,
                     struct events *events, const char *node)
{
	r->store = store;
	r->journal = journal;
	r->events = events;
	r->node = node ? node : "";
	if (journal && store)
		journal_add_source(journal, assets_fill, assets_pending, r);
}

void registry_fini(struct registry *r)
{
	ev_timer_stop(r->loop, &r->trim_timer);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&r->names, &it, &e))
		free(e->value);
	hmap_free(&r->names);
	free(r->new_assets);
	r->new_assets = NULL;
}

struct customer *registry_customer(const struct registry *r, const char *id)
{
	return id ? hmap_get(&r->m.cust_by_id, id, strlen(id)) : NULL;
}

struct check *registry_check_key(const struct registry *r, const char *key, size_t len)
{
	return hmap_get(&r->m.checks, key, len);
}

struct check *registry_check(const struct registry *r, const char *customer, const char *asset,
                             const char *check)
{
	if (!customer || !asset || !check)
		return NULL;
	char key[1024];
	int n = snprintf(key, sizeof key, "%s/%s/%s", customer, asset, check);
	if (n < 0 || (size_t)n >= sizeof key)
		return NULL;
	return hmap_get(&r->m.checks, key, (size_t)n);
}
