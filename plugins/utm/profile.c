/*
 * utm: vendor profiles, OIDs, the value store and the request plan.
 *
 * A profile is a small text file, one `key = method args` per line, `#`
 * comments; see share/mamori/profiles/README.md.  Parsing is pure (no SNMP
 * library, no host) and strict: unknown keys, methods, malformed OIDs and
 * over-long lines are errors naming the line, so a broken vendor file is
 * reported at config load, not as odd values at 3 a.m.
 */
#include "plugins/utm/utm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int utm_oid_parse(const char *s, struct utm_oid *o)
{
	o->len = 0;
	if (!s)
		return MAMORI_E_INVAL;
	if (*s == '.')
		s++;
	while (*s) {
		unsigned long v = 0;
		if (!isdigit((unsigned char)*s) || o->len == UTM_OID_MAX)
			return MAMORI_E_INVAL;
		while (isdigit((unsigned char)*s)) {
			v = v * 10 + (unsigned long)(*s++ - '0');
			if (v > UINT32_MAX)
				return MAMORI_E_INVAL;
		}
		o->arc[o->len++] = (uint32_t)v;
		if (*s == '.' && s[1] != '\0')
			s++;
		else if (*s)
			return MAMORI_E_INVAL;
	}
	/* SNMP needs at least two arcs, the first 0..2 */
	return o->len >= 2 && o->arc[0] <= 2 ? 0 : MAMORI_E_INVAL;
}

int utm_oid_format(const struct utm_oid *o, char *buf, size_t size)
{
	size_t used = 0;
	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < o->len; i++) {
		int n = snprintf(buf + used, size > used ? size - used : 0, "%s%u", i ? "." : "",
		                 o->arc[i]);
		used += (size_t)n;
	}
	return (int)used;
}

int utm_oid_under(const struct utm_oid *o, const struct utm_oid *prefix)
{
	return o->len >= prefix->len &&
	       memcmp(o->arc, prefix->arc, prefix->len * sizeof o->arc[0]) == 0;
}

static int oid_eq(const struct utm_oid *a, const struct utm_oid *b)
{
	return a->len == b->len && memcmp(a->arc, b->arc, a->len * sizeof a->arc[0]) == 0;
}

const struct utm_metric *utm_profile_find(const struct utm_profile *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->m[i].key, key) == 0)
			return &p->m[i];
	return NULL;
}

static int key_ok(const char *k)
{
	if (!strcmp(k, "cpu") || !strcmp(k, "memory") || !strcmp(k, "sessions"))
		return 1;
	if (strncmp(k, "perf.", 5) != 0 || !k[5])
		return 0;
	for (k += 5; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
			return 0;
	return 1;
}

static const struct {
	const char *name;
	int method;
	int nargs;
} methods[] = {
	{ "get", UTM_M_GET, 1 }, { "avg", UTM_M_AVG, 1 },         { "sum", UTM_M_SUM, 1 },
	{ "max", UTM_M_MAX, 1 }, { "percent", UTM_M_PERCENT, 2 }, { "hrstorage", UTM_M_STORAGE, 1 },
};

/* One non-comment line, already trimmed: "key = method arg [arg]". */
static int parse_line(char *line, struct utm_metric *m, const char **why)
{
	char *tok[6], *save = NULL, *eq = strchr(line, '=');
	size_t nt = 0;
	if (!eq)
		return *why = "expected 'key = method OID...'", -1;
	*eq = ' ';
	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nt == 6)
			return *why = "too many words", -1;
		tok[nt++] = t;
	}
	if (nt < 3)
		return *why = "expected 'key = method OID...'", -1;
	if (strlen(tok[0]) >= sizeof m->key || !key_ok(tok[0]))
		return *why = "unknown key (cpu, memory, sessions, perf.<label>)", -1;
	snprintf(m->key, sizeof m->key, "%s", tok[0]);
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		size_t extra;
		if (strcmp(tok[1], methods[i].name) != 0)
			continue;
		m->method = methods[i].method;
		extra = nt - 2 - (size_t)methods[i].nargs;
		if (nt - 2 < (size_t)methods[i].nargs || extra > (m->method == UTM_M_GET ? 1u : 0u))
			return *why = "wrong number of arguments", -1;
		if (utm_oid_parse(tok[2], &m->a) < 0 ||
		    (methods[i].nargs == 2 && utm_oid_parse(tok[3], &m->b) < 0))
			return *why = "malformed OID (numeric, dotted)", -1;
		if (extra) {
			const char *u = tok[3];
			if (strlen(u) >= sizeof m->uom)
				return *why = "unit too long", -1;
			for (const char *c = u; *c; c++)
				if (!isalpha((unsigned char)*c) && *c != '%')
					return *why = "bad unit", -1;
			snprintf(m->uom, sizeof m->uom, "%s", u);
		}
		return 0;
	}
	return *why = "unknown method (get, avg, sum, max, percent, hrstorage)", -1;
}

int utm_profile_parse(const char *text, struct utm_profile *p, char *err, size_t errsize)
{
	int lineno = 0;
	memset(p, 0, sizeof *p);
	while (text && *text) {
		char line[512], *s, *e;
		const char *nl = strchr(text, '\n'), *why = NULL;
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		lineno++;
		if (len >= sizeof line) {
			snprintf(err, errsize, "line %d: line too long", lineno);
			return MAMORI_E_INVAL;
		}
		memcpy(line, text, len);
		line[len] = '\0';
		text += len + (nl ? 1 : 0);
		if ((s = strchr(line, '#')))
			*s = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s)
			continue;
		if (p->n == UTM_METRICS_MAX) {
			snprintf(err, errsize, "line %d: too many entries (max %d)", lineno,
			         UTM_METRICS_MAX);
			return MAMORI_E_INVAL;
		}
		if (parse_line(s, &p->m[p->n], &why) < 0) {
			snprintf(err, errsize, "line %d: %s", lineno, why);
			return MAMORI_E_INVAL;
		}
		if (utm_profile_find(p, p->m[p->n].key)) {
			snprintf(err, errsize, "line %d: duplicate key '%s'", lineno,
			         p->m[p->n].key);
			return MAMORI_E_INVAL;
		}
		p->n++;
	}
	return 0;
}

int utm_profile_load(const char *path, struct utm_profile *p, char *err, size_t errsize)
{
	enum { MAX = 64 * 1024 };
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;
	int rc = MAMORI_E_IO;
	if (!f) {
		snprintf(err, errsize, "cannot open %s: %s", path, strerror(errno));
		return MAMORI_E_IO;
	}
	if (!(buf = malloc(MAX + 1))) {
		rc = MAMORI_E_NOMEM;
		goto fail;
	}
	n = fread(buf, 1, MAX + 1, f);
	if (n > MAX || memchr(buf, '\0', n)) {
		snprintf(err, errsize, "%s: too large or not text", path);
		rc = MAMORI_E_INVAL;
		goto fail;
	}
	buf[n] = '\0';
	rc = utm_profile_parse(buf, p, err, errsize);
fail:
	free(buf);
	fclose(f);
	return rc;
}

/* ---- value store ---- */

int utm_values_add(struct utm_values *vs, const struct utm_vb *vb)
{
	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 32;
		struct utm_vb *v;
		if (cap > 100000) /* a runaway table; refuse rather than eat memory */
			return MAMORI_E_RANGE;
		if (!(v = realloc(vs->v, cap * sizeof *v)))
			return MAMORI_E_NOMEM;
		vs->v = v;
		vs->cap = cap;
	}
	vs->v[vs->n++] = *vb;
	return 0;
}

const struct utm_vb *utm_values_get(const struct utm_values *vs, const struct utm_oid *oid)
{
	for (size_t i = 0; i < vs->n; i++)
		if (oid_eq(&vs->v[i].oid, oid))
			return &vs->v[i];
	return NULL;
}

void utm_values_free(struct utm_values *vs)
{
	free(vs->v);
	memset(vs, 0, sizeof *vs);
}

/* ---- request plan ---- */

static int add_unique(struct utm_oid *list, size_t *n, const struct utm_oid *o)
{
	for (size_t i = 0; i < *n; i++)
		if (oid_eq(&list[i], o))
			return 0;
	if (*n == UTM_REQ_MAX)
		return MAMORI_E_RANGE;
	list[(*n)++] = *o;
	return 0;
}

static int add_text(struct utm_oid *list, size_t *n, const char *text)
{
	struct utm_oid o;
	utm_oid_parse(text, &o);
	return add_unique(list, n, &o);
}

int utm_request_build(const struct utm_profile *p, int want_ifaces, struct utm_request *req)
{
	int rc = 0;
	memset(req, 0, sizeof *req);
	rc |= add_text(req->scalar, &req->n_scalar, "1.3.6.1.2.1.1.3.0"); /* sysUpTime */
	for (size_t i = 0; i < p->n; i++) {
		const struct utm_metric *m = &p->m[i];
		switch (m->method) {
		case UTM_M_GET: rc |= add_unique(req->scalar, &req->n_scalar, &m->a); break;
		case UTM_M_PERCENT:
			rc |= add_unique(req->scalar, &req->n_scalar, &m->a);
			rc |= add_unique(req->scalar, &req->n_scalar, &m->b);
			break;
		case UTM_M_STORAGE: /* hrStorageType, AllocationUnits, Size, Used */
			rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.25.2.3.1.2");
			rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.25.2.3.1.4");
			rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.25.2.3.1.5");
			rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.25.2.3.1.6");
			break;
		default: rc |= add_unique(req->column, &req->n_column, &m->a);
		}
	}
	if (want_ifaces) { /* IF-MIB ifDescr, ifOperStatus, ifName */
		rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.2.2.1.2");
		rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.2.2.1.8");
		rc |= add_text(req->column, &req->n_column, "1.3.6.1.2.1.31.1.1.1.1");
	}
	return rc ? MAMORI_E_RANGE : 0;
}
