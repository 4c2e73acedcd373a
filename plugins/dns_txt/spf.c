/*
 * dns_txt: SPF record judgement (RFC 7208).
 *
 * Pure functions: no I/O.  dns_txt__spf_eval() checks every term of one
 * record against the grammar (4.6.1, 5, 6; domain-specs and macros by 7.1:
 * a domain-spec ends in a macro or in "." and a valid top label, the c, r
 * and t macro letters belong to explanation text only), then walks the
 * record as a receiver evaluates it: mechanisms in order up to the first
 * `all`, which matches every sender, so later mechanisms and redirect=
 * are never reached.  On that walk it counts the terms that cost a DNS
 * lookup (4.6.4: include, a, mx, ptr, exists, redirect) and hands back the
 * include/redirect targets to fetch and the a/mx/exists targets to
 * resolve, while the count is within the limit: a looping or exploding
 * record costs at most 11 fetches.  Targets written with macros depend on
 * the sender: counted, never followed.
 *
 * dns_txt__spf_answer() takes the answers for those targets (void lookups,
 * the number of MX records) and dns_txt__spf_judge() gives the verdict.
 *
 * Must never: call the resolver itself (run.c does, through callbacks), or
 * judge a record from its last `all` (receivers stop at the first).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_txt.h"

/* Mechanisms. */
enum { M_ALL = 1, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_MOD };

/* One term, as parsed. */
struct term {
	int mech;      /* M_*; M_MOD for a modifier */
	int q;         /* qualifier char, '+' by default */
	const char *d; /* domain-spec (a, mx, ptr, include, exists, modifiers' value) */
	size_t dn;     /* its length; 0: none given */
	int macro;     /* the domain-spec holds a macro */
	int mod;       /* for M_MOD: 'r' redirect, 'e' exp, 0 unknown */
};

struct spf_ctx {
	char *err;
	size_t errsize;
};

/* c is one of the characters of set (never the terminating NUL). */
static int in_chars(const char *set, char c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int dns_txt__is_spf(const struct dt_txt *t)
{
	return t->len >= 6 && strncasecmp(t->data, "v=spf1", 6) == 0 &&
	       (t->len == 6 || t->data[6] == ' ');
}

/* err = "term": reason.  The term is escaped and cut to 60 bytes. */
static int spf_err(struct spf_ctx *c, const char *t, size_t n, const char *fmt, ...)
    MAMORI_PRINTF(4, 5);
static int spf_err(struct spf_ctx *c, const char *t, size_t n, const char *fmt, ...)
{
	char esc[300], why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	dns_txt__escape(t, n, 60, esc, sizeof(esc));
	snprintf(c->err, c->errsize, "\"%s\": %s", esc, why);
	return -1;
}

/* A macro-expand at p (p[0] == '%'), RFC 7208 7.1:
 *   "%{" letter *DIGIT ["r"] *delimiter "}" / "%%" / "%_" / "%-"
 * Sets *len, returns NULL or why it is bad.  `exp`: explanation text,
 * where the letters c, r and t are allowed too. */
static const char *macro_check(const char *p, size_t n, int exp, size_t *len)
{
	static const char letters[] = "slodiphv";
	size_t i;
	char l;
	int digits = 0, val = 0;

	*len = 1;
	if (n >= 2 && (p[1] == '%' || p[1] == '_' || p[1] == '-')) {
		*len = 2;
		return NULL;
	}
	if (n < 2 || p[1] != '{')
		return "'%' must start a macro: %{x}, %%, %_ or %-";
	if (n < 3)
		return "unterminated macro";
	l = (char)(p[2] | 0x20);
	if (!is_alpha(p[2]) || (!in_chars(letters, l) && !in_chars("crt", l)))
		return "unknown macro letter";
	if (in_chars("crt", l) && !exp)
		return "the macro letters c, r and t are only allowed in explanation text";
	for (i = 3; i < n && is_digit(p[i]); i++) {
		if (++digits <= 3)
			val = val * 10 + (p[i] - '0');
	}
	if (digits && (val == 0 || digits > 3))
		return "bad macro: the number of parts must be 1..999";
	if (i < n && (p[i] == 'r' || p[i] == 'R'))
		i++;
	for (; i < n && in_chars(".-+,/_=", p[i]); i++)
		;
	if (i >= n || p[i] != '}')
		return "bad macro: expected digits, r, delimiters .-+,/_= and }";
	*len = i + 1;
	return NULL;
}

/* A macro-string (unknown modifiers): visible characters and macros. */
static const char *macro_string_check(const char *p, size_t n, int *has_macro)
{
	*has_macro = 0;
	for (size_t i = 0; i < n; i++) {
		size_t m;
		const char *why;

		if (p[i] != '%')
			continue;
		why = macro_check(p + i, n - i, 0, &m);
		if (why)
			return why;
		*has_macro = 1;
		i += m - 1;
	}
	return NULL;
}

/* A top label (7.1):  ( *alphanum ALPHA *alphanum ) /
 *                     ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 * that is: letters, digits and hyphens, starting and ending with a letter
 * or digit, and not all digits. */
static const char *toplabel_check(const char *p, size_t n)
{
	int alpha = 0, hyphen = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_alpha(p[i]))
			alpha = 1;
		else if (p[i] == '-')
			hyphen = 1;
		else if (!is_digit(p[i]))
			return "may hold only letters, digits and hyphens";
	}
	if (p[0] == '-' || p[n - 1] == '-')
		return "starts or ends with a hyphen";
	if (!alpha && !hyphen)
		return "is all digits";
	return NULL;
}

/* A domain-spec (7.1): macro-string domain-end, where
 *   domain-end = ( "." toplabel [ "." ] ) / macro-expand
 * and, when it holds no macro, a name DNS can carry (labels of 1..63
 * bytes, 253 in all).  Fails with the term t/tn named. */
static int domain_check(struct spf_ctx *c, const char *t, size_t tn, const char *p, size_t n,
                        int *has_macro)
{
	const char *why, *top;
	size_t i, label = 0, last_end = 0, tl;
	char buf[64];
	unsigned char addr[16];

	*has_macro = 0;
	if (n == 0)
		return spf_err(c, t, tn, "empty domain");
	for (i = 0; i < n; i++) {
		size_t m;

		if (p[i] != '%')
			continue;
		why = macro_check(p + i, n - i, 0, &m);
		if (why)
			return spf_err(c, t, tn, "%s", why);
		*has_macro = 1;
		i += m - 1;
		last_end = i + 1;
	}
	if (*has_macro && last_end == n)
		return 0; /* ends in a macro-expand */
	if (n >= sizeof(buf) - 1 || n < 2)
		buf[0] = '\0';
	else {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
	/* a:192.0.2.1 is a common mistake (RFC 7208 test suite, a-numeric):
	 * name the mechanism meant, with the prefix length written. */
	if (buf[0] && !*has_macro && inet_pton(AF_INET, buf, addr) == 1)
		return spf_err(c, t, tn, "an IPv4 address is not a domain (use ip4:%.*s)",
		               (int)(t + tn - p), p);
	if (buf[0] && !*has_macro && inet_pton(AF_INET6, buf, addr) == 1)
		return spf_err(c, t, tn, "an IPv6 address is not a domain (use ip6:%.*s)",
		               (int)(t + tn - p), p);
	if (p[n - 1] == ',')
		return spf_err(c, t, tn,
		               "bad domain ending in ',' (terms are separated by spaces, "
		               "not commas)");
	tl = p[n - 1] == '.' ? n - 1 : n; /* one trailing dot allowed */
	top = memrchr(p, '.', tl);
	if (!top)
		return spf_err(c, t, tn, "bad domain: a domain needs at least two labels");
	top++;
	if (top == p + tl)
		return spf_err(c, t, tn, "bad domain: empty last label");
	why = toplabel_check(top, (size_t)(p + tl - top));
	if (why) {
		char esc[100];

		dns_txt__escape(top, (size_t)(p + tl - top), 40, esc, sizeof(esc));
		return spf_err(c, t, tn, "bad domain: its last label \"%s\" %s", esc, why);
	}
	if (*has_macro)
		return 0;
	/* A literal name: it must be one DNS can carry.  RFC 7208 leaves
	 * open whether receivers treat such a name as no match or as a
	 * permerror; either way the term does not do what it says. */
	if (tl > 253)
		return spf_err(c, t, tn, "bad domain: longer than 253 bytes");
	for (i = 0; i < tl; i++) {
		if (p[i] == '.') {
			if (label == 0)
				return spf_err(c, t, tn, "bad domain: empty label");
			label = 0;
		} else if (++label > 63) {
			return spf_err(c, t, tn, "bad domain: a label longer than 63 bytes");
		}
	}
	return 0;
}

/* A CIDR length: "0" or digits without a leading zero, at most max. */
static int cidr_ok(const char *p, size_t n, int max)
{
	int v = 0;

	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= max;
}

/* Trailing digits of p[0..n) preceded by `slashes` slashes (1 or 2, and
 * for 1 not a second one before it): returns where the slashes start, or
 * n when there is no such suffix. */
static size_t cidr_suffix(const char *p, size_t n, int slashes)
{
	size_t d = n;

	while (d > 0 && is_digit(p[d - 1]))
		d--;
	if (d == n || d < (size_t)slashes)
		return n;
	if (slashes == 2)
		return p[d - 1] == '/' && p[d - 2] == '/' ? d - 2 : n;
	return p[d - 1] == '/' && (d < 2 || p[d - 2] != '/') ? d - 1 : n;
}

/* An a or mx argument after the name: [":" domain-spec] [dual-cidr].  The
 * dual-cidr is taken from the end ("/n", "//m", "/n//m"), since a
 * domain-spec may itself hold ':' and '/'. */
static int dual_cidr_split(struct spf_ctx *c, const char *t, size_t tn, const char *p, size_t n,
                           size_t *dom_end)
{
	size_t six = cidr_suffix(p, n, 2), four;
	const char *badlen = "bad prefix length (ip4 /0../32, ip6 //0..//128)";

	if (six < n && !cidr_ok(p + six + 2, n - six - 2, 128))
		return spf_err(c, t, tn, "%s", badlen);
	four = cidr_suffix(p, six, 1);
	if (four < six && !cidr_ok(p + four + 1, six - four - 1, 32))
		return spf_err(c, t, tn, "%s", badlen);
	*dom_end = four;
	return 0;
}

static int ip_check(struct spf_ctx *c, const char *t, size_t tn, const char *p, size_t n, int af)
{
	char buf[64];
	unsigned char addr[16];
	const char *slash = memchr(p, '/', n);
	size_t an = slash ? (size_t)(slash - p) : n;

	if (an == 0)
		return spf_err(c, t, tn, "bad address: missing");
	if (an >= sizeof(buf))
		return spf_err(c, t, tn, "bad address");
	memcpy(buf, p, an);
	buf[an] = '\0';
	if (inet_pton(af, buf, addr) != 1)
		return spf_err(c, t, tn, "bad address (%s)",
		               af == AF_INET ? "ip4 wants a.b.c.d" : "ip6 wants an IPv6 address");
	if (slash && !cidr_ok(slash + 1, n - an - 1, af == AF_INET ? 32 : 128))
		return spf_err(c, t, tn, "bad prefix length (%s)",
		               af == AF_INET ? "/0../32" : "/0../128");
	return 0;
}

static int modifier_parse(struct spf_ctx *c, const char *t, size_t n, size_t eq, struct term *o)
{
	const char *v = t + eq + 1;
	size_t vn = n - eq - 1;
	const char *why;

	o->mech = M_MOD;
	if (eq == 0)
		return spf_err(c, t, n, "bad modifier: empty name");
	if (in_chars("+-~?", t[0]))
		return spf_err(c, t, n, "bad modifier name (modifiers take no qualifier)");
	if (!is_alpha(t[0]))
		return spf_err(c, t, n, "bad modifier name: it must start with a letter");
	for (size_t i = 1; i < eq; i++)
		if (!is_alpha(t[i]) && !is_digit(t[i]) && !in_chars("-_.", t[i]))
			return spf_err(c, t, n, "bad modifier name: letters, digits, - _ . only");
	o->d = v;
	o->dn = vn;
	if (eq == 8 && strncasecmp(t, "redirect", 8) == 0) {
		o->mod = 'r';
		return domain_check(c, t, n, v, vn, &o->macro);
	}
	if (eq == 3 && strncasecmp(t, "exp", 3) == 0) {
		o->mod = 'e';
		return domain_check(c, t, n, v, vn, &o->macro);
	}
	/* unknown-modifier = name "=" macro-string: ignored by receivers,
	 * but its macros must be well formed (RFC 7208 6, A). */
	why = macro_string_check(v, vn, &o->macro);
	return why ? spf_err(c, t, n, "%s", why) : 0;
}

static int mechanism_parse(struct spf_ctx *c, const char *t0, size_t n0, struct term *o)
{
	const char *t = t0;
	size_t n = n0, nl = 0;
	int colon;

	if (in_chars("+-~?", t[0])) {
		o->q = t[0];
		t++;
		n--;
		if (n == 0)
			return spf_err(c, t0, n0, "a qualifier without a mechanism");
	}
	while (nl < n && (is_alpha(t[nl]) || is_digit(t[nl])))
		nl++;
	colon = nl < n && t[nl] == ':';
#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(t, s, nl) == 0)
	if (IS("all")) {
		o->mech = M_ALL;
		if (nl != n)
			return spf_err(c, t0, n0, "all takes no argument");
		return 0;
	}
	if (nl < n && !colon && t[nl] != '/')
		return spf_err(c, t0, n0, "unknown mechanism");
	if (IS("include") || IS("exists")) {
		o->mech = IS("include") ? M_INCLUDE : M_EXISTS;
		if (!colon)
			return spf_err(c, t0, n0, "%s needs \":domain\"",
			               o->mech == M_INCLUDE ? "include" : "exists");
		o->d = t + nl + 1;
		o->dn = n - nl - 1;
		return domain_check(c, t0, n0, o->d, o->dn, &o->macro);
	}
	if (IS("a") || IS("mx")) {
		const char *arg = t + nl + (colon ? 1 : 0);
		size_t an = n - nl - (colon ? 1 : 0), de = 0;

		o->mech = IS("a") ? M_A : M_MX;
		if (dual_cidr_split(c, t0, n0, arg, an, &de))
			return -1;
		if (!colon) {
			if (de != 0)
				return spf_err(c, t0, n0,
				               "bad prefix length (ip4 /0../32, ip6 //0..//128)");
			return 0;
		}
		o->d = arg;
		o->dn = de;
		return domain_check(c, t0, n0, arg, de, &o->macro);
	}
	if (IS("ptr")) {
		o->mech = M_PTR;
		if (nl == n)
			return 0;
		if (!colon)
			return spf_err(c, t0, n0, "ptr takes no prefix length");
		o->d = t + nl + 1;
		o->dn = n - nl - 1;
		return domain_check(c, t0, n0, o->d, o->dn, &o->macro);
	}
	if (IS("ip4") || IS("ip6")) {
		o->mech = IS("ip4") ? M_IP4 : M_IP6;
		if (!colon)
			return spf_err(c, t0, n0, "bad address: %s needs \":address\"",
			               IS("ip4") ? "ip4" : "ip6");
		return ip_check(c, t0, n0, t + nl + 1, n - nl - 1,
		                o->mech == M_IP4 ? AF_INET : AF_INET6);
	}
#undef IS
	return spf_err(c, t0, n0, "unknown mechanism");
}

/* One term: a modifier when '=' comes before any ':' or '/' (4.6.1). */
static int term_parse(struct spf_ctx *c, const char *t, size_t n, struct term *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	o->q = '+';
	for (i = 0; i < n && t[i] != '=' && t[i] != ':' && t[i] != '/'; i++)
		;
	if (i < n && t[i] == '=')
		return modifier_parse(c, t, n, i, o);
	return mechanism_parse(c, t, n, o);
}

static int check_bytes(struct spf_ctx *c, const char *rec, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)rec[i];

		if (ch < 0x20 || ch >= 0x7f) {
			size_t from = i > 20 ? i - 20 : 0;

			return spf_err(c, rec + from, len - from > 40 ? 40 : len - from,
			               "non-ASCII or control byte 0x%02x (only printable ASCII and "
			               "spaces, RFC 7208 3.1, 4.6.1)",
			               ch);
		}
	}
	return 0;
}

/* Next term of rec from *pos (terms are separated by one or more spaces). */
static int next_term(const char *rec, size_t len, size_t *pos, const char **t, size_t *n)
{
	size_t p = *pos, e;

	while (p < len && rec[p] == ' ')
		p++;
	if (p == len)
		return 0;
	for (e = p; e < len && rec[e] != ' '; e++)
		;
	*t = rec + p;
	*n = e - p;
	*pos = e;
	return 1;
}

/* A pending fetch (include/redirect) or resolution (a/mx/exists). */
struct pend {
	int kind; /* 'f' follow, 'r' resolve */
	int chain;
	int idx;
	char name[256];
};

static void copy_name(char *dst, const char *p, size_t n)
{
	if (n > 255)
		n = 255;
	memcpy(dst, p, n);
	dst[n] = '\0';
	if (n > 1 && dst[n - 1] == '.')
		dst[n - 1] = '\0';
}

static void add_resolve(struct dt_spf *spf, const struct term *tm, const char *t, size_t tn,
                        const char *domain, int top, struct pend *pd, size_t *np)
{
	struct dt_spf_tgt *g;

	if (spf->ntgt == DT_SPF_MAX_LOOKUPS)
		return;
	g = &spf->tgt[spf->ntgt];
	memset(g, 0, sizeof(*g));
	g->mech = tm->mech == M_A ? 'a' : tm->mech == M_MX ? 'm' : 'e';
	g->own = top != 0;
	g->want = tm->mech == M_A ? DT_Q_A | DT_Q_AAAA : tm->mech == M_MX ? DT_Q_MX : DT_Q_A;
	dns_txt__escape(t, tn, 60, g->term, sizeof(g->term));
	if (tm->dn)
		copy_name(g->domain, tm->d, tm->dn);
	else
		snprintf(g->domain, sizeof(g->domain), "%s", domain);
	pd[*np].kind = 'r';
	pd[*np].idx = spf->ntgt++;
	(*np)++;
}

int dns_txt__spf_eval(struct dt_spf *spf, const char *domain, const char *rec, size_t len,
                      int flags, const struct dt_spf_cb *cb, char *err, size_t errsize)
{
	struct spf_ctx c = { err, errsize };
	struct pend pd[DT_SPF_MAX_LOOKUPS + 1];
	size_t pos = 6, np = 0, tn;
	const char *t, *redir = NULL, *exp = NULL;
	struct term tm, rterm = { 0 };
	int chain = flags & DT_SPF_CHAIN, top = flags & DT_SPF_TOP, all_q = 0, after = 0;

	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 || (len > 6 && rec[6] != ' '))
		return spf_err(&c, rec, len, "not an SPF record");
	if (check_bytes(&c, rec, len))
		return -1;
	/* Pass 1: the grammar of every term, reachable or not (4.6: a syntax
	 * error anywhere is a permerror). */
	while (next_term(rec, len, &pos, &t, &tn)) {
		if (term_parse(&c, t, tn, &tm))
			return -1;
		if (tm.mech == M_MOD && tm.mod == 'r') {
			if (redir)
				return spf_err(&c, t, tn, "redirect= given twice");
			redir = t;
			rterm = tm;
		} else if (tm.mech == M_MOD && tm.mod == 'e') {
			if (exp)
				return spf_err(&c, t, tn, "exp= given twice");
			exp = t;
		}
	}
	/* Pass 2: the walk of an evaluator, stopping at the first all. */
	pos = 6;
	while (next_term(rec, len, &pos, &t, &tn)) {
		(void)term_parse(&c, t, tn, &tm);
		if (tm.mech == M_MOD)
			continue;
		if (all_q) {
			if (after++ == 0 && chain)
				dns_txt__escape(t, tn, 60, spf->unreach1, sizeof(spf->unreach1));
			continue;
		}
		if (tm.mech == M_ALL) {
			all_q = tm.q;
			continue;
		}
		if (tm.mech == M_IP4 || tm.mech == M_IP6)
			continue;
		spf->lookups++;
		if (tm.macro) {
			spf->not_followed++;
			continue;
		}
		if (spf->lookups > DT_SPF_MAX_LOOKUPS || tm.mech == M_PTR)
			continue;
		if (tm.mech == M_INCLUDE) {
			pd[np].kind = 'f';
			pd[np].chain = 0;
			copy_name(pd[np].name, tm.d, tm.dn);
			np++;
		} else {
			add_resolve(spf, &tm, t, tn, domain, top, pd, &np);
		}
	}
	if (chain) {
		spf->unreachable = after;
		spf->all_last = all_q && after == 0;
		if (redir && all_q)
			spf->redirect_unused = 1;
	}
	/* redirect= is used only when the record has no all (6.1). */
	if (redir && !all_q) {
		spf->lookups++;
		if (rterm.macro)
			spf->not_followed++;
		else if (spf->lookups <= DT_SPF_MAX_LOOKUPS) {
			pd[np].kind = 'f';
			pd[np].chain = chain;
			copy_name(pd[np].name, rterm.d, rterm.dn);
			np++;
		}
	}
	if (chain && !(redir && !all_q))
		spf->final_all = all_q;
	for (size_t i = 0; i < np; i++) {
		int rc = pd[i].kind == 'f' ? cb->follow(cb->ud, pd[i].name, pd[i].chain)
		                           : cb->resolve(cb->ud, pd[i].idx);

		if (rc) {
			const char *nm =
			    pd[i].kind == 'f' ? pd[i].name : spf->tgt[pd[i].idx].domain;

			return spf_err(&c, nm, strlen(nm), "cannot query");
		}
	}
	return 0;
}

void dns_txt__spf_answer(struct dt_spf *spf, int i, int q, int st, int count, int nullmx,
                         struct dt_verdict *v)
{
	struct dt_spf_tgt *g;
	int is_void = (st == DT_ST_OK && count == 0) || st == DT_ST_NXDOMAIN || st == DT_ST_NODATA;

	if (i < 0 || i >= spf->ntgt)
		return;
	g = &spf->tgt[i];
	if (!(g->want & q) || (g->got & q))
		return;
	g->got |= q;
	if (st == DT_ST_SERVFAIL) {
		g->failed = 1;
		dns_txt__raise(v, MAMORI_WARNING,
		               "SPF %s: %s for %s: receivers reaching this term return temperror",
		               g->term,
		               q == DT_Q_MX  ? "MX"
		               : q == DT_Q_A ? "A"
		                             : "AAAA",
		               dns_txt__status_text(st));
	} else if (!is_void && st != DT_ST_OK) {
		g->failed = 1;
		dns_txt__note(v, "SPF %s: %s query for %s: %s (not judged)", g->term,
		              q == DT_Q_MX  ? "MX"
		              : q == DT_Q_A ? "A"
		                            : "AAAA",
		              g->domain, dns_txt__status_text(st));
	} else if (q == DT_Q_MX && count > DT_SPF_MAX_MX) {
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "SPF %s: %s has %d MX records, more than %d: receivers return "
		               "permerror (RFC 7208 4.6.4)",
		               g->term, g->domain, count, DT_SPF_MAX_MX);
	}
	/* The A query of an a term is what receivers ask for an IPv4 sender,
	 * AAAA for an IPv6 one; mx and exists ask the same for both. */
	if (is_void && q != DT_Q_AAAA)
		g->void4 = 1;
	if (is_void && q != DT_Q_A)
		g->void6 = 1;
	if (is_void && g->mech == 'e')
		g->void6 = 1; /* exists always asks A */
	if (g->got != g->want)
		return;
	/* Complete: a term of the domain's own record that matches nobody. */
	if (g->own && !g->failed && ((g->void4 && g->void6) || (q == DT_Q_MX && nullmx))) {
		if (nullmx)
			dns_txt__raise(v, MAMORI_WARNING,
			               "SPF term %s matches no sender: %s publishes a null MX "
			               "(RFC 7505)",
			               g->term, g->domain);
		else if (g->mech != 'e')
			dns_txt__raise(v, MAMORI_WARNING,
			               "SPF term %s matches no sender: %s has no %s record",
			               g->term, g->domain, g->mech == 'm' ? "MX" : "A or AAAA");
	}
}

/* "a:x, mx:y" of the targets void for one family. */
static int void_list(const struct dt_spf *spf, int six, char *buf, size_t size)
{
	size_t o = 0;
	int n = 0;

	buf[0] = '\0';
	for (int i = 0; i < spf->ntgt; i++) {
		const struct dt_spf_tgt *g = &spf->tgt[i];

		if (!(six ? g->void6 : g->void4))
			continue;
		n++;
		if (o < size) {
			int k = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", g->term);

			if (k > 0)
				o += (size_t)k;
		}
	}
	return n;
}

void dns_txt__spf_judge(const struct dt_spf *spf, struct dt_verdict *v)
{
	const char *via = spf->redirected ? " (via redirect)" : "";
	char list[400], first[120] = "";
	int pending = 0;

	if (spf->lookups > DT_SPF_MAX_LOOKUPS)
		dns_txt__raise(
		    v, MAMORI_CRITICAL, "SPF needs %s%d DNS lookups, the limit is %d (permerror)",
		    spf->not_followed ? "at least " : "", spf->lookups, DT_SPF_MAX_LOOKUPS);
	for (int six = 0; six < 2; six++) {
		int n = void_list(spf, six, list, sizeof(list));

		if (n > DT_SPF_MAX_VOID)
			dns_txt__raise(v, MAMORI_CRITICAL,
			               "SPF has %d void lookups for IPv%c senders, the limit is %d "
			               "(RFC 7208 4.6.4, permerror): %s",
			               n, six ? '6' : '4', DT_SPF_MAX_VOID, list);
		else if (n)
			dns_txt__note(v, "void lookups for IPv%c senders (limit %d): %s",
			              six ? '6' : '4', DT_SPF_MAX_VOID, list);
	}
	for (int i = 0; i < spf->ntgt; i++)
		pending += spf->tgt[i].got != spf->tgt[i].want;
	if (pending)
		dns_txt__note(v,
		              "%d a/mx/exists target(s) not answered in time: void lookups and "
		              "MX counts not judged for them",
		              pending);
	if (spf->not_followed)
		dns_txt__note(v,
		              "%d target(s) written with macros not checked (they depend on the "
		              "sender)",
		              spf->not_followed);
	if (v->state == MAMORI_CRITICAL || v->state == MAMORI_UNKNOWN)
		return; /* the record is broken or unknown; its `all` means nothing */
	if (spf->unreachable)
		snprintf(first, sizeof(first), "; %d later term%s never reached (\"%s\"%s)",
		         spf->unreachable, spf->unreachable == 1 ? "" : "s", spf->unreach1,
		         spf->unreachable > 1 ? "..." : "");
	if (spf->redirect_unused)
		dns_txt__raise(v, MAMORI_WARNING,
		               "SPF has an all, so its redirect= is never used (RFC 7208 6.1)");
	if (spf->final_all == '+')
		dns_txt__raise(v, MAMORI_CRITICAL, "SPF %s +all%s: anyone may send%s",
		               spf->all_last ? "ends in" : "stops at its first all,", via, first);
	else if (spf->final_all == '?')
		dns_txt__raise(v, MAMORI_WARNING, "SPF %s ?all%s: neutral, no protection%s",
		               spf->all_last ? "ends in" : "stops at its first all,", via, first);
	else if (!spf->final_all)
		dns_txt__raise(v, MAMORI_WARNING, "SPF has no all%s: neutral by default", via);
	else if (spf->unreachable)
		dns_txt__raise(
		    v, MAMORI_WARNING,
		    "SPF stops at its first all, %call%s: senders listed after it are not authorised%s",
		    spf->final_all, via, first);
	else
		dns_txt__raise(v, MAMORI_OK, "SPF valid, %d DNS lookup%s, ends in %call%s",
		               spf->lookups, spf->lookups == 1 ? "" : "s", spf->final_all, via);
}
