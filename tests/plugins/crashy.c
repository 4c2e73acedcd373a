/*
 * Test plugin for isolate = true: crashes or hangs on demand.
 *
 * Check keys:
 *   mode   = "ok"         complete OK "crashy ok" at once
 *            "slow"       complete OK after `delay` (cancel tests)
 *            "segv"       write through a NULL pointer in check_start
 *            "segv_once"  like segv unless `marker` exists; creates it first,
 *                         so the restarted host completes OK "recovered"
 *            "hang"       block the host's loop forever in check_start
 *            "hang_once"  like hang unless `marker` exists (created first)
 *            "pid"        complete OK with the host's pid as output
 *            "slow_prepare" check_prepare takes `delay` (blocking), then
 *                         runs complete OK
 *            "hang_prepare" check_prepare blocks the host forever
 *            "segv_prepare" check_prepare writes through a NULL pointer
 *   marker = "/path"      for the *_once modes
 *   delay  = "2s"         for slow and slow_prepare
 * Any other mode is a check_prepare error on the key `mode`.
 *
 * Instance key:
 *   destroy_delay = "3s"  destroy takes that long (blocking): a host that
 *                         is slow to leave when its instance is dropped
 */
#include <mamori/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct crashy {
	const struct mamori_host *host;
	double destroy_delay;
};

struct crashy_check {
	char mode[16];
	char marker[256];
	double delay;
};

struct crashy_run {
	struct crashy *c;
	struct mamori_run *run;
	struct mamori_timer *t;
};

static const struct mamori_key instance_keys[] = {
	{ "destroy_delay", MAMORI_KEY_DURATION, 0, "how long destroy blocks", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key check_keys[] = {
	{ "mode", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "what to do", NULL },
	{ "marker", MAMORI_KEY_STRING, 0, "marker file of the *_once modes", NULL },
	{ "delay", MAMORI_KEY_DURATION, 0, "delay of mode slow", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int c_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct crashy *c = calloc(1, sizeof *c);
	if (!c)
		return MAMORI_E_NOMEM;
	c->host = host;
	host->conf_duration(conf, "destroy_delay", &c->destroy_delay);
	*inst = c;
	return 0;
}

static void sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void c_destroy(void *inst)
{
	struct crashy *c = inst;
	if (c && c->destroy_delay > 0)
		sleep_for(c->destroy_delay);
	free(inst);
}

static int c_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                     void **data)
{
	struct crashy *c = inst;
	static const char *const modes[] = { "ok",           "slow",         "segv", "segv_once",
		                             "hang",         "hang_once",    "pid",  "slow_prepare",
		                             "hang_prepare", "segv_prepare", NULL };
	const char *mode = "ok", *marker = "";
	c->host->conf_string(conf, "mode", &mode);
	c->host->conf_string(conf, "marker", &marker);
	int known = 0;
	for (size_t i = 0; modes[i]; i++)
		known |= strcmp(mode, modes[i]) == 0;
	if (!known)
		return c->host->conf_error(conf, "mode", "unknown mode '%s'", mode);
	if (strcmp(mode, "hang_prepare") == 0)
		for (;;)
			pause();
	if (strcmp(mode, "segv_prepare") == 0) {
		volatile int *volatile p = NULL;
		*p = 42; /* the crash this mode exists for */
	}
	struct crashy_check *k = calloc(1, sizeof *k);
	if (!k)
		return MAMORI_E_NOMEM;
	snprintf(k->mode, sizeof k->mode, "%s", mode);
	snprintf(k->marker, sizeof k->marker, "%s", marker);
	c->host->conf_duration(conf, "delay", &k->delay);
	if (strcmp(mode, "slow_prepare") == 0)
		sleep_for(k->delay);
	*data = k;
	return 0;
}

static void c_release(void *inst, struct mamori_check *chk, void *data)
{
	free(data);
}

static void complete(struct crashy *c, struct mamori_run *run, const char *out)
{
	struct mamori_result r = { .struct_size = sizeof r, .state = MAMORI_OK, .output = out };
	c->host->run_complete(run, &r);
}

static void on_timer(struct mamori_timer *t, void *ud)
{
	struct crashy_run *r = ud;
	r->c->host->timer_free(r->t);
	complete(r->c, r->run, "crashy slow done");
	free(r);
}

/* 1 the first time (marker created now), 0 once the marker exists. */
static int first_time(const struct crashy_check *k)
{
	int fd = open(k->marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int c_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct crashy *c = inst;
	struct crashy_check *k = data;
	const char *m = k->mode;
	if (strcmp(m, "segv") == 0 || (strcmp(m, "segv_once") == 0 && first_time(k))) {
		volatile int *volatile p = NULL;
		*p = 42; /* the crash this plugin exists for */
	}
	if (strcmp(m, "hang") == 0 || (strcmp(m, "hang_once") == 0 && first_time(k)))
		for (;;)
			pause();
	if (strcmp(m, "slow") == 0) {
		struct crashy_run *r = calloc(1, sizeof *r);
		if (!r)
			return MAMORI_E_NOMEM;
		r->c = c;
		r->run = run;
		r->t = c->host->timer_new(on_timer, r);
		c->host->timer_start(r->t, k->delay, 0);
		*run_state = r;
		return 0;
	}
	char out[64];
	if (strcmp(m, "pid") == 0)
		snprintf(out, sizeof out, "pid %d", (int)getpid());
	else
		snprintf(out, sizeof out, "%s", strstr(m, "_once") ? "recovered" : "crashy ok");
	complete(c, run, out);
	return 0;
}

static void c_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	struct crashy_run *r = run_state;
	if (!r)
		return;
	r->c->host->timer_free(r->t);
	free(r);
}

MAMORI_PLUGIN_DEFINE(.name = "crashy", .version = "1.0",
                     .description = "test plugin: crashes or hangs on demand",
                     .instance_keys = instance_keys, .check_keys = check_keys, .init = c_init,
                     .destroy = c_destroy, .check_prepare = c_prepare, .check_release = c_release,
                     .check_start = c_start, .check_cancel = c_cancel);
