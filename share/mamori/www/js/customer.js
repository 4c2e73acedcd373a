// customer: one customer's page - its assets and checks with their states
// (problems first; a filter for the rest), its alerts (open ones and the
// history the store keeps), a manual inquiry for it, charts of its
// performance data over time (charts.js, from the API's history) and live
// updates.  The charts section is made once and kept across the page's
// reloads (which come with every state change of the customer): it reads
// the history again only when the range or the set of checks changes.
import { h, clear, link } from './dom.js';
import { t, fmtTime, fmtAgo } from './i18n.js';
import { get, getAll, enc } from './api.js';
import { badge, statusBadge, rank, stateName, SERVICES } from './state.js';
import { notFound } from './alert.js';
import { newInquiry } from './queue.js';
import { chartsSection } from './charts.js';

export function mount(main, ctx, params) {
	const id = params[0];
	let alive = true, timer = 0, charts = null;
	const st = { cust: null, checks: [], alerts: [], onlyProblems: null };
	const chartsEl = h('div', { id: 'cu-history' });

	async function load() {
		let cust;
		try {
			cust = await get('/api/v1/customers/' + enc(id));
		} catch (e) {
			if (e.status === 404)
				return notFound(main, 'customer');
			if (e.status !== 401)
				clear(main).append(h('p', { class: 'error', text: t('error.load', { msg: e.message }) }));
			return;
		}
		const [checks, open, past] = await Promise.all([
			getAll('/api/v1/checks?customer=' + enc(id) + '&limit=1000', 'checks', 20000),
			getAll('/api/v1/alerts?customer=' + enc(id) + '&status=unresolved&limit=500', 'alerts', 2000),
			get('/api/v1/alerts?customer=' + enc(id) + '&status=resolved&limit=50').then(j => j.alerts || []).catch(() => []),
		]);
		if (!alive)
			return;
		st.cust = cust.customer || cust;
		st.checks = checks;
		st.alerts = [...open, ...past];
		if (st.onlyProblems === null)
			st.onlyProblems = checks.length > 200;
		render();
	}

	function render() {
		const c = st.cust;
		const probs = st.checks.filter(x => x.state !== 'ok');
		const shown = (st.onlyProblems ? probs : st.checks).slice()
			.sort((a, b) => rank(stateName(b.state)) - rank(stateName(a.state)) || (a.asset + a.check).localeCompare(b.asset + b.check));
		const onlyBox = h('input', { type: 'checkbox', id: 'cu-problems', checked: st.onlyProblems });
		onlyBox.addEventListener('change', () => { st.onlyProblems = onlyBox.checked; render(); });
		const counts = {};
		for (const x of st.checks)
			counts[x.state] = (counts[x.state] || 0) + 1;
		const checksTable = h('table', { class: 'list', id: 'cu-checks' },
			h('thead', null, h('tr', null, ['cu.asset', 'cu.check', 'cu.service', 'cu.state', 'cu.output', 'cu.last', 'cu.flags'].map(k => h('th', { text: t(k) })))),
			h('tbody', null, shown.slice(0, 2000).map(x => h('tr', { dataset: { check: x.asset + '/' + x.check } },
				h('td', { text: x.asset }), h('td', { text: x.check }),
				h('td', { text: t('svc.' + (SERVICES.includes(x.service) ? x.service : 'other')) }),
				h('td', null, badge(x.state), x.state_type === 'soft' && x.state !== 'ok' ? h('span', { class: 'muted', text: ' ' + t('cu.soft', { a: x.attempt, m: x.max_attempts }) }) : null),
				h('td', { class: 'out' }, x.output, x.perfdata ? h('div', { class: 'muted', text: x.perfdata }) : null),
				h('td', { text: x.last_check ? fmtAgo(x.last_check) : '\u2013', title: fmtTime(x.last_check) }),
				h('td', { text: [x.acknowledged && t('cu.flag.ack'), x.in_downtime && t('cu.flag.downtime'), x.stale && t('cu.flag.stale'), x.flapping && t('cu.flag.flapping')].filter(Boolean).join(', ') })))));
		const alertsTable = h('table', { class: 'list', id: 'cu-alerts' },
			h('thead', null, h('tr', null, ['q.col.sev', 'q.col.status', 'q.col.check', 'q.col.summary', 'q.col.opened', 'al.resolved'].map(k => h('th', { text: t(k) })))),
			h('tbody', null, st.alerts.length ? st.alerts.map(a => h('tr', { dataset: { alert: a.id } },
				h('td', null, badge(a.severity)), h('td', null, statusBadge(a.status)),
				h('td', { text: a.asset + ' / ' + a.check }),
				h('td', { class: 'out' }, h('a', { href: link('alerts', a.id), text: a.summary || a.id })),
				h('td', { text: fmtTime(a.opened_at, true) }), h('td', { text: fmtTime(a.resolved_at, true) })))
				: h('tr', null, h('td', { colspan: 6, class: 'muted', text: t('cu.noalerts') }))));
		clear(main).append(
			h('div', { class: 'toolbar' }, h('a', { href: '#/overview', text: '\u2190 ' + t('nav.overview') })),
			h('div', { class: 'toolbar' }, h('h1', { id: 'cu-name', text: c.name || c.id }),
				h('span', { class: 'muted', text: c.id + (c.region ? ' \u00b7 ' + c.region : '') }),
				h('span', { class: 'grow' }),
				ctx.me.role !== 'viewer' ? h('button', { type: 'button', id: 'cu-inquiry', text: t('inq.new'), onclick: () => newInquiry(ctx, id).then(x => { if (x) location.hash = link('alerts', x); }) }) : null),
			h('div', { class: 'summary' }, ['critical', 'warning', 'unknown', 'pending', 'ok'].filter(s => counts[s]).map(s => badge(s, t('state.' + s) + ' ' + counts[s]))),
			h('h2', { text: t('cu.alerts') }), alertsTable,
			h('h2', { text: t('cu.checks', { n: st.checks.length }) }),
			h('label', null, onlyBox, ' ', t('cu.problems', { n: probs.length })),
			checksTable,
			h('h2', { text: t('cu.charts') }),
			chartsEl);
		if (!charts)
			charts = chartsSection(chartsEl, st.checks);
		else
			charts.update(st.checks);
		main.dataset.ready = '1';
	}

	const reload = () => {
		if (!timer && alive)
			timer = setTimeout(() => { timer = 0; load(); }, 500);
	};
	const offs = [
		ctx.live.on('state', e => { if (e.customer === id) reload(); }),
		ctx.live.on('alert', e => { if (e.customer === id) reload(); }),
		ctx.live.on('gap', reload),
	];
	load();
	return () => {
		alive = false;
		clearTimeout(timer);
		offs.forEach(f => f());
		if (charts)
			charts.destroy();
	};
}
