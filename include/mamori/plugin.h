/*
 * mamori plugin ABI, version 1.2 (1.1 adds notifier plugins, 1.2 plugin
 * metrics; a plugin built against 1.0 or 1.1 loads unchanged).
 *
 * This is the only header a check or notifier plugin includes.  It is the
 * whole contract between mamorid ("the core") and a plugin: no libev,
 * libconfig, libmosquitto or SQLite type crosses it, so the core can change
 * behind it without breaking plugins built against an older minor version.
 *
 * A plugin is either a check plugin (check_* functions: it watches
 * something and reports results) or, since 1.1, a notifier plugin
 * (MAMORI_PLUGIN_NOTIFIER, notify_* functions: it delivers notifications
 * to people over one channel - e-mail, SMS, a chat webhook).
 *
 * Two versioned structs cross the boundary:
 *   - struct mamori_plugin: plugin -> core.  A plugin exports exactly one
 *     symbol, `mamori_plugin_v1`, of this type (use MAMORI_PLUGIN_DEFINE).
 *   - struct mamori_host:   core -> plugin.  Function pointers the plugin
 *     uses for everything it needs from the core (timers, fd watches,
 *     processes, results, logging, config, MQTT).
 * Both begin with abi_major, abi_minor, struct_size.  The major number must
 * match exactly; a minor version only appends fields, so a reader checks
 * struct_size (or abi_minor) before touching a field added after 1.0
 * (MAMORI_HAS_FIELD).  Both end in reserved slots that must be zero.
 *
 * Threads: every function here is called by the core on its event-loop
 * thread, and every host function must be called on that thread too, with
 * the single exception of mamori_host.async_send (see there).
 *
 * Ownership: strings and structs the plugin hands to the core (results,
 * log messages, publish payloads) are copied before the call returns, so a
 * plugin may pass stack buffers.  Strings the core hands to a plugin are
 * valid for the duration stated on each function; copy them to keep them.
 *
 * Lifecycle (one instance per `plugins` config block, or one default
 * instance per plugin that checks use without a block):
 *   init -> (check_prepare -> (check_start [-> check_cancel])* ->
 *   check_release)* -> destroy
 * A check run completes exactly once, through host->run_complete, either
 * inside check_start or later from a callback.  After check_cancel returns
 * the plugin must never complete that run.  The core owns timeouts: when a
 * run's timeout expires the core cancels it and records UNKNOWN.
 *
 * CHECKLIST when changing this file: bump MAMORI_PLUGIN_ABI_MINOR for an
 * appended field (never insert, never reorder), update src/plugin/loader.c
 * (validation of struct_size per minor), src/plugin/host.c (the table the
 * core fills), docs in doc/plugin-abi.md, and the changelog.
 */
#ifndef MAMORI_PLUGIN_H
#define MAMORI_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAMORI_PLUGIN_ABI_MAJOR 1
#define MAMORI_PLUGIN_ABI_MINOR 2
#define MAMORI_PLUGIN_SYMBOL    "mamori_plugin_v1"

#if defined(__GNUC__)
#define MAMORI_EXPORT       __attribute__((visibility("default")))
#define MAMORI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MAMORI_EXPORT
#define MAMORI_PRINTF(f, a)
#endif

/* Mark a callback parameter a plugin does not use (-Wunused-parameter). */
#define MAMORI_UNUSED(x) ((void)(x))

/* True when a versioned struct `s` (pointer) is large enough to hold
 * `field`: use before reading a field added in a later minor version. */
#define MAMORI_HAS_FIELD(s, type, field)                                                           \
	((s)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- states and errors ------------------------------------------------ */

/* Monitoring Plugins states, identical to the exit codes of check_* tools. */
enum mamori_state {
	MAMORI_OK = 0,
	MAMORI_WARNING = 1,
	MAMORI_CRITICAL = 2,
	MAMORI_UNKNOWN = 3,
};

/* Error codes: 0 is success, errors are negative.  mamori_host.strerror
 * turns one into text. */
enum mamori_err {
	MAMORI_E_OK = 0,
	MAMORI_E_NOMEM = -1,    /* out of memory */
	MAMORI_E_INVAL = -2,    /* invalid argument or malformed input */
	MAMORI_E_CONFIG = -3,   /* configuration error (already reported) */
	MAMORI_E_IO = -4,       /* I/O error; errno may say more */
	MAMORI_E_NOTSUP = -5,   /* not supported by this core or build */
	MAMORI_E_BUSY = -6,     /* limit reached, try later */
	MAMORI_E_NOTFOUND = -7, /* no such key, check, asset or customer */
	MAMORI_E_TIMEOUT = -8,  /* timed out */
	MAMORI_E_RANGE = -9,    /* number out of range */
	MAMORI_E_TYPE = -10,    /* config value has the wrong type */
	MAMORI_E_DENIED = -11,  /* refused by policy (ACL, registration off) */
	MAMORI_E_EXISTS = -12,  /* already exists */
};

enum mamori_log_level {
	MAMORI_LOG_ERR = 3,
	MAMORI_LOG_WARNING = 4,
	MAMORI_LOG_NOTICE = 5,
	MAMORI_LOG_INFO = 6,
	MAMORI_LOG_DEBUG = 7,
};

/* ---- thresholds and perfdata (Monitoring Plugins contract) -------------- */

/* A threshold range as written by Monitoring Plugins: `[@]start:end`.
 * "10" = 0:10, "10:" = 10:inf, "~:10" = -inf:10, "10:20", "@10:20".
 * An alert is raised when the value is outside start..end (inclusive), or
 * inside it when `inside` is set (the `@` form). */
struct mamori_range {
	double start;
	double end;
	unsigned char set;       /* 0: no threshold given */
	unsigned char start_inf; /* start is -infinity ("~") */
	unsigned char end_inf;   /* end is +infinity ("10:") */
	unsigned char inside;    /* '@': alert when inside */
};

/* One perfdata item: 'label'=value[UOM];[warn];[crit];[min];[max].
 * The core copies items handed to it; pointers need only live for the call. */
struct mamori_perfdata {
	const char *label; /* without quotes; never empty */
	const char *uom;   /* "", "s", "ms", "%", "B", "KB", "c", ... */
	double value;
	double min;
	double max;
	struct mamori_range warn;
	struct mamori_range crit;
	unsigned flags; /* MAMORI_PERF_* */
};
#define MAMORI_PERF_HAS_MIN       0x1u
#define MAMORI_PERF_HAS_MAX       0x2u
#define MAMORI_PERF_VALUE_UNKNOWN 0x4u /* value was "U" */

/* A check result.  Zero-initialise it and set what you have.  Everything is
 * copied by the core before run_complete/check_submit returns. */
struct mamori_result {
	uint32_t struct_size;               /* sizeof(struct mamori_result) */
	int state;                          /* enum mamori_state */
	const char *output;                 /* first line, plain text, NULL = "" */
	const char *long_output;            /* further lines, or NULL */
	const struct mamori_perfdata *perf; /* parsed perfdata items, or NULL */
	size_t n_perf;
	/* Raw perfdata text in the Monitoring Plugins format, parsed by the core
	 * when `perf` is NULL.  Convenient for exec-style plugins. */
	const char *perf_text;
	unsigned flags; /* MAMORI_RESULT_* */
	unsigned reserved_u;
	void *reserved[3];
};
/* Passive result: stop the freshness timer until the next result (the
 * agent said goodbye, e.g. its "offline" last will: silence is expected). */
#define MAMORI_RESULT_NO_FRESHNESS 0x1u

/* ---- opaque core objects --------------------------------------------- */

struct mamori_host;
struct mamori_conf;  /* a config group (instance block or check block) */
struct mamori_check; /* a configured check; lives until check_release */
struct mamori_run;   /* one execution of a check; lives until completed/cancelled */
struct mamori_timer;
struct mamori_io;
struct mamori_async;
struct mamori_proc;
struct mamori_sub;
struct mamori_delivery; /* 1.1: one notification being delivered */
struct mamori_metrics;  /* 1.2: one collection of a plugin's metrics */

/* What the core tells a plugin about a check.  Strings live as long as the
 * check (until check_release). Returned by host->check_info. */
struct mamori_check_info {
	uint32_t struct_size;
	const char *customer;      /* customer id, e.g. "c0001" */
	const char *customer_name; /* display name */
	const char *region;        /* customer region or "" */
	const char *asset;         /* asset name, e.g. "utm-1" */
	const char *asset_type;    /* "utm", "domain", "host", "pc", ... */
	const char *address;       /* asset address or "" */
	const char *check;         /* check name, unique within the asset */
	const char *service;       /* defender, web, mail, utm, dns, other */
	double interval;           /* seconds */
	double timeout;            /* seconds */
	void *reserved[4];
};

/* ---- config schema ----------------------------------------------------- */

enum mamori_key_type {
	MAMORI_KEY_STRING = 1,
	MAMORI_KEY_INT,
	MAMORI_KEY_FLOAT, /* accepts integers too */
	MAMORI_KEY_BOOL,
	MAMORI_KEY_DURATION,    /* string like "500ms", "30s", "15m", "4h", "1d", or a number of
	                           seconds */
	MAMORI_KEY_RANGE,       /* threshold range string, "[@]start:end" */
	MAMORI_KEY_STRING_LIST, /* [ "a", "b" ] or ( "a", "b" ) */
	MAMORI_KEY_GROUP,       /* { ... }; `sub` describes its keys */
	MAMORI_KEY_FILE,        /* path to a readable file (secrets) */
};
#define MAMORI_KEY_REQUIRED 0x1u

/* One config key a plugin accepts.  Arrays end with a {NULL} entry.
 * The core rejects unknown keys and wrong types with file and line before
 * check_prepare is called, so a plugin only checks semantics. */
struct mamori_key {
	const char *name;
	int type;                     /* enum mamori_key_type */
	unsigned flags;               /* MAMORI_KEY_* */
	const char *doc;              /* one line, shown by --help-plugin */
	const struct mamori_key *sub; /* keys of a MAMORI_KEY_GROUP */
};

/* ---- callbacks --------------------------------------------------------- */

typedef void (*mamori_timer_cb)(struct mamori_timer *t, void *ud);
#define MAMORI_IO_READ  0x1
#define MAMORI_IO_WRITE 0x2
typedef void (*mamori_io_cb)(struct mamori_io *io, int fd, int revents, void *ud);
typedef void (*mamori_async_cb)(struct mamori_async *a, void *ud);

/* Result of a spawned process (host->proc_spawn).  `output` is the child's
 * stdout (and stderr, when merged), NUL-terminated, at most `max_output`
 * bytes; `truncated` says more was discarded.  status: exit code 0..255 when
 * exited, or -signal when killed.  timed_out: the core killed the process
 * group after the timeout.  Valid only during the callback. */
struct mamori_proc_result {
	uint32_t struct_size;
	int exited; /* 1: normal exit, `status` is the code */
	int status;
	int timed_out;
	int spawn_errno; /* reserved: always 0 (spawn errors are returned by proc_spawn) */
	const char *output;
	size_t output_len;
	int truncated;
	double duration; /* seconds */
	void *reserved[4];
};
typedef void (*mamori_proc_cb)(struct mamori_proc *p, const struct mamori_proc_result *r, void *ud);

struct mamori_spawn {
	uint32_t struct_size;
	const char *const *argv; /* argv[0] is the path (no PATH search) */
	const char *const *envp; /* NULL: a minimal default environment */
	double timeout;          /* seconds; <= 0: none */
	size_t max_output;       /* 0: default 64 KiB */
	int merge_stderr;        /* 1: stderr goes to output too */
	const char *stdin_data;  /* NULL: /dev/null */
	size_t stdin_len;
	void *reserved[4];
};

/* MQTT message handed to a subscriber; valid only during the callback. */
struct mamori_msg {
	uint32_t struct_size;
	const char *topic;
	const void *payload;
	size_t len;
	int qos;
	int retain;
	void *reserved[4];
};
typedef void (*mamori_msg_cb)(struct mamori_sub *s, const struct mamori_msg *m, void *ud);

/* Properties of an asset a plugin registers (auto-registration). */
struct mamori_asset_spec {
	uint32_t struct_size;
	const char *customer;
	const char *name;
	const char *type;
	const char *address;
	void *reserved[4];
};

/* ---- notifier plugins (ABI 1.1) ----------------------------------------
 *
 * The core decides who is told what and when (on-call schedules, rules,
 * bundling, retries, deduplication); a notifier only delivers one
 * rendered notification at a time to one contact over its channel and
 * says how it went.  Everything here is valid during the call only. */

/* One alert event a notification covers (a bundle covers several). */
struct mamori_notify_item {
	uint32_t struct_size;
	const char *alert_id;      /* "A-<node>-<14 chars>" */
	const char *event;         /* opened, reopened, escalated, sla_breach, resolved, repeat */
	const char *customer;      /* customer id */
	const char *customer_name; /* display name (or the id) */
	const char *asset, *check, *service;
	const char *severity; /* "warning", "critical", "unknown" */
	const char *summary;  /* the check's output line */
	const char *center, *tier;
	const char *link;    /* the alert on the dashboard, or NULL */
	const char *runbook; /* what to do, a URL or a line, or NULL */
	double opened_at;    /* epoch seconds */
	double ack_due;      /* 0: none */
	double resolve_due;  /* 0: none */
	void *reserved[4];
};

/* A file sent with a message (e-mail: a MIME part in base64). */
struct mamori_attachment {
	uint32_t struct_size;
	const char *name;         /* the file name: ASCII letters, digits, '.', '-', '_' */
	const char *content_type; /* "application/pdf" */
	const void *data;
	size_t len;
	void *reserved[2];
};

/* One notification to one contact over one channel.  The text is
 * rendered by the core from the templates of the contact's language. */
struct mamori_notification {
	uint32_t struct_size;
	const char *channel;  /* the channel's name in notify.channels */
	const char *id;       /* stable for this message: the same on every retry */
	const char *contact;  /* the contact's name */
	const char *address;  /* e-mail address or E.164 phone (MAMORI_PLUGIN_NEEDS_*), or NULL */
	const char *language; /* "ja" or "en" */
	const char *severity; /* the worst of the items */
	const char *subject;  /* one line, UTF-8 */
	const char *body;     /* plain text, UTF-8, lines end in "\n" */
	/* What matters first (customer, service, state, deadline, link),
	 * fitted to the channel's SMS segments: never cut inside a
	 * character or a UTF-16 surrogate pair. */
	const char *short_text;
	/* E-mail threading: RFC 5322 msg-ids with their angle brackets
	 * (references: several, space separated), or NULL. */
	const char *message_id, *in_reply_to, *references;
	const char *reply_to; /* the address a reply acknowledges through, or NULL */
	const struct mamori_notify_item *items;
	size_t n_items;
	unsigned attempt;       /* 1 for the first */
	int possible_duplicate; /* an earlier attempt may have been delivered */
	/* A document the service mails by itself (a monthly report) rather
	 * than an alert: n_items 0, contact NULL, the address is the
	 * recipient's.  Only e-mail channels (MAMORI_PLUGIN_NEEDS_EMAIL) get
	 * these.  html: an HTML alternative of body (UTF-8), or NULL. */
	const char *html;
	const struct mamori_attachment *attachments;
	size_t n_attachments;
	void *reserved[4];
};

enum mamori_notify_status {
	MAMORI_NOTIFY_SENT = 0,   /* the server took it (SMTP 250, HTTP 2xx) */
	MAMORI_NOTIFY_RETRY = 1,  /* try again later (timeout, 4xx SMTP, HTTP 429/5xx) */
	MAMORI_NOTIFY_FAILED = 2, /* never works as it is (bad address, HTTP 400) */
};

struct mamori_notify_result {
	uint32_t struct_size;
	int status;         /* enum mamori_notify_status */
	const char *detail; /* the server's answer or the error, one line (copied) */
	double retry_after; /* RETRY: seconds the server asked for; 0: the core's backoff */
	void *reserved[4];
};

/* A reply a notifier received (an e-mail answering a notification, an
 * SMS from a contact's phone), handed to host->notify_reply.  The core
 * trusts none of it: it acts only on what it can verify (its signed
 * tokens in refs, the sender's address). */
struct mamori_reply {
	uint32_t struct_size;
	const char *id;   /* the reply's own id (Message-ID, gateway SID): each acts once */
	const char *from; /* the sender: e-mail address or E.164 phone */
	const char *text; /* what the person wrote (first lines, UTF-8, no quoted part) */
	const char *const
	    *refs; /* msg-ids and addresses it refers to (In-Reply-To, References, To) */
	size_t n_refs;
	void *reserved[4];
};

/* An HTTP request to /api/v1/notify/inbound/{channel} (a gateway's
 * inbound webhook), for notify_inbound to verify and read. */
struct mamori_http_request {
	uint32_t struct_size;
	const char *method;
	const char *url; /* as the gateway called it (http.public_url + path), for signatures */
	const char *content_type;
	const char *const *headers; /* name, value, name, value, ... */
	size_t n_headers;
	const char *body;
	size_t body_len;
	/* An application/x-www-form-urlencoded body as the core decoded it
	 * (libmicrohttpd's post processor): name, value, name, value, ... in
	 * the order sent, NUL-terminated, valid UTF-8, each name once; NULL
	 * when the body is not a form.  Use it instead of parsing `body`. */
	const char *const *form;
	size_t n_form; /* parameters (form holds 2 * n_form strings) */
	void *reserved[2];
};

/* ---- plugin metrics (ABI 1.2) ------------------------------------------
 *
 * A plugin that counts things of its own (reports refused and why,
 * requests to a vendor's API, a queue's length) shows them on mamorid's
 * Prometheus /metrics: it fills mamori_plugin.metrics, and when the core
 * collects (a scrape) it reports each series with host->metric.  The core
 * names the family `mamori_<plugin>_<name>` and adds the label
 * `instance` (the plugin instance's block name). */

enum mamori_metric_type {
	MAMORI_METRIC_COUNTER = 1, /* only goes up (reset by a restart); name ends in _total */
	MAMORI_METRIC_GAUGE = 2,   /* a value now; name does not end in _total */
};

/* One series.  Valid during the host->metric call only (copied). */
struct mamori_metric {
	uint32_t struct_size; /* sizeof(struct mamori_metric) */
	int type;             /* enum mamori_metric_type */
	/* [a-z_][a-z0-9_]{0,63}: "reports_rejected_total".  Every series of
	 * one name has the same type, help and label names. */
	const char *name;
	const char *help; /* one line of plain text, or NULL */
	/* name, value, name, value, ... (n_labels pairs, at most
	 * MAMORI_METRIC_MAX_LABELS): names [a-z_][a-z0-9_]{0,63} other than
	 * `instance`, values UTF-8 text up to 128 bytes. */
	const char *const *labels;
	size_t n_labels;
	double value; /* finite; a counter's is >= 0 */
	void *reserved[2];
};
#define MAMORI_METRIC_MAX_LABELS 4
#define MAMORI_METRIC_MAX_SERIES 256 /* per instance and collection */

/* ---- core -> plugin ----------------------------------------------------- */

struct mamori_host {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;

	/* -- logging -- */
	/* Log a message with the plugin's name as prefix.  Identical messages
	 * repeated within a short window are rate-limited by the core.  Never
	 * pass secrets. */
	void (*log)(void *inst, int level, const char *fmt, ...) MAMORI_PRINTF(3, 4);
	void (*logv)(void *inst, int level, const char *fmt, va_list ap);
	const char *(*strerror)(int err);

	/* -- time -- */
	/* Wall-clock time in seconds since the epoch, as of this loop iteration
	 * (cheap; the clock the state engine uses). */
	double (*now)(void);

	/* -- timers: the plugin owns them and must free them -- */
	struct mamori_timer *(*timer_new)(mamori_timer_cb cb, void *ud);
	/* Fire after `after` seconds, then every `repeat` seconds if > 0. */
	void (*timer_start)(struct mamori_timer *t, double after, double repeat);
	void (*timer_stop)(struct mamori_timer *t);
	void (*timer_free)(struct mamori_timer *t); /* stops it first; NULL ok */

	/* -- fd watchers: level-triggered, the plugin owns fd and watcher -- */
	struct mamori_io *(*io_new)(int fd, int events, mamori_io_cb cb, void *ud);
	/* Change the watched events (0 = stop watching). */
	void (*io_set)(struct mamori_io *io, int events);
	void (*io_free)(struct mamori_io *io); /* does not close fd; NULL ok */

	/* -- cross-thread wake-up: the one function callable from any thread is
	 *    async_send; the callback runs on the loop thread. -- */
	struct mamori_async *(*async_new)(mamori_async_cb cb, void *ud);
	void (*async_send)(struct mamori_async *a);
	void (*async_free)(struct mamori_async *a);

	/* -- processes: spawned without copying the daemon (posix_spawn), in a
	 *    new process group, reaped by the core; on timeout the group is
	 *    killed.  cb is called exactly once unless proc_kill was called.
	 *    Returns 0, or MAMORI_E_IO with errno set when the program cannot
	 *    be started (ENOENT, EACCES...): then cb is never called. -- */
	int (*proc_spawn)(const struct mamori_spawn *req, mamori_proc_cb cb, void *ud,
	                  struct mamori_proc **out);
	/* Kill the process group and forget the callback; the core reaps it. */
	void (*proc_kill)(struct mamori_proc *p);

	/* -- config (a struct mamori_conf is valid during init/check_prepare
	 *    only).  Getters return 0, MAMORI_E_NOTFOUND when the key is absent
	 *    (the out value is untouched, so preset a default), or
	 *    MAMORI_E_TYPE. -- */
	int (*conf_string)(const struct mamori_conf *c, const char *key, const char **out);
	int (*conf_int)(const struct mamori_conf *c, const char *key, long long *out);
	int (*conf_float)(const struct mamori_conf *c, const char *key, double *out);
	int (*conf_bool)(const struct mamori_conf *c, const char *key, int *out);
	int (*conf_duration)(const struct mamori_conf *c, const char *key, double *out_seconds);
	int (*conf_range)(const struct mamori_conf *c, const char *key, struct mamori_range *out);
	/* Element `i` of a string list; MAMORI_E_NOTFOUND past the end. */
	int (*conf_list_item)(const struct mamori_conf *c, const char *key, size_t i,
	                      const char **out);
	int (*conf_group)(const struct mamori_conf *c, const char *key,
	                  const struct mamori_conf **out);
	/* Report a semantic error at the key's file and line; returns
	 * MAMORI_E_CONFIG so a plugin can `return host->conf_error(...)`. */
	int (*conf_error)(const struct mamori_conf *c, const char *key, const char *fmt, ...)
	    MAMORI_PRINTF(3, 4);
	/* Read a secret file named by a config key (MAMORI_KEY_FILE); trailing
	 * newline removed.  *out is malloc'd; the caller frees it (and should
	 * wipe it).  Content never reaches a log.  The core refuses a file
	 * that is not regular, is writable by its group or others, or is
	 * readable by others (ssh's rule: 0600 or 0640), and one it cannot
	 * read: it reports why at the key's line and returns MAMORI_E_CONFIG
	 * (pass it on; older cores returned MAMORI_E_IO unreported). */
	int (*conf_secret)(const struct mamori_conf *c, const char *key, char **out, size_t *len);
	/* Resolve a data file under the installed share dir (e.g. a vendor
	 * profile): writes the path into buf. */
	int (*data_path)(const char *rel, char *buf, size_t size);

	/* -- checks -- */
	/* The struct is the core's scratch, overwritten by the next call; its
	 * strings live as long as the check. */
	const struct mamori_check_info *(*check_info)(const struct mamori_check *chk);
	struct mamori_check *(*run_check)(const struct mamori_run *run);
	/* Complete a run: exactly once per run, never after check_cancel. */
	void (*run_complete)(struct mamori_run *run, const struct mamori_result *res);
	/* Submit a passive result for a check (e.g. from an agent report).
	 * Resets the check's freshness timer. */
	int (*check_submit)(struct mamori_check *chk, const struct mamori_result *res);
	/* Find a check by its names (any plugin's), NULL if none. */
	struct mamori_check *(*check_find)(const char *customer, const char *asset,
	                                   const char *check);

	/* -- thresholds and perfdata helpers -- */
	/* Parse "[@]start:end"; returns 0 or MAMORI_E_INVAL. */
	int (*range_parse)(const char *text, struct mamori_range *out);
	/* 1 if `value` raises an alert for this range, 0 if not (or unset). */
	int (*range_alert)(const struct mamori_range *r, double value);
	/* State for a value against warning and critical ranges. */
	int (*range_state)(const struct mamori_range *warn, const struct mamori_range *crit,
	                   double value);
	/* Format a perfdata item into buf (NUL-terminated, truncated to size);
	 * returns the length it needed, like snprintf. */
	int (*perf_format)(const struct mamori_perfdata *p, char *buf, size_t size);
	/* Split plugin output (Monitoring Plugins format: first line with
	 * optional "|perfdata", long output, more perfdata after a "|") into
	 * a result.  Strings point into `text`, which is modified in place.
	 * perf items are written into `items` (at most max_items); returns
	 * the number of items found or a negative error. */
	int (*output_parse)(char *text, struct mamori_result *res, struct mamori_perfdata *items,
	                    size_t max_items);
	int (*duration_parse)(const char *text, double *out_seconds);

	/* -- MQTT (through the core's single broker connection) -- */
	/* Subscribe to a filter (with + and #).  Messages over the size limit
	 * are dropped and counted by the core before cb sees them. */
	int (*mqtt_subscribe)(void *inst, const char *filter, int qos, mamori_msg_cb cb, void *ud,
	                      struct mamori_sub **out);
	void (*mqtt_unsubscribe)(struct mamori_sub *s);
	/* Publish; payload is copied.  QoS 1 messages are queued while the
	 * broker is away and sent on reconnect. */
	int (*mqtt_publish)(void *inst, const char *topic, const void *payload, size_t len, int qos,
	                    int retain);
	/* The topic prefix (default "mamori"). */
	const char *(*mqtt_prefix)(void);

	/* -- assets -- */
	/* Register an asset for a known customer (auto-registration).  It is
	 * persisted, gets the customer's check templates for `type`, and is
	 * visible everywhere.  MAMORI_E_EXISTS if it is already there. */
	int (*asset_register)(void *inst, const struct mamori_asset_spec *spec);
	/* The check_data this plugin's check_prepare returned for `chk` (for
	 * passive plugins that receive reports for a check they found with
	 * check_find).  Checks made from an agent template share the
	 * template's data.  NULL for another plugin's check. */
	void *(*check_data)(void *inst, const struct mamori_check *chk);
	/* 1 if the named business calendar (config `calendars`, or the built-in
	 * "always") is open at time t, 0 if closed, MAMORI_E_NOTFOUND if there
	 * is no such calendar. */
	int (*calendar_is_open)(const char *calendar, double t);

	void *reserved[16];

	/* ---- ABI 1.1: read only when MAMORI_HAS_FIELD says they exist ---- */

	/* Complete a delivery (notify_send): exactly once, now or later from a
	 * callback, never after notify_cancel.  The result is copied. */
	void (*notify_done)(struct mamori_delivery *d, const struct mamori_notify_result *r);
	/* Hand over a reply the plugin received: the core verifies it and
	 * acts (acknowledges the alert as the contact).  0: acted (or it was
	 * acted on before); MAMORI_E_DENIED: not verifiable, ignored;
	 * MAMORI_E_NOTFOUND: verified but nothing to do (alert gone or
	 * resolved).  The plugin may delete the reply either way. */
	int (*notify_reply)(void *inst, const struct mamori_reply *r);

	/* ---- ABI 1.2 ---- */

	/* Report one series of the collection `m`, inside the plugin's
	 * `metrics` function only.  0; MAMORI_E_INVAL for a bad name, label,
	 * type or value (the series is dropped and the core logs why, at most
	 * once an hour per plugin); MAMORI_E_BUSY past
	 * MAMORI_METRIC_MAX_SERIES series in one collection. */
	int (*metric)(struct mamori_metrics *m, const struct mamori_metric *x);
};

/* ---- plugin -> core ------------------------------------------------------ */

#define MAMORI_PLUGIN_PASSIVE     0x1u /* results arrive by check_submit; not scheduled */
/* 1.1: a notifier plugin (notify_send and notify_cancel instead of the
 * check functions).  It never gets checks; its instances are the
 * channels of `notify.channels` (one per block), not `plugins` blocks. */
#define MAMORI_PLUGIN_NOTIFIER    0x2u
/* 1.1, notifiers: what a contact needs for the channel (config checks it). */
#define MAMORI_PLUGIN_NEEDS_EMAIL 0x4u  /* an `email` address */
#define MAMORI_PLUGIN_NEEDS_PHONE 0x8u  /* a `phone` number (E.164) */
#define MAMORI_PLUGIN_SMS         0x10u /* short messages: per-contact SMS cap, short_text */

struct mamori_plugin {
	uint16_t abi_major;                     /* MAMORI_PLUGIN_ABI_MAJOR */
	uint16_t abi_minor;                     /* MAMORI_PLUGIN_ABI_MINOR */
	uint32_t struct_size;                   /* sizeof(struct mamori_plugin) */
	const char *name;                       /* unique, [a-z0-9_]+ */
	const char *version;                    /* the plugin's own version */
	const char *description;                /* one line */
	unsigned flags;                         /* MAMORI_PLUGIN_* */
	const struct mamori_key *instance_keys; /* keys of its `plugins` block */
	const struct mamori_key *check_keys;    /* plugin keys of a check block */

	/* Create an instance.  `conf` is the instance's config block (possibly
	 * empty), valid during the call.  Store `host`.  On failure return a
	 * negative error; destroy is then called with whatever *inst holds
	 * (possibly NULL), so it must cope with a half-built instance. */
	int (*init)(const struct mamori_host *host, const struct mamori_conf *conf, void **inst);
	/* Free an instance.  No checks or runs remain. inst may be NULL. */
	void (*destroy)(void *inst);

	/* Validate and pre-parse one check block (config load or reload).
	 * Report problems with host->conf_error and return its value.  The
	 * returned *check_data is handed to every later call for this check.
	 * When it fails, check_release is NOT called: free what you built. */
	int (*check_prepare)(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
	                     void **check_data);
	/* Forget a check; no run of it is in flight.  check_data may be NULL. */
	void (*check_release)(void *inst, struct mamori_check *chk, void *check_data);

	/* Start one run.  Complete it now or later with host->run_complete.
	 * *run_state is handed to check_cancel.  A negative return means the
	 * run did not start (and must not be completed): the core records
	 * UNKNOWN with host->strerror of the code. */
	int (*check_start)(void *inst, struct mamori_run *run, void *check_data, void **run_state);
	/* Abandon a run (timeout, shutdown, reload): release its resources;
	 * never complete it afterwards. */
	void (*check_cancel)(void *inst, struct mamori_run *run, void *run_state);

	/* ---- notifier plugins (ABI 1.1; these slots were reserved for them
	 * in 1.0, so a 1.0 check plugin has them NULL) ---- */

	/* Deliver one notification.  Complete it with host->notify_done
	 * exactly once, inside the call or later; *state is handed to
	 * notify_cancel.  A negative return means nothing was started (and
	 * must not be completed): the core retries later.  Everything in `n`
	 * is valid during the call only: copy what you keep. */
	int (*notify_send)(void *inst, struct mamori_delivery *d,
	                   const struct mamori_notification *n, void **state);
	/* Abandon a delivery (shutdown, reload, the core's timeout): free its
	 * resources; never complete it afterwards. */
	void (*notify_cancel)(void *inst, struct mamori_delivery *d, void *state);
	/* Optional: a request to the channel's inbound webhook
	 * (/api/v1/notify/inbound/{channel}).  Verify the sender (the
	 * gateway's signature) and read the reply into *out (its strings may
	 * point into `req` or into the plugin's memory until the next call).
	 * Returns 200..599: the HTTP status to answer, with the body (plain
	 * text or XML the gateway expects) in answer; *out is used only for a
	 * 2xx with out->from set.  NULL: the channel takes no webhook. */
	int (*notify_inbound)(void *inst, const struct mamori_http_request *req,
	                      struct mamori_reply *out, char *answer, size_t answer_size);
	void *notify_reserved[1];

	void *reserved[8];

	/* ---- ABI 1.2: the core reads it only when struct_size covers it ---- */

	/* Optional: report the plugin's own metrics with host->metric (see
	 * "plugin metrics" above).  Called on the loop thread when the core
	 * collects - a /metrics scrape; for an isolated instance, in its host
	 * process once a second with the watchdog's ping, the core showing
	 * the last values the host sent.  It must be quick and never block:
	 * report counters the plugin keeps, do no I/O.  NULL: no metrics. */
	void (*metrics)(void *inst, struct mamori_metrics *m);
};

/* Declare the plugin: exports `mamori_plugin_v1` with the ABI numbers and
 * size filled in.  Usage:
 *   MAMORI_PLUGIN_DEFINE(.name = "dummy", .version = "1.0", .init = my_init, ...);
 */
#define MAMORI_PLUGIN_DEFINE(...)                                                                  \
	MAMORI_EXPORT extern const struct mamori_plugin mamori_plugin_v1;                          \
	const struct mamori_plugin mamori_plugin_v1 = { .abi_major = MAMORI_PLUGIN_ABI_MAJOR,      \
		                                        .abi_minor = MAMORI_PLUGIN_ABI_MINOR,      \
		                                        .struct_size =                             \
		                                            sizeof(struct mamori_plugin),          \
		                                        __VA_ARGS__ }

#ifdef __cplusplus
}
#endif
#endif /* MAMORI_PLUGIN_H */
