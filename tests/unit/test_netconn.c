/*
 * Unit tests for plugins/lib/netconn.c (non-blocking connect + TLS + peer
 * certificate facts).
 *
 * netconn is a library, not a plugin, so it is compiled into this test
 * directly and driven by a minimal host (timers and io watchers on a real
 * libev loop, nothing else).  The TLS peer is an in-process server on the
 * same loop with certificates made here with OpenSSL, so no sleep() and no
 * external process: connect refused, plain connect, handshake timeout,
 * garbage server, cancel, expiry dates, verification with and without a
 * pinned CA file, name mismatch, garbage addresses.
 */
#include "plugins/lib/netconn.c"

#include <check.h>
#include <ev.h>
#include <signal.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* ---- minimal host: timers and io on libev -------------------------- */

struct mamori_timer {
	ev_timer w;
	mamori_timer_cb cb;
	void *ud;
};
struct mamori_io {
	ev_io w;
	int fd;
	mamori_io_cb cb;
	void *ud;
};

static struct ev_loop *loop;

static void t_fire(struct ev_loop *l, ev_timer *w, int revents)
{
	struct mamori_timer *t = (struct mamori_timer *)w;
	(void)l;
	(void)revents;
	t->cb(t, t->ud);
}
static struct mamori_timer *h_timer_new(mamori_timer_cb cb, void *ud)
{
	struct mamori_timer *t = calloc(1, sizeof *t);
	ev_timer_init(&t->w, t_fire, 0, 0);
	t->cb = cb;
	t->ud = ud;
	return t;
}
static void h_timer_start(struct mamori_timer *t, double after, double repeat)
{
	ev_timer_stop(loop, &t->w);
	ev_timer_set(&t->w, after, repeat);
	ev_timer_start(loop, &t->w);
}
static void h_timer_stop(struct mamori_timer *t)
{
	ev_timer_stop(loop, &t->w);
}
static void h_timer_free(struct mamori_timer *t)
{
	if (t)
		ev_timer_stop(loop, &t->w);
	free(t);
}
static void io_fire(struct ev_loop *l, ev_io *w, int revents)
{
	struct mamori_io *io = (struct mamori_io *)w;
	(void)l;
	io->cb(io, io->fd,
	       (revents & EV_READ ? MAMORI_IO_READ : 0) |
	           (revents & EV_WRITE ? MAMORI_IO_WRITE : 0),
	       io->ud);
}
static void h_io_set(struct mamori_io *io, int events)
{
	ev_io_stop(loop, &io->w);
	if (!events)
		return;
	ev_io_set(&io->w, io->fd,
	          (events & MAMORI_IO_READ ? EV_READ : 0) |
	              (events & MAMORI_IO_WRITE ? EV_WRITE : 0));
	ev_io_start(loop, &io->w);
}
static struct mamori_io *h_io_new(int fd, int events, mamori_io_cb cb, void *ud)
{
	struct mamori_io *io = calloc(1, sizeof *io);
	ev_io_init(&io->w, io_fire, fd, EV_READ);
	io->fd = fd;
	io->cb = cb;
	io->ud = ud;
	h_io_set(io, events);
	return io;
}
static void h_io_free(struct mamori_io *io)
{
	if (io)
		ev_io_stop(loop, &io->w);
	free(io);
}

static struct mamori_host host = {
	.abi_major = MAMORI_PLUGIN_ABI_MAJOR,
	.abi_minor = MAMORI_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct mamori_host),
	.timer_new = h_timer_new,
	.timer_start = h_timer_start,
	.timer_stop = h_timer_stop,
	.timer_free = h_timer_free,
	.io_new = h_io_new,
	.io_set = h_io_set,
	.io_free = h_io_free,
};

/* ---- test state ------------------------------------------------------ */

struct outcome {
	int calls;
	int in_start;
	struct netconn_info info;
};

static void done_cb(struct netconn *c, const struct netconn_info *info, void *ud)
{
	struct outcome *o = ud;
	ck_assert_int_eq(o->in_start, 0);
	o->calls++;
	o->info = *info;
	netconn_free(c);
}

/* Run the loop until the outcome is in or `limit` seconds pass. */
static void pump_until(struct outcome *o, double limit)
{
	double end = ev_time() + limit;
	while (o->calls == 0 && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
}

static void pump_for(double seconds)
{
	double end = ev_time() + seconds;
	while (ev_time() < end) {
		ev_now_update(loop);
		ev_run(loop, EVRUN_NOWAIT);
		ev_sleep(0.005);
	}
}

static void run_attempt(struct netconn_opts *opts, struct outcome *o)
{
	struct netconn *c = NULL;
	memset(o, 0, sizeof *o);
	ev_now_update(loop);
	o->in_start = 1;
	ck_assert_int_eq(netconn_start(&host, opts, done_cb, o, &c), 0);
	o->in_start = 0;
	ck_assert_ptr_nonnull(c);
	pump_until(o, 5.0);
	ck_assert_int_eq(o->calls, 1);
	pump_for(0.05); /* nothing more may arrive */
	ck_assert_int_eq(o->calls, 1);
}

/* A listening socket on 127.0.0.1, port in *port. */
static int listener(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static unsigned closed_port(void)
{
	unsigned p;
	int fd = listener(&p);
	close(fd);
	return p;
}

/* ---- in-process TLS server on the same loop ------------------------- */

#define MAX_PEERS 8
struct tls_peer {
	int fd;
	SSL *ssl;
	struct mamori_io *io;
};
struct tls_server {
	int lfd;
	unsigned port;
	int garbage; /* answer with plain text instead of TLS */
	SSL_CTX *ctx;
	struct mamori_io *lio;
	struct tls_peer peers[MAX_PEERS];
	char sni_seen[128];
	char cert_path[64];
};

/* Self-signed P-256 certificate for `cn` (DNS:cn, IP:127.0.0.1) valid
 * until now + days (negative: expired). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long days)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char san[160];
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -30L * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400 + 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	snprintf(san, sizeof san, "DNS:%s,IP:127.0.0.1", cn);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static int sni_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_server *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)al;
	snprintf(s->sni_seen, sizeof s->sni_seen, "%s", name ? name : "");
	return SSL_TLSEXT_ERR_OK;
}

static void peer_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct tls_peer *p = ud;
	int r = SSL_do_handshake(p->ssl);
	(void)fd;
	(void)revents;
	if (r == 1) {
		host.io_set(io, 0);
		return;
	}
	switch (SSL_get_error(p->ssl, r)) {
	case SSL_ERROR_WANT_READ: host.io_set(io, MAMORI_IO_READ); break;
	case SSL_ERROR_WANT_WRITE: host.io_set(io, MAMORI_IO_WRITE); break;
	default: host.io_set(io, 0);
	}
}

static void accept_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct tls_server *s = ud;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct tls_peer *p = NULL;
	(void)io;
	(void)revents;
	if (cfd < 0)
		return;
	for (int i = 0; i < MAX_PEERS && !p; i++)
		if (s->peers[i].fd <= 0)
			p = &s->peers[i];
	if (!p || s->garbage) {
		static const char junk[] = "HTTP/1.0 400 Bad Request\r\n\r\nnot tls at all";
		ssize_t w = write(cfd, junk, sizeof junk - 1);
		(void)w;
		close(cfd);
		return;
	}
	p->fd = cfd;
	p->ssl = SSL_new(s->ctx);
	SSL_set_fd(p->ssl, cfd);
	SSL_set_accept_state(p->ssl);
	p->io = host.io_new(cfd, MAMORI_IO_READ, peer_io, p);
}

static struct tls_server *tls_server_new(const char *cn, long days)
{
	struct tls_server *s = calloc(1, sizeof *s);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = make_cert(key, cn ? cn : "localhost", days);
	FILE *f;
	int tfd;
	snprintf(s->cert_path, sizeof s->cert_path, "/tmp/test_netconn.XXXXXX");
	tfd = mkstemp(s->cert_path);
	ck_assert_int_ge(tfd, 0);
	f = fdopen(tfd, "w");
	PEM_write_X509(f, x);
	fclose(f);
	s->ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_int_eq(SSL_CTX_use_certificate(s->ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
	SSL_CTX_set_tlsext_servername_callback(s->ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	X509_free(x);
	EVP_PKEY_free(key);
	s->lfd = listener(&s->port);
	s->lio = host.io_new(s->lfd, MAMORI_IO_READ, accept_io, s);
	return s;
}

static void tls_server_free(struct tls_server *s)
{
	for (int i = 0; i < MAX_PEERS; i++) {
		if (s->peers[i].fd <= 0)
			continue;
		host.io_free(s->peers[i].io);
		SSL_free(s->peers[i].ssl);
		close(s->peers[i].fd);
	}
	host.io_free(s->lio);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	unlink(s->cert_path);
	free(s);
}

/* ---- tests ----------------------------------------------------------- */

START_TEST(refused)
{
	struct outcome o;
	struct netconn_opts opts = { .ip = "127.0.0.1", .port = closed_port(), .timeout = 2 };
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, MAMORI_E_IO);
	ck_assert_int_eq(o.info.stage, NETCONN_CONNECT);
	ck_assert_ptr_nonnull(strstr(o.info.errmsg, "refused"));
}
END_TEST

START_TEST(plain_connect)
{
	struct outcome o;
	unsigned port;
	int lfd = listener(&port);
	struct netconn_opts opts = { .ip = "127.0.0.1", .port = port, .timeout = 2 };
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, 0);
	ck_assert_int_eq(o.info.stage, NETCONN_DONE);
	ck_assert(o.info.connect_time >= 0 && o.info.connect_time < 2);
	ck_assert_int_eq(o.info.has_cert, 0);
	close(lfd);
}
END_TEST

START_TEST(handshake_timeout)
{
	/* The kernel accepts the TCP connection into the backlog; nobody
	 * ever speaks TLS. */
	struct outcome o;
	unsigned port;
	int lfd = listener(&port);
	struct netconn_opts opts = { .ip = "127.0.0.1", .port = port, .timeout = 0.3, .tls = 1 };
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, MAMORI_E_TIMEOUT);
	ck_assert_int_eq(o.info.stage, NETCONN_HANDSHAKE);
	ck_assert(o.info.total_time >= 0.25 && o.info.total_time < 2);
	close(lfd);
}
END_TEST

START_TEST(garbage_server)
{
	struct outcome o;
	struct tls_server *s = tls_server_new(NULL, 0);
	struct netconn_opts opts = { .ip = "127.0.0.1", .port = s->port, .timeout = 2, .tls = 1 };
	s->garbage = 1;
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, MAMORI_E_IO);
	ck_assert_int_eq(o.info.stage, NETCONN_HANDSHAKE);
	ck_assert_ptr_nonnull(strstr(o.info.errmsg, "TLS handshake failed"));
	tls_server_free(s);
}
END_TEST

START_TEST(cancel_before_done)
{
	struct outcome o = { 0 };
	unsigned port;
	int lfd = listener(&port);
	struct netconn *c = NULL;
	struct netconn_opts opts = { .ip = "127.0.0.1", .port = port, .timeout = 0.1, .tls = 1 };
	ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), 0);
	netconn_free(c);
	pump_for(0.3);
	ck_assert_int_eq(o.calls, 0);
	/* and a cancelled immediate refusal never reports either */
	opts.port = closed_port();
	ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), 0);
	netconn_free(c);
	pump_for(0.05);
	ck_assert_int_eq(o.calls, 0);
	close(lfd);
}
END_TEST

START_TEST(garbage_addresses)
{
	static const char *bad[] = { "",       "example.com", "999.1.1.1", "127.0.0.1:443", "1.2.3",
		                     "::1::2", "127.0.0.1 ",  "\xff\xfe",  "0x7f.1" };
	struct outcome o = { 0 };
	struct netconn *c = (struct netconn *)&o;
	struct netconn_opts opts = { .port = 443 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		opts.ip = bad[i];
		ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), MAMORI_E_INVAL);
		ck_assert_ptr_null(c);
	}
	opts.ip = NULL;
	ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), MAMORI_E_INVAL);
	opts.ip = "127.0.0.1";
	opts.port = 0;
	ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), MAMORI_E_INVAL);
	opts.port = 70000;
	ck_assert_int_eq(netconn_start(&host, &opts, done_cb, &o, &c), MAMORI_E_INVAL);
	ck_assert_int_eq(o.calls, 0);
}
END_TEST

START_TEST(tls_self_signed_untrusted)
{
	struct outcome o;
	struct tls_server *s = tls_server_new("localhost", 10);
	struct netconn_opts opts = {
		.ip = "127.0.0.1", .port = s->port, .timeout = 5, .tls = 1, .sni = "localhost"
	};
	time_t now = time(NULL);
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, 0);
	ck_assert_int_eq(o.info.stage, NETCONN_DONE);
	ck_assert_int_eq(o.info.has_cert, 1);
	ck_assert_int_eq(o.info.verify_ok, 0);
	ck_assert(o.info.verify_code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	ck_assert_ptr_nonnull(strstr(o.info.subject, "CN=localhost"));
	ck_assert(o.info.not_after > now + 9 * 86400 && o.info.not_after < now + 11 * 86400);
	ck_assert(netconn_days_left(o.info.not_after, (double)now) == 10.0);
	ck_assert_str_eq(s->sni_seen, "localhost");
	tls_server_free(s);
}
END_TEST

START_TEST(tls_pinned_ca_and_names)
{
	struct outcome o;
	struct tls_server *s = tls_server_new("localhost", 365);
	struct netconn_opts opts = { .ip = "127.0.0.1",
		                     .port = s->port,
		                     .timeout = 5,
		                     .tls = 1,
		                     .sni = "localhost",
		                     .ca_file = s->cert_path };
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, 0);
	ck_assert_msg(o.info.verify_ok, "verify: %s", o.info.verify_text);
	ck_assert_ptr_nonnull(strstr(o.info.protocol, "TLS"));
	/* same certificate, wrong name */
	opts.sni = "other.example";
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, 0);
	ck_assert_int_eq(o.info.verify_ok, 0);
	ck_assert(o.info.verify_code == X509_V_ERR_HOSTNAME_MISMATCH);
	/* no name: checked against the IP, which is in the SAN */
	opts.sni = NULL;
	run_attempt(&opts, &o);
	ck_assert_msg(o.info.verify_ok, "verify: %s", o.info.verify_text);
	/* a CA file that does not exist is a setup error, reported once */
	opts.ca_file = "/nonexistent/ca.pem";
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, MAMORI_E_CONFIG);
	tls_server_free(s);
}
END_TEST

START_TEST(tls_expired)
{
	struct outcome o;
	struct tls_server *s = tls_server_new("localhost", -3);
	struct netconn_opts opts = { .ip = "127.0.0.1",
		                     .port = s->port,
		                     .timeout = 5,
		                     .tls = 1,
		                     .sni = "localhost",
		                     .ca_file = s->cert_path };
	run_attempt(&opts, &o);
	ck_assert_int_eq(o.info.err, 0);
	ck_assert_int_eq(o.info.verify_ok, 0);
	ck_assert(o.info.verify_code == X509_V_ERR_CERT_HAS_EXPIRED);
	ck_assert(netconn_days_left(o.info.not_after, (double)time(NULL)) <= -3.0);
	tls_server_free(s);
}
END_TEST

START_TEST(days_left)
{
	ck_assert(netconn_days_left(86400 * 10, 0) == 10.0);
	ck_assert(netconn_days_left(86400 * 10 - 1, 0) == 9.0);
	ck_assert(netconn_days_left(0, 1) == -1.0);
	ck_assert(netconn_days_left(0, 86400 * 2) == -2.0);
}
END_TEST

int main(void)
{
	int failed;
	Suite *s = suite_create("netconn");
	TCase *tc = tcase_create("core");
	SRunner *sr;

	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(0);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, plain_connect);
	tcase_add_test(tc, handshake_timeout);
	tcase_add_test(tc, garbage_server);
	tcase_add_test(tc, cancel_before_done);
	tcase_add_test(tc, garbage_addresses);
	tcase_add_test(tc, tls_self_signed_untrusted);
	tcase_add_test(tc, tls_pinned_ca_and_names);
	tcase_add_test(tc, tls_expired);
	tcase_add_test(tc, days_left);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
