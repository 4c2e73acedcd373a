// login: user name and password to POST /api/v1/login; the daemon sets
// the session cookie (HttpOnly) and answers the CSRF token.
import { h, clear } from './dom.js';
import { t, getLang } from './i18n.js';
import { api, ApiError } from './api.js';

export function mount(main, onLogin, switchLang) {
	const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autofocus: true });
	const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
	const err = h('p', { class: 'error', role: 'alert', id: 'login-error' });
	const btn = h('button', { class: 'primary', type: 'submit', id: 'login-submit', text: t('login.submit') });
	const form = h('form', null, h('label', null, t('login.user'), user), h('label', null, t('login.password'), pass), err, btn);
	const other = getLang() === 'ja' ? 'en' : 'ja';
	clear(main).append(h('div', { class: 'login panel' }, h('h1', { text: t('login.title') }), form,
		h('div', { class: 'langs' }, h('button', { type: 'button', id: 'lang-toggle', text: t('lang.switch'), onclick: () => switchLang(other) }))));
	form.addEventListener('submit', async ev => {
		ev.preventDefault();
		err.textContent = '';
		btn.disabled = true;
		try {
			const me = await api('POST', '/api/v1/login', { user: user.value, password: pass.value });
			onLogin(me);
		} catch (e) {
			btn.disabled = false;
			err.textContent = e instanceof ApiError && e.status === 401 ? t('login.wrong')
				: e.status === 429 ? t('login.limited') : t('error.load', { msg: e.message });
			pass.value = '';
			pass.focus();
		}
	});
	user.focus();
	return () => {};
}
