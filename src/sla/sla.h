/*
 * sla: service-level terms, per-alert SLA clocks in business time, and the
 * deadline index.
 *
 * Terms (a center's defaults or a customer's contract) are a calendar plus
 * tiers, each with `ack_within` and `resolve_within` measured in the
 * calendar's open time.  A clock (embedded in each alert) holds the current
 * tier and the absolute ack/resolve deadlines; pausing (wait, downtime)
 * converts the deadlines back into the business seconds that remained, and
 * resuming converts them into new absolute deadlines.
 *
 * The index is a binary min-heap of running clocks keyed by each clock's
 * nearest event, with the heap position stored in the clock (O(log n)
 * insert/update/remove, no stale entries).  The daemon arms ONE timer at
 * sla_next_due(); nothing runs for 100,000 open alerts until that time.
 *
 * Pure: no I/O, no logging, no clock reads (every function takes `now`).
 * Must never: call back into the alert module (the fire callback is the
 * only way out), free clocks (their owner does).
 */
#ifndef MAMORI_SLA_H
#define MAMORI_SLA_H

#include <libconfig.h>
#include <stddef.h>

struct cal;

#define SLA_ERRLEN 256

struct sla_tier {
	char *name;
	double ack_within;     /* business seconds; 0: no ack deadline */
	double resolve_within; /* business seconds; 0: no resolve deadline */
};

struct sla_terms {
	const struct cal *cal;  /* borrowed: the daemon owns calendars */
	struct sla_tier *tiers; /* n_tiers >= 1 */
	size_t n_tiers;
	double reannounce; /* business seconds between re-announced breaches at the last tier */
};

/* A contact center: name and its default terms. */
struct sla_center {
	char *name;
	struct sla_terms terms;
};

struct sla_centers {
	struct sla_center *v;
	size_t n;
};

/* Calendar lookup by name, supplied by the daemon (it owns `calendars`). */
typedef const struct cal *(*sla_cal_lookup_fn)(void *arg, const char *name);

/* Duration string: "500ms", "30s", "15m", "4h", "1d" (also combined, e.g.
 * "1h30m").  Returns 0 and seconds in *out, or -1. */
int sla_parse_duration(const char *s, double *out);

/* Parse `centers = ( { name; calendar; tiers = ( {name; ack_within;
 * resolve_within;} ...); reannounce; } ... )`.  Unknown keys, wrong types,
 * unknown calendars, duplicate names -> -1 with "file:line: message". */
int sla_centers_parse(const config_setting_t *list, sla_cal_lookup_fn cal_lookup, void *arg,
                      struct sla_centers *out, char *err, size_t errlen);
void sla_centers_free(struct sla_centers *cs);
const struct sla_center *sla_centers_find(const struct sla_centers *cs, const char *name);

/* Parse one terms group (a customer's `sla = { calendar; tiers; reannounce; }`).
 * Returns a new object or NULL with a message. */
struct sla_terms *sla_terms_parse(const config_setting_t *group, sla_cal_lookup_fn cal_lookup,
                                  void *arg, char *err, size_t errlen);
void sla_terms_free(struct sla_terms *t);

/* Pause reasons (bits): the clock runs only when none is set. */
enum sla_pause {
	SLA_PAUSE_WAIT = 0x1,     /* waiting for the customer (`wait` command) */
	SLA_PAUSE_DOWNTIME = 0x2, /* the check is in scheduled downtime */
};

enum sla_deadline { SLA_ACK = 0, SLA_RESOLVE = 1 };

/* One alert's clock.  Zero-initialise (or sla_clock_init), then sla_start. */
struct sla_clock {
	const struct sla_terms *terms; /* borrowed; NULL: no SLA */
	unsigned tier;                 /* index into terms->tiers */
	unsigned paused;               /* enum sla_pause bits */
	unsigned char acked;
	unsigned char stopped;      /* resolved: no more deadlines */
	unsigned char ack_breached; /* at the last tier: ack deadline passed */
	unsigned char resolve_breached;
	double ack_due; /* absolute; 0: none */
	double resolve_due;
	double ack_left; /* business seconds left while paused; <0: none */
	double resolve_left;
	double reannounce_at; /* 0: none */
	unsigned breaches;    /* total breaches recorded */
	/* index bookkeeping (owned by struct sla) */
	double key;
	size_t pos; /* SLA_NOT_QUEUED when not in the heap */
};
#define SLA_NOT_QUEUED ((size_t)-1)

/* The deadline index. */
struct sla;
struct sla *sla_new(void);
void sla_free(struct sla *s); /* does not touch the clocks */
size_t sla_pending(const struct sla *s);
/* Time of the nearest event, or -1 when nothing is due ever. */
double sla_next_due(const struct sla *s);

void sla_clock_init(struct sla_clock *c);
/* Start (or restart, on reopen) the clock at `tier` from `now`. */
void sla_start(struct sla *s, struct sla_clock *c, const struct sla_terms *terms, unsigned tier,
               double now);
void sla_ack(struct sla *s, struct sla_clock *c, double now);
/* Unack restarts the ack clock with the full ack_within of the tier. */
void sla_unack(struct sla *s, struct sla_clock *c, double now);
/* Move to the next tier with fresh deadlines; -1 if already at the last. */
int sla_escalate(struct sla *s, struct sla_clock *c, double now);
void sla_pause(struct sla *s, struct sla_clock *c, unsigned reason, double now);
void sla_resume(struct sla *s, struct sla_clock *c, unsigned reason, double now);
/* Resolve: stop every deadline and leave the index. */
void sla_stop(struct sla *s, struct sla_clock *c);
/* Replace terms after a config reload, keeping deadlines already computed
 * (the tier index is clamped to the new number of tiers). */
void sla_rebind(struct sla *s, struct sla_clock *c, const struct sla_terms *terms);
/* The wall clock stepped by `step` seconds: every running deadline moves
 * with it (an ack_within is elapsed time), paused clocks keep what is
 * left.  Returns the number of clocks moved. */
size_t sla_shift(struct sla *s, double step);
/* Re-insert a clock restored from storage (after sla_clock fields were
 * filled from the database); overdue deadlines then fire at the next
 * sla_fire_due. */
void sla_restore(struct sla *s, struct sla_clock *c);

enum sla_fire {
	SLA_FIRE_BREACH,     /* a deadline passed (which: ack/resolve) */
	SLA_FIRE_ESCALATED,  /* automatic escalation followed a breach */
	SLA_FIRE_REANNOUNCE, /* a breach at the last tier, announced again */
};
typedef void (*sla_fire_fn)(void *arg, struct sla_clock *c, enum sla_fire what,
                            enum sla_deadline which, double now);
/* Process every clock whose next event is <= now, calling fn for each
 * event in order (breach before its escalation; fn sees the clock as it
 * is at that event).  fn must not call back into this module.  Returns
 * the number of events. */
size_t sla_fire_due(struct sla *s, double now, sla_fire_fn fn, void *arg);

const char *sla_deadline_name(enum sla_deadline d); /* "ack", "resolve" */

#endif
