/*
 * mqtt_io: buffered socket I/O for libmosquitto on the session's thread.
 *
 * Why: libmosquitto (2.0) reads a packet with one read() for the command
 * byte, one per byte of the remaining length, then one for the body: four
 * system calls for a typical agent report, plus one write() per PUBACK and
 * one 1-byte write() to its internal socket pair per queued packet.  On
 * the paravirtualised machines we run on a system call costs about as much
 * as judging the report, so the receive path cost more than the work.
 * libmosquitto has no hook for its socket I/O, so this file defines read()
 * and write() for the process (the executable's definitions come first in
 * the dynamic linker's lookup, as with any interposer) and serves them:
 *   - on the thread that runs the session only (the loop's; thread-local
 *     pointers, set by mqtt_io_attach for the life of one session) and only
 *     for the broker socket: reads come from a 64 KiB buffer that one real read() fills,
 *     writes are collected and leave with one real write() when the session
 *     calls mqtt_io_flush (after each read burst and before the loop
 *     sleeps: all PUBACKs of a burst in one segment, which also spares the
 *     broker wake-ups);
 *   - libmosquitto's wake-up byte to its socket pair is dropped: only
 *     mosquitto_loop reads that pair and we never call it (its buffer
 *     would be full and each write fail with EAGAIN, which libmosquitto
 *     ignores - same effect, one system call less);
 *   - everything else (other threads, other descriptors) goes straight to
 *     the next definition (libc's, or a sanitizer's interceptor), found
 *     with dlsym(RTLD_NEXT).
 * close() of the broker socket flushes first (libmosquitto closes right
 * after writing DISCONNECT).
 * With TLS the same holds one layer down: OpenSSL's socket BIO calls
 * read()/write() on the broker socket.
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

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define IN_SIZE (64 * 1024)
#define MAX_OUT (4 * 1024 * 1024)

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*close_fn)(int);

/* The sessions attached on this thread (the daemon has one; tests run a
 * few clients on one loop).  tl_n == 0 is the whole cost of the wrappers
 * on other threads. */
#define MAX_ATTACHED 8
static _Thread_local struct mqtt_io *tl_io[MAX_ATTACHED];
static _Thread_local int tl_n;

static struct mqtt_io *io_of(int fd)
{
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

/* libc's (or a sanitizer's) read/write/close: the next definition after
 * ours, looked up on first use (a race between threads looks up the same
 * pointer twice, harmlessly); the raw system call if there is none. */
static _Atomic(void *) next_read, next_write, next_close;

static void *next_sym(_Atomic(void *) *slot, const char *name)
{
	void *f = atomic_load_explicit(slot, memory_order_relaxed);
	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, f, memory_order_relaxed);
	}
	return f;
}

/* POSIX: dlsym's void * converts to a function pointer. */
static ssize_t real_read(int fd, void *buf, size_t n)
{
	read_fn f = (read_fn)next_sym(&next_read, "read");
	return f ? f(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}

static ssize_t real_write(int fd, const void *buf, size_t n)
{
	write_fn f = (write_fn)next_sym(&next_write, "write");
	return f ? f(fd, buf, n) : syscall(SYS_write, fd, buf, n);
}

static int real_close(int fd)
{
	close_fn f = (close_fn)next_sym(&next_close, "close");
	return f ? f(fd) : (int)syscall(SYS_close, fd);
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
		ssize_t w = real_write(io->fd, io->out + done, io->out_len - done);
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

static ssize_t io_read(struct mqtt_io *io, void *buf, size_t n)
{
	size_t have = io->in_len - io->in_pos;
	if (have == 0) {
		if (io->err) {
			errno = io->err;
			return -1;
		}
		io->in_pos = io->in_len = 0;
		if (n >= IN_SIZE) { /* a large body: straight into the caller's buffer */
			ssize_t r = real_read(io->fd, buf, n);
			io->sys_reads++;
			io->drained = r < (ssize_t)n;
			return r;
		}
		ssize_t r = real_read(io->fd, io->in, IN_SIZE);
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

static ssize_t io_write(struct mqtt_io *io, const void *buf, size_t n)
{
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

ssize_t read(int fd, void *buf, size_t n)
{
	struct mqtt_io *io = tl_n && fd >= 0 ? io_of(fd) : NULL;
	if (io)
		return io_read(io, buf, n);
	return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (tl_n && fd >= 0) {
		struct mqtt_io *io = io_of(fd);
		if (io)
			return io_write(io, buf, n);
		for (int i = 0; i < tl_n; i++)
			if (is_wake_write(tl_io[i], fd, buf, n))
				return (ssize_t)n;
	}
	return real_write(fd, buf, n);
}

/* libmosquitto closes the socket right after queueing DISCONNECT (and
 * OpenSSL after its close_notify): what was collected goes out first. */
int close(int fd)
{
	struct mqtt_io *io = tl_n && fd >= 0 ? io_of(fd) : NULL;
	if (io) {
		mqtt_io_flush(io);
		mqtt_io_detach(io);
	}
	return real_close(fd);
}
