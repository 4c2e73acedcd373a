/*
 * config_customers: the customer tree of the configuration - customers,
 * their agent templates, assets and checks (with inherited defaults), and
 * downtimes.  Split from config.c, which owns the sections and helpers
 * (config_int.h).  Same rules: every error names file and line, parsing
 * goes on so a user sees all of them.
 */
#include "cal/cal.h"
#include "config/config_int.h"
#include "config/pconf.h"
#include "plugin/loader.h"
#include "util/hmap.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static const struct mamori_key defaults_keys[] = { PARAM_KEYS, KEND };
static const struct mamori_key check_core_keys[] = { K("name", MAMORI_KEY_STRING),
	                                             K("plugin", MAMORI_KEY_STRING), PARAM_KEYS,
	                                             KEND };
static const struct mamori_key agent_core_keys[] = { K("auto_register", MAMORI_KEY_BOOL),
	                                             K("asset_type", MAMORI_KEY_STRING), PARAM_KEYS,
	                                             KEND };
static const struct mamori_key customer_keys[] = { K("id", MAMORI_KEY_STRING),
	                                           K("name", MAMORI_KEY_STRING),
	                                           K("region", MAMORI_KEY_STRING),
	                                           K("tags", MAMORI_KEY_STRING_LIST),
	                                           K("agents", -1),
	                                           K("assets", -1),
	                                           K("defaults", MAMORI_KEY_GROUP),
	                                           K("sla", -1),
	                                           K("contact", -1),
	                                           K("report", MAMORI_KEY_GROUP),
	                                           KEND };
static const struct mamori_key report_keys[] = { K("email", MAMORI_KEY_STRING_LIST),
	                                         K("lang", MAMORI_KEY_STRING),
	                                         K("calendar", MAMORI_KEY_STRING), KEND };
static const struct mamori_key asset_keys[] = { K("name", MAMORI_KEY_STRING),
	                                        K("type", MAMORI_KEY_STRING),
	                                        K("address", MAMORI_KEY_STRING),
	                                        K("parent", MAMORI_KEY_STRING),
	                                        K("checks", -1),
	                                        K("defaults", MAMORI_KEY_GROUP),
	                                        KEND };
static const struct mamori_key downtime_keys[] = {
	K("customer", MAMORI_KEY_STRING), K("asset", MAMORI_KEY_STRING),
	K("check", MAMORI_KEY_STRING),    K("start", MAMORI_KEY_STRING),
	K("end", MAMORI_KEY_STRING),      K("weekly", MAMORI_KEY_STRING_LIST),
	K("timezone", MAMORI_KEY_STRING), K("comment", MAMORI_KEY_STRING),
	K("author", MAMORI_KEY_STRING),   KEND
};

static int parse_check(struct ctx *x, const config_setting_t *g, const struct cfg_asset *a,
                       const struct check_params *inherited, struct cfg_check *out)
{
	const char *plugin = config__str_member(g, "plugin");
	if (config_setting_type(g) != CONFIG_TYPE_GROUP || !plugin) {
		config__report(x, g, "check of asset '%s' needs 'plugin'", a->name);
		return -1;
	}
	int pi = config__plugin_index(x->c, plugin);
	struct plugin_mod *m = loader_find(x->loader, plugin);
	if (m && m->def && (m->def->flags & MAMORI_PLUGIN_NOTIFIER)) {
		config__report(x, config_setting_get_member(g, "plugin"),
		               "asset '%s': plugin '%s' is a notifier (a channel of "
		               "notify.channels), not a check plugin",
		               a->name, plugin);
		return -1;
	}
	if (pi < 0 || !m) {
		config__report(x, config_setting_get_member(g, "plugin"),
		               "asset '%s': unknown plugin '%s'", a->name, plugin);
		return -1;
	}
	const char *name = config__str_member(g, "name");
	if (!name)
		name = plugin;
	if (!config__valid_ident(name, 0)) {
		config__report(x, g,
		               "asset '%s': check name '%s' is not usable as an MQTT topic level",
		               a->name, name);
		return -1;
	}
	char what[400];
	snprintf(what, sizeof what, "check '%s' of asset '%s'", name, a->name);
	/* A refused plugin has no key table: accept its keys unchecked, the
	 * check will report UNKNOWN with the refusal. */
	if (m->def)
		config__validate(x, g, m->def->check_keys, check_core_keys, what);
	int passive = m->def && (m->def->flags & MAMORI_PLUGIN_PASSIVE);
	config__parse_params(x, g, &out->p);
	/* Each agent report is a complete observation: a passive check is
	 * hard at once unless its own block says otherwise (inherited
	 * defaults are meant for active checks). */
	if (passive && !(out->p.set & P_ATTEMPTS)) {
		out->p.max_attempts = 1;
		out->p.set |= P_ATTEMPTS;
	}
	config__inherit(&out->p, inherited);
	config__finish_params(&out->p, plugin, passive);
	out->name = name;
	out->plugin = plugin;
	out->pinst = (uint32_t)pi;
	x->c->plugins[pi].used = 1;
	out->s = g;
	uint64_t h = config__hash_setting(g, 0);
	if (a->address)
		h ^= hmap_hash(a->address, strlen(a->address)) * 7;
	h ^= hmap_hash(a->type, strlen(a->type)) * 13;
	out->hash = h;
	return 0;
}

static void parse_asset(struct ctx *x, const config_setting_t *g, struct cfg_customer *cu,
                        const struct check_params *inherited, struct cfg_asset *a)
{
	char what[300];
	const char *name = config__str_member(g, "name");
	snprintf(what, sizeof what, "asset '%s' of customer '%s'", name ? name : "?", cu->id);
	config__validate(x, g, asset_keys, NULL, what);
	if (!name || !config__valid_ident(name, 1)) {
		config__report(x, g,
		               "customer '%s': asset needs a 'name' usable as an MQTT topic level",
		               cu->id);
		return;
	}
	a->name = xstrdup(name);
	a->type = xstrdup(config__str_member(g, "type") ? config__str_member(g, "type") : "host");
	a->address = config__dup_member(g, "address");
	a->parent = config__dup_member(g, "parent");
	struct check_params p;
	const config_setting_t *d = config_setting_get_member(g, "defaults");
	if (d)
		config__validate(x, d, defaults_keys, NULL, "asset defaults");
	config__parse_params(x, d, &p);
	config__inherit(&p, inherited);
	const config_setting_t *l = config__list_member(x, g, "checks");
	int n = l ? config_setting_length(l) : 0;
	a->checks = xcalloc((size_t)n + 1, sizeof *a->checks);
	for (int i = 0; i < n; i++) {
		struct cfg_check *ck = &a->checks[a->n_checks];
		const config_setting_t *cg = config_setting_get_elem(l, (unsigned)i);
		if (parse_check(x, cg, a, &p, ck) != 0)
			continue;
		for (size_t j = 0; j < a->n_checks; j++)
			if (strcmp(a->checks[j].name, ck->name) == 0) {
				config__report(
				    x, cg,
				    "asset '%s': duplicate check name '%s' (set 'name' to tell them apart)",
				    a->name, ck->name);
				break;
			}
		a->n_checks++;
	}
	x->c->n_checks += a->n_checks;
}

static void parse_agents(struct ctx *x, const config_setting_t *g, struct cfg_customer *cu,
                         const struct check_params *inherited)
{
	if (!g)
		return;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		config__report(x, g, "agents must be a group { defender = { ... }; }");
		return;
	}
	int n = config_setting_length(g);
	cu->agents = xcalloc((size_t)n + 1, sizeof *cu->agents);
	for (int i = 0; i < n; i++) {
		const config_setting_t *ag = config_setting_get_elem(g, (unsigned)i);
		const char *plugin = config_setting_name(ag);
		int pi = config__plugin_index(x->c, plugin);
		struct plugin_mod *m = loader_find(x->loader, plugin);
		if (pi < 0 || !m || config_setting_type(ag) != CONFIG_TYPE_GROUP) {
			config__report(x, ag, "agents: unknown plugin '%s'", plugin);
			continue;
		}
		if (m->def && !(m->def->flags & MAMORI_PLUGIN_PASSIVE)) {
			config__report(x, ag,
			               "agents: plugin '%s' is not fed by agents (not passive)",
			               plugin);
			continue;
		}
		char what[200];
		snprintf(what, sizeof what, "agents.%s of customer '%s'", plugin, cu->id);
		if (m->def)
			config__validate(x, ag, m->def->check_keys, agent_core_keys, what);
		struct cfg_agent *a = &cu->agents[cu->n_agents++];
		a->plugin = xstrdup(plugin);
		a->pinst = (uint32_t)pi;
		x->c->plugins[pi].used = 1;
		a->s = ag;
		a->hash = config__hash_setting(ag, 0);
		const config_setting_t *ar = config_setting_get_member(ag, "auto_register");
		a->auto_register = ar && config_setting_type(ar) == CONFIG_TYPE_BOOL
		                       ? config_setting_get_bool(ar)
		                       : 0;
		a->asset_type = xstrdup(config__str_member(ag, "asset_type")
		                            ? config__str_member(ag, "asset_type")
		                            : "pc");
		config__parse_params(x, ag, &a->p);
		if (!(a->p.set & P_ATTEMPTS)) {
			a->p.max_attempts = 1; /* see parse_check */
			a->p.set |= P_ATTEMPTS;
		}
		config__inherit(&a->p, inherited);
		if (!(a->p.set & P_STALE)) {
			a->p.stale_ms =
			    15 * 60 * 1000; /* 3 x the agent's 5-minute report interval */
			a->p.set |= P_STALE;
		}
		config__finish_params(&a->p, plugin, 1);
	}
}

static int asset_index(const struct cfg_customer *cu, const char *name)
{
	for (size_t i = 0; i < cu->n_assets; i++)
		if (strcmp(cu->assets[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* byname: asset name -> first struct cfg_asset of that name. */
static void check_parents(struct ctx *x, struct cfg_customer *cu, const config_setting_t *l,
                          const struct hmap *byname)
{
	for (size_t i = 0; i < cu->n_assets; i++) {
		struct cfg_asset *a = &cu->assets[i];
		if (!a->parent)
			continue;
		if (!hmap_get(byname, a->parent, strlen(a->parent))) {
			config__report(x, l,
			               "customer '%s': asset '%s' names undefined parent '%s'",
			               cu->id, a->name, a->parent);
			continue;
		}
		/* Follow the chain: a cycle would make every member unreachable forever. */
		const struct cfg_asset *p = a;
		for (size_t steps = 0; p && p->parent; steps++) {
			if (steps > cu->n_assets) {
				config__report(
				    x, l, "customer '%s': parent chain of asset '%s' is a cycle",
				    cu->id, a->name);
				break;
			}
			p = hmap_get(byname, p->parent, strlen(p->parent));
		}
	}
}

/* An address the report may be sent to: local@domain, printable ASCII
 * without spaces, angle brackets, quotes or commas (what a header and an
 * SMTP envelope take as they are), at most 254 bytes. */
static int email_ok(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@') ||
	    !strchr(at + 1, '.'))
		return 0;
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p >= 127 || strchr("<>\"(),;:\\[]", *p))
			return 0;
	return 1;
}

static void parse_report(struct ctx *x, const config_setting_t *g, struct cfg_customer *cu)
{
	if (!g)
		return;
	char what[200];
	snprintf(what, sizeof what, "customer '%s' report", cu->id);
	if (config__validate(x, g, report_keys, NULL, what) != 0)
		return;
	cu->report.set = 1;
	const config_setting_t *m = config_setting_get_member(g, "email");
	const char *em[16];
	size_t ne = 0;
	if (m && config_setting_length(m) > 16)
		config__report(x, m, "%s: at most 16 addresses in email", what);
	config__fill_strings(m, em, 16, &ne);
	cu->report.email = xcalloc(ne + 1, sizeof *cu->report.email);
	for (size_t i = 0; i < ne; i++) {
		if (!email_ok(em[i])) {
			config__report(x, m, "%s: '%s' is not an e-mail address", what, em[i]);
			continue;
		}
		cu->report.email[cu->report.n_email++] = xstrdup(em[i]);
	}
	const char *lang = config__str_member(g, "lang");
	if (lang && strcmp(lang, "ja") && strcmp(lang, "en"))
		config__report(x, config_setting_get_member(g, "lang"),
		               "%s: lang must be \"ja\" or \"en\"", what);
	else if (lang)
		cu->report.lang = xstrdup(lang);
	const char *cal = config__str_member(g, "calendar");
	if (cal && !mconf_calendar(x->c, cal))
		config__report(x, config_setting_get_member(g, "calendar"),
		               "%s: undefined calendar '%s'", what, cal);
	else if (cal)
		cu->report.calendar = xstrdup(cal);
}

static void parse_customer(struct ctx *x, const config_setting_t *g,
                           const struct check_params *global, struct hmap *ids,
                           struct cfg_customer *cu)
{
	const char *id = config__str_member(g, "id");
	char what[200];
	snprintf(what, sizeof what, "customer '%s'", id ? id : "?");
	config__validate(x, g, customer_keys, NULL, what);
	if (!id || !config__valid_ident(id, 0)) {
		config__report(x, g, "customer needs an 'id' usable as an MQTT topic level");
		return;
	}
	if (hmap_get(ids, id, strlen(id))) {
		config__report(x, g, "duplicate customer id '%s'", id);
		return;
	}
	cu->id = xstrdup(id);
	hmap_put(ids, cu->id, strlen(cu->id), cu);
	cu->name = xstrdup(config__str_member(g, "name") ? config__str_member(g, "name") : id);
	cu->region =
	    xstrdup(config__str_member(g, "region") ? config__str_member(g, "region") : "");
	const char *tags[64];
	size_t nt;
	config__fill_strings(config_setting_get_member(g, "tags"), tags, 64, &nt);
	cu->tags = xcalloc(nt + 1, sizeof *cu->tags);
	for (size_t i = 0; i < nt; i++)
		cu->tags[cu->n_tags++] = xstrdup(tags[i]);
	cu->sla = config_setting_get_member(g, "sla");
	if (cu->sla && config__str_member(cu->sla, "calendar"))
		cu->sla_calendar = xstrdup(config__str_member(cu->sla, "calendar"));
	parse_report(x, config_setting_get_member(g, "report"), cu);
	struct check_params p;
	const config_setting_t *d = config_setting_get_member(g, "defaults");
	if (d)
		config__validate(x, d, defaults_keys, NULL, "customer defaults");
	config__parse_params(x, d, &p);
	config__inherit(&p, global);
	parse_agents(x, config_setting_get_member(g, "agents"), cu, &p);
	const config_setting_t *l = config__list_member(x, g, "assets");
	int n = l ? config_setting_length(l) : 0;
	cu->assets = xcalloc((size_t)n + 1, sizeof *cu->assets);
	/* Names of the assets so far: duplicate and parent checks were
	 * quadratic in the number of assets of a customer. */
	struct hmap byname;
	hmap_init(&byname);
	hmap_reserve(&byname, (size_t)n);
	for (int i = 0; i < n; i++) {
		const config_setting_t *ag = config_setting_get_elem(l, (unsigned)i);
		if (config_setting_type(ag) != CONFIG_TYPE_GROUP) {
			config__report(x, ag, "assets: each entry must be a group { ... }");
			continue;
		}
		struct cfg_asset *a = &cu->assets[cu->n_assets];
		parse_asset(x, ag, cu, &p, a);
		if (!a->name)
			continue;
		if (hmap_get(&byname, a->name, strlen(a->name)))
			config__report(x, ag, "customer '%s': duplicate asset name '%s'", cu->id,
			               a->name);
		else
			hmap_put(&byname, a->name, strlen(a->name), a);
		cu->n_assets++;
	}
	check_parents(x, cu, l ? l : g, &byname);
	hmap_free(&byname);
}

void config__parse_customers(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *l = config__list_member(x, root, "customers");
	struct mconf *c = x->c;
	struct check_params global;
	const config_setting_t *d = config_setting_get_member(root, "defaults");
	if (d)
		config__validate(x, d, defaults_keys, NULL, "defaults");
	config__parse_params(x, d, &global);
	int n = l ? config_setting_length(l) : 0;
	c->customers = xcalloc((size_t)n + 1, sizeof *c->customers);
	struct hmap ids;
	hmap_init(&ids);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			config__report(x, g, "customers: each entry must be a group { ... }");
			continue;
		}
		struct cfg_customer *cu = &c->customers[c->n_customers];
		parse_customer(x, g, &global, &ids, cu);
		if (cu->id)
			c->n_customers++;
	}
	hmap_free(&ids);
}

void config__parse_downtimes(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *l = config__list_member(x, root, "downtimes");
	struct mconf *c = x->c;
	int n = l ? config_setting_length(l) : 0;
	c->downtimes = xcalloc((size_t)n + 1, sizeof *c->downtimes);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		config__validate(x, g, downtime_keys, NULL, "downtime");
		struct cfg_downtime dt = { 0 };
		const char *cust = config__str_member(g, "customer");
		if (!cust) {
			config__report(
			    x, g, "downtime needs 'customer' (and optionally 'asset', 'check')");
			continue;
		}
		const struct cfg_customer *cu = NULL;
		for (size_t k = 0; k < c->n_customers; k++)
			if (strcmp(c->customers[k].id, cust) == 0)
				cu = &c->customers[k];
		if (!cu) {
			config__report(x, g, "downtime: undefined customer '%s'", cust);
			continue;
		}
		const char *asset = config__str_member(g, "asset");
		if (asset && asset_index(cu, asset) < 0)
			config__report(x, g, "downtime: customer '%s' has no asset '%s'", cust,
			               asset);
		const char *tz =
		    config__str_member(g, "timezone") ? config__str_member(g, "timezone") : "UTC";
		const char *weekly[16];
		size_t nw;
		config__fill_strings(config_setting_get_member(g, "weekly"), weekly, 16, &nw);
		char err[CAL_ERRLEN];
		if (nw) {
			dt.weekly = cal_new("downtime", tz, weekly, nw, err, sizeof err);
			if (!dt.weekly) {
				config__report(x, g, "downtime weekly: %s", err);
				continue;
			}
		} else {
			const char *s = config__str_member(g, "start"),
			           *e = config__str_member(g, "end");
			struct cal *zone = NULL;
			const char *h[] = { "mon-sun 00:00-24:00" };
			time_t ts, te;
			zone = cal_new("tz", tz, h, 1, err, sizeof err);
			if (!zone || !s || !e || cal_parse_local(zone, s, &ts) != 0 ||
			    cal_parse_local(zone, e, &te) != 0 || te <= ts) {
				config__report(
				    x, g,
				    "downtime needs 'start' and 'end' (\"YYYY-MM-DD HH:MM\", end after start) or 'weekly'");
				cal_free(zone);
				continue;
			}
			cal_free(zone);
			dt.start = (double)ts;
			dt.end = (double)te;
		}
		dt.customer = xstrdup(cust);
		dt.asset = config__dup_member(g, "asset");
		dt.check = config__dup_member(g, "check");
		dt.comment = config__dup_member(g, "comment");
		dt.author = config__dup_member(g, "author");
		dt.id = xasprintf("config-%zu", c->n_downtimes + 1);
		c->downtimes[c->n_downtimes++] = dt;
	}
}
