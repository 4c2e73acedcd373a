/*
 * plugtest: run one plugin through the real loader and the real host API on
 * a real libev loop, for plugin unit and contract tests.
 *
 *   struct plugtest *pt = plugtest_new("build/plugins/dns_txt.so", NULL);
 *   ck_assert_int_eq(plugtest_prepare(pt, "record = \"example.test\"; kind = \"exists\";",
 *                                     "127.0.0.1"), 0);
 *   struct plugtest_result r;
 *   ck_assert_int_eq(plugtest_run(pt, 5.0, &r), 0);
 *   ck_assert_int_eq(r.state, MAMORI_OK);
 *   plugtest_free(pt);
 *
 * Config snippets are libconfig text: the body of the `plugins` block for
 * the instance, the body of the check block for a check (core keys such as
 * interval/timeout are accepted too).  Errors (loader refusal, config
 * errors with line) are available from plugtest_error().
 */
#ifndef MAMORI_PLUGTEST_H
#define MAMORI_PLUGTEST_H

#include <mamori/plugin.h>

struct plugtest;

struct plugtest_result {
	int state;
	int completions; /* how many times run_complete was called */
	char output[4096];
	char long_output[16384];
	char perf[4096]; /* perfdata re-formatted by the core */
	double duration; /* seconds from start to completion */
};

/* Load `so_path` and create an instance.  instance_conf may be NULL.
 * Returns NULL on failure (plugtest_last_error() says why). */
struct plugtest *plugtest_new(const char *so_path, const char *instance_conf);
const char *plugtest_last_error(void);
/* Prepare the check (replacing a previous one).  Returns 0 or a negative
 * error; plugtest_error() has the message (with line number). */
int plugtest_prepare(struct plugtest *pt, const char *check_conf, const char *asset_address);
/* Start one run and pump the loop until it completes or `timeout` seconds
 * pass (then the run is cancelled and MAMORI_E_TIMEOUT returned). */
int plugtest_run(struct plugtest *pt, double timeout, struct plugtest_result *out);
/* Start one run, cancel it after `after` seconds (0: at once), then pump
 * the loop for `linger` seconds.  Returns the number of completions seen
 * (a correct plugin: 0 when cancelled before it finished). */
int plugtest_run_cancel(struct plugtest *pt, double after, double linger);
/* Pump the loop for `seconds` (lets a plugin's timers and I/O run). */
void plugtest_pump(struct plugtest *pt, double seconds);
const char *plugtest_error(const struct plugtest *pt);
const struct mamori_host *plugtest_host(struct plugtest *pt);
/* The plugin's definition and its instance (to call a notifier's
 * functions directly). */
const struct mamori_plugin *plugtest_def(struct plugtest *pt);
void *plugtest_instance(struct plugtest *pt);
void plugtest_free(struct plugtest *pt);

#endif
