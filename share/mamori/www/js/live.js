// live: the API's event stream (/api/v1/events, Server-Sent Events) for
// every view, with a banner while it is down.
//
// The browser's EventSource reconnects by itself after a dropped
// connection and sends the last id it saw in Last-Event-ID, so the daemon
// sends what was missed first.  When the browser gives up (the daemon
// answered with an error, e.g. 503 while it restarts), a new stream is
// opened with ?after=<last id> - the same resume - after 1, 2, 4... 15 s.
// An id can then come twice (an old ?after with a newer Last-Event-ID):
// events are numbered <epoch>-<seq>, and one not newer than the last seen
// of its epoch is dropped.  `gap` (the ring no longer reaches back, or the
// daemon restarted) tells views to reload what they show.

export class Live {
	constructor(banner, t) {
		this.banner = banner;
		this.t = t;
		this.subs = new Map();
		this.last = null;
		this.lastEpoch = null;
		this.lastSeq = -1;
		this.es = null;
		this.state = 'idle';
		this.backoff = 1000;
		this.timer = 0;
		this.lostAt = 0;
		this.received = 0;
	}

	on(type, fn) {
		if (!this.subs.has(type))
			this.subs.set(type, new Set());
		this.subs.get(type).add(fn);
		return () => this.subs.get(type).delete(fn);
	}

	emit(type, data) {
		for (const fn of this.subs.get(type) || [])
			try {
				fn(data);
			} catch (e) {
				console.error('live', type, e);
			}
	}

	start() {
		this.stopped = false;
		this.connect();
	}

	stop() {
		this.stopped = true;
		clearTimeout(this.timer);
		if (this.es)
			this.es.close();
		this.es = null;
		this.show(null);
	}

	connect() {
		if (this.stopped)
			return;
		let url = '/api/v1/events?types=state,alert,downtime';
		if (this.last)
			url += '&after=' + encodeURIComponent(this.last);
		const es = new EventSource(url);
		this.es = es;
		const handler = type => e => this.onEvent(type, e);
		for (const type of ['state', 'alert', 'downtime'])
			es.addEventListener(type, handler(type));
		es.addEventListener('gap', e => {
			let d = {};
			try {
				d = JSON.parse(e.data);
			} catch { /* a gap without a body is still a gap */ }
			this.lastSeq = -1;
			this.lastEpoch = null;
			this.emit('gap', d);
		});
		es.onopen = () => {
			this.backoff = 1000;
			const was = this.state;
			this.state = 'open';
			this.show(was === 'lost' ? 'back' : null);
			this.emit('status', 'open');
		};
		es.onerror = () => {
			if (es !== this.es)
				return;
			if (this.state !== 'lost') {
				this.state = 'lost';
				this.lostAt = Date.now();
				this.emit('status', 'lost');
			}
			this.show('lost');
			if (es.readyState === EventSource.CLOSED) {
				es.close();
				clearTimeout(this.timer);
				this.timer = setTimeout(() => this.connect(), this.backoff);
				this.backoff = Math.min(this.backoff * 2, 15000);
				this.emit('closed', null);
			}
		};
	}

	onEvent(type, e) {
		const id = e.lastEventId || '';
		const m = /^(\d+)-(\d+)$/.exec(id);
		if (m) {
			const epoch = m[1], s = Number(m[2]);
			if (epoch === this.lastEpoch && s <= this.lastSeq)
				return; // seen already (a resume from an older id)
			this.lastEpoch = epoch;
			this.lastSeq = s;
			this.last = id;
		}
		let data;
		try {
			data = JSON.parse(e.data);
		} catch {
			return;
		}
		this.received++;
		this.emit(type, data);
	}

	// the language changed: the banner's words too
	relabel() {
		if (!this.banner.hidden)
			this.show(this.state === 'lost' ? 'lost' : null);
	}

	show(what) {
		const b = this.banner;
		clearTimeout(this.bannerTimer);
		if (what === 'lost') {
			b.textContent = this.t('live.lost');
			b.className = '';
			b.hidden = false;
		} else if (what === 'back') {
			b.textContent = this.t('live.back');
			b.className = 'ok';
			b.hidden = false;
			this.bannerTimer = setTimeout(() => { b.hidden = true; }, 3000);
		} else {
			b.hidden = true;
		}
	}
}
