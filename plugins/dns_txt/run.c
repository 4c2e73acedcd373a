/*
 * dns_txt: one run of a check.
 *
 * A run issues its first query (the record, _dmarc.<domain> or the DKIM
 * selector); for SPF every include/redirect target adds a query while the
 * lookup count allows.  The run completes when no query is pending and no
 * handler is on the stack (`busy`: c-ares may answer synchronously from
 * inside ares_query, so completion is deferred to the outermost frame).
 * Completion happens exactly once (`done`), then the run is freed.
 * dns_txt__run_cancel detaches the run's queries and frees it: their late
 * answers never reach this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_txt.h"

enum { TAG_TOP, TAG_FOLLOW, TAG_FOLLOW_CHAIN };

struct dt_run {
	struct dt_check *c;
	struct mamori_run *run;
	struct dt_qlist ql;
	struct timespec t0;
	int busy;
	int done;
	int top_st;           /* dt_status of the first query */
	struct dt_txtset top; /* its records */
	struct dt_spf spf;
	struct dt_verdict v;
};

static void on_query(struct dt_query *q, int st, const struct dt_txtset *set, void *ud);
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
	return dns_txt__query(r->c->chan, domain, &r->ql, on_query, r,
	                      chain ? TAG_FOLLOW_CHAIN : TAG_FOLLOW);
}

/* An SPF record set at `name`: exactly one SPF record must be there. */
static void spf_record(struct dt_run *r, const char *name, const struct dt_txtset *set, int chain,
                       int top)
{
	const struct dt_txt *rec = NULL;
	size_t n = 0;
	char err[256];

	for (size_t i = 0; i < set->n; i++)
		if (dns_txt__is_spf(&set->v[i]) && n++ == 0)
			rec = &set->v[i];
	if (n != 1) {
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "%s%s: %s SPF record%s",
		               top ? "" : "included ", name, n ? "more than one" : "no",
		               n ? "s (permerror)" : "");
		return;
	}
	if (dns_txt__spf_eval(&r->spf, rec->data, rec->len, chain, spf_follow, r, err, sizeof(err)))
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "SPF %s%s: %s", top ? "" : "included from ",
		               name, err);
}

static void on_query(struct dt_query *q, int st, const struct dt_txtset *set, void *ud)
{
	struct dt_run *r = ud;
	long tag = dns_txt__query_tag(q);
	const char *name = dns_txt__query_name(q);

	if (st == DT_ST_CANCELLED) /* instance going away: nobody to tell */
		return;
	r->busy++;
	if (tag == TAG_TOP) {
		r->top_st = st;
		if (st == DT_ST_OK && dns_txt__set_copy(&r->top, set) != 0)
			r->top_st = DT_ST_ERROR;
		if (r->c->kind == DT_SPF && r->top_st == DT_ST_OK)
			spf_record(r, name, &r->top, 1, 1);
	} else if (st == DT_ST_OK || st == DT_ST_NODATA || st == DT_ST_NXDOMAIN) {
		spf_record(r, name, set, tag == TAG_FOLLOW_CHAIN, 0);
	} else {
		raise_status(r, "SPF include ", name, st);
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
	struct dt_spf *s = &r->spf;
	const char *via = s->redirected ? " (via redirect)" : "";

	if (s->lookups > DT_SPF_MAX_LOOKUPS)
		dns_txt__raise(&r->v, MAMORI_CRITICAL,
		               "SPF needs %s%d DNS lookups, the limit is %d (permerror)",
		               s->not_followed ? "at least " : "", s->lookups, DT_SPF_MAX_LOOKUPS);
	if (r->v.state != MAMORI_OK)
		return; /* the record is broken; its `all` means nothing */
	if (s->final_all == '+')
		dns_txt__raise(&r->v, MAMORI_CRITICAL, "SPF ends in +all%s: anyone may send", via);
	else if (s->final_all == '?')
		dns_txt__raise(&r->v, MAMORI_WARNING, "SPF ends in ?all%s: neutral, no protection",
		               via);
	else if (!s->final_all)
		dns_txt__raise(&r->v, MAMORI_WARNING, "SPF has no all%s: neutral by default", via);
	else
		dns_txt__raise(&r->v, MAMORI_OK, "SPF valid, %d DNS lookup%s, ends in %call%s",
		               s->lookups, s->lookups == 1 ? "" : "s", s->final_all, via);
	if (s->not_followed)
		dns_txt__note(&r->v, "%d include/redirect target(s) with macros not checked",
		              s->not_followed);
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

	if (r->top_st != DT_ST_OK) {
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
	if (!r->done && !r->busy && r->ql.pending == 0)
		finish(r);
}

int dns_txt__run_start(struct dt_check *c, struct mamori_run *run, struct dt_run **out)
{
	struct dt_run *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return MAMORI_E_NOMEM;
	r->c = c;
	r->run = run;
	dns_txt__verdict_init(&r->v);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	*out = r;
	r->busy = 1;
	rc = dns_txt__query(c->chan, c->qname, &r->ql, on_query, r, TAG_TOP);
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
