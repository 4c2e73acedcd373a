/*
 * pconf: config access for plugins (the conf_* functions of the host
 * API) and validation of a config group against a key table.
 *
 * A struct mamori_conf wraps one libconfig group.  Validation runs before
 * a plugin sees the group: unknown keys and wrong types are errors naming
 * file and line, so plugins only check meaning.
 */
#ifndef MAMORI_PCONF_H
#define MAMORI_PCONF_H

#include <libconfig.h>
#include <mamori/plugin.h>

typedef void (*pconf_err_fn)(void *ud, const char *msg);

struct mamori_conf {
	const config_setting_t *s; /* a group (may be NULL: empty) */
	pconf_err_fn on_error;     /* where conf_error messages go */
	void *ud;
	struct mamori_conf *kids; /* sub-groups handed out by conf_group */
	struct mamori_conf *next;
};

/* Free the sub-group wrappers handed out by pconf_group (call when the
 * plugin call that received `c` returned). */
void pconf_release(struct mamori_conf *c);

/* Validate `group`: each member must be in `keys` or `extra` (either may
 * be NULL) with a matching type; GROUP keys recurse into `sub`.  `what`
 * names the block in messages ("check 'dns' of asset 'x'").  Every error
 * goes to on_error; returns the number of errors. */
int pconf_validate(const config_setting_t *group, const struct mamori_key *keys,
                   const struct mamori_key *extra, const char *what, pconf_err_fn on_error,
                   void *ud);
/* Report "file:line: message" for setting s (or the group if s is NULL). */
void pconf_report(pconf_err_fn on_error, void *ud, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "file:line" of a setting into buf. */
const char *pconf_where(const config_setting_t *s, char *buf, size_t size);

int pconf_string(const struct mamori_conf *c, const char *key, const char **out);
int pconf_int(const struct mamori_conf *c, const char *key, long long *out);
int pconf_float(const struct mamori_conf *c, const char *key, double *out);
int pconf_bool(const struct mamori_conf *c, const char *key, int *out);
int pconf_duration(const struct mamori_conf *c, const char *key, double *out);
int pconf_range(const struct mamori_conf *c, const char *key, struct mamori_range *out);
int pconf_list_item(const struct mamori_conf *c, const char *key, size_t i, const char **out);
int pconf_group(const struct mamori_conf *c, const char *key, const struct mamori_conf **out);
int pconf_verror(const struct mamori_conf *c, const char *key, const char *fmt, va_list ap);
/* The host's conf_secret: the file named by `key`, read with
 * secret_read_file (its permission rules; one trailing newline stripped).
 * A refusal (permissions, unreadable, too large) is reported at the key's
 * file and line and returns MAMORI_E_CONFIG. */
int pconf_secret(const struct mamori_conf *c, const char *key, char **out, size_t *len);

/* Typed reads of a single setting, shared with the core config parser.
 * Return 0 or MAMORI_E_TYPE / MAMORI_E_INVAL. */
int pconf_setting_duration(const config_setting_t *s, double *out);
int pconf_setting_range(const config_setting_t *s, struct mamori_range *out);

#endif
