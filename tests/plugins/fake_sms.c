/* Test notifier: records SMS notifications and reads inbound replies
 * from a body "FROM|TEXT|ID" (tests/plugins/fake_notifier.h). */
#include "fake_notify_impl.h"

static char from[512], text[512], id[512];

static int f_inbound(void *inst, const struct mamori_http_request *req, struct mamori_reply *out,
                     char *answer, size_t size)
{
	char buf[512];
	size_t n = req->body_len < sizeof buf - 1 ? req->body_len : sizeof buf - 1;
	memcpy(buf, req->body, n);
	buf[n] = '\0';
	char *a = strchr(buf, '|'), *b = a ? strchr(a + 1, '|') : NULL;
	if (fake_notifier_ctl.inbound_status || !a || !b) {
		snprintf(answer, size, "refused\n");
		return fake_notifier_ctl.inbound_status ? fake_notifier_ctl.inbound_status : 400;
	}
	*a = *b = '\0';
	snprintf(from, sizeof from, "%s", buf);
	snprintf(text, sizeof text, "%s", a + 1);
	snprintf(id, sizeof id, "%s", b + 1);
	out->struct_size = sizeof *out;
	out->from = from;
	out->text = text;
	out->id = id;
	snprintf(answer, size, "ok\n");
	return 200;
}

MAMORI_PLUGIN_DEFINE(.name = "fake_sms", .version = "test",
                     .flags = MAMORI_PLUGIN_NOTIFIER | MAMORI_PLUGIN_NEEDS_PHONE |
                              MAMORI_PLUGIN_SMS,
                     .instance_keys = keys, .init = f_init, .destroy = f_destroy,
                     .notify_send = f_send, .notify_cancel = f_cancel, .notify_inbound = f_inbound);
