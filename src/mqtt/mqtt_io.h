/*
 * mqtt_io: buffered broker-socket I/O for libmosquitto on the connection
 * thread (see mqtt_io.c for why and how).  Private to src/mqtt.
 */
#ifndef MAMORI_MQTT_IO_H
#define MAMORI_MQTT_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mqtt_io {
	int fd;      /* the broker socket while attached, else -1 */
	int wake_fd; /* libmosquitto's socket-pair write end, once seen */
	int err;     /* errno of a failed flush: the next read/write reports it */
	int drained; /* the last real read found the socket empty (or short) */
	int in_lib;  /* inside a libmosquitto call (not in a subscriber) */
	char *in;
	size_t in_pos, in_len;
	char *out;
	size_t out_len, out_cap;
	uint64_t sys_reads, sys_writes;
};

void mqtt_io_init(struct mqtt_io *io);
/* Serve read()/write() on fd from this thread through io (one session). */
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

#endif
