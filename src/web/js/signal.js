// WebSocket client for the vc.v1 protocol: join, resume after drops with backoff, keepalive pings.
import {Emitter} from './emitter.js';

const PING_EVERY_MS = 15000;
const PONG_WAIT_MS = 8000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;
const OUTBOX_MAX = 300;

/* Messages after which the server is done with us: no reconnect. */
const FINAL_TYPES = new Set(['room-ended', 'denied']);
const FINAL_ERRORS = new Set(['invalid_token', 'room_full']);
/* Errors to a join that mean "not now": reconnect with backoff and join again. */
const RETRY_ERRORS = new Set(['rate_limited', 'unavailable']);

/*
 * Events: 'message' (msg) for every server message and also msg.type as its own event;
 * 'status' ('connecting' | 'open' | 'reconnecting' | 'closed').
 * getPrecheck() supplies the precheck booleans sent with every join.
 */
export class SignalClient extends Emitter {
    constructor({token, getPrecheck}) {
        super();
        this.token = token;
        this.getPrecheck = getPrecheck || (() => undefined);
        this.ws = null;
        this.resume = null;
        this.joined = false; // true between joined and the connection's end
        this.finished = false;
        this.attempt = 0;
        this.outbox = []; // signal messages sent while the socket was down
        this.timers = {ping: 0, pong: 0, retry: 0};
        this.onOnline = () => this.retryNow();
        // A phone that slept may hold a dead socket: check it as soon as the page is visible again.
        this.onVisible = () => {
            if (document.visibilityState !== 'visible') return;
            if (!this.ws) this.retryNow();
            else if (this.ws.readyState === WebSocket.OPEN) this.probe();
        };
        window.addEventListener('online', this.onOnline);
        document.addEventListener('visibilitychange', this.onVisible);
    }

    start() {
        this.connect();
    }

    connect() {
        if (this.finished) return;
        clearTimeout(this.timers.retry);
        this.emit('status', this.attempt === 0 ? 'connecting' : 'reconnecting');
        let ws;
        try {
            ws = new WebSocket(`wss://${location.host}/ws`, 'vc.v1');
        } catch (err) {
            console.error('websocket', err);
            this.scheduleRetry();
            return;
        }
        this.ws = ws;
        ws.onopen = () => {
            if (ws !== this.ws) return;
            const join = {type: 'join', token: this.token};
            if (this.resume) join.resume = this.resume;
            const precheck = this.getPrecheck();
            if (precheck) join.precheck = precheck;
            this.rawSend(join);
            this.startPing();
        };
        ws.onmessage = (ev) => {
            if (ws !== this.ws) return;
            this.gotTraffic();
            let msg;
            try {
                msg = JSON.parse(ev.data);
            } catch {
                return;
            }
            if (!msg || typeof msg.type !== 'string') return;
            this.handle(msg);
        };
        ws.onclose = (ev) => {
            if (ws !== this.ws) return;
            this.dropped(`close ${ev.code}`);
        };
        ws.onerror = () => {}; // onclose follows and decides
    }

    handle(msg) {
        if (msg.type === 'joined') {
            const resumed = Boolean(this.resume) && this.joined === false && this.everJoined;
            this.resume = msg.resume || null;
            this.joined = true;
            this.everJoined = true;
            this.attempt = 0;
            this.emit('status', 'open');
            msg.resumed = resumed && msg.peer === this.peerId;
            this.peerId = msg.peer;
            if (!msg.resumed) this.outbox = [];
            this.flushOutbox();
        } else if (msg.type === 'waiting') {
            this.attempt = 0;
            this.waiting = true;
            this.emit('status', 'open');
        } else if (msg.type === 'admitted') {
            this.waiting = false;
        } else if (msg.type === 'error' && RETRY_ERRORS.has(msg.code) && !this.joined && !this.waiting) {
            // Our join itself was refused for now (rate limit, or the service's registry is
            // briefly away): try again later on a new connection.
            this.emit('message', msg);
            this.dropped(`join refused for now: ${msg.code}`);
            return;
        }
        if (FINAL_TYPES.has(msg.type) || (msg.type === 'error' && FINAL_ERRORS.has(msg.code))) {
            this.finish();
        }
        this.emit('message', msg);
        this.emit(msg.type, msg);
    }

    /* The connection is gone (closed, or silent too long): try again unless we are done. */
    dropped(why) {
        const ws = this.ws;
        this.ws = null;
        this.joined = false;
        this.waiting = false;
        this.stopPing();
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = null;
            try {
                ws.close();
            } catch {
                /* already closing */
            }
        }
        if (this.finished) return;
        console.info('signalling connection lost:', why);
        this.scheduleRetry();
    }

    scheduleRetry() {
        if (this.finished) return;
        const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
        const delay = Math.min(BACKOFF_MAX_MS, base + Math.random() * base * 0.5);
        this.attempt++;
        this.emit('status', 'reconnecting');
        clearTimeout(this.timers.retry);
        this.timers.retry = setTimeout(() => this.connect(), delay);
    }

    retryNow() {
        if (!this.finished && !this.ws) this.connect();
    }

    startPing() {
        this.stopPing();
        this.timers.ping = setInterval(() => this.probe(), PING_EVERY_MS);
    }

    /* A ping that must be answered (by anything) within PONG_WAIT_MS, or the socket is dead. */
    probe() {
        if (!this.rawSend({type: 'ping'})) return;
        clearTimeout(this.timers.pong);
        this.timers.pong = setTimeout(() => this.dropped('no pong'), PONG_WAIT_MS);
    }

    stopPing() {
        clearInterval(this.timers.ping);
        clearTimeout(this.timers.pong);
    }

    gotTraffic() {
        clearTimeout(this.timers.pong);
    }

    rawSend(obj) {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
        this.ws.send(JSON.stringify(obj));
        return true;
    }

    /* Sends a message; signal messages wait for the resumed connection while the socket is down. */
    send(type, fields = {}) {
        const msg = {type, ...fields};
        // A guest in the lobby may only update its pre-call check.
        const allowed = this.joined || (this.waiting && type === 'precheck');
        if (allowed && this.rawSend(msg)) return true;
        if (type === 'signal' && this.outbox.length < OUTBOX_MAX) this.outbox.push(msg);
        return false;
    }

    flushOutbox() {
        const queued = this.outbox;
        this.outbox = [];
        for (const msg of queued) this.rawSend(msg);
    }

    /* Stops for good: no more reconnects. Sends `last` first when given (leave, end). */
    finish(last) {
        if (last) this.rawSend({type: last});
        this.finished = true;
        clearTimeout(this.timers.retry);
        this.stopPing();
        window.removeEventListener('online', this.onOnline);
        document.removeEventListener('visibilitychange', this.onVisible);
        this.emit('status', 'closed');
    }

    close(last) {
        this.finish(last);
        const ws = this.ws;
        this.ws = null;
        this.joined = false;
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = null;
            // Give the last message a moment to leave before closing.
            setTimeout(() => ws.close(1000), last ? 200 : 0);
        }
    }
}
