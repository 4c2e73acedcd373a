/*
 * notify_conf: the `contacts`, `oncall` and `notify` groups -> struct
 * notify_conf (see doc/notifications.md for the keys).
 *
 * Every error names file and line and parsing goes on, so one run shows
 * them all; any error refuses the whole configuration (startup stops, a
 * reload keeps the running one).  Warnings do not refuse it: a schedule
 * with gaps (nobody on call, its times in the schedule's zone, over the
 * next NOTIFY_GAP_DAYS days), a tier of a center that no schedule covers.
 *
 * Channels: each `notify.channels` block is an instance of a notifier
 * plugin (ABI 1.1), its keys validated against the plugin's table and
 * created here with init, while the tree is alive - unless the block is
 * unchanged since the running configuration, whose instance is then
 * taken over at install (a reload does not reconnect a mailbox).
 *
 * Must never: keep a pointer into the libconfig tree (it is dropped after
 * the load), open sockets (a notifier's init may start its own timers).
 */
#include "notify/notify_int.h"
#include "alert/alert.h"
#include "cal/cal.h"
#include "config/config.h"
#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/secret.h"

#include <ctype.h>
#include <libconfig.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(n, t)                                                                                  \
	{                                                                                          \
		.name = n, .type = t                                                               \
	}
#define KEYR(n, t)                                                                                 \
	{                                                                                          \
		.name = n, .type = t, .flags = MAMORI_KEY_REQUIRED                                 \
	}
#define KEYEND                                                                                     \
	{                                                                                          \
		.name = NULL                                                                       \
	}
#define LIST          (-1) /* a list of groups: checked by its parser */
#define MAX_MEMBERS   64
#define MAX_GAPS_SHOW 3

static const struct mamori_key contact_keys[] = {
	KEYR("name", MAMORI_KEY_STRING),
	KEY("email", MAMORI_KEY_STRING),
	KEY("phone", MAMORI_KEY_STRING),
	KEY("language", MAMORI_KEY_STRING),
	KEY("timezone", MAMORI_KEY_STRING),
	KEY("channels", LIST),
	KEY("quiet_hours", MAMORI_KEY_STRING_LIST),
	KEY("quiet_pass", MAMORI_KEY_STRING_LIST),
	KEYEND,
};
static const struct mamori_key crule_keys[] = {
	KEYR("channel", MAMORI_KEY_STRING),
	KEY("severity", MAMORI_KEY_STRING_LIST),
	KEY("events", MAMORI_KEY_STRING_LIST),
	KEYEND,
};
static const struct mamori_key sched_keys[] = {
	KEYR("center", MAMORI_KEY_STRING),
	KEY("tier", MAMORI_KEY_STRING),
	KEY("timezone", MAMORI_KEY_STRING),
	KEY("layers", LIST),
	KEY("overrides", LIST),
	KEY("fallback", MAMORI_KEY_STRING),
	KEYEND,
};
static const struct mamori_key layer_keys[] = {
	KEY("name", MAMORI_KEY_STRING),
	KEYR("members", MAMORI_KEY_STRING_LIST),
	KEY("rotation", MAMORI_KEY_STRING),
	KEY("handoff", MAMORI_KEY_STRING),
	KEY("start", MAMORI_KEY_STRING),
	KEY("hours", MAMORI_KEY_STRING_LIST),
	KEY("calendar", MAMORI_KEY_STRING),
	KEY("outside", MAMORI_KEY_STRING),
	KEYEND,
};
static const struct mamori_key override_keys[] = {
	KEYR("contact", MAMORI_KEY_STRING),
	KEYR("from", MAMORI_KEY_STRING),
	KEYR("until", MAMORI_KEY_STRING),
	KEYEND,
};
static const struct mamori_key notify_keys[] = {
	KEY("channels", LIST),
	KEY("events", MAMORI_KEY_STRING_LIST),
	KEY("repeat", MAMORI_KEY_DURATION),
	KEY("rules", LIST),
	KEY("bundle_window", MAMORI_KEY_DURATION),
	KEY("hold", MAMORI_KEY_DURATION),
	KEY("sms_per_hour", MAMORI_KEY_INT),
	KEY("retry_min", MAMORI_KEY_DURATION),
	KEY("retry_max", MAMORI_KEY_DURATION),
	KEY("give_up_after", MAMORI_KEY_DURATION),
	KEY("send_timeout", MAMORI_KEY_DURATION),
	KEY("link_base", MAMORI_KEY_STRING),
	KEY("reply_to", MAMORI_KEY_STRING),
	KEY("message_id_domain", MAMORI_KEY_STRING),
	KEY("language", MAMORI_KEY_STRING),
	KEY("secret_file", MAMORI_KEY_FILE),
	KEY("runbooks", LIST),
	KEY("mail_channel", MAMORI_KEY_STRING),
	KEYEND,
};
static const struct mamori_key rule_keys[] = {
	KEY("center", MAMORI_KEY_STRING),   KEY("service", MAMORI_KEY_STRING),
	KEY("customer", MAMORI_KEY_STRING), KEY("events", MAMORI_KEY_STRING_LIST),
	KEY("repeat", MAMORI_KEY_DURATION), KEYEND,
};
static const struct mamori_key runbook_keys[] = {
	KEY("service", MAMORI_KEY_STRING),
	KEY("check", MAMORI_KEY_STRING),
	KEY("customer", MAMORI_KEY_STRING),
	KEYR("text", MAMORI_KEY_STRING),
	KEYEND,
};
/* the core's keys of a channel block; the rest are the plugin's */
static const struct mamori_key channel_keys[] = {
	KEYR("name", MAMORI_KEY_STRING),
	KEYR("plugin", MAMORI_KEY_STRING),
	KEY("segments", MAMORI_KEY_INT),
	KEYEND,
};

/* ---- reporting ---- */

struct px {
	struct mconf *c;
	struct loader *loader;
	struct notify_conf *nc;
	const struct notify_conf *old;
	int errors;
	/* the centers: name, calendar, tier names (borrowed from the tree
	 * while parsing only) */
	struct pcenter {
		const char *name;
		const struct cal *cal;
		const char *tiers[16];
		size_t n_tiers;
	} centers[64];
	size_t n_centers;
};

static void report(struct px *x, int level, const config_setting_t *s, const char *fmt, va_list ap)
{
	char msg[1200], where[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_always("config", level, "%s: %s", pconf_where(s, where, sizeof where), msg);
}

static void perr(struct px *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(struct px *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(x, LOG_LVL_ERR, s, fmt, ap);
	va_end(ap);
	x->errors++;
}

static void pwarn(struct px *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pwarn(struct px *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(x, LOG_LVL_WARNING, s, fmt, ap);
	va_end(ap);
}

static void on_conf_error(void *ud, const char *msg)
{
	struct px *x = ud;
	log_always("config", LOG_LVL_ERR, "%s", msg);
	x->errors++;
}

static int validate(struct px *x, const config_setting_t *g, const struct mamori_key *keys,
                    const struct mamori_key *extra, const char *what)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		perr(x, g, "%s must be a group { ... }", what);
		return -1;
	}
	return pconf_validate(g, keys, extra, what, on_conf_error, x) ? -1 : 0;
}

/* ---- small readers (types already validated) ---- */

static const char *str(const config_setting_t *g, const char *key)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m)
	                                                         : NULL;
}

/* The member to name in an error, or its group when it is absent. */
static const config_setting_t *at(const config_setting_t *g, const char *key)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	return m ? m : g;
}

static char *cdup(const config_setting_t *g, const char *key)
{
	const char *s = str(g, key);
	return s ? xstrdup(s) : NULL;
}

/* A string or a list of strings into out (at most max); the count. */
static size_t strs(const config_setting_t *g, const char *key, const char **out, size_t max)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	size_t n = 0;
	if (!m)
		return 0;
	if (config_setting_type(m) == CONFIG_TYPE_STRING) {
		out[0] = config_setting_get_string(m);
		return 1;
	}
	for (int i = 0; i < config_setting_length(m) && n < max; i++) {
		const char *s = config_setting_get_string(config_setting_get_elem(m, (unsigned)i));
		if (s)
			out[n++] = s;
	}
	return n;
}

static int duration(const config_setting_t *g, const char *key, double *out)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	return m && pconf_setting_duration(m, out) == 0 ? 1 : 0;
}

/* A list member (or NULL); anything else but a list is an error. */
static const config_setting_t *list(struct px *x, const config_setting_t *g, const char *key)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	if (m && config_setting_type(m) != CONFIG_TYPE_LIST) {
		perr(x, m, "'%s' must be a list ( { ... }, ... )", key);
		return NULL;
	}
	return m;
}

static int valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return 0;
	return 1;
}

static uint64_t hash_setting(const config_setting_t *s, uint64_t h)
{
	const char *name = config_setting_name(s);
	for (const char *p = name ? name : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ (unsigned)config_setting_type(s)) * 1099511628211ULL;
	char buf[64];
	const char *v = NULL;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING: v = config_setting_get_string(s); break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, sizeof buf, "%lld", (long long)config_setting_get_int64(s));
		v = buf;
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, sizeof buf, "%.17g", config_setting_get_float(s));
		v = buf;
		break;
	case CONFIG_TYPE_BOOL: v = config_setting_get_bool(s) ? "t" : "f"; break;
	default:
		for (int i = 0; i < config_setting_length(s); i++)
			h = hash_setting(config_setting_get_elem(s, (unsigned)i), h);
	}
	for (const char *p = v ? v : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

/* ---- events and severities ---- */

uint32_t nconf_event_bit(const char *name)
{
	if (strcmp(name, "repeat") == 0)
		return NEV_REPEAT;
	for (int t = 0; t < ALERT_EV_COUNT; t++)
		if (strcmp(name, alert_event_name((enum alert_ev_type)t)) == 0)
			return 1u << t;
	return 0;
}

#define EV(t) (1u << (t))
#define DEFAULT_EVENTS                                                                             \
	(EV(ALERT_EV_OPENED) | EV(ALERT_EV_REOPENED) | EV(ALERT_EV_ESCALATED) |                    \
	 EV(ALERT_EV_SLA_BREACH) | EV(ALERT_EV_RESOLVED) | NEV_REPEAT)

static int events_of(struct px *x, const config_setting_t *g, uint32_t *out)
{
	const char *v[32];
	size_t n = strs(g, "events", v, 32);
	if (!n)
		return 0;
	uint32_t bits = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t b = nconf_event_bit(v[i]);
		if (!b || b == EV(ALERT_EV_UPDATED) || b == EV(ALERT_EV_NOTIFY_FAILED)) {
			perr(
			    x, at(g, "events"),
			    "unknown event '%s' (known: opened, reopened, escalated, sla_breach, "
			    "resolved, acknowledged, unacknowledged, dispatched, commented, waiting, "
			    "repeat)",
			    v[i]);
			continue;
		}
		bits |= b;
	}
	*out = bits;
	return 1;
}

static unsigned severities_of(struct px *x, const config_setting_t *g, const char *key,
                              unsigned dflt)
{
	const char *v[8];
	size_t n = strs(g, key, v, 8);
	if (!n)
		return dflt;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], "warning") == 0)
			bits |= 1u << 1;
		else if (strcmp(v[i], "critical") == 0)
			bits |= 1u << 2;
		else if (strcmp(v[i], "unknown") == 0)
			bits |= 1u << 3;
		else
			perr(x, config_setting_get_member(g, key),
			     "'%s' is not a severity (warning, critical, unknown)", v[i]);
	}
	return bits;
}

/* ---- centers (the alerting module owns them; here: names, calendars and
 * tier names, to check references and to know each center's zone) ---- */

static void read_centers(struct px *x)
{
	const config_setting_t *l = x->c->centers;
	for (int i = 0; l && i < config_setting_length(l) && x->n_centers < 64; i++) {
		const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *name = str(g, "name"), *cal = str(g, "calendar");
		if (!name)
			continue;
		struct pcenter *pc = &x->centers[x->n_centers++];
		memset(pc, 0, sizeof *pc);
		pc->name = name;
		pc->cal = cal ? mconf_calendar(x->c, cal) : NULL;
		const config_setting_t *tl = config_setting_get_member(g, "tiers");
		for (int k = 0; tl && k < config_setting_length(tl) && pc->n_tiers < 16; k++) {
			const char *tn = str(config_setting_get_elem(tl, (unsigned)k), "name");
			if (tn)
				pc->tiers[pc->n_tiers++] = tn;
		}
	}
}

static const struct pcenter *find_center(const struct px *x, const char *name)
{
	for (size_t i = 0; i < x->n_centers; i++)
		if (strcmp(x->centers[i].name, name) == 0)
			return &x->centers[i];
	return NULL;
}

/* A zone of its own: a 24x7 calendar in tz (its hours are never read). */
static struct cal *zone_new(struct px *x, const config_setting_t *at, const char *tz)
{
	char err[CAL_ERRLEN];
	const char *h[] = { "24x7" };
	struct cal *c = cal_new(tz, tz, h, 1, err, sizeof err);
	if (!c)
		perr(x, at, "timezone '%s': %s", tz, err);
	return c;
}

/* ---- channels ---- */

static void channel_free(struct nchannel *ch)
{
	if (ch->inst && ch->mod && ch->mod->def) {
		host_forget_instance(ch->inst);
		ch->mod->def->destroy(ch->inst);
	}
	free(ch->name);
	free(ch->plugin);
	memset(ch, 0, sizeof *ch);
}

static void parse_channel(struct px *x, const config_setting_t *g)
{
	struct notify_conf *nc = x->nc;
	const char *name = str(g, "name"), *plugin = str(g, "plugin");
	if (config_setting_type(g) != CONFIG_TYPE_GROUP || !name || !plugin) {
		perr(x, g, "notify.channels: each channel needs 'name' and 'plugin'");
		return;
	}
	if (!valid_name(name)) {
		perr(x, g, "notify.channels: name '%s' must be letters, digits, '_', '-', '.'",
		     name);
		return;
	}
	if (nconf_channel(nc, name) >= 0) {
		perr(x, g, "notify.channels: channel '%s' is defined twice", name);
		return;
	}
	if (nc->n_channels == NOTIFY_MAX_CHANNELS) {
		perr(x, g, "notify.channels: at most %d channels", NOTIFY_MAX_CHANNELS);
		return;
	}
	struct plugin_mod *m = loader_find(x->loader, plugin);
	if (!m) {
		perr(x, at(g, "plugin"), "channel '%s': no plugin named '%s' in the plugin_dir",
		     name, plugin);
		return;
	}
	if (!m->def) {
		perr(x, at(g, "plugin"), "channel '%s': %s", name,
		     m->refused ? m->refused : "plugin refused");
		return;
	}
	if (!(m->def->flags & MAMORI_PLUGIN_NOTIFIER)) {
		perr(x, at(g, "plugin"),
		     "channel '%s': plugin '%s' is a check plugin, not a notifier", name, plugin);
		return;
	}
	char what[160];
	snprintf(what, sizeof what, "channel '%s'", name);
	if (pconf_validate(g, m->def->instance_keys, channel_keys, what, on_conf_error, x))
		return;
	struct nchannel *ch = &nc->channels[nc->n_channels++];
	memset(ch, 0, sizeof *ch);
	ch->name = xstrdup(name);
	ch->plugin = xstrdup(plugin);
	ch->mod = m;
	ch->flags = m->def->flags;
	ch->hash = hash_setting(g, 1469598103934665603ULL);
	ch->reuse = -1;
	pconf_where(g, ch->where, sizeof ch->where);
	ch->segments = 1;
	const config_setting_t *sg = config_setting_get_member(g, "segments");
	if (sg) {
		long long v = config_setting_get_int64(sg);
		if (v < 1 || v > 10)
			perr(x, sg, "channel '%s': segments must be 1..10", name);
		else
			ch->segments = (unsigned)v;
	}
	/* an unchanged block keeps the running instance (taken at install) */
	if (x->old)
		for (size_t i = 0; i < x->old->n_channels; i++) {
			const struct nchannel *o = &x->old->channels[i];
			if (o->inst && o->mod == m && o->hash == ch->hash &&
			    strcmp(o->name, name) == 0) {
				ch->reuse = (int)i;
				return;
			}
		}
	struct mamori_conf conf = { .s = g, .on_error = on_conf_error, .ud = x };
	int before = x->errors;
	int rc = m->def->init(host_table(), &conf, &ch->inst);
	pconf_release(&conf);
	if (rc != 0) {
		if (x->errors == before)
			perr(x, g, "channel '%s': plugin '%s' init failed: %s", name, plugin,
			     host_table()->strerror(rc));
		m->def->destroy(ch->inst);
		ch->inst = NULL;
		return;
	}
	char label[96];
	snprintf(label, sizeof label, "notify:%s", name);
	host_name_instance(ch->inst, label);
}

/* ---- contacts ---- */

static int e164(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == '"' ||
		    *p == '\\' || *p == ';' || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

static int lang_ok(const char *s)
{
	return strcmp(s, "ja") == 0 || strcmp(s, "en") == 0;
}

/* Does the contact have what the channel needs? */
static int contact_fits(const struct ncontact *ct, const struct nchannel *ch)
{
	if ((ch->flags & MAMORI_PLUGIN_NEEDS_EMAIL) && !ct->email)
		return 0;
	if ((ch->flags & MAMORI_PLUGIN_NEEDS_PHONE) && !ct->phone)
		return 0;
	return 1;
}

static void contact_free(struct ncontact *ct)
{
	free(ct->name);
	free(ct->email);
	free(ct->phone);
	free(ct->lang);
	cal_free(ct->tz);
	cal_free(ct->quiet);
	free(ct->rules);
}

static void parse_contact(struct px *x, const config_setting_t *g, const char *lang)
{
	struct notify_conf *nc = x->nc;
	if (validate(x, g, contact_keys, NULL, "contact") != 0)
		return;
	const char *name = str(g, "name");
	if (!valid_name(name)) {
		perr(x, g, "contact name '%s' must be letters, digits, '_', '-', '.'", name);
		return;
	}
	if (nconf_contact(nc, name) >= 0) {
		perr(x, g, "contact '%s' is defined twice", name);
		return;
	}
	struct ncontact ct = { 0 };
	ct.name = xstrdup(name);
	ct.email = cdup(g, "email");
	ct.phone = cdup(g, "phone");
	ct.lang = xstrdup(str(g, "language") ? str(g, "language") : lang);
	int bad = 0;
	if (ct.email && !email_ok(ct.email)) {
		perr(x, at(g, "email"), "contact '%s': '%s' is not an e-mail address", name,
		     ct.email);
		bad = 1;
	}
	if (ct.phone && !e164(ct.phone)) {
		perr(x, at(g, "phone"),
		     "contact '%s': phone '%s' must be E.164 (\"+81312345678\": '+', country code, "
		     "number, no spaces)",
		     name, ct.phone);
		bad = 1;
	}
	if (!lang_ok(ct.lang)) {
		perr(x, at(g, "language"),
		     "contact '%s': language must be \"ja\" or \"en\", not '%s'", name, ct.lang);
		bad = 1;
	}
	const char *tz = str(g, "timezone");
	if (!(ct.tz = zone_new(x, at(g, "timezone"), tz ? tz : "Asia/Tokyo")))
		bad = 1;
	const char *quiet[16];
	size_t nq = strs(g, "quiet_hours", quiet, 16);
	if (nq && ct.tz) {
		char err[CAL_ERRLEN];
		ct.quiet = cal_new("quiet", tz ? tz : "Asia/Tokyo", quiet, nq, err, sizeof err);
		if (!ct.quiet) {
			perr(x, at(g, "quiet_hours"), "contact '%s': quiet_hours: %s", name, err);
			bad = 1;
		}
	}
	ct.quiet_pass = severities_of(x, g, "quiet_pass", 1u << 2);
	const config_setting_t *rl = list(x, g, "channels");
	if (rl) {
		int n = config_setting_length(rl);
		ct.rules = xcalloc((size_t)n + 1, sizeof *ct.rules);
		for (int i = 0; i < n; i++) {
			const config_setting_t *r = config_setting_get_elem(rl, (unsigned)i);
			if (validate(x, r, crule_keys, NULL, "contact channel rule") != 0) {
				bad = 1;
				continue;
			}
			const char *chn = str(r, "channel");
			long ci = nconf_channel(nc, chn);
			if (ci < 0) {
				perr(x, at(r, "channel"),
				     "contact '%s': no channel '%s' in notify.channels", name, chn);
				bad = 1;
				continue;
			}
			if (!contact_fits(&ct, &nc->channels[ci])) {
				perr(x, r, "contact '%s': channel '%s' needs %s", name, chn,
				     (nc->channels[ci].flags & MAMORI_PLUGIN_NEEDS_PHONE)
				         ? "a 'phone' number"
				         : "an 'email' address");
				bad = 1;
				continue;
			}
			struct ncrule *cr = &ct.rules[ct.n_rules++];
			cr->channel = (unsigned)ci;
			cr->severity = severities_of(x, r, "severity", NSEV_ALL);
			events_of(x, r, &cr->events);
		}
	} else {
		/* default: every channel that reaches the contact by an address */
		ct.rules = xcalloc(nc->n_channels + 1, sizeof *ct.rules);
		for (size_t i = 0; i < nc->n_channels; i++) {
			const struct nchannel *ch = &nc->channels[i];
			if (!(ch->flags &
			      (MAMORI_PLUGIN_NEEDS_EMAIL | MAMORI_PLUGIN_NEEDS_PHONE)) ||
			    !contact_fits(&ct, ch))
				continue;
			ct.rules[ct.n_rules++] =
			    (struct ncrule){ .channel = (unsigned)i, .severity = NSEV_ALL };
		}
	}
	if (bad) {
		contact_free(&ct);
		return;
	}
	nc->contacts = xrealloc(nc->contacts, (nc->n_contacts + 1) * sizeof *nc->contacts);
	nc->contacts[nc->n_contacts++] = ct;
}

/* ---- schedules ---- */

static const char *const wdays[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* "09:00" (daily) or "mon 09:00" (weekly): *wday -1 when no day. */
static int parse_handoff(const char *s, int *wday, int *min)
{
	*wday = -1;
	if (strlen(s) == 9 && s[3] == ' ') {
		for (int i = 0; i < 7; i++)
			if (strncmp(s, wdays[i], 3) == 0)
				*wday = i;
		if (*wday < 0)
			return -1;
		s += 4;
	}
	if (strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*min = h * 60 + m;
	return 0;
}

static int parse_date(const char *s, int64_t *day)
{
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
	    m > 12 || d < 1 || d > 31)
		return -1;
	int64_t n = notify__days(y, m, d);
	int yy, mm, dd;
	notify__civil(n, &yy, &mm, &dd);
	if (yy != y || mm != m || dd != d)
		return -1; /* 2026-02-30 */
	*day = n;
	return 0;
}

static void layer_free(struct nlayer *l)
{
	free(l->name);
	free(l->members);
	cal_free(l->hours);
}

static void sched_free(struct nsched *s)
{
	free(s->center);
	free(s->tier);
	cal_free(s->own_zone);
	for (size_t i = 0; i < s->n_layers; i++)
		layer_free(&s->layers[i]);
	free(s->layers);
	free(s->ov);
}

static int parse_layer(struct px *x, struct nsched *s, const config_setting_t *g, size_t index,
                       const char *tzname)
{
	struct notify_conf *nc = x->nc;
	if (validate(x, g, layer_keys, NULL, "oncall layer") != 0)
		return -1;
	struct nlayer l = { 0 };
	char dname[32];
	snprintf(dname, sizeof dname, "layer%zu", index + 1);
	l.name = xstrdup(str(g, "name") ? str(g, "name") : dname);
	int bad = 0;
	const char *mem[MAX_MEMBERS];
	size_t nm = strs(g, "members", mem, MAX_MEMBERS);
	l.members = xcalloc(nm + 1, sizeof *l.members);
	for (size_t i = 0; i < nm; i++) {
		long ci = nconf_contact(nc, mem[i]);
		if (ci < 0) {
			perr(x, at(g, "members"), "layer '%s': no contact named '%s'", l.name,
			     mem[i]);
			bad = 1;
			continue;
		}
		l.members[l.n_members++] = (size_t)ci;
	}
	const char *rot = str(g, "rotation");
	l.period_days = 7;
	if (rot && strcmp(rot, "daily") == 0)
		l.period_days = 1;
	else if (rot && strcmp(rot, "weekly") != 0) {
		perr(x, at(g, "rotation"),
		     "layer '%s': rotation must be \"daily\" or \"weekly\", not '%s'", l.name, rot);
		bad = 1;
	}
	int wday = -1;
	const char *ho = str(g, "handoff");
	l.hand_min = 9 * 60;
	if (ho && parse_handoff(ho, &wday, &l.hand_min) != 0) {
		perr(x, at(g, "handoff"),
		     "layer '%s': handoff must be \"HH:MM\" (daily) or \"mon HH:MM\" (weekly), "
		     "not '%s'",
		     l.name, ho);
		bad = 1;
	}
	if (l.period_days == 1 && wday >= 0) {
		perr(x, at(g, "handoff"),
		     "layer '%s': a daily rotation hands off at \"HH:MM\", without a weekday",
		     l.name);
		bad = 1;
	}
	const char *st = str(g, "start");
	l.anchor_day = notify__days(2024, 1, 1); /* a Monday */
	if (st && parse_date(st, &l.anchor_day) != 0) {
		perr(x, at(g, "start"), "layer '%s': start must be a date \"YYYY-MM-DD\", not '%s'",
		     l.name, st);
		bad = 1;
	}
	if (l.period_days == 7) {
		if (wday < 0)
			wday = 1; /* Monday */
		/* handoff 0: the first such weekday on or after start
		 * (1970-01-01 was a Thursday) */
		int have = (int)(((l.anchor_day % 7) + 7 + 4) % 7);
		l.anchor_day += (wday - have + 7) % 7;
	}
	const char *hours[32];
	size_t nh = strs(g, "hours", hours, 32);
	const char *calname = str(g, "calendar"), *outside = str(g, "outside");
	if ((nh > 0) + (calname != NULL) + (outside != NULL) > 1) {
		perr(x, g, "layer '%s': give one of hours, calendar, outside", l.name);
		bad = 1;
	} else if (nh) {
		char err[CAL_ERRLEN];
		l.kind = NL_HOURS;
		if (!(l.hours = cal_new(l.name, tzname, hours, nh, err, sizeof err))) {
			perr(x, at(g, "hours"), "layer '%s': hours: %s", l.name, err);
			bad = 1;
		}
	} else if (calname || outside) {
		const char *cn = calname ? calname : outside;
		l.kind = calname ? NL_CAL_OPEN : NL_CAL_CLOSED;
		if (!(l.cal = mconf_calendar(x->c, cn))) {
			perr(x, config_setting_get_member(g, calname ? "calendar" : "outside"),
			     "layer '%s': undefined calendar '%s'", l.name, cn);
			bad = 1;
		}
	}
	if (bad) {
		layer_free(&l);
		return -1;
	}
	s->layers = xrealloc(s->layers, (s->n_layers + 1) * sizeof *s->layers);
	s->layers[s->n_layers++] = l;
	return 0;
}

static int parse_override(struct px *x, struct nsched *s, const config_setting_t *g)
{
	if (validate(x, g, override_keys, NULL, "oncall override") != 0)
		return -1;
	const char *who = str(g, "contact"), *from = str(g, "from"), *until = str(g, "until");
	long ci = nconf_contact(x->nc, who);
	struct noverride o = { 0 };
	int bad = 0;
	if (ci < 0) {
		perr(x, at(g, "contact"), "override: no contact named '%s'", who);
		bad = 1;
	}
	if (cal_parse_local(s->zone, from, &o.from) != 0) {
		perr(x, at(g, "from"),
		     "override: from must be a local time \"YYYY-MM-DD HH:MM\", not '%s'", from);
		bad = 1;
	}
	if (cal_parse_local(s->zone, until, &o.until) != 0) {
		perr(x, at(g, "until"),
		     "override: until must be a local time \"YYYY-MM-DD HH:MM\", not '%s'", until);
		bad = 1;
	}
	if (!bad && o.until <= o.from) {
		perr(x, g, "override: until (%s) must be after from (%s)", until, from);
		bad = 1;
	}
	if (bad)
		return -1;
	o.contact = (size_t)ci;
	s->ov = xrealloc(s->ov, (s->n_ov + 1) * sizeof *s->ov);
	s->ov[s->n_ov++] = o;
	return 0;
}

static void parse_sched(struct px *x, const config_setting_t *g)
{
	struct notify_conf *nc = x->nc;
	if (validate(x, g, sched_keys, NULL, "oncall schedule") != 0)
		return;
	struct nsched s = { .fallback = -1 };
	s.center = xstrdup(str(g, "center"));
	s.tier = cdup(g, "tier");
	pconf_where(g, s.where, sizeof s.where);
	int bad = 0;
	const struct pcenter *pc = find_center(x, s.center);
	if (!pc) {
		perr(x, at(g, "center"), "oncall: no center named '%s'", s.center);
		sched_free(&s);
		return;
	}
	if (s.tier) {
		size_t k = 0;
		while (k < pc->n_tiers && strcmp(pc->tiers[k], s.tier) != 0)
			k++;
		if (k == pc->n_tiers) {
			perr(x, at(g, "tier"), "oncall: center '%s' has no tier '%s'", s.center,
			     s.tier);
			bad = 1;
		}
	}
	for (size_t i = 0; i < nc->n_scheds; i++)
		if (strcmp(nc->scheds[i].center, s.center) == 0 &&
		    ((!nc->scheds[i].tier && !s.tier) ||
		     (nc->scheds[i].tier && s.tier && strcmp(nc->scheds[i].tier, s.tier) == 0))) {
			perr(x, g, "oncall: a second schedule for %s/%s (the first is at %s)",
			     s.center, s.tier ? s.tier : "*", nc->scheds[i].where);
			bad = 1;
		}
	const char *tz = str(g, "timezone");
	const char *tzname = tz;
	if (tz) {
		s.own_zone = zone_new(x, at(g, "timezone"), tz);
		s.zone = s.own_zone;
		if (!s.zone)
			bad = 1;
	} else {
		s.zone = pc->cal;
		/* the center's calendar's zone; its name is the calendar's
		 * `timezone` in the tree */
		const config_setting_t *cl = config_lookup(&x->c->tree, "calendars");
		for (int i = 0; cl && i < config_setting_length(cl); i++) {
			const config_setting_t *cg = config_setting_get_elem(cl, (unsigned)i);
			if (pc->cal && str(cg, "name") &&
			    strcmp(str(cg, "name"), cal_name(pc->cal)) == 0)
				tzname = str(cg, "timezone");
		}
		if (!tzname)
			tzname = "UTC"; /* the built-in calendar "always" */
		if (!s.zone) {
			perr(x, g, "oncall: center '%s' has no usable calendar (set 'timezone')",
			     s.center);
			bad = 1;
		}
	}
	if (!bad) {
		const config_setting_t *ll = list(x, g, "layers");
		for (int i = 0; ll && i < config_setting_length(ll); i++)
			bad |= parse_layer(x, &s, config_setting_get_elem(ll, (unsigned)i),
			                   (size_t)i, tzname) != 0;
		const config_setting_t *ol = list(x, g, "overrides");
		for (int i = 0; ol && i < config_setting_length(ol); i++)
			bad |= parse_override(x, &s, config_setting_get_elem(ol, (unsigned)i)) != 0;
	}
	const char *fb = str(g, "fallback");
	if (fb && (s.fallback = nconf_contact(nc, fb)) < 0) {
		perr(x, at(g, "fallback"), "oncall: no contact named '%s'", fb);
		bad = 1;
	}
	if (bad) {
		sched_free(&s);
		return;
	}
	nc->scheds = xrealloc(nc->scheds, (nc->n_scheds + 1) * sizeof *nc->scheds);
	nc->scheds[nc->n_scheds++] = s;
}

/* Gaps of each schedule in the next NOTIFY_GAP_DAYS days, as warnings
 * with their local times; tiers no schedule covers. */
static void report_gaps(struct px *x, double now)
{
	const struct notify_conf *nc = x->nc;
	time_t from = (time_t)now, to = from + NOTIFY_GAP_DAYS * 86400;
	for (size_t i = 0; i < nc->n_scheds; i++) {
		const struct nsched *s = &nc->scheds[i];
		struct oncall_gap g[MAX_GAPS_SHOW];
		size_t n = oncall_gaps(s, from, to, g, MAX_GAPS_SHOW);
		if (!n)
			continue;
		char list[600] = "";
		size_t off = 0;
		for (size_t k = 0; k < n && k < MAX_GAPS_SHOW; k++) {
			char a[40], b[40];
			cal_format_rfc3339(s->zone, g[k].from, a, sizeof a);
			cal_format_rfc3339(s->zone, g[k].to, b, sizeof b);
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s to %s",
			                        k ? ", " : "", a, b);
			if (off >= sizeof list)
				break;
		}
		char more[64] = "";
		if (n > MAX_GAPS_SHOW)
			snprintf(more, sizeof more, " and %zu more", n - MAX_GAPS_SHOW);
		char then[160];
		if (s->fallback >= 0)
			snprintf(then, sizeof then, "the fallback '%s' is paged then",
			         nc->contacts[s->fallback].name);
		else
			snprintf(then, sizeof then, "nobody is paged then (no fallback)");
		log_always("config", LOG_LVL_WARNING,
		           "%s: oncall %s/%s: nobody on call %s%s in the next %d days; %s",
		           s->where, s->center, s->tier ? s->tier : "*", list, more,
		           NOTIFY_GAP_DAYS, then);
	}
	if (!nc->n_contacts)
		return;
	for (size_t i = 0; i < x->n_centers; i++) {
		const struct pcenter *pc = &x->centers[i];
		for (size_t k = 0; k < pc->n_tiers; k++) {
			int found = 0;
			for (size_t j = 0; j < nc->n_scheds && !found; j++)
				found = strcmp(nc->scheds[j].center, pc->name) == 0 &&
				        (!nc->scheds[j].tier ||
				         strcmp(nc->scheds[j].tier, pc->tiers[k]) == 0);
			if (!found)
				pwarn(
				    x, x->c->oncall ? x->c->oncall : x->c->contacts,
				    "center '%s' tier '%s' has no on-call schedule: its alerts page "
				    "nobody",
				    pc->name, pc->tiers[k]);
		}
	}
}

/* ---- the notify group ---- */

static void parse_rules(struct px *x, const config_setting_t *ng)
{
	struct notify_conf *nc = x->nc;
	const config_setting_t *rl = list(x, ng, "rules");
	for (int i = 0; rl && i < config_setting_length(rl); i++) {
		const config_setting_t *g = config_setting_get_elem(rl, (unsigned)i);
		if (validate(x, g, rule_keys, NULL, "notify rule") != 0)
			continue;
		struct nrule r = { 0 };
		r.center = cdup(g, "center");
		r.service = cdup(g, "service");
		r.customer = cdup(g, "customer");
		if (r.center && !find_center(x, r.center))
			perr(x, at(g, "center"), "notify rule: no center named '%s'", r.center);
		if (r.service && service_parse(r.service) < 0)
			perr(
			    x, at(g, "service"),
			    "notify rule: unknown service '%s' (defender, web, mail, utm, dns, other)",
			    r.service);
		r.events = nc->events;
		events_of(x, g, &r.events);
		r.repeat = nc->repeat;
		duration(g, "repeat", &r.repeat);
		nc->rules = xrealloc(nc->rules, (nc->n_rules + 1) * sizeof *nc->rules);
		nc->rules[nc->n_rules++] = r;
	}
	const config_setting_t *bl = list(x, ng, "runbooks");
	for (int i = 0; bl && i < config_setting_length(bl); i++) {
		const config_setting_t *g = config_setting_get_elem(bl, (unsigned)i);
		if (validate(x, g, runbook_keys, NULL, "runbook") != 0)
			continue;
		struct nrunbook b = { cdup(g, "service"), cdup(g, "check"), cdup(g, "customer"),
			              cdup(g, "text") };
		nc->runbooks = xrealloc(nc->runbooks, (nc->n_runbooks + 1) * sizeof *nc->runbooks);
		nc->runbooks[nc->n_runbooks++] = b;
	}
}

static void parse_notify(struct px *x, const config_setting_t *ng, const char *node)
{
	struct notify_conf *nc = x->nc;
	nc->events = DEFAULT_EVENTS;
	nc->repeat = 1800;
	nc->window = 60;
	nc->sms_per_hour = 10;
	nc->retry_min = 10;
	nc->retry_max = 600;
	nc->give_up = 3600;
	nc->send_timeout = 60;
	nc->msgid_domain = NULL;
	nc->default_lang = NULL;
	/* a bad key is counted; the rest is still read (defaults stand in) */
	if (ng)
		validate(x, ng, notify_keys, NULL, "notify");
	events_of(x, ng, &nc->events);
	duration(ng, "repeat", &nc->repeat);
	duration(ng, "bundle_window", &nc->window);
	duration(ng, "hold", &nc->hold);
	duration(ng, "retry_min", &nc->retry_min);
	duration(ng, "retry_max", &nc->retry_max);
	duration(ng, "give_up_after", &nc->give_up);
	duration(ng, "send_timeout", &nc->send_timeout);
	if (nc->retry_min < 0.1 || nc->retry_max < nc->retry_min)
		perr(x, ng,
		     "notify: retry_min must be at least 100ms and retry_max at least retry_min");
	if (nc->send_timeout < 0.1)
		perr(x, ng, "notify: send_timeout must be at least 100ms");
	if (nc->window > 3600 || nc->hold > nc->window)
		perr(x, ng, "notify: bundle_window must be at most 1h, hold at most bundle_window");
	const config_setting_t *m;
	if (ng && (m = config_setting_get_member(ng, "sms_per_hour"))) {
		long long v = config_setting_get_int64(m);
		if (v < 1 || v > 3600)
			perr(x, m, "notify: sms_per_hour must be 1..3600");
		else
			nc->sms_per_hour = (unsigned)v;
	}
	nc->link_base = cdup(ng, "link_base");
	if (nc->link_base) {
		size_t n = strlen(nc->link_base);
		while (n && nc->link_base[n - 1] == '/')
			nc->link_base[--n] = '\0';
		if (strncmp(nc->link_base, "https://", 8) != 0 &&
		    strncmp(nc->link_base, "http://", 7) != 0)
			perr(x, at(ng, "link_base"),
			     "notify: link_base must be an http:// or https:// URL");
	}
	nc->reply_to = cdup(ng, "reply_to");
	if (nc->reply_to && (!strstr(nc->reply_to, "{token}") || !strchr(nc->reply_to, '@')))
		perr(x, at(ng, "reply_to"),
		     "notify: reply_to must be an address with {token}, e.g. "
		     "\"mamori+{token}@example.jp\"");
	const char *dom = str(ng, "message_id_domain");
	nc->msgid_domain = xasprintf("%s", dom ? dom : node && *node ? node : "mamori");
	for (const char *p = nc->msgid_domain; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
			perr(x, ng, "notify: message_id_domain '%s' is not a domain name",
			     nc->msgid_domain);
			break;
		}
	const char *lang = str(ng, "language");
	nc->default_lang = xstrdup(lang ? lang : "ja");
	if (!lang_ok(nc->default_lang))
		perr(x, at(ng, "language"), "notify: language must be \"ja\" or \"en\"");
	const char *sf = str(ng, "secret_file");
	if (sf) {
		char err[512], *buf = NULL;
		size_t len = 0;
		if (secret_read_file(sf, &buf, &len, err, sizeof err) != 0) {
			perr(x, at(ng, "secret_file"), "notify: %s", err);
		} else if (len < 16) {
			perr(x, at(ng, "secret_file"),
			     "notify: secret_file must hold at least 16 bytes");
			secret_free(buf, len);
		} else {
			nc->secret = (unsigned char *)buf;
			nc->secret_len = len;
			nc->secret_from_file = 1;
		}
	}
	if (!nc->secret) {
		/* tokens then last as long as the process */
		nc->secret = xmalloc(32);
		nc->secret_len = 32;
		if (RAND_bytes(nc->secret, 32) != 1)
			perr(x, ng, "notify: no random bytes for the token key");
	}
}

/* ---- the whole ---- */

struct notify_conf *notify_conf_parse(struct mconf *c, struct loader *loader,
                                      const struct notify_conf *old, double now)
{
	struct notify_conf *nc = xcalloc(1, sizeof *nc);
	struct px *x = xcalloc(1, sizeof *x);
	x->c = c;
	x->loader = loader;
	x->nc = nc;
	x->old = old;
	read_centers(x);
	hmap_init(&nc->customers);
	for (size_t i = 0; i < c->n_customers; i++) {
		const struct cfg_customer *cu = &c->customers[i];
		char *v = xasprintf("%s%c%s", cu->id, 0, cu->name ? cu->name : cu->id);
		free(hmap_put(&nc->customers, v, strlen(v), v));
	}
	parse_notify(x, c->notify, c->node);
	const config_setting_t *chl = c->notify ? list(x, c->notify, "channels") : NULL;
	for (int i = 0; chl && i < config_setting_length(chl); i++)
		parse_channel(x, config_setting_get_elem(chl, (unsigned)i));
	if (c->contacts && config_setting_type(c->contacts) != CONFIG_TYPE_LIST)
		perr(x, c->contacts, "contacts must be a list ( { ... }, ... )");
	else
		for (int i = 0; c->contacts && i < config_setting_length(c->contacts); i++)
			parse_contact(x, config_setting_get_elem(c->contacts, (unsigned)i),
			              nc->default_lang);
	if (c->oncall && config_setting_type(c->oncall) != CONFIG_TYPE_LIST)
		perr(x, c->oncall, "oncall must be a list ( { ... }, ... )");
	else
		for (int i = 0; c->oncall && i < config_setting_length(c->oncall); i++)
			parse_sched(x, config_setting_get_elem(c->oncall, (unsigned)i));
	if (c->notify)
		parse_rules(x, c->notify);
	/* documents (monthly reports) go out over notify.mail_channel, or
	 * the first e-mail channel */
	nc->mail_channel = -1;
	const char *mch = c->notify ? str(c->notify, "mail_channel") : NULL;
	if (mch) {
		long i = nconf_channel(nc, mch);
		if (i < 0)
			perr(x, at(c->notify, "mail_channel"),
			     "notify: mail_channel '%s' is not one of notify.channels", mch);
		else if (!(nc->channels[i].flags & MAMORI_PLUGIN_NEEDS_EMAIL))
			perr(x, at(c->notify, "mail_channel"),
			     "notify: mail_channel '%s' is not an e-mail channel (plugin %s)", mch,
			     nc->channels[i].plugin);
		else
			nc->mail_channel = i;
	} else {
		for (size_t i = 0; i < nc->n_channels && nc->mail_channel < 0; i++)
			if (nc->channels[i].flags & MAMORI_PLUGIN_NEEDS_EMAIL)
				nc->mail_channel = (long)i;
	}
	if (nc->n_scheds && !nc->n_channels)
		pwarn(
		    x, c->notify ? c->notify : c->oncall,
		    "oncall schedules exist but notify.channels is empty: nobody is told anything");
	if (!x->errors)
		report_gaps(x, now);
	int bad = x->errors;
	free(x);
	if (bad) {
		notify_conf_free(nc);
		return NULL;
	}
	return nc;
}

void notify_conf_free(struct notify_conf *nc)
{
	if (!nc)
		return;
	for (size_t i = 0; i < nc->n_channels; i++)
		channel_free(&nc->channels[i]);
	for (size_t i = 0; i < nc->n_contacts; i++)
		contact_free(&nc->contacts[i]);
	free(nc->contacts);
	for (size_t i = 0; i < nc->n_scheds; i++)
		sched_free(&nc->scheds[i]);
	free(nc->scheds);
	for (size_t i = 0; i < nc->n_rules; i++) {
		free(nc->rules[i].center);
		free(nc->rules[i].service);
		free(nc->rules[i].customer);
	}
	free(nc->rules);
	for (size_t i = 0; i < nc->n_runbooks; i++) {
		free(nc->runbooks[i].service);
		free(nc->runbooks[i].check);
		free(nc->runbooks[i].customer);
		free(nc->runbooks[i].text);
	}
	free(nc->runbooks);
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&nc->customers, &it, &e))
		free(e->value);
	hmap_free(&nc->customers);
	free(nc->link_base);
	free(nc->reply_to);
	free(nc->msgid_domain);
	free(nc->default_lang);
	if (nc->secret) {
		secret_free((char *)nc->secret, nc->secret_len);
		nc->secret = NULL;
	}
	free(nc);
}

struct notify_conf *notify_conf_empty(void)
{
	struct notify_conf *nc = xcalloc(1, sizeof *nc);
	hmap_init(&nc->customers);
	nc->mail_channel = -1;
	nc->window = 60;
	nc->retry_min = 10;
	nc->retry_max = 600;
	nc->give_up = 3600;
	nc->send_timeout = 60;
	nc->sms_per_hour = 10;
	nc->msgid_domain = xstrdup("mamori");
	nc->default_lang = xstrdup("ja");
	nc->secret = xcalloc(1, 32);
	nc->secret_len = 32;
	return nc;
}

int notify_conf_active(const struct notify_conf *nc)
{
	return nc && nc->n_contacts && nc->n_scheds && nc->n_channels;
}

const char *nconf_customer_name(const struct notify_conf *nc, const char *id)
{
	const char *v = id ? hmap_get(&nc->customers, id, strlen(id)) : NULL;
	return v ? v + strlen(v) + 1 : NULL;
}

long nconf_contact(const struct notify_conf *nc, const char *name)
{
	for (size_t i = 0; name && i < nc->n_contacts; i++)
		if (strcmp(nc->contacts[i].name, name) == 0)
			return (long)i;
	return -1;
}

long nconf_channel(const struct notify_conf *nc, const char *name)
{
	for (size_t i = 0; name && i < nc->n_channels; i++)
		if (strcmp(nc->channels[i].name, name) == 0)
			return (long)i;
	return -1;
}

static int eq_or_any(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

const struct nrule *nconf_rule(const struct notify_conf *nc, const char *center,
                               const char *service, const char *customer)
{
	for (size_t i = 0; i < nc->n_rules; i++) {
		const struct nrule *r = &nc->rules[i];
		if (eq_or_any(r->center, center) && eq_or_any(r->service, service) &&
		    eq_or_any(r->customer, customer))
			return r;
	}
	return NULL;
}
