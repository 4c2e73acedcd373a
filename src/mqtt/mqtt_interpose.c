/*
 * mqtt_interpose: read(), write() and close() for the whole process, so
 * that libmosquitto's calls on the broker socket reach mqtt_io's buffers
 * (mqtt_io.c says why: about a third of mamorid's CPU per agent report).
 *
 * Process-wide: these definitions come first in the dynamic linker's
 * lookup, as with any interposer, so every read/write/close of mamorid,
 * of the libraries it loads (libmosquitto, OpenSSL, SQLite...) and of its
 * plugins lands here.  That is why this file is linked into build/mamorid
 * only (the Makefile leaves it out of libmamoricore.a, so tests, tools and
 * the simulator run on plain libc), and not at all with ./configure
 * --disable-io-interpose (or make IO_INTERPOSE=no).
 *
 * Owns: the three definitions and the lookup of the next ones (libc's, or
 * a sanitizer's interceptor) with dlsym(RTLD_NEXT).  It serves one case
 * and passes everything else on untouched: on a thread with a session
 * attached (mqtt_io_attach), the broker socket goes through mqtt_io and
 * libmosquitto's wake-up byte is dropped; close() of the broker socket
 * flushes what was collected first (libmosquitto closes right after
 * writing DISCONNECT, OpenSSL after its close_notify).
 *
 * Must never: change what any other descriptor or thread sees, block or
 * allocate on the pass-through path (beyond dlsym's one lookup per
 * symbol), or be required: if these symbols are not exported
 * (-fvisibility=hidden, -Wl,--exclude-libs,ALL, a static link)
 * libmosquitto calls libc directly and the session runs unbuffered (it
 * ends read bursts on no progress, not on mqtt_io's "drained") and says
 * so once per connection ("broker socket I/O: unbuffered").
 */
#include "mqtt/mqtt_io.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*close_fn)(int);

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

static const struct mqtt_io_sys real_sys = { real_read, real_write };

ssize_t read(int fd, void *buf, size_t n)
{
	struct mqtt_io *io = mqtt_io__find(fd);
	if (io)
		return mqtt_io__read(io, &real_sys, buf, n);
	return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	struct mqtt_io *io = mqtt_io__find(fd);
	if (io)
		return mqtt_io__write(io, &real_sys, buf, n);
	if (mqtt_io__is_wake(fd, buf, n))
		return (ssize_t)n;
	return real_write(fd, buf, n);
}

int close(int fd)
{
	struct mqtt_io *io = mqtt_io__find(fd);
	if (io) {
		mqtt_io_flush(io);
		mqtt_io_detach(io);
	}
	return real_close(fd);
}
