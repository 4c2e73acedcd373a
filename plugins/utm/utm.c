/*
 * utm: check plugin for the UTM appliance at a customer's internet edge.
 *
 * One run = an SNMP query (snmpq.c: uptime, interfaces, CPU, memory,
 * sessions, vendor counters from a profile) and, when configured, a TLS
 * handshake with the HTTPS management endpoint (plugins/lib/netconn), in
 * parallel; the run completes once both are in.  judge.c decides the SNMP
 * part, this file the HTTPS part and the mix.
 *
 * Owns: per check (check_data) the parsed config, derived SNMPv3 keys, the
 * learned engine ID and the previous uptime; per run the query handles.
 * Never: resolves names (the asset address must be an IP literal; an HTTPS
 * URL naming a host connects to the asset address and uses the name for
 * SNI and verification), logs secrets, completes after check_cancel.
 */
#include "plugins/lib/netconn.h"
#include "plugins/utm/utm.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct utm_run {
	struct utm_inst *inst;
	struct utm_check *chk;
	struct mamori_run *run;
	struct utm_snmp *q;
	struct netconn *nc;
	struct utm_values values;
	int snmp_pending, https_pending;
	int snmp_err;
	char snmp_msg[200];
	struct netconn_info hinfo;
};

/* ---- result ---- */

static void https_judge(const struct utm_check *chk, const struct netconn_info *h, double now,
                        struct utm_judge_out *o, char *ok_text, size_t oksize)
{
	const struct utm_https *cfg = &chk->https;
	int st = MAMORI_OK;
	char msg[300] = "";
	size_t len;
	double days;
	struct mamori_perfdata *p;

	if (h->err) {
		st = MAMORI_CRITICAL;
		snprintf(msg, sizeof msg, "HTTPS %.150s: %.120s", cfg->url, h->errmsg);
		goto out;
	}
	days = netconn_days_left(h->not_after, now);
	if (o->n_perf + 2 <= UTM_PERF_MAX) {
		p = &o->perf[o->n_perf];
		memset(p, 0, sizeof *p);
		snprintf(o->perf_labels[o->n_perf], sizeof o->perf_labels[0], "https_time");
		p->label = o->perf_labels[o->n_perf++];
		p->uom = "s";
		p->value = h->total_time;
		p = &o->perf[o->n_perf];
		memset(p, 0, sizeof *p);
		snprintf(o->perf_labels[o->n_perf], sizeof o->perf_labels[0], "cert_days");
		p->label = o->perf_labels[o->n_perf++];
		p->uom = "";
		p->value = days;
	}
	len = strlen(o->long_output);
	snprintf(o->long_output + len, sizeof o->long_output - len,
	         "%sHTTPS %s: %s, subject %s, issuer %s, verify: %s", len ? "\n" : "", cfg->url,
	         h->protocol, h->subject, h->issuer, h->verify_text);
	if (days < 0) {
		st = MAMORI_CRITICAL;
		snprintf(msg, sizeof msg, "HTTPS certificate expired %.0f days ago", -days);
	} else if (days < (double)cfg->crit_days || days < (double)cfg->warn_days) {
		st = days < (double)cfg->crit_days ? MAMORI_CRITICAL : MAMORI_WARNING;
		snprintf(msg, sizeof msg, "HTTPS certificate expires in %.0f days", days);
	} else if (cfg->verify && !h->verify_ok) {
		st = MAMORI_CRITICAL;
		snprintf(msg, sizeof msg, "HTTPS certificate not trusted: %s", h->verify_text);
	}
	snprintf(ok_text, oksize, "HTTPS cert %.0f days", days);
out:
	if (st != MAMORI_OK) {
		len = strlen(o->output);
		if (o->state == MAMORI_OK)
			len = 0; /* replace the "up ..." summary */
		o->state = utm_state_worse(o->state, st);
		snprintf(o->output + len, sizeof o->output - len, "%s%s", len ? ", " : "", msg);
	}
}

static void run_finish(struct utm_run *r)
{
	const struct mamori_host *host = r->inst->host;
	struct utm_check *chk = r->chk;
	struct utm_judge_out *o = calloc(1, sizeof *o);
	struct mamori_result res = { .struct_size = sizeof res };
	char ok_https[64] = "", line[640];
	double now = host->now();

	if (!o) {
		res.state = MAMORI_UNKNOWN;
		res.output = "out of memory";
		goto done;
	}
	o->state = MAMORI_OK;
	o->uptime = -1;
	if (chk->has_snmp && r->snmp_err) {
		/* SNMP and HTTPS both unreachable: the box (or the path) is down */
		int down = chk->has_https && r->hinfo.err && r->hinfo.stage == NETCONN_CONNECT;
		o->state = down ? MAMORI_CRITICAL : MAMORI_UNKNOWN;
		snprintf(o->output, sizeof o->output, "%s%s", down ? "UTM unreachable: " : "",
		         r->snmp_msg);
	} else if (chk->has_snmp) {
		struct utm_judge_in in = {
			.profile = &chk->profile,
			.values = &r->values,
			.ifaces = (const char *const *)chk->ifaces,
			.n_ifaces = chk->n_ifaces,
			.cpu = chk->cpu,
			.memory = chk->memory,
			.sessions = chk->sessions,
			.now = now,
			.prev_uptime = chk->prev_uptime,
			.prev_check = chk->prev_check,
			.reboot_window = chk->reboot_window,
			.range_state = host->range_state,
		};
		utm_judge(&in, o);
		if (o->uptime >= 0) {
			chk->prev_uptime = o->uptime;
			chk->prev_check = now;
		}
	}
	if (chk->has_https)
		https_judge(chk, &r->hinfo, now, o, ok_https, sizeof ok_https);
	if (o->state == MAMORI_OK) {
		snprintf(line, sizeof line, "UTM OK%s%s%s%s", o->output[0] ? ": " : "", o->output,
		         ok_https[0] ? (o->output[0] ? ", " : ": ") : "", ok_https);
		res.output = line;
	} else {
		res.output = o->output;
	}
	res.state = o->state;
	res.long_output = o->long_output[0] ? o->long_output : NULL;
	res.perf = o->n_perf ? o->perf : NULL;
	res.n_perf = o->n_perf;
done:
	chk->running = 0;
	{
		struct mamori_run *run = r->run;
		utm_values_free(&r->values);
		free(r);
		host->run_complete(run, &res);
	}
	free(o);
}

static void on_snmp(struct utm_snmp *q, int err, const char *msg, void *ud)
{
	struct utm_run *r = ud;
	/* msg lives in q: copy it before freeing q */
	snprintf(r->snmp_msg, sizeof r->snmp_msg, "%s", msg);
	r->snmp_err = err;
	utm_snmp_free(q);
	r->q = NULL;
	if (--r->snmp_pending == 0 && r->https_pending == 0)
		run_finish(r);
}

static void on_https(struct netconn *c, const struct netconn_info *info, void *ud)
{
	struct utm_run *r = ud;
	r->hinfo = *info;
	netconn_free(c);
	r->nc = NULL;
	if (--r->https_pending == 0 && r->snmp_pending == 0)
		run_finish(r);
}

static void run_free(struct utm_run *r)
{
	if (!r)
		return;
	utm_snmp_free(r->q);
	netconn_free(r->nc);
	utm_values_free(&r->values);
	r->chk->running = 0;
	free(r);
}

static int utm_check_start(void *vinst, struct mamori_run *run, void *data, void **state)
{
	struct utm_inst *inst = vinst;
	struct utm_check *chk = data;
	struct utm_run *r;
	int rc;

	if (chk->running)
		return MAMORI_E_BUSY;
	if (!(r = calloc(1, sizeof *r)))
		return MAMORI_E_NOMEM;
	r->inst = inst;
	r->chk = chk;
	r->run = run;
	chk->running = 1;
	if (chk->has_snmp) {
		rc = utm_snmp_start(inst->host, &chk->snmp, &chk->req, &r->values, on_snmp, r,
		                    &r->q);
		if (rc < 0)
			goto fail;
		r->snmp_pending = 1;
	}
	if (chk->has_https) {
		struct netconn_opts o = {
			.ip = chk->https.ip,
			.port = chk->https.port,
			.timeout = chk->https.timeout,
			.tls = 1,
			.sni = chk->https.sni[0] ? chk->https.sni : NULL,
			.ca_file = chk->https.ca_file,
			.cache = inst->tls,
		};
		rc = netconn_start(inst->host, &o, on_https, r, &r->nc);
		if (rc < 0)
			goto fail;
		r->https_pending = 1;
	}
	*state = r;
	return 0;
fail:
	run_free(r);
	return rc;
}

static void utm_check_cancel(void *inst, struct mamori_run *run, void *state)
{
	(void)inst;
	(void)run;
	run_free(state);
}

static int utm_init(const struct mamori_host *host, const struct mamori_conf *conf, void **out)
{
	struct utm_inst *inst = calloc(1, sizeof *inst);
	(void)conf;
	*out = inst;
	if (!inst)
		return MAMORI_E_NOMEM;
	inst->host = host;
	if (!(inst->tls = netconn_ctxcache_new()))
		return MAMORI_E_NOMEM;
	return 0;
}

static void utm_destroy(void *inst)
{
	struct utm_inst *u = inst;
	if (!u)
		return;
	netconn_ctxcache_free(u->tls);
	free(u);
}

MAMORI_PLUGIN_DEFINE(.name = "utm", .version = "1.0",
                     .description = "UTM appliance: SNMP v2c/v3 health and HTTPS certificate",
                     .instance_keys = utm_instance_keys, .check_keys = utm_check_keys,
                     .init = utm_init, .destroy = utm_destroy, .check_prepare = utm_check_prepare,
                     .check_release = utm_check_release, .check_start = utm_check_start,
                     .check_cancel = utm_check_cancel);
