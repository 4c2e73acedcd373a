/*
 * curlloop: libcurl's multi interface on the core's event loop, for
 * plugins (mail_latency's SMTP and IMAP, the notifiers' SMTP, IMAP and
 * HTTPS).
 *
 * One CURLM per loop object (a plugin instance makes one).  Every socket
 * curl wants watched becomes a host fd watcher (io_new / io_set /
 * io_free), its timeout one host timer; both drive
 * curl_multi_socket_action, and finished transfers are handed to their
 * owner's `done`.  Nothing here blocks: connects and TLS are non-blocking
 * inside curl, and names are resolved by curl's threaded resolver
 * (Debian's libcurl4 has it), so a host name in a URL never stalls the
 * loop.  The multi handle's connection cache lets transfers to one server
 * reuse a connection (IMAP polls stay logged in).
 *
 *   struct curlloop *cl = curlloop_new(host);
 *   struct curlxfer x;
 *   curlxfer_init(&x, cl, "smtp,smtps", done, ud);    then curl_easy_setopt(x.easy, ...)
 *   curlxfer_start(&x);            done(&x, CURLcode, ud) runs once, later, on the loop
 *   curlxfer_free(&x);             in or after done, or before it to cancel (no done then)
 *   curlloop_free(cl);             after every transfer is freed
 *
 * curl_global_init is the plugin's (once per instance; libcurl counts).
 * Never enable CURLOPT_VERBOSE: its trace would carry AUTH exchanges.
 */
#ifndef MAMORI_PLUGUTIL_CURLLOOP_H
#define MAMORI_PLUGUTIL_CURLLOOP_H

#include <stddef.h>
#include <mamori/plugin.h>

struct curlloop;
struct curlxfer;
typedef void (*curlxfer_done_cb)(struct curlxfer *x, int curl_code, void *ud);

/* One transfer: an easy handle plus what its callbacks need. */
struct curlxfer {
	struct curlloop *cl;
	void *easy; /* CURL * */
	curlxfer_done_cb done;
	void *ud;
	char *out; /* response body, NUL-terminated (at most max_out bytes) */
	size_t out_len, out_cap, max_out;
	const char *upload; /* request body (SMTP message, HTTP POST): the caller's */
	size_t upload_len, upload_off;
	void *rcpt;    /* struct curl_slist * of SMTP recipients, freed with it */
	void *headers; /* struct curl_slist * of HTTP headers, freed with it */
	char errbuf[256];
};

struct curlloop *curlloop_new(const struct mamori_host *host);
/* Frees the multi handle (closing cached connections) and its watchers. */
void curlloop_free(struct curlloop *cl);
const struct mamori_host *curlloop_host(const struct curlloop *cl);

/* Create the transfer's easy handle with the options every transfer
 * shares; protocols: "smtp,smtps", "imap,imaps", "https"...  Response
 * bodies above 1 MiB fail the transfer (x->max_out may change it). */
int curlxfer_init(struct curlxfer *x, struct curlloop *cl, const char *protocols,
                  curlxfer_done_cb done, void *ud);
/* Hand it to the multi handle; `done` is called once from the loop. */
int curlxfer_start(struct curlxfer *x);
/* Remove and free the easy handle and buffers; `done` is never called. */
void curlxfer_free(struct curlxfer *x);
/* curl's message for the transfer's failure. */
const char *curlxfer_error(const struct curlxfer *x, int curl_code);

#endif
