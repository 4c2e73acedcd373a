/*
 * proto/state: mamori.state/1, the retained state of one check as
 * published on <prefix>/v1/state/{customer}/{asset}/{check} and kept for
 * the live event stream:
 *
 *   {"schema":"mamori.state/1","node":"...","customer":"...","asset":"...",
 *    "check":"...","service":"...","state":0,"state_name":"OK","hard":true,
 *    "attempt":1,"max_attempts":3,"flapping":false,"stale":false,
 *    "acknowledged":false,"output":"...","long_output":"..." (when any),
 *    "perfdata":[{"label":"...","value":1.5,"uom":"s","warn":"...",
 *    "crit":"...","min":0,"max":10}],"last_check":"RFC 3339 Z",
 *    "last_change":"..."}  (+ "truncated":true when cut to fit 60 KiB)
 *
 * Pure: no I/O.
 */
#ifndef MAMORI_PROTO_STATE_H
#define MAMORI_PROTO_STATE_H

#include <stddef.h>

struct proto_state {
	const char *node, *customer, *asset, *check, *service;
	int state, hard, attempt, max_attempts, flapping, stale, acknowledged;
	const char *output, *long_output, *perfdata; /* perfdata: Monitoring Plugins text */
	double last_check, last_change;
};

/* Malloc'd JSON of at most PROTO_STATE_MAX bytes (a larger one is made
 * again with the output cut to 1 KiB, no long output and no perfdata, and
 * "truncated": true), NULL on no memory. */
#define PROTO_STATE_MAX (60 * 1024)
char *proto_format_state(const struct proto_state *s);
/* "2026-11-27T09:10:00Z"; "" for t <= 0. */
void proto_time_utc(double t, char *buf, size_t size);

#endif
