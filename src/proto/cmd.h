/*
 * cmd: contact-center commands and the JSON the alert pipeline publishes.
 *
 * In:  mamori.cmd/1 on mamori/v1/cmd/{center}
 *      {"schema":"mamori.cmd/1","id":"...","action":"ack","alert":"A-...",
 *       "by":"operator name","note":"...",
 *       dispatch only: "vendor":"...","planned_at":"RFC 3339","result":"..."}
 * Out: mamori.cmdresult/1 on mamori/v1/cmd/{center}/result
 *      {"schema":"mamori.cmdresult/1","id":"...","ok":true|false,
 *       "error":null|"text","code":"ok"|"unknown_alert"|...,"alert":"A-...",
 *       "node":"..."}
 *      mamori.alert/1 on mamori/v1/alerts/{center}/{customer} (cmd_format_alert).
 *
 * Commands are idempotent by (center, id): struct cmd_seen remembers
 * processed ids (per origin, bounded by count and age, oldest forgotten
 * first); the service layer
 * (src/app) applies commands, persists the ids and answers a repeated
 * command with the first answer again without acting.
 *
 * Pure: no I/O, no logging; JSON input goes through jsonw (strict).
 */
#ifndef MAMORI_CMD_H
#define MAMORI_CMD_H

#include <stddef.h>

#include "alert/alert.h"

#define CMD_ID_MAX        128
#define CMD_SCHEMA        "mamori.cmd/1"
#define CMD_RESULT_SCHEMA "mamori.cmdresult/1"
#define ALERT_SCHEMA      "mamori.alert/1"

enum cmd_err {
	CMD_OK = 0,
	CMD_E_MALFORMED, /* not JSON, not an object, bad UTF-8, too big ... */
	CMD_E_SCHEMA,    /* missing or other "schema" */
	CMD_E_MISSING,   /* a required field is missing */
	CMD_E_INVALID,   /* a field has the wrong type or a bad value */
	CMD_E_UNKNOWN_ACTION,
	CMD_E_UNKNOWN_ALERT,
	CMD_E_WRONG_CENTER, /* the alert belongs to another center */
	CMD_E_STATE,        /* e.g. ack of a resolved alert */
	CMD_E_LAST_TIER,    /* escalate at the last tier */
	CMD_E_NOMEM,
	CMD_E__COUNT
};
/* Stable token for the "code" field ("unknown_alert"...). */
const char *cmd_errname(enum cmd_err e);

struct cmd {
	char id[CMD_ID_MAX + 1]; /* "" when the payload had no usable id */
	enum alert_action_type action;
	char *alert, *by, *note;
	char *vendor, *result; /* dispatch */
	double planned_at;     /* dispatch; 0 when absent */
};

/* Parse a payload.  Returns CMD_OK or an error with a message in msg
 * (which names the field).  Even on error c->id holds the command's id
 * when one could be read, so the answer can carry it.  cmd_clear frees. */
enum cmd_err cmd_parse(const char *buf, size_t len, struct cmd *c, char *msg, size_t msglen);
void cmd_clear(struct cmd *c);

/* Processed command ids: up to `capacity` per origin (a center or an
 * HTTP user: one origin's commands never push another's ids out), each
 * for `keep` seconds (0: no age limit), as a 64-bit keyed fingerprint
 * with the first answer's code (about 30 bytes per id; see cmd.c). */
struct cmd_seen;
struct cmd_seen *cmd_seen_new(size_t capacity, double keep); /* e.g. 1000000, 400 days */
void cmd_seen_free(struct cmd_seen *s);
/* 1 and the recorded result if (center, id) was processed, else 0. */
int cmd_seen_lookup(const struct cmd_seen *s, const char *center, const char *id,
                    enum cmd_err *result);
/* Remember (center, id) -> result, processed at `now` (ids must come in
 * time order per origin, as they are processed or read back from the
 * store).  The center's ids older than now - keep go, and its oldest when
 * it has `capacity` of them.  A known id only has its result updated. */
int cmd_seen_add(struct cmd_seen *s, const char *center, const char *id, enum cmd_err result,
                 double now);
/* Heap bytes held (for /metrics and the benchmark). */
size_t cmd_seen_bytes(const struct cmd_seen *s);
size_t cmd_seen_count(const struct cmd_seen *s);

/* mamori.cmdresult/1; err_text may be NULL (then the default text). */
char *cmd_format_result(const char *id, const char *alert_id, enum cmd_err e, const char *err_text,
                        const char *node);
/* mamori.alert/1 for one event of an alert (times in the calendar's
 * offset of the alert's SLA terms, UTC without terms).  Malloc'd. */
char *cmd_format_alert(const struct alert *a, const struct alert_event *ev, const char *node);

/* RFC 3339 "2026-11-27T09:10:00+09:00" / "...Z" / fractional seconds ->
 * epoch seconds; -1 on error. */
int cmd_parse_rfc3339(const char *s, double *out);

#endif
