// charts: the customer page's charts of performance data over time, read
// from the API's history (GET /api/v1/checks/{c}/{a}/{k}/series) and drawn
// with Chart.js 3 - Debian's libjs-chart.js, copied by make into
// vendor/chart.min.js (a plain script file of this origin: no CDN, no
// inline script, works offline).  The library is loaded the first time a
// chart is shown, so the overview and the queue never pay for it.
//
// What is charted, for the range chosen (1 h, 24 h, 7 days, 30 days):
//   - Defender, over the customer's PCs (one series per PC): coverage -
//     the share of PCs that reported in each bucket - and the signature
//     age, average and oldest (`signature_age_days`);
//   - each other check with performance data: UTM `cpu` and `memory` (%)
//     and `sessions`, mail `latency` (s), and any plugin's labels, one
//     chart per unit.  At most MAX_CHECKS checks at first (mail and UTM
//     first, problems first); the others can be added from a list.
// Every chart shows its unit, times in the browser's time zone, and the
// average of each bucket with its min-max band.  Buckets without samples
// leave a gap.  Nothing of a label, unit or name is ever parsed as HTML.
import { h, clear, setText } from './dom.js';
import { t, fmtTime, getLang } from './i18n.js';
import { get, enc } from './api.js';

const MAX_CHECKS = 8;
const MAX_PCS = 100; // Defender: PCs read for the aggregate (one request each)
const PC_PARALLEL = 4;
// step: the bucket asked for (the API picks the tier: raw, 5 min, 1 h);
// pcStep: the Defender aggregate's bucket (coverage = reported in it)
export const RANGES = {
	'1h': { span: 3600, step: 15, pcStep: 900 },
	'24h': { span: 86400, step: 300, pcStep: 3600 },
	'7d': { span: 7 * 86400, step: 1800, pcStep: 21600 },
	'30d': { span: 30 * 86400, step: 3600, pcStep: 86400 },
};
// Okabe-Ito: tells apart for colour-blind eyes too
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
// labels worth a chart for the shipped plugins (the rest of their
// perfdata - uptime, certificate days, vendor counters - is not)
const PICK = {
	utm: ['cpu', 'memory', 'sessions'],
	mail_latency: ['latency', 'late_latency', 'oldest_age', 'messages'],
};

let lib = null;
export function loadChartLib() {
	if (window.Chart)
		return Promise.resolve(window.Chart);
	if (!lib) {
		lib = new Promise((resolve, reject) => {
			const s = document.createElement('script');
			s.src = '/ui/vendor/chart.min.js';
			s.onload = () => (window.Chart ? resolve(window.Chart) : reject(new Error('Chart.js did not load')));
			s.onerror = () => { lib = null; reject(new Error('/ui/vendor/chart.min.js: not found')); };
			document.head.append(s);
		});
	}
	return lib;
}

// "0.62 s", "45 %", "1.5 MiB", "230"
export function fmtVal(v, unit) {
	if (v === null || v === undefined || !Number.isFinite(v))
		return '\u2013';
	const n = x => {
		const a = Math.abs(x);
		return a >= 1000 || a === 0 ? Math.round(x).toLocaleString(getLang() === 'ja' ? 'ja-JP' : 'en-GB')
			: Number(x.toPrecision(3)).toString();
	};
	if (unit === 'B') {
		const k = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
		let i = 0;
		while (Math.abs(v) >= 1024 && i < k.length - 1) {
			v /= 1024;
			i++;
		}
		return n(v) + ' ' + k[i];
	}
	if (unit === 's' && Math.abs(v) < 1 && v !== 0)
		return n(v * 1000) + ' ms';
	if (unit === 'days')
		return t('chart.days', { n: n(v) });
	return unit ? n(v) + ' ' + unit : n(v);
}

function unitTitle(unit) {
	if (unit === 'days')
		return t('chart.unit.days');
	if (unit === '%')
		return t('chart.unit.pct');
	if (unit === 's')
		return t('chart.unit.s');
	if (unit === 'B')
		return t('chart.unit.bytes');
	return unit ? t('chart.unit.other', { u: unit }) : t('chart.unit.none');
}

// Tick labels in the browser's time zone: hours for a day or less, dates
// beyond.
const tickFmts = {};
function tickFmt(span) {
	const k = getLang() + (span <= 86400 ? 'h' : 'd');
	if (!tickFmts[k])
		tickFmts[k] = new Intl.DateTimeFormat(getLang() === 'ja' ? 'ja-JP' : 'en-GB',
			span <= 86400 ? { hour: '2-digit', minute: '2-digit', hour12: false } : { month: '2-digit', day: '2-digit' });
	return tickFmts[k];
}

// [t, min, avg, max, count] points -> {x, y} with a null where buckets
// are missing (a gap, not a line across it).
function xy(points, step, pick) {
	const out = [];
	let prev = null;
	for (const p of points) {
		if (prev !== null && p[0] - prev > step * 1.5)
			out.push({ x: (prev + step) * 1000, y: null });
		out.push({ x: p[0] * 1000, y: pick(p) });
		prev = p[0];
	}
	return out;
}

// One chart: lines = [{label, unit, points}] of one unit.
function drawChart(Chart, canvas, lines, range, step, from, to) {
	const datasets = [];
	lines.forEach((l, i) => {
		const c = COLORS[i % COLORS.length];
		const band = l.points.some(p => p[1] !== p[3]);
		if (band) {
			datasets.push({ label: l.label + ' max', data: xy(l.points, step, p => p[3]), borderWidth: 0, pointRadius: 0,
				backgroundColor: c + '26', fill: '+1', spanGaps: false, band: true });
			datasets.push({ label: l.label + ' min', data: xy(l.points, step, p => p[1]), borderWidth: 0, pointRadius: 0,
				backgroundColor: c + '26', fill: false, spanGaps: false, band: true });
		}
		datasets.push({ label: l.label, data: xy(l.points, step, l.pick || (p => p[2])), borderColor: c, backgroundColor: c,
			borderWidth: 2, pointRadius: l.points.length < 40 ? 2.5 : 0, fill: false, spanGaps: false, tension: 0 });
	});
	const unit = lines[0].unit;
	return new Chart(canvas, {
		type: 'line',
		data: { datasets },
		options: {
			animation: false,
			responsive: true,
			maintainAspectRatio: false,
			parsing: false,
			normalized: true,
			interaction: { mode: 'nearest', axis: 'x', intersect: false },
			scales: {
				x: {
					type: 'linear', min: from * 1000, max: to * 1000,
					ticks: { maxTicksLimit: 7, callback: v => tickFmt(range.span).format(v) },
				},
				y: {
					beginAtZero: true,
					title: { display: true, text: unitTitle(unit) },
					ticks: { callback: v => fmtVal(v, unit) },
				},
			},
			plugins: {
				legend: { labels: { filter: it => !datasets[it.datasetIndex].band, boxWidth: 12 } },
				tooltip: {
					filter: it => !datasets[it.datasetIndex].band,
					callbacks: {
						title: items => (items.length ? fmtTime(items[0].parsed.x / 1000) : ''),
						label: it => it.dataset.label + ': ' + fmtVal(it.parsed.y, unit),
					},
				},
			},
		},
	});
}

// A card: title, a canvas, and below it the latest value of each line as
// text (what a screen reader and a test read).
function card(title, sub, lines, range, step, from, to, Chart, charts) {
	const canvas = h('canvas', { role: 'img' });
	const npts = lines.reduce((n, l) => n + l.points.length, 0);
	const box = h('div', { class: 'panel chart-card', dataset: { points: String(npts), labels: lines.map(l => l.label).join(','), unit: lines[0].unit } },
		h('h3', { text: title }), sub ? h('div', { class: 'muted small', text: sub }) : null,
		h('div', { class: 'chart' }, canvas),
		h('div', { class: 'muted small legend-text' }, lines.map(l => {
			const last = l.points[l.points.length - 1];
			return h('span', { text: l.label + ': ' + (last ? fmtVal((l.pick || (p => p[2]))(last), l.unit) + ' (' + fmtTime(last[0], true) + ')' : '\u2013') });
		})));
	canvas.setAttribute('aria-label', title + ' \u2013 ' + lines.map(l => l.label + ' ' + unitTitle(l.unit)).join(', '));
	charts.push({ canvas, lines, range, step, from, to, Chart });
	return box;
}

// The checks worth a chart: not Defender (aggregated), with perfdata;
// mail and UTM first, then problems, then by name.
export function chartable(checks) {
	const svc = { mail: 0, utm: 1 };
	return checks.filter(c => c.service !== 'defender' && c.perfdata)
		.sort((a, b) => (svc[a.service] ?? 2) - (svc[b.service] ?? 2) ||
			(b.state !== 'ok') - (a.state !== 'ok') ||
			(a.asset + '/' + a.check).localeCompare(b.asset + '/' + b.check));
}

async function series(c, from, to, step, label) {
	const q = '?from=' + from + '&to=' + to + '&step=' + step + (label ? '&label=' + enc(label) : '');
	try {
		return await get('/api/v1/checks/' + enc(c.customer) + '/' + enc(c.asset) + '/' + enc(c.check) + '/series' + q);
	} catch (e) {
		if (e.status === 404)
			return { series: [], step };
		throw e;
	}
}

// Defender over the customer's PCs: per bucket, the PCs that reported
// (coverage) and their signature age (average of the PCs' averages, and
// the oldest).
async function defenderLines(pcs, from, to, step) {
	const sample = pcs.slice().sort((a, b) => a.asset.localeCompare(b.asset)).slice(0, MAX_PCS);
	const per = new Array(sample.length);
	let next = 0;
	async function worker() {
		while (next < sample.length) {
			const i = next++;
			per[i] = await series(sample[i], from, to, step, 'signature_age_days');
		}
	}
	await Promise.all(Array.from({ length: Math.min(PC_PARALLEL, sample.length) }, worker));
	const step2 = per.find(r => r && r.step)?.step || step;
	const buckets = new Map(); // t -> {n, sum, max}
	for (const r of per) {
		const line = (r.series || [])[0];
		for (const p of line ? line.points : []) {
			const b = buckets.get(p[0]) || { n: 0, sum: 0, max: -Infinity };
			b.n++;
			b.sum += p[2];
			b.max = Math.max(b.max, p[3]);
			buckets.set(p[0], b);
		}
	}
	const ts = [...buckets.keys()].sort((a, b) => a - b);
	const cov = ts.map(x => { const v = 100 * buckets.get(x).n / sample.length; return [x, v, v, v, buckets.get(x).n]; });
	const avg = ts.map(x => { const b = buckets.get(x); return [x, b.sum / b.n, b.sum / b.n, b.max, b.n]; });
	return {
		step: step2, sampled: sample.length, total: pcs.length,
		coverage: [{ label: t('chart.def.reporting'), unit: '%', points: cov }],
		age: [
			{ label: t('chart.def.age.avg'), unit: 'days', points: avg.map(p => [p[0], p[1], p[1], p[1], p[4]]) },
			{ label: t('chart.def.age.max'), unit: 'days', points: avg.map(p => [p[0], p[3], p[3], p[3], p[4]]) },
		],
	};
}

// Lines of one check's answer, grouped by unit (the labels worth a chart
// for a shipped plugin; every label otherwise).
function groups(c, ans) {
	const pick = PICK[c.plugin];
	const lines = (ans.series || []).filter(s => s.points.length && (!pick || pick.includes(s.label)))
		.sort((a, b) => (pick ? pick.indexOf(a.label) - pick.indexOf(b.label) : a.label.localeCompare(b.label)));
	const byUnit = new Map();
	for (const l of lines) {
		if (!byUnit.has(l.unit))
			byUnit.set(l.unit, []);
		byUnit.get(l.unit).push(l);
	}
	return [...byUnit.values()];
}

// Mount the charts section into `el` for customer `cust` and its checks;
// returns { update(checks), destroy() }.
export function chartsSection(el, checks) {
	const st = { range: localStorage.getItem('mamori.chartRange') || '30d', extra: [], charts: [], gen: 0, checks };
	if (!RANGES[st.range])
		st.range = '30d';
	const grid = h('div', { class: 'charts', id: 'cu-charts' });
	const note = h('p', { class: 'muted', id: 'cu-charts-note' });
	const more = h('select', { id: 'cu-chart-more', 'aria-label': t('chart.more') });
	const buttons = Object.keys(RANGES).map(r => h('button', { type: 'button', dataset: { range: r }, 'aria-pressed': String(r === st.range), text: t('chart.range.' + r),
		onclick: () => { st.range = r; localStorage.setItem('mamori.chartRange', r); load(); } }));
	more.addEventListener('change', () => {
		if (more.value) {
			st.extra.push(more.value);
			load();
		}
	});
	clear(el).append(h('div', { class: 'toolbar' }, h('span', { class: 'muted', text: t('chart.range') }), buttons, h('span', { class: 'grow' }), more), note, grid);

	function destroyCharts() {
		for (const c of st.charts)
			c.chart?.destroy();
		st.charts = [];
	}

	async function load() {
		const gen = ++st.gen;
		for (const b of buttons)
			b.setAttribute('aria-pressed', String(b.dataset.range === st.range));
		const range = RANGES[st.range];
		const to = Math.ceil(Date.now() / 1000);
		const from = to - range.span;
		const pcs = st.checks.filter(c => c.service === 'defender');
		const all = chartable(st.checks);
		const shown = all.slice(0, MAX_CHECKS).concat(all.filter(c => st.extra.includes(c.asset + '/' + c.check)));
		const rest = all.filter(c => !shown.includes(c));
		clear(more).append(h('option', { value: '', text: t('chart.more.n', { n: rest.length }) }),
			rest.map(c => h('option', { value: c.asset + '/' + c.check, text: c.asset + ' / ' + c.check })));
		more.hidden = rest.length === 0;
		if (!pcs.length && !shown.length) {
			destroyCharts();
			clear(grid);
			setText(note, t('chart.none'));
			el.dataset.ready = '1';
			return;
		}
		setText(note, t('chart.loading'));
		el.dataset.ready = '';
		let Chart;
		try {
			Chart = await loadChartLib();
		} catch (e) {
			setText(note, t('chart.nolib', { msg: e.message }));
			return;
		}
		const cards = [];
		const pending = [];
		const newCharts = [];
		try {
			if (pcs.length) {
				const d = await defenderLines(pcs, from, to, range.pcStep);
				const sub = d.sampled < d.total ? t('chart.def.sample', { n: d.sampled, m: d.total }) : t('chart.def.pcs', { n: d.total });
				if (d.coverage[0].points.length)
					cards.push(card(t('chart.def.coverage'), sub, d.coverage, range, d.step, from, to, Chart, newCharts));
				if (d.age[0].points.length)
					cards.push(card(t('chart.def.age'), sub, d.age, range, d.step, from, to, Chart, newCharts));
			}
			for (const c of shown)
				pending.push(series(c, from, to, range.step).then(ans => ({ c, ans })));
			for (const { c, ans } of await Promise.all(pending))
				for (const g of groups(c, ans).slice(0, 3))
					cards.push(card(c.asset + ' / ' + c.check, ans.resolution ? t('chart.res', { r: ans.resolution }) + (ans.truncated ? ' \u00b7 ' + t('chart.truncated') : '') : '',
						g, range, ans.step || range.step, from, to, Chart, newCharts));
		} catch (e) {
			if (gen === st.gen)
				setText(note, t('error.load', { msg: e.message }));
			return;
		}
		if (gen !== st.gen)
			return; // a newer range was asked for meanwhile
		destroyCharts();
		clear(grid).append(...cards);
		for (const x of newCharts)
			x.chart = drawChart(x.Chart, x.canvas, x.lines, x.range, x.step, x.from, x.to);
		st.charts = newCharts;
		setText(note, cards.length ? t('chart.note', { tz: Intl.DateTimeFormat().resolvedOptions().timeZone || '' }) : t('chart.nodata'));
		el.dataset.ready = '1';
	}

	load();
	return {
		// new check list (a reload of the page's data): charts again only
		// when the set of charted checks changed
		update(list) {
			const key = l => chartable(l).map(c => c.asset + '/' + c.check).join('|') + '#' + l.filter(c => c.service === 'defender').length;
			const changed = key(list) !== key(st.checks);
			st.checks = list;
			if (changed)
				load();
		},
		destroy() {
			st.gen++;
			destroyCharts();
		},
	};
}
