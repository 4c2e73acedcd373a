// dom: building the page from data without ever parsing data as HTML.
// Every text goes in through textContent or a text node, every attribute
// through setAttribute; nothing here (or anywhere in the dashboard) uses
// innerHTML, so a customer name or a plugin's output holding "<script>"
// is shown as those characters.  Links to outside pages (runbooks) are
// made only for http: and https: URLs (safeUrl).

export function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k === 'class')
				el.className = v;
			else if (k === 'text')
				el.textContent = String(v);
			else if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else if (k === 'dataset')
				Object.assign(el.dataset, v);
			else if (k === 'value')
				el.value = v;
			else if (k === 'checked')
				el.checked = !!v;
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	add(el, kids);
	return el;
}

function add(el, kids) {
	for (const k of kids) {
		if (k === null || k === undefined || k === false)
			continue;
		if (Array.isArray(k))
			add(el, k);
		else
			el.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
}

export function clear(el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
}

export function setText(el, s) {
	s = s === null || s === undefined ? '' : String(s);
	if (el.textContent !== s)
		el.textContent = s;
}

// An http(s) URL as given, or null: "javascript:", "data:", relative
// strings and text with spaces (a runbook's words) never become links.
export function safeUrl(s) {
	if (typeof s !== 'string' || !/^https?:\/\/[^\s]+$/i.test(s))
		return null;
	try {
		const u = new URL(s);
		return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
	} catch {
		return null;
	}
}

// The fragment link of a view: every segment encoded.
export function link(...parts) {
	return '#/' + parts.map(p => encodeURIComponent(p)).join('/');
}

let toastTimer = 0;
export function toast(msg) {
	let el = document.getElementById('toast');
	if (!el) {
		el = h('div', { id: 'toast', class: 'toast', role: 'status' });
		document.body.append(el);
	}
	el.textContent = msg;
	el.hidden = false;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}
