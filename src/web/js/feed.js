// The dashboard's live waiting area: a watch socket that reconnects, resyncs and carries actions.
import {ReconnectingSocket} from './socket.js';

const ANSWER_WAIT_MS = 8000;
const OFFLINE = {code: 'offline', message: 'Not connected. Wait until the list is live again, then try again.'};

/*
 * Sends `watch` on every connection (the answer, `rooms`, replaces the whole list, so a gap in
 * the feed loses nothing). Events: 'status' ('connecting' | 'open' | 'reconnecting' | 'closed':
 * 'open' once the list is in), 'rooms' (the rooms message), 'room' (an entry), 'room-gone' (id),
 * 'admitted' ({room, peer}: our admit went through), 'forbidden' (no clinician session: stopped),
 * 'error' (an error no action of ours caused).
 *
 * The server answers each connection's messages in order, so every action is followed by a
 * `ping`: an error that comes before that ping's `pong` is the action's, and the pong alone means
 * it went through. pending holds one entry per ping in flight, {kind, resolve, error}.
 */
export class WatchFeed extends ReconnectingSocket {
    constructor() {
        super();
        this.pending = [];
    }

    opened() {
        this.act({type: 'watch'}, 'watch');
    }

    lost() {
        for (const p of this.pending) if (p.resolve) p.resolve(OFFLINE);
        this.pending = [];
    }

    sendPing() {
        if (!this.rawSend({type: 'ping'})) return false;
        this.pending.push({kind: null});
        return true;
    }

    received(msg) {
        switch (msg.type) {
        case 'pong': {
            const p = this.pending.shift();
            if (p && p.resolve) p.resolve(p.error || null);
            return;
        }
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
            return this.emit('admitted', {room: msg.room, peer: msg.peer});
        default:
            return undefined;
        }
    }

    onError(msg) {
        const head = this.pending[0]; // the oldest ping in flight follows the message that failed
        if (!head || !head.kind) return this.emit('error', msg);
        if (!head.error) head.error = {code: msg.code, message: msg.message};
        if (head.kind === 'watch' && msg.code === 'forbidden') {
            this.finish();
            this.emit('forbidden');
        }
    }

    /* Sends msg and a ping; resolves null when it went through, else {code, message}. */
    act(msg, kind) {
        if (!this.rawSend(msg) || !this.rawSend({type: 'ping'})) return Promise.resolve(OFFLINE);
        return new Promise((resolve) => {
            const entry = {kind, error: null, resolve: null};
            const timer = setTimeout(() => {
                entry.resolve = null; // the entry stays in line for its pong
                resolve({code: 'timeout', message: 'No answer from the server. Try again.'});
            }, ANSWER_WAIT_MS);
            entry.resolve = (err) => {
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
