// The join page controller (/join#TOKEN): camera preview, then the call as patient or clinician.
import {LocalMedia} from './media.js';
import {CallView} from './callview.js';
import {Call} from './call.js';
import {resumeStore} from './resume.js';

const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;
const TOKEN_KEY = 'vc.join.token';

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

const token = readToken();
// A patient who was waiting when this page last closed (within the resume grace) goes straight
// back to the same place in the queue.
const kept = token ? resumeStore(token) : null;
const media = new LocalMedia();
let call = null;

const view = new CallView(document.getElementById('app'), {
    media,
    askName: true,
    onJoin: (name) => {
        call = new Call({token, media, store: kept, name});
        view.attach(call);
        call.on('role', (role) => {
            if (role === 'host') view.setTitle('Video consultation (clinician)');
        });
        call.on('phase', (phase) => {
            if (phase === 'ended') media.stop();
        });
        call.join();
    },
    endAction: {label: 'Join again', reasons: ['hangup', 'left-waiting', 'error'], run: () => location.reload()},
});

if (!token) {
    view.setPhase('ended', 'invalid');
} else {
    const back = Boolean(kept.load());
    media.start().then(() => back && !call && view.join());
}

// Closing the tab in a call is leaving: tell the others at once instead of after the resume
// grace period. A waiting patient keeps their place for the grace, to come back to it.
window.addEventListener('pagehide', (ev) => {
    if (!ev.persisted && call && call.phase !== 'ended' && call.phase !== 'waiting') call.hangup();
});
