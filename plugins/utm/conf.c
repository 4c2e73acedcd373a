/*
 * utm: config keys and check_prepare (parse, validate, load the profile,
 * read secrets, derive SNMPv3 keys once).
 *
 * The core has already rejected unknown keys and wrong types; this file
 * checks meaning (protocol names, ports, URL, IP literal) and reports with
 * host->conf_error so the message names file and line.  Secrets are read
 * with conf_secret, kept only as long as needed and wiped.
 */
#include "plugins/utm/utm.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct mamori_key range_keys[] = {
	{ "warning", MAMORI_KEY_RANGE, 0,
	  "WARNING range, Monitoring Plugins syntax (\"80\" = above 80)", NULL },
	{ "critical", MAMORI_KEY_RANGE, 0, "CRITICAL range, Monitoring Plugins syntax", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key snmp_keys[] = {
	{ "version", MAMORI_KEY_STRING, 0, "\"2c\" (default) or \"3\"", NULL },
	{ "port", MAMORI_KEY_INT, 0, "UDP port (default 161)", NULL },
	{ "community_file", MAMORI_KEY_FILE, 0, "v2c: file holding the community", NULL },
	{ "user", MAMORI_KEY_STRING, 0, "v3: USM user name", NULL },
	{ "auth_protocol", MAMORI_KEY_STRING, 0,
	  "v3: MD5, SHA (default), SHA-224, SHA-256, SHA-384, SHA-512", NULL },
	{ "auth_password_file", MAMORI_KEY_FILE, 0, "v3: file holding the auth password", NULL },
	{ "priv_protocol", MAMORI_KEY_STRING, 0, "v3: AES (default), AES-192, AES-256, DES, none",
	  NULL },
	{ "priv_password_file", MAMORI_KEY_FILE, 0, "v3: file holding the privacy password", NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, "per try (default 2s)", NULL },
	{ "retries", MAMORI_KEY_INT, 0, "retries after the first try (default 1)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key https_keys[] = {
	{ "url", MAMORI_KEY_STRING, 0, "https://HOST[:PORT]/ (default https://<address>/)", NULL },
	{ "ca_file", MAMORI_KEY_FILE, 0, "PEM trust anchors (pin a self-signed certificate)",
	  NULL },
	{ "verify", MAMORI_KEY_BOOL, 0, "untrusted certificate is CRITICAL (default true)", NULL },
	{ "warning_days", MAMORI_KEY_INT, 0, "WARNING when the certificate expires sooner (30)",
	  NULL },
	{ "critical_days", MAMORI_KEY_INT, 0, "CRITICAL when the certificate expires sooner (7)",
	  NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, "connect + handshake (default 10s)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

const struct mamori_key utm_instance_keys[] = { { NULL, 0, 0, NULL, NULL } };

const struct mamori_key utm_check_keys[] = {
	{ "snmp", MAMORI_KEY_GROUP, 0, "SNMP access (v2c or v3 authPriv)", snmp_keys },
	{ "profile", MAMORI_KEY_STRING, 0,
	  "vendor profile in share/mamori/profiles (default generic)", NULL },
	{ "interfaces", MAMORI_KEY_STRING_LIST, 0,
	  "interfaces that must be up: \"name\" or \"LABEL=name\"", NULL },
	{ "cpu", MAMORI_KEY_GROUP, 0, "CPU % thresholds (default 80/90)", range_keys },
	{ "memory", MAMORI_KEY_GROUP, 0, "memory % thresholds (default 80/90)", range_keys },
	{ "sessions", MAMORI_KEY_GROUP, 0, "session table thresholds (default none)", range_keys },
	{ "reboot_window", MAMORI_KEY_DURATION, 0,
	  "WARNING while uptime is below (default 30m, 0 off)", NULL },
	{ "https", MAMORI_KEY_GROUP, 0, "HTTPS management endpoint and its certificate",
	  https_keys },
	{ NULL, 0, 0, NULL, NULL },
};

static int is_ip(const char *s)
{
	unsigned char b[16];
	return s && (inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1);
}

static int is_ip6(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET6, s, b) == 1;
}

static void thresholds(const struct mamori_host *h, const struct mamori_conf *conf, const char *key,
                       const char *dw, const char *dc, struct utm_thresholds *t)
{
	const struct mamori_conf *g = NULL;
	memset(t, 0, sizeof *t);
	if (dw)
		h->range_parse(dw, &t->warn);
	if (dc)
		h->range_parse(dc, &t->crit);
	if (h->conf_group(conf, key, &g) == 0 && g) {
		h->conf_range(g, "warning", &t->warn);
		h->conf_range(g, "critical", &t->crit);
	}
}

static int pick(const char *s, const char *const *names, const int *vals, int *out)
{
	for (size_t i = 0; names[i]; i++)
		if (strcasecmp(s, names[i]) == 0)
			return *out = vals[i], 0;
	return -1;
}

static int secret(const struct mamori_host *h, const struct mamori_conf *g, const char *key,
                  char **out, size_t *len)
{
	int rc = h->conf_secret(g, key, out, len);
	if (rc == MAMORI_E_NOTFOUND)
		return h->conf_error(g, key, "%s is required", key);
	if (rc == MAMORI_E_CONFIG)
		return rc; /* the core said why (permissions, unreadable) */
	if (rc < 0)
		return h->conf_error(g, key, "cannot read %s", key);
	return 0;
}

static int snmp_v3(const struct mamori_host *h, const struct mamori_conf *g,
                   struct utm_snmp_conf *c)
{
	static const char *const an[] = { "MD5",     "SHA",     "SHA1",    "SHA-224",
		                          "SHA-256", "SHA-384", "SHA-512", NULL };
	static const int av[] = { UTM_AUTH_MD5,    UTM_AUTH_SHA,    UTM_AUTH_SHA,   UTM_AUTH_SHA224,
		                  UTM_AUTH_SHA256, UTM_AUTH_SHA384, UTM_AUTH_SHA512 };
	static const char *const pn[] = { "AES", "AES-128", "AES-192", "AES-256",
		                          "DES", "none",    NULL };
	static const int pv[] = { UTM_PRIV_AES,    UTM_PRIV_AES, UTM_PRIV_AES192,
		                  UTM_PRIV_AES256, UTM_PRIV_DES, UTM_PRIV_NONE };
	const char *user = NULL, *ap = "SHA", *pp = "AES";
	char *apw = NULL, *ppw = NULL, err[160];
	size_t alen = 0, plen = 0;
	int rc;

	if (h->conf_string(g, "user", &user) < 0 || !user || !*user ||
	    strlen(user) >= sizeof c->user)
		return h->conf_error(g, "user", "SNMPv3 needs a user (1..63 characters)");
	snprintf(c->user, sizeof c->user, "%s", user);
	h->conf_string(g, "auth_protocol", &ap);
	h->conf_string(g, "priv_protocol", &pp);
	if (pick(ap, an, av, &c->auth) < 0)
		return h->conf_error(g, "auth_protocol", "unknown auth_protocol '%s'", ap);
	if (pick(pp, pn, pv, &c->priv) < 0)
		return h->conf_error(g, "priv_protocol", "unknown priv_protocol '%s'", pp);
	if ((rc = secret(h, g, "auth_password_file", &apw, &alen)) < 0)
		return rc;
	if (c->priv && (rc = secret(h, g, "priv_password_file", &ppw, &plen)) < 0)
		goto out;
	rc = utm_snmp_make_keys(c, apw, alen, ppw, plen, err, sizeof err);
	if (rc < 0)
		rc = h->conf_error(g, "auth_password_file", "%s", err);
out:
	if (apw) {
		memset(apw, 0, alen);
		free(apw);
	}
	if (ppw) {
		memset(ppw, 0, plen);
		free(ppw);
	}
	return rc;
}

static int snmp_conf(const struct mamori_host *h, const struct mamori_conf *g, const char *addr,
                     struct utm_snmp_conf *c)
{
	const char *ver = "2c";
	long long port = 161, retries = 1;
	double timeout = 2.0;
	size_t len;

	h->conf_string(g, "version", &ver);
	h->conf_int(g, "port", &port);
	h->conf_int(g, "retries", &retries);
	h->conf_duration(g, "timeout", &timeout);
	if (port < 1 || port > 65535)
		return h->conf_error(g, "port", "port must be 1..65535");
	if (retries < 0 || retries > 5)
		return h->conf_error(g, "retries", "retries must be 0..5");
	if (timeout <= 0 || timeout > 60)
		return h->conf_error(g, "timeout", "timeout must be in (0, 60s]");
	c->timeout = timeout;
	c->retries = (int)retries;
	snprintf(c->peer, sizeof c->peer, is_ip6(addr) ? "udp6:[%s]:%lld" : "udp:%s:%lld", addr,
	         port);
	if (strcmp(ver, "2c") == 0 || strcmp(ver, "2") == 0) {
		c->version = 2;
		return secret(h, g, "community_file", &c->community, &len);
	}
	if (strcmp(ver, "3") == 0) {
		c->version = 3;
		return snmp_v3(h, g, c);
	}
	return h->conf_error(g, "version", "version must be \"2c\" or \"3\"");
}

/* https://HOST[:PORT][/...]; HOST an IP ([v6]) or a name (SNI, connect to addr). */
static int url_parse(const char *url, const char *addr, struct utm_https *hs, const char **why)
{
	const char *p, *end;
	char host[256];
	size_t hl;
	unsigned long port = 443;

	if (strncasecmp(url, "https://", 8) != 0)
		return *why = "url must start with https://", -1;
	p = url + 8;
	if (*p == '[') {
		if (!(end = strchr(p, ']')))
			return *why = "unterminated [IPv6] in url", -1;
		hl = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p + strcspn(p, ":/?#");
		hl = (size_t)(end - p);
	}
	if (hl == 0 || hl >= sizeof host)
		return *why = "url has no host", -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (*end == ':') {
		char *e;
		port = strtoul(end + 1, &e, 10);
		if (e == end + 1 || port == 0 || port > 65535 || (*e && !strchr("/?#", *e)))
			return *why = "bad port in url", -1;
	} else if (*end && !strchr("/?#", *end)) {
		return *why = "malformed url", -1;
	}
	hs->port = (unsigned)port;
	if (is_ip(host)) {
		snprintf(hs->ip, sizeof hs->ip, "%.63s", host);
		return 0;
	}
	for (const char *c = host; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
			return *why = "bad host name in url", -1;
	if (!is_ip(addr))
		return *why = "url names a host: the asset address must be its IP (no DNS lookups)",
		       -1;
	snprintf(hs->ip, sizeof hs->ip, "%s", addr);
	snprintf(hs->sni, sizeof hs->sni, "%s", host);
	return 0;
}

static int https_conf(const struct mamori_host *h, const struct mamori_conf *g, const char *addr,
                      struct utm_https *hs)
{
	const char *url = NULL, *ca = NULL, *why = NULL;
	int verify = 1;
	hs->warn_days = 30;
	hs->crit_days = 7;
	hs->timeout = 10;
	h->conf_string(g, "url", &url);
	h->conf_string(g, "ca_file", &ca);
	h->conf_bool(g, "verify", &verify);
	if (!verify)
		h->log(NULL, MAMORI_LOG_WARNING,
		       "utm: https.verify = false: an untrusted certificate or a wrong host name "
		       "is reported but does not make the check CRITICAL (insecure)");
	h->conf_int(g, "warning_days", &hs->warn_days);
	h->conf_int(g, "critical_days", &hs->crit_days);
	h->conf_duration(g, "timeout", &hs->timeout);
	hs->verify = verify;
	if (!url) {
		if (!is_ip(addr))
			return h->conf_error(g, "url", "no url and the asset address is not an IP");
		snprintf(hs->url, sizeof hs->url, is_ip6(addr) ? "https://[%s]/" : "https://%s/",
		         addr);
		url = hs->url;
	} else {
		snprintf(hs->url, sizeof hs->url, "%s", url);
	}
	if (url_parse(url, addr, hs, &why) < 0)
		return h->conf_error(g, "url", "%s", why);
	if (hs->warn_days < 0 || hs->crit_days < 0 || hs->crit_days > hs->warn_days)
		return h->conf_error(g, "critical_days", "need 0 <= critical_days <= warning_days");
	if (ca && !(hs->ca_file = strdup(ca)))
		return MAMORI_E_NOMEM;
	return 0;
}

static int profile_conf(const struct mamori_host *h, const struct mamori_conf *conf,
                        struct utm_check *chk)
{
	const char *name = "generic";
	char rel[128], path[4096], err[256];
	h->conf_string(conf, "profile", &name);
	if (!*name || strlen(name) >= sizeof chk->profile_name ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name))
		return h->conf_error(conf, "profile", "profile names are [a-z0-9_-]+");
	snprintf(chk->profile_name, sizeof chk->profile_name, "%s", name);
	snprintf(rel, sizeof rel, "profiles/%s.conf", name);
	if (h->data_path(rel, path, sizeof path) < 0)
		return h->conf_error(conf, "profile", "no profile '%s'", name);
	if (utm_profile_load(path, &chk->profile, err, sizeof err) < 0)
		return h->conf_error(conf, "profile", "profile '%s': %s", name, err);
	return 0;
}

static int ifaces_conf(const struct mamori_host *h, const struct mamori_conf *conf,
                       struct utm_check *chk)
{
	const char *s;
	size_t n = 0;
	while (h->conf_list_item(conf, "interfaces", n, &s) == 0)
		n++;
	if (!n)
		return 0;
	if (!(chk->ifaces = calloc(n, sizeof *chk->ifaces)))
		return MAMORI_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		h->conf_list_item(conf, "interfaces", i, &s);
		if (!*s || strlen(s) > 120)
			return h->conf_error(conf, "interfaces",
			                     "interface names are 1..120 characters");
		if (!(chk->ifaces[i] = strdup(s)))
			return MAMORI_E_NOMEM;
		chk->n_ifaces++;
	}
	return 0;
}

static int prepare(void *vinst, struct mamori_check *mchk, const struct mamori_conf *conf,
                   void **out)
{
	const struct mamori_host *h = ((struct utm_inst *)vinst)->host;
	const struct mamori_check_info *info = h->check_info(mchk);
	const char *addr = info && info->address ? info->address : "";
	const struct mamori_conf *g = NULL;
	struct utm_check *chk = calloc(1, sizeof *chk);
	int rc = MAMORI_E_NOMEM;

	*out = chk;
	if (!chk)
		return rc;
	chk->prev_uptime = -1;
	chk->reboot_window = 1800;
	h->conf_duration(conf, "reboot_window", &chk->reboot_window);
	thresholds(h, conf, "cpu", "80", "90", &chk->cpu);
	thresholds(h, conf, "memory", "80", "90", &chk->memory);
	thresholds(h, conf, "sessions", NULL, NULL, &chk->sessions);
	if ((rc = ifaces_conf(h, conf, chk)) < 0)
		return rc;
	if (h->conf_group(conf, "snmp", &g) == 0 && g) {
		chk->has_snmp = 1;
		if (!is_ip(addr))
			return h->conf_error(conf, "snmp",
			                     "the asset address '%s' must be an IP address "
			                     "(names would need a blocking lookup)",
			                     addr);
		if ((rc = snmp_conf(h, g, addr, &chk->snmp)) < 0 ||
		    (rc = profile_conf(h, conf, chk)) < 0)
			return rc;
		if (utm_request_build(&chk->profile, chk->n_ifaces > 0, &chk->req) < 0)
			return h->conf_error(conf, "profile", "profile asks for too many OIDs");
	} else if (chk->n_ifaces) {
		return h->conf_error(conf, "interfaces", "interfaces need an snmp block");
	}
	g = NULL;
	if (h->conf_group(conf, "https", &g) == 0 && g) {
		chk->has_https = 1;
		if ((rc = https_conf(h, g, addr, &chk->https)) < 0)
			return rc;
	}
	if (!chk->has_snmp && !chk->has_https)
		return h->conf_error(conf, "snmp",
		                     "a utm check needs an snmp and/or an https block");
	return 0;
}

/* On failure the half-built check is freed here and *out is NULL, so the
 * core may or may not call check_release for a refused check. */
int utm_check_prepare(void *vinst, struct mamori_check *mchk, const struct mamori_conf *conf,
                      void **out)
{
	int rc = prepare(vinst, mchk, conf, out);
	if (rc < 0) {
		utm_check_release(vinst, mchk, *out);
		*out = NULL;
	}
	return rc;
}

void utm_check_release(void *inst, struct mamori_check *mchk, void *data)
{
	struct utm_check *chk = data;
	(void)inst;
	(void)mchk;
	if (!chk)
		return;
	for (size_t i = 0; i < chk->n_ifaces; i++)
		free(chk->ifaces[i]);
	free(chk->ifaces);
	free(chk->https.ca_file);
	utm_snmp_conf_clear(&chk->snmp);
	free(chk);
}
