// A vc.v1 WebSocket that comes back by itself: backoff with jitter, keepalive pings, wake-ups.
import {Emitter} from './emitter.js';

const PING_EVERY_MS = 15000;
const PONG_WAIT_MS = 8000;
// After a sign that the network changed (media stopped, the browser went offline), a socket that
// does not answer a ping this quickly is taken for dead: a phone that left the Wi-Fi keeps a
// socket that nothing will ever reach.
const SUSPECT_WAIT_MS = 1000;
// After a network change the first connection attempts may come before the new route: retry
// these few quickly, without the backoff.
const FAST_RETRIES = 6;
const FAST_RETRY_MS = 250;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;

/*
 * The base of the call's signalling client and the dashboard's feed. A subclass implements
 * opened() (the first messages on a new connection) and received(msg) (each server message).
 * Events: 'status' ('connecting' | 'open' | 'reconnecting' | 'closed'); a subclass emits 'open'
 * itself (markOpen) once the server has answered its first messages. suspected is true from
 * suspect() until the socket answers (trusted() is called then) or is replaced.
 */
export class ReconnectingSocket extends Emitter {
    constructor() {
        super();
        this.ws = null;
        this.finished = false;
        this.attempt = 0;
        this.timers = {ping: 0, pong: 0, retry: 0};
        this.suspected = false;
        this.fastRetries = 0;
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
            this.opened();
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
            if (msg && typeof msg.type === 'string') this.received(msg);
        };
        ws.onclose = (ev) => {
            if (ws !== this.ws) return;
            this.dropped(`close ${ev.code}`);
        };
        ws.onerror = () => {}; // onclose follows and decides
    }

    /* The server answered: the connection is good, the next drop starts the backoff afresh. */
    markOpen() {
        this.attempt = 0;
        this.fastRetries = 0;
        this.emit('status', 'open');
    }

    /* The connection is gone (closed, or silent too long): try again unless we are done (at once
     * when now: the network changed, so no backoff). */
    dropped(why, now = false) {
        const ws = this.ws;
        const suspected = this.suspected;
        this.ws = null;
        this.suspected = false;
        this.stopPing();
        this.lost();
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
        // Closed while suspected: the network changed under it, so no backoff either.
        if (now || suspected) {
            this.fastRetries = FAST_RETRIES;
            this.connect();
        } else this.scheduleRetry();
    }

    /* The network may have changed under the socket: ping it, and replace it unless it answers
     * within SUSPECT_WAIT_MS. Subclasses hold back what they send meanwhile (suspected). */
    suspect(why) {
        if (this.finished) return;
        if (!this.ws) {
            this.retryNow();
            return;
        }
        if (this.ws.readyState !== WebSocket.OPEN || this.suspected) return;
        this.suspected = true;
        if (!this.sendPing()) return;
        clearTimeout(this.timers.pong);
        this.timers.pong = setTimeout(() => this.dropped(`no answer after ${why}`, true), SUSPECT_WAIT_MS);
    }

    /* The network came back (online): a new socket at once, whatever the old one says. */
    reconnectNow(why) {
        if (this.finished) return;
        if (this.ws) this.dropped(why, true);
        else {
            this.fastRetries = FAST_RETRIES;
            clearTimeout(this.timers.retry);
            this.connect();
        }
    }

    /* For subclasses: the socket answered after suspect(). */
    trusted() {}

    /* For subclasses: forget what belonged to the connection that just went. */
    lost() {}

    scheduleRetry() {
        if (this.finished) return;
        const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
        let delay = Math.min(BACKOFF_MAX_MS, base + Math.random() * base * 0.5);
        if (this.fastRetries > 0) {
            this.fastRetries--;
            delay = FAST_RETRY_MS;
        }
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
        if (!this.sendPing()) return;
        clearTimeout(this.timers.pong);
        this.timers.pong = setTimeout(() => this.dropped('no pong'), PONG_WAIT_MS);
    }

    sendPing() {
        return this.rawSend({type: 'ping'});
    }

    stopPing() {
        clearInterval(this.timers.ping);
        clearTimeout(this.timers.pong);
    }

    gotTraffic() {
        clearTimeout(this.timers.pong);
        if (!this.suspected) return;
        this.suspected = false;
        this.trusted();
    }

    rawSend(obj) {
        if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
        this.ws.send(JSON.stringify(obj));
        return true;
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
        this.lost();
        if (ws) {
            ws.onopen = ws.onmessage = ws.onclose = null;
            // Give the last message a moment to leave before closing.
            setTimeout(() => ws.close(1000), last ? 200 : 0);
        }
    }
}
