/*
 * app/notify: the service layer's door to on-call notifications - who is
 * on call, an alert's notifications and their attempts, a gateway's
 * inbound webhook and the one-click links.
 *
 * The answers come from src/notify through hooks the daemon installs
 * (app_set_notify): notify acknowledges alerts through this layer, so
 * this layer may not call notify.  What is decided here is the scope:
 * on-call is staff information (a customer's viewer sees none, an
 * operator its own centers'), an alert's notifications are visible
 * exactly when the alert is.
 *
 * Must never: call a hook that is not installed (APP_E_UNAVAILABLE),
 * hand out what the scope does not cover.
 */
#include "app/app_int.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void app_set_notify(struct app *a, const struct app_notify_hooks *h, void *ud)
{
	if (h)
		a->notify = *h;
	else
		memset(&a->notify, 0, sizeof a->notify);
	a->notify_ud = ud;
}

void app_oncall_free(struct app_oncall *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n; i++) {
		struct app_oncall_row *r = &o->rows[i];
		for (size_t k = 0; k < r->n_on; k++) {
			free(r->on[k].contact);
			free(r->on[k].source);
		}
		free(r->on);
		free(r->center);
		free(r->tier);
	}
	free(o->rows);
	free(o);
}

/* A customer's viewer has customers and no centers. */
static int staff(const struct app_scope *sc)
{
	return sc->all || sc->n_centers > 0;
}

int app_oncall(struct app *a, const struct app_scope *sc, double at, const char *center,
               struct app_oncall **out, char *msg, size_t msglen)
{
	*out = NULL;
	if (!staff(sc)) {
		snprintf(msg, msglen, "on-call schedules are for staff (operators, admins)");
		return APP_E_FORBIDDEN;
	}
	if (center && !app__center_in_scope(sc, center)) {
		snprintf(msg, msglen, "center '%s' is not yours", center);
		return APP_E_FORBIDDEN;
	}
	if (!a->notify.oncall) {
		snprintf(msg, msglen, "no on-call notifications are configured");
		return APP_E_UNAVAILABLE;
	}
	struct app_oncall *o = NULL;
	int rc = a->notify.oncall(a->notify_ud, at, center, &o);
	if (rc != APP_OK) {
		snprintf(msg, msglen, "%s", app_strerror(rc));
		return rc;
	}
	/* the rows of centers outside the scope go */
	size_t keep = 0;
	for (size_t i = 0; i < o->n; i++) {
		if (app__center_in_scope(sc, o->rows[i].center)) {
			o->rows[keep++] = o->rows[i];
			continue;
		}
		struct app_oncall_row *r = &o->rows[i];
		for (size_t k = 0; k < r->n_on; k++) {
			free(r->on[k].contact);
			free(r->on[k].source);
		}
		free(r->on);
		free(r->center);
		free(r->tier);
	}
	o->n = keep;
	*out = o;
	return APP_OK;
}

void app_notifications_free(struct app_notifications *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->rows[i].event);
		free(l->rows[i].contact);
		free(l->rows[i].channel);
		free(l->rows[i].status);
		free(l->rows[i].error);
	}
	free(l->rows);
	for (size_t i = 0; i < l->n_attempts; i++) {
		free(l->attempts[i].event);
		free(l->attempts[i].contact);
		free(l->attempts[i].channel);
		free(l->attempts[i].result);
		free(l->attempts[i].detail);
		free(l->attempts[i].message_id);
	}
	free(l->attempts);
	free(l->center);
	free(l->customer);
	free(l);
}

struct hist_call {
	struct app_scope sc; /* lists copied below */
	char **centers, **customers;
	app_notifications_fn fn;
	void *ud;
};

static void hist_call_free(struct hist_call *c)
{
	for (size_t i = 0; i < c->sc.n_centers; i++)
		free(c->centers[i]);
	for (size_t i = 0; i < c->sc.n_customers; i++)
		free(c->customers[i]);
	free(c->centers);
	free(c->customers);
	free(c);
}

/* Alert visibility as the alert reads see it (app.c alert_in_scope):
 * its customer in scope, and its center too unless read_by_customer. */
static int visible(const struct app_scope *sc, const char *center, const char *customer)
{
	if (sc->all)
		return 1;
	if (!app__customer_in_scope(sc, customer))
		return 0;
	return sc->read_by_customer || app__center_in_scope(sc, center);
}

static void on_hist(void *ud, int err, const char *msg, struct app_notifications *l)
{
	struct hist_call *c = ud;
	if (err == APP_OK && (!l || !l->customer)) {
		app_notifications_free(l);
		c->fn(c->ud, APP_E_NOTFOUND, "no such alert", NULL);
	} else if (err == APP_OK && !visible(&c->sc, l->center, l->customer)) {
		app_notifications_free(l);
		/* existence is not revealed */
		c->fn(c->ud, APP_E_NOTFOUND, "no such alert", NULL);
	} else {
		c->fn(c->ud, err, msg, l);
	}
	hist_call_free(c);
}

int app_alert_notifications(struct app *a, const struct app_scope *sc, const char *alert_id,
                            app_notifications_fn fn, void *ud)
{
	if (!alert_id || !*alert_id)
		return APP_E_INVALID;
	if (!a->notify.history)
		return APP_E_UNAVAILABLE;
	struct hist_call *c = xcalloc(1, sizeof *c);
	c->sc = *sc;
	c->centers = xcalloc(sc->n_centers + 1, sizeof *c->centers);
	for (size_t i = 0; i < sc->n_centers; i++)
		c->centers[i] = xstrdup(sc->centers[i]);
	c->customers = xcalloc(sc->n_customers + 1, sizeof *c->customers);
	for (size_t i = 0; i < sc->n_customers; i++)
		c->customers[i] = xstrdup(sc->customers[i]);
	c->sc.centers = (const char *const *)c->centers;
	c->sc.customers = (const char *const *)c->customers;
	c->fn = fn;
	c->ud = ud;
	int rc = a->notify.history(a->notify_ud, alert_id, on_hist, c);
	if (rc != APP_OK)
		hist_call_free(c);
	return rc;
}

int app_notify_inbound(struct app *a, const struct app_inbound *in, struct app_inbound_answer *out)
{
	memset(out, 0, sizeof *out);
	if (!a->notify.inbound)
		return APP_E_NOTFOUND;
	return a->notify.inbound(a->notify_ud, in, out);
}

int app_notify_link(struct app *a, const char *token, int confirm, struct app_link *out,
                    app_done_fn done, void *ud)
{
	memset(out, 0, sizeof *out);
	if (!a->notify.link) {
		snprintf(out->error, sizeof out->error, "no notifications are configured");
		return APP_E_UNAVAILABLE;
	}
	return a->notify.link(a->notify_ud, token, confirm, out, done, ud);
}
