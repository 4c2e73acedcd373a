/*
 * config: the configuration file (libconfig) -> validated, typed objects.
 *
 * Owns syntax and reference checking: unknown keys, wrong types, duplicate
 * names, references to undefined calendars, centers, plugins or parent
 * assets are errors naming file and line, and a config with any error is
 * refused whole (startup stops; a reload keeps the running config).
 * Defaults are inherited global -> customer -> asset -> check through
 * `defaults = { ... }` groups at each level.
 *
 * Plugin keys are validated against the plugin's own key table; the
 * plugin's check_prepare is *not* called here (the server does that, with
 * the libconfig tree still alive: it lives in struct mconf until
 * mconf_free, and may be freed earlier with mconf_drop_tree).
 *
 * Must never: touch the event loop, open sockets, or keep pointers into
 * the server's runtime objects.
 */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

struct loader;
struct cal;

enum service {
	SERVICE_OTHER = 0,
	SERVICE_DEFENDER,
	SERVICE_WEB,
	SERVICE_MAIL,
	SERVICE_UTM,
	SERVICE_DNS,
};
const char *service_name(int s);
int service_parse(const char *s); /* -1 if unknown */

/* Timing and policy of a check, inheritable. */
struct check_params {
	uint32_t interval_ms;
	uint32_t retry_ms;
	uint32_t timeout_ms;
	uint32_t stale_ms; /* passive freshness; 0 = none */
	uint8_t max_attempts;
	uint8_t stale_state;
	uint8_t flap_enabled;
	uint8_t service;
	float flap_low, flap_high;
	/* which fields were set at this level (for inheritance) */
	uint32_t set;
	const struct cal *period; /* check_period, or NULL = always */
	/* `runbook`: what to do when the check fails (an http(s) URL or a
	 * short text, config_runbook_check), or NULL.  In a struct mconf it
	 * points into the libconfig tree; the registry interns it. */
	const char *runbook;
};

/* A check's `runbook`: at most CONFIG_RUNBOOK_MAX bytes of valid UTF-8
 * without control characters (tabs and newlines included); a text that
 * is one word starting with a URL scheme ("xyz:...") is a URL and must be
 * http:// or https:// with a host.  Returns 0, or -1 with the reason in
 * why. */
#define CONFIG_RUNBOOK_MAX 1024
int config_runbook_check(const char *s, char *why, size_t whylen);
/* A plugin's `memory_limit` string: "none", or "<n>[K|M|G|T][iB|B]" (powers
 * of 1024).  0 with the bytes in *out (0 for "none"), -1 when malformed or
 * beyond 64 bits.  The minimum is the caller's to check. */
int config_parse_memory_limit(const char *s, uint64_t *out);

struct cfg_check {
	/* name and plugin point into the libconfig tree: valid while it
	 * lives (NULL after mconf_drop_tree); 100,000 checks made 200,000
	 * small copies otherwise. */
	const char *name;
	const char *plugin;
	uint32_t pinst; /* index into mconf.plugins */
	struct check_params p;
	const config_setting_t *s; /* valid while the tree lives */
	uint64_t hash;             /* of its config text: reload keeps unchanged checks */
};

struct cfg_asset {
	char *name;
	char *type;
	char *address;
	char *parent; /* parent asset name (same customer) or NULL */
	struct cfg_check *checks;
	size_t n_checks;
};

/* `agents = { defender = { auto_register; stale_after; ... } }`: every
 * agent-reported asset of the customer gets a check `plugin` with these
 * keys. */
struct cfg_agent {
	char *plugin;
	uint32_t pinst;
	int auto_register;
	char *asset_type; /* default "pc" */
	struct check_params p;
	const config_setting_t *s;
	uint64_t hash;
};

/* `report = { email = [...]; lang = "ja"; calendar = "..."; }` of a
 * customer: who gets its monthly report, in which language, and the
 * business calendar it is counted in (doc/report.md). */
struct cfg_report {
	int set; /* the group is there: the customer gets the report sent */
	char **email;
	size_t n_email;
	char *lang;     /* "ja", "en" or NULL (reports.lang) */
	char *calendar; /* a calendar's name or NULL (contract's, then reports.calendar) */
};

struct cfg_customer {
	char *id;
	char *name;
	char *region;
	char **tags;
	size_t n_tags;
	struct cfg_asset *assets;
	size_t n_assets;
	struct cfg_agent *agents;
	size_t n_agents;
	const config_setting_t *sla; /* contract override, parsed by the sla module */
	char *sla_calendar;          /* the contract's calendar name, or NULL */
	struct cfg_report report;
};

/* A plugin host's memory limit when its block does not say (memory_limit). */
#define CFG_MEMORY_LIMIT_DEFAULT (512ull * 1024 * 1024)
#define CFG_MEMORY_LIMIT_MIN     (32ull * 1024 * 1024)

struct cfg_plugin {
	char *name;         /* plugin name */
	int max_concurrent; /* 0 = unlimited */
	int isolate;
	uint64_t memory_limit;     /* bytes, isolated only (the host's RLIMIT_DATA); 0: none */
	const config_setting_t *s; /* its block, or NULL (default instance) */
	uint64_t hash;
	int used; /* configured or used by a check: gets an instance */
};

struct cfg_calendar {
	char *name;
	struct cal *cal;
};

struct cfg_downtime {
	char *id;                       /* "config-N" (the file's N-th) or a runtime id */
	char *customer, *asset, *check; /* asset/check NULL = all of it */
	double start, end;
	int runtime;        /* added at run time (API): persisted, kept across reloads */
	double created;     /* runtime: when it was added */
	struct cal *weekly; /* recurring window, owned */
	char *comment, *author;
};

struct mconf {
	char *path;
	config_t tree;
	int tree_live;
	/* daemon */
	char *state_dir;
	char *plugin_dir;
	char *data_dir;
	char *node;
	int log_level;
	double flush_interval; /* store group commit, seconds */
	double reopen_within;  /* alerts.reopen_within, seconds (default 600) */
	/* alerts.outbox_memory: committed unsent messages kept in memory
	 * (default 10,000; the rest wait in the outbox table);
	 * alerts.outbox_inflight: of those, handed to MQTT without PUBACK
	 * (default 1,000). */
	uint32_t outbox_memory, outbox_inflight;
	uint32_t retention_days;
	/* history { }: the perfdata history (src/series); durations in s */
	struct {
		int enabled;
		double raw_retention, rollup_5m_retention, rollup_1h_retention;
		double raw_min_interval, flush_interval;
		uint32_t max_labels;
		/* history.forward { }: values also sent to a time-series
		 * database (src/series/forward.h) */
		struct {
			char *graphite;  /* "127.0.0.1:2003", "[::1]:2003"; NULL: off */
			char *influx;    /* "udp://127.0.0.1:8089"; NULL: off (one of the two) */
			char *prefix;    /* NULL: "mamori" */
			uint32_t buffer; /* bytes (1 MiB) */
		} forward;
	} history;
	/* reports { }: the monthly customer reports (src/report) */
	struct {
		char *calendar; /* default business calendar, or NULL (all hours only) */
		char lang[4];   /* default language: "ja" */
		int workers;    /* threads that make reports: 1 */
		int schedule;   /* send the month's reports on the first business day: 1 */
	} reports;
	/* sections other modules parse */
	const config_setting_t *mqtt, *http, *auth, *centers, *routes;
	/* on-call notifications (src/notify parses them) */
	const config_setting_t *contacts, *oncall, *notify;
	struct cfg_calendar *calendars;
	size_t n_calendars;
	struct cfg_plugin *plugins;
	size_t n_plugins;
	struct cfg_customer *customers;
	size_t n_customers;
	struct cfg_downtime *downtimes;
	size_t n_downtimes;
	size_t n_checks;
	char **center_names;
	size_t n_centers;
};

/* Error sink: every error is reported (not just the first). */
typedef void (*config_err_fn)(void *ud, const char *msg);

/* Load and validate `path`.  The loader is used to check plugin names
 * and keys (refused plugins are accepted by name: their checks go UNKNOWN
 * at run time).  datadir overrides daemon.data_dir for holiday tables when
 * not NULL.  Returns NULL after reporting every error to err(). */
struct mconf *config_load(const char *path, struct loader *plugins, const char *datadir,
                          config_err_fn err, void *ud);
/* Parse only the daemon section (plugin_dir is needed before plugins load). */
int config_peek_daemon(const char *path, char **plugin_dir, char **data_dir, config_err_fn err,
                       void *ud);
/* The daemon's run-as settings, read before anything else (mamorid
 * started as root drops to daemon.user before it opens any file).
 * user: daemon.user or "mamori"; allow_root: daemon.allow_root (keep
 * running as root); state_dir: daemon.state_dir or the built-in one.
 * The strings are malloc'd (config_privs_free).  -1 after err() on an
 * unreadable file or a wrong type. */
struct cfg_privs {
	char *user;
	int allow_root;
	char *state_dir;
};
int config_peek_privs(const char *path, struct cfg_privs *out, config_err_fn err, void *ud);
void config_privs_free(struct cfg_privs *p);
void mconf_drop_tree(struct mconf *c);
/* Free arrays of calendars / downtimes (shared with the server, which
 * takes them over from the config). */
void cfg_calendars_free(struct cfg_calendar *c, size_t n);
void cfg_downtimes_free(struct cfg_downtime *d, size_t n);
void mconf_free(struct mconf *c);
const struct cal *mconf_calendar(const struct mconf *c, const char *name);

/* Parse a libconfig text (tests). */
struct mconf *config_load_string(const char *text, struct loader *plugins, const char *datadir,
                                 config_err_fn err, void *ud);

#endif
