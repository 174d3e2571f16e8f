// The call's vc.v1 client: join by link token or (a clinician) by room id, resume after drops.
import {ReconnectingSocket} from './socket.js';

const OUTBOX_MAX = 300;

/* Messages after which the server is done with us: no reconnect. */
const FINAL_TYPES = new Set(['room-ended', 'denied', 'removed']);
const FINAL_ERRORS = new Set(['invalid_token', 'room_full']);
/* Errors to a join that mean "not now": reconnect with backoff and join again. */
const RETRY_ERRORS = new Set(['rate_limited', 'unavailable']);

/*
 * Events: 'message' (msg) for every server message and also msg.type as its own event (except
 * for a `message` message, which comes once, as 'message'); 'status' ('connecting' | 'open' |
 * 'reconnecting' | 'closed'). getPrecheck() supplies the precheck booleans sent with every token
 * join. store ({load, save, clear}, optional) keeps a waiting guest's resume token across a
 * reload of the page, so it keeps its place in the queue. name is the display name sent with
 * every join (a resume too: a room taken over by another node has forgotten it).
 */
export class SignalClient extends ReconnectingSocket {
    constructor({token, room, getPrecheck, store, name = ''}) {
        super();
        this.token = token;
        this.room = room;
        this.name = name;
        this.getPrecheck = getPrecheck || (() => undefined);
        this.store = store || null;
        this.resume = (this.store && this.store.load()) || null;
        this.joined = false; // true between joined and the connection's end
        this.waiting = false;
        this.outbox = []; // signal messages sent while the socket was down
    }

    opened() {
        const join = this.room ? {type: 'join', room: this.room} : {type: 'join', token: this.token};
        if (this.resume) join.resume = this.resume;
        if (this.name) join.name = this.name;
        const precheck = this.room ? undefined : this.getPrecheck();
        if (precheck) join.precheck = precheck;
        this.rawSend(join);
    }

    lost() {
        this.joined = false;
        this.waiting = false;
    }

    received(msg) {
        if (msg.type === 'joined') {
            const resumed = Boolean(this.resume) && this.joined === false && this.everJoined;
            this.resume = msg.resume || null;
            // The name the others see (typed, or the invite's): a resume sends it back.
            if (typeof msg.name === 'string' && msg.name) this.name = msg.name;
            // In the call a reload starts afresh (the page says leave when it goes): only a
            // waiting guest's place is kept across one.
            if (this.store) this.store.clear();
            this.joined = true;
            this.everJoined = true;
            this.markOpen();
            msg.resumed = resumed && msg.peer === this.peerId;
            this.peerId = msg.peer;
            if (!msg.resumed) this.outbox = [];
            this.flushOutbox();
        } else if (msg.type === 'waiting') {
            this.waiting = true;
            if (msg.resume) {
                this.resume = msg.resume;
                if (this.store) this.store.save(msg.resume);
            }
            this.markOpen();
        } else if (msg.type === 'admitted') {
            this.waiting = false;
        } else if (msg.type === 'error' && RETRY_ERRORS.has(msg.code) && !this.joined && !this.waiting) {
            // Our join itself was refused for now (rate limit, or the service's registry is
            // briefly away): try again later on a new connection.
            this.emit('message', msg);
            this.dropped(`join refused for now: ${msg.code}`);
            return;
        }
        const refused = msg.type === 'error' && msg.code === 'forbidden' && this.room && !this.joined;
        if (FINAL_TYPES.has(msg.type) || (msg.type === 'error' && FINAL_ERRORS.has(msg.code)) || refused) {
            this.finish();
        }
        this.emit('message', msg);
        if (msg.type !== 'message') this.emit(msg.type, msg);
    }

    /* Sends a message; signal messages wait for the resumed connection while the socket is down,
     * or suspected of being dead (they go as soon as it answers). */
    send(type, fields = {}) {
        const msg = {type, ...fields};
        // A guest in the lobby may only update its pre-call check.
        const allowed = this.joined || (this.waiting && type === 'precheck');
        const hold = type === 'signal' && this.suspected;
        if (allowed && !hold && this.rawSend(msg)) return true;
        if (type === 'signal' && this.outbox.length < OUTBOX_MAX) this.outbox.push(msg);
        return false;
    }

    trusted() {
        if (this.joined) this.flushOutbox();
    }

    flushOutbox() {
        const queued = this.outbox;
        this.outbox = [];
        for (const msg of queued) this.rawSend(msg);
    }

    /* Stops for good (see ReconnectingSocket.finish): there is no place left to keep. */
    finish(last) {
        if (this.store) this.store.clear();
        super.finish(last);
    }
}
