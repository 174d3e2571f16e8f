// The in-call view both pages share: preview, waiting room, the call's grid, controls, chat and
// security panels, and the end screen.
import {h, show, fill, announce, uid} from './ui.js';
import {icon} from './icons.js';
import {describeMediaError, describeCameraOnly} from './media.js';
import {startLevelMeter} from './precheck.js';
import {Lobby} from './lobby.js';
import {WaitPanel} from './waitpanel.js';
import {TileGrid} from './tiles.js';
import {ChatPanel} from './chatview.js';
import {SecurityPanel} from './securityview.js';
import {ScreenShare, canShareScreen} from './screen.js';
import {InviteBox} from './invite.js';
import {displayName} from './mesh.js';

const ENDED = {
    'hangup': ['You left the consultation.', 'You can close this page now.'],
    'hangup-host': ['You left the call.', 'The consultation stays open for the patient until it expires or you end it.'],
    'left-waiting': ['You left the waiting room.', 'You can close this page now.'],
    'ended-by-you': ['You ended the consultation for everyone.', ''],
    'room-ended': ['The clinician ended the consultation.', 'Thank you. You can close this page now.'],
    'room-ended-host': ['The consultation was ended.', ''],
    'expired': ['The consultation time is over.', 'You can close this page now.'],
    'denied': ['You were not admitted to this consultation.', 'The clinician declined the request to join. If you think this is a mistake, please contact the practice.'],
    'removed': ['You were removed from the consultation.', 'The clinician took you out of the call. If you think this is a mistake, please contact the practice.'],
    'invalid': ['This link is invalid or has expired.', 'Please ask the practice to send you a new link.'],
    'full': ['This consultation is already full.', 'Please contact the practice.'],
    'forbidden': ['This consultation is not available.', 'It has ended, or it is not in your team\'s waiting area.'],
    'error': ['The consultation could not continue.', 'Please try again.'],
};

/*
 * The view owns its DOM under root. attach(call) binds a Call; the page controller decides when
 * to join (onJoin) and what the end screen's button does (endAction: {label, run}). askName puts
 * a name field on the preview (the join page; the dashboard's clinician has one already).
 */
export class CallView {
    constructor(root, {media, onJoin, endAction, isHost = false, askName = false}) {
        this.root = root;
        this.media = media;
        this.onJoin = onJoin;
        this.endAction = endAction;
        this.isHost = isHost;
        this.askName = askName;
        this.call = null;
        this.panel = null; // 'chat' | 'security' | null
        this.stopMeter = () => {};
        this.screen = new ScreenShare();
        this.build();
        media.on('stream', (s) => this.showStream(s));
        media.on('change', (st) => this.showToggles(st));
        this.screen.on('change', (track) => this.showScreen(track));
        this.setPhase('preview');
    }

    build() {
        const b = {};
        b.banner = h('p', {class: 'banner', role: 'status', hidden: true});
        b.lowData = this.buildLowData();
        b.path = h('span', {class: 'path-text', testid: 'connection-path', text: 'connecting'});
        b.conn = h('button', {type: 'button', class: 'conn', testid: 'security-button', 'data-path': 'connecting', 'aria-haspopup': 'dialog', on: {click: () => this.togglePanel('security')}},
            h('span', {class: 'conn-dot', 'aria-hidden': 'true'}), h('span', {class: 'conn-label', text: 'Connection: '}), b.path, h('span', {class: 'conn-more', text: ' · Security'}));
        b.netcheck = h('p', {class: 'netcheck muted', hidden: true});
        b.title = h('h1', {class: 'call-title', text: 'Video consultation'});
        b.topbar = h('header', {class: 'topbar'}, b.title, h('div', {class: 'topbar-status'}, b.conn, b.netcheck));

        b.selfVideo = h('video', {class: 'self-video', autoplay: true, playsInline: true, muted: true, 'aria-label': 'Your camera'});
        b.selfVideo.muted = true;
        b.selfOff = h('p', {class: 'self-off', hidden: true, text: 'Camera is off'});
        b.selfBox = h('div', {class: 'selfbox'}, b.selfVideo, b.selfOff);
        b.stageEmpty = h('p', {class: 'stage-empty', text: ''});
        b.remotes = h('div', {class: 'remotes', 'data-count': '0'}, b.stageEmpty);
        b.stage = h('div', {class: 'stage', role: 'group'}, b.remotes, b.selfBox);
        b.people = h('p', {class: 'visually-hidden', testid: 'people-text'});
        this.tiles = new TileGrid({remotes: b.remotes, empty: b.stageEmpty, selfBox: b.selfBox, stage: b.stage, people: b.people},
            {onRemove: (id) => this.call && this.call.remove(id)});

        b.mute = h('button', {type: 'button', class: 'ctl', testid: 'mute-button', 'aria-pressed': 'false', on: {click: () => this.media.setMuted(!this.media.muted)}});
        b.camera = h('button', {type: 'button', class: 'ctl', testid: 'camera-button', 'aria-pressed': 'false', on: {click: () => this.media.setCameraOff(!this.media.cameraOff)}});
        b.chatBadge = h('span', {class: 'ctl-badge', testid: 'chat-unread', hidden: true});
        b.chat = h('button', {type: 'button', class: 'ctl', testid: 'chat-button', 'aria-pressed': 'false', on: {click: () => this.togglePanel('chat')}},
            icon('chat'), h('span', {text: 'Chat'}), b.chatBadge);
        b.share = h('button', {type: 'button', class: 'ctl', testid: 'share-button', 'aria-pressed': 'false', hidden: true,
            'aria-label': 'Share my screen', on: {click: () => (this.screen.active ? this.screen.stop() : this.screen.start())}}, icon('screen'), h('span', {text: 'Share'}));
        b.hangup = h('button', {type: 'button', class: 'ctl ctl-hangup', testid: 'hangup-button', on: {click: () => this.call && this.call.hangup()}}, icon('hangup'), h('span', {text: 'Leave'}));
        b.controls = h('div', {class: 'controls', role: 'group', 'aria-label': 'Call controls'}, b.mute, b.camera, b.chat, b.share, b.hangup);

        this.buildPreview(b);
        this.wait = new WaitPanel();
        b.waiting = this.wait.el;
        b.connecting = h('div', {class: 'panel panel-connecting'}, h('div', {class: 'pulse', 'aria-hidden': 'true'}), h('h2', {text: 'Connecting…'}));
        this.buildHost(b);

        b.endTitle = h('h2', {tabindex: '-1'});
        b.endText = h('p', {class: 'lead'});
        b.endActions = h('div', {class: 'end-actions'});
        b.ended = h('div', {class: 'panel panel-ended', testid: 'call-ended', hidden: true}, b.endTitle, b.endText, b.endActions);
        b.side = h('div', {class: 'side'});

        this.b = b;
        this.root.dataset.knocks = '0'; // a host who joins after the admit never sees a knock here
        this.root.classList.add('callview');
        fill(this.root, b.banner, b.topbar, b.people, b.stage, b.lowData, b.controls, b.preview, b.connecting, b.waiting, b.host, b.side, b.ended);
        this.showToggles({muted: false, cameraOff: false});
    }

    /* The preview panel: the pre-call check, a name for the others, and the join button. */
    buildPreview(b) {
        b.camCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), 'Camera: starting');
        b.meterBar = h('span', {class: 'meter-bar'});
        b.micText = h('span', {text: 'Microphone: starting'});
        b.micCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), b.micText, h('span', {class: 'meter', 'aria-hidden': 'true'}, b.meterBar));
        b.netCheckItem = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: 'i'}), 'Connection: checked when you join');
        b.help = h('div', {class: 'media-help', role: 'alert', hidden: true});
        b.note = h('div', {class: 'media-note', testid: 'audio-only-note', role: 'status', hidden: true});
        const nameId = uid('your-name');
        b.name = h('input', {type: 'text', id: nameId, testid: 'name-input', maxlength: '40', autocomplete: 'name', placeholder: 'e.g. Anna Smith'});
        b.nameRow = h('div', {class: 'name-row', hidden: !this.askName},
            h('label', {for: nameId}, 'Your name ', h('span', {class: 'label-note', text: '(optional, shown only to the others in this call)'})), b.name);
        b.join = h('button', {type: 'button', class: 'btn btn-primary btn-big', testid: 'join-button', text: 'Join the consultation', on: {click: () => this.join()}});
        b.previewHeading = h('h2', {text: 'Check your camera and microphone'});
        b.previewText = h('p', {class: 'lead', text: 'Make sure you can see yourself. When you are ready, press Join.'});
        b.preview = h('div', {class: 'panel panel-preview'},
            b.previewHeading, b.previewText,
            h('ul', {class: 'checks', 'aria-label': 'Pre-call check'}, b.camCheck, b.micCheck, b.netCheckItem),
            b.help, b.note, b.nameRow, b.join);
    }

    /* The host's panel: the lobby, inviting someone, and "end for everyone". */
    buildHost(b) {
        b.knocks = h('ul', {class: 'knocks', 'aria-label': 'People waiting'});
        b.knocksEmpty = h('p', {class: 'muted', text: 'Nobody is waiting.'});
        b.end = h('button', {type: 'button', class: 'btn btn-danger', testid: 'end-button', 'aria-label': 'End consultation for everyone', on: {click: () => this.call && this.call.endForEveryone()}},
            h('span', {class: 'wide-only', text: 'End consultation for everyone'}), h('span', {class: 'narrow-only', text: 'End for everyone'}));
        b.hostExtra = h('div', {class: 'host-extra'});
        this.invites = new InviteBox({
            make: (name) => this.call.requestInvite(name),
            revoke: async (id) => {
                if (!this.call.revokeInvite(id)) throw new Error('Not connected just now: try again in a moment.');
            },
        });
        b.host = h('aside', {class: 'panel host-panel', hidden: true, 'aria-label': 'Waiting room'},
            h('h2', {class: 'host-heading', text: 'Waiting room'}), b.knocksEmpty, b.knocks, b.hostExtra, this.invites.el, b.end);
        this.lobby = new Lobby(b.knocks, {
            // The server tells the other hosts, not the one who answered: drop the card here.
            onAdmit: (peer) => {
                if (this.call) this.call.admit(peer);
                this.lobby.remove(peer);
                announce('Letting them in…');
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
    }

    /* The suggestion to turn video off on a weak connection. */
    buildLowData() {
        const off = h('button', {type: 'button', class: 'btn btn-primary btn-small', testid: 'low-data-off', text: 'Turn my video off',
            on: {click: () => {
                this.media.setCameraOff(true);
                show(this.b.lowData, false);
                announce('Your video is off. The others still hear you.');
            }}});
        const keep = h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: 'Keep video', on: {click: () => show(this.b.lowData, false)}});
        return h('div', {class: 'low-data', testid: 'low-data-advice', role: 'alert', hidden: true},
            h('p', {text: 'Your connection is weak. Turn your video off to keep the sound clear?'}), h('div', {class: 'row'}, off, keep));
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
        show(b.chat, phase === 'call');
        show(b.share, phase === 'call' && this.isHost && canShareScreen());
        show(b.host, phase === 'call' && this.call && this.call.role === 'host');
        if (phase !== 'call') {
            this.togglePanel(null);
            show(b.lowData, false);
        }
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
        if (!this.screen.active) b.selfVideo.srcObject = stream;
        if (stream) b.selfVideo.play().catch(() => {});
        const hasVideo = Boolean(stream && stream.getVideoTracks().length);
        const hasAudio = Boolean(stream && stream.getAudioTracks().length);
        this.setCheck(b.camCheck, hasVideo, hasVideo ? 'Camera: working' : hasAudio ? 'Camera: not available (you join with sound only)' : 'Camera: not available');
        this.setCheck(b.micCheck, hasAudio, null);
        b.micText.textContent = hasAudio ? 'Microphone: working (speak to see the bar move)' : 'Microphone: not available';
        this.stopMeter();
        this.stopMeter = startLevelMeter(stream, (level) => {
            b.meterBar.style.transform = `scaleX(${level.toFixed(2)})`;
        });
        this.showMediaAdvice(hasVideo, hasAudio);
        if (this.call) this.call.setLocalStream(stream);
        this.showToggles({muted: this.media.muted, cameraOff: this.media.cameraOff});
    }

    /* No microphone: the red help. A microphone but no camera: a calm note, and joining goes on. */
    showMediaAdvice(hasVideo, hasAudio) {
        const b = this.b;
        const err = this.media.error;
        fill(b.help);
        fill(b.note);
        show(b.help, false);
        show(b.note, false);
        if (err && !hasAudio) {
            const advice = describeMediaError(err);
            fill(b.help,
                h('h3', {text: advice.title}),
                h('ol', {}, advice.steps.map((s) => h('li', {text: s}))),
                h('button', {type: 'button', class: 'btn btn-secondary', text: 'Try again', on: {click: () => this.media.start()}}));
            show(b.help, true);
            announce(advice.title);
        } else if (hasAudio && !hasVideo) {
            const note = describeCameraOnly(err);
            fill(b.note,
                h('h3', {text: note.title}),
                h('p', {text: note.text}),
                h('details', {}, h('summary', {text: 'How to turn the camera on'}), h('ol', {}, note.steps.map((s) => h('li', {text: s})))),
                h('button', {type: 'button', class: 'btn btn-secondary btn-small', text: 'Try the camera again', on: {click: () => this.media.start()}}));
            show(b.note, true);
            announce(note.title);
        }
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
        b.camera.setAttribute('aria-label', cameraOff ? 'Turn my video on' : 'Turn my video off (sound only)');
        b.camera.disabled = !hasVideo;
        const sharing = this.screen.active;
        show(b.selfOff, !sharing && (cameraOff || !hasVideo));
        b.selfOff.textContent = hasVideo ? 'Video is off' : this.mediaReady ? 'Sound only: no camera' : 'Starting camera…';
        this.root.dataset.muted = String(muted);
        this.tiles.setSelf({video: sharing || (hasVideo && !cameraOff), screen: sharing});
    }

    showScreen(track) {
        const b = this.b;
        b.selfVideo.srcObject = track ? new MediaStream([track]) : this.media.stream;
        b.selfBox.classList.toggle('sharing', Boolean(track));
        b.share.setAttribute('aria-pressed', String(Boolean(track)));
        b.share.lastChild.textContent = track ? 'Stop share' : 'Share';
        b.share.setAttribute('aria-label', track ? 'Stop sharing my screen' : 'Share my screen');
        if (this.call) this.call.setScreen(track);
        this.showToggles({muted: this.media.muted, cameraOff: this.media.cameraOff});
        announce(track ? 'You are sharing your screen.' : 'Screen sharing stopped: your camera is back.');
    }

    join() {
        this.b.join.disabled = true;
        this.onJoin(this.askName ? this.b.name.value.trim().slice(0, 40) : '');
    }

    /* Opens one side panel (chat or security), or closes them (null or the one open). */
    togglePanel(which) {
        const next = which && this.panel !== which ? which : null;
        this.panel = next;
        this.root.dataset.panel = next || '';
        if (this.chatPanel) this.chatPanel.setVisible(next === 'chat');
        if (this.securityPanel) this.securityPanel.setVisible(next === 'security');
        this.b.chat.setAttribute('aria-pressed', String(next === 'chat'));
        if (!next && which) (which === 'chat' ? this.b.chat : this.b.conn).focus();
    }

    /* Binds a Call (its phases, peers, path, lobby, chat) to this view. */
    attach(call) {
        this.call = call;
        this.b.join.disabled = false;
        this.attachPanels(call);
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
            show(this.b.share, this.phase === 'call' && this.isHost && canShareScreen());
            this.tiles.setHost(this.isHost);
            this.tiles.setEmptyText(this.emptyText());
        });
        call.on('joined', () => this.tiles.setSelf({name: call.myName}));
        call.on('peer-added', (link) => {
            this.lobby.remove(link.id);
            this.tiles.add(link, call.mesh.people.get(link.id));
        });
        call.on('peer-removed', (id) => this.tiles.remove(id, this.phase !== 'call'));
        call.on('person', (p) => this.tiles.person(p));
        call.on('full', (p) => this.note(`${displayName(p)} could not be connected: a call in the browser takes at most 4 people.`));
        call.on('path', (path) => this.showPath(path));
        call.on('signal-status', (s) => this.showSignalStatus(s));
        call.on('knock', (k) => this.lobby.add(k));
        call.on('knock-cancelled', (peer) => this.lobby.remove(peer));
        call.on('waiting', (m) => this.wait.setSince(m.since));
        call.on('queue', (m) => this.wait.setQueue(m));
        call.on('lobby-message', (text) => this.wait.addMessage(text));
        call.on('turn', (r) => this.showTurn(r));
        call.on('low-data', () => {
            show(this.b.lowData, true);
            announce('Your connection is weak. You can turn your video off to keep the sound clear.');
        });
        call.on('error', (m) => {
            if (m.code === 'room_full') announce('The consultation is full.');
        });
    }

    attachPanels(call) {
        const nameOf = (id) => displayName(call.mesh.people.get(id));
        this.chatPanel = new ChatPanel(call.chat, {
            nameOf,
            canCopy: () => call.role === 'host',
            onClose: () => this.togglePanel('chat'),
            onUnread: (n) => {
                this.b.chatBadge.textContent = String(n);
                show(this.b.chatBadge, n > 0);
                this.b.chat.setAttribute('aria-label', n > 0 ? `Chat, ${n} new` : 'Chat');
            },
        });
        this.securityPanel = new SecurityPanel(call, {onClose: () => this.togglePanel('security')});
        fill(this.b.side, this.chatPanel.el, this.securityPanel.el);
    }

    /* A short note over the call that goes by itself. */
    note(text) {
        const b = this.b;
        b.banner.textContent = text;
        show(b.banner, true);
        announce(text);
        clearTimeout(this.noteTimer);
        this.noteTimer = setTimeout(() => show(b.banner, false), 8000);
    }

    emptyText() {
        return this.isHost ? 'Waiting for the patient to join.' : 'Connecting to the clinician…';
    }

    showPath(path) {
        this.b.path.textContent = path;
        this.b.conn.dataset.path = path;
        this.b.conn.title = path === 'direct' ? 'Media goes directly between you. Open for the security code.' : path === 'relayed' ? 'Media goes through the secure relay. Open for the security code.' : 'Setting up the connection';
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
        this.screen.stop();
        this.tiles.clear();
        this.lobby.clear();
        if (this.chatPanel) this.chatPanel.clear();
        show(b.banner, false);
        announce(title);
        b.endTitle.focus();
    }

    /* Back to the preview for another consultation (dashboard). */
    reset() {
        this.call = null;
        this.lobby.clear();
        this.invites.clear();
        this.tiles.clear();
        this.showPath('connecting');
        show(this.b.netcheck, false);
        this.b.join.disabled = false;
        this.setPhase('preview');
    }

    destroy() {
        this.stopMeter();
        this.screen.stop();
        this.wait.stop();
        this.root.replaceChildren();
    }
}
