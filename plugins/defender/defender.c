/*
 * defender: passive check fed by agent reports over MQTT.
 *
 * Subscribes (through the host, never libmosquitto) to
 *   <prefix>/v1/agents/+/+/defender   reports, schema mamori.defender/1
 *   <prefix>/v1/agents/+/+/status     "online" / "offline" (agent's last will)
 * The topic alone says who a report is about (customer, host); the
 * ComputerName inside is logged when it disagrees, never trusted.  A report
 * for a host without a `defender` check asks the core to register the asset
 * (the core knows the customers and whether auto_register is on).  Each
 * report is judged by judge.c with the check's own thresholds and submitted
 * with host->check_submit.  Rejected input is counted by reason and logged
 * at most once per hour per customer/host; it changes no state.  The
 * counters are on mamorid's /metrics (ABI 1.2 `metrics`:
 * mamori_defender_reports_rejected_total{reason=...} and others).
 *
 * A retained report is ignored (counted, logged at most once per hour per
 * customer/host): the broker hands a topic's retained message to every new
 * subscription, so it would be judged again at each of our
 * (re)subscriptions, as if the PC had just reported - an old verdict, and
 * freshness reset by a PC that may be gone.  Reports published while we are
 * away still arrive: the broker queues them in our persistent session as
 * ordinary messages.  Retained *status* is accepted: the agents publish
 * "online" retained and "offline" as a retained will, and the replayed copy
 * is the PC's latest status.
 *
 * Freshness (no report within stale_after) is the core's state engine.
 * Never blocks: everything happens in the message callback.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mamori/plugin.h>

#include "judge.h"

#define LOGSLOTS  512
#define LOG_EVERY 3600.0

/* A check's thresholds.  Checks made from a customer's `agents.defender`
 * template share one (the core prepares the template once); the core hands
 * it back through host->check_data. */
struct dcheck {
	struct defender_policy pol;
	char business_hours[64]; /* calendar for the offline severity, "" = none */
};

struct defender_counters {
	unsigned long long reports, accepted, status_online, status_offline;
	unsigned long long rejected[DEF_R__COUNT];
	unsigned long long bad_topic, bad_status, unknown_customer, registration_denied, registered,
	    not_ours, name_mismatch, submit_failed, retained;
};

struct logslot {
	unsigned hash;
	double last;
};

struct defender {
	const struct mamori_host *host;
	struct mamori_sub *sub_report, *sub_status;
	char *prefix;
	size_t prefix_len;
	struct defender_counters cnt;
	struct logslot logs[LOGSLOTS];
};

/* ---- rate-limited complaints: one per customer/host per hour ---- */

static unsigned str_hash2(const char *a, const char *b)
{
	unsigned h = 2166136261u;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 16777619u;
	return h | 1u;
}

/* Bounded memory whatever the number of hosts: a fixed table where a
 * colliding host simply takes the slot over (it may then log early). */
static int may_log(struct defender *d, const char *cust, const char *host)
{
	unsigned h = str_hash2(cust, host);
	struct logslot *s = &d->logs[h % LOGSLOTS];
	double now = d->host->now();
	if (s->hash == h && now - s->last < LOG_EVERY)
		return 0;
	s->hash = h;
	s->last = now;
	return 1;
}

/* ---- topics ---- */

/* "<prefix>/v1/agents/<cust>/<host>/<kind>" -> parts copied into bufs. */
static int topic_split(const struct defender *d, const char *topic, char *cust, char *host,
                       size_t size, const char **kind)
{
	if (strncmp(topic, d->prefix, d->prefix_len) ||
	    strncmp(topic + d->prefix_len, "/v1/agents/", 11))
		return -1;
	const char *c = topic + d->prefix_len + 11;
	const char *s1 = strchr(c, '/');
	if (!s1 || s1 == c || (size_t)(s1 - c) >= size)
		return -1;
	const char *h = s1 + 1;
	const char *s2 = strchr(h, '/');
	if (!s2 || s2 == h || (size_t)(s2 - h) >= size || strchr(s2 + 1, '/'))
		return -1;
	memcpy(cust, c, (size_t)(s1 - c));
	cust[s1 - c] = '\0';
	memcpy(host, h, (size_t)(s2 - h));
	host[s2 - h] = '\0';
	*kind = s2 + 1;
	return 0;
}

/* ---- messages ---- */

/* Our check for customer/host, registering the asset if the core allows. */
static struct dcheck *find_check(struct defender *d, const char *cust, const char *host,
                                 struct mamori_check **out)
{
	const struct mamori_host *H = d->host;
	struct mamori_check *chk = H->check_find(cust, host, "defender");
	if (!chk) {
		struct mamori_asset_spec spec = { .struct_size = sizeof(spec),
			                          .customer = cust,
			                          .name = host,
			                          .type = "pc",
			                          .address = "" };
		int rc = H->asset_register(d, &spec);
		if (rc == MAMORI_E_NOTFOUND) {
			d->cnt.unknown_customer++;
			if (may_log(d, cust, host))
				H->log(d, MAMORI_LOG_WARNING,
				       "report from unknown customer %s (host %s) rejected", cust,
				       host);
			return NULL;
		}
		if (rc == MAMORI_E_DENIED) {
			d->cnt.registration_denied++;
			if (may_log(d, cust, host))
				H->log(
				    d, MAMORI_LOG_WARNING,
				    "report from unregistered host %s/%s rejected (auto_register off)",
				    cust, host);
			return NULL;
		}
		if (rc != 0 && rc != MAMORI_E_EXISTS) {
			if (may_log(d, cust, host))
				H->log(d, MAMORI_LOG_ERR, "cannot register %s/%s: %s", cust, host,
				       H->strerror(rc));
			return NULL;
		}
		if (rc == 0) {
			d->cnt.registered++;
			H->log(d, MAMORI_LOG_NOTICE, "registered new PC %s/%s", cust, host);
		}
		chk = H->check_find(cust, host, "defender");
	}
	struct dcheck *dc = chk ? H->check_data(d, chk) : NULL;
	*out = chk;
	if (!dc) {
		/* a check named "defender" of another plugin, or no template */
		d->cnt.not_ours++;
		if (may_log(d, cust, host))
			H->log(d, MAMORI_LOG_WARNING, "%s/%s has no defender check of this plugin",
			       cust, host);
	}
	return dc;
}

static void submit(struct defender *d, struct mamori_check *chk, const struct mamori_result *res,
                   const char *cust, const char *host)
{
	int rc = d->host->check_submit(chk, res);
	if (rc) {
		d->cnt.submit_failed++;
		if (may_log(d, cust, host))
			d->host->log(d, MAMORI_LOG_ERR, "%s/%s: submit failed: %s", cust, host,
			             d->host->strerror(rc));
	}
}

static void on_report(struct defender *d, const struct mamori_msg *m, const char *cust,
                      const char *host)
{
	const struct mamori_host *H = d->host;
	struct defender_verdict v;
	struct defender_policy def;
	struct mamori_check *chk = H->check_find(cust, host, "defender");
	struct dcheck *dc = chk ? H->check_data(d, chk) : NULL;

	d->cnt.reports++;
	/* Judge before touching the asset registry (garbage must not create
	 * assets): with the check's thresholds when it exists, else with the
	 * defaults, and once more with the new check's own after registering. */
	defender_policy_default(&def);
	if (defender_judge(m->payload, m->len, dc ? &dc->pol : &def, &v) != 0) {
		d->cnt.rejected[v.reject]++;
		if (may_log(d, cust, host))
			H->log(d, MAMORI_LOG_WARNING, "%s/%s: report rejected (%s): %s", cust, host,
			       defender_reject_name(v.reject), v.reason);
		return;
	}
	if (!dc) {
		if (!(dc = find_check(d, cust, host, &chk)))
			return;
		if (defender_judge(m->payload, m->len, &dc->pol, &v) != 0)
			return; /* cannot happen: same bytes, only thresholds differ */
	}
	if (v.computer_name[0] && strcasecmp(v.computer_name, host)) {
		d->cnt.name_mismatch++;
		if (may_log(d, cust, host))
			H->log(d, MAMORI_LOG_NOTICE, "%s/%s reports ComputerName '%s' (topic wins)",
			       cust, host, v.computer_name);
	}
	struct mamori_result res = { .struct_size = sizeof(res),
		                     .state = v.state,
		                     .output = v.output,
		                     .long_output = v.long_output,
		                     .perf = v.perf,
		                     .n_perf = v.n_perf };
	d->cnt.accepted++;
	submit(d, chk, &res, cust, host);
}

static void on_status(struct defender *d, const struct mamori_msg *m, const char *cust,
                      const char *host)
{
	if (m->len == 6 && !memcmp(m->payload, "online", 6)) {
		d->cnt.status_online++;
		return; /* the report that follows says how the PC is */
	}
	if (m->len != 7 || memcmp(m->payload, "offline", 7)) {
		d->cnt.bad_status++;
		if (may_log(d, cust, host))
			d->host->log(d, MAMORI_LOG_WARNING,
			             "%s/%s: status is neither online nor offline", cust, host);
		return;
	}
	d->cnt.status_offline++;
	struct mamori_check *chk;
	struct dcheck *dc = find_check(d, cust, host, &chk);
	if (!dc)
		return;
	/* A PC switched off at night is normal: OK with a note outside the
	 * customer's business hours, WARNING inside them (both configurable).
	 * The freshness alarm stops until the PC reports again. */
	int inside = dc->business_hours[0] &&
	             d->host->calendar_is_open(dc->business_hours, d->host->now()) == 1;
	struct mamori_result res = {
		.struct_size = sizeof(res),
		.state = inside ? dc->pol.offline_business_state : dc->pol.offline_state,
		.output = inside ? "PC offline during business hours" : "PC offline",
		.flags = MAMORI_RESULT_NO_FRESHNESS
	};
	submit(d, chk, &res, cust, host);
}

static void on_msg(struct mamori_sub *s, const struct mamori_msg *m, void *ud)
{
	struct defender *d = ud;
	char cust[128], host[128];
	const char *kind;
	(void)s;
	if (topic_split(d, m->topic, cust, host, sizeof(cust), &kind)) {
		d->cnt.bad_topic++;
		return;
	}
	if (!strcmp(kind, "defender") && m->retain) {
		d->cnt.retained++;
		if (may_log(d, cust, host))
			d->host->log(d, MAMORI_LOG_WARNING,
			             "%s/%s: retained report ignored (reports must be published "
			             "without retain: the broker replays retained ones)",
			             cust, host);
	} else if (!strcmp(kind, "defender"))
		on_report(d, m, cust, host);
	else if (!strcmp(kind, "status"))
		on_status(d, m, cust, host);
	else
		d->cnt.bad_topic++;
}

/* ---- metrics (ABI 1.2): the counters above on mamorid's /metrics ---- */

static void metric(struct defender *d, struct mamori_metrics *m, int type, const char *name,
                   const char *help, const char *label, const char *value, unsigned long long v)
{
	const char *labels[2] = { label, value };
	struct mamori_metric x = { .struct_size = sizeof x,
		                   .type = type,
		                   .name = name,
		                   .help = help,
		                   .labels = labels,
		                   .n_labels = label ? 1 : 0,
		                   .value = (double)v };
	d->host->metric(m, &x);
}

static void defender_metrics(void *inst, struct mamori_metrics *m)
{
	struct defender *d = inst;
	const struct defender_counters *c = &d->cnt;
	static const char rej_help[] = "Agent messages refused, by reason (nothing changed).";
	static const char rej[] = "reports_rejected_total";
	metric(d, m, MAMORI_METRIC_COUNTER, "reports_total", "Defender reports received.", NULL,
	       NULL, c->reports);
	metric(d, m, MAMORI_METRIC_COUNTER, "reports_accepted_total",
	       "Defender reports judged and submitted.", NULL, NULL, c->accepted);
	/* the payload's faults (judge.c), then the sender's */
	for (int r = DEF_R_JSON; r < DEF_R__COUNT; r++)
		metric(d, m, MAMORI_METRIC_COUNTER, rej, rej_help, "reason",
		       defender_reject_name((enum defender_reject)r), c->rejected[r]);
	const struct {
		const char *reason;
		unsigned long long v;
	} other[] = {
		{ "bad_topic", c->bad_topic },
		{ "bad_status", c->bad_status },
		{ "retained", c->retained },
		{ "unknown_customer", c->unknown_customer },
		{ "registration_denied", c->registration_denied },
		{ "not_ours", c->not_ours },
		{ "submit_failed", c->submit_failed },
	};
	for (size_t i = 0; i < sizeof other / sizeof *other; i++)
		metric(d, m, MAMORI_METRIC_COUNTER, rej, rej_help, "reason", other[i].reason,
		       other[i].v);
	metric(d, m, MAMORI_METRIC_COUNTER, "status_total", "Agent status messages (last will).",
	       "status", "online", c->status_online);
	metric(d, m, MAMORI_METRIC_COUNTER, "status_total", "Agent status messages (last will).",
	       "status", "offline", c->status_offline);
	metric(d, m, MAMORI_METRIC_COUNTER, "assets_registered_total",
	       "PCs registered from their first report.", NULL, NULL, c->registered);
	metric(d, m, MAMORI_METRIC_COUNTER, "name_mismatches_total",
	       "Reports whose ComputerName disagrees with the topic (the topic wins).", NULL, NULL,
	       c->name_mismatch);
}

/* ---- lifecycle ---- */

static void defender_destroy(void *inst)
{
	struct defender *d = inst;
	if (!d)
		return;
	if (d->sub_report)
		d->host->mqtt_unsubscribe(d->sub_report);
	if (d->sub_status)
		d->host->mqtt_unsubscribe(d->sub_status);
	free(d->prefix);
	free(d);
}

static int defender_init(const struct mamori_host *host, const struct mamori_conf *conf,
                         void **inst)
{
	char filter[512];
	struct defender *d = calloc(1, sizeof(*d));
	int rc = MAMORI_E_NOMEM;
	(void)conf;
	*inst = d;
	if (!d)
		return rc;
	d->host = host;
	if (!(d->prefix = strdup(host->mqtt_prefix())))
		return rc;
	d->prefix_len = strlen(d->prefix);
	snprintf(filter, sizeof(filter), "%s/v1/agents/+/+/defender", d->prefix);
	if ((rc = host->mqtt_subscribe(d, filter, 1, on_msg, d, &d->sub_report))) {
		if (rc == MAMORI_E_NOTSUP)
			host->log(d, MAMORI_LOG_ERR,
			          "agent reports arrive over MQTT: configure the mqtt section");
		return rc;
	}
	snprintf(filter, sizeof(filter), "%s/v1/agents/+/+/status", d->prefix);
	if ((rc = host->mqtt_subscribe(d, filter, 1, on_msg, d, &d->sub_status)))
		return rc;
	return 0;
}

/* A severity key: "ok", "warning", "critical" (or "unknown"). */
static int conf_state(struct defender *d, const struct mamori_conf *c, const char *key, int *out)
{
	const char *s = NULL;
	int rc = d->host->conf_string(c, key, &s);
	if (rc == MAMORI_E_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	int st = defender_state_parse(s);
	if (st < 0)
		return d->host->conf_error(c, key, "expected ok, warning, critical or unknown");
	*out = st;
	return 0;
}

static int conf_days(struct defender *d, const struct mamori_conf *c, const char *key, double *out)
{
	long long v;
	int rc = d->host->conf_int(c, key, &v);
	if (rc == MAMORI_E_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (v < 0 || v > 3650)
		return d->host->conf_error(c, key, "days must be 0..3650 (0 = not judged)");
	*out = (double)v;
	return 0;
}

static int read_policy(struct defender *d, const struct mamori_conf *c, struct defender_policy *p)
{
	static const char *const days[] = { "signature_age_warning",  "signature_age_critical",
		                            "quick_scan_age_warning", "quick_scan_age_critical",
		                            "full_scan_age_warning",  "full_scan_age_critical" };
	double *dst[] = { &p->sig_warn_days,   &p->sig_crit_days,  &p->quick_warn_days,
		          &p->quick_crit_days, &p->full_warn_days, &p->full_crit_days };
	int rc, b;
	const char *cal;

	for (size_t i = 0; i < 6; i++)
		if ((rc = conf_days(d, c, days[i], dst[i])))
			return rc;
	if ((rc = conf_state(d, c, "tamper_severity", &p->tamper_state)) ||
	    (rc = conf_state(d, c, "passive_severity", &p->passive_state)) ||
	    (rc = conf_state(d, c, "pending_severity", &p->pending_state)) ||
	    (rc = conf_state(d, c, "never_scanned_severity", &p->never_scanned_state)) ||
	    (rc = conf_state(d, c, "offline_state", &p->offline_state)) ||
	    (rc = conf_state(d, c, "offline_business_state", &p->offline_business_state)))
		return rc;
	rc = d->host->conf_bool(c, "passive_ok", &b);
	if (rc == 0)
		p->passive_ok = b;
	else if (rc != MAMORI_E_NOTFOUND)
		return rc;
	(void)cal;
	if (p->sig_crit_days && p->sig_warn_days > p->sig_crit_days)
		return d->host->conf_error(c, "signature_age_warning",
		                           "must not exceed the critical age");
	if (p->quick_crit_days && p->quick_warn_days > p->quick_crit_days)
		return d->host->conf_error(c, "quick_scan_age_warning",
		                           "must not exceed the critical age");
	return 0;
}

static int defender_check_prepare(void *inst, struct mamori_check *chk,
                                  const struct mamori_conf *conf, void **check_data)
{
	struct defender *d = inst;
	struct dcheck *dc = calloc(1, sizeof(*dc));
	const char *cal = NULL;
	int rc;
	(void)chk;
	if (!dc)
		return MAMORI_E_NOMEM;
	defender_policy_default(&dc->pol);
	if ((rc = read_policy(d, conf, &dc->pol))) {
		free(dc);
		return rc;
	}
	if (d->host->conf_string(conf, "business_hours", &cal) == 0) {
		if (d->host->calendar_is_open(cal, d->host->now()) == MAMORI_E_NOTFOUND) {
			free(dc);
			return d->host->conf_error(conf, "business_hours", "no calendar named '%s'",
			                           cal);
		}
		snprintf(dc->business_hours, sizeof(dc->business_hours), "%s", cal);
	}
	*check_data = dc;
	return 0;
}

static void defender_check_release(void *inst, struct mamori_check *chk, void *check_data)
{
	(void)inst, (void)chk;
	free(check_data);
}

/* Passive: the core never schedules it; a manual run has nothing to do. */
static int defender_check_start(void *inst, struct mamori_run *run, void *check_data, void **rs)
{
	(void)inst, (void)run, (void)check_data, (void)rs;
	return MAMORI_E_NOTSUP;
}

static void defender_check_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	(void)inst, (void)run, (void)run_state;
}

static const struct mamori_key instance_keys[] = { { NULL, 0, 0, NULL, NULL } };

static const struct mamori_key check_keys[] = {
	{ "signature_age_warning", MAMORI_KEY_INT, 0, "signature age (days) that warns; default 3",
	  NULL },
	{ "signature_age_critical", MAMORI_KEY_INT, 0,
	  "signature age (days) that is critical; default 7", NULL },
	{ "quick_scan_age_warning", MAMORI_KEY_INT, 0, "days since quick scan that warn; default 7",
	  NULL },
	{ "quick_scan_age_critical", MAMORI_KEY_INT, 0,
	  "days since quick scan, critical; default 14", NULL },
	{ "full_scan_age_warning", MAMORI_KEY_INT, 0,
	  "days since full scan that warn; 0 = not judged (default)", NULL },
	{ "full_scan_age_critical", MAMORI_KEY_INT, 0,
	  "days since full scan, critical; 0 = not judged", NULL },
	{ "tamper_severity", MAMORI_KEY_STRING, 0,
	  "state when tamper protection is off; default warning", NULL },
	{ "passive_ok", MAMORI_KEY_BOOL, 0, "customer uses another antivirus: passive mode is OK",
	  NULL },
	{ "passive_severity", MAMORI_KEY_STRING, 0,
	  "state for passive mode when not passive_ok; default warning", NULL },
	{ "pending_severity", MAMORI_KEY_STRING, 0,
	  "state for reboot/scan/manual steps pending; default warning", NULL },
	{ "never_scanned_severity", MAMORI_KEY_STRING, 0,
	  "state when no quick scan ever ran; default warning", NULL },
	{ "offline_state", MAMORI_KEY_STRING, 0,
	  "state of \"PC offline\" (agent last will) outside business hours; default ok", NULL },
	{ "offline_business_state", MAMORI_KEY_STRING, 0,
	  "state of \"PC offline\" inside business_hours; default warning", NULL },
	{ "business_hours", MAMORI_KEY_STRING, 0,
	  "calendar of the customer's business hours (for the offline severity)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

MAMORI_PLUGIN_DEFINE(
        .name = "defender", .version = "1.0",
        .description = "Windows Defender status from agent reports over MQTT (passive)",
        .flags = MAMORI_PLUGIN_PASSIVE, .instance_keys = instance_keys, .check_keys = check_keys,
        .init = defender_init, .destroy = defender_destroy, .check_prepare = defender_check_prepare,
        .check_release = defender_check_release, .check_start = defender_check_start,
        .check_cancel = defender_check_cancel, .metrics = defender_metrics);
