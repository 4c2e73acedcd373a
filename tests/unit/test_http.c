/* Unit tests: src/http's pieces without a socket - the route table (every
 * route has an access rule and a handler; patterns match what they should
 * and nothing else; 405 names the allowed methods), the JSON writer
 * (escaping, invalid UTF-8, nesting, commas: every output parses with
 * cJSON), and time parsing (RFC 3339 with offsets, epoch seconds,
 * garbage).  The requests themselves are tested over real HTTP in
 * tests/integration/http_api.sh. */
#include "http/http_int.h"
#include "util/jsonw.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(every_route_has_a_rule)
{
	ck_assert_uint_gt(http_n_routes, 20);
	for (size_t i = 0; i < http_n_routes; i++) {
		const struct route *rt = &http_routes[i];
		ck_assert_msg(access_name(rt->access) != NULL, "%s %s has no access rule",
		              rt->method, rt->pattern);
		ck_assert_msg(rt->name && *rt->name, "%s has no name", rt->pattern);
		ck_assert_msg(rt->fn || rt->access == ACC_PUBLIC, "%s %s has no handler",
		              rt->method, rt->pattern);
		/* a state change is never public, and never a GET; besides login,
		 * only the notification routes that authenticate the request
		 * themselves: a provider's signature (notify.inbound) or the
		 * single-use secret in the path (notify.link.use) */
		if (strcmp(rt->method, "GET") != 0)
			ck_assert_msg(rt->access != ACC_PUBLIC || strcmp(rt->name, "login") == 0 ||
			                  strcmp(rt->name, "notify.inbound") == 0 ||
			                  strcmp(rt->name, "notify.link.use") == 0,
			              "%s %s changes state without a login", rt->method,
			              rt->pattern);
		/* a route naming a customer in its path checks it */
		if (strstr(rt->pattern, "{customer}") && strcmp(rt->method, "GET") == 0)
			ck_assert_msg(rt->access == ACC_CUSTOMER,
			              "%s does not check its {customer}", rt->pattern);
		/* method + pattern unique */
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(http_routes[j].method, rt->method) != 0 ||
			                  strcmp(http_routes[j].pattern, rt->pattern) != 0,
			              "%s %s twice", rt->method, rt->pattern);
	}
}
END_TEST

static const struct route *find(const char *m, const char *path, int want, char **p, size_t *np)
{
	const struct route *rt = NULL;
	char allow[160];
	int rc = route_find(m, path, &rt, p, np, allow, sizeof allow);
	ck_assert_msg(rc == want, "%s %s: %d, want %d", m, path, rc, want);
	return rc == 0 ? rt : NULL;
}

START_TEST(routes_match)
{
	char *p[ROUTE_MAX_PARAMS];
	size_t np = 0;
	const struct route *rt = find("GET", "/api/v1/checks/c1/pc-7/defender", 0, p, &np);
	ck_assert_str_eq(rt->name, "check");
	ck_assert_uint_eq(np, 3);
	ck_assert_str_eq(p[0], "c1");
	ck_assert_str_eq(p[1], "pc-7");
	ck_assert_str_eq(p[2], "defender");
	for (size_t i = 0; i < np; i++)
		free(p[i]);
	rt = find("HEAD", "/api/v1/alerts", 0, p, &np);
	ck_assert_str_eq(rt->name, "alerts");
	rt = find("POST", "/api/v1/alerts/A-x-1/escalate", 0, p, &np);
	ck_assert_str_eq(rt->name, "alert.escalate");
	ck_assert_str_eq(p[0], "A-x-1");
	free(p[0]);
	/* an empty segment, an extra segment, a trailing slash: no route */
	find("GET", "/api/v1/customers//assets", 404, p, &np);
	find("GET", "/api/v1/customers/c1/assets/x", 404, p, &np);
	find("GET", "/api/v1/alerts/", 404, p, &np);
	find("GET", "/api/v1/checks/c1/a", 404, p, &np);
	find("GET", "", 404, p, &np);
	/* the dashboard: "/", one or two segments under /ui, no deeper */
	rt = find("GET", "/", 0, p, &np);
	ck_assert_str_eq(rt->name, "ui");
	ck_assert_uint_eq(np, 0);
	rt = find("GET", "/ui/app.js", 0, p, &np);
	ck_assert_str_eq(rt->name, "ui.file");
	ck_assert_str_eq(p[0], "app.js");
	free(p[0]);
	rt = find("HEAD", "/ui/vendor/chart.min.js", 0, p, &np);
	ck_assert_str_eq(rt->name, "ui.subdir");
	ck_assert_str_eq(p[0], "vendor");
	ck_assert_str_eq(p[1], "chart.min.js");
	free(p[0]);
	free(p[1]);
	find("GET", "/ui/a/b/c.js", 404, p, &np);
	find("GET", "/ui/", 404, p, &np);
	find("GET", "/index.html", 404, p, &np);
	find("POST", "/ui/app.js", 405, p, &np);
	/* known path, other method: 405 with the allowed ones */
	const struct route *x = NULL;
	char allow[160];
	ck_assert_int_eq(route_find("PUT", "/api/v1/downtimes", &x, p, &np, allow, sizeof allow),
	                 405);
	ck_assert_msg(strstr(allow, "GET") && strstr(allow, "POST"), "allow: %s", allow);
	ck_assert_int_eq(
	    route_find("DELETE", "/api/v1/alerts/A1/ack", &x, p, &np, allow, sizeof allow), 405);
	ck_assert_str_eq(allow, "POST");
}
END_TEST

/* static.c: which path segments are served, and as what */
START_TEST(static_names)
{
	static const char *const good[] = { "index.html", "app.js",    "chart.min.js",
		                            "ja.json",    "a_b-c.css", "vendor",
		                            NULL };
	static const char *const bad[] = { "",     ".",    "..",  ".hidden", ".htaccess",
		                           "a/b",  "a\\b", "a b", "a%2e",    "\xe6\x9d\xb1.js",
		                           "a\nb", "x;y",  NULL };
	for (size_t i = 0; good[i]; i++)
		ck_assert_msg(http_static_name_ok(good[i]), "%s refused", good[i]);
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(!http_static_name_ok(bad[i]), "'%s' accepted", bad[i]);
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert(!http_static_name_ok(longname));
	ck_assert_str_eq(http_static_type("index.html"), "text/html; charset=utf-8");
	ck_assert_str_eq(http_static_type("app.js"), "text/javascript; charset=utf-8");
	ck_assert_str_eq(http_static_type("a.b.css"), "text/css; charset=utf-8");
	ck_assert_str_eq(http_static_type("ja.json"), "application/json; charset=utf-8");
	ck_assert_str_eq(http_static_type("logo.svg"), "image/svg+xml");
	ck_assert_ptr_null(http_static_type("README"));
	ck_assert_ptr_null(http_static_type(".js"));
	ck_assert_ptr_null(http_static_type("x.sh"));
	ck_assert_ptr_null(http_static_type("x.js.bak"));
	ck_assert_ptr_null(http_static_type("x.JS"));
}
END_TEST

static char *render(void (*fn)(struct jw *))
{
	struct buf b = { 0 };
	struct jw w;
	jw_init(&w, &b);
	fn(&w);
	return b.p;
}

static void doc1(struct jw *w)
{
	jw_obj(w);
	jw_kstr(w, "a", "x\"y\\z\n\t\x01");
	jw_kstr(w, "bad",
	        "ok\xff\xfe"
	        "end\xc3");
	jw_kstr(w, "jp", "東京 \xe2\x80\xa8 sep");
	jw_kstr(w, "c1",
	        "\xc2\x9b"
	        "31m");
	jw_key(w, "arr");
	jw_arr(w);
	jw_int(w, -5);
	jw_num(w, 1.5);
	jw_num(w, 1.0 / 0.0);
	jw_bool(w, 0);
	jw_null(w);
	jw_obj(w);
	jw_end_obj(w);
	jw_arr(w);
	jw_end_arr(w);
	jw_str(w, NULL);
	jw_end_arr(w);
	jw_ktime(w, "t", 1796604787.694);
	jw_ktime(w, "t0", 0);
	jw_end_obj(w);
}

START_TEST(json_writer)
{
	char *s = render(doc1);
	struct jsonw_error e;
	cJSON *j = jsonw_parse(s, strlen(s), NULL, &e);
	ck_assert_msg(j != NULL, "invalid JSON (%s at %zu): %s", jsonw_strerror(e.code), e.offset,
	              s);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "a")->valuestring, "x\"y\\z\n\t\x01");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "bad")->valuestring, "ok\xef\xbf\xbd\xef\xbf\xbd"
	                                                             "end\xef\xbf\xbd");
	ck_assert_msg(strstr(s, "\\u2028"), "U+2028 not escaped: %s", s);
	ck_assert_msg(strstr(s, "\\u009b"), "C1 control not escaped: %s", s);
	ck_assert_msg(strstr(s, "東京"), "Japanese text escaped: %s", s);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "t")->valuestring, "2026-12-07T00:53:07.694Z");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "t0")));
	const cJSON *arr = cJSON_GetObjectItem(j, "arr");
	ck_assert_int_eq(cJSON_GetArraySize(arr), 8);
	ck_assert(cJSON_IsNull(cJSON_GetArrayItem(arr, 2))); /* infinity */
	cJSON_Delete(j);
	free(s);
}
END_TEST

START_TEST(json_writer_random_bytes)
{
	/* whatever bytes a plugin wrote, the answer is valid JSON */
	srand(7);
	for (int round = 0; round < 2000; round++) {
		char in[64];
		size_t n = (size_t)(rand() % 63);
		for (size_t i = 0; i < n; i++)
			in[i] = (char)(1 + rand() % 255);
		in[n] = '\0';
		struct buf b = { 0 };
		struct jw w;
		jw_init(&w, &b);
		jw_arr(&w);
		jw_str(&w, in);
		jw_end_arr(&w);
		cJSON *j = jsonw_parse(b.p, b.n, NULL, NULL);
		ck_assert_msg(j != NULL, "round %d: invalid JSON %s", round, b.p);
		cJSON_Delete(j);
		buf_free(&b);
	}
}
END_TEST

START_TEST(html_text)
{
	struct buf b = { 0 };
	html_escape(&b, "<script>alert('x')</script> & \"q\" 株式会社\x01\x7f");
	ck_assert_str_eq(b.p, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; "
	                      "株式会社\xef\xbf\xbd\xef\xbf\xbd");
	buf_free(&b);
	/* not UTF-8: every byte above ASCII replaced, the output is UTF-8 */
	html_escape(&b, "a\xe6\x9d\xb1\xff<");
	ck_assert_str_eq(b.p, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd&lt;");
	buf_free(&b);
	ck_assert(utf8_valid("東京 abc"));
	ck_assert(!utf8_valid("\xc0\xaf"));         /* overlong '/' */
	ck_assert(!utf8_valid("\xed\xa0\x80"));     /* a surrogate */
	ck_assert(!utf8_valid("\xe6\x9d"));         /* cut */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
	/* random bytes: never a markup character, always UTF-8 */
	srand(11);
	for (int round = 0; round < 2000; round++) {
		char in[48];
		size_t n = (size_t)(rand() % 47);
		for (size_t i = 0; i < n; i++)
			in[i] = (char)(1 + rand() % 255);
		in[n] = '\0';
		html_escape(&b, in);
		if (b.p) {
			ck_assert(!strpbrk(b.p, "<>\"'"));
			ck_assert(utf8_valid(b.p));
		}
		buf_free(&b);
	}
}
END_TEST

START_TEST(times)
{
	double t = 0;
	ck_assert_int_eq(parse_time("2026-12-07T09:00:00+09:00", &t), 0);
	ck_assert(t == 1796601600.0);
	ck_assert_int_eq(parse_time("2026-12-07T00:00:00Z", &t), 0);
	ck_assert(t == 1796601600.0);
	ck_assert_int_eq(parse_time("2026-12-07T00:00:00.250Z", &t), 0);
	ck_assert(t == 1796601600.25);
	ck_assert_int_eq(parse_time("2026-12-06T19:00:00-05:00", &t), 0);
	ck_assert(t == 1796601600.0);
	ck_assert_int_eq(parse_time("1796601600", &t), 0);
	ck_assert(t == 1796601600.0);
	const char *bad[] = { "",
		              "now",
		              "2026-12-07",
		              "2026-12-07T00:00:00",
		              "2026-12-07T00:00:00+9",
		              "2026-12-07T00:00:00+25:00",
		              "2026-12-07T00:00:00Zjunk",
		              "-5",
		              "1e300",
		              "nan",
		              "2026-13-07T00:00:00Z" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_time(bad[i], &t) != 0, "'%s' accepted", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, every_route_has_a_rule);
	tcase_add_test(tc, routes_match);
	tcase_add_test(tc, static_names);
	tcase_add_test(tc, json_writer);
	tcase_add_test(tc, json_writer_random_bytes);
	tcase_add_test(tc, html_text);
	tcase_add_test(tc, times);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
