/* pconf: plugin config access and key-table validation.  See pconf.h. */
#include "config/pconf.h"
#include "perfdata/perfdata.h"
#include "util/mem.h"
#include "util/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *pconf_where(const config_setting_t *s, char *buf, size_t size)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;
	snprintf(buf, size, "%s:%u", file ? file : "(config)", line);
	return buf;
}

void pconf_report(pconf_err_fn on_error, void *ud, const config_setting_t *s, const char *fmt, ...)
{
	char msg[1024], where[512], full[1600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "%s: %s", pconf_where(s, where, sizeof where), msg);
	if (on_error)
		on_error(ud, full);
}

static const char *type_name(int t)
{
	switch (t) {
	case MAMORI_KEY_STRING: return "a string";
	case MAMORI_KEY_INT: return "an integer";
	case MAMORI_KEY_FLOAT: return "a number";
	case MAMORI_KEY_BOOL: return "true or false";
	case MAMORI_KEY_DURATION: return "a duration such as \"30s\", \"15m\", \"4h\"";
	case MAMORI_KEY_RANGE: return "a threshold range such as \"80\", \"10:20\" or \"@0:5\"";
	case MAMORI_KEY_STRING_LIST: return "a list of strings";
	case MAMORI_KEY_GROUP: return "a group { ... }";
	case MAMORI_KEY_FILE: return "a file path";
	}
	return "?";
}

static int is_number(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT;
}

static double number_of(const config_setting_t *s)
{
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_FLOAT)
		return config_setting_get_float(s);
	return (double)config_setting_get_int64(s);
}

int pconf_setting_duration(const config_setting_t *s, double *out)
{
	if (is_number(s)) {
		double v = number_of(s);
		if (v < 0)
			return MAMORI_E_RANGE;
		*out = v;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return MAMORI_E_TYPE;
	return perf_duration_parse(config_setting_get_string(s), out) == 0 ? 0 : MAMORI_E_INVAL;
}

int pconf_setting_range(const config_setting_t *s, struct mamori_range *out)
{
	if (is_number(s)) {
		char buf[64];
		snprintf(buf, sizeof buf, "%.17g", number_of(s));
		return perf_range_parse(buf, out) == 0 ? 0 : MAMORI_E_INVAL;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return MAMORI_E_TYPE;
	return perf_range_parse(config_setting_get_string(s), out) == 0 ? 0 : MAMORI_E_INVAL;
}

static int check_type(const config_setting_t *m, const struct mamori_key *k, const char *what,
                      pconf_err_fn on_error, void *ud)
{
	int t = config_setting_type(m);
	double d;
	struct mamori_range r;
	switch (k->type) {
	case MAMORI_KEY_STRING:
		if (t == CONFIG_TYPE_STRING)
			return 0;
		break;
	case MAMORI_KEY_INT:
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
			return 0;
		break;
	case MAMORI_KEY_FLOAT:
		if (is_number(m))
			return 0;
		break;
	case MAMORI_KEY_BOOL:
		if (t == CONFIG_TYPE_BOOL)
			return 0;
		break;
	case MAMORI_KEY_DURATION: {
		int rc = pconf_setting_duration(m, &d);
		if (rc == 0)
			return 0;
		if (rc != MAMORI_E_TYPE) {
			pconf_report(
			    on_error, ud, m,
			    "%s: key '%s': bad duration (use e.g. \"500ms\", \"30s\", \"15m\", \"4h\", \"1d\")",
			    what, k->name);
			return 1;
		}
		break;
	}
	case MAMORI_KEY_RANGE: {
		int rc = pconf_setting_range(m, &r);
		if (rc == 0)
			return 0;
		if (rc != MAMORI_E_TYPE) {
			pconf_report(on_error, ud, m, "%s: key '%s': bad threshold range '%s'",
			             what, k->name,
			             config_setting_get_string(m) ? config_setting_get_string(m)
			                                          : "");
			return 1;
		}
		break;
	}
	case MAMORI_KEY_STRING_LIST:
		if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
			int n = config_setting_length(m);
			for (int i = 0; i < n; i++) {
				const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
				if (config_setting_type(e) != CONFIG_TYPE_STRING) {
					pconf_report(on_error, ud, e,
					             "%s: key '%s': element %d must be a string",
					             what, k->name, i + 1);
					return 1;
				}
			}
			return 0;
		}
		if (t == CONFIG_TYPE_STRING)
			return 0; /* a single string is a list of one */
		break;
	case MAMORI_KEY_GROUP:
		if (t == CONFIG_TYPE_GROUP) {
			if (!k->sub)
				return 0; /* structural: its owner validates the inside */
			char sub[512];
			snprintf(sub, sizeof sub, "%s, group '%s'", what, k->name);
			return pconf_validate(m, k->sub, NULL, sub, on_error, ud);
		}
		break;
	case MAMORI_KEY_FILE:
		if (t == CONFIG_TYPE_STRING) {
			const char *path = config_setting_get_string(m);
			if (access(path, R_OK) != 0) {
				pconf_report(on_error, ud, m,
				             "%s: key '%s': cannot read file %s: %s", what, k->name,
				             path, strerror(errno));
				return 1;
			}
			return 0;
		}
		break;
	default: return 0;
	}
	pconf_report(on_error, ud, m, "%s: key '%s' must be %s", what, k->name, type_name(k->type));
	return 1;
}

static const struct mamori_key *find_key(const struct mamori_key *keys, const char *name)
{
	for (const struct mamori_key *k = keys; k && k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static void list_keys(char *buf, size_t size, const struct mamori_key *a,
                      const struct mamori_key *b)
{
	size_t off = 0;
	buf[0] = '\0';
	const struct mamori_key *tabs[2] = { a, b };
	for (int t = 0; t < 2; t++)
		for (const struct mamori_key *k = tabs[t]; k && k->name && off < size; k++)
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
			                        k->name);
}

int pconf_validate(const config_setting_t *group, const struct mamori_key *keys,
                   const struct mamori_key *extra, const char *what, pconf_err_fn on_error,
                   void *ud)
{
	int errors = 0;
	int n = group ? config_setting_length(group) : 0;
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(m);
		if (!name)
			continue;
		const struct mamori_key *k = find_key(keys, name);
		if (!k)
			k = find_key(extra, name);
		if (!k) {
			char known[700];
			list_keys(known, sizeof known, keys, extra);
			pconf_report(on_error, ud, m, "%s: unknown key '%s' (known: %s)", what,
			             name, known[0] ? known : "none");
			errors++;
			continue;
		}
		errors += check_type(m, k, what, on_error, ud);
	}
	for (const struct mamori_key *tabs[2] = { keys, extra }, **tp = tabs; tp < tabs + 2; tp++)
		for (const struct mamori_key *k = *tp; k && k->name; k++)
			if ((k->flags & MAMORI_KEY_REQUIRED) &&
			    !(group && config_setting_get_member(group, k->name))) {
				pconf_report(on_error, ud, group,
				             "%s: required key '%s' is missing", what, k->name);
				errors++;
			}
	return errors;
}

static const config_setting_t *member(const struct mamori_conf *c, const char *key)
{
	if (!c || !c->s || !key)
		return NULL;
	return config_setting_get_member(c->s, key);
}

int pconf_string(const struct mamori_conf *c, const char *key, const char **out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	if (config_setting_type(m) != CONFIG_TYPE_STRING)
		return MAMORI_E_TYPE;
	*out = config_setting_get_string(m);
	return 0;
}

int pconf_int(const struct mamori_conf *c, const char *key, long long *out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	int t = config_setting_type(m);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return MAMORI_E_TYPE;
	*out = config_setting_get_int64(m);
	return 0;
}

int pconf_float(const struct mamori_conf *c, const char *key, double *out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	if (!is_number(m))
		return MAMORI_E_TYPE;
	*out = number_of(m);
	return 0;
}

int pconf_bool(const struct mamori_conf *c, const char *key, int *out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	if (config_setting_type(m) != CONFIG_TYPE_BOOL)
		return MAMORI_E_TYPE;
	*out = config_setting_get_bool(m);
	return 0;
}

int pconf_duration(const struct mamori_conf *c, const char *key, double *out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	return pconf_setting_duration(m, out);
}

int pconf_range(const struct mamori_conf *c, const char *key, struct mamori_range *out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	return pconf_setting_range(m, out);
}

int pconf_list_item(const struct mamori_conf *c, const char *key, size_t i, const char **out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	int t = config_setting_type(m);
	if (t == CONFIG_TYPE_STRING) {
		if (i > 0)
			return MAMORI_E_NOTFOUND;
		*out = config_setting_get_string(m);
		return 0;
	}
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
		return MAMORI_E_TYPE;
	if (i >= (size_t)config_setting_length(m))
		return MAMORI_E_NOTFOUND;
	const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return MAMORI_E_TYPE;
	*out = config_setting_get_string(e);
	return 0;
}

int pconf_group(const struct mamori_conf *c, const char *key, const struct mamori_conf **out)
{
	const config_setting_t *m = member(c, key);
	if (!m)
		return MAMORI_E_NOTFOUND;
	if (config_setting_type(m) != CONFIG_TYPE_GROUP)
		return MAMORI_E_TYPE;
	struct mamori_conf *root = (struct mamori_conf *)c;
	struct mamori_conf *k = xcalloc(1, sizeof *k);
	k->s = m;
	k->on_error = c->on_error;
	k->ud = c->ud;
	k->next = root->kids;
	root->kids = k;
	*out = k;
	return 0;
}

void pconf_release(struct mamori_conf *c)
{
	if (!c)
		return;
	while (c->kids) {
		struct mamori_conf *k = c->kids;
		c->kids = k->next;
		pconf_release(k);
		free(k);
	}
}

int pconf_verror(const struct mamori_conf *c, const char *key, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	const config_setting_t *m = member(c, key);
	if (key && m)
		pconf_report(c->on_error, c->ud, m, "key '%s': %s", key, msg);
	else
		pconf_report(c ? c->on_error : NULL, c ? c->ud : NULL, c ? c->s : NULL, "%s", msg);
	return MAMORI_E_CONFIG;
}

int pconf_secret(const struct mamori_conf *c, const char *key, char **out, size_t *len)
{
	const char *path;
	char err[1024];
	int rc = pconf_string(c, key, &path);
	if (rc)
		return rc;
	/* The permission rules (util/secret.h) are the core's, the same for
	 * every plugin; the refusal is reported here, at the key's line. */
	if (secret_read_file(path, out, len, err, sizeof err) != 0) {
		pconf_report(c->on_error, c->ud, member(c, key), "key '%s': %s", key, err);
		return MAMORI_E_CONFIG;
	}
	return 0;
}
