// A pair's health in the call: notices media that stops arriving (getStats), decides who restarts
// ICE and when, and how long "reconnecting" may last before the connection counts as lost.
import {Emitter} from './emitter.js';

const POLL_MS = 400;
const FLOWING_PACKETS = 4; // RTP packets a poll that count as media arriving (audio alone: ~20)
const STALL_MS = 800; // media that flowed and then stopped this long: the path is gone
// Who restarts ICE, and again every RETRY_MS while no media comes (a browser may take a second or
// two to see its new network, and gathers nothing useful on the old one meanwhile). The side whose
// own network changed: at once. Otherwise the impolite side, unless the other side's restart
// offer came lately; the polite side only when no offer came within POLITE_WAIT_MS. So the two
// seldom restart at the same moment: Chromium's rollback of a colliding restart can leave the
// remote video frozen.
const RETRY_MS = 1200;
// The side whose own network changed tries more often: its browser takes a moment to list the new
// network, and each restart before that gathers on the old one.
const OWN_RETRY_MS = 700;
// A pair that stalls this soon after the browser said our network changed stalled by our change.
const OWN_WINDOW_MS = 8000;
const POLITE_WAIT_MS = 2000;
const NEW_RESTART_GAP_MS = 3000; // while connecting the first time: one restart this often
const LOST_AFTER_MS = 12000; // reconnecting this long: "we lost the connection"

/* RTP packets received so far, from one getStats. */
async function packetsIn(pc) {
    const report = await pc.getStats();
    let packets = 0;
    report.forEach((s) => {
        if (s.type === 'inbound-rtp') packets += s.packetsReceived || 0;
    });
    return packets;
}

/*
 * link: the PeerLink watched ({id, pc, polite, closed, connected(), restartIce(why),
 * resendOffer(), refreshVideo()}). state: 'new' (not connected yet), 'ok', 'reconnecting', 'lost'. Events:
 * 'state' (state), 'trouble' (why: reconnecting starts; the signalling may be dead too).
 */
export class LinkWatch extends Emitter {
    constructor(link) {
        super();
        this.link = link;
        this.state = 'new';
        this.packets = 0;
        this.arrivals = 0; // polls in a row with media arriving
        this.flowing = false; // media arrived since the last trouble
        this.lastFlow = 0;
        this.troubleAt = 0;
        this.mediaAtTrouble = false;
        this.own = false; // this side's network changed: it leads the restarts
        this.changedAt = -Infinity; // when the browser last said our network changed
        this.lastRestart = -Infinity;
        this.remoteOfferAt = -Infinity;
        this.timers = {poll: setInterval(() => this.poll(), POLL_MS), lost: 0};
    }

    setState(state) {
        if (state === this.state) return;
        this.state = state;
        console.info(`link ${this.link.id}: ${state}`);
        this.emit('state', state);
    }

    async poll() {
        const pc = this.link.pc;
        if (this.link.closed || pc.signalingState === 'closed') return;
        let packets;
        try {
            packets = await packetsIn(pc);
        } catch {
            return;
        }
        const now = performance.now();
        const got = Math.max(0, packets - this.packets); // fewer: a new connection, counted afresh
        this.packets = packets;
        const arriving = got >= FLOWING_PACKETS;
        this.arrivals = arriving ? this.arrivals + 1 : 0;
        // The path is back: the other side's decoder waits for a key frame, and its requests for
        // one may have been lost on the way (Chromium asks again only every ~3 s): send one now.
        if (arriving && this.state !== 'ok' && this.state !== 'new' && !this.refreshed) {
            this.refreshed = true;
            this.link.refreshVideo();
        }
        if (arriving) {
            this.flowing = true;
            this.lastFlow = now;
        }
        // Back: media arrives again (two polls in a row), or, when none came before the trouble
        // (video and sound off on the other side), ICE is connected again.
        const connected = this.link.connected();
        if (connected && (this.arrivals >= 2 || (this.state !== 'ok' && !this.mediaAtTrouble))) this.healthy();
        else if (this.state === 'ok' && this.flowing && now - this.lastFlow > STALL_MS) this.trouble('media stopped');
        else if (this.state === 'reconnecting') this.maybeRestart(now, 'still no media');
    }

    healthy() {
        clearTimeout(this.timers.lost);
        this.own = false;
        this.setState('ok');
    }

    /* The browser says this side's network changed. A pair whose media still arrives is left
     * alone (the change missed its path, or the word came ahead of the break: the stall that
     * follows counts as ours); any other restarts ICE now, this side leading. */
    networkChanged(why) {
        this.changedAt = performance.now();
        if (this.state === 'ok' && this.link.connected()) return;
        this.trouble(why, {own: true});
    }

    /* Something went wrong with this pair. own: this side's network changed, so this side leads. */
    trouble(why, {own = false} = {}) {
        if (this.link.closed) return;
        const now = performance.now();
        own = own || now - this.changedAt < OWN_WINDOW_MS;
        if (this.state === 'new') {
            // Still connecting the first time: restart as before, nothing to show.
            if (own || now - this.lastRestart > NEW_RESTART_GAP_MS) this.restart(why);
            return;
        }
        if (this.state === 'lost' && !own) return; // only the network or the person tries again
        if (this.state !== 'reconnecting') this.reconnecting(why);
        if (own) {
            this.own = true;
            if (now - this.lastRestart > POLL_MS) this.restart(why); // online and a new type at once: one restart
            return;
        }
        this.maybeRestart(now, why);
    }

    /* While reconnecting: whether this side restarts ICE now (see RETRY_MS). */
    maybeRestart(now, why) {
        const since = now - this.lastRestart;
        if (this.own || now - this.changedAt < OWN_WINDOW_MS) {
            if (since >= OWN_RETRY_MS) this.restart(why);
            return;
        }
        if (since < RETRY_MS) return;
        if (!this.link.polite) {
            if (now - this.remoteOfferAt > RETRY_MS + POLL_MS) this.restart(why);
        } else if (this.remoteOfferAt < this.troubleAt && now - this.troubleAt >= POLITE_WAIT_MS) {
            this.restart(`${why}, and no offer came`);
        }
    }

    /* From 'ok' (or 'lost', on a retry): reconnecting, lost unless healthy within LOST_AFTER_MS. */
    reconnecting(why) {
        this.troubleAt = performance.now();
        this.mediaAtTrouble = this.flowing;
        this.flowing = false;
        this.arrivals = 0;
        this.refreshed = false;
        this.setState('reconnecting');
        clearTimeout(this.timers.lost);
        this.timers.lost = setTimeout(() => this.lost(), LOST_AFTER_MS);
        this.emit('trouble', why);
    }

    restart(why) {
        this.lastRestart = performance.now();
        this.link.restartIce(why);
    }

    /* The other side restarted ICE (an offer with new credentials). */
    remoteRestart() {
        this.remoteOfferAt = performance.now();
        if (this.state === 'ok') this.reconnecting('the other side restarted ICE');
    }

    /* The other side came back on a new connection: an offer we sent meanwhile may be lost. */
    peerBack() {
        if (this.link.pc.signalingState === 'have-local-offer') this.link.resendOffer();
    }

    /* Our own signalling came back (resumed): an offer sent on the dead socket is lost (one held
     * back while it was down has just gone out). */
    resumed() {
        if (this.link.pc.signalingState === 'have-local-offer') {
            if (this.link.offerDelivered) this.link.resendOffer();
        }
        else if (!this.link.connected()) this.trouble('signalling resumed');
    }

    lost() {
        if (this.state !== 'reconnecting') return;
        this.own = false;
        this.setState('lost');
    }

    /* The person pressed "Try again": this side leads, as after a change of its own network. */
    retry() {
        if (this.state === 'new' || this.link.closed) return;
        this.reconnecting('retry');
        this.own = true;
        this.restart('retry');
    }

    stop() {
        clearInterval(this.timers.poll);
        clearTimeout(this.timers.lost);
    }
}
