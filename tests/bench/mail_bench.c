/*
 * mail_bench: CPU per check of the mail_latency plugin, through the real
 * loader and host API on libev.
 *
 *   build/bench/mail_bench [checks=10000] [in_flight=8] [probes=1000]
 *
 *   queue   queue mode on a stand-in for `postqueue -j` (/bin/cat of three
 *           messages in its format): what mamori spends to spawn, read,
 *           parse and judge; the command's own CPU is printed apart
 *   ref     the same command spawned and reaped in a bare loop: this
 *           process's CPU per run (posix_spawn + waitpid, the floor any
 *           exec-style check pays) and the child's
 * When tests/integration/mailserver.sh can start Postfix + Dovecot (root):
 *   postqueue  queue mode on the real `postqueue -j` of that Postfix,
 *              checks/5 runs (it costs ~25 ms of CPU per listing)
 *   probe      probe mode, `probes` runs: SMTP STARTTLS + AUTH send,
 *              IMAP STARTTLS polls every 200 ms, delete (8 in flight)
 * Otherwise these two print "skipped" with the reason.
 * Exit 0, 1 (a run not OK or a failure).
 */
#include "plugbench.h"

#include <sys/stat.h>
#include <time.h>

#define MAILSERVER "tests/integration/mailserver.sh"

struct ms {
	char dir[64];
	char smtp[64], imap[64], ca[128], pw[128], postqueue[256];
	int up;
};

/* Three messages in postqueue -j's shape, the oldest 100 s old (OK at 1h). */
static int write_queue(const char *path)
{
	long now = (long)time(NULL);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(
	    f,
	    "{\"queue_name\": \"active\", \"queue_id\": \"A1\", \"arrival_time\": %ld, "
	    "\"message_size\": 2841, \"sender\": \"a@x.test\", \"recipients\": [{\"address\": "
	    "\"b@y.test\"}]}\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"B2\", \"arrival_time\": %ld, "
	    "\"message_size\": 918, \"sender\": \"a@x.test\", \"recipients\": [{\"address\": "
	    "\"c@y.test\", "
	    "\"delay_reason\": \"connect to mx.y.test[192.0.2.25]:25: Connection timed out\"}]}\n"
	    "{\"queue_name\": \"hold\", \"queue_id\": \"C3\", \"arrival_time\": %ld}\n",
	    now - 3, now - 100, now - 50);
	return fclose(f);
}

/* Parse mailserver.sh's KEY=VALUE lines. */
static void ms_read(struct ms *m, FILE *f)
{
	char line[600];
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');
		line[strcspn(line, "\n")] = '\0';
		if (!v)
			continue;
		*v++ = '\0';
		if (*v == '"') {
			v++;
			v[strcspn(v, "\"")] = '\0';
		}
		if (!strcmp(line, "MS_SMTP_PORT"))
			snprintf(m->smtp, sizeof(m->smtp), "smtp://127.0.0.1:%s", v);
		else if (!strcmp(line, "MS_IMAP_PORT"))
			snprintf(m->imap, sizeof(m->imap), "imap://127.0.0.1:%s", v);
		else if (!strcmp(line, "MS_CA"))
			snprintf(m->ca, sizeof(m->ca), "%s", v);
		else if (!strcmp(line, "MS_PASSWORD_FILE"))
			snprintf(m->pw, sizeof(m->pw), "%s", v);
		else if (!strcmp(line, "MS_POSTQUEUE"))
			snprintf(m->postqueue, sizeof(m->postqueue), "%s", v);
	}
}

static void ms_start(struct ms *m, const char *tmp)
{
	char cmd[512];
	FILE *f;
	snprintf(m->dir, sizeof(m->dir), "%s/ms", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && sh %s start %s 2>%s/ms.err", m->dir, MAILSERVER,
	         m->dir, tmp);
	f = popen(cmd, "r");
	if (!f)
		return;
	ms_read(m, f);
	m->up = pclose(f) == 0 && m->smtp[0] && m->imap[0] && m->postqueue[0];
	if (!m->up) {
		snprintf(cmd, sizeof(cmd), "sed 's/^/  /' %s/ms.err | tail -n 3 >&2", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "  (no log)\n");
	}
}

static void ms_stop(struct ms *m)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "sh %s stop %s >/dev/null 2>&1", MAILSERVER, m->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "mail_bench: mailserver stop failed\n");
}

/* The bare reference: spawn + reap `argv` n times; our CPU and the child's. */
static void reference(char *const argv[], long n)
{
	double c0 = bench_cpu(), k0 = pb_child_cpu();
	for (long i = 0; i < n; i++) {
		pid_t pid = pb_spawn(argv, NULL);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
			printf("%-22s FAILED\n", "ref spawn");
			return;
		}
	}
	printf("%-22s %ld runs: %.1f us CPU/run (bare posix_spawn+waitpid; the child: %.1f us)\n",
	       "ref spawn", n, (bench_cpu() - c0) * 1e6 / (double)n,
	       (pb_child_cpu() - k0) * 1e6 / (double)n);
}

/* Queue mode on `cmd`; also prints the children's CPU per check. */
static int queue(struct pb *b, const char *label, const char *cmd, long n, long conc)
{
	char conf[512];
	double k0 = pb_child_cpu();
	snprintf(conf, sizeof(conf),
	         "check = { mode = \"queue\"; queue_command = \"%s\"; warning = \"1h\"; critical = "
	         "\"2h\"; };",
	         cmd);
	if (pb_measure(b, label, conf, n, conc, MAMORI_OK, "127.0.0.1") < 0)
		return -1;
	printf("%-22s the command itself: %.1f us CPU/check (children, not mamori)\n", "",
	       (pb_child_cpu() - k0) * 1e6 / (double)n);
	return 0;
}

static int probe(struct pb *b, const struct ms *m, long n)
{
	char conf[1024];
	snprintf(
	    conf, sizeof(conf),
	    "check = { smtp = { url = \"%s\"; user = \"probe\"; password_file = \"%s\";"
	    " from = \"bench@mamori.test\"; to = \"probe@probe.test\"; ca_file = \"%s\"; };"
	    " imap = { url = \"%s\"; user = \"probe\"; password_file = \"%s\"; ca_file = \"%s\"; };"
	    " poll_interval = \"200ms\"; warning = \"5s\"; critical = \"8s\"; lost_after = "
	    "\"10s\"; };",
	    m->smtp, m->pw, m->ca, m->imap, m->pw, m->ca);
	/* 8 in flight: Dovecot refuses more than 10 IMAP logins per user and
	 * IP (mail_max_userip_connections), which the plugin reports as a
	 * login failure */
	return pb_measure(b, "mail probe", conf, n, 8, MAMORI_OK, "127.0.0.1") < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000, conc = argc > 2 ? atol(argv[2]) : 8;
	long probes = argc > 3 ? atol(argv[3]) : 1000;
	const char *so =
	    getenv("MAIL_LATENCY_SO") ? getenv("MAIL_LATENCY_SO") : "build/plugins/mail_latency.so";
	char tmp[64] = "/tmp/mamori-mail-bench.XXXXXX", json[128], cmd[200];
	struct ms m = { 0 };
	struct pb b = { 0 };
	int rc = 1;

	if (n < 1 || conc < 1 || probes < 0 || !mkdtemp(tmp))
		return 2;
	snprintf(json, sizeof(json), "%s/queue.json", tmp);
	snprintf(cmd, sizeof(cmd), "/bin/cat %s", json);
	/* postfix's daemons (unprivileged users) must reach the mail servers' dir */
	if (chmod(tmp, 0755) != 0 || write_queue(json) != 0 || pb_open(&b, so) != 0)
		goto out;
	if (queue(&b, "mail queue (cat)", cmd, n, conc) != 0)
		goto out;
	reference((char *[]){ "/bin/cat", json, NULL }, n / 10 > 0 ? n / 10 : 1);
	if (geteuid() != 0 || access("/usr/sbin/postfix", X_OK) ||
	    access("/usr/sbin/dovecot", X_OK)) {
		printf("%-22s skipped: needs root, postfix and dovecot (Debian: postfix "
		       "dovecot-imapd dovecot-lmtpd)\n",
		       "mail postqueue/probe");
		rc = 0;
		goto out;
	}
	ms_start(&m, tmp);
	if (!m.up) {
		printf("%-22s skipped: the mail servers did not start\n", "mail postqueue/probe");
		rc = 0;
		goto out;
	}
	if (queue(&b, "mail queue (postqueue)", m.postqueue, n / 5 > 0 ? n / 5 : 1, conc) != 0)
		goto out;
	if (probes > 0 && probe(&b, &m, probes) != 0)
		goto out;
	rc = 0;
out:
	pb_close(&b);
	if (m.dir[0])
		ms_stop(&m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "mail_bench: could not remove %s\n", tmp);
	return rc;
}
