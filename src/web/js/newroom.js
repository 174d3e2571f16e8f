// New consultations on the dashboard: the form (label, team, people, language, relay only), the patient link
// card with invites for others, and the links this tab made (kept in sessionStorage, so a reload
// can still show them).
import {h, show, fill, announce, copyText, errorMsg} from './ui.js';
import {timeText} from './clock.js';
import {InviteBox} from './invite.js';
import {msg, setText, LANGUAGES} from './i18n.js';

const LINKS_KEY = 'vc.rooms';

function loadLinks() {
    try {
        return JSON.parse(sessionStorage.getItem(LINKS_KEY) || '{}');
    } catch {
        return {};
    }
}

function saveLinks(all) {
    try {
        sessionStorage.setItem(LINKS_KEY, JSON.stringify(all));
    } catch {
        /* the links stay on screen until the tab closes */
    }
}

/*
 * els: the form's and the link card's elements (ids in index.html). create(opts) makes the room
 * (the REST call); onCreated(id) shows it; onSignedOut() runs on a 401.
 */
export class NewRoom {
    constructor(els, {create, onCreated, onSignedOut, invites}) {
        this.els = els;
        this.create = create;
        this.onCreated = onCreated;
        this.onSignedOut = onSignedOut;
        this.invites = invites; // {createInvite(id, name), revokeInvite(id, invite)}: the REST calls
        this.shown = null; // the room whose link is on show: {id, host_url, guest_url, expires_at}
        els.form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.submit();
        });
        els.copy.addEventListener('click', () => this.copy());
        fill(els.language, h('option', {value: '', text: msg('newroom.language.browser')}),
            LANGUAGES.map((l) => h('option', {value: l.code, lang: l.code, dir: l.dir, text: l.name})));
    }

    /* The team choice, shown to a clinician of more than one team. */
    setTeams(teams) {
        const list = Array.isArray(teams) ? teams : [];
        fill(this.els.team, list.map((t) => h('option', {value: t, text: t})));
        show(this.els.teamRow, list.length > 1);
    }

    async submit() {
        const {button, error, label, relayOnly, teamRow, team, capacity, language} = this.els;
        setText(error, '');
        button.disabled = true;
        const opts = {relay_only: relayOnly.checked, capacity: Number(capacity.value) || 2};
        if (label.value.trim()) opts.label = label.value.trim();
        if (language.value) opts.language = language.value;
        if (!teamRow.hidden && team.value) opts.team = team.value;
        try {
            const room = await this.create(opts);
            const all = loadLinks();
            all[room.id] = {host_url: room.host_url, guest_url: room.guest_url, expires_at: room.expires_at};
            saveLinks(all);
            label.value = '';
            this.onCreated(room.id);
            announce(msg('newroom.created'));
        } catch (err) {
            if (err.status === 401) this.onSignedOut();
            else setText(error, errorMsg(err, {too_large: 'label.error.tooLong', quota_exceeded: 'newroom.error.quota', draining: 'common.unavailable', bad_request: 'newroom.error.options'}));
        } finally {
            button.disabled = false;
        }
    }

    /* The links of a room this tab made, or null. */
    link(id) {
        const l = loadLinks()[id];
        return l ? {id, ...l} : null;
    }

    /* Forgets the links of rooms that are gone (liveIds: the ids still live). */
    keepOnly(liveIds) {
        const all = loadLinks();
        for (const id of Object.keys(all)) if (!liveIds.has(id)) delete all[id];
        saveLinks(all);
        if (this.shown && !liveIds.has(this.shown.id)) this.show(null);
    }

    forgetAll() {
        try {
            sessionStorage.removeItem(LINKS_KEY);
        } catch {
            /* nothing kept */
        }
        this.show(null);
    }

    /* The patient link card for room id (when this tab made it), or hidden for null. */
    show(id) {
        const room = id ? this.link(id) : null;
        const {card, box, hostLink, expires} = this.els;
        this.shown = room;
        if (!room) {
            show(card, false);
            fill(box);
            fill(this.els.inviteSlot);
            return;
        }
        // A new element each time, so nothing can read a stale or empty link while this one loads.
        fill(box, h('a', {href: room.guest_url, testid: 'patient-link', target: '_blank', rel: 'noopener noreferrer', text: room.guest_url}));
        const invite = new InviteBox({
            make: (name) => this.invites.createInvite(room.id, name),
            revoke: (inv) => this.invites.revokeInvite(room.id, inv),
        });
        fill(this.els.inviteSlot, invite.el);
        hostLink.href = room.host_url;
        setText(expires, room.expires_at ? msg('newroom.expires', {time: () => timeText(room.expires_at)}) : '');
        show(card, true);
    }

    async copy() {
        const {copy} = this.els;
        if (!this.shown) return;
        const ok = await copyText(this.shown.guest_url);
        setText(copy, msg(ok ? 'common.copied' : 'newroom.copyFailed'));
        announce(msg(ok ? 'newroom.copiedAnnounce' : 'newroom.copyFailedAnnounce'));
        setTimeout(() => setText(copy, msg('common.copyLink')), 2500);
    }
}
