/*
 * exec: turn the `command` string into an argv template, and a template
 * plus a check's facts into the argv of one run.
 *
 * No shell is ever run, so this file refuses everything a user would
 * expect a shell to do (pipes, redirections, `;`, `&`, backquotes, $(...),
 * $VARIABLES) with a message saying so, instead of passing the characters
 * to the program and letting the check fail in a confusing way.
 * Quoting follows sh: 'single' is literal, "double" honours \" \\ \$ \`,
 * a backslash outside quotes escapes the next character.  Macros are
 * Nagios-style and, as in Nagios, expanded inside any quotes; `$$` is a
 * literal dollar.
 */
#include "exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const macro_names[EXEC_M_COUNT] = {
	[EXEC_M_HOSTADDRESS] = "HOSTADDRESS",   [EXEC_M_HOSTNAME] = "HOSTNAME",
	[EXEC_M_SERVICEDESC] = "SERVICEDESC",   [EXEC_M_CUSTOMER] = "CUSTOMER",
	[EXEC_M_CUSTOMERNAME] = "CUSTOMERNAME", [EXEC_M_REGION] = "REGION",
};

/* Characters a shell would act on outside quotes. */
#define SHELL_META "|;&<>()`"

struct lexer {
	const char *p;
	char *w; /* write position in the store */
	int has_macros;
	char *err;
	size_t errsize;
};

static int lex_error(struct lexer *lx, const char *fmt, const char *arg)
{
	snprintf(lx->err, lx->errsize, fmt, arg);
	return MAMORI_E_INVAL;
}

/* At a '$': store "$$" or '$' + macro digit, advance past the macro. */
static int lex_macro(struct lexer *lx)
{
	const char *name = lx->p + 1, *end = name;
	size_t len;
	int i;

	if (*name == '$') {
		*lx->w++ = '$';
		*lx->w++ = '$';
		lx->p += 2;
		return 0;
	}
	if (*name == '(' || *name == '{')
		return lex_error(lx, "'$%.1s' is shell syntax, but no shell runs the command",
		                 name);
	while ((*end >= 'A' && *end <= 'Z') || (*end >= '0' && *end <= '9') || *end == '_')
		end++;
	len = (size_t)(end - name);
	if (*end != '$' || len == 0)
		return lex_error(lx,
		                 "'$%.20s' is not a macro: no shell expands variables "
		                 "(write $$ for a literal $)",
		                 name);
	for (i = 0; i < EXEC_M_COUNT; i++)
		if (strlen(macro_names[i]) == len && memcmp(macro_names[i], name, len) == 0)
			break;
	if (i == EXEC_M_COUNT) {
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < 40 ? len : 40), name);
		return lex_error(
		    lx,
		    "unknown macro $%s$ (known: $HOSTADDRESS$ $HOSTNAME$ $SERVICEDESC$ "
		    "$CUSTOMER$ $CUSTOMERNAME$ $REGION$ $$)",
		    tmp);
	}
	*lx->w++ = '$';
	*lx->w++ = (char)('0' + i);
	lx->has_macros = 1;
	lx->p = end + 1;
	return 0;
}

/* Inside "...": lx->p is after the opening quote. */
static int lex_double(struct lexer *lx)
{
	for (;;) {
		char c = *lx->p;
		if (c == '\0')
			return lex_error(lx, "unbalanced double quote%s", "");
		if (c == '"') {
			lx->p++;
			return 0;
		}
		if (c == '`')
			return lex_error(lx, "'%s' is shell syntax, but no shell runs the command",
			                 "`");
		if (c == '$') {
			if (lex_macro(lx) != 0)
				return MAMORI_E_INVAL;
			continue;
		}
		if (c == '\\' && lx->p[1] == '$') {
			*lx->w++ = '$'; /* a literal dollar: stored escaped */
			*lx->w++ = '$';
			lx->p += 2;
			continue;
		}
		if (c == '\\' && (lx->p[1] == '"' || lx->p[1] == '\\' || lx->p[1] == '`'))
			lx->p++;
		*lx->w++ = *lx->p++;
	}
}

/* Inside '...': literal except macros (Nagios expands them everywhere). */
static int lex_single(struct lexer *lx)
{
	for (;;) {
		char c = *lx->p;
		if (c == '\0')
			return lex_error(lx, "unbalanced single quote%s", "");
		if (c == '\'') {
			lx->p++;
			return 0;
		}
		if (c == '$') {
			if (lex_macro(lx) != 0)
				return MAMORI_E_INVAL;
			continue;
		}
		*lx->w++ = *lx->p++;
	}
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One unquoted step of a word; returns 1 at the end of the word. */
static int lex_step(struct lexer *lx)
{
	char c = *lx->p;
	char meta[2] = { c, '\0' };

	if (c == '\0' || is_space(c))
		return 1;
	if (c == '\'') {
		lx->p++;
		return lex_single(lx);
	}
	if (c == '"') {
		lx->p++;
		return lex_double(lx);
	}
	if (c == '$')
		return lex_macro(lx);
	if (c == '\\') {
		if (lx->p[1] == '\0')
			return lex_error(lx, "backslash at the end of the command%s", "");
		if (lx->p[1] == '$') {
			*lx->w++ = '$';
			*lx->w++ = '$';
			lx->p += 2;
			return 0;
		}
		lx->p++;
	} else if (strchr(SHELL_META, c)) {
		return lex_error(lx,
		                 "'%s' is shell syntax, but no shell runs the command "
		                 "(quote it to pass it to the program)",
		                 meta);
	}
	*lx->w++ = *lx->p++;
	return 0;
}

static int lex_words(struct lexer *lx, struct exec_argv *out)
{
	for (;;) {
		int rc;
		while (is_space(*lx->p))
			lx->p++;
		if (*lx->p == '\0')
			return 0;
		out->argv[out->argc++] = lx->w;
		while ((rc = lex_step(lx)) == 0)
			;
		if (rc < 0)
			return rc;
		*lx->w++ = '\0';
	}
}

int exec_argv_parse(const char *cmd, struct exec_argv *out, char *err, size_t errsize)
{
	struct lexer lx = { .p = cmd, .err = err, .errsize = errsize };
	size_t len = strlen(cmd);
	int rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	/* Worst cases: every char a '$' stored as two, every other char a word. */
	out->store = malloc(2 * len + 2);
	out->argv = calloc(len / 2 + 2, sizeof(char *));
	if (!out->store || !out->argv) {
		rc = MAMORI_E_NOMEM;
		goto fail;
	}
	lx.w = out->store;
	rc = lex_words(&lx, out);
	if (rc != 0)
		goto fail;
	if (out->argc == 0) {
		rc = lex_error(&lx, "empty command%s", "");
		goto fail;
	}
	if (strchr(out->argv[0], '$')) {
		rc = lex_error(&lx, "the program path cannot contain macros or '$': %s",
		               out->argv[0]);
		goto fail;
	}
	out->argv[out->argc] = NULL;
	out->has_macros = lx.has_macros;
	return 0;
fail:
	exec_argv_free(out);
	return rc;
}

void exec_argv_free(struct exec_argv *a)
{
	if (!a)
		return;
	free(a->argv);
	free(a->store);
	memset(a, 0, sizeof(*a));
}

static const char *macro_value(const struct mamori_check_info *info, int m)
{
	const char *v = NULL;
	switch (m) {
	case EXEC_M_HOSTADDRESS: v = info->address; break;
	case EXEC_M_HOSTNAME: v = info->asset; break;
	case EXEC_M_SERVICEDESC: v = info->check; break;
	case EXEC_M_CUSTOMER: v = info->customer; break;
	case EXEC_M_CUSTOMERNAME: v = info->customer_name; break;
	case EXEC_M_REGION: v = info->region; break;
	default: break;
	}
	return v ? v : "";
}

/* Length of one expanded argument (without NUL); writes it when dst. */
static size_t expand_one(const char *s, const struct mamori_check_info *info, char *dst)
{
	size_t n = 0;
	for (; *s; s++) {
		if (*s != '$') {
			if (dst)
				dst[n] = *s;
			n++;
			continue;
		}
		s++; /* the template guarantees a char after '$' */
		if (*s == '$') {
			if (dst)
				dst[n] = '$';
			n++;
			continue;
		}
		const char *v = macro_value(info, *s - '0');
		size_t vl = strlen(v);
		if (dst)
			memcpy(dst + n, v, vl);
		n += vl;
	}
	return n;
}

char **exec_argv_expand(const struct exec_argv *a, const struct mamori_check_info *info)
{
	size_t i, total = (a->argc + 1) * sizeof(char *);
	char **argv;
	char *w;

	for (i = 0; i < a->argc; i++)
		total += expand_one(a->argv[i], info, NULL) + 1;
	argv = malloc(total);
	if (!argv)
		return NULL;
	w = (char *)(argv + a->argc + 1);
	for (i = 0; i < a->argc; i++) {
		size_t n = expand_one(a->argv[i], info, w);
		w[n] = '\0';
		argv[i] = w;
		w += n + 1;
	}
	argv[a->argc] = NULL;
	return argv;
}
