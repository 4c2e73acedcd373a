/*
 * state: the check state engine, as pure functions.
 *
 * Owns the Nagios semantics of soft/hard states, attempts, flap detection
 * and freshness, and the question "may this problem raise an alert?"
 * (downtime, acknowledgement, unreachable parent).  Everything here is a
 * function of (previous state, input, policy, now): no I/O, no logging, no
 * clock reads, so it is tested on virtual time.
 *
 * Must never: allocate, log, or look at other checks (dependencies are
 * passed in as a flag computed by the caller).
 */
#ifndef MAMORI_STATE_H
#define MAMORI_STATE_H

#include <stdint.h>

#define STATE_FLAP_WINDOW 21 /* results remembered for flap detection (Nagios: 21) */

struct state_policy {
	uint8_t max_attempts; /* >= 1; attempt at which a problem becomes hard */
	uint8_t flap_enabled;
	float flap_low;  /* percent; flapping stops below this (Nagios default 20) */
	float flap_high; /* percent; flapping starts above this (Nagios default 30) */
};

/* Compact per-check state; kept in memory for every check (size matters:
 * 1,000,000 checks). */
struct check_state {
	uint8_t state;      /* last result state (0..3) */
	uint8_t hard_state; /* last hard state */
	uint8_t attempt;    /* current attempt, 1..max_attempts */
	uint8_t hard;       /* 1 if `state` is hard */
	uint8_t flapping;
	uint8_t n_hist;     /* results in flap history (<= 21) */
	uint8_t has_result; /* 0 until the first result */
	uint8_t stale;      /* 1 when the last "result" came from freshness */
	uint32_t hist;      /* bit i: state changed at result i (newest = bit 0) */
	float flap_pct;     /* last computed percent state change */
	double last_check;
	double last_change; /* last change of `state` */
	double last_hard_change;
};

/* What one result did; several flags may be set at once. */
enum state_event_flags {
	STATE_EV_CHANGE = 0x01,      /* state differs from the previous result */
	STATE_EV_HARD_CHANGE = 0x02, /* hard state changed (alert-worthy edge) */
	STATE_EV_SOFT = 0x04,        /* result is a soft problem (retry soon) */
	STATE_EV_FLAP_START = 0x08,
	STATE_EV_FLAP_STOP = 0x10,
	STATE_EV_RECOVERY = 0x20,     /* hard problem -> OK */
	STATE_EV_HARD_PROBLEM = 0x40, /* result is a hard problem (new or continuing) */
};

struct state_event {
	unsigned flags;
	uint8_t old_state;
	uint8_t old_hard_state;
	uint8_t new_state;
	uint8_t hard;
	uint8_t attempt;
	float flap_pct;
};

void state_init(struct check_state *st);
/* Apply one result. Returns the event (flags 0: nothing changed). */
struct state_event state_apply(struct check_state *st, const struct state_policy *pol, int result,
                               double now);
/* Apply a freshness expiry (no result within stale_after): behaves like a
 * hard result of `stale_state` (no soft phase: silence is already long). */
struct state_event state_apply_stale(struct check_state *st, int stale_state, double now);
/* True if the check is in a (soft) problem state and should be retried at
 * retry_interval instead of interval. */
int state_wants_retry(const struct check_state *st, const struct state_policy *pol);
/* Percent state change over the history, weighted like Nagios (older
 * changes count less: weight 0.8 .. 1.2 from oldest to newest). */
float state_flap_percent(uint32_t hist, unsigned n);

/* Suppression: why a problem may not raise an alert now. */
enum state_suppress {
	STATE_SUPPRESS_NONE = 0,
	STATE_SUPPRESS_DOWNTIME = 1,
	STATE_SUPPRESS_ACK = 2,
	STATE_SUPPRESS_UNREACHABLE = 3,
	STATE_SUPPRESS_FLAPPING = 4, /* still alerted once as "flapping"; no per-flap alerts */
};

struct state_context {
	uint8_t in_downtime;
	uint8_t acknowledged; /* ack active (sticky until OK; expiry handled by caller) */
	uint8_t parent_down;  /* a parent asset is in a hard problem state */
};
/* Why an alert-worthy event should be suppressed, or NONE. */
enum state_suppress state_suppressed(const struct check_state *st, const struct state_context *ctx);
const char *state_name(int state); /* "OK", "WARNING", "CRITICAL", "UNKNOWN" */

/* Downtime window: absolute [start,end), or, when `recurring` is set, the
 * open hours of that calendar (e.g. "sun 02:00-04:00" in Asia/Tokyo) -
 * weekly maintenance windows reuse the business-calendar code. */
struct cal;
struct downtime {
	double start, end;
	const struct cal *recurring;
};
/* 1 if `t` falls in the window. */
int downtime_active(const struct downtime *d, double t);

#endif
