/*
 * test_report: the monthly customer report (src/report) on a simulated
 * month written through the store's own batch operations, and the state
 * history's writer (src/statelog) on a whole server.
 *
 * The month (May 2026, Asia/Tokyo, business hours mon-fri 09:00-18:00
 * with Japan's holidays): a customer with 12 PCs, a UTM, a mail path and
 * three DNS records; pc-07's Defender off from Monday 09:00 to Wednesday
 * 17:00 (26 business hours, 56 in all), the UTM down 90 minutes on a
 * holiday (Greenery Day), pc-03 silent 4 hours, DMARC changed to p=none,
 * four alerts of which two were acknowledged late and one resolved late,
 * an on-site visit.  Every figure the report must show is computed here
 * from the same inputs without the report's code (business seconds by
 * walking the days, percentages by the rule "cut to two decimals"), in
 * both languages, and looked for in the HTML and in the PDF's text
 * (pdftotext, when installed).  Then: a customer without data, a month
 * in the future, a customer added mid-month, and March in Europe/Berlin
 * (the clocks go forward on the 29th: the month has 743 hours).
 * The rendered files go to $MAMORI_TEST_OUT (default build/test-output/
 * report) for a person to look at.
 */
#include "cal/cal.h"
#include "events/events.h"
#include "app/app.h"
#include "report/report.h"
#include "server/server.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "tests/lib/tmpdir.h"
#include "util/log.h"

#include <check.h>
#include <ev.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

/* ---- helpers ---- */

static struct cal *cal_jp(void)
{
	char err[256];
	const char *h[] = { "mon-fri 09:00-18:00" };
	struct cal *c = cal_new("jp-business", "Asia/Tokyo", h, 1, err, sizeof err);
	ck_assert_msg(c, "%s", err);
	ck_assert_msg(cal_holidays_load(c, "share/mamori/holidays/jp.csv", err, sizeof err) == 0,
	              "%s", err);
	return c;
}

/* JST wall time -> epoch (JST has no DST) */
static double jst(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {
		.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi
	};
	return (double)timegm(&tm) - 9 * 3600;
}

static void change(struct store_batch *b, const char *cust, const char *asset, const char *check,
                   double t, int state, int stale, const char *out)
{
	struct store_state_change_row r = { .customer = cust,
		                            .asset = asset,
		                            .check = check,
		                            .t = t,
		                            .state = state,
		                            .stale = stale,
		                            .output = out };
	store_batch_state_change(b, &r);
}

static void rfc(double t, char *buf, size_t len)
{
	time_t s = (time_t)t + 9 * 3600;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S+09:00", &tm);
}

struct alert_spec {
	const char *id, *asset, *check, *service, *summary;
	int state;
	double opened, ack_due, resolve_due, acked, resolved;
	int ack_breach, resolve_breach;
};

static void put_alert(struct store_batch *b, const char *cust, const struct alert_spec *a)
{
	char key[256];
	snprintf(key, sizeof key, "%s/%s/%s", cust, a->asset, a->check);
	struct store_alert_row r = {
		.id = a->id,
		.check_key = key,
		.customer = cust,
		.asset = a->asset,
		.check_name = a->check,
		.service = a->service,
		.center = "cc-east",
		.summary = a->summary,
		.status = a->resolved ? "resolved"
		          : a->acked  ? "acknowledged"
		                      : "open",
		.state = a->state,
		.count = 1,
		.seq = 1,
		.opened_at = a->opened,
		.updated_at = a->opened,
		.acked_at = a->acked,
		.resolved_at = a->resolved,
		.ack_left = -1,
		.resolve_left = -1,
	};
	store_batch_alert(b, &r);
	char ad[40], rd[40], payload[1024];
	rfc(a->ack_due, ad, sizeof ad);
	rfc(a->resolve_due, rd, sizeof rd);
	int seq = 1;
	snprintf(payload, sizeof payload,
	         "{\"schema\":\"mamori.alert/1\",\"id\":\"%s\",\"seq\":1,\"event\":\"opened\","
	         "\"ack_due\":\"%s\",\"resolve_due\":\"%s\",\"tier_name\":\"contact-center\"}",
	         a->id, ad, rd);
	struct store_event_row e = { .alert_id = a->id,
		                     .seq = seq++,
		                     .type = "opened",
		                     .time = a->opened,
		                     .actor = "mamori",
		                     .payload = payload };
	store_batch_event(b, &e);
	if (a->ack_breach) {
		snprintf(payload, sizeof payload,
		         "{\"event\":\"sla_breach\",\"breach\":\"ack\",\"reannounce\":false,"
		         "\"tier_name\":\"contact-center\"}");
		e = (struct store_event_row){ .alert_id = a->id,
			                      .seq = seq++,
			                      .type = "sla_breach",
			                      .time = a->ack_due,
			                      .actor = "mamori",
			                      .payload = payload };
		store_batch_event(b, &e);
		/* a re-announcement counts once */
		snprintf(payload, sizeof payload,
		         "{\"event\":\"sla_breach\",\"breach\":\"ack\",\"reannounce\":true,"
		         "\"tier_name\":\"back-office\"}");
		e = (struct store_event_row){ .alert_id = a->id,
			                      .seq = seq++,
			                      .type = "sla_breach",
			                      .time = a->ack_due + 60,
			                      .actor = "mamori",
			                      .payload = payload };
		store_batch_event(b, &e);
	}
	if (a->acked) {
		e = (struct store_event_row){ .alert_id = a->id,
			                      .seq = seq++,
			                      .type = "acknowledged",
			                      .time = a->acked,
			                      .actor = "Sato",
			                      .payload = "{}" };
		store_batch_event(b, &e);
	}
	if (a->resolve_breach) {
		snprintf(payload, sizeof payload,
		         "{\"event\":\"sla_breach\",\"breach\":\"resolve\",\"reannounce\":false,"
		         "\"tier_name\":\"contact-center\"}");
		e = (struct store_event_row){ .alert_id = a->id,
			                      .seq = seq++,
			                      .type = "sla_breach",
			                      .time = a->resolve_due,
			                      .actor = "mamori",
			                      .payload = payload };
		store_batch_event(b, &e);
	}
	if (a->resolved) {
		e = (struct store_event_row){ .alert_id = a->id,
			                      .seq = seq++,
			                      .type = "resolved",
			                      .time = a->resolved,
			                      .actor = "mamori",
			                      .payload = "{}" };
		store_batch_event(b, &e);
	}
}

/* ---- the simulated month ---- */

#define NPC 12
static const double MAY = 0; /* marker */
static double may_from, may_to;

/* mail latency: one 5-minute bucket per probe; value i -> */
static double mail_value(int i, double t)
{
	if (t >= jst(2026, 5, 15, 14, 0) && t < jst(2026, 5, 15, 15, 30))
		return 420; /* the filter was overloaded */
	return 2.0 + (i % 10) * 0.3;
}

static const struct alert_spec alerts_c1[] = {
	/* pc-07: acknowledged in time, resolved late */
	{ "A-t-0001", "pc-07", "defender", "defender", "real-time protection off", 2, 0, 0, 0, 0, 0,
	  0, 1 },
	/* the UTM on a holiday: acknowledged late (next business day) */
	{ "A-t-0002", "utm-1", "utm", "utm", "UTM unreachable", 2, 0, 0, 0, 0, 0, 1, 0 },
	/* the mail path: acknowledged late */
	{ "A-t-0003", "mail", "latency", "mail", "MAIL WARNING - probe delivered in 420 s", 1, 0, 0,
	  0, 0, 0, 1, 0 },
	/* DMARC: acknowledged in time, still open */
	{ "A-t-0004", "example.co.jp", "dmarc", "mail", "DMARC p=none", 1, 0, 0, 0, 0, 0, 0, 0 },
};

static struct alert_spec A[4];

static void fill_alerts(void)
{
	memcpy(A, alerts_c1, sizeof A);
	A[0].opened = jst(2026, 5, 11, 9, 5);
	A[0].ack_due = jst(2026, 5, 11, 9, 20);
	A[0].acked = jst(2026, 5, 11, 9, 12);
	A[0].resolve_due = jst(2026, 5, 11, 13, 5);
	A[0].resolved = jst(2026, 5, 13, 17, 0);
	A[1].opened = jst(2026, 5, 4, 10, 5);
	A[1].ack_due = jst(2026, 5, 7, 9, 15);
	A[1].acked = jst(2026, 5, 7, 9, 40);
	A[1].resolve_due = jst(2026, 5, 7, 13, 0);
	A[1].resolved = jst(2026, 5, 4, 11, 30);
	A[2].opened = jst(2026, 5, 15, 14, 0);
	A[2].ack_due = jst(2026, 5, 15, 14, 15);
	A[2].acked = jst(2026, 5, 15, 14, 50);
	A[2].resolve_due = jst(2026, 5, 15, 18, 0);
	A[2].resolved = jst(2026, 5, 15, 15, 30);
	A[3].opened = jst(2026, 5, 20, 10, 5);
	A[3].ack_due = jst(2026, 5, 20, 10, 20);
	A[3].acked = jst(2026, 5, 20, 10, 12);
	A[3].resolve_due = jst(2026, 5, 20, 14, 5);
	A[3].resolved = 0;
}

static void write_month(struct store *s)
{
	(void)MAY;
	may_from = jst(2026, 5, 1, 0, 0);
	may_to = jst(2026, 6, 1, 0, 0);
	double before = jst(2026, 4, 20, 10, 0);
	struct store_batch *b = store_batch_new();
	char pc[16];
	for (int i = 1; i <= NPC; i++) {
		snprintf(pc, sizeof pc, "pc-%02d", i);
		change(b, "c1", pc, "defender", before, 0, 0, "Defender OK");
	}
	change(b, "c1", "utm-1", "utm", before, 0, 0, "UTM OK: up 3d");
	change(b, "c1", "mail", "latency", before, 0, 0, "MAIL OK - probe delivered in 2 s");
	change(b, "c1", "example.co.jp", "spf", before, 0, 0, "DNS TXT OK - SPF ok");
	change(b, "c1", "example.co.jp", "dkim", before, 0, 0, "DNS TXT OK - DKIM ok");
	change(b, "c1", "example.co.jp", "dmarc", before, 0, 0, "DNS TXT OK - DMARC p=reject");
	/* an older change that must not count */
	change(b, "c1", "pc-01", "defender", jst(2026, 4, 25, 9, 0), 2, 0, "off in April");
	change(b, "c1", "pc-01", "defender", jst(2026, 4, 25, 11, 0), 0, 0, "Defender OK");
	/* pc-07: off Monday 09:00 .. Wednesday 17:00 */
	change(b, "c1", "pc-07", "defender", jst(2026, 5, 11, 9, 0), 2, 0,
	       "real-time protection off");
	change(b, "c1", "pc-07", "defender", jst(2026, 5, 13, 17, 0), 0, 0, "Defender OK");
	/* the UTM: 90 minutes on Greenery Day */
	change(b, "c1", "utm-1", "utm", jst(2026, 5, 4, 10, 0), 2, 0,
	       "UTM unreachable: no SNMP answer");
	change(b, "c1", "utm-1", "utm", jst(2026, 5, 4, 11, 30), 0, 0, "UTM OK: up 0d 0h 1m");
	/* pc-03: silent four hours on a Friday */
	change(b, "c1", "pc-03", "defender", jst(2026, 5, 22, 12, 0), 2, 1,
	       "no report since 11:45");
	change(b, "c1", "pc-03", "defender", jst(2026, 5, 22, 16, 0), 0, 0, "Defender OK");
	/* the mail path warned while the filter was slow */
	change(b, "c1", "mail", "latency", jst(2026, 5, 15, 14, 0), 1, 0,
	       "MAIL WARNING - probe delivered in 420 s");
	change(b, "c1", "mail", "latency", jst(2026, 5, 15, 15, 30), 0, 0,
	       "MAIL OK - probe delivered in 2 s");
	/* DMARC weakened */
	change(b, "c1", "example.co.jp", "dmarc", jst(2026, 5, 20, 10, 0), 1, 0,
	       "DNS TXT WARNING - DMARC policy p=none");
	/* alerts and the visit */
	fill_alerts();
	for (int i = 0; i < 4; i++)
		put_alert(b, "c1", &A[i]);
	struct store_dispatch_row d = { .alert_id = "A-t-0001",
		                        .seq = 10,
		                        .actor = "Sato",
		                        .time = jst(2026, 5, 12, 10, 0),
		                        .vendor = "Nagoya PC Service",
		                        .planned_at = jst(2026, 5, 12, 14, 0) };
	store_batch_dispatch(b, &d);
	d.seq = 11;
	d.time = jst(2026, 5, 12, 15, 0);
	d.vendor = NULL;
	d.planned_at = 0;
	d.result = "Defender re-enabled; the user had turned it off";
	store_batch_dispatch(b, &d);
	/* perfdata: series and buckets */
	struct store_series_row sr = { .id = 1,
		                       .customer = "c1",
		                       .asset = "mail",
		                       .check = "latency",
		                       .label = "latency",
		                       .unit = "s",
		                       .created = before,
		                       .last_seen = may_to };
	store_batch_series(b, &sr);
	int i = 0;
	for (double t = may_from; t < may_to; t += 300, i++) {
		double v = mail_value(i, t);
		struct store_series_agg ag = {
			.t = (int64_t)t, .min = v, .max = v, .sum = v, .n = 1
		};
		store_batch_series_add(b, STORE_SERIES_5M, 1, &ag);
	}
	sr = (struct store_series_row){ .id = 2,
		                        .customer = "c1",
		                        .asset = "utm-1",
		                        .check = "utm",
		                        .label = "cpu",
		                        .unit = "%",
		                        .created = before,
		                        .last_seen = may_to };
	store_batch_series(b, &sr);
	sr.id = 3;
	sr.label = "sessions";
	sr.unit = "";
	store_batch_series(b, &sr);
	sr.id = 4;
	sr.label = "blocked";
	sr.unit = "c";
	store_batch_series(b, &sr);
	int h = 0;
	for (double t = may_from; t < may_to; t += 3600, h++) {
		double cpu = 10 + h % 24;
		struct store_series_agg ag = {
			.t = (int64_t)t, .min = cpu, .max = cpu + 5, .sum = cpu * 12, .n = 12
		};
		store_batch_series_add(b, STORE_SERIES_1H, 2, &ag);
		ag = (struct store_series_agg){
			.t = (int64_t)t, .min = 100, .max = 200 + h % 24, .sum = 150.0 * 12, .n = 12
		};
		store_batch_series_add(b, STORE_SERIES_1H, 3, &ag);
		double c = 1000 + 50.0 * h; /* 50 blocked an hour */
		ag = (struct store_series_agg){
			.t = (int64_t)t, .min = c, .max = c, .sum = c * 12, .n = 12
		};
		store_batch_series_add(b, STORE_SERIES_1H, 4, &ag);
	}
	for (int p = 1; p <= NPC; p++) {
		snprintf(pc, sizeof pc, "pc-%02d", p);
		sr = (struct store_series_row){ .id = 10 + p,
			                        .customer = "c1",
			                        .asset = pc,
			                        .check = "defender",
			                        .label = "signature_age_days",
			                        .unit = "",
			                        .created = before,
			                        .last_seen = may_to };
		store_batch_series(b, &sr);
		for (double t = may_from; t < may_to; t += 3600) {
			double age =
			    p == 5 && t > jst(2026, 5, 18, 0, 0) && t < jst(2026, 5, 23, 0, 0) ? 4
			                                                                       : 1;
			struct store_series_agg ag = {
				.t = (int64_t)t, .min = 0, .max = age, .sum = age, .n = 1
			};
			store_batch_series_add(b, STORE_SERIES_1H, 10 + p, &ag);
		}
	}
	/* c3: added on the 15th (its first results) */
	double c3 = jst(2026, 5, 15, 13, 0);
	change(b, "c3", "pc-a", "defender", c3, 0, 0, "Defender OK");
	change(b, "c3", "utm-a", "utm", c3, 0, 0, "UTM OK");
	change(b, "c3", "utm-a", "utm", jst(2026, 5, 18, 9, 0), 2, 0, "WAN down");
	change(b, "c3", "utm-a", "utm", jst(2026, 5, 18, 12, 0), 0, 0, "UTM OK");
	store_commit(s, b);
}

/* Business seconds of May 2026 in [a, b): mon-fri 09:00-18:00 JST, not on
 * the 4th, 5th or 6th (the 3rd is a Sunday) - counted by walking the days,
 * not with the calendar module. */
static double may_biz(double a, double b)
{
	static const int holiday[] = { 3, 4, 5, 6 };
	double s = 0;
	for (int d = 1; d <= 31; d++) {
		int wd = (5 + d - 1) % 7; /* 1 May 2026 is a Friday (5) */
		if (wd == 0 || wd == 6)
			continue;
		int hol = 0;
		for (int k = 0; k < 4; k++)
			hol |= holiday[k] == d;
		if (hol)
			continue;
		double o = jst(2026, 5, d, 9, 0), c = jst(2026, 5, d, 18, 0);
		double x = o > a ? o : a, y = c < b ? c : b;
		if (y > x)
			s += y - x;
	}
	return s;
}

static void pct(char *buf, size_t len, double up, double down, const char *fmt)
{
	double p = floor(10000.0 * up / (up + down)) / 100.0;
	char v[24];
	snprintf(v, sizeof v, "%.2f", p);
	snprintf(buf, len, fmt, v);
}

static struct report_input *input_for(const char *cust, const char *name, const char *lang, int fmt,
                                      const struct cal *c, int y, int m, double now)
{
	struct report_input *in = calloc(1, sizeof *in);
	in->customer = strdup(cust);
	in->name = strdup(name);
	snprintf(in->lang, sizeof in->lang, "%s", lang);
	in->format = fmt;
	in->year = y;
	in->month = m;
	in->now = now;
	in->datadir = strdup("share/mamori");
	ck_assert_int_eq(report_input_calendar(in, c, cal_name(c), 1), 0);
	return in;
}

static void add_c1_checks(struct report_input *in)
{
	char pc[16];
	for (int i = 1; i <= NPC; i++) {
		snprintf(pc, sizeof pc, "pc-%02d", i);
		report_input_add_check(in, pc, "pc", "defender", "defender", "defender");
	}
	report_input_add_check(in, "utm-1", "utm", "utm", "utm", "utm");
	report_input_add_check(in, "mail", "mailpath", "latency", "mail_latency", "mail");
	report_input_add_check(in, "example.co.jp", "domain", "spf", "dns_txt", "mail");
	report_input_add_check(in, "example.co.jp", "domain", "dkim", "dns_txt", "mail");
	report_input_add_check(in, "example.co.jp", "domain", "dmarc", "dns_txt", "mail");
}

static const char *outdir(void)
{
	const char *o = getenv("MAMORI_TEST_OUT");
	return o && *o ? o : "build/test-output/report";
}

static void save(const char *name, const char *data, size_t len)
{
	char cmd[600], path[600];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s'", outdir());
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof path, "%s/%s", outdir(), name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *make(struct store *ro, const struct report_input *in, size_t *len)
{
	char *out = NULL, err[256] = "";
	size_t n = 0;
	int rc = report_make(ro, in, &out, &n, err, sizeof err);
	ck_assert_msg(rc == REPORT_OK, "report_make: %d %s", rc, err);
	ck_assert(n > 0);
	if (len)
		*len = n;
	return out;
}

#define HAS(doc, ...)                                                                              \
	do {                                                                                       \
		char want_[512];                                                                   \
		snprintf(want_, sizeof want_, __VA_ARGS__);                                        \
		ck_assert_msg(strstr((doc), want_), "the report lacks \"%s\"", want_);             \
	} while (0)

static struct store *ro_store;
static struct cal *cal;

static void setup(void)
{
	log_set_level(LOG_LVL_ERR);
	ck_assert_int_eq(tmpdir_make(dir, sizeof dir, "rep"), 0);
	char err[512] = "";
	struct store *s = store_open(dir, err, sizeof err);
	ck_assert_msg(s, "%s", err);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	write_month(s);
	store_sync(s);
	store_close(s);
	ro_store = store_open_readonly(dir, err, sizeof err);
	ck_assert_msg(ro_store, "%s", err);
	cal = cal_jp();
}

static void teardown(void)
{
	store_close(ro_store);
	cal_free(cal);
	ck_assert_int_eq(tmpdir_remove(dir), 0);
}

/* The figures of the simulated month, computed here. */
struct expect {
	char def_biz[64], def_all[64], utm_biz[64], utm_all[64], mail_all[64];
	double pc7_biz, pc7_all, utm_down;
};

static void expect_c1(struct expect *e, const char *pct_fmt)
{
	double all = may_to - may_from;
	double pc7_a = jst(2026, 5, 11, 9, 0), pc7_b = jst(2026, 5, 13, 17, 0);
	e->pc7_all = pc7_b - pc7_a;
	e->pc7_biz = may_biz(pc7_a, pc7_b);
	double silent_all = 4 * 3600.0;
	double silent_biz = may_biz(jst(2026, 5, 22, 12, 0), jst(2026, 5, 22, 16, 0));
	double up_all = NPC * all - e->pc7_all - silent_all;
	double up_biz = NPC * may_biz(may_from, may_to) - e->pc7_biz - silent_biz;
	pct(e->def_all, sizeof e->def_all, up_all, e->pc7_all, pct_fmt);
	pct(e->def_biz, sizeof e->def_biz, up_biz, e->pc7_biz, pct_fmt);
	e->utm_down = 90 * 60;
	double utm_down_biz = may_biz(jst(2026, 5, 4, 10, 0), jst(2026, 5, 4, 11, 30));
	pct(e->utm_all, sizeof e->utm_all, all - e->utm_down, e->utm_down, pct_fmt);
	pct(e->utm_biz, sizeof e->utm_biz, may_biz(may_from, may_to) - utm_down_biz, utm_down_biz,
	    pct_fmt);
	pct(e->mail_all, sizeof e->mail_all, 4 * all, 0, pct_fmt);
}

START_TEST(simulated_month_en)
{
	struct report_input *in =
	    input_for("c1", "Acme Trading", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	add_c1_checks(in);
	/* one center's terms: stated without the center's name */
	report_input_add_tier(in, "cc-east", "contact-center", 15 * 60, 4 * 3600);
	report_input_add_tier(in, "cc-east", "second-line", 90 * 60, 0);
	size_t len;
	char *html = make(ro_store, in, &len);
	save("simulated-en.html", html, len);
	HAS(html, "The response times agreed for your alerts");
	/* no record of the daemon's runs: no gap is told */
	ck_assert_ptr_null(strstr(html, "monitoring itself"));
	HAS(html, "<li>contact-center: acknowledged within 15 min, resolved within 4 h</li>");
	HAS(html, "<li>second-line: acknowledged within 1 h 30 min, no resolution deadline</li>");
	struct expect e;
	expect_c1(&e, "%s %%");
	/* the independent figures */
	ck_assert(fabs(e.pc7_biz - 26 * 3600) < 1);
	ck_assert(fabs(e.pc7_all - 56 * 3600) < 1);
	HAS(html,
	    "<td>PC protection</td><td class=\"n\">12</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">56 h</td><td class=\"n\">4 h</td>",
	    e.def_biz, e.def_all);
	HAS(html,
	    "<td>Internet gateway</td><td class=\"n\">1</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">1 h 30 min</td>",
	    e.utm_biz, e.utm_all);
	ck_assert_str_eq(e.utm_biz, "100.00 %"); /* a holiday: no business hour lost */
	HAS(html,
	    "<td>Mail</td><td class=\"n\">4</td><td class=\"n\">100.00 %%</td>"
	    "<td class=\"n\">%s</td>",
	    e.mail_all);
	/* the summary in plain words */
	HAS(html, "All 12 PCs were protected for the whole month except pc-07, whose protection "
	          "was off for 26 h of business hours (56 h in all).");
	HAS(html, "The internet gateway (UTM) was down for 1 h 30 min in all (0 min of it in "
	          "business hours).");
	HAS(html, "We handled 4 alerts; 3 of them were not handled within the agreed times");
	HAS(html, "These mail records of your domain need attention: DMARC.");
	/* alerts by service and severity */
	HAS(html, "<td>PC protection</td><td class=\"n\">0</td><td class=\"n\">1</td>"
	          "<td class=\"n\">0</td><td class=\"n\">1</td>");
	HAS(html, "<td>Mail</td><td class=\"n\">2</td><td class=\"n\">0</td><td class=\"n\">0</td>"
	          "<td class=\"n\">2</td>");
	/* response against the SLA: acknowledged 2 within, 2 late; resolved
	 * 2 within, 1 late, 1 not yet */
	HAS(html, "<td>Acknowledged</td><td class=\"n\">2</td><td class=\"n\">2</td>"
	          "<td class=\"n\">0</td>");
	HAS(html, "<td>Resolved</td><td class=\"n\">2</td><td class=\"n\">1</td>"
	          "<td class=\"n\">1</td>");
	/* the breaches, named */
	HAS(html, "<td>2026-05-04 10:05</td><td>utm-1 / utm</td><td>Critical</td>"
	          "<td>2026-05-07 09:15</td><td>2026-05-07 09:40</td>");
	HAS(html, "<td>mail / latency</td><td>Warning</td><td>2026-05-15 14:15</td>"
	          "<td>2026-05-15 14:50</td>");
	HAS(html, "<td>pc-07 / defender</td><td>Critical</td><td>2026-05-11 09:20</td>"
	          "<td>2026-05-11 09:12</td><td>2026-05-11 13:05</td><td>2026-05-13 17:00</td>"
	          "<td>resolution (contact-center)</td>");
	/* a re-announcement is not a second breach tier */
	ck_assert_ptr_null(strstr(html, "back-office"));
	/* Defender: pc-07 and pc-03 named, the chart, signatures */
	HAS(html, "<td>pc-07</td><td class=\"n\">26 h</td><td class=\"n\">56 h</td>");
	HAS(html, "<td>pc-03</td><td class=\"n\">0 min</td><td class=\"n\">0 min</td>"
	          "<td class=\"n\">4 h</td>");
	HAS(html, "<svg viewBox=");
	HAS(html,
	    "On 1 of your PCs the virus signatures were 3 days old or older at some time (the "
	    "oldest: 4 days).");
	/* mail: p50 and p95 of the 5-minute values, computed here */
	{
		size_t n = (size_t)((may_to - may_from) / 300);
		double *v = malloc(n * sizeof *v), worst = 0;
		int i = 0;
		for (double t = may_from; t < may_to; t += 300, i++) {
			v[i] = mail_value(i, t);
			if (v[i] > worst)
				worst = v[i];
		}
		for (size_t a = 0; a < n; a++) /* insertion sort: n is 8928 */
			for (size_t b = a; b > 0 && v[b - 1] > v[b]; b--) {
				double t = v[b];
				v[b] = v[b - 1];
				v[b - 1] = t;
			}
		double p50 = v[(size_t)ceil(0.50 * n) - 1], p95 = v[(size_t)ceil(0.95 * n) - 1];
		free(v);
		char s50[32], s95[32];
		snprintf(s50, sizeof s50, "%.1f s", p50);
		snprintf(s95, sizeof s95, "%.1f s", p95);
		HAS(html, "<b>%s</b><small>usual delivery time (median)</small>", s50);
		HAS(html, "<b>%s</b><small>95 %% of test mails arrived within</small>", s95);
		HAS(html, "<b>%.0f s</b><small>the slowest, on 15 May 2026</small>", worst);
	}
	/* UTM: the outage with its times; blocked events 50 an hour */
	HAS(html, "Down from 2026-05-04 10:00 to 2026-05-04 11:30 (1 h 30 min)");
	HAS(html, "The gateway blocked %d events this month.", 50 * (31 * 24 - 1));
	/* DNS: DMARC changed, named with its time */
	HAS(html, "2026-05-20 10:00: DMARC became needs attention - DNS TXT WARNING - DMARC "
	          "policy p=none");
	/* the visit and its result */
	HAS(html, "<td>pc-07 / defender</td><td>Nagoya PC Service</td><td>2026-05-12 14:00</td>"
	          "<td>Defender re-enabled; the user had turned it off</td>");
	/* recommendations from share/ */
	HAS(html, "Protection was switched off on a PC.");
	HAS(html, "Your domain&#39;s DMARC record needs attention");
	/* self-contained: no script, no external reference */
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "http://w"));
	ck_assert_ptr_null(strstr(html, "https:"));
	ck_assert_ptr_null(strstr(html, "src="));
	ck_assert_ptr_null(strstr(html, "href="));
	HAS(html, "@page{size:A4");
	free(html);
	report_input_free(in);
}
END_TEST

START_TEST(simulated_month_ja)
{
	struct report_input *in =
	    input_for("c1", "アクメ商事", "ja", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	add_c1_checks(in);
	/* two centers: each tier named with its center */
	report_input_add_tier(in, "cc-east", "contact-center", 15 * 60, 4 * 3600);
	report_input_add_tier(in, "cc-west", "窓口", 0, 8 * 3600);
	struct report_input *dup = report_input_dup(in); /* the copy carries them */
	report_input_free(in);
	in = dup;
	size_t len;
	char *html = make(ro_store, in, &len);
	save("simulated-ja.html", html, len);
	HAS(html, "<li>cc-east / contact-center: 15分以内に受付、4時間以内に解決</li>");
	HAS(html, "<li>cc-west / 窓口: 受付の期限なし、8時間以内に解決</li>");
	struct expect e;
	expect_c1(&e, "%s%%");
	HAS(html, "<html lang=\"ja\">");
	HAS(html,
	    "<td>パソコンの保護</td><td class=\"n\">12</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">56時間</td><td class=\"n\">4時間</td>",
	    e.def_biz, e.def_all);
	HAS(html,
	    "<td>インターネットの出入口</td><td class=\"n\">1</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">1時間30分</td>",
	    e.utm_biz, e.utm_all);
	HAS(html, "12台のパソコンは1か月を通して保護されていました。ただし次を除きます: pc-07 "
	          "(営業時間のうち26時間、全体で56時間保護が止まっていました)。");
	HAS(html,
	    "インターネットの出入口 (UTM) は合計1時間30分止まっていました (うち営業時間中0分)。");
	HAS(html, "アラートは4件あり、そのうち3件は約束の時間内に対応できませんでした");
	HAS(html,
	    "<td>受付</td><td class=\"n\">2</td><td class=\"n\">2</td><td class=\"n\">0</td>");
	HAS(html, "<td>2026-05-04 10:05</td><td>utm-1 / utm</td><td>重大</td>");
	HAS(html, "2026年5月15日");
	HAS(html, "パソコンの保護が止められていました。");
	free(html);
	report_input_free(in);
}
END_TEST

/* Every key the English file has, the Japanese has too, and the other
 * way round. */
START_TEST(texts_complete)
{
	const char *files[][2] = { { "share/mamori/report/en.txt", "share/mamori/report/ja.txt" },
		                   { "share/mamori/report/recommend.en.txt",
		                     "share/mamori/report/recommend.ja.txt" } };
	for (int f = 0; f < 2; f++) {
		for (int dir2 = 0; dir2 < 2; dir2++) {
			FILE *a = fopen(files[f][dir2], "r");
			ck_assert_ptr_nonnull(a);
			char line[4096];
			while (fgets(line, sizeof line, a)) {
				char *eq = strstr(line, " = ");
				if (line[0] == '#' || !eq)
					continue;
				*eq = '\0';
				FILE *b = fopen(files[f][!dir2], "r");
				char l2[4096];
				int found = 0;
				size_t kl = strlen(line);
				while (!found && fgets(l2, sizeof l2, b))
					found = strncmp(l2, line, kl) == 0 &&
					        strncmp(l2 + kl, " = ", 3) == 0;
				fclose(b);
				ck_assert_msg(found, "%s has '%s', %s has not", files[f][dir2],
				              line, files[f][!dir2]);
			}
			fclose(a);
		}
	}
}
END_TEST

START_TEST(no_data)
{
	struct report_input *in =
	    input_for("c2", "Empty Ltd", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	report_input_add_check(in, "pc-x", "pc", "defender", "defender", "defender");
	size_t len;
	char *html = make(ro_store, in, &len);
	save("no-data-en.html", html, len);
	HAS(html, "We have no monitoring data for Empty Ltd in May 2026.");
	HAS(html, "We received no report from your PCs (1 watched) this month.");
	HAS(html, "<td>PC protection</td><td class=\"n\">1</td><td class=\"n\">no data</td>"
	          "<td class=\"n\">no data</td>");
	HAS(html, "There were no on-site visits this month.");
	free(html);
	report_input_free(in);
}
END_TEST

START_TEST(future_month)
{
	struct report_input *in =
	    input_for("c1", "Acme", "en", REPORT_HTML, cal, 2026, 7, jst(2026, 6, 1, 9, 0));
	char *out = NULL, err[256] = "";
	size_t n = 0;
	ck_assert_int_eq(report_make(ro_store, in, &out, &n, err, sizeof err), REPORT_E_INVALID);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err, "2026-07 has not begun"), "%s", err);
	report_input_free(in);
	/* a bad language, a bad format */
	in = input_for("c1", "Acme", "fr", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	ck_assert_int_eq(report_make(ro_store, in, &out, &n, err, sizeof err), REPORT_E_INVALID);
	ck_assert_msg(strstr(err, "unknown language 'fr'"), "%s", err);
	report_input_free(in);
	in = input_for("c1", "Acme", "en", 7, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	ck_assert_int_eq(report_make(ro_store, in, &out, &n, err, sizeof err), REPORT_E_INVALID);
	report_input_free(in);
	/* the month parser */
	int y, m;
	ck_assert_int_eq(report_parse_month("2026-05", &y, &m), 0);
	ck_assert(y == 2026 && m == 5);
	const char *bad[] = { "2026-5", "2026-13", "2026-00", "26-05-01", "abcd-ef",
		              "",       "2026/05", "1999-12", "2026-05x" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(report_parse_month(bad[i], &y, &m) == -1, "%s accepted", bad[i]);
	ck_assert_int_eq(report_parse_month(NULL, &y, &m), -1);
}
END_TEST

/* The current month: counted up to now, and said so. */
START_TEST(partial_month)
{
	struct report_input *in =
	    input_for("c1", "Acme", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 5, 12, 9, 0));
	add_c1_checks(in);
	size_t len;
	char *html = make(ro_store, in, &len);
	HAS(html, "The month is not over: this report counts up to 12 May 2026.");
	/* pc-07 off since Monday 09:00: 24 hours so far, 9 business */
	HAS(html, "except pc-07, whose protection was off for 9 h of business hours (24 h in all)");
	free(html);
	report_input_free(in);
}
END_TEST

START_TEST(added_mid_month)
{
	struct report_input *in =
	    input_for("c3", "Newcomer Co", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	report_input_add_check(in, "pc-a", "pc", "defender", "defender", "defender");
	report_input_add_check(in, "utm-a", "utm", "utm", "utm", "utm");
	size_t len;
	char *html = make(ro_store, in, &len);
	save("added-mid-month-en.html", html, len);
	HAS(html, "Monitoring started on 15 May 2026.");
	/* the UTM: watched from the 15th 13:00; down 3 business hours */
	double from = jst(2026, 5, 15, 13, 0), to = jst(2026, 6, 1, 0, 0);
	char all[64], biz[64];
	pct(all, sizeof all, to - from - 3 * 3600, 3 * 3600, "%s %%");
	pct(biz, sizeof biz, may_biz(from, to) - 3 * 3600, 3 * 3600, "%s %%");
	HAS(html,
	    "<td>Internet gateway</td><td class=\"n\">1</td><td class=\"n\">%s</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">3 h</td>",
	    biz, all);
	free(html);
	report_input_free(in);
}
END_TEST

/* Monitoring gaps: the time no daemon ran (monitor_run: a clean stop,
 * then a run that crashed and never came back) is no data, not the
 * checks' last states; the report says so with the times. */
START_TEST(monitoring_gaps)
{
	char err[512] = "";
	char d2[256];
	ck_assert_int_eq(tmpdir_make(d2, sizeof d2, "rep-gap"), 0);
	struct store *s = store_open(d2, err, sizeof err);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	struct store_batch *b = store_batch_new();
	change(b, "g1", "utm-g", "utm", jst(2026, 4, 1, 0, 0), 0, 0, "UTM OK");
	change(b, "g1", "utm-g", "utm", jst(2026, 5, 10, 11, 0), 2, 0, "UTM unreachable");
	change(b, "g1", "utm-g", "utm", jst(2026, 5, 13, 0, 0), 0, 0, "UTM OK");
	/* stopped cleanly on the 10th at 12:00, started again on the 12th at
	 * 12:00, last seen on the 20th at 00:00 (a crash), nothing since */
	struct store_monitor_run_row r1 = { "n1", jst(2026, 4, 1, 0, 0), jst(2026, 5, 10, 12, 0),
		                            1 };
	struct store_monitor_run_row r2 = { "n1", jst(2026, 5, 12, 12, 0), jst(2026, 5, 20, 0, 0),
		                            0 };
	store_batch_monitor_run(b, &r1);
	store_batch_monitor_run(b, &r2);
	store_commit(s, b);
	store_sync(s);
	store_close(s);
	struct store *ro = store_open_readonly(d2, err, sizeof err);
	ck_assert_msg(ro, "%s", err);
	struct report_input *in =
	    input_for("g1", "Gap Co.", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	report_input_add_check(in, "utm-g", "utm", "utm", "utm", "utm");
	size_t len;
	char *html = make(ro, in, &len);
	save("gaps-en.html", html, len);
	/* down: 11:00-12:00 on the 10th, then from the restart on the 12th
	 * at 12:00 to the 13th at 00:00 - not the 61 h of the last state */
	double month = in->to - in->from, gap = 48 * 3600.0 + (in->to - jst(2026, 5, 20, 0, 0));
	double down = 13 * 3600.0, up = month - gap - down;
	char all[64];
	pct(all, sizeof all, up, down, "%s %%");
	HAS(html, "<td class=\"n\">%s</td><td class=\"n\">13 h</td>", all);
	HAS(html, "Our monitoring itself was not running for 336 h this month");
	HAS(html, "Our monitoring itself was not running for 336 h this month (see Availability)");
	HAS(html, "2026-05-10 12:00 - 2026-05-12 12:00, 2026-05-20 00:00 - 2026-06-01 00:00");
	free(html);
	/* in Japanese too */
	snprintf(in->lang, sizeof in->lang, "ja");
	html = make(ro, in, &len);
	HAS(html, "今月は監視そのものが合計336時間止まっていました");
	free(html);
	report_input_free(in);
	store_close(ro);
}
END_TEST

/* March 2026 in Berlin: the clocks go forward on Sunday the 29th at
 * 02:00 (to 03:00), so the month has 743 hours; an outage across the jump
 * from 01:30 to 03:30 local lasts one real hour. */
START_TEST(dst_berlin)
{
	char err[512] = "";
	const char *h[] = { "mon-fri 09:00-17:00" };
	struct cal *c = cal_new("berlin", "Europe/Berlin", h, 1, err, sizeof err);
	ck_assert_msg(c, "%s", err);
	/* a store of its own */
	char d2[256];
	ck_assert_int_eq(tmpdir_make(d2, sizeof d2, "rep-dst"), 0);
	struct store *s = store_open(d2, err, sizeof err);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	struct store_batch *b = store_batch_new();
	/* UTC: 1 March 00:00 CET = 28 Feb 23:00 UTC */
	struct tm tm = { .tm_year = 126, .tm_mon = 1, .tm_mday = 28, .tm_hour = 23 };
	double mar1 = (double)timegm(&tm);
	double t130 = mar1 + 28 * 86400.0 + 1.5 * 3600; /* 29 Mar 01:30 CET */
	double t330 = t130 + 3600;                      /* 03:30 CEST */
	change(b, "de1", "utm-b", "utm", mar1 - 86400, 0, 0, "UTM OK");
	change(b, "de1", "utm-b", "utm", t130, 2, 0, "UTM unreachable");
	change(b, "de1", "utm-b", "utm", t330, 0, 0, "UTM OK");
	store_commit(s, b);
	store_sync(s);
	store_close(s);
	struct store *ro = store_open_readonly(d2, err, sizeof err);
	ck_assert_msg(ro, "%s", err);
	struct tm tn = { .tm_year = 126, .tm_mon = 3, .tm_mday = 1, .tm_hour = 8 };
	struct report_input *in =
	    input_for("de1", "Berlin GmbH", "en", REPORT_HTML, c, 2026, 3, (double)timegm(&tn));
	report_input_add_check(in, "utm-b", "utm", "utm", "utm", "utm");
	/* the month: 31 local days, 743 real hours */
	ck_assert_int_eq(in->n_days, 31);
	ck_assert(fabs(in->to - in->from - 743 * 3600.0) < 1);
	ck_assert(fabs(in->from - mar1) < 1);
	ck_assert_uint_eq(in->n_offs, 2);
	ck_assert_int_eq(in->offs[0].off, 3600);
	ck_assert_int_eq(in->offs[1].off, 7200);
	/* the day of the change is 23 hours long */
	ck_assert(fabs(in->day[29] - in->day[28] - 23 * 3600.0) < 1);
	size_t len;
	char *html = make(ro, in, &len);
	save("dst-berlin-en.html", html, len);
	char all[64];
	pct(all, sizeof all, 742 * 3600.0, 3600, "%s %%");
	HAS(html,
	    "<td>Internet gateway</td><td class=\"n\">1</td><td class=\"n\">100.00 %%</td>"
	    "<td class=\"n\">%s</td><td class=\"n\">1 h</td>",
	    all);
	/* local times on both sides of the change */
	HAS(html, "Down from 2026-03-29 01:30 to 2026-03-29 03:30 (1 h)");
	HAS(html, "times in UTC+01:00/+02:00");
	free(html);
	report_input_free(in);
	store_close(ro);
	cal_free(c);
	ck_assert_int_eq(tmpdir_remove(d2), 0);
}
END_TEST

/* Garbage in the store's texts and payloads is shown escaped or ignored,
 * never trusted. */
START_TEST(hostile_texts)
{
	char err[512] = "", d2[256];
	ck_assert_int_eq(tmpdir_make(d2, sizeof d2, "rep-bad"), 0);
	struct store *s = store_open(d2, err, sizeof err);
	ck_assert_int_eq(store_start(s, NULL, NULL, NULL), 0);
	struct store_batch *b = store_batch_new();
	change(b, "x", "<script>alert(1)</script>", "dns\x01kim", jst(2026, 4, 1, 0, 0), 0, 0,
	       "ok");
	change(b, "x", "<script>alert(1)</script>", "dns\x01kim", jst(2026, 5, 2, 0, 0), 2, 0,
	       "bad \xff\xfe utf8 <img src=x>");
	struct alert_spec a = {
		"A-x", "\"><b>", "c", "utm", "</td><script>", 9, jst(2026, 5, 3, 0, 0), 0, 0,
		0,     0,        0,   0
	};
	char key[64] = "x/a/c";
	struct store_alert_row r = { .id = a.id,
		                     .check_key = key,
		                     .customer = "x",
		                     .asset = a.asset,
		                     .check_name = "c",
		                     .service = "nonsense",
		                     .summary = a.summary,
		                     .status = "open",
		                     .state = 9,
		                     .count = 1,
		                     .seq = 1,
		                     .opened_at = a.opened,
		                     .updated_at = a.opened,
		                     .ack_left = -1,
		                     .resolve_left = -1 };
	store_batch_alert(b, &r);
	const char *payloads[] = { "not json", "{\"ack_due\": 5}",
		                   "{\"ack_due\":\"2026-13-99T99\"}", "[1,2]",
		                   "{\"breach\":null}" };
	for (int i = 0; i < 5; i++) {
		struct store_event_row e = { .alert_id = "A-x",
			                     .seq = i + 1,
			                     .type = i == 4 ? "sla_breach" : "opened",
			                     .time = a.opened + i,
			                     .actor = "m",
			                     .payload = payloads[i] };
		store_batch_event(b, &e);
	}
	store_commit(s, b);
	store_sync(s);
	store_close(s);
	struct store *ro = store_open_readonly(d2, err, sizeof err);
	struct report_input *in =
	    input_for("x", "<Evil & Co>", "en", REPORT_HTML, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	report_input_add_check(in, "<script>alert(1)</script>", "domain", "dns\x01kim", "dns_txt",
	                       "mail");
	size_t len;
	char *html = make(ro, in, &len);
	ck_assert_ptr_null(strstr(html, "<script"));
	ck_assert_ptr_null(strstr(html, "<img"));
	ck_assert_ptr_null(strstr(html, "<b>"));
	HAS(html, "&lt;Evil &amp; Co&gt;");
	save("hostile-en.html", html, len);
	HAS(html, "bad \xef\xbf\xbd\xef\xbf\xbd utf8 &lt;img src=x&gt;");
	free(html);
	/* the RFC 3339 parser on garbage */
	double t;
	const char *bad[] = { "",
		              "2026",
		              "2026-05-01T00:00:00",
		              "2026-05-01T00:00:00+9",
		              "2026-05-01T25:00:00Z",
		              "2026-05-01T00:00:00Zjunk",
		              "x2026-05-01" };
	extern int report__parse_rfc3339(const char *s, double *out);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(report__parse_rfc3339(bad[i], &t) == -1, "%s accepted", bad[i]);
	ck_assert_int_eq(report__parse_rfc3339("2026-05-01T09:00:00.500+09:00", &t), 0);
	ck_assert(fabs(t - (jst(2026, 5, 1, 9, 0) + 0.5)) < 1e-6);
	report_input_free(in);
	store_close(ro);
	ck_assert_int_eq(tmpdir_remove(d2), 0);
}
END_TEST

/* The PDF: A4, text that pdftotext extracts (the same figures, both
 * languages), page numbers; the first page rendered as PNG for a person
 * to look at. */
static int have(const char *tool)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)n + 1);
	size_t got = fread(p, 1, (size_t)n, f);
	p[got] = '\0';
	fclose(f);
	return p;
}

/* pdftotext -layout joins nothing across columns: look for words in
 * order with any spacing between them. */
static int has_words(const char *text, const char *words)
{
	char w[512];
	snprintf(w, sizeof w, "%s", words);
	const char *at = text;
	char *save = NULL;
	for (char *t = strtok_r(w, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		const char *f = strstr(at, t);
		if (!f)
			return 0;
		at = f + strlen(t);
	}
	return 1;
}

static void pdf_case(const char *lang, const char *name, const char *pct_fmt)
{
	struct report_input *in =
	    input_for("c1", name, lang, REPORT_PDF, cal, 2026, 5, jst(2026, 6, 1, 9, 0));
	add_c1_checks(in);
	size_t len;
	char *pdf = make(ro_store, in, &len);
	ck_assert(len > 1000);
	ck_assert(memcmp(pdf, "%PDF-", 5) == 0);
	char file[64], path[600], txt[600], cmd[1400];
	snprintf(file, sizeof file, "simulated-%s.pdf", lang);
	save(file, pdf, len);
	free(pdf);
	report_input_free(in);
	if (!have("pdftotext")) {
		fprintf(stderr, "test_report: pdftotext not installed (poppler-utils): PDF text "
		                "not checked\n");
		return;
	}
	snprintf(path, sizeof path, "%s/%s", outdir(), file);
	snprintf(txt, sizeof txt, "%s/simulated-%s.txt", outdir(), lang);
	snprintf(cmd, sizeof cmd, "pdftotext -enc UTF-8 '%s' '%s'", path, txt);
	ck_assert_int_eq(system(cmd), 0);
	char *t = slurp(txt);
	ck_assert_ptr_nonnull(t);
	struct expect e;
	expect_c1(&e, pct_fmt);
	ck_assert_msg(strstr(t, e.def_biz) && strstr(t, e.def_all), "PDF lacks %s / %s", e.def_biz,
	              e.def_all);
	ck_assert_msg(strstr(t, e.utm_all), "PDF lacks %s", e.utm_all);
	if (strcmp(lang, "en") == 0) {
		ck_assert(
		    has_words(t, "except pc-07, whose protection was off for 26 h of business"));
		ck_assert(has_words(t, "We handled 4 alerts; 3 of them"));
		ck_assert(has_words(t, "utm-1 / utm Critical"));
		ck_assert(has_words(t, "Page 1 of"));
		ck_assert(has_words(t, "Nagoya PC Service"));
	} else {
		ck_assert(strstr(t, "26時間"));
		ck_assert(strstr(t, "1時間30分"));
		ck_assert(strstr(t, "アラートは4件あり"));
		ck_assert(strstr(t, "1 / "));
	}
	free(t);
	/* A4, fonts embedded */
	if (have("pdfinfo")) {
		snprintf(cmd, sizeof cmd, "pdfinfo '%s' | grep -q 'Page size: *595.28 x 841.89'",
		         path);
		ck_assert_msg(system(cmd) == 0, "not A4");
		snprintf(cmd, sizeof cmd,
		         "pdffonts '%s' | awk 'NR>2 && $(NF-4) != \"yes\" {bad=1} "
		         "END {exit bad}'",
		         path);
		ck_assert_msg(system(cmd) == 0, "a font is not embedded");
	}
	if (have("pdftoppm")) {
		snprintf(cmd, sizeof cmd,
		         "pdftoppm -png -r 70 -f 1 -l 2 '%s' '%s/simulated-%s-page'", path,
		         outdir(), lang);
		ck_assert_int_eq(system(cmd), 0);
	}
}

START_TEST(pdf_en)
{
	pdf_case("en", "Acme Trading", "%s %%");
}
END_TEST

START_TEST(pdf_ja)
{
	pdf_case("ja", "アクメ商事", "%s%%");
}
END_TEST

/* ---- the state history's writer on a whole server ---- */

#define SLCONF                                                                                     \
	"daemon = { log_level = \"err\"; node = \"n1\"; flush_interval = \"20ms\"; };\n"           \
	"customers = ( { id = \"c1\"; assets = ( { name = \"a\"; checks = ("                       \
	" { plugin = \"dummy\"; name = \"d\"; interval = \"1h\"; max_attempts = 2; } ); } ); } );\n"

static void idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
}

static void spin(struct ev_loop *loop, double secs)
{
	ev_timer g;
	ev_timer_init(&g, idle_cb, 0.002, 0.002);
	ev_timer_start(loop, &g);
	ev_now_update(loop);
	double end = ev_now(loop) + secs;
	while (ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &g);
}

struct rows {
	int n;
	int state[16], stale[16];
	char out[16][64];
};

static void on_row(void *ud, const struct store_state_change_row *r)
{
	struct rows *x = ud;
	if (x->n < 16) {
		x->state[x->n] = r->state;
		x->stale[x->n] = r->stale;
		snprintf(x->out[x->n], sizeof x->out[0], "%s", r->output ? r->output : "");
	}
	x->n++;
}

struct runs_seen {
	int n, stopped;
	double started, seen;
};

static void on_run(void *ud, const struct store_monitor_run_row *r)
{
	struct runs_seen *x = ud;
	x->n++;
	x->stopped = r->stopped;
	x->started = r->started;
	x->seen = r->seen;
}

START_TEST(statelog_rows)
{
	char tmp[64] = "/tmp/mamori-tsl.XXXXXX", plugdir[128], statedir[128], exe[512];
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(plugdir, sizeof plugdir, "%s/plugins", tmp);
	snprintf(statedir, sizeof statedir, "%s/state", tmp);
	ck_assert_int_eq(mkdir(plugdir, 0700), 0);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0'; /* build/tests */
	*strrchr(exe, '/') = '\0'; /* build */
	char src[640], dst[256];
	snprintf(src, sizeof src, "%s/plugins/dummy.so", exe);
	snprintf(dst, sizeof dst, "%s/dummy.so", plugdir);
	ck_assert_int_eq(symlink(src, dst), 0);
	struct ev_loop *loop = ev_default_loop(0);
	struct server_opts o = {
		.config_text = SLCONF, .plugin_dir = plugdir, .state_dir = statedir, .no_spread = 1
	};
	struct server *s = server_new(loop, &o);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(server_start(s), 0);
	spin(loop, 0.3); /* the first result: OK */
	/* a soft problem that recovers: no row */
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 2, "soft one"), 0);
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 0, "fine"), 0);
	/* a hard problem, another problem state, a recovery */
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 2, "broken 1"), 0);
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 2, "broken 2\nsecond line"), 0);
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 2, "broken 3"), 0);
	spin(loop, 0.05);
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 1, "warning now"), 0);
	spin(loop, 0.05);
	ck_assert_int_eq(server_submit(s, "c1", "a", "d", 0, "fine again"), 0);
	spin(loop, 0.2);
	server_stop(s);
	server_free(s);
	char err[512];
	struct store *ro = store_open_readonly(statedir, err, sizeof err);
	ck_assert_msg(ro, "%s", err);
	struct rows x = { 0 };
	ck_assert_int_eq(store_month_changes(ro, "c1", 0, 4e9, on_row, &x, err, sizeof err), 0);
	ck_assert_int_eq(x.n, 4);
	ck_assert_int_eq(x.state[0], 0); /* first result */
	ck_assert_str_eq(x.out[0], "dummy OK");
	ck_assert_int_eq(x.state[1], 2);        /* hard at the second attempt */
	ck_assert_str_eq(x.out[1], "broken 2"); /* the first line only */
	ck_assert_int_eq(x.state[2], 1);
	ck_assert_int_eq(x.state[3], 0);
	ck_assert_str_eq(x.out[3], "fine again");
	/* this run of the daemon: recorded, with its clean stop */
	struct runs_seen rs = { 0 };
	ck_assert_int_eq(store_month_runs(ro, 0, 4e9, on_run, &rs, err, sizeof err), 0);
	ck_assert_int_eq(rs.n, 1);
	ck_assert_int_eq(rs.stopped, 1);
	ck_assert(rs.seen >= rs.started && rs.seen - rs.started < 60);
	store_close(ro);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- the schedule ---- */

START_TEST(due_first_business_day)
{
	struct cal *c = cal_jp();
	int y, m;
	double at;
	/* Monday 1 June 2026 opens at 09:00: May is due from then on */
	ck_assert_int_eq(report_due(c, jst(2026, 6, 1, 8, 59), &y, &m, &at), 0);
	ck_assert(at == jst(2026, 6, 1, 9, 0));
	ck_assert_int_eq(report_due(c, jst(2026, 6, 1, 9, 0), &y, &m, &at), 1);
	ck_assert(y == 2026 && m == 5);
	/* January 2027: the 1st is a holiday, the 2nd and 3rd a weekend */
	ck_assert_int_eq(report_due(c, jst(2027, 1, 2, 12, 0), &y, &m, &at), 0);
	ck_assert(at == jst(2027, 1, 4, 9, 0));
	ck_assert_int_eq(report_due(c, jst(2027, 1, 4, 10, 0), &y, &m, &at), 1);
	ck_assert(y == 2026 && m == 12);
	/* May 2026: Golden Week - the 1st is a Friday, a business day */
	ck_assert(report_first_business_day(c, 2026, 5) == jst(2026, 5, 1, 9, 0));
	/* a local month, not a UTC one: 1 June 00:30 JST is still 31 May UTC */
	ck_assert_int_eq(report_due(c, jst(2026, 6, 1, 0, 30), &y, &m, &at), 0);
	ck_assert(y == 2026 && m == 5);
	cal_free(c);
}
END_TEST

#define SCHEDCONF                                                                                                    \
	"daemon = { log_level = \"err\"; node = \"n1\"; flush_interval = \"20ms\"; };\n"                             \
	"reports = { schedule = false; };\n"                                                                         \
	"customers = ( { id = \"c1\"; name = \"One\"; report = { email = [ \"boss@one.example\" ];"                  \
	" lang = \"en\"; calendar = \"always\"; };"                                                                  \
	" assets = ( { name = \"a\"; checks = ( { plugin = \"dummy\"; name = \"d\"; interval = \"1h\"; } ); } ); }," \
	" { id = \"c2\"; name = \"Two\"; report = { email = [ \"it@two.example\", \"ceo@two.example\" ]; }; },"      \
	" { id = \"c3\"; name = \"No report\"; } );\n"

struct hooked {
	int calls;
	char to[4][64];
	size_t n_to, pdf_len;
	char subject[256], summary[1024], lang[4];
	int has_pdf_magic, html_ok;
};

static int test_deliver(void *ud, const struct app_report_mail *m)
{
	struct hooked *h = ud;
	h->calls++;
	h->n_to = m->n_to;
	for (size_t i = 0; i < m->n_to && i < 4; i++)
		snprintf(h->to[i], sizeof h->to[i], "%s", m->to[i]);
	snprintf(h->subject, sizeof h->subject, "%s", m->subject);
	snprintf(h->summary, sizeof h->summary, "%s", m->summary);
	snprintf(h->lang, sizeof h->lang, "%s", m->lang);
	h->pdf_len = m->pdf_len;
	h->has_pdf_magic = m->pdf_len > 5 && memcmp(m->pdf, "%PDF-", 5) == 0;
	h->html_ok = strstr(m->html, "<p>") && !strstr(m->html, "<script");
	return 0;
}

static struct server *sched_server(struct ev_loop *loop, const char *plugdir, const char *statedir)
{
	struct server_opts o = { .config_text = SCHEDCONF,
		                 .plugin_dir = plugdir,
		                 .state_dir = statedir,
		                 .no_spread = 1,
		                 .data_dir = "share/mamori" };
	struct server *s = server_new(loop, &o);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(server_start(s), 0);
	return s;
}

static void sched_until(struct ev_loop *loop, struct app *a, unsigned long long want)
{
	for (int i = 0; i < 500; i++) {
		unsigned long long made, und;
		unsigned infl;
		app_report_schedule_stats(a, &made, &und, &infl);
		if (made >= want && !infl)
			return;
		spin(loop, 0.02);
	}
}

START_TEST(schedule_once)
{
	char tmp[64] = "/tmp/mamori-tsch.XXXXXX", plugdir[128], statedir[128], exe[512];
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(plugdir, sizeof plugdir, "%s/plugins", tmp);
	snprintf(statedir, sizeof statedir, "%s/state", tmp);
	ck_assert_int_eq(mkdir(plugdir, 0700), 0);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	char src[640], dst[256];
	snprintf(src, sizeof src, "%s/plugins/dummy.so", exe);
	snprintf(dst, sizeof dst, "%s/dummy.so", plugdir);
	ck_assert_int_eq(symlink(src, dst), 0);
	struct ev_loop *loop = ev_default_loop(0);
	struct server *s = sched_server(loop, plugdir, statedir);
	struct app *a = server_app(s);
	struct hooked h = { 0 };
	spin(loop, 0.2);
	/* without a hook: made, recorded as not sent */
	app_report_schedule_now(a);
	sched_until(loop, a, 2);
	unsigned long long made, und;
	unsigned infl;
	app_report_schedule_stats(a, &made, &und, &infl);
	ck_assert_uint_eq(made, 2); /* c1 and c2: c3 has no report group */
	ck_assert_uint_eq(und, 2);
	/* again: nothing more */
	app_report_schedule_now(a);
	spin(loop, 0.2);
	app_report_schedule_stats(a, &made, &und, &infl);
	ck_assert_uint_eq(made, 2);
	server_stop(s);
	server_free(s);
	/* the records outlive a restart: still nothing to make, hook or not */
	char err[512];
	struct store *ro = store_open_readonly(statedir, err, sizeof err);
	ck_assert_msg(ro, "%s", err);
	store_close(ro);
	s = sched_server(loop, plugdir, statedir);
	a = server_app(s);
	app_set_report_delivery(a, test_deliver, &h);
	app_report_schedule_now(a);
	spin(loop, 0.3);
	app_report_schedule_stats(a, &made, &und, &infl);
	ck_assert_uint_eq(made, 0);
	ck_assert_int_eq(h.calls, 0);
	server_stop(s);
	server_free(s);
	/* a fresh store with the hook: each report handed on once, with its
	 * recipients, a PDF and the summary */
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", statedir);
	ck_assert_int_eq(system(cmd), 0);
	s = sched_server(loop, plugdir, statedir);
	a = server_app(s);
	app_set_report_delivery(a, test_deliver, &h);
	app_report_schedule_now(a);
	sched_until(loop, a, 2);
	app_report_schedule_stats(a, &made, &und, &infl);
	ck_assert_uint_eq(made, 2);
	ck_assert_uint_eq(und, 0);
	ck_assert_int_eq(h.calls, 2);
	ck_assert(h.has_pdf_magic && h.pdf_len > 1000);
	ck_assert(h.html_ok);
	ck_assert(strlen(h.summary) > 10);
	app_report_schedule_now(a);
	spin(loop, 0.3);
	ck_assert_int_eq(h.calls, 2);
	server_stop(s);
	server_free(s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("month");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, simulated_month_en);
	tcase_add_test(tc, simulated_month_ja);
	tcase_add_test(tc, texts_complete);
	tcase_add_test(tc, no_data);
	tcase_add_test(tc, future_month);
	tcase_add_test(tc, partial_month);
	tcase_add_test(tc, added_mid_month);
	tcase_add_test(tc, dst_berlin);
	tcase_add_test(tc, monitoring_gaps);
	tcase_add_test(tc, hostile_texts);
	tcase_add_test(tc, pdf_en);
	tcase_add_test(tc, pdf_ja);
	suite_add_tcase(s, tc);
	TCase *tl = tcase_create("statelog");
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, statelog_rows);
	tcase_add_test(tl, due_first_business_day);
	tcase_add_test(tl, schedule_once);
	suite_add_tcase(s, tl);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
