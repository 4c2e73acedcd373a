/*
 * hookpost: a notification as one HTTPS request from a request template
 * (see hookpost.h), over libcurl's multi interface on the core's loop.
 */
#include "hookpost.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct hp_send {
	struct hookpost *hp;
	struct mamori_delivery *d;
	struct curlxfer x;
	struct tmpl_buf body;
	char retry_after[32];
};

int hookpost_equal(const void *a, size_t an, const void *b, size_t bn)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = an != bn;
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static char *read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	fclose(f);
	if (!buf || n > max) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The [request] section's lines. */
static int parse_request(struct hookpost *hp, const struct mamori_conf *c, const char *path)
{
	const struct mamori_host *h = hp->host;
	const char *sec;
	size_t len;
	if (tmpl_section(hp->template_text, "request", &sec, &len) != 0 ||
	    tmpl_section(hp->template_text, "body", &hp->body, &hp->body_len) != 0)
		return h->conf_error(c, "template", "%s: needs a [request] and a [body] section",
		                     path);
	char *copy = strndup(sec, len);
	if (!copy)
		return MAMORI_E_NOMEM;
	int rc = 0;
	for (char *line = strtok(copy, "\n"); line && !rc; line = strtok(NULL, "\n")) {
		char *l = trim(line);
		if (!*l || *l == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq) {
			rc = h->conf_error(c, "template",
			                   "%s: [request] line '%s' is not key = value", path, l);
			break;
		}
		*eq = '\0';
		char *k = trim(l), *v = trim(eq + 1);
		if (strcmp(k, "content_type") == 0) {
			free(hp->content_type);
			hp->content_type = strdup(v);
		} else if (strcmp(k, "auth") == 0) {
			hp->auth = strcmp(v, "basic") == 0    ? HP_AUTH_BASIC
			           : strcmp(v, "bearer") == 0 ? HP_AUTH_BEARER
			           : strcmp(v, "none") == 0   ? HP_AUTH_NONE
			                                      : -1;
			if (hp->auth < 0)
				rc = h->conf_error(c, "template",
				                   "%s: auth must be none, basic or bearer", path);
		} else if (strcmp(k, "header") == 0) {
			if (hp->n_headers == HOOKPOST_MAX_HEADERS || !strchr(v, ':') ||
			    strpbrk(v, "\r\n"))
				rc = h->conf_error(c, "template", "%s: bad or too many headers",
				                   path);
			else
				hp->header_tmpl[hp->n_headers++] = strdup(v);
		} else {
			rc =
			    h->conf_error(c, "template", "%s: unknown [request] key '%s'", path, k);
		}
	}
	free(copy);
	if (!rc && !hp->content_type)
		hp->content_type = strdup("application/json");
	return rc;
}

int hookpost_init(struct hookpost *hp, const struct mamori_host *h, const struct mamori_conf *c,
                  const char *kind)
{
	memset(hp, 0, sizeof *hp);
	hp->host = h;
	hp->verify = 1;
	hp->timeout = 30;
	const char *v = NULL;
	if (h->conf_string(c, "url", &v) == 0 && v) {
		hp->url = strdup(v);
		hp->url_shown = strdup(v);
	} else if (h->conf_string(c, "url_file", &v) == 0 && v) {
		size_t n = 0;
		int rc = h->conf_secret(c, "url_file", &hp->url, &n);
		if (rc)
			return rc;
		/* scheme://host only: the rest may be the secret */
		const char *s = strstr(hp->url, "://");
		const char *e = s ? strchr(s + 3, '/') : NULL;
		hp->url_shown = e ? strndup(hp->url, (size_t)(e - hp->url)) : strdup("(url_file)");
	} else {
		return h->conf_error(c, "url", "needs url or url_file");
	}
	if (strncmp(hp->url, "https://", 8) != 0 && strncmp(hp->url, "http://", 7) != 0)
		return h->conf_error(
		    c, hp->url_shown && strstr(hp->url_shown, "(url_file)") ? "url_file" : "url",
		    "must be an http:// or https:// URL");
	if (strpbrk(hp->url, " \r\n\t"))
		return h->conf_error(c, "url", "must not hold spaces or line breaks");
	/* the template: a shipped name or a path */
	const char *t = NULL;
	h->conf_string(c, "template", &t);
	char path[1024];
	if (!t || !*t)
		return h->conf_error(c, "template", "needs a template");
	if (strchr(t, '/')) {
		snprintf(path, sizeof path, "%s", t);
	} else {
		for (const char *p = t; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
				return h->conf_error(c, "template", "'%s' is not a template name",
				                     t);
		char rel[256];
		snprintf(rel, sizeof rel, "notify/%s/%s.tmpl", kind, t);
		if (h->data_path(rel, path, sizeof path) != 0)
			return h->conf_error(c, "template", "'%s': path too long", t);
	}
	if (!(hp->template_text = read_file(path, 64 * 1024)))
		return h->conf_error(c, "template", "cannot read %s", path);
	int rc = parse_request(hp, c, path);
	if (rc)
		return rc;
	if (h->conf_string(c, "user", &v) == 0 && v)
		hp->user = strdup(v);
	if (h->conf_string(c, "secret_file", &v) == 0 && v &&
	    (rc = h->conf_secret(c, "secret_file", &hp->secret, &hp->secret_len)) != 0)
		return rc;
	if (hp->auth == HP_AUTH_BASIC && (!hp->user || !hp->secret))
		return h->conf_error(c, "user",
		                     "the template authenticates with basic auth: needs "
		                     "user and secret_file");
	if (hp->auth == HP_AUTH_BEARER && !hp->secret)
		return h->conf_error(c, "secret_file", "the template needs a bearer token");
	if (h->conf_string(c, "ca_file", &v) == 0 && v)
		hp->ca_file = strdup(v);
	h->conf_bool(c, "verify", &hp->verify);
	if (!hp->verify)
		h->log(NULL, MAMORI_LOG_WARNING,
		       "%s: verify = false: the server's certificate and host name are NOT "
		       "verified (insecure)",
		       hp->url ? hp->url : "?");
	h->conf_duration(c, "timeout", &hp->timeout);
	if (hp->timeout < 1 || hp->timeout > 600)
		return h->conf_error(c, "timeout", "must be 1s..10m");
	if (!(hp->cl = curlloop_new(h)))
		return MAMORI_E_NOMEM;
	return 0;
}

void hookpost_fini(struct hookpost *hp)
{
	curlloop_free(hp->cl);
	if (hp->url) {
		memset(hp->url, 0, strlen(hp->url));
		free(hp->url);
	}
	free(hp->url_shown);
	free(hp->template_text);
	free(hp->content_type);
	free(hp->user);
	if (hp->secret) {
		memset(hp->secret, 0, hp->secret_len);
		free(hp->secret);
	}
	for (size_t i = 0; i < hp->n_headers; i++)
		free(hp->header_tmpl[i]);
	free(hp->ca_file);
	memset(hp, 0, sizeof *hp);
}

static void send_free(struct hp_send *s)
{
	curlxfer_free(&s->x);
	tmpl_buf_free(&s->body);
	free(s);
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct hp_send *s = ud;
	size_t n = size * nmemb;
	if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
		size_t k = n - 12 < sizeof s->retry_after - 1 ? n - 12 : sizeof s->retry_after - 1;
		memcpy(s->retry_after, data + 12, k);
		s->retry_after[k] = '\0';
	}
	return n;
}

static void on_done(struct curlxfer *x, int rc, void *ud)
{
	struct hp_send *s = ud;
	struct hookpost *hp = s->hp;
	long code = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	char detail[400], first[120] = "";
	if (x->out && x->out_len) {
		size_t k = 0;
		for (; k < x->out_len && k < sizeof first - 1 && x->out[k] != '\n' &&
		       x->out[k] != '\r';
		     k++)
			first[k] = (char)((unsigned char)x->out[k] < 0x20 ? ' ' : x->out[k]);
		first[k] = '\0';
	}
	struct mamori_notify_result r = { .struct_size = sizeof r };
	if (rc != CURLE_OK) {
		snprintf(detail, sizeof detail, "%s: %s", hp->url_shown, curlxfer_error(x, rc));
		r.status = MAMORI_NOTIFY_RETRY;
	} else {
		snprintf(detail, sizeof detail, "HTTP %ld from %s%s%s", code, hp->url_shown,
		         first[0] ? ": " : "", first);
		if (code >= 200 && code < 300)
			r.status = MAMORI_NOTIFY_SENT;
		else if (code == 408 || code == 425 || code == 429 || code >= 500)
			r.status = MAMORI_NOTIFY_RETRY;
		else
			r.status = MAMORI_NOTIFY_FAILED;
		double ra = atof(s->retry_after);
		if (r.status == MAMORI_NOTIFY_RETRY && ra > 0 && ra < 86400)
			r.retry_after = ra;
	}
	r.detail = detail;
	const struct mamori_host *h = hp->host;
	struct mamori_delivery *d = s->d;
	send_free(s);
	h->notify_done(d, &r);
}

int hookpost_send(struct hookpost *hp, struct mamori_delivery *d, tmpl_lookup get, void *ud,
                  void **state)
{
	*state = NULL;
	struct hp_send *s = calloc(1, sizeof *s);
	if (!s)
		return MAMORI_E_NOMEM;
	s->hp = hp;
	s->d = d;
	s->body.limit = 256 * 1024;
	char err[160];
	if (tmpl_render(hp->body, hp->body_len, get, ud, &s->body, err, sizeof err) != 0 ||
	    s->body.truncated) {
		send_free(s);
		struct mamori_notify_result r = { .struct_size = sizeof r,
			                          .status = MAMORI_NOTIFY_FAILED,
			                          .detail =
			                              "the request template does not render" };
		hp->host->notify_done(d, &r);
		return 0;
	}
	int rc = curlxfer_init(&s->x, hp->cl, "http,https", on_done, s);
	if (rc) {
		send_free(s);
		return rc;
	}
	CURL *e = s->x.easy;
	curl_easy_setopt(e, CURLOPT_URL, hp->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->body.p ? s->body.p : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)s->body.n);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(hp->timeout * 1000));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "mamori-notify/1");
	if (hp->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, hp->ca_file);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, hp->verify ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, hp->verify ? 2L : 0L);
	struct curl_slist *hs = NULL;
	char line[1024];
	snprintf(line, sizeof line, "Content-Type: %s", hp->content_type);
	hs = curl_slist_append(hs, line);
	hs = curl_slist_append(hs, "Expect:");
	if (hp->auth == HP_AUTH_BASIC) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, hp->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, hp->secret);
	} else if (hp->auth == HP_AUTH_BEARER) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", hp->secret);
		hs = curl_slist_append(hs, line);
		memset(line, 0, sizeof line);
	}
	for (size_t i = 0; i < hp->n_headers; i++) {
		struct tmpl_buf hb = { .limit = 1000 };
		if (tmpl_render(hp->header_tmpl[i], strlen(hp->header_tmpl[i]), get, ud, &hb, err,
		                sizeof err) == 0 &&
		    hb.p && !strpbrk(hb.p, "\r\n"))
			hs = curl_slist_append(hs, hb.p);
		tmpl_buf_free(&hb);
	}
	s->x.headers = hs;
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
	if ((rc = curlxfer_start(&s->x)) != 0) {
		send_free(s);
		return rc;
	}
	*state = s;
	return 0;
}

void hookpost_cancel(void *state)
{
	if (state)
		send_free(state);
}
