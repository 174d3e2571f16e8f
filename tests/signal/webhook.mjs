// Signed webhooks (tests/integration/webhook.sh): a real HTTPS receiver with the dev certificate,
// vc-signal started (and killed, and started again) from here, scripted calls over vc.v1.
// Prints "ok NAME" / "FAIL NAME (why)" and "N passed, N failed".
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { assert, client as vcClient, request, results } from './vcnode.mjs';

const env = (k) => {
    if (!process.env[k]) throw new Error(`${k} is not set (run tests/integration/webhook.sh)`);
    return process.env[k];
};
const ca = fs.readFileSync(env('VC_CA'));
const PORT = Number(env('VC_PORT')), HOOK_PORT = Number(env('VC_HOOK_PORT'));
const KEY = env('VC_API_KEY'), SECRET = env('VC_SECRET');
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const { test, summary } = results();
const tag = crypto.randomBytes(6).toString('hex');
const CANARY = { label: `CANARY-HOOK-LABEL-${tag} 10:30 Mrs K`, lobby: `CANARY-HOOK-LOBBY-${tag} running late`, sdp: `CANARY-HOOK-SDP-${tag}` };
const secrets = [KEY, SECRET, env('VC_NAME'), env('VC_PASSWORD'), env('VC_EMAIL'), CANARY.label, CANARY.lobby, CANARY.sdp];

// ---- the receiver ----------------------------------------------------------------------------

// Every request: {id, sig, type, body (text), json, status, at}. failFirst: how many attempts
// of each event id are answered 500 before one is answered 204; hang: answer nothing at all.
const hook = { requests: [], failFirst: 0, hang: false, tries: new Map(), server: null, sockets: new Set() };

function receive(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (hook.hang) {
            hook.hung = (hook.hung || 0) + 1;
            return;
        }
        let json = null;
        try { json = JSON.parse(body); } catch { /* recorded as is */ }
        const id = req.headers['vc-event-id'];
        const n = (hook.tries.get(id) || 0) + 1;
        hook.tries.set(id, n);
        const status = req.method === 'POST' && req.url === '/hooks/vc' && n > hook.failFirst ? 204 : 500;
        hook.requests.push({ id, sig: req.headers['vc-signature'], ctype: req.headers['content-type'], body, json, status, at: Date.now() });
        res.writeHead(status);
        res.end();
    });
}

function hookUp() {
    hook.server = https.createServer({ cert: fs.readFileSync(env('VC_CERT')), key: fs.readFileSync(env('VC_KEY')) }, receive);
    hook.server.on('connection', (s) => {
        hook.sockets.add(s);
        s.on('close', () => hook.sockets.delete(s));
    });
    return new Promise((resolve) => hook.server.listen(HOOK_PORT, '127.0.0.1', resolve));
}

// Down: no listener, and the kept-alive connections cut.
function hookDown() {
    const closed = new Promise((resolve) => hook.server.close(resolve));
    for (const s of hook.sockets) s.destroy();
    return closed;
}

// The receiver's check, as docs/webhooks.md shows it: HMAC-SHA256 over "t.body", 5 minutes.
function verified(r, secret = SECRET) {
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(r.sig || '');
    if (!m || Math.abs(Date.now() / 1000 - Number(m[1])) > 300) return false;
    const want = crypto.createHmac('sha256', secret).update(`${m[1]}.${r.body}`).digest('hex');
    return crypto.timingSafeEqual(Buffer.from(want), Buffer.from(m[2]));
}

// The events of room the receiver took (2xx), de-duplicated by id, in the order first taken.
function taken(room) {
    const seen = new Set(), out = [];
    for (const r of hook.requests) {
        if (r.status >= 300 || !r.json || r.json.data?.room !== room || seen.has(r.id)) continue;
        seen.add(r.id);
        out.push(r.json);
    }
    return out;
}

async function waitTaken(room, n, ms = 10000) {
    const end = Date.now() + ms;
    while (taken(room).length < n && Date.now() < end) await sleep(50);
    const got = taken(room);
    assert(got.length >= n, `${got.length} events of room ${room} taken within ${ms} ms, want ${n}: ${got.map((e) => e.type).join(' ')}`);
    return got;
}

// ---- vc-signal -------------------------------------------------------------------------------

let server = null;

async function startSignal() {
    const log = fs.openSync(env('VC_SERVER_LOG'), 'a');
    server = spawn(env('VC_SIGNAL_BIN'), ['--config', env('VC_CONFIG')], { stdio: ['ignore', log, log] });
    server.exited = new Promise((resolve) => server.on('exit', (code, sig) => resolve(sig || code)));
    fs.closeSync(log);
    for (let i = 0; i < 50; i++) {
        const r = await http('GET', '/healthz').catch(() => null);
        if (r && r.status === 200) return;
        await sleep(200);
    }
    throw new Error('vc-signal did not answer /healthz within 10 s');
}

function http(method, path, body, auth = null) {
    const headers = auth ? { cookie: auth.cookie, 'x-csrf-token': auth.csrf } : { authorization: `Bearer ${KEY}` };
    return request({ port: PORT, ca, method, path, body, headers });
}

async function metric(name) {
    const r = await http('GET', '/metrics');
    const line = r.text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
}

async function room(opts, auth = null) {
    const r = await http('POST', '/api/v1/rooms', opts, auth);
    assert(r.status === 201, `POST /api/v1/rooms: ${r.status} ${r.text}`);
    return { id: r.json.id, host: r.json.host_url.split('#')[1], guest: r.json.guest_url.split('#')[1] };
}

async function join(token, label, ua = FIREFOX_LINUX, extra = {}) {
    const c = vcClient({ port: PORT, ca, origin: `https://localhost:${PORT}`, label, ua });
    await c.open;
    c.send({ type: 'join', token, ...extra });
    return c;
}

// ---- the calls -------------------------------------------------------------------------------

// The clinic call: a lobby, two patients knocking, one turned away, one admitted; stats, a drop.
async function clinicCall() {
    const login = await http('POST', '/api/v1/session', { email: env('VC_EMAIL'), password: env('VC_PASSWORD') });
    assert(login.status === 200, `login: ${login.status}`);
    const cookie = [].concat(login.cookie || []).find((c) => c.startsWith('vc_session=')).split(';')[0];
    const r = await room({ label: CANARY.label, capacity: 2 }, { cookie, csrf: login.json.csrf });
    secrets.push(r.host, r.guest, cookie.slice('vc_session='.length));
    const host = await join(r.host, 'host', CHROME_WINDOWS);
    const hj = await host.next('joined');
    const g1 = await join(r.guest, 'guest1', FIREFOX_LINUX);
    await g1.next('waiting');
    const k1 = await host.next('knock');
    const g2 = await join(r.guest, 'guest2');
    await g2.next('waiting');
    const k2 = await host.next('knock');
    host.send({ type: 'lobby-message', text: CANARY.lobby });
    await g1.next('message');
    host.send({ type: 'deny', peer: k2.peer });
    await g2.next('denied');
    host.send({ type: 'admit', peer: k1.peer });
    const gj = await g1.next('joined');
    secrets.push(hj.resume, gj.resume);
    host.send({ type: 'signal', to: gj.peer, data: { description: { type: 'offer', sdp: CANARY.sdp } } });
    await g1.next('signal');
    await sleep(300);
    g1.send({ type: 'stats', path: 'relay', rtt_ms: 40, loss_pct: 0.5, bitrate_kbps: 1000 });
    host.send({ type: 'stats', path: 'relay', rtt_ms: 60, loss_pct: 0, bitrate_kbps: 2000 });
    await sleep(800);
    g1.send({ type: 'stats', path: 'relay', rtt_ms: 50, loss_pct: 1.5, bitrate_kbps: 1000 });
    host.send({ type: 'stats', path: 'relay', rtt_ms: 50, loss_pct: 0, bitrate_kbps: 2000 });
    g1.send({ type: 'leave' });
    await host.next('peer-left');
    host.send({ type: 'end' });
    await host.next('room-ended');
    host.close();
    return { id: r.id, host: hj.peer, guest: gj.peer, denied: k2.peer };
}

// A call without a lobby: 7 events.
async function plainCall() {
    const r = await room({ lobby: false });
    const host = await join(r.host, 'host');
    await host.next('joined');
    const guest = await join(r.guest, 'guest');
    await guest.next('joined');
    await host.next('peer-joined');
    guest.send({ type: 'leave' });
    await host.next('peer-left');
    host.send({ type: 'end' });
    await host.next('room-ended');
    host.close();
    return r.id;
}
const PLAIN = ['room.created', 'peer.joined', 'peer.joined', 'peer.left', 'peer.left', 'room.ended', 'call.summary'];

// ---- the tests -------------------------------------------------------------------------------

await hookUp();
await startSignal();
let clinic = null;

await test('webhook_every_event_of_a_call_in_order', async () => {
    clinic = await clinicCall();
    const got = await waitTaken(clinic.id, 11);
    const seq = got.map((e) => `${e.type}${e.data.peer ? `:${e.data.peer}` : ''}`);
    const want = ['room.created', `peer.joined:${clinic.host}`, `peer.knocked:${clinic.guest}`,
        `peer.knocked:${clinic.denied}`, `peer.denied:${clinic.denied}`, `peer.admitted:${clinic.guest}`,
        `peer.joined:${clinic.guest}`, `peer.left:${clinic.guest}`, `peer.left:${clinic.host}`, 'room.ended', 'call.summary'];
    assert(JSON.stringify(seq) === JSON.stringify(want), `order: got ${seq.join(' ')}`);
    const admitted = got.find((e) => e.type === 'peer.admitted');
    assert(admitted.data.by === 'host' && admitted.data.wait_ms >= 0, `peer.admitted ${JSON.stringify(admitted)}`);
    assert(got.find((e) => e.type === 'room.ended').data.reason === 'ended_by_host', 'room.ended reason');
});

await test('webhook_signatures_verify_and_event_ids_are_unique', async () => {
    const mine = hook.requests.filter((r) => r.json?.data?.room === clinic.id);
    assert(mine.length >= 11, `${mine.length} requests`);
    for (const r of mine) {
        assert(verified(r), `signature ${r.sig} does not verify for ${r.body.slice(0, 80)}`);
        assert(/^[0-9a-f]{32}$/.test(r.id) && r.json.id === r.id, `Vc-Event-Id ${r.id}, body id ${r.json.id}`);
        assert(r.ctype === 'application/json', `content-type ${r.ctype}`);
        assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.json.ts), `ts ${r.json.ts}`);
    }
    const ids = new Set(mine.map((r) => r.id));
    assert(ids.size === mine.length, `${mine.length} requests but ${ids.size} ids (no retry was asked for)`);
    const tampered = { ...mine[0], body: mine[0].body.replace('"room.created"', '"room.ended"') };
    assert(!verified(tampered), 'a changed body still verifies');
});

await test('webhook_call_summary_adds_up_the_call', async () => {
    const s = taken(clinic.id).find((e) => e.type === 'call.summary').data;
    assert(s.hosts === 1 && s.guests === 1, `hosts ${s.hosts}, guests ${s.guests}`);
    assert(s.path === 'relay', `path ${s.path}`);
    assert(s.duration_s >= 1 && s.duration_s < 30, `duration_s ${s.duration_s}`);
    assert(s.rtt_ms === 50 && s.loss_pct === 0.5, `mean rtt ${s.rtt_ms}, loss ${s.loss_pct}`);
    // 3000 kbit/s over about 0.8 s, and whatever the first reports covered: at least 200 kB.
    assert(s.bytes >= 200000 && s.bytes < 5000000, `bytes ${s.bytes}`);
    assert(JSON.stringify(s.browsers) === '{"chrome":1,"firefox":1}', `browsers ${JSON.stringify(s.browsers)}`);
    assert(JSON.stringify(s.os) === '{"windows":1,"linux":1}', `os ${JSON.stringify(s.os)}`);
});

await test('webhook_retries_after_500_until_every_event_is_taken_once', async () => {
    const before = await metric('vc_signal_webhooks_retried_total');
    hook.failFirst = 2;
    const id = await plainCall();
    const got = await waitTaken(id, PLAIN.length, 15000);
    hook.failFirst = 0;
    assert(JSON.stringify(got.map((e) => e.type)) === JSON.stringify(PLAIN), `order: ${got.map((e) => e.type).join(' ')}`);
    const mine = hook.requests.filter((r) => r.json?.data?.room === id);
    const ids = new Set(mine.map((r) => r.id));
    assert(ids.size === PLAIN.length, `${ids.size} distinct ids for ${PLAIN.length} events`);
    for (const eid of ids) {
        const tries = mine.filter((r) => r.id === eid);
        assert(tries.length >= 3 && tries.slice(0, 2).every((r) => r.status === 500), `event ${eid}: ${tries.map((r) => r.status).join(',')}`);
        assert(tries.every((r) => r.body === tries[0].body), `event ${eid} changed between attempts`);
        assert(tries.every((r) => verified(r)), `event ${eid}: a retry's signature does not verify`);
    }
    const retried = await metric('vc_signal_webhooks_retried_total');
    assert(retried - before >= 2 * PLAIN.length, `retried went ${before} -> ${retried}`);
});

await test('webhook_events_survive_kill_9_while_the_receiver_is_down', async () => {
    await hookDown();
    const id = await plainCall();
    await sleep(300); // a few attempts fail against the closed port
    assert((await metric('vc_signal_webhooks_queued')) >= PLAIN.length, 'the events are not queued');
    server.kill('SIGKILL');
    await server.exited;
    assert(taken(id).length === 0, 'events reached a receiver that was down');
    await startSignal();
    await hookUp();
    const got = await waitTaken(id, PLAIN.length, 15000);
    assert(JSON.stringify(got.map((e) => e.type)) === JSON.stringify(PLAIN), `after the restart: ${got.map((e) => e.type).join(' ')}`);
    const log = fs.readFileSync(env('VC_SERVER_LOG'), 'utf8');
    assert(/webhook: \d+ events queued by a previous run/.test(log), 'the restart did not say it found queued events');
});

await test('webhook_bodies_carry_no_canary_token_or_address', async () => {
    assert(hook.requests.length > 20, `${hook.requests.length} requests`);
    for (const r of hook.requests) {
        for (const s of secrets) assert(s && !r.body.includes(s), `a body holds ${s.slice(0, 24)}...: ${r.body.slice(0, 200)}`);
        assert(!r.body.includes('127.0.0.1') && !/"ip"|"label"|"name"|"text"|"token"/.test(r.body), `a body holds an address or a personal field: ${r.body.slice(0, 200)}`);
    }
});

await test('webhook_secret_file_is_read_again_on_sighup', async () => {
    const file = JSON.parse(fs.readFileSync(env('VC_CONFIG'), 'utf8'))['webhook-secret-file'];
    const next = `whsec-next-${crypto.randomBytes(12).toString('hex')}`;
    const reloads = () => (fs.readFileSync(env('VC_SERVER_LOG'), 'utf8').match(/SIGHUP: configuration reloaded/g) || []).length;
    const before = reloads();
    fs.writeFileSync(file, `${next}\n`);
    secrets.push(next);
    server.kill('SIGHUP');
    for (let i = 0; i < 50 && reloads() === before; i++) await sleep(100);
    assert(reloads() > before, 'no "configuration reloaded" after SIGHUP');
    const id = await plainCall();
    await waitTaken(id, PLAIN.length);
    const mine = hook.requests.filter((r) => r.json?.data?.room === id);
    assert(mine.every((r) => verified(r, next) && !verified(r)), 'events after the reload are not signed with the new secret only');
});

await test('webhook_metrics_count_deliveries', async () => {
    for (let i = 0; i < 40 && (await metric('vc_signal_webhooks_queued')) !== 0; i++) await sleep(100);
    assert((await metric('vc_signal_webhooks_queued')) === 0, 'events still queued');
    assert((await metric('vc_signal_webhooks_delivered_total')) >= PLAIN.length, 'delivered_total');
    assert((await metric('vc_signal_webhooks_dropped_total')) === 0, 'dropped_total');
    assert((await metric('vc_signal_webhooks_failed_total')) === 0, 'failed_total');
});

await test('webhook_a_receiver_that_never_answers_does_not_slow_signalling', async () => {
    const before = await metric('vc_signal_webhooks_retried_total');
    hook.hang = true;
    const started = Date.now();
    await plainCall(); // the requests for its events hang meanwhile
    const slowest = Math.max(...await Promise.all([1, 2, 3].map(async () => {
        const t = Date.now();
        await http('GET', '/healthz');
        return Date.now() - t;
    })));
    assert(Date.now() - started < 2000 && slowest < 500, `the call took ${Date.now() - started} ms, /healthz ${slowest} ms`);
    await sleep(2600); // webhook-timeout is 2 s: the first attempt times out and is retried
    assert(hook.hung >= 2, `${hook.hung} requests reached the hanging receiver`);
    const retried = await metric('vc_signal_webhooks_retried_total');
    assert(retried > before, `no retry after a timeout (${before} -> ${retried})`);
});

await test('webhook_server_stops_cleanly_with_requests_in_flight', async () => {
    server.kill('SIGTERM');
    const how = await Promise.race([server.exited, sleep(5000).then(() => 'timeout')]);
    assert(how === 0, `exit ${how}`);
});

if (server.exitCode === null) server.kill('SIGKILL');
await hookDown();
process.exit(summary() ? 1 : 0);
