/*
 * netconn: non-blocking TCP connect + optional TLS handshake + peer
 * certificate facts, driven by the host's io watchers and one timer.
 *
 * Owns: one socket, one SSL/SSL_CTX, one io watcher and one timer per
 * attempt.  Never blocks: connect() is non-blocking, SSL_connect is
 * re-entered on WANT_READ/WANT_WRITE, and an error detected while starting
 * is reported from a zero-delay timer so the callback never runs inside
 * netconn_start.  The only file read is the CA file named in the options
 * (local, small), done when the handshake starts.
 *
 * The core is expected to ignore SIGPIPE (a TLS write on a reset socket).
 */
#include "plugins/lib/netconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct netconn {
	const struct mamori_host *host;
	netconn_cb cb;
	void *ud;
	int fd;
	int tls;
	int done;
	struct mamori_io *io;
	struct mamori_timer *timer;
	SSL_CTX *ctx;
	SSL *ssl;
	char *sni;
	char *ca_file;
	struct netconn_ctxcache *cache; /* the caller's, may be NULL */
	char ip[INET6_ADDRSTRLEN];
	double t0;
	struct netconn_info info;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double netconn_days_left(time_t t, double now)
{
	double d = ((double)t - now) / 86400.0;
	return d < 0 ? -(double)(long long)(-d + 0.999999999) : (double)(long long)d;
}

/* Report the outcome once and stop watching.  The callback may free c, so
 * nothing touches c after it. */
static void netconn_finish(struct netconn *c)
{
	if (c->done)
		return;
	c->done = 1;
	c->host->io_set(c->io, 0);
	c->host->timer_stop(c->timer);
	c->info.total_time = mono_now() - c->t0;
	c->cb(c, &c->info, c->ud);
}

static void netconn_fail(struct netconn *c, int err, const char *fmt, const char *detail)
{
	c->info.err = err;
	snprintf(c->info.errmsg, sizeof c->info.errmsg, fmt, detail ? detail : "");
	netconn_finish(c);
}

static void on_timeout(struct mamori_timer *t, void *ud)
{
	struct netconn *c = ud;
	(void)t;
	if (c->info.err) { /* deferred start error */
		netconn_finish(c);
		return;
	}
	netconn_fail(c, MAMORI_E_TIMEOUT,
	             c->info.stage == NETCONN_CONNECT ? "connect timed out%s"
	                                              : "TLS handshake timed out%s",
	             "");
}

static time_t asn1_to_time(const ASN1_TIME *a)
{
	struct tm tm;
	if (!a || ASN1_TIME_to_tm(a, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static void name_to_text(const X509_NAME *n, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	buf[0] = '\0';
	if (!b)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int len = BIO_read(b, buf, (int)size - 1);
		buf[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
}

static void collect_cert(struct netconn *c)
{
	struct netconn_info *in = &c->info;
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	snprintf(in->protocol, sizeof in->protocol, "%s", SSL_get_version(c->ssl));
	in->verify_code = SSL_get_verify_result(c->ssl);
	if (!cert) {
		in->verify_code = X509_V_ERR_UNSPECIFIED;
		snprintf(in->verify_text, sizeof in->verify_text, "no peer certificate");
		return;
	}
	in->has_cert = 1;
	in->not_before = asn1_to_time(X509_get0_notBefore(cert));
	in->not_after = asn1_to_time(X509_get0_notAfter(cert));
	name_to_text(X509_get_subject_name(cert), in->subject, sizeof in->subject);
	name_to_text(X509_get_issuer_name(cert), in->issuer, sizeof in->issuer);
	in->verify_ok = in->verify_code == X509_V_OK;
	snprintf(in->verify_text, sizeof in->verify_text, "%s",
	         X509_verify_cert_error_string(in->verify_code));
	X509_free(cert);
}

static void handshake_step(struct netconn *c)
{
	int r;
	ERR_clear_error();
	r = SSL_connect(c->ssl);
	if (r == 1) {
		collect_cert(c);
		c->info.stage = NETCONN_DONE;
		netconn_finish(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ: c->host->io_set(c->io, MAMORI_IO_READ); return;
	case SSL_ERROR_WANT_WRITE: c->host->io_set(c->io, MAMORI_IO_WRITE); return;
	case SSL_ERROR_SYSCALL:
		netconn_fail(c, MAMORI_E_IO, "TLS handshake failed: %s",
		             errno ? strerror(errno) : "connection closed by peer");
		return;
	default: {
		char buf[200];
		unsigned long e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, buf, sizeof buf);
		else
			snprintf(buf, sizeof buf, "protocol error");
		netconn_fail(c, MAMORI_E_IO, "TLS handshake failed: %s", buf);
		return;
	}
	}
}

static int is_ip_literal(const char *s)
{
	unsigned char b[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

struct ctxcache_entry {
	struct ctxcache_entry *next;
	SSL_CTX *ctx;
	char ca_file[]; /* "" = system store */
};

struct netconn_ctxcache {
	struct ctxcache_entry *head;
};

struct netconn_ctxcache *netconn_ctxcache_new(void)
{
	return calloc(1, sizeof(struct netconn_ctxcache));
}

void netconn_ctxcache_free(struct netconn_ctxcache *cc)
{
	if (!cc)
		return;
	while (cc->head) {
		struct ctxcache_entry *e = cc->head;
		cc->head = e->next;
		SSL_CTX_free(e->ctx);
		free(e);
	}
	free(cc);
}

static SSL_CTX *ctx_make(const char *ca_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
	            : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Verify but do not abort: the caller wants the dates of an untrusted
	 * certificate too, and decides what an untrusted one means. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

/* A context for ca_file with a reference for the caller, from the cache
 * when there is one. */
static SSL_CTX *ctx_get(struct netconn_ctxcache *cc, const char *ca_file)
{
	const char *key = ca_file ? ca_file : "";
	for (struct ctxcache_entry *e = cc ? cc->head : NULL; e; e = e->next)
		if (strcmp(e->ca_file, key) == 0) {
			SSL_CTX_up_ref(e->ctx);
			return e->ctx;
		}
	SSL_CTX *ctx = ctx_make(ca_file);
	if (!ctx || !cc)
		return ctx;
	struct ctxcache_entry *e = malloc(sizeof *e + strlen(key) + 1);
	if (!e)
		return ctx;
	strcpy(e->ca_file, key);
	e->ctx = ctx;
	SSL_CTX_up_ref(ctx);
	e->next = cc->head;
	cc->head = e;
	return ctx;
}

static int tls_setup(struct netconn *c)
{
	X509_VERIFY_PARAM *vp;
	c->ctx = ctx_get(c->cache, c->ca_file);
	if (!c->ctx)
		return MAMORI_E_CONFIG;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return MAMORI_E_NOMEM;
	vp = SSL_get0_param(c->ssl);
	if (c->sni && !is_ip_literal(c->sni)) {
		SSL_set_tlsext_host_name(c->ssl, c->sni);
		if (SSL_set1_host(c->ssl, c->sni) != 1)
			return MAMORI_E_NOMEM;
	} else if (X509_VERIFY_PARAM_set1_ip_asc(vp, c->sni ? c->sni : c->ip) != 1) {
		return MAMORI_E_INVAL;
	}
	return 0;
}

static void on_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct netconn *c = ud;
	(void)io;
	(void)revents;
	if (c->done)
		return;
	if (c->info.stage == NETCONN_CONNECT) {
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			netconn_fail(c, MAMORI_E_IO, "connect failed: %s", strerror(soerr));
			return;
		}
		c->info.connect_time = mono_now() - c->t0;
		if (!c->tls) {
			c->info.stage = NETCONN_DONE;
			netconn_finish(c);
			return;
		}
		c->info.stage = NETCONN_HANDSHAKE;
		if (tls_setup(c) < 0) {
			netconn_fail(c, MAMORI_E_CONFIG, "TLS setup failed%s",
			             c->ca_file ? " (cannot load ca_file)" : "");
			return;
		}
	}
	handshake_step(c);
}

static int parse_addr(const char *ip, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof *ss);
	if (!ip || port == 0 || port > 65535)
		return MAMORI_E_INVAL;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof *a6;
		return 0;
	}
	return MAMORI_E_INVAL;
}

static int netconn_copy_opts(struct netconn *c, const struct netconn_opts *o)
{
	snprintf(c->ip, sizeof c->ip, "%s", o->ip);
	c->tls = o->tls;
	if (o->sni && !(c->sni = strdup(o->sni)))
		return MAMORI_E_NOMEM;
	c->cache = o->cache;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		return MAMORI_E_NOMEM;
	return 0;
}

int netconn_start(const struct mamori_host *host, const struct netconn_opts *o, netconn_cb cb,
                  void *ud, struct netconn **out)
{
	struct sockaddr_storage ss;
	socklen_t slen = 0;
	struct netconn *c = NULL;
	int rc;

	*out = NULL;
	if (!host || !o || !cb || parse_addr(o->ip, o->port, &ss, &slen) < 0)
		return MAMORI_E_INVAL;
	if (!(c = calloc(1, sizeof *c)))
		return MAMORI_E_NOMEM;
	c->host = host;
	c->cb = cb;
	c->ud = ud;
	c->fd = -1;
	c->info.stage = NETCONN_CONNECT;
	c->t0 = mono_now();
	if ((rc = netconn_copy_opts(c, o)) < 0)
		goto fail;
	rc = MAMORI_E_IO;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail;
	rc = MAMORI_E_NOMEM;
	c->timer = host->timer_new(on_timeout, c);
	c->io = host->io_new(c->fd, MAMORI_IO_WRITE, on_io, c);
	if (!c->timer || !c->io)
		goto fail;
	if (connect(c->fd, (struct sockaddr *)&ss, slen) < 0 && errno != EINPROGRESS) {
		/* Refused at once (loopback): report it from the loop, not from
		 * here, so the caller's state is complete when cb runs. */
		c->info.err = MAMORI_E_IO;
		snprintf(c->info.errmsg, sizeof c->info.errmsg, "connect failed: %s",
		         strerror(errno));
		host->io_set(c->io, 0);
		host->timer_start(c->timer, 0, 0);
	} else {
		host->timer_start(c->timer, o->timeout > 0 ? o->timeout : 10.0, 0);
	}
	*out = c;
	return 0;
fail:
	netconn_free(c);
	return rc;
}

void netconn_free(struct netconn *c)
{
	if (!c)
		return;
	if (c->host) {
		c->host->io_free(c->io);
		c->host->timer_free(c->timer);
	}
	if (c->ssl) {
		if (c->info.stage == NETCONN_DONE && !c->info.err)
			SSL_shutdown(c->ssl); /* one non-blocking close_notify, best effort */
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c->sni);
	free(c->ca_file);
	free(c);
}
