// actions: the alert actions (ack, escalate, dispatch, wait, comment,
// resolve, unack) with their note, in a dialog; several alerts at once
// for ack.  Each request carries a request id, so a retry is done once.
import { h, toast } from './dom.js';
import { t, toMs } from './i18n.js';
import { post, requestId, enc } from './api.js';

export const ACTIONS = ['ack', 'escalate', 'dispatch', 'wait', 'comment', 'resolve'];

// Which actions make sense for an alert's status.
export function actionsFor(a) {
	if (a.status === 'resolved')
		return ['comment'];
	const out = [];
	if (a.status === 'open')
		out.push('ack');
	else
		out.push('unack');
	out.push('escalate', 'dispatch', 'wait', 'comment', 'resolve');
	return out;
}

function localInput(ms) {
	const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
	return d.toISOString().slice(0, 16);
}

// Ask for a note (and the dispatch fields) and run the action on every
// id.  Resolves to the number done, or null when cancelled.
export function runAction(action, ids, opts) {
	return new Promise(resolve => {
		const note = h('textarea', { name: 'note', id: 'act-note', required: action === 'comment' });
		const fields = [h('label', null, t(action === 'comment' ? 'act.note.required' : 'act.note'), note)];
		let vendor, planned, result;
		if (action === 'dispatch') {
			const d = opts?.dispatch || {};
			vendor = h('input', { name: 'vendor', id: 'act-vendor', value: d.vendor || '' });
			planned = h('input', { name: 'planned_at', id: 'act-planned', type: 'datetime-local', value: d.planned_at ? localInput(toMs(d.planned_at)) : '' });
			result = h('textarea', { name: 'result', id: 'act-result', value: d.result || '' });
			fields.push(h('label', null, t('disp.vendor'), vendor), h('label', null, t('disp.planned'), planned),
				h('label', null, t('disp.result'), result));
			note.placeholder = t('disp.note.hint');
		}
		const err = h('p', { class: 'error', role: 'alert' });
		const ok = h('button', { class: 'primary', type: 'submit', id: 'act-ok', text: t('act.' + action) });
		const cancel = h('button', { type: 'button', text: t('act.cancel') });
		const form = h('form', { class: 'stack', method: 'dialog' },
			h('h2', { text: ids.length > 1 ? t('act.title.many', { act: t('act.' + action), n: ids.length }) : t('act.title', { act: t('act.' + action), id: ids[0] }) }),
			...fields, err, h('div', { class: 'actions' }, ok, cancel));
		const dlg = h('dialog', { id: 'act-dialog' }, form);
		document.body.append(dlg);
		const done = v => { dlg.close(); dlg.remove(); resolve(v); };
		cancel.addEventListener('click', () => done(null));
		dlg.addEventListener('cancel', () => done(null));
		form.addEventListener('submit', async ev => {
			ev.preventDefault();
			const body = {};
			if (note.value.trim())
				body.note = note.value.trim();
			if (action === 'comment' && !body.note) {
				err.textContent = t('act.note.missing');
				return;
			}
			if (action === 'dispatch') {
				if (vendor.value.trim())
					body.vendor = vendor.value.trim();
				if (planned.value)
					body.planned_at = new Date(planned.value).toISOString();
				if (result.value.trim())
					body.result = result.value.trim();
			}
			ok.disabled = true;
			let n = 0;
			const fails = [];
			for (const id of ids) {
				try {
					await post('/api/v1/alerts/' + enc(id) + '/' + action, { ...body, request_id: requestId(action) });
					n++;
				} catch (e) {
					fails.push(id + ': ' + e.message);
				}
			}
			if (fails.length) {
				err.textContent = fails.join('; ');
				ok.disabled = false;
				if (n)
					toast(t('act.done', { n }));
				return;
			}
			toast(t('act.done', { n }));
			done(n);
		});
		dlg.showModal();
		(action === 'dispatch' ? vendor : note).focus();
	});
}
