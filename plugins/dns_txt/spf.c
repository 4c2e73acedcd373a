/*
 * dns_txt: SPF record syntax and DNS-lookup counting (RFC 7208).
 *
 * Pure functions: no I/O.  dns_txt__spf_eval() checks one record's terms
 * (section 4.6.1 and 5/6 grammar, macros by section 7.1 syntax only) and
 * adds the terms that cost a DNS query at evaluation time (4.6.4: include,
 * a, mx, ptr, exists and redirect) to the run's count.  It hands back the
 * include/redirect targets the caller must resolve, so lookups are counted
 * across the whole include tree.  Targets are followed only while the count
 * is within the limit: a record that loops or fans out costs us at most 11
 * queries.  Targets written with macros cannot be known without a sender
 * and are counted, not followed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_txt.h"

#define SPF_MAX_TERMS 64

struct spf_target {
	const char *p;
	size_t n;
	int chain;
};

struct spf_ctx {
	struct dt_spf *spf;
	struct spf_target tgt[DT_SPF_MAX_LOOKUPS + 1];
	size_t ntgt;
	int all_q; /* qualifier of `all`, 0: none */
	const char *redirect;
	size_t redirect_n;
	int has_exp;
	char *err;
	size_t errsize;
};

int dns_txt__is_spf(const struct dt_txt *t)
{
	return t->len >= 6 && strncasecmp(t->data, "v=spf1", 6) == 0 &&
	       (t->len == 6 || t->data[6] == ' ');
}

static int fail(struct spf_ctx *c, const char *what, const char *term, size_t n)
{
	char esc[96];

	dns_txt__escape(term, n, 40, esc, sizeof(esc));
	snprintf(c->err, c->errsize, "%s: \"%s\"", what, esc);
	return -1;
}

/* Length of a macro-expand at p ("%{...}", "%%", "%_", "%-"), 0 if bad. */
static size_t macro_len(const char *p, size_t n)
{
	size_t i = 2;

	if (n >= 2 && (p[1] == '%' || p[1] == '_' || p[1] == '-'))
		return 2;
	if (n < 4 || p[1] != '{' || !strchr("slodiphcrtvSLODIPHCRTV", p[2]))
		return 0;
	for (i = 3; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		;
	if (i < n && (p[i] == 'r' || p[i] == 'R'))
		i++;
	for (; i < n && strchr(".-+,/_=", p[i]); i++)
		;
	return i < n && p[i] == '}' ? i + 1 : 0;
}

/* A domain-spec: macro-string, and a real domain name when it holds no
 * macro.  *has_macro tells the caller it cannot be followed. */
static int domain_spec_ok(const char *p, size_t n, int *has_macro)
{
	size_t label = 0, dots = 0;

	*has_macro = 0;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%') {
			size_t m = macro_len(p + i, n - i);

			if (!m)
				return 0;
			*has_macro = 1;
			i += m - 1;
			continue;
		}
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return 0;
	}
	if (*has_macro)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (label == 0 && i != n - 1)
				return 0; /* empty label */
			if (i != n - 1)
				dots++;
			label = 0;
		} else if (++label > 63) {
			return 0;
		}
	}
	return dots > 0 && p[0] != '.';
}

static int cidr_ok(const char *p, size_t n, int max)
{
	int v = 0;

	if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v <= max;
}

/* "/n", "//m" or "/n//m" after an a or mx domain. */
static int dual_cidr_ok(const char *p, size_t n)
{
	const char *six = NULL;

	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '/' && p[i + 1] == '/') {
			six = p + i;
			break;
		}
	if (six) {
		if (!cidr_ok(six + 2, n - (size_t)(six - p) - 2, 128))
			return 0;
		n = (size_t)(six - p);
	}
	if (n == 0)
		return 1;
	return p[0] == '/' && cidr_ok(p + 1, n - 1, 32);
}

static int ip_ok(const char *p, size_t n, int af)
{
	char buf[64];
	unsigned char addr[16];
	const char *slash = memchr(p, '/', n);
	size_t an = slash ? (size_t)(slash - p) : n;

	if (an == 0 || an >= sizeof(buf))
		return 0;
	memcpy(buf, p, an);
	buf[an] = '\0';
	if (inet_pton(af, buf, addr) != 1)
		return 0;
	return !slash || cidr_ok(slash + 1, n - an - 1, af == AF_INET ? 32 : 128);
}

/* Where a domain-spec ends and a cidr starts: the first '/' outside a
 * macro (macros may use '/' as a delimiter). */
static size_t domain_end(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%') {
			size_t m = macro_len(p + i, n - i);

			if (m)
				i += m - 1;
		} else if (p[i] == '/') {
			return i;
		}
	}
	return n;
}

static int add_target(struct spf_ctx *c, const char *p, size_t n, int chain)
{
	int macro;

	(void)domain_spec_ok(p, n, &macro);
	c->spf->lookups++;
	if (macro || c->spf->lookups > DT_SPF_MAX_LOOKUPS || c->ntgt == DT_SPF_MAX_LOOKUPS + 1) {
		c->spf->not_followed++;
		return 0;
	}
	c->tgt[c->ntgt].p = p;
	c->tgt[c->ntgt].n = n;
	c->tgt[c->ntgt].chain = chain;
	c->ntgt++;
	return 0;
}

static int modifier(struct spf_ctx *c, const char *t, size_t n, size_t eq)
{
	const char *v = t + eq + 1;
	size_t vn = n - eq - 1;
	int macro;

	for (size_t i = 0; i < eq; i++) {
		char ch = t[i];
		int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');

		if (!alpha && (i == 0 || !((ch >= '0' && ch <= '9') || strchr("-_.", ch))))
			return fail(c, "bad modifier name", t, n);
	}
	if (eq == 8 && strncasecmp(t, "redirect", 8) == 0) {
		if (c->redirect)
			return fail(c, "redirect= given twice", t, n);
		if (!domain_spec_ok(v, vn, &macro))
			return fail(c, "bad redirect domain", t, n);
		c->redirect = v;
		c->redirect_n = vn;
	} else if (eq == 3 && strncasecmp(t, "exp", 3) == 0) {
		if (c->has_exp++)
			return fail(c, "exp= given twice", t, n);
		if (!domain_spec_ok(v, vn, &macro))
			return fail(c, "bad exp domain", t, n);
	}
	return 0; /* unknown modifiers are allowed (6) */
}

static int mechanism(struct spf_ctx *c, const char *t, size_t n, int q, int chain)
{
	size_t nl = 0;
	int macro;

	while (nl < n && t[nl] != ':' && t[nl] != '/')
		nl++;
#define IS(s) (nl == sizeof(s) - 1 && strncasecmp(t, s, nl) == 0)
	const char *arg = t + nl + 1;
	size_t an = nl < n ? n - nl - 1 : 0;
	int colon = nl < n && t[nl] == ':';

	if (IS("all")) {
		if (nl != n)
			return fail(c, "all takes no argument", t, n);
		c->all_q = q;
	} else if (IS("include") || IS("exists")) {
		if (!colon || !domain_spec_ok(arg, an, &macro))
			return fail(c, "missing or bad domain", t, n);
		if (IS("include"))
			return add_target(c, arg, an, 0);
		c->spf->lookups++;
	} else if (IS("a") || IS("mx") || IS("ptr")) {
		size_t de = colon ? domain_end(arg, an) : 0;
		const char *cidr = colon ? arg + de : t + nl;
		size_t cn = colon ? an - de : n - nl;

		if (colon && !domain_spec_ok(arg, de, &macro))
			return fail(c, "bad domain", t, n);
		if (IS("ptr") ? cn != 0 : !dual_cidr_ok(cidr, cn))
			return fail(c, "bad prefix length", t, n);
		c->spf->lookups++;
	} else if (IS("ip4") || IS("ip6")) {
		if (!colon || !ip_ok(arg, an, IS("ip4") ? AF_INET : AF_INET6))
			return fail(c, "bad address", t, n);
	} else {
		return fail(c, "unknown mechanism", t, n);
	}
#undef IS
	(void)chain;
	return 0;
}

static int term(struct spf_ctx *c, const char *t, size_t n, int chain)
{
	int q = '+';
	size_t i;

	for (i = 0; i < n && t[i] != '=' && t[i] != ':' && t[i] != '/'; i++)
		;
	if (i < n && t[i] == '=')
		return modifier(c, t, n, i);
	if (strchr("+-~?", t[0])) {
		q = t[0];
		t++;
		n--;
		if (n == 0)
			return fail(c, "lone qualifier", t - 1, 1);
	}
	return mechanism(c, t, n, q, chain);
}

static int check_bytes(struct spf_ctx *c, const char *rec, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)rec[i];

		if (ch < 0x20 || ch >= 0x7f)
			return fail(c, "non-ASCII or control byte in record", rec, len);
	}
	return 0;
}

int dns_txt__spf_eval(struct dt_spf *spf, const char *rec, size_t len, int chain,
                      dt_spf_follow_cb follow, void *ud, char *err, size_t errsize)
{
	struct spf_ctx c;
	size_t pos = 6, nterms = 0;
	char name[256];

	memset(&c, 0, sizeof(c));
	c.spf = spf;
	c.err = err;
	c.errsize = errsize;
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 || (len > 6 && rec[6] != ' '))
		return fail(&c, "not an SPF record", rec, len);
	if (check_bytes(&c, rec, len))
		return -1;
	while (pos < len) {
		size_t end;

		while (pos < len && rec[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		for (end = pos; end < len && rec[end] != ' '; end++)
			;
		if (++nterms > SPF_MAX_TERMS)
			return fail(&c, "too many terms", rec + pos, end - pos);
		if (term(&c, rec + pos, end - pos, chain))
			return -1;
		pos = end;
	}
	/* redirect= is used only when the record has no `all` (6.1). */
	if (c.redirect && !c.all_q)
		add_target(&c, c.redirect, c.redirect_n, chain);
	if (chain && !(c.redirect && !c.all_q))
		spf->final_all = c.all_q;
	for (size_t i = 0; i < c.ntgt; i++) {
		memcpy(name, c.tgt[i].p, c.tgt[i].n);
		name[c.tgt[i].n] = '\0';
		if (follow(ud, name, c.tgt[i].chain))
			return fail(&c, "cannot query", name, c.tgt[i].n);
	}
	return 0;
}
