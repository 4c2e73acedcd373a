/*
 * test_route: routing rules - first match, continue, tags, region,
 * severity, check globs - and `routes` config errors with line numbers.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "route/route.h"

/* Calendars are not looked at by routing: any non-NULL pointer will do. */
static const struct cal *fake_cal(void *arg, const char *name)
{
	return (const struct cal *)arg;
}

struct fixture {
	config_t cfg;
	struct sla_centers cs;
	struct route_table *rt;
	char err[256];
};

static const char *centers_text =
    "centers = (\n"
    " { name = \"cc-east\"; calendar = \"x\"; tiers = ( { name = \"t1\"; } ); },\n"
    " { name = \"cc-west\"; calendar = \"x\"; tiers = ( { name = \"t1\"; } ); },\n"
    " { name = \"cc-gov\"; calendar = \"x\"; tiers = ( { name = \"t1\"; } ); },\n"
    " { name = \"noc\"; calendar = \"x\"; tiers = ( { name = \"t1\"; } ); } );\n";

static int load(struct fixture *f, const char *routes)
{
	static char dummy;
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", centers_text, routes);
	config_init(&f->cfg);
	ck_assert_msg(config_read_string(&f->cfg, text), "%s line %d", config_error_text(&f->cfg),
	              config_error_line(&f->cfg));
	ck_assert_int_eq(sla_centers_parse(config_lookup(&f->cfg, "centers"), fake_cal, &dummy,
	                                   &f->cs, f->err, sizeof(f->err)),
	                 0);
	f->rt = route_parse(config_lookup(&f->cfg, "routes"), &f->cs, f->err, sizeof(f->err));
	return f->rt ? 0 : -1;
}

static void unload(struct fixture *f)
{
	route_free(f->rt);
	sla_centers_free(&f->cs);
	config_destroy(&f->cfg);
}

static const char *route_of(struct fixture *f, const struct route_input *in)
{
	struct route_result r;
	if (route_match(f->rt, in, &r) < 0)
		return "-";
	return r.center->name;
}

static const char *trial_routes =
    "routes = (\n"
    " { tags = [\"gov\", \"premium\"]; center = \"cc-gov\"; },\n"
    " { service = \"utm\"; center = \"cc-west\"; },\n"
    " { region = [\"gifu\", \"mie\"]; severity = \"warning\"; center = \"cc-west\"; },\n"
    " { check = \"defender*\"; customer = [\"c0009\"]; center = \"cc-west\"; },\n"
    " { center = \"cc-east\"; } );\n";

START_TEST(first_match_wins)
{
	struct fixture f;
	ck_assert_int_eq(load(&f, trial_routes), 0);
	ck_assert_uint_eq(route_count(f.rt), 5);
	struct route_input in = { .customer = "c0001",
		                  .region = "aichi",
		                  .service = "utm",
		                  .severity = "critical",
		                  .check = "utm" };
	ck_assert_str_eq(route_of(&f, &in), "cc-west");
	in.service = "defender";
	ck_assert_str_eq(route_of(&f, &in), "cc-east");
	in.service = NULL; /* a rule naming service does not match an unknown one */
	ck_assert_str_eq(route_of(&f, &in), "cc-east");
	unload(&f);
}
END_TEST

START_TEST(tags_region_severity_check)
{
	struct fixture f;
	ck_assert_int_eq(load(&f, trial_routes), 0);
	const char *gov[] = { "premium", "gov", "x" };
	struct route_input in = { .customer = "c0001",
		                  .tags = gov,
		                  .n_tags = 2,
		                  .region = "aichi",
		                  .service = "utm",
		                  .severity = "critical",
		                  .check = "utm" };
	ck_assert_str_eq(route_of(&f, &in), "cc-gov"); /* all tags present */
	in.tags = gov + 1;
	in.n_tags = 2; /* "gov", "x": premium missing */
	ck_assert_str_eq(route_of(&f, &in), "cc-west");
	in.service = "mail";
	in.region = "gifu";
	ck_assert_str_eq(route_of(&f, &in), "cc-east"); /* severity critical != warning */
	in.severity = "warning";
	ck_assert_str_eq(route_of(&f, &in), "cc-west");
	in.region = NULL;
	ck_assert_str_eq(route_of(&f, &in), "cc-east");
	in.customer = "c0009";
	in.check = "defender-rtp";
	ck_assert_str_eq(route_of(&f, &in), "cc-west"); /* glob */
	in.check = "xdefender";
	ck_assert_str_eq(route_of(&f, &in), "cc-east");
	unload(&f);
}
END_TEST

START_TEST(continue_adds_also)
{
	struct fixture f;
	ck_assert_int_eq(load(&f,
	                      "routes = (\n"
	                      " { severity = \"critical\"; center = \"noc\"; continue = true; },\n"
	                      " { service = \"utm\"; center = \"cc-west\"; continue = true; },\n"
	                      " { center = \"cc-east\"; },\n"
	                      " { center = \"cc-gov\"; } );\n"),
	                 0);
	struct route_result r;
	struct route_input in = {
		.customer = "c1", .service = "utm", .severity = "critical", .check = "utm"
	};
	ck_assert_int_eq(route_match(f.rt, &in, &r), 0);
	ck_assert_str_eq(r.center->name, "noc");
	ck_assert_int_eq(r.rule, 0);
	ck_assert_uint_eq(r.n_also, 2);
	ck_assert_str_eq(r.also[0]->name, "cc-west");
	ck_assert_str_eq(r.also[1]->name, "cc-east"); /* stops there: no continue */
	in.severity = "warning";
	ck_assert_int_eq(route_match(f.rt, &in, &r), 0);
	ck_assert_str_eq(r.center->name, "cc-west");
	ck_assert_uint_eq(r.n_also, 1);
	unload(&f);
}
END_TEST

START_TEST(no_match)
{
	struct fixture f;
	ck_assert_int_eq(load(&f, "routes = ( { service = \"utm\"; center = \"cc-west\"; } );"), 0);
	struct route_result r;
	struct route_input in = { .customer = "c1", .service = "mail", .severity = "critical" };
	ck_assert_int_eq(route_match(f.rt, &in, &r), -1);
	ck_assert_ptr_null(r.center);
	unload(&f);
	/* no routes at all */
	ck_assert_int_eq(load(&f, ""), 0);
	ck_assert_int_eq(route_match(f.rt, &in, &r), -1);
	unload(&f);
}
END_TEST

START_TEST(config_errors)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "routes = (\n { service = \"utm\"; centre = \"cc-west\"; } );",
		  ":7: route: unknown key 'centre'" },
		{ "routes = (\n { service = \"utm\"; center = \"cc-north\"; } );",
		  ":7: route: undefined center 'cc-north'" },
		{ "routes = (\n { service = \"utm\"; } );", ":7: route: missing 'center'" },
		{ "routes = (\n { severity = \"fatal\"; center = \"noc\"; } );",
		  "unknown severity 'fatal'" },
		{ "routes = (\n { severity = [\"warning\", \"bad\"]; center = \"noc\"; } );",
		  "unknown severity 'bad'" },
		{ "routes = (\n { tags = \"gov\"; center = \"noc\"; } );",
		  "'tags' must be a non-empty array" },
		{ "routes = (\n { service = 5; center = \"noc\"; } );",
		  "'service' must be a string or" },
		{ "routes = (\n { service = []; center = \"noc\"; } );", "'service' must be" },
		{ "routes = (\n { center = \"noc\"; continue = \"yes\"; } );",
		  "'continue' must be true" },
		{ "routes = (\n { center = 1; } );", "'center' must be a string" },
		{ "routes = ( \"noc\" );", "must be a group" },
		{ "routes = { center = \"noc\"; };", "routes: must be a list" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture f;
		f.err[0] = 0;
		ck_assert_int_eq(load(&f, bad[i].text), -1);
		ck_assert_msg(strstr(f.err, bad[i].want) != NULL, "case %zu: got '%s'", i, f.err);
		unload(&f);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, first_match_wins);
	tcase_add_test(tc, tags_region_severity_check);
	tcase_add_test(tc, continue_adds_also);
	tcase_add_test(tc, no_match);
	tcase_add_test(tc, config_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
