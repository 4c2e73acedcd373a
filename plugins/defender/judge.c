/*
 * defender judge: report bytes + policy -> verdict.  See judge.h.
 *
 * Two passes over the parsed report: `read_report` validates every known
 * field into a plain struct (any doubt rejects the report: it must never
 * change state), then `judge_report` turns the struct into problems, each
 * with a state and a few plain words, sorted worst first into the output.
 */
#include "judge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reject_names[DEF_R__COUNT] = {
	[DEF_ACCEPTED] = "accepted", [DEF_R_JSON] = "json", [DEF_R_NOT_OBJECT] = "not_object",
	[DEF_R_SCHEMA] = "schema",   [DEF_R_TYPE] = "type", [DEF_R_RANGE] = "range",
	[DEF_R_MISSING] = "missing", [DEF_R_DATE] = "date",
};

const char *defender_reject_name(enum defender_reject r)
{
	return (unsigned)r < DEF_R__COUNT ? reject_names[r] : "unknown";
}

void defender_policy_default(struct defender_policy *p)
{
	*p = (struct defender_policy){
		.sig_warn_days = 3,
		.sig_crit_days = 7,
		.quick_warn_days = 7,
		.quick_crit_days = 14,
		.never_scanned_state = MAMORI_WARNING,
		.tamper_state = MAMORI_WARNING,
		.passive_state = MAMORI_WARNING,
		.pending_state = MAMORI_WARNING,
		.offline_state = MAMORI_OK,
		.offline_business_state = MAMORI_WARNING,
		.max_size = JSONW_DEFAULT_MAX_SIZE,
	};
}

int defender_state_parse(const char *s)
{
	static const char *const names[] = { "ok", "warning", "critical", "unknown" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, long *out)
{
	long v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_rfc3339(const char *s, double *out)
{
	long y, mo, d, h, mi, se, oh = 0, om = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
	    s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &se))
		return -1;
	/* February 29 only in leap years (it once read 2025-02-29 as March 1) */
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
	    h > 23 || mi > 59 || se > 60)
		return -1;
	const char *p = s + 19;
	double frac = 0;
	if (*p == '.') {
		double scale = 0.1;
		if (p[1] < '0' || p[1] > '9')
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	int sign = 0;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
		p += 6;
	} else
		return -1;
	if (*p)
		return -1;
	double t = (double)days_from_civil(y, mo, d) * 86400.0 + (double)(h * 3600 + mi * 60 + se);
	*out = t + frac - sign * (double)(oh * 3600 + om * 60);
	return 0;
}

/* Windows PowerShell 5.1 ConvertTo-Json: "\/Date(1795632070000)\/" (the
 * JSON escapes are gone by now), optionally with a "+0900" suffix that
 * does not change the instant. */
static int parse_msdate(const char *s, double *out)
{
	if (strncmp(s, "/Date(", 6))
		return -1;
	const char *p = s + 6;
	int neg = 0;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	double ms = 0;
	int n = 0;
	for (; *p >= '0' && *p <= '9' && n < 16; p++, n++)
		ms = ms * 10 + (*p - '0');
	if (!n || (*p >= '0' && *p <= '9'))
		return -1;
	if (*p == '+' || *p == '-') {
		long tz;
		if (digits(p + 1, 4, &tz))
			return -1;
		p += 5;
	}
	if (strcmp(p, ")/"))
		return -1;
	*out = (neg ? -ms : ms) / 1000.0;
	return 0;
}

int defender_parse_date(const char *s, double *out)
{
	return s[0] == '/' ? parse_msdate(s, out) : parse_rfc3339(s, out);
}

/* ---- reading the report ---- */

/* Tri-state booleans: -1 absent. */
struct report {
	int am_service, antivirus, antispyware, realtime, behavior, ioav, onaccess, nis;
	int tamper, sig_out_of_date;
	double sig_age, quick_age, full_age, computer_state;
	int has_quick, has_full, has_state;
	const char *running_mode; /* NULL if absent */
	const char *computer_name;
	double sig_updated, ts;
	int has_sig_updated, has_ts;
};

static int reject(struct defender_verdict *v, enum defender_reject r, const char *fmt,
                  const char *field)
{
	v->reject = r;
	snprintf(v->reason, sizeof(v->reason), fmt, field);
	return -1;
}

static int read_bool(const cJSON *o, const char *k, int required, int *out,
                     struct defender_verdict *v)
{
	int rc = jsonw_get_bool(o, k, out);
	*out = rc == 1 ? *out : -1;
	if (rc < 0)
		return reject(v, DEF_R_TYPE, "%s is not true/false", k);
	if (rc == 0 && required)
		return reject(v, DEF_R_MISSING, "%s missing", k);
	return 0;
}

/* UInt32 field.  A number of another kind (negative, fraction, too big,
 * inf) is out of range; a string or null is a wrong type. */
static int read_u32(const cJSON *o, const char *k, int required, double *out, int *has,
                    struct defender_verdict *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	*has = 0;
	if (!it)
		return required ? reject(v, DEF_R_MISSING, "%s missing", k) : 0;
	if (!cJSON_IsNumber(it))
		return reject(v, DEF_R_TYPE, "%s is not a number", k);
	if (jsonw_get_uint(o, k, DEFENDER_NEVER, out) != 1)
		return reject(v, DEF_R_RANGE, "%s out of range", k);
	*has = 1;
	return 0;
}

static int read_str(const cJSON *o, const char *k, const char **out, struct defender_verdict *v)
{
	*out = NULL;
	if (jsonw_get_string(o, k, out) < 0)
		return reject(v, DEF_R_TYPE, "%s is not a string", k);
	return 0;
}

static int read_date(const cJSON *o, const char *k, double *out, int *has,
                     struct defender_verdict *v)
{
	const char *s = NULL;
	*has = 0;
	if (read_str(o, k, &s, v))
		return -1;
	if (!s)
		return 0;
	if (defender_parse_date(s, out))
		return reject(v, DEF_R_DATE, "%s is not a date", k);
	*has = 1;
	return 0;
}

/* The fields read_report looks at.  One pass over the object's members
 * files each under its key (cJSON's own lookup is a linear strcmp scan:
 * ~20 lookups x ~35 members was the judge's largest cost at 50,000
 * reports/s); a lookup then goes through a one-member "view" whose child
 * is the member itself, so the jsonw_get_* helpers keep their checks.
 * Duplicate keys never get here (jsonw_parse rejects them). */
enum fkey {
	K_SCHEMA,
	K_SIG_AGE,
	K_QUICK,
	K_FULL,
	K_CSTATE,
	K_AS_AGE,
	K_NIS_AGE,
	K_AMSERVICE,
	K_AV,
	K_RTP,
	K_AS,
	K_BEHAVIOR,
	K_IOAV,
	K_ONACCESS,
	K_NIS,
	K_TAMPER,
	K_OUTOFDATE,
	K_MODE,
	K_NAME,
	K_TS,
	K_SIG_UPDATED,
	K__COUNT
};
#define FKEY(id, text) [id] = { text, sizeof(text) - 1 }
static const struct {
	const char *text;
	size_t len;
} fkeys[K__COUNT] = {
	FKEY(K_SCHEMA, "schema"),
	FKEY(K_SIG_AGE, "AntivirusSignatureAge"),
	FKEY(K_QUICK, "QuickScanAge"),
	FKEY(K_FULL, "FullScanAge"),
	FKEY(K_CSTATE, "ComputerState"),
	FKEY(K_AS_AGE, "AntispywareSignatureAge"),
	FKEY(K_NIS_AGE, "NISSignatureAge"),
	FKEY(K_AMSERVICE, "AMServiceEnabled"),
	FKEY(K_AV, "AntivirusEnabled"),
	FKEY(K_RTP, "RealTimeProtectionEnabled"),
	FKEY(K_AS, "AntispywareEnabled"),
	FKEY(K_BEHAVIOR, "BehaviorMonitorEnabled"),
	FKEY(K_IOAV, "IoavProtectionEnabled"),
	FKEY(K_ONACCESS, "OnAccessProtectionEnabled"),
	FKEY(K_NIS, "NISEnabled"),
	FKEY(K_TAMPER, "IsTamperProtected"),
	FKEY(K_OUTOFDATE, "DefenderSignaturesOutOfDate"),
	FKEY(K_MODE, "AMRunningMode"),
	FKEY(K_NAME, "ComputerName"),
	FKEY(K_TS, "ts"),
	FKEY(K_SIG_UPDATED, "AntivirusSignatureLastUpdated"),
};
#undef FKEY

struct findex {
	const cJSON *item[K__COUNT];
	cJSON view;
};

static void findex_build(struct findex *fx, const cJSON *o)
{
	memset(fx, 0, sizeof(*fx));
	for (const cJSON *c = o->child; c; c = c->next) {
		if (!c->string)
			continue;
		size_t l = strlen(c->string);
		for (int k = 0; k < K__COUNT; k++)
			if (fkeys[k].len == l && !memcmp(c->string, fkeys[k].text, l)) {
				fx->item[k] = c;
				break;
			}
	}
}

/* An object holding just member k (or nothing): arguments (obj, key). */
static const cJSON *fview(struct findex *fx, enum fkey k)
{
	fx->view.type = cJSON_Object;
	fx->view.child = (cJSON *)fx->item[k];
	return &fx->view;
}
#define F(k) fview(&fx, k), fkeys[k].text

static int read_report(const cJSON *o, struct report *r, struct defender_verdict *v)
{
	const char *schema = NULL;
	int dummy;
	struct findex fx;

	findex_build(&fx, o);
	if (read_str(F(K_SCHEMA), &schema, v))
		return -1;
	if (!schema || strcmp(schema, DEFENDER_SCHEMA))
		return reject(v, DEF_R_SCHEMA, "schema is not %s", DEFENDER_SCHEMA);
	/* numbers first: a report with impossible ages is out of range
	 * whatever else is wrong with it */
	if (read_u32(F(K_SIG_AGE), 1, &r->sig_age, &dummy, v) ||
	    read_u32(F(K_QUICK), 0, &r->quick_age, &r->has_quick, v) ||
	    read_u32(F(K_FULL), 0, &r->full_age, &r->has_full, v) ||
	    read_u32(F(K_CSTATE), 0, &r->computer_state, &r->has_state, v))
		return -1;
	/* the other UInt32 ages must be sane too, even if not judged */
	double tmp;
	if (read_u32(F(K_AS_AGE), 0, &tmp, &dummy, v) || read_u32(F(K_NIS_AGE), 0, &tmp, &dummy, v))
		return -1;
	if (read_bool(F(K_AMSERVICE), 1, &r->am_service, v) ||
	    read_bool(F(K_AV), 1, &r->antivirus, v) || read_bool(F(K_RTP), 1, &r->realtime, v) ||
	    read_bool(F(K_AS), 0, &r->antispyware, v) ||
	    read_bool(F(K_BEHAVIOR), 0, &r->behavior, v) || read_bool(F(K_IOAV), 0, &r->ioav, v) ||
	    read_bool(F(K_ONACCESS), 0, &r->onaccess, v) || read_bool(F(K_NIS), 0, &r->nis, v) ||
	    read_bool(F(K_TAMPER), 0, &r->tamper, v) ||
	    read_bool(F(K_OUTOFDATE), 0, &r->sig_out_of_date, v))
		return -1;
	if (read_str(F(K_MODE), &r->running_mode, v) || read_str(F(K_NAME), &r->computer_name, v) ||
	    read_date(F(K_TS), &r->ts, &r->has_ts, v) ||
	    read_date(F(K_SIG_UPDATED), &r->sig_updated, &r->has_sig_updated, v))
		return -1;
	return 0;
}
#undef F

/* ---- judging ---- */

#define MAX_PROBLEMS 12

struct problems {
	int state[MAX_PROBLEMS];
	char text[MAX_PROBLEMS][96];
	size_t n;
};

static void add(struct problems *ps, int state, const char *fmt, double a)
{
	if (ps->n == MAX_PROBLEMS)
		return;
	ps->state[ps->n] = state;
	snprintf(ps->text[ps->n], sizeof(ps->text[0]), fmt, a);
	ps->n++;
}

/* WARNING/CRITICAL for an age in days against ">= warn" / ">= crit"
 * thresholds (0 = that threshold is off). */
static int age_state(double age, double warn, double crit)
{
	if (crit > 0 && age >= crit)
		return MAMORI_CRITICAL;
	if (warn > 0 && age >= warn)
		return MAMORI_WARNING;
	return MAMORI_OK;
}

static const char *plural(double n)
{
	return n == 1 ? "" : "s";
}

static void judge_signatures(const struct report *r, const struct defender_policy *p,
                             struct problems *ps)
{
	char fmt[64];
	if (r->sig_age == DEFENDER_NEVER) {
		add(ps, MAMORI_CRITICAL, "signatures never updated", 0);
		return;
	}
	int st = age_state(r->sig_age, p->sig_warn_days, p->sig_crit_days);
	snprintf(fmt, sizeof(fmt), "signatures %%.0f day%s old", plural(r->sig_age));
	if (st != MAMORI_OK)
		add(ps, st, fmt, r->sig_age);
	else if (r->sig_out_of_date == 1)
		add(ps, MAMORI_WARNING, "Defender reports signatures out of date", 0);
}

static void judge_scans(const struct report *r, const struct defender_policy *p,
                        struct problems *ps)
{
	if (r->has_quick && r->quick_age == DEFENDER_NEVER)
		add(ps, p->never_scanned_state, "no quick scan ever", 0);
	else if (r->has_quick) {
		int st = age_state(r->quick_age, p->quick_warn_days, p->quick_crit_days);
		if (st != MAMORI_OK)
			add(ps, st, "last quick scan %.0f days ago", r->quick_age);
	}
	if (r->has_full && (p->full_warn_days > 0 || p->full_crit_days > 0)) {
		int st = r->full_age == DEFENDER_NEVER
		             ? (p->full_crit_days > 0 ? MAMORI_CRITICAL : MAMORI_WARNING)
		             : age_state(r->full_age, p->full_warn_days, p->full_crit_days);
		if (st != MAMORI_OK && r->full_age == DEFENDER_NEVER)
			add(ps, st, "no full scan ever", 0);
		else if (st != MAMORI_OK)
			add(ps, st, "last full scan %.0f days ago", r->full_age);
	}
}

/* ComputerState bits as Microsoft documents them (MSFT_MpComputerStatus). */
static void judge_computer_state(const struct report *r, const struct defender_policy *p,
                                 struct problems *ps)
{
	static const struct {
		unsigned bit;
		const char *words;
	} bits[] = {
		{ 0x1, "full scan required" },    { 0x2, "reboot pending" },
		{ 0x4, "manual steps required" }, { 0x8, "offline scan required" },
		{ 0x10, "critical failure" },
	};
	if (!r->has_state)
		return;
	unsigned cs = (unsigned)r->computer_state;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (cs & bits[i].bit)
			add(ps, bits[i].bit == 0x10 ? MAMORI_CRITICAL : p->pending_state,
			    bits[i].words, 0);
	if (cs & ~0x1Fu)
		add(ps, MAMORI_WARNING, "unknown computer state bits %.0f", (double)(cs & ~0x1Fu));
}

static int is_passive(const char *mode)
{
	/* "Passive Mode", "SxS Passive Mode", "EDR Block Mode" (passive + EDR) */
	return mode && (strstr(mode, "Passive") || strstr(mode, "EDR Block"));
}

static void judge_protection(const struct report *r, const struct defender_policy *p,
                             struct problems *ps, char *note, size_t note_size)
{
	int stopped =
	    r->am_service == 0 || (r->running_mode && !strcmp(r->running_mode, "Not running"));
	if (stopped) {
		/* everything else is off as a consequence; say the cause only */
		add(ps, MAMORI_CRITICAL, "antimalware service not running", 0);
		return;
	}
	if (is_passive(r->running_mode)) {
		/* another antivirus is active: real-time protection is its job */
		if (p->passive_ok)
			snprintf(note, note_size, "passive mode (other antivirus in use)");
		else
			add(ps, p->passive_state, "Defender in passive mode (another antivirus?)",
			    0);
		return;
	}
	if (r->antivirus == 0)
		add(ps, MAMORI_CRITICAL, "antivirus disabled", 0);
	if (r->realtime == 0) {
		add(ps, MAMORI_CRITICAL, "real-time protection off", 0);
	} else {
		if (r->behavior == 0)
			add(ps, MAMORI_WARNING, "behavior monitoring off", 0);
		if (r->onaccess == 0)
			add(ps, MAMORI_WARNING, "on-access protection off", 0);
		if (r->ioav == 0)
			add(ps, MAMORI_WARNING, "download scanning off", 0);
	}
	if (r->antispyware == 0 && r->antivirus != 0)
		add(ps, MAMORI_WARNING, "antispyware disabled", 0);
}

static int severity_rank(int st)
{
	/* CRITICAL > UNKNOWN > WARNING > OK for ordering and the overall state */
	static const int rank[] = { 0, 1, 3, 2 };
	return st >= 0 && st <= 3 ? rank[st] : 2;
}

static void set_age_perf(struct mamori_perfdata *pd, const char *label, double age, double warn,
                         double crit)
{
	memset(pd, 0, sizeof(*pd));
	pd->label = label;
	pd->uom = "";
	pd->min = 0;
	pd->flags = MAMORI_PERF_HAS_MIN;
	if (age == DEFENDER_NEVER)
		pd->flags |= MAMORI_PERF_VALUE_UNKNOWN;
	else
		pd->value = age;
	/* ">= N alerts" is the Monitoring Plugins range "@N:" (inside N..inf) */
	if (warn > 0)
		pd->warn =
		    (struct mamori_range){ .start = warn, .set = 1, .end_inf = 1, .inside = 1 };
	if (crit > 0)
		pd->crit =
		    (struct mamori_range){ .start = crit, .set = 1, .end_inf = 1, .inside = 1 };
}

static void write_output(const struct report *r, const struct problems *ps, const char *note,
                         struct defender_verdict *v)
{
	size_t off = 0;
	int worst = MAMORI_OK;
	for (size_t i = 0; i < ps->n; i++)
		if (severity_rank(ps->state[i]) > severity_rank(worst))
			worst = ps->state[i];
	v->state = worst;
	v->output[0] = '\0';
	/* worst first, in rank order; OK-level problems are notes at the end */
	for (int rank = 3; rank >= 0; rank--)
		for (size_t i = 0; i < ps->n; i++)
			if (severity_rank(ps->state[i]) == rank && off < sizeof(v->output))
				off += (size_t)snprintf(v->output + off, sizeof(v->output) - off,
				                        "%s%s", off ? "; " : "", ps->text[i]);
	if (worst == MAMORI_OK && off == 0) {
		char scan[48] = "";
		if (r->has_quick && r->quick_age != DEFENDER_NEVER)
			snprintf(scan, sizeof(scan), ", quick scan %.0f day%s ago", r->quick_age,
			         plural(r->quick_age));
		snprintf(v->output, sizeof(v->output),
		         "Defender OK: %s, signatures %.0f day%s old%s",
		         note[0] ? note : "real-time protection on", r->sig_age, plural(r->sig_age),
		         scan);
	} else if (note[0] && off < sizeof(v->output)) {
		snprintf(v->output + off, sizeof(v->output) - off, "; %s", note);
	}
}

int defender_judge(const void *payload, size_t len, const struct defender_policy *p,
                   struct defender_verdict *v)
{
	struct jsonw_limits lim = { .max_size = p->max_size };
	struct jsonw_error je;
	struct report r;
	struct problems ps;
	char note[64] = "";
	cJSON *root = NULL;
	int rc = -1;

	memset(v, 0, sizeof(*v));
	memset(&r, 0, sizeof(r));
	ps.n = 0;
	root = jsonw_parse(payload, len, &lim, &je);
	if (!root) {
		v->json_err = je.code;
		snprintf(v->reason, sizeof(v->reason), "%s at byte %zu", jsonw_strerror(je.code),
		         je.offset);
		v->reject = DEF_R_JSON;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		reject(v, DEF_R_NOT_OBJECT, "%s", "not a JSON object");
		goto out;
	}
	if (read_report(root, &r, v))
		goto out;
	if (r.computer_name)
		snprintf(v->computer_name, sizeof(v->computer_name), "%s", r.computer_name);
	judge_protection(&r, p, &ps, note, sizeof(note));
	judge_signatures(&r, p, &ps);
	judge_scans(&r, p, &ps);
	judge_computer_state(&r, p, &ps);
	if (r.tamper == 0)
		add(&ps, p->tamper_state, "tamper protection off", 0);
	write_output(&r, &ps, note, v);
	snprintf(v->long_output, sizeof(v->long_output), "engine mode %s; computer state %.0f",
	         r.running_mode ? r.running_mode : "?", r.has_state ? r.computer_state : 0);
	set_age_perf(&v->perf[0], "signature_age_days", r.sig_age, p->sig_warn_days,
	             p->sig_crit_days);
	v->n_perf = 1;
	if (r.has_quick)
		set_age_perf(&v->perf[v->n_perf++], "quick_scan_age_days", r.quick_age,
		             p->quick_warn_days, p->quick_crit_days);
	if (r.has_full)
		set_age_perf(&v->perf[v->n_perf++], "full_scan_age_days", r.full_age,
		             p->full_warn_days, p->full_crit_days);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}
