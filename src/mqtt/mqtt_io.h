/*
 * mqtt_io: buffered broker-socket I/O for libmosquitto on the session's
 * thread (see mqtt_io.c for why and how).  The buffers live here; what
 * routes libmosquitto's read()/write() into them is mqtt_interpose.c,
 * linked into mamorid only.  Without it nothing is buffered and the
 * session runs on plain libmosquitto I/O.  Private to src/mqtt.
 */
#ifndef MAMORI_MQTT_IO_H
#define MAMORI_MQTT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The real calls behind the buffers: the next read()/write() after the
 * interposer's (libc's or a sanitizer's); a test passes libc's. */
struct mqtt_io_sys {
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
};

struct mqtt_io {
	int fd;      /* the broker socket while attached, else -1 */
	int wake_fd; /* libmosquitto's socket-pair write end, once seen */
	int err;     /* errno of a failed flush: the next read/write reports it */
	int drained; /* the last real read found the socket empty (or short) */
	int in_lib;  /* inside a libmosquitto call (not in a subscriber) */
	int served;  /* a read of fd was served here since attach: buffered
	              * I/O is active (the interposer sees libmosquitto) */
	/* the real calls, set by the first call served */
	const struct mqtt_io_sys *sys;
	char *in;
	size_t in_pos, in_len;
	char *out;
	size_t out_len, out_cap;
	uint64_t sys_reads, sys_writes;
};

void mqtt_io_init(struct mqtt_io *io);
/* Offer fd's reads and writes on this thread to io (one session). */
void mqtt_io_attach(struct mqtt_io *io, int fd);
void mqtt_io_detach(struct mqtt_io *io);
void mqtt_io_free(struct mqtt_io *io);
/* Write what was collected; what the socket does not take stays (poll
 * for POLLOUT while mqtt_io_pending_out).  -1 once the socket failed. */
int mqtt_io_flush(struct mqtt_io *io);

/* Around libmosquitto calls on the session's thread. */
static inline void mqtt_io_enter(struct mqtt_io *io)
{
	io->in_lib++;
}

static inline void mqtt_io_leave(struct mqtt_io *io)
{
	io->in_lib--;
}

static inline size_t mqtt_io_pending_in(const struct mqtt_io *io)
{
	return io->in_len - io->in_pos;
}

static inline size_t mqtt_io_pending_out(const struct mqtt_io *io)
{
	return io->out_len;
}

/* For the interposer (mqtt_interpose.c) and the tests of the buffering;
 * the session never calls these. */
/* The session attached to fd on this thread, or NULL (at once when none). */
struct mqtt_io *mqtt_io__find(int fd);
/* 1 if this write is libmosquitto's wake-up byte for a session attached
 * on this thread: the caller drops it. */
int mqtt_io__is_wake(int fd, const void *buf, size_t n);
/* read()/write() of io's socket, served from and into the buffers. */
ssize_t mqtt_io__read(struct mqtt_io *io, const struct mqtt_io_sys *sys, void *buf, size_t n);
ssize_t mqtt_io__write(struct mqtt_io *io, const struct mqtt_io_sys *sys, const void *buf,
                       size_t n);

#endif
