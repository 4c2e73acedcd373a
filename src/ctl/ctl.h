/*
 * ctl: mamorictl's shared declarations - the connection to mamorid's
 * HTTP API (client.c), what is printed and how (out.c: messages in
 * English or Japanese, escaping, local times, aligned tables), and the
 * commands (cmd_read.c, cmd_act.c) that mamorictl.c dispatches to.
 *
 * mamorictl is an HTTP client and nothing else: it never opens the
 * database nor links a module of the daemon but util (escaping, the JSON
 * gate, the secret-file rules).  Every string that came from the server is
 * printed through out_safe()/table cells, which escape it (util/esc.h):
 * agents and plugins write check outputs, and those must not drive the
 * operator's terminal.
 */
#ifndef MAMORI_CTL_H
#define MAMORI_CTL_H

#include <stddef.h>
#include <stdio.h>
#include <cJSON.h>

/* Exit codes (usage text and doc/mamorictl.md say the same). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,     /* the server refused (4xx but 404), or a failure here */
	EXIT_USAGE = 2,    /* bad command line */
	EXIT_CONNECT = 3,  /* cannot reach the server, or it failed (5xx) */
	EXIT_NOTFOUND = 4, /* 404: no such alert, downtime, user, ... */
};

#define CTL_DEFAULT_SOCKET "/run/mamori/api.sock"
#define CTL_PAGE_MAX       1000 /* the API's largest page */

/* Options of every command, parsed once in mamorictl.c; NULL / 0 when
 * not given. */
struct opts {
	const char *note, *request_id, *vendor, *planned_at, *result;
	const char *center, *customer, *status, *severity, *service, *due_before, *state;
	const char *start, *end, *comment, *role, *out, *user, *summary, *caller, *channel;
	const char *month, *lang, *format, *at;
	const char *centers[16];
	size_t n_centers;
	unsigned long limit; /* 0: the command's default */
	int problems, old, send;
};

struct ctl {
	const char *url;  /* base URL without a trailing '/' */
	const char *sock; /* UNIX socket path, or NULL */
	char *token;      /* bearer token, or NULL; never printed */
	size_t token_len;
	long timeout;        /* seconds, whole request */
	const char *ca_file; /* --ca-file / $MAMORI_CA_FILE, or NULL: the system's CAs */
	int json;            /* --json: the server's JSON, unchanged */
	int raw;             /* a 2xx answer is a document, not JSON (ctl_call keeps its bytes) */
	void *curl;          /* CURL * */
	struct opts o;
};

/* ---- client.c ---- */

/* A growing string (paths, bodies, response bytes). */
struct sb {
	char *p;
	size_t n, cap;
};
void sb_add(struct sb *b, const char *s, size_t n);
void sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sb *b);
/* Path segment / query value, percent-encoded.  sb_query starts with '?'
 * or '&' as needed; a NULL value adds nothing. */
void sb_seg(struct sb *b, const char *raw);
void sb_query(struct sb *b, const char *key, const char *val);

struct reply {
	long status;
	struct sb body;
	cJSON *doc; /* the parsed body (2xx JSON), or NULL */
};

/* Connect settings from options and the environment; reads the token
 * file (refused when others may read it).  EXIT_OK or an exit code with
 * the message printed. */
int ctl_open(struct ctl *c, const char *url, const char *sock, const char *token_file);
void ctl_close(struct ctl *c);
/* One request.  body: JSON text or NULL.  EXIT_OK with r->doc set for a
 * 2xx answer with a JSON body (or none: r->doc NULL); otherwise the
 * exit code, the message printed on stderr (and, with --json, the
 * server's error JSON on stdout).  Free r with reply_free either way. */
int ctl_call(struct ctl *c, const char *method, const char *path, const char *body,
             struct reply *r);
void reply_free(struct reply *r);
/* --json: print the body as it came (and a newline). */
void reply_print_raw(const struct reply *r);

/* ---- out.c ---- */

/* Pick the language from LC_ALL, LC_MESSAGES, LANG ("ja..." -> Japanese)
 * and a UTF-8 LC_CTYPE for the width of wide characters. */
void out_init(void);
int out_japanese(void);
/* The text in the reader's language: English or Japanese. */
const char *L(const char *en, const char *ja);
/* A status or severity word as people read it ("open" -> "未対応"). */
const char *out_word(const char *w);

/* s as it may be printed (escaped when needed; NULL -> "-"); valid until
 * 32 more calls. */
const char *out_safe(const char *s);
void out_free(void);
/* Display width of UTF-8 text (wcwidth per character). */
size_t out_width(const char *s);
/* An API time (RFC 3339 UTC, or null) in the local zone, "YYYY-MM-DD
 * HH:MM:SS"; "-" for null or garbage. */
const char *out_time(const cJSON *t, char *buf, size_t len);
/* Parse an API time; -1 when not one. */
int out_parse_time(const char *s, double *out);

/* JSON getters that tolerate absence: NULL / 0. */
const char *js(const cJSON *o, const char *key);
double jn(const cJSON *o, const char *key, double dflt);
int jb(const cJSON *o, const char *key);
const cJSON *jt(const cJSON *o, const char *key);

/* A table: header cells, then rows; printed with each column as wide as
 * its widest cell (display width), the last one not padded. */
struct table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, escaped */
};
void table_init(struct table *t, size_t ncols, ...);
/* ncols cells; NULL prints as "-"; every cell is escaped. */
void table_row(struct table *t, ...);
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);

/* ---- commands: cmd_read.c, cmd_act.c ---- */

int cmd_status(struct ctl *c);
int cmd_whoami(struct ctl *c);
int cmd_checks(struct ctl *c, const char *filter);
int cmd_alerts(struct ctl *c);
int cmd_alert(struct ctl *c, const char *id);
int cmd_sla(struct ctl *c);
int cmd_report(struct ctl *c);
int cmd_act(struct ctl *c, const char *action, const char *id);
int cmd_downtime(struct ctl *c, const char *sub, const char *arg);
int cmd_inquiry(struct ctl *c, const char *target);
int cmd_user(struct ctl *c, const char *sub, const char *name);
int cmd_token(struct ctl *c, const char *sub, const char *arg);
/* cmd_notify.c */
int cmd_oncall(struct ctl *c);
int cmd_notifications(struct ctl *c, const char *id);

/* A time from the command line as seconds since the epoch: RFC 3339,
 * seconds, "YYYY-MM-DD HH:MM[:SS]" in the local zone, or "+N[smhd]" from
 * now.  -1 with a message naming the option when it is none of these. */
int opt_time(const char *opt, const char *v, double *out);

#endif
