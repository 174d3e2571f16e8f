// One RTCPeerConnection to one remote peer: perfect negotiation, trickle ICE and ICE restarts.
import {Emitter} from './emitter.js';

// Chromium already waits ~5-7 s of silence before it reports "disconnected"; wait only 1 s more
// before an ICE restart, so a call through a restarted relay is back within 10 s.
const DISCONNECTED_GRACE_MS = 1000;

/*
 * signal.data is {description} or {candidate} (null: end of candidates). The peer already in the
 * room calls offer(), which also opens the pair's data channel ("chat"); the newcomer only
 * answers, and takes the channel from ondatachannel. Events: 'track' (MediaStream, stable for the
 * link's life), 'state' (RTCPeerConnectionState), 'channel' (RTCDataChannel), 'recreated'.
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
        this.createPc();
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
                await pc.setLocalDescription();
                this.sendData({description: pc.localDescription.toJSON()});
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
            if (s === 'failed') this.restartIce('ice failed');
            else if (s === 'disconnected') {
                this.restartTimer = setTimeout(() => {
                    if (pc === this.pc && pc.iceConnectionState === 'disconnected') this.restartIce('ice disconnected');
                }, DISCONNECTED_GRACE_MS);
            }
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
            await pc.setLocalDescription();
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
        if (!this.settled && !this.pc.remoteDescription) return; // nothing negotiated yet
        this.pc.restartIce();
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
        if (this.channel) this.channel.close();
        this.pc.close();
        for (const t of this.remoteStream.getTracks()) this.remoteStream.removeTrack(t);
    }
}
