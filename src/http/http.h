/*
 * http: mamorid's HTTP server - libmicrohttpd driven by the libev loop.
 *
 * Each listen address is one MHD daemon in "external epoll" mode: MHD's
 * own epoll descriptor sits under one ev_io, MHD's next timeout is one
 * ev_timer, and MHD_run does the work on the loop thread, so handlers
 * call the service layer (src/app) directly, without locks or hand-offs.
 * Sockets are opened here (IPv4, IPv6, a UNIX socket for local
 * administration) and handed to MHD, which never resolves a name.
 *
 * What it serves today: /healthz (the process and its loop answer) and
 * /readyz (the store writes, the broker session is up) for load balancers
 * and systemd on every address, and /metrics (Prometheus text format) on
 * the `metrics_listen` addresses only, which need no login and so belong
 * on loopback or a monitoring network; nothing else until users, sessions
 * and the authorisation table exist - every other path is 404.  Requests are bounded: no bodies
 * yet (413), a per-connection memory limit (headers included), a
 * connection limit and an idle timeout (slow clients are dropped).
 *
 * Config (`http` group; unknown keys are errors with file:line):
 *   http = { listen = [ "127.0.0.1:8080", "[::1]:8080", "unix:/run/mamori/api.sock" ];
 *            metrics_listen = "127.0.0.1:9108";
 *            max_connections = 1000; timeout = "30s";
 *            tls = { cert_file = "/etc/mamori/tls/api.crt"; key_file = "/etc/mamori/tls/api.key";
 * }; trusted_proxies = [ "127.0.0.1", "10.0.0.0/8" ]; };
 *
 * Must never: block the loop, include anything below src/app but the
 * codecs, be reached by another thread.  Only src/http includes
 * <microhttpd.h>.
 */
#ifndef MAMORI_HTTP_H
#define MAMORI_HTTP_H

#include <libconfig.h>
#include <stddef.h>

struct app;
struct auth;
struct ev_loop;
struct http;

#define HTTP_MAX_LISTEN  8
#define HTTP_MAX_TRUSTED 16

struct http_conf {
	char *listen[HTTP_MAX_LISTEN]; /* "host:port", "[v6]:port", "unix:/path" */
	size_t n_listen;
	/* Prometheus: /metrics without a login, on these addresses only
	 * (keep them off the public interface); the first n_listen entries of
	 * listen are the API's, these follow. */
	char *metrics_listen[HTTP_MAX_LISTEN];
	size_t n_metrics;
	unsigned max_connections; /* per listen address */
	unsigned timeout;         /* seconds a connection may stay idle */
	/* TLS on the TCP `listen` addresses (not the UNIX socket, not
	 * metrics_listen): PEM files; the key is a secret file (0600/0640). */
	char *tls_cert, *tls_key;
	/* Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are
	 * believed: addresses or CIDR blocks ("127.0.0.1", "10.0.0.0/8",
	 * "::1", "fd00::/8").  From anyone else the headers are ignored. */
	char *trusted[HTTP_MAX_TRUSTED];
	size_t n_trusted;
	/* The dashboard's files (served at / and /ui/...): not a key of the
	 * group; the server sets it to <daemon.data_dir>/www.  NULL: none. */
	char *www;
};

/* Parse and validate the group (NULL: no HTTP; *c stays empty).  0, or -1
 * with "file:line: http.key: what" in err. */
int http_conf_parse(const config_setting_t *group, struct http_conf *c, char *err, size_t errlen);
void http_conf_free(struct http_conf *c);

/* Open every listen address and start serving; NULL with a message in err
 * (an address in use, a bad path...). */
/* auth NULL: no users (only the local UNIX socket's administrator). */
struct http *http_start(struct ev_loop *loop, const struct http_conf *c, struct app *app,
                        struct auth *auth, char *err, size_t errlen);
/* Close the listeners and every connection. */
void http_free(struct http *h);

struct http_stats {
	unsigned long long requests, responses_2xx, responses_4xx, responses_5xx, scrapes;
};
void http_get_stats(const struct http *h, struct http_stats *out);

#endif
