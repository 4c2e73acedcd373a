/*
 * curlloop: libcurl's multi interface driven by the host's fd watchers
 * and one timer (see curlloop.h).  Moved here from mail_latency so the
 * notifiers drive curl the same way.
 */
#include "curlloop.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define MAX_RESPONSE (1024 * 1024)

struct curlsock {
	struct curlloop *cl;
	struct mamori_io *io;
	struct curlsock *next;
	struct curlsock **prevp;
};

struct curlloop {
	const struct mamori_host *host;
	CURLM *multi;
	struct mamori_timer *timer;
	struct curlsock *socks;
};

static void sock_free(struct curlloop *cl, struct curlsock *k)
{
	if (k->next)
		k->next->prevp = k->prevp;
	*k->prevp = k->next;
	cl->host->io_free(k->io);
	free(k);
}

/* Finished transfers: detach each from the multi handle, then tell its
 * owner (which may free it or start another transfer). */
static void collect(struct curlloop *cl)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(cl->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		int rc = (int)m->data.result;
		struct curlxfer *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(cl->multi, easy);
		if (x && x->done)
			x->done(x, rc, x->ud);
	}
}

static void on_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct curlloop *cl = ((struct curlsock *)ud)->cl; /* ud may die below */
	int flags = (revents & MAMORI_IO_READ ? CURL_CSELECT_IN : 0) |
	            (revents & MAMORI_IO_WRITE ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(cl->multi, fd, flags, &running);
	collect(cl);
}

static void on_timer(struct mamori_timer *t, void *ud)
{
	struct curlloop *cl = ud;
	int running;
	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	collect(cl);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlloop *cl = userp;
	struct curlsock *k = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			curl_multi_assign(cl->multi, s, NULL);
			sock_free(cl, k);
		}
		return 0;
	}
	int ev = (what & CURL_POLL_IN ? MAMORI_IO_READ : 0) |
	         (what & CURL_POLL_OUT ? MAMORI_IO_WRITE : 0);
	if (k) {
		cl->host->io_set(k->io, ev);
		return 0;
	}
	if (!(k = calloc(1, sizeof(*k))))
		return -1;
	k->cl = cl;
	if (!(k->io = cl->host->io_new(s, ev, on_io, k))) {
		free(k);
		return -1;
	}
	k->next = cl->socks;
	if (k->next)
		k->next->prevp = &k->next;
	k->prevp = &cl->socks;
	cl->socks = k;
	curl_multi_assign(cl->multi, s, k);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct curlloop *cl = userp;
	if (timeout_ms < 0)
		cl->host->timer_stop(cl->timer);
	else /* 0 too: never call socket_action from inside a curl callback */
		cl->host->timer_start(cl->timer, (double)timeout_ms / 1000.0, 0);
	return 0;
}

struct curlloop *curlloop_new(const struct mamori_host *host)
{
	struct curlloop *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return NULL;
	cl->host = host;
	if (!(cl->timer = host->timer_new(on_timer, cl)) || !(cl->multi = curl_multi_init())) {
		curlloop_free(cl);
		return NULL;
	}
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	return cl;
}

void curlloop_free(struct curlloop *cl)
{
	if (!cl)
		return;
	if (cl->multi)
		curl_multi_cleanup(cl->multi); /* closes cached connections */
	cl->multi = NULL;
	while (cl->socks) /* watchers curl did not remove itself */
		sock_free(cl, cl->socks);
	if (cl->timer)
		cl->host->timer_free(cl->timer);
	free(cl);
}

const struct mamori_host *curlloop_host(const struct curlloop *cl)
{
	return cl->host;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct curlxfer *x = ud;
	size_t n = size * nmemb;
	if (x->out_len + n + 1 > x->out_cap) {
		size_t cap = x->out_cap ? x->out_cap : 1024;
		while (cap < x->out_len + n + 1)
			cap *= 2;
		if (cap > (x->max_out ? x->max_out : MAX_RESPONSE) + 1024)
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
	struct curlxfer *x = ud;
	size_t n = size * nmemb, left = x->upload_len - x->upload_off;
	if (n > left)
		n = left;
	memcpy(buf, x->upload + x->upload_off, n);
	x->upload_off += n;
	return n;
}

int curlxfer_init(struct curlxfer *x, struct curlloop *cl, const char *protocols,
                  curlxfer_done_cb done, void *ud)
{
	memset(x, 0, sizeof(*x));
	x->cl = cl;
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
	/* Every TLS a plugin speaks through libcurl (smtps/STARTTLS, imaps,
	 * https): 1.2 or newer, certificate and host name verified unless the
	 * caller turns that off on an explicit (and logged) `verify = false`. */
	curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
	return 0;
}

int curlxfer_start(struct curlxfer *x)
{
	x->out_len = 0;
	x->upload_off = 0;
	x->errbuf[0] = '\0';
	return curl_multi_add_handle(x->cl->multi, x->easy) == CURLM_OK ? 0 : MAMORI_E_IO;
}

void curlxfer_free(struct curlxfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->cl->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	x->easy = NULL;
	curl_slist_free_all(x->rcpt);
	x->rcpt = NULL;
	curl_slist_free_all(x->headers);
	x->headers = NULL;
	free(x->out);
	x->out = NULL;
	x->out_len = x->out_cap = 0;
}

const char *curlxfer_error(const struct curlxfer *x, int curl_code)
{
	return x->errbuf[0] ? x->errbuf : curl_easy_strerror((CURLcode)curl_code);
}
