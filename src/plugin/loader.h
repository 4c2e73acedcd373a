/*
 * loader: finds, opens and validates plugin .so files.
 *
 * Owns the registry of plugin modules by name.  A file that fails to load,
 * lacks the `mamori_plugin_v1` symbol, has another ABI major, a struct too
 * small for its minor version, a missing mandatory function or a name that
 * another file already registered is refused with a message naming the
 * file; it is kept in the registry as "refused" under the name it claims
 * (or its file name), so config can still refer to it and its checks go
 * UNKNOWN with that message instead of stopping the daemon.
 *
 * dlopen(RTLD_NOW | RTLD_LOCAL): unresolved symbols fail at load, not at
 * the first check; plugins cannot see each other's symbols.
 *
 * Shipped plugins: the build stamps the names of the plugins in this
 * repository's plugins/ directory into loader.o (MAMORI_SHIPPED_PLUGINS,
 * from the Makefile's PLUGINS list, so a new plugins/<name>/ is shipped
 * with no list to keep by hand).  A module is `shipped` when its name is
 * in that list and its file is <name>.so, as the build names it.  Config
 * runs every other plugin isolated by default (src/config/config.c).
 * This is no authentication: a foreign .so that calls itself `utm` and
 * replaces utm.so is trusted like utm - whoever can write the plugin
 * directory runs code as mamorid anyway.  What it guards against is a
 * vendor's buggy plugin taking the core down.
 */
#ifndef MAMORI_LOADER_H
#define MAMORI_LOADER_H

#include <mamori/plugin.h>
#include <stddef.h>

struct plugin_mod {
	char *name;
	char *path;
	void *dl;                        /* dlopen handle, NULL if refused */
	const struct mamori_plugin *def; /* NULL if refused */
	char *refused;                   /* why it was refused, or NULL */
	int shipped;                     /* one of the plugins mamori ships */
};

struct loader;

struct loader *loader_new(void);
void loader_free(struct loader *l); /* dlcloses everything */
/* Load every *.so in dir (sorted by name).  Refusals are logged and kept.
 * Returns the number of usable plugins, or -1 if dir cannot be read. */
int loader_scan(struct loader *l, const char *dir);
/* Load one file.  Returns the module (usable or refused). */
struct plugin_mod *loader_load(struct loader *l, const char *path);
struct plugin_mod *loader_find(const struct loader *l, const char *name);
size_t loader_count(const struct loader *l);
struct plugin_mod *loader_at(const struct loader *l, size_t i);
/* Validate a plugin struct (used by loader_load; exposed for tests).
 * Returns NULL if fine, else a static message. */
const char *loader_check_def(const struct mamori_plugin *def);
/* 1 when a plugin named name, loaded from path, is one mamori ships. */
int loader_is_shipped(const char *name, const char *path);
/* 1 when def has a metrics function (ABI 1.2: the field exists and is set). */
int loader_has_metrics(const struct mamori_plugin *def);

#endif
