// The call's full mesh: one PeerLink (RTCPeerConnection) per other participant, up to MAX_PEERS,
// with who each one is (role, name) and what they send (video, a shared screen).
import {Emitter} from './emitter.js';
import {PeerLink} from './peer.js';
import {t} from './i18n.js';

export const MAX_PEERS = 3; // other participants: 4 in a call at most in the browser
// With two or more others, each gets its own copy of our video: at most this much each.
const MESH_VIDEO_CAP = {maxBitrate: 600000, scaleResolutionDownBy: 2};

/* "Clinician", "Patient" or "Guest" (someone who came with an invite), in the page's language. */
export function roleLabel(person) {
    if (!person) return t('role.someone');
    if (person.role === 'host') return t('role.clinician');
    return t(person.invited ? 'role.guest' : 'role.patient');
}

/* What to call a person: their name, else their role. */
export function displayName(person) {
    return (person && person.name) || roleLabel(person);
}

/*
 * send(to, data) sends a signal. Events: 'peer-added' (link), 'peer-removed' (id), 'state' (id:
 * a link's RTCPeerConnectionState changed), 'channel' (id, RTCDataChannel), 'person' (person:
 * name, away or what they send changed), 'full' (person: over MAX_PEERS, not connected),
 * 'trouble' (id, why: a link started reconnecting).
 */
export class Mesh extends Emitter {
    constructor({send}) {
        super();
        this.send = send;
        this.links = new Map(); // id -> PeerLink
        this.people = new Map(); // id -> {id, role, name, invited, away, video, screen}
        this.self = null;
        this.role = null;
        this.polite = false;
        this.iceServers = [];
        this.relayOnly = false;
        this.localStream = null;
        this.videoTrack = null;
    }

    /* The joined message's view of this peer and the room. */
    configure(m) {
        this.self = m.peer;
        this.role = m.role;
        this.polite = Boolean(m.polite);
        this.iceServers = Array.isArray(m.ice_servers) ? m.ice_servers : [];
        this.relayOnly = Boolean(m.relay_only);
    }

    remember(p) {
        const old = this.people.get(p.peer) || {video: true, screen: false, away: false};
        const person = {...old, id: p.peer, role: p.role === 'host' ? 'host' : 'guest', name: typeof p.name === 'string' ? p.name : old.name || '', invited: Boolean(p.invited)};
        this.people.set(p.peer, person);
        this.emit('person', person);
        return person;
    }

    /* After joined: a fresh join waits for the others' offers; a resume keeps the links that are
     * still wanted (sending a pending offer again, or restarting ICE where it is not connected:
     * health.js decides who restarts) and offers to the peers that came while it was away. Two
     * sides restarting at once (both resumed after their signalling node was lost) would collide,
     * and Chromium's rollback of the colliding restart left the remote video frozen: media that
     * still flows is left alone. */
    joined(peers, resumed) {
        const listed = new Map((peers || []).map((p) => [p.peer, p]));
        for (const id of [...this.people.keys()]) if (!listed.has(id)) this.people.delete(id);
        for (const p of listed.values()) this.remember(p);
        if (!resumed) {
            for (const id of [...this.links.keys()]) this.removeLink(id);
            return;
        }
        for (const [id, link] of this.links) {
            if (!listed.has(id)) this.remove(id);
            else {
                link.updateIceServers(this.iceServers);
                link.watch.resumed();
            }
        }
        for (const id of listed.keys()) if (!this.links.has(id)) this.addLink(id, true);
    }

    /* A newcomer: we were here first, so we offer. */
    peerJoined(p) {
        if (p.peer === this.self) return;
        this.removeLink(p.peer);
        this.remember(p);
        this.addLink(p.peer, true);
    }

    setAway(id, away) {
        const person = this.people.get(id);
        if (!person) return;
        person.away = away;
        this.emit('person', person);
        // Back on a new connection: what we sent it meanwhile may be lost.
        const link = this.links.get(id);
        if (!away && link) link.watch.peerBack();
    }

    /* This side's network changed (why): every link whose media stopped restarts ICE at once. */
    networkChanged(why) {
        for (const link of this.links.values()) link.watch.networkChanged(why);
    }

    /* "Try again" on a lost connection: that link, or every lost one. */
    retry(id) {
        for (const [lid, link] of this.links) if (!id || id === lid) link.watch.retry();
    }

    /* What a peer says it sends ({video, screen}, from its data channel). */
    setSending(id, state) {
        const person = this.people.get(id);
        if (!person) return;
        Object.assign(person, state);
        this.emit('person', person);
    }

    /* earlier: we were in the room first, so we make the first offer. Null when the call is
     * already as big as a browser takes. */
    addLink(id, earlier) {
        const person = this.people.get(id) || this.remember({peer: id, role: 'guest'});
        if (this.links.size >= MAX_PEERS) {
            this.emit('full', person);
            return null;
        }
        const link = new PeerLink({
            id,
            role: person.role,
            polite: this.politeTowards(person.role, earlier),
            iceServers: this.iceServers,
            relayOnly: this.relayOnly,
            localStream: this.localStream,
            videoTrack: this.videoTrack,
            send: (data) => this.send(id, data),
        });
        link.on('state', () => this.emit('state', id));
        link.on('trouble', (why) => this.emit('trouble', id, why));
        link.on('channel', (ch) => this.emit('channel', id, ch));
        this.links.set(id, link);
        this.capVideo();
        this.emit('peer-added', link);
        if (earlier) link.offer();
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
        this.capVideo();
        this.emit('peer-removed', id);
    }

    /* Two people: the camera as it comes. More: a cap on each copy (MESH_VIDEO_CAP). */
    capVideo() {
        const cap = this.links.size >= 2 ? MESH_VIDEO_CAP : null;
        for (const link of this.links.values()) link.setVideoCap(cap);
    }

    /* The peer left the call. */
    remove(id) {
        this.removeLink(id);
        this.people.delete(id);
    }

    signal(from, data) {
        if (!from || !data) return;
        let link = this.links.get(from);
        if (!link) {
            // The first message from a peer that was here before us: its offer.
            if (!data.description || data.description.type !== 'offer') return;
            link = this.addLink(from, false);
            if (!link) return;
        }
        link.handle(data);
    }

    setLocalStream(stream) {
        this.localStream = stream;
        for (const link of this.links.values()) link.setLocalStream(stream);
    }

    /* The video every pair sends: the camera, a shared screen, or null (video off). */
    setVideoTrack(track) {
        this.videoTrack = track;
        for (const link of this.links.values()) link.setVideoTrack(track);
    }

    closeAll() {
        for (const id of [...this.links.keys()]) this.removeLink(id);
        this.people.clear();
    }
}
