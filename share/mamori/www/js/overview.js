// overview: every customer the user may see, one row each, with the worst
// state per service, PCs by Defender verdict, open alerts and the nearest
// deadline.  Built for 5,000 customers:
//  - a virtual table: only the rows in view (plus a few) exist as
//    elements, re-used while scrolling;
//  - live state events are queued and applied once per animation frame
//    (a check that turned worse paints its customer's cell at once);
//    re-sorting is limited to twice a second;
//  - the daemon's overview is fetched again (with If-None-Match, so an
//    unchanged one costs a 304) at most once a second after events, for
//    what an event alone cannot tell (a service that recovered while
//    another check of it is still bad, alert counts, deadlines).
import { h, clear, setText, link } from './dom.js';
import { t, fmtAgo, fmtDur, toMs, getLang } from './i18n.js';
import { get, getAll } from './api.js';
import { SERVICES, rank, worse, setBadge, stateName } from './state.js';

const ROW_H = 34;
const OVERSCAN = 6;
const REFETCH_MS = 1000;
const RESORT_MS = 500;

export function mount(main, ctx) {
	main.classList.add('fixed');
	const st = {
		rows: [], byId: new Map(), view: [], etag: null, centers: new Map(),
		f: { q: '', region: '', center: '', state: '' }, sort: 'worst',
		queue: [], raf: 0, needSort: true, lastSort: -Infinity, sortTimer: 0,
		fetching: false, again: false, lastFetch: 0, fetchTimer: 0, alive: true,
		loadedAt: 0,
	};

	// ---- toolbar ----
	const q = h('input', { type: 'search', id: 'ov-search', placeholder: t('ov.search'), 'aria-label': t('ov.search') });
	const region = h('select', { 'aria-label': t('ov.region') });
	const center = h('select', { 'aria-label': t('ov.center') });
	const stateSel = h('select', { 'aria-label': t('ov.state') },
		['', 'problems', 'critical', 'warning', 'unknown', 'ok'].map(v =>
			h('option', { value: v, text: v ? t('ov.state.' + v) : t('ov.state.all') })));
	const sort = h('select', { 'aria-label': t('ov.sort') },
		['worst', 'changed', 'due', 'name'].map(v => h('option', { value: v, text: t('ov.sort.' + v) })));
	const count = h('span', { class: 'muted', id: 'ov-count' });
	const summary = h('div', { class: 'summary', id: 'ov-summary' });
	q.addEventListener('input', () => { st.f.q = q.value.trim().toLowerCase(); resort(true); });
	region.addEventListener('change', () => { st.f.region = region.value; resort(true); });
	center.addEventListener('change', () => { st.f.center = center.value; loadCenters().then(() => resort(true)); });
	stateSel.addEventListener('change', () => { st.f.state = stateSel.value; resort(true); });
	sort.addEventListener('change', () => { st.sort = sort.value; resort(true); });

	const cols = ['ov.col.worst', 'ov.col.customer', 'ov.region', ...SERVICES.map(s => 'svc.' + s),
		'ov.col.pcs', 'ov.col.open', 'ov.col.due', 'ov.col.changed'];
	const head = h('div', { class: 'vt-head', role: 'row' }, cols.map(c => h('div', { role: 'columnheader', text: t(c) })));
	const space = h('div', { class: 'vt-space' });
	const body = h('div', { class: 'vt-body', role: 'rowgroup', tabindex: '0', 'aria-label': t('ov.title') }, space);
	const table = h('div', { class: 'vt', role: 'table', 'aria-label': t('ov.title') }, head, body);
	clear(main).append(
		h('div', { class: 'toolbar' }, h('h1', { text: t('ov.title') }), summary, h('span', { class: 'grow' }), count),
		h('div', { class: 'toolbar' }, q, region, center, stateSel, sort),
		table);

	const pool = [];
	body.addEventListener('scroll', () => frame(), { passive: true });
	const ro = new ResizeObserver(() => frame());
	ro.observe(body);

	// ---- data ----
	function derive(r) {
		let w = null;
		for (const s of SERVICES) {
			const v = r.services?.[s];
			if (v && (w === null || rank(v) > rank(w)))
				w = v;
		}
		r._worst = w;
		r._due = toMs(r.next_due);
		r._changed = toMs(r.changed) || 0;
		r._text = (r.id + '\n' + r.name + '\n' + (r.region || '')).toLowerCase();
		r._v = (r._v || 0) + 1;
	}

	async function fetchOverview() {
		if (!st.alive)
			return;
		if (st.fetching) {
			st.again = true;
			return;
		}
		st.fetching = true;
		st.lastFetch = performance.now();
		try {
			const hdr = st.etag ? { 'If-None-Match': st.etag } : undefined;
			const j = await ctx.api('GET', '/api/v1/overview', undefined, hdr);
			if (!j.notModified) {
				st.etag = j.etag || null;
				const old = st.byId;
				st.rows = j.customers || [];
				st.byId = new Map();
				for (const r of st.rows) {
					const o = old.get(r.id);
					r._v = o ? o._v : 0;
					derive(r);
					st.byId.set(r.id, r);
				}
				fillRegions();
				st.loadedAt = Date.now();
				resort(true);
			}
			if (st.f.center)
				await loadCenters();
			// ready once the rows are painted (the next frame), not before
			st.markReady = true;
			frame();
		} catch (e) {
			if (e.status !== 401)
				setText(count, t('error.load', { msg: e.message }));
		} finally {
			st.fetching = false;
			if (st.again) {
				st.again = false;
				later();
			}
		}
	}

	// fetch again soon (at most once per REFETCH_MS)
	function later() {
		if (st.fetchTimer || !st.alive)
			return;
		const wait = Math.max(0, REFETCH_MS - (performance.now() - st.lastFetch));
		st.fetchTimer = setTimeout(() => { st.fetchTimer = 0; fetchOverview(); }, wait);
	}

	async function loadCenters() {
		if (!st.f.center)
			return;
		const alerts = await getAll('/api/v1/alerts?status=unresolved&limit=1000', 'alerts', 20000);
		st.centers = new Map();
		for (const a of alerts) {
			if (!a.center)
				continue;
			if (!st.centers.has(a.customer))
				st.centers.set(a.customer, new Set());
			st.centers.get(a.customer).add(a.center);
		}
	}

	function fillRegions() {
		const regions = [...new Set(st.rows.map(r => r.region).filter(Boolean))].sort();
		const cur = region.value;
		if (region.options.length === regions.length + 1)
			return;
		clear(region).append(h('option', { value: '', text: t('ov.region.all') }),
			...regions.map(x => h('option', { value: x, text: x })));
		region.value = cur;
	}

	function fillCenters(list) {
		clear(center).append(h('option', { value: '', text: t('ov.center.all') }),
			...list.map(x => h('option', { value: x, text: x })));
	}

	// ---- filter and sort ----
	function match(r) {
		const f = st.f;
		if (f.q && !r._text.includes(f.q))
			return false;
		if (f.region && r.region !== f.region)
			return false;
		if (f.center && !(st.centers.get(r.id)?.has(f.center)))
			return false;
		if (f.state === 'problems')
			return r._worst && r._worst !== 'ok' && r._worst !== 'pending';
		if (f.state && r._worst !== f.state)
			return false;
		return true;
	}

	function cmp() {
		const coll = new Intl.Collator(getLang() === 'ja' ? 'ja' : 'en');
		const byName = (a, b) => coll.compare(a.name, b.name) || (a.id < b.id ? -1 : 1);
		switch (st.sort) {
		case 'changed': return (a, b) => b._changed - a._changed || byName(a, b);
		case 'due': return (a, b) => (a._due ?? Infinity) - (b._due ?? Infinity) || byName(a, b);
		case 'name': return byName;
		default: return (a, b) => rank(b._worst) - rank(a._worst) || b.open - a.open || (a._due ?? Infinity) - (b._due ?? Infinity) || byName(a, b);
		}
	}

	function doSort() {
		st.view = st.rows.filter(match);
		st.view.sort(cmp());
		st.needSort = false;
		st.lastSort = performance.now();
		space.style.height = st.view.length * ROW_H + 'px';
		setText(count, t('ov.count', { shown: st.view.length, total: st.rows.length }));
		const n = { critical: 0, warning: 0, unknown: 0, ok: 0 };
		let open = 0;
		for (const r of st.rows) {
			if (r._worst in n)
				n[r._worst]++;
			open += r.open || 0;
		}
		clear(summary).append(
			...['critical', 'warning', 'unknown', 'ok'].map(s =>
				h('span', { class: 'st st-' + s, dataset: { count: s }, text: t('ov.sum.' + s, { n: n[s] }) })),
			h('span', { class: 'st st-none', text: t('ov.sum.open', { n: open }) }));
	}

	// re-sort now (the user asked) or within RESORT_MS (data changed)
	function resort(now) {
		st.needSort = true;
		if (now) {
			st.lastSort = -Infinity; // sort in the next frame, however soon after the page loaded
			frame();
			return;
		}
		if (!st.sortTimer)
			st.sortTimer = setTimeout(() => { st.sortTimer = 0; frame(); },
				Math.max(0, RESORT_MS - (performance.now() - st.lastSort)));
	}

	// ---- one animation frame: queued events, sort if due, paint ----
	function frame() {
		if (!st.raf && st.alive)
			st.raf = requestAnimationFrame(onFrame);
	}

	function onFrame() {
		st.raf = 0;
		if (st.queue.length) {
			const q2 = st.queue;
			st.queue = [];
			let changed = false;
			for (const e of q2) {
				const r = st.byId.get(e.customer);
				if (!r)
					continue;
				const svc = SERVICES.includes(e.service) ? e.service : 'other';
				const s = stateName(e.state);
				r.services = r.services || {};
				const cur = r.services[svc];
				if (!cur || rank(s) > rank(cur)) {
					r.services[svc] = s;
					changed = true;
				}
				const ts = toMs(e.last_change) || Date.now();
				if (ts > r._changed)
					r.changed = new Date(ts).toISOString();
				derive(r);
			}
			if (changed)
				st.needSort = true;
		}
		if (st.needSort && performance.now() - st.lastSort >= RESORT_MS)
			doSort();
		else if (st.needSort)
			resort(false);
		paint();
		if (st.markReady) {
			st.markReady = false;
			main.dataset.ready = '1';
		}
	}

	function makeRow() {
		const cells = {
			worst: h('span', { class: 'st' }),
			name: h('a'),
			region: h('div', { class: 'cell muted' }),
			svc: SERVICES.map(() => h('span', { class: 'st' })),
			pcs: h('div', { class: 'cell pcs' }),
			open: h('div', { class: 'cell' }),
			due: h('div', { class: 'cell due' }),
			changed: h('div', { class: 'cell muted' }),
		};
		const el = h('div', { class: 'vt-row', role: 'row' },
			h('div', null, cells.worst), h('div', { class: 'name' }, cells.name), cells.region,
			cells.svc.map(c => h('div', null, c)), cells.pcs, cells.open, cells.due, cells.changed);
		el._c = cells;
		space.append(el);
		return el;
	}

	function paint() {
		const top = body.scrollTop, height = body.clientHeight || 600;
		const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
		const last = Math.min(st.view.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
		const n = Math.max(0, last - first);
		while (pool.length < n)
			pool.push(makeRow());
		for (let k = 0; k < pool.length; k++) {
			const el = pool[k];
			if (k >= n) {
				if (!el.hidden)
					el.hidden = true;
				continue;
			}
			el.hidden = false;
			fill(el, st.view[first + k], first + k);
		}
	}

	function fill(el, r, i) {
		if (el._i !== i) {
			el.style.transform = 'translateY(' + i * ROW_H + 'px)';
			el._i = i;
		}
		const c = el._c;
		const now = Date.now();
		if (el._r !== r || el._v !== r._v) {
			el._r = r;
			el._v = r._v;
			el.dataset.customer = r.id;
			el.className = 'vt-row worst-' + (r._worst || 'none');
			setBadge(c.worst, r._worst);
			setText(c.name, r.name);
			c.name.href = link('customers', r.id);
			c.name.title = r.id;
			setText(c.region, r.region || '');
			SERVICES.forEach((s, k) => {
				setBadge(c.svc[k], r.services?.[s] || null);
				c.svc[k].dataset.service = s;
			});
			const p = r.pcs || {};
			const parts = [];
			for (const v of ['critical', 'warning', 'silent', 'unknown', 'pending', 'ok'])
				if (p[v])
					parts.push(t('pcs.' + v, { n: p[v] }));
			setText(c.pcs, parts.join(' \u00b7 '));
			setText(c.open, r.open ? (r.acked ? t('ov.open', { n: r.open, acked: r.acked }) : String(r.open)) : '');
		}
		// time-dependent cells: every paint (the clock ticks)
		if (r._due) {
			const left = (r._due - now) / 1000;
			setText(c.due, fmtDur(left));
			const cls = 'cell due' + (left < 0 ? ' late' : left < 600 ? ' soon' : '');
			if (c.due.className !== cls)
				c.due.className = cls;
		} else {
			setText(c.due, '');
		}
		setText(c.changed, r._changed ? fmtAgo(r._changed) : '');
	}

	// ---- live ----
	const offs = [
		ctx.live.on('state', e => { st.queue.push(e); frame(); later(); }),
		ctx.live.on('alert', () => later()),
		ctx.live.on('downtime', () => later()),
		ctx.live.on('gap', () => { st.etag = null; fetchOverview(); }),
		ctx.live.on('status', s => { if (s === 'open') later(); }),
	];
	const tick = setInterval(() => paint(), 1000);

	fillCenters(ctx.me.role === 'operator' ? ctx.me.centers : []);
	if (ctx.me.role === 'admin')
		get('/api/v1/status').then(s => fillCenters([...new Set((s.open_by_center || []).map(x => x.center))].sort())).catch(() => {});
	fetchOverview();

	return () => {
		st.alive = false;
		offs.forEach(f => f());
		clearInterval(tick);
		clearTimeout(st.fetchTimer);
		clearTimeout(st.sortTimer);
		cancelAnimationFrame(st.raf);
		ro.disconnect();
		main.classList.remove('fixed');
	};
}
