/*
 * notify: on-call notifications - who is told about an alert, over which
 * channel, when, and what comes back.
 *
 *   EVENT_ALERT (hub) -> the event's rule (which events page, how often
 *   to repeat) -> the on-call contacts of the alert's center and tier at
 *   that time (schedules: rotations, layers, overrides, fallback) -> each
 *   contact's channel rules (severity, quiet hours) -> one notification
 *   item per (alert, event, contact, channel), written to the pending
 *   store batch in the same transaction as the alert event (a restart
 *   never pages twice: the four are the row's key) -> once durable,
 *   bundled per (contact, channel) within a window, capped per hour for
 *   SMS, rendered from the contact's language templates and handed to
 *   the channel's notifier plugin (ABI 1.1) -> every attempt and its
 *   result recorded; retried with backoff; given up after a while with a
 *   `notify_failed` event on the alert.
 *
 * Unacknowledged alerts are paged again every `repeat` until they are
 * acknowledged, escalated (which pages the next tier) or resolved.
 * Replies (an e-mail answering a notification, an SMS from the contact's
 * phone, a signed link) acknowledge the alert as the contact, through the
 * service layer, once verified.
 *
 * Configuration: the top-level `contacts`, `oncall` and `notify` groups
 * (doc/notifications.md); errors name file and line, gaps in a schedule
 * are reported with their times.
 *
 * Must never: block (notifiers run on the loop through the plugin ABI),
 * send a notification before the batch holding its row is written, keep
 * an alert pointer past the event callback.  Depends on app (acks by
 * reply, the query views it fills), events, journal, store, plugin (the
 * notifiers), config, alert (event types), cal, util.
 */
#ifndef MAMORI_NOTIFY_H
#define MAMORI_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct app_oncall;
struct ev_loop;
struct events;
struct journal;
struct loader;
struct mamori_delivery;
struct mamori_notify_result;
struct mamori_reply;
struct mconf;
struct store;
struct notify;
struct notify_conf;

/* Parse contacts, oncall and notify of c while its tree is alive; report
 * every error (file:line) and every gap of a schedule in the next
 * NOTIFY_GAP_DAYS days from `now` (warnings).  Channels get their
 * notifier instances here (init with their block); those whose block did
 * not change since `old` keep the running instance at install.  NULL
 * after logging the errors; a conf without anything when nothing is
 * configured. */
#define NOTIFY_GAP_DAYS 35
struct notify_conf *notify_conf_parse(struct mconf *c, struct loader *loader,
                                      const struct notify_conf *old, double now);
void notify_conf_free(struct notify_conf *nc);
/* 1 if the conf pages anyone (contacts and schedules exist). */
int notify_conf_active(const struct notify_conf *nc);

struct notify_deps {
	struct ev_loop *loop;
	struct journal *journal;
	struct events *events;
	struct store *store; /* NULL: nothing persisted */
	struct app *app;     /* acknowledgements by reply; NULL: none */
	const char *node;
	const char *data_dir; /* templates: DATA_DIR/notify/<lang>.tmpl */
	/* The clock (tests); NULL: ev_now(loop). */
	double (*clock)(void *ud);
	void *clock_ud;
};
/* Takes nc (also on failure).  Restores the pending notifications and
 * paging state of the last run from the store. */
struct notify *notify_new(const struct notify_deps *d, struct notify_conf *nc);
int notify_start(struct notify *n);
/* Cancel deliveries in flight (they are sent again at the next start). */
void notify_stop(struct notify *n);
void notify_free(struct notify *n);
/* Reload: the new conf replaces the old (takes nc). */
void notify_conf_install(struct notify *n, struct notify_conf *nc);
/* The configuration in force (the `old` of the next notify_conf_parse). */
const struct notify_conf *notify_conf_current(const struct notify *n);

/* The plugin host's notifier calls (struct host_ops; ctx is the notify). */
void notify_host_done(void *ctx, struct mamori_delivery *d, const struct mamori_notify_result *r);
int notify_host_reply(void *ctx, void *inst, const struct mamori_reply *r);

/* Who is on call at `at` for every schedule (center NULL) or a center's:
 * fills an app view (app_oncall_free). */
int notify_oncall(struct notify *n, double at, const char *center, struct app_oncall **out);

/* The service layer's hooks (app_set_notify(app, &h, n)). */
struct app_notify_hooks;
void notify_app_hooks(struct notify *n, struct app_notify_hooks *h);

/* A document the service mails by itself (a monthly report), queued to
 * each address over the e-mail channel (notify.mail_channel, or the
 * first e-mail channel) in the pending store batch: rows the caller adds
 * to that batch commit with it.  Retried like notifications, for a day
 * at least.  The caller hands each key once (a second call while the
 * first is unsent is ignored; after it was sent, it would send again).
 * Every pointer is read during the call only. */
struct notify_mail {
	const char *key;      /* the document: "report/<customer>/<YYYY-MM>" (one line) */
	const char *customer; /* for the log and the rows, or NULL */
	const char *const *to;
	size_t n_to;
	const char *subject;    /* one line, UTF-8 */
	const char *text;       /* plain text, UTF-8 */
	const char *html;       /* the same as a small HTML document, or NULL */
	const void *attachment; /* a file, or NULL */
	size_t attachment_len;
	const char *attachment_name; /* "report-c0042-2026-05.pdf" ([A-Za-z0-9._-]) */
	const char *attachment_type; /* "application/pdf" */
};
/* 0: queued for at least one address; -1: refused (no e-mail channel, no
 * store, a malformed document or no usable address; logged). */
int notify_mail(struct notify *n, const struct notify_mail *m);

struct notify_stats {
	uint64_t items, sent, failed, retries, bundles, deliveries, suppressed_quiet, capped;
	uint64_t replies, acks, replies_refused;
	uint64_t mails, mails_sent, mails_failed; /* documents (notify_mail) */
	size_t pending, in_flight, mails_pending;
};
void notify_get_stats(const struct notify *n, struct notify_stats *out);

#endif
