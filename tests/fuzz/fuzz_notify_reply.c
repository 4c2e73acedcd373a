/*
 * fuzz_notify_reply: what comes back from the people paged, as mamori
 * reads it.  Anyone can mail the reply mailbox or reach the SMS
 * gateway's number, so every byte is hostile.
 *
 * The input: a selector byte, then
 *   0: an e-mail message as the IMAP poller hands it over - parsed by the
 *      e-mail notifier (email_reply_parse, plugins/email/mime.c: headers,
 *      MIME multipart, base64 and quoted-printable, ISO-2022-JP,
 *      Shift_JIS, EUC-JP), then what the core does with it
 *      (src/notify/reply.c): each msg-id of its In-Reply-To, References
 *      and To through the token check (ntoken_parse, token.c), and its
 *      text through the acknowledgement reader (nreply_ack);
 *   1: an SMS reply's text as a gateway's inbound webhook delivers it
 *      (after the gateway's signature; the core's form parser and jsonw
 *      let only UTF-8 through, the target takes any bytes), through
 *      nreply_ack;
 *   2: one reference (a msg-id or reply address) through ntoken_parse.
 *
 * Promises: a parsed reply has at most EMAIL_MAX_REFS references, its
 * sender and references are one line each, its text valid UTF-8; a token
 * accepted names an alert and contact whose signature under the key is
 * the one the reference carries (nothing is accepted without the key's
 * signature), and the same pair formats back into a token that is
 * accepted again for the same pair; nreply_ack acknowledges only a text
 * holding an acknowledging word, and the code it reads is 0..9999 and
 * written as such in the text.
 */
#include "tests/fuzz/fuzz.h"

#include "notify/notify_int.h"
#include "util/log.h"
#include "util/mem.h"

#include "plugins/email/email.h"
#include "plugins/email/mime.c"

#include <strings.h>

static struct notify_conf *nc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERR);
	/* the key of the seeds' tokens: 32 bytes 0x00..0x1f */
	nc = notify_conf_empty();
	for (size_t i = 0; i < nc->secret_len; i++)
		((unsigned char *)nc->secret)[i] = (unsigned char)i;
	return 0;
}

static int valid_utf8(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		unsigned c = *p;
		size_t n = c < 0x80                 ? 1
		           : c >= 0xc2 && c <= 0xdf ? 2
		           : c >= 0xe0 && c <= 0xef ? 3
		           : c >= 0xf0 && c <= 0xf4 ? 4
		                                    : 0;
		if (!n)
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		if (n > 1 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
		              (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
			return 0;
		p += n;
	}
	return 1;
}

static void check_token(const char *ref)
{
	char alert[160], contact[80];
	if (ntoken_parse(nc, ref, alert, sizeof alert, contact, sizeof contact) != 0)
		return;
	FUZZ_CHECK(memchr(alert, '\0', sizeof alert) && memchr(contact, '\0', sizeof contact),
	           "an unterminated alert or contact");
	char sig[33];
	ntoken_sig(nc, "msg", alert, contact, sig);
	FUZZ_CHECK(strstr(ref, sig) != NULL,
	           "accepted without the key's signature for (%s, %s): %.120s", alert, contact,
	           ref);
	char root[700], a2[160], c2[80];
	ntoken_root(nc, alert, contact, root, sizeof root);
	FUZZ_CHECK(ntoken_parse(nc, root, a2, sizeof a2, c2, sizeof c2) == 0,
	           "the pair's own token is refused: %s", root);
	FUZZ_CHECK(strcmp(a2, alert) == 0 && strcmp(c2, contact) == 0,
	           "the pair's own token names another pair: %s", root);
}

/* Each '<...>' of a header value, as reply.c splits References. */
static void check_refs(const char *v)
{
	for (const char *p = v; p && *p;) {
		const char *e = strchr(p, '>');
		size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
		char one[600];
		snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1),
		         p);
		check_token(one);
		p = e ? e + 1 : NULL;
	}
}

static void check_ack(const char *text)
{
	int code = -7;
	int r = nreply_ack(text, &code);
	FUZZ_CHECK(r == 0 || r == 1, "nreply_ack -> %d", r);
	if (!r)
		return;
	FUZZ_CHECK(code >= -1 && code <= 9999, "code %d", code);
	static const char *const words[] = { "ok",   "ack",        "了解", "確認",
		                             "承知", "りょうかい", "ＯＫ", "ｏｋ" };
	int said = 0;
	for (size_t i = 0; i < sizeof words / sizeof words[0] && !said; i++)
		said = (i < 2 ? strcasestr(text, words[i]) : strstr(text, words[i])) != NULL;
	FUZZ_CHECK(said, "acknowledged a text without an acknowledging word");
	if (code >= 0) {
		char digits[8];
		snprintf(digits, sizeof digits, "%d", code);
		FUZZ_CHECK(strstr(text, digits) != NULL, "code %d is not in the text", code);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel = fuzz_take_byte(&data, &size) % 3;
	char *s = fuzz_str(data, size);
	if (sel == 0) {
		struct email_reply r;
		if (email_reply_parse(s, size, &r) == 0) {
			FUZZ_CHECK(r.n_refs <= EMAIL_MAX_REFS, "%zu references", r.n_refs);
			FUZZ_CHECK(!r.from || !strpbrk(r.from, "\r\n"), "the sender spans lines");
			for (size_t i = 0; i < r.n_refs; i++) {
				FUZZ_CHECK(r.refs[i] && !strpbrk(r.refs[i], "\r\n"),
				           "reference %zu spans lines", i);
				check_refs(r.refs[i]);
			}
			if (r.text) {
				FUZZ_CHECK(valid_utf8(r.text), "the text is not UTF-8");
				check_ack(r.text);
			}
			email_reply_free(&r);
		}
	} else if (sel == 1) {
		check_ack(s);
	} else {
		check_token(s);
	}
	free(s);
	return 0;
}
