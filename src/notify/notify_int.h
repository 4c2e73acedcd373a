/*
 * notify_int: what the files of src/notify share.  Private to src/notify
 * (and to its unit tests).
 *
 *   notify_conf.c  contacts, oncall and notify groups -> struct notify_conf
 *   oncall.c       the schedule resolver and the gap finder (pure: a
 *                  schedule and a time in, contacts out; no I/O)
 */
#ifndef MAMORI_NOTIFY_INT_H
#define MAMORI_NOTIFY_INT_H

#include "notify/notify.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cal;
struct plugin_mod;

#define NOTIFY_MAX_CHANNELS 16
#define NOTIFY_MAX_SOURCE   80

/* Events a rule may name: the alert's event types (bit 1 << enum
 * alert_ev_type) and the repeat page of an unacknowledged alert. */
#define NEV_REPEAT (1u << 31)

/* Severities (bit 1 << check state): 1 warning, 2 critical, 3 unknown. */
#define NSEV_ALL 0xeu

/* ---- configuration ---- */

struct nchannel {
	char *name;
	char *plugin;
	struct plugin_mod *mod;
	unsigned flags;    /* the notifier's MAMORI_PLUGIN_* */
	unsigned segments; /* SMS segments a short text may use (default 1) */
	uint64_t hash;     /* of its block: an unchanged channel keeps its instance */
	void *inst;        /* the notifier instance (owned unless moved) */
	int reuse;         /* index of the old conf's channel whose instance it takes, or -1 */
	char where[96];    /* "file:line" */
};

struct ncrule {
	unsigned channel;  /* index into channels */
	unsigned severity; /* NSEV bits */
	uint32_t events;   /* event bits; 0: the notify rule's */
};

struct ncontact {
	char *name, *email, *phone, *lang;
	struct cal *tz;      /* its zone (quiet hours), owned */
	struct cal *quiet;   /* quiet hours in that zone, or NULL; owned */
	unsigned quiet_pass; /* NSEV bits that still page during quiet hours */
	struct ncrule *rules;
	size_t n_rules;
};

enum nlayer_kind { NL_ALWAYS, NL_HOURS, NL_CAL_OPEN, NL_CAL_CLOSED };

struct nlayer {
	char *name;
	size_t *members; /* contact indexes */
	size_t n_members;
	int period_days;    /* 1 daily, 7 weekly */
	int hand_min;       /* handoff: minutes after local midnight */
	int64_t anchor_day; /* local day (days since 1970-01-01) of handoff 0 */
	enum nlayer_kind kind;
	struct cal *hours;     /* NL_HOURS: owned */
	const struct cal *cal; /* NL_CAL_*: a named calendar (borrowed) */
};

struct noverride {
	size_t contact;
	time_t from, until;
};

struct nsched {
	char *center;
	char *tier;             /* NULL: every tier of the center without a schedule of its own */
	const struct cal *zone; /* local time of handoffs (the center's calendar, or own) */
	struct cal *own_zone;   /* `timezone` given: owned */
	struct nlayer *layers;
	size_t n_layers;
	struct noverride *ov;
	size_t n_ov;
	long fallback; /* contact index, -1 none */
	char where[96];
};

struct nrule {
	char *center, *service, *customer; /* NULL: any */
	uint32_t events;
	double repeat; /* seconds; 0: never */
};

struct nrunbook {
	char *service, *check, *customer; /* NULL: any */
	char *text;
};

struct notify_conf {
	struct ncontact *contacts;
	size_t n_contacts;
	struct nsched *scheds;
	size_t n_scheds;
	struct nchannel channels[NOTIFY_MAX_CHANNELS];
	size_t n_channels;
	struct nrule *rules;
	size_t n_rules;
	struct nrunbook *runbooks;
	size_t n_runbooks;
	uint32_t events; /* default events that page */
	double repeat;   /* default repeat, seconds (0: never) */
	double window;   /* bundling window per (contact, channel) */
	double hold;     /* wait this long before a first message (gathers a burst) */
	unsigned sms_per_hour;
	double retry_min, retry_max, give_up;
	double send_timeout; /* a delivery not done by then is cancelled and retried */
	char *link_base;     /* dashboard base URL, or NULL */
	char *reply_to;      /* reply address for e-mail ("mamori+{token}@example.jp"), or NULL */
	char *msgid_domain;  /* right side of Message-IDs */
	char *default_lang;
	unsigned char *secret; /* HMAC key (secret_file, or random per process) */
	size_t secret_len;
	int secret_from_file;
};

/* Index of a contact by name, -1 if none. */
long nconf_contact(const struct notify_conf *nc, const char *name);
/* Index of a channel by name, -1 if none. */
long nconf_channel(const struct notify_conf *nc, const char *name);
/* The first rule matching the alert (NULL: the defaults). */
const struct nrule *nconf_rule(const struct notify_conf *nc, const char *center,
                               const char *service, const char *customer);
/* Event bit of an event name ("opened", ..., "repeat"), 0 if unknown. */
uint32_t nconf_event_bit(const char *name);

/* An empty configuration (nothing pages). */
struct notify_conf *notify_conf_empty(void);

/* ---- the module (notify.c) ---- */

struct app_notify_hooks;
struct events_sub;

struct notify {
	struct notify_deps d;
	char *node, *data_dir;
	struct notify_conf *nc;
	int started;
	struct events_sub *sub;
	struct notify_rt *rt; /* the runtime: pages, items, lanes (page.c, deliver.c) */
	struct notify_stats st;
};

double notify__now(const struct notify *n);
/* page.c / deliver.c: the runtime's lifecycle. */
int notify__init(struct notify *n);
void notify__start(struct notify *n);
void notify__stop(struct notify *n);
void notify__fini(struct notify *n);
/* Cancel every delivery in flight (reload, stop): sent again later. */
void notify__cancel_all(struct notify *n);
/* The configuration was replaced (old is freed after the call). */
void notify__conf_changed(struct notify *n, const struct notify_conf *old);
/* The hooks other than oncall. */
void notify__more_hooks(struct notify *n, struct app_notify_hooks *h);

/* ---- oncall.c: the resolver (pure) ---- */

/* Where a person on call comes from. */
enum { ONC_OVERRIDE = -1, ONC_FALLBACK = -2 };

struct oncall_who {
	size_t contact;
	int source; /* layer index, ONC_OVERRIDE or ONC_FALLBACK */
};

/* Who is on call for s at t (overrides first; else the first layer that
 * is active with members; else the fallback).  Returns the number found
 * (at most max; 0: nobody). */
size_t oncall_resolve(const struct nsched *s, time_t t, struct oncall_who *out, size_t max);
/* The next instant > t at which the answer of oncall_resolve may change
 * (a handoff, a layer's hours, an override's edge); (time_t)-1: never
 * within the horizon. */
time_t oncall_next_change(const struct nsched *s, time_t t);
/* The member index of layer l at t (handoffs counted in the zone's local
 * time, DST-correct), or -1 without members. */
long oncall_member(const struct nsched *s, const struct nlayer *l, time_t t);
/* The instant of handoff k of layer l (k 0 is the anchor). */
time_t oncall_handoff(const struct nsched *s, const struct nlayer *l, int64_t k);

/* Intervals in [from, to) where nobody is on call but the fallback (no
 * override, no active layer with members).  Returns the number found
 * (writes at most max). */
struct oncall_gap {
	time_t from, to;
};
size_t oncall_gaps(const struct nsched *s, time_t from, time_t to, struct oncall_gap *out,
                   size_t max);

/* Civil date of a day number (days since 1970-01-01) and back. */
void notify__civil(int64_t days, int *y, int *m, int *d);
int64_t notify__days(int y, int m, int d);

#endif
