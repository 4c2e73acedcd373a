/*
 * webhook: the chat-webhook notifier (plugin ABI 1.1,
 * MAMORI_PLUGIN_NOTIFIER): one HTTPS POST per notification, its JSON body
 * rendered from a request template (plugins/lib/hookpost.h).  Shipped
 * templates (share/mamori/notify/webhook/): slack (Slack incoming
 * webhooks), teams (Microsoft Teams connectors, a MessageCard),
 * mattermost (Mattermost incoming webhooks), json (a plain
 * mamori.notification/1 document for one's own receiver).  A webhook
 * posts to a room, not to a person: a contact for it needs no address.
 *
 *   { name = "slack"; plugin = "webhook"; template = "slack";
 *     url_file = "/etc/mamori/slack.url"; }
 *
 * Must never: log the URL of a url_file (it is the secret), block.
 */
#include "../lib/hookpost.h"
#include "../lib/notifyfields.h"

#include <curl/curl.h>
#include <stdlib.h>

static const struct mamori_key keys[] = { HOOKPOST_KEYS, { NULL, 0, 0, NULL, NULL } };

static void wh_destroy(void *inst)
{
	struct hookpost *hp = inst;
	if (!hp)
		return;
	hookpost_fini(hp);
	free(hp);
	curl_global_cleanup();
}

static int wh_init(const struct mamori_host *h, const struct mamori_conf *c, void **out)
{
	*out = NULL;
	if (!MAMORI_HAS_FIELD(h, struct mamori_host, notify_done))
		return MAMORI_E_NOTSUP;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return MAMORI_E_NOMEM;
	struct hookpost *hp = calloc(1, sizeof *hp);
	if (!hp) {
		curl_global_cleanup();
		return MAMORI_E_NOMEM;
	}
	*out = hp;
	return hookpost_init(hp, h, c, "webhook");
}

static int wh_send(void *inst, struct mamori_delivery *d, const struct mamori_notification *n,
                   void **state)
{
	struct notifyfields f;
	notifyfields_init(&f, n);
	return hookpost_send(inst, d, notifyfields_get, &f, state);
}

static void wh_cancel(void *inst, struct mamori_delivery *d, void *state)
{
	hookpost_cancel(state);
}

MAMORI_PLUGIN_DEFINE(.name = "webhook", .version = "1.0",
                     .description = "on-call notifications to chat webhooks (Slack, Teams, "
                                    "Mattermost, JSON)",
                     .flags = MAMORI_PLUGIN_NOTIFIER, .instance_keys = keys, .init = wh_init,
                     .destroy = wh_destroy, .notify_send = wh_send, .notify_cancel = wh_cancel);
