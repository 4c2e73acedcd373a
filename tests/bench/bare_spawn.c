/*
 * bare_spawn: the machine's own limit for running a Monitoring Plugins
 * executable and reading its output, with nothing else going on.  The
 * reference for mamori's `exec` checks/s and for Nagios.
 *
 *   build/bench/bare_spawn [seconds=5] [parallel=8] [procs=ncpu] [program args...]
 *
 * Starts `procs` driver processes (one per core by default); each keeps
 * `parallel` children running: posix_spawn (vfork semantics: the cost does
 * not depend on the driver's size), stdout+stderr into a pipe, read to EOF,
 * waitpid.  Prints one line "bare_spawn RATE/s runs N seconds S cpu C"
 * where RATE counts completed children per wall second (all drivers).
 * Exits 1 if a child did not exit 0 (the program is expected to say OK).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_PAR 256

struct slot {
	pid_t pid;
	int fd;
};

struct driver_result {
	uint64_t runs, bad;
};

static int spawn_one(char *const *argv, struct slot *s)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		errno = rc;
		return -1;
	}
	s->fd = p[0];
	return 0;
}

/* Child's output reached EOF: reap it and count. */
static void finish(struct slot *s, struct driver_result *res)
{
	int st = 0;
	close(s->fd);
	s->fd = -1;
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	res->runs++;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		res->bad++;
}

static struct driver_result drive(char *const *argv, size_t par, double seconds)
{
	struct driver_result res = { 0, 0 };
	struct slot slots[MAX_PAR];
	struct pollfd pfd[MAX_PAR];
	char buf[4096];
	double end = bench_mono() + seconds;
	for (size_t i = 0; i < par; i++)
		if (spawn_one(argv, &slots[i]) != 0) {
			perror("bare_spawn: posix_spawn");
			exit(1);
		}
	size_t live = par;
	while (live) {
		for (size_t i = 0; i < par; i++) {
			pfd[i].fd = slots[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, par, 1000) < 0 && errno != EINTR)
			break;
		int more = bench_mono() < end;
		for (size_t i = 0; i < par; i++) {
			if (slots[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(slots[i].fd, buf, sizeof buf);
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			finish(&slots[i], &res);
			if (!more || spawn_one(argv, &slots[i]) != 0)
				live--;
		}
	}
	return res;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	int par = argc > 2 ? atoi(argv[2]) : 8;
	long procs = argc > 3 ? atol(argv[3]) : sysconf(_SC_NPROCESSORS_ONLN);
	static char *def_argv[] = { "/usr/lib/nagios/plugins/check_dummy", "0", "bench", NULL };
	char *const *pargv = argc > 4 ? argv + 4 : def_argv;
	if (seconds <= 0 || par < 1 || par > MAX_PAR || procs < 1 || procs > 64) {
		fprintf(stderr,
		        "usage: bare_spawn [seconds] [parallel 1..%d] [procs] [program args...]\n",
		        MAX_PAR);
		return 2;
	}
	int rp[2];
	if (pipe(rp) != 0)
		return 1;
	double t0 = bench_mono();
	for (long i = 0; i < procs; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(rp[0]);
			struct driver_result r = drive(pargv, (size_t)par, seconds);
			ssize_t w = write(rp[1], &r, sizeof r);
			_exit(w == (ssize_t)sizeof r ? 0 : 1);
		}
		if (pid < 0) {
			perror("bare_spawn: fork");
			return 1;
		}
	}
	close(rp[1]);
	struct driver_result tot = { 0, 0 }, r;
	while (read(rp[0], &r, sizeof r) == (ssize_t)sizeof r) {
		tot.runs += r.runs;
		tot.bad += r.bad;
	}
	while (wait(NULL) > 0)
		;
	double wall = bench_mono() - t0;
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("bare_spawn %.0f/s runs %llu seconds %.2f cpu %.2f procs %ld parallel %d\n",
	       (double)tot.runs / wall, (unsigned long long)tot.runs, wall, cpu, procs, par);
	if (tot.bad) {
		fprintf(stderr, "bare_spawn: %llu children did not exit 0\n",
		        (unsigned long long)tot.bad);
		return 1;
	}
	return tot.runs ? 0 : 1;
}
