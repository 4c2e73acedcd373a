/*
 * command: the service layer's commands (see app.h): validate against
 * the caller's scope, apply, journal the idempotency record, and report
 * completion once the journal has written what the command changed.
 *
 * The alert actions' answers and texts are those the MQTT contract
 * (mamori.cmdresult/1) has always given; the MQTT adapter maps the codes
 * one to one.
 */
#include "app/app_int.h"
#include "alert/alert.h"
#include "alerting/alerting.h"
#include "engine/engine.h"
#include "events/events.h"
#include "journal/journal.h"
#include "proto/cmd.h"
#include "registry/registry.h"
#include "store/store.h"
#include "util/log.h"
#include "util/hmap.h"
#include "util/mem.h"

#include <ev.h>
#include <mamori/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- completion ---- */

struct pending_done {
	app_done_fn fn;
	void *ud;
	struct app_result r;
};

static void ticket_done(void *ud)
{
	struct pending_done *p = ud;
	p->fn(p->ud, &p->r);
	free(p);
}

/* Report r through done once durable.  With a journal that is never
 * inside this call (a ticket completes at the journal's next turn, even
 * when nothing was changed); without one (tests), at once. */
static int finish(struct app *a, struct app_result *r, app_done_fn done, void *ud)
{
	if (!done)
		return r->err;
	struct pending_done *p = xmalloc(sizeof *p);
	p->fn = done;
	p->ud = ud;
	p->r = *r;
	if (a->d.journal)
		journal_ticket(a->d.journal, ticket_done, p);
	else
		ticket_done(p);
	return r->err;
}

/* ---- idempotency ---- */

int app_cmd_code(int err)
{
	switch (err) {
	case APP_OK: return CMD_OK;
	case APP_E_NOTFOUND: return CMD_E_UNKNOWN_ALERT;
	case APP_E_FORBIDDEN: return CMD_E_WRONG_CENTER;
	case APP_E_STATE: return CMD_E_STATE;
	case APP_E_LAST_TIER: return CMD_E_LAST_TIER;
	case APP_E_NOMEM: return CMD_E_NOMEM;
	default: return CMD_E_INVALID;
	}
}

static int from_cmd(enum cmd_err e)
{
	switch (e) {
	case CMD_OK: return APP_OK;
	case CMD_E_UNKNOWN_ALERT: return APP_E_NOTFOUND;
	case CMD_E_WRONG_CENTER: return APP_E_FORBIDDEN;
	case CMD_E_STATE: return APP_E_STATE;
	case CMD_E_LAST_TIER: return APP_E_LAST_TIER;
	case CMD_E_NOMEM: return APP_E_NOMEM;
	default: return APP_E_INVALID;
	}
}

static void emit_command(struct app *a, const char *origin, const char *id, const char *action,
                         const char *alert_id, const char *center, const char *customer,
                         const struct app_result *r)
{
	struct event_command ec = { .origin = origin,
		                    .id = id,
		                    .action = action,
		                    .alert_id = alert_id,
		                    .code = r->err,
		                    .fresh = r->fresh };
	if (!a->d.events)
		return;
	/* its rendering is the answer the MQTT contract gives (replayed to a
	 * live stream as it is) */
	char *json = cmd_format_result(id, alert_id, (enum cmd_err)app_cmd_code(r->err),
	                               r->msg[0] ? r->msg : NULL, a->node);
	struct event e = { .type = EVENT_COMMAND,
		           .time = app__now(a),
		           .customer = customer,
		           .center = center,
		           .subject = id,
		           .json = json,
		           .detail = &ec };
	events_emit(a->d.events, &e);
	free(json);
}

static const char *action_name(int t)
{
	static const char *const names[] = { "ack",      "unack", "resolve", "escalate",
		                             "dispatch", "wait",  "comment", "notify_failed" };
	return t >= 0 && t <= ALERT_ACT_NOTIFY_FAILED ? names[t] : "?";
}

/* Idempotency: (origin, id) -> the first answer.  The code lives in
 * cmd_seen (bounded); a command that created something (a downtime, an
 * inquiry) also remembers what it created, so a repeat names it again.
 * Persisted with the change in the same batch as "ok" or "ok:<id>". */
static int idem_repeat(struct app *a, const char *origin, const char *idem, struct app_result *r)
{
	enum cmd_err seen;
	if (!idem || !*idem || !origin || !cmd_seen_lookup(a->seen, origin, idem, &seen))
		return 0;
	r->repeated = 1;
	r->err = from_cmd(seen);
	char k[512];
	snprintf(k, sizeof k, "%s\n%s", origin, idem);
	const char *made = hmap_get(&a->made, k, strlen(k));
	if (made)
		snprintf(r->id, sizeof r->id, "%s", made);
	return 1;
}

static void idem_record(struct app *a, const char *origin, const char *idem,
                        const struct app_result *r, int created)
{
	if (!idem || !*idem || !origin || r->err == APP_E_NOMEM)
		return; /* out of memory is no answer: a retry may try again */
	cmd_seen_add(a->seen, origin, idem, (enum cmd_err)app_cmd_code(r->err), app__now(a));
	if (created && r->err == APP_OK && r->id[0])
		app__remember_made(a, origin, idem, r->id);
	/* failures too: a replay of a refused command must not act later, when
	 * the alert it names has changed */
	if (a->d.journal && journal_durable(a->d.journal)) {
		char res[200];
		snprintf(res, sizeof res, "%s%s%s", cmd_errname((enum cmd_err)app_cmd_code(r->err)),
		         created && r->id[0] ? ":" : "", created ? r->id : "");
		store_batch_cmd_seen(journal_batch(a->d.journal), origin, idem, res, app__now(a));
	}
}

/* ---- alert actions ---- */

static int apply_act(struct app *a, const struct app_scope *sc, struct alert *al,
                     const struct alert_action *act, struct app_result *r)
{
	if (!act->actor || !*act->actor)
		return app__fail(r, APP_E_INVALID, "an action needs its actor");
	if (!sc->all && (!al->center || !app__center_in_scope(sc, al->center) ||
	                 !app__customer_in_scope(sc, al->customer))) {
		/* an alert the caller cannot even see gets the answer an unknown
		 * id gets, word for word: whether another center's alert exists
		 * is none of its business; one it sees (a copy, an operator
		 * reading every alert) is refused as another center's */
		if (!app__alert_in_scope(sc, al))
			return app__fail(r, APP_E_NOTFOUND, "unknown alert '%s'", al->id);
		return app__fail(r, APP_E_FORBIDDEN, "alert '%s' belongs to another center",
		                 al->id);
	}
	double now = app__now(a);
	int rc = alert_act(a->d.alerts, al, act, now);
	switch (rc) {
	case 0: r->fresh = 1; return r->err = APP_OK;
	case ALERT_E_STATE:
		return app__fail(r, APP_E_STATE, "cannot %s: alert is %s",
		                 act->type == ALERT_ACT_ACK ? "ack" : "do this",
		                 alert_status_name(al->status));
	case ALERT_E_LAST_TIER:
		return app__fail(r, APP_E_LAST_TIER, "alert is already at its last tier");
	case ALERT_E_NOMEM: return app__fail(r, APP_E_NOMEM, "out of memory");
	default: return app__fail(r, APP_E_INVALID, "%s", alert_strerror(rc));
	}
}

/* The check mirrors its alert's acknowledgement (see app.h). */
static void mirror_ack(struct app *a, const struct alert *al, int type)
{
	if (type != ALERT_ACT_ACK && type != ALERT_ACT_UNACK && type != ALERT_ACT_RESOLVE)
		return;
	struct check *c =
	    al->key && a->d.reg ? registry_check_key(a->d.reg, al->key, strlen(al->key)) : NULL;
	if (c && a->d.engine)
		engine_set_ack(a->d.engine, c, type == ALERT_ACT_ACK);
}

int app_alert_act(struct app *a, const struct app_scope *sc, const char *alert_id,
                  const struct alert_action *act, const char *origin, const char *idem_id,
                  struct app_result *r, app_done_fn done, void *ud)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "%s", alert_id ? alert_id : "");
	if (idem_repeat(a, origin, idem_id, r))
		return finish(a, r, done, ud); /* the first answer, nothing done */
	struct alert *al = alert_id ? alert_find(a->d.alerts, alert_id) : NULL;
	if (!al)
		app__fail(r, APP_E_NOTFOUND, "unknown alert '%s'", alert_id ? alert_id : "");
	else {
		/* the event records the request that caused it */
		struct alert_action named = *act;
		if (!named.cmd_id && idem_id && *idem_id)
			named.cmd_id = idem_id;
		if (apply_act(a, sc, al, &named, r) == APP_OK)
			mirror_ack(a, al, act->type);
	}
	idem_record(a, origin, idem_id, r, 0);
	emit_command(a, origin, idem_id, action_name(act->type), alert_id, al ? al->center : NULL,
	             al ? al->customer : NULL, r);
	return finish(a, r, done, ud);
}

int app_check_ack(struct app *a, const struct app_scope *sc, const char *customer,
                  const char *asset, const char *check, int on, const char *actor, const char *note,
                  struct app_result *r, app_done_fn done, void *ud)
{
	memset(r, 0, sizeof *r);
	/* a refusal reaches `done` too: the caller may be waiting on it */
	const struct check *c = registry_check(a->d.reg, customer, asset, check);
	if (!c) {
		app__fail(r, APP_E_NOTFOUND, "unknown check");
		return finish(a, r, done, ud);
	}
	const struct alert *al = alert_find_check(a->d.alerts, c->key);
	if (!al || al->status == ALERT_RESOLVED) {
		app__fail(r, APP_E_NOTFOUND, "%s has no unresolved alert to %s", c->key,
		          on ? "acknowledge" : "unacknowledge");
		return finish(a, r, done, ud);
	}
	struct alert_action act = { .type = on ? ALERT_ACT_ACK : ALERT_ACT_UNACK,
		                    .actor = actor,
		                    .note = note };
	char id[160];
	snprintf(id, sizeof id, "%s", al->id);
	return app_alert_act(a, sc, id, &act, NULL, NULL, r, done, ud);
}

static int alert_open(struct app *a, const struct app_scope *sc, const char *customer,
                      const char *asset, const char *check, const char *service, int severity,
                      const char *summary, const char *actor, const char *note,
                      struct app_result *r)
{
	const struct customer *cu = registry_customer(a->d.reg, customer);
	if (!cu)
		return app__fail(r, APP_E_NOTFOUND, "unknown customer '%s'",
		                 customer ? customer : "");
	if (!app__customer_in_scope(sc, customer))
		return app__fail(r, APP_E_FORBIDDEN, "customer '%s' is outside your scope",
		                 customer);
	if (!asset || !*asset || !check || !*check || strchr(asset, '/') || strchr(check, '/'))
		return app__fail(r, APP_E_INVALID,
		                 "an inquiry needs an asset and a name without '/'");
	if (!summary || !*summary || !actor || !*actor)
		return app__fail(r, APP_E_INVALID, "an inquiry needs a summary and its actor");
	char key[1024];
	snprintf(key, sizeof key, "%s/%s/%s", customer, asset, check);
	struct alert_input in = { .key = key,
		                  .customer = customer,
		                  .asset = asset,
		                  .check = check,
		                  .service = service ? service : "other",
		                  .region = cu->region,
		                  .tags = (const char *const *)cu->tags,
		                  .n_tags = cu->n_tags,
		                  .output = summary };
	int rc = alert_open_manual(a->d.alerts, &in, severity, actor, note, app__now(a));
	if (rc == ALERT_E_STATE)
		return app__fail(r, APP_E_STATE, "%s already has an unresolved alert", key);
	if (rc == ALERT_E_INVAL)
		return app__fail(r, APP_E_INVALID, "severity must be 1..3");
	if (rc != 0)
		return app__fail(r, APP_E_NOMEM, "out of memory");
	const struct alert *al = alert_find_check(a->d.alerts, key);
	snprintf(r->id, sizeof r->id, "%s", al ? al->id : "");
	r->fresh = 1;
	return r->err = APP_OK;
}

int app_alert_open(struct app *a, const struct app_scope *sc, const char *customer,
                   const char *asset, const char *check, const char *service, int severity,
                   const char *summary, const char *actor, const char *note, const char *origin,
                   const char *idem_id, struct app_result *r, app_done_fn done, void *ud)
{
	memset(r, 0, sizeof *r);
	if (!idem_repeat(a, origin, idem_id, r)) {
		alert_open(a, sc, customer, asset, check, service, severity, summary, actor, note,
		           r);
		idem_record(a, origin, idem_id, r, 1);
	}
	return finish(a, r, done, ud);
}

/* ---- downtimes ---- */

static int from_mamori(int rc)
{
	switch (rc) {
	case MAMORI_E_NOTFOUND: return APP_E_NOTFOUND;
	case MAMORI_E_DENIED: return APP_E_DENIED;
	default: return APP_E_INVALID;
	}
}

static int downtime_add(struct app *a, const struct app_scope *sc, const char *customer,
                        const char *asset, const char *check, double start, double end,
                        const char *author, const char *comment, struct app_result *r)
{
	if (!customer || !*customer)
		return app__fail(r, APP_E_INVALID, "a downtime needs its customer");
	if (!app__customer_in_scope(sc, customer))
		return app__fail(r, APP_E_FORBIDDEN, "customer '%s' is outside your scope",
		                 customer);
	if (!author || !*author)
		return app__fail(r, APP_E_INVALID, "a downtime needs its author");
	const char *why = NULL;
	int rc = registry_downtime_add(a->d.reg, customer, asset, check, start, end, author,
	                               comment, app__now(a), r->id, sizeof r->id, &why);
	if (rc != 0)
		return app__fail(r, from_mamori(rc), "%s", why ? why : "invalid downtime");
	r->fresh = 1;
	return r->err = APP_OK;
}

int app_downtime_add(struct app *a, const struct app_scope *sc, const char *customer,
                     const char *asset, const char *check, double start, double end,
                     const char *author, const char *comment, const char *origin,
                     const char *idem_id, struct app_result *r, app_done_fn done, void *ud)
{
	memset(r, 0, sizeof *r);
	if (!idem_repeat(a, origin, idem_id, r)) {
		downtime_add(a, sc, customer, asset, check, start, end, author, comment, r);
		idem_record(a, origin, idem_id, r, 1);
	}
	return finish(a, r, done, ud);
}

static int downtime_delete(struct app *a, const struct app_scope *sc, const char *id,
                           struct app_result *r)
{
	snprintf(r->id, sizeof r->id, "%s", id ? id : "");
	const struct model *m = &a->d.reg->m;
	const struct cfg_downtime *d = NULL;
	for (size_t i = 0; id && i < m->n_downtimes; i++)
		if (m->downtimes[i].id && strcmp(m->downtimes[i].id, id) == 0)
			d = &m->downtimes[i];
	if (!d)
		return app__fail(r, APP_E_NOTFOUND, "unknown downtime '%s'", id ? id : "");
	if (!app__customer_in_scope(sc, d->customer))
		return app__fail(r, APP_E_FORBIDDEN, "downtime '%s' is outside your scope", id);
	int rc = registry_downtime_delete(a->d.reg, id, app__now(a));
	if (rc == MAMORI_E_DENIED)
		return app__fail(r, APP_E_DENIED,
		                 "downtime '%s' comes from the configuration file: edit the file",
		                 id);
	if (rc != 0)
		return app__fail(r, from_mamori(rc), "cannot delete downtime '%s'", id);
	r->fresh = 1;
	return r->err = APP_OK;
}

int app_downtime_delete(struct app *a, const struct app_scope *sc, const char *id,
                        const char *origin, const char *idem_id, struct app_result *r,
                        app_done_fn done, void *ud)
{
	memset(r, 0, sizeof *r);
	if (!idem_repeat(a, origin, idem_id, r)) {
		downtime_delete(a, sc, id, r);
		idem_record(a, origin, idem_id, r, 0);
	}
	return finish(a, r, done, ud);
}

int app_submit(struct app *a, const struct app_scope *sc, const char *customer, const char *asset,
               const char *check, int state, const char *output)
{
	if (!app__customer_in_scope(sc, customer))
		return APP_E_FORBIDDEN;
	struct check *c = registry_check(a->d.reg, customer, asset, check);
	if (!c)
		return APP_E_NOTFOUND;
	if (state < 0 || state > 3)
		return APP_E_INVALID;
	struct mamori_result res = { .struct_size = sizeof res, .state = state, .output = output };
	return engine_submit(a->d.engine, c, &res) == 0 ? APP_OK : APP_E_INVALID;
}

void app_send(struct app *a, const char *topic, const char *payload)
{
	if (a->d.alerting)
		alerting_queue_msg(a->d.alerting, topic, payload, app__now(a));
}
