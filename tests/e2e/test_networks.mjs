// Calls across hostile networks (run by tests/integration/e2e_networks.sh, which builds the
// namespaces and starts the servers): one Chromium per side, each in its own namespace behind its
// own NAT router, started once; each case sets the routers' nftables rules, makes a room over the
// REST API, and checks decoded video both ways (getStats framesDecoded), the chosen candidate
// pair's types and protocols, and the time from admit to the first decoded frame (< 5 s). Prints
// "ok NAME" or "FAIL NAME: why", then "N passed, N failed".
import { execFile } from 'node:child_process';
import { launchBrowser, INIT_SCRIPT, reporter, Fail, assert, sleep } from './lib.mjs';
import { Tab, upToAdmit, admitTimed, framesAbove, framesRising, hangUp } from './probes.mjs';

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

/* Moves a side's browser to its other uplink, as a phone that leaves the Wi-Fi for mobile data:
 * the old link goes down and loses its address, the new one comes up with its own address and
 * the default route (another router, so another public address too). */
async function switchUplink(side, to) {
    const from = to === 'mobile' ? 'wifi' : 'mobile';
    const [addr, gw] = UPLINKS[side][to];
    const batch = [`link set ${from} down`, `addr flush dev ${from}`, `link set ${to} up`, `addr add ${addr} dev ${to}`,
        `route replace default via ${gw}`].join('\n');
    await run('ip', ['-n', `${NET}-${side}`, '-batch', '-'], `${batch}\n`);
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
    page.on('console', (m) => tab.log.push(`${((Date.now() - t.started) / 1000).toFixed(1)}s ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => tab.log.push(`uncaught ${e.message}`));
    t.tabs.push(tab);
    return tab;
}

/* A call between the two sides: the clinician on a, the patient on b; resolves {host, guest, ms}. */
async function call(t, roomOpts = {}) {
    const room = await newRoom(roomOpts);
    const host = await party(t, 'a', 'clinician');
    const guest = await party(t, 'b', 'patient');
    await upToAdmit(host, guest, room.host_url, room.guest_url);
    const ms = await admitTimed(host, guest);
    return { host, guest, ms };
}

function pairText(p) {
    const end = (c) => (c ? `${c.type}/${c.protocol}${c.relayProtocol ? `(${c.relayProtocol})` : ''}` : '?');
    return `${end(p.local)} -> ${end(p.remote)}`;
}

/* Checks a tab's selected pair: want.relay (true/false), want.relayProtocol ('udp', 'tcp', 'tls'). */
async function checkPair(tab, want) {
    const p = await tab.pair();
    assert(p.local && p.remote, `${tab.name}: no selected candidate pair (${p.state})`);
    const relayed = p.local.type === 'relay' || p.remote.type === 'relay';
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
    const { host, guest, ms } = await call(t);
    await framesRising(host, guest);
    const seen = [await checkPair(host, want.host), await checkPair(guest, want.guest)];
    console.log(`# ${label}: clinician ${seen[0]}, patient ${seen[1]}`);
    setupTime(label, ms);
    return { host, guest };
}

test('net_friendly_nats_call_direct', (t) =>
    callOver(t, 'friendly NATs', { a: {}, b: {} }, { host: { relay: false }, guest: { relay: false } }));

test('net_symmetric_nats_call_relayed', (t) =>
    callOver(t, 'symmetric NATs', { a: { nat: 'symmetric' }, b: { nat: 'symmetric' } },
        { host: { relay: true }, guest: { relay: true } }));

test('net_patient_without_udp_relayed_over_tcp', (t) =>
    callOver(t, 'patient without UDP', { a: {}, b: { filter: 'no-udp' } },
        { host: { relay: true }, guest: { relay: true, relayProtocol: 'tcp' } }));

test('net_patient_tcp_443_only_relayed_over_tls', (t) =>
    callOver(t, 'patient with TCP 443 only', { a: {}, b: { filter: 'tcp-443' } },
        { host: { relay: true }, guest: { relay: true, relayProtocol: 'tls' } }));

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
        if (err) for (const tab of t.tabs) for (const l of tab.log.slice(-25)) console.log(`#   ${tab.name} ${l}`);
        results.report(c.name, err);
        await hangUp(...t.tabs).catch(() => {});
        for (const ctx of t.contexts) await ctx.close().catch(() => {});
        console.log(`#   ${c.name}: ${((Date.now() - t.started) / 1000).toFixed(1)} s`);
    }
}
for (const b of Object.values(browsers)) await b.close().catch(() => {});
results.summary();
process.exit(results.failed === 0 && results.passed > 0 ? 0 : 1);
