/*
 * test_notify_text: what a notification says and how it is written -
 * the template language (util/tmpl.c), SMS lengths and cuts (GSM-7,
 * UCS-2, surrogate pairs), the fitted SMS text of a rendered message,
 * the signed tokens replies carry, and the e-mail itself (the e-mail
 * notifier's mime.c: RFC 2047 subject, base64 body, threading headers,
 * header injection refused).  Garbage goes into every parser.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mamori/plugin.h>

#include "cal/cal.h"
#include "notify/notify_int.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/tmpl.h"

#include "plugins/email/email.h"
#include "plugins/email/mime.c"

/* ---- tmpl ---- */

static const char *lk(void *ud, const char *name, size_t n, const char *filter, size_t fl)
{
	static const char *const kv[][2] = { { "a", "A" },
		                             { "empty", "" },
		                             { "q", "say \"hi\"\n" },
		                             { "u", "a b&c/é" },
		                             { "ja", "日本語" } };
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (strlen(kv[i][0]) == n && memcmp(kv[i][0], name, n) == 0)
			return kv[i][1];
	return NULL;
}

static char *render(const char *t, int *rc)
{
	struct tmpl_buf out = { 0 };
	char err[128];
	*rc = tmpl_render(t, strlen(t), lk, NULL, &out, err, sizeof err);
	return out.p;
}

START_TEST(tmpl_fields_and_blocks)
{
	int rc;
	char *s = render(
	    "x{{a}}y{{none}}z {{?a}}has{{/a}}{{?empty}}no{{/empty}}{{!none}}absent{{/none}}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "xAyz hasabsent");
	free(s);
	s = render("{{q|json}} {{none|json}} {{u|url}}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "\"say \\\"hi\\\"\\n\" null a%20b%26c%2F%C3%A9");
	free(s);
	s = render("{{?a}}1{{?ja}}2{{!a}}never{{/a}}{{/ja}}3{{/a}}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "123");
	free(s);
	/* the same name nested */
	s = render("{{?a}}<{{?a}}in{{/a}}>{{/a}}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(s, "<in>");
	free(s);
}
END_TEST

START_TEST(tmpl_garbage)
{
	static const char *const bad[] = {
		"{{a",
		"{{?a}}never closed",
		"{{/a}}",
		"{{}}",
		"{{a b}}",
		"{{?}}{{/}}",
		"{{a|json",
		"x{{?a}}{{/b}}",
		"{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}{{?a}}x{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}"
		"{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc;
		char *s = render(bad[i], &rc);
		ck_assert_msg(rc == -1, "accepted: %s", bad[i]);
		free(s);
	}
	/* random bytes: never a crash, always a NUL-terminated result */
	uint32_t x = 12345;
	for (int round = 0; round < 2000; round++) {
		char t[64];
		size_t n = (size_t)(round % 63);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			static const char alpha[] = "{}?!/|ab ";
			t[i] = alpha[(x >> 16) % (sizeof alpha - 1)];
		}
		t[n] = '\0';
		int rc;
		free(render(t, &rc));
	}
}
END_TEST

START_TEST(tmpl_sections)
{
	const char *file = "# comment\n[one]\nfirst\nline\n[two.x]\nsecond\n[three]\n";
	const char *b;
	size_t n;
	ck_assert_int_eq(tmpl_section(file, "one", &b, &n), 0);
	ck_assert_int_eq((int)n, 10);
	ck_assert_int_eq(memcmp(b, "first\nline", n), 0);
	ck_assert_int_eq(tmpl_section(file, "two.x", &b, &n), 0);
	ck_assert_int_eq(memcmp(b, "second", n), 0);
	ck_assert_int_eq(tmpl_section(file, "three", &b, &n), 0);
	ck_assert_int_eq((int)n, 0);
	ck_assert_int_eq(tmpl_section(file, "four", &b, &n), -1);
	ck_assert_int_eq(tmpl_section("", "one", &b, &n), -1);
}
END_TEST

/* ---- SMS ---- */

START_TEST(sms_lengths)
{
	struct sms_len L;
	sms_measure("Hello @ world $5", &L);
	ck_assert_int_eq(L.ucs2, 0);
	ck_assert_uint_eq(L.units, 16);
	sms_measure("a[b]c{d}~€", &L); /* escaped characters count twice */
	ck_assert_int_eq(L.ucs2, 0);
	ck_assert_uint_eq(L.units, 16);
	sms_measure("ÄÖÜ é ñ", &L); /* the GSM alphabet's accented letters */
	ck_assert_int_eq(L.ucs2, 0);
	ck_assert_uint_eq(L.units, 7);
	sms_measure("a`b", &L); /* a backtick is not GSM-7 */
	ck_assert_int_eq(L.ucs2, 1);
	sms_measure("監視", &L);
	ck_assert_int_eq(L.ucs2, 1);
	ck_assert_uint_eq(L.units, 2);
	sms_measure("ok 🚨", &L); /* outside the BMP: a surrogate pair */
	ck_assert_int_eq(L.ucs2, 1);
	ck_assert_uint_eq(L.units, 5);
	char s[400];
	memset(s, 'x', 160);
	s[160] = '\0';
	sms_measure(s, &L);
	ck_assert_uint_eq(L.segments, 1);
	s[160] = 'x';
	s[161] = '\0';
	sms_measure(s, &L);
	ck_assert_uint_eq(L.segments, 2);
	ck_assert_uint_eq(sms_capacity(0, 1), 160);
	ck_assert_uint_eq(sms_capacity(0, 2), 306);
	ck_assert_uint_eq(sms_capacity(1, 1), 70);
	ck_assert_uint_eq(sms_capacity(1, 3), 201);
}
END_TEST

START_TEST(sms_cuts_between_characters)
{
	/* 3 units: "ab" + the first half of a pair would be 3; the pair is
	 * never split */
	size_t u;
	ck_assert_uint_eq(sms_prefix("ab🚨c", 1, 3, &u), 2);
	ck_assert_uint_eq(u, 2);
	ck_assert_uint_eq(sms_prefix("ab🚨c", 1, 4, &u), 6);
	ck_assert_uint_eq(u, 4);
	/* UTF-8 of Japanese: 3 bytes a character, 1 unit */
	ck_assert_uint_eq(sms_prefix("日本語", 1, 2, &u), 6);
	/* GSM: an escaped character is not split from its escape */
	ck_assert_uint_eq(sms_prefix("a€b", 0, 2, &u), 1);
	ck_assert_uint_eq(sms_prefix("a€b", 0, 3, &u), 4);
	/* invalid UTF-8: one character per bad byte, never read past the end */
	ck_assert_uint_eq(sms_prefix("\xe6\x97", 1, 10, &u), 2);
	ck_assert_uint_eq(u, 2);
}
END_TEST

/* A rendered SMS for one alert and contact (through nrender). */
struct rfx {
	struct notify_conf *nc;
	struct ncontact ct;
	struct nchannel ch;
	struct ntemplates *t;
	struct nitem it;
};

static void rfx_init(struct rfx *r, const char *lang, const char *summary, unsigned segments)
{
	memset(r, 0, sizeof *r);
	r->nc = notify_conf_empty();
	r->nc->link_base = xstrdup("https://mmr.jp");
	r->ct.name = "tanaka";
	r->ct.lang = (char *)lang;
	char err[CAL_ERRLEN];
	const char *h[] = { "24x7" };
	r->ct.tz = cal_new("tz", "Asia/Tokyo", h, 1, err, sizeof err);
	r->ch.name = "sms";
	r->ch.flags = MAMORI_PLUGIN_SMS | MAMORI_PLUGIN_NEEDS_PHONE;
	r->ch.segments = segments;
	r->t = ntemplates_load("share/mamori");
	r->it.alert_id = "A-node1-01M9730R3Z0000";
	r->it.event = "opened";
	r->it.contact = "tanaka";
	r->it.channel = "sms";
	r->it.seq = 1;
	r->it.key = "k";
	r->it.f.customer = "c0001";
	r->it.f.customer_name = "株式会社サンプル製作所";
	r->it.f.asset = "utm-1";
	r->it.f.check = "utm";
	r->it.f.service = "utm";
	r->it.f.summary = (char *)summary;
	r->it.f.state = 2;
	r->it.f.opened_at = 1796608123;
	r->it.f.ack_due = 1796609023;
}

static void rfx_free(struct rfx *r)
{
	cal_free(r->ct.tz);
	ntemplates_free(r->t);
	notify_conf_free(r->nc);
}

START_TEST(sms_fitted)
{
	static const char *const summaries[] = {
		"UTM 応答なし",
		"UTM 応答なし: ping 100% loss, SNMP timeout, HTTPS management unreachable since 03:12",
		"🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨🚨",
		"plain ASCII output that goes on and on and on and on and on and on and on and on and "
		"on and on and on and on and on and on and on and on and on and on and on and on",
	};
	static const char *const langs[] = { "ja", "en" };
	for (size_t l = 0; l < 2; l++)
		for (unsigned seg = 1; seg <= 2; seg++)
			for (size_t i = 0; i < sizeof summaries / sizeof summaries[0]; i++) {
				struct rfx r;
				rfx_init(&r, langs[l], summaries[i], seg);
				struct nitem *items[1] = { &r.it };
				struct nmsg m;
				ck_assert_int_eq(
				    nrender(r.t, r.nc, &r.ct, &r.ch, items, 1, "n", 1796608123, &m),
				    0);
				struct sms_len L;
				sms_measure(m.short_text, &L);
				ck_assert_msg(L.units <= sms_capacity(L.ucs2, seg),
				              "%s %u: %zu units: %s", langs[l], seg, L.units,
				              m.short_text);
				/* what matters stays: customer, severity, the link (an
				 * English text for a Japanese customer is UCS-2: its 70
				 * units do not hold the link as well) */
				if (seg == 2 || l == 0)
					ck_assert_msg(
					    strstr(m.short_text, "https://mmr.jp/a/01M9730R3Z0000"),
					    "no link: %s", m.short_text);
				/* the customer: whole, or its start when 70 units are tight */
				if (seg == 2 || l == 0)
					ck_assert_msg(strstr(m.short_text, "株式会社"),
					              "no customer: %s", m.short_text);
				/* valid UTF-8 throughout (nothing cut inside a character) */
				for (const unsigned char *p = (const unsigned char *)m.short_text;
				     *p;) {
					int n = (*p & 0x80) == 0      ? 1
					        : (*p & 0xe0) == 0xc0 ? 2
					        : (*p & 0xf0) == 0xe0 ? 3
					        : (*p & 0xf8) == 0xf0 ? 4
					                              : 0;
					ck_assert_msg(n > 0, "bad lead byte in %s", m.short_text);
					for (int k = 1; k < n; k++)
						ck_assert_msg((p[k] & 0xc0) == 0x80,
						              "cut character in %s", m.short_text);
					p += n;
				}
				/* two segments leave room for a part of a long output,
				 * which then ends in an ellipsis */
				if (seg == 2 && strlen(summaries[i]) > 140)
					ck_assert_msg(strstr(m.short_text, "\xe2\x80\xa6") ||
					                  strstr(m.short_text, "..."),
					              "no ellipsis: %s", m.short_text);
				nmsg_free(&m);
				rfx_free(&r);
			}
}
END_TEST

START_TEST(rendered_mail)
{
	struct rfx r;
	rfx_init(&r, "ja", "UTM 応答なし", 1);
	r.ch.name = "mail";
	r.ch.flags = MAMORI_PLUGIN_NEEDS_EMAIL;
	r.nc->reply_to = xstrdup("mamori+{token}@example.jp");
	struct nitem *items[1] = { &r.it };
	struct nmsg m;
	ck_assert_int_eq(nrender(r.t, r.nc, &r.ct, &r.ch, items, 1, "node1", 1796608123, &m), 0);
	ck_assert_ptr_null(strpbrk(m.subject, "\r\n"));
	ck_assert_ptr_nonnull(strstr(m.subject, "株式会社サンプル製作所"));
	ck_assert_ptr_nonnull(strstr(m.body, "確認期限: "));
	ck_assert_ptr_nonnull(strstr(m.body, "「了解」"));
	ck_assert_ptr_nonnull(strstr(m.body, "+09:00")); /* the contact's zone (default Tokyo) */
	/* the reply address names alert and contact with a signature */
	char alert[128], contact[64];
	ck_assert_int_eq(
	    ntoken_parse(r.nc, m.reply_to, alert, sizeof alert, contact, sizeof contact), 0);
	ck_assert_str_eq(alert, "A-node1-01M9730R3Z0000");
	ck_assert_str_eq(contact, "tanaka");
	ck_assert_int_eq(
	    ntoken_parse(r.nc, m.message_id, alert, sizeof alert, contact, sizeof contact), 0);
	ck_assert_int_eq(
	    ntoken_parse(r.nc, m.in_reply_to, alert, sizeof alert, contact, sizeof contact), 0);
	nmsg_free(&m);
	rfx_free(&r);
}
END_TEST

/* ---- tokens ---- */

START_TEST(tokens)
{
	struct notify_conf *nc = notify_conf_empty();
	memset(nc->secret, 7, nc->secret_len);
	char root[256], id[256], a[128], c[64];
	ntoken_root(nc, "A-node1-01M9730R3Z0000", "tanaka", root, sizeof root);
	ntoken_msgid(nc, "A-node1-01M9730R3Z0000", 5, "escalated", "tanaka", "mail", id, sizeof id);
	ck_assert_int_eq(ntoken_parse(nc, root, a, sizeof a, c, sizeof c), 0);
	ck_assert_str_eq(a, "A-node1-01M9730R3Z0000");
	ck_assert_int_eq(ntoken_parse(nc, id, a, sizeof a, c, sizeof c), 0);
	ck_assert_str_eq(c, "tanaka");
	/* as a reply quotes them: "Name <...>", spaces */
	char quoted[300];
	snprintf(quoted, sizeof quoted, "Tanaka Taro %s", root);
	ck_assert_int_eq(ntoken_parse(nc, quoted, a, sizeof a, c, sizeof c), 0);
	/* another contact with the same signature: refused */
	char forged[300];
	snprintf(forged, sizeof forged, "%s", root);
	char *t = strstr(forged, "+tanaka+");
	ck_assert_ptr_nonnull(t);
	memcpy(t, "+suzuki+", 8);
	ck_assert_int_eq(ntoken_parse(nc, forged, a, sizeof a, c, sizeof c), -1);
	/* a flipped signature digit */
	snprintf(forged, sizeof forged, "%s", root);
	char *at = strchr(forged, '@');
	at[-1] = at[-1] == '0' ? '1' : '0';
	ck_assert_int_eq(ntoken_parse(nc, forged, a, sizeof a, c, sizeof c), -1);
	/* another key */
	struct notify_conf *other = notify_conf_empty();
	memset(other->secret, 8, other->secret_len);
	ck_assert_int_eq(ntoken_parse(other, root, a, sizeof a, c, sizeof c), -1);
	/* an alert id with characters a token cannot carry: hex */
	ntoken_root(nc, "A-ノード-01", "tanaka", root, sizeof root);
	ck_assert_ptr_nonnull(strstr(root, "<=41"));
	ck_assert_int_eq(ntoken_parse(nc, root, a, sizeof a, c, sizeof c), 0);
	ck_assert_str_eq(a, "A-ノード-01");
	/* garbage */
	static const char *const junk[] = { "",
		                            "<>",
		                            "@",
		                            "<a+b+c@d>",
		                            "+++@",
		                            "<=zz+tanaka+00000000000000000000000000000000@x>",
		                            "<a+b+0123456789abcdef0123456789abcdef@>",
		                            NULL };
	for (size_t i = 0; junk[i]; i++)
		ck_assert_msg(ntoken_parse(nc, junk[i], a, sizeof a, c, sizeof c) == -1, "%s",
		              junk[i]);
	ck_assert_int_eq(ntoken_parse(nc, NULL, a, sizeof a, c, sizeof c), -1);
	/* SMS codes: 4 digits, per alert and contact */
	unsigned k1 = ntoken_code(nc, "A-1", "tanaka"), k2 = ntoken_code(nc, "A-1", "suzuki");
	ck_assert_uint_lt(k1, 10000);
	ck_assert_uint_eq(k1, ntoken_code(nc, "A-1", "tanaka"));
	ck_assert_uint_ne(k1 * 10000 + k2, k2 * 10000 + k1 + (k1 == k2)); /* usually differ */
	notify_conf_free(nc);
	notify_conf_free(other);
}
END_TEST

/* ---- the e-mail ---- */

static int b64v(char ch)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = strchr(t, ch);
	return ch && p ? (int)(p - t) : -1;
}

/* Decode base64 (whitespace skipped) into out; its length. */
static size_t unb64(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int d = b64v(s[i]);
		if (d < 0)
			continue;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	out[o] = 0;
	return o;
}

static int utf8_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		int k = (p[i] & 0x80) == 0      ? 1
		        : (p[i] & 0xe0) == 0xc0 ? 2
		        : (p[i] & 0xf0) == 0xe0 ? 3
		        : (p[i] & 0xf8) == 0xf0 ? 4
		                                : 0;
		if (!k || i + (size_t)k > n)
			return 0;
		for (int j = 1; j < k; j++)
			if ((p[i + (size_t)j] & 0xc0) != 0x80)
				return 0;
		i += (size_t)k;
	}
	return 1;
}

START_TEST(mail_subject_words)
{
	static const char *const subjects[] = {
		"[mamori] CRITICAL opened: Example Co utm utm-1/utm",
		"[mamori] 重大 発生: 株式会社サンプル製作所 utm utm-1/utm 応答なし ping 100% loss の状態が続いています",
		"🚨 é ü 日本 mixed ASCII and 漢字 and more text to fold across several encoded words",
		"=?UTF-8?B?looks-encoded?=",
		"",
	};
	for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
		char *enc = email_encode_words(subjects[i], 9);
		ck_assert_ptr_nonnull(enc);
		/* lines of at most 76, words at most 75; decoded, the subject */
		unsigned char whole[2048] = "";
		size_t wn = 0;
		const char *p = enc;
		while (*p) {
			const char *eol = strstr(p, "\r\n");
			size_t ll = eol ? (size_t)(eol - p) : strlen(p);
			ck_assert_msg(ll + (p == enc ? 9 : 0) <= 76, "line too long in %s", enc);
			const char *w = p;
			while (w < p + ll && *w == ' ')
				w++;
			if (strncmp(w, "=?UTF-8?B?", 10) == 0) {
				const char *end = strstr(w + 10, "?=");
				ck_assert_ptr_nonnull(end);
				ck_assert_uint_le((size_t)(end + 2 - w), 75);
				unsigned char part[256];
				size_t pn = unb64(w + 10, (size_t)(end - w - 10), part);
				/* each word alone is whole characters */
				ck_assert_msg(utf8_valid(part, pn), "a word splits a character: %s",
				              enc);
				memcpy(whole + wn, part, pn);
				wn += pn;
			} else {
				memcpy(whole + wn, p, ll);
				wn += ll;
			}
			p = eol ? eol + 2 : p + ll;
		}
		whole[wn] = 0;
		ck_assert_msg(strcmp((char *)whole, subjects[i]) == 0, "got '%s' for '%s'", whole,
		              subjects[i]);
		free(enc);
	}
}
END_TEST

START_TEST(mail_message)
{
	struct email_msg m = {
		.from_name = "mamori 監視",
		.from = "mamori@example.jp",
		.to = "tanaka@example.jp",
		.subject = "[mamori] 重大 発生",
		.body = "一行目\n二行目\n",
		.message_id = "<1.opened.mail+A-1+tanaka+abc@m.test>",
		.in_reply_to = "<A-1+tanaka+abc@m.test>",
		.references = "<A-1+tanaka+abc@m.test>",
		.reply_to = "mamori+A-1+tanaka+abc@example.jp",
		.alert_id = "A-1",
		.possible_duplicate = 1,
		.date = 1796608123,
	};
	size_t len;
	char *msg = email_build(&m, &len);
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_eq(strlen(msg), len);
	ck_assert_ptr_nonnull(strstr(msg, "Date: Mon, 07 Dec 2026 01:48:43 +0000\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "From: =?UTF-8?B?"));
	ck_assert_ptr_nonnull(strstr(msg, " <mamori@example.jp>\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(msg, "\r\nMessage-ID: <1.opened.mail+A-1+tanaka+abc@m.test>\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nIn-Reply-To: <A-1+tanaka+abc@m.test>\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nReferences: <A-1+tanaka+abc@m.test>\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nContent-Transfer-Encoding: base64\r\n"));
	ck_assert_ptr_nonnull(strstr(msg, "\r\nX-Mamori-Possible-Duplicate: yes\r\n"));
	/* no bare LF anywhere */
	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n')
			ck_assert_msg(i > 0 && msg[i - 1] == '\r', "bare LF at %zu", i);
	const char *body = strstr(msg, "\r\n\r\n");
	ck_assert_ptr_nonnull(body);
	unsigned char dec[512];
	size_t dn = unb64(body + 4, strlen(body + 4), dec);
	ck_assert_uint_eq(dn, strlen("一行目\r\n二行目\r\n"));
	ck_assert_int_eq(memcmp(dec, "一行目\r\n二行目\r\n", dn), 0);
	free(msg);
	/* a plain display name with specials is quoted */
	m.from_name = "mamori, \"NOC\"";
	msg = email_build(&m, &len);
	ck_assert_ptr_nonnull(strstr(msg, "From: \"mamori, \\\"NOC\\\"\" <mamori@example.jp>\r\n"));
	free(msg);
	/* header injection: refused whole */
	m.from_name = NULL;
	m.subject = "hi\r\nBcc: evil@example.com";
	ck_assert_ptr_null(email_build(&m, &len));
	m.subject = "ok";
	m.reply_to = "a@b\nX: y";
	ck_assert_ptr_null(email_build(&m, &len));
}
END_TEST

/* A document: text and HTML alternatives, a file; every part base64. */
START_TEST(mail_document_parts)
{
	unsigned char file[1000];
	for (size_t i = 0; i < sizeof file; i++)
		file[i] = (unsigned char)(i * 7 + 3);
	struct email_part part = { "report-c1-2026-05.pdf", "application/pdf", file, sizeof file };
	struct email_msg m = {
		.from = "mamori@example.jp",
		.to = "keiri@example.jp",
		.subject = "月次セキュリティレポート 2026年5月",
		.body = "本文です。\n",
		.html = "<p>本文です。</p>\n",
		.message_id = "<mail.abc@m.test>",
		.date = 1796608123,
		.parts = &part,
		.n_parts = 1,
	};
	size_t len;
	char *msg = email_build(&m, &len);
	ck_assert_ptr_nonnull(msg);
	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n')
			ck_assert_msg(i > 0 && msg[i - 1] == '\r', "bare LF at %zu", i);
	const char *ct = strstr(msg, "\r\nContent-Type: multipart/mixed; boundary=\"");
	ck_assert_ptr_nonnull(ct);
	char bm[80], ba[80];
	ck_assert_int_eq(sscanf(ct, "\r\nContent-Type: multipart/mixed; boundary=\"%79[^\"]", bm),
	                 1);
	const char *alt = strstr(msg, "Content-Type: multipart/alternative; boundary=\"");
	ck_assert_ptr_nonnull(alt);
	ck_assert_int_eq(
	    sscanf(alt, "Content-Type: multipart/alternative; boundary=\"%79[^\"]", ba), 1);
	ck_assert_str_ne(bm, ba);
	char close_m[100], close_a[100];
	snprintf(close_m, sizeof close_m, "\r\n--%s--\r\n", bm);
	snprintf(close_a, sizeof close_a, "\r\n--%s--\r\n", ba);
	ck_assert_ptr_nonnull(strstr(msg, close_m));
	ck_assert_ptr_nonnull(strstr(msg, close_a));
	ck_assert(strstr(msg, close_a) < strstr(msg, close_m));
	ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/html; charset=UTF-8\r\n"));
	const char *ap =
	    strstr(msg, "Content-Type: application/pdf; name=\"report-c1-2026-05.pdf\"\r\n"
	                "Content-Disposition: attachment; filename=\"report-c1-2026-05.pdf\"\r\n"
	                "Content-Transfer-Encoding: base64\r\n\r\n");
	ck_assert_ptr_nonnull(ap);
	ap = strstr(ap, "\r\n\r\n") + 4;
	const char *end = strstr(ap, close_m);
	ck_assert_ptr_nonnull(end);
	unsigned char dec[2000];
	size_t dn = unb64(ap, (size_t)(end - ap), dec);
	ck_assert_uint_eq(dn, sizeof file);
	ck_assert_int_eq(memcmp(dec, file, dn), 0);
	/* a reader finds the text part (the reply parser walks multiparts) */
	struct email_reply r;
	ck_assert_int_eq(email_reply_parse(msg, len, &r), 0);
	ck_assert_str_eq(r.text, "本文です。\r\n");
	email_reply_free(&r);
	free(msg);
	/* HTML without a file: multipart/alternative at the top */
	m.n_parts = 0;
	m.parts = NULL;
	msg = email_build(&m, &len);
	ck_assert_ptr_nonnull(strstr(msg, "\r\nContent-Type: multipart/alternative; boundary=\""));
	ck_assert_ptr_null(strstr(msg, "multipart/mixed"));
	free(msg);
	/* a file name that is not plain, a type with a quote: refused */
	part.name = "a\"b.pdf";
	m.parts = &part;
	m.n_parts = 1;
	ck_assert_ptr_null(email_build(&m, &len));
	part.name = "ok.pdf";
	part.type = "application/pdf\"; x=\"";
	ck_assert_ptr_null(email_build(&m, &len));
}
END_TEST

START_TEST(reply_parsing)
{
	static const char gmail[] =
	    "Return-Path: <tanaka@example.jp>\r\n"
	    "From: =?UTF-8?B?55Sw5Lit?= <tanaka@example.jp>\r\n"
	    "To: mamori+A-1+tanaka+abc@example.jp\r\n"
	    "Subject: Re: [mamori]\r\n"
	    "Message-ID: <CAxyz@mail.gmail.com>\r\n"
	    "In-Reply-To: <1.opened.mail+A-1+tanaka+abc@m.test>\r\n"
	    "References: <A-1+tanaka+abc@m.test>\r\n"
	    "\t<1.opened.mail+A-1+tanaka+abc@m.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"000000abc\"\r\n"
	    "\r\n"
	    "--000000abc\r\n"
	    "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "5LqG6KejDQoNCj4gW21hbW9yaV0g6YeN5aSnDQo=\r\n"
	    "--000000abc\r\n"
	    "Content-Type: text/html; charset=\"UTF-8\"\r\n"
	    "\r\n"
	    "<div>html</div>\r\n"
	    "--000000abc--\r\n";
	struct email_reply r;
	ck_assert_int_eq(email_reply_parse(gmail, sizeof gmail - 1, &r), 0);
	ck_assert_str_eq(r.from, "=?UTF-8?B?55Sw5Lit?= <tanaka@example.jp>");
	ck_assert_str_eq(r.message_id, "<CAxyz@mail.gmail.com>");
	ck_assert_uint_eq(r.n_refs, 3);
	ck_assert_str_eq(r.refs[0], "<1.opened.mail+A-1+tanaka+abc@m.test>");
	ck_assert_str_eq(r.refs[1],
	                 "<A-1+tanaka+abc@m.test>\t<1.opened.mail+A-1+tanaka+abc@m.test>");
	ck_assert_str_eq(r.refs[2], "mamori+A-1+tanaka+abc@example.jp");
	ck_assert_str_eq(r.text, "了解\r\n\r\n> [mamori] 重大\r\n");
	email_reply_free(&r);

	static const char iphone[] = "From: tanaka@example.jp\n"
	                             "Content-Type: text/plain; charset=utf-8\n"
	                             "Content-Transfer-Encoding: quoted-printable\n"
	                             "\n"
	                             "=E4=BA=86=E8=A7=A3 =\n"
	                             "2634\n";
	ck_assert_int_eq(email_reply_parse(iphone, sizeof iphone - 1, &r), 0);
	ck_assert_str_eq(r.text, "了解 2634\n");
	ck_assert_uint_eq(r.n_refs, 0);
	email_reply_free(&r);

	static const char jis[] = "From: tanaka@example.jp\r\n"
	                          "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
	                          "Content-Transfer-Encoding: 7bit\r\n"
	                          "\r\n"
	                          "\x1b$BN;2r\x1b(B\r\n";
	ck_assert_int_eq(email_reply_parse(jis, sizeof jis - 1, &r), 0);
	ck_assert_str_eq(r.text, "了解\r\n");
	email_reply_free(&r);

	static const char sjis[] = "From: t@example.jp\r\n"
	                           "Content-Type: text/plain; charset=Shift_JIS\r\n"
	                           "\r\n"
	                           "\x97\xb9\x89\xf0\x82\xb5\x82\xdc\x82\xb5\x82\xbd\r\n";
	ck_assert_int_eq(email_reply_parse(sjis, sizeof sjis - 1, &r), 0);
	ck_assert_str_eq(r.text, "了解しました\r\n");
	email_reply_free(&r);

	/* garbage: never a crash; what is not a mail is refused */
	static const char *const junk[] = {
		"",
		"no headers at all",
		"From: x\r\n",
		"Content-Type: text/plain\r\n\r\nno From\r\n",
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b",
		"From: a@b\r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\nx",
		"From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
		"From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: "
		"quoted-printable\r\n\r\n=Z=",
		"From: a@b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B\xff\xfe",
	};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		int rc = email_reply_parse(junk[i], strlen(junk[i]), &r);
		if (rc == 0)
			email_reply_free(&r);
	}
	ck_assert_int_eq(email_reply_parse("no headers at all", 17, &r), -1);
	ck_assert_int_eq(email_reply_parse(NULL, 0, &r), -1);
	/* nested multipart deeper than the bound: no text, no crash */
	char deep[4096] = "From: a@b\r\n";
	for (int i = 0; i < 10; i++) {
		char part[128];
		snprintf(part, sizeof part,
		         "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		strcat(deep, part);
	}
	strcat(deep, "Content-Type: text/plain\r\n\r\nack\r\n");
	ck_assert_int_eq(email_reply_parse(deep, strlen(deep), &r), 0);
	ck_assert_ptr_null(r.text);
	email_reply_free(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("notify_text");
	TCase *t = tcase_create("core");
	tcase_add_test(t, tmpl_fields_and_blocks);
	tcase_add_test(t, tmpl_garbage);
	tcase_add_test(t, tmpl_sections);
	tcase_add_test(t, sms_lengths);
	tcase_add_test(t, sms_cuts_between_characters);
	tcase_add_test(t, sms_fitted);
	tcase_add_test(t, rendered_mail);
	tcase_add_test(t, tokens);
	tcase_add_test(t, mail_subject_words);
	tcase_add_test(t, mail_message);
	tcase_add_test(t, mail_document_parts);
	tcase_add_test(t, reply_parsing);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	SRunner *r = srunner_create(suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
