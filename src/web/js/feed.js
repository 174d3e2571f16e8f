// The dashboard's live waiting area: a watch socket that reconnects, resyncs and carries actions.
import {ReconnectingSocket} from './socket.js';

const ANSWER_WAIT_MS = 8000;
// With several vc-signal nodes, an action on a room another node holds is answered from there,
// after this node's pong: an action is taken to have gone through only this long after its pong.
const SETTLE_MS = 1500;
const OFFLINE = {code: 'offline'};

/*
 * Sends `watch` on every connection (the answer, `rooms`, replaces the whole list, so a gap in
 * the feed loses nothing). Events: 'status' ('connecting' | 'open' | 'reconnecting' | 'closed':
 * 'open' once the list is in), 'rooms' (the rooms message), 'room' (an entry), 'room-gone' (id),
 * 'admitted' ({room, peer}: our admit went through), 'forbidden' (no clinician session: stopped),
 * 'error' (an error no action of ours caused).
 *
 * A node answers each connection's messages in order, so every action is followed by a `ping`:
 * an error that comes before that ping's `pong` is the action's. An action on a room another
 * node holds is answered from there, later than the pong: an error that comes when no action
 * waits for its pong belongs to the oldest action still settling (SETTLE_MS after its pong).
 * pending holds one entry per ping in flight ({kind: null} for keepalives); settling the actions
 * past their pong. An admit is done as soon as its `admitted` comes.
 */
export class WatchFeed extends ReconnectingSocket {
    constructor() {
        super();
        this.pending = [];
        this.settling = [];
    }

    opened() {
        this.act({type: 'watch'}, 'watch');
    }

    lost() {
        for (const p of this.pending) if (p.done) p.done(OFFLINE);
        for (const p of this.settling) p.done(null); // its node took it; the answer is lost
        this.pending = [];
        this.settling = [];
    }

    sendPing() {
        if (!this.rawSend({type: 'ping'})) return false;
        this.pending.push({kind: null});
        return true;
    }

    received(msg) {
        switch (msg.type) {
        case 'pong':
            return this.onPong();
        case 'error':
            return this.onError(msg);
        case 'rooms':
            this.markOpen();
            return this.emit('rooms', msg);
        case 'room':
            return this.emit('room', msg);
        case 'room-gone':
            return this.emit('room-gone', msg.id);
        case 'admitted':
            return this.onAdmitted(msg);
        default:
            return undefined;
        }
    }

    onPong() {
        const p = this.pending.shift();
        if (!p || !p.kind) return;
        if (p.error || p.kind === 'watch' || p.admitted) {
            p.done(p.error);
            return;
        }
        this.settling.push(p);
        p.settleTimer = setTimeout(() => this.settled(p, null), SETTLE_MS);
    }

    settled(p, err) {
        const i = this.settling.indexOf(p);
        if (i >= 0) this.settling.splice(i, 1);
        clearTimeout(p.settleTimer);
        p.done(err);
    }

    onError(msg) {
        const err = {code: msg.code, message: msg.message, by: msg.by};
        const head = this.pending[0]; // the oldest ping in flight follows the message that failed
        if (head && head.kind) {
            if (!head.error) head.error = err;
            if (head.kind === 'watch' && msg.code === 'forbidden') {
                this.finish();
                this.emit('forbidden');
            }
            return;
        }
        if (this.settling.length) this.settled(this.settling[0], err);
        else this.emit('error', msg);
    }

    onAdmitted(msg) {
        const mine = (p) => p.kind === 'admit' && p.room === msg.room && p.peer === msg.peer;
        const early = this.pending.find(mine);
        if (early) early.admitted = true;
        const late = this.settling.find(mine);
        if (late) this.settled(late, null);
        this.emit('admitted', {room: msg.room, peer: msg.peer});
    }

    /* Sends msg and a ping; resolves null when it went through, else {code, message}. */
    act(msg, kind) {
        if (!this.rawSend(msg) || !this.rawSend({type: 'ping'})) return Promise.resolve(OFFLINE);
        return new Promise((resolve) => {
            const entry = {kind, room: msg.room, peer: msg.peer, error: null, admitted: false};
            let over = false;
            const timer = setTimeout(() => entry.done({code: 'timeout'}), ANSWER_WAIT_MS);
            entry.done = (err) => { // once; the entry keeps its place in line for its pong
                if (over) return;
                over = true;
                clearTimeout(timer);
                resolve(err);
            };
            this.pending.push(entry);
        });
    }

    admit(room, peer) {
        return this.act({type: 'admit', room, peer}, 'admit');
    }

    deny(room, peer) {
        return this.act({type: 'deny', room, peer}, 'deny');
    }

    /* A message to one waiting patient (peer) or every one waiting in the room (no peer). */
    message(room, peer, text) {
        return this.act(peer ? {type: 'lobby-message', room, peer, text} : {type: 'lobby-message', room, text}, 'message');
    }

    handover(room, to) {
        return this.act({type: 'handover', room, to}, 'handover');
    }
}
