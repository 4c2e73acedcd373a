/*
 * static: the dashboard's files (share/mamori/www, installed under the
 * daemon's data_dir) served to browsers.
 *
 * Three public routes of the table (route.c) end here: `/` (index.html),
 * `/ui/{file}` and `/ui/{dir}/{file}`.  The dashboard is a single page
 * whose views are in the URL's fragment, so no other path is needed and
 * nothing is listed or guessed: each path segment must be a plain name
 * ([A-Za-z0-9._-], not starting with a dot, so no "..", no hidden file),
 * the extension must be one of the known types below, and the file must
 * be a regular file (a directory is 404, a symlink is not followed).
 * MHD has already percent-decoded the path, so "%2e%2e" arrives as ".."
 * and is refused like it.
 *
 * Answers carry an ETag and Last-Modified (from the file's mtime, size
 * and inode) with `Cache-Control: no-cache` - the browser revalidates
 * every time and gets 304 while nothing changed, so an upgrade shows at
 * the next reload - and the security headers: a Content-Security-Policy
 * of `default-src 'self'` with no inline script or style, no framing,
 * nosniff, no referrer.
 *
 * The file goes out with MHD_create_response_from_fd (sendfile on plain
 * TCP): a few small files that live in the page cache; nothing is read
 * whole on the loop.
 *
 * Must never: serve a file outside the www dir, list a directory, answer
 * on a metrics address, or answer a type it does not know.
 * Depends on: http_int.h (the request, the route's parameters).
 */
#include "http/http_int.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATIC_MAX_SIZE (16 * 1024 * 1024)

/* The dashboard's policy: its own scripts, styles, images and API only.
 * (img data: for small generated images; no inline script or style) */
#define STATIC_CSP                                                                                 \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                \
	"form-action 'self'; frame-ancestors 'none'"

static const struct {
	const char *ext, *type;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "woff2", "font/woff2" },
	{ "txt", "text/plain; charset=utf-8" },
};

/* The content type for name's extension, or NULL. */
const char *http_static_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name)
		return NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* 1: a segment we serve (a plain name, no leading dot). */
int http_static_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static void answer(struct req *r, unsigned status, struct MHD_Response *resp)
{
	if (r->resp || !resp) { /* answered already (keep the first), or no memory */
		if (resp)
			MHD_destroy_response(resp);
		if (!r->resp)
			reply_error(r, 500, "internal", "out of memory");
		return;
	}
	r->resp = resp;
	r->status = (int)status;
	r->done = 1;
}

static void headers(struct MHD_Response *resp, const char *type, const char *etag,
                    const char *lastmod)
{
	if (type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lastmod);
	MHD_add_response_header(resp, "Content-Security-Policy", STATIC_CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Does the client's copy match?  If-None-Match wins over
 * If-Modified-Since (RFC 9110 13.1.3). */
static int not_modified(struct req *r, const char *etag, time_t mtime)
{
	const char *inm = req_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm) {
		if (strcmp(inm, "*") == 0)
			return 1;
		/* a list of tags: "a", W/"b"; weak comparison */
		const char *tag = etag + 2; /* ours is W/"..." */
		size_t tn = strlen(tag);
		for (const char *p = inm; (p = strstr(p, tag)) != NULL; p += tn) {
			char after = p[tn];
			if (after == '\0' || after == ',' || after == ' ')
				return 1;
		}
		return 0;
	}
	const char *ims = req_header(r, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if (ims) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		const char *e = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (e && !*e && timegm(&tm) >= mtime)
			return 1;
	}
	return 0;
}

int api_static(struct req *r)
{
	struct http *h = r->h;
	if (r->l->metrics || !h->www)
		return reply_error(r, 404, "not_found", "no such resource");
	/* "/": index.html; "/ui/{file}"; "/ui/{dir}/{file}" */
	const char *dir = r->n_param == 2 ? r->param[0] : NULL;
	const char *file = r->n_param ? r->param[r->n_param - 1] : "index.html";
	if ((dir && !http_static_name_ok(dir)) || !http_static_name_ok(file))
		return reply_error(r, 404, "not_found", "no such file");
	const char *type = http_static_type(file);
	if (!type)
		return reply_error(r, 404, "not_found", "no such file");
	char path[4096];
	int n = dir ? snprintf(path, sizeof path, "%s/%s/%s", h->www, dir, file)
	            : snprintf(path, sizeof path, "%s/%s", h->www, file);
	if (n < 0 || (size_t)n >= sizeof path)
		return reply_error(r, 404, "not_found", "no such file");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return reply_error(r, 404, "not_found", "no such file");
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX_SIZE) {
		close(fd);
		return reply_error(r, 404, "not_found", "no such file");
	}
	char etag[80], lastmod[64];
	snprintf(etag, sizeof etag, "W/\"%llx-%llx-%llx\"", (unsigned long long)st.st_mtime,
	         (unsigned long long)st.st_size, (unsigned long long)st.st_ino);
	struct tm tm;
	gmtime_r(&st.st_mtime, &tm);
	strftime(lastmod, sizeof lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (not_modified(r, etag, st.st_mtime)) {
		close(fd);
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (resp)
			headers(resp, NULL, etag, lastmod);
		answer(r, MHD_HTTP_NOT_MODIFIED, resp);
		return 0;
	}
	struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return reply_error(r, 500, "internal", "out of memory");
	}
	headers(resp, type, etag, lastmod);
	answer(r, MHD_HTTP_OK, resp);
	return 0;
}
