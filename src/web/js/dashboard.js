// The clinician dashboard controller: sign-in, new consultations, patient links, live rooms, the call.
import {Api} from './api.js';
import {h, show, fill, announce, copyText} from './ui.js';
import {LocalMedia} from './media.js';
import {CallView} from './callview.js';
import {Call} from './call.js';

const REFRESH_MS = 4000;
const LINKS_KEY = 'vc.rooms'; // this tab's room links, so a reload can still open them

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
    newRoom: el('new-room-button'),
    relayOnly: el('relay-only-toggle'),
    createError: el('create-error'),
    current: el('current-room'),
    patientLinkBox: el('patient-link-box'),
    copy: el('copy-link-button'),
    expires: el('room-expires'),
    hostLink: el('host-link'),
    rooms: el('rooms-list'),
    roomsEmpty: el('rooms-empty'),
    callRoot: el('call-root'),
};

let refreshTimer = 0;
let current = null; // {id, host_url, guest_url, expires_at}
let call = null;
let view = null;
let media = null;

function savedLinks() {
    try {
        return JSON.parse(sessionStorage.getItem(LINKS_KEY) || '{}');
    } catch {
        return {};
    }
}

function saveLink(room) {
    const all = savedLinks();
    all[room.id] = {host_url: room.host_url, guest_url: room.guest_url, expires_at: room.expires_at};
    sessionStorage.setItem(LINKS_KEY, JSON.stringify(all));
}

function forgetLinks(liveIds) {
    const all = savedLinks();
    for (const id of Object.keys(all)) if (!liveIds.has(id)) delete all[id];
    sessionStorage.setItem(LINKS_KEY, JSON.stringify(all));
}

function tokenOf(url) {
    const i = url.indexOf('#');
    return i >= 0 ? url.slice(i + 1) : '';
}

function timeText(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}

/* ---- sign-in ---- */

function showLogin() {
    stopRefresh();
    show(ui.login, true);
    show(ui.dash, false);
    show(ui.logout, false);
    ui.who.textContent = '';
    ui.email.focus();
}

function showDashboard(me) {
    show(ui.login, false);
    show(ui.dash, true);
    show(ui.logout, true);
    ui.who.textContent = me.name || me.email;
    refreshRooms();
    stopRefresh();
    refreshTimer = setInterval(refreshRooms, REFRESH_MS);
}

ui.loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    ui.loginError.textContent = '';
    const submit = ui.loginForm.querySelector('[type=submit]');
    submit.disabled = true;
    try {
        const me = await api.login(ui.email.value.trim(), ui.password.value);
        ui.password.value = '';
        announce('Signed in.');
        showDashboard(me);
    } catch (err) {
        ui.loginError.textContent = err.status === 401 || err.status === 400
            ? 'The email or password is not correct.'
            : err.status === 429 ? 'Too many attempts. Please wait a minute and try again.' : err.message;
    } finally {
        submit.disabled = false;
    }
});

ui.logout.addEventListener('click', async () => {
    if (call && call.phase !== 'ended') call.hangup();
    closeCall();
    try {
        await api.logout();
    } catch {
        /* signed out locally either way */
    }
    sessionStorage.removeItem(LINKS_KEY);
    current = null;
    show(ui.current, false);
    fill(ui.patientLinkBox);
    announce('Signed out.');
    showLogin();
});

/* ---- rooms ---- */

ui.newRoom.addEventListener('click', async () => {
    ui.createError.textContent = '';
    ui.newRoom.disabled = true;
    try {
        const room = await api.createRoom({relay_only: ui.relayOnly.checked});
        saveLink(room);
        selectRoom(room);
        announce('Consultation created. Copy the patient link and send it to your patient.');
        refreshRooms();
    } catch (err) {
        if (err.status === 401) return showLogin();
        ui.createError.textContent = err.message || 'The consultation could not be created.';
    } finally {
        ui.newRoom.disabled = false;
    }
});

ui.copy.addEventListener('click', async () => {
    if (!current) return;
    const ok = await copyText(current.guest_url);
    ui.copy.textContent = ok ? 'Copied' : 'Copy failed: select the link';
    announce(ok ? 'Patient link copied.' : 'Could not copy. Select the link and copy it.');
    setTimeout(() => {
        ui.copy.textContent = 'Copy link';
    }, 2500);
});

/* Shows a room's links and the call preview for it. */
function selectRoom(room) {
    if (call && call.phase !== 'ended' && current && current.id !== room.id) {
        if (!confirm('Leave the current call and switch consultation?')) return;
        call.hangup();
    }
    current = {id: room.id, host_url: room.host_url, guest_url: room.guest_url, expires_at: room.expires_at};
    // A new element each time, so nothing can read a stale or empty link while this one loads.
    fill(ui.patientLinkBox, h('a', {href: room.guest_url, testid: 'patient-link', target: '_blank', rel: 'noopener noreferrer', text: room.guest_url}));
    ui.hostLink.href = room.host_url;
    ui.expires.textContent = room.expires_at ? `Link valid until ${timeText(room.expires_at)}.` : '';
    show(ui.current, true);
    openCall();
}

function openCall() {
    closeCall();
    media = new LocalMedia();
    view = new CallView(ui.callRoot, {
        media,
        isHost: true,
        onJoin: startCall,
        endAction: {label: 'Back to the dashboard', run: () => {
            closeCall();
            current = null;
            show(ui.current, false);
            fill(ui.patientLinkBox);
            refreshRooms();
            ui.newRoom.focus();
        }},
    });
    view.setTitle('Consultation', 'Ready to start?', 'Check your camera, then start the call. The patient waits until you let them in.', 'Start the call');
    show(ui.callRoot, true);
    media.start();
}

function startCall() {
    call = new Call({token: tokenOf(current.host_url), media});
    view.attach(call);
    const copy = h('button', {type: 'button', class: 'btn btn-secondary', text: 'Copy patient link', on: {click: async () => {
        const ok = await copyText(current.guest_url);
        announce(ok ? 'Patient link copied.' : 'Could not copy the link.');
    }}});
    fill(view.b.hostExtra, copy);
    call.on('phase', (phase) => {
        document.body.classList.toggle('in-call', phase === 'connecting' || phase === 'waiting' || phase === 'call');
        if (phase === 'ended') {
            media.stop();
            refreshRooms();
        }
    });
    call.join();
}

function closeCall() {
    document.body.classList.remove('in-call');
    if (view) view.destroy();
    if (media) media.stop();
    view = null;
    media = null;
    call = null;
    show(ui.callRoot, false);
}

function stopRefresh() {
    clearInterval(refreshTimer);
    refreshTimer = 0;
}

async function refreshRooms() {
    let rooms;
    try {
        rooms = await api.listRooms();
    } catch (err) {
        if (err.status === 401) showLogin();
        return;
    }
    const links = savedLinks();
    forgetLinks(new Set(rooms.map((r) => r.id)));
    if (current && !rooms.some((r) => r.id === current.id) && !(call && call.phase !== 'ended')) {
        // The room is gone: drop its link, and its preview (an end screen stays until dismissed).
        current = null;
        show(ui.current, false);
        fill(ui.patientLinkBox);
        if (!call) closeCall();
    }
    rooms.sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    fill(ui.rooms, rooms.map((r) => roomItem(r, links[r.id])));
    show(ui.roomsEmpty, rooms.length === 0);
}

function roomItem(r, link) {
    const facts = [
        `${r.participants} in the call`,
        r.waiting ? `${r.waiting} waiting` : null,
        `ends ${timeText(r.expires_at)}`,
        r.relay_only ? 'relay only' : null,
    ].filter(Boolean).join(' · ');
    const actions = h('div', {class: 'room-actions'});
    if (link) {
        actions.append(h('button', {type: 'button', class: 'btn btn-secondary btn-small', text: current && current.id === r.id ? 'Selected' : 'Open',
            disabled: Boolean(current && current.id === r.id),
            on: {click: () => selectRoom({id: r.id, ...link})}}));
    }
    actions.append(h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: 'End', 'aria-label': `End consultation ${r.id}`,
        on: {click: () => endRoom(r.id)}}));
    return h('li', {class: `room${r.waiting ? ' room-waiting' : ''}`},
        h('div', {class: 'room-info'},
            h('p', {class: 'room-name'}, `Consultation ${r.id.slice(0, 8)}`, r.waiting ? h('span', {class: 'badge', text: 'patient waiting'}) : null),
            h('p', {class: 'muted', text: facts})),
        actions);
}

async function endRoom(id) {
    if (!confirm('End this consultation for everyone?')) return;
    try {
        await api.endRoom(id);
        announce('Consultation ended.');
    } catch (err) {
        if (err.status === 401) return showLogin();
    }
    refreshRooms();
}

/* ---- start ---- */

(async () => {
    let me = null;
    try {
        me = await api.me();
    } catch {
        me = null;
    }
    if (me) showDashboard(me);
    else showLogin();
})();
