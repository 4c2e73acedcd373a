/*
 * dns_txt: DMARC (RFC 7489) and DKIM key (RFC 6376 3.6.1, RFC 8463)
 * records.
 *
 * Pure functions of the record set: no I/O.  Both formats are tag lists
 * (`tag=value; tag=value`), parsed here once.  A DKIM key is judged usable
 * only when OpenSSL can decode it: d2i_PUBKEY for RSA (a SubjectPublicKeyInfo
 * in base64), the raw 32 bytes for Ed25519.  An empty p= is how a signer
 * revokes a key, so it is CRITICAL, not a syntax error.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_txt.h"

#define MAX_TAGS     32
#define MIN_RSA_BITS 1024 /* RFC 8301 3.2: verifiers must not accept less */

struct tag {
	const char *name, *val;
	size_t nn, vn;
};

static int fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parse a tag list; returns the number of tags or -1 on a syntax error
 * (bad name, missing '=', duplicate tag, too many tags). */
static int tags_parse(const char *s, size_t n, struct tag *t, size_t max)
{
	size_t pos = 0, k = 0;

	while (pos < n) {
		size_t end = pos, a, b;

		while (end < n && s[end] != ';')
			end++;
		for (a = pos; a < end && fws(s[a]); a++)
			;
		if (a == end) { /* empty: only allowed after the last ';' */
			if (end < n)
				return -1;
			break;
		}
		for (b = a; b < end && (s[b] == '_' || (s[b] >= '0' && s[b] <= '9') ||
		                        ((s[b] | 0x20) >= 'a' && (s[b] | 0x20) <= 'z'));
		     b++)
			;
		if (b == a || !((s[a] | 0x20) >= 'a' && (s[a] | 0x20) <= 'z') || k == max)
			return -1;
		t[k].name = s + a;
		t[k].nn = b - a;
		while (b < end && fws(s[b]))
			b++;
		if (b == end || s[b] != '=')
			return -1;
		for (b++; b < end && fws(s[b]); b++)
			;
		t[k].val = s + b;
		for (t[k].vn = end - b; t[k].vn && fws(t[k].val[t[k].vn - 1]); t[k].vn--)
			;
		for (size_t i = 0; i < k; i++)
			if (t[i].nn == t[k].nn && memcmp(t[i].name, t[k].name, t[k].nn) == 0)
				return -1;
		k++;
		pos = end + 1;
	}
	return (int)k;
}

static const struct tag *tag_get(const struct tag *t, int n, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < n; i++)
		if (t[i].nn == len && memcmp(t[i].name, name, len) == 0)
			return &t[i];
	return NULL;
}

static int val_is(const struct tag *t, const char *v)
{
	return t && t->vn == strlen(v) && strncasecmp(t->val, v, t->vn) == 0;
}

/* ---- DMARC: RFC 7489 6.3 and 6.4; np, psd and t of the DMARCbis drafts ---- */

#define DMARC_MAX_TAGS 64

/* c is one of the characters of set (never the terminating NUL). */
static int in_set(const char *set, char c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static int wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int alpha(char c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the version tag at the start of s ("v" *WSP "=" *WSP "DMARC1"
 * *WSP, then the end or ';'), 0 if s does not start with one.  The tag
 * name is case-insensitive, the value is not (RFC 7489 6.4: %x44 ...). */
static size_t dmarc_version(const char *s, size_t n)
{
	size_t i = 1;

	if (n == 0 || (s[0] | 0x20) != 'v')
		return 0;
	while (i < n && wsp(s[i]))
		i++;
	if (i == n || s[i++] != '=')
		return 0;
	while (i < n && wsp(s[i]))
		i++;
	if (n - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	for (i += 6; i < n && wsp(s[i]); i++)
		;
	return i == n || s[i] == ';' ? i : 0;
}

int dns_txt__is_dmarc(const struct dt_txt *t)
{
	return dmarc_version(t->data, t->len) > 0;
}

/* Why a TXT record that looks like DMARC is not one; NULL if it does not
 * look like one at all. */
static const char *dmarc_near_miss(const struct dt_txt *t)
{
	const char *s = t->data;
	size_t n = t->len, i = 0;

	while (i < n && wsp(s[i]))
		i++;
	if (n - i < 2 || (s[i] | 0x20) != 'v')
		return NULL;
	for (i++; i < n && wsp(s[i]); i++)
		;
	if (i == n || s[i++] != '=')
		return NULL;
	while (i < n && wsp(s[i]))
		i++;
	if (n - i < 5 || strncasecmp(s + i, "DMARC", 5) != 0)
		return NULL;
	if (wsp(s[0]))
		return "it starts with a space";
	if (n - i >= 6 && strncasecmp(s + i, "DMARC1", 6) == 0 && memcmp(s + i, "DMARC1", 6))
		return "the version is written DMARC1, in capitals (RFC 7489 6.3)";
	if (n - i >= 6 && memcmp(s + i, "DMARC1", 6) == 0 &&
	    (n - i == 6 || !(alpha(s[i + 6]) || digit(s[i + 6]))))
		return "a ';' must follow v=DMARC1";
	return "its version is not DMARC1";
}

struct dtag {
	const char *name, *val;
	size_t nn, vn;
};

struct dmarc {
	struct dtag t[DMARC_MAX_TAGS];
	int n;
	struct dt_verdict *v;
};

/* Split the tags after the version: `name *WSP "=" *WSP value` between
 * `*WSP ";" *WSP`.  What does not parse is a WARNING (receivers ignore it,
 * RFC 7489 6.3) and is left out. */
static void dmarc_split(struct dmarc *d, const char *s, size_t n, size_t pos)
{
	char esc[120];

	d->t[0].name = "v";
	d->t[0].nn = 1;
	d->t[0].val = "DMARC1";
	d->t[0].vn = 6;
	d->n = 1;
	if (pos < n)
		pos++; /* the ';' after the version */
	while (pos < n) {
		size_t end = pos, a, b, e, eq;

		while (end < n && s[end] != ';')
			end++;
		for (a = pos; a < end && wsp(s[a]); a++)
			;
		for (e = end; e > a && wsp(s[e - 1]); e--)
			;
		pos = end + 1;
		if (a == e) {
			if (end < n)
				dns_txt__raise(
				    d->v, MAMORI_WARNING,
				    "DMARC record has an empty tag (\";;\", RFC 7489 6.4)");
			continue;
		}
		for (eq = a; eq < e && s[eq] != '='; eq++)
			;
		for (b = a; b < eq && (alpha(s[b]) || digit(s[b]) || s[b] == '_'); b++)
			;
		dns_txt__escape(s + a, e - a, 60, esc, sizeof(esc));
		if (eq == e || b == a || !alpha(s[a])) {
			dns_txt__raise(d->v, MAMORI_WARNING,
			               "DMARC record part \"%s\" is not a tag=value (ignored)",
			               esc);
			continue;
		}
		for (size_t k = b; k < eq; k++) {
			if (!wsp(s[k])) {
				dns_txt__raise(
				    d->v, MAMORI_WARNING,
				    "DMARC record part \"%s\" has a bad tag name (ignored)", esc);
				b = 0;
				break;
			}
		}
		if (b == 0)
			continue;
		if (d->n == DMARC_MAX_TAGS) {
			dns_txt__note(d->v,
			              "DMARC record has more than %d tags; the rest is not "
			              "checked",
			              DMARC_MAX_TAGS);
			return;
		}
		d->t[d->n].name = s + a;
		d->t[d->n].nn = b - a;
		for (eq++; eq < e && wsp(s[eq]); eq++)
			;
		d->t[d->n].val = s + eq;
		d->t[d->n].vn = e - eq;
		d->n++;
	}
}

/* The first tag named `name` (case-insensitive), its index in *at. */
static const struct dtag *dget(const struct dmarc *d, const char *name, int *at)
{
	size_t len = strlen(name);

	for (int i = 0; i < d->n; i++)
		if (d->t[i].nn == len && strncasecmp(d->t[i].name, name, len) == 0) {
			if (at)
				*at = i;
			return &d->t[i];
		}
	return NULL;
}

static int dval_is(const struct dtag *t, const char *v)
{
	return t && t->vn == strlen(v) && strncasecmp(t->val, v, t->vn) == 0;
}

static int one_of(const struct dtag *t, const char *const *vals)
{
	for (; *vals; vals++)
		if (dval_is(t, *vals))
			return 1;
	return 0;
}

static int policy_ok(const struct dtag *t)
{
	static const char *const v[] = { "none", "quarantine", "reject", NULL };

	return one_of(t, v);
}

/* `*WSP sep *WSP` separated items of t's value: calls item() on each
 * (trimmed); returns the first failure reason or NULL. */
static const char *list_each(const struct dtag *t, char sep,
                             const char *(*item)(const char *p, size_t n, void *ud), void *ud)
{
	size_t pos = 0;

	if (t->vn == 0)
		return "empty value";
	for (;;) {
		size_t end = pos, a, e;
		const char *why;

		while (end < t->vn && t->val[end] != sep)
			end++;
		for (a = pos; a < end && wsp(t->val[a]); a++)
			;
		for (e = end; e > a && wsp(t->val[e - 1]); e--)
			;
		if (a == e)
			return "empty list item";
		why = item(t->val + a, e - a, ud);
		if (why)
			return why;
		if (end == t->vn)
			return NULL;
		pos = end + 1;
	}
}

/* 1*DIGIT of at most max; NULL or why not. */
static const char *number_check(const char *p, size_t n, unsigned long long max)
{
	unsigned long long v = 0;

	if (n == 0)
		return "empty value";
	for (size_t i = 0; i < n; i++) {
		if (!digit(p[i]))
			return "not a number";
		if (v > (max - (unsigned long long)(p[i] - '0')) / 10)
			return "number too large";
		v = v * 10 + (unsigned long long)(p[i] - '0');
	}
	return NULL;
}

static const char *fo_item(const char *p, size_t n, void *ud)
{
	(void)ud;
	return n == 1 && in_set("01dDsS", p[0]) ? NULL : "each option is 0, 1, d or s";
}

/* Keyword (RFC 5321 Ldh-str): letters, digits, hyphens, not ending in a
 * hyphen; only afrf is registered for rf=. */
static const char *rf_item(const char *p, size_t n, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < n; i++)
		if (!alpha(p[i]) && !digit(p[i]) && p[i] != '-')
			return "not a format name";
	if (p[n - 1] == '-')
		return "not a format name";
	return n == 4 && strncasecmp(p, "afrf", 4) == 0 ? NULL : "only afrf is a registered format";
}

/* URI chars of RFC 3986 other than ',' '!' ';' (which DMARC makes
 * separators, RFC 7489 6.4) and '%', checked separately. */
static int uri_char(char c)
{
	return alpha(c) || digit(c) || (in_set("-._~:/?#[]@$&'()*+=", c));
}

struct uri_seen {
	int valid;  /* syntactically valid URIs */
	int mailto; /* of them, mailto: ones */
};

/* dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ] */
static const char *uri_item(const char *p, size_t n, void *ud)
{
	struct uri_seen *seen = ud;
	const char *bang = memchr(p, '!', n);
	size_t un = bang ? (size_t)(bang - p) : n, i, s;

	if (bang) {
		const char *z = bang + 1;
		size_t zn = n - un - 1;

		if (zn && in_set("kKmMgGtT", z[zn - 1]))
			zn--;
		if (number_check(z, zn, ~0ULL))
			return "bad size limit after '!' (digits, then k, m, g or t)";
	}
	if (un == 0 || !alpha(p[0]))
		return "not a URI (missing mailto:?)";
	for (s = 1; s < un && (alpha(p[s]) || digit(p[s]) || in_set("+-.", p[s])); s++)
		;
	if (s == un || p[s] != ':' || s + 1 == un)
		return "not a URI (missing mailto:?)";
	for (i = s + 1; i < un; i++) {
		if (p[i] == '%') {
			if (i + 2 >= un || !isxdigit((unsigned char)p[i + 1]) ||
			    !isxdigit((unsigned char)p[i + 2]))
				return "bad %-escape in URI";
			i += 2;
		} else if (!uri_char(p[i])) {
			return "character not allowed in a URI";
		}
	}
	seen->valid++;
	if (s == 6 && strncasecmp(p, "mailto", 6) == 0) {
		const char *at = memchr(p + 7, '@', un - 7);
		size_t dom = at ? (size_t)(p + un - at - 1) : 0;
		const char *q = at ? memchr(at + 1, '?', dom) : NULL;

		if (q)
			dom = (size_t)(q - at - 1);
		if (!at || at == p + 7 || dom == 0)
			return "mailto: without a mail address";
		seen->mailto++;
	}
	return NULL;
}

/* One value-checked tag: a WARNING naming it when the value is bad. */
static void tag_warn(struct dmarc *d, const struct dtag *t, const char *why)
{
	char esc[120];

	if (!t || !why)
		return;
	dns_txt__escape(t->val, t->vn, 60, esc, sizeof(esc));
	dns_txt__raise(d->v, MAMORI_WARNING,
	               "DMARC tag %.*s=\"%s\": %s (receivers use the default)", (int)t->nn, t->name,
	               esc, why);
}

static const char *const known_tags[] = { "v",  "p",  "sp",  "rua", "ruf", "adkim", "aspf", "ri",
	                                  "fo", "rf", "pct", "np",  "psd", "t",     NULL };

/* Duplicates and unknown tags. */
static void dmarc_names(struct dmarc *d)
{
	for (int i = 1; i < d->n; i++) {
		const struct dtag *t = &d->t[i];
		int known = 0, first = -1;

		for (const char *const *k = known_tags; *k; k++)
			if (t->nn == strlen(*k) && strncasecmp(t->name, *k, t->nn) == 0)
				known = 1;
		if (!known) {
			dns_txt__note(d->v, "unknown DMARC tag %.*s= ignored", (int)t->nn, t->name);
			continue;
		}
		for (int k = 0; k < i && first < 0; k++)
			if (d->t[k].nn == t->nn && strncasecmp(d->t[k].name, t->name, t->nn) == 0)
				first = k;
		if (first < 0)
			continue;
		if (t->nn == 1 && (t->name[0] | 0x20) == 'p' &&
		    !(d->t[first].vn == t->vn && strncasecmp(d->t[first].val, t->val, t->vn) == 0))
			dns_txt__raise(d->v, MAMORI_CRITICAL,
			               "DMARC record has p= twice with different values: receivers "
			               "differ on which applies");
		else
			dns_txt__raise(
			    d->v, MAMORI_WARNING,
			    "DMARC tag %.*s= given twice (receivers take the first, the last "
			    "or reject the record)",
			    (int)t->nn, t->name);
	}
}

/* The optional tags, each against its grammar. */
static void dmarc_optional(struct dmarc *d, struct uri_seen *rua)
{
	static const char *const rs[] = { "r", "s", NULL }, *const yn[] = { "y", "n", NULL },
	                         *const ynu[] = { "y", "n", "u", NULL };
	struct uri_seen ruf = { 0, 0 };
	const struct dtag *t;
	const char *why;

	t = dget(d, "adkim", NULL);
	tag_warn(d, t, t && !one_of(t, rs) ? "must be r or s" : NULL);
	t = dget(d, "aspf", NULL);
	tag_warn(d, t, t && !one_of(t, rs) ? "must be r or s" : NULL);
	t = dget(d, "ri", NULL);
	tag_warn(d, t, t ? number_check(t->val, t->vn, 4294967295ULL) : NULL);
	t = dget(d, "fo", NULL);
	tag_warn(d, t, t ? list_each(t, ':', fo_item, NULL) : NULL);
	t = dget(d, "rf", NULL);
	tag_warn(d, t, t ? list_each(t, ':', rf_item, NULL) : NULL);
	t = dget(d, "pct", NULL);
	if (t) {
		why = t->vn > 3 ? "must be 0..100" : number_check(t->val, t->vn, 100);
		tag_warn(d, t, why ? "must be 0..100" : NULL);
		if (!why && !dval_is(t, "100"))
			dns_txt__note(d->v, "DMARC policy applies to %.*s%% of failing mail",
			              (int)t->vn, t->val);
	}
	t = dget(d, "ruf", NULL);
	tag_warn(d, t, t ? list_each(t, ',', uri_item, &ruf) : NULL);
	t = dget(d, "rua", NULL);
	why = t ? list_each(t, ',', uri_item, rua) : NULL;
	tag_warn(d, t, why);
	if (!t)
		dns_txt__note(d->v, "no rua= (aggregate reports are not requested)");
	else if (!why && !rua->mailto)
		dns_txt__note(d->v,
		              "rua= has no mailto: URI; receivers only have to support mailto: "
		              "(RFC 7489 6.2)");
	/* DMARCbis draft tags: receivers of RFC 7489 ignore them. */
	t = dget(d, "np", NULL);
	tag_warn(d, t, t && !policy_ok(t) ? "must be none, quarantine or reject" : NULL);
	t = dget(d, "psd", NULL);
	tag_warn(d, t, t && !one_of(t, ynu) ? "must be y, n or u" : NULL);
	t = dget(d, "t", NULL);
	tag_warn(d, t, t && !one_of(t, yn) ? "must be y or n" : NULL);
	if (dval_is(t, "y"))
		dns_txt__note(d->v, "DMARC t=y: testing mode, receivers apply a milder policy");
}

void dns_txt__dmarc_judge(const struct dt_txtset *set, int none_state, struct dt_verdict *v)
{
	struct dmarc *d;
	struct uri_seen rua = { 0, 0 };
	const struct dt_txt *rec = NULL;
	const struct dtag *p, *sp;
	const char *effect;
	char esc[120];
	size_t found = 0;
	int p_at = 0;

	for (size_t i = 0; i < set->n; i++)
		if (dns_txt__is_dmarc(&set->v[i]) && found++ == 0)
			rec = &set->v[i];
	if (!rec) {
		const char *why = NULL;
		size_t i;

		for (i = 0; i < set->n && !why; i++)
			why = dmarc_near_miss(&set->v[i]);
		if (why)
			dns_txt__escape(set->v[i - 1].data, set->v[i - 1].len, 40, esc,
			                sizeof(esc));
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "no DMARC record (no TXT starting with v=DMARC1)%s%s%s%s",
		               why ? ": \"" : "", why ? esc : "",
		               why ? "\" looks like one but " : "", why ? why : "");
		return;
	}
	if (found > 1) {
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "%zu DMARC records, receivers ignore all of them", found);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		dns_txt__raise(v, MAMORI_UNKNOWN, "out of memory");
		return;
	}
	d->v = v;
	dmarc_split(d, rec->data, rec->len, dmarc_version(rec->data, rec->len));
	dmarc_names(d);
	dmarc_optional(d, &rua);
	/* RFC 7489 6.6.3: without a valid p=, or with an invalid sp=, a
	 * receiver acts as if p=none was published when rua= holds a valid
	 * URI, and applies no DMARC at all otherwise. */
	effect = rua.valid ? "receivers act as if p=none (RFC 7489 6.6.3)"
	                   : "receivers apply no DMARC (RFC 7489 6.6.3)";
	p = dget(d, "p", &p_at);
	sp = dget(d, "sp", NULL);
	if (!p) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DMARC record has no p= policy: %s", effect);
		goto out;
	}
	dns_txt__escape(p->val, p->vn, 40, esc, sizeof(esc));
	if (!policy_ok(p)) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DMARC record has an invalid p=\"%s\": %s", esc,
		               effect);
		goto out;
	}
	if (sp && !policy_ok(sp)) {
		dns_txt__escape(sp->val, sp->vn, 40, esc, sizeof(esc));
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "DMARC record has an invalid sp=\"%s\", which counts as an invalid "
		               "policy: %s",
		               esc, effect);
		goto out;
	}
	if (p_at != 1)
		dns_txt__raise(v, MAMORI_WARNING,
		               "DMARC p= must come right after v=DMARC1 (RFC 7489 6.4); strict "
		               "receivers ignore the record");
	if (dval_is(p, "none"))
		dns_txt__raise(v, none_state,
		               "DMARC p=none: monitoring only, spoofed mail is delivered");
	if (!v->has_msg)
		dns_txt__raise(v, MAMORI_OK, "DMARC p=%.*s%s%.*s", (int)p->vn, p->val,
		               sp ? " sp=" : "", sp ? (int)sp->vn : 0, sp ? sp->val : "");
out:
	free(d);
}

/* Base64 without whitespace into a new buffer; returns its length or -1. */
static long b64_decode(const struct tag *p, unsigned char **out)
{
	char *clean = malloc(p->vn + 1);
	unsigned char *bin = NULL;
	size_t cn = 0, pad = 0;
	int dn;

	*out = NULL;
	if (!clean)
		return -1;
	for (size_t i = 0; i < p->vn; i++)
		if (!fws(p->val[i]))
			clean[cn++] = p->val[i];
	clean[cn] = '\0';
	while (pad < cn && pad < 3 && clean[cn - 1 - pad] == '=')
		pad++;
	if (cn == 0 || cn % 4 || pad > 2)
		goto fail;
	bin = malloc(cn / 4 * 3 + 1);
	if (!bin)
		goto fail;
	dn = EVP_DecodeBlock(bin, (const unsigned char *)clean, (int)cn);
	if (dn < 0 || (size_t)dn < pad)
		goto fail;
	free(clean);
	*out = bin;
	return dn - (long)pad; /* EVP_DecodeBlock counts the padding bytes */
fail:
	free(clean);
	free(bin);
	return -1;
}

static void dkim_key(const struct tag *k, const struct tag *p, struct dt_verdict *v)
{
	unsigned char *bin;
	const unsigned char *q;
	long n = b64_decode(p, &bin);
	EVP_PKEY *key = NULL;

	if (n < 0) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM p= is not valid base64");
		return;
	}
	q = bin;
	if (val_is(k, "ed25519")) {
		key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, bin, (size_t)n);
		if (!key)
			dns_txt__raise(v, MAMORI_CRITICAL, "DKIM p= is not an Ed25519 key");
		else
			dns_txt__raise(v, MAMORI_OK, "DKIM key ed25519");
		goto out;
	}
	key = d2i_PUBKEY(NULL, &q, n);
	if (!key || q != bin + n) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM p= does not hold a public key");
	} else if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM k=rsa but p= holds another key type");
	} else if (EVP_PKEY_bits(key) < MIN_RSA_BITS) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM RSA key too short (%d bits)",
		               EVP_PKEY_bits(key));
	} else {
		dns_txt__raise(v, MAMORI_OK, "DKIM key rsa %d bits", EVP_PKEY_bits(key));
	}
out:
	EVP_PKEY_free(key);
	free(bin);
}

void dns_txt__dkim_judge(const struct dt_txtset *set, struct dt_verdict *v)
{
	struct tag t[MAX_TAGS];
	const struct tag *p, *k, *ver, *flags;
	const struct dt_txt *rec;
	int n;

	if (set->n == 0) {
		dns_txt__raise(v, MAMORI_CRITICAL, "no DKIM key record");
		return;
	}
	if (set->n > 1)
		dns_txt__raise(v, MAMORI_WARNING,
		               "%zu TXT records at the selector, verifiers may "
		               "pick any",
		               set->n);
	rec = &set->v[0];
	n = tags_parse(rec->data, rec->len, t, MAX_TAGS);
	if (n < 1 || memchr(rec->data, '\0', rec->len)) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM key record syntax error");
		return;
	}
	ver = tag_get(t, n, "v");
	if (ver && (!val_is(ver, "DKIM1") || ver != &t[0])) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM record has a bad v= tag");
		return;
	}
	k = tag_get(t, n, "k");
	if (k && !val_is(k, "rsa") && !val_is(k, "ed25519")) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM record has an unknown key type k=");
		return;
	}
	p = tag_get(t, n, "p");
	if (!p) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM record has no p= tag");
		return;
	}
	if (p->vn == 0) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DKIM key revoked (empty p=)");
		return;
	}
	dkim_key(k, p, v);
	flags = tag_get(t, n, "t");
	if (flags && memchr(flags->val, 'y', flags->vn))
		dns_txt__note(v, "DKIM key in testing mode (t=y)");
}
