/*
 * utm plugin, internal header: types shared by the plugin's files.
 *
 *   profile.c  vendor profile files (pure parsing, no SNMP library)
 *   judge.c    values -> state, output, perfdata (pure, no I/O)
 *   snmpq.c    Net-SNMP asynchronous queries on the host loop
 *   utm.c      plugin glue: config keys, runs, HTTPS via netconn
 *
 * profile.c and judge.c do not include Net-SNMP so unit tests compile them
 * directly; OIDs here are plain arrays of uint32_t arcs.
 */
#ifndef MAMORI_UTM_H
#define MAMORI_UTM_H

#include <stddef.h>
#include <stdint.h>
#include <mamori/plugin.h>

struct netconn_ctxcache;

#define UTM_OID_MAX 64

struct utm_oid {
	uint32_t arc[UTM_OID_MAX];
	size_t len;
};

/* ---- profiles ---- */

enum utm_method {
	UTM_M_GET = 1, /* get OID [UOM]          scalar value */
	UTM_M_AVG,     /* avg COLUMN             average over the rows */
	UTM_M_SUM,     /* sum COLUMN */
	UTM_M_MAX,     /* max COLUMN */
	UTM_M_PERCENT, /* percent USED TOTAL     100 * used / total (scalars) */
	UTM_M_STORAGE, /* hrstorage TYPE_OID     HOST-RESOURCES-MIB row of that type, % used */
};

struct utm_metric {
	char key[48]; /* "cpu", "memory", "sessions", "perf.<label>" */
	int method;   /* enum utm_method */
	struct utm_oid a, b;
	char uom[8];
};

#define UTM_METRICS_MAX 32
struct utm_profile {
	struct utm_metric m[UTM_METRICS_MAX];
	size_t n;
};

/* Parse profile text (NUL-terminated).  0 or MAMORI_E_INVAL with a message
 * naming the line in err. */
int utm_profile_parse(const char *text, struct utm_profile *p, char *err, size_t errsize);
/* Read and parse a profile file (max 64 KiB). */
int utm_profile_load(const char *path, struct utm_profile *p, char *err, size_t errsize);
/* Dotted numeric OID ("1.3.6.1..." or ".1.3..."); 0 or MAMORI_E_INVAL. */
int utm_oid_parse(const char *s, struct utm_oid *o);
int utm_oid_format(const struct utm_oid *o, char *buf, size_t size);
/* 1 if `o` is `prefix` or below it. */
int utm_oid_under(const struct utm_oid *o, const struct utm_oid *prefix);
const struct utm_metric *utm_profile_find(const struct utm_profile *p, const char *key);

/* ---- values read from the agent ---- */

enum utm_vtype { UTM_V_NUM = 1, UTM_V_OID, UTM_V_STR };

struct utm_vb {
	struct utm_oid oid;
	int type;            /* enum utm_vtype */
	double num;          /* NUM (integers, gauges, counters, timeticks) */
	struct utm_oid oval; /* OID */
	char str[64];        /* STR (truncated) */
};

struct utm_values {
	struct utm_vb *v;
	size_t n, cap;
};

int utm_values_add(struct utm_values *vs, const struct utm_vb *vb);
const struct utm_vb *utm_values_get(const struct utm_values *vs, const struct utm_oid *oid);
void utm_values_free(struct utm_values *vs);

/* OIDs to ask for: scalars (one GET) and columns (walked). */
#define UTM_REQ_MAX 48
struct utm_request {
	struct utm_oid scalar[UTM_REQ_MAX];
	size_t n_scalar;
	struct utm_oid column[UTM_REQ_MAX];
	size_t n_column;
};

/* Build the request for a profile, with interface columns if want_ifaces. */
int utm_request_build(const struct utm_profile *p, int want_ifaces, struct utm_request *req);

/* ---- judgement ---- */

struct utm_thresholds {
	struct mamori_range warn, crit;
};

struct utm_judge_in {
	const struct utm_profile *profile;
	const struct utm_values *values;
	const char *const *ifaces; /* names that must be up, "name" or "LABEL=name" */
	size_t n_ifaces;
	struct utm_thresholds cpu, memory, sessions;
	double now;           /* wall clock, seconds */
	double prev_uptime;   /* seconds, < 0: no previous check */
	double prev_check;    /* wall clock of the previous check */
	double reboot_window; /* WARNING while uptime < this (s); 0: off */
	/* the host's range helpers (so the judge is pure and testable) */
	int (*range_state)(const struct mamori_range *w, const struct mamori_range *c, double v);
};

#define UTM_PERF_MAX 40
struct utm_judge_out {
	int state;
	char output[512];
	char long_output[2048];
	struct mamori_perfdata perf[UTM_PERF_MAX];
	char perf_labels[UTM_PERF_MAX][48];
	size_t n_perf;
	double uptime; /* seconds, < 0 if not read */
};

void utm_judge(const struct utm_judge_in *in, struct utm_judge_out *out);
/* Worst of two Monitoring Plugins states (CRITICAL > WARNING > UNKNOWN > OK). */
int utm_state_worse(int a, int b);

/* ---- SNMP (snmpq.c, the only file that includes Net-SNMP) ---- */

enum utm_auth {
	UTM_AUTH_MD5 = 1,
	UTM_AUTH_SHA,
	UTM_AUTH_SHA224,
	UTM_AUTH_SHA256,
	UTM_AUTH_SHA384,
	UTM_AUTH_SHA512
};
enum utm_priv { UTM_PRIV_NONE = 0, UTM_PRIV_DES, UTM_PRIV_AES, UTM_PRIV_AES192, UTM_PRIV_AES256 };

struct utm_snmp_conf {
	int version;    /* 2 (v2c) or 3 */
	char peer[96];  /* "udp:192.0.2.1:161" / "udp6:[::1]:161" */
	double timeout; /* seconds per try */
	int retries;
	char *community;                        /* v2c, secret */
	char user[64];                          /* v3 */
	int auth, priv;                         /* enum utm_auth / utm_priv */
	unsigned char auth_ku[64], priv_ku[64]; /* password-derived keys (secret) */
	size_t auth_ku_len, priv_ku_len;
	/* learned: the agent's snmpEngineID (v3), kept between runs */
	unsigned char engine_id[64];
	size_t engine_id_len;
};

struct utm_snmp;
/* err: 0, MAMORI_E_TIMEOUT (no answer), MAMORI_E_IO (error answer, msg). */
typedef void (*utm_snmp_cb)(struct utm_snmp *q, int err, const char *msg, void *ud);

/* Make the v3 keys from passwords (expensive, ~1 MB of hashing each:
 * done once per check_prepare, not per run). */
int utm_snmp_make_keys(struct utm_snmp_conf *c, const char *auth_pass, size_t auth_len,
                       const char *priv_pass, size_t priv_len, char *err, size_t errsize);
/* Start the query; cb runs exactly once, later, unless utm_snmp_free. */
int utm_snmp_start(const struct mamori_host *host, struct utm_snmp_conf *conf,
                   const struct utm_request *req, struct utm_values *out, utm_snmp_cb cb, void *ud,
                   struct utm_snmp **qout);
void utm_snmp_free(struct utm_snmp *q);
/* Wipe and free the secrets of a conf. */
void utm_snmp_conf_clear(struct utm_snmp_conf *c);

/* ---- per-check data (conf.c parses it) ---- */

struct utm_https {
	char ip[64];
	unsigned port;
	char sni[256]; /* empty: none */
	char url[300];
	char *ca_file;
	int verify;
	long long warn_days, crit_days;
	double timeout;
};

struct utm_check {
	int has_snmp, has_https, running;
	struct utm_snmp_conf snmp;
	struct utm_profile profile;
	char profile_name[64];
	struct utm_request req;
	char **ifaces;
	size_t n_ifaces;
	struct utm_thresholds cpu, memory, sessions;
	double reboot_window;
	double prev_uptime, prev_check;
	struct utm_https https;
};

extern const struct mamori_key utm_instance_keys[];
extern const struct mamori_key utm_check_keys[];
int utm_check_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                      void **check_data);
void utm_check_release(void *inst, struct mamori_check *chk, void *check_data);
/* The plugin instance (utm.c). */
struct utm_inst {
	const struct mamori_host *host;
	struct netconn_ctxcache *tls; /* TLS contexts shared by this instance's https checks */
};

#endif
