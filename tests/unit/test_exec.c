/*
 * Tests of the exec plugin through the real loader, host and process
 * spawner (tests/lib/plugtest.h) on a real libev loop.  Scripts are written
 * into a fresh temporary directory per test.  Waiting is done by pumping
 * the loop, never with sleep().
 */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/plugtest.h"

#define SO_DEFAULT "build/plugins/exec.so"
#define DUMMY      "/usr/lib/nagios/plugins/check_dummy"

struct fx {
	char dir[64];
	struct plugtest *pt;
	struct plugtest_result r;
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mamori-test-exec.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	/* $B selects another build tree (e.g. a sanitizer build), as in lib.sh */
	const char *b = getenv("B");
	char so[256];
	if (b && *b)
		snprintf(so, sizeof(so), "%s/plugins/exec.so", b);
	else
		snprintf(so, sizeof(so), "%s", SO_DEFAULT);
	f->pt = plugtest_new(so, NULL);
	ck_assert_msg(f->pt != NULL, "load %s: %s", so, plugtest_last_error());
	return f;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fx_free(struct fx *f)
{
	plugtest_free(f->pt);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
}

/* Write an executable /bin/sh script; returns its path (static buffer in f
 * is not enough for several, so the caller passes one). */
static void script(struct fx *f, const char *name, const char *body, char *path, size_t size)
{
	FILE *fp;
	snprintf(path, size, "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, 0755), 0);
}

/* Prepare `command = "<cmd>"` (cmd already escaped for libconfig) plus
 * extra keys; asserts success. */
static void prepare(struct fx *f, const char *cmd, const char *extra)
{
	char conf[4096];
	snprintf(conf, sizeof(conf), "command = \"%s\";\n%s", cmd, extra ? extra : "");
	ck_assert_msg(plugtest_prepare(f->pt, conf, "127.0.0.1") == 0, "prepare '%s': %s", conf,
	              plugtest_error(f->pt));
}

static void run(struct fx *f)
{
	ck_assert_int_eq(plugtest_run(f->pt, 10.0, &f->r), 0);
	ck_assert_int_eq(f->r.completions, 1);
}

START_TEST(dummy_states)
{
	static const char *want[] = { "OK: all good 0", "WARNING: all good 1",
		                      "CRITICAL: all good 2", "UNKNOWN: all good 3" };
	struct fx *f = fx_new();
	int s;
	if (access(DUMMY, X_OK) != 0) {
		fx_free(f);
		return; /* monitoring-plugins-basic missing: nothing to test here */
	}
	for (s = 0; s <= 3; s++) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), DUMMY " %d 'all good %d'", s, s);
		prepare(f, cmd, NULL);
		run(f);
		ck_assert_int_eq(f->r.state, s);
		ck_assert_str_eq(f->r.output, want[s]);
		ck_assert_str_eq(f->r.long_output, "");
	}
	fx_free(f);
}
END_TEST

START_TEST(perfdata_script)
{
	struct fx *f = fx_new();
	char path[128];
	script(f, "disk.sh",
	       "echo \"DISK WARNING - / 84% | /=840MB;800;900;0;1000 'in use'=84%\"\n"
	       "echo '/boot 10%'\n"
	       "echo \"/home 5% | /boot=10MB;;;0;100\"\n"
	       "echo \"time=0.25s;1;2\"\n"
	       "echo 'on stderr' >&2\n"
	       "exit 1",
	       path, sizeof(path));
	prepare(f, path, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_WARNING);
	ck_assert_str_eq(f->r.output, "DISK WARNING - / 84%");
	ck_assert_ptr_nonnull(strstr(f->r.long_output, "/boot 10%\n/home 5%"));
	ck_assert_str_eq(f->r.perf,
	                 "/=840MB;800;900;0;1000 'in use'=84% /boot=10MB;;;0;100 time=0.25s;1;2");
	fx_free(f);
}
END_TEST

START_TEST(bad_exit_codes)
{
	struct fx *f = fx_new();
	char p4[128], p127[128], psig[128], pnone[128];
	script(f, "four.sh", "echo 'strange thing'; exit 4", p4, sizeof(p4));
	script(f, "nf.sh", "exit 127", p127, sizeof(p127));
	script(f, "sig.sh", "echo dying; kill -TERM $$", psig, sizeof(psig));
	script(f, "none.sh", "exit 2", pnone, sizeof(pnone));

	prepare(f, p4, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_UNKNOWN);
	ck_assert_str_eq(f->r.output, "exit code 4: strange thing");

	prepare(f, p127, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strncmp(f->r.output, "exit code 127", 13) == 0, "%s", f->r.output);

	prepare(f, psig, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strncmp(f->r.output, "killed by signal 15", 19) == 0, "%s", f->r.output);
	ck_assert_ptr_nonnull(strstr(f->r.output, ": dying"));

	prepare(f, pnone, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_CRITICAL);
	ck_assert_str_eq(f->r.output, "(no output)");
	fx_free(f);
}
END_TEST

/* 1 when the process is gone (or a zombie nobody reaped: it is dead, and
 * in a container PID 1 may not reap orphans). */
static int proc_dead(pid_t pid)
{
	char path[64], buf[512];
	FILE *fp;
	char *rp;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(fp = fopen(path, "r")))
		return 1;
	buf[0] = '\0';
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = '\0';
	fclose(fp);
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static pid_t read_pid(const char *path)
{
	FILE *fp = fopen(path, "r");
	int pid = 0;
	ck_assert_msg(fp != NULL, "%s not written", path);
	ck_assert_int_eq(fscanf(fp, "%d", &pid), 1);
	fclose(fp);
	ck_assert_int_gt(pid, 1);
	return (pid_t)pid;
}

static int wait_dead(struct fx *f, pid_t pid)
{
	int i;
	for (i = 0; i < 100 && !proc_dead(pid); i++)
		plugtest_pump(f->pt, 0.02);
	return proc_dead(pid);
}

START_TEST(timeout_kills_group)
{
	struct fx *f = fx_new();
	char path[128], body[512], pidfile[128];
	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", f->dir);
	snprintf(body, sizeof(body), "sleep 60 &\necho $! > %s\necho started\nwait", pidfile);
	script(f, "slow.sh", body, path, sizeof(path));
	prepare(f, path, "timeout = \"500ms\";");
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strncmp(f->r.output, "timed out after 0.5s", 20) == 0, "%s", f->r.output);
	ck_assert(f->r.duration >= 0.45 && f->r.duration < 5);
	pid_t child = read_pid(pidfile);
	ck_assert_msg(wait_dead(f, child), "grandchild %d survived the timeout", (int)child);
	fx_free(f);
}
END_TEST

START_TEST(cancel_no_completion)
{
	struct fx *f = fx_new();
	char path[128], body[512], pidfile[128];
	snprintf(pidfile, sizeof(pidfile), "%s/self.pid", f->dir);
	snprintf(body, sizeof(body), "echo $$ > %s\nsleep 1\necho done", pidfile);
	script(f, "late.sh", body, path, sizeof(path));
	prepare(f, path, NULL);
	/* cancelled while running: no completion, even after it would finish */
	ck_assert_int_eq(plugtest_run_cancel(f->pt, 0.3, 1.5), 0);
	ck_assert_msg(wait_dead(f, read_pid(pidfile)), "cancelled plugin still running");
	/* cancelled at once */
	ck_assert_int_eq(plugtest_run_cancel(f->pt, 0, 1.2), 0);
	/* and a normal run afterwards still works */
	run(f);
	ck_assert_str_eq(f->r.output, "done");
	fx_free(f);
}
END_TEST

START_TEST(quoting_and_macros)
{
	struct fx *f = fx_new();
	char path[128], cmd[1024];
	script(f, "args.sh", "for a in \"$@\"; do printf '[%s]' \"$a\"; done; echo", path,
	       sizeof(path));
	/* The command as libconfig text: \" and \\\\ are libconfig escapes. */
	snprintf(
	    cmd, sizeof(cmd),
	    "%s 'a b' \\\"c\\\\\\\"d\\\" e\\\\ f $HOSTADDRESS$ '$HOSTNAME$' \\\"$SERVICEDESC$\\\" "
	    "$CUSTOMER$ \\\"$CUSTOMERNAME$\\\" x$REGION$y $$HOME 'p;q&r' '' \\\\$ "
	    "\\\"\\\\$\\\"",
	    path);
	prepare(f, cmd, NULL);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_OK);
	ck_assert_str_eq(f->r.output, "[a b][c\"d][e f][127.0.0.1][asset-1][exec][c0001]"
	                              "[Test Customer][xtesty][$HOME][p;q&r][][$][$]");
	fx_free(f);
}
END_TEST

START_TEST(environment_and_limits)
{
	struct fx *f = fx_new();
	char path[128];
	script(f, "env.sh", "echo \"FOO=$FOO PATH=${PATH:+set} LC_ALL=$LC_ALL\"", path,
	       sizeof(path));
	prepare(f, path, "env = [ \"FOO=bar baz\", \"LC_ALL=C\" ];");
	run(f);
	ck_assert_str_eq(f->r.output, "FOO=bar baz PATH=set LC_ALL=C");

	script(f, "big.sh",
	       "i=0; while [ $i -lt 200 ]; do echo 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'; "
	       "i=$((i+1)); done",
	       path, sizeof(path));
	prepare(f, path, "max_output = 100;");
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_OK);
	ck_assert_uint_le(strlen(f->r.output) + strlen(f->r.long_output), 100);
	fx_free(f);
}
END_TEST

START_TEST(spawn_failure)
{
	/* The program exists at prepare time and is gone at run time. */
	struct fx *f = fx_new();
	char path[128];
	script(f, "gone.sh", "echo hi", path, sizeof(path));
	prepare(f, path, NULL);
	ck_assert_int_eq(unlink(path), 0);
	run(f);
	ck_assert_int_eq(f->r.state, MAMORI_UNKNOWN);
	ck_assert_msg(strstr(f->r.output, "cannot run") && strstr(f->r.output, "gone.sh") &&
	                  strstr(f->r.output, "No such file"),
	              "%s", f->r.output);
	fx_free(f);
}
END_TEST

/* Each bad config and a piece of the message it must produce. */
static const struct {
	const char *conf;
	const char *msg;
} bad_confs[] = {
	{ "command = \"/bin/true 'abc\";", "unbalanced single quote" },
	{ "command = \"/bin/true \\\"abc\";", "unbalanced double quote" },
	{ "command = \"/bin/true | grep x\";", "'|' is shell syntax" },
	{ "command = \"/bin/true; /bin/false\";", "';' is shell syntax" },
	{ "command = \"/bin/true > /tmp/x\";", "'>' is shell syntax" },
	{ "command = \"/bin/true && x\";", "'&' is shell syntax" },
	{ "command = \"/bin/true `id`\";", "'`' is shell syntax" },
	{ "command = \"/bin/true $(id)\";", "'$(' is shell syntax" },
	{ "command = \"/bin/true $FOO$\";", "unknown macro $FOO$" },
	{ "command = \"/bin/true $HOME\";", "'$HOME' is not a macro" },
	{ "command = \"/bin/true $\";", "is not a macro" },
	{ "command = \"/bin/true \\\\\";", "backslash at the end" },
	{ "command = \"/nonexistent/check_x -H $HOSTADDRESS$\";",
	  "/nonexistent/check_x: No such file" },
	{ "command = \"check_dummy 0\";", "'check_dummy' is not an absolute path" },
	{ "command = \"/tmp\";", "/tmp: not a regular file" },
	{ "command = \"   \";", "empty command" },
	{ "command = \"$HOSTNAME$/x\";", "cannot contain macros" },
	{ "command = \"/bin/true\"; max_output = 0;", "max_output" },
	{ "command = \"/bin/true\"; env = [ \"1X=y\" ];", "not NAME=value" },
	{ "command = \"/bin/true\"; env = [ \"NOEQUALS\" ];", "not NAME=value" },
	{ "", "command" },
};

START_TEST(config_errors)
{
	struct fx *f = fx_new();
	size_t i;
	for (i = 0; i < sizeof(bad_confs) / sizeof(bad_confs[0]); i++) {
		int rc = plugtest_prepare(f->pt, bad_confs[i].conf, "127.0.0.1");
		const char *err = plugtest_error(f->pt);
		ck_assert_msg(rc != 0, "accepted: %s", bad_confs[i].conf);
		ck_assert_msg(err && strstr(err, bad_confs[i].msg), "%s -> '%s', expected '%s'",
		              bad_confs[i].conf, err ? err : "(null)", bad_confs[i].msg);
	}
	/* a plain file without any execute bit (root passes access() otherwise) */
	char path[128], conf[256];
	script(f, "noexec.sh", "echo hi", path, sizeof(path));
	ck_assert_int_eq(chmod(path, 0644), 0);
	snprintf(conf, sizeof(conf), "command = \"%s\";", path);
	ck_assert_int_ne(plugtest_prepare(f->pt, conf, ""), 0);
	ck_assert_msg(strstr(plugtest_error(f->pt), "noexec.sh: not executable"), "%s",
	              plugtest_error(f->pt));
	/* quoted metacharacters are fine: they reach the program as text */
	ck_assert_int_eq(plugtest_prepare(f->pt, "command = \"/bin/true 'a|b' \\\"x;y\\\"\";", ""),
	                 0);
	fx_free(f);
}
END_TEST

int main(void)
{
	/* not static: START_TEST's pointers are not constant expressions */
	const struct {
		const char *name;
		const TTest *fn;
	} tests[] = {
		{ "dummy_states", dummy_states },
		{ "perfdata_script", perfdata_script },
		{ "bad_exit_codes", bad_exit_codes },
		{ "timeout_kills_group", timeout_kills_group },
		{ "cancel_no_completion", cancel_no_completion },
		{ "quoting_and_macros", quoting_and_macros },
		{ "environment_and_limits", environment_and_limits },
		{ "spawn_failure", spawn_failure },
		{ "config_errors", config_errors },
	};
	Suite *s = suite_create("exec");
	SRunner *sr;
	size_t i;
	int failed;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		TCase *tc = tcase_create(tests[i].name);
		tcase_set_timeout(tc, 30);
		tcase_add_test(tc, tests[i].fn);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
