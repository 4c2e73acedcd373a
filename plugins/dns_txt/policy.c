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

int dns_txt__is_dmarc(const struct dt_txt *t)
{
	return t->len >= 8 && memcmp(t->data, "v=DMARC1", 8) == 0 &&
	       (t->len == 8 || fws(t->data[8]) || t->data[8] == ';');
}

static int dmarc_policy_ok(const struct tag *p)
{
	return val_is(p, "none") || val_is(p, "quarantine") || val_is(p, "reject");
}

void dns_txt__dmarc_judge(const struct dt_txtset *set, int none_state, struct dt_verdict *v)
{
	struct tag t[MAX_TAGS];
	const struct dt_txt *rec = NULL;
	const struct tag *p, *sp, *pct;
	size_t found = 0;
	int n;

	for (size_t i = 0; i < set->n; i++)
		if (dns_txt__is_dmarc(&set->v[i]) && found++ == 0)
			rec = &set->v[i];
	if (!rec) {
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "no DMARC record (no TXT starting with v=DMARC1)");
		return;
	}
	if (found > 1) {
		dns_txt__raise(v, MAMORI_CRITICAL,
		               "%zu DMARC records, receivers ignore all of them", found);
		return;
	}
	n = tags_parse(rec->data, rec->len, t, MAX_TAGS);
	if (n < 1 || memchr(rec->data, '\0', rec->len)) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DMARC record syntax error");
		return;
	}
	p = tag_get(t, n, "p");
	if (!dmarc_policy_ok(p)) {
		dns_txt__raise(v, MAMORI_CRITICAL, "DMARC record has %s p= policy",
		               p ? "an invalid" : "no");
		return;
	}
	if (val_is(p, "none"))
		dns_txt__raise(v, none_state,
		               "DMARC p=none: monitoring only, spoofed mail is delivered");
	sp = tag_get(t, n, "sp");
	if (sp && !dmarc_policy_ok(sp))
		dns_txt__raise(v, MAMORI_WARNING, "DMARC record has an invalid sp= policy");
	pct = tag_get(t, n, "pct");
	if (pct) {
		char buf[8] = "";
		char *end;
		long pv = -1;

		if (pct->vn > 0 && pct->vn < sizeof(buf)) {
			memcpy(buf, pct->val, pct->vn);
			pv = strtol(buf, &end, 10);
			if (*end)
				pv = -1;
		}
		if (pv < 0 || pv > 100)
			dns_txt__raise(v, MAMORI_WARNING, "DMARC record has an invalid pct=");
		else if (pv < 100)
			dns_txt__note(v, "DMARC policy applies to %ld%% of failing mail", pv);
	}
	if (!v->has_msg) {
		dns_txt__raise(v, MAMORI_OK, "DMARC p=%.*s%s%.*s", (int)p->vn, p->val,
		               sp ? " sp=" : "", sp ? (int)sp->vn : 0, sp ? sp->val : "");
	}
	if (!tag_get(t, n, "rua"))
		dns_txt__note(v, "no rua= (aggregate reports are not requested)");
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
