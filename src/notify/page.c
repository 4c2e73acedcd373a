/*
 * page: alert events -> notification items (placeholder until the
 * delivery pipeline lands).
 */
#include "notify/notify_int.h"

int notify__init(struct notify *n)
{
	return 0;
}

void notify__start(struct notify *n)
{
}

void notify__stop(struct notify *n)
{
}

void notify__fini(struct notify *n)
{
}

void notify__cancel_all(struct notify *n)
{
}

void notify__conf_changed(struct notify *n, const struct notify_conf *old)
{
}

void notify__more_hooks(struct notify *n, struct app_notify_hooks *h)
{
}

void notify_host_done(void *ctx, struct mamori_delivery *d, const struct mamori_notify_result *r)
{
}

int notify_host_reply(void *ctx, void *inst, const struct mamori_reply *r)
{
	return -5;
}
