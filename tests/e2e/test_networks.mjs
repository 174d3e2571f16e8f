// Calls across hostile networks (run by tests/integration/e2e_networks.sh, which builds the
// namespaces and starts the servers): one Chromium per side, each in its own namespace behind its
// own NAT router, started once; each case sets the routers' nftables rules, makes a room over the
// REST API, and checks decoded video both ways (getStats framesDecoded), the chosen candidate
// pair's types and protocols, and the time from admit to the first decoded frame (< 5 s). Prints
// "ok NAME" or "FAIL NAME: why", then "N passed, N failed".
import { execFile } from 'node:child_process';
import { launchBrowser, INIT_SCRIPT, reporter, Fail, assert, sleep } from './lib.mjs';
import { Tab, upToAdmit, admitTimed, framesAbove, framesBack, framesRising, hangUp } from './probes.mjs';

function need(name) {
    const v = process.env[name];
    if (!v) throw new Error(`environment variable ${name} is not set (run tests/integration/e2e_networks.sh)`);
    return v;
}
const NET = need('VC_NET');
const SIG = need('VC_NET_SIG_IP');
const TURN = need('VC_NET_TURN_IP');
const ORIGIN = `https://${SIG}`;
const SETUP_LIMIT_MS = 5000; // admit to first decoded frame, both sides
const BACK_LIMIT_MS = 5000; // an uplink switched to decoded frames again, both sides
const only = process.env.VC_ONLY ? new RegExp(process.env.VC_ONLY) : null;

// Each side's two uplinks: the browser's address and its router on each.
const UPLINKS = {
    a: { wifi: ['198.51.100.2/28', '198.51.100.1'], mobile: ['198.51.100.18/28', '198.51.100.17'] },
    b: { wifi: ['198.51.100.34/28', '198.51.100.33'], mobile: ['198.51.100.50/28', '198.51.100.49'] },
};

// --- the network ---------------------------------------------------------------------------------

function run(cmd, args, input) {
    return new Promise((resolve, reject) => {
        const child = execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`));
            else resolve(stdout);
        });
        if (input !== undefined) child.stdin.end(input);
    });
}

// What a router forwards, by name. 'no-path' keeps only the page's HTTPS and WebSocket.
const FILTERS = {
    open: '',
    'no-udp': 'meta l4proto udp drop',
    'tcp-443': 'ct state established,related accept\n iifname "lan" tcp dport 443 accept\n drop',
    'no-path': `meta l4proto udp drop\n ip daddr ${SIG} tcp dport 443 accept\n ip saddr ${SIG} tcp sport 443 accept\n drop`,
};

/* Sets both routers of a side: nat 'friendly' (masquerade, ports kept) or 'symmetric' (a random
 * port for every destination), and a filter of FILTERS. Like a home router, each drops what comes
 * to its own address unasked: else the other side's first check would leave a conntrack entry
 * there that takes the port this side's own first packet to it needs, and the NAT would move it
 * to another port, as a symmetric NAT does. */
async function setSide(side, { nat = 'friendly', filter = 'open' } = {}) {
    const masq = nat === 'symmetric' ? 'masquerade fully-random' : 'masquerade';
    const rules = `table ip vc\ndelete table ip vc\ntable ip vc {
    chain post { type nat hook postrouting priority srcnat; policy accept; oifname "wan" ${masq}; }
    chain filt { type filter hook forward priority filter; policy accept;\n ${FILTERS[filter]}\n }
    chain in { type filter hook input priority filter; policy accept; iifname "wan" ct state new drop; }
}\n`;
    for (const kind of ['wifi', 'mobile']) await run('ip', ['netns', 'exec', `${NET}-rt-${side}-${kind}`, 'nft', '-f', '-'], rules);
}

/* Moves a side's browser to its other uplink, as a phone that leaves the Wi-Fi for the mobile data
 * it keeps connected: the Wi-Fi link goes down and loses its address, and the default route
 * moves to the mobile link (another router, so another public address too); back on the Wi-Fi,
 * its link comes up with its address and takes the route again. */
async function switchUplink(side, to) {
    const [addr, gw] = UPLINKS[side][to];
    const batch = to === 'mobile'
        ? ['link set wifi down', 'addr flush dev wifi', `route replace default via ${gw}`]
        : ['link set wifi up', `addr replace ${addr} dev wifi`, `route replace default via ${gw}`];
    await run('ip', ['-n', `${NET}-${side}`, '-batch', '-'], `${batch.join('\n')}\n`);
}

// A room over the REST API, from the internet namespace.
async function newRoom(opts = {}) {
    const out = await run('ip', ['netns', 'exec', `${NET}-inet`, 'curl', '-sS', '-m', '5', '--cacert', need('VC_NET_CA'),
        '-X', 'POST', `${ORIGIN}/api/v1/rooms`, '-H', `Authorization: Bearer ${need('VC_NET_API_KEY')}`,
        '-H', 'Content-Type: application/json', '-d', JSON.stringify(opts)]);
    const room = JSON.parse(out);
    assert(room.host_url && room.guest_url, `POST /api/v1/rooms answered ${out.slice(0, 200)}`);
    return room;
}

// --- the browsers --------------------------------------------------------------------------------

const browsers = {};

async function startBrowsers() {
    const args = [`--ignore-certificate-errors-spki-list=${need('VC_NET_CA_SPKI')}`];
    for (const side of ['a', 'b']) {
        const executablePath = need(`VC_NET_CHROMIUM_${side.toUpperCase()}`);
        browsers[side] = await launchBrowser({ executablePath, exclude: [SIG, TURN], args });
    }
    console.log(`# chromium ${browsers.a.version()}, one per namespace`);
}

/* A fresh context on a side's browser: camera and microphone granted, the page's watchers, and
 * its console kept for when a case fails. The certificate is trusted through the CA's key only
 * (no ignoreHTTPSErrors), as TURN over TLS needs. */
async function party(t, side, name) {
    const context = await browsers[side].newContext({ viewport: { width: 800, height: 600 }, locale: 'en-GB' });
    await context.grantPermissions(['camera', 'microphone'], { origin: ORIGIN });
    await context.addInitScript(INIT_SCRIPT);
    t.contexts.push(context);
    const page = await context.newPage();
    const tab = Tab.playwright(name, page);
    tab.log = [];
    tab.t = t;
    page.on('console', (m) => tab.log.push(`${((Date.now() - t.started) / 1000).toFixed(1)}s ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => tab.log.push(`uncaught ${e.message}`));
    // A browser whose network the case before switched back may still be taking that in, and
    // fails what it loads meanwhile with ERR_NETWORK_CHANGED: load the page again (3 tries).
    let changed = 0;
    page.on('requestfailed', (r) => {
        if (/ERR_NETWORK_CHANGED/.test((r.failure() && r.failure().errorText) || '')) changed++;
    });
    tab.goto = async (url) => {
        for (let i = 0; ; i++) {
            const before = changed;
            await page.goto(url, { waitUntil: 'load' }).catch((e) => {
                if (!/ERR_NETWORK_CHANGED/.test(e.message)) throw e;
                changed++;
            });
            // Ready once the join button shows (the catalogue and the camera came); a request that
            // failed meanwhile with ERR_NETWORK_CHANGED means a page that may never get there, and
            // so does one with no button after 8 s (a socket the change cut, seen once).
            const deadline = Date.now() + 8000;
            let shown = false;
            while (changed === before && Date.now() < deadline) {
                if ((shown = Boolean((await tab.shown('join-button').catch(() => ({}))).shown))) break;
                await sleep(100);
            }
            if ((changed === before && shown) || i === 2) return;
            tab.log.push(changed > before ? `page loaded again: ${changed - before} requests failed with ERR_NETWORK_CHANGED`
                : 'page loaded again: no join button after 8 s');
            await sleep(500);
        }
    };
    t.tabs.push(tab);
    return tab;
}

/* The pre-call check's word once it has finished: the patient's sentence (its level) and the
 * knock card's path (data-path), read in the pages. */
function pagePrecheck() {
    const panel = document.querySelector('[data-testid="waiting"]');
    const level = (panel && panel.dataset.network) || '';
    const said = document.querySelector(`[data-testid="${level === 'blocked' ? 'network-help' : 'network-ok'}"]`);
    const path = document.querySelector('[data-testid="knock-path"]');
    return {
        level,
        text: said && !said.hidden ? said.textContent : '',
        path: path ? path.dataset.path : '',
        pathText: path ? path.textContent : '',
    };
}

/* Waits (bounded) for the patient's network verdict and the clinician's knock path: the check
 * must end in plain words, never hang. Resolves {level, text, path, pathText, ms}. */
async function precheckSettled(host, guest, since) {
    const deadline = Date.now() + 9000;
    let g = {};
    let h = {};
    for (;;) {
        g = await guest.evaluate(pagePrecheck);
        h = await host.evaluate(pagePrecheck);
        if (g.level && g.level !== 'checking' && h.path && h.path !== 'checking') break;
        if (Date.now() > deadline)
            throw new Fail(`the pre-call check did not finish within 9 s: patient "${g.text}" (${g.level}), knock "${h.pathText}" (${h.path})`);
        await sleep(100);
    }
    return { level: g.level, text: g.text, path: h.path, pathText: h.pathText, ms: Date.now() - since };
}

/* A call between the two sides: the clinician on a, the patient on b; checks the pre-call check
 * against want ({level, path}) when given; resolves {host, guest, ms}. */
async function call(t, roomOpts = {}, want = null) {
    const room = await newRoom(roomOpts);
    const host = await party(t, 'a', 'clinician');
    const guest = await party(t, 'b', 'patient');
    const since = Date.now();
    await upToAdmit(host, guest, room.host_url, room.guest_url);
    if (want) {
        const pc = await precheckSettled(host, guest, since);
        console.log(`# pre-call check after ${pc.ms} ms: patient reads "${pc.text}"; knock card: "${pc.pathText}"`);
        assert(pc.level === want.level && pc.text && pc.path === want.path,
            `pre-call check: patient ${pc.level} ("${pc.text}"), knock ${pc.path} ("${pc.pathText}"); want ${want.level} and ${want.path}`);
    }
    const ms = await admitTimed(host, guest);
    return { host, guest, ms };
}

const PAIR_SETTLE_MS = 5000;

function pairText(p) {
    const end = (c) => (c ? `${c.type}/${c.protocol}${c.relayProtocol ? `(${c.relayProtocol})` : ''}` : '?');
    return `${end(p.local)} -> ${end(p.remote)}`;
}

/* Checks a tab's selected pair: want.relay (true/false), want.relayProtocol ('udp', 'tcp', 'tls'). */
async function checkPair(tab, want) {
    // Media may start on a relayed pair while a direct one is still being checked (one NAT drops
    // the first check until the other side's opens it); the browser moves to the direct pair once
    // it works, so the pair is read again for up to PAIR_SETTLE_MS.
    const deadline = Date.now() + PAIR_SETTLE_MS;
    let p;
    let relayed;
    for (;;) {
        p = await tab.pair();
        relayed = Boolean(p.local && p.remote) && (p.local.type === 'relay' || p.remote.type === 'relay');
        if ((p.local && p.remote && relayed === want.relay) || Date.now() > deadline) break;
        await sleep(250);
    }
    assert(p.local && p.remote, `${tab.name}: no selected candidate pair (${p.state})`);
    assert(relayed === want.relay, `${tab.name}: the selected pair is ${pairText(p)}, want ${want.relay ? 'a relay' : 'no relay'}`);
    if (want.relayProtocol)
        assert(p.local.type === 'relay' && p.local.relayProtocol === want.relayProtocol,
            `${tab.name}: the selected pair is ${pairText(p)}, want a local relay over ${want.relayProtocol}`);
    return pairText(p);
}

function setupTime(name, ms) {
    console.log(`# ${name}: admit to first decoded frame both ways ${ms} ms`);
    assert(ms < SETUP_LIMIT_MS, `${name}: admit to first decoded frame took ${ms} ms (limit ${SETUP_LIMIT_MS} ms)`);
}

// --- the cases -----------------------------------------------------------------------------------

const cases = [];
function test(name, fn, timeout = 60000) {
    cases.push({ name, fn, timeout });
}

/* A call on the networks given (side a the clinician's, b the patient's), checked both ways;
 * want: {host, guest} for checkPair. */
async function callOver(t, label, nets, want) {
    await setSide('a', nets.a);
    await setSide('b', nets.b);
    const { host, guest, ms } = await call(t, {}, want.precheck);
    await framesRising(host, guest);
    const seen = [await checkPair(host, want.host), await checkPair(guest, want.guest)];
    console.log(`# ${label}: clinician ${seen[0]}, patient ${seen[1]}`);
    setupTime(label, ms);
    return { host, guest };
}

test('net_patient_without_udp_relayed_over_tcp', (t) =>
    callOver(t, 'patient without UDP', { a: {}, b: { filter: 'no-udp' } },
        { host: { relay: true }, guest: { relay: true, relayProtocol: 'tcp' }, precheck: { level: 'relay', path: 'tcp' } }));

test('net_patient_tcp_443_only_relayed_over_tls', (t) =>
    callOver(t, 'patient with TCP 443 only', { a: {}, b: { filter: 'tcp-443' } },
        { host: { relay: true }, guest: { relay: true, relayProtocol: 'tls' }, precheck: { level: 'relay', path: 'tls' } }));

// The relay unreachable by every transport: the check says so in plain words within its time,
// on the patient's page and on the clinician's knock card.
test('net_unreachable_relay_is_reported_by_the_precheck', async (t) => {
    await setSide('a');
    await setSide('b', { filter: 'no-path' });
    const room = await newRoom();
    const host = await party(t, 'a', 'clinician');
    const guest = await party(t, 'b', 'patient');
    const since = Date.now();
    await upToAdmit(host, guest, room.host_url, room.guest_url);
    const pc = await precheckSettled(host, guest, since);
    console.log(`# unreachable relay: after ${pc.ms} ms the patient reads "${pc.text}"; knock card: "${pc.pathText}"`);
    assert(pc.level === 'blocked' && /may not be able to carry the video call/.test(pc.text), `the patient reads "${pc.text}" (${pc.level})`);
    assert(pc.path === 'none' && /phone call/.test(pc.pathText), `the knock card reads "${pc.pathText}" (${pc.path})`);
});

// --- a network change in the call ----------------------------------------------------------------

/* Keeps, in the page, every state the remote tiles pass through (data-link) and the page's own
 * load time, so a reload or a missing "reconnecting" shows. */
function pageWatchTiles() {
    const seen = (window.__seen = window.__seen || { states: [], loaded: performance.timeOrigin });
    const note = () => {
        for (const el of document.querySelectorAll('[data-testid="tile"]')) {
            const s = el.dataset.link || '';
            if (s && seen.states[seen.states.length - 1] !== s) seen.states.push(s);
        }
    };
    note();
    new MutationObserver(note).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['data-link'] });
    for (const ev of ['online', 'offline']) window.addEventListener(ev, () => console.info(`event ${ev}`));
    if (navigator.connection) navigator.connection.addEventListener('change', () => console.info('event connection change'));
    return seen.loaded;
}

function pageSeen() {
    return { states: (window.__seen && window.__seen.states) || [], loaded: performance.timeOrigin };
}

/* Changes `side`'s network in the middle of the call (change(), undone by undo()) and times the
 * way back: from the change to the first frames decoded after the break on both sides (the
 * browsers' getStats, probes.framesBack), with no reload; the other side's tile showed
 * reconnecting meanwhile. */
async function networkChange(host, guest, side, label, change, undo) {
    const loaded = [await host.evaluate(pageWatchTiles), await guest.evaluate(pageWatchTiles)];
    const t0 = Date.now();
    await change();
    let ms = 0;
    try {
        const back = await Promise.all([framesBack(host), framesBack(guest)]);
        const each = back.map((at) => (at === null ? 0 : at - t0));
        ms = Math.max(...each);
        console.log(`# ${label}: decoded frames again at the clinician after ${each[0]} ms, at the patient after ${each[1]} ms`);
    } finally {
        await undo().catch((e) => console.log(`# could not undo the network change: ${e.message}`));
        // The change back is a change too: let both browsers take it in (Chromium fails what it
        // loads meanwhile with ERR_NETWORK_CHANGED) before the next case.
        await framesRising(host, guest).catch(() => console.log(`# ${label}: no video within 5 s of the change back`));
    }
    console.log(`# ${label}: network changed to decoded frames again both ways ${ms} ms`);
    const other = side === 'b' ? host : guest;
    const seen = [await host.evaluate(pageSeen), await guest.evaluate(pageSeen)];
    assert(seen[0].loaded === loaded[0] && seen[1].loaded === loaded[1], `${label}: a page reloaded`);
    const states = seen[side === 'b' ? 0 : 1].states;
    assert(states.includes('reconnecting'), `${label}: the ${other.name}'s tile never showed reconnecting (states: ${states.join(', ')})`);
    assert(ms < BACK_LIMIT_MS, `${label}: decoded frames came back after ${ms} ms (limit ${BACK_LIMIT_MS} ms)`);
    return ms;
}

const uplink = (side) => [() => switchUplink(side, 'mobile'), () => switchUplink(side, 'wifi')];

// Two friendly NATs: a direct call (P2P stays first), and the patient's phone leaves the Wi-Fi.
const DIRECT = { host: { relay: false }, guest: { relay: false } };
test('net_friendly_nats_call_direct_and_survive_the_patient_changing_network', async (t) => {
    const { host, guest } = await callOver(t, 'friendly NATs', { a: {}, b: {} }, { ...DIRECT, precheck: { level: 'good', path: 'udp' } });
    await networkChange(host, guest, 'b', 'patient changes network (direct)', ...uplink('b'));
});

test('net_direct_call_survives_the_clinician_changing_network', async (t) => {
    const { host, guest } = await callOver(t, 'direct call', { a: {}, b: {} }, DIRECT);
    await networkChange(host, guest, 'a', 'clinician changes network (direct)', ...uplink('a'));
});

// Both behind symmetric NATs: relayed; the patient changes network and the call stays relayed.
test('net_symmetric_nats_call_relayed_and_survive_the_patient_changing_network', async (t) => {
    const nets = { a: { nat: 'symmetric' }, b: { nat: 'symmetric' } };
    const { host, guest } = await callOver(t, 'symmetric NATs', nets, { host: { relay: true }, guest: { relay: true } });
    await networkChange(host, guest, 'b', 'patient changes network (relayed)', ...uplink('b'));
    await checkPair(guest, { relay: true });
});

// No path after the change: both pages end in "we lost the connection" with a retry button and
// no frozen picture; once the network is back, "Try again" brings the video back.
test('net_no_path_ends_in_connection_lost_and_retry_brings_it_back', async (t) => {
    const { host, guest } = await callOver(t, 'direct call', { a: {}, b: {} }, { host: { relay: false }, guest: { relay: false } });
    const t0 = Date.now();
    await setSide('b', { filter: 'no-path' });
    for (const tab of [host, guest]) await tab.visible('retry-button', 25000);
    console.log(`# no path: "we lost the connection" on both pages after ${Date.now() - t0} ms`);
    for (const tab of [host, guest]) {
        const text = await tab.visible('connection-lost');
        assert(/lost the connection/i.test(text), `${tab.name}: connection-lost reads "${text}"`);
        const hidden = await tab.evaluate(() => {
            const v = document.querySelector('[data-testid="remote-video"]');
            return Boolean(v) && getComputedStyle(v).visibility === 'hidden';
        });
        assert(hidden, `${tab.name}: the frozen remote video is still on show under "we lost the connection"`);
    }
    await setSide('b');
    const before = [await host.frames(), await guest.frames()];
    const t1 = Date.now();
    await guest.click('retry-button');
    await Promise.all([framesAbove(host, before[0].frames + 15, 10000), framesAbove(guest, before[1].frames + 15, 10000)]);
    console.log(`# no path: "Try again" to decoded frames both ways ${Date.now() - t1} ms`);
    for (const tab of [host, guest]) {
        const lost = await tab.shown('connection-lost');
        assert(!lost.shown, `${tab.name}: still shows "${lost.text}" with the video back`);
    }
}, 70000);

// --- the runner ----------------------------------------------------------------------------------

const results = reporter();
try {
    await startBrowsers();
} catch (e) {
    results.report('net_browsers_start', e);
}
if (browsers.a && browsers.b) {
    for (const c of cases) {
        if (only && !only.test(c.name)) continue;
        const t = { contexts: [], tabs: [], started: Date.now() };
        let timer;
        const limit = new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Fail(`${c.name} did not finish within ${c.timeout / 1000} s`)), c.timeout);
        });
        let err = null;
        try {
            await Promise.race([c.fn(t), limit]);
        } catch (e) {
            err = e;
        }
        clearTimeout(timer);
        if (err || process.env.VC_NET_LOGS) for (const tab of t.tabs) for (const l of tab.log.slice(-40)) console.log(`#   ${tab.name} ${l}`);
        results.report(c.name, err);
        await hangUp(...t.tabs).catch(() => {});
        for (const ctx of t.contexts) await ctx.close().catch(() => {});
        console.log(`#   ${c.name}: ${((Date.now() - t.started) / 1000).toFixed(1)} s`);
    }
}
for (const b of Object.values(browsers)) await b.close().catch(() => {});
results.summary();
process.exit(results.failed === 0 && results.passed > 0 ? 0 : 1);
