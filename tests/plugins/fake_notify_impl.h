/* The body of the fake notifiers (included by fake_mail.c, fake_sms.c). */
#include "fake_notifier.h"

#include <mamori/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

MAMORI_EXPORT struct fake_ctl fake_notifier_ctl;

struct inst {
	const struct mamori_host *h;
};

struct pending {
	struct inst *in;
	struct mamori_delivery *d;
	struct mamori_timer *t;
	int status;
};

static const struct mamori_key keys[] = { { "label", MAMORI_KEY_STRING, 0, "anything", NULL },
	                                  { NULL, 0, 0, NULL, NULL } };

static int f_init(const struct mamori_host *h, const struct mamori_conf *c, void **out)
{
	struct inst *in = calloc(1, sizeof *in);
	if (!in)
		return MAMORI_E_NOMEM;
	in->h = h;
	*out = in;
	fake_notifier_ctl.inits++;
	fake_notifier_ctl.inst = in;
	fake_notifier_ctl.host = h;
	return 0;
}

static void f_destroy(void *inst)
{
	fake_notifier_ctl.destroys++;
	free(inst);
}

static void cp(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static void complete(struct pending *p)
{
	struct mamori_notify_result r = { .struct_size = sizeof r,
		                          .status = p->status,
		                          .detail = p->status == MAMORI_NOTIFY_SENT
		                                        ? "250 fake ok"
		                                        : "451 fake no" };
	const struct mamori_host *h = p->in->h;
	struct mamori_delivery *d = p->d;
	if (p->t)
		h->timer_free(p->t);
	free(p);
	h->notify_done(d, &r);
}

static void on_timer(struct mamori_timer *t, void *ud)
{
	complete(ud);
}

static int f_send(void *inst, struct mamori_delivery *d, const struct mamori_notification *n,
                  void **state)
{
	struct inst *in = inst;
	struct fake_ctl *c = &fake_notifier_ctl;
	if (c->n < FAKE_MAX) {
		struct fake_msg *m = &c->msgs[c->n];
		cp(m->contact, sizeof m->contact, n->contact);
		cp(m->address, sizeof m->address, n->address);
		cp(m->language, sizeof m->language, n->language);
		cp(m->severity, sizeof m->severity, n->severity);
		cp(m->subject, sizeof m->subject, n->subject);
		cp(m->short_text, sizeof m->short_text, n->short_text);
		cp(m->body, sizeof m->body, n->body);
		cp(m->message_id, sizeof m->message_id, n->message_id);
		cp(m->in_reply_to, sizeof m->in_reply_to, n->in_reply_to);
		cp(m->references, sizeof m->references, n->references);
		cp(m->reply_to, sizeof m->reply_to, n->reply_to);
		cp(m->id, sizeof m->id, n->id);
		m->n_items = n->n_items;
		if (n->n_items) {
			cp(m->alert0, sizeof m->alert0, n->items[0].alert_id);
			cp(m->event0, sizeof m->event0, n->items[0].event);
		}
		m->attempt = n->attempt;
		m->dup = n->possible_duplicate;
		if (MAMORI_HAS_FIELD(n, struct mamori_notification, n_attachments)) {
			cp(m->html, sizeof m->html, n->html);
			m->n_att = n->n_attachments;
			if (n->n_attachments) {
				const struct mamori_attachment *a = &n->attachments[0];
				cp(m->att_name, sizeof m->att_name, a->name);
				cp(m->att_type, sizeof m->att_type, a->content_type);
				m->att_len = a->len;
				m->att_sum = 0;
				for (size_t i = 0; i < a->len; i++)
					m->att_sum =
					    m->att_sum * 31 + ((const unsigned char *)a->data)[i];
			}
		}
		m->t = in->h->now();
	}
	c->n++;
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return MAMORI_E_NOMEM;
	p->in = in;
	p->d = d;
	p->status = c->retries > 0 ? MAMORI_NOTIFY_RETRY : c->status;
	if (c->retries > 0)
		c->retries--;
	*state = p;
	if (c->mode == FAKE_NOW) {
		*state = NULL;
		complete(p);
		return 0;
	}
	if (c->mode == FAKE_LATER) {
		p->t = in->h->timer_new(on_timer, p);
		in->h->timer_start(p->t, c->delay, 0);
	}
	return 0;
}

static void f_cancel(void *inst, struct mamori_delivery *d, void *state)
{
	struct pending *p = state;
	fake_notifier_ctl.cancels++;
	if (!p)
		return;
	if (p->t)
		p->in->h->timer_free(p->t);
	free(p);
}
