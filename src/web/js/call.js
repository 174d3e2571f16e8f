// One consultation session: signalling, a PeerLink per remote peer, the media path and stats.
import {Emitter} from './emitter.js';
import {SignalClient} from './signal.js';
import {PeerLink} from './peer.js';
import {readStats, combineStats} from './stats.js';
import {checkTurn} from './precheck.js';

const TICK_MS = 1000;
const STATS_EVERY_TICKS = 5;

/*
 * Events:
 *  'phase'   ('connecting' | 'waiting' | 'call' | 'ended'), with the ended reason as second arg:
 *            'hangup' | 'left-waiting' | 'ended-by-you' | 'room-ended' | 'expired' | 'denied' |
 *            'invalid' | 'full' | 'forbidden' | 'error'
 *  'joined'  (the joined message), 'role' ('host' | 'guest')
 *  'peer-added' (PeerLink), 'peer-removed' (id), 'peer-away' (id), 'peer-back' (id)
 *  'path'    ('connecting' | 'direct' | 'relayed')
 *  'signal-status' ('connecting' | 'open' | 'reconnecting' | 'closed')
 *  'knock' (msg), 'knock-cancelled' (peer id), 'turn' (checkTurn result), 'error' (msg)
 *  'waiting' (the waiting message: since), 'queue' (the queue message: position, waiting,
 *            notified), 'lobby-message' (text: a clinician's message to the waiting patient)
 * Joins with the link's token, or (a clinician's dashboard) with the room id; store keeps a
 * waiting patient's resume token across a reload (resume.js).
 */
export class Call extends Emitter {
    constructor({token, room, media, store}) {
        super();
        this.token = token;
        this.room = room;
        this.store = store;
        this.media = media;
        this.links = new Map();
        this.phase = 'idle';
        this.role = null;
        this.self = null;
        this.iceServers = [];
        this.relayOnly = false;
        this.turn = null; // the TURN check's result once run
        this.path = 'connecting';
        this.ticks = 0;
        this.prevSamples = new Map();
        this.roles = new Map(); // peer id -> role, from joined and peer-joined
        this.signal = null;
    }

    precheck() {
        const p = {
            camera: this.media.hasVideo,
            microphone: this.media.hasAudio,
            turn_udp: false,
            turn_tcp: false,
            turn_tls: false,
        };
        if (this.turn) Object.assign(p, {turn_udp: this.turn.turn_udp, turn_tcp: this.turn.turn_tcp, turn_tls: this.turn.turn_tls});
        return p;
    }

    setPhase(phase, reason) {
        if (this.phase === 'ended') return;
        this.phase = phase;
        this.emit('phase', phase, reason);
    }

    join() {
        if (this.signal) return;
        const sig = new SignalClient({token: this.token, room: this.room, store: this.store, getPrecheck: () => this.precheck()});
        this.signal = sig;
        sig.on('status', (s) => this.emit('signal-status', s));
        sig.on('waiting', (m) => this.onWaiting(m));
        sig.on('joined', (m) => this.onJoined(m));
        sig.on('denied', () => this.end('denied'));
        sig.on('room-ended', (m) => this.end(m.reason === 'expired' ? 'expired' : 'room-ended'));
        sig.on('peer-joined', (m) => this.onPeerJoined(m));
        sig.on('peer-left', (m) => this.removeLink(m.peer));
        sig.on('peer-away', (m) => this.emit('peer-away', m.peer));
        sig.on('peer-back', (m) => this.emit('peer-back', m.peer));
        sig.on('signal', (m) => this.onSignal(m));
        sig.on('knock', (m) => this.emit('knock', m));
        sig.on('knock-cancelled', (m) => this.emit('knock-cancelled', m.peer));
        sig.on('queue', (m) => this.emit('queue', m));
        sig.on('message', (m) => {
            if (m.type === 'message' && typeof m.text === 'string') this.emit('lobby-message', m.text);
        });
        sig.on('error', (m) => this.onError(m));
        this.setPhase('connecting');
        sig.start();
        this.timer = setInterval(() => this.tick(), TICK_MS);
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
        this.polite = Boolean(m.polite);
        this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
        this.relayOnly = Boolean(m.relay_only);
        this.emit('role', m.role);
        this.emit('joined', m);
        const listed = new Map((m.peers || []).map((p) => [p.peer, p.role]));
        this.roles = new Map(listed);
        if (m.resumed) {
            // Same peer again: keep links with the fresh credentials, greet peers we missed. Media
            // that still flows is left alone (signalling failed, not the network); a link whose
            // ICE is not connected restarts ICE. Two sides restarting at once (both resumed after
            // their signalling node was lost) would collide, and Chromium's rollback of the
            // colliding restart left the remote video frozen.
            for (const [id, link] of this.links) {
                if (!listed.has(id)) this.removeLink(id);
                else {
                    link.updateIceServers(this.iceServers);
                    if (!link.connected()) link.restartIce('signalling resumed');
                }
            }
            for (const [id, role] of listed) if (!this.links.has(id)) this.addLink(id, role, true).offer();
        } else {
            // A fresh join: whoever is already here offers to us.
            for (const id of [...this.links.keys()]) this.removeLink(id);
        }
        this.setPhase('call');
        if (!this.turn) this.runTurnCheck();
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

    async runTurnCheck(servers = this.iceServers) {
        this.turn = {pending: true};
        const result = await checkTurn(servers);
        this.turn = result;
        this.emit('turn', result);
    }

    onPeerJoined(m) {
        if (m.peer === this.self) return;
        this.removeLink(m.peer);
        this.roles.set(m.peer, m.role);
        this.addLink(m.peer, m.role, true).offer();
    }

    /* earlier: we were in the room first, so we make the first offer. */
    addLink(id, role, earlier) {
        const link = new PeerLink({
            id,
            role,
            polite: this.politeTowards(role, earlier),
            iceServers: this.iceServers,
            relayOnly: this.relayOnly,
            localStream: this.media.stream,
            send: (data) => this.signal.send('signal', {to: id, data}),
        });
        link.on('state', () => this.tick(true));
        this.links.set(id, link);
        this.emit('peer-added', link);
        return link;
    }

    /* The server's flag (guests polite, hosts not) decides between a host and a guest; between two
     * peers of one role the later joiner, who answers the first offer, is polite. */
    politeTowards(role, earlier) {
        if (this.role !== role) return this.polite;
        return !earlier;
    }

    removeLink(id) {
        const link = this.links.get(id);
        if (!link) return;
        link.close();
        this.links.delete(id);
        this.prevSamples.delete(id);
        this.emit('peer-removed', id);
        this.tick(true);
    }

    onSignal(m) {
        if (!m.from || !m.data) return;
        let link = this.links.get(m.from);
        if (!link) {
            // The first message from a peer that was here before us: its offer.
            if (!m.data.description || m.data.description.type !== 'offer') return;
            link = this.addLink(m.from, this.roles.get(m.from) || 'guest', false);
        }
        link.handle(m.data);
    }

    admit(peer) {
        this.signal.send('admit', {peer});
    }

    deny(peer) {
        this.signal.send('deny', {peer});
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
        if (this.signal) this.signal.close();
        this.setPhase('ended', reason);
        for (const id of [...this.links.keys()]) this.removeLink(id);
    }

    setLocalStream(stream) {
        for (const link of this.links.values()) link.setLocalStream(stream);
    }

    async tick(now = false) {
        if (this.phase !== 'call') return;
        if (!now) this.ticks++;
        const ids = [...this.links.keys()];
        const results = await Promise.all(
            ids.map(async (id) => {
                const link = this.links.get(id);
                if (!link || link.pc.connectionState !== 'connected') return null;
                try {
                    const r = await readStats(link.pc, this.prevSamples.get(id));
                    this.prevSamples.set(id, r.sample);
                    return r;
                } catch {
                    return null;
                }
            }),
        );
        const all = results.length > 0 && results.every((r) => r && r.path);
        const combined = combineStats(results);
        const path = !all || !combined ? 'connecting' : combined.path === 'relay' ? 'relayed' : 'direct';
        if (path !== this.path) {
            this.path = path;
            this.emit('path', path);
        }
        if (!now && combined && this.ticks % STATS_EVERY_TICKS === 0) this.signal.send('stats', combined);
    }
}
