/*
 * app internals shared by app.c (queries, subscriptions) and command.c
 * (actions, downtimes, idempotency).  Not for other modules.
 */
#ifndef MAMORI_APP_INT_H
#define MAMORI_APP_INT_H

#include "app/app.h"
#include "util/hmap.h"

#include <ev.h>

struct cmd_seen;

struct app {
	struct app_deps d;
	char node[128];
	struct cmd_seen *seen;
	struct hmap made; /* "origin\nid" -> what that command created (own copies) */
	uint64_t inquiries;
	uint64_t generation;   /* reloads */
	char *datadir;         /* d.datadir's copy */
	char *report_calendar; /* reports.calendar, or NULL */
	char report_lang[4];   /* reports.lang */
	/* the schedule (report_sched.c) */
	struct hmap sched_done; /* "customer\nYYYY-MM" -> double: 1 done, 0 with the
	                         * workers, < 0: failed, retry after -value */
	ev_timer sched_timer;
	int sched_on;
	unsigned sched_inflight;
	size_t sched_cursor, sched_next; /* where the next walk starts */
	unsigned long long sched_made, sched_undelivered;
	app_report_deliver_fn sched_deliver;
	void *sched_deliver_ud;
	struct app_notify_hooks notify; /* src/notify's answers (app_set_notify) */
	void *notify_ud;
};

double app__now(const struct app *a);
/* A copy of s, "" for NULL. */
char *app__dup0(const char *s);
void app__remember_made(struct app *a, const char *origin, const char *idem, const char *id);
int app__customer_in_scope(const struct app_scope *sc, const char *customer);
int app__center_in_scope(const struct app_scope *sc, const char *center);
/* The more alarming of two states (CRITICAL > WARNING > UNKNOWN > OK);
 * -1 stands for none. */
int app__worse(int a, int b);
struct alert;
int app__alert_in_scope(const struct app_scope *sc, const struct alert *al);
int app__fail(struct app_result *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* report.c: the calendar a customer's report is counted in (NULL: none),
 * and the snapshot of one month (NULL with a message in msg). */
struct customer;
struct report_input;
const char *app__report_calendar(const struct app *a, const struct customer *cu);
struct report_input *app__report_input(struct app *a, const struct customer *cu, int year,
                                       int month, const char *lang, int format, char *msg,
                                       size_t msglen);

void app__sched_init(struct app *a);
void app__sched_free(struct app *a);

#endif
