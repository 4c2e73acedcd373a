/*
 * email: the e-mail notifier (plugin ABI 1.1, MAMORI_PLUGIN_NOTIFIER).
 * One instance per `notify.channels` block; each delivery is one message
 * submitted over SMTP through libcurl's multi interface on the core's
 * loop (plugins/lib/curlloop.h): STARTTLS on smtp:// (required unless
 * starttls = false), TLS from the first byte on smtps://, AUTH with the
 * user and the password file.  The message (mime.c) threads per alert:
 * the core's Message-ID, In-Reply-To and References.
 *
 * Results: 2xx -> sent; a 5xx answer (a refused recipient, a message the
 * server will never take) -> failed; everything else (no connection,
 * TLS, AUTH, a 4xx, a timeout) -> retry, the core backs off.
 *
 * Config (the channel block):
 *   { name = "email"; plugin = "email";
 *     smtp = { url = "smtp://mail.example.jp:587"; user = "mamori";
 *              password_file = "/etc/mamori/smtp.pass"; ca_file = "...";
 *              starttls = true; verify = true; };
 *     from = "mamori@example.jp"; from_name = "mamori 監視";
 *     reply = { url = "imaps://mail.example.jp/INBOX"; user = "mamori-reply";
 *               password_file = "..."; poll = "30s"; }; }
 *
 * Must never: block, log a password, put a CR or LF from anywhere into a
 * header (mime.c refuses), complete a delivery twice or after cancel.
 */
#include "email.h"
#include "../lib/curlloop.h"

#include <mamori/plugin.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mamori_key tls_endpoint_keys[] = {
	{ "url", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "smtp://host:port or smtps://host:port",
	  NULL },
	{ "user", MAMORI_KEY_STRING, 0, "AUTH user (none: no AUTH)", NULL },
	{ "password_file", MAMORI_KEY_FILE, 0, "AUTH password, in a file (0600)", NULL },
	{ "ca_file", MAMORI_KEY_FILE, 0, "PEM trust anchors (default: the system's)", NULL },
	{ "starttls", MAMORI_KEY_BOOL, 0, "smtp://: require STARTTLS (default true)", NULL },
	{ "verify", MAMORI_KEY_BOOL, 0, "verify the server certificate (default true)", NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, "one submission at most (default 60s)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

extern const struct mamori_key email_reply_keys[];

static const struct mamori_key instance_keys[] = {
	{ "smtp", MAMORI_KEY_GROUP, MAMORI_KEY_REQUIRED, "the submission server",
	  tls_endpoint_keys },
	{ "from", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "sender address", NULL },
	{ "from_name", MAMORI_KEY_STRING, 0, "sender display name (UTF-8)", NULL },
	{ "reply", MAMORI_KEY_GROUP, 0, "the mailbox replies arrive in (acknowledge by reply)",
	  email_reply_keys },
	{ NULL, 0, 0, NULL, NULL },
};

struct email_inst {
	const struct mamori_host *host;
	struct curlloop *cl;
	struct email_endpoint smtp;
	char *from, *from_name;
	void *reply; /* imap.c's poller, or NULL */
};

struct email_send {
	struct email_inst *in;
	struct mamori_delivery *d;
	struct curlxfer x;
	char *msg;
	size_t len;
};

void email_endpoint_free(struct email_endpoint *ep)
{
	free(ep->url);
	free(ep->user);
	free(ep->ca_file);
	if (ep->password) {
		memset(ep->password, 0, ep->password_len);
		free(ep->password);
	}
	memset(ep, 0, sizeof(*ep));
}

static char *dupget(const struct mamori_host *h, const struct mamori_conf *c, const char *key)
{
	const char *v = NULL;
	if (h->conf_string(c, key, &v) != 0 || !v)
		return NULL;
	return strdup(v);
}

/* An endpoint group: url, user, password_file, ca_file, starttls, verify. */
int email_endpoint_read(const struct mamori_host *h, const struct mamori_conf *g,
                        struct email_endpoint *ep, int smtp)
{
	ep->url = dupget(h, g, "url");
	ep->user = dupget(h, g, "user");
	ep->ca_file = dupget(h, g, "ca_file");
	ep->starttls = 1;
	ep->verify = 1;
	ep->timeout = 60;
	h->conf_bool(g, "starttls", &ep->starttls);
	h->conf_bool(g, "verify", &ep->verify);
	if (!ep->verify)
		h->log(NULL, MAMORI_LOG_WARNING,
		       "email: %s endpoint %s: verify = false: the server's certificate and "
		       "host name are NOT verified (insecure)",
		       smtp ? "smtp" : "imap", ep->url ? ep->url : "?");
	h->conf_duration(g, "timeout", &ep->timeout);
	const char *want = smtp ? "smtp" : "imap";
	size_t wl = strlen(want);
	if (!ep->url || strncmp(ep->url, want, wl) != 0 ||
	    (strncmp(ep->url + wl, "://", 3) != 0 && strncmp(ep->url + wl, "s://", 4) != 0))
		return h->conf_error(g, "url", "must start with %s:// or %ss://", want, want);
	if (ep->timeout < 1 || ep->timeout > 600)
		return h->conf_error(g, "timeout", "must be 1s..10m");
	const char *pf = NULL;
	if (h->conf_string(g, "password_file", &pf) == 0 && pf) {
		int rc = h->conf_secret(g, "password_file", &ep->password, &ep->password_len);
		if (rc != 0)
			return rc == MAMORI_E_CONFIG
			           ? rc
			           : h->conf_error(g, "password_file",
			                           "cannot read the password file");
		if (!ep->user)
			return h->conf_error(g, "user", "password_file needs a user");
	}
	return 0;
}

void email_endpoint_opts(void *easy, const struct email_endpoint *ep)
{
	CURL *e = easy;
	curl_easy_setopt(e, CURLOPT_URL, ep->url);
	if (ep->user)
		curl_easy_setopt(e, CURLOPT_USERNAME, ep->user);
	if (ep->password)
		curl_easy_setopt(e, CURLOPT_PASSWORD, ep->password);
	/* smtp:// and imap:// must upgrade with STARTTLS unless told not to;
	 * smtps:// and imaps:// are TLS from the first byte anyway */
	curl_easy_setopt(e, CURLOPT_USE_SSL,
	                 ep->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (ep->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ep->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(ep->timeout * 1000));
}

struct curlloop *email_curlloop(void *inst)
{
	return ((struct email_inst *)inst)->cl;
}

const struct mamori_host *email_host(void *inst)
{
	return ((struct email_inst *)inst)->host;
}

static int addr_ok(const char *s)
{
	const char *at = s ? strchr(s, '@') : NULL;
	if (!at || at == s || !at[1] || strpbrk(s, " \t\r\n<>,;\"\\"))
		return 0;
	return 1;
}

static void email_destroy(void *inst)
{
	struct email_inst *in = inst;
	if (!in)
		return;
	email_reply_stop(in->reply);
	curlloop_free(in->cl);
	email_endpoint_free(&in->smtp);
	free(in->from);
	free(in->from_name);
	free(in);
	curl_global_cleanup();
}

static int email_init(const struct mamori_host *h, const struct mamori_conf *conf, void **out)
{
	*out = NULL;
	if (!MAMORI_HAS_FIELD(h, struct mamori_host, notify_done))
		return MAMORI_E_NOTSUP; /* a core older than ABI 1.1 */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return MAMORI_E_NOMEM;
	struct email_inst *in = calloc(1, sizeof(*in));
	if (!in) {
		curl_global_cleanup();
		return MAMORI_E_NOMEM;
	}
	*out = in;
	in->host = h;
	const struct mamori_conf *smtp = NULL, *reply = NULL;
	if (h->conf_group(conf, "smtp", &smtp) != 0)
		return h->conf_error(conf, "smtp", "needs a group { url; ... }");
	int rc = email_endpoint_read(h, smtp, &in->smtp, 1);
	if (rc)
		return rc;
	in->from = dupget(h, conf, "from");
	in->from_name = dupget(h, conf, "from_name");
	if (!addr_ok(in->from))
		return h->conf_error(conf, "from", "'%s' is not an e-mail address",
		                     in->from ? in->from : "");
	if (in->from_name && strpbrk(in->from_name, "\r\n"))
		return h->conf_error(conf, "from_name", "must be one line");
	if (!(in->cl = curlloop_new(h)))
		return MAMORI_E_NOMEM;
	if (h->conf_group(conf, "reply", &reply) == 0 &&
	    (rc = email_reply_start(in, reply, &in->reply)) != 0)
		return rc;
	return 0;
}

/* ---- one delivery ---- */

static void send_free(struct email_send *s)
{
	curlxfer_free(&s->x);
	free(s->msg);
	free(s);
}

static void done(struct email_send *s, int status, const char *detail)
{
	struct mamori_notify_result r = { .struct_size = sizeof(r),
		                          .status = status,
		                          .detail = detail };
	const struct mamori_host *h = s->in->host;
	struct mamori_delivery *d = s->d;
	send_free(s);
	h->notify_done(d, &r);
}

static void smtp_done(struct curlxfer *x, int rc, void *ud)
{
	struct email_send *s = ud;
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	char detail[400];
	if (rc == CURLE_OK) {
		snprintf(detail, sizeof(detail), "SMTP %ld: accepted by %s", code, s->in->smtp.url);
		done(s, MAMORI_NOTIFY_SENT, detail);
		return;
	}
	if (code)
		snprintf(detail, sizeof(detail), "SMTP %ld: %s", code, curlxfer_error(x, rc));
	else
		snprintf(detail, sizeof(detail), "SMTP: %s", curlxfer_error(x, rc));
	/* 5xx: the server will never take it as it is */
	done(s, code >= 500 && code < 600 ? MAMORI_NOTIFY_FAILED : MAMORI_NOTIFY_RETRY, detail);
}

static int email_send(void *inst, struct mamori_delivery *d, const struct mamori_notification *n,
                      void **state)
{
	struct email_inst *in = inst;
	*state = NULL;
	if (!n->address || !addr_ok(n->address)) {
		struct mamori_notify_result r = { .struct_size = sizeof(r),
			                          .status = MAMORI_NOTIFY_FAILED,
			                          .detail = "no usable e-mail address" };
		in->host->notify_done(d, &r);
		return 0;
	}
	struct email_send *s = calloc(1, sizeof(*s));
	if (!s)
		return MAMORI_E_NOMEM;
	s->in = in;
	s->d = d;
	struct email_msg m = {
		.from_name = in->from_name,
		.from = in->from,
		.to = n->address,
		.subject = n->subject,
		.body = n->body,
		.message_id = n->message_id,
		.in_reply_to = n->in_reply_to,
		.references = n->references,
		.reply_to = n->reply_to,
		.alert_id = n->n_items == 1 ? n->items[0].alert_id : NULL,
		.possible_duplicate = n->possible_duplicate,
		.date = in->host->now(),
	};
	/* a document: its HTML alternative and files */
	struct email_part parts[8];
	if (MAMORI_HAS_FIELD(n, struct mamori_notification, n_attachments)) {
		m.html = n->html;
		for (size_t i = 0; i < n->n_attachments && i < 8; i++) {
			const struct mamori_attachment *a = &n->attachments[i];
			parts[i] = (struct email_part){ a->name, a->content_type, a->data, a->len };
			m.n_parts++;
		}
		m.parts = m.n_parts ? parts : NULL;
	}
	if (!(s->msg = email_build(&m, &s->len))) {
		free(s);
		struct mamori_notify_result r = { .struct_size = sizeof(r),
			                          .status = MAMORI_NOTIFY_FAILED,
			                          .detail =
			                              "cannot build the message (a header with a "
			                              "line break, an attachment's odd name, or "
			                              "no memory)" };
		in->host->notify_done(d, &r);
		return 0;
	}
	int rc = curlxfer_init(&s->x, in->cl, "smtp,smtps", smtp_done, s);
	if (rc) {
		send_free(s);
		return rc;
	}
	CURL *e = s->x.easy;
	email_endpoint_opts(e, &in->smtp);
	char from[400], to[400];
	snprintf(from, sizeof(from), "<%s>", in->from);
	snprintf(to, sizeof(to), "<%s>", n->address);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	struct curl_slist *rcpt = curl_slist_append(NULL, to);
	if (!rcpt) {
		send_free(s);
		return MAMORI_E_NOMEM;
	}
	s->x.rcpt = rcpt;
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
	s->x.upload = s->msg;
	s->x.upload_len = s->len;
	if ((rc = curlxfer_start(&s->x)) != 0) {
		send_free(s);
		return rc;
	}
	*state = s;
	return 0;
}

static void email_cancel(void *inst, struct mamori_delivery *d, void *state)
{
	if (state)
		send_free(state);
}

MAMORI_PLUGIN_DEFINE(.name = "email", .version = "1.0",
                     .description = "on-call notifications by e-mail (SMTP, STARTTLS/TLS, AUTH)",
                     .flags = MAMORI_PLUGIN_NOTIFIER | MAMORI_PLUGIN_NEEDS_EMAIL,
                     .instance_keys = instance_keys, .init = email_init, .destroy = email_destroy,
                     .notify_send = email_send, .notify_cancel = email_cancel);
