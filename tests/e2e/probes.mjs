// Checks that run inside the page in any engine (Chromium, Firefox, WebKit) and the few flows the
// cross-engine and network suites share. A Tab wraps one page of any driver through its
// evaluate(fn, arg): playwright-core's and puppeteer-core's page.evaluate, or a WebDriver
// session's script (webdriver.mjs). The page functions below are sent as source, so each stands
// alone.
import { setTimeout as sleep } from 'node:timers/promises';
import { Fail, assert } from './lib.mjs';

// --- in the page ---------------------------------------------------------------------------------

/* Decoded video frames, summed over the page's open RTCPeerConnections (window.__e2e.pcs), from
 * the browser's own getStats (inbound-rtp framesDecoded), and how many are open. */
async function pageFrames() {
    const list = (window.__e2e && window.__e2e.pcs) || [];
    let frames = 0;
    let open = 0;
    for (const { pc } of list) {
        if (pc.connectionState === 'closed' || pc.signalingState === 'closed') continue;
        open++;
        const stats = await pc.getStats();
        stats.forEach((s) => {
            if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.mediaType === 'video')) frames += s.framesDecoded || 0;
        });
    }
    return { frames, open };
}

/* The newest open RTCPeerConnection's selected candidate pair: each end's candidate type,
 * protocol and (for a relay candidate) the protocol to the TURN server. */
async function pagePair() {
    const list = ((window.__e2e && window.__e2e.pcs) || []).filter(({ pc }) => pc.signalingState !== 'closed');
    if (!list.length) return { n: 0 };
    const { pc, policy } = list[list.length - 1];
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) || pair;
    });
    if (!pair)
        stats.forEach((s) => {
            if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s;
        });
    const side = (id) => {
        const c = id && stats.get(id);
        return c ? { type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol || '', address: c.address || c.ip || '' } : null;
    };
    return {
        n: list.length,
        policy,
        state: pc.connectionState,
        ice: pc.iceConnectionState,
        local: pair ? side(pair.localCandidateId) : null,
        remote: pair ? side(pair.remoteCandidateId) : null,
    };
}

/* {shown, text} of the first element with data-testid=id. */
function pageShown(id) {
    const el = document.querySelector(`[data-testid="${id}"]`);
    if (!el) return { shown: false, text: '' };
    const shown = !el.closest('[hidden]') && el.getClientRects().length > 0;
    return { shown, text: (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim() };
}

function pageClick(id) {
    const el = document.querySelector(`[data-testid="${id}"]`);
    if (!el || el.disabled || el.closest('[hidden]')) return false;
    el.click();
    return true;
}

export const PAGE = { pageFrames, pagePair, pageShown, pageClick };

// --- the driver side -----------------------------------------------------------------------------

const READ_MS = 1500;
const READ_TRIES = 10;
const LATE = Symbol('late');

/* One page of any driver: evaluate(fn, arg) runs fn(arg) in the page and resolves its result. */
export class Tab {
    constructor(name, evaluate, goto) {
        this.name = name;
        this.evaluate = evaluate;
        this.goto = goto;
    }

    static playwright(name, page) {
        return new Tab(name, (fn, arg) => page.evaluate(fn, arg), (url) => page.goto(url, { waitUntil: 'domcontentloaded' }));
    }

    /* Firefox over BiDi now and then never answers one script call (seen once in a cold start);
     * a read that takes over READ_MS is asked again, at most READ_TRIES times. A click is not
     * repeated: it may have run. */
    static puppeteer(name, page) {
        const evaluate = async (fn, arg) => {
            if (fn === pageClick) return page.evaluate(fn, arg);
            for (let i = 1; ; i++) {
                const late = sleep(READ_MS).then(() => LATE);
                const asked = page.evaluate(fn, arg);
                asked.catch(() => {}); // an abandoned call may still fail later
                const r = await Promise.race([asked, late]);
                if (r !== LATE) return r;
                if (i === READ_TRIES) throw new Fail(`${name}: the page did not answer ${fn.name} in ${READ_TRIES} x ${READ_MS} ms`);
                console.log(`# ${name}: ${fn.name} unanswered after ${READ_MS} ms, asking again`);
            }
        };
        return new Tab(name, evaluate, (url) => page.goto(url, { waitUntil: 'domcontentloaded' }));
    }

    frames() {
        return this.evaluate(pageFrames);
    }

    pair() {
        return this.evaluate(pagePair);
    }

    shown(id) {
        return this.evaluate(pageShown, id);
    }

    /* Waits until [data-testid=id] is shown (its text matching re, when given); resolves its text. */
    async visible(id, timeout = 15000, re = null) {
        const deadline = Date.now() + timeout;
        let last = { shown: false, text: '' };
        for (;;) {
            last = await this.shown(id);
            if (last.shown && (!re || re.test(last.text))) return last.text;
            if (Date.now() > deadline) break;
            await sleep(100);
        }
        throw new Fail(`${this.name}: [data-testid=${id}] ${last.shown ? `reads "${last.text}"` : 'not shown'} after ${timeout} ms`);
    }

    async click(id, timeout = 15000) {
        await this.visible(id, timeout);
        assert(await this.evaluate(pageClick, id), `${this.name}: [data-testid=${id}] could not be clicked`);
    }
}

/* Waits until the tab decodes video frames (framesDecoded above `above`); resolves the count. */
export async function framesAbove(tab, above = 0, timeout = 15000, step = 100) {
    const deadline = Date.now() + timeout;
    let last = { frames: 0, open: 0 };
    for (;;) {
        last = await tab.frames();
        if (last.frames > above) return last.frames;
        if (Date.now() > deadline) break;
        await sleep(step);
    }
    throw new Fail(`${tab.name}: no decoded video frames past ${above} within ${timeout} ms (getStats: ${last.frames} over ${last.open} connections)`);
}

/* When decoded video came back on a tab after a break: polls framesDecoded every 100 ms; a count
 * unchanged for STALL_MS is the break, and the first poll past it by 2 frames the way back
 * (the same measure as the first decoded frame of a call). Resolves that Date.now(), or null
 * when the video never broke within noBreakMs. */
const STALL_MS = 600;
export async function framesBack(tab, timeout = 20000, noBreakMs = 4000) {
    const start = Date.now();
    const deadline = start + timeout;
    let last = (await tab.frames()).frames;
    let since = Date.now();
    let stalled = null;
    for (;;) {
        await sleep(100);
        const f = (await tab.frames()).frames;
        const now = Date.now();
        if (stalled !== null && f >= stalled + 2) return now;
        if (f !== last) {
            last = f;
            since = now;
        } else if (stalled === null && now - since >= STALL_MS) stalled = f;
        if (stalled === null && now - start > noBreakMs) return null;
        if (now > deadline) break;
    }
    throw new Fail(`${tab.name}: decoded video ${stalled === null ? 'never stopped' : `stopped at ${stalled} frames`} and did not come back within ${timeout} ms`);
}

/* Video keeps decoding on both tabs: framesDecoded rises over about a second on each. */
export async function framesRising(...tabs) {
    const before = await Promise.all(tabs.map((t) => t.frames()));
    await Promise.all(tabs.map((t, i) => framesAbove(t, before[i].frames, 5000)));
}

/* The host opens its link and starts the call; the patient opens the guest link, joins and waits.
 * Resolves once the host can admit. */
export async function upToAdmit(host, guest, hostUrl, guestUrl) {
    await host.goto(hostUrl);
    await host.click('join-button', 20000);
    await guest.goto(guestUrl);
    await guest.click('join-button', 20000);
    await guest.visible('waiting');
    await host.visible('admit-button', 20000);
}

/* Admits and times the call: ms from the click to the first decoded frame on both sides. */
export async function admitTimed(host, guest) {
    const t0 = Date.now();
    await host.click('admit-button');
    await Promise.all([framesAbove(guest, 0, 20000, 50), framesAbove(host, 0, 20000, 50)]);
    return Date.now() - t0;
}

/* Hangs up both sides (whatever state they are in). */
export async function hangUp(...tabs) {
    for (const t of tabs) await t.evaluate(pageClick, 'hangup-button').catch(() => false);
}
