// state: names, ranks and badges of check and alert states.
import { h } from './dom.js';
import { t } from './i18n.js';

export const SERVICES = ['defender', 'web', 'mail', 'utm', 'dns', 'other'];
// as the daemon's overview ranks them: CRITICAL > WARNING > UNKNOWN > OK
const RANK = { ok: 0, pending: 1, unknown: 2, warning: 3, critical: 4 };
const NUM = ['ok', 'warning', 'critical', 'unknown'];

export function rank(s) {
	return RANK[s] ?? -1;
}

// 0..3 or "OK"/"ok" -> "ok".."unknown"
export function stateName(s) {
	if (typeof s === 'number')
		return NUM[s] || 'unknown';
	return String(s || '').toLowerCase();
}

export function worse(a, b) {
	return rank(b) > rank(a) ? b : a;
}

// A badge: shape (CSS) + word + colour; none: a dash.
export function badge(s, text) {
	s = s ? stateName(s) : null;
	if (!s || !(s in RANK))
		return h('span', { class: 'st st-none', text: text || '\u2013' });
	return h('span', { class: 'st st-' + s, text: text || t('state.' + s) });
}

export function setBadge(el, s) {
	const cls = s && s in RANK ? 'st st-' + s : 'st st-none';
	const txt = s && s in RANK ? t('state.' + s) : '\u2013';
	if (el.className !== cls)
		el.className = cls;
	if (el.textContent !== txt)
		el.textContent = txt;
}

export function statusBadge(st) {
	return h('span', { class: 'st st-' + st, text: t('status.' + st) });
}
