/*
 * route: which contact center gets an alert.
 *
 * `routes` is an ordered list of rules.  A rule matches when every
 * condition it names matches (a rule with no condition matches all):
 *   customer = "c0001" | ["c0001", "c0002"]   customer id, any of
 *   tags     = ["premium", "aichi-gov"]       customer has ALL these tags
 *   region   = "aichi" | [...]                customer region, any of
 *   service  = "utm" | [...]                  check's service, any of
 *   severity = "critical" | [...]             warning / critical / unknown
 *   check    = "defender*" | [...]            check name, shell glob (fnmatch)
 *   center   = "cc-west"                      required: where it goes
 *   continue = true                           keep matching after this rule
 * The first matching rule gives the owning center (its SLA clock, the only
 * center whose commands act on the alert).  When that rule (or a later
 * matching one) says `continue`, the next matching rules add "also"
 * centers, which receive copies of the alert's events (read-only).
 *
 * Pure: no I/O, no logging.  Must never: look at calendars or clocks.
 */
#ifndef MAMORI_ROUTE_H
#define MAMORI_ROUTE_H

#include <libconfig.h>
#include <stddef.h>

#include "sla/sla.h"

#define ROUTE_MAX_ALSO 4

struct route_input {
	const char *customer;
	const char *const *tags; /* customer's tags */
	size_t n_tags;
	const char *region;   /* may be NULL */
	const char *service;  /* defender, web, mail, utm, dns, other; may be NULL */
	const char *severity; /* "warning", "critical", "unknown" */
	const char *check;    /* check name */
};

struct route_result {
	const struct sla_center *center; /* NULL: no rule matched */
	const struct sla_center *also[ROUTE_MAX_ALSO];
	size_t n_also;
	int rule; /* index of the owning rule, -1 if none */
};

struct route_table;

/* Parse the `routes` list; centers must outlive the table.  Unknown keys,
 * wrong types, a missing or undefined center -> NULL and "file:line: msg". */
struct route_table *route_parse(const config_setting_t *routes, const struct sla_centers *centers,
                                char *err, size_t errlen);
void route_free(struct route_table *t);
size_t route_count(const struct route_table *t);

/* Match in order.  Returns 0 and fills *out, or -1 when no rule matched
 * (out->center NULL). */
int route_match(const struct route_table *t, const struct route_input *in,
                struct route_result *out);

#endif
