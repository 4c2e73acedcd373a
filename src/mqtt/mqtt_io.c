/*
 * mqtt_io: buffered socket I/O for libmosquitto on the session's thread.
 *
 * Why: libmosquitto (2.0) reads a packet with one read() for the command
 * byte, one per byte of the remaining length, then one for the body: four
 * system calls for a typical agent report, plus one write() per PUBACK and
 * one 1-byte write() to its internal socket pair per queued packet.  On
 * the paravirtualised machines we run on a system call costs about as much
 * as judging the report, so the receive path cost more than the work.
 * libmosquitto has no hook for its socket I/O.  mqtt_interpose.c (linked
 * into mamorid only) defines read()/write()/close() for the process and
 * hands the broker socket's calls to this file.
 *
 * Owns: per session, a 64 KiB input buffer and the collected output; per
 * thread, the table of sessions attached on it.  It serves:
 *   - only the thread that runs the session (the loop's; thread-local
 *     table, set by mqtt_io_attach for the life of one session) and only
 *     the broker socket: reads come from the input buffer that one real
 *     read() fills, writes are collected and leave with one real write()
 *     when the session calls mqtt_io_flush (after each read burst and
 *     before the loop sleeps: all PUBACKs of a burst in one segment, which
 *     also spares the broker wake-ups);
 *   - libmosquitto's wake-up byte to its socket pair is recognised
 *     (mqtt_io__is_wake) so the interposer can drop it: only mosquitto_loop
 *     reads that pair and we never call it (its buffer would be full and
 *     each write fail with EAGAIN, which libmosquitto ignores - same
 *     effect, one system call less).
 * With TLS the same holds one layer down: OpenSSL's socket BIO calls
 * read()/write() on the broker socket.
 *
 * Must never: call read()/write()/close() itself (in mamorid they are the
 * interposer's; the real calls come in through struct mqtt_io_sys), nor
 * read or write a descriptor other than the attached one (the wake-up
 * test only asks getsockopt).  Without the interposer nothing calls
 * mqtt_io__read/__write, mqtt_io_flush has nothing to send, and the
 * session must work on plain libmosquitto I/O (served stays 0).
 *
 * Semantics kept: a read returns what is buffered, else what one real
 * read() returns (its errno, EAGAIN included, or 0 at end of stream).  A
 * collected write counts as written; if the later flush fails, the error
 * is reported by the next read or write on the socket, so libmosquitto's
 * normal disconnect path runs.  Unsent PUBACKs lost with a dead connection
 * mean the broker sends those messages again (QoS 1: at least once).
 * Output is bounded (MAX_OUT): beyond it a write fails with EAGAIN and
 * libmosquitto keeps the packet queued, as with a full socket buffer.
 */
#include "mqtt/mqtt_io.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IN_SIZE (64 * 1024)
#define MAX_OUT (4 * 1024 * 1024)

/* The sessions attached on this thread (the daemon has one; tests run a
 * few clients on one loop).  tl_n == 0 is the whole cost of the wrappers
 * on other threads. */
#define MAX_ATTACHED 8
static _Thread_local struct mqtt_io *tl_io[MAX_ATTACHED];
static _Thread_local int tl_n;

struct mqtt_io *mqtt_io__find(int fd)
{
	if (!tl_n || fd < 0)
		return NULL;
	for (int i = 0; i < tl_n; i++)
		if (tl_io[i]->fd == fd)
			return tl_io[i];
	return NULL;
}

static void forget(struct mqtt_io *io)
{
	for (int i = 0; i < tl_n; i++)
		if (tl_io[i] == io) {
			tl_io[i] = tl_io[--tl_n];
			return;
		}
}

void mqtt_io_init(struct mqtt_io *io)
{
	memset(io, 0, sizeof *io);
	io->fd = -1;
	io->wake_fd = -1;
}

void mqtt_io_attach(struct mqtt_io *io, int fd)
{
	if (!io->in)
		io->in = xmalloc(IN_SIZE);
	io->fd = fd;
	io->in_pos = io->in_len = 0;
	io->out_len = 0;
	io->err = 0;
	io->served = 0;
	forget(io);
	if (fd >= 0 && tl_n < MAX_ATTACHED) {
		tl_io[tl_n++] = io;
		io->drained = 0;
	} else
		io->drained = 1; /* plain unbuffered I/O: one read per wake-up */
}

void mqtt_io_detach(struct mqtt_io *io)
{
	forget(io);
	io->fd = -1;
	io->in_pos = io->in_len = 0;
	io->out_len = 0;
}

void mqtt_io_free(struct mqtt_io *io)
{
	mqtt_io_detach(io);
	free(io->in);
	free(io->out);
	io->in = io->out = NULL;
	io->out_cap = 0;
}

int mqtt_io_flush(struct mqtt_io *io)
{
	size_t done = 0;
	while (done < io->out_len && !io->err) {
		/* out_len > 0: mqtt_io__write collected it and set sys */
		ssize_t w = io->sys->write(io->fd, io->out + done, io->out_len - done);
		if (w > 0) {
			done += (size_t)w;
			io->sys_writes++;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else {
			io->err = w < 0 ? errno : EPIPE;
		}
	}
	if (done) {
		memmove(io->out, io->out + done, io->out_len - done);
		io->out_len -= done;
	}
	return io->err ? -1 : 0;
}

ssize_t mqtt_io__read(struct mqtt_io *io, const struct mqtt_io_sys *sys, void *buf, size_t n)
{
	size_t have = io->in_len - io->in_pos;
	io->sys = sys;
	io->served = 1;
	if (have == 0) {
		if (io->err) {
			errno = io->err;
			return -1;
		}
		io->in_pos = io->in_len = 0;
		if (n >= IN_SIZE) { /* a large body: straight into the caller's buffer */
			ssize_t r = sys->read(io->fd, buf, n);
			io->sys_reads++;
			io->drained = r < (ssize_t)n;
			return r;
		}
		ssize_t r = sys->read(io->fd, io->in, IN_SIZE);
		io->sys_reads++;
		if (r <= 0) {
			io->drained = 1;
			return r;
		}
		io->drained = r < IN_SIZE;
		io->in_len = (size_t)r;
		have = (size_t)r;
	}
	if (n > have)
		n = have;
	memcpy(buf, io->in + io->in_pos, n);
	io->in_pos += n;
	return (ssize_t)n;
}

ssize_t mqtt_io__write(struct mqtt_io *io, const struct mqtt_io_sys *sys, const void *buf, size_t n)
{
	io->sys = sys;
	if (io->err) {
		errno = io->err;
		return -1;
	}
	if (io->out_len + n > io->out_cap) {
		if (io->out_len + n > MAX_OUT) {
			errno = EAGAIN;
			return -1;
		}
		size_t cap = io->out_cap ? io->out_cap : 4096;
		while (cap < io->out_len + n)
			cap *= 2;
		io->out = xrealloc(io->out, cap);
		io->out_cap = cap;
	}
	memcpy(io->out + io->out_len, buf, n);
	io->out_len += n;
	return (ssize_t)n;
}

/* libmosquitto's wake-up byte: one 0 byte, written inside a libmosquitto
 * call (mqtt_io_enter/leave; subscriber callbacks run outside), to an
 * AF_UNIX stream socket that is not the broker's.  Learnt once; that
 * descriptor is libmosquitto's until mosquitto_destroy. */
static int is_wake_write(struct mqtt_io *io, int fd, const void *buf, size_t n)
{
	if (fd == io->wake_fd)
		return 1;
	if (n != 1 || !io->in_lib || *(const unsigned char *)buf != 0 || io->wake_fd != -1 ||
	    fd == io->fd)
		return 0;
	int domain = 0, type = 0;
	socklen_t l = sizeof domain;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0 || domain != AF_UNIX)
		return 0;
	l = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_STREAM)
		return 0;
	io->wake_fd = fd;
	return 1;
}

int mqtt_io__is_wake(int fd, const void *buf, size_t n)
{
	if (fd < 0)
		return 0;
	for (int i = 0; i < tl_n; i++)
		if (is_wake_write(tl_io[i], fd, buf, n))
			return 1;
	return 0;
}
