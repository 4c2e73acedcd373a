/*
 * fuzz_http_body: a request body as the API reads it: jsonw under the
 * route's size limit, a JSON object required (as http.c does), then the
 * field checks the route's handler makes (body_only, body_str,
 * body_time, body_int in src/http/route.c) with the field lists and
 * limits of the handlers in api_act.c and session.c (mirrored below; a
 * handler that changes its fields should change its row).  The first byte
 * picks the handler.  What the handler then asks the service layer or
 * auth is not run here (tests/integration/http_api.sh, http_auth.sh and
 * http_hostile.sh do that on a running server).
 * Promises: an accepted string field is a string of at most its limit,
 * valid UTF-8 without NUL (jsonw's gate), a time finite and not negative,
 * an integer within its range; an unknown field, a wrong type or a missing
 * required field is refused with one 400 answer naming the field.
 */
#include "tests/fuzz/http_common.h"
#include "auth/auth.h"
#include "util/jsonw.h"

enum kind { F_STR, F_TIME, F_INT, F_ANY };
struct field {
	const char *name;
	enum kind kind;
	int required;
	size_t max; /* F_STR: bytes; F_INT: highest */
};
struct handler {
	const char *name;
	size_t max_body;
	struct field f[10];
};

#define NOTE_MAX 4000
static const struct handler handlers[] = {
	{ "alert action",
	  8192,
	  { { "note", F_STR, 0, NOTE_MAX }, { "request_id", F_STR, 0, 120 } } },
	{ "alert comment",
	  16384,
	  { { "note", F_STR, 1, NOTE_MAX }, { "request_id", F_STR, 0, 120 } } },
	{ "alert dispatch",
	  16384,
	  { { "note", F_STR, 0, NOTE_MAX },
	    { "request_id", F_STR, 0, 120 },
	    { "vendor", F_STR, 0, 200 },
	    { "result", F_STR, 0, NOTE_MAX },
	    { "planned_at", F_TIME, 0, 0 } } },
	{ "check ack", 4096, { { "note", F_STR, 0, NOTE_MAX } } },
	{ "alert open",
	  8192,
	  { { "customer", F_STR, 1, 128 },
	    { "asset", F_STR, 0, 128 },
	    { "check", F_STR, 0, 128 },
	    { "service", F_STR, 0, 32 },
	    { "severity", F_STR, 0, 16 },
	    { "summary", F_STR, 1, 1000 } } },
	{ "downtime add",
	  8192,
	  { { "customer", F_STR, 1, 128 },
	    { "asset", F_STR, 0, 128 },
	    { "check", F_STR, 0, 128 },
	    { "comment", F_STR, 1, NOTE_MAX },
	    { "start", F_TIME, 0, 0 },
	    { "end", F_TIME, 1, 0 } } },
	{ "login",
	  4096,
	  { { "user", F_STR, 1, AUTH_NAME_MAX }, { "password", F_STR, 1, AUTH_PASSWORD_MAX } } },
	{ "password",
	  4096,
	  { { "password", F_STR, 1, AUTH_PASSWORD_MAX },
	    { "old_password", F_STR, 0, AUTH_PASSWORD_MAX } } },
	{ "token create",
	  4096,
	  { { "label", F_STR, 0, AUTH_LABEL_MAX },
	    { "expires", F_TIME, 0, 0 },
	    { "user", F_STR, 0, AUTH_NAME_MAX },
	    { "role", F_ANY, 0, 0 },
	    { "centers", F_ANY, 0, 0 },
	    { "customer", F_ANY, 0, 0 } } },
	{ "paged test", 4096, { { "limit", F_INT, 0, 1000 } } },
};
#define N_HANDLERS (sizeof handlers / sizeof handlers[0])

static int utf8_ok(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80             ? 1
		        : (*s & 0xE0) == 0xC0 ? 2
		        : (*s & 0xF0) == 0xE0 ? 3
		        : (*s & 0xF8) == 0xF0 ? 4
		                              : 0;
		if (!n)
			return 0;
		for (int i = 1; i < n; i++)
			if ((s[i] & 0xC0) != 0x80)
				return 0;
		s += n;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct handler *h = &handlers[fuzz_take_byte(&data, &size) % N_HANDLERS];
	struct fake_req *f = calloc(1, sizeof *f);
	struct jsonw_limits lim = { .max_size = h->max_body };
	struct jsonw_error je;
	f->r.json = jsonw_parse((const char *)data, size, &lim, &je);
	if (!f->r.json || !cJSON_IsObject(f->r.json))
		goto out;

	const char *allowed[12];
	size_t na = 0;
	for (size_t i = 0; i < 10 && h->f[i].name; i++)
		allowed[na++] = h->f[i].name;
	allowed[na] = NULL;
	int before = f->answers;
	int rc = body_only(&f->r, allowed);
	if (rc < 0) {
		answered_400(f, before);
		FUZZ_CHECK(strstr(f->msg, "unknown field"), "body_only: %s", f->msg);
		goto out;
	}
	for (const cJSON *m = f->r.json->child; m; m = m->next) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], m->string))
			i++;
		FUZZ_CHECK(allowed[i], "field '%s' passed body_only on %s", m->string, h->name);
	}
	for (size_t i = 0; i < 10 && h->f[i].name; i++) {
		const struct field *fd = &h->f[i];
		before = f->answers;
		if (fd->kind == F_STR) {
			const char *v = NULL;
			rc = body_str(&f->r, fd->name, fd->required, fd->max, &v);
			if (rc == 0)
				FUZZ_CHECK(v && strlen(v) <= fd->max &&
				               utf8_ok((const unsigned char *)v),
				           "%s: '%s' accepted", fd->name, v ? v : "(null)");
		} else if (fd->kind == F_TIME) {
			double t = -1;
			rc = body_time(&f->r, fd->name, fd->required, &t);
			if (rc == 0)
				FUZZ_CHECK(isfinite(t) && t >= 0, "%s: %g accepted", fd->name, t);
		} else if (fd->kind == F_INT) {
			long x = -1;
			rc = body_int(&f->r, fd->name, fd->required, 1, (long)fd->max, &x);
			if (rc == 0)
				FUZZ_CHECK(x >= 1 && x <= (long)fd->max, "%s: %ld accepted",
				           fd->name, x);
		} else {
			continue;
		}
		if (rc < 0) {
			answered_400(f, before);
			FUZZ_CHECK(strstr(f->msg, fd->name), "refusal does not name '%s': %s",
			           fd->name, f->msg);
		} else if (rc == 1) {
			FUZZ_CHECK(!fd->required, "required '%s' reported absent", fd->name);
			FUZZ_CHECK(!cJSON_GetObjectItemCaseSensitive(f->r.json, fd->name),
			           "present '%s' reported absent", fd->name);
		}
	}
out:
	fake_clear(f);
	free(f);
	return 0;
}
