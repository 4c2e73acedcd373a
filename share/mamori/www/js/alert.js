// alert: one alert's page - its state and deadlines, the actions, the
// whole history as a timeline (who, what, when, the note), the check's
// output and recent alerts, the runbook, and the on-site dispatch record
// (vendor, visit time, interview notes and work done, result), entered
// and amended here (each amendment is a new record of the history; the
// newest is shown on top).  Reloads when the live stream reports an
// event of this alert.  An alert outside the user's scope is "not found".
import { h, clear, link, safeUrl } from './dom.js';
import { t, fmtTime } from './i18n.js';
import { get, enc } from './api.js';
import { badge, statusBadge } from './state.js';
import { runAction, actionsFor } from './actions.js';
import { dueText } from './queue.js';

export function notFound(main, what) {
	clear(main).append(h('div', { class: 'panel notfound', id: 'notfound' },
		h('h1', { text: t('nf.title') }), h('p', { text: t('nf.' + what) }),
		h('a', { href: '#/overview', text: t('nf.back') })));
}

export function mount(main, ctx, params) {
	const id = params[0];
	let alive = true, timer = 0, cur = null;
	const canAct = ctx.me.role !== 'viewer';

	async function load() {
		let j;
		try {
			j = await get('/api/v1/alerts/' + enc(id));
		} catch (e) {
			if (e.status === 404)
				return notFound(main, 'alert');
			if (e.status !== 401)
				clear(main).append(h('p', { class: 'error', text: t('error.load', { msg: e.message }) }));
			return;
		}
		if (!alive)
			return;
		const a = j.alert;
		cur = a;
		let check = null;
		if (a.asset && a.check && a.asset !== 'inquiry')
			check = await get('/api/v1/checks/' + enc(a.customer) + '/' + enc(a.asset) + '/' + enc(a.check)).catch(() => null);
		if (!alive)
			return;
		render(a, j, check);
	}

	function render(a, j, check) {
		const d = dueText(a, Date.now());
		const due = h('dd', { id: 'al-due', class: 'due ' + d.cls, text: d.text || '\u2013' });
		const kv = (k, v) => [h('dt', { text: t(k) }), v instanceof Node ? v : h('dd', { text: v ?? '\u2013' })];
		const wrapDd = n => h('dd', null, n);
		const acts = canAct ? h('div', { class: 'actions', id: 'al-actions' }, actionsFor(a).map(act =>
			h('button', { type: 'button', dataset: { act }, text: t('act.' + act), onclick: async () => {
				const last = (j.dispatches || [])[0];
				if ((await runAction(act, [a.id], { dispatch: act === 'dispatch' ? last : null })) !== null)
					load();
			} }))) : null;

		// the history, newest first
		// consecutive automatic "updated" events (each problem result) fold
		// into one line: "Updated ×12, 10:35:16 - 10:35:20"
		const events = [];
		for (const e of [...(j.events || [])].sort((x, y) => y.seq - x.seq)) {
			const prev = events[events.length - 1];
			if (prev && e.type === 'updated' && prev.type === 'updated' && !e.note && !prev.note && e.actor === prev.actor) {
				prev.n = (prev.n || 1) + 1;
				prev.first = e.time;
				continue;
			}
			events.push({ ...e });
		}
		const timeline = h('ol', { class: 'timeline', id: 'al-history' }, events.map(e =>
			h('li', { dataset: { type: e.type } },
				h('span', { class: 'when', text: e.n ? fmtTime(e.first) + ' \u2013 ' + fmtTime(e.time, true) : fmtTime(e.time) }),
				h('span', { class: 'what', text: t('ev.' + e.type) + (e.n ? ' \u00d7' + e.n : '') }),
				h('span', { class: 'who', text: t('ev.by', { who: e.actor || 'mamori' }) }),
				e.note ? h('div', { class: 'note', text: e.note }) : null)));
		if (j.truncated)
			timeline.append(h('li', { class: 'muted', text: t('al.truncated') }));

		const disp = (j.dispatches || []).slice().sort((x, y) => y.seq - x.seq);
		const dispatch = h('div', { class: 'panel', id: 'al-dispatch' }, h('h2', { text: t('disp.title') }),
			disp.length ? h('table', { class: 'list' },
				h('thead', null, h('tr', null, ['disp.time', 'disp.vendor', 'disp.planned', 'disp.result', 'disp.by'].map(k => h('th', { text: t(k) })))),
				h('tbody', null, disp.map(x => h('tr', null,
					h('td', { text: fmtTime(x.time, true) }), h('td', { text: x.vendor || '\u2013' }),
					h('td', { text: fmtTime(x.planned_at, true) || '\u2013' }), h('td', { class: 'out', text: x.result || '\u2013' }),
					h('td', { text: x.actor || '' })))))
				: h('p', { class: 'muted', text: t('disp.none') }),
			canAct && a.status !== 'resolved' ? h('button', { type: 'button', id: 'al-dispatch-edit', text: t(disp.length ? 'disp.edit' : 'disp.add'), onclick: async () => {
				if ((await runAction('dispatch', [a.id], { dispatch: disp[0] })) !== null)
					load();
			} }) : null);

		const rb = a.runbook || check?.runbook;
		const rbUrl = safeUrl(rb);
		const runbook = h('div', { class: 'panel', id: 'al-runbook' }, h('h2', { text: t('al.runbook') }),
			!rb ? h('p', { class: 'muted', text: t('al.runbook.none') })
				: rbUrl ? h('a', { href: rbUrl, target: '_blank', rel: 'noopener noreferrer', text: rb })
					: h('div', { class: 'runbook', text: rb }));

		const out = check ? h('div', { class: 'panel', id: 'al-check' }, h('h2', { text: t('al.check') }),
			h('p', null, badge(check.state), ' ', h('span', { class: 'muted', text: t('al.lastcheck', { at: fmtTime(check.last_check) || '\u2013' }) })),
			h('pre', { class: 'output', text: check.output + (check.long_output ? '\n' + check.long_output : '') }),
			check.perfdata ? h('p', { class: 'muted', text: check.perfdata }) : null,
			(check.recent_alerts || []).length ? h('div', null, h('h2', { text: t('al.recent') }),
				h('ul', null, check.recent_alerts.map(r => h('li', null,
					h('a', { href: link('alerts', r.id), text: fmtTime(r.opened_at, true) + ' ' + (r.summary || r.id) }),
					' ', statusBadge(r.status))))) : null) : null;

		clear(main).append(
			h('div', { class: 'toolbar' }, h('a', { href: '#/alerts', text: '\u2190 ' + t('nav.queue') })),
			h('div', { class: 'toolbar' }, badge(a.severity), statusBadge(a.status), h('h1', { id: 'al-summary', text: a.summary || a.id })),
			h('div', { class: 'grid2' },
				h('div', null,
					h('div', { class: 'panel' },
						h('dl', { class: 'kv' },
							kv('al.id', a.id),
							kv('al.customer', wrapDd(h('a', { href: link('customers', a.customer), id: 'al-customer', text: a.customer }))),
							kv('al.check', (a.asset || '') + ' / ' + (a.check || '')),
							kv('al.service', t('svc.' + (a.service || 'other'))),
							kv('al.center', (a.center || '\u2013') + (a.tier ? ' \u00b7 ' + a.tier : '')),
							kv('al.opened', fmtTime(a.opened_at)),
							kv('al.acked', a.acked_by ? t('al.acked.by', { who: a.acked_by, at: fmtTime(a.acked_at) }) : null),
							kv('al.due', due),
							kv('al.resolved', fmtTime(a.resolved_at) || null),
							kv('al.count', String(a.count))),
						acts),
					h('div', { class: 'panel' }, h('h2', { text: t('al.history') }), timeline)),
				h('div', null, runbook, out, dispatch)));
		main.dataset.ready = '1';
	}

	const tick = setInterval(() => {
		const el = document.getElementById('al-due');
		if (el && cur) {
			const d = dueText(cur, Date.now());
			el.textContent = d.text || '\u2013';
			el.className = 'due ' + d.cls;
		}
	}, 1000);
	const offs = [
		ctx.live.on('alert', e => {
			if (e.id === id && !timer)
				timer = setTimeout(() => { timer = 0; load(); }, 200);
		}),
		ctx.live.on('downtime', () => { if (!timer) timer = setTimeout(() => { timer = 0; load(); }, 500); }),
		ctx.live.on('gap', () => load()),
	];
	load();
	return () => {
		alive = false;
		clearInterval(tick);
		clearTimeout(timer);
		offs.forEach(f => f());
	};
}
