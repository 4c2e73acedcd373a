/*
 * auth_conf: the optional `auth` group of mamori.conf (keys in auth.h),
 * parsed and validated like the other groups: every key known, every
 * value in range, errors as "file:line: auth.key: what".
 *
 * Must never: accept a value that would make sessions immortal or the
 * KDF unusable (libargon2's own limits: memory >= 8 KiB per lane).
 */
#include "auth/auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY (24 * 3600.0)

void auth_conf_default(struct auth_conf *c)
{
	memset(c, 0, sizeof *c);
	c->idle_timeout = 8 * 3600;
	c->absolute_timeout = 7 * DAY;
	c->kdf_t = 3;
	c->kdf_m_kib = 65536;
	c->kdf_p = 1;
	c->min_password = 12;
	c->max_sessions = 20;
	c->max_failures = 5;
	c->max_failures_addr = 20;
	c->failure_window = 300;
	c->limit_entries = 10000;
	c->audit_retention = 400 * DAY;
}

static int where(const config_setting_t *s, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(s);
	snprintf(err, errlen, "%s:%u: auth.%s: %s", file ? file : "config",
	         config_setting_source_line(s),
	         config_setting_name(s) ? config_setting_name(s) : "", what);
	return -1;
}

/* About the group as a whole. */
static int where_group(const config_setting_t *g, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(g);
	snprintf(err, errlen, "%s:%u: auth: %s", file ? file : "config",
	         config_setting_source_line(g), what);
	return -1;
}

/* A number of seconds, or "30s", "5m", "8h", "7d". */
static int get_seconds(const config_setting_t *s, double lo, double hi, double *out, char *err,
                       size_t errlen)
{
	double v = -1;
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		v = (double)config_setting_get_int64(s);
	} else if (t == CONFIG_TYPE_STRING) {
		char *e = NULL;
		const char *txt = config_setting_get_string(s);
		v = strtod(txt, &e);
		if (e == txt || v != v)
			v = -1;
		else if (strcmp(e, "m") == 0)
			v *= 60;
		else if (strcmp(e, "h") == 0)
			v *= 3600;
		else if (strcmp(e, "d") == 0)
			v *= DAY;
		else if (*e && strcmp(e, "s") != 0)
			v = -1;
	}
	if (!(v >= lo && v <= hi)) {
		char msg[128];
		snprintf(
		    msg, sizeof msg,
		    "must be a duration of %.0f..%.0f seconds (\"30s\", \"5m\", \"8h\", \"7d\")",
		    lo, hi);
		return where(s, err, errlen, msg);
	}
	*out = v;
	return 0;
}

static int get_uint(const config_setting_t *s, unsigned lo, unsigned hi, unsigned *out, char *err,
                    size_t errlen)
{
	int t = config_setting_type(s);
	long long v =
	    t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ? config_setting_get_int64(s) : -1;
	if (v < (long long)lo || v > (long long)hi) {
		char msg[96];
		snprintf(msg, sizeof msg, "must be an integer %u..%u", lo, hi);
		return where(s, err, errlen, msg);
	}
	*out = (unsigned)v;
	return 0;
}

int auth_conf_parse(const config_setting_t *group, struct auth_conf *c, char *err, size_t errlen)
{
	auth_conf_default(c);
	if (!group)
		return 0;
	if (!config_setting_is_group(group))
		return where_group(group, err, errlen, "expected a group { ... }");
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *k = config_setting_name(s);
		int rc;
		if (strcmp(k, "idle_timeout") == 0)
			rc = get_seconds(s, 60, 30 * DAY, &c->idle_timeout, err, errlen);
		else if (strcmp(k, "absolute_timeout") == 0)
			rc = get_seconds(s, 60, 365 * DAY, &c->absolute_timeout, err, errlen);
		else if (strcmp(k, "failure_window") == 0)
			rc = get_seconds(s, 1, DAY, &c->failure_window, err, errlen);
		else if (strcmp(k, "audit_retention") == 0)
			rc = get_seconds(s, 0, 10 * 366 * DAY, &c->audit_retention, err, errlen);
		else if (strcmp(k, "min_password_length") == 0)
			rc = get_uint(s, 8, AUTH_PASSWORD_MAX, &c->min_password, err, errlen);
		else if (strcmp(k, "max_sessions") == 0)
			rc = get_uint(s, 1, 1000, &c->max_sessions, err, errlen);
		else if (strcmp(k, "max_failures") == 0)
			rc = get_uint(s, 1, 1000, &c->max_failures, err, errlen);
		else if (strcmp(k, "max_failures_per_address") == 0)
			rc = get_uint(s, 1, 100000, &c->max_failures_addr, err, errlen);
		else if (strcmp(k, "limit_entries") == 0)
			rc = get_uint(s, 16, 10000000, &c->limit_entries, err, errlen);
		else if (strcmp(k, "kdf_time_cost") == 0)
			rc = get_uint(s, 1, 16, &c->kdf_t, err, errlen);
		else if (strcmp(k, "kdf_memory") == 0)
			rc = get_uint(s, 8, 4194304, &c->kdf_m_kib, err, errlen);
		else if (strcmp(k, "kdf_parallelism") == 0)
			rc = get_uint(s, 1, 16, &c->kdf_p, err, errlen);
		else
			rc = where(s, err, errlen,
			           "unknown key (known: idle_timeout, absolute_timeout,"
			           " min_password_length, max_sessions, max_failures,"
			           " max_failures_per_address, failure_window, limit_entries,"
			           " audit_retention, kdf_time_cost, kdf_memory, kdf_parallelism)");
		if (rc != 0)
			return -1;
	}
	if (c->idle_timeout > c->absolute_timeout)
		return where_group(
		    group, err, errlen,
		    "idle_timeout is longer than absolute_timeout: sessions would never"
		    " idle out");
	if (c->kdf_m_kib < 8 * c->kdf_p)
		return where_group(
		    group, err, errlen,
		    "kdf_memory must be at least 8 KiB per lane (8 * kdf_parallelism)");
	return 0;
}
