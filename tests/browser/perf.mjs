// The overview under load, in headless Chromium: run by
// tests/integration/dashboard_perf.sh (which starts mamorid with NCUST
// customers and NPCS registered PCs).  Measures the time from pressing
// "Sign in" to the first rows painted, then flips Defender on RATE PCs
// of RATE different customers once a second each for SECONDS_ seconds
// (RATE state changes a second, published over MQTT by a minimal MQTT
// 3.1.1 QoS 0 publisher below) while the user scrolls, and records every
// long task (PerformanceObserver, type longtask).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const env = process.env;
const RATE = Number(env.RATE), SECS = Number(env.SECONDS_), NCUST = Number(env.NCUST);
let passed = 0, failed = 0;
const figures = [];
function check(ok, what, detail) {
	ok ? passed++ : failed++;
	console.log((ok ? 'ok   ' : 'FAIL ') + what + (!ok && detail !== undefined ? ': ' + detail : ''));
}
function figure(s) {
	figures.push(s);
	console.log('     ' + s);
}

// ---- a QoS 0 MQTT publisher (CONNECT, PUBLISH; nothing else needed) ----
function str(s) {
	const b = Buffer.from(s);
	return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
}
function packet(type, body) {
	const len = [];
	let n = body.length;
	do {
		let d = n % 128;
		n = Math.floor(n / 128);
		len.push(n ? d | 128 : d);
	} while (n);
	return Buffer.concat([Buffer.from([type, ...len]), body]);
}
function mqtt(port) {
	return new Promise((resolve, reject) => {
		const s = net.connect(port, '127.0.0.1', () => {
			s.write(packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 2, 0, 60]), str('perf-' + process.pid)])));
		});
		s.once('data', d => (d[0] === 0x20 && d[3] === 0 ? resolve(s) : reject(new Error('CONNACK ' + d.toString('hex')))));
		s.on('error', reject);
	});
}

const good = JSON.parse(fs.readFileSync(path.join(env.FIXTURES, 'healthy.json'), 'utf8'));
const bad = JSON.parse(fs.readFileSync(path.join(env.FIXTURES, 'realtime-off.json'), 'utf8'));

const browser = await chromium.launch({ executablePath: env.CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
try {
	const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'en-GB' });
	await ctx.addInitScript(() => {
		window.__long = [];
		new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push([e.startTime, e.duration]); })
			.observe({ type: 'longtask', buffered: true });
	});
	const page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', e => errors.push(e.message));
	await page.goto(env.MAMORI_URL + '/');
	await page.waitForSelector('#login-user');
	await page.fill('#login-user', 'noc');
	await page.fill('#login-password', 'noc-password-long');
	const t0 = Date.now();
	await page.click('#login-submit');
	await page.waitForSelector('main[data-view="overview"][data-ready="1"] .vt-row:not([hidden])', { timeout: 20000 });
	const usable = Date.now() - t0;
	const total = await page.evaluate(() => document.getElementById('ov-count').textContent);
	figure(`overview usable ${usable} ms after "Sign in" (${total})`);
	check(usable < 2000, `overview usable within 2 s of login (${usable} ms)`);
	check(total.includes(`of ${NCUST}`), `all ${NCUST} customers listed`, total);
	const rowsInDom = await page.locator('.vt-row').count();
	figure(`row elements in the page: ${rowsInDom}`);
	check(rowsInDom < 100, 'only the visible rows exist as elements', rowsInDom);
	await page.waitForFunction(() => document.body.dataset.live === 'open');
	const loadLong = await page.evaluate(() => window.__long.map(x => x[1]));
	figure(`long tasks while loading: ${loadLong.length}, longest ${Math.round(Math.max(0, ...loadLong))} ms`);
	// the measurement itself: a deliberate 120 ms task must be seen
	await page.evaluate(() => { window.__long = []; setTimeout(() => { const e = performance.now() + 120; while (performance.now() < e); }, 0); });
	await page.waitForTimeout(500);
	const probe = await page.evaluate(() => window.__long.map(x => x[1]));
	check(probe.some(d => d >= 100), 'the long-task observer sees a 120 ms task', probe.join(','));
	await page.evaluate(() => { window.__long = []; });

	// ---- RATE changes/s for SECS s ----
	const sock = await mqtt(Number(env.MQTT_PORT));
	const pcs = [];
	for (let i = 0; i < RATE; i++) {
		const k = Math.floor(i * NCUST / RATE); // agent k: customer k % NCUST, PC-00001
		pcs.push({ cust: 'c' + String(k % NCUST + 1).padStart(4, '0'), host: 'PC-' + String(Math.floor(k / NCUST) + 1).padStart(5, '0'), off: false });
	}
	const received0 = await page.evaluate(() => window.mamori.received());
	let sent = 0;
	const start = Date.now();
	const slot = 1000 / RATE;
	let next = 0;
	const scroller = setInterval(() => {
		page.evaluate(() => { const b = document.querySelector('.vt-body'); b.scrollTop = (b.scrollTop + 3000) % (b.scrollHeight - b.clientHeight); }).catch(() => {});
	}, 1000);
	while (Date.now() - start < SECS * 1000) {
		// publish what is due by now (1 ms granularity)
		const due = Math.floor((Date.now() - start) / slot);
		const bufs = [];
		for (; next <= due; next++) {
			const p = pcs[next % RATE];
			p.off = !p.off;
			const body = { ...(p.off ? bad : good), ts: new Date().toISOString(), ComputerName: p.host };
			bufs.push(packet(0x30, Buffer.concat([str(`mamori/v1/agents/${p.cust}/${p.host}/defender`), Buffer.from(JSON.stringify(body))])));
			sent++;
		}
		if (bufs.length)
			sock.write(Buffer.concat(bufs));
		await new Promise(r => setTimeout(r, 5));
	}
	clearInterval(scroller);
	const elapsed = (Date.now() - start) / 1000;
	await new Promise(r => setTimeout(r, 2000));
	sock.end();
	const long = await page.evaluate(() => window.__long.map(x => x[1]));
	const received = (await page.evaluate(() => window.mamori.received())) - received0;
	const max = Math.round(Math.max(0, ...long));
	figure(`published ${sent} Defender reports in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s, each a state change)`);
	figure(`live events received by the page: ${received} (${Math.round(received / elapsed)}/s)`);
	figure(`long tasks under load: ${long.length}, longest ${max} ms, total ${Math.round(long.reduce((a, b) => a + b, 0))} ms`);
	check(received >= sent * 0.9, `the changes reached the page (${received} of ${sent})`);
	check(max <= 200, `no long task over 200 ms under ${RATE} changes/s (longest ${max} ms)`);
	check(errors.length === 0, 'no script error', errors.join(' | '));
	await page.screenshot({ path: path.join(env.OUT, 'overview-5000.png') });
	fs.writeFileSync(path.join(env.OUT, 'perf.txt'), figures.join('\n') + '\n');
} catch (e) {
	check(false, 'the browser run', e.stack || e);
} finally {
	await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
