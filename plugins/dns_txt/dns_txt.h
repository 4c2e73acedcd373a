/*
 * dns_txt plugin, internal header shared by its files (never installed).
 *
 * Files:
 *   plugin.c   ABI glue: keys, init/destroy, check_prepare/release.
 *   run.c      one run: its queries, the SPF include walk, the verdict of
 *              each kind, change detection, the result.
 *   resolver.c c-ares channels driven by the host's fd watchers and timers;
 *              one channel per distinct `server` per instance; queries are
 *              tracked per run so a cancelled run is never completed.
 *   txt.c      record sets (strings of one record concatenated, RFC 7208
 *              3.3), comparison for change detection, escaping for output.
 *   spf.c      SPF syntax and DNS-lookup counting (RFC 7208 4.6.4).
 *   policy.c   DMARC and DKIM record evaluation, tag-list parsing.
 *
 * Nothing here blocks: every query goes through c-ares on the host loop.
 */
#ifndef DNS_TXT_H
#define DNS_TXT_H

#include <regex.h>
#include <stddef.h>

#include <mamori/plugin.h>

struct ares_txt_ext;

enum dt_kind {
	DT_EXISTS,
	DT_EQUALS,
	DT_CONTAINS,
	DT_REGEX,
	DT_SPF,
	DT_DMARC,
	DT_DKIM,
};

/* Outcome class of one TXT query, distinguished in the output. */
enum dt_status {
	DT_ST_OK,          /* answer with at least one TXT record */
	DT_ST_NXDOMAIN,    /* the name does not exist */
	DT_ST_NODATA,      /* the name exists, no TXT record */
	DT_ST_SERVFAIL,    /* server failure (DNSSEC bogus, broken zone...) */
	DT_ST_TIMEOUT,     /* no answer in time */
	DT_ST_REFUSED,     /* the server answered REFUSED */
	DT_ST_CONNREFUSED, /* nothing listens at the server's address */
	DT_ST_ERROR,       /* anything else (malformed answer, ...) */
	DT_ST_CANCELLED,   /* channel destroyed; never reported */
};

/* One TXT record: its strings concatenated; may hold any byte, even NUL. */
struct dt_txt {
	char *data; /* NUL-terminated copy for convenience */
	size_t len;
};

struct dt_txtset {
	struct dt_txt *v;
	size_t n;
};

/* Limits on what one answer may make us keep (garbage defence). */
#define DT_MAX_RECORDS 64
#define DT_MAX_TOTAL   (64 * 1024)

/* ---- txt.c ---- */
int dns_txt__set_from_ares(struct dt_txtset *set, const struct ares_txt_ext *list);
int dns_txt__set_copy(struct dt_txtset *dst, const struct dt_txtset *src);
void dns_txt__set_clear(struct dt_txtset *set);
void dns_txt__set_sort(struct dt_txtset *set);
/* Keep only records for which keep() returns 1. */
void dns_txt__set_filter(struct dt_txtset *set, int (*keep)(const struct dt_txt *t));
/* Differences between two sorted sets, written as text into buf:
 * `removed "a", added "b"`.  Returns 1 when they differ, 0 when equal. */
int dns_txt__set_diff(const struct dt_txtset *old, const struct dt_txtset *cur, char *buf,
                      size_t size);
/* Escape bytes for one line of output: printable ASCII kept, others \xNN;
 * at most `max` input bytes, "..." appended when cut.  Always terminates. */
void dns_txt__escape(const char *s, size_t len, size_t max, char *buf, size_t size);
const char *dns_txt__status_text(int st);
/* The smallest DNS message answering a TXT query for `name` with `set`
 * (header, question, one record per entry, strings of 255 bytes): what
 * RFC 7208 3.4 wants under 512 bytes. */
size_t dns_txt__answer_size(const char *name, const struct dt_txtset *set);

/* A verdict: worst state and its message, every problem in long output. */
struct dt_verdict {
	int state;
	int has_msg;
	char out[512];
	char lng[8192];
	size_t lng_len;
};
void dns_txt__verdict_init(struct dt_verdict *v);
void dns_txt__raise(struct dt_verdict *v, int state, const char *fmt, ...) MAMORI_PRINTF(3, 4);
void dns_txt__note(struct dt_verdict *v, const char *fmt, ...) MAMORI_PRINTF(2, 3);
int dns_txt__worse(int a, int b);

/* ---- resolver.c ---- */
struct dt_inst;
struct dt_chan;
struct dt_query;
/* DNS types a query may ask. */
#define DT_TYPE_A    1
#define DT_TYPE_MX   15
#define DT_TYPE_TXT  16
#define DT_TYPE_AAAA 28

/* What one query brought back; valid only during the callback. */
struct dt_answer {
	int status;                  /* enum dt_status */
	const struct dt_txtset *set; /* TXT: the records (never NULL) */
	int count;                   /* A, AAAA, MX: records of that type */
	int nullmx;                  /* MX: the only record is the null MX "." */
};
typedef void (*dt_query_cb)(struct dt_query *q, const struct dt_answer *a, void *ud);

struct dt_resolver_opts {
	int timeout_ms;
	int tries;
};

/* One plugin instance (one per `plugins` block). */
struct dt_inst {
	const struct mamori_host *host;
	struct dt_resolver_opts opts;
	struct dt_chan *chans;
	int ares_ready; /* ares_library_init succeeded */
};

/* Get (create on first use) the channel of `server` ("" or NULL: system
 * resolver); reference counted, dns_txt__chan_put releases it. */
int dns_txt__chan_get(struct dt_inst *in, const char *server, struct dt_chan **out);
void dns_txt__chan_put(struct dt_chan *ch);
/* Destroy every channel (pending queries end with DT_ST_CANCELLED). */
void dns_txt__chans_destroy(struct dt_inst *in);

/* A query belongs to an owner list (a run); detaching the list makes every
 * later callback of its queries a silent no-op. */
struct dt_qlist {
	struct dt_query *head;
	int pending;
};
/* Ask `type` (DT_TYPE_*) for `name`; cb runs once with the answer. */
int dns_txt__query(struct dt_chan *ch, const char *name, int type, struct dt_qlist *owner,
                   dt_query_cb cb, void *ud, long tag);
long dns_txt__query_tag(const struct dt_query *q);
const char *dns_txt__query_name(const struct dt_query *q);
void dns_txt__qlist_detach(struct dt_qlist *l);

/* One configured check (check_data). */
struct dt_check {
	struct dt_inst *in;
	struct mamori_check *chk;
	int kind;     /* enum dt_kind */
	char *qname;  /* the name queried (with _dmarc. / selector) */
	char *server; /* canonical "ip:port", NULL: system resolver */
	char *expect;
	size_t expect_len;
	regex_t re;
	int re_ok;
	struct dt_chan *chan;
	int on_change;         /* state raised when the content changed */
	int dmarc_none;        /* state for DMARC p=none */
	struct dt_txtset last; /* content seen by the previous run */
	int has_last;
};

/* ---- run.c ---- */
struct dt_run;
int dns_txt__run_start(struct dt_check *c, struct mamori_run *run, struct dt_run **out);
void dns_txt__run_cancel(struct dt_run *r);

/* ---- spf.c ---- */
#define DT_SPF_MAX_LOOKUPS 10 /* RFC 7208 4.6.4: DNS-lookup terms per check */
#define DT_SPF_MAX_VOID    2  /* RFC 7208 4.6.4: lookups answering nothing */
#define DT_SPF_MAX_MX      10 /* RFC 7208 4.6.4: MX records per mx term */

/* What a target of an a, mx or exists term needs resolved, as a bit mask
 * of queries: an `a` term is looked up as A by receivers talking to an
 * IPv4 sender and as AAAA for an IPv6 sender, so both are asked. */
enum dt_spf_q {
	DT_Q_A = 1,
	DT_Q_AAAA = 2,
	DT_Q_MX = 4,
};

/* One a/mx/exists target of the tree, resolved to count void lookups and
 * MX records.  Filled by spf.c, answered through dns_txt__spf_answer. */
struct dt_spf_tgt {
	int mech;         /* 'a', 'm' (mx) or 'e' (exists) */
	int own;          /* a term of the checked domain's own record */
	int want, got;    /* dt_spf_q masks: queries asked / answered */
	int void4, void6; /* void for IPv4 / IPv6 senders */
	int failed;       /* some answer was an error (not judged) */
	char term[80];    /* the term, escaped, for messages */
	char domain[256]; /* the name to query */
};

/* Per-run SPF evaluation state. */
struct dt_spf {
	int lookups;         /* reachable terms that cost a DNS lookup, over the tree */
	int final_all;       /* qualifier of the deciding `all`, 0: none */
	int all_last;        /* the deciding all is its record's last mechanism */
	int redirected;      /* the deciding record came through redirect= */
	int not_followed;    /* targets written with macros (not followed) */
	int unreachable;     /* mechanisms after the first all of the top chain */
	char unreach1[80];   /* the first of them, escaped */
	int redirect_unused; /* the top chain has redirect= and an all */
	struct dt_spf_tgt tgt[DT_SPF_MAX_LOOKUPS];
	int ntgt;
};

/* Flags of dns_txt__spf_eval. */
#define DT_SPF_CHAIN 0x1 /* this record's `all` decides (top, or redirect from it) */
#define DT_SPF_TOP   0x2 /* the checked domain's own record */

/* Is this record an SPF record ("v=spf1" then space or end)? */
int dns_txt__is_spf(const struct dt_txt *t);

struct dt_spf_cb {
	/* An include/redirect target whose record must be fetched and
	 * evaluated; `chain` as DT_SPF_CHAIN.  Returns 0 or an error. */
	int (*follow)(void *ud, const char *domain, int chain);
	/* spf->tgt[i] must be resolved.  Returns 0 or an error. */
	int (*resolve)(void *ud, int i);
	void *ud;
};

/* Check one SPF record of `domain` (RFC 7208 4.6.1, 5, 6, 7.1 grammar),
 * walk it as an evaluator would (up to its first `all`) counting the
 * terms that cost a DNS lookup into `spf`, then hand back the targets to
 * fetch and resolve while the count is within the limit.  Returns 0, or
 * -1 with a description of the first syntax error in err. */
int dns_txt__spf_eval(struct dt_spf *spf, const char *domain, const char *rec, size_t len,
                      int flags, const struct dt_spf_cb *cb, char *err, size_t errsize);
/* The answer of query q (one dt_spf_q bit) for spf->tgt[i]: st is a
 * dt_status, count the records of the asked type (for MX: nullmx says the
 * one record is the RFC 7505 null MX).  Raises what it shows into v. */
void dns_txt__spf_answer(struct dt_spf *spf, int i, int q, int st, int count, int nullmx,
                         struct dt_verdict *v);
/* The verdict of a completed walk: the lookup and void limits, then the
 * deciding `all` (only when nothing is broken). */
void dns_txt__spf_judge(const struct dt_spf *spf, struct dt_verdict *v);

/* ---- policy.c ---- */
int dns_txt__is_dmarc(const struct dt_txt *t);
/* Judge the DMARC records found at _dmarc.<domain>. */
void dns_txt__dmarc_judge(const struct dt_txtset *set, int none_state, struct dt_verdict *v);
/* Judge the DKIM key records found at <selector>._domainkey.<domain>. */
void dns_txt__dkim_judge(const struct dt_txtset *set, struct dt_verdict *v);

#endif
