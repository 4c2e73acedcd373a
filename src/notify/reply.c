/*
 * reply: what comes back from the people paged - replies a notifier
 * received (an e-mail answering a notification, read by the e-mail
 * notifier from its reply mailbox), a gateway's inbound webhook (an SMS
 * reply), a one-click link - verified against the tokens of token.c and
 * acted on through the service layer as the contact.
 *
 *   e-mail  the reply must name one of our ids or reply addresses
 *           (In-Reply-To, References, To), its signature must verify
 *           for (alert, contact), and its From must be that contact's
 *           address; its first line must say "ack" (or ok, 了解, 確認,
 *           承知, りょうかい).
 *   SMS     the gateway's signature is the channel's to check
 *           (notify_inbound); the sender's number must be a contact's;
 *           the text "ack 1234" / "了解 1234" names the alert by its code
 *           among those the contact was paged for (alone "ack" works when
 *           exactly one such alert is unacknowledged).
 *   link    link_base/api/v1/notify/ack/<token>: the token names alert,
 *           contact and expiry under the key; GET tells what it would
 *           do, POST does it once (the token's nonce is the command's
 *           idempotency key: a second POST is refused as used).
 * The acknowledgement is app_alert_act (ack) with the contact as actor,
 * idempotent by the reply's own id, so a reply read twice acts once.
 *
 * Must never: act on anything it cannot verify, tell a stranger whether
 * an alert exists.
 */
#include "notify/notify_int.h"
#include "alert/alert.h"
#include "app/app.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINK_TTL (24 * 3600.0)

static const struct app_scope all = { .all = 1 };

/* ---- what a reply says ---- */

/* The first line that is not empty nor quoted, trimmed. */
static void first_line(const char *text, char *out, size_t size)
{
	out[0] = '\0';
	const char *p = text ? text : "";
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n && *p != '>') {
			if (n >= size) {
				/* cut between characters, never inside one */
				n = size - 1;
				while (n && ((unsigned char)p[n] & 0xc0) == 0x80)
					n--;
			}
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
		if (!e)
			break;
		p = e + 1;
	}
}

/* 1 if the line starts with an acknowledging word; *rest: from the
 * first digit after it (an SMS code), or the end. */
static int says_ack(const char *line, const char **rest)
{
	static const char *const ascii[] = { "acknowledged", "acknowledge", "ack", "okay", "ok" };
	static const char *const ja[] = { "了解", "確認", "承知", "りょうかい", "ＯＫ", "ｏｋ" };
	const char *r = NULL;
	for (size_t i = 0; !r && i < sizeof ascii / sizeof ascii[0]; i++) {
		size_t n = strlen(ascii[i]);
		if (strncasecmp(line, ascii[i], n) == 0 && !isalpha((unsigned char)line[n]))
			r = line + n;
	}
	for (size_t i = 0; !r && i < sizeof ja / sizeof ja[0]; i++) {
		size_t n = strlen(ja[i]);
		if (strncmp(line, ja[i], n) == 0)
			r = line + n;
	}
	if (!r)
		return 0;
	while (*r && !isdigit((unsigned char)*r))
		r++;
	*rest = r;
	return 1;
}

int nreply_ack(const char *text, int *code)
{
	char line[256];
	const char *rest = "";
	*code = -1;
	first_line(text, line, sizeof line);
	if (!says_ack(line, &rest))
		return 0;
	size_t nd = strspn(rest, "0123456789");
	if (nd > 4)
		return 0; /* no code is that long (and a long one must not wrap onto one) */
	int c = 0;
	for (size_t i = 0; i < nd; i++)
		c = c * 10 + (rest[i] - '0');
	if (nd)
		*code = c;
	return 1;
}

/* The act: acknowledge the alert as the contact. */
static int ack_as(struct notify *n, const char *alert_id, const char *contact, const char *how,
                  const char *channel, const char *reply_id, char *msg, size_t msglen)
{
	if (!n->d.app) {
		snprintf(msg, msglen, "no service layer");
		return MAMORI_E_NOTSUP;
	}
	char note[200], origin[128];
	snprintf(note, sizeof note, "acknowledged by %s (%s)", how, channel);
	snprintf(origin, sizeof origin, "notify:%s", channel);
	struct alert_action act = { .type = ALERT_ACT_ACK, .actor = contact, .note = note };
	struct app_result r;
	int rc = app_alert_act(n->d.app, &all, alert_id, &act, origin, reply_id, &r, NULL, NULL);
	snprintf(msg, msglen, "%s", r.msg[0] ? r.msg : app_strerror(rc));
	if (rc == APP_OK) {
		n->st.acks++;
		log_notice("notify", "%s acknowledged by %s (%s over %s)%s", alert_id, contact, how,
		           channel, r.repeated ? " - a repeat, nothing done again" : "");
		return 0;
	}
	if (rc == APP_E_STATE)
		return 0; /* acknowledged already (or resolved): nothing to do */
	return rc == APP_E_NOTFOUND ? MAMORI_E_NOTFOUND : MAMORI_E_DENIED;
}

static const struct nchannel *channel_of_inst(const struct notify_conf *nc, void *inst)
{
	for (size_t i = 0; i < nc->n_channels; i++)
		if (nc->channels[i].inst == inst)
			return &nc->channels[i];
	return NULL;
}

/* The address inside "Name <a@b>" (lower-cased) into out. */
static void bare_address(const char *s, char *out, size_t size)
{
	const char *lt = strrchr(s ? s : "", '<');
	const char *p = lt ? lt + 1 : (s ? s : "");
	size_t o = 0;
	while (*p && *p != '>' && o + 1 < size) {
		if (!isspace((unsigned char)*p))
			out[o++] = (char)tolower((unsigned char)*p);
		p++;
	}
	out[o] = '\0';
}

static int email_reply(struct notify *n, const struct nchannel *ch, const struct mamori_reply *r)
{
	const struct notify_conf *nc = n->nc;
	char alert[160] = "", contact[80] = "";
	int found = 0, code;
	for (size_t i = 0; r->refs && i < r->n_refs && !found; i++) {
		/* a References header holds several ids */
		const char *p = r->refs[i];
		while (p && *p && !found) {
			const char *e = strchr(p, '>');
			char one[600];
			size_t len = e ? (size_t)(e - p) + 1 : strlen(p);
			snprintf(one, sizeof one, "%.*s",
			         (int)(len < sizeof one ? len : sizeof one - 1), p);
			found = ntoken_parse(nc, one, alert, sizeof alert, contact,
			                     sizeof contact) == 0;
			p = e ? e + 1 : NULL;
		}
	}
	if (!found) {
		n->st.replies_refused++;
		log_notice("notify",
		           "a reply over %s names no alert of ours (or a forged one): ignored",
		           ch->name);
		return MAMORI_E_DENIED;
	}
	long ci = nconf_contact(nc, contact);
	char from[256];
	bare_address(r->from, from, sizeof from);
	if (ci < 0 || !nc->contacts[ci].email || strcasecmp(nc->contacts[ci].email, from) != 0) {
		n->st.replies_refused++;
		log_notice("notify", "a reply for %s as %s came from another address: ignored",
		           alert, contact);
		return MAMORI_E_DENIED;
	}
	if (!nreply_ack(r->text, &code)) {
		log_info("notify", "a reply from %s about %s does not say ack: ignored", contact,
		         alert);
		return MAMORI_E_NOTFOUND;
	}
	char msg[APP_MSG_MAX], idem[300];
	snprintf(idem, sizeof idem, "reply:%s", r->id && *r->id ? r->id : alert);
	return ack_as(n, alert, contact, "e-mail reply", ch->name, idem, msg, sizeof msg);
}

/* Pages that paged this contact and wait for an acknowledgement. */
static int sms_reply(struct notify *n, const struct nchannel *ch, const struct mamori_reply *r,
                     char *answer, size_t size)
{
	const struct notify_conf *nc = n->nc;
	long ci = -1;
	for (size_t i = 0; i < nc->n_contacts && ci < 0; i++)
		if (nc->contacts[i].phone && r->from && strcmp(nc->contacts[i].phone, r->from) == 0)
			ci = (long)i;
	if (ci < 0) {
		n->st.replies_refused++;
		snprintf(answer, size, "unknown sender");
		log_notice("notify", "an SMS over %s from a number that is no contact's: ignored",
		           ch->name);
		return MAMORI_E_DENIED;
	}
	const char *contact = nc->contacts[ci].name;
	int want;
	if (!nreply_ack(r->text, &want)) {
		snprintf(answer, size, "not an ack");
		return MAMORI_E_NOTFOUND;
	}
	const char *match = NULL;
	int candidates = 0;
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&n->rt->pages, &it, &e)) {
		const struct npage *p = e->value;
		int paged = 0;
		for (size_t k = 0; k < p->n_paged && !paged; k++)
			paged = strcmp(p->paged[k], contact) == 0;
		if (!paged)
			continue;
		if (want >= 0) {
			if ((int)ntoken_code(nc, p->alert_id, contact) == want)
				match = p->alert_id;
		} else if (!p->acked) {
			candidates++;
			match = p->alert_id;
		}
	}
	if (!match || (want < 0 && candidates != 1)) {
		snprintf(answer, size,
		         want < 0 && candidates > 1 ? "say which: ack <code>" : "no such alert");
		return MAMORI_E_NOTFOUND;
	}
	char msg[APP_MSG_MAX], idem[300], alert[160];
	snprintf(alert, sizeof alert, "%s", match);
	snprintf(idem, sizeof idem, "sms:%s", r->id && *r->id ? r->id : alert);
	int rc = ack_as(n, alert, contact, "SMS reply", ch->name, idem, msg, sizeof msg);
	snprintf(answer, size, "%s", rc == 0 ? "acknowledged" : msg);
	return rc;
}

int notify_host_reply(void *ctx, void *inst, const struct mamori_reply *r)
{
	struct notify *n = ctx;
	if (!n || !r)
		return MAMORI_E_INVAL;
	n->st.replies++;
	const struct nchannel *ch = channel_of_inst(n->nc, inst);
	if (!ch)
		return MAMORI_E_NOTFOUND;
	if (ch->flags & MAMORI_PLUGIN_SMS) {
		char answer[128];
		return sms_reply(n, ch, r, answer, sizeof answer);
	}
	return email_reply(n, ch, r);
}

/* ---- inbound webhooks ---- */

static int hook_inbound(void *ud, const struct app_inbound *in, struct app_inbound_answer *out)
{
	struct notify *n = ud;
	const struct notify_conf *nc = n->nc;
	long ci = nconf_channel(nc, in->channel);
	snprintf(out->content_type, sizeof out->content_type, "text/plain");
	if (ci < 0 || !nc->channels[ci].inst || !nc->channels[ci].mod->def->notify_inbound) {
		out->status = 404;
		snprintf(out->body, sizeof out->body, "no such channel");
		return APP_E_NOTFOUND;
	}
	const struct nchannel *ch = &nc->channels[ci];
	struct mamori_http_request req = { .struct_size = sizeof req,
		                           .method = in->method,
		                           .url = in->url,
		                           .content_type = in->content_type,
		                           .headers = in->headers,
		                           .n_headers = in->n_headers,
		                           .body = in->body ? in->body : "",
		                           .body_len = in->body_len,
		                           .form = in->form,
		                           .n_form = in->n_form };
	struct mamori_reply r = { 0 };
	char answer[512] = "";
	int status = ch->mod->def->notify_inbound(ch->inst, &req, &r, answer, sizeof answer);
	if (status < 200 || status > 599)
		status = 500;
	out->status = (unsigned)status;
	n->st.replies++;
	if (status >= 200 && status < 300 && r.from) {
		char a2[256];
		int rc = (ch->flags & MAMORI_PLUGIN_SMS) ? sms_reply(n, ch, &r, a2, sizeof a2)
		                                         : email_reply(n, ch, &r);
		(void)rc;
		snprintf(out->body, sizeof out->body, "%s", answer);
	} else {
		if (status == 403)
			n->st.replies_refused++;
		snprintf(out->body, sizeof out->body, "%s", answer);
	}
	return APP_OK;
}

/* ---- one-click links ---- */

static int b64u_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

static void b64u(const unsigned char *d, size_t n, char *out, size_t size)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n && o + 2 < size; i++) {
		v = (v << 8) | d[i];
		bits += 8;
		while (bits >= 6 && o + 1 < size) {
			bits -= 6;
			out[o++] = t[(v >> bits) & 63];
		}
	}
	if (bits && o + 1 < size)
		out[o++] = t[(v << (6 - bits)) & 63];
	out[o] = '\0';
}

static size_t unb64u(const char *s, size_t n, unsigned char *out, size_t size)
{
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int d = b64u_val((unsigned char)s[i]);
		if (d < 0)
			return (size_t)-1;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= size)
				return (size_t)-1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return o;
}

/* link token: b64u(payload) "." b64u(HMAC-SHA256(key, "link" payload)[:18])
 * payload: expiry (8 bytes, big endian) nonce (8) alert "\0" contact */
void nlink_make(const struct notify_conf *nc, const char *alert_id, const char *contact, double now,
                char *out, size_t size)
{
	unsigned char p[512];
	uint64_t exp = (uint64_t)(now + LINK_TTL);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(exp >> (56 - 8 * i));
	if (RAND_bytes(p + 8, 8) != 1)
		memset(p + 8, 0, 8);
	size_t al = strlen(alert_id), cl = strlen(contact);
	if (16 + al + 1 + cl > sizeof p) {
		out[0] = '\0';
		return;
	}
	memcpy(p + 16, alert_id, al + 1);
	memcpy(p + 17 + al, contact, cl);
	size_t n = 17 + al + cl;
	unsigned char mac[32], msg[520];
	unsigned ml = sizeof mac;
	memcpy(msg, "link", 4);
	memcpy(msg + 4, p, n);
	HMAC(EVP_sha256(), nc->secret, (int)nc->secret_len, msg, n + 4, mac, &ml);
	char a[700], b[40];
	b64u(p, n, a, sizeof a);
	b64u(mac, 18, b, sizeof b);
	snprintf(out, size, "%s.%s", a, b);
}

static int link_parse(const struct notify_conf *nc, const char *token, double now,
                      struct app_link *out, char *nonce_hex)
{
	const char *dot = token ? strchr(token, '.') : NULL;
	if (!dot || strlen(token) > 800) {
		snprintf(out->error, sizeof out->error, "not a link token");
		return -1;
	}
	unsigned char p[600], mac[32], want[40];
	size_t n = unb64u(token, (size_t)(dot - token), p, sizeof p - 1);
	size_t m = unb64u(dot + 1, strlen(dot + 1), want, sizeof want);
	if (n == (size_t)-1 || m != 18 || n < 19) {
		snprintf(out->error, sizeof out->error, "not a link token");
		return -1;
	}
	unsigned char msg[620];
	unsigned ml = sizeof mac;
	memcpy(msg, "link", 4);
	memcpy(msg + 4, p, n);
	HMAC(EVP_sha256(), nc->secret, (int)nc->secret_len, msg, n + 4, mac, &ml);
	if (CRYPTO_memcmp(mac, want, 18) != 0) {
		snprintf(out->error, sizeof out->error, "not a valid link");
		return -1;
	}
	uint64_t exp = 0;
	for (int i = 0; i < 8; i++)
		exp = (exp << 8) | p[i];
	p[n] = '\0';
	const char *alert = (const char *)p + 16;
	size_t al = strnlen(alert, n - 16);
	if (16 + al >= n) {
		snprintf(out->error, sizeof out->error, "not a link token");
		return -1;
	}
	const char *contact = alert + al + 1;
	if (strlen(alert) >= sizeof out->alert || strlen(contact) >= sizeof out->contact) {
		snprintf(out->error, sizeof out->error, "not a link token");
		return -1;
	}
	memcpy(out->alert, alert, strlen(alert) + 1);
	memcpy(out->contact, contact, strlen(contact) + 1);
	snprintf(out->action, sizeof out->action, "ack");
	out->expires = (double)exp;
	for (int i = 0; i < 8; i++)
		snprintf(nonce_hex + 2 * i, 3, "%02x", p[8 + i]);
	if ((double)exp < now) {
		snprintf(out->error, sizeof out->error, "the link has expired");
		return -1;
	}
	return 0;
}

static int hook_link(void *ud, const char *token, int confirm, struct app_link *out,
                     app_done_fn done, void *done_ud)
{
	struct notify *n = ud;
	char nonce[17];
	if (link_parse(n->nc, token, notify__now(n), out, nonce) != 0)
		return APP_E_FORBIDDEN;
	if (nconf_contact(n->nc, out->contact) < 0) {
		snprintf(out->error, sizeof out->error, "the contact is no longer configured");
		return APP_E_FORBIDDEN;
	}
	out->valid = 1;
	char note[200], idem[64];
	snprintf(idem, sizeof idem, "link:%s", nonce);
	if (!confirm) {
		out->used = app_seen(n->d.app, "notify:link", idem);
		return APP_OK;
	}
	snprintf(note, sizeof note, "acknowledged by a link (%s)", out->contact);
	struct alert_action act = { .type = ALERT_ACT_ACK, .actor = out->contact, .note = note };
	struct app_result r;
	/* the outcome (done, used already, refused) reaches `done` */
	if (app_alert_act(n->d.app, &all, out->alert, &act, "notify:link", idem, &r, done,
	                  done_ud) == APP_OK &&
	    !r.repeated)
		n->st.acks++;
	return APP_OK;
}

void notify__reply_hooks(struct notify *n, struct app_notify_hooks *h)
{
	h->inbound = hook_inbound;
	h->link = hook_link;
}
