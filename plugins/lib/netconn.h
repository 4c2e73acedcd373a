/*
 * netconn: non-blocking TCP connect, optional TLS handshake, peer
 * certificate facts, for check plugins.
 *
 * Everything runs on the core's loop through the host API (io watchers and
 * one timer); nothing here blocks.  The address must be a numeric IPv4 or
 * IPv6 literal: name resolution is the caller's business (a plugin that
 * needs it uses c-ares or the asset's address), because getaddrinfo on a
 * name would block the loop.
 *
 *   struct netconn_opts o = { .ip = "127.0.0.1", .port = 443, .timeout = 10,
 *                             .tls = 1, .sni = "utm.example.jp" };
 *   netconn_start(host, &o, done, ud, &c);
 *   ...  done(c, info, ud) is called exactly once, later, on the loop;
 *   netconn_free(c) in or after the callback, or before it to cancel (then
 *   the callback is never called).
 *
 * Certificate verification is always performed and reported
 * (info->verify_ok / verify_text), with the CA file given or the system
 * store, and the host name (sni) or IP checked against the certificate.  Whether
 * a failed verification is fatal is the caller's policy, so a handshake
 * with an untrusted certificate still yields its dates and subject.
 */
#ifndef MAMORI_PLUGUTIL_NETCONN_H
#define MAMORI_PLUGUTIL_NETCONN_H

#include <time.h>
#include <mamori/plugin.h>

struct netconn;

struct netconn_opts {
	const char *ip;      /* numeric IPv4/IPv6 address (required) */
	unsigned port;       /* 1..65535 */
	double timeout;      /* seconds for connect + handshake; <= 0: 10 */
	int tls;             /* 1: TLS handshake after connect */
	const char *sni;     /* server name to send and verify; NULL: none,
	                      * the certificate is then checked against ip */
	const char *ca_file; /* PEM trust anchors; NULL: system store */
	/* Optional: reuse TLS contexts (one per ca_file) across attempts.
	 * Building a context and loading its trust anchors cost more than
	 * the handshake; a plugin keeps one cache per instance. */
	struct netconn_ctxcache *cache;
};

struct netconn_ctxcache;
struct netconn_ctxcache *netconn_ctxcache_new(void);
/* Frees the cache's references; attempts in progress keep their own. */
void netconn_ctxcache_free(struct netconn_ctxcache *cc);

/* Stages, for messages: how far the attempt got. */
enum netconn_stage {
	NETCONN_CONNECT = 1,
	NETCONN_HANDSHAKE,
	NETCONN_DONE,
};

struct netconn_info {
	int err;             /* 0 or enum mamori_err (TIMEOUT, IO, INVAL...) */
	int stage;           /* enum netconn_stage reached (failed in, if err) */
	char errmsg[256];    /* human text when err != 0 */
	double connect_time; /* seconds until TCP connected */
	double total_time;   /* seconds until done (handshake included) */
	/* TLS only, valid when stage == NETCONN_DONE and err == 0: */
	char protocol[16]; /* "TLSv1.3" */
	int has_cert;      /* peer presented a certificate */
	time_t not_before;
	time_t not_after;
	char subject[256]; /* one-line RFC 2253 form */
	char issuer[256];
	int verify_ok;         /* chain and name verified */
	long verify_code;      /* X509_V_* */
	char verify_text[128]; /* X509_verify_cert_error_string */
};

typedef void (*netconn_cb)(struct netconn *c, const struct netconn_info *info, void *ud);

/* Start an attempt.  On success *out holds the handle and cb will be
 * called exactly once (never from inside netconn_start).  Returns 0 or a
 * negative enum mamori_err (INVAL: bad ip/port; NOMEM; IO: socket()
 * failed) and then cb is never called. */
int netconn_start(const struct mamori_host *host, const struct netconn_opts *opts, netconn_cb cb,
                  void *ud, struct netconn **out);

/* Free the handle; cancels an attempt in progress (no callback then).
 * May be called from the callback.  NULL is fine. */
void netconn_free(struct netconn *c);

/* Days from `now` to `t` (negative when past), rounded down. */
double netconn_days_left(time_t t, double now);

#endif
