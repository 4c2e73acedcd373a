/*
 * config_params: what the section parsers of config.c and
 * config_customers.c share (declared in config_int.h): error reports with
 * file:line, key validation, member helpers, the config hash of a
 * setting, service names, and the check parameters with their
 * inheritance (global defaults -> customer -> asset -> check).
 */
#include "config/config.h"
#include "cal/cal.h"
#include "config/pconf.h"
#include "util/esc.h"
#include "util/hmap.h"
#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_int.h"

/* ---- helpers ---- */

void config__report(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char msg[1024], where[512], full[1600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "%s: %s", pconf_where(s, where, sizeof where), msg);
	x->err(x->ud, full);
	x->errors++;
}

static void sink(void *ud, const char *msg)
{
	struct ctx *x = ud;
	x->err(x->ud, msg);
	/* counted by the caller through pconf_validate's return value */
}

int config__validate(struct ctx *x, const config_setting_t *g, const struct mamori_key *a,
                     const struct mamori_key *b, const char *what)
{
	/* Keys typed -1 are structural (lists/groups parsed by hand). */
	int n = pconf_validate(g, a, b, what, sink, x);
	x->errors += n;
	return n;
}

const char *config__str_member(const config_setting_t *g, const char *key)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m)
	                                                         : NULL;
}

char *config__dup_member(const config_setting_t *g, const char *key)
{
	const char *s = config__str_member(g, key);
	return s ? xstrdup(s) : NULL;
}

/* A list or array member (or absent).  Reports a wrong type. */
const config_setting_t *config__list_member(struct ctx *x, const config_setting_t *g,
                                            const char *key)
{
	const config_setting_t *m = g ? config_setting_get_member(g, key) : NULL;
	if (!m)
		return NULL;
	int t = config_setting_type(m);
	if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
		config__report(x, m, "'%s' must be a list ( { ... }, { ... } )", key);
		return NULL;
	}
	return m;
}

int config__valid_ident(const char *s, int allow_dot)
{
	if (!s || !*s || strlen(s) > 128)
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		/* Names become MQTT topic levels and DB keys: no / + # or control. */
		if (ch < 0x20 || ch == '/' || ch == '+' || ch == '#' || ch == 0x7f || ch == ' ')
			return 0;
		if (!allow_dot && ch == '.' && p == s)
			return 0;
	}
	return 1;
}

uint64_t config__hash_setting(const config_setting_t *s, uint64_t h)
{
	const char *name = config_setting_name(s);
	int t = config_setting_type(s);
	char buf[64];
	if (name)
		h = hmap_hash(name, strlen(name)) ^ (h * 1099511628211ULL);
	h = (h ^ (uint64_t)t) * 1099511628211ULL;
	switch (t) {
	case CONFIG_TYPE_GROUP:
	case CONFIG_TYPE_LIST:
	case CONFIG_TYPE_ARRAY:
		for (int i = 0; i < config_setting_length(s); i++)
			h = config__hash_setting(config_setting_get_elem(s, (unsigned)i), h);
		return h;
	case CONFIG_TYPE_STRING: {
		const char *v = config_setting_get_string(s);
		return hmap_hash(v, strlen(v)) ^ (h * 31);
	}
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, sizeof buf, "%.17g", config_setting_get_float(s));
		break;
	default: snprintf(buf, sizeof buf, "%lld", config_setting_get_int64(s)); break;
	}
	return hmap_hash(buf, strlen(buf)) ^ (h * 31);
}

const char *service_name(int s)
{
	static const char *const names[] = { "other", "defender", "web", "mail", "utm", "dns" };
	return s >= 0 && s < (int)ARRAY_LEN(names) ? names[s] : "other";
}

int service_parse(const char *s)
{
	for (int i = 0; i <= SERVICE_DNS; i++)
		if (strcmp(s, service_name(i)) == 0)
			return i;
	return -1;
}

static int service_for_plugin(const char *plugin)
{
	if (strcmp(plugin, "defender") == 0)
		return SERVICE_DEFENDER;
	if (strcmp(plugin, "utm") == 0)
		return SERVICE_UTM;
	if (strcmp(plugin, "dns_txt") == 0)
		return SERVICE_DNS;
	if (strcmp(plugin, "mail_latency") == 0)
		return SERVICE_MAIL;
	return SERVICE_OTHER;
}

const struct cal *mconf_calendar(const struct mconf *c, const char *name)
{
	for (size_t i = 0; i < c->n_calendars; i++)
		if (strcmp(c->calendars[i].name, name) == 0)
			return c->calendars[i].cal;
	return NULL;
}

/* ---- check parameters and inheritance ---- */

/* Timing fields are kept in 32-bit milliseconds (memory per check). */
#define MAX_DURATION_S (45.0 * 86400)

static uint32_t to_ms(double s)
{
	double ms = s * 1000.0;
	return ms > 4e9 ? 4000000000u : (uint32_t)llround(ms);
}

/* The members config__parse_params reads, in the order it reads them. */
enum {
	PM_INTERVAL,
	PM_RETRY,
	PM_TIMEOUT,
	PM_STALE,
	PM_ATTEMPTS,
	PM_STALE_STATE,
	PM_FLAP,
	PM_FLAP_LOW,
	PM_FLAP_HIGH,
	PM_SERVICE,
	PM_PERIOD,
	PM_RUNBOOK,
	PM_COUNT
};

/* One walk over the group's members instead of a linear
 * config_setting_get_member scan per key (11 scans per check).  The
 * first member of a name wins, as with config_setting_get_member. */
static void param_members(const config_setting_t *g, const config_setting_t **out)
{
	static const char *const names[PM_COUNT] = {
		"interval",     "retry_interval", "timeout",        "stale_after",
		"max_attempts", "stale_state",    "flap_detection", "flap_low",
		"flap_high",    "service",        "check_period",   "runbook",
	};
	memset(out, 0, PM_COUNT * sizeof *out);
	int n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		for (size_t k = 0; name && k < PM_COUNT; k++)
			if (!out[k] && strcmp(name, names[k]) == 0) {
				out[k] = m;
				break;
			}
	}
}

void config__parse_params(struct ctx *x, const config_setting_t *g, struct check_params *p)
{
	const config_setting_t *m, *pm[PM_COUNT];
	double d;
	memset(p, 0, sizeof *p);
	if (!g)
		return;
	param_members(g, pm);
	static const char *const timing[] = { "interval", "retry_interval", "timeout",
		                              "stale_after" };
	for (size_t i = 0; i < ARRAY_LEN(timing); i++) /* PM_INTERVAL .. PM_STALE */
		if ((m = pm[i]) && pconf_setting_duration(m, &d) == 0 && d > MAX_DURATION_S)
			config__report(x, m, "%s must not exceed 45 days", timing[i]);
	if ((m = pm[PM_INTERVAL]) && pconf_setting_duration(m, &d) == 0) {
		if (d < 0.001)
			config__report(x, m, "interval must be at least 1ms");
		p->interval_ms = to_ms(d);
		p->set |= P_INTERVAL;
	}
	if ((m = pm[PM_RETRY]) && pconf_setting_duration(m, &d) == 0) {
		p->retry_ms = to_ms(d);
		p->set |= P_RETRY;
	}
	if ((m = pm[PM_TIMEOUT]) && pconf_setting_duration(m, &d) == 0) {
		if (d <= 0)
			config__report(x, m, "timeout must be more than 0");
		p->timeout_ms = to_ms(d);
		p->set |= P_TIMEOUT;
	}
	if ((m = pm[PM_STALE]) && pconf_setting_duration(m, &d) == 0) {
		p->stale_ms = to_ms(d);
		p->set |= P_STALE;
	}
	if ((m = pm[PM_ATTEMPTS]) && config_setting_type(m) == CONFIG_TYPE_INT) {
		int v = config_setting_get_int(m);
		if (v < 1 || v > 100)
			config__report(x, m, "max_attempts must be 1..100");
		p->max_attempts = (uint8_t)(v < 1 ? 1 : v > 100 ? 100 : v);
		p->set |= P_ATTEMPTS;
	}
	if ((m = pm[PM_STALE_STATE]) && config_setting_type(m) == CONFIG_TYPE_INT) {
		int v = config_setting_get_int(m);
		if (v < 0 || v > 3)
			config__report(x, m, "stale_state must be 0..3");
		p->stale_state = (uint8_t)(v & 3);
		p->set |= P_STALE_STATE;
	}
	if ((m = pm[PM_FLAP]) && config_setting_type(m) == CONFIG_TYPE_BOOL) {
		p->flap_enabled = (uint8_t)config_setting_get_bool(m);
		p->set |= P_FLAP;
	}
	int t;
	if ((m = pm[PM_FLAP_LOW]) &&
	    ((t = config_setting_type(m)) == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT)) {
		p->flap_low = (float)(t == CONFIG_TYPE_FLOAT ? config_setting_get_float(m)
		                                             : config_setting_get_int(m));
		p->set |= P_FLAP_LOW;
	}
	if ((m = pm[PM_FLAP_HIGH]) &&
	    ((t = config_setting_type(m)) == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT)) {
		p->flap_high = (float)(t == CONFIG_TYPE_FLOAT ? config_setting_get_float(m)
		                                              : config_setting_get_int(m));
		p->set |= P_FLAP_HIGH;
	}
	if ((m = pm[PM_SERVICE]) && config_setting_type(m) == CONFIG_TYPE_STRING) {
		int sv = service_parse(config_setting_get_string(m));
		if (sv < 0)
			config__report(
			    x, m, "unknown service '%s' (defender, web, mail, utm, dns, other)",
			    config_setting_get_string(m));
		p->service = (uint8_t)(sv < 0 ? 0 : sv);
		p->set |= P_SERVICE;
	}
	if ((m = pm[PM_PERIOD]) && config_setting_type(m) == CONFIG_TYPE_STRING) {
		p->period = mconf_calendar(x->c, config_setting_get_string(m));
		if (!p->period)
			config__report(x, m, "check_period: undefined calendar '%s'",
			               config_setting_get_string(m));
		p->set |= P_PERIOD;
	}
	if ((m = pm[PM_RUNBOOK]) && config_setting_type(m) == CONFIG_TYPE_STRING) {
		char why[160];
		const char *rb = config_setting_get_string(m);
		if (config_runbook_check(rb, why, sizeof why) != 0)
			config__report(x, m, "runbook: %s", why);
		/* "" says "no runbook here", overriding an inherited one */
		p->runbook = *rb ? rb : NULL;
		p->set |= P_RUNBOOK;
	}
}

int config_runbook_check(const char *s, char *why, size_t whylen)
{
	size_t n = strlen(s);
	if (n > CONFIG_RUNBOOK_MAX) {
		snprintf(why, whylen, "%zu bytes, at most %d (a URL or a short text)", n,
		         CONFIG_RUNBOOK_MAX);
		return -1;
	}
	/* esc_needed: C0 and C1 controls, DEL, invalid UTF-8; a tab too */
	if (esc_needed(s) || strchr(s, '\t')) {
		snprintf(why, whylen, "control characters or invalid UTF-8 (one line of text)");
		return -1;
	}
	/* One word (no space) that starts with "scheme:" is a URL: http(s)
	 * only, so a dashboard or a mail never links "javascript:" or
	 * "file:".  Anything with a space is text, shown as text. */
	size_t sch = 0;
	if ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))
		sch =
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (sch == 0 || s[sch] != ':' || strchr(s, ' '))
		return 0;
	int https = sch == 5 && strncasecmp(s, "https", 5) == 0;
	if (!(https || (sch == 4 && strncasecmp(s, "http", 4) == 0))) {
		snprintf(why, whylen,
		         "a URL of scheme '%.*s': only http and https URLs are allowed"
		         " (a text needs a space)",
		         (int)(sch > 20 ? 20 : sch), s);
		return -1;
	}
	const char *host = s + sch + 1;
	if (strncmp(host, "//", 2) != 0 || host[2] == 0 || strchr("/?#:@", host[2])) {
		snprintf(why, whylen, "'%.40s' is not an http(s) URL with a host", s);
		return -1;
	}
	return 0;
}

/* Fill what `child` did not set from `parent`. */
void config__inherit(struct check_params *child, const struct check_params *parent)
{
#define INH(flag, field)                                                                           \
	if (!(child->set & (flag)) && (parent->set & (flag))) {                                    \
		child->field = parent->field;                                                      \
		child->set |= (flag);                                                              \
	}
	INH(P_INTERVAL, interval_ms);
	INH(P_RETRY, retry_ms);
	INH(P_TIMEOUT, timeout_ms);
	INH(P_STALE, stale_ms);
	INH(P_ATTEMPTS, max_attempts);
	INH(P_STALE_STATE, stale_state);
	INH(P_FLAP, flap_enabled);
	INH(P_FLAP_LOW, flap_low);
	INH(P_FLAP_HIGH, flap_high);
	INH(P_SERVICE, service);
	INH(P_PERIOD, period);
	INH(P_RUNBOOK, runbook);
#undef INH
}

/* Built-in defaults (Nagios/Icinga habits): 5m interval, 1m retry, 3
 * attempts, 60s timeout, flap detection 20%/30%.  Passive checks (agent
 * reports) default to max_attempts = 1: each report is a complete
 * observation.  The retry interval never exceeds the interval. */
void config__finish_params(struct check_params *p, const char *plugin, int passive)
{
	static const struct check_params builtin = { .interval_ms = 300000,
		                                     .retry_ms = 60000,
		                                     .timeout_ms = 60000,
		                                     .max_attempts = 3,
		                                     .stale_state = 2,
		                                     .flap_enabled = 1,
		                                     .flap_low = 20,
		                                     .flap_high = 30,
		                                     .set = P_INTERVAL | P_RETRY | P_TIMEOUT |
		                                            P_ATTEMPTS | P_STALE_STATE | P_FLAP |
		                                            P_FLAP_LOW | P_FLAP_HIGH };
	if (passive && !(p->set & P_ATTEMPTS)) {
		p->max_attempts = 1;
		p->set |= P_ATTEMPTS;
	}
	if (!(p->set & P_SERVICE)) {
		p->service = (uint8_t)service_for_plugin(plugin);
		p->set |= P_SERVICE;
	}
	int had_retry = p->set & P_RETRY;
	config__inherit(p, &builtin);
	if (!had_retry && p->retry_ms > p->interval_ms)
		p->retry_ms = p->interval_ms;
}
