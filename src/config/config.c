/*
 * config: libconfig -> struct mconf, with validation.  See config.h.
 *
 * Layout: key tables, one parse function per section (daemon, calendars,
 * plugins, centers/routes; the customer tree and downtimes are in
 * config_customers.c; the helpers both use and the check parameters with
 * their inheritance are config_params.c), then loading and freeing.  Every error goes to the sink
 * with "file:line:"; parsing continues so a user sees all of them at once.
 */
#include "config/config.h"
#include "cal/cal.h"
#include "config/pconf.h"
#include "plugin/loader.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildcfg.h"
#include "config/config_int.h"

static const struct mamori_key root_keys[] = { K("daemon", MAMORI_KEY_GROUP),
	                                       K("mqtt", MAMORI_KEY_GROUP),
	                                       K("http", MAMORI_KEY_GROUP),
	                                       K("auth", MAMORI_KEY_GROUP),
	                                       K("calendars", -1),
	                                       K("centers", -1),
	                                       K("routes", -1),
	                                       K("customers", -1),
	                                       K("plugins", -1),
	                                       K("defaults", MAMORI_KEY_GROUP),
	                                       K("downtimes", -1),
	                                       K("alerts", MAMORI_KEY_GROUP),
	                                       K("history", MAMORI_KEY_GROUP),
	                                       K("reports", MAMORI_KEY_GROUP),
	                                       K("contacts", -1),
	                                       K("oncall", -1),
	                                       K("notify", MAMORI_KEY_GROUP),
	                                       KEND };
static const struct mamori_key reports_keys[] = { K("calendar", MAMORI_KEY_STRING),
	                                          K("lang", MAMORI_KEY_STRING),
	                                          K("workers", MAMORI_KEY_INT),
	                                          K("schedule", MAMORI_KEY_BOOL), KEND };
static const struct mamori_key alerts_keys[] = { K("reopen_within", MAMORI_KEY_DURATION),
	                                         K("outbox_memory", MAMORI_KEY_INT),
	                                         K("outbox_inflight", MAMORI_KEY_INT), KEND };
static const struct mamori_key history_keys[] = { K("enabled", MAMORI_KEY_BOOL),
	                                          K("raw_retention", MAMORI_KEY_DURATION),
	                                          K("rollup_5m_retention", MAMORI_KEY_DURATION),
	                                          K("rollup_1h_retention", MAMORI_KEY_DURATION),
	                                          K("raw_min_interval", MAMORI_KEY_DURATION),
	                                          K("flush_interval", MAMORI_KEY_DURATION),
	                                          K("max_labels", MAMORI_KEY_INT),
	                                          K("forward", MAMORI_KEY_GROUP),
	                                          KEND };
static const struct mamori_key forward_keys[] = { K("graphite", MAMORI_KEY_STRING),
	                                          K("influx", MAMORI_KEY_STRING),
	                                          K("prefix", MAMORI_KEY_STRING),
	                                          K("buffer", MAMORI_KEY_INT), KEND };
static const struct mamori_key daemon_keys[] = {
	K("state_dir", MAMORI_KEY_STRING),   K("plugin_dir", MAMORI_KEY_STRING),
	K("data_dir", MAMORI_KEY_STRING),    K("log_level", MAMORI_KEY_STRING),
	K("node", MAMORI_KEY_STRING),        K("flush_interval", MAMORI_KEY_DURATION),
	K("retention_days", MAMORI_KEY_INT), K("user", MAMORI_KEY_STRING),
	K("allow_root", MAMORI_KEY_BOOL),    KEND
};
static const struct mamori_key calendar_keys[] = {
	K("name", MAMORI_KEY_STRING),          K("timezone", MAMORI_KEY_STRING),
	K("hours", MAMORI_KEY_STRING_LIST),    K("holidays", MAMORI_KEY_STRING_LIST),
	K("closures", MAMORI_KEY_STRING_LIST), KEND
};

/* ---- sections ---- */

static void parse_daemon(struct ctx *x, const config_setting_t *d)
{
	struct mconf *c = x->c;
	if (d)
		config__validate(x, d, daemon_keys, NULL, "daemon");
	c->state_dir = config__dup_member(d, "state_dir");
	c->plugin_dir = config__dup_member(d, "plugin_dir");
	c->data_dir = config__dup_member(d, "data_dir");
	c->node = config__dup_member(d, "node");
	if (!c->state_dir)
		c->state_dir = xstrdup(MAMORI_STATEDIR);
	if (!c->plugin_dir)
		c->plugin_dir = xstrdup(MAMORI_PLUGINDIR);
	if (!c->data_dir)
		c->data_dir = xstrdup(x->datadir ? x->datadir : MAMORI_DATADIR);
	if (!c->node) {
		char host[256] = "mamori";
		gethostname(host, sizeof host - 1);
		c->node = xstrdup(host);
	}
	const char *user = config__str_member(d, "user");
	if (user && (!*user || strlen(user) > 32 || strchr(user, '/') || strchr(user, ':')))
		config__report(x, config_setting_get_member(d, "user"),
		               "daemon.user '%s' is not a user name", user);
	if (!config__valid_ident(c->node, 0))
		config__report(x, d, "daemon.node '%s' is not usable as an MQTT topic level",
		               c->node);
	c->log_level = LOG_LVL_INFO;
	const char *lv = config__str_member(d, "log_level");
	if (lv && (c->log_level = log_level_parse(lv)) < 0) {
		config__report(x, config_setting_get_member(d, "log_level"),
		               "log_level must be err, warning, notice, info or debug");
		c->log_level = LOG_LVL_INFO;
	}
	c->flush_interval = 0.1;
	const config_setting_t *m;
	if (d && (m = config_setting_get_member(d, "flush_interval")))
		pconf_setting_duration(m, &c->flush_interval);
	c->retention_days = 400;
	if (d && (m = config_setting_get_member(d, "retention_days")) &&
	    config_setting_type(m) == CONFIG_TYPE_INT)
		c->retention_days = (uint32_t)config_setting_get_int(m);
}

void config__fill_strings(const config_setting_t *m, const char **out, size_t max, size_t *n)
{
	*n = 0;
	if (!m)
		return;
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		out[(*n)++] = config_setting_get_string(m);
		return;
	}
	for (int i = 0; i < config_setting_length(m) && *n < max; i++) {
		const char *s = config_setting_get_string(config_setting_get_elem(m, (unsigned)i));
		if (s)
			out[(*n)++] = s;
	}
}

static void parse_calendar(struct ctx *x, const config_setting_t *g, struct cfg_calendar *out)
{
	char err[CAL_ERRLEN];
	config__validate(x, g, calendar_keys, NULL, "calendar");
	const char *name = config__str_member(g, "name");
	const char *tz = config__str_member(g, "timezone");
	if (!name || !tz) {
		config__report(x, g, "calendar needs 'name' and 'timezone'");
		return;
	}
	const char *hours[64];
	size_t nh;
	config__fill_strings(config_setting_get_member(g, "hours"), hours, 64, &nh);
	if (!nh) {
		config__report(
		    x, g, "calendar '%s' needs 'hours' (e.g. [ \"mon-fri 09:00-17:30\" ])", name);
		return;
	}
	struct cal *cal = cal_new(name, tz, hours, nh, err, sizeof err);
	if (!cal) {
		config__report(x, g, "calendar '%s': %s", name, err);
		return;
	}
	const char *hol[32];
	size_t nhol;
	const config_setting_t *hm = config_setting_get_member(g, "holidays");
	config__fill_strings(hm, hol, 32, &nhol);
	for (size_t i = 0; i < nhol; i++) {
		char path[1024];
		if (cal_holidays_path(hol[i], x->c->data_dir, path, sizeof path) != 0 ||
		    cal_holidays_load(cal, path, err, sizeof err) != 0) {
			config__report(x, hm, "calendar '%s': holidays '%s': %s", name, hol[i],
			               cal_holidays_path(hol[i], x->c->data_dir, path, sizeof path)
			                   ? "bad name"
			                   : err);
		}
	}
	const char *clo[64];
	size_t nclo;
	const config_setting_t *cm = config_setting_get_member(g, "closures");
	config__fill_strings(cm, clo, 64, &nclo);
	for (size_t i = 0; i < nclo; i++) {
		/* "2026-12-29 12:00/2027-01-04 09:00" in the calendar's zone */
		char a[64], b[64];
		time_t from, to;
		const char *slash = strchr(clo[i], '/');
		if (!slash || (size_t)(slash - clo[i]) >= sizeof a ||
		    strlen(slash + 1) >= sizeof b) {
			config__report(x, cm,
			               "closure '%s': use \"YYYY-MM-DD HH:MM/YYYY-MM-DD HH:MM\"",
			               clo[i]);
			continue;
		}
		memcpy(a, clo[i], (size_t)(slash - clo[i]));
		a[slash - clo[i]] = '\0';
		strcpy(b, slash + 1);
		if (cal_parse_local(cal, a, &from) != 0 || cal_parse_local(cal, b, &to) != 0 ||
		    to <= from) {
			config__report(
			    x, cm,
			    "closure '%s': use \"YYYY-MM-DD HH:MM/YYYY-MM-DD HH:MM\" (end after start)",
			    clo[i]);
			continue;
		}
		cal_add_closure(cal, from, to);
	}
	out->name = xstrdup(name);
	out->cal = cal;
}

static void parse_calendars(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *l = config__list_member(x, root, "calendars");
	int n = l ? config_setting_length(l) : 0;
	struct mconf *c = x->c;
	/* Built in: "always" (24x7 UTC), unless the user defines it. */
	c->calendars = xcalloc((size_t)n + 1, sizeof *c->calendars);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			config__report(x, g, "calendars: each entry must be a group { ... }");
			continue;
		}
		struct cfg_calendar cal = { 0 };
		parse_calendar(x, g, &cal);
		if (!cal.name)
			continue;
		if (mconf_calendar(c, cal.name)) {
			config__report(x, g, "duplicate calendar name '%s'", cal.name);
			cal_free(cal.cal);
			free(cal.name);
			continue;
		}
		c->calendars[c->n_calendars++] = cal;
	}
	if (!mconf_calendar(c, "always")) {
		char err[CAL_ERRLEN];
		const char *h[] = { "mon-sun 00:00-24:00" };
		c->calendars[c->n_calendars].cal = cal_new("always", "UTC", h, 1, err, sizeof err);
		c->calendars[c->n_calendars].name = xstrdup("always");
		if (c->calendars[c->n_calendars].cal)
			c->n_calendars++;
		else
			free(c->calendars[c->n_calendars].name);
	}
}

int config__plugin_index(struct mconf *c, const char *name)
{
	for (size_t i = 0; i < c->n_plugins; i++)
		if (strcmp(c->plugins[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct mamori_key plugin_core_keys[] = { K("name", MAMORI_KEY_STRING),
	                                              K("max_concurrent", MAMORI_KEY_INT),
	                                              K("isolate", MAMORI_KEY_BOOL),
	                                              K("memory_limit", -1), KEND };

/* See config.h. */
int config_parse_memory_limit(const char *s, uint64_t *out)
{
	if (strcmp(s, "none") == 0) {
		*out = 0;
		return 0;
	}
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	static const char units[] = "KMGT";
	const char *u = *p ? strchr(units, *p) : NULL;
	if (*p && !u)
		return -1;
	if (u) {
		for (int i = 0; i <= (int)(u - units); i++) {
			if (v > UINT64_MAX / 1024)
				return -1;
			v *= 1024;
		}
		p++;
		if (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
			p += strlen(p);
	}
	if (*p)
		return -1;
	*out = v;
	return 0;
}

/*
 * A plugin block's memory_limit (isolated instances: the host's
 * RLIMIT_DATA): bytes as an integer, or a string for
 * config_parse_memory_limit; 0 and "none" mean no limit, absent means
 * CFG_MEMORY_LIMIT_DEFAULT.  Anything else, or a limit below
 * CFG_MEMORY_LIMIT_MIN (a host and its libraries need that much), is
 * refused with file:line.
 */
static void parse_memory_limit(struct ctx *x, const config_setting_t *g, const char *name,
                               uint64_t *limit)
{
	const config_setting_t *ml = config_setting_get_member(g, "memory_limit");
	*limit = CFG_MEMORY_LIMIT_DEFAULT;
	if (!ml)
		return;
	int t = config_setting_type(ml);
	uint64_t v = 0;
	int ok = 0;
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long i = config_setting_get_int64(ml);
		ok = i >= 0;
		v = ok ? (uint64_t)i : 0;
	} else if (t == CONFIG_TYPE_STRING) {
		ok = config_parse_memory_limit(config_setting_get_string(ml), &v) == 0;
	}
	if (!ok) {
		config__report(x, ml,
		               "plugin '%s': memory_limit must be a size such as \"512M\" or "
		               "\"2G\" (K, M, G, T: powers of 1024), a number of bytes, or "
		               "\"none\"",
		               name);
		return;
	}
	if (v && v < CFG_MEMORY_LIMIT_MIN) {
		config__report(x, ml,
		               "plugin '%s': memory_limit %llu bytes is too small for a plugin "
		               "host (at least %lluM, or \"none\")",
		               name, (unsigned long long)v,
		               (unsigned long long)(CFG_MEMORY_LIMIT_MIN >> 20));
		return;
	}
	*limit = v;
}

/*
 * Where an instance runs when its config does not say (`isolate`): the
 * plugins mamori ships in-process, every other one in a host process of its
 * own (src/plugin/loader.h says how a shipped plugin is recognised).  A
 * passive plugin needs MQTT and check_submit, which a host has not: one
 * that is not shipped runs in-process (the registry warns when it makes
 * the instance).
 */
static int default_isolate(const struct plugin_mod *m)
{
	return !m->shipped && !(m->def->flags & MAMORI_PLUGIN_PASSIVE);
}

static void parse_plugins(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *l = config__list_member(x, root, "plugins");
	struct mconf *c = x->c;
	size_t cap = (size_t)(l ? config_setting_length(l) : 0) + loader_count(x->loader) + 1;
	c->plugins = xcalloc(cap, sizeof *c->plugins);
	for (int i = 0; l && i < config_setting_length(l); i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *name = config__str_member(g, "name");
		struct plugin_mod *m = name ? loader_find(x->loader, name) : NULL;
		if (!name) {
			config__report(x, g, "plugins: entry needs 'name'");
			continue;
		}
		if (!m) {
			config__report(x, g, "plugins: no plugin named '%s' in %s", name,
			               c->plugin_dir);
			continue;
		}
		if (config__plugin_index(c, name) >= 0) {
			config__report(x, g, "plugins: '%s' configured twice", name);
			continue;
		}
		if (m->def && (m->def->flags & MAMORI_PLUGIN_NOTIFIER)) {
			config__report(
			    x, g,
			    "plugins: '%s' is a notifier plugin: configure it as a channel "
			    "in notify.channels",
			    name);
			continue;
		}
		char what[160];
		snprintf(what, sizeof what, "plugin '%s'", name);
		config__validate(x, g, m->def ? m->def->instance_keys : NULL, plugin_core_keys,
		                 what);
		struct cfg_plugin *p = &c->plugins[c->n_plugins++];
		p->name = xstrdup(name);
		p->s = g;
		p->hash = config__hash_setting(g, 0);
		p->used = 1;
		const config_setting_t *mc = config_setting_get_member(g, "max_concurrent");
		if (mc && config_setting_type(mc) == CONFIG_TYPE_INT)
			p->max_concurrent = config_setting_get_int(mc);
		const config_setting_t *iso = config_setting_get_member(g, "isolate");
		if (iso && config_setting_type(iso) == CONFIG_TYPE_BOOL) {
			p->isolate = config_setting_get_bool(iso) ? 1 : 0;
			/* A host process has no MQTT, check_submit or asset
			 * registration (src/plugin/isolate.h). */
			if (p->isolate && m->def && (m->def->flags & MAMORI_PLUGIN_PASSIVE)) {
				config__report(
				    x, iso,
				    "plugin '%s': isolate = true is not possible for a passive "
				    "plugin",
				    name);
				p->isolate = 0;
			} else if (!p->isolate && m->def && !m->shipped) {
				log_notice(
				    "config",
				    "plugin '%s' (%s) is not shipped with mamori and runs "
				    "in-process (isolate = false): a crash in it stops mamorid",
				    name, m->path);
			}
		} else {
			p->isolate = default_isolate(m);
		}
		parse_memory_limit(x, g, name, &p->memory_limit);
		if (config_setting_get_member(g, "memory_limit") && !p->isolate)
			log_notice("config",
			           "plugin '%s': memory_limit applies to isolated plugins only; "
			           "this one runs in-process",
			           name);
	}
	/* A default instance for every other plugin. */
	for (size_t i = 0; i < loader_count(x->loader); i++) {
		struct plugin_mod *m = loader_at(x->loader, i);
		if (config__plugin_index(c, m->name) >= 0)
			continue;
		/* notifiers get their instances from notify.channels (src/notify) */
		if (m->def && (m->def->flags & MAMORI_PLUGIN_NOTIFIER))
			continue;
		struct cfg_plugin *p = &c->plugins[c->n_plugins++];
		p->name = xstrdup(m->name);
		p->isolate = m->def ? default_isolate(m) : 0;
		p->memory_limit = CFG_MEMORY_LIMIT_DEFAULT;
	}
}

static void parse_named_list(struct ctx *x, const config_setting_t *root, const char *key,
                             char ***names, size_t *n)
{
	const config_setting_t *l = config__list_member(x, root, key);
	*names = NULL;
	*n = 0;
	if (!l)
		return;
	*names = xcalloc((size_t)config_setting_length(l) + 1, sizeof **names);
	for (int i = 0; i < config_setting_length(l); i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *name = config__str_member(g, "name");
		if (!name || !config__valid_ident(name, 0)) {
			config__report(
			    x, g, "%s: entry needs a 'name' usable as an MQTT topic level", key);
			continue;
		}
		for (size_t j = 0; j < *n; j++)
			if (strcmp((*names)[j], name) == 0)
				config__report(x, g, "%s: duplicate name '%s'", key, name);
		const char *cal = config__str_member(g, "calendar");
		if (cal && !mconf_calendar(x->c, cal))
			config__report(x, config_setting_get_member(g, "calendar"),
			               "%s '%s': undefined calendar '%s'", key, name, cal);
		(*names)[(*n)++] = xstrdup(name);
	}
}

static int center_known(const struct mconf *c, const char *name)
{
	for (size_t i = 0; i < c->n_centers; i++)
		if (strcmp(c->center_names[i], name) == 0)
			return 1;
	return 0;
}

/* Routes are matched by the route module; here only their references. */
static void check_routes(struct ctx *x, const config_setting_t *root)
{
	const config_setting_t *l = config__list_member(x, root, "routes");
	for (int i = 0; l && i < config_setting_length(l); i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *center = config__str_member(g, "center");
		if (!center)
			config__report(x, g, "routes: each rule needs 'center'");
		else if (!center_known(x->c, center))
			config__report(x, config_setting_get_member(g, "center"),
			               "routes: undefined center '%s'", center);
	}
}

/* An optional integer member of g within [lo, hi] into *out. */
static void int_in(struct ctx *x, const config_setting_t *g, const char *name, int lo, int hi,
                   uint32_t *out)
{
	const config_setting_t *m = config_setting_get_member(g, name);
	if (!m || config_setting_type(m) != CONFIG_TYPE_INT)
		return;
	int v = config_setting_get_int(m);
	if (v < lo || v > hi)
		config__report(x, m, "alerts.%s must be between %d and %d", name, lo, hi);
	else
		*out = (uint32_t)v;
}

static void parse_alerts(struct ctx *x, const config_setting_t *al)
{
	x->c->reopen_within = 600;
	x->c->outbox_memory = 10000;
	x->c->outbox_inflight = 1000;
	if (!al || config__validate(x, al, alerts_keys, NULL, "alerts") != 0)
		return;
	const config_setting_t *m = config_setting_get_member(al, "reopen_within");
	if (m)
		pconf_setting_duration(m, &x->c->reopen_within);
	int_in(x, al, "outbox_memory", 1, 10000000, &x->c->outbox_memory);
	int_in(x, al, "outbox_inflight", 1, 50000, &x->c->outbox_inflight);
}

/* An optional duration member of g within [lo, hi] seconds into *out;
 * 1 when it was given. */
static int duration_in(struct ctx *x, const config_setting_t *g, const char *name, double lo,
                       double hi, const char *range, double *out)
{
	const config_setting_t *m = config_setting_get_member(g, name);
	double v;
	if (!m || pconf_setting_duration(m, &v) != 0)
		return 0; /* absent, or reported by the validation */
	if (v < lo || v > hi) {
		config__report(x, m, "history.%s must be between %s", name, range);
		return 0;
	}
	*out = v;
	return 1;
}

/* "a.b.c.d:port" or "[v6]:port", numeric (no DNS on the loop); the same
 * rule as forward_parse_addr. */
static int numeric_hostport(const char *s)
{
	char host[64];
	const char *port;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host)
			return 0;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		port = e + 2;
	} else {
		const char *e = strrchr(s, ':');
		if (!e || (size_t)(e - s) >= sizeof host || memchr(s, ':', (size_t)(e - s)))
			return 0;
		memcpy(host, s, (size_t)(e - s));
		host[e - s] = '\0';
		port = e + 1;
	}
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return 0;
	if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
		return 0;
	long p = strtol(port, NULL, 10);
	return p >= 1 && p <= 65535;
}

/* A Graphite path prefix: "" or dot-separated words of [A-Za-z0-9_-],
 * at most 64 bytes (forward_prefix_ok). */
static int prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n > 64)
		return 0;
	char prev = '.';
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		int word = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		           (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		if (!word && !(ch == '.' && prev != '.'))
			return 0;
		prev = ch;
	}
	return n == 0 || prev != '.';
}

/* history.forward { }: the bounds of forward_conf_check. */
static void parse_forward(struct ctx *x, const config_setting_t *g)
{
	struct mconf *c = x->c;
	c->history.forward.buffer = 1 << 20;
	if (!g || config__validate(x, g, forward_keys, NULL, "history.forward") != 0)
		return;
	const config_setting_t *m = config_setting_get_member(g, "graphite");
	const char *v = config__str_member(g, "graphite");
	if (v && !numeric_hostport(v))
		config__report(x, m,
		               "history.forward.graphite must be a numeric address with a port"
		               " (\"127.0.0.1:2003\", \"[::1]:2003\"; no host names)");
	else if (v)
		c->history.forward.graphite = xstrdup(v);
	m = config_setting_get_member(g, "influx");
	v = config__str_member(g, "influx");
	if (v && (strncmp(v, "udp://", 6) != 0 || !numeric_hostport(v + 6)))
		config__report(x, m,
		               "history.forward.influx must be udp:// and a numeric address with a"
		               " port (\"udp://127.0.0.1:8089\": InfluxDB's UDP listener)");
	else if (v)
		c->history.forward.influx = xstrdup(v);
	if (m && config_setting_get_member(g, "graphite"))
		config__report(x, m, "history.forward: graphite or influx, not both");
	m = config_setting_get_member(g, "prefix");
	v = config__str_member(g, "prefix");
	if (v && !prefix_ok(v))
		config__report(x, m,
		               "history.forward.prefix must be at most 64 bytes of dot-separated"
		               " words of letters, digits, '_' and '-'");
	else if (v)
		c->history.forward.prefix = xstrdup(v);
	m = config_setting_get_member(g, "buffer");
	if (m && config_setting_type(m) == CONFIG_TYPE_INT) {
		int b = config_setting_get_int(m);
		if (b < 4096 || b > (64 << 20))
			config__report(
			    x, m, "history.forward.buffer must be between 4096 and 67108864 bytes");
		else
			c->history.forward.buffer = (uint32_t)b;
	}
	if (!config_setting_get_member(g, "graphite") && !config_setting_get_member(g, "influx"))
		config__report(x, g,
		               "history.forward needs graphite or influx (the receiver's address)");
}

/* history { }: defaults as in src/series (series_conf_default), the same
 * bounds as series_conf_check, reported with file:line. */
static void parse_history(struct ctx *x, const config_setting_t *g)
{
	struct mconf *c = x->c;
	c->history.enabled = 1;
	c->history.raw_retention = 48 * 3600.0;
	c->history.rollup_5m_retention = 35 * 86400.0;
	c->history.rollup_1h_retention = 395 * 86400.0;
	c->history.raw_min_interval = 10;
	c->history.flush_interval = 1;
	c->history.max_labels = 64;
	c->history.forward.buffer = 1 << 20;
	if (!g || config__validate(x, g, history_keys, NULL, "history") != 0)
		return;
	const config_setting_t *fg = config_setting_get_member(g, "forward");
	if (fg && config_setting_type(fg) == CONFIG_TYPE_GROUP)
		parse_forward(x, fg);
	const config_setting_t *m = config_setting_get_member(g, "enabled");
	if (m && config_setting_type(m) == CONFIG_TYPE_BOOL)
		c->history.enabled = config_setting_get_bool(m);
	duration_in(x, g, "raw_retention", 3600, 30 * 86400.0, "1h and 30d",
	            &c->history.raw_retention);
	int m5 = duration_in(x, g, "rollup_5m_retention", 86400, 400 * 86400.0, "1d and 400d",
	                     &c->history.rollup_5m_retention);
	int h1 = duration_in(x, g, "rollup_1h_retention", 7 * 86400.0, 3650 * 86400.0,
	                     "7d and 3650d", &c->history.rollup_1h_retention);
	duration_in(x, g, "raw_min_interval", 0, 3600, "0s and 1h", &c->history.raw_min_interval);
	duration_in(x, g, "flush_interval", 0, 600, "0s and 10m", &c->history.flush_interval);
	if (c->history.rollup_5m_retention < c->history.raw_retention)
		config__report(x, m5 ? config_setting_get_member(g, "rollup_5m_retention") : g,
		               "history.rollup_5m_retention must be at least raw_retention");
	else if (c->history.rollup_1h_retention < c->history.rollup_5m_retention)
		config__report(x, h1 ? config_setting_get_member(g, "rollup_1h_retention") : g,
		               "history.rollup_1h_retention must be at least rollup_5m_retention");
	m = config_setting_get_member(g, "max_labels");
	if (m && config_setting_type(m) == CONFIG_TYPE_INT) {
		int v = config_setting_get_int(m);
		if (v < 1 || v > 256)
			config__report(x, m, "history.max_labels must be between 1 and 256");
		else
			c->history.max_labels = (uint32_t)v;
	}
}

/* reports { }: after the calendars (it names one). */
static void parse_reports(struct ctx *x, const config_setting_t *g)
{
	struct mconf *c = x->c;
	snprintf(c->reports.lang, sizeof c->reports.lang, "ja");
	c->reports.workers = 1;
	c->reports.schedule = 1;
	if (!g || config__validate(x, g, reports_keys, NULL, "reports") != 0)
		return;
	const char *cal = config__str_member(g, "calendar");
	if (cal && !mconf_calendar(c, cal))
		config__report(x, config_setting_get_member(g, "calendar"),
		               "reports: undefined calendar '%s'", cal);
	else if (cal)
		c->reports.calendar = xstrdup(cal);
	const char *lang = config__str_member(g, "lang");
	if (lang && strcmp(lang, "ja") && strcmp(lang, "en"))
		config__report(x, config_setting_get_member(g, "lang"),
		               "reports.lang must be \"ja\" or \"en\"");
	else if (lang)
		snprintf(c->reports.lang, sizeof c->reports.lang, "%s", lang);
	const config_setting_t *m = config_setting_get_member(g, "workers");
	if (m && config_setting_type(m) == CONFIG_TYPE_INT) {
		int v = config_setting_get_int(m);
		if (v < 1 || v > 8)
			config__report(x, m, "reports.workers must be between 1 and 8");
		else
			c->reports.workers = v;
	}
	m = config_setting_get_member(g, "schedule");
	if (m && config_setting_type(m) == CONFIG_TYPE_BOOL)
		c->reports.schedule = config_setting_get_bool(m);
}

static struct mconf *parse_tree(struct ctx *x)
{
	const config_setting_t *root = config_root_setting(&x->c->tree);
	config__validate(x, root, root_keys, NULL, "top level");
	parse_daemon(x, config_setting_get_member(root, "daemon"));
	parse_alerts(x, config_setting_get_member(root, "alerts"));
	parse_history(x, config_setting_get_member(root, "history"));
	parse_calendars(x, root);
	parse_reports(x, config_setting_get_member(root, "reports"));
	parse_plugins(x, root);
	x->c->mqtt = config_setting_get_member(root, "mqtt");
	x->c->http = config_setting_get_member(root, "http");
	x->c->auth = config_setting_get_member(root, "auth");
	x->c->contacts = config_setting_get_member(root, "contacts");
	x->c->oncall = config_setting_get_member(root, "oncall");
	x->c->notify = config_setting_get_member(root, "notify");
	x->c->centers = config__list_member(x, root, "centers");
	x->c->routes = config__list_member(x, root, "routes");
	parse_named_list(x, root, "centers", &x->c->center_names, &x->c->n_centers);
	check_routes(x, root);
	config__parse_customers(x, root);
	config__parse_downtimes(x, root);
	if (x->errors) {
		mconf_free(x->c);
		return NULL;
	}
	return x->c;
}

static struct mconf *load(const char *path, const char *text, struct loader *plugins,
                          const char *datadir, config_err_fn err, void *ud)
{
	struct ctx x = { .loader = plugins, .datadir = datadir, .err = err, .ud = ud };
	x.c = xcalloc(1, sizeof *x.c);
	config_init(&x.c->tree);
	x.c->tree_live = 1;
	x.c->path = xstrdup(path ? path : "(string)");
	if (path) {
		char *dir = xstrdup(path);
		config_set_include_dir(&x.c->tree, dirname(dir));
		free(dir);
	}
	int ok = path ? config_read_file(&x.c->tree, path) : config_read_string(&x.c->tree, text);
	if (!ok) {
		char msg[1200];
		const char *f = config_error_file(&x.c->tree);
		if (config_error_type(&x.c->tree) == CONFIG_ERR_FILE_IO)
			snprintf(msg, sizeof msg, "%s: cannot read file", path);
		else
			snprintf(msg, sizeof msg, "%s:%d: %s", f ? f : x.c->path,
			         config_error_line(&x.c->tree), config_error_text(&x.c->tree));
		err(ud, msg);
		mconf_free(x.c);
		return NULL;
	}
	return parse_tree(&x);
}

struct mconf *config_load(const char *path, struct loader *plugins, const char *datadir,
                          config_err_fn err, void *ud)
{
	return load(path, NULL, plugins, datadir, err, ud);
}

struct mconf *config_load_string(const char *text, struct loader *plugins, const char *datadir,
                                 config_err_fn err, void *ud)
{
	return load(NULL, text, plugins, datadir, err, ud);
}

int config_peek_daemon(const char *path, char **plugin_dir, char **data_dir, config_err_fn err,
                       void *ud)
{
	config_t t;
	config_init(&t);
	char *dir = xstrdup(path);
	config_set_include_dir(&t, dirname(dir));
	free(dir);
	if (!config_read_file(&t, path)) {
		char msg[1200];
		const char *f = config_error_file(&t);
		if (config_error_type(&t) == CONFIG_ERR_FILE_IO)
			snprintf(msg, sizeof msg, "%s: cannot read file", path);
		else
			snprintf(msg, sizeof msg, "%s:%d: %s", f ? f : path, config_error_line(&t),
			         config_error_text(&t));
		err(ud, msg);
		config_destroy(&t);
		return -1;
	}
	const config_setting_t *d = config_lookup(&t, "daemon");
	const char *pd = config__str_member(d, "plugin_dir"),
	           *dd = config__str_member(d, "data_dir");
	*plugin_dir = xstrdup(pd ? pd : MAMORI_PLUGINDIR);
	*data_dir = xstrdup(dd ? dd : MAMORI_DATADIR);
	config_destroy(&t);
	return 0;
}

int config_peek_privs(const char *path, struct cfg_privs *out, config_err_fn err, void *ud)
{
	memset(out, 0, sizeof *out);
	config_t t;
	config_init(&t);
	char *dir = xstrdup(path);
	config_set_include_dir(&t, dirname(dir));
	free(dir);
	if (!config_read_file(&t, path)) {
		char msg[1200];
		const char *f = config_error_file(&t);
		if (config_error_type(&t) == CONFIG_ERR_FILE_IO)
			snprintf(msg, sizeof msg, "%s: cannot read file", path);
		else
			snprintf(msg, sizeof msg, "%s:%d: %s", f ? f : path, config_error_line(&t),
			         config_error_text(&t));
		err(ud, msg);
		config_destroy(&t);
		return -1;
	}
	const config_setting_t *d = config_lookup(&t, "daemon"), *m;
	int rc = 0;
	if (d && (m = config_setting_get_member(d, "user")) &&
	    config_setting_type(m) != CONFIG_TYPE_STRING) {
		err(ud, "daemon.user must be a string (a user name)");
		rc = -1;
	}
	if (d && (m = config_setting_get_member(d, "allow_root"))) {
		if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
			err(ud, "daemon.allow_root must be true or false");
			rc = -1;
		} else {
			out->allow_root = config_setting_get_bool(m);
		}
	}
	const char *u = config__str_member(d, "user"), *sd = config__str_member(d, "state_dir");
	out->user = xstrdup(u && *u ? u : "mamori");
	out->state_dir = xstrdup(sd ? sd : MAMORI_STATEDIR);
	config_destroy(&t);
	if (rc)
		config_privs_free(out);
	return rc;
}

void config_privs_free(struct cfg_privs *p)
{
	free(p->user);
	free(p->state_dir);
	p->user = p->state_dir = NULL;
}

void mconf_drop_tree(struct mconf *c)
{
	if (!c || !c->tree_live)
		return;
	config_destroy(&c->tree);
	c->tree_live = 0;
	c->mqtt = c->http = c->auth = c->centers = c->routes = NULL;
	c->contacts = c->oncall = c->notify = NULL;
	for (size_t i = 0; i < c->n_plugins; i++)
		c->plugins[i].s = NULL;
	for (size_t i = 0; i < c->n_customers; i++) {
		struct cfg_customer *cu = &c->customers[i];
		cu->sla = NULL;
		for (size_t j = 0; j < cu->n_agents; j++)
			cu->agents[j].s = NULL;
		for (size_t j = 0; j < cu->n_assets; j++)
			for (size_t k = 0; k < cu->assets[j].n_checks; k++) {
				struct cfg_check *ck = &cu->assets[j].checks[k];
				ck->s = NULL;
				ck->name = ck->plugin = NULL; /* they were the tree's */
			}
	}
}

void cfg_downtimes_free(struct cfg_downtime *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].id);
		free(d[i].customer);
		free(d[i].asset);
		free(d[i].check);
		free(d[i].comment);
		free(d[i].author);
		cal_free(d[i].weekly);
	}
	free(d);
}

void cfg_calendars_free(struct cfg_calendar *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		cal_free(c[i].cal);
	}
	free(c);
}

void mconf_free(struct mconf *c)
{
	if (!c)
		return;
	mconf_drop_tree(c);
	for (size_t i = 0; i < c->n_customers; i++) {
		struct cfg_customer *cu = &c->customers[i];
		for (size_t j = 0; j < cu->n_assets; j++) {
			struct cfg_asset *a = &cu->assets[j];
			free(a->checks);
			free(a->name);
			free(a->type);
			free(a->address);
			free(a->parent);
		}
		for (size_t j = 0; j < cu->n_agents; j++) {
			free(cu->agents[j].plugin);
			free(cu->agents[j].asset_type);
		}
		for (size_t j = 0; j < cu->n_tags; j++)
			free(cu->tags[j]);
		free(cu->tags);
		free(cu->agents);
		free(cu->assets);
		free(cu->id);
		free(cu->name);
		free(cu->region);
		free(cu->sla_calendar);
		for (size_t j = 0; j < cu->report.n_email; j++)
			free(cu->report.email[j]);
		free(cu->report.email);
		free(cu->report.lang);
		free(cu->report.calendar);
	}
	free(c->customers);
	free(c->reports.calendar);
	free(c->history.forward.graphite);
	free(c->history.forward.influx);
	free(c->history.forward.prefix);
	cfg_downtimes_free(c->downtimes, c->n_downtimes);
	cfg_calendars_free(c->calendars, c->n_calendars);
	for (size_t i = 0; i < c->n_plugins; i++)
		free(c->plugins[i].name);
	free(c->plugins);
	for (size_t i = 0; i < c->n_centers; i++)
		free(c->center_names[i]);
	free(c->center_names);
	free(c->state_dir);
	free(c->plugin_dir);
	free(c->data_dir);
	free(c->node);
	free(c->path);
	free(c);
}
