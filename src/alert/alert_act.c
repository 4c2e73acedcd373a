/*
 * alert_act.c: contact-center actions on one alert (ack, unack, resolve,
 * escalate, dispatch, wait, comment) and the daemon's notify_failed
 * record.
 *
 * Each action first checks that it is allowed (nothing changes on error),
 * then ends a `wait` (the SLA clock pauses only until the next command),
 * applies itself, and emits exactly one event.  Which center may act is
 * the cmd module's question, not this one's.
 */
#include "alert/alert_int.h"

#include <stdlib.h>

static int allowed(const struct alert *a, enum alert_action_type type)
{
	switch (type) {
	case ALERT_ACT_ACK: return a->status == ALERT_OPEN ? 0 : ALERT_E_STATE;
	case ALERT_ACT_UNACK: return a->status == ALERT_ACKED ? 0 : ALERT_E_STATE;
	case ALERT_ACT_RESOLVE:
	case ALERT_ACT_WAIT: return a->status != ALERT_RESOLVED ? 0 : ALERT_E_STATE;
	case ALERT_ACT_ESCALATE:
		if (a->status == ALERT_RESOLVED)
			return ALERT_E_STATE;
		if (!a->sla.terms || a->sla.tier + 1 >= a->sla.terms->n_tiers)
			return ALERT_E_LAST_TIER;
		return 0;
	case ALERT_ACT_DISPATCH: /* results of a visit may come after resolution */
	case ALERT_ACT_COMMENT:
	case ALERT_ACT_NOTIFY_FAILED: return 0;
	}
	return ALERT_E_INVAL;
}

static int set_dispatch(struct alert *a, const struct alert_action *act)
{
	if (act->vendor && alert__set_str(&a->dispatch.vendor, act->vendor) < 0)
		return ALERT_E_NOMEM;
	if (act->result && alert__set_str(&a->dispatch.result, act->result) < 0)
		return ALERT_E_NOMEM;
	if (act->planned_at > 0)
		a->dispatch.planned_at = act->planned_at;
	return 0;
}

static enum alert_ev_type apply(struct alert_table *t, struct alert *a,
                                const struct alert_action *act, double now)
{
	switch (act->type) {
	case ALERT_ACT_ACK:
		a->status = ALERT_ACKED;
		a->acked_at = now;
		alert__set_str(&a->acked_by, act->actor); /* NULL on no memory is harmless */
		sla_ack(t->sla, &a->sla, now);
		return ALERT_EV_ACKNOWLEDGED;
	case ALERT_ACT_UNACK:
		a->status = ALERT_OPEN;
		a->acked_at = 0;
		alert__set_str(&a->acked_by, NULL);
		sla_unack(t->sla, &a->sla, now);
		return ALERT_EV_UNACKNOWLEDGED;
	case ALERT_ACT_RESOLVE:
		a->status = ALERT_RESOLVED;
		a->resolved_at = now;
		a->manual = 1;
		sla_stop(t->sla, &a->sla);
		return ALERT_EV_RESOLVED;
	case ALERT_ACT_ESCALATE:
		sla_escalate(t->sla, &a->sla, now);
		a->status = ALERT_OPEN; /* the new tier acknowledges on its own */
		return ALERT_EV_ESCALATED;
	case ALERT_ACT_WAIT:
		sla_pause(t->sla, &a->sla, SLA_PAUSE_WAIT, now);
		return ALERT_EV_WAITING;
	case ALERT_ACT_DISPATCH: return ALERT_EV_DISPATCHED;
	case ALERT_ACT_COMMENT: break;
	case ALERT_ACT_NOTIFY_FAILED: return ALERT_EV_NOTIFY_FAILED;
	}
	return ALERT_EV_COMMENTED;
}

int alert_act(struct alert_table *t, struct alert *a, const struct alert_action *act, double now)
{
	if (!a || !act || !act->actor)
		return ALERT_E_INVAL;
	int r = allowed(a, act->type);
	if (r < 0)
		return r;
	if (act->type == ALERT_ACT_DISPATCH && (r = set_dispatch(a, act)) < 0)
		return r;
	/* the daemon's own record is not a command: a `wait` goes on */
	if (act->type != ALERT_ACT_WAIT && act->type != ALERT_ACT_NOTIFY_FAILED &&
	    (a->sla.paused & SLA_PAUSE_WAIT))
		sla_resume(t->sla, &a->sla, SLA_PAUSE_WAIT, now);
	struct alert_event ev = {
		.type = apply(t, a, act, now),
		.actor = act->actor,
		.note = act->note,
		.cmd_id = act->cmd_id,
		.breach = -1,
	};
	if (ev.type == ALERT_EV_RESOLVED)
		ev.duration = now - a->opened_at;
	alert__emit(t, a, &ev, now);
	return 0;
}
