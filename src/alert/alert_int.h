/*
 * alert_int.h: private to src/alert/ (the table shared by alert.c and
 * alert_table.c).  Not for other modules.
 */
#ifndef MAMORI_ALERT_INT_H
#define MAMORI_ALERT_INT_H

#include "alert/alert.h"

struct alert_bucket_set {
	struct alert **b;
	size_t mask; /* n_buckets - 1 (power of two) */
};

struct alert_table {
	char *node;
	double reopen_within, keep_resolved;
	int updates_on_change;
	const struct route_table *routes;
	alert_emit_fn emit;
	void *emit_arg;
	struct sla *sla;
	uint64_t counter;
	size_t n;
	struct alert_bucket_set by_key, by_id;
	size_t prune_cursor;
};

/* alert.c: stamp (seq, time, actor) and hand to the emit callback */
void alert__emit(struct alert_table *t, struct alert *a, const struct alert_event *tmpl,
                 double now);

/* alert_table.c */
struct alert *alert__new(struct alert_table *t, const char *key, double now);
void alert__free(struct alert *a);
int alert__insert(struct alert_table *t, struct alert *a);
void alert__remove(struct alert_table *t, struct alert *a);
int alert__set_str(char **dst, const char *src);

#endif
