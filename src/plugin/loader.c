/*
 * loader: dlopen and validate plugins.  See loader.h.
 * CHECKLIST: when plugin.h's struct mamori_plugin grows (minor version),
 * add the minimum struct_size of the new minor to loader_check_def.
 * 1.1 did not grow it: notifiers use the four slots 1.0 reserved for
 * them (NULL in every 1.0 plugin), and only MAMORI_PLUGIN_NOTIFIER
 * plugins may use them.  1.2 appended `metrics`: a 1.0/1.1 plugin ends at
 * `reserved` (loader_has_metrics says whether the field is there).
 */
#include "plugin/loader.h"
#include "util/log.h"
#include "util/mem.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stamped by the Makefile: the names of plugins/<name>/, space-separated. */
#ifndef MAMORI_SHIPPED_PLUGINS
#define MAMORI_SHIPPED_PLUGINS ""
#endif

struct loader {
	struct plugin_mod **mods;
	size_t n, cap;
};

struct loader *loader_new(void)
{
	return xcalloc(1, sizeof(struct loader));
}

static void mod_free(struct plugin_mod *m)
{
	if (!m)
		return;
	if (m->dl)
		dlclose(m->dl);
	free(m->name);
	free(m->path);
	free(m->refused);
	free(m);
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		mod_free(l->mods[i]);
	free(l->mods);
	free(l);
}

struct plugin_mod *loader_find(const struct loader *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->mods[i]->name, name) == 0)
			return l->mods[i];
	return NULL;
}

size_t loader_count(const struct loader *l)
{
	return l->n;
}

struct plugin_mod *loader_at(const struct loader *l, size_t i)
{
	return i < l->n ? l->mods[i] : NULL;
}

static int valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

const char *loader_check_def(const struct mamori_plugin *def)
{
	if (def->abi_major != MAMORI_PLUGIN_ABI_MAJOR)
		return "plugin ABI major version mismatch";
	/* Minor 0 and 1 define everything up to and including `reserved`,
	 * 2 also `metrics`. */
	if (def->struct_size < offsetof(struct mamori_plugin, metrics) ||
	    (def->abi_minor >= 2 && !MAMORI_HAS_FIELD(def, struct mamori_plugin, metrics)))
		return "plugin struct too small for its ABI version";
	if (!valid_name(def->name))
		return "plugin name missing or not [a-z0-9_]{1,64}";
	if (!def->init || !def->destroy)
		return "plugin lacks init or destroy";
	if (def->flags & MAMORI_PLUGIN_NOTIFIER) {
		/* 1.1: the notify slots were reserved (NULL) in 1.0 */
		if (def->abi_minor < 1)
			return "notifier plugin built for ABI 1.0 (notifiers need 1.1)";
		if (def->flags & MAMORI_PLUGIN_PASSIVE)
			return "a notifier plugin cannot be passive";
		if (!def->notify_send || !def->notify_cancel)
			return "notifier plugin lacks notify_send or notify_cancel";
		return NULL;
	}
	if (!(def->flags & MAMORI_PLUGIN_PASSIVE) &&
	    (!def->check_prepare || !def->check_start || !def->check_cancel || !def->check_release))
		return "active plugin lacks check_prepare, check_start, check_cancel or check_release";
	return NULL;
}

int loader_has_metrics(const struct mamori_plugin *def)
{
	return def && MAMORI_HAS_FIELD(def, struct mamori_plugin, metrics) && def->metrics;
}

int loader_is_shipped(const char *name, const char *path)
{
	if (!name || !*name || !path)
		return 0;
	size_t n = strlen(name);
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	if (strncmp(b, name, n) != 0 || strcmp(b + n, ".so") != 0)
		return 0;
	for (const char *p = MAMORI_SHIPPED_PLUGINS; *p;) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " ");
		if (w == n && strncmp(p, name, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}

static void add(struct loader *l, struct plugin_mod *m)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->mods = xrealloc(l->mods, l->cap * sizeof *l->mods);
	}
	l->mods[l->n++] = m;
}

static char *file_stem(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t n = strlen(b);
	if (n > 3 && strcmp(b + n - 3, ".so") == 0)
		n -= 3;
	return xstrndup(b, n);
}

static struct plugin_mod *refuse(struct loader *l, struct plugin_mod *m, const char *why)
{
	m->refused = xasprintf("plugin %s refused: %s", m->path, why);
	log_err("plugin", "%s", m->refused);
	if (m->dl) {
		dlclose(m->dl);
		m->dl = NULL;
	}
	m->def = NULL;
	/* Keep a refused module only under a name nobody else uses, so a
	 * duplicate never shadows the good one. */
	if (loader_find(l, m->name)) {
		mod_free(m);
		return NULL;
	}
	add(l, m);
	return m;
}

struct plugin_mod *loader_load(struct loader *l, const char *path)
{
	struct plugin_mod *m = xcalloc(1, sizeof *m);
	m->path = xstrdup(path);
	m->name = file_stem(path);
	dlerror();
	/* RTLD_NODELETE: a plugin's code stays mapped after dlclose, so a
	 * late callback cannot jump into unmapped memory and sanitizer
	 * reports of libraries a plugin initialised once resolve to names. */
	m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!m->dl) {
		const char *e = dlerror();
		return refuse(l, m, e ? e : "dlopen failed");
	}
	const struct mamori_plugin *def = dlsym(m->dl, MAMORI_PLUGIN_SYMBOL);
	if (!def)
		return refuse(l, m, "no symbol " MAMORI_PLUGIN_SYMBOL " (not a mamori plugin?)");
	if (def->abi_major != MAMORI_PLUGIN_ABI_MAJOR) {
		char why[160];
		snprintf(why, sizeof why, "ABI version %u.%u, this mamorid speaks %d.%d",
		         def->abi_major, def->abi_minor, MAMORI_PLUGIN_ABI_MAJOR,
		         MAMORI_PLUGIN_ABI_MINOR);
		if (valid_name(def->name)) {
			free(m->name);
			m->name = xstrdup(def->name);
		}
		return refuse(l, m, why);
	}
	const char *bad = loader_check_def(def);
	if (bad)
		return refuse(l, m, bad);
	free(m->name);
	m->name = xstrdup(def->name);
	struct plugin_mod *other = loader_find(l, def->name);
	if (other) {
		char why[600];
		snprintf(why, sizeof why, "duplicate plugin name '%s' (already loaded from %s)",
		         def->name, other->path);
		return refuse(l, m, why);
	}
	m->def = def;
	m->shipped = loader_is_shipped(def->name, path);
	add(l, m);
	log_info("plugin", "loaded %s %s from %s%s", def->name, def->version ? def->version : "?",
	         path, m->shipped ? "" : " (not shipped with mamori)");
	return m;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int loader_scan(struct loader *l, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		log_err("plugin", "cannot read plugin_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	int good = 0;
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		struct plugin_mod *m = loader_load(l, path);
		if (m && m->def)
			good++;
		free(path);
		free(names[i]);
	}
	free(names);
	return good;
}
