/*
 * cmd_report: `mamorictl report --customer ID --month YYYY-MM [--lang ja|en]
 * [--format html|pdf] [-o FILE]` - a customer's monthly report, fetched
 * from GET /api/v1/customers/{id}/report (mamorid makes it) and written
 * to FILE or to stdout.  With --send: the month's report mailed to the
 * customer's report.email again (POST .../report/send; a customer lost
 * the mail), the answer printed.
 *
 * Must never: write a PDF to a terminal (binary bytes drive it), or
 * leave a half-written FILE (written to FILE.tmp, then renamed).
 */
#include "ctl/ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int save(const char *path, const char *p, size_t n)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		fprintf(stderr, "mamorictl: %s\n",
		        L("the file name is too long", "ファイル名が長すぎます"));
		return EXIT_FAIL;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0 || write_all(fd, p, n) != 0 || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		int e = errno;
		if (fd >= 0)
			unlink(tmp);
		fprintf(stderr, "mamorictl: %s: %s\n", out_safe(path), strerror(e));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int send_again(struct ctl *c)
{
	const struct opts *o = &c->o;
	if (o->format || o->out) {
		fprintf(
		    stderr, "mamorictl: %s\n",
		    L("report --send takes neither --format nor -o (it mails the PDF)",
		      "report --send には --format も -o も指定できません (PDF をメールします)"));
		return EXIT_USAGE;
	}
	cJSON *b = cJSON_CreateObject();
	if (!b || !cJSON_AddStringToObject(b, "month", o->month) ||
	    (o->lang && !cJSON_AddStringToObject(b, "lang", o->lang)))
		abort();
	char *text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	if (!text)
		abort();
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/customers", 17);
	sb_seg(&path, o->customer);
	sb_add(&path, "/report/send", 12);
	struct reply r;
	int rc = ctl_call(c, "POST", path.p, text, &r);
	cJSON_free(text);
	sb_free(&path);
	if (rc == EXIT_OK && c->json)
		reply_print_raw(&r);
	else if (rc == EXIT_OK)
		printf("%s %s %s: %s (%s %.0f, PDF %.0f bytes)\n", L("report", "レポート"),
		       out_safe(js(r.doc, "customer")), out_safe(js(r.doc, "month")),
		       L("queued for sending again", "再送を受け付けました"),
		       L("addresses", "宛先"), jn(r.doc, "recipients", 0), jn(r.doc, "bytes", 0));
	reply_free(&r);
	return rc;
}

int cmd_report(struct ctl *c)
{
	const struct opts *o = &c->o;
	if (o->send)
		return send_again(c);
	int pdf = o->format && strcmp(o->format, "pdf") == 0;
	if (!o->out && pdf && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "mamorictl: %s\n",
		        L("a PDF is not written to a terminal: use -o FILE or a redirection",
		          "PDF は端末に出力しません: -o FILE かリダイレクトを使ってください"));
		return EXIT_USAGE;
	}
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/customers", 17);
	sb_seg(&path, o->customer);
	sb_add(&path, "/report", 7);
	sb_query(&path, "month", o->month);
	sb_query(&path, "lang", o->lang);
	sb_query(&path, "format", o->format);
	struct reply r;
	c->raw = 1;
	int rc = ctl_call(c, "GET", path.p, NULL, &r);
	c->raw = 0;
	sb_free(&path);
	if (rc == EXIT_OK) {
		if (o->out) {
			rc = save(o->out, r.body.p, r.body.n);
			if (rc == EXIT_OK)
				fprintf(stderr, "mamorictl: %s %s (%zu bytes)\n",
				        L("wrote", "書き出しました:"), out_safe(o->out), r.body.n);
		} else if (write_all(STDOUT_FILENO, r.body.p ? r.body.p : "", r.body.n) != 0) {
			fprintf(stderr, "mamorictl: stdout: %s\n", strerror(errno));
			rc = EXIT_FAIL;
		}
	}
	reply_free(&r);
	return rc;
}
