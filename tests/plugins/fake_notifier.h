/*
 * fake_notifier: test notifiers (ABI 1.1) that record what they are
 * asked to deliver and answer as the test says.  fake_mail.so needs an
 * e-mail address, fake_sms.so a phone (and is an SMS channel).  The test
 * reaches a plugin's control block through the exported symbol
 * `fake_notifier_ctl` (dlopen the same file with RTLD_NOLOAD, dlsym).
 */
#ifndef FAKE_NOTIFIER_H
#define FAKE_NOTIFIER_H

#include <stddef.h>

#define FAKE_MAX 512

struct fake_msg {
	char contact[64], address[128], language[8], severity[16];
	char subject[512], short_text[1024], body[2048];
	char message_id[300], in_reply_to[300], references[1024], reply_to[300];
	char alert0[96], event0[32], id[300];
	size_t n_items;
	unsigned attempt;
	int dup;
	double t;
	/* a document's: its HTML and its first file (length, sum of bytes) */
	char html[512], att_name[128], att_type[64];
	size_t n_att, att_len;
	unsigned long long att_sum;
};

enum { FAKE_NOW = 0, FAKE_LATER = 1, FAKE_HANG = 2 };

struct fake_ctl {
	int status;  /* the answer (MAMORI_NOTIFY_*) once `retries` ran out */
	int retries; /* that many sends answer RETRY first */
	int mode;    /* FAKE_NOW, FAKE_LATER (after `delay` s), FAKE_HANG */
	double delay;
	size_t n; /* sends seen (msgs holds the first FAKE_MAX) */
	struct fake_msg msgs[FAKE_MAX];
	size_t cancels, inits, destroys;
	/* inbound: the reply notify_inbound reads from a body "FROM|TEXT|ID" */
	int inbound_status;
	/* the last instance and its host (a test hands replies to the core) */
	void *inst;
	const void *host; /* const struct mamori_host * */
};

#endif
