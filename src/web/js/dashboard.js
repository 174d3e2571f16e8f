// The clinician dashboard controller: sign-in, and the wiring of new consultations (newroom.js),
// the live waiting area (feed.js, waitlist.js), knock alerts (alerts.js) and the call (dashcall.js).
import {Api} from './api.js';
import {show, announce, errorMsg, languagePicker} from './ui.js';
import {WatchFeed} from './feed.js';
import {KnockAlerts, roomTitle} from './alerts.js';
import {msg, t, setText, setLanguage, pickLanguage} from './i18n.js';
import {WaitList} from './waitlist.js';
import {DashCall} from './dashcall.js';
import {NewRoom} from './newroom.js';
import {ReportsPage} from './reports.js';

// The words first: everything below is built in the clinician's language.
await setLanguage(pickLanguage());

const api = new Api();
const el = (id) => document.getElementById(id);
const ui = {
    login: el('login-section'),
    loginForm: el('login-form'),
    loginError: el('login-error'),
    email: el('login-email'),
    password: el('login-password'),
    dash: el('dash-section'),
    who: el('who'),
    logout: el('logout-button'),
    rooms: el('rooms-list'),
    roomsEmpty: el('rooms-empty'),
    feedStatus: el('feed-status'),
    callRoot: el('call-root'),
};

let me = null; // {email, name, csrf, id, teams, canned_messages}
let feed = null;

const call = new DashCall(ui.callRoot);
const rooms = new NewRoom(
    {form: el('new-room-form'), button: el('new-room-button'), error: el('create-error'), label: el('new-room-label'),
        teamRow: el('team-row'), team: el('new-room-team'), relayOnly: el('relay-only-toggle'), card: el('current-room'),
        box: el('patient-link-box'), copy: el('copy-link-button'), hostLink: el('host-link'), expires: el('room-expires'),
        capacity: el('new-room-capacity'), language: el('new-room-language'), inviteSlot: el('invite-slot')},
    {create: (opts) => api.createRoom(opts), onCreated: (id) => selectRoom(id), onSignedOut: () => showLogin(), invites: api});
const reports = new ReportsPage({button: el('reports-button'), section: el('reports-section'), dash: ui.dash},
    {api, onSignedOut: () => showLogin()});
const alerts = new KnockAlerts(
    {badge: el('alert-badge'), sound: el('alert-toggle'), notify: el('notify-button'), notifyState: el('notify-state'),
        banner: el('knock-banner'), bannerText: el('knock-banner-text'), dismiss: el('knock-banner-dismiss')},
    {onOpen: (id) => list.focusRoom(id)});
const list = new WaitList(ui.rooms, ui.roomsEmpty, {
    me: () => me,
    current: () => call.showing,
    actions: {
        admit: (room, peer) => feed.admit(room, peer),
        deny: (room, peer) => feed.deny(room, peer),
        message: (room, peer, text) => feed.message(room, peer, text),
        handover: (room, to) => feed.handover(room, to),
        label: (room, text) => apiResult(() => api.setLabel(room, text)),
        members: async (team) => {
            const t = (await api.teams()).find((x) => x.name === team);
            return t ? t.members : [];
        },
        open: (room) => selectRoom(room),
        end: (room) => endRoom(room),
    },
});

/* Runs a REST call for the list: null when it worked, else {code, message}. */
async function apiResult(fn) {
    try {
        await fn();
        return null;
    } catch (err) {
        if (err.status === 401) showLogin();
        return {code: err.code, message: err.message};
    }
}

/* ---- sign-in ---- */

function showLogin() {
    if (feed) feed.close();
    feed = null;
    me = null;
    call.close();
    list.replace([]);
    alerts.reset();
    rooms.show(null);
    reports.enable(false);
    show(ui.login, true);
    show(ui.dash, false);
    show(ui.logout, false);
    ui.who.textContent = '';
    ui.email.focus();
}

async function showDashboard(who) {
    me = who && who.id ? who : await api.me().catch(() => null);
    if (!me) return showLogin();
    show(ui.login, false);
    show(ui.dash, true);
    show(ui.logout, true);
    reports.enable(true);
    ui.who.textContent = me.name || me.email;
    rooms.setTeams(me.teams);
    list.setCanned(me.canned_messages);
    startFeed();
    return undefined;
}

ui.loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setText(ui.loginError, '');
    const submit = ui.loginForm.querySelector('[type=submit]');
    submit.disabled = true;
    try {
        const who = await api.login(ui.email.value.trim(), ui.password.value);
        ui.password.value = '';
        announce(msg('login.signedIn'));
        await showDashboard(who);
    } catch (err) {
        setText(ui.loginError, err.status === 401 || err.status === 400 ? msg('login.wrong')
            : err.status === 429 ? msg('login.tooMany') : errorMsg(err));
    } finally {
        submit.disabled = false;
    }
});

ui.logout.addEventListener('click', async () => {
    call.close();
    try {
        await api.logout();
    } catch {
        /* signed out locally either way */
    }
    rooms.forgetAll();
    announce(msg('login.signedOut'));
    showLogin();
});

/* ---- the live list ---- */

const FEED_TEXT = {
    connecting: ['connecting', 'feed.connecting'],
    open: ['online', 'feed.live'],
    reconnecting: ['offline', 'feed.reconnecting'],
    closed: ['offline', 'feed.closed'],
};

function startFeed() {
    if (feed) feed.close();
    const f = new WatchFeed();
    feed = f;
    f.on('status', (s) => {
        const [state, text] = FEED_TEXT[s] || FEED_TEXT.closed;
        const was = ui.feedStatus.dataset.state;
        ui.feedStatus.dataset.state = state;
        setText(ui.feedStatus, msg(text));
        if (state === 'offline' && was === 'online') announce(msg('feed.offlineAnnounce'));
        if (state === 'online' && was === 'offline') announce(msg('feed.backAnnounce'));
    });
    f.on('rooms', (m) => {
        if (m.me) me = {...me, ...m.me};
        list.replace(m.rooms || []);
        alerts.sync(m.rooms || [], me);
        rooms.keepOnly(new Set((m.rooms || []).map((r) => r.id)));
    });
    f.on('room', (entry) => {
        list.upsert(entry);
        alerts.update(entry);
        if (entry.id === call.room) call.retitle(roomTitle(entry));
    });
    f.on('room-gone', (id) => {
        list.remove(id);
        alerts.gone(id);
        if (rooms.shown && rooms.shown.id === id) rooms.show(null);
    });
    f.on('admitted', ({room}) => takeCall(room));
    f.on('forbidden', () => showLogin());
    f.start();
}

call.on('change', () => {
    alerts.setInRoom(call.active ? call.room : null);
    list.refresh();
});
call.on('back', () => {
    rooms.show(null);
    el('new-room-button').focus();
});

/* A patient was let in from the list: take the call in the call card. */
function takeCall(room) {
    if (call.room === room && call.active) return; // already in that call: the patient joins it
    if (!call.leave(t('dash.switch'))) return;
    rooms.show(room);
    call.open(room, {title: titleOf(room), link: rooms.shown && rooms.shown.guest_url, join: true});
    announce(msg('dash.takingCall'));
}

/* Shows a consultation: its link when this tab made it, and its call preview. */
function selectRoom(id) {
    if (call.room !== id && !call.leave(t('dash.switch'))) return;
    rooms.show(id);
    call.open(id, {title: titleOf(id), link: rooms.shown && rooms.shown.guest_url});
}

function titleOf(id) {
    const item = list.get(id);
    return item ? roomTitle(item.entry) : msg('dash.consultation');
}

async function endRoom(id) {
    if (!confirm(t('dash.endConfirm'))) return;
    try {
        await api.endRoom(id);
        announce(msg('dash.ended'));
    } catch (err) {
        if (err.status === 401) showLogin();
    }
}

/* ---- start ---- */

el('language-slot').replaceWith(languagePicker());
(async () => {
    let who = null;
    try {
        who = await api.me();
    } catch {
        who = null;
    }
    if (who) showDashboard(who);
    else showLogin();
})();
