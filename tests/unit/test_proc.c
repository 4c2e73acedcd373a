/*
 * Unit tests: the process spawner (src/proc) on the default libev loop.
 *
 * Output capture (stdout, merged stderr, stdin), the output cap (the child
 * never blocks on a full pipe), exit codes and signals, a timeout killing
 * the whole process group (grandchildren too), a grandchild holding the
 * pipe, proc_kill (no callback afterwards), spawn failure, no zombie
 * children left (counted in /proc), and no descriptor of ours reaching a
 * child (this binary, run as `--list-fds`, is the child that looks).  The
 * loop is pumped; nothing sleeps.
 */
#include "proc/proc.h"
#include "util/log.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct res {
	int calls;
	int exited, status, timed_out, truncated;
	size_t len;
	double duration;
	char out[4096];
};

static void on_done(struct mamori_proc *p, const struct mamori_proc_result *r, void *ud)
{
	struct res *x = ud;
	x->calls++;
	x->exited = r->exited;
	x->status = r->status;
	x->timed_out = r->timed_out;
	x->truncated = r->truncated;
	x->len = r->output_len;
	x->duration = r->duration;
	snprintf(x->out, sizeof x->out, "%.*s",
	         (int)(r->output_len < sizeof x->out ? r->output_len : sizeof x->out - 1),
	         r->output);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Pump the loop until *flag >= want or `secs` pass. */
static int pump_until(struct ev_loop *loop, const int *flag, int want, double secs)
{
	ev_timer guard;
	ev_timer_init(&guard, guard_cb, 0.005, 0.005);
	ev_timer_start(loop, &guard);
	ev_now_update(loop);
	double end = ev_now(loop) + secs;
	while ((!flag || *flag < want) && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	return !flag || *flag >= want;
}

/* Children of this process, and how many of them are zombies. */
static int count_children(int *zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	*zombies = 0;
	pid_t me = getpid();
	while ((e = readdir(d))) {
		char path[300], buf[512];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* pid (comm) S ppid ... ; comm may hold spaces: parse from ')'. */
		char *rp = strrchr(buf, ')');
		char state;
		int ppid;
		if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
			continue;
		if (ppid == me) {
			n++;
			if (state == 'Z')
				(*zombies)++;
		}
	}
	closedir(d);
	return n;
}

/* State letter of pid, or 0 if it does not exist. */
static char pid_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *rp = strrchr(buf, ')');
	return rp ? rp[2] : 0;
}

struct fx {
	struct ev_loop *loop;
	struct proc_ctx *pc;
};

static void fx_init(struct fx *f)
{
	log_set_level(LOG_LVL_ERR);
	signal(SIGPIPE, SIG_IGN);
	f->loop = ev_default_loop(0);
	f->pc = proc_ctx_new(f->loop);
}

static void fx_done(struct fx *f)
{
	proc_ctx_free(f->pc);
	int z;
	ck_assert_int_eq(count_children(&z), 0);
}

static int run_sh(struct fx *f, const char *script, double timeout, size_t max, int merge,
                  struct res *r)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct mamori_spawn req = { .struct_size = sizeof req,
		                    .argv = argv,
		                    .timeout = timeout,
		                    .max_output = max,
		                    .merge_stderr = merge };
	memset(r, 0, sizeof *r);
	int rc = proc_spawn(f->pc, &req, on_done, r, NULL);
	if (rc != 0)
		return rc;
	ck_assert_msg(pump_until(f->loop, &r->calls, 1, 10.0), "no completion for: %s", script);
	return 0;
}

START_TEST(capture_output_and_status)
{
	struct fx f;
	struct res r;
	fx_init(&f);
	ck_assert_int_eq(run_sh(&f, "echo hello; echo oops >&2; exit 3", 0, 0, 0, &r), 0);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.exited, 1);
	ck_assert_int_eq(r.status, 3);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_str_eq(r.out, "hello\n"); /* stderr not merged */
	ck_assert_int_eq(run_sh(&f, "echo hello; echo oops >&2", 0, 0, 1, &r), 0);
	ck_assert_str_eq(r.out, "hello\noops\n");
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(run_sh(&f, "kill -TERM $$", 0, 0, 0, &r), 0);
	ck_assert_int_eq(r.exited, 0);
	ck_assert_int_eq(r.status, -SIGTERM);
	/* The environment is the minimal default one. */
	ck_assert_int_eq(run_sh(&f, "echo \"$LC_ALL|$HOME\"", 0, 0, 0, &r), 0);
	ck_assert_str_eq(r.out, "C.UTF-8|\n");
	fx_done(&f);
}
END_TEST

START_TEST(stdin_data)
{
	struct fx f;
	struct res r = { 0 };
	fx_init(&f);
	const char *argv[] = { "/bin/cat", NULL };
	struct mamori_spawn req = { .struct_size = sizeof req,
		                    .argv = argv,
		                    .stdin_data = "from stdin\n",
		                    .stdin_len = 11 };
	ck_assert_int_eq(proc_spawn(f.pc, &req, on_done, &r, NULL), 0);
	ck_assert(pump_until(f.loop, &r.calls, 1, 10.0));
	ck_assert_str_eq(r.out, "from stdin\n");
	/* A child that ignores its stdin and exits does not hang us. */
	static char big[1 << 20];
	memset(big, 'z', sizeof big);
	const char *argv2[] = { "/bin/true", NULL };
	struct mamori_spawn req2 = { .struct_size = sizeof req2,
		                     .argv = argv2,
		                     .stdin_data = big,
		                     .stdin_len = sizeof big };
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(proc_spawn(f.pc, &req2, on_done, &r, NULL), 0);
	ck_assert(pump_until(f.loop, &r.calls, 1, 10.0));
	ck_assert_int_eq(r.status, 0);
	fx_done(&f);
}
END_TEST

START_TEST(output_cap)
{
	struct fx f;
	struct res r;
	fx_init(&f);
	/* 4 MB of output, cap 1000: truncated, and the child is not blocked
	 * on a full pipe (it exits normally). */
	ck_assert_int_eq(
	    run_sh(&f, "head -c 4000000 /dev/zero | tr '\\0' x; exit 0", 5.0, 1000, 0, &r), 0);
	ck_assert_int_eq(r.timed_out, 0);
	ck_assert_int_eq(r.exited, 1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.len, 1000);
	ck_assert_int_eq(r.truncated, 1);
	ck_assert_uint_eq(strspn(r.out, "x"), 1000);
	/* Default cap 64 KiB. */
	ck_assert_int_eq(run_sh(&f, "head -c 100000 /dev/zero | tr '\\0' x", 5.0, 0, 0, &r), 0);
	ck_assert_uint_eq(r.len, 64 * 1024);
	ck_assert_int_eq(r.truncated, 1);
	/* Exactly at the cap is not truncated. */
	ck_assert_int_eq(run_sh(&f, "printf 12345", 5.0, 5, 0, &r), 0);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_int_eq(r.truncated, 0);
	fx_done(&f);
}
END_TEST

START_TEST(timeout_kills_group)
{
	struct fx f;
	struct res r;
	fx_init(&f);
	/* The grandchild's pid goes to a file we read after the kill (the
	 * output pipe would do, but prove it through another channel). */
	char tmpf[] = "/tmp/mamori-proc.XXXXXX";
	int fd = mkstemp(tmpf);
	ck_assert_int_ge(fd, 0);
	close(fd);
	char script[256];
	snprintf(script, sizeof script, "sleep 30 & echo $! > %s; sleep 30; echo never", tmpf);
	ev_now_update(f.loop);
	ck_assert_int_eq(run_sh(&f, script, 0.2, 0, 0, &r), 0);
	ck_assert_int_eq(r.timed_out, 1);
	ck_assert_int_eq(r.exited, 0);
	ck_assert_int_eq(r.status, -SIGKILL);
	ck_assert_msg(r.duration >= 0.19 && r.duration < 2.0, "duration %.3f", r.duration);
	ck_assert(strstr(r.out, "never") == NULL);
	FILE *pf = fopen(tmpf, "r");
	int gpid = 0;
	ck_assert_int_eq(fscanf(pf, "%d", &gpid), 1);
	fclose(pf);
	unlink(tmpf);
	ck_assert_int_gt(gpid, 1);
	/* The grandchild (reparented away from us) is dead or a zombie about
	 * to be reaped by its new parent: never still sleeping. */
	ev_now_update(f.loop);
	double end = ev_now(f.loop) + 2.0;
	char st = pid_state(gpid);
	while (st && st != 'Z' && ev_now(f.loop) < end) {
		pump_until(f.loop, NULL, 0, 0.01);
		st = pid_state(gpid);
	}
	ck_assert_msg(st == 0 || st == 'Z', "grandchild %d still in state %c", gpid, st);
	fx_done(&f);
}
END_TEST

START_TEST(grandchild_holding_pipe)
{
	struct fx f;
	struct res r;
	fx_init(&f);
	/* The shell exits at once; its background child keeps stdout open.
	 * The run must finish promptly anyway (group killed at exit). */
	ck_assert_int_eq(run_sh(&f, "sleep 20 & echo parent done; exit 4", 0, 0, 0, &r), 0);
	ck_assert_int_eq(r.exited, 1);
	ck_assert_int_eq(r.status, 4);
	ck_assert_str_eq(r.out, "parent done\n");
	ck_assert_msg(r.duration < 2.0, "took %.3fs", r.duration);
	fx_done(&f);
}
END_TEST

START_TEST(no_zombies)
{
	struct fx f;
	fx_init(&f);
	enum { N = 100 };
	static struct res rs[N];
	int done = 0;
	for (int i = 0; i < N; i++) {
		const char *argv[] = { i % 2 ? "/bin/true" : "/bin/false", NULL };
		struct mamori_spawn req = { .struct_size = sizeof req, .argv = argv };
		memset(&rs[i], 0, sizeof rs[i]);
		ck_assert_int_eq(proc_spawn(f.pc, &req, on_done, &rs[i], NULL), 0);
	}
	ck_assert_uint_le(proc_ctx_running(f.pc), N);
	ev_now_update(f.loop);
	double end = ev_now(f.loop) + 20;
	while (done < N && ev_now(f.loop) < end) {
		pump_until(f.loop, NULL, 0, 0.01);
		done = 0;
		for (int i = 0; i < N; i++)
			done += rs[i].calls;
	}
	ck_assert_int_eq(done, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rs[i].calls, 1);
		ck_assert_int_eq(rs[i].status, i % 2 ? 0 : 1);
	}
	ck_assert_uint_eq(proc_ctx_running(f.pc), 0);
	int z;
	ck_assert_int_eq(count_children(&z), 0);
	ck_assert_int_eq(z, 0);
	fx_done(&f);
}
END_TEST

START_TEST(kill_forgets_callback)
{
	struct fx f;
	struct res r = { 0 };
	fx_init(&f);
	const char *argv[] = { "/bin/sleep", "30", NULL };
	struct mamori_spawn req = { .struct_size = sizeof req, .argv = argv, .timeout = 60 };
	struct mamori_proc *p = NULL;
	ck_assert_int_eq(proc_spawn(f.pc, &req, on_done, &r, &p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(proc_ctx_running(f.pc), 1);
	proc_kill(p);
	ev_now_update(f.loop);
	double end = ev_now(f.loop) + 5;
	while (proc_ctx_running(f.pc) && ev_now(f.loop) < end)
		pump_until(f.loop, NULL, 0, 0.01);
	ck_assert_uint_eq(proc_ctx_running(f.pc), 0);
	pump_until(f.loop, NULL, 0, 0.05);
	ck_assert_int_eq(r.calls, 0);
	int z;
	ck_assert_int_eq(count_children(&z), 0);
	/* proc_ctx_free with children still running kills and reaps them. */
	const char *argv2[] = { "/bin/sleep", "30", NULL };
	struct mamori_spawn req2 = { .struct_size = sizeof req2, .argv = argv2 };
	ck_assert_int_eq(proc_spawn(f.pc, &req2, on_done, &r, NULL), 0);
	ck_assert_int_eq(proc_spawn(f.pc, &req2, on_done, &r, NULL), 0);
	fx_done(&f); /* asserts no children left */
	ck_assert_int_eq(r.calls, 0);
}
END_TEST

START_TEST(spawn_failure)
{
	struct fx f;
	struct res r = { 0 };
	fx_init(&f);
	const char *argv[] = { "/nonexistent/check_nothing", NULL };
	struct mamori_spawn req = { .struct_size = sizeof req, .argv = argv };
	struct mamori_proc *p = NULL;
	int rc = proc_spawn(f.pc, &req, on_done, &r, &p);
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(p);
	/* Not executable either. */
	const char *argv2[] = { "/etc/hostname", NULL };
	req.argv = argv2;
	ck_assert_int_lt(proc_spawn(f.pc, &req, on_done, &r, NULL), 0);
	/* Bad requests. */
	ck_assert_int_lt(proc_spawn(f.pc, NULL, on_done, &r, NULL), 0);
	const char *empty[] = { NULL };
	req.argv = empty;
	ck_assert_int_lt(proc_spawn(f.pc, &req, on_done, &r, NULL), 0);
	req.argv = argv;
	ck_assert_int_lt(proc_spawn(f.pc, &req, NULL, &r, NULL), 0);
	pump_until(f.loop, NULL, 0, 0.05);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_uint_eq(proc_ctx_running(f.pc), 0);
	fx_done(&f);
}
END_TEST

/* The child of no_inherited_fds: print the open descriptors ("0 1 2"),
 * leaving out the one that reads the directory. */
static int list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 1;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			printf(" %s", e->d_name);
	closedir(d);
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* " 0 1 2" from " 2 0 1": readdir's order is the kernel's. */
static void sort_fds(char *s, size_t len)
{
	int v[64], n = 0;
	for (char *t = strtok(s, " \n"); t && n < 64; t = strtok(NULL, " \n"))
		v[n++] = atoi(t);
	qsort(v, (size_t)n, sizeof *v, cmp_int);
	size_t off = 0;
	s[0] = '\0';
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(s + off, len - off, " %d", v[i]);
}

START_TEST(no_inherited_fds)
{
	struct fx f;
	struct res r = { 0 };
	fx_init(&f);
	/* What the daemon holds without close-on-exec: libmosquitto's socket
	 * and socket pair, say.  A high number too (closefrom, not a loop to
	 * some guessed limit). */
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	int pp[2];
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(pipe(pp), 0);
	int high = fcntl(pp[0], F_DUPFD, 900);
	ck_assert_int_ge(high, 900);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	const char *argv[] = { exe, "--list-fds", NULL };
	for (int with_stdin = 0; with_stdin < 2; with_stdin++) {
		struct mamori_spawn req = { .struct_size = sizeof req,
			                    .argv = argv,
			                    .merge_stderr = with_stdin,
			                    .stdin_data = with_stdin ? "x" : NULL,
			                    .stdin_len = with_stdin ? 1 : 0 };
		memset(&r, 0, sizeof r);
		ck_assert_int_eq(proc_spawn(f.pc, &req, on_done, &r, NULL), 0);
		ck_assert(pump_until(f.loop, &r.calls, 1, 10.0));
		ck_assert_int_eq(r.status, 0);
		sort_fds(r.out, sizeof r.out);
		ck_assert_str_eq(r.out, " 0 1 2");
	}
	close(sock);
	close(pp[0]);
	close(pp[1]);
	close(high);
	fx_done(&f);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--list-fds") == 0)
		return list_fds();
	Suite *s = suite_create("proc");
	TCase *tc = tcase_create("proc");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, capture_output_and_status);
	tcase_add_test(tc, stdin_data);
	tcase_add_test(tc, output_cap);
	tcase_add_test(tc, timeout_kills_group);
	tcase_add_test(tc, grandchild_holding_pipe);
	tcase_add_test(tc, no_zombies);
	tcase_add_test(tc, kill_forgets_callback);
	tcase_add_test(tc, spawn_failure);
	tcase_add_test(tc, no_inherited_fds);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
