/*
 * mail_latency: internal header shared by the plugin's files (never
 * installed, never included from outside plugins/mail_latency).
 *
 *   mail_latency.c  ABI struct, config keys, instance and check lifecycle
 *   (plugins/lib/curlloop.c: one libcurl multi handle per instance driven
 *   by the host's fd watchers and one timer, shared with the notifiers)
 *   probe.c         probe mode: a state machine per run (SMTP send, IMAP polls)
 *   queue.c         queue mode: `postqueue -j` through host->proc_spawn
 *   parse.c         pure parsers (IMAP responses, probe tags, postqueue JSON)
 *                   with no I/O, so unit tests include it directly
 */
#ifndef MAIL_LATENCY_ML_H
#define MAIL_LATENCY_ML_H

#include <stddef.h>
#include <stdint.h>

#include <mamori/plugin.h>

#include "../lib/curlloop.h"

#define ML_ID_LEN   14 /* "m" + 13 hex digits */
#define ML_TAG_MAX  64 /* <id>-<seq>-<send ms> */
#define ML_MAX_UIDS 64 /* probes handled per poll; the rest wait a poll */

/* ---- parse.c (pure) ---- */

struct ml_tag {
	char id[ML_ID_LEN + 1];
	unsigned long long seq;
	unsigned long long sent_ms; /* send time, ms since the epoch */
};

/* Build "<id>-<seq>-<sent_ms>" into buf; returns its length or -1. */
int ml_tag_format(const struct ml_tag *t, char *buf, size_t size);
/* Find a tag of check `id` inside `text` (len bytes, not NUL-terminated). */
int ml_tag_find(const char *text, size_t len, const char *id, struct ml_tag *out);
/* Check id from the check's names: stable across restarts, so a probe sent
 * before a restart is still recognised as ours when it arrives late. */
void ml_check_id(const char *customer, const char *asset, const char *check,
                 char out[ML_ID_LEN + 1]);

/* UIDs from the untagged "* SEARCH ..." lines of a UID SEARCH response.
 * Returns how many were stored (at most max), or -1 on malformed input. */
int ml_imap_search_parse(const char *text, size_t len, uint32_t *uids, int max);

/* One message of a UID FETCH (UID INTERNALDATE ENVELOPE) response. */
struct ml_fetched {
	uint32_t uid;
	double internal_date; /* seconds since the epoch, 0 if absent */
	int has_tag;
	struct ml_tag tag;
};
/* Parse the untagged FETCH lines; returns the number stored or -1. */
int ml_imap_fetch_parse(const char *text, size_t len, const char *id, struct ml_fetched *out,
                        int max);
/* "17-Jul-1996 02:44:25 -0700" -> epoch seconds; -1 if malformed. */
int ml_imap_date_parse(const char *s, size_t len, double *out);
/* "1,5,9" into buf; returns length or -1 when it does not fit. */
int ml_uid_set(const uint32_t *uids, int n, char *buf, size_t size);

/* Statistics of a `postqueue -j` listing (one JSON object per line). */
struct ml_queue_stats {
	long count;
	double oldest_arrival; /* epoch seconds; 0 when empty */
	long per_queue[5];     /* maildrop, incoming, active, deferred, hold */
	long other_queue;
};
/* Returns 0, or the 1-based number of the first malformed line. */
long ml_queue_parse(const char *text, size_t len, struct ml_queue_stats *out);
extern const char *const ml_queue_names[5];

/* ---- transfers: plugins/lib/curlloop.h (libcurl multi on the loop) ---- */

/* ---- instance and check (mail_latency.c) ---- */

enum ml_mode { ML_PROBE = 0, ML_QUEUE = 1 };

struct ml_endpoint {
	char *url;
	char *user;
	char *password; /* from password_file, wiped on free */
	char *ca_file;
	int starttls; /* require STARTTLS on a plain URL */
	int verify;   /* verify the server certificate */
};

struct ml_check {
	struct ml_inst *inst;
	struct mamori_check *chk;
	int mode;
	char id[ML_ID_LEN + 1];
	char name[128]; /* customer/asset/check for logs */
	double warning, critical, lost_after, poll_interval;
	/* probe */
	struct ml_endpoint smtp, imap;
	char *from, *to, *mailbox;
	unsigned long long seq;
	/* queue */
	char **argv;
	long long count_warning, count_critical; /* < 0: unset */
};

struct ml_inst {
	const struct mamori_host *host;
	struct curlloop *cl; /* one multi handle per instance */
};

/* ---- probe.c / queue.c ---- */
/* Run states of both modes begin with `int mode`, so check_cancel can
 * dispatch on the run state alone. */
int ml_probe_start(struct ml_check *c, struct mamori_run *run, void **out);
void ml_probe_cancel(void *run_state);
int ml_queue_start(struct ml_check *c, struct mamori_run *run, void **out);
void ml_queue_cancel(void *run_state);

/* A threshold "value > limit" as a perfdata range 0:limit. */
struct mamori_range ml_upper(double limit);

#endif
