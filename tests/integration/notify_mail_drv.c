/*
 * notify_mail_drv: a mamorid core (server, journal, store, notify, the
 * real notifier plugins) that mails one document the way the monthly
 * report hands its PDF on (notify_mail), for tests/integration/
 * notify_report_mail.sh to read back from the real Postfix and Dovecot.
 *
 *   notify_mail_drv send CONF KEY FILE SECONDS TO...
 *       hand the document (FILE attached as application/pdf) to the
 *       outbox, run until every recipient's mail is sent or given up (or
 *       SECONDS pass), print "sent N failed N pending N", exit 0 when all
 *       were sent
 *   notify_mail_drv crash CONF KEY FILE SECONDS TO...
 *       the same, but after SECONDS end with _exit(3) whatever the state:
 *       what a kill -9 leaves (the store's batches are written as they
 *       come; nothing is flushed at the end)
 *   notify_mail_drv resume CONF SECONDS
 *       hand nothing: send what the store holds from an earlier run
 *
 * The configuration file is mamorid's (daemon.state_dir etc.).  Logs on
 * stderr at the config's level.  Never sends anything by itself.
 */
#include "notify/notify.h"
#include "server/server.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: %s send|crash CONF KEY FILE SECONDS TO... | resume CONF SECONDS\n",
		        argv[0]);
		return 2;
	}
	const char *mode = argv[1];
	int resume = strcmp(mode, "resume") == 0, crash = strcmp(mode, "crash") == 0;
	if (!resume && (argc < 7 || (!crash && strcmp(mode, "send") != 0))) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 2;
	}
	double seconds = atof(resume ? argv[3] : argv[5]);
	struct ev_loop *loop = ev_default_loop(0);
	struct server_opts o = { .config_path = argv[2], .no_spread = 1 };
	struct server *s = server_new(loop, &o);
	if (!s || server_start(s) != 0) {
		fprintf(stderr, "%s: the core did not start\n", argv[0]);
		return 1;
	}
	struct notify *n = server_notify(s);
	size_t want = 0;
	char *file = NULL;
	if (!resume) {
		size_t len = 0;
		file = slurp(argv[4], &len);
		if (!file) {
			fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[4]);
			return 1;
		}
		const char *name = strrchr(argv[4], '/') ? strrchr(argv[4], '/') + 1 : argv[4];
		struct notify_mail m = {
			.key = argv[3],
			.customer = "c1",
			.to = (const char *const *)argv + 6,
			.n_to = (size_t)(argc - 6),
			.subject = "月次セキュリティレポート 2026年5月 (株式会社サンプル製作所 様)",
			.text = "株式会社サンプル製作所 御中\n\n"
			        "2026年5月の監視レポートをお送りします。\n"
			        "重大なアラート: 2 件 (いずれも 30 分以内に対応)\n",
			.html = "<!DOCTYPE html><html lang=\"ja\"><meta charset=\"utf-8\">"
			        "<body><p>株式会社サンプル製作所 御中</p>"
			        "<p>2026年5月の監視レポートをお送りします。</p></body></html>\n",
			.attachment = file,
			.attachment_len = len,
			.attachment_name = name,
			.attachment_type = "application/pdf",
		};
		if (notify_mail(n, &m) != 0) {
			fprintf(stderr, "%s: notify_mail refused the document\n", argv[0]);
			return 1;
		}
		want = m.n_to;
	}
	ev_timer t;
	ev_timer_init(&t, tick, 0.05, 0.05);
	ev_timer_start(loop, &t);
	ev_now_update(loop);
	double end = ev_now(loop) + seconds;
	struct notify_stats st;
	for (;;) {
		ev_run(loop, EVRUN_ONCE);
		notify_get_stats(n, &st);
		if (ev_now(loop) >= end)
			break;
		if (!crash && (resume ? st.mails_pending == 0 && (st.mails_sent || st.mails_failed)
		                      : st.mails_sent + st.mails_failed >= want))
			break;
	}
	printf("sent %llu failed %llu pending %zu\n", (unsigned long long)st.mails_sent,
	       (unsigned long long)st.mails_failed, st.mails_pending);
	fflush(stdout);
	if (crash)
		_exit(3);
	ev_timer_stop(loop, &t);
	server_stop(s);
	server_free(s);
	free(file);
	return st.mails_pending == 0 && st.mails_failed == 0 && (st.mails_sent || !want) ? 0 : 1;
}
