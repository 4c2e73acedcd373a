/*
 * defender judge: the pure part of the defender plugin.  Turns one agent
 * report (the bytes of an MQTT payload, schema mamori.defender/1) and a
 * policy into a verdict: state, one line of plain words, long output and
 * perfdata - or a rejection with a reason.  No I/O, no logging, no host
 * API, no globals: unit-tested directly on every test vector.
 *
 * Contract of the payload: the fields of Get-MpComputerStatus under their
 * own names, plus schema, ts, agent_version.  Unknown fields are ignored
 * (new Windows builds add fields); known fields with the wrong type or an
 * impossible value reject the whole report (a report we cannot trust must
 * not change state).  Ages are UInt32 days, 4294967295 meaning "never".
 */
#ifndef DEFENDER_JUDGE_H
#define DEFENDER_JUDGE_H

#include <stddef.h>
#include <mamori/plugin.h>

#include "util/jsonw.h"

#define DEFENDER_SCHEMA "mamori.defender/1"
#define DEFENDER_NEVER  4294967295.0

struct defender_policy {
	double sig_warn_days;       /* signature_age_warning, default 3 (>= alerts) */
	double sig_crit_days;       /* signature_age_critical, default 7 */
	double quick_warn_days;     /* quick_scan_age_warning, default 7 */
	double quick_crit_days;     /* quick_scan_age_critical, default 14 */
	double full_warn_days;      /* full_scan_age_warning, 0 = not judged (default) */
	double full_crit_days;      /* full_scan_age_critical, 0 = not judged */
	int never_scanned_state;    /* no quick scan ever: WARNING */
	int tamper_state;           /* tamper_severity: WARNING */
	int passive_ok;             /* customer uses another antivirus: passive mode is OK */
	int passive_state;          /* passive mode when !passive_ok: WARNING */
	int pending_state;          /* ComputerState bits 0x1-0x8: WARNING */
	int offline_state;          /* agent's last will "offline" outside business hours: OK */
	int offline_business_state; /* ... inside the customer's business hours: WARNING */
	size_t max_size;            /* payload limit, default 64 KiB */
};

void defender_policy_default(struct defender_policy *p);
/* "ok", "warning", "critical", "unknown" -> state; -1 if none of them. */
int defender_state_parse(const char *s);

enum defender_reject {
	DEF_ACCEPTED = 0,
	DEF_R_JSON,       /* refused by jsonw (size, UTF-8, depth, syntax, dup key) */
	DEF_R_NOT_OBJECT, /* valid JSON but not an object */
	DEF_R_SCHEMA,     /* schema missing or not mamori.defender/1 */
	DEF_R_TYPE,       /* a known field has the wrong type */
	DEF_R_RANGE,      /* a number out of range */
	DEF_R_MISSING,    /* a required field is absent */
	DEF_R_DATE,       /* a date in neither RFC 3339 nor \/Date(ms)\/ form */
	DEF_R__COUNT
};

struct defender_verdict {
	enum defender_reject reject; /* DEF_ACCEPTED or why not */
	enum jsonw_err json_err;     /* when reject == DEF_R_JSON */
	char reason[160];            /* rejection detail, plain words */
	int state;                   /* enum mamori_state, when accepted */
	char output[512];
	char long_output[512];
	struct mamori_perfdata perf[3]; /* labels/uom point to string literals */
	size_t n_perf;
	char computer_name[64]; /* as reported (never trusted) */
};

/* Judge one report.  Returns 0 when accepted (v->state etc. set), or
 * -1 when rejected (v->reject, v->reason set). */
int defender_judge(const void *payload, size_t len, const struct defender_policy *p,
                   struct defender_verdict *v);

/* "rfc3339-or-/Date(ms)/" -> seconds since the epoch.  0 or -1. */
int defender_parse_date(const char *s, double *out);

const char *defender_reject_name(enum defender_reject r);

#endif
