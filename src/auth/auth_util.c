/*
 * auth_util: the small pieces of src/auth - randomness (OpenSSL
 * RAND_bytes), SHA-256, base64url and hex, the rules for user names,
 * passwords and scopes, and copies of scopes and principals.
 *
 * Must never: fall back to a weak random source (no randomness is an
 * error the caller reports), keep a copy of a secret it was handed.
 */
#include "auth/auth_int.h"
#include "util/esc.h"
#include "util/jsonw.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int auth__random(unsigned char *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

void auth__sha256(const void *data, size_t len, unsigned char out[32])
{
	SHA256(data, len, out);
}

void auth__b64url(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
}

void auth__hex(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = tab[in[i] >> 4];
		out[2 * i + 1] = tab[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int auth__random_b64(char out[AUTH_SESSION_LEN + 1])
{
	unsigned char r[32];
	if (auth__random(r, sizeof r) != 0)
		return -1;
	auth__b64url(r, sizeof r, out);
	OPENSSL_cleanse(r, sizeof r);
	return 0;
}

int auth__wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
	return 0;
}

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int auth__name_ok(const char *s)
{
	if (!s || !is_alnum((unsigned char)s[0]))
		return 0;
	size_t n = 0;
	for (const char *p = s; *p; p++, n++) {
		unsigned char c = (unsigned char)*p;
		if (n >= AUTH_NAME_MAX)
			return 0;
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-' && c != '@')
			return 0;
	}
	return 1;
}

void auth__addr_key(const char *from, char *out, size_t n)
{
	unsigned char a6[16];
	struct in_addr a4;
	if (!from || !*from) {
		snprintf(out, n, "-");
		return;
	}
	if (strlen(from) < 64 && inet_pton(AF_INET, from, &a4) == 1) {
		inet_ntop(AF_INET, &a4, out, (socklen_t)n);
		return;
	}
	if (strlen(from) < 64 && inet_pton(AF_INET6, from, a6) == 1) {
		/* An IPv4-mapped address is the IPv4 address; anything else
		 * counts by its /64 (one customer site, one attacker's
		 * subnet: they get the addresses of a /64 for free). */
		static const unsigned char mapped[12] = {
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
		};
		if (memcmp(a6, mapped, 12) == 0) {
			memcpy(&a4, a6 + 12, 4);
			inet_ntop(AF_INET, &a4, out, (socklen_t)n);
			return;
		}
		memset(a6 + 8, 0, 8);
		char txt[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, a6, txt, sizeof txt);
		snprintf(out, n, "%s/64", txt);
		return;
	}
	/* not an address (a UNIX socket's "unix", a proxy's garbage): the
	 * text itself, made printable and cut */
	esc_text(out, n, from);
}

long auth__utf8_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	while (*p) {
		unsigned c = *p;
		size_t len;
		unsigned cp;
		if (c < 0x80) {
			len = 1;
			cp = c;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return -1;
		}
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		p += len;
		n++;
	}
	return n;
}

int auth__refuse(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

#define invalid(err, errlen, ...) auth__refuse(err, errlen, AUTH_E_INVALID, __VA_ARGS__)

int auth__password_ok(const struct auth *a, const char *pw, const char *field, char *err,
                      size_t errlen)
{
	if (!pw)
		return invalid(err, errlen, "%s: missing", field);
	if (strlen(pw) > AUTH_PASSWORD_MAX)
		return invalid(err, errlen, "%s: longer than %d bytes", field, AUTH_PASSWORD_MAX);
	long n = auth__utf8_chars(pw);
	if (n < 0)
		return invalid(err, errlen, "%s: not valid UTF-8", field);
	if (n < (long)a->c.min_password)
		return invalid(err, errlen, "%s: shorter than %u characters", field,
		               a->c.min_password);
	return 0;
}

/* The configuration's rule for center and customer names. */
static int scope_name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > AUTH_SCOPE_MAX || auth__utf8_chars(s) < 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ' ' || *p == '/' || *p == '+' || *p == '#')
			return 0;
	/* C1 controls (U+0080..U+009F, "\xc2\x80".."\xc2\x9f") */
	for (const unsigned char *p = (const unsigned char *)s; p[0] && p[1]; p++)
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 0;
	return 1;
}

int auth__scope_from(struct auth__scope *dst, const struct auth_scope *src, char *err,
                     size_t errlen)
{
	memset(dst, 0, sizeof *dst);
	switch (src->role) {
	case AUTH_ADMIN:
		if (src->n_centers || src->customer)
			return invalid(err, errlen, "scope: an admin has no centers or customer");
		break;
	case AUTH_OPERATOR:
		if (src->customer)
			return invalid(err, errlen,
			               "scope: an operator has centers, not a customer");
		if (!src->n_centers || !src->centers)
			return invalid(err, errlen,
			               "centers: an operator needs at least one center");
		if (src->n_centers > AUTH_CENTERS_MAX)
			return invalid(err, errlen, "centers: more than %d centers",
			               AUTH_CENTERS_MAX);
		for (size_t i = 0; i < src->n_centers; i++) {
			if (!scope_name_ok(src->centers[i]))
				return invalid(
				    err, errlen,
				    "centers: entry %zu is not a center name (1..128 bytes"
				    " of UTF-8, no control character, space, '/', '+' or"
				    " '#')",
				    i);
			for (size_t k = 0; k < i; k++)
				if (strcmp(src->centers[k], src->centers[i]) == 0)
					return invalid(err, errlen,
					               "centers: entry %zu repeats a center", i);
		}
		break;
	case AUTH_VIEWER:
		if (src->n_centers)
			return invalid(err, errlen, "scope: a viewer has a customer, not centers");
		if (!scope_name_ok(src->customer))
			return invalid(err, errlen,
			               "customer: a viewer needs a customer name (1..128 bytes of"
			               " UTF-8, no control character, space, '/', '+' or '#')");
		break;
	default: return invalid(err, errlen, "role: admin, operator or viewer");
	}
	dst->role = src->role;
	if (src->role == AUTH_OPERATOR) {
		dst->centers = xcalloc(src->n_centers, sizeof *dst->centers);
		for (size_t i = 0; i < src->n_centers; i++)
			dst->centers[i] = xstrdup(src->centers[i]);
		dst->n_centers = src->n_centers;
	}
	if (src->role == AUTH_VIEWER)
		dst->customer = xstrdup(src->customer);
	return 0;
}

void auth__scope_copy(struct auth__scope *dst, const struct auth__scope *src)
{
	dst->role = src->role;
	dst->n_centers = src->n_centers;
	dst->centers = src->n_centers ? xcalloc(src->n_centers, sizeof *dst->centers) : NULL;
	for (size_t i = 0; i < src->n_centers; i++)
		dst->centers[i] = xstrdup(src->centers[i]);
	dst->customer = src->customer ? xstrdup(src->customer) : NULL;
}

void auth__scope_free(struct auth__scope *s)
{
	for (size_t i = 0; i < s->n_centers; i++)
		free(s->centers[i]);
	free(s->centers);
	free(s->customer);
	memset(s, 0, sizeof *s);
}

static int has_center(const struct auth__scope *s, const char *c)
{
	for (size_t i = 0; i < s->n_centers; i++)
		if (strcmp(s->centers[i], c) == 0)
			return 1;
	return 0;
}

int auth__scope_within(const struct auth__scope *inner, const struct auth__scope *outer)
{
	switch (outer->role) {
	case AUTH_ADMIN: return 1;
	case AUTH_OPERATOR:
		/* an operator reads every customer: a viewer of any one is
		 * narrower; acting stays limited to its own centers */
		if (inner->role == AUTH_VIEWER)
			return 1;
		if (inner->role != AUTH_OPERATOR)
			return 0;
		for (size_t i = 0; i < inner->n_centers; i++)
			if (!has_center(outer, inner->centers[i]))
				return 0;
		return 1;
	case AUTH_VIEWER:
		return inner->role == AUTH_VIEWER && inner->customer && outer->customer &&
		       strcmp(inner->customer, outer->customer) == 0;
	}
	return 0;
}

void auth__scope_of(struct auth__scope *dst, const struct auth_principal *p)
{
	dst->role = p->role;
	dst->centers = p->centers;
	dst->n_centers = p->n_centers;
	dst->customer = p->customer;
}

char *auth__centers_json(const struct auth__scope *s)
{
	if (s->role != AUTH_OPERATOR)
		return NULL;
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < s->n_centers; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->centers[i]));
	char *txt = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (!txt)
		abort(); /* out of memory: as xmalloc does */
	char *out = xstrdup(txt);
	cJSON_free(txt);
	return out;
}

int auth__centers_parse(const char *json, struct auth__scope *s)
{
	s->centers = NULL;
	s->n_centers = 0;
	if (!json)
		return -1;
	cJSON *arr = jsonw_parse(json, strlen(json), NULL, NULL);
	if (!arr)
		return -1;
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	if (n < 1 || n > AUTH_CENTERS_MAX) {
		cJSON_Delete(arr);
		return -1;
	}
	s->centers = xcalloc((size_t)n, sizeof *s->centers);
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it) || !scope_name_ok(it->valuestring)) {
			cJSON_Delete(arr);
			auth__scope_free(s);
			return -1;
		}
		s->centers[s->n_centers++] = xstrdup(it->valuestring);
	}
	cJSON_Delete(arr);
	return 0;
}

void auth__scope_text(const struct auth__scope *s, char *buf, size_t n)
{
	size_t o = (size_t)snprintf(buf, n, "role=%s", auth_role_name(s->role));
	if (s->role == AUTH_VIEWER && o < n)
		o += (size_t)snprintf(buf + o, n - o, " customer=%s", s->customer);
	for (size_t i = 0; i < s->n_centers && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? "," : " centers=", s->centers[i]);
}

void auth__principal_fill(struct auth_principal *p, const char *user, const struct auth__scope *sc,
                          int via_token, const char *id, const char *csrf)
{
	memset(p, 0, sizeof *p);
	auth__strlcpy(p->user, user, sizeof p->user);
	struct auth__scope copy;
	auth__scope_copy(&copy, sc);
	p->role = copy.role;
	p->centers = copy.centers;
	p->n_centers = copy.n_centers;
	p->customer = copy.customer;
	p->via_token = via_token;
	auth__strlcpy(p->session_or_token_id, id, sizeof p->session_or_token_id);
	auth__strlcpy(p->csrf, csrf ? csrf : "", sizeof p->csrf);
}

void auth__strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = src ? strlen(src) : 0;
	if (len >= n) {
		len = n - 1;
		/* never end inside a UTF-8 sequence */
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ---- public helpers ---- */

const char *auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ADMIN: return "admin";
	case AUTH_OPERATOR: return "operator";
	case AUTH_VIEWER: return "viewer";
	}
	return "?";
}

int auth_role_parse(const char *s)
{
	if (!s)
		return -1;
	if (strcmp(s, "admin") == 0)
		return AUTH_ADMIN;
	if (strcmp(s, "operator") == 0)
		return AUTH_OPERATOR;
	if (strcmp(s, "viewer") == 0)
		return AUTH_VIEWER;
	return -1;
}

void auth_principal_clear(struct auth_principal *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_centers; i++)
		free(p->centers[i]);
	free(p->centers);
	free(p->customer);
	OPENSSL_cleanse(p->csrf, sizeof p->csrf);
	memset(p, 0, sizeof *p);
}

int auth_csrf_ok(const struct auth_principal *p, const char *header)
{
	if (!p)
		return 0;
	if (p->via_token)
		return 1;
	size_t n = strlen(p->csrf);
	if (!header || !n || strlen(header) != n)
		return 0;
	return CRYPTO_memcmp(p->csrf, header, n) == 0;
}

const char *auth_strerror(int err)
{
	switch (err) {
	case AUTH_OK: return "ok";
	case AUTH_E_BADCRED: return "bad credentials";
	case AUTH_E_LIMITED: return "too many failed attempts";
	case AUTH_E_FORBIDDEN: return "forbidden";
	case AUTH_E_NOTFOUND: return "not found";
	case AUTH_E_CONFLICT: return "conflict";
	case AUTH_E_INVALID: return "invalid";
	case AUTH_E_BUSY: return "busy";
	case AUTH_E_FAIL: return "internal failure";
	}
	return "unknown error";
}
