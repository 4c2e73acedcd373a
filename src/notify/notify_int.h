/*
 * notify_int: what the files of src/notify share.  Private to src/notify
 * (and to its unit tests).
 *
 *   notify_conf.c  contacts, oncall and notify groups -> struct notify_conf
 *   oncall.c       the schedule resolver and the gap finder (pure: a
 *                  schedule and a time in, contacts out; no I/O)
 *   page.c         alert events -> items, repeat pages, restore
 *   deliver.c      lanes, bundling, SMS cap, deliveries, retries
 *   render.c, sms.c, token.c, reply.c   texts, SMS rules, ids, replies
 *   mail.c         documents mailed by the service (monthly reports)
 */
#ifndef MAMORI_NOTIFY_INT_H
#define MAMORI_NOTIFY_INT_H

#include "notify/notify.h"

#include "util/hmap.h"

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cal;
struct ndelivery;
struct mamori_plugin;
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
	long mail_channel; /* documents go out over this e-mail channel; -1 none */
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
	struct hmap customers; /* customer id -> display name (own copies) */
	unsigned char *secret; /* HMAC key (secret_file, or random per process) */
	size_t secret_len;
	int secret_from_file;
};

/* A customer's display name (NULL: unknown). */
const char *nconf_customer_name(const struct notify_conf *nc, const char *id);
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
	struct notify_rt *rt;  /* the runtime: pages, items, lanes (page.c, deliver.c) */
	unsigned char key[32]; /* the stored key (notify_key), used without secret_file */
	int have_key;
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
/* reply.c: inbound webhooks, one-click links. */
void notify__reply_hooks(struct notify *n, struct app_notify_hooks *h);

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

/* ---- sms.c: SMS length rules (pure) ---- */

struct sms_len {
	int ucs2;          /* 0: GSM-7 */
	size_t units;      /* septets (GSM-7) or UTF-16 code units (UCS-2) */
	unsigned segments; /* SMS it takes */
};
void sms_measure(const char *text, struct sms_len *out);
/* Room in `segments` SMS: 160 or 70 for one, 153 or 67 each for more. */
size_t sms_capacity(int ucs2, unsigned segments);
/* Bytes of the longest prefix of text that fits `budget` units in the
 * encoding (never inside a character); *units: what it uses. */
size_t sms_prefix(const char *text, int ucs2, size_t budget, size_t *units);

/* ---- the runtime (page.c, deliver.c, render.c) ---- */

/* What a message tells about an alert at one event (copies). */
struct nfields {
	char *customer, *customer_name, *asset, *check, *service, *summary, *center, *tier;
	char *status;
	int state; /* 0..3: the check state at the event */
	double opened_at, ack_due, resolve_due;
};
void nfields_free(struct nfields *f);
void nfields_copy(struct nfields *d, const struct nfields *s);
/* From a mamori.alert/1 payload (startup); -1 when it is not one. */
int nfields_from_json(struct nfields *f, const char *json);

enum nitem_status { NI_PENDING = 0, NI_SENDING = 1 };

/* One notification in memory: (alert, seq, event, contact, channel). */
struct nitem {
	struct nitem *next;
	char *alert_id, *event, *contact, *channel;
	int64_t seq;
	struct nfields f;
	int status;
	unsigned attempts;
	double created, due, ready_at;
	uint64_t batch; /* the store batch holding its row; 0: committed */
	int possible_dup;
	char *key; /* "alert\nseq\nevent\ncontact\nchannel": the in-memory dedup */
};

/* The paging state of an alert that paged someone (until it resolves). */
struct npage {
	char *alert_id, *center, *tier;
	int severity; /* the worst check state seen (1..3) */
	int acked;
	double repeat_at; /* 0: no repeat page due */
	int repeats;
	int64_t seq;      /* the alert's last event seen */
	struct nfields f; /* the alert as of that event (repeat pages tell it) */
	char **paged;     /* contacts paged for it */
	size_t n_paged;
};

#define NOTIFY_SMS_RING 3600 /* sends remembered per lane (sms_per_hour's bound) */

/* A (contact, channel): its queue of committed items and its pacing. */
struct nlane {
	struct notify *n;
	char *contact, *channel;
	struct nitem *head, *tail; /* committed, waiting to be sent */
	size_t len;
	struct ndelivery *inflight; /* at most one per lane */
	double last_sent;           /* the last message out (bundling window) */
	double *sms;                /* times of sends in the last hour (ring) */
	size_t sms_n, sms_i;
	ev_timer timer;
	double armed; /* the timer's target, 0: none */
};

/* One message on its way: the struct mamori_delivery a notifier sees. */
struct nmail;
struct ndelivery {
	struct ndelivery *self; /* its key in `live` (keys are borrowed) */
	struct notify *n;
	struct nlane *lane; /* a notification's; NULL for a mail */
	struct nmail *mail; /* a document's (mail.c); NULL for a notification */
	struct nitem **items;
	size_t n_items;
	void *inst; /* the channel instance it went to */
	const struct mamori_plugin *def;
	void *state;
	unsigned attempt; /* of its first item */
	char *message_id;
	double started;
	uint64_t batch; /* the batch marking its items 'sending'; 0: written */
	int phase;      /* 0 marking, 1 with the notifier */
	ev_timer timeout;
	struct ndelivery *next; /* the marking list */
};

struct notify_rt {
	struct hmap lanes; /* "contact\nchannel" -> struct nlane */
	struct hmap keys;  /* item key -> struct nitem (every item in memory) */
	struct hmap pages; /* alert id -> struct npage */
	struct hmap live;  /* struct ndelivery pointer -> itself (pointers from notifiers) */
	struct nitem *pend_head, *pend_tail;     /* rows in the pending batch */
	struct nitem *wait_head, *wait_tail;     /* rows in batches not yet written */
	struct ndelivery *mark_head, *mark_tail; /* 'sending' marks not yet written */
	struct ntemplates *tmpl;
	struct nmails *mails; /* documents (mail.c) */
	ev_timer tick;        /* repeat pages, retention */
	unsigned ticks;
	int hooked; /* journal listeners registered */
};

/* page.c */
void notify__item_free(struct nitem *it);
/* deliver.c: committed items into their lanes; the lanes' work. */
void notify__ready(struct notify *n, struct nitem *it);
void notify__lane_pump(struct nlane *l);
void notify__on_cut(void *ud, uint64_t number);
void notify__on_done(void *ud, uint64_t done);
void notify__deliver_init(struct notify *n);
void notify__deliver_fini(struct notify *n);
/* A delivery's end: out of `live`, its timer stopped, freed (its items
 * or mail are the caller's). */
void notify__delivery_free(struct ndelivery *d);
/* The core's send_timeout fired for a delivery (ev_timer callback). */
void notify__on_timeout(struct ev_loop *loop, ev_timer *w, int revents);

/* mail.c: documents (notify_mail). */
void notify__mail_init(struct notify *n);  /* restores the unsent ones from the store */
void notify__mail_start(struct notify *n); /* and after a reload: send what is due */
void notify__mail_cancel_all(struct notify *n);
void notify__mail_fini(struct notify *n);
void notify__mail_on_cut(struct notify *n, uint64_t number);
void notify__mail_on_done(struct notify *n, uint64_t done);
/* A mail's attempt ended (its delivery already freed). */
void notify__mail_done(struct notify *n, struct nmail *x, int status, const char *detail,
                       double retry_after);
size_t notify__mail_pending(const struct notify *n);
/* Give an item up (status failed, an attempt row, the alert's
 * notify_failed event); frees it. */
void notify__give_up(struct notify *n, struct nitem *it, const char *result, const char *why);
void notify__item_row(struct notify *n, const struct nitem *it, const char *status,
                      const char *error, double updated);
void notify__attempt_row(struct notify *n, const struct nitem *it, unsigned attempt,
                         const char *result, const char *detail, const char *message_id);

/* Rendered text of one message (render.c). */
struct nmsg {
	char *subject, *body, *short_text;
	char *message_id, *in_reply_to, *references, *reply_to;
	char *severity;
};
void nmsg_free(struct nmsg *m);

struct ntemplates;
/* Load DATA_DIR/notify/{ja,en}.tmpl (a missing or bad file: logged, the
 * built-in English text stands in).  NULL never. */
struct ntemplates *ntemplates_load(const char *data_dir);
void ntemplates_free(struct ntemplates *t);
/* Render the message of items[0..n) for a contact over a channel. */
int nrender(const struct ntemplates *t, const struct notify_conf *nc, const struct ncontact *ct,
            const struct nchannel *ch, struct nitem *const *items, size_t n, const char *node,
            double now, struct nmsg *out);
/* The dashboard link of an alert into buf ("" without link_base). */
void nrender_link(const struct notify_conf *nc, const char *alert_id, char *buf, size_t size);
/* The short link for an SMS: link_base/a/<the id's counter part>. */
void nrender_short_link(const struct notify_conf *nc, const char *alert_id, char *buf, size_t size);
/* The runbook text for an item (NULL: none). */
const char *nrender_runbook(const struct notify_conf *nc, const struct nfields *f);

/* ---- token.c: what replies prove (HMAC under notify.secret) ---- */

/* The signature of (kind, alert, contact) as 32 hex digits. */
void ntoken_sig(const struct notify_conf *nc, const char *kind, const char *alert_id,
                const char *contact, char out[33]);
/* The thread root and a message's id for an alert and contact. */
void ntoken_root(const struct notify_conf *nc, const char *alert_id, const char *contact, char *buf,
                 size_t size);
void ntoken_msgid(const struct notify_conf *nc, const char *alert_id, int64_t seq,
                  const char *event, const char *contact, const char *channel, char *buf,
                  size_t size);
/* Find a verified (alert, contact) in a msg-id or a reply address
 * ("<...@domain>", "mamori+...@domain"): 0 with both filled, -1 when it
 * is none of ours or its signature is wrong. */
int ntoken_parse(const struct notify_conf *nc, const char *ref, char *alert_id, size_t alen,
                 char *contact, size_t clen);
/* reply.c: a one-click link's token for (alert, contact), valid a day. */
void nlink_make(const struct notify_conf *nc, const char *alert_id, const char *contact, double now,
                char *out, size_t size);
/* reply.c: what a reply's text says (pure; e-mail and SMS alike): 1
 * when its first line that is neither empty nor quoted ("> ...") starts
 * with an acknowledging word (ack, ok, 了解, 確認, ...), *code then the
 * number written after it (1 to 4 digits: 0..9999) or -1 for none; 0
 * otherwise, also for a number of 5 or more digits (no code is that
 * long; "ack 4294968530" once wrapped onto code 1234 through atoi). */
int nreply_ack(const char *text, int *code);
/* The 4-digit code an SMS reply names an alert by. */
unsigned ntoken_code(const struct notify_conf *nc, const char *alert_id, const char *contact);

/* Civil date of a day number (days since 1970-01-01) and back. */
void notify__civil(int64_t days, int *y, int *m, int *d);
int64_t notify__days(int y, int m, int d);

#endif
