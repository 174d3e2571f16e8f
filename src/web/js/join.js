// The join page controller (/join#TOKEN): the language and the organisation's branding, the
// camera preview, then the call as patient or clinician.
import {LocalMedia} from './media.js';
import {CallView} from './callview.js';
import {Call} from './call.js';
import {resumeStore} from './resume.js';
import {loadBranding, buildHeader, buildFooter, supportLine} from './brand.js';
import {msg, setLanguage, pickLanguage, chosenLanguage, matchLanguage, currentLanguage} from './i18n.js';

const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;
const TOKEN_KEY = 'vc.join.token';
const LINK_WAIT_MS = 4000;

// The token comes in the URL fragment, which browsers never send to a server. It is kept for
// this tab only (sessionStorage), so a reload still joins, and taken out of the address bar and
// the history entry at once, so neither a shared computer's history nor a glance at the screen
// keeps it. A link opened later brings its own fragment, which wins.
function readToken() {
    let t = null;
    try {
        t = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
    } catch {
        t = null;
    }
    if (location.hash) {
        history.replaceState(history.state, '', location.pathname + location.search);
    } else {
        try {
            t = sessionStorage.getItem(TOKEN_KEY);
        } catch {
            t = null;
        }
    }
    if (!t || !TOKEN_RE.test(t)) return null;
    try {
        sessionStorage.setItem(TOKEN_KEY, t);
    } catch {
        // Storage refused (a private mode): the call still works, a reload will not.
    }
    return t;
}

/* What the link opens, before joining (POST /api/v1/link, the token in the body): {language}
 * of a live room, {gone: true} for an unknown or expired link, or null when the server could not
 * say (the join will tell). */
async function lookUpLink(token) {
    const ask = fetch('/api/v1/link', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
        body: JSON.stringify({token}),
        credentials: 'same-origin',
        cache: 'no-store',
    }).then(async (res) => {
        if (res.status === 404) return {gone: true};
        return res.ok ? res.json() : null;
    }).catch(() => null);
    const late = new Promise((resolve) => setTimeout(() => resolve(null), LINK_WAIT_MS));
    return Promise.race([ask, late]);
}

/* The browser can make the call: WebRTC and the camera API (some embedded browsers and WebKit
 * builds have neither). */
function canCall() {
    return typeof window.RTCPeerConnection === 'function' && Boolean(navigator.mediaDevices) &&
        typeof navigator.mediaDevices.getUserMedia === 'function';
}

const token = readToken();
// A patient who was waiting when this page last closed (within the resume grace) goes straight
// back to the same place in the queue.
const kept = token ? resumeStore(token) : null;
const media = new LocalMedia();
let call = null;
let view = null;

/* The room's language once the server names it (waiting, joined): followed unless the patient
 * picked one on this device. */
function followRoom(language) {
    const lang = matchLanguage(language);
    if (lang && !chosenLanguage() && lang !== currentLanguage()) setLanguage(lang);
}

function join(name) {
    call = new Call({token, media, store: kept, name});
    view.attach(call);
    call.on('role', (role) => {
        if (role === 'host') view.setTitle(msg('call.titleHost'));
    });
    call.on('waiting', (m) => followRoom(m.language));
    call.on('joined', (m) => followRoom(m.language));
    call.on('phase', (phase) => {
        if (phase === 'ended') media.stop();
    });
    call.join();
}

async function start() {
    const [, link] = await Promise.all([loadBranding(), token ? lookUpLink(token) : null]);
    await setLanguage(pickLanguage({room: link && link.language}));
    buildHeader(document.getElementById('brandbar'));
    buildFooter(document.getElementById('page-foot'));
    view = new CallView(document.getElementById('app'), {
        media,
        askName: true,
        support: supportLine,
        onJoin: join,
        endAction: {label: msg('ended.joinAgain'), reasons: ['hangup', 'left-waiting', 'error'], run: () => location.reload()},
    });
    if (!token || (link && link.gone)) {
        view.setPhase('ended', 'invalid');
        return;
    }
    if (!canCall()) {
        view.setPhase('ended', 'unsupported');
        return;
    }
    const back = Boolean(kept.load());
    media.start().then(() => back && !call && view.join());
}

start();

// Closing the tab in a call is leaving: tell the others at once instead of after the resume
// grace period. A waiting patient keeps their place for the grace, to come back to it.
window.addEventListener('pagehide', (ev) => {
    if (!ev.persisted && call && call.phase !== 'ended' && call.phase !== 'waiting') call.hangup();
});
