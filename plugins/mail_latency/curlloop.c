/*
 * mail_latency: libcurl's multi interface on the host's event loop.
 *
 * One CURLM per plugin instance.  CURLMOPT_SOCKETFUNCTION maps every socket
 * curl wants watched to a host fd watcher (io_new/io_set/io_free), and
 * CURLMOPT_TIMERFUNCTION to one host timer; both call
 * curl_multi_socket_action, then finished transfers are handed to their
 * owner's `done` callback.  Nothing here blocks: connects and TLS are
 * non-blocking inside curl, and name resolution uses curl's threaded
 * resolver (Debian's libcurl4 is built with it), so a host name in a URL
 * never stalls the loop.  The multi handle's connection cache lets the IMAP
 * polls of a run reuse one logged-in connection.
 *
 * Never enable CURLOPT_VERBOSE: its trace would carry AUTH exchanges.
 */
#include "ml.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define ML_MAX_RESPONSE (1024 * 1024) /* an IMAP answer larger than this is refused */

struct ml_sock {
	struct ml_inst *inst;
	struct mamori_io *io;
	struct ml_sock *next;
	struct ml_sock **prevp;
};

static void sock_free(struct ml_inst *in, struct ml_sock *k)
{
	if (k->next)
		k->next->prevp = k->prevp;
	*k->prevp = k->next;
	in->host->io_free(k->io);
	free(k);
}

/* Finished transfers: detach each from the multi handle, then tell its
 * owner (which may free it or start another transfer). */
static void curl_collect(struct ml_inst *in)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(in->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		int rc = (int)m->data.result;
		struct ml_xfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(in->multi, easy);
		if (x && x->done)
			x->done(x, rc, x->ud);
	}
}

static void on_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct ml_inst *in = ((struct ml_sock *)ud)->inst; /* ud may die below */
	int flags = (revents & MAMORI_IO_READ ? CURL_CSELECT_IN : 0) |
	            (revents & MAMORI_IO_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(in->multi, fd, flags, &running);
	curl_collect(in);
}

static void on_timer(struct mamori_timer *t, void *ud)
{
	struct ml_inst *in = ud;
	int running;
	curl_multi_socket_action(in->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curl_collect(in);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct ml_inst *in = userp;
	struct ml_sock *k = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			curl_multi_assign(in->multi, s, NULL);
			sock_free(in, k);
		}
		return 0;
	}
	int ev = (what & CURL_POLL_IN ? MAMORI_IO_READ : 0) |
	         (what & CURL_POLL_OUT ? MAMORI_IO_WRITE : 0);
	if (k) {
		in->host->io_set(k->io, ev);
		return 0;
	}
	if (!(k = calloc(1, sizeof(*k))))
		return -1;
	k->inst = in;
	if (!(k->io = in->host->io_new(s, ev, on_io, k))) {
		free(k);
		return -1;
	}
	k->next = in->socks;
	if (k->next)
		k->next->prevp = &k->next;
	k->prevp = &in->socks;
	in->socks = k;
	curl_multi_assign(in->multi, s, k);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct ml_inst *in = userp;
	if (timeout_ms < 0)
		in->host->timer_stop(in->curl_timer);
	else /* 0 too: never call socket_action from inside a curl callback */
		in->host->timer_start(in->curl_timer, (double)timeout_ms / 1000.0, 0);
	return 0;
}

int ml_curl_init(struct ml_inst *in)
{
	if (!(in->curl_timer = in->host->timer_new(on_timer, in)))
		return MAMORI_E_NOMEM;
	if (!(in->multi = curl_multi_init()))
		return MAMORI_E_NOMEM;
	curl_multi_setopt(in->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(in->multi, CURLMOPT_SOCKETDATA, in);
	curl_multi_setopt(in->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(in->multi, CURLMOPT_TIMERDATA, in);
	return 0;
}

void ml_curl_cleanup(struct ml_inst *in)
{
	if (in->multi)
		curl_multi_cleanup(in->multi); /* closes cached connections */
	in->multi = NULL;
	while (in->socks) /* watchers curl did not remove itself */
		sock_free(in, in->socks);
	if (in->curl_timer)
		in->host->timer_free(in->curl_timer);
	in->curl_timer = NULL;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct ml_xfer *x = ud;
	size_t n = size * nmemb;
	if (x->out_len + n + 1 > x->out_cap) {
		size_t cap = x->out_cap ? x->out_cap : 1024;
		while (cap < x->out_len + n + 1)
			cap *= 2;
		if (cap > ML_MAX_RESPONSE)
			return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
		char *p = realloc(x->out, cap);
		if (!p)
			return 0;
		x->out = p;
		x->out_cap = cap;
	}
	memcpy(x->out + x->out_len, data, n);
	x->out_len += n;
	x->out[x->out_len] = '\0';
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct ml_xfer *x = ud;
	size_t n = size * nmemb, left = x->upload_len - x->upload_off;
	if (n > left)
		n = left;
	memcpy(buf, x->upload + x->upload_off, n);
	x->upload_off += n;
	return n;
}

int ml_xfer_init(struct ml_xfer *x, struct ml_inst *in, ml_xfer_done_cb done, void *ud)
{
	memset(x, 0, sizeof(*x));
	x->inst = in;
	x->done = done;
	x->ud = ud;
	if (!(x->easy = curl_easy_init()))
		return MAMORI_E_NOMEM;
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps,imap,imaps");
	return 0;
}

int ml_xfer_start(struct ml_xfer *x)
{
	x->out_len = 0;
	x->errbuf[0] = '\0';
	return curl_multi_add_handle(x->inst->multi, x->easy) == CURLM_OK ? 0 : MAMORI_E_IO;
}

void ml_xfer_free(struct ml_xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->inst->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	x->easy = NULL;
	curl_slist_free_all(x->rcpt);
	x->rcpt = NULL;
	free(x->out);
	x->out = NULL;
	x->out_len = x->out_cap = 0;
}

const char *ml_xfer_error(const struct ml_xfer *x, int curl_code)
{
	return x->errbuf[0] ? x->errbuf : curl_easy_strerror((CURLcode)curl_code);
}
