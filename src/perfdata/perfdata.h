/*
 * perf: Monitoring Plugins output, perfdata and threshold ranges.
 *
 * Owns the parsing and printing of the text format every Nagios-family
 * plugin speaks:  "TEXT|perf perf\nLONG\nLONG|more perf\nmore perf".
 * Pure functions: no allocation except where stated, no logging, no I/O.
 * These back the host->range_* / perf_format / output_parse functions of
 * the plugin ABI, so plugins and the core share one implementation.
 */
#ifndef MAMORI_PERF_H
#define MAMORI_PERF_H

#include <stddef.h>
#include <mamori/plugin.h>

/* Parse a threshold range "[@]start:end" (Monitoring Plugins guidelines):
 *   "10"     -> 0..10          "10:"   -> 10..+inf
 *   "~:10"   -> -inf..10       "10:20" -> 10..20     "@10:20" inside
 * Leading/trailing blanks are not allowed; start > end is an error.
 * Returns 0 or MAMORI_E_INVAL.  On error *out is zeroed. */
int perf_range_parse(const char *text, struct mamori_range *out);
/* 1 when `value` raises an alert for `r` (outside, or inside for '@');
 * 0 when it does not or r->set is 0.  NaN always alerts. */
int perf_range_alert(const struct mamori_range *r, double value);
/* OK/WARNING/CRITICAL for value against two (possibly unset) ranges. */
int perf_range_state(const struct mamori_range *warn, const struct mamori_range *crit,
                     double value);
/* Print a range back in canonical form; returns needed length (snprintf). */
int perf_range_format(const struct mamori_range *r, char *buf, size_t size);

/* Parse perfdata text (space-separated items) into items[0..max).  Labels
 * and UOMs point into `text`, which is modified in place for good items
 * (quotes removed, NULs written).  Returns the number of items stored
 * (>= 0); malformed items are skipped and counted in *n_bad (may be NULL).
 * Never reads past the terminating NUL; labels may be quoted with '', may
 * then contain blanks, and contain '' as an escaped quote.  A quoted label
 * with no closing quote makes the rest of the text one malformed item. */
int perf_parse(char *text, struct mamori_perfdata *items, size_t max, size_t *n_bad);
/* Format one item as 'label'=value[UOM];warn;crit;min;max, trailing empty
 * fields dropped.  Returns needed length (snprintf semantics). */
int perf_format(const struct mamori_perfdata *p, char *buf, size_t size);
/* Format many items separated by spaces. */
int perf_format_all(const struct mamori_perfdata *p, size_t n, char *buf, size_t size);

/* Split full plugin output into res->output (first line, without perfdata),
 * res->long_output (remaining lines without their perfdata, NULL if none)
 * and perfdata items (from the first line after '|' and from everything
 * after the first '|' in the long output), all pointing into `text`,
 * which is modified in place.  res->state is not touched.  Returns the
 * number of perf items stored or a negative error. */
int perf_output_parse(char *text, struct mamori_result *res, struct mamori_perfdata *items,
                      size_t max_items, size_t *n_bad);

/* Parse a duration: "500ms", "30s", "15m", "4h", "1d", "1w", a bare number
 * (seconds), or combinations like "1h30m".  Returns 0 or MAMORI_E_INVAL. */
int perf_duration_parse(const char *text, double *out_seconds);

#endif
