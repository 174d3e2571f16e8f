// One RTCPeerConnection to one remote peer: perfect negotiation, trickle ICE and ICE restarts.
import {Emitter} from './emitter.js';
import {LinkWatch} from './health.js';

// Chromium already waits ~5-7 s of silence before it reports "disconnected"; wait only 1 s more
// before an ICE restart (media that stopped arriving is usually noticed sooner: health.js).
const DISCONNECTED_GRACE_MS = 1000;
// An offer still unanswered after this long is sent again (the other side's connection may have
// died with it on the way), at most OFFER_RESENDS times.
const OFFER_RESEND_MS = 2000;
const OFFER_RESENDS = 5;

/* The ICE username fragment of a session description ('' when none). */
function ufragOf(desc) {
    const m = desc && /a=ice-ufrag:(\S+)/.exec(desc.sdp || '');
    return m ? m[1] : '';
}

/* setLocalDescription() with no argument where the browser has it, else the explicit offer or
 * answer (older Safari). */
async function setLocal(pc) {
    try {
        await pc.setLocalDescription();
    } catch (err) {
        if (err.name !== 'TypeError') throw err;
        const desc = pc.signalingState === 'have-remote-offer' ? await pc.createAnswer() : await pc.createOffer();
        await pc.setLocalDescription(desc);
    }
}

/*
 * send(data) sends a signal: true when it went out at once, false when held back until the
 * signalling is back. signal.data is {description} or {candidate} (null: end of candidates).
 * The peer already in the
 * room calls offer(), which also opens the pair's data channel ("chat"); the newcomer only
 * answers, and takes the channel from ondatachannel. Events: 'track' (MediaStream, stable for the
 * link's life), 'state' (RTCPeerConnectionState), 'channel' (RTCDataChannel), 'recreated',
 * 'health' ('new' | 'ok' | 'reconnecting' | 'lost': see health.js), 'trouble' (why).
 * videoTrack is the video this side sends (the camera, a shared screen, or null: none).
 */
export class PeerLink extends Emitter {
    constructor({id, role, polite, iceServers, relayOnly, localStream, videoTrack, send}) {
        super();
        this.id = id;
        this.role = role;
        this.polite = polite;
        this.config = {iceServers, iceTransportPolicy: relayOnly ? 'relay' : 'all', bundlePolicy: 'max-bundle'};
        this.localStream = localStream;
        this.videoTrack = videoTrack === undefined ? null : videoTrack;
        this.videoCap = null; // {maxBitrate, scaleResolutionDownBy} while the call has 3 or more
        this.channel = null;
        this.sendData = send;
        this.remoteStream = new MediaStream();
        this.closed = false;
        this.restartTimer = 0;
        this.queue = Promise.resolve(); // signals are handled one at a time, in order
        this.offerTimer = 0;
        this.offerDelivered = false; // our pending offer went out on a socket (not held back)
        this.createPc();
        this.watch = new LinkWatch(this);
        this.watch.on('state', (s) => this.emit('health', s));
        this.watch.on('trouble', (why) => this.emit('trouble', why));
    }

    get health() {
        return this.watch.state;
    }

    createPc() {
        const pc = new RTCPeerConnection(this.config);
        this.pc = pc;
        this.makingOffer = false;
        this.ignoreOffer = false;
        this.settled = false; // true once the connection has been through one offer/answer
        this.pendingCandidates = [];
        pc.onnegotiationneeded = async () => {
            if (pc !== this.pc) return;
            try {
                this.makingOffer = true;
                await setLocal(pc);
                this.offerDelivered = this.sendData({description: pc.localDescription.toJSON()});
                this.watchOffer(pc, ufragOf(pc.localDescription), OFFER_RESENDS);
            } catch (err) {
                console.warn('offer failed', err);
            } finally {
                this.makingOffer = false;
            }
        };
        pc.onicecandidate = ({candidate}) => {
            if (pc !== this.pc) return;
            this.sendData({candidate: candidate ? candidate.toJSON() : null});
        };
        pc.ontrack = ({track}) => {
            // A renegotiation (an ICE restart after a resume, say) fires ontrack again for the
            // same track: removing and re-adding it would leave a <video> frozen on its last frame.
            if (pc !== this.pc || this.remoteStream.getTracks().includes(track)) return;
            for (const old of this.remoteStream.getTracks()) {
                if (old.kind === track.kind) this.remoteStream.removeTrack(old);
            }
            this.remoteStream.addTrack(track);
            this.emit('track', this.remoteStream);
        };
        pc.onsignalingstatechange = () => {
            if (pc !== this.pc || pc.signalingState !== 'stable' || !pc.remoteDescription) return;
            this.settled = true;
            this.applyVideoCap();
        };
        pc.oniceconnectionstatechange = () => {
            if (pc !== this.pc) return;
            const s = pc.iceConnectionState;
            clearTimeout(this.restartTimer);
            if (s === 'failed') this.watch.trouble('ice failed');
            else if (s === 'disconnected') {
                this.restartTimer = setTimeout(() => {
                    if (pc === this.pc && pc.iceConnectionState === 'disconnected') this.watch.trouble('ice disconnected');
                }, DISCONNECTED_GRACE_MS);
            } else if (s === 'connected' || s === 'completed') this.watch.poll();
        };
        pc.onconnectionstatechange = () => {
            if (pc === this.pc) this.emit('state', pc.connectionState);
        };
        pc.ondatachannel = ({channel}) => {
            if (pc === this.pc && channel.label === 'chat') this.setChannel(channel);
        };
        return pc;
    }

    setChannel(channel) {
        this.channel = channel;
        this.emit('channel', channel);
    }

    /* Our transceivers: one audio and one video, sending whatever local track we have. */
    addLocalTransceivers() {
        for (const kind of ['audio', 'video']) {
            const track = this.localTrack(kind);
            const init = {direction: 'sendrecv', streams: this.localStream ? [this.localStream] : []};
            this.pc.addTransceiver(track || kind, init);
        }
    }

    /* After a remote offer: send our tracks on the transceivers it created. */
    attachLocalTracks() {
        for (const t of this.pc.getTransceivers()) {
            if (t.stopped || t.currentDirection === 'stopped') continue;
            const kind = t.receiver.track && t.receiver.track.kind;
            if (!kind || t.sender.track) continue;
            const track = this.localTrack(kind);
            if (track) t.sender.replaceTrack(track).catch((err) => console.warn('replaceTrack', err));
            if (this.localStream && t.sender.setStreams) t.sender.setStreams(this.localStream);
            t.direction = 'sendrecv';
        }
    }

    localTrack(kind) {
        if (kind === 'video') return this.videoTrack;
        if (!this.localStream) return null;
        return this.localStream.getTracks().find((t) => t.kind === kind) || null;
    }

    /* The first offer, made by the peer that was in the room first. */
    offer() {
        this.setChannel(this.pc.createDataChannel('chat'));
        this.addLocalTransceivers(); // fires negotiationneeded
    }

    /* The DTLS fingerprints' SDPs, for the security code: {local, remote} (null until known). */
    descriptions() {
        const l = this.pc.currentLocalDescription || this.pc.localDescription;
        const r = this.pc.currentRemoteDescription || this.pc.remoteDescription;
        return {local: l ? l.sdp : null, remote: r ? r.sdp : null};
    }

    handle(data) {
        this.queue = this.queue.then(() => this.handleNow(data)).catch((err) => console.warn('signal', err));
    }

    async handleNow(data) {
        if (this.closed || !data || typeof data !== 'object') return;
        if (data.description) {
            await this.onDescription(data.description);
        } else if ('candidate' in data) {
            await this.onCandidate(data.candidate);
        }
    }

    async onDescription(description) {
        let pc = this.pc;
        const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        if (description.type === 'offer' && pc.remoteDescription && ufragOf(description) !== ufragOf(pc.remoteDescription)) {
            this.watch.remoteRestart();
        }
        if (this.ignoreOffer) return;
        if (collision && !this.settled) {
            // Chromium: a brand-new connection that rolls back its first offer never gathers
            // candidates again. Start over with a fresh connection and answer the remote offer.
            this.recreate();
            pc = this.pc;
        }
        await pc.setRemoteDescription(description);
        if (description.type === 'offer') {
            this.attachLocalTracks();
            await setLocal(pc);
            this.sendData({description: pc.localDescription.toJSON()});
        }
        for (const c of this.pendingCandidates.splice(0)) await this.onCandidate(c);
    }

    async onCandidate(candidate) {
        const pc = this.pc;
        if (!pc.remoteDescription) {
            this.pendingCandidates.push(candidate);
            return;
        }
        try {
            if (candidate) await pc.addIceCandidate(candidate);
            else await pc.addIceCandidate();
        } catch (err) {
            if (!this.ignoreOffer && candidate) console.warn('addIceCandidate', err);
        }
    }

    /* Replaces the connection with a new one (same remote stream object, so videos keep going). */
    recreate() {
        const old = this.pc;
        old.onnegotiationneeded = old.onicecandidate = old.ontrack = null;
        old.oniceconnectionstatechange = old.onconnectionstatechange = old.onsignalingstatechange = null;
        old.close();
        const pending = this.pendingCandidates;
        this.createPc();
        this.pendingCandidates = pending;
        this.emit('recreated');
    }

    /* True while ICE has a working pair. */
    connected() {
        const s = this.pc.iceConnectionState;
        return s === 'connected' || s === 'completed';
    }

    restartIce(why) {
        if (this.closed) return;
        console.info(`ICE restart for ${this.id}: ${why}`);
        const pc = this.pc;
        if (!this.settled && !pc.remoteDescription) return; // nothing negotiated yet
        if (pc.restartIce) {
            pc.restartIce();
            return;
        }
        // No restartIce (older Safari): an offer with iceRestart, once the connection is stable.
        if (pc.signalingState !== 'stable' || this.makingOffer) return;
        this.makingOffer = true;
        pc.createOffer({iceRestart: true})
            .then((offer) => pc.setLocalDescription(offer))
            .then(() => {
                this.offerDelivered = this.sendData({description: pc.localDescription.toJSON()});
                this.watchOffer(pc, ufragOf(pc.localDescription), OFFER_RESENDS);
            })
            .catch((err) => console.warn('ICE restart offer', err))
            .finally(() => {
                this.makingOffer = false;
            });
    }

    /* Sends our offer again while it waits for an answer. */
    resendOffer() {
        const pc = this.pc;
        if (this.closed || pc.signalingState !== 'have-local-offer' || !pc.localDescription) return;
        console.info(`offer sent again to ${this.id}`);
        this.offerDelivered = this.sendData({description: pc.localDescription.toJSON()});
    }

    /* Sends the offer (with the candidates gathered since) again every OFFER_RESEND_MS while it is
     * still unanswered: the same offer, as long as its ICE credentials (ufrag) stay. */
    watchOffer(pc, ufrag, left) {
        clearTimeout(this.offerTimer);
        if (left <= 0) return;
        this.offerTimer = setTimeout(() => {
            if (pc !== this.pc || pc.signalingState !== 'have-local-offer' || ufragOf(pc.localDescription) !== ufrag) return;
            this.resendOffer();
            this.watchOffer(pc, ufrag, left - 1);
        }, OFFER_RESEND_MS);
    }

    updateIceServers(iceServers) {
        this.config.iceServers = iceServers;
        try {
            this.pc.setConfiguration({...this.pc.getConfiguration(), iceServers});
        } catch (err) {
            console.warn('setConfiguration', err);
        }
    }

    /* Caps the video this pair sends (null: no cap), so that a mesh of four stays within what a
     * phone's uplink and CPU can carry: every other participant gets its own copy. */
    setVideoCap(cap) {
        const changed = JSON.stringify(cap) !== JSON.stringify(this.videoCap);
        this.videoCap = cap;
        if (changed) this.applyVideoCap(true);
    }

    async applyVideoCap(force = false) {
        const cap = this.videoCap;
        if (!cap && !force) return;
        for (const t of this.pc.getTransceivers()) {
            if (t.stopped || !t.receiver.track || t.receiver.track.kind !== 'video') continue;
            const p = t.sender.getParameters();
            if (!p.encodings || !p.encodings.length) continue;
            const e = p.encodings[0];
            if (cap) Object.assign(e, cap);
            else {
                delete e.maxBitrate;
                e.scaleResolutionDownBy = 1;
            }
            await t.sender.setParameters(p).catch((err) => console.warn('setParameters', err));
        }
    }

    /* Makes our video encoder start again with a key frame (pausing the stream for a moment: no
     * API asks for a key frame directly), after a break that left the other side's decoder
     * waiting for one. */
    async refreshVideo() {
        for (const t of this.pc.getTransceivers()) {
            const s = t.sender;
            if (t.stopped || !s.track || s.track.kind !== 'video') continue;
            try {
                const off = s.getParameters();
                if (!off.encodings || !off.encodings.length) continue;
                off.encodings[0].active = false;
                await s.setParameters(off);
                const on = s.getParameters();
                on.encodings[0].active = true;
                await s.setParameters(on);
            } catch (err) {
                console.warn('refreshVideo', err);
            }
        }
    }

    /* The video to send (a track, or null for none): replaced in place, no renegotiation. */
    setVideoTrack(track) {
        this.videoTrack = track;
        this.setLocalStream(this.localStream);
    }

    setLocalStream(stream) {
        this.localStream = stream;
        for (const t of this.pc.getTransceivers()) {
            const kind = t.receiver.track && t.receiver.track.kind;
            if (!kind || t.stopped) continue;
            const track = this.localTrack(kind);
            if (t.sender.track !== track) t.sender.replaceTrack(track).catch(() => {});
        }
    }

    close() {
        this.closed = true;
        clearTimeout(this.restartTimer);
        clearTimeout(this.offerTimer);
        this.watch.stop();
        if (this.channel) this.channel.close();
        this.pc.close();
        for (const t of this.remoteStream.getTracks()) this.remoteStream.removeTrack(t);
    }
}
