// The in-call view both pages share: preview, waiting room, the call's grid, controls, chat and
// security panels, and the end screen. Every word is a catalogue message (i18n.js); the patient
// sees plain words, the clinician the technical detail.
import {h, show, fill, announce, uid} from './ui.js';
import {icon} from './icons.js';
import {describeMediaError, describeCameraOnly} from './media.js';
import {startLevelMeter, networkVerdict} from './precheck.js';
import {Lobby} from './lobby.js';
import {WaitPanel} from './waitpanel.js';
import {TileGrid} from './tiles.js';
import {ChatPanel} from './chatview.js';
import {SecurityPanel} from './securityview.js';
import {ScreenShare, canShareScreen} from './screen.js';
import {InviteBox} from './invite.js';
import {displayName} from './mesh.js';
import {msg, t, setText, setAttr} from './i18n.js';

/* The end screen of each reason: its title and next step (keys), and whether the page offers
 * to join again and whom to ring. Clinicians' variants end in -host. */
const ENDED = {
    'hangup': ['ended.hangup.title', 'ended.hangup.text'],
    'hangup-host': ['ended.hangupHost.title', 'ended.hangupHost.text'],
    'left-waiting': ['ended.leftWaiting.title', 'ended.leftWaiting.text'],
    'ended-by-you': ['ended.byYou.title', null],
    'room-ended': ['ended.roomEnded.title', 'ended.roomEnded.text'],
    'room-ended-host': ['ended.roomEndedHost.title', null],
    'expired': ['ended.expired.title', 'ended.expired.text'],
    'denied': ['ended.denied.title', 'ended.denied.text'],
    'removed': ['ended.removed.title', 'ended.removed.text'],
    'invalid': ['ended.invalid.title', 'ended.invalid.text'],
    'full': ['ended.full.title', 'ended.full.text'],
    'forbidden': ['ended.forbidden.title', 'ended.forbidden.text'],
    'error': ['ended.error.title', 'ended.error.text'],
    'unsupported': ['ended.unsupported.title', 'ended.unsupported.text'],
};
/* End screens where ringing the organisation is the next step. */
const RING = new Set(['expired', 'denied', 'removed', 'invalid', 'full', 'error', 'unsupported']);

/* What the connection pill says: the clinician sees the path, the patient plain words. */
const PATH_TEXT = {
    host: {connecting: 'call.path.connecting', direct: 'call.path.direct', relayed: 'call.path.relayed'},
    guest: {connecting: 'call.path.connecting', direct: 'call.path.connected', relayed: 'call.path.connected'},
};
const PATH_TITLE = {
    host: {connecting: 'call.path.title.connecting', direct: 'call.path.title.direct', relayed: 'call.path.title.relayed'},
    guest: {connecting: 'call.path.title.connecting', direct: 'call.path.title.open', relayed: 'call.path.title.open'},
};

/*
 * The view owns its DOM under root. attach(call) binds a Call; the page controller decides when
 * to join (onJoin) and what the end screen's button does (endAction: {label (a Msg), reasons,
 * run}). askName puts a name field on the preview (the join page; the dashboard's clinician has
 * one already). support() returns a new element saying whom to ring (branding), or null.
 */
export class CallView {
    constructor(root, {media, onJoin, endAction, isHost = false, askName = false, support = () => null}) {
        this.root = root;
        this.media = media;
        this.onJoin = onJoin;
        this.endAction = endAction;
        this.isHost = isHost;
        this.askName = askName;
        this.support = support;
        this.call = null;
        this.path = 'connecting';
        this.panel = null; // 'chat' | 'security' | null
        this.stopMeter = () => {};
        this.screen = new ScreenShare();
        this.build();
        media.on('stream', (s) => this.showStream(s));
        media.on('change', (st) => this.showToggles(st));
        this.screen.on('change', (track) => this.showScreen(track));
        root.addEventListener('keydown', (ev) => {
            if (ev.key === 'Escape' && this.panel) {
                ev.preventDefault();
                this.togglePanel(this.panel);
            }
        });
        this.setPhase('preview');
    }

    build() {
        const b = {};
        b.banner = h('p', {class: 'banner', role: 'status', testid: 'banner', hidden: true});
        b.lowData = this.buildLowData();
        b.path = h('span', {class: 'path-text', testid: 'connection-path', 'data-path': 'connecting'});
        b.conn = h('button', {type: 'button', class: 'conn', testid: 'security-button', 'data-path': 'connecting', 'aria-haspopup': 'dialog', on: {click: () => this.togglePanel('security')}},
            h('span', {class: 'conn-dot', 'aria-hidden': 'true'}), b.path);
        b.title = h('h1', {class: 'call-title', text: msg('call.title')});
        b.topbar = h('header', {class: 'topbar'}, b.title, h('div', {class: 'topbar-status'}, b.conn));

        b.selfVideo = h('video', {class: 'self-video', autoplay: true, playsinline: true, muted: true, 'aria-label': msg('call.selfVideo')});
        b.selfVideo.muted = true;
        b.selfOff = h('p', {class: 'self-off', hidden: true, text: msg('call.self.cameraOff')});
        b.selfBox = h('div', {class: 'selfbox'}, b.selfVideo, b.selfOff);
        b.stageEmpty = h('p', {class: 'stage-empty', testid: 'stage-empty'});
        b.remotes = h('div', {class: 'remotes', 'data-count': '0'}, b.stageEmpty);
        b.stage = h('div', {class: 'stage', role: 'group'}, b.remotes, b.selfBox);
        b.people = h('p', {class: 'visually-hidden', testid: 'people-text'});
        this.tiles = new TileGrid({remotes: b.remotes, empty: b.stageEmpty, selfBox: b.selfBox, stage: b.stage, people: b.people},
            {onRemove: (id) => this.call && this.call.remove(id), onRetry: (id) => this.call && this.call.retry(id)});

        b.mute = h('button', {type: 'button', class: 'ctl', testid: 'mute-button', on: {click: () => this.media.setMuted(!this.media.muted)}});
        b.camera = h('button', {type: 'button', class: 'ctl', testid: 'camera-button', on: {click: () => this.media.setCameraOff(!this.media.cameraOff)}});
        b.chatCount = h('span', {'aria-hidden': 'true'});
        b.chatUnread = h('span', {class: 'visually-hidden'});
        b.chatBadge = h('span', {class: 'ctl-badge', testid: 'chat-unread', hidden: true}, b.chatCount, b.chatUnread);
        b.chat = h('button', {type: 'button', class: 'ctl', testid: 'chat-button', 'aria-expanded': 'false', on: {click: () => this.togglePanel('chat')}},
            icon('chat'), h('span', {text: msg('call.chat')}), b.chatBadge);
        b.shareText = h('span', {text: msg('call.share')});
        b.share = h('button', {type: 'button', class: 'ctl', testid: 'share-button', hidden: true,
            on: {click: () => (this.screen.active ? this.screen.stop() : this.screen.start())}}, icon('screen'), b.shareText);
        b.hangupText = h('span', {text: msg('call.leave')});
        b.hangup = h('button', {type: 'button', class: 'ctl ctl-hangup', testid: 'hangup-button', on: {click: () => this.call && this.call.hangup()}}, icon('hangup'), b.hangupText);
        b.controls = h('div', {class: 'controls', role: 'group', 'aria-label': msg('call.controls')}, b.mute, b.camera, b.chat, b.share, b.hangup);

        this.buildPreview(b);
        this.wait = new WaitPanel({support: this.support});
        b.waiting = this.wait.el;
        b.connecting = h('div', {class: 'panel panel-connecting', testid: 'connecting'}, h('div', {class: 'pulse', 'aria-hidden': 'true'}),
            h('h2', {text: msg('call.connecting')}));
        this.buildHost(b);

        b.endTitle = h('h2', {tabindex: '-1', testid: 'ended-title'});
        b.endText = h('p', {class: 'lead'});
        b.endSupport = h('div', {class: 'end-support'});
        b.endActions = h('div', {class: 'end-actions'});
        b.ended = h('div', {class: 'panel panel-ended', testid: 'call-ended', hidden: true}, b.endTitle, b.endText, b.endSupport, b.endActions);
        b.side = h('div', {class: 'side'});

        this.b = b;
        this.root.dataset.knocks = '0'; // a host who joins after the admit never sees a knock here
        this.root.classList.add('callview');
        fill(this.root, b.banner, b.topbar, b.people, b.stage, b.lowData, b.controls, b.preview, b.connecting, b.waiting, b.host, b.side, b.ended);
        this.showToggles({muted: false, cameraOff: false});
        this.showPath('connecting');
    }

    /* The preview panel: the pre-call check, a name for the others, and the join button. */
    buildPreview(b) {
        b.camText = h('span', {text: msg('preview.camera.starting')});
        b.camCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), b.camText);
        b.meterBar = h('span', {class: 'meter-bar'});
        b.micText = h('span', {text: msg('preview.mic.starting')});
        b.micCheck = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), b.micText, h('span', {class: 'meter', 'aria-hidden': 'true'}, b.meterBar));
        b.netCheckItem = h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: 'i'}), h('span', {text: msg('preview.network')}));
        b.help = h('div', {class: 'media-help', testid: 'media-help', role: 'alert', hidden: true});
        b.note = h('div', {class: 'media-note', testid: 'audio-only-note', role: 'status', hidden: true});
        const nameId = uid('your-name');
        b.name = h('input', {type: 'text', id: nameId, testid: 'name-input', maxlength: '40', autocomplete: 'name', placeholder: msg('preview.name.example')});
        b.nameRow = h('div', {class: 'name-row', hidden: !this.askName},
            h('label', {for: nameId}, h('span', {text: msg('preview.name.label')}), ' ', h('span', {class: 'label-note', text: msg('preview.name.note')})), b.name);
        b.join = h('button', {type: 'button', class: 'btn btn-primary btn-big', testid: 'join-button', text: msg('preview.join'), on: {click: () => this.join()}});
        b.previewHeading = h('h2', {text: msg('preview.title')});
        b.previewText = h('p', {class: 'lead', text: msg('preview.text', {button: () => t('preview.join')})});
        b.preview = h('div', {class: 'panel panel-preview', testid: 'preview'},
            b.previewHeading, b.previewText,
            h('ul', {class: 'checks', testid: 'device-checks', 'aria-label': msg('preview.checks')}, b.camCheck, b.micCheck, b.netCheckItem),
            b.help, b.note, b.nameRow, b.join);
    }

    /* The host's panel: the lobby, inviting someone, and "end for everyone". */
    buildHost(b) {
        b.knocks = h('ul', {class: 'knocks', 'aria-label': msg('host.knocks')});
        b.knocksEmpty = h('p', {class: 'muted', text: msg('host.nobody')});
        b.end = h('button', {type: 'button', class: 'btn btn-danger', testid: 'end-button', on: {click: () => this.call && this.call.endForEveryone()}},
            h('span', {class: 'wide-only', text: msg('host.end.wide')}), h('span', {class: 'narrow-only', text: msg('host.end.narrow')}));
        b.hostExtra = h('div', {class: 'host-extra'});
        this.invites = new InviteBox({
            make: (name) => this.call.requestInvite(name),
            revoke: async (id) => {
                if (!this.call.revokeInvite(id)) throw {code: 'offline'};
            },
        });
        b.host = h('aside', {class: 'panel host-panel', hidden: true, 'aria-label': msg('host.title')},
            h('h2', {class: 'host-heading', text: msg('host.title')}), b.knocksEmpty, b.knocks, b.hostExtra, this.invites.el, b.end);
        this.lobby = new Lobby(b.knocks, {
            // The server tells the other hosts, not the one who answered: drop the card here.
            onAdmit: (peer) => {
                if (this.call) this.call.admit(peer);
                this.lobby.remove(peer);
                announce(msg('host.admitting'));
            },
            onDeny: (peer) => {
                if (this.call) this.call.deny(peer);
                this.lobby.remove(peer);
                announce(msg('host.declined'));
            },
            onChange: (n) => {
                show(b.knocksEmpty, n === 0);
                this.root.dataset.knocks = String(n);
            },
        });
    }

    /* The suggestion to turn video off on a weak connection. */
    buildLowData() {
        const off = h('button', {type: 'button', class: 'btn btn-primary btn-small', testid: 'low-data-off', text: msg('lowData.off'),
            on: {click: () => {
                this.media.setCameraOff(true);
                show(this.b.lowData, false);
                announce(msg('lowData.done'));
            }}});
        const keep = h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: msg('lowData.keep'), on: {click: () => show(this.b.lowData, false)}});
        return h('div', {class: 'low-data', testid: 'low-data-advice', role: 'alert', hidden: true},
            h('p', {text: msg('lowData.text')}), h('div', {class: 'row'}, off, keep));
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
        setText(b.hangupText, msg(phase === 'call' ? 'call.hangup' : 'call.leave'));
        show(b.hangup, phase !== 'preview');
        if (phase === 'ended') this.showEnded(reason);
    }

    /* title: the page's heading (a Msg or the consultation's name); the rest change the preview's
     * words (the dashboard's). */
    setTitle(title, heading, text, joinLabel) {
        setText(this.b.title, title);
        if (heading) setText(this.b.previewHeading, heading);
        if (text) setText(this.b.previewText, text);
        if (joinLabel) setText(this.b.join, joinLabel);
    }

    /* The camera preview: video, pre-check items, and advice when the devices failed. */
    showStream(stream) {
        const b = this.b;
        this.mediaReady = true;
        if (!this.screen.active) b.selfVideo.srcObject = stream;
        if (stream) b.selfVideo.play().catch(() => {});
        const hasVideo = Boolean(stream && stream.getVideoTracks().length);
        const hasAudio = Boolean(stream && stream.getAudioTracks().length);
        this.setCheck(b.camCheck, hasVideo);
        setText(b.camText, msg(hasVideo ? 'preview.camera.ok' : hasAudio ? 'preview.camera.soundOnly' : 'preview.camera.none'));
        this.setCheck(b.micCheck, hasAudio);
        setText(b.micText, msg(hasAudio ? 'preview.mic.ok' : 'preview.mic.none'));
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
            b.help.dataset.kind = advice.kind;
            fill(b.help,
                h('h3', {text: advice.title}),
                h('ol', {}, advice.steps.map((s) => h('li', {text: s}))),
                this.support(),
                h('button', {type: 'button', class: 'btn btn-secondary', testid: 'media-retry', text: msg('media.tryAgain'), on: {click: () => this.media.start()}}));
            show(b.help, true);
            announce(advice.title);
        } else if (hasAudio && !hasVideo) {
            const note = describeCameraOnly(err);
            fill(b.note,
                h('h3', {text: note.title}),
                h('p', {text: note.text}),
                h('details', {}, h('summary', {text: msg('media.camOnly.how')}), h('ol', {}, note.steps.map((s) => h('li', {text: s})))),
                h('button', {type: 'button', class: 'btn btn-secondary btn-small', text: msg('media.tryCamera'), on: {click: () => this.media.start()}}));
            show(b.note, true);
            announce(note.title);
        }
    }

    setCheck(li, ok) {
        li.className = ok ? 'ok' : 'bad';
        li.querySelector('.mark').textContent = ok ? '✓' : '✗';
    }

    /* The toggles' labels say what a press does; their names are their visible words. */
    showToggles({muted, cameraOff}) {
        const b = this.b;
        const hasVideo = this.media.hasVideo;
        fill(b.mute, icon(muted ? 'micOff' : 'mic'), h('span', {text: msg(muted ? 'call.unmute' : 'call.mute')}));
        b.mute.dataset.on = String(muted);
        b.mute.disabled = !this.media.hasAudio;
        fill(b.camera, icon(cameraOff ? 'camOff' : 'cam'), h('span', {text: msg(cameraOff ? 'call.videoOn' : 'call.videoOff')}));
        b.camera.dataset.on = String(cameraOff);
        b.camera.disabled = !hasVideo;
        const sharing = this.screen.active;
        show(b.selfOff, !sharing && (cameraOff || !hasVideo));
        setText(b.selfOff, msg(hasVideo ? 'call.self.videoOff' : this.mediaReady ? 'call.self.noCamera' : 'call.self.starting'));
        this.root.dataset.muted = String(muted);
        this.tiles.setSelf({video: sharing || (hasVideo && !cameraOff), screen: sharing});
    }

    showScreen(track) {
        const b = this.b;
        b.selfVideo.srcObject = track ? new MediaStream([track]) : this.media.stream;
        b.selfBox.classList.toggle('sharing', Boolean(track));
        b.share.dataset.on = String(Boolean(track));
        setText(b.shareText, msg(track ? 'call.shareStop' : 'call.share'));
        if (this.call) this.call.setScreen(track);
        this.showToggles({muted: this.media.muted, cameraOff: this.media.cameraOff});
        announce(msg(track ? 'call.sharing' : 'call.shareStopped'));
    }

    join() {
        this.b.join.disabled = true;
        this.onJoin(this.askName ? this.b.name.value.trim().slice(0, 40) : '');
    }

    /* Opens one side panel (chat or security), or closes them (null or the one open); closing
     * gives the keyboard back to the button that opened it. */
    togglePanel(which) {
        const next = which && this.panel !== which ? which : null;
        this.panel = next;
        this.root.dataset.panel = next || '';
        if (this.chatPanel) this.chatPanel.setVisible(next === 'chat');
        if (this.securityPanel) this.securityPanel.setVisible(next === 'security');
        this.b.chat.setAttribute('aria-expanded', String(next === 'chat'));
        if (!next && which) (which === 'chat' ? this.b.chat : this.b.conn).focus();
    }

    get role() {
        return this.isHost ? 'host' : 'guest';
    }

    /* Binds a Call (its phases, peers, path, lobby, chat) to this view. */
    attach(call) {
        this.call = call;
        this.b.join.disabled = false;
        this.attachPanels(call);
        call.on('phase', (phase, reason) => {
            const hadFocus = this.root.contains(document.activeElement) || document.activeElement === document.body;
            this.setPhase(phase, reason);
            if (phase === 'waiting') announce(msg('call.waiting.announce'));
            if (phase === 'call') announce(call.links.size ? msg('call.connected') : this.emptyText());
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
            this.showPath(this.path);
        });
        call.on('joined', () => this.tiles.setSelf({name: call.myName}));
        call.on('peer-added', (link) => {
            this.lobby.remove(link.id);
            this.tiles.add(link, call.mesh.people.get(link.id));
        });
        call.on('peer-removed', (id) => this.tiles.remove(id, this.phase !== 'call'));
        call.on('person', (p) => this.tiles.person(p));
        call.on('full', (p) => this.note(msg('call.full', {name: () => displayName(p)})));
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
            announce(msg('lowData.announce'));
        });
        call.on('error', (m) => {
            if (m.code === 'room_full') announce(msg('call.roomFull'));
        });
    }

    attachPanels(call) {
        const nameOf = (id) => displayName(call.mesh.people.get(id));
        this.chatPanel = new ChatPanel(call.chat, {
            nameOf,
            canCopy: () => call.role === 'host',
            onClose: () => this.togglePanel('chat'),
            onUnread: (n) => {
                this.b.chatCount.textContent = String(n);
                setText(this.b.chatUnread, msg('call.chat.unread', {count: n}));
                show(this.b.chatBadge, n > 0);
            },
        });
        this.securityPanel = new SecurityPanel(call, {onClose: () => this.togglePanel('security')});
        fill(this.b.side, this.chatPanel.el, this.securityPanel.el);
    }

    /* A short note over the call that goes by itself. */
    note(m) {
        const b = this.b;
        setText(b.banner, m);
        show(b.banner, true);
        announce(m);
        clearTimeout(this.noteTimer);
        this.noteTimer = setTimeout(() => show(b.banner, false), 8000);
    }

    /* In the call before anyone else is: the clinician waits for the patient; the patient was let
     * in and is being connected. */
    emptyText() {
        return msg(this.isHost ? 'call.empty.host' : 'call.empty.guest');
    }

    showPath(path) {
        const role = this.role;
        this.path = path;
        setText(this.b.path, msg(PATH_TEXT[role][path] || PATH_TEXT[role].connecting));
        this.b.path.dataset.path = path;
        this.b.conn.dataset.path = path;
        setAttr(this.b.conn, 'title', msg(PATH_TITLE[role][path] || PATH_TITLE[role].connecting));
        if (path !== 'connecting') announce(msg('call.connected'));
    }

    showSignalStatus(s) {
        const b = this.b;
        if (s === 'reconnecting' && this.phase !== 'ended' && this.phase !== 'preview') {
            clearTimeout(this.noteTimer);
            setText(b.banner, msg('call.reconnecting'));
            b.banner.dataset.state = 'reconnecting';
            show(b.banner, true);
            announce(msg('call.reconnecting'));
        } else if (s === 'open') {
            if (!b.banner.hidden && b.banner.dataset.state === 'reconnecting') announce(msg('call.reconnected'));
            b.banner.dataset.state = '';
            show(b.banner, false);
        } else if (s === 'closed') {
            show(b.banner, false);
        }
    }

    /* The relay check's result is the clinician's to read (the knock card): the patient hears
     * only when no way through the network was found. */
    /* The network part of the pre-call check, for the patient in plain words (the clinician's
     * knock card has the detail). */
    showTurn(r) {
        const verdict = networkVerdict(r);
        if (!verdict || this.isHost) return;
        this.wait.setNetwork(verdict.level !== 'blocked', verdict.level);
    }

    showEnded(reason) {
        const b = this.b;
        let key = reason && ENDED[reason] ? reason : 'error';
        if ((key === 'room-ended' || key === 'hangup') && this.isHost) key = `${key}-host`;
        const [title, text] = ENDED[key];
        b.ended.dataset.reason = reason || 'error';
        setText(b.endTitle, msg(title));
        if (text) setText(b.endText, msg(text, {button: () => t('ended.joinAgain')}));
        show(b.endText, Boolean(text));
        fill(b.endSupport, !this.isHost && RING.has(key) ? this.support() : null);
        fill(b.endActions);
        const act = this.endAction;
        if (act && (!act.reasons || act.reasons.includes(reason))) {
            b.endActions.append(h('button', {type: 'button', class: 'btn btn-primary', testid: 'end-action', text: act.label, on: {click: () => act.run(reason)}}));
        }
        this.stopMeter();
        this.stopMeter = () => {};
        this.screen.stop();
        this.tiles.clear();
        this.lobby.clear();
        if (this.chatPanel) this.chatPanel.clear();
        show(b.banner, false);
        announce(msg(title));
        b.endTitle.focus();
    }

    /* Back to the preview for another consultation (dashboard). */
    reset() {
        this.call = null;
        this.lobby.clear();
        this.invites.clear();
        this.tiles.clear();
        this.showPath('connecting');
        this.wait.setNetwork(true);
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
