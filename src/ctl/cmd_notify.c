/*
 * cmd_notify: mamorictl's on-call commands - `oncall [--at TIME]
 * [--center C]` (who is on call per schedule, and until when) and
 * `notifications ID` (an alert's notifications and every attempt to
 * deliver them).  Tables for people, the server's JSON with --json.
 * Must never: print a server string unescaped (table cells escape).
 */
#include "ctl/ctl.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_oncall(struct ctl *c)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/oncall", 14);
	char at[32];
	if (c->o.at) {
		double t = 0;
		if (opt_time("--at", c->o.at, &t) != 0) {
			sb_free(&path);
			return EXIT_USAGE;
		}
		snprintf(at, sizeof at, "%.0f", t);
		sb_query(&path, "at", at);
	}
	sb_query(&path, "center", c->o.center);
	struct reply r;
	int rc = ctl_call(c, "GET", path.p, NULL, &r);
	sb_free(&path);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	char t1[32], t2[32];
	printf("%s: %s\n", L("on call at", "当番の時刻"), out_time(jt(r.doc, "at"), t1, sizeof t1));
	struct table t;
	table_init(&t, 5, L("CENTER", "センター"), L("TIER", "段階"), L("ON CALL", "当番"),
	           L("FROM", "根拠"), L("UNTIL", "交代"));
	const cJSON *it;
	cJSON_ArrayForEach(it, jt(r.doc, "schedules"))
	{
		const char *tier = js(it, "tier") ? js(it, "tier") : L("(all)", "(全段階)");
		const cJSON *on = jt(it, "on_call");
		const char *until = out_time(jt(it, "until"), t2, sizeof t2);
		if (cJSON_GetArraySize(on) == 0) {
			table_row(&t, js(it, "center"), tier, L("(nobody)", "(不在)"), "-", until);
			continue;
		}
		const cJSON *p;
		cJSON_ArrayForEach(p, on)
		{
			table_row(&t, js(it, "center"), tier, js(p, "contact"), js(p, "source"),
			          until);
		}
	}
	if (t.nrows > 1)
		table_print(&t, stdout);
	else
		printf("%s\n", L("no on-call schedules", "当番表がありません"));
	table_free(&t);
	reply_free(&r);
	return EXIT_OK;
}

int cmd_notifications(struct ctl *c, const char *id)
{
	struct sb path = { 0 };
	sb_add(&path, "/api/v1/alerts", 14);
	sb_seg(&path, id);
	sb_add(&path, "/notifications", 14);
	struct reply r;
	int rc = ctl_call(c, "GET", path.p, NULL, &r);
	sb_free(&path);
	if (rc != EXIT_OK || c->json) {
		if (rc == EXIT_OK)
			reply_print_raw(&r);
		reply_free(&r);
		return rc;
	}
	char t1[32], n[24];
	struct table t;
	table_init(&t, 6, L("EVENT", "イベント"), L("CONTACT", "連絡先"), L("CHANNEL", "手段"),
	           L("STATUS", "状態"), L("TRIES", "試行"), L("LAST ERROR", "直近のエラー"));
	const cJSON *it;
	cJSON_ArrayForEach(it, jt(r.doc, "notifications"))
	{
		snprintf(n, sizeof n, "%.0f", jn(it, "attempts", 0));
		table_row(&t, js(it, "event"), js(it, "contact"), js(it, "channel"),
		          js(it, "status"), n, js(it, "error") ? js(it, "error") : "");
	}
	if (t.nrows > 1)
		table_print(&t, stdout);
	else
		printf("%s\n", L("no notifications", "通知はありません"));
	table_free(&t);
	if (cJSON_GetArraySize(jt(r.doc, "attempts")) > 0) {
		printf("%s:\n", L("attempts", "試行"));
		table_init(&t, 6, L("TIME", "日時"), L("EVENT", "イベント"), L("CONTACT", "連絡先"),
		           L("CHANNEL", "手段"), L("RESULT", "結果"), L("DETAIL", "詳細"));
		cJSON_ArrayForEach(it, jt(r.doc, "attempts"))
		{
			table_row(&t, out_time(jt(it, "time"), t1, sizeof t1), js(it, "event"),
			          js(it, "contact"), js(it, "channel"), js(it, "result"),
			          js(it, "detail") ? js(it, "detail") : "");
		}
		table_print(&t, stdout);
		table_free(&t);
	}
	reply_free(&r);
	return EXIT_OK;
}
