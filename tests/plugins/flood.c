/*
 * Test plugin for isolate = true: a host that floods the core.  Its init
 * writes frames of the host's wire protocol (src/plugin/wire.h) straight
 * onto the host's socket, fd 3, before init answers - what a buggy or
 * hostile plugin in a host process can do - and then succeeds.  It is
 * meant to run isolated only: in mamorid itself fd 3 is something else.
 *
 * Instance keys:
 *   flood  = "log"      `frames` log messages of `size` bytes
 *            "replies"  `frames` prepare replies nobody waits for
 *            "none"     nothing (default)
 *   frames = 256, size = 1048576
 *   marker = "/path"    flood only once this file exists; a check's first
 *                       run creates it and ends the host, so the
 *                       restarted host floods (the asynchronous path)
 * Checks complete OK "flood ok".
 */
#include "plugin/wire.h"

#include <mamori/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOST_FD 3

struct flood {
	const struct mamori_host *host;
	char marker[256];
};

static const struct mamori_key instance_keys[] = {
	{ "flood", MAMORI_KEY_STRING, 0, "log, replies or none", NULL },
	{ "frames", MAMORI_KEY_INT, 0, "how many frames", NULL },
	{ "size", MAMORI_KEY_INT, 0, "bytes of text per frame", NULL },
	{ "marker", MAMORI_KEY_STRING, 0, "flood only once this file exists", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

/* All of it, waiting when the socket is full; -1 when the core is gone
 * (it killed us) or after 20 s. */
static int write_all(const char *p, size_t n, time_t until)
{
	while (n) {
		ssize_t w = write(HOST_FD, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN && time(NULL) < until) {
			struct pollfd pfd = { .fd = HOST_FD, .events = POLLOUT };
			poll(&pfd, 1, 1000);
			continue;
		}
		return -1;
	}
	return 0;
}

static void put_u32(char **p, uint32_t v)
{
	memcpy(*p, &v, sizeof v);
	*p += sizeof v;
}

static void do_flood(const char *kind, long long frames, long long size)
{
	int log = strcmp(kind, "log") == 0;
	if (!log && strcmp(kind, "replies") != 0)
		return;
	if (size < 1 || size > 8 * 1024 * 1024)
		size = 1024 * 1024;
	/* [u32 len][u8 type] then LOG: i32 level, str; PREPARE_R: u32 seq, i32 rc, str */
	size_t body = 1 + 4 + 4 + 4 + (size_t)size + (log ? 0 : 4);
	char *frame = malloc(4 + body), *p = frame;
	if (!frame)
		return;
	put_u32(&p, (uint32_t)body);
	*p++ = (char)(log ? WIRE_LOG : WIRE_PREPARE_R);
	put_u32(&p, log ? 3 : 0); /* level err, or seq 0 */
	if (!log)
		put_u32(&p, 0); /* rc */
	put_u32(&p, (uint32_t)size + 1);
	memset(p, 'f', (size_t)size);
	p[size] = '\0';
	time_t until = time(NULL) + 20;
	for (long long i = 0; i < frames; i++)
		if (write_all(frame, 4 + body, until) != 0)
			break;
	free(frame);
}

static int f_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct flood *f = calloc(1, sizeof *f);
	if (!f)
		return MAMORI_E_NOMEM;
	f->host = host;
	*inst = f;
	const char *kind = "none", *marker = "";
	long long frames = 256, size = 1024 * 1024;
	host->conf_string(conf, "flood", &kind);
	host->conf_int(conf, "frames", &frames);
	host->conf_int(conf, "size", &size);
	host->conf_string(conf, "marker", &marker);
	snprintf(f->marker, sizeof f->marker, "%s", marker);
	if (!*marker || access(marker, F_OK) == 0)
		do_flood(kind, frames, size);
	return 0;
}

static void f_destroy(void *inst)
{
	free(inst);
}

static int f_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                     void **data)
{
	return 0;
}

static void f_release(void *inst, struct mamori_check *chk, void *data)
{
}

static int f_start(void *inst, struct mamori_run *run, void *data, void **run_state)
{
	struct flood *f = inst;
	if (f->marker[0]) {
		int fd = open(f->marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) { /* first run: the host dies, and is restarted */
			close(fd);
			_exit(70);
		}
	}
	struct mamori_result r = { .struct_size = sizeof r,
		                   .state = MAMORI_OK,
		                   .output = "flood ok" };
	f->host->run_complete(run, &r);
	return 0;
}

static void f_cancel(void *inst, struct mamori_run *run, void *run_state)
{
}

MAMORI_PLUGIN_DEFINE(.name = "flood", .version = "1.0",
                     .description = "test plugin: an isolated host that floods the core",
                     .instance_keys = instance_keys, .init = f_init, .destroy = f_destroy,
                     .check_prepare = f_prepare, .check_release = f_release, .check_start = f_start,
                     .check_cancel = f_cancel);
