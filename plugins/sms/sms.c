/*
 * sms: the SMS notifier (plugin ABI 1.1, MAMORI_PLUGIN_NOTIFIER | SMS):
 * one HTTPS request per notification to an SMS gateway, from a request
 * template (plugins/lib/hookpost.h; shipped: twilio, json).  The core has
 * already fitted the text (short_text) to the channel's segments.
 *
 * Replies come back through the gateway's inbound webhook, POSTed to
 * /api/v1/notify/inbound/<channel>; notify_inbound verifies the gateway
 * before anything is read:
 *   inbound = "twilio": X-Twilio-Signature, base64 HMAC-SHA1 under the
 *     Auth Token (secret_file) of inbound_url (the exact URL configured at
 *     Twilio) followed by every form parameter's name and value, sorted
 *     by name, over the form the core decoded (req->form: this plugin
 *     parses no HTTP); the form's From, Body and MessageSid are the reply.
 *   inbound = "json": X-Mamori-Signature: sha256=<hex HMAC-SHA256 of the
 *     body under inbound_secret_file>; {"from","text","id"} is the reply.
 * Anything else is refused (403) and never reaches the core.
 *
 *   { name = "sms"; plugin = "sms"; template = "twilio";
 *     url = "https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json";
 *     user = "AC..."; secret_file = "/etc/mamori/twilio.token"; from = "+815012345678";
 *     inbound = "twilio"; inbound_url = "https://mamori.example.jp/api/v1/notify/inbound/sms"; }
 *
 * Must never: log a token, accept an unsigned reply, block.
 */
#include "../lib/hookpost.h"
#include "../lib/notifyfields.h"
#include "util/jsonw.h"

#include <cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { IN_NONE, IN_TWILIO, IN_JSON };

static const struct mamori_key keys[] = {
	HOOKPOST_KEYS,
	{ "from", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "the sender number or id", NULL },
	{ "inbound", MAMORI_KEY_STRING, 0, "replies: none (default), twilio, json", NULL },
	{ "inbound_url", MAMORI_KEY_STRING, 0, "twilio: the webhook URL as configured at Twilio",
	  NULL },
	{ "inbound_secret_file", MAMORI_KEY_FILE, 0, "json: the HMAC key of X-Mamori-Signature",
	  NULL },
	{ NULL, 0, 0, NULL, NULL },
};

struct sms {
	struct hookpost hp;
	char *from;
	int inbound;
	char *inbound_url;
	char *in_secret;
	size_t in_secret_len;
	/* the last reply read (notify_inbound's strings point here) */
	char r_from[64], r_text[2048], r_id[128];
};

static void sms_destroy(void *inst)
{
	struct sms *s = inst;
	if (!s)
		return;
	hookpost_fini(&s->hp);
	free(s->from);
	free(s->inbound_url);
	if (s->in_secret) {
		memset(s->in_secret, 0, s->in_secret_len);
		free(s->in_secret);
	}
	free(s);
	curl_global_cleanup();
}

static int sms_init(const struct mamori_host *h, const struct mamori_conf *c, void **out)
{
	*out = NULL;
	if (!MAMORI_HAS_FIELD(h, struct mamori_host, notify_done))
		return MAMORI_E_NOTSUP;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return MAMORI_E_NOMEM;
	struct sms *s = calloc(1, sizeof *s);
	if (!s) {
		curl_global_cleanup();
		return MAMORI_E_NOMEM;
	}
	*out = s;
	int rc = hookpost_init(&s->hp, h, c, "sms");
	if (rc)
		return rc;
	const char *v = NULL;
	h->conf_string(c, "from", &v);
	if (!v || !*v || strpbrk(v, "\r\n"))
		return h->conf_error(c, "from", "needs the sender's number or id");
	s->from = strdup(v);
	v = NULL;
	h->conf_string(c, "inbound", &v);
	if (!v || strcmp(v, "none") == 0)
		s->inbound = IN_NONE;
	else if (strcmp(v, "twilio") == 0)
		s->inbound = IN_TWILIO;
	else if (strcmp(v, "json") == 0)
		s->inbound = IN_JSON;
	else
		return h->conf_error(c, "inbound", "must be none, twilio or json");
	if (s->inbound == IN_TWILIO) {
		v = NULL;
		if (h->conf_string(c, "inbound_url", &v) != 0 || !v ||
		    strncmp(v, "https://", 8) != 0)
			return h->conf_error(
			    c, "inbound_url",
			    "twilio signs the URL it calls: give it (https://...)");
		s->inbound_url = strdup(v);
		if (!s->hp.secret)
			return h->conf_error(c, "secret_file",
			                     "twilio: the Auth Token signs replies");
	}
	if (s->inbound == IN_JSON) {
		v = NULL;
		if (h->conf_string(c, "inbound_secret_file", &v) != 0 || !v)
			return h->conf_error(c, "inbound_secret_file",
			                     "json replies need their key");
		if ((rc = h->conf_secret(c, "inbound_secret_file", &s->in_secret,
		                         &s->in_secret_len)) != 0)
			return rc;
	}
	return 0;
}

static int sms_send(void *inst, struct mamori_delivery *d, const struct mamori_notification *n,
                    void **state)
{
	struct sms *s = inst;
	struct notifyfields f;
	notifyfields_init(&f, n);
	f.from = s->from;
	f.to = n->address;
	if (!n->address || !n->short_text) {
		struct mamori_notify_result r = { .struct_size = sizeof r,
			                          .status = MAMORI_NOTIFY_FAILED,
			                          .detail = "no phone number or no text" };
		s->hp.host->notify_done(d, &r);
		*state = NULL;
		return 0;
	}
	/* the SMS text is the short one */
	struct mamori_notification copy = *n;
	copy.body = n->short_text;
	f.n = &copy;
	return hookpost_send(&s->hp, d, notifyfields_get, &f, state);
}

static void sms_cancel(void *inst, struct mamori_delivery *d, void *state)
{
	hookpost_cancel(state);
}

/* ---- inbound ---- */

static const char *header(const struct mamori_http_request *req, const char *name)
{
	for (size_t i = 0; i + 1 < req->n_headers * 2; i += 2)
		if (strcasecmp(req->headers[i], name) == 0)
			return req->headers[i + 1];
	return NULL;
}

/* A form parameter as the core decoded it (req->form). */
struct param {
	const char *k, *v;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct param *)a)->k, ((const struct param *)b)->k);
}

/* Copy src into dst (size) whole, or cut at a UTF-8 character boundary. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Twilio signs inbound_url followed by each POST parameter's name and
 * value, sorted by name (byte order).  The form is the core's decoding
 * (libmicrohttpd); this plugin parses no HTTP itself.  The core gives
 * each name once, so the sort is total. */
static int twilio(struct sms *s, const struct mamori_http_request *req, struct mamori_reply *out,
                  char *answer, size_t size)
{
	const char *sig = header(req, "X-Twilio-Signature");
	const char *const *form =
	    req->struct_size >= offsetof(struct mamori_http_request, n_form) + sizeof(size_t)
	        ? req->form
	        : NULL;
	if (!sig || !form) {
		snprintf(answer, size, "unsigned or not a form");
		return 403;
	}
	size_t np = req->n_form;
	struct param *p = calloc(np ? np : 1, sizeof *p);
	if (!p)
		return 503;
	size_t cap = strlen(s->inbound_url) + 1;
	for (size_t i = 0; i < np; i++) {
		p[i].k = form[2 * i];
		p[i].v = form[2 * i + 1];
		cap += strlen(p[i].k) + strlen(p[i].v);
	}
	qsort(p, np, sizeof *p, by_key);
	/* url + k1 v1 k2 v2 ... */
	char *data = malloc(cap);
	if (!data) {
		free(p);
		return 503;
	}
	size_t o = strlen(s->inbound_url);
	memcpy(data, s->inbound_url, o);
	for (size_t i = 0; i < np; i++) {
		size_t kl = strlen(p[i].k), vl = strlen(p[i].v);
		memcpy(data + o, p[i].k, kl);
		memcpy(data + o + kl, p[i].v, vl);
		o += kl + vl;
	}
	unsigned char mac[20];
	unsigned ml = sizeof mac;
	HMAC(EVP_sha1(), s->hp.secret, (int)s->hp.secret_len, (unsigned char *)data, o, mac, &ml);
	free(data);
	unsigned char want[40];
	int wl = EVP_EncodeBlock(want, mac, (int)ml);
	if (!hookpost_equal(want, (size_t)wl, sig, strlen(sig))) {
		free(p);
		snprintf(answer, size, "bad signature");
		return 403;
	}
	s->r_from[0] = s->r_text[0] = s->r_id[0] = '\0';
	for (size_t i = 0; i < np; i++) {
		if (strcmp(p[i].k, "From") == 0)
			copy_text(s->r_from, sizeof s->r_from, p[i].v);
		else if (strcmp(p[i].k, "Body") == 0)
			copy_text(s->r_text, sizeof s->r_text, p[i].v);
		else if (strcmp(p[i].k, "MessageSid") == 0)
			copy_text(s->r_id, sizeof s->r_id, p[i].v);
	}
	free(p);
	if (!s->r_from[0] || !s->r_id[0]) {
		snprintf(answer, size, "no From or MessageSid");
		return 400;
	}
	out->struct_size = sizeof *out;
	out->from = s->r_from;
	out->text = s->r_text;
	out->id = s->r_id;
	snprintf(answer, size, "<Response></Response>");
	return 200;
}

static int json_in(struct sms *s, const struct mamori_http_request *req, struct mamori_reply *out,
                   char *answer, size_t size)
{
	const char *sig = header(req, "X-Mamori-Signature");
	if (!sig || strncmp(sig, "sha256=", 7) != 0) {
		snprintf(answer, size, "unsigned");
		return 403;
	}
	unsigned char mac[32];
	unsigned ml = sizeof mac;
	HMAC(EVP_sha256(), s->in_secret, (int)s->in_secret_len, (const unsigned char *)req->body,
	     req->body_len, mac, &ml);
	char want[65];
	for (unsigned i = 0; i < ml; i++)
		snprintf(want + 2 * i, 3, "%02x", mac[i]);
	if (!hookpost_equal(want, 2 * ml, sig + 7, strlen(sig + 7))) {
		snprintf(answer, size, "bad signature");
		return 403;
	}
	struct jsonw_limits lim = { .max_size = 16384 };
	struct jsonw_error e;
	cJSON *o = jsonw_parse(req->body, req->body_len, &lim, &e);
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "from");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	if (!cJSON_IsString(f) || !cJSON_IsString(t) || !cJSON_IsString(id)) {
		cJSON_Delete(o);
		snprintf(answer, size, "needs from, text and id");
		return 400;
	}
	snprintf(s->r_from, sizeof s->r_from, "%s", f->valuestring);
	snprintf(s->r_text, sizeof s->r_text, "%s", t->valuestring);
	snprintf(s->r_id, sizeof s->r_id, "%s", id->valuestring);
	cJSON_Delete(o);
	out->struct_size = sizeof *out;
	out->from = s->r_from;
	out->text = s->r_text;
	out->id = s->r_id;
	snprintf(answer, size, "ok");
	return 200;
}

static int sms_inbound(void *inst, const struct mamori_http_request *req, struct mamori_reply *out,
                       char *answer, size_t size)
{
	struct sms *s = inst;
	switch (s->inbound) {
	case IN_TWILIO: return twilio(s, req, out, answer, size);
	case IN_JSON: return json_in(s, req, out, answer, size);
	}
	snprintf(answer, size, "this channel takes no replies");
	return 404;
}

MAMORI_PLUGIN_DEFINE(.name = "sms", .version = "1.0",
                     .description = "on-call notifications by SMS through an HTTPS gateway "
                                    "(Twilio, JSON)",
                     .flags = MAMORI_PLUGIN_NOTIFIER | MAMORI_PLUGIN_NEEDS_PHONE |
                              MAMORI_PLUGIN_SMS,
                     .instance_keys = keys, .init = sms_init, .destroy = sms_destroy,
                     .notify_send = sms_send, .notify_cancel = sms_cancel,
                     .notify_inbound = sms_inbound);
