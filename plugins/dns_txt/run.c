/*
 * dns_txt: one run of a check.
 *
 * A run issues its first query (the record, _dmarc.<domain> or the DKIM
 * selector); for SPF every include/redirect target adds a TXT query while
 * the lookup count allows, and every a/mx/exists target written without
 * macros adds its A/AAAA or MX query (void lookups and the MX limit of RFC
 * 7208 4.6.4).  The run completes when no query is pending and no handler
 * is on the stack (`busy`: c-ares may answer synchronously from inside
 * ares_query, so completion is deferred to the outermost frame), or, for
 * SPF, when its deadline (just inside the check's timeout) passes: what
 * has not answered by then is reported as not judged, so the run ends
 * with a verdict instead of being cancelled by the core.  Completion
 * happens exactly once (`done`), then the run is freed.
 * dns_txt__run_cancel detaches the run's queries and frees it: their late
 * answers never reach this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_txt.h"

/* Query tags: the first query, a followed SPF record, or the resolution
 * of spf.tgt[i] (TAG_RES + i * 8 + its dt_spf_q bit). */
enum { TAG_TOP, TAG_FOLLOW, TAG_FOLLOW_CHAIN, TAG_RES = 16 };

struct dt_run {
	struct dt_check *c;
	struct mamori_run *run;
	struct dt_qlist ql;
	struct timespec t0;
	int busy;
	int done;
	int top_st;                    /* dt_status of the first query */
	struct dt_txtset top;          /* its records */
	struct mamori_timer *deadline; /* SPF: ends the run inside the check's timeout */
	int expired;
	struct dt_spf spf;
	struct dt_verdict v;
};

static void on_query(struct dt_query *q, const struct dt_answer *a, void *ud);
static void maybe_finish(struct dt_run *r);

static const char *state_word(int st)
{
	static const char *const w[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

	return st >= 0 && st <= 3 ? w[st] : "UNKNOWN";
}

/* Temporary failures say nothing about the zone: UNKNOWN.  The server's
 * own failure (SERVFAIL: a broken or bogus zone) is CRITICAL. */
static int status_state(int st)
{
	switch (st) {
	case DT_ST_OK: return MAMORI_OK;
	case DT_ST_NXDOMAIN:
	case DT_ST_NODATA:
	case DT_ST_SERVFAIL: return MAMORI_CRITICAL;
	default: return MAMORI_UNKNOWN;
	}
}

static void raise_status(struct dt_run *r, const char *what, const char *name, int st)
{
	const char *srv = r->c->server;
	int temp = status_state(st) == MAMORI_UNKNOWN;

	dns_txt__raise(&r->v, status_state(st), "%s%s: %s%s%s", what, name,
	               dns_txt__status_text(st), temp && srv ? " at " : "", temp && srv ? srv : "");
}

static int spf_follow(void *ud, const char *domain, int chain)
{
	struct dt_run *r = ud;

	if (chain)
		r->spf.redirected = 1;
	return dns_txt__query(r->c->chan, domain, DT_TYPE_TXT, &r->ql, on_query, r,
	                      chain ? TAG_FOLLOW_CHAIN : TAG_FOLLOW);
}

static int spf_resolve(void *ud, int i)
{
	static const struct {
		int q, type;
	} qs[] = { { DT_Q_A, DT_TYPE_A }, { DT_Q_AAAA, DT_TYPE_AAAA }, { DT_Q_MX, DT_TYPE_MX } };
	struct dt_run *r = ud;
	const struct dt_spf_tgt *g = &r->spf.tgt[i];

	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		int rc;

		if (!(g->want & qs[k].q))
			continue;
		rc = dns_txt__query(r->c->chan, g->domain, qs[k].type, &r->ql, on_query, r,
		                    TAG_RES + i * 8 + qs[k].q);
		if (rc)
			return rc;
	}
	return 0;
}

/* An SPF record set at `name`: exactly one SPF record must be there. */
static void spf_record(struct dt_run *r, const char *name, const struct dt_txtset *set, int chain,
                       int top)
{
	const struct dt_spf_cb cb = { spf_follow, spf_resolve, r };
	const struct dt_txt *rec = NULL;
	size_t n = 0, size;
	char err[512];

	for (size_t i = 0; i < set->n; i++)
		if (dns_txt__is_spf(&set->v[i]) && n++ == 0)
			rec = &set->v[i];
	if (n != 1) {
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "%s%s: %s SPF record%s",
		               top     ? ""
		               : chain ? "redirect target "
		                       : "included ",
		               name, n ? "more than one" : "no",
		               n ? "s (permerror)" : " (permerror)");
		return;
	}
	/* RFC 7208 3.4: keep the answer small enough for UDP.  Larger works
	 * (receivers retry over TCP), so this is a warning with the size. */
	size = dns_txt__answer_size(name, set);
	if (top && size > 512)
		dns_txt__raise(&r->v, MAMORI_WARNING,
		               "SPF: the TXT answer at %s is at least %zu bytes, over 512 "
		               "(RFC 7208 3.4): receivers must retry over TCP",
		               name, size);
	if (dns_txt__spf_eval(&r->spf, name, rec->data, rec->len,
	                      (chain ? DT_SPF_CHAIN : 0) | (top ? DT_SPF_TOP : 0), &cb, err,
	                      sizeof(err)))
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "SPF %s%s: %s (permerror)",
		               top     ? ""
		               : chain ? "redirect target "
		                       : "included from ",
		               name, err);
}

static void on_query(struct dt_query *q, const struct dt_answer *a, void *ud)
{
	struct dt_run *r = ud;
	long tag = dns_txt__query_tag(q);
	const char *name = dns_txt__query_name(q);
	int st = a->status;

	if (st == DT_ST_CANCELLED) /* instance going away: nobody to tell */
		return;
	r->busy++;
	if (tag >= TAG_RES) {
		dns_txt__spf_answer(&r->spf, (int)((tag - TAG_RES) / 8), (int)((tag - TAG_RES) % 8),
		                    st, a->count, a->nullmx, &r->v);
	} else if (tag == TAG_TOP) {
		r->top_st = st;
		if (st == DT_ST_OK && dns_txt__set_copy(&r->top, a->set) != 0)
			r->top_st = DT_ST_ERROR;
		if (r->c->kind == DT_SPF && r->top_st == DT_ST_OK)
			spf_record(r, name, &r->top, 1, 1);
	} else if (st == DT_ST_OK || st == DT_ST_NODATA || st == DT_ST_NXDOMAIN) {
		spf_record(r, name, a->set, tag == TAG_FOLLOW_CHAIN, 0);
	} else {
		raise_status(r, tag == TAG_FOLLOW_CHAIN ? "SPF redirect " : "SPF include ", name,
		             st);
	}
	r->busy--;
	maybe_finish(r);
}

static int rec_matches(const struct dt_check *c, const struct dt_txt *t)
{
	regmatch_t m;

	switch (c->kind) {
	case DT_EQUALS: return t->len == c->expect_len && memcmp(t->data, c->expect, t->len) == 0;
	case DT_CONTAINS: return memmem(t->data, t->len, c->expect, c->expect_len) != NULL;
	case DT_REGEX:
		/* REG_STARTEND: the record's length bounds the match, so a NUL
		 * byte inside a record neither ends nor hides the text. */
		m.rm_so = 0;
		m.rm_eo = (regoff_t)t->len;
		return regexec(&c->re, t->data, 1, &m, REG_STARTEND) == 0;
	default: return 1;
	}
}

static void judge_match(struct dt_run *r)
{
	const struct dt_check *c = r->c;
	static const char *const verb[] = {
		[DT_EQUALS] = "equals", [DT_CONTAINS] = "contains", [DT_REGEX] = "matches"
	};
	char esc[160];
	size_t hits = 0;

	for (size_t i = 0; i < r->top.n; i++)
		hits += (size_t)rec_matches(c, &r->top.v[i]);
	if (c->kind == DT_EXISTS) {
		dns_txt__raise(&r->v, MAMORI_OK, "%s: %zu TXT record%s", c->qname, r->top.n,
		               r->top.n == 1 ? "" : "s");
		return;
	}
	dns_txt__escape(c->expect, c->expect_len, 80, esc, sizeof(esc));
	if (hits)
		dns_txt__raise(&r->v, MAMORI_OK, "%s: a TXT record %s \"%s\"", c->qname,
		               verb[c->kind], esc);
	else
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "%s: no TXT record %s \"%s\" (%zu record%s)",
		               c->qname, verb[c->kind], esc, r->top.n, r->top.n == 1 ? "" : "s");
}

static void judge_spf(struct dt_run *r)
{
	/* Queries still out at the deadline: TXT ones leave the verdict open
	 * (UNKNOWN); a/mx/exists ones are noted as not judged by the judge. */
	if (r->expired && r->ql.pending) {
		int txt = r->ql.pending;

		for (int i = 0; i < r->spf.ntgt; i++) {
			int left = r->spf.tgt[i].want & ~r->spf.tgt[i].got;

			txt -= (left & 1) + ((left >> 1) & 1) + ((left >> 2) & 1);
		}
		if (txt > 0)
			dns_txt__raise(&r->v, MAMORI_UNKNOWN,
			               "SPF: %d include/redirect record%s not answered within the "
			               "check's timeout",
			               txt, txt == 1 ? "" : "s");
	}
	dns_txt__spf_judge(&r->spf, &r->v);
}

static int keep_spf(const struct dt_txt *t)
{
	return dns_txt__is_spf(t);
}

static int keep_dmarc(const struct dt_txt *t)
{
	return dns_txt__is_dmarc(t);
}

/* Compare the content with the previous run's.  Only answers that say
 * what the zone holds count (records, NXDOMAIN, NODATA); a failed query
 * keeps the old content. */
static void judge_change(struct dt_run *r)
{
	struct dt_check *c = r->c;
	struct dt_txtset cur;
	char diff[1024];

	if (r->top_st != DT_ST_OK && r->top_st != DT_ST_NXDOMAIN && r->top_st != DT_ST_NODATA)
		return;
	if (dns_txt__set_copy(&cur, &r->top) != 0)
		return;
	if (c->kind == DT_SPF)
		dns_txt__set_filter(&cur, keep_spf);
	else if (c->kind == DT_DMARC)
		dns_txt__set_filter(&cur, keep_dmarc);
	dns_txt__set_sort(&cur);
	if (c->has_last && dns_txt__set_diff(&c->last, &cur, diff, sizeof(diff))) {
		if (c->on_change == MAMORI_OK)
			dns_txt__note(&r->v, "TXT changed: %s", diff);
		else
			dns_txt__raise(&r->v, c->on_change, "%s TXT changed: %s", c->qname, diff);
	}
	dns_txt__set_clear(&c->last);
	c->last = cur;
	c->has_last = 1;
}

static void list_records(struct dt_run *r)
{
	char esc[1100];

	for (size_t i = 0; i < r->top.n && i < 20; i++) {
		dns_txt__escape(r->top.v[i].data, r->top.v[i].len, 255, esc, sizeof(esc));
		dns_txt__note(&r->v, "TXT \"%s\"", esc);
	}
	if (r->top.n > 20)
		dns_txt__note(&r->v, "(%zu more records)", r->top.n - 20);
}

static void judge(struct dt_run *r)
{
	const struct dt_check *c = r->c;

	if (r->top_st < 0) { /* the deadline came first */
		dns_txt__raise(&r->v, MAMORI_UNKNOWN,
		               "%s: no answer within the check's timeout%s%s", c->qname,
		               c->server ? " from " : "", c->server ? c->server : "");
	} else if (r->top_st != DT_ST_OK) {
		static const char *const what[] = { [DT_SPF] = "no SPF record, ",
			                            [DT_DMARC] = "no DMARC record, ",
			                            [DT_DKIM] = "no DKIM key, " };
		int authoritative = r->top_st == DT_ST_NXDOMAIN || r->top_st == DT_ST_NODATA;

		raise_status(r, authoritative && c->kind >= DT_SPF ? what[c->kind] : "", c->qname,
		             r->top_st);
	} else if (c->kind == DT_SPF) {
		judge_spf(r);
	} else if (c->kind == DT_DMARC) {
		dns_txt__dmarc_judge(&r->top, c->dmarc_none, &r->v);
	} else if (c->kind == DT_DKIM) {
		dns_txt__dkim_judge(&r->top, &r->v);
	} else {
		judge_match(r);
	}
	judge_change(r);
	list_records(r);
}

static void run_free(struct dt_run *r)
{
	if (r->deadline)
		r->c->in->host->timer_free(r->deadline);
	dns_txt__qlist_detach(&r->ql);
	dns_txt__set_clear(&r->top);
	free(r);
}

static void finish(struct dt_run *r)
{
	const struct mamori_host *h = r->c->in->host;
	struct mamori_perfdata perf[2];
	struct mamori_result res;
	struct timespec t1;
	char out[600];
	size_t np = 1;

	r->done = 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	judge(r);
	memset(perf, 0, sizeof(perf));
	perf[0].label = "time";
	perf[0].uom = "s";
	perf[0].value = (double)(t1.tv_sec - r->t0.tv_sec) + (t1.tv_nsec - r->t0.tv_nsec) / 1e9;
	perf[0].flags = MAMORI_PERF_HAS_MIN;
	if (r->c->kind == DT_SPF && r->top_st == DT_ST_OK) {
		perf[1].label = "lookups";
		perf[1].uom = "";
		perf[1].value = r->spf.lookups;
		perf[1].crit.set = 1;
		perf[1].crit.end = DT_SPF_MAX_LOOKUPS;
		perf[1].flags = MAMORI_PERF_HAS_MIN | MAMORI_PERF_HAS_MAX;
		perf[1].max = DT_SPF_MAX_LOOKUPS;
		np = 2;
	}
	snprintf(out, sizeof(out), "DNS TXT %s - %s", state_word(r->v.state), r->v.out);
	memset(&res, 0, sizeof(res));
	res.struct_size = sizeof(res);
	res.state = r->v.state;
	res.output = out;
	res.long_output = r->v.lng_len ? r->v.lng : NULL;
	res.perf = perf;
	res.n_perf = np;
	h->run_complete(r->run, &res);
	run_free(r);
}

static void maybe_finish(struct dt_run *r)
{
	if (!r->done && !r->busy && (r->ql.pending == 0 || r->expired))
		finish(r);
}

static void on_deadline(struct mamori_timer *t, void *ud)
{
	struct dt_run *r = ud;

	(void)t;
	r->expired = 1;
	maybe_finish(r);
}

/* The SPF walk must end inside the check's timeout: a little before it
 * (a tenth, between 0.1 s and 1 s), or half of a very short one. */
static int arm_deadline(struct dt_run *r)
{
	const struct mamori_host *h = r->c->in->host;
	const struct mamori_check_info *ci = h->check_info(r->c->chk);
	double tmo = ci && ci->timeout > 0 ? ci->timeout : 60, margin = tmo * 0.1;

	if (margin < 0.1)
		margin = 0.1;
	if (margin > 1)
		margin = 1;
	r->deadline = h->timer_new(on_deadline, r);
	if (!r->deadline)
		return MAMORI_E_NOMEM;
	h->timer_start(r->deadline, tmo > 2 * margin ? tmo - margin : tmo / 2, 0);
	return 0;
}

int dns_txt__run_start(struct dt_check *c, struct mamori_run *run, struct dt_run **out)
{
	struct dt_run *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return MAMORI_E_NOMEM;
	r->c = c;
	r->run = run;
	r->top_st = -1; /* not answered yet */
	dns_txt__verdict_init(&r->v);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	*out = r;
	r->busy = 1;
	rc = c->kind == DT_SPF ? arm_deadline(r) : 0;
	if (!rc)
		rc = dns_txt__query(c->chan, c->qname, DT_TYPE_TXT, &r->ql, on_query, r, TAG_TOP);
	r->busy = 0;
	if (rc) {
		run_free(r);
		*out = NULL;
		return rc;
	}
	if (r->ql.pending == 0) { /* answered from inside ares_query */
		*out = NULL;
		finish(r);
	}
	return 0;
}

void dns_txt__run_cancel(struct dt_run *r)
{
	if (r && !r->done)
		run_free(r);
}
