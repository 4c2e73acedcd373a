/*
 * client: mamorictl's connection to mamorid's HTTP API - libcurl's easy
 * interface (blocking: a command-line tool waits for its answer), one
 * handle reused for every request of a run (pages share the connection).
 *
 * Where: --url http(s)://host:port, or --socket PATH (the daemon's local
 * UNIX socket, where its own user and root are administrators without a
 * token: how the first administrator is made); else $MAMORI_URL, else
 * $MAMORI_SOCKET, else CTL_DEFAULT_SOCKET.  Who: the token in --token-file
 * or $MAMORI_TOKEN_FILE, sent as "Authorization: Bearer"; the file is
 * refused when others may read it (util/secret.h, the rules mamorid
 * applies to its own secrets).  Proxies from the environment are not
 * used: the API is reached directly.
 *
 * Answers: 2xx with a JSON body (parsed through the strict gate,
 * util/jsonw.h); anything else becomes an exit code (ctl.h) and one line
 * on stderr with the server's message, escaped.
 * Must never: print the token or put it anywhere but the Authorization
 * header; follow a redirect (the token would go along); print server
 * text unescaped.
 */
#include "ctl/ctl.h"
#include "util/jsonw.h"
#include "util/mem.h"
#include "util/secret.h"

#include "buildcfg.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Largest answer read: the overview of 5,000 customers is ~1 MB, a page
 * of 1,000 alerts well under that. */
#define BODY_MAX (64u * 1024u * 1024u)

/* ---- strings ---- */

void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void sb_addf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	sb_add(b, s, (size_t)n);
	free(s);
}

void sb_free(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* RFC 3986 unreserved characters stay, everything else is %XX: a '/' in a
 * name must not become a path separator, a '&' not a new parameter. */
static void sb_escape(struct sb *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			sb_add(b, s, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			sb_add(b, e, 3);
		}
	}
}

void sb_seg(struct sb *b, const char *raw)
{
	sb_add(b, "/", 1);
	sb_escape(b, raw);
}

void sb_query(struct sb *b, const char *key, const char *val)
{
	if (!val)
		return;
	sb_add(b, b->p && strchr(b->p, '?') ? "&" : "?", 1);
	sb_escape(b, key);
	sb_add(b, "=", 1);
	sb_escape(b, val);
}

/* ---- connection ---- */

static int bad_token(const char *path)
{
	fprintf(stderr, "mamorictl: %s: %s\n", out_safe(path),
	        L("not a token (one line of printable characters expected)",
	          "トークンではありません (印字可能文字の1行が必要です)"));
	return EXIT_FAIL;
}

static int read_token(struct ctl *c, const char *path)
{
	char err[1024];
	char *tok = NULL;
	size_t len = 0;
	if (secret_read_file(path, &tok, &len, err, sizeof err) != 0) {
		fprintf(stderr, "mamorictl: %s\n", out_safe(err));
		return EXIT_FAIL;
	}
	/* trailing blanks and line ends (an editor's) go; inside, only
	 * visible ASCII: a CR or LF would forge a header */
	while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' ' ||
	               tok[len - 1] == '\t'))
		tok[--len] = '\0';
	int ok = len > 0 && len <= 1024;
	for (size_t i = 0; ok && i < len; i++)
		ok = tok[i] > 0x20 && tok[i] < 0x7f;
	if (!ok) {
		secret_free(tok, len);
		return bad_token(path);
	}
	c->token = tok;
	c->token_len = len;
	return EXIT_OK;
}

int ctl_open(struct ctl *c, const char *url, const char *sock, const char *token_file)
{
	if (!url && !sock) {
		const char *e = getenv("MAMORI_URL");
		if (e && *e)
			url = e;
		else if ((e = getenv("MAMORI_SOCKET")) && *e)
			sock = e;
		else
			sock = CTL_DEFAULT_SOCKET;
	}
	if (url) {
		if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
			fprintf(stderr, "mamorictl: %s: %s\n", out_safe(url),
			        L("the URL must start with http:// or https://",
			          "URL は http:// か https:// で始めてください"));
			return EXIT_USAGE;
		}
		char *u = xstrdup(url);
		size_t n = strlen(u);
		while (n > 0 && u[n - 1] == '/')
			u[--n] = '\0';
		c->url = u;
	} else {
		c->sock = sock;
		c->url = xstrdup("http://localhost");
	}
	if (!c->ca_file) {
		const char *e = getenv("MAMORI_CA_FILE");
		c->ca_file = e && *e ? e : NULL;
	}
	if (!token_file) {
		const char *e = getenv("MAMORI_TOKEN_FILE");
		token_file = e && *e ? e : NULL;
	}
	if (token_file) {
		int rc = read_token(c, token_file);
		if (rc != EXIT_OK)
			return rc;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
		fprintf(stderr, "mamorictl: cannot initialise libcurl\n");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

void ctl_close(struct ctl *c)
{
	if (c->curl) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	secret_free(c->token, c->token_len);
	free((char *)c->url);
	c->token = NULL;
	c->url = NULL;
	c->curl = NULL;
}

/* ---- requests ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sb *b = ud;
	if (b->n + n > BODY_MAX)
		return 0; /* CURLE_WRITE_ERROR */
	sb_add(b, p, n);
	return n;
}

void reply_free(struct reply *r)
{
	sb_free(&r->body);
	cJSON_Delete(r->doc);
	r->doc = NULL;
}

void reply_print_raw(const struct reply *r)
{
	if (!r->body.n)
		return;
	fwrite(r->body.p, 1, r->body.n, stdout);
	if (r->body.p[r->body.n - 1] != '\n')
		putchar('\n');
}

static cJSON *parse(const struct reply *r)
{
	struct jsonw_limits lim = { .max_size = BODY_MAX, .max_depth = 32 };
	return jsonw_parse(r->body.p, r->body.n, &lim, NULL);
}

static int unreachable(struct ctl *c, CURLcode rc, const char *err)
{
	/* for a socket, curl's own text names a made-up host and port */
	const char *why = c->sock || !*err ? curl_easy_strerror(rc) : err;
	fprintf(stderr, "mamorictl: %s %s: %s\n",
	        L("cannot reach mamorid at", "mamorid に接続できません:"),
	        out_safe(c->sock ? c->sock : c->url), out_safe(why));
	if (c->sock && rc == CURLE_COULDNT_CONNECT)
		fprintf(stderr, "mamorictl: %s\n",
		        L("is mamorid running with this socket in http.listen (\"unix:PATH\")? "
		          "--url or --socket picks another",
		          "mamorid は動いていて、http.listen にこのソケット (\"unix:PATH\") "
		          "がありますか? 別の接続先は --url か --socket で"));
	return EXIT_CONNECT;
}

static int refused(struct ctl *c, struct reply *r)
{
	cJSON *doc = parse(r);
	const cJSON *e = doc ? cJSON_GetObjectItemCaseSensitive(doc, "error") : NULL;
	const char *code = js(e, "code"), *msg = js(e, "message");
	if (c->json && doc)
		reply_print_raw(r);
	if (msg)
		fprintf(stderr, "mamorictl: %s (HTTP %ld %s)\n", out_safe(msg), r->status,
		        out_safe(code));
	else
		fprintf(stderr, "mamorictl: %s %ld\n",
		        L("the server answered HTTP", "サーバの応答: HTTP"), r->status);
	if (r->status == 401 && !c->token)
		fprintf(
		    stderr, "mamorictl: %s\n",
		    L("give a token (--token-file), or use the local socket as the daemon's user "
		      "or root",
		      "トークン (--token-file) を指定するか、デーモンのユーザか root "
		      "でローカルソケットを使ってください"));
	cJSON_Delete(doc);
	if (r->status == 404)
		return EXIT_NOTFOUND;
	return r->status >= 500 ? EXIT_CONNECT : EXIT_FAIL;
}

int ctl_call(struct ctl *c, const char *method, const char *path, const char *body, struct reply *r)
{
	CURL *h = c->curl;
	memset(r, 0, sizeof *r);
	struct sb url = { 0 };
	sb_addf(&url, "%s%s", c->url, path);
	struct curl_slist *hdr = NULL;
	hdr = curl_slist_append(hdr, c->raw ? "Accept: */*" : "Accept: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	char *authz = NULL;
	if (c->token) {
		authz = xasprintf("Authorization: Bearer %s", c->token);
		hdr = curl_slist_append(hdr, authz);
	}
	char err[CURL_ERROR_SIZE] = "";
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url.p);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mamorictl/" MAMORI_VERSION);
	/* https: TLS 1.2 or newer, certificate and host name verified (there
	 * is no option to turn that off; --ca-file names the CA). */
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	if (c->sock)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	/* the header list holds the token: wipe it */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdr);
	if (authz) {
		explicit_bzero(authz, strlen(authz));
		free(authz);
	}
	sb_free(&url);
	if (rc == CURLE_WRITE_ERROR) {
		fprintf(stderr, "mamorictl: %s (> %u bytes)\n",
		        L("the server's answer is too large", "サーバの応答が大きすぎます"),
		        BODY_MAX);
		return EXIT_FAIL;
	}
	if (rc != CURLE_OK)
		return unreachable(c, rc, err);
	if (r->status < 200 || r->status > 299)
		return refused(c, r);
	if (r->body.n == 0 || c->raw)
		return EXIT_OK;
	struct jsonw_limits lim = { .max_size = BODY_MAX, .max_depth = 32 };
	struct jsonw_error je;
	r->doc = jsonw_parse(r->body.p, r->body.n, &lim, &je);
	if (!r->doc) {
		fprintf(stderr, "mamorictl: %s: %s (byte %zu)\n",
		        L("the server's answer is not JSON", "サーバの応答が JSON ではありません"),
		        jsonw_strerror(je.code), je.offset);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
