/*
 * exec: run any Monitoring Plugins executable (check_tcp, check_http, a
 * vendor's script...) and turn its exit code and output into a result.
 *
 * The core does the process work (posix_spawn in a new process group,
 * timeout kill of the whole group, reaping, output capture); this plugin
 * never forks, waits or reads a pipe itself.  check_prepare does all the
 * checking that can be done once (argv split, macros, program exists and
 * is executable), so a run only expands macros and spawns.
 *
 * Result mapping, as Nagios does it:
 *   exit 0..3            -> that state, output parsed by host->output_parse
 *   other exit code      -> UNKNOWN "exit code N: <first line>"
 *   killed by a signal   -> UNKNOWN "killed by signal N (NAME)"
 *   timed out            -> UNKNOWN "timed out after Ns" (the core says the
 *                           same when its own run timeout fires first)
 *   cannot spawn         -> UNKNOWN "cannot run PATH: <strerror>"
 *   no output            -> "(no output)"
 */
#include "exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXEC_MAX_PERF         64
#define EXEC_MAX_OUTPUT_LIMIT (16u << 20) /* max_output above this is a typo */
#define EXEC_DEFAULT_PATH     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_DEFAULT_LANG     "LC_ALL=C.UTF-8" /* plugins print '.' decimals */

struct exec_inst {
	const struct mamori_host *host;
};

struct exec_check {
	struct exec_inst *inst;
	struct mamori_check *chk;
	struct exec_argv args;
	char **envp; /* NULL: the core's default environment */
	size_t n_env;
	size_t max_output; /* 0: the core's default */
};

struct exec_run {
	struct exec_check *ck;
	struct mamori_run *run;
	struct mamori_proc *proc;
	double timeout;
};

static const struct mamori_key exec_check_keys[] = {
	{ "command", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED,
	  "absolute path and arguments, sh-like quoting, macros like $HOSTADDRESS$", NULL },
	{ "env", MAMORI_KEY_STRING_LIST, 0, "extra environment, \"NAME=value\" each", NULL },
	{ "max_output", MAMORI_KEY_INT, 0, "bytes of output kept (default 64 KiB)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

static int exec_init(const struct mamori_host *host, const struct mamori_conf *conf, void **inst)
{
	struct exec_inst *in = calloc(1, sizeof(*in));
	if (!in)
		return MAMORI_E_NOMEM;
	in->host = host;
	*inst = in;
	return 0;
}

static void exec_destroy(void *inst)
{
	free(inst);
}

static void check_free(struct exec_check *ck)
{
	size_t i;
	if (!ck)
		return;
	exec_argv_free(&ck->args);
	for (i = 0; ck->envp && i < ck->n_env; i++)
		free(ck->envp[i]);
	free(ck->envp);
	free(ck);
}

/* argv[0] must be an absolute path to an executable regular file.  A stat
 * at config load is fine: it is local, and nowhere near a check run. */
static int check_program(const struct mamori_host *h, const struct mamori_conf *conf,
                         const char *path)
{
	struct stat st;
	if (path[0] != '/')
		return h->conf_error(conf, "command",
		                     "'%s' is not an absolute path (there is no PATH search)",
		                     path);
	if (stat(path, &st) != 0)
		return h->conf_error(conf, "command", "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return h->conf_error(conf, "command", "%s: not a regular file", path);
	if (access(path, X_OK) != 0)
		return h->conf_error(conf, "command", "%s: not executable: %s", path,
		                     strerror(errno));
	return 0;
}

static int env_valid(const char *s)
{
	const char *p = s;
	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
		return 0;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	       *p == '_')
		p++;
	return *p == '=';
}

static int env_has(char **envp, size_t n, const char *name_eq)
{
	size_t i, len = strlen(name_eq);
	for (i = 0; i < n; i++)
		if (strncmp(envp[i], name_eq, len) == 0)
			return 1;
	return 0;
}

/* The configured entries, plus PATH and LC_ALL unless they override them
 * (scripts call `grep`, and decimals must be printed with a '.'). */
static int prepare_env(struct exec_check *ck, const struct mamori_host *h,
                       const struct mamori_conf *conf)
{
	const char *item;
	size_t n = 0, i;

	while (h->conf_list_item(conf, "env", n, &item) == 0)
		n++;
	if (n == 0)
		return 0;
	ck->envp = calloc(n + 3, sizeof(char *));
	if (!ck->envp)
		return MAMORI_E_NOMEM;
	for (i = 0; i < n; i++) {
		if (h->conf_list_item(conf, "env", i, &item) != 0)
			return h->conf_error(conf, "env", "cannot read item %zu", i);
		if (!env_valid(item))
			return h->conf_error(conf, "env", "'%s' is not NAME=value", item);
		if (!(ck->envp[ck->n_env++] = strdup(item)))
			return MAMORI_E_NOMEM;
	}
	if (!env_has(ck->envp, n, "PATH=") && !(ck->envp[ck->n_env++] = strdup(EXEC_DEFAULT_PATH)))
		return MAMORI_E_NOMEM;
	if (!env_has(ck->envp, n, "LC_ALL=") &&
	    !(ck->envp[ck->n_env++] = strdup(EXEC_DEFAULT_LANG)))
		return MAMORI_E_NOMEM;
	return 0;
}

static int exec_check_prepare(void *inst, struct mamori_check *chk, const struct mamori_conf *conf,
                              void **check_data)
{
	struct exec_inst *in = inst;
	const struct mamori_host *h = in->host;
	struct exec_check *ck = calloc(1, sizeof(*ck));
	const char *cmd = NULL;
	long long max_output = 0;
	char err[256];
	int rc;

	if (!ck)
		return MAMORI_E_NOMEM;
	ck->inst = in;
	ck->chk = chk;
	if (h->conf_string(conf, "command", &cmd) != 0 || !cmd) {
		rc = h->conf_error(conf, "command", "a command is required");
		goto fail;
	}
	rc = exec_argv_parse(cmd, &ck->args, err, sizeof(err));
	if (rc == MAMORI_E_INVAL)
		rc = h->conf_error(conf, "command", "%s", err);
	if (rc != 0)
		goto fail;
	if ((rc = check_program(h, conf, ck->args.argv[0])) != 0)
		goto fail;
	if (h->conf_int(conf, "max_output", &max_output) == 0 &&
	    (max_output < 1 || max_output > EXEC_MAX_OUTPUT_LIMIT)) {
		rc =
		    h->conf_error(conf, "max_output", "must be 1..%u bytes", EXEC_MAX_OUTPUT_LIMIT);
		goto fail;
	}
	ck->max_output = (size_t)max_output;
	if ((rc = prepare_env(ck, h, conf)) != 0)
		goto fail;
	*check_data = ck;
	return 0;
fail:
	check_free(ck);
	return rc;
}

static void exec_check_release(void *inst, struct mamori_check *chk, void *check_data)
{
	check_free(check_data);
}

/* Nagios' "(No output returned from plugin)", shorter. */
static void fill_empty(struct mamori_result *res)
{
	if ((!res->output || !res->output[0]) && !res->long_output)
		res->output = "(no output)";
}

/* The child exited 0..3: its output is the result. */
static void result_normal(const struct mamori_host *h, char *text, int state,
                          struct mamori_result *res, struct mamori_perfdata *items)
{
	res->state = state;
	if (h->output_parse(text, res, items, EXEC_MAX_PERF) < 0) {
		res->output = text;
		res->perf = NULL;
		res->n_perf = 0;
	}
	fill_empty(res);
}

/* Anything else: UNKNOWN with a reason, then the plugin's first line. */
static void result_abnormal(const struct mamori_host *h, const struct exec_run *rs,
                            const struct mamori_proc_result *r, char *text,
                            struct mamori_result *res, struct mamori_perfdata *items, char *msg,
                            size_t msgsize)
{
	const char *hint = "";
	int n;

	if (r->timed_out)
		n = snprintf(msg, msgsize, "timed out after %gs", rs->timeout);
	else if (!r->exited)
		n = snprintf(msg, msgsize, "killed by signal %d (%s)", -r->status,
		             strsignal(-r->status));
	else {
		if (r->status == 126)
			hint = " (cannot execute: interpreter or permission problem?)";
		else if (r->status == 127)
			hint = " (command or interpreter not found?)";
		n = snprintf(msg, msgsize, "exit code %d%s", r->status, hint);
	}
	if (h->output_parse(text, res, items, EXEC_MAX_PERF) < 0)
		res->output = text;
	if (res->output && res->output[0] && n > 0 && (size_t)n < msgsize)
		snprintf(msg + n, msgsize - (size_t)n, ": %s", res->output);
	res->output = msg;
	res->state = MAMORI_UNKNOWN;
}

static void exec_on_proc(struct mamori_proc *p, const struct mamori_proc_result *r, void *ud)
{
	struct exec_run *rs = ud;
	const struct mamori_host *h = rs->ck->inst->host;
	struct mamori_perfdata items[EXEC_MAX_PERF];
	struct mamori_result res = { .struct_size = sizeof(res) };
	char msg[1024];
	char *text = malloc(r->output_len + 1);

	if (!text) {
		res.state = MAMORI_UNKNOWN;
		res.output = "out of memory reading plugin output";
		goto done;
	}
	memcpy(text, r->output ? r->output : "", r->output ? r->output_len : 0);
	text[r->output ? r->output_len : 0] = '\0';
	if (r->truncated)
		h->log(rs->ck->inst, MAMORI_LOG_DEBUG, "%s: output truncated",
		       rs->ck->args.argv[0]);
	if (r->exited && !r->timed_out && r->status >= 0 && r->status <= 3)
		result_normal(h, text, r->status, &res, items);
	else
		result_abnormal(h, rs, r, text, &res, items, msg, sizeof(msg));
done:
	h->run_complete(rs->run, &res);
	free(text);
	free(rs);
}

static int exec_check_start(void *inst, struct mamori_run *run, void *check_data, void **run_state)
{
	struct exec_inst *in = inst;
	const struct mamori_host *h = in->host;
	struct exec_check *ck = check_data;
	const struct mamori_check_info *info = h->check_info(ck->chk);
	struct exec_run *rs;
	char **argv = NULL;
	int rc;

	if (!info)
		return MAMORI_E_INVAL;
	if (!(rs = calloc(1, sizeof(*rs))))
		return MAMORI_E_NOMEM;
	rs->ck = ck;
	rs->run = run;
	rs->timeout = info->timeout;
	argv = exec_argv_expand(&ck->args, info);
	if (!argv) {
		free(rs);
		return MAMORI_E_NOMEM;
	}
	struct mamori_spawn req = {
		.struct_size = sizeof(req),
		.argv = (const char *const *)argv,
		.envp = (const char *const *)ck->envp,
		.timeout = rs->timeout,
		.max_output = ck->max_output,
		.merge_stderr = 1, /* Nagios shows stderr too; scripts' errors land there */
	};
	rc = h->proc_spawn(&req, exec_on_proc, rs, &rs->proc);
	int e = errno;
	free(argv); /* posix_spawn copied it */
	if (rc != 0) {
		/* Complete at once: "cannot run" says more than a bare error code. */
		char msg[512];
		struct mamori_result res = { .struct_size = sizeof(res), .state = MAMORI_UNKNOWN };
		snprintf(msg, sizeof(msg), "cannot run %s: %s", ck->args.argv[0],
		         rc == MAMORI_E_IO && e ? strerror(e) : h->strerror(rc));
		res.output = msg;
		free(rs);
		*run_state = NULL;
		h->run_complete(run, &res);
		return 0;
	}
	*run_state = rs;
	return 0;
}

static void exec_check_cancel(void *inst, struct mamori_run *run, void *run_state)
{
	struct exec_inst *in = inst;
	struct exec_run *rs = run_state;
	if (!rs)
		return;
	in->host->proc_kill(rs->proc);
	free(rs);
}

MAMORI_PLUGIN_DEFINE(.name = "exec", .version = "1.0",
                     .description = "run a Monitoring Plugins executable (check_tcp, ...)",
                     .check_keys = exec_check_keys, .init = exec_init, .destroy = exec_destroy,
                     .check_prepare = exec_check_prepare, .check_release = exec_check_release,
                     .check_start = exec_check_start, .check_cancel = exec_check_cancel);
