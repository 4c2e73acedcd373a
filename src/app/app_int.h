/*
 * app internals shared by app.c (queries, subscriptions) and command.c
 * (actions, downtimes, idempotency).  Not for other modules.
 */
#ifndef MAMORI_APP_INT_H
#define MAMORI_APP_INT_H

#include "app/app.h"
#include "util/hmap.h"

struct cmd_seen;

struct app {
	struct app_deps d;
	char node[128];
	struct cmd_seen *seen;
	struct hmap made; /* "origin\nid" -> what that command created (own copies) */
	uint64_t inquiries;
	struct app_notify_hooks notify; /* src/notify's answers (app_set_notify) */
	void *notify_ud;
};

double app__now(const struct app *a);
/* A copy of s, "" for NULL. */
char *app__dup0(const char *s);
void app__remember_made(struct app *a, const char *origin, const char *idem, const char *id);
int app__customer_in_scope(const struct app_scope *sc, const char *customer);
int app__center_in_scope(const struct app_scope *sc, const char *center);
int app__fail(struct app_result *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
