/*
 * config internals shared by config.c and config_customers.c.  Not for
 * other modules.
 */
#ifndef MAMORI_CONFIG_INT_H
#define MAMORI_CONFIG_INT_H

#include "config/config.h"

#include <mamori/plugin.h>

/* Set-flags of struct check_params. */
enum {
	P_INTERVAL = 1 << 0,
	P_RETRY = 1 << 1,
	P_TIMEOUT = 1 << 2,
	P_STALE = 1 << 3,
	P_ATTEMPTS = 1 << 4,
	P_STALE_STATE = 1 << 5,
	P_FLAP = 1 << 6,
	P_FLAP_LOW = 1 << 7,
	P_FLAP_HIGH = 1 << 8,
	P_SERVICE = 1 << 9,
	P_PERIOD = 1 << 10,
	P_RUNBOOK = 1 << 11,
};

struct ctx {
	struct mconf *c;
	struct loader *loader;
	const char *datadir;
	config_err_fn err;
	void *ud;
	int errors;
};

#define K(n, t)                                                                                    \
	{                                                                                          \
		n, t, 0, NULL, NULL                                                                \
	}
#define KEND                                                                                       \
	{                                                                                          \
		NULL, 0, 0, NULL, NULL                                                             \
	}

/* Keys shared by `defaults` groups and check blocks. */
#define PARAM_KEYS                                                                                 \
	K("interval", MAMORI_KEY_DURATION), K("retry_interval", MAMORI_KEY_DURATION),              \
	    K("max_attempts", MAMORI_KEY_INT), K("timeout", MAMORI_KEY_DURATION),                  \
	    K("check_period", MAMORI_KEY_STRING), K("service", MAMORI_KEY_STRING),                 \
	    K("stale_after", MAMORI_KEY_DURATION), K("stale_state", MAMORI_KEY_INT),               \
	    K("flap_detection", MAMORI_KEY_BOOL), K("flap_low", MAMORI_KEY_FLOAT),                 \
	    K("flap_high", MAMORI_KEY_FLOAT), K("runbook", MAMORI_KEY_STRING)

/* config_params.c */
void config__report(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int config__validate(struct ctx *x, const config_setting_t *g, const struct mamori_key *a,
                     const struct mamori_key *b, const char *what);
const char *config__str_member(const config_setting_t *g, const char *key);
char *config__dup_member(const config_setting_t *g, const char *key);
const config_setting_t *config__list_member(struct ctx *x, const config_setting_t *g,
                                            const char *key);
int config__valid_ident(const char *s, int allow_dot);
uint64_t config__hash_setting(const config_setting_t *s, uint64_t h);
void config__parse_params(struct ctx *x, const config_setting_t *g, struct check_params *p);
void config__inherit(struct check_params *child, const struct check_params *parent);
void config__finish_params(struct check_params *p, const char *plugin, int passive);
/* config.c */
void config__fill_strings(const config_setting_t *m, const char **out, size_t max, size_t *n);
int config__plugin_index(struct mconf *c, const char *name);

/* config_customers.c */
void config__parse_customers(struct ctx *x, const config_setting_t *root);
void config__parse_downtimes(struct ctx *x, const config_setting_t *root);

#endif
