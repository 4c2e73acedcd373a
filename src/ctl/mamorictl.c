/*
 * mamorictl: the command-line client of mamorid's HTTP API.
 *
 * This file is the command line: options (one table for every command,
 * each command saying which it takes), the usage text, and dispatch to
 * the commands in cmd_read.c and cmd_act.c.  The connection is client.c,
 * what is printed out.c; doc/mamorictl.md is the manual.
 *
 * Exit status: 0 done, 1 the server refused (4xx but 404) or something
 * failed, 2 usage, 3 the server cannot be reached or failed (5xx), 4 not
 * found (404).
 * Must never: open the database (everything goes through the API); take
 * a password or a token on the command line (files, the terminal or
 * standard input only).
 */
#include "ctl/ctl.h"
#include "util/mem.h"

#include "buildcfg.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: mamorictl [--url URL | --socket PATH] [--token-file FILE] [--ca-file FILE] [--json]\n"
    "                 COMMAND ...\n"
    "\n"
    "Connection (default: $MAMORI_URL, else $MAMORI_SOCKET, else " CTL_DEFAULT_SOCKET "):\n"
    "  --url URL           mamorid's API, http://host:port or https://host:port\n"
    "  --socket PATH       mamorid's local UNIX socket (its user and root are admin there)\n"
    "  --token-file FILE   API token, not readable by others (default $MAMORI_TOKEN_FILE)\n"
    "  --timeout SECONDS   give up on a request after this long (default 60)\n"
    "  --ca-file FILE      CA certificates to verify an https:// server (default\n"
    "                      $MAMORI_CA_FILE, else the system's); TLS >= 1.2, the\n"
    "                      certificate and host name are always verified\n"
    "  --json              print the server's JSON unchanged (one document per page)\n"
    "\n"
    "Commands:\n"
    "  status                                   readiness, checks by state, open alerts\n"
    "  whoami                                   the user and role the API sees\n"
    "  checks [CUSTOMER[/ASSET]] [-p|--problems] [--state S] [--service S] [--limit N]\n"
    "  alerts [--center C] [--customer C] [--status S] [--severity S] [--service S]\n"
    "         [--due-before TIME] [--limit N]   newest first, 50 unless --limit\n"
    "  alert ID                                 one alert with its history\n"
    "  ack|unack|resolve|escalate|wait ID [--note TEXT] [--request-id R]\n"
    "  comment ID --note TEXT [--request-id R]\n"
    "  dispatch ID [--vendor V] [--planned-at TIME] [--result TEXT] [--note TEXT]\n"
    "  downtime list [--customer C]\n"
    "  downtime add CUSTOMER[/ASSET[/CHECK]] --end TIME --comment TEXT [--start TIME]\n"
    "  downtime del ID\n"
    "  user list | user del NAME\n"
    "  user add NAME --role admin|operator|viewer [--center C]... [--customer C]\n"
    "  user passwd NAME [--old]                 passwords: from the terminal or stdin\n"
    "  token list | token revoke ID\n"
    "  token create LABEL [--user NAME] [--role R] [--center C]... [--customer C] [--out FILE]\n"
    "  sla [--center C] [--customer C]\n"
    "  inquiry CUSTOMER[/ASSET] --summary TEXT [--caller WHO] [--channel phone|email|chat|\n"
    "          visit|other] [--severity warning|critical] [--service S] [--request-id R]\n"
    "                                           a call or a message becomes an alert\n"
    "  report --customer ID --month YYYY-MM [--lang ja|en] [--format html|pdf] [-o FILE]\n"
    "                                           the customer's monthly report (stdout\n"
    "                                           without -o; a PDF is not written to a terminal)\n"
    "  report --customer ID --month YYYY-MM --send [--lang ja|en]\n"
    "                                           mail that month's report to the customer's\n"
    "                                           report.email again\n"
    "  oncall [--at TIME] [--center C]          who is on call per schedule, until when\n"
    "  notifications ID                         an alert's notifications and attempts\n"
    "\n"
    "TIME: RFC 3339, seconds since the epoch, \"YYYY-MM-DD HH:MM\" (local time), or\n"
    "+30m, +2h, +1d from now.  Messages are Japanese when LC_ALL, LC_MESSAGES or LANG\n"
    "starts with \"ja\".\n"
    "\n"
    "Exit status: 0 done; 1 the server refused (4xx) or a failure; 2 usage; 3 cannot\n"
    "reach the server, or it failed (5xx); 4 not found (404).\n";

/* A usage error: the reason (printf-style; values through out_safe) and
 * a pointer to --help, or (NULL) the whole text. */
__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
	if (!fmt) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	va_list ap;
	va_start(ap, fmt);
	fputs("mamorictl: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n",
	        L("mamorictl: --help shows the usage", "mamorictl: 使い方は --help で"));
	return EXIT_USAGE;
}

enum {
	O_NOTE = 1u << 0,
	O_REQID = 1u << 1,
	O_VENDOR = 1u << 2,
	O_PLANNED = 1u << 3,
	O_RESULT = 1u << 4,
	O_CENTER = 1u << 5,
	O_CUSTOMER = 1u << 6,
	O_STATUS = 1u << 7,
	O_SEVERITY = 1u << 8,
	O_SERVICE = 1u << 9,
	O_DUE = 1u << 10,
	O_STATE = 1u << 11,
	O_LIMIT = 1u << 12,
	O_PROBLEMS = 1u << 13,
	O_START = 1u << 14,
	O_END = 1u << 15,
	O_COMMENT = 1u << 16,
	O_ROLE = 1u << 17,
	O_OUT = 1u << 18,
	O_OLD = 1u << 19,
	O_CENTERS = 1u << 20, /* --center, repeatable (users, tokens) */
	O_USER = 1u << 21, /* token create --user: the local administrator makes one for a user */
	O_SUMMARY = 1u << 22, /* inquiry */
	O_CALLER = 1u << 23,
	O_CHANNEL = 1u << 24,
	O_MONTH = 1u << 25,
	O_LANG = 1u << 26,
	O_FORMAT = 1u << 27,
	O_AT = 1u << 28,   /* oncall */
	O_SEND = 1u << 29, /* report --send */
};

/* long option value -> (bit, name): getopt's val is 256 + bit index */
static const struct option longopts[] = {
	{ "note", required_argument, NULL, 256 + 0 },
	{ "request-id", required_argument, NULL, 256 + 1 },
	{ "vendor", required_argument, NULL, 256 + 2 },
	{ "planned-at", required_argument, NULL, 256 + 3 },
	{ "result", required_argument, NULL, 256 + 4 },
	{ "center", required_argument, NULL, 256 + 5 },
	{ "customer", required_argument, NULL, 256 + 6 },
	{ "status", required_argument, NULL, 256 + 7 },
	{ "severity", required_argument, NULL, 256 + 8 },
	{ "service", required_argument, NULL, 256 + 9 },
	{ "due-before", required_argument, NULL, 256 + 10 },
	{ "state", required_argument, NULL, 256 + 11 },
	{ "limit", required_argument, NULL, 256 + 12 },
	{ "problems", no_argument, NULL, 'p' },
	{ "start", required_argument, NULL, 256 + 14 },
	{ "end", required_argument, NULL, 256 + 15 },
	{ "comment", required_argument, NULL, 256 + 16 },
	{ "role", required_argument, NULL, 256 + 17 },
	{ "out", required_argument, NULL, 256 + 18 },
	{ "old", no_argument, NULL, 256 + 19 },
	{ "user", required_argument, NULL, 256 + 21 },
	{ "summary", required_argument, NULL, 256 + 22 },
	{ "caller", required_argument, NULL, 256 + 23 },
	{ "channel", required_argument, NULL, 256 + 24 },
	{ "month", required_argument, NULL, 256 + 25 },
	{ "lang", required_argument, NULL, 256 + 26 },
	{ "format", required_argument, NULL, 256 + 27 },
	{ "at", required_argument, NULL, 256 + 28 },
	{ "send", no_argument, NULL, 256 + 29 },
	{ "url", required_argument, NULL, 'U' },
	{ "socket", required_argument, NULL, 'S' },
	{ "token-file", required_argument, NULL, 'T' },
	{ "timeout", required_argument, NULL, 't' },
	{ "ca-file", required_argument, NULL, 'A' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_name(unsigned bit)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val >= 256 && (1u << (o->val - 256)) == bit)
			return o->name;
	return bit == O_PROBLEMS ? "problems" : "?";
}

struct command {
	const char *name, *sub; /* sub: NULL, or the one word after name */
	int args;               /* positional arguments after them: 0, 1, or -1 for 0..1 */
	unsigned opts;          /* options it takes */
	unsigned need;          /* options it requires */
};

#define ACT_OPTS (O_NOTE | O_REQID)
static const struct command commands[] = {
	{ "status", NULL, 0, 0, 0 },
	{ "whoami", NULL, 0, 0, 0 },
	{ "checks", NULL, -1, O_SERVICE | O_STATE | O_LIMIT | O_PROBLEMS, 0 },
	{ "alerts", NULL, 0,
	  O_CENTER | O_CUSTOMER | O_STATUS | O_SEVERITY | O_SERVICE | O_DUE | O_LIMIT, 0 },
	{ "alert", NULL, 1, 0, 0 },
	{ "ack", NULL, 1, ACT_OPTS, 0 },
	{ "unack", NULL, 1, ACT_OPTS, 0 },
	{ "resolve", NULL, 1, ACT_OPTS, 0 },
	{ "escalate", NULL, 1, ACT_OPTS, 0 },
	{ "wait", NULL, 1, ACT_OPTS, 0 },
	{ "comment", NULL, 1, ACT_OPTS, O_NOTE },
	{ "dispatch", NULL, 1, ACT_OPTS | O_VENDOR | O_PLANNED | O_RESULT, 0 },
	{ "downtime", "list", 0, O_CUSTOMER, 0 },
	{ "downtime", "add", 1, O_START | O_END | O_COMMENT | O_REQID, O_END | O_COMMENT },
	{ "downtime", "del", 1, 0, 0 },
	{ "user", "list", 0, 0, 0 },
	{ "user", "add", 1, O_ROLE | O_CENTERS | O_CUSTOMER, O_ROLE },
	{ "user", "passwd", 1, O_OLD, 0 },
	{ "user", "del", 1, 0, 0 },
	{ "token", "list", 0, 0, 0 },
	{ "token", "create", 1, O_ROLE | O_CENTERS | O_CUSTOMER | O_OUT | O_USER, 0 },
	{ "token", "revoke", 1, 0, 0 },
	{ "sla", NULL, 0, O_CENTER | O_CUSTOMER, 0 },
	{ "inquiry", NULL, 1,
	  O_SUMMARY | O_CALLER | O_CHANNEL | O_SEVERITY | O_SERVICE | O_REQID | O_NOTE, O_SUMMARY },
	{ "report", NULL, 0, O_CUSTOMER | O_MONTH | O_LANG | O_FORMAT | O_OUT | O_SEND,
	  O_CUSTOMER | O_MONTH },
	{ "oncall", NULL, 0, O_CENTER | O_AT, 0 },
	{ "notifications", NULL, 1, 0, 0 },
};

static int one_of(const char *v, const char *const *ok)
{
	for (; *ok; ok++)
		if (strcmp(v, *ok) == 0)
			return 1;
	return 0;
}

/* Values the API takes from a fixed set: refused here as usage errors. */
static int check_values(const struct opts *o)
{
	static const char *const status[] = { "open", "acknowledged", "resolved", "unresolved",
		                              NULL };
	static const char *const severity[] = { "warning", "critical", "unknown", NULL };
	static const char *const state[] = { "ok", "warning", "critical", "unknown", NULL };
	static const char *const role[] = { "admin", "operator", "viewer", NULL };
	static const char *const lang[] = { "ja", "en", NULL };
	static const char *const format[] = { "html", "pdf", NULL };
	if (o->lang && !one_of(o->lang, lang))
		return usage("--lang must be ja or en, not '%s'", out_safe(o->lang));
	if (o->format && !one_of(o->format, format))
		return usage("--format must be html or pdf, not '%s'", out_safe(o->format));
	if (o->month) {
		const char *s = o->month;
		int ok = strlen(s) == 7 && s[4] == '-';
		for (int i = 0; ok && i < 7; i++)
			ok = i == 4 || (s[i] >= '0' && s[i] <= '9');
		if (!ok || atoi(s + 5) < 1 || atoi(s + 5) > 12)
			return usage("--month must be YYYY-MM, not '%s'", out_safe(s));
	}
	if (o->status && !one_of(o->status, status))
		return usage(
		    "--status must be open, acknowledged, resolved or unresolved, not '%s'",
		    out_safe(o->status));
	if (o->severity && !one_of(o->severity, severity))
		return usage("--severity must be warning, critical or unknown, not '%s'",
		             out_safe(o->severity));
	if (o->state && !one_of(o->state, state))
		return usage("--state must be ok, warning, critical or unknown, not '%s'",
		             out_safe(o->state));
	if (o->role && !one_of(o->role, role))
		return usage("--role must be admin, operator or viewer, not '%s'",
		             out_safe(o->role));
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	out_init();
	struct ctl c = { .timeout = 60 };
	struct opts *o = &c.o;
	const char *url = NULL, *sock = NULL, *token_file = NULL;
	unsigned given = 0;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":phVo:", longopts, NULL)) != -1) {
		if (ch >= 256) {
			unsigned bit = 1u << (ch - 256);
			if (bit == O_CENTER) {
				if (o->n_centers == ARRAY_LEN(o->centers))
					return usage("too many --center");
				o->centers[o->n_centers++] = optarg;
				if (o->n_centers > 1)
					given |= O_CENTERS;
			}
			given |= bit;
		}
		switch (ch) {
		case 256 + 0: o->note = optarg; break;
		case 256 + 1: o->request_id = optarg; break;
		case 256 + 2: o->vendor = optarg; break;
		case 256 + 3: o->planned_at = optarg; break;
		case 256 + 4: o->result = optarg; break;
		case 256 + 5: o->center = optarg; break;
		case 256 + 6: o->customer = optarg; break;
		case 256 + 7: o->status = optarg; break;
		case 256 + 8: o->severity = optarg; break;
		case 256 + 9: o->service = optarg; break;
		case 256 + 10: o->due_before = optarg; break;
		case 256 + 11: o->state = optarg; break;
		case 256 + 12: {
			char *e = NULL;
			o->limit = strtoul(optarg, &e, 10);
			if (!*optarg || *e || optarg[0] == '-' || o->limit == 0 ||
			    o->limit > 10000000)
				return usage("--limit must be a positive number, not '%s'",
				             out_safe(optarg));
			break;
		}
		case 256 + 14: o->start = optarg; break;
		case 256 + 15: o->end = optarg; break;
		case 256 + 16: o->comment = optarg; break;
		case 256 + 17: o->role = optarg; break;
		case 256 + 18: o->out = optarg; break;
		case 256 + 21: o->user = optarg; break;
		case 256 + 22: o->summary = optarg; break;
		case 256 + 23: o->caller = optarg; break;
		case 256 + 24: o->channel = optarg; break;
		case 256 + 25: o->month = optarg; break;
		case 256 + 26: o->lang = optarg; break;
		case 256 + 27: o->format = optarg; break;
		case 256 + 28: o->at = optarg; break;
		case 256 + 29: o->send = 1; break;
		case 'o':
			o->out = optarg;
			given |= O_OUT;
			break;
		case 256 + 19: o->old = 1; break;
		case 'p':
			o->problems = 1;
			given |= O_PROBLEMS;
			break;
		case 'U': url = optarg; break;
		case 'S': sock = optarg; break;
		case 'T': token_file = optarg; break;
		case 'A': c.ca_file = optarg; break;
		case 't': {
			char *e = NULL;
			c.timeout = strtol(optarg, &e, 10);
			if (!*optarg || *e || c.timeout < 1 || c.timeout > 86400)
				return usage("--timeout must be 1..86400 seconds, not '%s'",
				             out_safe(optarg));
			break;
		}
		case 'j': c.json = 1; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case 'V': printf("mamorictl %s\n", MAMORI_VERSION); return EXIT_OK;
		case ':': return usage("%s needs a value", out_safe(argv[optind - 1]));
		default: return usage("unknown option %s", out_safe(argv[optind - 1]));
		}
	}
	if (url && sock)
		return usage("--url and --socket exclude each other");
	/* the command */
	if (optind >= argc)
		return usage(NULL);
	const char *name = argv[optind++];
	const struct command *cmd = NULL;
	int known = 0;
	for (size_t i = 0; i < ARRAY_LEN(commands) && !cmd; i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		known = 1;
		if (!commands[i].sub ||
		    (optind < argc && strcmp(commands[i].sub, argv[optind]) == 0))
			cmd = &commands[i];
	}
	if (!cmd)
		return known ? usage("%s: unknown or missing subcommand", out_safe(name))
		             : usage("unknown command '%s'", out_safe(name));
	if (cmd->sub)
		optind++;
	int nargs = argc - optind;
	const char *arg = nargs > 0 ? argv[optind] : NULL;
	if ((cmd->args == 0 && nargs != 0) || (cmd->args == 1 && nargs != 1) ||
	    (cmd->args == -1 && nargs > 1))
		return usage(nargs ? "%s: too many arguments" : "%s: missing argument",
		             out_safe(name));
	unsigned allowed = cmd->opts;
	if (allowed & O_CENTERS)
		allowed |= O_CENTER;
	unsigned extra = given & ~allowed;
	if (extra) {
		unsigned bit = extra & -extra;
		if (bit == O_CENTERS)
			return usage("%s: only one --center", name);
		return usage("%s does not take --%s", out_safe(name), opt_name(bit));
	}
	unsigned missing = cmd->need & ~given;
	if (missing) {
		return usage("%s needs --%s", out_safe(name), opt_name(missing & -missing));
	}
	if (check_values(o) != EXIT_OK)
		return EXIT_USAGE;
	if (arg && !*arg)
		return usage("%s: an empty argument", out_safe(name));

	int rc = ctl_open(&c, url, sock, token_file);
	if (rc == EXIT_OK) {
		if (strcmp(name, "status") == 0)
			rc = cmd_status(&c);
		else if (strcmp(name, "whoami") == 0)
			rc = cmd_whoami(&c);
		else if (strcmp(name, "checks") == 0)
			rc = cmd_checks(&c, arg);
		else if (strcmp(name, "alerts") == 0)
			rc = cmd_alerts(&c);
		else if (strcmp(name, "alert") == 0)
			rc = cmd_alert(&c, arg);
		else if (strcmp(name, "sla") == 0)
			rc = cmd_sla(&c);
		else if (strcmp(name, "report") == 0)
			rc = cmd_report(&c);
		else if (strcmp(name, "oncall") == 0)
			rc = cmd_oncall(&c);
		else if (strcmp(name, "notifications") == 0)
			rc = cmd_notifications(&c, arg);
		else if (strcmp(name, "downtime") == 0)
			rc = cmd_downtime(&c, cmd->sub, arg);
		else if (strcmp(name, "user") == 0)
			rc = cmd_user(&c, cmd->sub, arg);
		else if (strcmp(name, "token") == 0)
			rc = cmd_token(&c, cmd->sub, arg);
		else if (strcmp(name, "inquiry") == 0)
			rc = cmd_inquiry(&c, arg);
		else
			rc = cmd_act(&c, name, arg);
	}
	ctl_close(&c);
	out_free();
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = EXIT_FAIL;
	return rc;
}
