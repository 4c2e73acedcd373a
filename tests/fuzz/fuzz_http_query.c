/*
 * fuzz_http_query: a request's query string, after libmicrohttpd has split
 * and percent-decoded it (done here the way MHD does), through what the
 * server checks of it: every parameter known to the route and given once
 * (route_query_arg, asked by check_query in http.c), then the handlers'
 * value parsers (src/http/route.c: q_int, q_time; api_read.c: q_page,
 * q_bool, parse_state; api_events.c: parse_types, sse_parse_id).  The
 * first byte picks the route.  What the handlers then ask the service
 * layer is not run here (tests/integration/http_api.sh and
 * http_hostile.sh do that on a running server).
 * Promises: a parameter the route does not list, or one given twice, is
 * refused; an accepted limit is within 1..APP_PAGE_MAX, a time finite and
 * not negative, a boolean 0 or 1, a state 0..3, a type mask non-empty and
 * within the known types; every refusal is one 400 answer with a message.
 */
#define FUZZ_HTTP_HANDLERS
#include "tests/fuzz/http_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route *rt = &http_routes[fuzz_take_byte(&data, &size) % http_n_routes];
	struct fake_req *f = calloc(1, sizeof *f);
	f->r.route = rt;
	fake_query(f, (const char *)data, size);

	/* check_query: MHD's order, stop at the first bad one */
	char seen[ROUTE_MAX_QUERY] = { 0 };
	int known = 1;
	for (size_t i = 0; i < f->n && known; i++) {
		int rc = route_query_arg(rt, f->key[i], seen);
		int listed = 0, twice = 0;
		for (size_t k = 0; k < ROUTE_MAX_QUERY && rt->query[k]; k++)
			listed |= strcmp(rt->query[k], f->key[i]) == 0;
		for (size_t j = 0; j < i; j++)
			twice |= strcmp(f->key[j], f->key[i]) == 0;
		FUZZ_CHECK(rc == (!listed ? -1
		                  : twice ? -2
		                          : 0),
		           "'%s' on %s: %d", f->key[i], rt->pattern, rc);
		known = rc == 0;
	}
	if (!known)
		goto out;

	int before = f->answers;
	long lim = -1;
	int rc = q_int(&f->r, "limit", 1, APP_PAGE_MAX, &lim);
	if (rc == 0)
		FUZZ_CHECK(lim >= 1 && lim <= APP_PAGE_MAX, "limit %ld", lim);
	else if (rc < 0)
		answered_400(f, before);

	struct app_page pg;
	before = f->answers;
	if (q_page(&f->r, &pg) == 0)
		FUZZ_CHECK(pg.limit >= 1 && pg.limit <= APP_PAGE_MAX, "page limit %u", pg.limit);
	else
		answered_400(f, before);

	double t = -1;
	before = f->answers;
	rc = q_time(&f->r, "due_before", &t);
	if (rc == 0)
		FUZZ_CHECK(isfinite(t) && t >= 0, "due_before %g", t);
	else if (rc < 0)
		answered_400(f, before);

	static const char *const bools[] = { "hard", "acknowledged", "problems" };
	for (size_t i = 0; i < 3; i++) {
		int b = 7;
		before = f->answers;
		if (q_bool(&f->r, bools[i], &b) == 0)
			FUZZ_CHECK(b == -1 || b == 0 || b == 1, "%s = %d", bools[i], b);
		else
			answered_400(f, before);
	}
	const char *st = fuzz_req_query(&f->r, "state");
	if (st) {
		int s = parse_state(st);
		FUZZ_CHECK(s >= -1 && s <= 3, "state '%s' -> %d", st, s);
	}
	const char *types = fuzz_req_query(&f->r, "types");
	if (types) {
		uint32_t m = parse_types(types);
		uint32_t all = EVENT_MASK(EVENT_STATE) | EVENT_MASK(EVENT_ALERT) |
		               EVENT_MASK(EVENT_COMMAND) | EVENT_MASK(EVENT_DOWNTIME);
		FUZZ_CHECK((m & ~all) == 0, "types '%s' -> %#x", types, m);
	}
	const char *after = fuzz_req_query(&f->r, "after");
	if (after) {
		struct sse_id id;
		(void)sse_parse_id(after, &id);
	}
out:
	fake_clear(f);
	free(f);
	return 0;
}
