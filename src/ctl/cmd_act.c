/*
 * cmd_act: mamorictl's changing commands - actions on an alert (ack,
 * unack, resolve, escalate, dispatch, wait, comment), downtimes (list,
 * add, del), users (list, add, passwd, del) and API tokens (list,
 * create, revoke) - each one request of the API.
 *
 * Passwords are read from the terminal without echo (twice for a new
 * one), or as lines of standard input when it is not a terminal; a new
 * token is shown once (or written to --out FILE, created 0600, never
 * replacing a file).
 * Must never: put a password on the command line or in a message; leave
 * the terminal without echo; print server strings unescaped.
 */
#include "ctl/ctl.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

/* The body as text; its strings (a password) wiped before it is freed. */
static char *body_text(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	if (!s)
		abort();
	return s;
}

static void wipe_tree(cJSON *o)
{
	for (cJSON *m = o ? o->child : NULL; m; m = m->next)
		if (cJSON_IsString(m) && m->valuestring)
			explicit_bzero(m->valuestring, strlen(m->valuestring));
}

static void body_free(cJSON *o, char *text)
{
	if (text) {
		explicit_bzero(text, strlen(text));
		cJSON_free(text);
	}
	wipe_tree(o);
	cJSON_Delete(o);
}

/* POST/DELETE path [body]: the answer printed (--json) or `done` with
 * the id the server names in `idkey`. */
static int change(struct ctl *c, const char *method, const char *path, cJSON *body,
                  const char *what, const char *idkey, const char *fallback_id)
{
	char *text = body ? body_text(body) : NULL;
	struct reply r;
	int rc = ctl_call(c, method, path, text, &r);
	body_free(body, text);
	if (rc == EXIT_OK && c->json) {
		reply_print_raw(&r);
	} else if (rc == EXIT_OK) {
		const char *id = js(r.doc, idkey) ? js(r.doc, idkey) : fallback_id;
		printf("%s %s: %s%s\n", what, out_safe(id), L("done", "完了"),
		       jb(r.doc, "repeated") ? L(" (repeated: this request id was done before)",
		                                 " (同じリクエスト ID で実行済み)")
		                             : "");
		if (js(r.doc, "message"))
			printf("  %s\n", out_safe(js(r.doc, "message")));
	}
	reply_free(&r);
	return rc;
}

/* ---- alerts ---- */

int cmd_act(struct ctl *c, const char *action, const char *id)
{
	cJSON *b = cJSON_CreateObject();
	if (c->o.note)
		cJSON_AddStringToObject(b, "note", c->o.note);
	if (c->o.request_id)
		cJSON_AddStringToObject(b, "request_id", c->o.request_id);
	if (strcmp(action, "dispatch") == 0) {
		if (c->o.vendor)
			cJSON_AddStringToObject(b, "vendor", c->o.vendor);
		if (c->o.result)
			cJSON_AddStringToObject(b, "result", c->o.result);
		if (c->o.planned_at) {
			double t;
			if (opt_time("--planned-at", c->o.planned_at, &t) != 0) {
				cJSON_Delete(b);
				return EXIT_USAGE;
			}
			cJSON_AddNumberToObject(b, "planned_at", t);
		}
	}
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/alerts", 14);
	sb_seg(&path, id);
	sb_seg(&path, action);
	int rc = change(c, "POST", path.p, b, action, "alert", id);
	sb_free(&path);
	return rc;
}

/* ---- downtimes ---- */

static int downtime_list(struct ctl *c)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/downtimes", 17);
	sb_query(&path, "customer", c->o.customer);
	struct reply r;
	int rc = ctl_call(c, "GET", path.p, NULL, &r);
	sb_free(&path);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	struct table t;
	table_init(&t, 8, "ID", L("TARGET", "対象"), L("START", "開始"), L("END", "終了"),
	           L("ACTIVE", "有効"), L("ORIGIN", "由来"), L("AUTHOR", "作成者"),
	           L("COMMENT", "コメント"));
	const cJSON *it;
	cJSON_ArrayForEach(it, jt(r.doc, "downtimes"))
	{
		char target[800], t1[32], t2[32];
		const char *a = js(it, "asset"), *k = js(it, "check");
		snprintf(target, sizeof target, "%s%s%s%s%s", js(it, "customer") ?: "-",
		         a ? "/" : "", a ?: "", k ? "/" : "", k ?: "");
		table_row(&t, js(it, "id"), target, out_time(jt(it, "start"), t1, sizeof t1),
		          out_time(jt(it, "end"), t2, sizeof t2),
		          jb(it, "active") ? L("yes", "はい") : L("no", "いいえ"),
		          out_word(js(it, "origin")), js(it, "author"), js(it, "comment"));
	}
	if (t.nrows > 1)
		table_print(&t, stdout);
	else
		printf("%s\n", L("no downtimes", "停止予定はありません"));
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}

/* downtime add CUSTOMER[/ASSET[/CHECK]] --end T --comment C [--start T] */
static int downtime_add(struct ctl *c, const char *target)
{
	double start = 0, end = 0;
	if ((c->o.start && opt_time("--start", c->o.start, &start) != 0) ||
	    opt_time("--end", c->o.end, &end) != 0)
		return EXIT_USAGE;
	char *t = xstrdup(target);
	char *asset = strchr(t, '/'), *check = NULL;
	if (asset) {
		*asset++ = '\0';
		if ((check = strchr(asset, '/')))
			*check++ = '\0';
	}
	if (!*t || (asset && !*asset) || (check && (!*check || strchr(check, '/')))) {
		fprintf(stderr, "mamorictl: '%s': %s\n", out_safe(target),
		        L("not CUSTOMER[/ASSET[/CHECK]]",
		          "CUSTOMER[/ASSET[/CHECK]] の形ではありません"));
		free(t);
		return EXIT_USAGE;
	}
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "customer", t);
	if (asset)
		cJSON_AddStringToObject(b, "asset", asset);
	if (check)
		cJSON_AddStringToObject(b, "check", check);
	if (c->o.start)
		cJSON_AddNumberToObject(b, "start", start);
	cJSON_AddNumberToObject(b, "end", end);
	cJSON_AddStringToObject(b, "comment", c->o.comment);
	if (c->o.request_id)
		cJSON_AddStringToObject(b, "request_id", c->o.request_id);
	free(t);
	return change(c, "POST", "/api/v1/downtimes", b, L("downtime", "停止予定"), "downtime",
	              NULL);
}

int cmd_downtime(struct ctl *c, const char *sub, const char *arg)
{
	if (strcmp(sub, "list") == 0)
		return downtime_list(c);
	if (strcmp(sub, "add") == 0)
		return downtime_add(c, arg);
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/downtimes", 17);
	sb_seg(&path, arg);
	int rc = change(c, "DELETE", path.p, NULL, L("downtime", "停止予定"), "downtime", arg);
	sb_free(&path);
	return rc;
}

/* ---- a manual inquiry ---- */

/* inquiry CUSTOMER[/ASSET] --summary TEXT ...: POST /api/v1/alerts */
int cmd_inquiry(struct ctl *c, const char *target)
{
	char cust[256], *asset = NULL;
	snprintf(cust, sizeof cust, "%s", target);
	char *slash = strchr(cust, '/');
	if (slash) {
		*slash = '\0';
		asset = slash + 1;
	}
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "customer", cust);
	if (asset && *asset)
		cJSON_AddStringToObject(b, "asset", asset);
	cJSON_AddStringToObject(b, "summary", c->o.summary);
	if (c->o.caller)
		cJSON_AddStringToObject(b, "caller", c->o.caller);
	if (c->o.channel)
		cJSON_AddStringToObject(b, "channel", c->o.channel);
	if (c->o.severity)
		cJSON_AddStringToObject(b, "severity", c->o.severity);
	if (c->o.service)
		cJSON_AddStringToObject(b, "service", c->o.service);
	if (c->o.request_id)
		cJSON_AddStringToObject(b, "request_id", c->o.request_id);
	return change(c, "POST", "/api/v1/alerts", b, L("inquiry", "問い合わせ"), "alert", NULL);
}

/* ---- passwords ---- */

static struct termios saved_tio;
static volatile sig_atomic_t echo_off;

static void restore_echo(int sig)
{
	if (echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line into buf: from the terminal without echo (prompt on stderr),
 * or from standard input.  0, or -1 with a message. */
static int read_secret(const char *prompt, char *buf, size_t n)
{
	int tty = isatty(STDIN_FILENO);
	if (tty) {
		fprintf(stderr, "%s: ", prompt);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
			struct termios t = saved_tio;
			t.c_lflag &= ~(tcflag_t)ECHO;
			signal(SIGINT, restore_echo);
			signal(SIGTERM, restore_echo);
			signal(SIGHUP, restore_echo);
			echo_off = 1;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		}
	}
	char *got = fgets(buf, (int)n, stdin);
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		echo_off = 0;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
	}
	if (tty)
		fputc('\n', stderr);
	size_t len = got ? strlen(buf) : 0;
	if (!got || (len == n - 1 && buf[len - 1] != '\n')) {
		explicit_bzero(buf, n);
		fprintf(stderr, "mamorictl: %s\n",
		        got ? L("the password is too long", "パスワードが長すぎます")
		            : L("no password given", "パスワードがありません"));
		return -1;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (!len) {
		fprintf(stderr, "mamorictl: %s\n", L("empty password", "パスワードが空です"));
		return -1;
	}
	return 0;
}

/* A new password: twice on a terminal, once from a pipe. */
static int read_new_password(char *buf, size_t n)
{
	if (read_secret(L("New password", "新しいパスワード"), buf, n) != 0)
		return -1;
	if (!isatty(STDIN_FILENO))
		return 0;
	char again[PASSWORD_MAX];
	int rc = read_secret(L("Again", "もう一度"), again, sizeof again);
	if (rc == 0 && strcmp(buf, again) != 0) {
		fprintf(stderr, "mamorictl: %s\n",
		        L("the passwords differ", "パスワードが一致しません"));
		rc = -1;
	}
	explicit_bzero(again, sizeof again);
	if (rc != 0)
		explicit_bzero(buf, n);
	return rc;
}

/* ---- users ---- */

static void add_scope(struct ctl *c, cJSON *b)
{
	if (c->o.role)
		cJSON_AddStringToObject(b, "role", c->o.role);
	if (c->o.n_centers) {
		cJSON *a = cJSON_AddArrayToObject(b, "centers");
		for (size_t i = 0; i < c->o.n_centers; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(c->o.centers[i]));
	}
	if (c->o.customer)
		cJSON_AddStringToObject(b, "customer", c->o.customer);
}

static const char *joined(const cJSON *arr, struct sb *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsString(it))
			sb_addf(s, "%s%s", s->n ? "," : "", it->valuestring);
	}
	return s->p;
}

/* GET path and print the array `key` with the columns of a user or a
 * token list: what the server sends, "-" for what it does not. */
static int list(struct ctl *c, const char *path, const char *key, int tokens)
{
	struct reply r;
	int rc = ctl_call(c, "GET", path, NULL, &r);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	struct table t;
	if (tokens)
		table_init(&t, 8, "ID", L("LABEL", "ラベル"), L("USER", "ユーザ"),
		           L("ROLE", "権限"), L("CENTERS", "センター"), L("CUSTOMER", "顧客"),
		           L("CREATED", "作成"), L("LAST USED", "最終使用"));
	else
		table_init(&t, 6, L("NAME", "名前"), L("ROLE", "権限"), L("CENTERS", "センター"),
		           L("CUSTOMER", "顧客"), L("CREATED", "作成"),
		           L("LAST LOGIN", "最終ログイン"));
	const cJSON *it;
	cJSON_ArrayForEach(it, jt(r.doc, key))
	{
		char t1[32], t2[32];
		struct sb ce = { 0 };
		const char *centers = joined(jt(it, "centers"), &ce);
		if (tokens)
			table_row(&t, js(it, "id"), js(it, "label"), js(it, "user"), js(it, "role"),
			          centers, js(it, "customer"),
			          out_time(jt(it, "created"), t1, sizeof t1),
			          out_time(jt(it, "last_used"), t2, sizeof t2));
		else
			table_row(&t, js(it, "name"), js(it, "role"), centers, js(it, "customer"),
			          out_time(jt(it, "created"), t1, sizeof t1),
			          out_time(jt(it, "last_login"), t2, sizeof t2));
		sb_free(&ce);
	}
	if (t.nrows > 1)
		table_print(&t, stdout);
	else
		printf("%s\n", tokens ? L("no tokens", "トークンはありません")
		                      : L("no users", "ユーザはいません"));
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}

int cmd_user(struct ctl *c, const char *sub, const char *name)
{
	if (strcmp(sub, "list") == 0)
		return list(c, "/api/v1/users", "users", 0);
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/users", 13);
	int rc;
	if (strcmp(sub, "del") == 0) {
		sb_seg(&path, name);
		rc = change(c, "DELETE", path.p, NULL, L("user", "ユーザ"), "name", name);
		sb_free(&path);
		return rc;
	}
	char pw[PASSWORD_MAX], old[PASSWORD_MAX];
	cJSON *b = cJSON_CreateObject();
	if (strcmp(sub, "add") == 0) {
		if (read_new_password(pw, sizeof pw) != 0) {
			rc = EXIT_FAIL;
			goto out;
		}
		cJSON_AddStringToObject(b, "name", name);
		add_scope(c, b);
		cJSON_AddStringToObject(b, "password", pw);
	} else { /* passwd */
		if (c->o.old &&
		    read_secret(L("Old password", "現在のパスワード"), old, sizeof old) != 0) {
			rc = EXIT_FAIL;
			goto out;
		}
		if (read_new_password(pw, sizeof pw) != 0) {
			rc = EXIT_FAIL;
			goto out;
		}
		cJSON_AddStringToObject(b, "password", pw);
		if (c->o.old)
			cJSON_AddStringToObject(b, "old_password", old);
		sb_seg(&path, name);
		sb_add(&path, "/password", 9);
	}
	rc = change(c, "POST", path.p, b, L("user", "ユーザ"), "name", name);
	b = NULL;
out:
	body_free(b, NULL);
	explicit_bzero(pw, sizeof pw);
	explicit_bzero(old, sizeof old);
	sb_free(&path);
	return rc;
}

/* ---- tokens ---- */

/* --out: a new file of mode 0600, made before the token exists (so a
 * name in the way costs no orphaned token), never over another file. */
static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		fprintf(stderr, "mamorictl: %s: %s\n", out_safe(path), strerror(errno));
	return fd;
}

static int write_token(int fd, const char *path, const char *tok)
{
	size_t n = strlen(tok);
	int ok = write(fd, tok, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	if (!ok) {
		fprintf(stderr, "mamorictl: %s: %s\n", out_safe(path), strerror(errno));
		return -1;
	}
	return 0;
}

static int token_create(struct ctl *c, const char *label)
{
	int fd = -1;
	if (c->o.out && (fd = open_out(c->o.out)) < 0)
		return EXIT_FAIL;
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "label", label);
	if (c->o.user)
		cJSON_AddStringToObject(b, "user", c->o.user);
	add_scope(c, b);
	char *text = body_text(b);
	struct reply r;
	int rc = ctl_call(c, "POST", "/api/v1/tokens", text, &r);
	body_free(b, text);
	const char *tok = rc == EXIT_OK ? js(r.doc, "token") : NULL;
	if (rc == EXIT_OK && (!tok || !*tok)) {
		fprintf(
		    stderr, "mamorictl: %s\n",
		    L("the server's answer has no token", "サーバの応答にトークンがありません"));
		rc = EXIT_FAIL;
	}
	if (rc == EXIT_OK && fd >= 0 && write_token(fd, c->o.out, tok) != 0)
		rc = EXIT_FAIL;
	if (fd >= 0 && close(fd) != 0 && rc == EXIT_OK) {
		fprintf(stderr, "mamorictl: %s: %s\n", out_safe(c->o.out), strerror(errno));
		rc = EXIT_FAIL;
	}
	if (fd >= 0 && rc != EXIT_OK)
		unlink(c->o.out);
	if (rc == EXIT_OK && c->json) {
		reply_print_raw(&r);
	} else if (rc == EXIT_OK && c->o.out) {
		printf(L("token %s created, written to %s\n",
		         "トークン %s を作成し、%s に書きました\n"),
		       out_safe(js(r.doc, "id")), out_safe(c->o.out));
	} else if (rc == EXIT_OK) {
		/* the token alone on stdout (for a pipe), the words on stderr */
		fprintf(stderr,
		        L("token %s created; it is shown only this once (--out FILE writes it to a "
		          "file instead):\n",
		          "トークン %s を作成しました。表示はこの一度だけです (--out FILE "
		          "でファイルに書けます):\n"),
		        out_safe(js(r.doc, "id")));
		printf("%s\n", out_safe(tok));
	}
	wipe_tree(r.doc);
	if (r.body.p)
		explicit_bzero(r.body.p, r.body.n);
	reply_free(&r);
	return rc;
}

int cmd_token(struct ctl *c, const char *sub, const char *arg)
{
	if (strcmp(sub, "list") == 0)
		return list(c, "/api/v1/tokens", "tokens", 1);
	if (strcmp(sub, "create") == 0)
		return token_create(c, arg);
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/tokens", 14);
	sb_seg(&path, arg);
	int rc = change(c, "DELETE", path.p, NULL, L("token", "トークン"), "id", arg);
	sb_free(&path);
	return rc;
}
