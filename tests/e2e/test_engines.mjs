// Calls across browser engines (run by tests/integration/e2e_engines.sh through run.mjs, whose
// Chromium is one side): Debian's Firefox ESR, driven over WebDriver BiDi by puppeteer-core with
// its fake camera and microphone, calls Chromium as the patient and as the clinician, direct and
// relay-only, with decoded video both ways (each browser's own getStats) and the chosen candidate
// pairs checked; and WebKitGTK (WebKitWebDriver under xvfb-run) opens the patient page, runs the
// device check and joins the waiting room, or, where the build has no WebRTC, says so in plain
// words. Firefox starts once for the file (teardown() ends it); WebKit once for its test.
import puppeteer from 'puppeteer-core';
import { api, assert, DESKTOP, INIT_SCRIPT } from './lib.mjs';
import { Tab, upToAdmit, admitTimed, framesRising, hangUp } from './probes.mjs';
import { WebKitDriver } from './webdriver.mjs';

const FIREFOX = process.env.VC_FIREFOX || '/usr/bin/firefox-esr';
const SETUP_LIMIT_MS = 5000;

// Firefox: fake media and no prompts; host candidates as addresses (not mDNS names, which
// Chromium behind --host-resolver-rules cannot resolve); and every request that is not to this
// machine sent to a dead proxy on loopback (port 9), so nothing leaves it.
const FIREFOX_PREFS = {
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    'media.autoplay.default': 0,
    'media.autoplay.blocking_policy': 0,
    'media.peerconnection.ice.obfuscate_host_addresses': false,
    'media.peerconnection.ice.loopback': true, // the TURN server of e2e.sh listens on 127.0.0.1
    'network.proxy.type': 1,
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': 9,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': 9,
    'network.proxy.no_proxies_on': 'localhost, 127.0.0.1',
    'network.dns.disablePrefetch': true,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'app.update.enabled': false,
    'toolkit.telemetry.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
};

let firefox = null; // the promise of the one Firefox of this file

function startFirefox() {
    if (!firefox) {
        firefox = puppeteer.launch({
            browser: 'firefox',
            executablePath: FIREFOX,
            headless: true,
            acceptInsecureCerts: true,
            protocolTimeout: 30000,
            extraPrefsFirefox: FIREFOX_PREFS,
        }).then(async (b) => {
            console.log(`# ${await b.version()} (puppeteer-core over WebDriver BiDi)`);
            // A first page and script call, so that the first case does not pay for them.
            const warm = await b.createBrowserContext();
            await (await warm.newPage()).evaluate(() => 1).catch(() => {});
            await warm.close().catch(() => {});
            return b;
        });
    }
    return firefox;
}

export async function teardown() {
    if (firefox) await (await firefox.catch(() => null))?.close().catch(() => {});
}

/* A fresh Firefox context with the page's watchers; t.closers ends it. */
async function firefoxTab(t, name) {
    const context = await (await startFirefox()).createBrowserContext();
    t.closers.push(() => context.close());
    const page = await context.newPage();
    await page.setViewport(DESKTOP);
    await page.evaluateOnNewDocument(INIT_SCRIPT);
    const tab = Tab.puppeteer(name, page);
    tab.log = [];
    page.on('console', (m) => tab.log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => tab.log.push(`uncaught ${e.message}`));
    t.tabs.push(tab);
    return tab;
}

/* A Chromium party of run.mjs's browser (closed by the runner). */
async function chromiumTab(t, name) {
    const party = await t.party(name, DESKTOP);
    const tab = Tab.playwright(name, party.page);
    tab.log = party.notes;
    t.tabs.push(tab);
    return tab;
}

function pairText(p) {
    const end = (c) => (c ? `${c.type}/${c.protocol}` : '?');
    return `${end(p.local)} -> ${end(p.remote)}`;
}

/* A call in a fresh room: the clinician (host) and patient (guest) tabs by engine; checks setup
 * time, decoded video both ways, and the pairs (relay-only: both ends relay on each side; direct:
 * no relay). */
async function call(t, { clinician, patient, relayOnly }) {
    const made = await api('POST', '/api/v1/rooms', { relay_only: relayOnly });
    assert(made.status === 201 || made.status === 200, `POST /api/v1/rooms answered ${made.status} ${made.text}`);
    const open = { firefox: firefoxTab, chromium: chromiumTab };
    t.tabs = [];
    t.closers = t.closers || [];
    try {
        const host = await open[clinician](t, `clinician (${clinician})`);
        const guest = await open[patient](t, `patient (${patient})`);
        await upToAdmit(host, guest, made.body.host_url, made.body.guest_url);
        const ms = await admitTimed(host, guest);
        await framesRising(host, guest);
        const seen = [];
        for (const tab of [host, guest]) {
            const p = await tab.pair();
            assert(p.local && p.remote, `${tab.name}: no selected candidate pair (${p.state})`);
            const relayed = [p.local.type, p.remote.type].filter((x) => x === 'relay').length;
            if (relayOnly) {
                assert(p.policy === 'relay' && p.local.type === 'relay', `${tab.name}: policy ${p.policy}, pair ${pairText(p)}: want a local relay`);
            } else assert(relayed === 0, `${tab.name}: the pair is ${pairText(p)}, want a direct one`);
            seen.push(`${tab.name} ${pairText(p)}`);
        }
        console.log(`# ${clinician} clinician, ${patient} patient, ${relayOnly ? 'relay-only' : 'direct'}: admit to first decoded frame both ways ${ms} ms; ${seen.join('; ')}`);
        assert(ms < SETUP_LIMIT_MS, `admit to first decoded frame took ${ms} ms (limit ${SETUP_LIMIT_MS} ms)`);
        await hangUp(host, guest);
    } catch (e) {
        for (const tab of t.tabs) for (const l of (tab.log || []).slice(-15)) console.log(`#   ${tab.name} ${l}`);
        throw e;
    } finally {
        for (const close of t.closers.splice(0)) await close().catch(() => {});
    }
}

// --- WebKit ----------------------------------------------------------------------------------------

/* The patient page in WebKitGTK's MiniBrowser (args: its WebKitSettings flags): loads, runs the
 * device check and either joins the waiting room (WebRTC there) or shows the plain-words message
 * that this browser cannot make video calls (none). Resolves what it saw. */
async function webkitPatient(driver, args, url) {
    const s = await driver.session(args);
    try {
        await s.goto(url);
        const tab = new Tab('patient (WebKit)', (fn, arg) => s.evaluate(fn, arg), (u) => s.goto(u));
        const has = await s.evaluate(() => ({
            rtc: typeof window.RTCPeerConnection === 'function',
            gum: Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
            ua: navigator.userAgent,
        }));
        if (!has.rtc || !has.gum) {
            const text = await tab.visible('call-ended', 15000);
            return { ...has, text };
        }
        // The device check: the camera preview plays and the check list says the camera works.
        await tab.visible('join-button', 15000);
        const check = await tab.visible('device-checks', 15000, /Camera: working/);
        await tab.click('join-button');
        const waiting = await tab.visible('waiting', 15000);
        return { ...has, check, waiting };
    } finally {
        await s.close();
    }
}

/* The patient page in WebKit: with WebRTC (where the build has it) it checks the devices and
 * joins, and with WebRTC switched off it says in plain words that this browser cannot make the
 * call and what to do instead. A build without WebRTC (Debian's) proves the second at once. */
async function webkitJoins() {
    const made = await api('POST', '/api/v1/rooms', {});
    assert(made.status === 201 || made.status === 200, `POST /api/v1/rooms answered ${made.status}`);
    const driver = await WebKitDriver.start();
    const unsupported = (r) => {
        console.log(`# WebKit without WebRTC reads: "${r.text}"`);
        assert(/cannot make video calls/.test(r.text) && /Chrome, Firefox, Safari/.test(r.text) && /phone the surgery or hospital/.test(r.text),
            `WebKit without WebRTC reads "${r.text}"`);
    };
    try {
        const on = await webkitPatient(driver, ['--enable-webrtc=true', '--enable-media-stream=true', '--enable-mock-capture-devices=true'],
            made.body.guest_url);
        console.log(`# WebKit ${driver.version}: ${on.ua}; RTCPeerConnection ${on.rtc}, getUserMedia ${on.gum}`);
        if (!on.rtc || !on.gum) {
            unsupported(on);
            return;
        }
        console.log(`# WebKit: device check "${on.check}"; then "${on.waiting}"`);
        const off = await webkitPatient(driver, ['--enable-webrtc=false', '--enable-media-stream=false'], made.body.guest_url);
        assert(!off.rtc || !off.gum, 'WebKit with --enable-webrtc=false still has RTCPeerConnection and getUserMedia');
        unsupported(off);
    } finally {
        driver.stop();
    }
}

export const tests = [
    { name: 'engines_firefox_patient_calls_chromium_direct', fn: (t) => call(t, { clinician: 'chromium', patient: 'firefox', relayOnly: false }), timeout: 60000 },
    { name: 'engines_firefox_patient_calls_chromium_relay_only', fn: (t) => call(t, { clinician: 'chromium', patient: 'firefox', relayOnly: true }), timeout: 40000 },
    { name: 'engines_firefox_clinician_calls_chromium_direct', fn: (t) => call(t, { clinician: 'firefox', patient: 'chromium', relayOnly: false }), timeout: 40000 },
    { name: 'engines_firefox_clinician_calls_chromium_relay_only', fn: (t) => call(t, { clinician: 'firefox', patient: 'chromium', relayOnly: true }), timeout: 40000 },
    { name: 'engines_webkit_patient_page_joins_or_says_it_cannot_call', fn: webkitJoins, timeout: 60000 },
];

