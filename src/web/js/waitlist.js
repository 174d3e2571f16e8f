// The dashboard's live list: every consultation of the clinician and their teams, who waits and
// for how long, with admit, turn away, messages, labels and hand-over straight from the list.
import {h, show, fill, announce, errorMsg} from './ui.js';
import {durationText, everySecond, parseTime, timeText} from './clock.js';
import {browserText, precheckList} from './lobby.js';
import {Composer} from './compose.js';
import {LabelEditor, Handover} from './roomtools.js';
import {roomName} from './alerts.js';
import {msg, t, setText, setAttr} from './i18n.js';

const STATES = {open: 'list.state.open', waiting: 'list.state.waiting', 'in-call': 'list.state.call'};
const ORDER = {waiting: 0, 'in-call': 1, open: 2};

/* One waiting patient: how long, their device check, and what the clinician can do. */
class WaitingItem {
    constructor(room, w, ctx) {
        this.room = room;
        this.peer = w.peer;
        this.ctx = ctx;
        this.since = h('time', {testid: 'waiting-since'});
        this.away = h('span', {class: 'away-note', testid: 'waiting-away', hidden: true, text: msg('list.away')});
        this.browser = h('p', {class: 'knock-browser'});
        this.checks = h('div', {class: 'waiting-checks'});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'waiting-error'});
        this.admit = h('button', {type: 'button', class: 'btn btn-primary', testid: 'list-admit-button', text: msg('lobby.admit'),
            on: {click: () => this.act('admit')}});
        this.deny = h('button', {type: 'button', class: 'btn btn-quiet', testid: 'list-deny-button', text: msg('list.deny'),
            on: {click: () => this.act('deny')}});
        this.composer = new Composer({title: msg('list.message'), label: msg('list.message.label'), canned: ctx.canned(),
            send: (text) => ctx.actions.message(room.id, this.peer, text)});
        this.el = h('li', {class: 'waiting-item', testid: 'waiting-item', 'data-peer': w.peer},
            h('p', {class: 'waiting-head'}, h('strong', {text: msg('list.waiting')}), ' ', this.since, ' ', this.away),
            this.browser, this.checks, this.error,
            h('div', {class: 'waiting-actions'}, this.admit, this.deny),
            this.composer.el);
        this.update(w);
    }

    update(w) {
        this.w = w;
        this.sinceMs = parseTime(w.since);
        this.since.setAttribute('datetime', w.since || '');
        this.tick();
        show(this.away, Boolean(w.away));
        setText(this.browser, browserText(w));
        const key = JSON.stringify(w.precheck || null);
        if (key !== this.checkKey) {
            this.checkKey = key;
            fill(this.checks, precheckList(w.precheck));
        }
        const room = () => roomName(this.room.entry);
        setAttr(this.admit, 'aria-label', msg('list.admitWhich', {room}));
        setAttr(this.deny, 'aria-label', msg('list.denyWhich', {room}));
    }

    tick() {
        this.since.textContent = Number.isNaN(this.sinceMs) ? '' : durationText(Date.now() - this.sinceMs, 'narrow');
    }

    async act(kind) {
        this.error.textContent = '';
        this.admit.disabled = this.deny.disabled = true;
        const err = await this.ctx.actions[kind](this.room.id, this.peer);
        this.admit.disabled = this.deny.disabled = false;
        if (err) this.showError(err);
        else if (kind === 'deny') announce(msg('list.denied'));
    }

    /* Next to the patient, or (when a colleague took them and they left the list meanwhile) on
     * the consultation. */
    showError(err) {
        const text = err.code === 'already_admitted'
            ? msg('list.alreadyAdmitted', {name: err.by || (() => t('list.anotherClinician'))})
            : errorMsg(err, {unknown_peer: 'list.gone'});
        const where = this.el.isConnected ? this.error : this.room.notice;
        setText(where, text);
        where.dataset.code = err.code;
        if (where === this.room.notice) this.room.clearNoticeLater();
    }
}

/* One consultation: label, state, who it is with, its waiting patients and its tools. */
class RoomItem {
    constructor(entry, ctx) {
        this.id = entry.id;
        this.ctx = ctx;
        this.entry = entry;
        this.waiting = new Map();
        this.label = new LabelEditor({save: (text) => ctx.actions.label(this.id, text)});
        this.state = h('span', {class: 'room-state', testid: 'room-state'});
        this.facts = h('p', {class: 'room-facts hint'});
        this.notice = h('p', {class: 'form-error', role: 'alert', testid: 'room-notice'});
        this.noticeTimer = 0;
        this.list = h('ul', {class: 'waiting-list', 'aria-label': msg('list.waitingPatients')});
        this.open = h('button', {type: 'button', class: 'btn btn-secondary btn-small', testid: 'room-open-button', text: msg('list.open'),
            on: {click: () => ctx.actions.open(this.id)}});
        this.end = h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'room-end-button', text: msg('list.end'),
            on: {click: () => ctx.actions.end(this.id)}});
        this.all = new Composer({title: msg('list.messageAll'), label: msg('list.messageAll.label'), canned: ctx.canned(),
            send: (text) => ctx.actions.message(this.id, null, text)});
        this.handover = new Handover({me: ctx.me, members: ctx.actions.members, send: (to) => ctx.actions.handover(this.id, to)});
        this.el = h('li', {class: 'room-item', testid: 'room-item', 'data-room': entry.id},
            h('div', {class: 'room-top'}, this.label.el, this.state),
            this.facts, this.notice, this.list,
            h('div', {class: 'room-actions'}, this.open, this.all.el, this.handover.el, this.end));
        this.update(entry);
    }

    update(entry) {
        this.entry = entry;
        this.el.dataset.state = entry.state;
        this.label.update(entry);
        this.handover.update(entry);
        const n = (entry.waiting || []).length;
        setText(this.state, entry.state === 'waiting' && n > 1 ? msg('list.state.several', {count: n}) : STATES[entry.state] ? msg(STATES[entry.state]) : entry.state);
        setText(this.facts, this.factsText(entry));
        const current = this.ctx.current() === entry.id;
        const room = () => roomName(entry);
        setText(this.open, msg(current ? 'list.inView' : 'list.open'));
        this.open.disabled = current;
        setAttr(this.open, 'aria-label', msg(current ? 'list.inViewWhich' : 'list.openWhich', {room}));
        setAttr(this.end, 'aria-label', msg('list.endWhich', {room}));
        show(this.all.el, n > 1);
        const live = new Set();
        for (const w of entry.waiting || []) {
            live.add(w.peer);
            const item = this.waiting.get(w.peer);
            if (item) item.update(w);
            else {
                const added = new WaitingItem(this, w, this.ctx);
                this.waiting.set(w.peer, added);
                this.list.append(added.el);
            }
        }
        for (const [peer, item] of this.waiting) {
            if (live.has(peer)) continue;
            if (item.error.textContent) { // what happened to them stays in view
                setText(this.notice, item.error.textContent);
                this.clearNoticeLater();
            }
            item.el.remove();
            this.waiting.delete(peer);
        }
        show(this.list, n > 0);
    }

    clearNoticeLater() {
        clearTimeout(this.noticeTimer);
        this.noticeTimer = setTimeout(() => setText(this.notice, ''), 15000);
    }

    /* "1 of 2 in the call · Renal · with you · until 11:30 · relay only", as a Msg. */
    factsText(e) {
        const me = this.ctx.me();
        const mine = (p) => Boolean(p && me && p.id === me.id);
        const parts = () => {
            const out = [e.state === 'in-call' && e.clinician && e.clinician.id
                ? (mine(e.clinician) ? t('list.facts.inCallYou') : t('list.facts.inCallWith', {name: e.clinician.name}))
                : t('list.facts.people', {count: e.participants, capacity: e.capacity})];
            if (e.team) out.push(e.team);
            if (e.assignee && e.assignee.id) out.push(mine(e.assignee) ? t('list.facts.withYou') : t('list.facts.with', {name: e.assignee.name}));
            out.push(t('list.facts.until', {time: timeText(e.expires_at)}));
            if (e.relay_only) out.push(t('list.facts.relayOnly'));
            return out.join(' · ');
        };
        return msg('tiles.name', {name: parts});
    }

    tick() {
        for (const item of this.waiting.values()) item.tick();
    }

    setCanned(list) {
        this.all.setCanned(list);
        for (const item of this.waiting.values()) item.composer.setCanned(list);
    }
}

/* Waiting rooms first (longest wait first), then calls, then the rest, newest first. */
function compare(a, b) {
    const oa = ORDER[a.state] ?? 3;
    const ob = ORDER[b.state] ?? 3;
    if (oa !== ob) return oa - ob;
    if (a.state === 'waiting') {
        const sa = parseTime(a.waiting && a.waiting[0] && a.waiting[0].since);
        const sb = parseTime(b.waiting && b.waiting[0] && b.waiting[0].since);
        if (sa !== sb && !Number.isNaN(sa) && !Number.isNaN(sb)) return sa - sb;
    }
    return String(b.created_at).localeCompare(String(a.created_at));
}

/*
 * actions: {admit, deny, message, handover, label, members, open, end}; every one that talks to
 * the server resolves null or {code, message}. me() and current() (the room open in the call
 * view) are read when rendering.
 */
export class WaitList {
    constructor(listEl, emptyEl, {actions, me, current}) {
        this.listEl = listEl;
        this.emptyEl = emptyEl;
        this.items = new Map();
        this.cannedList = [];
        this.ctx = {actions, me, current, canned: () => this.cannedList};
        this.stopTick = everySecond(() => {
            for (const item of this.items.values()) item.tick();
        });
    }

    setCanned(list) {
        this.cannedList = Array.isArray(list) ? list : [];
        for (const item of this.items.values()) item.setCanned(this.cannedList);
    }

    /* The whole list from `rooms`: what is not in it is gone. */
    replace(entries) {
        const live = new Set(entries.map((e) => e.id));
        for (const id of [...this.items.keys()]) if (!live.has(id)) this.remove(id, true);
        for (const e of entries) this.upsert(e, true);
        this.arrange();
    }

    upsert(entry, batch = false) {
        const item = this.items.get(entry.id);
        if (item) item.update(entry);
        else this.items.set(entry.id, new RoomItem(entry, this.ctx));
        if (!batch) this.arrange();
    }

    remove(id, batch = false) {
        const item = this.items.get(id);
        if (!item) return;
        item.el.remove();
        this.items.delete(id);
        if (!batch) this.arrange();
    }

    get(id) {
        return this.items.get(id);
    }

    /* Puts the items in order, moving only those out of place, and keeps keyboard focus. */
    arrange() {
        const focused = document.activeElement;
        const sorted = [...this.items.values()].sort((a, b) => compare(a.entry, b.entry));
        sorted.forEach((item, i) => {
            if (this.listEl.children[i] !== item.el) this.listEl.insertBefore(item.el, this.listEl.children[i] || null);
        });
        if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({preventScroll: true});
        show(this.emptyEl, this.items.size === 0);
    }

    /* Re-renders what depends on the call view's room (its Open button). */
    refresh() {
        for (const item of this.items.values()) item.update(item.entry);
    }

    /* Brings a room into view and moves focus to it (a notification was clicked). */
    focusRoom(id) {
        const item = this.items.get(id);
        if (!item) return;
        item.el.scrollIntoView({block: 'center'});
        item.label.heading.focus({preventScroll: true});
        item.el.classList.add('flash');
        setTimeout(() => item.el.classList.remove('flash'), 2000);
    }

    showError(room, peer, err) {
        const item = this.items.get(room);
        const w = item && item.waiting.get(peer);
        if (w) w.showError(err);
    }

    destroy() {
        this.stopTick();
        for (const id of [...this.items.keys()]) this.remove(id, true);
    }
}
