// mamori dashboard: the shell - who is logged in (GET /api/v1/me), the
// header (views, user, role, language, logout), the live stream, and the
// views by the URL's fragment:
//   #/overview            every customer (overview.js)
//   #/alerts              the alert queue (queue.js)
//   #/alerts/ID           one alert (alert.js)
//   #/customers/ID        one customer (customer.js)
//   #/maintenance         downtimes (maint.js)
// Plain ES modules served by mamorid (no build step), no inline script
// (the page's Content-Security-Policy forbids it), no innerHTML.
import { h, clear, link } from './js/dom.js';
import { t, setLang, pickLang, getLang } from './js/i18n.js';
import { api, setCsrf, onUnauthorized } from './js/api.js';
import { Live } from './js/live.js';
import * as overview from './js/overview.js';
import * as queue from './js/queue.js';
import * as alertPage from './js/alert.js';
import * as customer from './js/customer.js';
import * as maint from './js/maint.js';
import * as login from './js/login.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
const banner = document.getElementById('banner');
const ctx = { me: null, live: null, api };
let unmount = null;
let openCount = null;

const ROUTES = {
	overview: { mod: overview, nav: 'overview' },
	alerts: { mod: queue, nav: 'queue', detail: alertPage },
	customers: { mod: overview, nav: 'overview', detail: customer },
	maintenance: { mod: maint, nav: 'maintenance' },
};

function parseHash() {
	const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(p => {
		try {
			return decodeURIComponent(p);
		} catch {
			return p;
		}
	});
	return { name: parts[0] || '', params: parts.slice(1) };
}

function header() {
	const me = ctx.me;
	const nav = (key, href) => h('a', { href, id: 'nav-' + key, dataset: { nav: key }, text: t('nav.' + key) });
	openCount = h('span', { class: 'count', id: 'open-count', hidden: true });
	const qa = nav('queue', '#/alerts');
	qa.append(openCount);
	clear(top).append(
		h('span', { class: 'brand', text: 'mamori' }),
		h('nav', null, nav('overview', '#/overview'), qa, nav('maintenance', '#/maintenance')),
		h('div', { class: 'me' },
			h('span', { id: 'me-user', text: me.user }),
			h('span', { id: 'me-role', class: 'muted', text: t('role.' + me.role) + (me.customer ? ' \u00b7 ' + me.customer : '') }),
			h('button', { type: 'button', id: 'lang-toggle', text: t('lang.switch'), onclick: () => switchLang(getLang() === 'ja' ? 'en' : 'ja') }),
			h('button', { type: 'button', id: 'logout', text: t('logout'), onclick: logout })));
	top.hidden = false;
}

async function refreshCount() {
	try {
		const s = await api('GET', '/api/v1/status');
		const n = s.alerts_unresolved || 0;
		openCount.textContent = String(n);
		openCount.hidden = n === 0;
	} catch { /* the header can wait */ }
}

function route() {
	if (!ctx.me)
		return;
	const { name, params } = parseHash();
	let r = ROUTES[name];
	if (!r) {
		// a viewer's home is their customer; everyone else's the overview
		location.replace(ctx.me.role === 'viewer' && ctx.me.customer ? link('customers', ctx.me.customer) : '#/overview');
		return;
	}
	const mod = params.length && r.detail ? r.detail : r.mod;
	if (unmount)
		unmount();
	main.dataset.ready = '';
	main.dataset.view = mod === r.detail ? name + '-detail' : name;
	for (const a of top.querySelectorAll('nav a'))
		a.classList.toggle('active', a.dataset.nav === r.nav);
	unmount = mod.mount(main, ctx, params) || null;
	window.scrollTo(0, 0);
}

async function logout() {
	try {
		await api('POST', '/api/v1/logout');
	} catch { /* gone anyway */ }
	loggedOut();
}

function loggedOut() {
	if (ctx.live)
		ctx.live.stop();
	ctx.live = null;
	ctx.me = null;
	setCsrf(null);
	if (unmount)
		unmount();
	unmount = null;
	top.hidden = true;
	main.dataset.view = 'login';
	login.mount(main, me => { loggedIn(me).catch(fatal); }, switchLang);
}

async function loggedIn(me) {
	// the login answer has no `auth`; /me is the one source
	const full = me && me.auth ? me : await api('GET', '/api/v1/me');
	ctx.me = full;
	setCsrf(full.csrf_token || me?.csrf_token);
	header();
	ctx.live = new Live(banner, t);
	ctx.live.on('alert', () => throttleCount());
	ctx.live.on('status', s => { document.body.dataset.live = s; });
	ctx.live.start();
	refreshCount();
	route();
}

let countTimer = 0;
function throttleCount() {
	if (!countTimer)
		countTimer = setTimeout(() => { countTimer = 0; refreshCount(); }, 1000);
}

async function switchLang(l) {
	await setLang(l, true);
	if (ctx.live)
		ctx.live.relabel();
	if (ctx.me) {
		header();
		refreshCount();
		route();
	} else {
		loggedOut();
	}
}

function fatal(e) {
	clear(main).append(h('p', { class: 'error', text: String(e && e.message || e) }));
}

async function boot() {
	await setLang(pickLang(), false);
	onUnauthorized(() => { if (ctx.me) loggedOut(); });
	window.addEventListener('hashchange', route);
	let me = null;
	try {
		me = await api('GET', '/api/v1/me');
	} catch (e) {
		if (e.status !== 401)
			throw e;
	}
	if (me)
		await loggedIn(me);
	else
		loggedOut();
}

// read-only figures for tests and the curious (the browser console)
Object.defineProperty(window, 'mamori', { value: Object.freeze({ received: () => (ctx.live ? ctx.live.received : 0) }) });

boot().catch(fatal);
