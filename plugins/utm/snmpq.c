/*
 * utm: SNMP v2c/v3 queries with Net-SNMP's asynchronous single-session API,
 * driven by the host loop (one io watcher on the session's UDP socket, one
 * timer for Net-SNMP's retransmissions and timeouts).
 *
 * A query is: one GET of the scalars, then a GETBULK walk of each column.
 * SNMPv3: snmp_sess_open would discover the engine ID with a blocking
 * synchronous probe, so sessions are opened with SNMP_FLAGS_DONT_PROBE and
 * the discovery is an asynchronous unauthenticated GET whose Report carries
 * the engine ID (RFC 3414 4.); the ID is kept in the check's conf for the
 * next runs.  The time window is learned from the first notInTimeWindow
 * Report, which Net-SNMP answers by resending by itself.
 *
 * Net-SNMP has process-global state (init_snmp, the USM user list):
 * initialised once under pthread_once, with config files, persistent
 * state, MIB loading and its logging off (we report errors ourselves).
 *
 * Never: close a session from inside a Net-SNMP callback (we set flags
 * and act when snmp_sess_read/timeout has returned), block, log secrets.
 */
#include "plugins/utm/utm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>
#include <openssl/crypto.h>

enum { Q_DISCOVER = 1, Q_GET, Q_WALK };
#define BULK_REPS 25

struct utm_snmp {
	const struct mamori_host *host;
	struct utm_snmp_conf *conf;
	const struct utm_request *req;
	struct utm_values *out;
	utm_snmp_cb cb;
	void *ud;
	void *sessp;
	int fd;
	struct mamori_io *io;
	struct mamori_timer *timer;
	int phase;
	size_t col;            /* column being walked */
	oid next[MAX_OID_LEN]; /* walk continues after this */
	size_t next_len;
	int finished, err, rediscover, retried;
	char msg[200];
};

static pthread_once_t snmp_once = PTHREAD_ONCE_INIT;

/* Net-SNMP global setup; process-wide by the library's design. */
static void snmp_global_init(void)
{
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_LOAD_HOST_FILES, 1);
	/* numeric OIDs only: no MIB files to parse */
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIBDIRS, "/nonexistent");
	/* silence: no MIB module lookups printed to the daemon's stderr */
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
	netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
	snmp_disable_log();
	netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_DEBUG);
	init_snmp("mamori");
}

void utm_snmp_conf_clear(struct utm_snmp_conf *c)
{
	if (c->community) {
		OPENSSL_cleanse(c->community, strlen(c->community));
		free(c->community);
	}
	OPENSSL_cleanse(c, sizeof *c);
}

static void auth_proto(int a, const oid **p, size_t *len)
{
	switch (a) {
	case UTM_AUTH_MD5:
		*p = usmHMACMD5AuthProtocol;
		*len = OID_LENGTH(usmHMACMD5AuthProtocol);
		break;
	case UTM_AUTH_SHA224:
		*p = usmHMAC128SHA224AuthProtocol;
		*len = OID_LENGTH(usmHMAC128SHA224AuthProtocol);
		break;
	case UTM_AUTH_SHA256:
		*p = usmHMAC192SHA256AuthProtocol;
		*len = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
		break;
	case UTM_AUTH_SHA384:
		*p = usmHMAC256SHA384AuthProtocol;
		*len = OID_LENGTH(usmHMAC256SHA384AuthProtocol);
		break;
	case UTM_AUTH_SHA512:
		*p = usmHMAC384SHA512AuthProtocol;
		*len = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
		break;
	default: *p = usmHMACSHA1AuthProtocol; *len = OID_LENGTH(usmHMACSHA1AuthProtocol);
	}
}

static void priv_proto(int a, const oid **p, size_t *len)
{
	switch (a) {
	case UTM_PRIV_DES:
		*p = usmDESPrivProtocol;
		*len = OID_LENGTH(usmDESPrivProtocol);
		break;
	case UTM_PRIV_AES192:
		*p = usmAES192PrivProtocol;
		*len = OID_LENGTH(usmAES192PrivProtocol);
		break;
	case UTM_PRIV_AES256:
		*p = usmAES256PrivProtocol;
		*len = OID_LENGTH(usmAES256PrivProtocol);
		break;
	default: *p = usmAESPrivProtocol; *len = OID_LENGTH(usmAESPrivProtocol);
	}
}

int utm_snmp_make_keys(struct utm_snmp_conf *c, const char *auth_pass, size_t auth_len,
                       const char *priv_pass, size_t priv_len, char *err, size_t errsize)
{
	const oid *ap;
	size_t aplen;
	pthread_once(&snmp_once, snmp_global_init);
	auth_proto(c->auth, &ap, &aplen);
	/* RFC 3414 says at least 8 characters; Net-SNMP refuses shorter */
	if (auth_len < 8 || (priv_pass && priv_len < 8)) {
		snprintf(err, errsize, "SNMPv3 passwords must have at least 8 characters");
		return MAMORI_E_INVAL;
	}
	c->auth_ku_len = sizeof c->auth_ku;
	if (generate_Ku(ap, (u_int)aplen, (const u_char *)auth_pass, auth_len, c->auth_ku,
	                &c->auth_ku_len) != SNMPERR_SUCCESS)
		goto fail;
	if (!priv_pass)
		return 0;
	/* the privacy key is derived with the authentication hash */
	c->priv_ku_len = sizeof c->priv_ku;
	if (generate_Ku(ap, (u_int)aplen, (const u_char *)priv_pass, priv_len, c->priv_ku,
	                &c->priv_ku_len) != SNMPERR_SUCCESS)
		goto fail;
	return 0;
fail:
	snprintf(err, errsize, "cannot derive SNMPv3 keys from the passwords");
	return MAMORI_E_INVAL;
}

static void q_done(struct utm_snmp *q, int err, const char *fmt, const char *detail)
{
	if (q->finished)
		return;
	q->finished = 1;
	q->err = err;
	snprintf(q->msg, sizeof q->msg, fmt, detail ? detail : "");
}

static int q_response(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic);

static void q_send(struct utm_snmp *q, netsnmp_pdu *pdu)
{
	if (!snmp_sess_async_send(q->sessp, pdu, q_response, q)) {
		int liberr = 0, syserr = 0;
		char *text = NULL;
		snmp_free_pdu(pdu);
		snmp_sess_error(q->sessp, &syserr, &liberr, &text);
		q_done(q, MAMORI_E_IO, "SNMP send failed: %s", text);
		free(text);
	}
}

/* Net-SNMP fills an unset PDU level from the session, except after an
 * engine ID change, where it kept the discovery's noAuth: be explicit. */
static void set_level(struct utm_snmp *q, netsnmp_pdu *pdu)
{
	if (q->conf->version == 3)
		pdu->securityLevel =
		    q->conf->priv ? SNMP_SEC_LEVEL_AUTHPRIV : SNMP_SEC_LEVEL_AUTHNOPRIV;
}

static void send_get(struct utm_snmp *q)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	set_level(q, pdu);
	q->phase = Q_GET;
	for (size_t i = 0; i < q->req->n_scalar; i++) {
		oid o[MAX_OID_LEN];
		const struct utm_oid *u = &q->req->scalar[i];
		for (size_t k = 0; k < u->len; k++)
			o[k] = u->arc[k];
		snmp_add_null_var(pdu, o, u->len);
	}
	q_send(q, pdu);
}

static void send_bulk(struct utm_snmp *q)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
	set_level(q, pdu);
	pdu->non_repeaters = 0;
	pdu->max_repetitions = BULK_REPS;
	snmp_add_null_var(pdu, q->next, q->next_len);
	q_send(q, pdu);
}

/* Walk the next column, or finish. */
static void walk_column(struct utm_snmp *q)
{
	const struct utm_oid *c;
	q->phase = Q_WALK;
	if (q->col >= q->req->n_column) {
		q_done(q, 0, "%s", "");
		return;
	}
	c = &q->req->column[q->col];
	for (size_t k = 0; k < c->len; k++)
		q->next[k] = c->arc[k];
	q->next_len = c->len;
	send_bulk(q);
}

/* Store one varbind; returns 0, or 1 for "no value" (noSuch*, endOfMib). */
static int vb_store(struct utm_snmp *q, const netsnmp_variable_list *v)
{
	struct utm_vb vb;
	memset(&vb, 0, sizeof vb);
	if (v->name_length > UTM_OID_MAX)
		return 1;
	for (size_t k = 0; k < v->name_length; k++)
		vb.oid.arc[k] = (uint32_t)v->name[k];
	vb.oid.len = v->name_length;
	switch (v->type) {
	case ASN_INTEGER:
		vb.type = UTM_V_NUM;
		vb.num = (double)*v->val.integer;
		break;
	case ASN_GAUGE:
	case ASN_COUNTER:
	case ASN_TIMETICKS:
		vb.type = UTM_V_NUM;
		vb.num = (double)(unsigned long)(*v->val.integer & 0xffffffffUL);
		break;
	case ASN_COUNTER64:
		vb.type = UTM_V_NUM;
		vb.num =
		    (double)v->val.counter64->high * 4294967296.0 + (double)v->val.counter64->low;
		break;
	case ASN_OCTET_STR:
		vb.type = UTM_V_STR;
		for (size_t k = 0; k < v->val_len && k < sizeof vb.str - 1; k++) {
			unsigned char ch = v->val.string[k];
			vb.str[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		break;
	case ASN_OBJECT_ID:
		vb.type = UTM_V_OID;
		for (size_t k = 0; k < v->val_len / sizeof(oid) && k < UTM_OID_MAX; k++)
			vb.oval.arc[vb.oval.len++] = (uint32_t)v->val.objid[k];
		break;
	default: /* noSuchObject, noSuchInstance, endOfMibView, others */ return 1;
	}
	if (utm_values_add(q->out, &vb) < 0)
		q_done(q, MAMORI_E_RANGE, "%s", "too many values in the answer");
	return 0;
}

static void on_walk(struct utm_snmp *q, netsnmp_pdu *pdu)
{
	const struct utm_oid *c = &q->req->column[q->col];
	oid col[MAX_OID_LEN];
	int more = 1;
	for (size_t k = 0; k < c->len; k++)
		col[k] = c->arc[k];
	for (netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
		/* left the column, end of the MIB, or an agent going backwards */
		if (v->type == SNMP_ENDOFMIBVIEW ||
		    snmp_oidtree_compare(col, c->len, v->name, v->name_length) != 0 ||
		    snmp_oid_compare(v->name, v->name_length, q->next, q->next_len) <= 0) {
			more = 0;
			break;
		}
		vb_store(q, v);
		memcpy(q->next, v->name, v->name_length * sizeof(oid));
		q->next_len = v->name_length;
	}
	if (q->finished)
		return;
	if (!pdu->variables)
		more = 0;
	if (more) {
		send_bulk(q);
	} else {
		q->col++;
		walk_column(q);
	}
}

static void on_report(struct utm_snmp *q, netsnmp_pdu *pdu)
{
	int type = pdu->command == SNMP_MSG_REPORT ? snmpv3_get_report_type(pdu) : 0;
	if (q->phase == Q_DISCOVER || (type == SNMPERR_UNKNOWN_ENG_ID && !q->retried)) {
		netsnmp_session *s = snmp_sess_session(q->sessp);
		if (!pdu->securityEngineIDLen ||
		    pdu->securityEngineIDLen > sizeof q->conf->engine_id) {
			q_done(q, MAMORI_E_IO, "%s", "SNMPv3 engine ID discovery failed");
			return;
		}
		memcpy(q->conf->engine_id, pdu->securityEngineID, pdu->securityEngineIDLen);
		q->conf->engine_id_len = pdu->securityEngineIDLen;
		/* changing the session's engine ID inside its callback is safe: it is
		 * only read when the next PDU is built */
		q->rediscover = 1;
		(void)s;
		return;
	}
	q_done(q, MAMORI_E_IO, "SNMPv3: %s", snmp_api_errstring(type));
}

static int q_response(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *magic)
{
	struct utm_snmp *q = magic;
	(void)s;
	(void)reqid;
	if (q->finished)
		return 1;
	if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
		q_done(q, MAMORI_E_TIMEOUT, "no SNMP answer from %s (timeout)", q->conf->peer);
		return 1;
	}
	if (op == NETSNMP_CALLBACK_OP_RESEND)
		return 1; /* informational: a retry went out */
	if (op == NETSNMP_CALLBACK_OP_SEC_ERROR) {
		q_done(q, MAMORI_E_IO, "%s", "SNMPv3 security error (keys or engine)");
		return 1;
	}
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu) {
		char why[48];
		snprintf(why, sizeof why, "SNMP transport error (%d)", op);
		q_done(q, MAMORI_E_IO, "%s", why);
		return 1;
	}
	if (pdu->command == SNMP_MSG_REPORT || q->phase == Q_DISCOVER) {
		/* Net-SNMP may itself resend the discovery GET with the engine ID
		 * from the Report, so the answer can also be a Response (an
		 * authorizationError for our unauthenticated GET): either way it
		 * carries the engine ID. */
		on_report(q, pdu);
	} else if (pdu->errstat != SNMP_ERR_NOERROR) {
		q_done(q, MAMORI_E_IO, "SNMP error: %s", snmp_errstring((int)pdu->errstat));
	} else if (q->phase == Q_GET) {
		for (netsnmp_variable_list *v = pdu->variables; v && !q->finished;
		     v = v->next_variable)
			vb_store(q, v);
		if (!q->finished)
			walk_column(q);
	} else if (q->phase == Q_WALK) {
		on_walk(q, pdu);
	} else {
		q_done(q, MAMORI_E_IO, "%s", "unexpected SNMP answer");
	}
	return 1;
}

static void set_engine(struct utm_snmp *q)
{
	netsnmp_session *s = snmp_sess_session(q->sessp);
	free(s->securityEngineID);
	s->securityEngineID = netsnmp_memdup(q->conf->engine_id, q->conf->engine_id_len);
	s->securityEngineIDLen = s->securityEngineID ? q->conf->engine_id_len : 0;
	/* The USM user list is process-global and keyed by (engine ID, name):
	 * drop an entry made by another check or an older config, so the
	 * keys used are this check's (a changed password takes effect). */
	{
		struct usmUser *u =
		    usm_get_user(s->securityEngineID, s->securityEngineIDLen, q->conf->user);
		if (u) {
			usm_remove_user(u);
			usm_free_user(u);
		}
	}
	/* localises the keys for this engine and registers the USM user */
	usm_create_user_from_session(s);
}

static void send_discovery(struct utm_snmp *q)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GET);
	q->phase = Q_DISCOVER;
	pdu->securityLevel = SNMP_SEC_LEVEL_NOAUTH; /* RFC 3414 discovery */
	q_send(q, pdu);
}

static void q_rearm(struct utm_snmp *q)
{
	int numfds = 0, block = 1;
	struct timeval tv = { 0, 0 };
	netsnmp_large_fd_set fs;
	netsnmp_large_fd_set_init(&fs, q->fd + 1);
	snmp_sess_select_info2(q->sessp, &numfds, &fs, &tv, &block);
	netsnmp_large_fd_set_cleanup(&fs);
	if (block)
		q->host->timer_stop(q->timer);
	else
		q->host->timer_start(q->timer, (double)tv.tv_sec + (double)tv.tv_usec / 1e6, 0);
}

static int q_reconnect(struct utm_snmp *q);

/* After Net-SNMP returned: act on flags set in callbacks, deliver. */
static void q_after(struct utm_snmp *q)
{
	if (!q->finished && q->rediscover) {
		q->rediscover = 0;
		q->retried = 1;
		if (q_reconnect(q) < 0)
			q_done(q, MAMORI_E_NOMEM, "%s", "out of memory");
	}
	if (q->finished) {
		if (q->io)
			q->host->io_set(q->io, 0);
		q->host->timer_stop(q->timer);
		q->cb(q, q->err, q->msg, q->ud); /* may free q */
		return;
	}
	q_rearm(q);
}

static void q_on_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct utm_snmp *q = ud;
	netsnmp_large_fd_set fs;
	(void)io;
	(void)revents;
	netsnmp_large_fd_set_init(&fs, fd + 1);
	NETSNMP_LARGE_FD_SET(fd, &fs);
	snmp_sess_read2(q->sessp, &fs);
	netsnmp_large_fd_set_cleanup(&fs);
	q_after(q);
}

static void q_on_timer(struct mamori_timer *t, void *ud)
{
	struct utm_snmp *q = ud;
	(void)t;
	if (!q->finished)
		snmp_sess_timeout(q->sessp);
	q_after(q);
}

static void *q_open(struct utm_snmp_conf *c, char *err, size_t errsize)
{
	netsnmp_session s;
	const oid *p;
	size_t plen;
	void *sessp;
	snmp_sess_init(&s);
	s.peername = c->peer;
	s.timeout = (long)(c->timeout * 1e6);
	s.retries = c->retries;
	if (c->version == 2) {
		s.version = SNMP_VERSION_2c;
		s.community = (u_char *)c->community;
		s.community_len = c->community ? strlen(c->community) : 0;
	} else {
		s.version = SNMP_VERSION_3;
		s.flags |= SNMP_FLAGS_DONT_PROBE; /* the probe would block */
		s.securityName = c->user;
		s.securityNameLen = strlen(c->user);
		s.securityModel = SNMP_SEC_MODEL_USM;
		s.securityLevel = c->priv ? SNMP_SEC_LEVEL_AUTHPRIV : SNMP_SEC_LEVEL_AUTHNOPRIV;
		auth_proto(c->auth, &p, &plen);
		s.securityAuthProto = (oid *)p;
		s.securityAuthProtoLen = plen;
		memcpy(s.securityAuthKey, c->auth_ku, c->auth_ku_len);
		s.securityAuthKeyLen = c->auth_ku_len;
		if (c->priv) {
			priv_proto(c->priv, &p, &plen);
			s.securityPrivProto = (oid *)p;
			s.securityPrivProtoLen = plen;
			memcpy(s.securityPrivKey, c->priv_ku, c->priv_ku_len);
			s.securityPrivKeyLen = c->priv_ku_len;
		}
	}
	sessp = snmp_sess_open(&s);
	OPENSSL_cleanse(s.securityAuthKey, sizeof s.securityAuthKey);
	OPENSSL_cleanse(s.securityPrivKey, sizeof s.securityPrivKey);
	if (!sessp) {
		char *text = NULL;
		snmp_error(&s, NULL, NULL, &text);
		snprintf(err, errsize, "cannot open SNMP session to %s: %s", c->peer,
		         text ? text : "?");
		free(text);
	}
	return sessp;
}

/* Open a session (with the learned engine ID, if any) and watch it; then
 * send the first PDU.  Returns 0, or MAMORI_E_NOMEM; an open failure is a
 * result (q_done), not an error. */
static int q_connect(struct utm_snmp *q)
{
	netsnmp_transport *t;
	char err[180];
	if (!(q->sessp = q_open(q->conf, err, sizeof err))) {
		/* e.g. no route for this address family */
		q_done(q, MAMORI_E_IO, "%s", err);
		return 0;
	}
	t = snmp_sess_transport(q->sessp);
	q->fd = t ? t->sock : -1;
	q->io = q->fd >= 0 ? q->host->io_new(q->fd, MAMORI_IO_READ, q_on_io, q) : NULL;
	if (!q->io)
		return MAMORI_E_NOMEM;
	if (q->conf->version == 3 && !q->conf->engine_id_len) {
		send_discovery(q);
	} else {
		if (q->conf->version == 3)
			set_engine(q);
		send_get(q);
	}
	return 0;
}

/* The discovery session has served: Net-SNMP may have attached state to
 * it (its own resend, a USM user made from its keys), so the real query
 * gets a fresh session that knows the engine ID from the start. */
static int q_reconnect(struct utm_snmp *q)
{
	q->host->io_free(q->io);
	q->io = NULL;
	snmp_sess_close(q->sessp);
	q->sessp = NULL;
	return q_connect(q);
}

int utm_snmp_start(const struct mamori_host *host, struct utm_snmp_conf *conf,
                   const struct utm_request *req, struct utm_values *out, utm_snmp_cb cb, void *ud,
                   struct utm_snmp **qout)
{
	struct utm_snmp *q;

	*qout = NULL;
	pthread_once(&snmp_once, snmp_global_init);
	if (!(q = calloc(1, sizeof *q)))
		return MAMORI_E_NOMEM;
	q->host = host;
	q->conf = conf;
	q->req = req;
	q->out = out;
	q->cb = cb;
	q->ud = ud;
	if (!(q->timer = host->timer_new(q_on_timer, q)) || q_connect(q) < 0) {
		utm_snmp_free(q);
		return MAMORI_E_NOMEM;
	}
	if (q->finished) /* never complete inside start */
		host->timer_start(q->timer, 0, 0);
	else
		q_rearm(q);
	*qout = q;
	return 0;
}

void utm_snmp_free(struct utm_snmp *q)
{
	if (!q)
		return;
	q->host->io_free(q->io);
	q->host->timer_free(q->timer);
	if (q->sessp)
		snmp_sess_close(q->sessp);
	free(q);
}
