/*
 * mqtt_conf: the `mqtt` config group and the pure helpers of the mqtt
 * module (topic matching, validation, backoff).  No libmosquitto here:
 * src/mqtt/mqtt.c and mqtt_session.c are the only files that include
 * <mosquitto.h>.
 */
#include "mqtt/mqtt.h"
#include "config/pconf.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mqtt_conf_init(struct mqtt_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->host = xstrdup("127.0.0.1");
	c->port = 0;
	c->client_id = xstrdup("mamorid");
	c->topic_prefix = xstrdup("mamori");
	c->keepalive = 30;
	c->max_message_size = 64 * 1024;
	c->session_expiry = 3600;
	c->inflight = 1000;
	c->reconnect_min = 0.5;
	c->reconnect_max = 30;
	c->connect_timeout = 10;
	c->protocol = 5;
}

void mqtt_conf_free(struct mqtt_conf *c)
{
	free(c->host);
	free(c->client_id);
	free(c->topic_prefix);
	free(c->node);
	free(c->username);
	free(c->password_file);
	free(c->tls.ca_file);
	free(c->tls.cert_file);
	free(c->tls.key_file);
	memset(c, 0, sizeof(*c));
}

static int where(const config_setting_t *s, char *err, size_t errlen, const char *what)
{
	const char *file = config_setting_source_file(s);
	snprintf(err, errlen, "%s:%u: mqtt.%s: %s", file ? file : "config",
	         config_setting_source_line(s), config_setting_name(s), what);
	return -1;
}

static int get_str(const config_setting_t *s, char **dst, char *err, size_t errlen)
{
	const char *v = config_setting_get_string(s);
	if (!v)
		return where(s, err, errlen, "expected a string");
	if (!*v)
		return where(s, err, errlen, "must not be empty");
	free(*dst);
	*dst = xstrdup(v);
	return 0;
}

static int get_int(const config_setting_t *s, long long lo, long long hi, long long *out, char *err,
                   size_t errlen)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return where(s, err, errlen, "expected an integer");
	long long v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		char msg[96];
		snprintf(msg, sizeof(msg), "must be %lld..%lld", lo, hi);
		return where(s, err, errlen, msg);
	}
	*out = v;
	return 0;
}

static int get_num(const config_setting_t *s, double lo, double hi, double *out, char *err,
                   size_t errlen)
{
	int t = config_setting_type(s);
	double v;
	if (t == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (t != CONFIG_TYPE_STRING || pconf_setting_duration(s, &v) != 0)
		return where(
		    s, err, errlen,
		    "expected a duration such as \"500ms\", \"10s\" or a number of seconds");
	if (!(v >= lo && v <= hi))
		return where(s, err, errlen, "out of range");
	*out = v;
	return 0;
}

static int parse_tls(const config_setting_t *g, struct mqtt_conf *c, char *err, size_t errlen)
{
	if (!config_setting_is_group(g))
		return where(g, err, errlen, "expected a group { ca_file; cert_file; key_file; }");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		char **dst = !strcmp(k, "ca_file")     ? &c->tls.ca_file
		             : !strcmp(k, "cert_file") ? &c->tls.cert_file
		             : !strcmp(k, "key_file")  ? &c->tls.key_file
		                                       : NULL;
		if (!dst)
			return where(s, err, errlen,
			             "unknown key in tls (ca_file, cert_file, key_file)");
		if (get_str(s, dst, err, errlen))
			return -1;
	}
	if (!c->tls.ca_file)
		return where(g, err, errlen, "tls needs ca_file");
	if (!c->tls.cert_file != !c->tls.key_file)
		return where(g, err, errlen, "cert_file and key_file go together");
	return 0;
}

/* One key of the group; -1 on error, 1 if the key is unknown. */
static int parse_key(const config_setting_t *s, struct mqtt_conf *c, char *err, size_t errlen)
{
	const char *k = config_setting_name(s);
	long long v = 0;
	int rc = 0;

	if (!strcmp(k, "host"))
		return get_str(s, &c->host, err, errlen);
	if (!strcmp(k, "client_id"))
		return get_str(s, &c->client_id, err, errlen);
	if (!strcmp(k, "topic_prefix")) {
		if (get_str(s, &c->topic_prefix, err, errlen))
			return -1;
		if (!mqtt_topic_valid(c->topic_prefix) || strchr(c->topic_prefix, '/'))
			return where(s, err, errlen, "one topic level without + # or /");
		return 0;
	}
	if (!strcmp(k, "node"))
		return get_str(s, &c->node, err, errlen);
	if (!strcmp(k, "username"))
		return get_str(s, &c->username, err, errlen);
	if (!strcmp(k, "password_file"))
		return get_str(s, &c->password_file, err, errlen);
	if (!strcmp(k, "tls"))
		return parse_tls(s, c, err, errlen);
	if (!strcmp(k, "port"))
		rc = get_int(s, 1, 65535, &v, err, errlen), c->port = (int)v;
	else if (!strcmp(k, "keepalive"))
		rc = get_int(s, 5, 3600, &v, err, errlen), c->keepalive = (int)v;
	else if (!strcmp(k, "max_message_size"))
		rc = get_int(s, 1024, 256LL * 1024 * 1024, &v, err, errlen),
		c->max_message_size = (size_t)v;
	else if (!strcmp(k, "session_expiry"))
		rc = get_int(s, 0, 0xFFFFFFFFLL, &v, err, errlen), c->session_expiry = (int)v;
	else if (!strcmp(k, "inflight"))
		rc = get_int(s, 1, 65535, &v, err, errlen), c->inflight = (int)v;
	else if (!strcmp(k, "protocol"))
		rc = get_int(s, 4, 5, &v, err, errlen), c->protocol = (int)v;
	else if (!strcmp(k, "clean_session")) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return where(s, err, errlen, "expected true or false");
		c->clean_session = config_setting_get_bool(s);
	} else if (!strcmp(k, "reconnect_min"))
		rc = get_num(s, 0.01, 3600, &c->reconnect_min, err, errlen);
	else if (!strcmp(k, "reconnect_max"))
		rc = get_num(s, 0.01, 86400, &c->reconnect_max, err, errlen);
	else if (!strcmp(k, "connect_timeout"))
		rc = get_num(s, 0.1, 600, &c->connect_timeout, err, errlen);
	else
		return 1;
	return rc ? -1 : 0;
}

int mqtt_conf_parse(const config_setting_t *group, struct mqtt_conf *c, char *err, size_t errlen)
{
	if (!group)
		return 0;
	if (!config_setting_is_group(group))
		return where(group, err, errlen, "expected a group");
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		int rc = parse_key(s, c, err, errlen);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return where(s, err, errlen, "unknown key");
	}
	if (c->reconnect_min > c->reconnect_max)
		return where(group, err, errlen, "reconnect_min > reconnect_max");
	return 0;
}

/* ---- pure helpers ---- */

int mqtt_topic_valid(const char *t)
{
	size_t n = strlen(t);
	return n > 0 && n <= 65535 && !strpbrk(t, "+#");
}

int mqtt_filter_valid(const char *f)
{
	size_t n = strlen(f);
	if (!n || n > 65535)
		return 0;
	for (const char *p = f; *p; p++) {
		int level_start = p == f || p[-1] == '/';
		if (*p == '+' && (!level_start || (p[1] && p[1] != '/')))
			return 0;
		if (*p == '#' && (!level_start || p[1]))
			return 0;
	}
	return 1;
}

int mqtt_topic_match(const char *f, const char *t)
{
	/* $SYS/... never matches a filter starting with a wildcard */
	if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return 0;
	for (;;) {
		if (f[0] == '#')
			return 1; /* also matches the parent level: "a/#" ~ "a" handled below */
		if (f[0] == '+') {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && *f == *t)
				f++, t++;
			if ((*f && *f != '/') || (*t && *t != '/'))
				return 0;
		}
		/* both at '/' or end */
		if (!*f && !*t)
			return 1;
		if (!*t) /* topic ended: "a/#" matches "a" */
			return f[0] == '/' && f[1] == '#' && !f[2];
		if (!*f)
			return 0;
		f++, t++;
	}
}

double mqtt_backoff(double min, double max, unsigned attempt, double r)
{
	double d = min * pow(2.0, attempt > 30 ? 30 : attempt);
	if (d > max)
		d = max;
	/* jitter in [d/2, d): thousands of agents (or several mamorid nodes)
	 * coming back after a broker restart do not reconnect in lockstep */
	return d / 2 + d / 2 * r;
}
