/*
 * Tests for src/mqtt/mqtt_interpose.c: the process-wide read()/write()/
 * close() that route libmosquitto's calls on the broker socket into
 * mqtt_io.  The one test binary that links the interposer (see the
 * Makefile); every call below goes through it, as in mamorid.
 *   - reads of the attached socket come from one real read;
 *   - writes wait for mqtt_io_flush;
 *   - a wake-up byte is dropped only inside a libmosquitto call, then
 *     every write to that descriptor;
 *   - other descriptors, other threads and detached sockets pass through;
 *   - close() flushes; a dead peer is reported by the next read.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mqtt/mqtt_io.h"

struct thr_io {
	int fd;
	ssize_t r;
};

static void *other_thread(void *arg)
{
	struct thr_io *t = arg;
	char b[16];
	t->r = read(t->fd, b, sizeof b);
	return NULL;
}

START_TEST(test_interpose)
{
	int sp[2], other[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, other), 0);
	struct mqtt_io io;
	mqtt_io_init(&io);
	mqtt_io_attach(&io, sp[0]);
	/* another thread reading the attached socket gets libc's read */
	ck_assert_int_eq(write(sp[1], "Z", 1), 1);
	struct thr_io t = { sp[0], 0 };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, other_thread, &t), 0);
	pthread_join(th, NULL);
	ck_assert_int_eq(t.r, 1);
	ck_assert_uint_eq(io.sys_reads, 0);
	ck_assert_int_eq(write(sp[1], "\x30\x05hello\x40\x02\x00\x01", 11), 11); /* peer: real */
	char b[16];
	ck_assert_int_eq(io.served, 0);
	ck_assert_int_eq(read(sp[0], b, 1), 1);
	ck_assert_int_eq(io.served, 1); /* the interposer is in the path */
	ck_assert_int_eq(b[0], 0x30);
	ck_assert_int_eq(read(sp[0], b, 1), 1);
	ck_assert_int_eq(read(sp[0], b, 5), 5);
	ck_assert_int_eq(memcmp(b, "hello", 5), 0);
	ck_assert_uint_eq(io.sys_reads, 1);
	ck_assert_uint_eq(mqtt_io_pending_in(&io), 4);
	ck_assert_int_eq(read(sp[0], b, 16), 4); /* what is buffered, not more */
	errno = 0;
	ck_assert_int_eq(read(sp[0], b, 16), -1); /* empty: one real read, EAGAIN */
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(io.drained, 1);
	/* writes are collected */
	ck_assert_int_eq(write(sp[0], "ab", 2), 2);
	ck_assert_int_eq(write(sp[0], "cd", 2), 2);
	ck_assert_int_eq(read(sp[1], b, 16), -1);
	ck_assert_uint_eq(mqtt_io_pending_out(&io), 4);
	ck_assert_int_eq(mqtt_io_flush(&io), 0);
	ck_assert_uint_eq(io.sys_writes, 1);
	ck_assert_int_eq(read(sp[1], b, 16), 4);
	ck_assert_int_eq(memcmp(b, "abcd", 4), 0);
	/* a 0 byte to another AF_UNIX socket: kept outside, dropped inside */
	char z = 0;
	ck_assert_int_eq(write(other[0], &z, 1), 1);
	ck_assert_int_eq(read(other[1], b, 16), 1);
	mqtt_io_enter(&io);
	ck_assert_int_eq(write(other[0], &z, 1), 1);
	mqtt_io_leave(&io);
	ck_assert_int_eq(io.wake_fd, other[0]);
	ck_assert_int_eq(read(other[1], b, 16), -1);
	ck_assert_int_eq(write(other[0], "xy", 2), 2); /* learnt: all its writes go */
	ck_assert_int_eq(read(other[1], b, 16), -1);
	/* close() writes what was collected first */
	ck_assert_int_eq(write(sp[0], "bye", 3), 3);
	ck_assert_int_eq(close(sp[0]), 0);
	ck_assert_int_eq(io.fd, -1);
	ck_assert_int_eq(read(sp[1], b, 16), 3);
	ck_assert_int_eq(read(sp[1], b, 16), 0);
	close(sp[1]);
	/* a peer that went away: the flush fails, reads report it */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	mqtt_io_attach(&io, sp[0]);
	close(sp[1]);
	ck_assert_int_eq(write(sp[0], "x", 1), 1);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(mqtt_io_flush(&io), -1);
	errno = 0;
	ck_assert_int_eq(read(sp[0], b, 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	mqtt_io_detach(&io);
	ck_assert_int_eq(write(sp[0], "x", 1), -1); /* detached: the real thing */
	close(sp[0]);
	close(other[0]);
	close(other[1]);
	mqtt_io_free(&io);
}
END_TEST

static Suite *interpose_suite(void)
{
	Suite *s = suite_create("mqtt_interpose");
	TCase *tc = tcase_create("wrappers");
	tcase_add_test(tc, test_interpose);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(interpose_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
