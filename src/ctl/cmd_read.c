/*
 * cmd_read: mamorictl's reading commands - status, whoami, checks,
 * alerts, alert ID, sla - each one or more GETs of the API printed as a
 * table for people, or (--json) the server's JSON as it came.
 *
 * Lists follow the API's "next" cursor until --limit rows are shown
 * (pages of at most 1,000); with --json every page is printed as the
 * server sent it, one JSON document per line.
 * Must never: print a server string unescaped (table cells and
 * out_safe() escape), print a page twice.
 */
#include "ctl/ctl.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define ALERTS_DEFAULT 50
#define CHECKS_DEFAULT 1000

static const char *num(double v, char *buf, size_t n)
{
	snprintf(buf, n, "%.0f", v);
	return buf;
}

/* "label  value" with labels padded to one display width. */
static void kv(const char *label, const char *value)
{
	size_t w = out_width(label);
	fputs(label, stdout);
	for (size_t i = w; i < 14; i++)
		putchar(' ');
	printf("%s\n", value);
}

/* ---- pages ---- */

struct pages {
	cJSON **docs; /* every page, kept until the rows are printed */
	size_t n_docs;
	const cJSON **rows;
	size_t n_rows, cap;
	int more; /* stopped at the limit with more on the server */
};

static void pages_free(struct pages *p)
{
	for (size_t i = 0; i < p->n_docs; i++)
		cJSON_Delete(p->docs[i]);
	free(p->docs);
	free(p->rows);
	memset(p, 0, sizeof *p);
}

/* GET path (with its query) page after page into p, at most `want` rows
 * of the array `key`. */
static int fetch_pages(struct ctl *c, const char *path, const char *key, unsigned long want,
                       struct pages *p)
{
	char *cursor = NULL;
	int rc = EXIT_OK;
	unsigned long shown = 0;
	for (;;) {
		struct sb q = { 0 };
		sb_add(&q, path, strlen(path));
		char lim[32];
		unsigned long left = want - shown;
		snprintf(lim, sizeof lim, "%lu", left > CTL_PAGE_MAX ? CTL_PAGE_MAX : left);
		sb_query(&q, "limit", lim);
		sb_query(&q, "after", cursor);
		struct reply r;
		rc = ctl_call(c, "GET", q.p, NULL, &r);
		sb_free(&q);
		if (rc != EXIT_OK) {
			reply_free(&r);
			break;
		}
		if (c->json)
			reply_print_raw(&r);
		const cJSON *arr = jt(r.doc, key);
		if (!cJSON_IsArray(arr)) {
			fprintf(
			    stderr, "mamorictl: %s '%s'\n",
			    L("the server's answer has no list", "サーバの応答に一覧がありません:"),
			    key);
			reply_free(&r);
			rc = EXIT_FAIL;
			break;
		}
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			if (p->n_rows == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 64;
				p->rows = xrealloc(p->rows, p->cap * sizeof *p->rows);
			}
			p->rows[p->n_rows++] = it;
			shown++;
		}
		p->docs = xrealloc(p->docs, (p->n_docs + 1) * sizeof *p->docs);
		p->docs[p->n_docs++] = r.doc;
		r.doc = NULL;
		const char *next = js(p->docs[p->n_docs - 1], "next");
		reply_free(&r);
		free(cursor);
		cursor = NULL;
		if (!next || !*next || cJSON_GetArraySize(arr) == 0)
			break;
		if (shown >= want) {
			p->more = 1;
			break;
		}
		cursor = xstrdup(next);
	}
	free(cursor);
	return rc;
}

static void more_note(const struct pages *p, unsigned long want, const char *what)
{
	if (p->more)
		fprintf(stderr,
		        L("mamorictl: more %s than --limit %lu\n",
		          "mamorictl: %s は --limit %lu 件より多くあります\n"),
		        what, want);
}

/* ---- status, whoami ---- */

int cmd_status(struct ctl *c)
{
	struct reply r;
	int rc = ctl_call(c, "GET", "/api/v1/status", NULL, &r);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	const cJSON *d = r.doc, *ch = jt(d, "checks");
	char b[6][32];
	printf("mamorid %s: %s (%s %s, %s %s)\n", out_safe(js(d, "version")),
	       jb(d, "ready") ? L("ready", "稼働中") : L("NOT READY", "準備できていません"),
	       L("store", "ストア"), out_safe(js(d, "store")), L("broker", "ブローカ"),
	       out_safe(js(d, "broker")));
	printf(L("checks: %s (ok %s, warning %s, critical %s, unknown %s, pending %s)\n",
	         "チェック: %s 件 (OK %s, WARNING %s, CRITICAL %s, UNKNOWN %s, PENDING %s)\n"),
	       num(jn(ch, "total", 0), b[0], 32), num(jn(ch, "ok", 0), b[1], 32),
	       num(jn(ch, "warning", 0), b[2], 32), num(jn(ch, "critical", 0), b[3], 32),
	       num(jn(ch, "unknown", 0), b[4], 32), num(jn(ch, "pending", 0), b[5], 32));
	if (jt(d, "alerts_unresolved"))
		printf(L("unresolved alerts: %s\n", "未解決のアラート: %s 件\n"),
		       num(jn(d, "alerts_unresolved", 0), b[0], 32));
	const cJSON *obc = jt(d, "open_by_center"), *it;
	if (cJSON_GetArraySize(obc) > 0) {
		struct table t;
		table_init(&t, 3, L("CENTER", "センター"), L("TIER", "段階"), L("OPEN", "未解決"));
		cJSON_ArrayForEach(it, obc)
		{
			table_row(&t, js(it, "center"), js(it, "tier"),
			          num(jn(it, "open", 0), b[0], 32));
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	reply_free(&r);
	return EXIT_OK;
}

int cmd_whoami(struct ctl *c)
{
	struct reply r;
	int rc = ctl_call(c, "GET", "/api/v1/me", NULL, &r);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	kv(L("user", "ユーザ"), out_safe(js(r.doc, "user")));
	kv(L("role", "権限"), out_safe(js(r.doc, "role")));
	kv(L("auth", "認証"), out_safe(js(r.doc, "auth")));
	const cJSON *ce = jt(r.doc, "centers"), *it;
	if (cJSON_GetArraySize(ce) > 0) {
		struct sb s = { 0 };
		cJSON_ArrayForEach(it, ce)
		{
			if (cJSON_IsString(it))
				sb_addf(&s, "%s%s", s.n ? ", " : "", it->valuestring);
		}
		kv(L("centers", "センター"), out_safe(s.p));
		sb_free(&s);
	}
	if (js(r.doc, "customer"))
		kv(L("customer", "顧客"), out_safe(js(r.doc, "customer")));
	reply_free(&r);
	return EXIT_OK;
}

/* ---- checks ---- */

/* Problems first: critical, warning, unknown, pending, ok. */
static int state_rank(const char *s)
{
	static const char *const order[] = { "critical", "warning", "unknown", "pending", "ok" };
	for (int i = 0; s && i < (int)ARRAY_LEN(order); i++)
		if (strcmp(s, order[i]) == 0)
			return i;
	return 5;
}

struct ranked {
	const cJSON *x;
	size_t i; /* the server's order, for a stable sort */
};

static int by_state(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int d = state_rank(js(x->x, "state")) - state_rank(js(y->x, "state"));
	return d ? d : (x->i > y->i) - (x->i < y->i);
}

int cmd_checks(struct ctl *c, const char *filter)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/checks", 14);
	char *cust = NULL;
	const char *customer = c->o.customer, *asset = NULL;
	if (filter) {
		cust = xstrdup(filter);
		char *slash = strchr(cust, '/');
		if (slash) {
			*slash = '\0';
			asset = slash + 1;
		}
		customer = cust;
	}
	sb_query(&path, "customer", customer);
	sb_query(&path, "asset", asset && *asset ? asset : NULL);
	sb_query(&path, "service", c->o.service);
	sb_query(&path, "state", c->o.state);
	sb_query(&path, "problems", c->o.problems ? "true" : NULL);
	unsigned long want = c->o.limit ? c->o.limit : CHECKS_DEFAULT;
	struct pages p = { 0 };
	int rc = fetch_pages(c, path.p, "checks", want, &p);
	sb_free(&path);
	free(cust);
	if (rc == EXIT_OK && !c->json) {
		struct ranked *rk = xcalloc(p.n_rows + 1, sizeof *rk);
		for (size_t i = 0; i < p.n_rows; i++)
			rk[i] = (struct ranked){ p.rows[i], i };
		qsort(rk, p.n_rows, sizeof *rk, by_state);
		for (size_t i = 0; i < p.n_rows; i++)
			p.rows[i] = rk[i].x;
		free(rk);
		struct table t;
		table_init(&t, 7, L("STATE", "状態"), L("TYPE", "種別"), L("CHECK", "チェック"),
		           L("SERVICE", "サービス"), L("LAST CHECK", "最終チェック"),
		           L("FLAGS", "フラグ"), L("OUTPUT", "出力"));
		for (size_t i = 0; i < p.n_rows; i++) {
			const cJSON *x = p.rows[i];
			const char *st = js(x, "state");
			int pending = st && strcmp(st, "pending") == 0;
			char name[800], type[48], when[32], flags[160] = "";
			snprintf(name, sizeof name, "%s/%s/%s", js(x, "customer") ?: "-",
			         js(x, "asset") ?: "-", js(x, "check") ?: "-");
			const char *hs = js(x, "state_type");
			if (pending)
				snprintf(type, sizeof type, "-");
			else if (hs && strcmp(hs, "soft") == 0)
				snprintf(type, sizeof type, "SOFT %.0f/%.0f", jn(x, "attempt", 0),
				         jn(x, "max_attempts", 0));
			else
				snprintf(type, sizeof type, "%s", out_word(hs));
			static const struct {
				const char *key, *en, *ja;
			} fl[] = { { "acknowledged", "ack", "確認済" },
				   { "in_downtime", "downtime", "停止中" },
				   { "flapping", "flapping", "フラップ" },
				   { "stale", "stale", "古い" },
				   { "passive", "passive", "パッシブ" } };
			for (size_t k = 0; k < ARRAY_LEN(fl); k++)
				if (jb(x, fl[k].key))
					snprintf(flags + strlen(flags),
					         sizeof flags - strlen(flags), "%s%s",
					         *flags ? "," : "", L(fl[k].en, fl[k].ja));
			table_row(&t, out_word(st), type, name, js(x, "service"),
			          out_time(jt(x, "last_check"), when, sizeof when),
			          *flags ? flags : "-",
			          pending ? L("(no result yet)", "(結果なし)") : js(x, "output"));
		}
		if (p.n_rows)
			table_print(&t, stdout);
		else
			printf("%s\n", L("no checks match", "該当するチェックはありません"));
		table_free(&t);
		more_note(&p, want, L("checks", "チェック"));
	} else if (rc == EXIT_OK) {
		more_note(&p, want, L("checks", "チェック"));
	}
	pages_free(&p);
	return rc;
}

/* ---- alerts ---- */

static const char *alert_due(const cJSON *x, char *buf, size_t n)
{
	const char *st = js(x, "status");
	if (!st || strcmp(st, "resolved") == 0)
		return "-";
	int acked = strcmp(st, "acknowledged") == 0;
	const char *t = out_time(jt(x, acked ? "resolve_due" : "ack_due"), buf, n);
	if (jb(x, acked ? "resolve_breached" : "ack_breached") && strcmp(t, "-") != 0) {
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, " !");
	}
	return t;
}

int cmd_alerts(struct ctl *c)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/alerts", 14);
	sb_query(&path, "center", c->o.center);
	sb_query(&path, "customer", c->o.customer);
	sb_query(&path, "status", c->o.status);
	sb_query(&path, "severity", c->o.severity);
	sb_query(&path, "service", c->o.service);
	if (c->o.due_before) {
		double t;
		if (opt_time("--due-before", c->o.due_before, &t) != 0) {
			sb_free(&path);
			return EXIT_USAGE;
		}
		char v[32];
		snprintf(v, sizeof v, "%.0f", t);
		sb_query(&path, "due_before", v);
	}
	unsigned long want = c->o.limit ? c->o.limit : ALERTS_DEFAULT;
	struct pages p = { 0 };
	int rc = fetch_pages(c, path.p, "alerts", want, &p);
	sb_free(&path);
	if (rc == EXIT_OK && !c->json) {
		struct table t;
		table_init(&t, 8, "ID", L("STATUS", "状態"), L("SEVERITY", "重大度"),
		           L("CHECK", "チェック"), L("CENTER", "センター"), L("OPENED", "発生"),
		           L("DUE", "期限"), L("SUMMARY", "概要"));
		for (size_t i = 0; i < p.n_rows; i++) {
			const cJSON *x = p.rows[i];
			char name[800], opened[32], due[40];
			snprintf(name, sizeof name, "%s/%s/%s", js(x, "customer") ?: "-",
			         js(x, "asset") ?: "-", js(x, "check") ?: "-");
			table_row(&t, js(x, "id"), out_word(js(x, "status")),
			          out_word(js(x, "severity")), name, js(x, "center"),
			          out_time(jt(x, "opened_at"), opened, sizeof opened),
			          alert_due(x, due, sizeof due), js(x, "summary"));
		}
		if (p.n_rows)
			table_print(&t, stdout);
		else
			printf("%s\n", L("no alerts match", "該当するアラートはありません"));
		table_free(&t);
	}
	if (rc == EXIT_OK)
		more_note(&p, want, L("alerts", "アラート"));
	pages_free(&p);
	return rc;
}

/* ---- one alert ---- */

static void print_alert(const cJSON *a)
{
	char t1[32], t2[32];
	kv("ID", out_safe(js(a, "id")));
	char line[1024];
	const char *st = js(a, "status");
	if (js(a, "acked_by")) {
		snprintf(line, sizeof line, "%s (%s %s, %s)", out_word(st),
		         L("acknowledged by", "確認:"), out_safe(js(a, "acked_by")),
		         out_time(jt(a, "acked_at"), t1, sizeof t1));
		kv(L("status", "状態"), line);
	} else {
		kv(L("status", "状態"), out_word(st));
	}
	snprintf(line, sizeof line, "%s/%s/%s", out_safe(js(a, "customer")),
	         out_safe(js(a, "asset")), out_safe(js(a, "check")));
	kv(L("check", "チェック"), line);
	kv(L("service", "サービス"), out_safe(js(a, "service")));
	kv(L("severity", "重大度"), out_word(js(a, "severity")));
	kv(L("center", "センター"), out_safe(js(a, "center")));
	kv(L("tier", "段階"), out_safe(js(a, "tier")));
	kv(L("opened", "発生"), out_time(jt(a, "opened_at"), t1, sizeof t1));
	kv(L("updated", "更新"), out_time(jt(a, "updated_at"), t1, sizeof t1));
	if (cJSON_IsString(jt(a, "resolved_at")))
		kv(L("resolved", "解決"), out_time(jt(a, "resolved_at"), t1, sizeof t1));
	snprintf(t2, sizeof t2, "%.0f", jn(a, "count", 0));
	kv(L("count", "回数"), t2);
	kv(L("summary", "概要"), out_safe(js(a, "summary")));
	if (js(a, "runbook"))
		kv(L("runbook", "対応手順"), out_safe(js(a, "runbook")));
	if (jb(a, "paused")) {
		/* why the clock stopped (both may hold) */
		snprintf(line, sizeof line, "%s%s%s",
		         jb(a, "waiting") ? L("waiting for the customer", "お客様の返答待ち") : "",
		         jb(a, "waiting") && jb(a, "in_downtime") ? L(", ", "、") : "",
		         jb(a, "in_downtime") ? L("in downtime", "メンテナンス中") : "");
		kv(L("paused", "一時停止"), line[0] ? line : "-");
	}
	if (cJSON_IsString(jt(a, "ack_due")) || cJSON_IsString(jt(a, "resolve_due"))) {
		snprintf(line, sizeof line, "%s%s", out_time(jt(a, "ack_due"), t1, sizeof t1),
		         jb(a, "ack_breached") ? L(" (breached)", " (超過)") : "");
		kv(L("ack due", "確認期限"), line);
		snprintf(line, sizeof line, "%s%s%s", out_time(jt(a, "resolve_due"), t2, sizeof t2),
		         jb(a, "resolve_breached") ? L(" (breached)", " (超過)") : "",
		         jb(a, "paused") ? L(" (paused)", " (一時停止中)") : "");
		kv(L("resolve due", "解決期限"), line);
	}
}

int cmd_alert(struct ctl *c, const char *id)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/alerts", 14);
	sb_seg(&path, id);
	struct reply r;
	int rc = ctl_call(c, "GET", path.p, NULL, &r);
	sb_free(&path);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	print_alert(jt(r.doc, "alert"));
	const cJSON *it;
	char t1[32], t2[32], seq[24];
	printf("%s:\n", L("events", "イベント"));
	struct table t;
	table_init(&t, 5, "  #", L("TIME", "日時"), L("TYPE", "種類"), L("ACTOR", "実行者"),
	           L("NOTE", "メモ"));
	cJSON_ArrayForEach(it, jt(r.doc, "events"))
	{
		snprintf(seq, sizeof seq, "%4.0f", jn(it, "seq", 0));
		table_row(&t, seq, out_time(jt(it, "time"), t1, sizeof t1), js(it, "type"),
		          js(it, "actor"), js(it, "note") ? js(it, "note") : "");
	}
	table_print(&t, stdout);
	table_free(&t);
	if (cJSON_GetArraySize(jt(r.doc, "dispatches")) > 0) {
		printf("%s:\n", L("dispatches", "出動"));
		table_init(&t, 6, "  #", L("TIME", "日時"), L("ACTOR", "実行者"),
		           L("VENDOR", "業者"), L("PLANNED", "予定"), L("RESULT", "結果"));
		cJSON_ArrayForEach(it, jt(r.doc, "dispatches"))
		{
			snprintf(seq, sizeof seq, "%4.0f", jn(it, "seq", 0));
			table_row(&t, seq, out_time(jt(it, "time"), t1, sizeof t1), js(it, "actor"),
			          js(it, "vendor"), out_time(jt(it, "planned_at"), t2, sizeof t2),
			          js(it, "result"));
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	if (jb(r.doc, "truncated"))
		printf("%s\n", L("(the history is longer: the rest is not shown)",
		                 "(履歴はさらにありますが表示していません)"));
	reply_free(&r);
	return EXIT_OK;
}

/* ---- sla ---- */

static const char *duration(const cJSON *v, char *buf, size_t n)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return "-";
	long s = (long)(v->valuedouble + 0.5);
	if (s >= 3600)
		snprintf(buf, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, n, "%lds", s);
	return buf;
}

int cmd_sla(struct ctl *c)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/sla", 11);
	sb_query(&path, "center", c->o.center);
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
	char t1[32], t2[32], b[5][32];
	printf("%s: %s - %s\n", L("month", "今月"),
	       out_time(jt(r.doc, "month_start"), t1, sizeof t1),
	       out_time(jt(r.doc, "month_end"), t2, sizeof t2));
	struct table t;
	table_init(&t, 7, L("CENTER", "センター"), L("CUSTOMER", "顧客"), L("OPEN", "未解決"),
	           L("DUE <1H", "1時間以内期限"), L("BREACHED", "今月超過"), L("ACKED", "今月確認"),
	           L("MEDIAN ACK", "確認までの中央値"));
	const cJSON *it;
	cJSON_ArrayForEach(it, jt(r.doc, "rows"))
	{
		table_row(&t, js(it, "center"), js(it, "customer"),
		          num(jn(it, "open", 0), b[0], 32), num(jn(it, "due_1h", 0), b[1], 32),
		          num(jn(it, "breached_month", 0), b[2], 32),
		          num(jn(it, "acked_month", 0), b[3], 32),
		          duration(jt(it, "median_ack_seconds"), b[4], 32));
	}
	if (t.nrows > 1)
		table_print(&t, stdout);
	else
		printf("%s\n", L("no rows", "該当なし"));
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}
