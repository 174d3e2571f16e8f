// The join page controller (/join#TOKEN): camera preview, then the call as patient or clinician.
import {LocalMedia} from './media.js';
import {CallView} from './callview.js';
import {Call} from './call.js';

const TOKEN_RE = /^[A-Za-z0-9_-]{16,256}$/;

function readToken() {
    const t = decodeURIComponent(location.hash.replace(/^#/, '')).trim();
    return TOKEN_RE.test(t) ? t : null;
}

const token = readToken();
const media = new LocalMedia();
let call = null;

const view = new CallView(document.getElementById('app'), {
    media,
    onJoin: () => {
        call = new Call({token, media});
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
    media.start();
}

// Closing the tab is leaving: tell the others at once instead of after the resume grace period.
window.addEventListener('pagehide', (ev) => {
    if (!ev.persisted && call && call.phase !== 'ended') call.hangup();
});
