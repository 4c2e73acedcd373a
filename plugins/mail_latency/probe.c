/*
 * mail_latency probe mode: one state machine per run.
 *
 *   SEND --ok--> WAIT --timer--> SEARCH --uids--> FETCH -> STORE -> EXPUNGE
 *                  ^                |  none                           |
 *                  +----------------+-------------<-- not ours yet ---+
 *   found (after the delete) -> complete with the latency
 *   now >= sent + lost_after -> complete CRITICAL "probe not delivered"
 *
 * The probe carries the tag "<check id>-<seq>-<send ms>" in X-Mamori-Probe
 * and in the Subject.  SEARCH asks for every message whose header holds
 * this check's id; FETCH reads each one's tag (from the envelope subject,
 * which arrives on the same line, unlike a header literal) and its
 * INTERNALDATE (when the store accepted it).  A tag of this check that is
 * not the current one is a probe of an older run arriving late: it is
 * logged, reported in long output and perfdata, and deleted like the
 * current one.  Exactly one transfer is in flight per run; cancel frees it
 * and the poll timer synchronously, so nothing fires afterwards.
 */
#include "ml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define ML_LATE_KEEP 8 /* late probes listed in long output per run */

enum probe_step { P_SEND, P_WAIT, P_SEARCH, P_FETCH, P_STORE, P_EXPUNGE };

struct probe_late {
	char tag[ML_TAG_MAX];
	double latency; /* < 0: unknown */
};

struct probe_run {
	int mode; /* ML_PROBE; first member, see ml.h */
	int step;
	struct ml_check *c;
	struct ml_inst *in;
	struct mamori_run *run;
	struct curlxfer x;
	struct mamori_timer *poll;
	struct ml_tag t;
	char tag[ML_TAG_MAX];
	char *msg;
	size_t msg_len;
	char *imap_url;
	double sent, deadline;
	uint32_t uids[ML_MAX_UIDS];
	int n_uids, polls, found;
	double latency;
	struct probe_late late[ML_LATE_KEEP];
	int n_late;
	double late_max;
	char imap_err[200];
};

static void probe_free(struct probe_run *r)
{
	if (!r)
		return;
	curlxfer_free(&r->x);
	if (r->poll)
		r->in->host->timer_free(r->poll);
	free(r->msg);
	free(r->imap_url);
	free(r);
}

void ml_probe_cancel(void *run_state)
{
	probe_free(run_state);
}

static void probe_complete(struct probe_run *r, int state, const char *output,
                           const char *long_output)
{
	const struct mamori_host *h = r->in->host;
	struct mamori_perfdata perf[3] = { { 0 } };
	size_t n = 0;
	if (r->found) {
		perf[n] =
		    (struct mamori_perfdata){ .label = "latency",
			                      .uom = "s",
			                      .value = r->latency,
			                      .warn = ml_upper(r->c->warning),
			                      .crit = ml_upper(r->c->critical),
			                      .min = 0,
			                      .max = r->c->lost_after,
			                      .flags = MAMORI_PERF_HAS_MIN | MAMORI_PERF_HAS_MAX };
		n++;
	}
	perf[n++] = (struct mamori_perfdata){ .label = "late_probes",
		                              .uom = "",
		                              .value = r->n_late,
		                              .min = 0,
		                              .flags = MAMORI_PERF_HAS_MIN };
	if (r->n_late)
		perf[n++] = (struct mamori_perfdata){ .label = "late_latency",
			                              .uom = "s",
			                              .value = r->late_max,
			                              .min = 0,
			                              .flags = MAMORI_PERF_HAS_MIN };
	struct mamori_result res = { .struct_size = sizeof(res),
		                     .state = state,
		                     .output = output,
		                     .long_output = long_output,
		                     .perf = perf,
		                     .n_perf = n };
	h->run_complete(r->run, &res);
	probe_free(r);
}

/* Long output: the late probes seen during this run, one per line. */
static void late_text(const struct probe_run *r, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (int i = 0; i < r->n_late && i < ML_LATE_KEEP && off < size; i++) {
		int w;
		if (r->late[i].latency >= 0)
			w = snprintf(buf + off, size - off,
			             "late probe %s from an older run arrived after %.1f s\n",
			             r->late[i].tag, r->late[i].latency);
		else
			w = snprintf(buf + off, size - off,
			             "late probe %s from an older run (time unknown)\n",
			             r->late[i].tag);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void probe_finish_found(struct probe_run *r)
{
	const struct ml_check *c = r->c;
	int state = r->latency > c->critical  ? MAMORI_CRITICAL
	            : r->latency > c->warning ? MAMORI_WARNING
	                                      : MAMORI_OK;
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	char out[256], lng[2048];
	snprintf(out, sizeof(out), "MAIL %s - probe delivered in %.1f s%s", names[state],
	         r->latency, r->n_late ? " (late probes from older runs seen, see details)" : "");
	late_text(r, lng, sizeof(lng));
	probe_complete(r, state, out, lng[0] ? lng : NULL);
}

static void probe_finish_lost(struct probe_run *r)
{
	char out[512], lng[2048];
	snprintf(out, sizeof(out), "MAIL CRITICAL - probe not delivered within %.0f s (%s)%s%s",
	         r->c->lost_after, r->tag, r->imap_err[0] ? "; last IMAP error: " : "",
	         r->imap_err);
	late_text(r, lng, sizeof(lng));
	probe_complete(r, MAMORI_CRITICAL, out, lng[0] ? lng : NULL);
}

static void endpoint_opts(CURL *e, const struct ml_endpoint *ep)
{
	if (ep->user)
		curl_easy_setopt(e, CURLOPT_USERNAME, ep->user);
	if (ep->password)
		curl_easy_setopt(e, CURLOPT_PASSWORD, ep->password);
	/* smtp:// and imap:// must upgrade with STARTTLS unless told not to;
	 * smtps:// and imaps:// are TLS from the first byte anyway. */
	curl_easy_setopt(e, CURLOPT_USE_SSL,
	                 ep->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (ep->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ep->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
}

/* A transfer never outlives the run's deadline by more than a minute. */
static long step_timeout_ms(const struct probe_run *r)
{
	double left = r->deadline - r->in->host->now();
	if (r->step == P_SEND || left < 5)
		left = 5;
	return (long)((left > 60 ? 60 : left) * 1000);
}

static void imap_done(struct curlxfer *x, int rc, void *ud);

static int imap_cmd(struct probe_run *r, int step, const char *fmt, const char *arg)
{
	char cmd[ML_MAX_UIDS * 12 + 128];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	curlxfer_free(&r->x);
	r->step = step;
	int err = curlxfer_init(&r->x, r->in->cl, "imap,imaps", imap_done, r);
	if (err)
		return err;
	CURL *e = r->x.easy;
	curl_easy_setopt(e, CURLOPT_URL, r->imap_url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, cmd);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, step_timeout_ms(r));
	endpoint_opts(e, &r->c->imap);
	return curlxfer_start(&r->x);
}

static void schedule_poll(struct probe_run *r, double after)
{
	double now = r->in->host->now();
	if (now >= r->deadline) {
		probe_finish_lost(r);
		return;
	}
	if (now + after > r->deadline)
		after = r->deadline - now; /* one last look at the deadline */
	r->step = P_WAIT;
	r->in->host->timer_start(r->poll, after, 0);
}

static void on_poll(struct mamori_timer *t, void *ud)
{
	struct probe_run *r = ud;
	char arg[ML_ID_LEN + 2];
	snprintf(arg, sizeof(arg), "%s-", r->c->id);
	r->polls++;
	if (imap_cmd(r, P_SEARCH, "UID SEARCH HEADER X-Mamori-Probe %s", arg) < 0) {
		snprintf(r->imap_err, sizeof(r->imap_err), "cannot start IMAP transfer");
		schedule_poll(r, r->c->poll_interval);
	}
}

/* Sort the fetched messages into the current probe and late ones. */
static void classify(struct probe_run *r, const struct ml_fetched *f, int n)
{
	const struct mamori_host *h = r->in->host;
	double now = h->now();
	for (int i = 0; i < n; i++) {
		/* INTERNALDATE has whole seconds; the poll that found the message
		 * bounds it from above. */
		double arrival = f[i].internal_date > 0 ? f[i].internal_date + 0.5 : now;
		if (arrival > now)
			arrival = now;
		if (f[i].has_tag && f[i].tag.seq == r->t.seq && f[i].tag.sent_ms == r->t.sent_ms) {
			double sent = (double)r->t.sent_ms / 1000.0;
			r->found = 1;
			r->latency = arrival > sent ? arrival - sent : 0;
			continue;
		}
		struct probe_late *l =
		    &r->late[r->n_late < ML_LATE_KEEP ? r->n_late : ML_LATE_KEEP - 1];
		l->latency = -1;
		snprintf(l->tag, sizeof(l->tag), "(unreadable tag, uid %u)", (unsigned)f[i].uid);
		if (f[i].has_tag) {
			double sent = (double)f[i].tag.sent_ms / 1000.0;
			ml_tag_format(&f[i].tag, l->tag, sizeof(l->tag));
			l->latency = arrival > sent ? arrival - sent : 0;
			if (l->latency > r->late_max)
				r->late_max = l->latency;
		}
		r->n_late++;
		h->log(r->in, MAMORI_LOG_NOTICE,
		       "%s: late probe %s from an older run arrived after %.1f s", r->c->name,
		       l->tag, l->latency);
	}
}

static void imap_step(struct probe_run *r)
{
	char set[ML_MAX_UIDS * 12];
	struct ml_fetched f[ML_MAX_UIDS];
	int n, err = 0;
	switch (r->step) {
	case P_SEARCH:
		n = ml_imap_search_parse(r->x.out ? r->x.out : "", r->x.out_len, r->uids,
		                         ML_MAX_UIDS);
		if (n <= 0) {
			if (n < 0)
				snprintf(r->imap_err, sizeof(r->imap_err),
				         "malformed SEARCH response");
			schedule_poll(r, r->c->poll_interval);
			return;
		}
		r->n_uids = n;
		ml_uid_set(r->uids, n, set, sizeof(set));
		err = imap_cmd(r, P_FETCH, "UID FETCH %s (UID INTERNALDATE ENVELOPE)", set);
		break;
	case P_FETCH:
		n = ml_imap_fetch_parse(r->x.out ? r->x.out : "", r->x.out_len, r->c->id, f,
		                        ML_MAX_UIDS);
		if (n < 0) {
			snprintf(r->imap_err, sizeof(r->imap_err), "malformed FETCH response");
			schedule_poll(r, r->c->poll_interval);
			return;
		}
		classify(r, f, n);
		ml_uid_set(r->uids, r->n_uids, set, sizeof(set));
		err = imap_cmd(r, P_STORE, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
		break;
	case P_STORE:
		ml_uid_set(r->uids, r->n_uids, set, sizeof(set));
		err = imap_cmd(r, P_EXPUNGE, "UID EXPUNGE %s", set);
		break;
	case P_EXPUNGE:
		if (r->found)
			probe_finish_found(r);
		else
			schedule_poll(r, r->c->poll_interval);
		return;
	}
	if (err < 0) {
		snprintf(r->imap_err, sizeof(r->imap_err), "cannot start IMAP transfer");
		schedule_poll(r, r->c->poll_interval);
	}
}

static void imap_done(struct curlxfer *x, int rc, void *ud)
{
	struct probe_run *r = ud;
	if (rc == CURLE_LOGIN_DENIED) {
		char out[400];
		snprintf(out, sizeof(out), "MAIL UNKNOWN - IMAP login failed for user %s: %s",
		         r->c->imap.user ? r->c->imap.user : "(none)", curlxfer_error(x, rc));
		probe_complete(r, MAMORI_UNKNOWN, out, NULL);
		return;
	}
	if (rc != CURLE_OK) {
		/* Transient until the deadline: the probe may still be found. */
		snprintf(r->imap_err, sizeof(r->imap_err), "%s", curlxfer_error(x, rc));
		if (r->found && r->step != P_SEARCH && r->step != P_FETCH)
			probe_finish_found(r); /* found; only the delete failed */
		else
			schedule_poll(r, r->c->poll_interval);
		return;
	}
	imap_step(r);
}

static void smtp_done(struct curlxfer *x, int rc, void *ud)
{
	struct probe_run *r = ud;
	char out[400];
	if (rc == CURLE_OK) {
		r->in->host->log(r->in, MAMORI_LOG_DEBUG, "%s: probe %s sent", r->c->name, r->tag);
		double first = r->c->poll_interval < 1.0 ? r->c->poll_interval : 1.0;
		schedule_poll(r, first);
		return;
	}
	if (rc == CURLE_LOGIN_DENIED) {
		snprintf(out, sizeof(out),
		         "MAIL UNKNOWN - SMTP authentication failed for user %s: %s",
		         r->c->smtp.user ? r->c->smtp.user : "(none)", curlxfer_error(x, rc));
		probe_complete(r, MAMORI_UNKNOWN, out, NULL);
		return;
	}
	snprintf(out, sizeof(out), "MAIL CRITICAL - SMTP send failed: %s", curlxfer_error(x, rc));
	probe_complete(r, MAMORI_CRITICAL, out, NULL);
}

static int compose(struct probe_run *r)
{
	const struct ml_check *c = r->c;
	char date[64];
	time_t now = (time_t)(r->t.sent_ms / 1000);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	const char *fmt = "From: <%s>\r\nTo: <%s>\r\nSubject: mamori probe %s\r\nDate: %s\r\n"
	                  "Message-ID: <%s@mamori.probe>\r\nX-Mamori-Probe: %s\r\n"
	                  "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
	                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	                  "Mail delivery probe sent by mamori (%s).\r\n"
	                  "It is deleted automatically when it arrives.\r\n";
	int n = snprintf(NULL, 0, fmt, c->from, c->to, r->tag, date, r->tag, r->tag, c->name);
	if (n < 0 || !(r->msg = malloc((size_t)n + 1)))
		return MAMORI_E_NOMEM;
	snprintf(r->msg, (size_t)n + 1, fmt, c->from, c->to, r->tag, date, r->tag, r->tag, c->name);
	r->msg_len = (size_t)n;
	return 0;
}

static int build_imap_url(struct probe_run *r)
{
	const char *base = r->c->imap.url;
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	char *mb = curl_easy_escape(NULL, r->c->mailbox, 0);
	if (!mb)
		return MAMORI_E_NOMEM;
	size_t n = blen + strlen(mb) + 2;
	if ((r->imap_url = malloc(n)))
		snprintf(r->imap_url, n, "%.*s/%s", (int)blen, base, mb);
	curl_free(mb);
	return r->imap_url ? 0 : MAMORI_E_NOMEM;
}

static int smtp_send(struct probe_run *r)
{
	int err = curlxfer_init(&r->x, r->in->cl, "smtp,smtps", smtp_done, r);
	if (err)
		return err;
	CURL *e = r->x.easy;
	r->step = P_SEND;
	r->x.upload = r->msg;
	r->x.upload_len = r->msg_len;
	/* curl does not copy the recipient list: the transfer owns it. */
	struct curl_slist *rcpt = curl_slist_append(NULL, r->c->to);
	if (!rcpt)
		return MAMORI_E_NOMEM;
	r->x.rcpt = rcpt;
	curl_easy_setopt(e, CURLOPT_URL, r->c->smtp.url);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, r->c->from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->msg_len);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
	endpoint_opts(e, &r->c->smtp);
	return curlxfer_start(&r->x);
}

int ml_probe_start(struct ml_check *c, struct mamori_run *run, void **out)
{
	const struct mamori_host *h = c->inst->host;
	struct probe_run *r = calloc(1, sizeof(*r));
	int err = MAMORI_E_NOMEM;
	if (!r)
		return err;
	r->mode = ML_PROBE;
	r->c = c;
	r->in = c->inst;
	r->run = run;
	double now = h->now();
	memcpy(r->t.id, c->id, sizeof(r->t.id));
	r->t.seq = ++c->seq;
	r->t.sent_ms = (unsigned long long)(now * 1000.0);
	r->sent = (double)r->t.sent_ms / 1000.0;
	r->deadline = r->sent + c->lost_after;
	if (ml_tag_format(&r->t, r->tag, sizeof(r->tag)) < 0)
		goto fail;
	if (!(r->poll = h->timer_new(on_poll, r)))
		goto fail;
	if ((err = compose(r)) || (err = build_imap_url(r)) || (err = smtp_send(r)))
		goto fail;
	*out = r;
	return 0;
fail:
	probe_free(r);
	return err;
}
