/*
 * imap: the reply mailbox of the e-mail notifier.  Every `poll` seconds:
 * UID SEARCH UNDELETED, then each message (at most 50 a round) is
 * fetched whole, read (mime.c: From, Message-ID, In-Reply-To,
 * References, To, Cc, Delivered-To and the first text/plain part,
 * decoded) and handed to the core (host->notify_reply), which verifies
 * its signed token and sender and acknowledges the alert, or ignores it;
 * either way the message is deleted (\Deleted, then EXPUNGE once the
 * round is over), so nothing is read twice.  One IMAP command at a time,
 * over libcurl on the loop (the connection is reused between commands).
 *
 *   reply = { url = "imaps://mail.example.jp/INBOX"; user = "mamori-reply";
 *             password_file = "/etc/mamori/reply.pass"; poll = "30s"; };
 *
 * Must never: block, log a password or a message's text, act on a reply
 * itself (the core decides).
 */
#include "email.h"
#include "../lib/curlloop.h"

#include <mamori/plugin.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUND 50

const struct mamori_key email_reply_keys[] = {
	{ "url", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "imap://host/MAILBOX or imaps://...",
	  NULL },
	{ "user", MAMORI_KEY_STRING, 0, "IMAP user", NULL },
	{ "password_file", MAMORI_KEY_FILE, 0, "IMAP password, in a file (0600)", NULL },
	{ "ca_file", MAMORI_KEY_FILE, 0, "PEM trust anchors", NULL },
	{ "starttls", MAMORI_KEY_BOOL, 0, "imap://: require STARTTLS (default true)", NULL },
	{ "verify", MAMORI_KEY_BOOL, 0, "verify the server certificate (default true)", NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, "one IMAP command at most (default 60s)", NULL },
	{ "poll", MAMORI_KEY_DURATION, 0, "how often to look for replies (default 30s)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

enum step { R_IDLE, R_SEARCH, R_FETCH, R_STORE, R_EXPUNGE };

struct replier {
	void *inst; /* the email instance (notify_reply's) */
	const struct mamori_host *host;
	struct email_endpoint ep;
	double poll;
	struct mamori_timer *timer;
	struct curlxfer x;
	int step;
	unsigned uids[MAX_ROUND];
	int n_uids, at;
	unsigned long read, acted, refused;
	int failing; /* logged once per outage */
};

static void round_over(struct replier *r, double after)
{
	curlxfer_free(&r->x);
	r->step = R_IDLE;
	r->host->timer_start(r->timer, after, 0);
}

static void imap_done(struct curlxfer *x, int rc, void *ud);

static int imap_cmd(struct replier *r, int step, const char *url, const char *cmd)
{
	curlxfer_free(&r->x);
	r->step = step;
	int err = curlxfer_init(&r->x, email_curlloop(r->inst), "imap,imaps", imap_done, r);
	if (err)
		return err;
	CURL *e = r->x.easy;
	email_endpoint_opts(e, &r->ep);
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (cmd)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, cmd);
	return curlxfer_start(&r->x);
}

static void next_message(struct replier *r);

static void on_poll(struct mamori_timer *t, void *ud)
{
	struct replier *r = ud;
	if (imap_cmd(r, R_SEARCH, r->ep.url, "UID SEARCH UNDELETED") != 0)
		round_over(r, r->poll);
}

/* "* SEARCH 1 5 9" lines into uids. */
static int parse_search(const char *out, unsigned *uids, int max)
{
	int n = 0;
	const char *p = out;
	while (p && (p = strstr(p, "* SEARCH"))) {
		p += 8;
		while (*p == ' ' && n < max) {
			char *e;
			unsigned long v = strtoul(p + 1, &e, 10);
			if (e == p + 1)
				break;
			if (v && v < 0xffffffffUL)
				uids[n++] = (unsigned)v;
			p = e;
		}
	}
	return n;
}

static void handle(struct replier *r)
{
	struct email_reply er;
	r->read++;
	if (email_reply_parse(r->x.out, r->x.out_len, &er) != 0) {
		r->refused++;
		r->host->log(r->inst, MAMORI_LOG_NOTICE,
		             "reply mailbox: a message that is not a "
		             "mail: deleted");
		return;
	}
	const char *refs[EMAIL_MAX_REFS];
	for (size_t i = 0; i < er.n_refs; i++)
		refs[i] = er.refs[i];
	struct mamori_reply mr = { .struct_size = sizeof mr,
		                   .id = er.message_id,
		                   .from = er.from,
		                   .text = er.text ? er.text : "",
		                   .refs = refs,
		                   .n_refs = er.n_refs };
	int rc = r->host->notify_reply(r->inst, &mr);
	if (rc == 0)
		r->acted++;
	else if (rc == MAMORI_E_DENIED)
		r->refused++;
	email_reply_free(&er);
}

static void next_message(struct replier *r)
{
	char url[1200], cmd[64];
	if (r->at < r->n_uids) {
		snprintf(url, sizeof url, "%s;UID=%u", r->ep.url, r->uids[r->at]);
		if (imap_cmd(r, R_FETCH, url, NULL) != 0)
			round_over(r, r->poll);
		return;
	}
	snprintf(cmd, sizeof cmd, "EXPUNGE");
	if (imap_cmd(r, R_EXPUNGE, r->ep.url, cmd) != 0)
		round_over(r, r->poll);
}

static void imap_done(struct curlxfer *x, int rc, void *ud)
{
	struct replier *r = ud;
	if (rc != CURLE_OK) {
		if (!r->failing++)
			r->host->log(r->inst, MAMORI_LOG_WARNING, "reply mailbox %s: %s", r->ep.url,
			             curlxfer_error(x, rc));
		round_over(r, r->poll);
		return;
	}
	if (r->failing)
		r->host->log(r->inst, MAMORI_LOG_NOTICE, "reply mailbox %s: reachable again",
		             r->ep.url);
	r->failing = 0;
	char cmd[64];
	switch (r->step) {
	case R_SEARCH:
		r->n_uids = parse_search(x->out ? x->out : "", r->uids, MAX_ROUND);
		r->at = 0;
		if (!r->n_uids) {
			round_over(r, r->poll);
			return;
		}
		next_message(r);
		return;
	case R_FETCH:
		if (x->out && x->out_len)
			handle(r);
		snprintf(cmd, sizeof cmd, "UID STORE %u +FLAGS.SILENT (\\Deleted)", r->uids[r->at]);
		if (imap_cmd(r, R_STORE, r->ep.url, cmd) != 0)
			round_over(r, r->poll);
		return;
	case R_STORE:
		r->at++;
		next_message(r);
		return;
	case R_EXPUNGE:
		/* a full round may have left more: look again soon */
		round_over(r, r->n_uids == MAX_ROUND ? 0.1 : r->poll);
		return;
	}
	round_over(r, r->poll);
}

int email_reply_start(struct email_inst *in, const struct mamori_conf *conf, void **out)
{
	*out = NULL;
	const struct mamori_host *h = email_host(in);
	struct replier *r = calloc(1, sizeof *r);
	if (!r)
		return MAMORI_E_NOMEM;
	r->inst = in;
	r->host = h;
	*out = r;
	int rc = email_endpoint_read(h, conf, &r->ep, 0);
	if (rc)
		return rc;
	if (!strchr(strstr(r->ep.url, "://") + 3, '/'))
		return h->conf_error(conf, "url", "needs the mailbox: imaps://host/INBOX");
	r->poll = 30;
	h->conf_duration(conf, "poll", &r->poll);
	if (r->poll < 0.2 || r->poll > 3600)
		return h->conf_error(conf, "poll", "must be 200ms..1h");
	if (!(r->timer = h->timer_new(on_poll, r)))
		return MAMORI_E_NOMEM;
	h->timer_start(r->timer, r->poll, 0);
	return 0;
}

void email_reply_stop(void *reply)
{
	struct replier *r = reply;
	if (!r)
		return;
	curlxfer_free(&r->x);
	if (r->timer)
		r->host->timer_free(r->timer);
	email_endpoint_free(&r->ep);
	free(r);
}
