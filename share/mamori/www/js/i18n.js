// i18n: the message catalogues (i18n/en.json, i18n/ja.json), the
// language (the user's choice, else the browser's), and times shown in the
// browser's time zone in the language's style.  English is the fallback
// for a key the chosen catalogue lacks; a key missing from both shows as
// itself (tests/integration/dashboard.sh checks that none does).

let lang = 'en';
let cat = {};
let base = {};

export const LANGS = ['ja', 'en'];

export function pickLang() {
	const saved = localStorage.getItem('mamori.lang');
	if (LANGS.includes(saved))
		return saved;
	for (const l of navigator.languages || [navigator.language || 'en']) {
		const p = String(l).toLowerCase().split('-')[0];
		if (LANGS.includes(p))
			return p;
	}
	return 'en';
}

async function load(l) {
	const r = await fetch('/ui/i18n/' + l + '.json', { credentials: 'same-origin' });
	if (!r.ok)
		throw new Error('catalogue ' + l + ': ' + r.status);
	return r.json();
}

export async function setLang(l, save) {
	if (!LANGS.includes(l))
		l = 'en';
	if (!Object.keys(base).length)
		base = await load('en');
	cat = l === 'en' ? base : await load(l);
	lang = l;
	document.documentElement.lang = l;
	if (save)
		localStorage.setItem('mamori.lang', l);
}

export function getLang() {
	return lang;
}

// t('key', {n: 3}) -> the message with {n} replaced.
export function t(key, vars) {
	let s = cat[key] ?? base[key] ?? key;
	if (vars)
		s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
	return s;
}

const fmts = {};
function fmt(kind) {
	const k = lang + kind;
	if (!fmts[k]) {
		const o = kind === 'full'
			? { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
			: { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false };
		fmts[k] = new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', o);
	}
	return fmts[k];
}

export function toMs(v) {
	if (v === null || v === undefined || v === '')
		return null;
	const ms = typeof v === 'number' ? v * 1000 : Date.parse(v);
	return Number.isFinite(ms) ? ms : null;
}

// A time in the user's zone ("2026/12/07 09:53:07"); short: no year and seconds.
export function fmtTime(v, short) {
	const ms = toMs(v);
	return ms === null ? '' : fmt(short ? 'short' : 'full').format(ms);
}

// A signed duration as "1h 05m", "-3m 10s" (negative: late).
export function fmtDur(sec) {
	const neg = sec < 0;
	let s = Math.abs(Math.round(sec));
	const d = Math.floor(s / 86400);
	s -= d * 86400;
	const hh = Math.floor(s / 3600);
	s -= hh * 3600;
	const mm = Math.floor(s / 60);
	s -= mm * 60;
	const p2 = n => String(n).padStart(2, '0');
	let out;
	if (d)
		out = t('dur.dh', { d, h: hh });
	else if (hh)
		out = t('dur.hm', { h: hh, m: p2(mm) });
	else
		out = t('dur.ms', { m: mm, s: p2(s) });
	return neg ? '-' + out : out;
}

// "3 min ago" style.
export function fmtAgo(v) {
	const ms = toMs(v);
	if (ms === null)
		return '';
	const s = Math.max(0, (Date.now() - ms) / 1000);
	if (s < 60)
		return t('ago.s', { n: Math.floor(s) });
	if (s < 3600)
		return t('ago.m', { n: Math.floor(s / 60) });
	if (s < 86400)
		return t('ago.h', { n: Math.floor(s / 3600) });
	return t('ago.d', { n: Math.floor(s / 86400) });
}
