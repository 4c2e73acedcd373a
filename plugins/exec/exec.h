/*
 * exec plugin internals: the command-line template shared by argv.c
 * (split + macro pre-parse, expansion) and exec.c (plugin glue).
 */
#ifndef MAMORI_EXEC_H
#define MAMORI_EXEC_H

#include <stddef.h>
#include <mamori/plugin.h>

/* Macros, by index.  A template argument stores a literal '$' as "$$" and
 * a macro as '$' followed by the macro's index as a digit, so expansion
 * never has to look a name up again. */
enum exec_macro {
	EXEC_M_HOSTADDRESS,
	EXEC_M_HOSTNAME,
	EXEC_M_SERVICEDESC,
	EXEC_M_CUSTOMER,
	EXEC_M_CUSTOMERNAME,
	EXEC_M_REGION,
	EXEC_M_COUNT
};

struct exec_argv {
	char **argv; /* NULL-terminated, encoded as above; argv[0] is literal */
	size_t argc;
	char *store; /* all strings, back to back */
	int has_macros;
};

/* Split `cmd` into arguments with shell-like quoting and pre-parse macros.
 * Returns 0, or MAMORI_E_INVAL with a message in err, or MAMORI_E_NOMEM. */
int exec_argv_parse(const char *cmd, struct exec_argv *out, char *err, size_t errsize);
void exec_argv_free(struct exec_argv *a);
/* Expand macros from `info` into a fresh NULL-terminated argv, one malloc
 * block that the caller frees with free().  NULL when out of memory. */
char **exec_argv_expand(const struct exec_argv *a, const struct mamori_check_info *info);

#endif
