/*
 * sla_conf.c: `centers` and per-customer `sla` terms from libconfig.
 *
 * Every key is checked against a table of known keys; an unknown key, a
 * wrong type, a bad duration, a calendar that does not exist, a center
 * without tiers or a duplicate name is an error naming file and line.
 * Calendars are looked up through the daemon's callback (it owns them).
 */
#include "sla/sla.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_REANNOUNCE 3600.0 /* one business hour */

int sla_parse_duration(const char *s, double *out)
{
	double total = 0;
	int parts = 0;
	if (!s || !*s)
		return -1;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return -1;
		char *end;
		unsigned long long v = strtoull(s, &end, 10);
		if (end - s > 12)
			return -1;
		double mult;
		if (strncmp(end, "ms", 2) == 0)
			mult = 0.001, end += 2;
		else if (*end == 's')
			mult = 1, end++;
		else if (*end == 'm')
			mult = 60, end++;
		else if (*end == 'h')
			mult = 3600, end++;
		else if (*end == 'd')
			mult = 86400, end++;
		else
			return -1;
		total += (double)v * mult;
		parts++;
		s = end;
	}
	if (parts == 0 || total > 400.0 * 86400)
		return -1;
	*out = total;
	return 0;
}

static void conf_err(char *err, size_t errlen, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conf_err(char *err, size_t errlen, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	int line = s ? (int)config_setting_source_line(s) : 0;
	int n = snprintf(err, errlen, "%s:%d: ", file ? file : "config", line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Every member of group must be named in keys (NULL-terminated). */
static int check_keys(const config_setting_t *g, const char *const *keys, const char *what,
                      char *err, size_t errlen)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k = 0;
		while (keys[k] && strcmp(keys[k], name ? name : "") != 0)
			k++;
		if (!keys[k]) {
			conf_err(err, errlen, m, "%s: unknown key '%s'", what, name ? name : "?");
			return -1;
		}
	}
	return 0;
}

static int get_str(const config_setting_t *g, const char *key, int required, const char **out,
                   const char *what, char *err, size_t errlen)
{
	const config_setting_t *m = config_setting_get_member(g, key);
	*out = NULL;
	if (!m) {
		if (required)
			conf_err(err, errlen, g, "%s: missing '%s'", what, key);
		return required ? -1 : 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_STRING || !*config_setting_get_string(m)) {
		conf_err(err, errlen, m, "%s: '%s' must be a non-empty string", what, key);
		return -1;
	}
	*out = config_setting_get_string(m);
	return 0;
}

static int get_dur(const config_setting_t *g, const char *key, double *out, const char *what,
                   char *err, size_t errlen)
{
	const char *s;
	if (get_str(g, key, 0, &s, what, err, errlen) < 0)
		return -1;
	if (s && sla_parse_duration(s, out) < 0) {
		conf_err(err, errlen, config_setting_get_member(g, key),
		         "%s: '%s' is not a duration (e.g. \"15m\", \"4h\", \"1d\"): \"%s\"", what,
		         key, s);
		return -1;
	}
	return 0;
}

static int parse_tier(const config_setting_t *g, struct sla_tier *t, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "ack_within", "resolve_within", NULL };
	const char *name;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		conf_err(err, errlen, g,
		         "tier: must be a group { name; ack_within; resolve_within; }");
		return -1;
	}
	if (check_keys(g, keys, "tier", err, errlen) < 0 ||
	    get_str(g, "name", 1, &name, "tier", err, errlen) < 0 ||
	    get_dur(g, "ack_within", &t->ack_within, "tier", err, errlen) < 0 ||
	    get_dur(g, "resolve_within", &t->resolve_within, "tier", err, errlen) < 0)
		return -1;
	t->name = strdup(name);
	return t->name ? 0 : -1;
}

static void terms_clear(struct sla_terms *t)
{
	for (size_t i = 0; i < t->n_tiers; i++)
		free(t->tiers[i].name);
	free(t->tiers);
	t->tiers = NULL;
	t->n_tiers = 0;
}

/* Fill terms from the keys calendar, tiers, reannounce of group g. */
static int parse_terms_keys(const config_setting_t *g, struct sla_terms *t, const char *what,
                            sla_cal_lookup_fn cal_lookup, void *arg, char *err, size_t errlen)
{
	const char *cal_name;
	if (get_str(g, "calendar", 1, &cal_name, what, err, errlen) < 0)
		return -1;
	t->cal = cal_lookup(arg, cal_name);
	if (!t->cal) {
		conf_err(err, errlen, config_setting_get_member(g, "calendar"),
		         "%s: undefined calendar '%s'", what, cal_name);
		return -1;
	}
	t->reannounce = DEFAULT_REANNOUNCE;
	if (get_dur(g, "reannounce", &t->reannounce, what, err, errlen) < 0)
		return -1;
	const config_setting_t *tl = config_setting_get_member(g, "tiers");
	if (!tl || !config_setting_is_aggregate(tl) || config_setting_length(tl) == 0) {
		conf_err(err, errlen, tl ? tl : g, "%s: 'tiers' must be a non-empty list of groups",
		         what);
		return -1;
	}
	size_t n = (size_t)config_setting_length(tl);
	t->tiers = calloc(n, sizeof(*t->tiers));
	if (!t->tiers) {
		conf_err(err, errlen, tl, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		t->n_tiers = i + 1;
		if (parse_tier(config_setting_get_elem(tl, (unsigned)i), &t->tiers[i], err,
		               errlen) < 0)
			return -1;
	}
	return 0;
}

struct sla_terms *sla_terms_parse(const config_setting_t *group, sla_cal_lookup_fn cal_lookup,
                                  void *arg, char *err, size_t errlen)
{
	static const char *const keys[] = { "calendar", "tiers", "reannounce", NULL };
	struct sla_terms *t = calloc(1, sizeof(*t));
	if (!t)
		goto fail;
	if (config_setting_type(group) != CONFIG_TYPE_GROUP) {
		conf_err(err, errlen, group, "sla: must be a group { calendar; tiers; }");
		goto fail;
	}
	if (check_keys(group, keys, "sla", err, errlen) < 0 ||
	    parse_terms_keys(group, t, "sla", cal_lookup, arg, err, errlen) < 0)
		goto fail;
	return t;
fail:
	sla_terms_free(t);
	return NULL;
}

void sla_terms_free(struct sla_terms *t)
{
	if (!t)
		return;
	terms_clear(t);
	free(t);
}

static int parse_center(const config_setting_t *g, struct sla_center *c,
                        sla_cal_lookup_fn cal_lookup, void *arg, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "calendar", "tiers", "reannounce", NULL };
	const char *name;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		conf_err(err, errlen, g, "center: must be a group { name; calendar; tiers; }");
		return -1;
	}
	if (check_keys(g, keys, "center", err, errlen) < 0 ||
	    get_str(g, "name", 1, &name, "center", err, errlen) < 0)
		return -1;
	if (!(c->name = strdup(name)))
		return -1;
	if (strchr(name, '/') || strchr(name, '+') || strchr(name, '#')) {
		conf_err(err, errlen, g, "center '%s': name must not contain '/', '+' or '#'",
		         name);
		return -1;
	}
	return parse_terms_keys(g, &c->terms, "center", cal_lookup, arg, err, errlen);
}

int sla_centers_parse(const config_setting_t *list, sla_cal_lookup_fn cal_lookup, void *arg,
                      struct sla_centers *out, char *err, size_t errlen)
{
	out->v = NULL;
	out->n = 0;
	if (!list)
		return 0;
	if (!config_setting_is_aggregate(list) || config_setting_type(list) == CONFIG_TYPE_GROUP) {
		conf_err(err, errlen, list, "centers: must be a list ( {...}, ... )");
		return -1;
	}
	size_t n = (size_t)config_setting_length(list);
	if (n == 0)
		return 0;
	out->v = calloc(n, sizeof(*out->v));
	if (!out->v) {
		conf_err(err, errlen, list, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		out->n = i + 1;
		if (parse_center(g, &out->v[i], cal_lookup, arg, err, errlen) < 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(out->v[j].name, out->v[i].name) == 0) {
				conf_err(err, errlen, g, "center '%s' defined twice",
				         out->v[i].name);
				goto fail;
			}
		}
	}
	return 0;
fail:
	sla_centers_free(out);
	return -1;
}

void sla_centers_free(struct sla_centers *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].name);
		terms_clear(&cs->v[i].terms);
	}
	free(cs->v);
	cs->v = NULL;
	cs->n = 0;
}

const struct sla_center *sla_centers_find(const struct sla_centers *cs, const char *name)
{
	for (size_t i = 0; cs && name && i < cs->n; i++)
		if (strcmp(cs->v[i].name, name) == 0)
			return &cs->v[i];
	return NULL;
}
