/*
 * notifyfields: the fields of a notification for request templates
 * (hookpost.h), the same for every notifier that renders one: subject,
 * text (the body), short_text, severity, color, link, count and the first
 * item's alert fields.  Plain code, no state.
 */
#ifndef MAMORI_PLUGUTIL_NOTIFYFIELDS_H
#define MAMORI_PLUGUTIL_NOTIFYFIELDS_H

#include <stddef.h>
#include <mamori/plugin.h>

struct notifyfields {
	const struct mamori_notification *n;
	const char *to, *from; /* the plugin's own (SMS) */
	char count[24];
	char opened[40], ack_due[40];
};

void notifyfields_init(struct notifyfields *f, const struct mamori_notification *n);
/* A tmpl_lookup over f (ud = f). */
const char *notifyfields_get(void *ud, const char *name, size_t nlen, const char *filter,
                             size_t flen);

#endif
