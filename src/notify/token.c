/*
 * token: what a reply must carry to act - signatures under the
 * notification key (notify.secret_file; without one, a random key per
 * process, so replies to messages of an earlier run no longer verify).
 *
 * An e-mail's ids and its reply address end in three '+'-separated
 * parts, ALERT+CONTACT+SIG, where SIG is HMAC-SHA256(key, "msg", alert,
 * contact) in 32 hex digits:
 *   thread root   <ALERT+CONTACT+SIG@domain>           (never sent itself)
 *   a message     <SEQ.EVENT.CHANNEL+ALERT+CONTACT+SIG@domain>
 *   reply address notify.reply_to with {token} = ALERT+CONTACT+SIG
 * so a reply's In-Reply-To, References or To names the alert and the
 * contact it may act for, and nobody without the key can make one.
 * ALERT is the alert id when it has only [A-Za-z0-9._-] (node names
 * usually), else '=' and its bytes in hex.  An SMS reply names its alert
 * by a 4-digit code from the same key, checked against the alerts its
 * sender's contact was paged for.
 *
 * Must never: compare signatures in variable time, accept a part it
 * cannot decode.
 */
#include "notify/notify_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static void mac(const struct notify_conf *nc, const char *kind, const char *alert_id,
                const char *contact, unsigned char out[32])
{
	unsigned char buf[1024];
	size_t n = 0;
	const char *parts[3] = { kind, alert_id, contact };
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(parts[i]);
		if (n + l + 1 > sizeof buf)
			l = sizeof buf - n - 1;
		memcpy(buf + n, parts[i], l);
		n += l;
		buf[n++] = 0;
	}
	unsigned len = 32;
	static const unsigned char none[1];
	HMAC(EVP_sha256(), nc->secret ? nc->secret : none, nc->secret ? (int)nc->secret_len : 0,
	     buf, n, out, &len);
}

void ntoken_sig(const struct notify_conf *nc, const char *kind, const char *alert_id,
                const char *contact, char out[33])
{
	unsigned char m[32];
	mac(nc, kind, alert_id, contact, m);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", m[i]);
}

static int safe(const char *s)
{
	if (!*s)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* ALERT as it appears in tokens. */
static void enc(const char *s, char *buf, size_t size)
{
	if (safe(s)) {
		snprintf(buf, size, "%s", s);
		return;
	}
	size_t o = 0;
	if (size)
		buf[o++] = '=';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 3 < size; p++)
		o += (size_t)snprintf(buf + o, size - o, "%02x", *p);
	buf[o < size ? o : size - 1] = '\0';
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int dec(const char *s, size_t n, char *out, size_t size)
{
	if (n && s[0] == '=') {
		if ((n - 1) % 2 || (n - 1) / 2 + 1 > size || n < 3)
			return -1;
		size_t o = 0;
		for (size_t i = 1; i < n; i += 2) {
			int a = hexval(s[i]), b = hexval(s[i + 1]);
			if (a < 0 || b < 0 || (a == 0 && b == 0))
				return -1;
			out[o++] = (char)(a * 16 + b);
		}
		out[o] = '\0';
		return 0;
	}
	if (!n || n + 1 > size)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return safe(out) ? 0 : -1;
}

void ntoken_root(const struct notify_conf *nc, const char *alert_id, const char *contact, char *buf,
                 size_t size)
{
	char a[300], sig[33];
	enc(alert_id, a, sizeof a);
	ntoken_sig(nc, "msg", alert_id, contact, sig);
	snprintf(buf, size, "<%s+%s+%s@%s>", a, contact, sig, nc->msgid_domain);
}

void ntoken_msgid(const struct notify_conf *nc, const char *alert_id, int64_t seq,
                  const char *event, const char *contact, const char *channel, char *buf,
                  size_t size)
{
	char a[300], sig[33];
	enc(alert_id, a, sizeof a);
	ntoken_sig(nc, "msg", alert_id, contact, sig);
	snprintf(buf, size, "<%lld.%s.%s+%s+%s+%s@%s>", (long long)seq, event, channel, a, contact,
	         sig, nc->msgid_domain);
}

int ntoken_parse(const struct notify_conf *nc, const char *ref, char *alert_id, size_t alen,
                 char *contact, size_t clen)
{
	if (!ref)
		return -1;
	const char *lt = strrchr(ref, '<');
	const char *start = lt ? lt + 1 : ref;
	while (*start == ' ' || *start == '\t')
		start++;
	const char *at = strchr(start, '@');
	if (!at || at == start)
		return -1;
	/* the last three '+'-separated parts before '@' */
	const char *p3 = at, *p2, *p1;
	const char *q = at;
	int found = 0;
	const char *marks[3] = { NULL, NULL, NULL };
	while (q > start && found < 3) {
		q--;
		if (*q == '+')
			marks[found++] = q;
	}
	if (found < 2)
		return -1;
	p3 = marks[0] + 1;                      /* sig */
	p2 = marks[1] + 1;                      /* contact */
	p1 = found == 3 ? marks[2] + 1 : start; /* alert */
	size_t ls = (size_t)(at - p3), lc = (size_t)(marks[0] - p2), la = (size_t)(marks[1] - p1);
	char sig[40];
	if (ls != 32 || dec(p2, lc, contact, clen) != 0 || dec(p1, la, alert_id, alen) != 0)
		return -1;
	memcpy(sig, p3, 32);
	sig[32] = '\0';
	char want[33];
	ntoken_sig(nc, "msg", alert_id, contact, want);
	return CRYPTO_memcmp(sig, want, 32) == 0 ? 0 : -1;
}

unsigned ntoken_code(const struct notify_conf *nc, const char *alert_id, const char *contact)
{
	unsigned char m[32];
	mac(nc, "sms", alert_id, contact, m);
	unsigned v = ((unsigned)m[0] << 24) | ((unsigned)m[1] << 16) | ((unsigned)m[2] << 8) | m[3];
	return v % 10000;
}
