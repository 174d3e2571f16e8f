// One consultation session: signalling, the mesh of peer links, chat, what this side sends, stats.
import {Emitter} from './emitter.js';
import {SignalClient} from './signal.js';
import {Mesh} from './mesh.js';
import {Chat} from './chat.js';
import {readStats, combineStats, LowDataWatch} from './stats.js';
import {checkTurn} from './precheck.js';

const TICK_MS = 1000;
const STATS_EVERY_TICKS = 5;
const INVITE_ERRORS = new Set(['room_full', 'rate_limited', 'bad_request', 'too_large', 'forbidden']);

/*
 * Events:
 *  'phase'   ('connecting' | 'waiting' | 'call' | 'ended'), with the ended reason as second arg:
 *            'hangup' | 'left-waiting' | 'ended-by-you' | 'room-ended' | 'expired' | 'denied' |
 *            'removed' | 'invalid' | 'full' | 'forbidden' | 'error'
 *  'joined'  (the joined message), 'role' ('host' | 'guest')
 *  'peer-added' (PeerLink), 'peer-removed' (id), 'person' (person), 'full' (person)
 *  'path'    ('connecting' | 'direct' | 'relayed'), 'pairs' (Map id -> stats of each pair)
 *  'signal-status' ('connecting' | 'open' | 'reconnecting' | 'closed')
 *  'knock' (msg), 'knock-cancelled' (peer id), 'turn' ({pending: true} when the TURN check
 *            starts, then its checkTurn result), 'error' (msg)
 *  'waiting' (the waiting message: since), 'queue' (the queue message: position, waiting,
 *            notified), 'lobby-message' (text: a clinician's message to the waiting patient)
 *  'invite' (the invite message: a host's new invite link), 'low-data' (suggest audio only)
 * Joins with the link's token, or (a clinician's dashboard) with the room id; store keeps a
 * waiting patient's resume token across a reload (resume.js); name is the display name typed.
 */
export class Call extends Emitter {
    constructor({token, room, media, store, name = ''}) {
        super();
        this.token = token;
        this.room = room;
        this.store = store;
        this.media = media;
        this.name = name;
        this.phase = 'idle';
        this.role = null;
        this.self = null;
        this.myName = '';
        this.region = '';
        this.turn = null; // the TURN check's result once run
        this.path = 'connecting';
        this.ticks = 0;
        this.prevSamples = new Map();
        this.pairs = new Map(); // peer id -> its last readStats result
        this.screenTrack = null;
        this.lowData = new LowDataWatch();
        this.signal = null;
        this.mesh = new Mesh({send: (to, data) => this.signal.send('signal', {to, data})});
        this.chat = new Chat();
        this.mesh.on('peer-added', (link) => this.emit('peer-added', link));
        this.mesh.on('peer-removed', (id) => {
            this.prevSamples.delete(id);
            this.pairs.delete(id);
            this.chat.detach(id);
            this.emit('peer-removed', id);
            this.tick(true);
        });
        this.mesh.on('state', () => this.tick(true));
        // A pair that stopped receiving may mean our own network changed: check the socket too.
        this.mesh.on('trouble', (id, why) => this.signal && this.signal.suspect(why));
        this.mesh.on('channel', (id, ch) => this.chat.attach(id, ch));
        this.mesh.on('person', (p) => this.emit('person', p));
        this.mesh.on('full', (p) => this.emit('full', p));
        this.chat.on('state', (id, st) => this.mesh.setSending(id, st));
        media.on('change', () => this.updateVideo());
    }

    get links() {
        return this.mesh.links;
    }

    precheck() {
        const p = {
            camera: this.media.hasVideo,
            microphone: this.media.hasAudio,
            turn_udp: false,
            turn_tcp: false,
            turn_tls: false,
            turn_checked: false,
        };
        const t = this.turn;
        if (t && !t.pending) {
            Object.assign(p, {turn_udp: t.turn_udp, turn_tcp: t.turn_tcp, turn_tls: t.turn_tls, turn_checked: t.tested.length > 0});
        }
        return p;
    }

    setPhase(phase, reason) {
        if (this.phase === 'ended') return;
        this.phase = phase;
        this.emit('phase', phase, reason);
    }

    join() {
        if (this.signal) return;
        const sig = new SignalClient({token: this.token, room: this.room, store: this.store, name: this.name, getPrecheck: () => this.precheck()});
        this.signal = sig;
        this.updateVideo();
        sig.on('status', (s) => this.emit('signal-status', s));
        sig.on('waiting', (m) => this.onWaiting(m));
        sig.on('joined', (m) => this.onJoined(m));
        sig.on('denied', () => this.end('denied'));
        sig.on('removed', () => this.end('removed'));
        sig.on('room-ended', (m) => this.end(m.reason === 'expired' ? 'expired' : 'room-ended'));
        sig.on('peer-joined', (m) => this.mesh.peerJoined(m));
        sig.on('peer-left', (m) => this.mesh.remove(m.peer));
        sig.on('peer-away', (m) => this.mesh.setAway(m.peer, true));
        sig.on('peer-back', (m) => this.mesh.setAway(m.peer, false));
        sig.on('signal', (m) => this.mesh.signal(m.from, m.data));
        sig.on('knock', (m) => this.emit('knock', m));
        sig.on('knock-cancelled', (m) => this.emit('knock-cancelled', m.peer));
        sig.on('queue', (m) => this.emit('queue', m));
        sig.on('invite', (m) => this.emit('invite', m));
        sig.on('message', (m) => {
            if (m.type === 'message' && typeof m.text === 'string') this.emit('lobby-message', m.text);
        });
        sig.on('error', (m) => this.onError(m));
        this.setPhase('connecting');
        sig.start();
        this.timer = setInterval(() => this.tick(), TICK_MS);
        this.unwatchNetwork = this.watchNetwork();
    }

    /* The browser's own word that the network changed: back online (a new socket at once, and
     * every pair whose media stopped restarts ICE: health.js), offline (the socket is suspect),
     * or a new kind of connection where the browser tells (navigator.connection.type: Chromium on
     * Android, wifi to cellular; its speed estimates change on their own and mean nothing here).
     * Returns the unwatch. */
    watchNetwork() {
        const changed = (why, reconnect) => {
            if (this.phase !== 'call') return;
            if (reconnect) this.signal.reconnectNow(why);
            else this.signal.suspect(why);
            this.mesh.networkChanged(why);
        };
        const online = () => changed('back online', true);
        const offline = () => this.signal.suspect('offline');
        const conn = navigator.connection;
        let type = conn && conn.type;
        const kind = () => {
            if (!conn.type || conn.type === type) return;
            type = conn.type;
            changed('connection changed', false);
        };
        window.addEventListener('online', online);
        window.addEventListener('offline', offline);
        if (conn && conn.addEventListener) conn.addEventListener('change', kind);
        return () => {
            window.removeEventListener('online', online);
            window.removeEventListener('offline', offline);
            if (conn && conn.removeEventListener) conn.removeEventListener('change', kind);
        };
    }

    /* "Try again" after the connection to one person (id) or everyone was lost. */
    retry(id) {
        if (this.phase !== 'call') return;
        this.signal.suspect('retry');
        this.mesh.retry(id);
    }

    onError(m) {
        if (m.code === 'invalid_token') return this.end('invalid');
        // A room join refused (the room is gone, or not ours): the client has stopped.
        if (m.code === 'forbidden' && this.room && this.signal.finished) return this.end(this.phase === 'call' ? 'room-ended' : 'forbidden');
        if (m.code === 'room_full' && this.phase !== 'call') return this.end('full');
        console.warn('server error', m.code, m.message);
        this.emit('error', m);
    }

    onJoined(m) {
        this.self = m.peer;
        this.role = m.role;
        this.myName = typeof m.name === 'string' ? m.name : '';
        this.region = typeof m.region === 'string' ? m.region : '';
        this.mesh.configure(m);
        this.emit('role', m.role);
        this.emit('joined', m);
        this.mesh.joined(m.peers, m.resumed);
        this.setPhase('call');
        if (!this.turn) this.runTurnCheck(this.mesh.iceServers);
    }

    /* In the lobby the server hands out short-lived relay credentials: the TURN part of the
     * pre-call check runs now, and the clinician's knock card is updated with its result. */
    onWaiting(m) {
        this.setPhase('waiting');
        this.emit('waiting', m);
        if (!this.turn && m && Array.isArray(m.ice_servers)) {
            this.runTurnCheck(m.ice_servers).then(() => {
                if (this.phase === 'waiting') this.signal.send('precheck', {precheck: this.precheck()});
            });
        }
    }

    async runTurnCheck(servers) {
        this.turn = {pending: true};
        this.emit('turn', this.turn);
        const result = await checkTurn(servers);
        this.turn = result;
        this.emit('turn', result);
    }

    admit(peer) {
        this.signal.send('admit', {peer});
    }

    deny(peer) {
        this.signal.send('deny', {peer});
    }

    /* The host takes a participant out of the call. */
    remove(peer) {
        this.signal.send('remove', {peer});
    }

    /* The host asks for a guest invite (answered with 'invite'), or revokes one. */
    invite(name) {
        return this.signal.send('invite', name ? {name} : {});
    }

    revokeInvite(id) {
        return this.signal.send('revoke', {invite: id});
    }

    /* An invite's link: resolves the invite message, rejects with {code, message}. */
    requestInvite(name) {
        return new Promise((resolve, reject) => {
            const done = (fn, v) => {
                offAnswer();
                offError();
                clearTimeout(timer);
                fn(v);
            };
            const offAnswer = this.on('invite', (m) => done(resolve, m));
            const offError = this.on('error', (m) => INVITE_ERRORS.has(m.code) && done(reject, m));
            const timer = setTimeout(() => done(reject, {code: 'timeout'}), 8000);
            if (!this.invite(name)) done(reject, {code: 'offline'});
        });
    }

    hangup() {
        const reason = this.phase === 'waiting' || this.phase === 'connecting' ? 'left-waiting' : 'hangup';
        this.signal.close('leave');
        this.end(reason);
    }

    endForEveryone() {
        this.signal.close('end');
        this.end('ended-by-you');
    }

    end(reason) {
        if (this.phase === 'ended') return;
        clearInterval(this.timer);
        if (this.unwatchNetwork) this.unwatchNetwork();
        if (this.signal) this.signal.close();
        this.setPhase('ended', reason);
        this.mesh.closeAll();
        this.chat.clear();
    }

    setLocalStream(stream) {
        this.mesh.setLocalStream(stream);
        this.updateVideo();
    }

    /* A shared screen's track (null: back to the camera). */
    setScreen(track) {
        this.screenTrack = track;
        this.updateVideo();
    }

    /* What every pair sends: a shared screen, else the camera unless it is off or missing. */
    updateVideo() {
        const cam = this.media.stream && !this.media.cameraOff ? this.media.stream.getVideoTracks()[0] || null : null;
        const track = this.screenTrack || cam;
        if (track !== this.mesh.videoTrack) this.mesh.setVideoTrack(track);
        this.chat.setState({video: Boolean(track), screen: Boolean(this.screenTrack)});
    }

    get sendingVideo() {
        return Boolean(this.mesh.videoTrack);
    }

    async tick(now = false) {
        if (this.phase !== 'call') return;
        if (!now) this.ticks++;
        const ids = [...this.links.keys()];
        const results = await Promise.all(ids.map((id) => this.readPair(id)));
        const all = results.length > 0 && results.every((r) => r && r.path);
        const combined = combineStats(results);
        const path = !all || !combined ? 'connecting' : combined.path === 'relay' ? 'relayed' : 'direct';
        if (path !== this.path) {
            this.path = path;
            this.emit('path', path);
        }
        this.emit('pairs', this.pairs);
        if (now) return;
        this.watchLowData(results);
        if (combined && this.ticks % STATS_EVERY_TICKS === 0) this.signal.send('stats', {...combined, video: this.sendingVideo});
    }

    async readPair(id) {
        const link = this.links.get(id);
        if (!link || link.pc.connectionState !== 'connected') return null;
        try {
            const r = await readStats(link.pc, this.prevSamples.get(id));
            this.prevSamples.set(id, r.sample);
            this.pairs.set(id, r);
            return r;
        } catch {
            return null;
        }
    }

    /* The worst pair decides: a weak outgoing connection for 10 s suggests audio only. */
    watchLowData(results) {
        const known = results.filter((r) => r && r.path);
        if (known.length === 0) return;
        const rates = known.map((r) => r.out_kbps).filter((k) => typeof k === 'number');
        const sample = {
            sendingVideo: this.sendingVideo && !this.screenTrack,
            outKbps: rates.length ? Math.min(...rates) : null,
            outLossPct: Math.max(...known.map((r) => r.out_loss_pct || 0)),
        };
        if (this.lowData.sample(sample, performance.now())) this.emit('low-data');
    }
}
