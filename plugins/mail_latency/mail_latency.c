/*
 * mail_latency: is mail getting through, and how fast?
 *
 * Probe mode (default) sends a tagged probe through an SMTP server and
 * polls an IMAP mailbox until it arrives (probe.c); queue mode reads a
 * Postfix queue with `postqueue -j` (queue.c).  This file owns the ABI
 * struct, the config keys (the contract documented in README.md and
 * etc/conf.d/mail_latency.conf.example), the instance (one libcurl multi
 * handle, curlloop.c) and each check's parsed config.  It never logs a
 * password: secrets come from host->conf_secret and are wiped on release.
 */
#include "ml.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* Upper bound of a run past lost_after: the last IMAP poll and the delete
 * (SEARCH, FETCH, STORE, EXPUNGE, 5 s each at most near the deadline). */
#define ML_TIMEOUT_SLACK 20.0

static const struct mamori_key smtp_keys[] = {
	{ "url", MAMORI_KEY_STRING, 0, "smtp://host:587 (STARTTLS) or smtps://host:465", NULL },
	{ "user", MAMORI_KEY_STRING, 0, "SMTP AUTH user", NULL },
	{ "password_file", MAMORI_KEY_FILE, 0, "file holding the SMTP AUTH password", NULL },
	{ "from", MAMORI_KEY_STRING, 0, "envelope and header sender of the probe", NULL },
	{ "to", MAMORI_KEY_STRING, 0, "recipient: the address the IMAP mailbox receives", NULL },
	{ "ca_file", MAMORI_KEY_STRING, 0, "CA bundle to verify the server (default: system)",
	  NULL },
	{ "starttls", MAMORI_KEY_BOOL, 0, "require STARTTLS on smtp:// (default true)", NULL },
	{ "tls_verify", MAMORI_KEY_BOOL, 0, "verify the certificate (default true)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key imap_keys[] = {
	{ "url", MAMORI_KEY_STRING, 0, "imap://host:143 (STARTTLS) or imaps://host:993", NULL },
	{ "user", MAMORI_KEY_STRING, 0, "IMAP login", NULL },
	{ "password_file", MAMORI_KEY_FILE, 0, "file holding the IMAP password", NULL },
	{ "mailbox", MAMORI_KEY_STRING, 0, "mailbox to poll (default INBOX)", NULL },
	{ "ca_file", MAMORI_KEY_STRING, 0, "CA bundle to verify the server (default: system)",
	  NULL },
	{ "starttls", MAMORI_KEY_BOOL, 0, "require STARTTLS on imap:// (default true)", NULL },
	{ "tls_verify", MAMORI_KEY_BOOL, 0, "verify the certificate (default true)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static const struct mamori_key check_keys[] = {
	{ "mode", MAMORI_KEY_STRING, 0, "\"probe\" (default) or \"queue\"", NULL },
	{ "smtp", MAMORI_KEY_GROUP, 0, "probe: where the probe is sent", smtp_keys },
	{ "imap", MAMORI_KEY_GROUP, 0, "probe: where the probe is looked for", imap_keys },
	{ "warning", MAMORI_KEY_DURATION, 0, "probe: latency (2m); queue: oldest age (30m)", NULL },
	{ "critical", MAMORI_KEY_DURATION, 0, "probe: latency (10m); queue: oldest age (2h)",
	  NULL },
	{ "lost_after", MAMORI_KEY_DURATION, 0, "probe: not delivered after this is CRITICAL (15m)",
	  NULL },
	{ "poll_interval", MAMORI_KEY_DURATION, 0, "probe: IMAP poll period (15s)", NULL },
	{ "queue_command", MAMORI_KEY_STRING, 0, "queue: command (default /usr/sbin/postqueue -j)",
	  NULL },
	{ "count_warning", MAMORI_KEY_INT, 0, "queue: WARNING above this many messages", NULL },
	{ "count_critical", MAMORI_KEY_INT, 0, "queue: CRITICAL above this many messages", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

struct mamori_range ml_upper(double limit)
{
	struct mamori_range r = { .start = 0, .end = limit, .set = 1 };
	return r;
}

static int ml_init(const struct mamori_host *host, const struct mamori_conf *conf, void **out)
{
	struct ml_inst *in = calloc(1, sizeof(*in));
	*out = in;
	if (!in)
		return MAMORI_E_NOMEM;
	in->host = host;
	/* Reference counted by libcurl; paired with curl_global_cleanup. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(in);
		*out = NULL;
		return MAMORI_E_NOMEM;
	}
	return (in->cl = curlloop_new(host)) ? 0 : MAMORI_E_NOMEM;
}

static void ml_destroy(void *inst)
{
	struct ml_inst *in = inst;
	if (!in)
		return;
	curlloop_free(in->cl);
	in->cl = NULL;
	free(in);
	curl_global_cleanup();
}

static void endpoint_free(struct ml_endpoint *ep)
{
	if (ep->password) {
		explicit_bzero(ep->password, strlen(ep->password));
		free(ep->password);
	}
	free(ep->url);
	free(ep->user);
	free(ep->ca_file);
	memset(ep, 0, sizeof(*ep));
}

static void check_free(struct ml_check *c)
{
	if (!c)
		return;
	endpoint_free(&c->smtp);
	endpoint_free(&c->imap);
	free(c->from);
	free(c->to);
	free(c->mailbox);
	if (c->argv)
		for (char **a = c->argv; *a; a++)
			free(*a);
	free(c->argv);
	free(c);
}

/* An optional string key, copied; 0, or an error from the host. */
static int opt_string(const struct mamori_host *h, const struct mamori_conf *g, const char *key,
                      const char *def, char **out)
{
	const char *s = def;
	int err = h->conf_string(g, key, &s);
	if (err && err != MAMORI_E_NOTFOUND)
		return err;
	if (s && !(*out = strdup(s)))
		return MAMORI_E_NOMEM;
	return 0;
}

static int endpoint_load(const struct mamori_host *h, const struct mamori_conf *conf,
                         const char *group, const char *const schemes[2], struct ml_endpoint *ep,
                         const struct mamori_conf **gout)
{
	const struct mamori_conf *g = NULL;
	int err;
	if (h->conf_group(conf, group, &g) != 0 || !g)
		return h->conf_error(conf, group, "probe mode needs a `%s` group", group);
	*gout = g;
	if ((err = opt_string(h, g, "url", NULL, &ep->url)) ||
	    (err = opt_string(h, g, "user", NULL, &ep->user)) ||
	    (err = opt_string(h, g, "ca_file", NULL, &ep->ca_file)))
		return err;
	if (!ep->url || (strncmp(ep->url, schemes[0], strlen(schemes[0])) &&
	                 strncmp(ep->url, schemes[1], strlen(schemes[1]))))
		return h->conf_error(g, "url", "%s.url must start with %s or %s", group, schemes[0],
		                     schemes[1]);
	size_t len = 0;
	err = h->conf_secret(g, "password_file", &ep->password, &len);
	if (err == MAMORI_E_CONFIG)
		return err; /* the core said why (permissions, unreadable) */
	if (err && err != MAMORI_E_NOTFOUND)
		return h->conf_error(g, "password_file", "cannot read %s.password_file", group);
	if (ep->user && !ep->password)
		return h->conf_error(g, "user", "%s.user needs %s.password_file", group, group);
	ep->starttls = 1;
	ep->verify = 1;
	h->conf_bool(g, "starttls", &ep->starttls);
	h->conf_bool(g, "tls_verify", &ep->verify);
	if (!ep->verify)
		h->log(NULL, MAMORI_LOG_WARNING,
		       "mail_latency: %s: tls_verify = false: the server's certificate and host "
		       "name are NOT verified (insecure)",
		       group);
	return 0;
}

/* An address we put into headers: no CR/LF/<>/spaces, one '@'. */
static int address_ok(const char *s)
{
	return s && strchr(s, '@') && !s[strcspn(s, "\r\n<> \t\"")];
}

static int prepare_probe(const struct mamori_host *h, struct ml_check *c,
                         const struct mamori_conf *conf)
{
	static const char *const smtp_schemes[2] = { "smtp://", "smtps://" };
	static const char *const imap_schemes[2] = { "imap://", "imaps://" };
	const struct mamori_conf *sg, *ig;
	int err;
	if ((err = endpoint_load(h, conf, "smtp", smtp_schemes, &c->smtp, &sg)) ||
	    (err = endpoint_load(h, conf, "imap", imap_schemes, &c->imap, &ig)))
		return err;
	if ((err = opt_string(h, sg, "from", NULL, &c->from)) ||
	    (err = opt_string(h, sg, "to", NULL, &c->to)) ||
	    (err = opt_string(h, ig, "mailbox", "INBOX", &c->mailbox)))
		return err;
	if (!address_ok(c->from))
		return h->conf_error(sg, "from", "smtp.from must be a plain address (user@domain)");
	if (!address_ok(c->to))
		return h->conf_error(sg, "to", "smtp.to must be a plain address (user@domain)");
	if (!c->mailbox[0])
		return h->conf_error(ig, "mailbox", "imap.mailbox is empty");
	return 0;
}

/* Split queue_command on blanks (no shell, no PATH search). */
static int prepare_queue(const struct mamori_host *h, struct ml_check *c,
                         const struct mamori_conf *conf)
{
	const char *cmd = "/usr/sbin/postqueue -j";
	int err = h->conf_string(conf, "queue_command", &cmd);
	if (err && err != MAMORI_E_NOTFOUND)
		return err;
	size_t n = 0, cap = 8;
	if (!(c->argv = calloc(cap, sizeof(char *))))
		return MAMORI_E_NOMEM;
	for (const char *p = cmd; *p;) {
		size_t w = strcspn(p, " \t");
		if (w) {
			if (n + 2 > cap) {
				char **a = realloc(c->argv, (cap *= 2) * sizeof(char *));
				if (!a)
					return MAMORI_E_NOMEM;
				c->argv = a;
			}
			if (!(c->argv[n++] = strndup(p, w)))
				return MAMORI_E_NOMEM;
			c->argv[n] = NULL;
		}
		p += w;
		p += strspn(p, " \t");
	}
	if (n == 0 || c->argv[0][0] != '/')
		return h->conf_error(conf, "queue_command",
		                     "queue_command must start with an absolute path");
	c->count_warning = c->count_critical = -1;
	h->conf_int(conf, "count_warning", &c->count_warning);
	h->conf_int(conf, "count_critical", &c->count_critical);
	return 0;
}

static int prepare_times(const struct mamori_host *h, struct ml_check *c,
                         const struct mamori_conf *conf, double timeout)
{
	int probe = c->mode == ML_PROBE;
	c->warning = probe ? 120 : 1800;
	c->critical = probe ? 600 : 7200;
	c->lost_after = 900;
	c->poll_interval = 15;
	h->conf_duration(conf, "warning", &c->warning);
	h->conf_duration(conf, "critical", &c->critical);
	h->conf_duration(conf, "lost_after", &c->lost_after);
	h->conf_duration(conf, "poll_interval", &c->poll_interval);
	if (c->warning < 0 || c->critical < c->warning)
		return h->conf_error(conf, "critical", "need 0 <= warning <= critical");
	if (!probe)
		return 0;
	if (c->lost_after <= 0 || c->critical > c->lost_after)
		return h->conf_error(conf, "lost_after", "lost_after must be > 0 and >= critical");
	if (c->poll_interval < 0.1 || c->poll_interval > c->lost_after)
		return h->conf_error(conf, "poll_interval",
		                     "poll_interval must be in 100ms..lost_after");
	if (timeout > 0 && timeout < c->lost_after + ML_TIMEOUT_SLACK)
		return h->conf_error(
		    conf, "lost_after",
		    "the check's timeout (%.0fs) must be at least lost_after + %.0fs: "
		    "set timeout = \"%.0fs\"",
		    timeout, ML_TIMEOUT_SLACK, c->lost_after + ML_TIMEOUT_SLACK);
	return 0;
}

static int ml_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **out)
{
	struct ml_inst *in = inst;
	const struct mamori_host *h = in->host;
	struct ml_check *c = calloc(1, sizeof(*c));
	const char *mode = "probe";
	int err = MAMORI_E_NOMEM;
	if (!c)
		return err;
	c->inst = in;
	c->chk = chk;
	const struct mamori_check_info *ci = h->check_info(chk);
	ml_check_id(ci ? ci->customer : "", ci ? ci->asset : "", ci ? ci->check : "", c->id);
	snprintf(c->name, sizeof(c->name), "%s/%s/%s", ci ? ci->customer : "?",
	         ci ? ci->asset : "?", ci ? ci->check : "?");
	if ((err = h->conf_string(conf, "mode", &mode)) && err != MAMORI_E_NOTFOUND)
		goto fail;
	if (!strcmp(mode, "probe"))
		c->mode = ML_PROBE;
	else if (!strcmp(mode, "queue"))
		c->mode = ML_QUEUE;
	else {
		err = h->conf_error(conf, "mode", "mode must be \"probe\" or \"queue\", not \"%s\"",
		                    mode);
		goto fail;
	}
	err = c->mode == ML_PROBE ? prepare_probe(h, c, conf) : prepare_queue(h, c, conf);
	if (err || (err = prepare_times(h, c, conf, ci ? ci->timeout : 0)))
		goto fail;
	*out = c;
	return 0;
fail:
	check_free(c);
	return err;
}

static void ml_release(void *inst, struct mamori_check *chk, void *check_data)
{
	check_free(check_data);
}

static int ml_start(void *inst, struct mamori_run *run, void *check_data, void **run_state)
{
	struct ml_check *c = check_data;
	return c->mode == ML_PROBE ? ml_probe_start(c, run, run_state)
	                           : ml_queue_start(c, run, run_state);
}

static void ml_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	if (!run_state)
		return;
	if (*(int *)run_state == ML_PROBE)
		ml_probe_cancel(run_state);
	else
		ml_queue_cancel(run_state);
}

MAMORI_PLUGIN_DEFINE(.name = "mail_latency", .version = "1.0",
                     .description =
                         "mail delivery latency (SMTP probe to IMAP) and Postfix queue age",
                     .check_keys = check_keys, .init = ml_init, .destroy = ml_destroy,
                     .check_prepare = ml_prepare, .check_release = ml_release,
                     .check_start = ml_start, .check_cancel = ml_cancel);
