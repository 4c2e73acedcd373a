/*
 * Test plugin for memory_limit (isolate = true): a memory runaway on demand.
 *
 * Check keys:
 *   mode   = "grow"       check_start allocates 1 MiB blocks and writes
 *                         every page of each, without end; when malloc
 *                         fails it aborts (as xmalloc-style code does)
 *            "grow_once"  like grow unless `marker` exists; creates it
 *                         first, so the restarted host completes OK
 *                         "recovered"
 *            "ok"         complete OK "memhog ok pid N" at once
 *   marker = "/path"      for grow_once
 *   cap    = 2048         MiB: safety net for a host without a limit (an
 *                         ASan build, memory_limit = "none"): at the cap
 *                         the blocks are freed and the run completes
 *                         CRITICAL "no limit stopped N MiB" - what a test
 *                         of the limit must see as a failure
 *
 * Must never: run away without a bound on a machine shared with others
 * (the cap), or keep memory after a capped run.
 */
#include <mamori/plugin.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (1024 * 1024)

struct hog {
	const struct mamori_host *host;
};

struct hog_check {
	char mode[16];
	char marker[256];
	long cap_mib;
};

static const struct mamori_key instance_keys[] = {
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key check_keys[] = {
	{ "mode", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "grow, grow_once or ok", NULL },
	{ "marker", MAMORI_KEY_STRING, 0, "marker file of grow_once", NULL },
	{ "cap", MAMORI_KEY_INT, 0, "MiB at which a host without a limit stops", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int h_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct hog *h = calloc(1, sizeof *h);
	if (!h)
		return MAMORI_E_NOMEM;
	h->host = host;
	*inst = h;
	return 0;
}

static void h_destroy(void *inst)
{
	free(inst);
}

static int h_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                     void **data)
{
	struct hog *h = inst;
	const char *mode = "", *marker = "";
	long long cap = 2048;
	h->host->conf_string(conf, "mode", &mode);
	h->host->conf_string(conf, "marker", &marker);
	h->host->conf_int(conf, "cap", &cap);
	if (!mode)
		mode = "";
	if (!marker)
		marker = "";
	if (strcmp(mode, "grow") != 0 && strcmp(mode, "grow_once") != 0 && strcmp(mode, "ok") != 0)
		return h->host->conf_error(conf, "mode", "unknown mode '%s'", mode);
	if (cap < 1 || cap > 65536)
		return h->host->conf_error(conf, "cap", "cap must be 1..65536 MiB");
	struct hog_check *k = calloc(1, sizeof *k);
	if (!k)
		return MAMORI_E_NOMEM;
	snprintf(k->mode, sizeof k->mode, "%s", mode);
	snprintf(k->marker, sizeof k->marker, "%s", marker);
	k->cap_mib = (long)cap;
	*data = k;
	return 0;
}

static void h_release(void *inst, struct mamori_check *chk, void *data)
{
	free(data);
}

static void complete(struct hog *h, struct mamori_run *run, int state, const char *out)
{
	struct mamori_result r = { .struct_size = sizeof r, .state = state, .output = out };
	h->host->run_complete(run, &r);
}

/* 1 the first time (marker created now), 0 once the marker exists. */
static int first_time(const struct hog_check *k)
{
	int fd = open(k->marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* Allocate and touch until malloc fails (abort) or the cap is reached
 * (everything freed; returns the MiB reached). */
static long grow(long cap_mib)
{
	void **list = NULL; /* each block's first word links the previous one */
	long mib = 0;
	while (mib < cap_mib) {
		void **b = malloc(BLOCK);
		if (!b)
			abort(); /* out of memory: what the limit exists for */
		for (size_t i = 0; i < BLOCK; i += 4096)
			((volatile char *)b)[i] = (char)i;
		*b = list;
		list = b;
		mib++;
	}
	while (list) {
		void **next = *list;
		free(list);
		list = next;
	}
	return mib;
}

static int h_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct hog *h = inst;
	struct hog_check *k = data;
	char out[96];
	*run_state = NULL;
	if (strcmp(k->mode, "grow") == 0 || (strcmp(k->mode, "grow_once") == 0 && first_time(k))) {
		long mib = grow(k->cap_mib);
		snprintf(out, sizeof out, "no limit stopped %ld MiB", mib);
		complete(h, run, MAMORI_CRITICAL, out);
		return 0;
	}
	if (strcmp(k->mode, "grow_once") == 0)
		snprintf(out, sizeof out, "recovered");
	else
		snprintf(out, sizeof out, "memhog ok pid %d", (int)getpid());
	complete(h, run, MAMORI_OK, out);
	return 0;
}

static void h_cancel(void *inst, struct mamori_run *run, void *run_state)
{
}

MAMORI_PLUGIN_DEFINE(.name = "memhog", .version = "1.0",
                     .description = "test plugin: a memory runaway on demand",
                     .instance_keys = instance_keys, .check_keys = check_keys, .init = h_init,
                     .destroy = h_destroy, .check_prepare = h_prepare, .check_release = h_release,
                     .check_start = h_start, .check_cancel = h_cancel);
