// Helpers for the browser tests: config, the Chromium launch, page watchers, flows and checks.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

export { sleep };

function need(name) {
    const v = process.env[name];
    if (!v) throw new Error(`environment variable ${name} is not set (run tests/integration/e2e.sh)`);
    return v;
}

// Read when first used, so that a suite with servers of its own (test_networks.mjs) can import
// the helpers without e2e.sh's environment.
const lazy = {
    baseUrl: () => need('VC_BASE_URL'),
    port: () => Number(need('VC_PORT')),
    apiKey: () => need('VC_API_KEY'),
    ca: () => fs.readFileSync(need('VC_CA')),
    metricsUrl: () => need('VC_METRICS_URL'),
    email: () => need('VC_EMAIL'),
    password: () => need('VC_PASSWORD'),
    shots: () => need('VC_SCREENSHOTS'),
};
export const cfg = {
    chromium: process.env.VC_CHROMIUM || '/usr/bin/chromium',
    // The clinic day's clinicians (test_clinic.mjs): Dr Ames in teams Clinic and Renal, Dr Bell
    // in Clinic; same password.
    amesEmail: process.env.VC_AMES_EMAIL || '',
    bellEmail: process.env.VC_BELL_EMAIL || '',
    resumeGrace: Number(process.env.VC_RESUME_GRACE || 0),
    // vc-signal's metadata log, its own log and its data directory: the canary checks.
    signalMeta: process.env.VC_SIGNAL_META || '',
    signalLog: process.env.VC_SIGNAL_LOG || '',
    dataDir: process.env.VC_DATA_DIR || '',
};
for (const [key, read] of Object.entries(lazy)) {
    Object.defineProperty(cfg, key, {
        enumerable: true,
        configurable: true,
        get() {
            const v = read();
            Object.defineProperty(cfg, key, { value: v, enumerable: true });
            return v;
        },
    });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

// Bounded waits: every Playwright wait in the suite is at most this long unless a test says so.
export const WAIT_MS = 15000;

// A failed expectation: the message says what the page did.
export class Fail extends Error {}

export function assert(cond, why) {
    if (!cond) throw new Fail(why);
}

// --- the browser ---------------------------------------------------------------------------------

// Never lets Playwright fetch a browser: Debian's chromium, fake camera and microphone, no network
// beyond loopback and the machine's own address (the resolver maps every other name to nothing).
// With VC_E2E_REAL_PERMISSIONS=1 (e2e_mesh.sh) Chromium's own permissions decide instead of the
// fake UI that accepts every prompt: each party grants its camera and microphone (newParty), and
// a test can take the camera away. opts (test_networks.mjs): executablePath (a wrapper that runs
// Chromium in a network namespace), exclude (the IP addresses the page and the TURN server have
// there: an address the resolver rules do not EXCLUDE fails, silently for TURN over TCP and TLS),
// and args (more flags).
export async function launchBrowser({ executablePath = cfg.chromium, exclude = ['localhost', '127.0.0.1'], args = [] } = {}) {
    const fakeUi = process.env.VC_E2E_REAL_PERMISSIONS === '1' ? [] : ['--use-fake-ui-for-media-stream'];
    return chromium.launch({
        executablePath,
        headless: true,
        timeout: 30000,
        args: [...fakeUi,
            '--no-sandbox',
            '--disable-gpu',
            '--disable-dev-shm-usage',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--disable-quic',
            '--use-fake-device-for-media-stream',
            `--host-resolver-rules=MAP * ~NOTFOUND, ${exclude.map((a) => `EXCLUDE ${a}`).join(', ')}`,
            ...args,
        ],
    });
}

// Runs in every page before its own scripts (CDP-injected, so the page's CSP does not apply):
// keeps each WebSocket the page opens (so a test can drop it), the types of the messages sent on
// it and the kind of each signal (offer, answer, candidate; never contents), each frame's length
// both ways, the type and error code of each frame received, whether a frame held the test's
// marker (window.__e2e.canary), each RTCPeerConnection with its iceTransportPolicy, and CSP
// violation events.
export const INIT_SCRIPT = `(() => {
    const Native = window.WebSocket;
    const sockets = [];
    const sent = [];
    const pcs = [];
    const received = [];
    const e2e = { sockets, sent, received, pcs, csp: [], canary: '' };
    Object.defineProperty(window, '__e2e', { value: e2e, enumerable: false });
    const marked = (data) => !!e2e.canary && typeof data === 'string' && data.includes(e2e.canary);
    const size = (data) => (typeof data === 'string' ? data.length : data.byteLength || data.size || 0);
    function Wrapped(url, protocols) {
        const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
        sockets.push(ws);
        const send = ws.send.bind(ws);
        ws.send = (data) => {
            const base = { t: Date.now(), len: size(data), canary: marked(data) };
            try {
                const m = JSON.parse(data);
                const d = m.type === 'signal' && m.data && typeof m.data === 'object' ? m.data : null;
                const kind = d ? (d.description ? d.description.type : 'candidate') : undefined;
                sent.push({ ...base, type: m.type, resume: !!m.resume, kind, video: m.type === 'stats' ? m.video : undefined });
            } catch (e) {
                sent.push({ ...base, type: '?' });
            }
            return send(data);
        };
        ws.addEventListener('message', (ev) => {
            const r = { t: Date.now(), len: size(ev.data), canary: marked(ev.data) };
            try {
                const m = JSON.parse(ev.data);
                r.type = m.type;
                r.code = m.code;
            } catch (e) {
                r.type = '?';
            }
            received.push(r);
        });
        return ws;
    }
    Wrapped.prototype = Native.prototype;
    for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = Native[k];
    window.WebSocket = Wrapped;
    const NativePC = window.RTCPeerConnection;
    if (NativePC) {
        window.RTCPeerConnection = class extends NativePC {
            constructor(config, ...rest) {
                super(config, ...rest);
                pcs.push({ pc: this, policy: (config && config.iceTransportPolicy) || 'all' });
            }
        };
    }
    document.addEventListener('securitypolicyviolation', (e) => {
        const v = 'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
            ' at ' + (e.sourceFile || '') + ':' + (e.lineNumber || 0);
        window.__e2e.csp.push(v);
        console.error('Content Security Policy: ' + v);
    });
})();`;

// A browser context for one party, with camera and microphone (and any other `permissions`)
// granted and watchers on every page it opens. ctx.problems collects CSP violations and uncaught
// page errors; ctx.notes collects console errors worth showing but not failing on.
export async function newParty(browser, name, viewport, permissions = []) {
    const granted = ['camera', 'microphone', ...permissions];
    const context = await browser.newContext({
        viewport,
        ignoreHTTPSErrors: true,
        permissions: granted,
        locale: 'en-GB',
    });
    await context.grantPermissions(granted, { origin: cfg.baseUrl });
    context.setDefaultTimeout(WAIT_MS);
    await context.addInitScript(INIT_SCRIPT);
    const party = { name, context, problems: [], notes: [] };
    context.on('page', (page) => watchPage(party, page));
    party.page = await context.newPage();
    return party;
}

function watchPage(party, page) {
    page.on('console', (msg) => {
        const text = msg.text();
        if (/Content[- ]Security[- ]Policy/i.test(text)) party.problems.push(`${party.name}: ${text}`);
        else if (msg.type() === 'error' && !/status of 401/.test(text)) party.notes.push(`${party.name} console error: ${text}`);
    });
    page.on('pageerror', (err) => {
        party.problems.push(`${party.name}: uncaught ${err.name}: ${err.message}`);
    });
}

// Fails when any party's pages had a CSP violation or an uncaught error; prints console errors.
export function checkProblems(...parties) {
    const problems = parties.flatMap((p) => p.problems);
    for (const p of parties) for (const n of p.notes.slice(0, 10)) console.log(`# ${n}`);
    assert(problems.length === 0, problems.slice(0, 5).join('; '));
}

export async function closeParties(...parties) {
    for (const p of parties) if (p) await p.context.close().catch(() => {});
}

// --- screenshots ---------------------------------------------------------------------------------

// Writes NAME-phone.png and NAME-desktop.png of the page, then restores its viewport.
export async function shoot(page, name) {
    const orig = page.viewportSize();
    for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
        await page.setViewportSize(size);
        await sleep(250);
        await page.screenshot({ path: path.join(cfg.shots, `${name}-${label}.png`), fullPage: true });
    }
    if (orig) await page.setViewportSize(orig);
}

// --- locators ------------------------------------------------------------------------------------

export function tid(page, id) {
    return page.locator(`[data-testid="${id}"]`);
}

export async function visible(page, id, timeout = WAIT_MS) {
    const loc = tid(page, id).first();
    try {
        await loc.waitFor({ state: 'visible', timeout });
    } catch (e) {
        throw new Fail(`[data-testid=${id}] not visible within ${timeout} ms on ${page.url()}`);
    }
    return loc;
}

export async function click(page, id, timeout = WAIT_MS) {
    const loc = await visible(page, id, timeout);
    await loc.click({ timeout });
    return loc;
}

// The visible text of an element, squeezed.
export async function textOf(loc) {
    return ((await loc.innerText().catch(() => '')) || (await loc.textContent()) || '')
        .replace(/\s+/g, ' ')
        .trim();
}

// --- the clinician's flow ------------------------------------------------------------------------

/* Makes the page see itself as a background tab (hidden) or not, as a switch of tabs would:
 * document.hidden, visibilityState and the visibilitychange event. */
export async function setHidden(page, hidden) {
    await page.evaluate((h) => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
        document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
}

export async function login(party, email = cfg.email) {
    const page = party.page;
    await page.goto(cfg.baseUrl + '/', { waitUntil: 'domcontentloaded' });
    await (await visible(page, 'login-email')).fill(email);
    await (await visible(page, 'login-password')).fill(cfg.password);
    if (party.shootLogin) await shoot(page, 'login');
    await click(page, 'login-submit');
    await visible(page, 'new-room-button');
}

// The patient link: an input's value, a link's href, or the element's text.
export async function patientLink(page) {
    const loc = await visible(page, 'patient-link');
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
        const v = await loc.evaluate((el) => {
            if ('value' in el && typeof el.value === 'string' && el.value) return el.value;
            if (el.href) return el.href;
            return el.textContent || '';
        });
        const m = /https?:\/\/\S+\/join#[A-Za-z0-9_.~-]+/.exec(v.trim());
        if (m) return m[0];
        if (Date.now() > deadline) throw new Fail(`patient-link holds no /join#TOKEN URL: "${v}"`);
        await sleep(200);
    }
}

// Creates a consultation on the dashboard (relay-only when asked); returns the patient link.
export async function createRoom(party, { relayOnly = false, shotName = null } = {}) {
    const page = party.page;
    const toggle = await visible(page, 'relay-only-toggle');
    if (relayOnly) await toggle.check();
    else if (await toggle.isChecked()) await toggle.uncheck();
    await click(page, 'new-room-button');
    const link = await patientLink(page);
    if (shotName) {
        await visible(page, 'join-button').catch(() => {}); // the dashboard's own call preview
        await sleep(1000);
        await shoot(page, shotName);
    }
    return link;
}

// Finds the host's own link on the dashboard after a room was created: a /join#TOKEN link that is
// not the patient link (data-testid host-link, join-as-host or start-call if the page has one).
export async function hostLink(page, guestUrl) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
        const hrefs = await page.evaluate(() => {
            const out = [];
            for (const id of ['host-link', 'join-as-host', 'start-call', 'host-join']) {
                const el = document.querySelector(`[data-testid="${id}"]`);
                if (el) out.push(el.href || el.value || el.dataset.href || el.textContent || '');
            }
            for (const a of document.querySelectorAll('a[href*="/join#"]')) out.push(a.href);
            for (const i of document.querySelectorAll('input')) out.push(i.value || '');
            return out;
        });
        const guestToken = guestUrl.split('#')[1];
        for (const h of hrefs) {
            const m = /https?:\/\/\S+\/join#([A-Za-z0-9_.~-]+)/.exec(h);
            if (m && m[1] !== guestToken) return m[0];
        }
        if (Date.now() > deadline)
            throw new Fail('the dashboard shows no host link (a /join#TOKEN other than the patient link)');
        await sleep(200);
    }
}

// The clinician joins the call as host. inTab false: in the dashboard's own call view (its
// join-button after the camera preview); inTab true: through the dashboard's host link, opened in
// a second tab of the same context. Returns the page with the call.
export async function hostJoin(party, guestUrl, { inTab = false } = {}) {
    let page = party.page;
    if (inTab) {
        const url = await hostLink(party.page, guestUrl);
        page = await party.context.newPage();
        await page.goto(url, { waitUntil: 'domcontentloaded' });
    }
    party.call = page;
    await click(page, 'join-button');
    return page;
}

// --- the patient's flow --------------------------------------------------------------------------

export async function patientOpen(party, url, shotName = null) {
    const page = party.page;
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await visible(page, 'join-button');
    if (shotName) {
        await sleep(1000); // let the preview and the pre-call check settle
        await shoot(page, shotName);
    }
    return page;
}

// --- media checks --------------------------------------------------------------------------------

// Frames decoding on the first remote-video: videoWidth > 0 and currentTime (and, where the
// browser reports it, decoded frames) advancing over about 1.5 s. Polls up to timeout ms.
export async function videoFlowing(page, timeout = WAIT_MS) {
    const loc = tid(page, 'remote-video').first();
    try {
        await loc.waitFor({ state: 'attached', timeout });
    } catch (e) {
        throw new Fail(`no remote-video element within ${timeout} ms`);
    }
    const sample = () =>
        loc.evaluate((v) => ({
            tag: v.tagName,
            w: v.videoWidth,
            h: v.videoHeight,
            t: v.currentTime,
            paused: v.paused,
            frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
            hasSrc: !!v.srcObject,
        }));
    const deadline = Date.now() + timeout;
    let a, b;
    for (;;) {
        a = await sample();
        await sleep(1500);
        b = await sample();
        if (b.w > 0 && b.t > a.t && (b.frames < 0 || b.frames > a.frames)) return b;
        if (Date.now() > deadline) break;
    }
    throw new Fail(
        `remote video not decoding: ${b.tag} videoWidth ${b.w}, currentTime ${a.t}->${b.t}, ` +
            `frames ${a.frames}->${b.frames}, paused ${b.paused}, srcObject ${b.hasSrc}`
    );
}

// Waits until connection-path's data-path is one of the wanted paths (connecting, direct,
// relayed: the page's words differ by role and language); returns which.
export async function pathReads(page, wanted, timeout = WAIT_MS) {
    const loc = await visible(page, 'connection-path', timeout);
    const deadline = Date.now() + timeout;
    let path = '';
    for (;;) {
        path = (await loc.getAttribute('data-path').catch(() => '')) || '';
        if (wanted.includes(path)) return path;
        if (Date.now() > deadline) break;
        await sleep(250);
    }
    throw new Fail(`connection-path is "${path}" ("${await textOf(loc)}"), want ${wanted.join(' or ')}`);
}

// The newest RTCPeerConnection's state and selected candidate pair, read from getStats():
// {n, policy, state, local, remote} with candidate types (host, srflx, prflx, relay).
export async function selectedPair(page) {
    return page.evaluate(async () => {
        const list = window.__e2e.pcs;
        if (!list.length) return { n: 0 };
        const { pc, policy } = list[list.length - 1];
        const out = { n: list.length, policy, state: pc.connectionState, local: null, remote: null };
        const stats = await pc.getStats();
        let pair = null;
        stats.forEach((s) => {
            if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
        });
        if (!pair)
            stats.forEach((s) => {
                if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
            });
        if (pair) {
            const l = stats.get(pair.localCandidateId);
            const r = stats.get(pair.remoteCandidateId);
            out.local = l && l.candidateType;
            out.remote = r && r.candidateType;
        }
        return out;
    });
}

// The ICE username fragment of the newest RTCPeerConnection's local description ('' if none).
export async function localUfrag(page) {
    return page.evaluate(() => {
        const list = window.__e2e.pcs;
        const pc = list.length ? list[list.length - 1].pc : null;
        const sdp = (pc && pc.localDescription && pc.localDescription.sdp) || '';
        const m = /a=ice-ufrag:(\S+)/.exec(sdp);
        return m ? m[1] : '';
    });
}

// --- servers -------------------------------------------------------------------------------------

// Sum of every sample of a Prometheus metric on vc-turn's endpoint.
export function metric(name) {
    return new Promise((resolve, reject) => {
        http.get(cfg.metricsUrl, { timeout: 3000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (body += c));
            res.on('end', () => {
                let sum = 0;
                for (const line of body.split('\n')) {
                    const key = line.split(/[ {]/)[0];
                    if (key === name) sum += Number(line.trim().split(/\s+/).pop()) || 0;
                }
                resolve(sum);
            });
        }).on('error', reject);
    });
}

// One REST call to vc-signal over 127.0.0.1 with the dev CA; resolves {status, body}.
export function api(method, urlPath, body) {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: '127.0.0.1',
                port: cfg.port,
                servername: 'localhost',
                ca: cfg.ca,
                method,
                path: urlPath,
                timeout: 5000,
                headers: {
                    Host: `localhost:${cfg.port}`,
                    Authorization: `Bearer ${cfg.apiKey}`,
                    ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}),
                },
            },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (c) => (text += c));
                res.on('end', () => {
                    let json = null;
                    try {
                        json = text ? JSON.parse(text) : null;
                    } catch (e) {
                        /* not JSON */
                    }
                    resolve({ status: res.statusCode, body: json, text });
                });
            }
        );
        req.on('timeout', () => req.destroy(new Error('request timed out')));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

// Results of a runner: report(NAME, err) prints "ok NAME" or "FAIL NAME: why" (with a short
// stack for unexpected errors) and counts; summary() prints "N passed, N failed".
export function reporter() {
    const r = {
        passed: 0,
        failed: 0,
        report(name, err) {
            if (!err) {
                console.log(`ok ${name}`);
                r.passed++;
                return;
            }
            const why = err instanceof Fail ? err.message : `${err.name || 'Error'}: ${err.message}`;
            console.log(`FAIL ${name}: ${why.split('\n')[0]}`);
            if (!(err instanceof Fail) && err.stack) {
                for (const l of err.stack.split('\n').slice(1, 6)) console.log(`#   ${l.trim()}`);
            }
            r.failed++;
        },
        summary() {
            console.log(`${r.passed} passed, ${r.failed} failed`);
        },
    };
    return r;
}
