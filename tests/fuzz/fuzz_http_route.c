/*
 * fuzz_http_route: a request's method and path (as libmicrohttpd hands
 * them over: percent-decoded, any byte but NUL) through route_find
 * (src/http/route.c), which picks the handler and the access rule.
 * Input: a method selector byte, then the path.  Promises: 0 means the
 * route's method is the one asked (HEAD as GET) and putting the
 * parameters back into its pattern gives the path exactly, each parameter
 * one non-empty segment without '/'; 405 names the allowed methods and
 * some route has the path; 404 means no route of any method has it.
 */
#include "tests/fuzz/http_common.h"

static const char *const methods[] = { "GET",    "HEAD", "POST",    "PATCH",
	                               "DELETE", "PUT",  "OPTIONS", "get" };
#define N_METHODS (sizeof methods / sizeof methods[0])

static int rebuild(const char *pattern, char *const *param, size_t n, char *out, size_t size)
{
	size_t o = 0, k = 0;
	for (const char *p = pattern; *p;) {
		const char *add;
		size_t len;
		if (*p == '{') {
			if (k >= n)
				return -1;
			add = param[k++];
			len = strlen(add);
			p = strchr(p, '}') + 1;
		} else {
			add = p++;
			len = 1;
		}
		if (o + len >= size)
			return -1;
		memcpy(out + o, add, len);
		o += len;
	}
	out[o] = '\0';
	return k == n ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *method = methods[fuzz_take_byte(&data, &size) % N_METHODS];
	char *path = fuzz_str(data, size);
	const struct route *rt = NULL;
	char *param[ROUTE_MAX_PARAMS];
	size_t n = 0;
	char allow[160];
	int rc = route_find(method, path, &rt, param, &n, allow, sizeof allow);
	if (rc == 0) {
		const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
		FUZZ_CHECK(rt && strcmp(rt->method, m) == 0, "%s %s: route of %s", method, path,
		           rt ? rt->method : "?");
		FUZZ_CHECK(n <= ROUTE_MAX_PARAMS, "%zu parameters", n);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(param[i][0] && !strchr(param[i], '/') && strlen(param[i]) <= 255,
			           "parameter '%s'", param[i]);
		size_t cap = strlen(path) + 2;
		char *back = malloc(cap);
		FUZZ_CHECK(rebuild(rt->pattern, param, n, back, cap) == 0 &&
		               strcmp(back, path) == 0,
		           "%s rebuilt from %s", path, rt->pattern);
		free(back);
		for (size_t i = 0; i < n; i++)
			free(param[i]);
	} else if (rc == 405) {
		FUZZ_CHECK(allow[0] != '\0', "405 without Allow for %s", path);
		FUZZ_CHECK(n == 0, "405 with parameters");
	} else {
		FUZZ_CHECK(rc == 404, "rc %d", rc);
		/* no method has it: ask with each route's own method */
		for (size_t i = 0; i < http_n_routes; i++) {
			const struct route *o = NULL;
			size_t on = 0;
			char *op[ROUTE_MAX_PARAMS];
			int r2 = route_find(http_routes[i].method, path, &o, op, &on, allow,
			                    sizeof allow);
			FUZZ_CHECK(r2 == 404, "%s %s: 404, but %d for %s", method, path, r2,
			           http_routes[i].method);
		}
	}
	free(path);
	return 0;
}
