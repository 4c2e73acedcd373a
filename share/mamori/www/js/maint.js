// maint: downtimes - listed (active and coming), added for a customer, an
// asset or one check, and ended (run-time ones; the configuration's are
// shown, not deletable).  Viewers see their customer's, read-only.
import { h, clear, toast } from './dom.js';
import { t, fmtTime } from './i18n.js';
import { get, post, del, enc, requestId } from './api.js';

function localInput(ms) {
	const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
	return d.toISOString().slice(0, 16);
}

export function mount(main, ctx) {
	let alive = true;
	const canEdit = ctx.me.role !== 'viewer';

	async function load() {
		let list, custs;
		try {
			[list, custs] = await Promise.all([get('/api/v1/downtimes'), get('/api/v1/customers')]);
		} catch (e) {
			if (e.status !== 401)
				clear(main).append(h('p', { class: 'error', text: t('error.load', { msg: e.message }) }));
			return;
		}
		if (alive)
			render(list.downtimes || [], custs.customers || []);
	}

	function render(rows, custs) {
		const names = new Map(custs.map(c => [c.id, c.name]));
		const table = h('table', { class: 'list', id: 'dt-list' },
			h('thead', null, h('tr', null, ['dt.customer', 'dt.target', 'dt.start', 'dt.end', 'dt.comment', 'dt.author', 'dt.state', ''].map(k => h('th', { text: k ? t(k) : '' })))),
			h('tbody', null, rows.length ? rows.map(d => h('tr', { dataset: { downtime: d.id } },
				h('td', { text: names.get(d.customer) || d.customer }),
				h('td', { text: d.asset ? d.asset + (d.check ? ' / ' + d.check : '') : t('dt.whole') }),
				h('td', { text: fmtTime(d.start, true) }), h('td', { text: fmtTime(d.end, true) }),
				h('td', { class: 'out', text: d.comment || '' }), h('td', { text: d.author || (d.origin === 'config' ? t('dt.config') : '') }),
				h('td', { text: d.active ? t('dt.active') : t('dt.planned') + (d.recurring ? ' \u00b7 ' + t('dt.recurring') : '') }),
				h('td', null, canEdit && d.origin === 'runtime' ? h('button', { type: 'button', class: 'danger', text: t('dt.end.now'), onclick: async () => {
					try {
						await del('/api/v1/downtimes/' + enc(d.id));
						toast(t('dt.ended'));
						load();
					} catch (e) {
						toast(e.message);
					}
				} }) : null)))
				: h('tr', null, h('td', { colspan: 8, class: 'muted', text: t('dt.none') }))));
		let form = null;
		if (canEdit) {
			const now = Date.now();
			const cust = h('select', { id: 'dt-customer' }, custs.map(c => h('option', { value: c.id, text: c.name + ' (' + c.id + ')' })));
			const asset = h('input', { id: 'dt-asset', placeholder: t('dt.asset.hint') });
			const check = h('input', { id: 'dt-check', placeholder: t('dt.check.hint') });
			const start = h('input', { id: 'dt-start', type: 'datetime-local', value: localInput(now) });
			const end = h('input', { id: 'dt-end', type: 'datetime-local', value: localInput(now + 3600 * 1000) });
			const comment = h('input', { id: 'dt-comment', required: true });
			const err = h('p', { class: 'error', role: 'alert' });
			form = h('form', { class: 'panel stack', id: 'dt-form' }, h('h2', { text: t('dt.add') }),
				h('div', { class: 'toolbar' }, h('label', null, t('dt.customer'), cust), h('label', null, t('dt.asset'), asset),
					h('label', null, t('dt.check'), check), h('label', null, t('dt.start'), start), h('label', null, t('dt.end'), end)),
				h('label', null, t('dt.comment'), comment), err,
				h('div', null, h('button', { class: 'primary', type: 'submit', id: 'dt-ok', text: t('dt.add') })));
			form.addEventListener('submit', async ev => {
				ev.preventDefault();
				const body = { customer: cust.value, comment: comment.value.trim(), start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString(), request_id: requestId('dt') };
				if (asset.value.trim())
					body.asset = asset.value.trim();
				if (check.value.trim())
					body.check = check.value.trim();
				if (!body.comment) {
					err.textContent = t('dt.comment.missing');
					return;
				}
				try {
					await post('/api/v1/downtimes', body);
					toast(t('dt.added'));
					load();
				} catch (e) {
					err.textContent = e.message;
				}
			});
		}
		clear(main).append(h('h1', { text: t('dt.title') }), table, form);
		main.dataset.ready = '1';
	}

	const off = ctx.live.on('downtime', () => load());
	load();
	return () => {
		alive = false;
		off();
	};
}
