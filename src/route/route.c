/*
 * route.c: routing rules (see route.h).
 *
 * A rule keeps each condition as a small array of strings (a scalar in the
 * config is a one-element array); an empty array means "any".  Matching is
 * a linear walk: configs have tens of rules, and an alert is routed once
 * when it opens, not per check result.
 */
#include "route/route.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct strv {
	char **v;
	size_t n;
};

enum { C_CUSTOMER, C_TAGS, C_REGION, C_SERVICE, C_SEVERITY, C_CHECK, C_COUNT };
static const char *const cond_keys[C_COUNT] = { "customer", "tags",     "region",
	                                        "service",  "severity", "check" };

struct route_rule {
	struct strv cond[C_COUNT];
	const struct sla_center *center;
	int cont;
};

struct route_table {
	struct route_rule *rules;
	size_t n;
};

static void rerr(char *err, size_t errlen, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rerr(char *err, size_t errlen, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	int n = snprintf(err, errlen, "%s:%d: ", file ? file : "config",
	                 s ? (int)config_setting_source_line(s) : 0);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int strv_push(struct strv *s, const char *str)
{
	char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	s->v = nv;
	if (!(s->v[s->n] = strdup(str)))
		return -1;
	s->n++;
	return 0;
}

static const char *const severities[] = { "warning", "critical", "unknown", NULL };

static int valid_severity(const char *s)
{
	for (size_t i = 0; severities[i]; i++)
		if (strcmp(s, severities[i]) == 0)
			return 1;
	return 0;
}

/* A string or a non-empty array/list of strings. */
static int parse_cond(const config_setting_t *m, int which, struct strv *out, char *err,
                      size_t errlen)
{
	int type = config_setting_type(m);
	if (type == CONFIG_TYPE_STRING && which != C_TAGS)
		return strv_push(out, config_setting_get_string(m));
	if ((type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST) ||
	    config_setting_length(m) == 0)
		goto bad;
	for (int i = 0; i < config_setting_length(m); i++) {
		const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			goto bad;
		if (which == C_SEVERITY && !valid_severity(config_setting_get_string(e))) {
			rerr(err, errlen, m,
			     "route: unknown severity '%s' (warning, critical, unknown)",
			     config_setting_get_string(e));
			return -1;
		}
		if (strv_push(out, config_setting_get_string(e)) < 0)
			return -1;
	}
	return 0;
bad:
	rerr(err, errlen, m, "route: '%s' must be %sa non-empty array of strings", cond_keys[which],
	     which == C_TAGS ? "" : "a string or ");
	return -1;
}

static int parse_member(const config_setting_t *m, struct route_rule *r,
                        const struct sla_centers *centers, char *err, size_t errlen)
{
	const char *name = config_setting_name(m);
	name = name ? name : "?";
	for (int c = 0; c < C_COUNT; c++) {
		if (strcmp(name, cond_keys[c]) == 0) {
			if (r->cond[c].n) {
				rerr(err, errlen, m, "route: '%s' given twice", name);
				return -1;
			}
			if (parse_cond(m, c, &r->cond[c], err, errlen) < 0)
				return -1;
			if (c == C_SEVERITY && !valid_severity(r->cond[c].v[0])) {
				rerr(err, errlen, m, "route: unknown severity '%s'",
				     r->cond[c].v[0]);
				return -1;
			}
			return 0;
		}
	}
	if (strcmp(name, "center") == 0) {
		if (config_setting_type(m) != CONFIG_TYPE_STRING) {
			rerr(err, errlen, m, "route: 'center' must be a string");
			return -1;
		}
		r->center = sla_centers_find(centers, config_setting_get_string(m));
		if (!r->center) {
			rerr(err, errlen, m, "route: undefined center '%s'",
			     config_setting_get_string(m));
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "continue") == 0) {
		if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
			rerr(err, errlen, m, "route: 'continue' must be true or false");
			return -1;
		}
		r->cont = config_setting_get_bool(m);
		return 0;
	}
	rerr(err, errlen, m, "route: unknown key '%s'", name);
	return -1;
}

static int parse_rule(const config_setting_t *g, struct route_rule *r,
                      const struct sla_centers *centers, char *err, size_t errlen)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		rerr(err, errlen, g, "route: each rule must be a group { ...; center = \"...\"; }");
		return -1;
	}
	for (int i = 0; i < config_setting_length(g); i++)
		if (parse_member(config_setting_get_elem(g, (unsigned)i), r, centers, err, errlen) <
		    0)
			return -1;
	if (!r->center) {
		rerr(err, errlen, g, "route: missing 'center'");
		return -1;
	}
	return 0;
}

struct route_table *route_parse(const config_setting_t *routes, const struct sla_centers *centers,
                                char *err, size_t errlen)
{
	struct route_table *t = calloc(1, sizeof(*t));
	if (!t) {
		rerr(err, errlen, routes, "out of memory");
		return NULL;
	}
	if (!routes)
		return t;
	if (config_setting_type(routes) != CONFIG_TYPE_LIST) {
		rerr(err, errlen, routes, "routes: must be a list ( {...}, ... )");
		goto fail;
	}
	size_t n = (size_t)config_setting_length(routes);
	if (n && !(t->rules = calloc(n, sizeof(*t->rules)))) {
		rerr(err, errlen, routes, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		t->n = i + 1;
		if (parse_rule(config_setting_get_elem(routes, (unsigned)i), &t->rules[i], centers,
		               err, errlen) < 0)
			goto fail;
	}
	return t;
fail:
	route_free(t);
	return NULL;
}

void route_free(struct route_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		for (int c = 0; c < C_COUNT; c++)
			strv_free(&t->rules[i].cond[c]);
	free(t->rules);
	free(t);
}

size_t route_count(const struct route_table *t)
{
	return t ? t->n : 0;
}

static int any_of(const struct strv *s, const char *val, int glob)
{
	if (s->n == 0)
		return 1;
	if (!val)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		if (glob ? fnmatch(s->v[i], val, 0) == 0 : strcmp(s->v[i], val) == 0)
			return 1;
	}
	return 0;
}

static int has_all_tags(const struct strv *want, const struct route_input *in)
{
	for (size_t i = 0; i < want->n; i++) {
		size_t j = 0;
		while (j < in->n_tags && (!in->tags[j] || strcmp(in->tags[j], want->v[i]) != 0))
			j++;
		if (j == in->n_tags)
			return 0;
	}
	return 1;
}

static int rule_matches(const struct route_rule *r, const struct route_input *in)
{
	return any_of(&r->cond[C_CUSTOMER], in->customer, 0) &&
	       has_all_tags(&r->cond[C_TAGS], in) && any_of(&r->cond[C_REGION], in->region, 0) &&
	       any_of(&r->cond[C_SERVICE], in->service, 0) &&
	       any_of(&r->cond[C_SEVERITY], in->severity, 0) &&
	       any_of(&r->cond[C_CHECK], in->check, 1);
}

static void add_also(struct route_result *out, const struct sla_center *c)
{
	if (c == out->center)
		return;
	for (size_t i = 0; i < out->n_also; i++)
		if (out->also[i] == c)
			return;
	if (out->n_also < ROUTE_MAX_ALSO)
		out->also[out->n_also++] = c;
}

int route_match(const struct route_table *t, const struct route_input *in, struct route_result *out)
{
	memset(out, 0, sizeof(*out));
	out->rule = -1;
	for (size_t i = 0; t && i < t->n; i++) {
		const struct route_rule *r = &t->rules[i];
		if (!rule_matches(r, in))
			continue;
		if (!out->center) {
			out->center = r->center;
			out->rule = (int)i;
		} else {
			add_also(out, r->center);
		}
		if (!r->cont)
			break;
	}
	return out->center ? 0 : -1;
}
