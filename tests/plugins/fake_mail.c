/* Test notifier: records e-mail notifications (tests/plugins/fake_notifier.h). */
#include "fake_notify_impl.h"

MAMORI_PLUGIN_DEFINE(.name = "fake_mail", .version = "test",
                     .flags = MAMORI_PLUGIN_NOTIFIER | MAMORI_PLUGIN_NEEDS_EMAIL,
                     .instance_keys = keys, .init = f_init, .destroy = f_destroy,
                     .notify_send = f_send, .notify_cancel = f_cancel);
