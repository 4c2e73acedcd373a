/*
 * reply: what comes back from the people paged - replies a notifier
 * received (an e-mail answering a notification, an SMS), a gateway's
 * inbound webhook, a one-click link - verified against the tokens of
 * token.c and acted on through the service layer as the contact.
 *
 * Must never: act on anything it cannot verify.
 */
#include "notify/notify_int.h"
#include "app/app.h"

#include <mamori/plugin.h>

int notify_host_reply(void *ctx, void *inst, const struct mamori_reply *r)
{
	return MAMORI_E_NOTSUP;
}

void notify__reply_hooks(struct notify *n, struct app_notify_hooks *h)
{
}
