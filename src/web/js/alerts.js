// Knock alerts on the dashboard: a count in the tab title and a badge, a short chime (WebAudio),
// and a Web Notification, for each new waiting patient the clinician is not already looking at.
import {announce, show} from './ui.js';
import {msg, t, setText, onLanguage} from './i18n.js';

const SOUND_KEY = 'vc.alerts.sound'; // localStorage: '0' when the clinician turned the chime off
const SEEN_KEY = 'vc.alerts.seen'; // sessionStorage: {room: [peer...]} already alerted in this tab

function loadSeen() {
    try {
        const raw = JSON.parse(sessionStorage.getItem(SEEN_KEY) || '{}');
        return new Map(Object.entries(raw).map(([room, peers]) => [room, new Set(Array.isArray(peers) ? peers : [])]));
    } catch {
        return new Map();
    }
}

/* The name a room goes by in an alert: its label, else its short id (as text now). */
export function roomName(entry) {
    return (entry && entry.label) || t('room.unnamed', {id: String(entry && entry.id).slice(0, 8)});
}

/* The same as a Msg, for text that follows a change of language. */
export function roomTitle(entry) {
    return (entry && entry.label) || msg('room.unnamed', {id: String(entry && entry.id).slice(0, 8)});
}

/*
 * A knock is new when its peer id was not in that room's waiting list before (in this tab), so a
 * resync after a reconnect alerts the knocks made during the gap, and only those. A room handed
 * over to me alerts too. els: {badge, sound (checkbox), notify (button), notifyState (text),
 * banner, bannerText, dismiss (over the call: alerts of other rooms)}; onOpen(roomId) runs when
 * the clinician clicks a notification.
 */
export class KnockAlerts {
    constructor(els, {onOpen}) {
        this.els = els;
        this.onOpen = onOpen;
        onLanguage(() => this.render());
        this.me = null;
        this.seen = loadSeen();
        this.assignee = new Map(); // room id -> assignee id, as last seen
        this.unseen = new Map(); // `${room} ${peer}` -> room id: alerts the clinician has not seen
        this.inRoom = null; // the room whose call the clinician is in
        this.audio = null;
        let on = true;
        try {
            on = localStorage.getItem(SOUND_KEY) !== '0';
        } catch {
            on = true;
        }
        els.sound.checked = on;
        els.sound.addEventListener('change', () => {
            try {
                localStorage.setItem(SOUND_KEY, els.sound.checked ? '1' : '0');
            } catch {
                /* remembered for this page only */
            }
            if (els.sound.checked) this.chime();
        });
        els.notify.addEventListener('click', () => this.askPermission());
        els.dismiss.addEventListener('click', () => {
            this.unseen.clear();
            this.render();
        });
        // Browsers let a page start audio only after the user touched it: get ready on the first touch.
        const unlock = () => this.audioContext();
        document.addEventListener('pointerdown', unlock, {once: true});
        document.addEventListener('keydown', unlock, {once: true});
        const look = () => this.looked();
        document.addEventListener('visibilitychange', look);
        window.addEventListener('focus', look);
        this.showPermission();
    }

    /* True when the clinician is looking at the list right now. */
    viewing() {
        return document.visibilityState === 'visible' && !document.hidden && document.hasFocus() && !this.inRoom;
    }

    /* The clinician is in the call of room id (null: back on the list). */
    setInRoom(id) {
        this.inRoom = id || null;
        this.looked();
        this.render();
    }

    looked() {
        if (this.unseen.size && this.viewing()) {
            this.unseen.clear();
            this.render();
        }
    }

    /* The whole list (after watch, and after every reconnect). */
    sync(entries, me) {
        this.me = me || this.me;
        const live = new Set(entries.map((e) => e.id));
        for (const id of [...this.seen.keys()]) if (!live.has(id)) this.seen.delete(id);
        for (const id of [...this.assignee.keys()]) if (!live.has(id)) this.assignee.delete(id);
        for (const e of entries) this.update(e, true);
        this.prune(live);
        this.save();
    }

    /* One room changed. */
    update(entry, batch = false) {
        const before = this.seen.get(entry.id) || new Set();
        const now = new Set();
        for (const w of entry.waiting || []) {
            now.add(w.peer);
            if (!before.has(w.peer)) this.knock(entry, w.peer);
        }
        this.seen.set(entry.id, now);
        const mine = this.me && entry.assignee && entry.assignee.id === this.me.id;
        const was = this.assignee.get(entry.id);
        if (mine && was !== undefined && was !== this.me.id) this.handedOver(entry);
        this.assignee.set(entry.id, entry.assignee ? entry.assignee.id : null);
        if (!batch) {
            this.prune(null);
            this.save();
        }
    }

    gone(id) {
        this.seen.delete(id);
        this.assignee.delete(id);
        this.prune(null);
        this.save();
    }

    /* Alerts nobody has seen yet stop counting once their patient no longer waits. */
    prune(live) {
        let changed = false;
        for (const [key, room] of this.unseen) {
            const peer = key.slice(room.length + 1);
            const waiting = this.seen.get(room);
            if ((live && !live.has(room)) || !waiting || (peer && !waiting.has(peer))) {
                this.unseen.delete(key);
                changed = true;
            }
        }
        if (changed) this.render();
    }

    save() {
        const out = {};
        for (const [room, peers] of this.seen) out[room] = [...peers];
        try {
            sessionStorage.setItem(SEEN_KEY, JSON.stringify(out));
        } catch {
            /* alerts may repeat after a reload */
        }
    }

    knock(entry, peer) {
        const away = document.hidden || !document.hasFocus();
        if (this.inRoom === entry.id && !away) return; // the knock card in the call shows it
        this.raise(entry, `${entry.id} ${peer}`, 'lobby.waiting.patient', msg('alerts.knock', {room: roomName(entry)}));
    }

    handedOver(entry) {
        this.raise(entry, `${entry.id} `, 'alerts.handed.title', msg('alerts.handed', {room: roomName(entry)}));
    }

    /* title: the notification's key; text: a Msg. */
    raise(entry, key, title, text) {
        this.lastText = text;
        if (!this.viewing()) this.unseen.set(key, entry.id);
        this.render();
        this.chime();
        if (document.hidden || !document.hasFocus()) this.notify(t(title), t(text.key, text.args), entry.id);
        announce(text, true);
    }

    render() {
        const n = this.unseen.size;
        document.title = n ? t('alerts.title', {count: n, title: t('dash.title')}) : t('dash.title');
        setText(this.els.badge, msg('alerts.badge', {count: n}));
        show(this.els.badge, n > 0);
        setText(this.els.bannerText, n === 1 && this.lastText ? this.lastText : msg('alerts.banner', {count: n}));
        show(this.els.banner, n > 0 && Boolean(this.inRoom));
        try {
            if (n && navigator.setAppBadge) navigator.setAppBadge(n).catch(() => {});
            else if (!n && navigator.clearAppBadge) navigator.clearAppBadge().catch(() => {});
        } catch {
            /* not an installed app */
        }
    }

    /* Clears the count when the clinician signs out. */
    reset() {
        this.unseen.clear();
        this.seen.clear();
        this.assignee.clear();
        this.save();
        this.render();
    }

    audioContext() {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) return null;
        if (!this.audio) this.audio = new Ctx();
        if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
        return this.audio;
    }

    /* Two soft notes, about half a second, made on the spot: no file to fetch. */
    chime() {
        if (!this.els.sound.checked) return;
        const ctx = this.audioContext();
        if (!ctx) return;
        const t0 = ctx.currentTime + 0.02;
        for (const [freq, at] of [[880, 0], [660, 0.22]]) {
            const osc = ctx.createOscillator();
            const gain = ctx.createGain();
            osc.type = 'sine';
            osc.frequency.value = freq;
            gain.gain.setValueAtTime(0.0001, t0 + at);
            gain.gain.exponentialRampToValueAtTime(0.25, t0 + at + 0.02);
            gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.3);
            osc.connect(gain).connect(ctx.destination);
            osc.start(t0 + at);
            osc.stop(t0 + at + 0.32);
        }
    }

    notify(title, body, room) {
        if (typeof Notification !== 'function' || Notification.permission !== 'granted') return;
        let n;
        try {
            n = new Notification(title, {body, tag: `vc-${room}`, silent: this.els.sound.checked});
        } catch {
            return; // Chrome on Android shows notifications only from a service worker
        }
        n.onclick = () => {
            window.focus();
            n.close();
            this.onOpen(room);
        };
    }

    /* Asked only from the clinician's click, never on load. */
    async askPermission() {
        if (typeof Notification !== 'function') return;
        try {
            await Notification.requestPermission();
        } catch {
            /* the old callback form: the state is read below anyway */
        }
        this.showPermission();
    }

    showPermission() {
        const {notify, notifyState} = this.els;
        const perm = typeof Notification === 'function' ? Notification.permission : 'unsupported';
        show(notify, perm === 'default');
        const key = {
            granted: 'alerts.notify.on',
            denied: 'alerts.notify.blocked',
            unsupported: 'alerts.notify.unsupported',
        }[perm];
        setText(notifyState, key ? msg(key) : '');
        notifyState.dataset.permission = perm;
        show(notifyState, Boolean(key));
    }
}
