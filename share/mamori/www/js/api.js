// api: the HTTP API over fetch, with the session cookie (HttpOnly: this
// code never sees it) and the session's CSRF token on every change.
// A 401 anywhere means the session is gone: the app shows the login page.

let csrf = null;
let onUnauth = null;

export function setCsrf(token) {
	csrf = token || null;
}

export function onUnauthorized(fn) {
	onUnauth = fn;
}

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message || code || String(status));
		this.status = status;
		this.code = code || '';
	}
}

let seq = 0;
// A request id for an action: a repeat (a double click, a retry after a
// lost answer) is done once by the server.
export function requestId(what) {
	seq += 1;
	return 'ui-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 8) + '-' + seq + (what ? '-' + what : '');
}

export async function api(method, path, body, extraHeaders) {
	const headers = { Accept: 'application/json', ...(extraHeaders || {}) };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && method !== 'HEAD' && csrf)
		headers['X-CSRF-Token'] = csrf;
	let r;
	try {
		r = await fetch(path, {
			method, headers, credentials: 'same-origin', cache: 'no-store',
			body: body === undefined ? undefined : JSON.stringify(body),
		});
	} catch (e) {
		throw new ApiError(0, 'network', e.message);
	}
	if (r.status === 304)
		return { notModified: true, etag: r.headers.get('ETag') };
	let j = null;
	const text = await r.text();
	if (text) {
		try {
			j = JSON.parse(text);
		} catch {
			j = null;
		}
	}
	if (!r.ok) {
		const err = new ApiError(r.status, j?.error?.code, j?.error?.message || r.statusText);
		if (r.status === 401 && onUnauth && path !== '/api/v1/login')
			onUnauth();
		throw err;
	}
	if (j && typeof j === 'object')
		Object.defineProperty(j, 'etag', { value: r.headers.get('ETag'), enumerable: false });
	return j;
}

export const get = path => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const del = path => api('DELETE', path);

// Every page of a paged list ({rows: [...], next}) up to max rows.
export async function getAll(path, key, max) {
	const out = [];
	let url = path;
	for (;;) {
		const j = await get(url);
		out.push(...(j[key] || []));
		if (!j.next || out.length >= (max || 5000))
			break;
		url = path + (path.includes('?') ? '&' : '?') + 'after=' + encodeURIComponent(j.next);
	}
	return out;
}

export const enc = encodeURIComponent;
