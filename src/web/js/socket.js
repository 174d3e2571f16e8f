// A vc.v1 WebSocket that comes back by itself: backoff with jitter, keepalive pings, wake-ups.
import {Emitter} from './emitter.js';

const PING_EVERY_MS = 15000;
const PONG_WAIT_MS = 8000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_MAX_MS = 10000;

/*
 * The base of the call's signalling client and the dashboard's feed. A subclass implements
 * opened() (the first messages on a new connection) and received(msg) (each server message).
 * Events: 'status' ('connecting' | 'open' | 'reconnecting' | 'closed'); a subclass emits 'open'
 * itself (markOpen) once the server has answered its first messages.
 */
export class ReconnectingSocket extends Emitter {
    constructor() {
        super();
        this.ws = null;
        this.finished = false;
        this.attempt = 0;
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
        this.emit('status', 'open');
    }

    /* The connection is gone (closed, or silent too long): try again unless we are done. */
    dropped(why) {
        const ws = this.ws;
        this.ws = null;
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
        this.scheduleRetry();
    }

    /* For subclasses: forget what belonged to the connection that just went. */
    lost() {}

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
