/*
 * hookpost: one HTTPS request per notification, from a request template -
 * what the SMS gateway and the chat webhook notifiers share.
 *
 * A request template (share/mamori/notify/<kind>/<name>.tmpl, or a path)
 * has a [request] section of "key = value" lines - content_type, auth
 * (none, basic, bearer), method (POST), header (repeatable, "Name: value",
 * itself a template) - and a [body] section (util/tmpl.h syntax; |json and
 * |url escape).  The plugin supplies the fields through a lookup.
 *
 * Results: HTTP 2xx -> sent; 408, 425, 429 and 5xx -> retry (Retry-After
 * honoured, seconds); any other answer -> failed (the request is wrong
 * and stays wrong); no answer (connect, TLS, timeout) -> retry.  Never
 * logs a secret; a URL that carries one (Slack's) comes from a file.
 */
#ifndef MAMORI_PLUGUTIL_HOOKPOST_H
#define MAMORI_PLUGUTIL_HOOKPOST_H

#include <stddef.h>
#include <mamori/plugin.h>

#include "util/tmpl.h" /* plugins/lib/tmpl.c builds it */
#include "curlloop.h"

#define HOOKPOST_MAX_HEADERS 8

enum hookpost_auth { HP_AUTH_NONE, HP_AUTH_BASIC, HP_AUTH_BEARER };

struct hookpost {
	const struct mamori_host *host;
	struct curlloop *cl;
	char *url;       /* where to POST */
	char *url_shown; /* the URL for messages (scheme://host only when it came from a file) */
	char *template_text; /* the whole file */
	const char *body;    /* its [body] section, in template_text */
	size_t body_len;
	char *content_type;
	int auth;
	char *user;
	char *secret; /* password or bearer token (from a file) */
	size_t secret_len;
	char *header_tmpl[HOOKPOST_MAX_HEADERS];
	size_t n_headers;
	char *ca_file;
	int verify;
	double timeout;
};

/* Read the instance keys every such notifier has: url or url_file,
 * template (a name under notify/<kind>/ or a path), user, secret_file,
 * ca_file, verify, timeout.  Errors through host->conf_error. */
int hookpost_init(struct hookpost *hp, const struct mamori_host *h, const struct mamori_conf *c,
                  const char *kind);
void hookpost_fini(struct hookpost *hp);

/* Send one request with fields from get(ud, ...); completes d through
 * host->notify_done (later, on the loop).  *state for hookpost_cancel. */
int hookpost_send(struct hookpost *hp, struct mamori_delivery *d, tmpl_lookup get, void *ud,
                  void **state);
void hookpost_cancel(void *state);

/* The keys above, for a plugin's key table (append its own). */
#define HOOKPOST_KEYS                                                                              \
	{ "url", MAMORI_KEY_STRING, 0, "where to POST (https://...)", NULL },                      \
	    { "url_file", MAMORI_KEY_FILE, 0, "the URL, from a file (when it holds a secret)",     \
	      NULL },                                                                              \
	    { "template", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED,                                  \
	      "request template: a shipped name or a file path", NULL },                           \
	    { "user", MAMORI_KEY_STRING, 0, "basic auth user", NULL },                             \
	    { "secret_file", MAMORI_KEY_FILE, 0, "basic auth password or bearer token (0600)",     \
	      NULL },                                                                              \
	    { "ca_file", MAMORI_KEY_FILE, 0, "PEM trust anchors (default: the system's)", NULL },  \
	    { "verify", MAMORI_KEY_BOOL, 0, "verify the server certificate (default true)",        \
	      NULL },                                                                              \
	{                                                                                          \
		"timeout", MAMORI_KEY_DURATION, 0, "one request at most (default 30s)", NULL       \
	}

/* Constant-time comparison of two byte strings (signatures). */
int hookpost_equal(const void *a, size_t an, const void *b, size_t bn);

#endif
