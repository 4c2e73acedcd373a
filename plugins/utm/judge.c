/*
 * utm: turn the values read from a UTM into a Monitoring Plugins result.
 *
 * Pure: a function of (profile, values, config, previous uptime, now); no
 * I/O, no logging, no host except the injected range_state.  Decisions:
 *  - no sysUpTime in the answer: UNKNOWN (the agent answered nothing useful);
 *  - sysUpTime lower than at the previous check: WARNING "rebooted at T",
 *    unless it is the 32-bit TimeTicks wrap (497 days); and WARNING while
 *    uptime < reboot_window, so a reboot is not lost as one soft state;
 *  - a required interface not up: CRITICAL "<label> down"; dormant(5) is
 *    WARNING; a required interface missing from ifName/ifDescr is CRITICAL
 *    too (PPPoE/LTE interfaces vanish when the link drops);
 *  - cpu/memory/sessions: against their ranges; a profile metric with a
 *    threshold but no value: UNKNOWN.
 */
#include "plugins/utm/utm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKS_WRAP 42949672.96 /* 2^32 centiseconds, in seconds */

int utm_state_worse(int a, int b)
{
	static const int rank[4] = { 0, 2, 3, 1 }; /* OK < UNKNOWN < WARNING < CRITICAL */
	int ra = a >= 0 && a <= 3 ? rank[a] : 1, rb = b >= 0 && b <= 3 ? rank[b] : 1;
	return ra >= rb ? a : b;
}

static void add_problem(struct utm_judge_out *o, int state, const char *fmt, ...)
    MAMORI_PRINTF(3, 4);
static void add_problem(struct utm_judge_out *o, int state, const char *fmt, ...)
{
	char msg[200];
	size_t len = strlen(o->output);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	o->state = utm_state_worse(o->state, state);
	snprintf(o->output + len, sizeof o->output - len, "%s%s", len ? ", " : "", msg);
}

static void add_note(struct utm_judge_out *o, const char *fmt, ...) MAMORI_PRINTF(2, 3);
static void add_note(struct utm_judge_out *o, const char *fmt, ...)
{
	size_t len = strlen(o->long_output);
	va_list ap;
	if (len + 2 >= sizeof o->long_output)
		return;
	if (len)
		o->long_output[len++] = '\n';
	va_start(ap, fmt);
	vsnprintf(o->long_output + len, sizeof o->long_output - len, fmt, ap);
	va_end(ap);
}

static struct mamori_perfdata *add_perf(struct utm_judge_out *o, const char *label, double v,
                                        const char *uom)
{
	struct mamori_perfdata *p;
	if (o->n_perf == UTM_PERF_MAX)
		return NULL;
	p = &o->perf[o->n_perf];
	memset(p, 0, sizeof *p);
	snprintf(o->perf_labels[o->n_perf], sizeof o->perf_labels[0], "%s", label);
	p->label = o->perf_labels[o->n_perf++];
	p->uom = uom;
	p->value = v;
	return p;
}

static int vb_number(const struct utm_vb *vb, double *out)
{
	char *end;
	if (!vb)
		return 0;
	if (vb->type == UTM_V_NUM) {
		*out = vb->num;
		return 1;
	}
	if (vb->type == UTM_V_STR && vb->str[0]) { /* some vendors send "12" */
		double d = strtod(vb->str, &end);
		if (end != vb->str && (*end == '\0' || *end == '%') && isfinite(d)) {
			*out = d;
			return 1;
		}
	}
	return 0;
}

static int column_fold(const struct utm_values *vs, const struct utm_metric *m, double *out)
{
	double acc = 0, v;
	size_t n = 0;
	for (size_t i = 0; i < vs->n; i++) {
		if (vs->v[i].oid.len <= m->a.len || !utm_oid_under(&vs->v[i].oid, &m->a) ||
		    !vb_number(&vs->v[i], &v))
			continue;
		if (m->method == UTM_M_MAX)
			acc = n == 0 || v > acc ? v : acc;
		else
			acc += v;
		n++;
	}
	if (!n)
		return 0;
	*out = m->method == UTM_M_AVG ? acc / (double)n : acc;
	return 1;
}

/* HOST-RESOURCES-MIB hrStorageTable: first row of the wanted type. */
static int storage_percent(const struct utm_values *vs, const struct utm_oid *type, double *out)
{
	struct utm_oid col;
	utm_oid_parse("1.3.6.1.2.1.25.2.3.1.2", &col);
	for (size_t i = 0; i < vs->n; i++) {
		const struct utm_vb *t = &vs->v[i];
		struct utm_oid k;
		double units, size, used;
		if (t->oid.len != col.len + 1 || !utm_oid_under(&t->oid, &col) ||
		    t->type != UTM_V_OID || t->oval.len != type->len ||
		    memcmp(t->oval.arc, type->arc, type->len * sizeof type->arc[0]))
			continue;
		k = t->oid;
		k.arc[col.len - 1] = 4;
		if (!vb_number(utm_values_get(vs, &k), &units))
			units = 1;
		k.arc[col.len - 1] = 5;
		if (!vb_number(utm_values_get(vs, &k), &size) || size <= 0)
			continue;
		k.arc[col.len - 1] = 6;
		if (!vb_number(utm_values_get(vs, &k), &used))
			continue;
		(void)units; /* cancels out in the ratio */
		*out = 100.0 * used / size;
		return 1;
	}
	return 0;
}

static int metric_value(const struct utm_values *vs, const struct utm_metric *m, double *out)
{
	double a, b;
	switch (m->method) {
	case UTM_M_GET: return vb_number(utm_values_get(vs, &m->a), out);
	case UTM_M_PERCENT:
		if (!vb_number(utm_values_get(vs, &m->a), &a) ||
		    !vb_number(utm_values_get(vs, &m->b), &b) || b <= 0)
			return 0;
		*out = 100.0 * a / b;
		return 1;
	case UTM_M_STORAGE: return storage_percent(vs, &m->a, out);
	default: return column_fold(vs, m, out);
	}
}

static void judge_uptime(const struct utm_judge_in *in, struct utm_judge_out *o)
{
	struct utm_oid oid;
	const struct utm_vb *vb;
	utm_oid_parse("1.3.6.1.2.1.1.3.0", &oid);
	vb = utm_values_get(in->values, &oid);
	o->uptime = -1;
	if (!vb || vb->type != UTM_V_NUM) {
		add_problem(o, MAMORI_UNKNOWN, "no sysUpTime in the SNMP answer");
		return;
	}
	o->uptime = vb->num / 100.0;
	add_perf(o, "uptime", floor(o->uptime), "s");
	if (in->prev_uptime >= 0 && o->uptime < in->prev_uptime) {
		double expect = in->prev_uptime + (in->now - in->prev_check);
		/* TimeTicks wrap after 497 days: not a reboot */
		if (expect >= TICKS_WRAP && fabs(expect - TICKS_WRAP - o->uptime) < 600)
			return;
	} else if (!(in->reboot_window > 0 && o->uptime < in->reboot_window)) {
		return;
	}
	{
		char when[64];
		time_t t = (time_t)(in->now - o->uptime);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
		add_problem(o, MAMORI_WARNING, "rebooted at %s", when);
	}
}

/* Row index of interface `name` (ifName first, then ifDescr); 0 if none. */
static uint32_t iface_index(const struct utm_values *vs, const char *name)
{
	static const char *cols[] = { "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2" };
	for (size_t c = 0; c < 2; c++) {
		struct utm_oid col;
		utm_oid_parse(cols[c], &col);
		for (size_t i = 0; i < vs->n; i++)
			if (vs->v[i].oid.len == col.len + 1 && utm_oid_under(&vs->v[i].oid, &col) &&
			    vs->v[i].type == UTM_V_STR && strcmp(vs->v[i].str, name) == 0)
				return vs->v[i].oid.arc[col.len];
	}
	return 0;
}

static void judge_ifaces(const struct utm_judge_in *in, struct utm_judge_out *o)
{
	for (size_t i = 0; i < in->n_ifaces; i++) {
		const char *spec = in->ifaces[i], *eq = strchr(spec, '='),
		           *name = eq ? eq + 1 : spec;
		char label[64];
		uint32_t idx = iface_index(in->values, name);
		struct utm_oid st;
		double v = 0;
		snprintf(label, sizeof label, "%.*s", eq ? (int)(eq - spec) : (int)strlen(spec),
		         spec);
		if (!idx) {
			add_problem(o, MAMORI_CRITICAL, "%s down (interface %s not found)", label,
			            name);
			continue;
		}
		utm_oid_parse("1.3.6.1.2.1.2.2.1.8", &st);
		st.arc[st.len++] = idx;
		if (!vb_number(utm_values_get(in->values, &st), &v))
			add_problem(o, MAMORI_UNKNOWN, "%s: no ifOperStatus", label);
		else if (v == 1)
			add_note(o, "interface %s (%s, ifIndex %u) up", label, name, idx);
		else if (v == 5)
			add_problem(o, MAMORI_WARNING, "%s dormant", label);
		else
			add_problem(o, MAMORI_CRITICAL, "%s down", label);
	}
}

static void judge_metric(const struct utm_judge_in *in, struct utm_judge_out *o, const char *key,
                         const struct utm_thresholds *th, const char *uom)
{
	const struct utm_metric *m = utm_profile_find(in->profile, key);
	struct mamori_perfdata *p;
	double v;
	int st;
	if (!m)
		return;
	if (!metric_value(in->values, m, &v)) {
		if (th->warn.set || th->crit.set)
			add_problem(o, MAMORI_UNKNOWN, "%s: no value from the agent", key);
		else
			add_note(o, "%s: no value from the agent", key);
		return;
	}
	if ((p = add_perf(o, key, v, uom))) {
		p->warn = th->warn;
		p->crit = th->crit;
		if (*uom == '%') {
			p->min = 0;
			p->max = 100;
			p->flags = MAMORI_PERF_HAS_MIN | MAMORI_PERF_HAS_MAX;
		}
	}
	st = in->range_state ? in->range_state(&th->warn, &th->crit, v) : MAMORI_OK;
	if (st != MAMORI_OK)
		add_problem(o, st, "%s %.0f%s (%s)", key, v, uom,
		            st == MAMORI_CRITICAL ? "critical" : "warning");
	else
		add_note(o, "%s %.1f%s", key, v, uom);
}

void utm_judge(const struct utm_judge_in *in, struct utm_judge_out *o)
{
	memset(o, 0, sizeof *o);
	o->state = MAMORI_OK;
	judge_uptime(in, o);
	judge_ifaces(in, o);
	judge_metric(in, o, "cpu", &in->cpu, "%");
	judge_metric(in, o, "memory", &in->memory, "%");
	judge_metric(in, o, "sessions", &in->sessions,
	             utm_profile_find(in->profile, "sessions") &&
	                     utm_profile_find(in->profile, "sessions")->method == UTM_M_PERCENT
	                 ? "%"
	                 : "");
	for (size_t i = 0; i < in->profile->n; i++) {
		const struct utm_metric *m = &in->profile->m[i];
		double v;
		if (strncmp(m->key, "perf.", 5) == 0 && metric_value(in->values, m, &v))
			add_perf(o, m->key + 5, v, m->uom);
	}
	if (o->state == MAMORI_OK && o->uptime >= 0) {
		long long up = (long long)o->uptime;
		snprintf(o->output, sizeof o->output, "up %lldd %lldh %lldm", up / 86400,
		         up % 86400 / 3600, up % 3600 / 60);
	}
}
