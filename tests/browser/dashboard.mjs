// The dashboard in headless Chromium (Debian's), driven by playwright-core.
// Run by tests/integration/dashboard.sh, which starts mamorid, mosquitto
// and the users, and passes: MAMORI_URL, MAMORI_PORT, MAMORI_SOCK,
// MQTT_PORT, AGENTSIM, CHROMIUM, OUT (screenshots), B_ALERT (an alert of
// customer c0002, which the viewer of c0001 must not see).
// Prints one line per check and "N passed, M failed"; exits 1 on a failure.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const env = process.env;
const BASE = env.MAMORI_URL;
const OUT = env.OUT;
let passed = 0, failed = 0;
function check(ok, what, detail) {
	if (ok) {
		passed++;
		console.log('ok   ' + what);
	} else {
		failed++;
		console.log('FAIL ' + what + (detail !== undefined ? ': ' + detail : ''));
	}
	return ok;
}

// The local administrator over the UNIX socket.
function local(method, p, body) {
	return new Promise((resolve, reject) => {
		const data = body ? JSON.stringify(body) : null;
		const r = http.request({ socketPath: env.MAMORI_SOCK, path: p, method,
			headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, res => {
			let s = '';
			res.on('data', d => { s += d; });
			res.on('end', () => resolve({ status: res.statusCode, body: s ? JSON.parse(s) : null }));
		});
		r.on('error', reject);
		if (data)
			r.write(data);
		r.end();
	});
}

function sim(args) {
	return new Promise((resolve, reject) => {
		const p = spawn(env.AGENTSIM, ['-p', env.MQTT_PORT, ...args], { stdio: 'ignore' });
		p.on('error', reject);
		p.on('exit', resolve);
	});
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// A TCP proxy between the operator's browser and mamorid, to cut the
// live stream and watch what goes through.
function makeProxy(port) {
	const socks = new Set();
	const st = { refusing: false, requests: [], down: '', sockets: socks };
	const srv = net.createServer(c => {
		if (st.refusing) {
			c.destroy();
			return;
		}
		const u = net.connect(port, '127.0.0.1');
		socks.add(c);
		socks.add(u);
		c.on('data', d => {
			const s = d.toString('latin1');
			if (/^(GET|POST|DELETE|PATCH|HEAD) /.test(s))
				st.requests.push(s.split('\r\n\r\n')[0]);
			u.write(d);
		});
		u.on('data', d => {
			st.down += d.toString('utf8');
			if (st.down.length > 4e6)
				st.down = st.down.slice(-2e6);
			c.write(d);
		});
		const end = () => { c.destroy(); u.destroy(); socks.delete(c); socks.delete(u); };
		c.on('error', end);
		u.on('error', end);
		c.on('close', end);
		u.on('close', end);
	});
	st.cut = () => {
		st.refusing = true;
		for (const s of socks)
			s.destroy();
		socks.clear();
	};
	st.restore = () => { st.refusing = false; };
	return new Promise(resolve => srv.listen(0, '127.0.0.1', () => { st.port = srv.address().port; st.server = srv; resolve(st); }));
}

function watch(page, errors) {
	page.on('pageerror', e => errors.push('pageerror: ' + e.message));
	page.on('console', m => {
		if (m.type() !== 'error')
			return;
		const t = m.text();
		// expected: the first /me without a session (401), the cut proxy
		if (/status of 40[14]|ERR_CONNECTION|ERR_EMPTY_RESPONSE|net::ERR_|EventSource/.test(t))
			return;
		errors.push('console: ' + t);
	});
}

async function login(page, base, user, password) {
	await page.goto(base + '/');
	await page.waitForSelector('#login-user');
	await page.fill('#login-user', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
	await page.waitForSelector('#me-user');
}

async function ready(page, view) {
	await page.waitForSelector(`main[data-ready="1"]${view ? `[data-view="${view}"]` : ''}`, { timeout: 10000 });
}

async function shot(page, name, keepBanner) {
	// as an operator would see the page once the notices are gone
	if (!keepBanner)
		await page.waitForSelector('#banner', { state: 'hidden', timeout: 10000 });
	await page.waitForSelector('#toast', { state: 'hidden', timeout: 10000 });
	await page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: false });
}

const browser = await chromium.launch({
	executablePath: env.CHROMIUM,
	args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const errors = [];
try {
	const proxy = await makeProxy(Number(env.MAMORI_PORT));
	const pbase = 'http://127.0.0.1:' + proxy.port;

	// ---------- the operator ----------
	const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
	const page = await ctx.newPage();
	watch(page, errors);
	await page.goto(pbase + '/');
	await page.waitForSelector('#login-user');
	check(await page.locator('#login-submit').textContent() === 'Sign in', 'login page in English for an English browser');
	await page.fill('#login-user', 'op1');
	await page.fill('#login-password', 'wrong-password');
	await page.click('#login-submit');
	await page.waitForFunction(() => document.getElementById('login-error')?.textContent.length > 0);
	check(/Wrong user name or password/.test(await page.textContent('#login-error')), 'a wrong password is refused');
	await page.fill('#login-password', 'op1-password-long');
	await page.click('#login-submit');
	await page.waitForSelector('#me-user');
	check(await page.textContent('#me-user') === 'op1', 'logged in: the user name is shown');
	check(/operator/.test(await page.textContent('#me-role')), 'the role is shown');
	await ready(page, 'overview');
	check(await page.locator('.vt-row:not([hidden])').count() === 3, 'the overview has the three customers',
		await page.locator('.vt-row:not([hidden])').count());
	// HTML in a name is text
	const nameText = await page.textContent('.vt-row[data-customer="c0001"] .name a');
	check(nameText.includes('<script>window.__xss=1</script>') && nameText.includes('<img src=x'),
		'a customer name with HTML shows as text', nameText);
	check(await page.locator('main script, main img').count() === 0, 'no element made from a name');
	await page.waitForSelector('#open-count:not([hidden])');

	// ---- red within 2 s of Defender off ----
	const cell = '.vt-row[data-customer="c0001"] [data-service="defender"]';
	check(await page.getAttribute(cell, 'class') === 'st st-ok', 'c0001 Defender OK before', await page.getAttribute(cell, 'class'));
	await page.waitForFunction(() => document.body.dataset.live === 'open');
	const t0 = Date.now();
	const simDone = sim(['-c', '1', '-n', '1', '-k', '1', '-r', '10', '-d', '4', '--defender-off', '100']);
	await page.waitForSelector(cell + '.st-critical', { timeout: 10000 });
	const red = Date.now() - t0;
	check(red < 2000, `c0001 turned red ${red} ms after the simulator turned Defender off (< 2000)`);
	check(await page.getAttribute('.vt-row[data-customer="c0001"]', 'class') === 'vt-row worst-critical', 'its row is marked critical');
	check(await page.textContent(cell) === 'Critical', 'state as a word too (colour-blind safe)');
	await simDone;
	await page.waitForFunction(() => /\d/.test(document.querySelector('.vt-row[data-customer="c0001"] .due')?.textContent || ''), null, { timeout: 10000 });
	await shot(page, 'overview-en');

	// ---- the queue: countdown, ack ----
	await page.click('#nav-queue');
	await ready(page, 'alerts');
	const row = page.locator('#queue tr', { hasText: 'PC-00001' });
	await row.first().waitFor({ timeout: 10000 });
	const due1 = await row.locator('[data-due]').textContent();
	await sleep(2100);
	const due2 = await row.locator('[data-due]').textContent();
	check(/^ack /.test(due1) && due1 !== due2, `the ack countdown ticks ("${due1}" -> "${due2}")`);
	check(await row.locator('.st-open').count() === 1, 'the alert is open');
	await shot(page, 'queue-en');
	await row.locator('button[data-act="ack"]').click();
	await page.waitForSelector('#act-note');
	await page.fill('#act-note', 'calling the customer <b>now</b>');
	await page.click('#act-ok');
	await page.waitForFunction(() => {
		const tr = [...document.querySelectorAll('#queue tr')].find(r => r.textContent.includes('PC-00001'));
		return tr && tr.querySelector('.st-acknowledged');
	}, null, { timeout: 10000 });
	const due3 = await row.locator('[data-due]').textContent();
	check(!/^ack /.test(due3), `the ack countdown stopped ("${due3}")`);
	const acked = await row.textContent();
	check(acked.includes('op1'), 'the queue shows who acknowledged');

	// ---- the alert page ----
	await row.locator('td.out a').click();
	await ready(page, 'alerts-detail');
	const alertUrl = page.url();
	const ackItem = page.locator('#al-history li[data-type="acknowledged"]');
	check(await ackItem.count() === 1, 'the history has the acknowledgement');
	const ackText = await ackItem.textContent();
	check(ackText.includes('op1') && ackText.includes('calling the customer <b>now</b>'), 'who acknowledged, with the note as text', ackText);
	check(await page.locator('#al-history li[data-type="opened"]').count() === 1, 'the history starts with "opened"');
	check((await page.textContent('#al-customer')) === 'c0001', 'the alert page links its customer');
	// a dispatch record entered here
	await page.click('#al-dispatch-edit');
	await page.fill('#act-vendor', '東海サポート');
	await page.fill('#act-planned', '2026-12-08T10:00');
	await page.fill('#act-result', 'PC再起動、Defender有効化を確認');
	await page.fill('#act-note', '顧客了承済み');
	await page.click('#act-ok');
	await page.waitForSelector('#al-dispatch td:has-text("東海サポート")', { timeout: 10000 });
	check(true, 'a dispatch record is entered on the alert page');
	await shot(page, 'alert-en');

	// ---- the customer page: output with HTML as text ----
	await page.click('#al-customer');
	await ready(page, 'customers-detail');
	const nm = await page.textContent('#cu-name');
	check(nm.includes('<script>') && nm.includes('製作所'), 'the customer page shows the name as text');
	const out = await page.textContent('#cu-checks tr[data-check="web/site"] td.out');
	check(out.includes('<script>window.__xss=3</script>') && out.includes('<b>bold</b>'), 'a check output with HTML shows as text', out);
	check(await page.locator('main b, main script, main img').count() === 0, 'no element made from an output');
	// Defender over the customer's PCs (the simulator's reports)
	await page.waitForSelector('#cu-history[data-ready="1"]', { timeout: 15000 });
	const defc = await page.evaluate(() => [...document.querySelectorAll('#cu-charts .chart-card')].map(c => ({
		title: c.querySelector('h3').textContent, unit: c.dataset.unit, points: Number(c.dataset.points),
		text: c.querySelector('.legend-text').textContent })));
	const cov = defc.find(c => c.title === 'Defender coverage');
	check(cov && cov.unit === '%' && cov.points >= 1 && /PCs reporting \(%\): 100 %/.test(cov.text),
		'Defender coverage over the customer\'s PCs is charted (100 % reporting)', JSON.stringify(defc));
	const age = defc.find(c => c.title === 'Defender signature age');
	check(age && age.unit === 'days' && age.points >= 2, 'the signature age is charted (average and oldest, in days)', JSON.stringify(age));
	await shot(page, 'customer-en');

	// ---- live: the stream is cut, a colleague acts, the stream resumes ----
	await page.click('#nav-queue');
	await ready(page, 'alerts');
	const list = await local('GET', '/api/v1/alerts?customer=c0003');
	const c3 = list.body.alerts[0];
	check(c3 && c3.status === 'open', 'c0003 has an open alert');
	const before = proxy.requests.length;
	proxy.cut();
	await page.waitForSelector('#banner:not([hidden])', { timeout: 10000 });
	const bannerText = await page.textContent('#banner');
	check(/reconnecting/.test(bannerText), 'a lost stream shows a banner', bannerText);
	await shot(page, 'live-lost-en', true);
	const acts = await local('POST', '/api/v1/alerts/' + encodeURIComponent(c3.id) + '/ack', { note: 'acked by a colleague while the stream was down' });
	check(acts.status === 200, 'a colleague acknowledges meanwhile', acts.status);
	await sleep(1500);
	proxy.down = '';
	proxy.restore();
	await page.waitForSelector('#banner.ok, #banner[hidden]', { timeout: 15000 });
	const resume = proxy.requests.slice(before).filter(r => r.startsWith('GET /api/v1/events'));
	check(resume.some(r => /^last-event-id: \d+-\d+(\.\S+)?$/im.test(r) || /[?&]after=\d+-\d+/.test(r)),
		'the stream resumed with Last-Event-ID', resume.join(' | ').replace(/\r\n/g, ' '));
	const deadline = Date.now() + 5000;
	while (!proxy.down.includes('acked by a colleague') && Date.now() < deadline)
		await sleep(100);
	check(proxy.down.includes('event: alert') && proxy.down.includes('acked by a colleague'),
		'the missed event came over the resumed stream');
	await page.waitForFunction(id => {
		const tr = document.querySelector(`#queue tr[data-alert="${CSS.escape(id)}"]`);
		return tr && tr.querySelector('.st-acknowledged');
	}, c3.id, { timeout: 10000 });
	check(true, 'the queue shows the colleague\'s change without a reload');

	// ---- a paused clock says why: waiting for the customer ----
	const w = await local('POST', '/api/v1/alerts/' + encodeURIComponent(c3.id) + '/wait', { note: 'the customer calls back' });
	check(w.status === 200, 'a colleague waits for the customer', w.status);
	await page.waitForFunction(id => {
		const td = document.querySelector(`#queue tr[data-alert="${CSS.escape(id)}"] [data-due]`);
		return td && /paused: waiting for the customer/.test(td.textContent);
	}, c3.id, { timeout: 10000 });
	check(true, 'the queue shows the paused clock with why (waiting for the customer)');

	// ---- runbooks: a text is text, a URL a link that gives nothing away ----
	await page.evaluate(id => { location.hash = '#/alerts/' + encodeURIComponent(id); }, c3.id);
	await ready(page, 'alerts-detail');
	check(/paused: waiting for the customer/.test(await page.textContent('#al-due')), 'the alert page says why its clock is paused',
		await page.textContent('#al-due'));
	const rbText = await page.textContent('#al-runbook .runbook');
	check(rbText === '<script>window.__xss=4</script> Check the relay\'s queue, then call the customer', 'a runbook text shows as text', rbText);
	check(await page.locator('#al-runbook a, #al-runbook script').count() === 0, 'a runbook text is no link and no element');
	await page.evaluate(id => { location.hash = '#/alerts/' + encodeURIComponent(id); }, env.B_ALERT);
	await ready(page, 'alerts-detail');
	const rbLink = page.locator('#al-runbook a');
	check(await rbLink.count() === 1, 'a runbook URL is a link');
	check(await rbLink.getAttribute('href') === 'https://wiki.example.net/runbooks/backup?id=1&lang=ja', 'the link goes to the runbook',
		await rbLink.getAttribute('href'));
	check(await rbLink.getAttribute('rel') === 'noopener noreferrer' && await rbLink.getAttribute('target') === '_blank',
		'the runbook link has rel="noopener noreferrer"', await rbLink.getAttribute('rel'));
	await shot(page, 'alert-runbook-en');

	// ---- a downtime pauses B's clock: the queue says so ----
	const dt = await local('POST', '/api/v1/downtimes', { customer: 'c0002', end: Math.floor(Date.now() / 1000) + 600, comment: 'pause test' });
	check(dt.status === 201 || dt.status === 200, 'a downtime for c0002', dt.status);
	await page.click('#nav-queue');
	await ready(page, 'alerts');
	await page.waitForFunction(id => {
		const td = document.querySelector(`#queue tr[data-alert="${CSS.escape(id)}"] [data-due]`);
		return td && /paused: in downtime/.test(td.textContent);
	}, env.B_ALERT, { timeout: 10000 });
	check(true, 'the queue shows the paused clock with why (in downtime)');
	await shot(page, 'queue-paused-en');
	const dtId = dt.body && dt.body.downtime;
	const ended = await local('DELETE', '/api/v1/downtimes/' + encodeURIComponent(dtId));
	check(ended.status === 200 || ended.status === 204, 'the downtime is ended', ended.status + ' ' + dtId);
	await page.waitForFunction(id => {
		const td = document.querySelector(`#queue tr[data-alert="${CSS.escape(id)}"] [data-due]`);
		return td && !/paused/.test(td.textContent);
	}, env.B_ALERT, { timeout: 10000 });
	check(true, 'its clock runs again');

	// ---- charts of performance data (the dummy check's perfdata) ----
	const tc0 = Date.now();
	await page.evaluate(() => { location.hash = '#/customers/c0003'; });
	await ready(page, 'customers-detail');
	await page.waitForSelector('#cu-history[data-ready="1"]', { timeout: 15000 });
	console.log(`     (c0003's page with its charts drawn ${Date.now() - tc0} ms after the click)`);
	const cards = () => page.evaluate(() => [...document.querySelectorAll('#cu-charts .chart-card')].map(c => {
		const cv = c.querySelector('canvas');
		const ch = window.Chart && window.Chart.getChart(cv);
		const tk = ch && ch.scales.x.ticks.length ? ch.scales.x.ticks[0] : null;
		return {
			title: c.querySelector('h3').textContent, unit: c.dataset.unit, labels: c.dataset.labels,
			points: ch ? ch.data.datasets.filter(d => !d.band).reduce((n, d) => n + d.data.filter(p => p.y !== null).length, 0) : -1,
			ytitle: ch ? ch.options.scales.y.title.text : null,
			tick: tk ? { v: tk.value, label: String(tk.label) } : null,
			text: c.querySelector('.legend-text').textContent,
		};
	}));
	let cs = await cards();
	const lat30 = cs.find(c => c.labels === 'latency');
	check(lat30 && lat30.points >= 1, 'a 30-day chart of the check\'s latency has points', JSON.stringify(cs));
	// The last hour is drawn in 15 s buckets: a daemon up for less than
	// two of them has one point, so look again (another range, then this
	// one) until the history spans two buckets (the check runs every 1 s).
	const pick = async (range) => {
		await page.click(`#cu-history button[data-range="${range}"]`);
		await page.waitForFunction(r => document.querySelector(`#cu-history button[data-range="${r}"]`).getAttribute('aria-pressed') === 'true' &&
			document.querySelector('#cu-history').dataset.ready === '1', range, { timeout: 15000 });
	};
	let lat = null;
	for (let i = 0; i < 12; i++) {
		if (i) {
			await page.waitForTimeout(3000);
			await pick('24h');
		}
		await pick('1h');
		cs = await cards();
		lat = cs.find(c => c.labels === 'latency');
		if (lat && lat.points >= 2 && (cs.find(c => c.labels === 'queue')?.points ?? 0) >= 2)
			break;
	}
	check(lat && lat.points >= 2, 'the last hour: the latency chart has data points', JSON.stringify(lat));
	check(lat && lat.unit === 's' && lat.ytitle === 'seconds (s)' && /latency: 620 ms/.test(lat.text), 'the chart shows its unit (s), values in it', lat && (lat.ytitle + ' | ' + lat.text));
	const q = cs.find(c => c.labels === 'queue');
	check(q && q.points >= 2 && q.ytitle === 'value (no unit)' && /queue: 230/.test(q.text), 'a label without a unit has its own chart', JSON.stringify(q));
	const tz = lat && lat.tick ? new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', hour12: false }).format(lat.tick.v) : null;
	check(lat && lat.tick && lat.tick.label === tz, 'chart times are in the browser\'s time zone (Asia/Tokyo)', JSON.stringify(lat && lat.tick) + ' vs ' + tz);
	check(await page.locator('script[src="/ui/vendor/chart.min.js"]').count() === 1, 'the chart library comes from mamorid itself');
	await page.locator('#cu-history').scrollIntoViewIfNeeded();
	await page.waitForSelector('#toast', { state: 'hidden', timeout: 10000 });
	await page.locator('#cu-history').screenshot({ path: path.join(OUT, 'customer-charts-en.png') });
	check(true, 'screenshot of the charts');
	await page.click('#nav-queue');
	await ready(page, 'alerts');

	// ---- a manual inquiry ----
	await page.click('#q-inquiry');
	await page.waitForSelector('#inq-customer');
	await page.selectOption('#inq-customer', 'c0003');
	await page.selectOption('#inq-service', 'mail');
	await page.selectOption('#inq-channel', 'phone');
	await page.fill('#inq-caller', '加藤様');
	await page.fill('#inq-summary', 'メールが届かないとの電話');
	await page.click('#inq-ok');
	await ready(page, 'alerts-detail');
	check(await page.textContent('#al-summary') === 'メールが届かないとの電話', 'an inquiry opens an alert');
	await page.waitForSelector('#al-history li[data-type="commented"]', { timeout: 10000 });
	check((await page.textContent('#al-history li[data-type="commented"]')).includes('加藤様'), 'its caller is in its history');
	check(/ack /.test(await page.textContent('#al-due')), 'the inquiry has an SLA clock');

	// ---- maintenance ----
	await page.click('#nav-maintenance');
	await ready(page, 'maintenance');
	await page.selectOption('#dt-customer', 'c0002');
	await page.fill('#dt-comment', 'reception PC replaced');
	await page.click('#dt-ok');
	await page.waitForSelector('#dt-list td:has-text("reception PC replaced")', { timeout: 10000 });
	check(true, 'a downtime is added');
	await page.locator('#dt-list tr', { hasText: 'reception PC replaced' }).locator('button').click();
	await page.waitForFunction(() => !document.querySelector('#dt-list').textContent.includes('reception PC replaced'), null, { timeout: 10000 });
	check(true, 'the downtime is ended');

	// ---- Japanese ----
	await page.click('#nav-overview');
	await ready(page, 'overview');
	await page.click('#lang-toggle');
	await page.waitForFunction(() => document.documentElement.lang === 'ja');
	await ready(page, 'overview');
	check(await page.textContent('#nav-overview') === '概要', 'the header in Japanese');
	check(await page.textContent(cell) === '重大', 'states in Japanese');
	await shot(page, 'overview-ja');
	await page.click('#nav-queue');
	await ready(page, 'alerts');
	await shot(page, 'queue-ja');
	await page.goto(alertUrl);
	await ready(page, 'alerts-detail');
	check((await page.textContent('#al-history')).includes('受付'), 'the history in Japanese');
	await shot(page, 'alert-ja');
	await page.click('#al-customer');
	await ready(page, 'customers-detail');
	await shot(page, 'customer-ja');
	// no message key shows as itself
	for (const v of ['#/overview', '#/alerts', alertUrl.split('#')[1] ? '#' + alertUrl.split('#')[1] : '#/alerts', '#/customers/c0001', '#/customers/c0003', '#/maintenance']) {
		await page.evaluate(h => { location.hash = h; }, v);
		await page.waitForTimeout(300);
		await ready(page);
		const txt = await page.evaluate(() => document.body.innerText);
		const keys = txt.match(/\b(?:ov|q|al|cu|dt|act|disp|inq|nav|state|status|svc|ev|nf|due|dur|ago|pcs|role|login|live|error|chart)\.[a-z_.0-9]+\b/g);
		check(!keys, `no untranslated key on ${v}`, keys && keys.join(' '));
	}
	check(await page.evaluate(() => window.__xss) === undefined, 'no injected script ran (operator)');
	await page.click('#lang-toggle');
	await page.waitForFunction(() => document.documentElement.lang === 'en');

	// ---------- the viewer of c0001 ----------
	const vctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'ja-JP', timezoneId: 'Asia/Tokyo' });
	const vpage = await vctx.newPage();
	watch(vpage, errors);
	await vpage.goto(BASE + '/');
	await vpage.waitForSelector('#login-user');
	check(await vpage.textContent('#login-submit') === 'ログイン', 'login page in Japanese for a Japanese browser');
	await vpage.fill('#login-user', 'viewer-a');
	await vpage.fill('#login-password', 'viewer-password-long');
	await vpage.click('#login-submit');
	await ready(vpage, 'customers-detail');
	check(vpage.url().endsWith('#/customers/c0001'), 'a viewer lands on their customer', vpage.url());
	check(await vpage.locator('#cu-inquiry').count() === 0, 'a viewer cannot open inquiries');
	await vpage.evaluate(() => { location.hash = '#/overview'; });
	await ready(vpage, 'overview');
	const vrows = await vpage.locator('.vt-row:not([hidden])').evaluateAll(els => els.map(e => e.dataset.customer));
	check(vrows.length === 1 && vrows[0] === 'c0001', 'a viewer of A sees only A', vrows.join(','));
	await vpage.evaluate(() => { location.hash = '#/alerts'; });
	await ready(vpage, 'alerts');
	const vq = await vpage.locator('#queue tbody tr[data-alert]').evaluateAll(els => els.map(e => e.textContent));
	check(vq.length >= 1 && vq.every(x => x.includes('PC-00001') || x.includes('web')), 'the viewer\'s queue has only A\'s alerts', vq.join(' | '));
	check(await vpage.locator('#queue button[data-act]').count() === 0, 'a viewer has no action buttons');
	await vpage.evaluate(id => { location.hash = '#/alerts/' + encodeURIComponent(id); }, env.B_ALERT);
	await vpage.waitForSelector('#notfound', { timeout: 10000 });
	check((await vpage.textContent('#notfound')).includes('見つかりません'), 'B\'s alert page: not found');
	await vpage.evaluate(() => { location.hash = '#/customers/c0002'; });
	await vpage.waitForSelector('#notfound', { timeout: 10000 });
	check(true, 'B\'s customer page: not found');
	const direct = await vpage.evaluate(async id => (await fetch('/api/v1/alerts/' + encodeURIComponent(id))).status, env.B_ALERT);
	check(direct === 404, 'B\'s alert through the API: 404', direct);
	check(await vpage.evaluate(() => window.__xss) === undefined, 'no injected script ran (viewer)');
	await vpage.click('#logout');
	await vpage.waitForSelector('#login-user');
	const after = await vpage.evaluate(async () => (await fetch('/api/v1/me')).status);
	check(after === 401, 'logged out: the session is gone', after);

	check(errors.length === 0, 'no script error, no CSP violation', errors.join(' | '));
	proxy.server.close();
} catch (e) {
	check(false, 'the browser run', e.stack || e);
	for (const x of errors)
		console.log('  page said: ' + x);
} finally {
	await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
