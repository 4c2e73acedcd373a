/*
 * mamorid: process setup, signals, and the event loop.
 *
 *   mamorid -c FILE [-f]        run (-f: foreground, log to stderr)
 *   mamorid -c FILE --check-config
 *   mamorid --version
 *
 * Started as root, it becomes daemon.user (default "mamori") first of
 * all (src/server/privs.c).
 *
 * SIGHUP reloads the configuration (a bad file keeps the running one),
 * SIGTERM/SIGINT stop cleanly: in-flight checks are cancelled and every
 * check's state is saved.
 */
#include "buildcfg.h"
#include "plugin/isolate.h"
#include "server/server.h"
#include "util/log.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <mamori/plugin.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mamorid -c FILE [-f] [--check-config]\n"
	        "       mamorid --version\n"
	        "  -c, --config FILE    configuration file (default %s/mamori.conf)\n"
	        "  -f, --foreground     stay in the foreground and log to stderr\n"
	        "      --check-config   validate the configuration and exit 0 (valid) or 1\n"
	        "      --plugin-dir DIR override daemon.plugin_dir\n"
	        "      --data-dir DIR   override daemon.data_dir\n"
	        "  -V, --version        print the version and exit\n",
	        MAMORI_SYSCONFDIR);
}

static void on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_always("main", LOG_LVL_NOTICE, "signal %d: stopping", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct server *s = w->data;
	log_always("main", LOG_LVL_NOTICE, "SIGHUP: reloading configuration");
	server_reload(s);
}

static int daemonize(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

/* The soft descriptor limit up to the hard one (at most NOFILE_CAP): every
 * HTTP connection is a descriptor, and 1024 (the usual soft default outside
 * systemd's LimitNOFILE) would refuse the 1,025th.  Children (exec'd plugins,
 * plugin hosts) inherit the raised limit, as they do under LimitNOFILE. */
#define NOFILE_CAP (1024 * 1024)
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want =
	    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_CAP ? NOFILE_CAP : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_always("main", LOG_LVL_WARNING,
		           "cannot raise the descriptor limit from %llu: %s",
		           (unsigned long long)was, strerror(errno));
		return;
	}
	log_always("main", LOG_LVL_NOTICE,
	           "descriptor limit raised from %llu to %llu (the hard limit%s)",
	           (unsigned long long)was, (unsigned long long)want,
	           want == NOFILE_CAP ? ", capped" : "");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "config", required_argument, NULL, 'c' },
		                                  { "foreground", no_argument, NULL, 'f' },
		                                  { "check-config", no_argument, NULL, 'k' },
		                                  { "version", no_argument, NULL, 'V' },
		                                  { "plugin-dir", required_argument, NULL, 'p' },
		                                  { "data-dir", required_argument, NULL, 'd' },
		                                  { "help", no_argument, NULL, 'h' },
		                                  { NULL, 0, NULL, 0 } };
	struct server_opts opts = { .config_path = MAMORI_SYSCONFDIR "/mamori.conf" };
	int foreground = 0, check_only = 0, c;
	/* First, before anything can create a file: the database, its -wal
	 * and -shm (SQLite gives them the database's mode) hold every
	 * customer's alerts and notes; nothing we create is for others, and
	 * nothing is writable by the group.  Isolated plugin hosts inherit it. */
	umask(027);
	/* Hidden: mamorid started by itself as the host of an isolated plugin
	 * (`isolate = true`, src/plugin/isolate.c); not for people. */
	if (plughost_argv(argc, argv, &c))
		return c;
	while ((c = getopt_long(argc, argv, "c:fVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opts.config_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'k': check_only = 1; break;
		case 'p': opts.plugin_dir = optarg; break;
		case 'd': opts.data_dir = optarg; break;
		case 'V':
			printf("mamorid %s (plugin ABI %d.%d)\n", MAMORI_VERSION,
			       MAMORI_PLUGIN_ABI_MAJOR, MAMORI_PLUGIN_ABI_MINOR);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A file-size limit (ulimit -f) reached: EFBIG, which the store
	 * survives (the batch is kept and retried), not death by signal. */
	signal(SIGXFSZ, SIG_IGN);
	log_open("mamorid", 1, LOG_LVL_INFO);
	if (check_only) {
		log_set_level(LOG_LVL_WARNING);
		return server_check_config(&opts);
	}
	/* Root is given up before anything is opened, so the database,
	 * plugin hosts and exec'd plugins are the unprivileged user's. */
	char perr[1024];
	if (server_drop_privileges(opts.config_path, perr, sizeof perr) != 0) {
		log_always("main", LOG_LVL_ERR, "startup refused: %s", perr);
		return 1;
	}
	if (!foreground && daemonize() != 0) {
		perror("mamorid: cannot daemonize");
		return 1;
	}
	log_open("mamorid", foreground, LOG_LVL_INFO);
	raise_nofile();
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct server *s = server_new(loop, &opts);
	if (!s) {
		log_always("main", LOG_LVL_ERR, "startup refused (see the errors above)");
		return 1;
	}
	if (server_start(s) != 0) {
		server_free(s);
		return 1;
	}
	ev_signal sig_term, sig_int, sig_hup;
	ev_signal_init(&sig_term, on_term, SIGTERM);
	ev_signal_init(&sig_int, on_term, SIGINT);
	ev_signal_init(&sig_hup, on_hup, SIGHUP);
	sig_hup.data = s;
	ev_signal_start(loop, &sig_term);
	ev_signal_start(loop, &sig_int);
	ev_signal_start(loop, &sig_hup);
	log_always("main", LOG_LVL_NOTICE, "mamorid %s started (pid %d)", MAMORI_VERSION,
	           (int)getpid());
	ev_run(loop, 0);
	server_stop(s);
	server_free(s);
	log_always("main", LOG_LVL_NOTICE, "stopped");
	return 0;
}
