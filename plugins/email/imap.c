/*
 * imap: the reply mailbox of the e-mail notifier (placeholder: replies
 * are read once acknowledgement by reply lands).
 */
#include "email.h"

#include <mamori/plugin.h>
#include <stddef.h>

struct email_inst;

const struct mamori_key email_reply_keys[] = {
	{ "url", MAMORI_KEY_STRING, MAMORI_KEY_REQUIRED, "imap://host/MAILBOX or imaps://...",
	  NULL },
	{ "user", MAMORI_KEY_STRING, 0, "IMAP user", NULL },
	{ "password_file", MAMORI_KEY_FILE, 0, "IMAP password, in a file (0600)", NULL },
	{ "ca_file", MAMORI_KEY_FILE, 0, "PEM trust anchors", NULL },
	{ "starttls", MAMORI_KEY_BOOL, 0, "imap://: require STARTTLS (default true)", NULL },
	{ "verify", MAMORI_KEY_BOOL, 0, "verify the server certificate (default true)", NULL },
	{ "timeout", MAMORI_KEY_DURATION, 0, "one IMAP command at most (default 60s)", NULL },
	{ "poll", MAMORI_KEY_DURATION, 0, "how often to look for replies (default 30s)", NULL },
	{ NULL, 0, 0, NULL, NULL },
};

int email_reply_start(struct email_inst *in, const struct mamori_conf *conf, void **out);
void email_reply_stop(void *reply);

int email_reply_start(struct email_inst *in, const struct mamori_conf *conf, void **out)
{
	*out = NULL;
	return 0;
}

void email_reply_stop(void *reply)
{
}
