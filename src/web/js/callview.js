// The in-call view both pages share: preview, waiting room, call stage, controls and end screen.
import {h, show, fill, announce} from './ui.js';
import {icon} from './icons.js';
import {describeMediaError} from './media.js';
import {startLevelMeter} from './precheck.js';
import {Lobby} from './lobby.js';
import {WaitPanel} from './waitpanel.js';

const ENDED = {
    'hangup': ['You left the consultation.', 'You can close this page now.'],
    'hangup-host': ['You left the call.', 'The consultation stays open for the patient until it expires or you end it.'],
    'left-waiting': ['You left the waiting room.', 'You can close this page now.'],
    'ended-by-you': ['You ended the consultation for everyone.', ''],
    'room-ended': ['The clinician ended the consultation.', 'Thank you. You can close this page now.'],
    'room-ended-host': ['The consultation was ended.', ''],
    'expired': ['The consultation time is over.', 'You can close this page now.'],
    'denied': ['You were not admitted to this consultation.', 'The clinician declined the request to join. If you think this is a mistake, please contact the practice.'],
    'invalid': ['This link is invalid or has expired.', 'Please ask the practice to send you a new link.'],
    'full': ['This consultation is already full.', 'Please contact the practice.'],
    'forbidden': ['This consultation is not available.', 'It has ended, or it is not in your team\'s waiting area.'],
    'error': ['The consultation could not continue.', 'Please try again.'],
};

/*
 * The view owns its DOM under root. attach(call) binds a Call; the page controller decides when
 * to join (onJoin) and what the end screen's button does (endAction: {label, run}).
 */
export class CallView {
    constructor(root, {media, onJoin, endAction, isHost = false}) {
        this.root = root;
        this.media = media;
        this.onJoin = onJoin;
        this.endAction = endAction;
        this.isHost = isHost;
        this.call = null;
        this.tiles = new Map();
        this.stopMeter = () => {};
        this.build();
        media.on('stream', (s) => this.showStream(s));
        media.on('change', (st) => this.showToggles(st));
        this.setPhase('preview');
    }

    build() {
        const b = {};
        b.banner = h('p', {class: 'banner', role: 'status', hidden: true});
        b.path = h('span', {class: 'path-text', testid: 'connection-path', text: 'connecting'});
        b.conn = h('p', {class: 'conn', 'data-path': 'connecting'}, h('span', {class: 'conn-dot', 'aria-hidden': 'true'}), h('span', {class: 'conn-label', text: 'Connection: '}), b.path);
        b.netcheck = h('p', {class: 'netcheck muted', hidden: true});
        b.title = h('h1', {class: 'call-title', text: 'Video consultation'});
        b.topbar = h('header', {class: 'topbar'}, b.title, h('div', {class: 'topbar-status'}, b.conn, b.netcheck));

        b.selfVideo = h('video', {class: 'self-video', autoplay: true, playsInline: true, muted: true, 'aria-label': 'Your camera'});
        b.selfVideo.muted = true;
        b.selfOff = h('p', {class: 'self-off', hidden: true, text: 'Camera is off'});
        b.selfBox = h('div', {class: 'selfbox'}, b.selfVideo, b.selfOff);
        b.stageEmpty = h('p', {class: 'stage-empty', text: ''});
        b.remotes = h('div', {class: 'remotes', 'data-count': '0'}, b.stageEmpty);
        b.stage = h('div', {class: 'stage'}, b.remotes, b.selfBox);

        b.mute = h('button', {type: 'button', class: 'ctl', testid: 'mute-button', 'aria-pressed': 'false', on: {click: () => this.media.setMuted(!this.media.muted)}});
        b.camera = h('button', {type: 'button', class: 'ctl', testid: 'camera-button', 'aria-pressed': 'false', on: {click: () => this.media.setCameraOff(!this.media.cameraOff)}});
        b.hangup = h('button', {type: 'button', class: 'ctl ctl-hangup', testid: 'hangup-button', on: {click: () => this.call && this.call.hangup()}}, icon('hangup'), h('span', {text: 'Leave'}));
        b.controls = h('div', {class: 'controls', role: 'group', 'aria-label': 'Call controls'}, b.mute, b.camera, b.hangup);

        // Preview panel: the pre-call check and the join button.
        b.camCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), 'Camera: starting');
        b.meterBar = h('span', {class: 'meter-bar'});
        b.micText = h('span', {text: 'Microphone: starting'});
        b.micCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), b.micText, h('span', {class: 'meter', 'aria-hidden': 'true'}, b.meterBar));
        b.netCheckItem = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: 'i'}), 'Connection: checked when you join');
        b.help = h('div', {class: 'media-help', role: 'alert', hidden: true});
        b.join = h('button', {type: 'button', class: 'btn btn-primary btn-big', testid: 'join-button', text: 'Join the consultation', on: {click: () => this.join()}});
        b.previewHeading = h('h2', {text: 'Check your camera and microphone'});
        b.previewText = h('p', {class: 'lead', text: 'Make sure you can see yourself. When you are ready, press Join.'});
        b.preview = h('div', {class: 'panel panel-preview'},
            b.previewHeading, b.previewText,
            h('ul', {class: 'checks', 'aria-label': 'Pre-call check'}, b.camCheck, b.micCheck, b.netCheckItem),
            b.help, b.join);

        this.wait = new WaitPanel();
        b.waiting = this.wait.el;
        b.connecting = h('div', {class: 'panel panel-connecting'}, h('div', {class: 'pulse', 'aria-hidden': 'true'}), h('h2', {text: 'Connecting…'}));

        // Host panel: the lobby and "end for everyone".
        b.knocks = h('ul', {class: 'knocks', 'aria-label': 'Patients waiting'});
        b.knocksEmpty = h('p', {class: 'muted', text: 'Nobody is waiting.'});
        b.end = h('button', {type: 'button', class: 'btn btn-danger', testid: 'end-button', text: 'End consultation for everyone', on: {click: () => this.call && this.call.endForEveryone()}});
        b.hostExtra = h('div', {class: 'host-extra'});
        b.host = h('aside', {class: 'panel host-panel', hidden: true, 'aria-label': 'Waiting room'},
            h('h2', {class: 'host-heading', text: 'Waiting room'}), b.knocksEmpty, b.knocks, b.hostExtra, b.end);

        b.endTitle = h('h2', {tabindex: '-1'});
        b.endText = h('p', {class: 'lead'});
        b.endActions = h('div', {class: 'end-actions'});
        b.ended = h('div', {class: 'panel panel-ended', testid: 'call-ended', hidden: true}, b.endTitle, b.endText, b.endActions);

        this.b = b;
        this.lobby = new Lobby(b.knocks, {
            // The server tells the other hosts, not the one who answered: drop the card here.
            onAdmit: (peer) => {
                if (this.call) this.call.admit(peer);
                this.lobby.remove(peer);
                announce('Letting the patient in…');
            },
            onDeny: (peer) => {
                if (this.call) this.call.deny(peer);
                this.lobby.remove(peer);
                announce('Request declined.');
            },
            onChange: (n) => {
                show(b.knocksEmpty, n === 0);
                this.root.dataset.knocks = String(n);
            },
        });
        this.root.dataset.knocks = '0'; // a host who joins after the admit never sees a knock here
        this.root.classList.add('callview');
        fill(this.root, b.banner, b.topbar, b.stage, b.controls, b.preview, b.connecting, b.waiting, b.host, b.ended);
        this.showToggles({muted: false, cameraOff: false});
    }

    setPhase(phase, reason) {
        this.phase = phase;
        this.root.dataset.phase = phase;
        const b = this.b;
        show(b.preview, phase === 'preview');
        show(b.connecting, phase === 'connecting');
        show(b.waiting, phase === 'waiting');
        if (phase !== 'waiting') this.wait.stop();
        show(b.ended, phase === 'ended');
        show(b.stage, phase !== 'ended');
        show(b.controls, phase !== 'ended');
        show(b.conn, phase === 'call');
        show(b.host, phase === 'call' && this.call && this.call.role === 'host');
        b.hangup.lastChild.textContent = phase === 'call' ? 'Hang up' : 'Leave';
        show(b.hangup, phase !== 'preview');
        if (phase === 'ended') this.showEnded(reason);
    }

    setTitle(title, heading, text, joinLabel) {
        this.b.title.textContent = title;
        if (heading) this.b.previewHeading.textContent = heading;
        if (text) this.b.previewText.textContent = text;
        if (joinLabel) this.b.join.textContent = joinLabel;
    }

    /* The camera preview: video, pre-check items, and advice when the devices failed. */
    showStream(stream) {
        const b = this.b;
        this.mediaReady = true;
        b.selfVideo.srcObject = stream;
        if (stream) b.selfVideo.play().catch(() => {});
        const hasVideo = Boolean(stream && stream.getVideoTracks().length);
        const hasAudio = Boolean(stream && stream.getAudioTracks().length);
        this.setCheck(b.camCheck, hasVideo, hasVideo ? 'Camera: working' : 'Camera: not available');
        this.setCheck(b.micCheck, hasAudio, null);
        b.micText.textContent = hasAudio ? 'Microphone: working (speak to see the bar move)' : 'Microphone: not available';
        this.stopMeter();
        this.stopMeter = startLevelMeter(stream, (level) => {
            b.meterBar.style.transform = `scaleX(${level.toFixed(2)})`;
        });
        const err = this.media.error;
        if (err && (!hasVideo || !hasAudio)) {
            const advice = describeMediaError(err);
            fill(b.help,
                h('h3', {text: advice.title}),
                h('ol', {}, advice.steps.map((s) => h('li', {text: s}))),
                h('button', {type: 'button', class: 'btn btn-secondary', text: 'Try again', on: {click: () => this.media.start()}}));
            show(b.help, true);
            announce(advice.title);
        } else {
            fill(b.help);
            show(b.help, false);
        }
        if (this.call) this.call.setLocalStream(stream);
        this.showToggles({muted: this.media.muted, cameraOff: this.media.cameraOff});
    }

    setCheck(li, ok, text) {
        li.className = ok ? 'ok' : 'bad';
        li.querySelector('.mark').textContent = ok ? '✓' : '✗';
        if (text) li.lastChild.textContent = text;
    }

    showToggles({muted, cameraOff}) {
        const b = this.b;
        const hasAudio = this.media.hasAudio;
        const hasVideo = this.media.hasVideo;
        fill(b.mute, icon(muted ? 'micOff' : 'mic'), h('span', {text: muted ? 'Unmute' : 'Mute'}));
        b.mute.setAttribute('aria-pressed', String(muted));
        b.mute.setAttribute('aria-label', muted ? 'Unmute microphone' : 'Mute microphone');
        b.mute.disabled = !hasAudio;
        fill(b.camera, icon(cameraOff ? 'camOff' : 'cam'), h('span', {text: cameraOff ? 'Start video' : 'Stop video'}));
        b.camera.setAttribute('aria-pressed', String(cameraOff));
        b.camera.setAttribute('aria-label', cameraOff ? 'Turn camera on' : 'Turn camera off');
        b.camera.disabled = !hasVideo;
        show(b.selfOff, cameraOff || !hasVideo);
        b.selfOff.textContent = hasVideo ? 'Camera is off' : this.mediaReady ? 'No camera' : 'Starting camera…';
        this.root.dataset.muted = String(muted);
    }

    join() {
        this.b.join.disabled = true;
        this.onJoin();
    }

    /* Binds a Call (its phases, peers, path, lobby) to this view. */
    attach(call) {
        this.call = call;
        this.b.join.disabled = false;
        call.on('phase', (phase, reason) => {
            const hadFocus = this.root.contains(document.activeElement) || document.activeElement === document.body;
            this.setPhase(phase, reason);
            if (phase === 'waiting') announce('Waiting for the clinician to let you in.');
            if (phase === 'call') announce(call.links.size ? 'Connected.' : this.emptyText());
            // The join button just disappeared: keep keyboard focus somewhere useful.
            if (hadFocus && (phase === 'call' || phase === 'waiting') && !this.b.mute.disabled) this.b.mute.focus();
            else if (hadFocus && (phase === 'call' || phase === 'waiting')) this.b.hangup.focus();
        });
        call.on('role', (role) => {
            this.isHost = role === 'host';
            this.root.dataset.role = role;
            show(this.b.host, this.phase === 'call' && this.isHost);
            this.updateEmpty();
        });
        call.on('peer-added', (link) => this.addTile(link));
        call.on('peer-removed', (id) => this.removeTile(id));
        call.on('peer-away', (id) => this.setAway(id, true));
        call.on('peer-back', (id) => this.setAway(id, false));
        call.on('path', (path) => this.showPath(path));
        call.on('signal-status', (s) => this.showSignalStatus(s));
        call.on('knock', (k) => this.lobby.add(k));
        call.on('knock-cancelled', (peer) => this.lobby.remove(peer));
        call.on('waiting', (m) => this.wait.setSince(m.since));
        call.on('queue', (m) => this.wait.setQueue(m));
        call.on('lobby-message', (text) => this.wait.addMessage(text));
        call.on('turn', (r) => this.showTurn(r));
        call.on('error', (m) => {
            if (m.code === 'room_full') announce('The consultation is full.');
        });
    }

    emptyText() {
        return this.isHost ? 'Waiting for the patient to join.' : 'Connecting to the clinician…';
    }

    updateEmpty() {
        this.b.stageEmpty.textContent = this.emptyText();
        show(this.b.stageEmpty, this.tiles.size === 0);
        this.b.remotes.dataset.count = String(this.tiles.size);
    }

    addTile(link) {
        this.removeTile(link.id);
        this.lobby.remove(link.id);
        const video = h('video', {class: 'remote-video', testid: 'remote-video', autoplay: true, playsInline: true,
            'aria-label': link.role === 'host' ? 'The clinician' : 'The patient'});
        const away = h('p', {class: 'tile-away', hidden: true, text: 'Reconnecting…'});
        const sound = h('button', {type: 'button', class: 'btn btn-secondary tile-sound', hidden: true, text: 'Tap to turn on sound'});
        sound.addEventListener('click', () => {
            video.muted = false;
            video.play().catch(() => {});
            show(sound, false);
        });
        const label = h('p', {class: 'tile-label', text: link.role === 'host' ? 'Clinician' : 'Patient'});
        const tile = h('div', {class: 'tile'}, video, label, away, sound);
        video.srcObject = link.remoteStream;
        const play = () => video.play().catch((err) => {
            if (err.name !== 'NotAllowedError') return;
            // Autoplay with sound was refused: play muted and offer a button for the sound.
            video.muted = true;
            video.play().catch(() => {});
            show(sound, true);
        });
        // A new remote track (not a renegotiated one): bind the stream again so the element
        // switches to it instead of freezing on the old track's last frame.
        link.on('track', () => {
            video.srcObject = null;
            video.srcObject = link.remoteStream;
            play();
        });
        video.addEventListener('loadedmetadata', () => video.paused && play());
        play();
        this.tiles.set(link.id, {tile, away});
        this.b.remotes.append(tile);
        this.updateEmpty();
        announce(link.role === 'host' ? 'The clinician has joined.' : 'The patient has joined.');
    }

    removeTile(id) {
        const t = this.tiles.get(id);
        if (!t) return;
        t.tile.remove();
        this.tiles.delete(id);
        this.updateEmpty();
        if (this.phase === 'call') announce(this.isHost ? 'The patient has left.' : 'The other person has left.');
    }

    setAway(id, away) {
        const t = this.tiles.get(id);
        if (t) show(t.away, away);
        if (away) announce('The other person is reconnecting…');
    }

    showPath(path) {
        this.b.path.textContent = path;
        this.b.conn.dataset.path = path;
        this.b.conn.title = path === 'direct' ? 'Media goes directly between you' : path === 'relayed' ? 'Media goes through the secure relay' : 'Setting up the connection';
        if (path !== 'connecting') announce('Connected.');
    }

    showSignalStatus(s) {
        const b = this.b;
        if (s === 'reconnecting' && this.phase !== 'ended' && this.phase !== 'preview') {
            b.banner.textContent = 'Reconnecting…';
            show(b.banner, true);
            announce('Reconnecting…');
        } else if (s === 'open') {
            if (!b.banner.hidden) announce('Connection restored.');
            show(b.banner, false);
        } else if (s === 'closed') {
            show(b.banner, false);
        }
    }

    showTurn(r) {
        const parts = ['udp', 'tcp', 'tls'].filter((k) => r.tested.includes(k)).map((k) => `${k.toUpperCase()} ${r[`turn_${k}`] ? '✓' : '✗'}`);
        if (parts.length === 0) return;
        this.b.netcheck.textContent = `Relay: ${parts.join(' · ')}`;
        this.b.netcheck.setAttribute('aria-label', `Relay check: ${['udp', 'tcp', 'tls'].filter((k) => r.tested.includes(k)).map((k) => `${k.toUpperCase()} ${r[`turn_${k}`] ? 'reachable' : 'not reachable'}`).join(', ')}`);
        show(this.b.netcheck, true);
    }

    showEnded(reason) {
        const b = this.b;
        let key = reason && ENDED[reason] ? reason : 'error';
        if ((key === 'room-ended' || key === 'hangup') && this.isHost) key = `${key}-host`;
        const [title, text] = ENDED[key];
        b.ended.dataset.reason = reason || 'error';
        b.endTitle.textContent = title;
        b.endText.textContent = text;
        show(b.endText, Boolean(text));
        fill(b.endActions);
        const act = this.endAction;
        if (act && (!act.reasons || act.reasons.includes(reason))) {
            b.endActions.append(h('button', {type: 'button', class: 'btn btn-primary', text: act.label, on: {click: () => act.run(reason)}}));
        }
        this.stopMeter();
        this.stopMeter = () => {};
        for (const id of [...this.tiles.keys()]) this.removeTile(id);
        this.lobby.clear();
        show(b.banner, false);
        announce(title);
        b.endTitle.focus();
    }

    /* Back to the preview for another consultation (dashboard). */
    reset() {
        this.call = null;
        this.lobby.clear();
        for (const id of [...this.tiles.keys()]) this.removeTile(id);
        this.showPath('connecting');
        show(this.b.netcheck, false);
        this.b.join.disabled = false;
        this.setPhase('preview');
    }

    destroy() {
        this.stopMeter();
        this.wait.stop();
        this.root.replaceChildren();
    }
}
