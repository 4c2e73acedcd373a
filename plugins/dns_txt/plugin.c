/*
 * dns_txt: plugin ABI glue and configuration.
 *
 * Owns the key tables (documented in README.md), the instance (c-ares
 * options shared by its channels) and check_prepare, which turns a check
 * block into a dt_check: the name to query, a compiled regex, the channel
 * of its `server`.  All semantic checks of keys happen here, at config
 * load, so a run never meets a bad config.  Runs live in run.c.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_txt.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_TRIES      2

static const struct mamori_key instance_keys[] = {
	{ "query_timeout", MAMORI_KEY_DURATION, 0,
	  "c-ares timeout of one try (default 2s); the check's timeout still bounds the run",
	  NULL },
	{ "tries", MAMORI_KEY_INT, 0, "tries per server before a query times out (default 2)",
	  NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key check_keys[] = {
	{ "record", MAMORI_KEY_STRING, 0,
	  "owner name to query; the domain for spf/dmarc/dkim (default: the asset address)", NULL },
	{ "kind", MAMORI_KEY_STRING, 0,
	  "exists (default), equals, contains, regex, spf, dmarc, dkim", NULL },
	{ "expect", MAMORI_KEY_STRING, 0, "value for equals/contains, POSIX ERE for regex", NULL },
	{ "selector", MAMORI_KEY_STRING, 0, "DKIM selector (kind dkim)", NULL },
	{ "server", MAMORI_KEY_STRING, 0, "DNS server ip[:port] or [ipv6]:port (default: system)",
	  NULL },
	{ "on_change", MAMORI_KEY_STRING, 0,
	  "state when the content changes: ok, warning, critical (default warning, ok for "
	  "spf/dmarc/dkim)",
	  NULL },
	{ "dmarc_none", MAMORI_KEY_STRING, 0, "state for DMARC p=none (default warning)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const char *const kind_names[] = {
	[DT_EXISTS] = "exists", [DT_EQUALS] = "equals", [DT_CONTAINS] = "contains",
	[DT_REGEX] = "regex",   [DT_SPF] = "spf",       [DT_DMARC] = "dmarc",
	[DT_DKIM] = "dkim"
};

static int dt_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct dt_inst *in = calloc(1, sizeof(*in));
	double tmo = DEFAULT_TIMEOUT_MS / 1000.0;
	long long tries = DEFAULT_TRIES;

	*inst = in;
	if (!in)
		return MAMORI_E_NOMEM;
	in->host = host;
	if (host->conf_duration(conf, "query_timeout", &tmo) == MAMORI_E_TYPE ||
	    host->conf_int(conf, "tries", &tries) == MAMORI_E_TYPE)
		return MAMORI_E_CONFIG; /* the core validated types; defensive */
	if (tmo < 0.01 || tmo > 60)
		return host->conf_error(conf, "query_timeout", "query_timeout must be 10ms..60s");
	if (tries < 1 || tries > 10)
		return host->conf_error(conf, "tries", "tries must be 1..10");
	in->opts.timeout_ms = (int)(tmo * 1000 + 0.5);
	in->opts.tries = (int)tries;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return MAMORI_E_IO;
	in->ares_ready = 1;
	return 0;
}

static void dt_destroy(void *inst)
{
	struct dt_inst *in = inst;

	if (!in)
		return;
	dns_txt__chans_destroy(in);
	if (in->ares_ready)
		ares_library_cleanup();
	free(in);
}

static int state_parse(const char *s)
{
	if (strcasecmp(s, "ok") == 0)
		return MAMORI_OK;
	if (strcasecmp(s, "warning") == 0)
		return MAMORI_WARNING;
	if (strcasecmp(s, "critical") == 0)
		return MAMORI_CRITICAL;
	return -1;
}

/* A DNS name: 1..253 bytes, labels of 1..63 printable non-space bytes
 * (underscores allowed: _dmarc, selectors), one trailing dot allowed. */
static int name_ok(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (ch <= 0x20 || ch >= 0x7f || ch == '\\' || ++label > 63) {
			return 0;
		}
	}
	return label > 0;
}

/* "ip", "ip:port", "ipv6", "[ipv6]", "[ipv6]:port" -> "ip:port" / "[ipv6]:port".
 * Only addresses: naming the server by host name would need a resolver. */
static int server_parse(const char *s, char *out, size_t size)
{
	char host[64];
	const char *port = NULL, *end;
	unsigned char addr[16];
	long p = 53;
	int v6;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return -1;
		port = end[1] ? end + 2 : NULL;
		s++;
	} else {
		end = strchr(s, ':');
		if (end && strchr(end + 1, ':'))
			end = s + strlen(s); /* bare IPv6, no port */
		else if (end)
			port = end + 1;
		else
			end = s + strlen(s);
	}
	if ((size_t)(end - s) >= sizeof(host) || end == s)
		return -1;
	memcpy(host, s, (size_t)(end - s));
	host[end - s] = '\0';
	if (port) {
		char *e;

		p = strtol(port, &e, 10);
		if (*port == '\0' || *e || p < 1 || p > 65535)
			return -1;
	}
	v6 = inet_pton(AF_INET6, host, addr) == 1;
	if (!v6 && inet_pton(AF_INET, host, addr) != 1)
		return -1;
	snprintf(out, size, v6 ? "[%s]:%ld" : "%s:%ld", host, p);
	return 0;
}

static void check_free(struct dt_check *c)
{
	if (!c)
		return;
	dns_txt__chan_put(c->chan);
	if (c->re_ok)
		regfree(&c->re);
	dns_txt__set_clear(&c->last);
	free(c->qname);
	free(c->server);
	free(c->expect);
	free(c);
}

static int prep_kind(struct dt_check *c, const struct mamori_host *h,
                     const struct mamori_conf *conf)
{
	const char *kind = "exists", *expect = NULL;
	int need_expect, rc;

	h->conf_string(conf, "kind", &kind);
	for (c->kind = 0; c->kind <= DT_DKIM; c->kind++)
		if (strcmp(kind, kind_names[c->kind]) == 0)
			break;
	if (c->kind > DT_DKIM)
		return h->conf_error(conf, "kind",
		                     "unknown kind \"%s\" (exists, equals, contains, "
		                     "regex, spf, dmarc, dkim)",
		                     kind);
	h->conf_string(conf, "expect", &expect);
	need_expect = c->kind == DT_EQUALS || c->kind == DT_CONTAINS || c->kind == DT_REGEX;
	if (need_expect && !expect)
		return h->conf_error(conf, "kind", "kind %s needs `expect`", kind);
	if (!need_expect && expect)
		return h->conf_error(conf, "expect", "`expect` is not used by kind %s", kind);
	if (!expect)
		return 0;
	if (c->kind != DT_REGEX && expect[0] == '\0')
		return h->conf_error(conf, "expect", "`expect` is empty");
	c->expect = strdup(expect);
	if (!c->expect)
		return MAMORI_E_NOMEM;
	c->expect_len = strlen(expect);
	if (c->kind == DT_REGEX) {
		rc = regcomp(&c->re, expect, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];

			regerror(rc, &c->re, msg, sizeof(msg));
			return h->conf_error(conf, "expect", "bad regular expression: %s", msg);
		}
		c->re_ok = 1;
	}
	return 0;
}

/* The default record is the asset's address, or the asset's name for an
 * asset of type "domain" (whose name is its domain). */
static int prep_name(struct dt_check *c, const struct mamori_host *h,
                     const struct mamori_conf *conf)
{
	const struct mamori_check_info *ci = h->check_info(c->chk);
	const char *rec = ci && ci->address ? ci->address : "", *sel = NULL;
	size_t rn, need;

	if (!rec[0] && ci && ci->asset && ci->asset_type && strcmp(ci->asset_type, "domain") == 0)
		rec = ci->asset;

	h->conf_string(conf, "record", &rec);
	if (rec[0] == '\0')
		return h->conf_error(conf, "record",
		                     "`record` is required (the asset has no address)");
	if (!name_ok(rec))
		return h->conf_error(conf, "record", "`record` is not a valid DNS name");
	h->conf_string(conf, "selector", &sel);
	if (c->kind == DT_DKIM && !sel)
		return h->conf_error(conf, "kind", "kind dkim needs `selector`");
	if (c->kind != DT_DKIM && sel)
		return h->conf_error(conf, "selector", "`selector` is only used by kind dkim");
	rn = strlen(rec);
	if (rec[rn - 1] == '.')
		rn--;
	need = rn + (sel ? strlen(sel) : 0) + sizeof("._domainkey.") + sizeof("_dmarc.");
	c->qname = malloc(need);
	if (!c->qname)
		return MAMORI_E_NOMEM;
	if (c->kind == DT_DMARC)
		snprintf(c->qname, need, "_dmarc.%.*s", (int)rn, rec);
	else if (c->kind == DT_DKIM)
		snprintf(c->qname, need, "%s._domainkey.%.*s", sel, (int)rn, rec);
	else
		snprintf(c->qname, need, "%.*s", (int)rn, rec);
	if (!name_ok(c->qname))
		return h->conf_error(conf, sel ? "selector" : "record",
		                     "\"%s\" is not a valid DNS name", c->qname);
	return 0;
}

static int prep_states(struct dt_check *c, const struct mamori_host *h,
                       const struct mamori_conf *conf)
{
	const char *oc = NULL, *dn = NULL;

	c->on_change = c->kind >= DT_SPF ? MAMORI_OK : MAMORI_WARNING;
	c->dmarc_none = MAMORI_WARNING;
	h->conf_string(conf, "on_change", &oc);
	if (oc && (c->on_change = state_parse(oc)) < 0)
		return h->conf_error(conf, "on_change",
		                     "on_change must be ok, warning or critical");
	h->conf_string(conf, "dmarc_none", &dn);
	if (dn && c->kind != DT_DMARC)
		return h->conf_error(conf, "dmarc_none", "`dmarc_none` is only used by kind dmarc");
	if (dn && (c->dmarc_none = state_parse(dn)) < 0)
		return h->conf_error(conf, "dmarc_none",
		                     "dmarc_none must be ok, warning or critical");
	return 0;
}

static int prep_server(struct dt_check *c, const struct mamori_host *h,
                       const struct mamori_conf *conf)
{
	const char *srv = NULL;
	char canon[80];
	int rc;

	h->conf_string(conf, "server", &srv);
	if (srv) {
		if (server_parse(srv, canon, sizeof(canon)))
			return h->conf_error(conf, "server",
			                     "server must be an IP address with optional port "
			                     "(192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53)");
		c->server = strdup(canon);
		if (!c->server)
			return MAMORI_E_NOMEM;
	}
	rc = dns_txt__chan_get(c->in, c->server, &c->chan);
	if (rc)
		return h->conf_error(conf, srv ? "server" : "record",
		                     "cannot set up the resolver: %s", h->strerror(rc));
	return 0;
}

static int dt_check_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                            void **check_data)
{
	struct dt_inst *in = inst;
	const struct mamori_host *h = in->host;
	struct dt_check *c = calloc(1, sizeof(*c));
	int rc;

	*check_data = NULL;
	if (!c)
		return MAMORI_E_NOMEM;
	c->in = in;
	c->chk = chk;
	rc = prep_kind(c, h, conf);
	if (!rc)
		rc = prep_name(c, h, conf);
	if (!rc)
		rc = prep_states(c, h, conf);
	if (!rc)
		rc = prep_server(c, h, conf);
	if (rc) {
		check_free(c);
		return rc;
	}
	*check_data = c;
	return 0;
}

static void dt_check_release(void *inst, struct mamori_check *chk, void *check_data)
{
	(void)inst;
	(void)chk;
	check_free(check_data);
}

static int dt_check_start(void *inst, struct mamori_run *run, void *check_data, void **run_state)
{
	struct dt_run *r = NULL;
	int rc;

	(void)inst;
	rc = dns_txt__run_start(check_data, run, &r);
	*run_state = r;
	return rc;
}

static void dt_check_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	(void)inst;
	(void)run;
	dns_txt__run_cancel(run_state);
}

MAMORI_PLUGIN_DEFINE(.name = "dns_txt", .version = "1.0",
                     .description = "DNS TXT records: presence, content, SPF, DMARC, DKIM",
                     .instance_keys = instance_keys, .check_keys = check_keys, .init = dt_init,
                     .destroy = dt_destroy, .check_prepare = dt_check_prepare,
                     .check_release = dt_check_release, .check_start = dt_check_start,
                     .check_cancel = dt_check_cancel);
