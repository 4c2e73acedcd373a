// queue: the unresolved alerts, nearest deadline first, with live
// countdowns (the deadlines are the daemon's, computed in business time;
// a paused clock shows as paused, with why: waiting for the customer, a
// downtime), the actions, several alerts
// acknowledged at once, and manual inquiries.  Colleagues' changes come
// over the live stream: the list is fetched again (at most every 300 ms)
// and the rows that changed flash.
import { h, clear, setText, link, toast } from './dom.js';
import { t, fmtTime, fmtDur, toMs } from './i18n.js';
import { getAll, get, post, requestId } from './api.js';
import { badge, statusBadge, SERVICES } from './state.js';
import { runAction, actionsFor } from './actions.js';

export function dueOf(a) {
	if (a.status === 'resolved')
		return null;
	const d = a.status === 'open' && a.ack_due ? a.ack_due : a.resolve_due;
	return toMs(d);
}

// Why a clock is paused, from the API's `waiting` and `in_downtime`.
export function pausedWhy(a) {
	const why = [a.waiting && t('due.why.waiting'), a.in_downtime && t('due.why.downtime')].filter(Boolean);
	return why.join(t('due.why.and'));
}

// The deadline cell: "ack 12:34", "resolve -3m (late)", "paused:
// waiting for the customer".
export function dueText(a, now) {
	if (a.status === 'resolved')
		return { text: '', cls: '' };
	if (a.paused) {
		const why = pausedWhy(a);
		return { text: '\u2016 ' + (why ? t('due.paused.why', { why }) : t('due.paused')), cls: 'paused' };
	}
	const ms = dueOf(a);
	if (ms === null)
		return { text: a.ack_breached || a.resolve_breached ? t('due.breached') : '', cls: 'late' };
	const left = (ms - now) / 1000;
	const which = a.status === 'open' && a.ack_due ? 'due.ack' : 'due.resolve';
	return {
		text: t(which, { d: fmtDur(left) }) + (left < 0 ? ' ' + t('due.late') : ''),
		cls: left < 0 ? 'late' : left < 600 ? 'soon' : '',
	};
}

export function mount(main, ctx) {
	const st = { alerts: [], sel: new Set(), names: new Map(), timer: 0, busy: false, again: false, alive: true, seen: new Map() };
	const canAct = ctx.me.role !== 'viewer';
	const search = h('input', { type: 'search', placeholder: t('q.search'), 'aria-label': t('q.search') });
	const status = h('select', { 'aria-label': t('q.status') },
		['unresolved', 'open', 'acknowledged'].map(v => h('option', { value: v, text: t('q.status.' + v) })));
	const center = h('select', { 'aria-label': t('ov.center') });
	const ackSel = h('button', { id: 'q-ack-selected', disabled: true, text: t('q.ack.selected', { n: 0 }) });
	const inquiry = h('button', { id: 'q-inquiry', class: 'primary', text: t('inq.new') });
	const count = h('span', { class: 'muted', id: 'q-count' });
	const tbody = h('tbody');
	const all = h('input', { type: 'checkbox', 'aria-label': t('q.select.all') });
	const table = h('table', { class: 'list', id: 'queue' },
		h('thead', null, h('tr', null,
			canAct ? h('th', null, all) : null,
			...['q.col.sev', 'q.col.status', 'q.col.due', 'q.col.customer', 'q.col.check', 'q.col.summary', 'q.col.center', 'q.col.opened', canAct ? 'q.col.actions' : null]
				.filter(Boolean).map(k => h('th', { text: t(k) })))),
		tbody);
	clear(main).append(
		h('div', { class: 'toolbar' }, h('h1', { text: t('q.title') }), h('span', { class: 'grow' }), count,
			canAct ? ackSel : null, canAct ? inquiry : null),
		h('div', { class: 'toolbar' }, search, status, center),
		table);

	search.addEventListener('input', render);
	status.addEventListener('change', render);
	center.addEventListener('change', render);
	all.addEventListener('change', () => {
		st.sel.clear();
		if (all.checked)
			for (const a of visible())
				if (a.status === 'open')
					st.sel.add(a.id);
		render();
	});
	ackSel.addEventListener('click', async () => {
		const ids = [...st.sel];
		if (ids.length && (await runAction('ack', ids)) !== null) {
			st.sel.clear();
			load();
		}
	});
	inquiry.addEventListener('click', () => newInquiry(ctx).then(id => { if (id) location.hash = link('alerts', id); }));

	function visible() {
		const q = search.value.trim().toLowerCase();
		const s = status.value, c = center.value;
		return st.alerts.filter(a =>
			(s === 'unresolved' || a.status === s) && (!c || a.center === c) &&
			(!q || (a.customer + ' ' + (st.names.get(a.customer) || '') + ' ' + a.summary + ' ' + a.asset + ' ' + a.check + ' ' + a.id).toLowerCase().includes(q)));
	}

	async function load() {
		if (st.busy) {
			st.again = true;
			return;
		}
		st.busy = true;
		try {
			const list = await getAll('/api/v1/alerts?status=unresolved&limit=1000', 'alerts', 5000);
			const now = Date.now();
			const flash = new Set();
			for (const a of list) {
				const prev = st.seen.get(a.id);
				if (prev !== undefined && prev !== a.seq)
					flash.add(a.id);
				st.seen.set(a.id, a.seq);
			}
			list.sort((a, b) => (dueOf(a) ?? Infinity) - (dueOf(b) ?? Infinity) || toMs(a.opened_at) - toMs(b.opened_at));
			st.alerts = list;
			for (const id of [...st.sel])
				if (!list.some(a => a.id === id && a.status === 'open'))
					st.sel.delete(id);
			const centers = [...new Set(list.map(a => a.center).filter(Boolean))].sort();
			const cur = center.value;
			clear(center).append(h('option', { value: '', text: t('ov.center.all') }), ...centers.map(c => h('option', { value: c, text: c })));
			center.value = centers.includes(cur) ? cur : '';
			render(flash, now);
			main.dataset.ready = '1';
		} catch (e) {
			if (e.status !== 401)
				setText(count, t('error.load', { msg: e.message }));
		} finally {
			st.busy = false;
			if (st.again) {
				st.again = false;
				soon();
			}
		}
	}

	function soon() {
		if (!st.timer && st.alive)
			st.timer = setTimeout(() => { st.timer = 0; load(); }, 300);
	}

	function render(flash) {
		const now = Date.now();
		const rows = visible();
		setText(count, t('q.count', { n: rows.length }));
		ackSel.disabled = st.sel.size === 0;
		setText(ackSel, t('q.ack.selected', { n: st.sel.size }));
		clear(tbody);
		if (!rows.length)
			tbody.append(h('tr', null, h('td', { colspan: 10, class: 'muted', text: t('q.empty') })));
		for (const a of rows) {
			const d = dueText(a, now);
			const cb = h('input', { type: 'checkbox', 'aria-label': t('q.select', { id: a.id }), checked: st.sel.has(a.id), disabled: a.status !== 'open' });
			cb.addEventListener('change', () => {
				if (cb.checked)
					st.sel.add(a.id);
				else
					st.sel.delete(a.id);
				ackSel.disabled = st.sel.size === 0;
				setText(ackSel, t('q.ack.selected', { n: st.sel.size }));
			});
			const acts = canAct ? h('div', { class: 'actions' }, actionsFor(a).map(act =>
				h('button', { type: 'button', dataset: { act }, text: t('act.' + act), onclick: async () => {
					if ((await runAction(act, [a.id])) !== null)
						load();
				} }))) : null;
			const tr = h('tr', { dataset: { alert: a.id }, class: flash instanceof Set && flash.has(a.id) ? 'sel' : null },
				canAct ? h('td', null, cb) : null,
				h('td', null, badge(a.severity)),
				h('td', null, statusBadge(a.status), a.acked_by ? h('div', { class: 'muted', text: a.acked_by }) : null),
				h('td', { class: 'due ' + d.cls, dataset: { due: '1' }, text: d.text }),
				h('td', null, h('a', { href: link('customers', a.customer), text: st.names.get(a.customer) || a.customer })),
				h('td', null, a.asset + ' / ' + a.check, h('div', { class: 'muted', text: t('svc.' + (SERVICES.includes(a.service) ? a.service : 'other')) })),
				h('td', { class: 'out' }, h('a', { href: link('alerts', a.id), text: a.summary || a.id })),
				h('td', null, a.center || '\u2013', h('div', { class: 'muted', text: a.tier || '' })),
				h('td', { text: fmtTime(a.opened_at, true) }),
				acts);
			tr._a = a;
			tbody.append(tr);
		}
	}

	// the countdowns tick without rebuilding the table
	const tick = setInterval(() => {
		const now = Date.now();
		for (const tr of tbody.rows) {
			if (!tr._a)
				continue;
			const td = tr.querySelector('[data-due]');
			const d = dueText(tr._a, now);
			setText(td, d.text);
			td.className = 'due ' + d.cls;
		}
	}, 1000);

	const offs = [
		ctx.live.on('alert', soon),
		ctx.live.on('downtime', soon), // a downtime pauses (resumes) clocks
		ctx.live.on('gap', soon),
		ctx.live.on('status', s => { if (s === 'open') soon(); }),
	];
	get('/api/v1/customers').then(j => {
		for (const c of j.customers || [])
			st.names.set(c.id, c.name);
		render();
	}).catch(() => {});
	load();
	return () => {
		st.alive = false;
		clearInterval(tick);
		clearTimeout(st.timer);
		offs.forEach(f => f());
	};
}

// A manual inquiry: a phone call or an e-mail becomes an alert with the
// same routing, SLA clock and history as a monitoring alert.  The caller
// and channel go into its first comment.  Resolves to the new alert's id.
export async function newInquiry(ctx, customer) {
	const custs = (await get('/api/v1/customers')).customers || [];
	return new Promise(resolve => {
		const cust = h('select', { id: 'inq-customer', required: true },
			custs.map(c => h('option', { value: c.id, text: c.name + ' (' + c.id + ')' })));
		if (customer)
			cust.value = customer;
		const svc = h('select', { id: 'inq-service' }, SERVICES.map(s => h('option', { value: s, text: t('svc.' + s) })));
		svc.value = 'other';
		const sev = h('select', { id: 'inq-severity' }, ['warning', 'critical'].map(s => h('option', { value: s, text: t('state.' + s) })));
		const channel = h('select', { id: 'inq-channel' }, ['phone', 'email', 'other'].map(s => h('option', { value: s, text: t('inq.ch.' + s) })));
		const caller = h('input', { id: 'inq-caller' });
		const summary = h('input', { id: 'inq-summary', required: true, maxlength: 1000 });
		const err = h('p', { class: 'error', role: 'alert' });
		const ok = h('button', { class: 'primary', type: 'submit', id: 'inq-ok', text: t('inq.open') });
		const cancel = h('button', { type: 'button', text: t('act.cancel') });
		const form = h('form', { class: 'stack' }, h('h2', { text: t('inq.new') }),
			h('label', null, t('inq.customer'), cust), h('label', null, t('inq.service'), svc),
			h('label', null, t('inq.severity'), sev), h('label', null, t('inq.channel'), channel),
			h('label', null, t('inq.caller'), caller), h('label', null, t('inq.summary'), summary),
			err, h('div', { class: 'actions' }, ok, cancel));
		const dlg = h('dialog', { id: 'inq-dialog' }, form);
		document.body.append(dlg);
		const done = v => { dlg.close(); dlg.remove(); resolve(v); };
		cancel.addEventListener('click', () => done(null));
		dlg.addEventListener('cancel', () => done(null));
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			if (!summary.value.trim()) {
				err.textContent = t('inq.summary.missing');
				return;
			}
			ok.disabled = true;
			const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
			try {
				const r = await post('/api/v1/alerts', {
					customer: cust.value, service: svc.value, severity: sev.value,
					asset: 'inquiry', check: channel.value + '-' + stamp,
					summary: summary.value.trim(), request_id: requestId('inquiry'),
				});
				const who = caller.value.trim();
				await post('/api/v1/alerts/' + encodeURIComponent(r.alert) + '/comment', {
					note: t('inq.note', { channel: t('inq.ch.' + channel.value), caller: who || '\u2013' }),
					request_id: requestId('inqnote'),
				});
				toast(t('inq.opened', { id: r.alert }));
				done(r.alert);
			} catch (e) {
				err.textContent = e.message;
				ok.disabled = false;
			}
		});
		dlg.showModal();
		summary.focus();
	});
}
