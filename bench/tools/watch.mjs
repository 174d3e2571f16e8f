// The dashboard benchmark (bench/run.sh `watch`): one clinician's dashboard watching ROOMS rooms
// with WAITING patients waiting in them, while the patients' pre-call checks change at RATE a
// second; prints how long each change took to reach the dashboard, as JSON.
//
// usage: [VC_ORIGIN=PUBLIC_ORIGIN] node bench/tools/watch.mjs PORT EMAIL PASSWORD CA
//        [ROOMS WAITING RATE SECONDS SERVER_PID]
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

// The WebSocket client the tests use (tests/signal's npm ci installs it).
const require = createRequire(new URL('../../tests/signal/package.json', import.meta.url));
const WebSocket = require('ws');

const [port, email, password, caPath] = process.argv.slice(2, 6);
const [ROOMS, WAITING, RATE, SECONDS, SERVER_PID] = process.argv.slice(6).map(Number);
const rooms = ROOMS || 50, waiting = WAITING || 200, rate = RATE || 100, seconds = SECONDS || 20;
const ca = fs.readFileSync(caPath);
const origin = process.env.VC_ORIGIN || `https://localhost:${port}`; // the public URL's
const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });

function request(method, path, body, headers = {}) {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: '127.0.0.1', port, servername: 'localhost', ca, agent, method, path,
            headers: { host: `localhost:${port}`, 'content-type': 'application/json', ...headers },
        }, (res) => {
            let d = '';
            res.on('data', (c) => { d += c; });
            res.on('end', () => resolve({ status: res.statusCode, json: d ? JSON.parse(d) : null, cookie: res.headers['set-cookie'] }));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

function socket(cookie, onMessage) {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, 'vc.v1', {
        ca, servername: 'localhost', origin, perMessageDeflate: false,
        headers: cookie ? { cookie } : {},
    });
    ws.on('message', (m) => onMessage(JSON.parse(m.toString())));
    ws.on('error', () => {});
    return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
    });
}

function cpuSeconds(pid) {
    if (!pid) return null;
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

function pct(sorted, p) {
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : null;
}

const login = await request('POST', '/api/v1/session', { email, password });
if (login.status !== 200) throw new Error(`login: ${login.status}`);
const cookie = [].concat(login.cookie)[0].split(';')[0];
const auth = { cookie, 'x-csrf-token': login.json.csrf };

// The dashboard: each change waits, by `${room} ${peer} ${camera}`, for the first entry that
// shows it.
const waitingFor = new Map(); // key -> when the change was sent
const latencies = [];
const dash = await socket(cookie, (m) => {
    const now = performance.now();
    if (m.type !== 'room')
        return;
    for (const w of m.waiting) {
        const key = `${m.id} ${w.peer} ${w.precheck && w.precheck.camera}`;
        if (waitingFor.has(key)) {
            latencies.push(now - waitingFor.get(key));
            waitingFor.delete(key);
        }
    }
});
dash.send(JSON.stringify({ type: 'watch' }));

const made = [];
for (let i = 0; i < rooms; i++) {
    const r = await request('POST', '/api/v1/rooms', { label: `bench ${i}`, capacity: 8 }, auth);
    if (r.status !== 201) throw new Error(`room ${i}: ${r.status}`);
    made.push({ id: r.json.id, guest: r.json.guest_url.split('#')[1] });
}
const patients = [];
for (let i = 0; i < waiting; i++) {
    const room = made[i % rooms];
    const p = { room: room.id, peer: null, camera: false };
    p.ws = await socket(null, (m) => {
        if (m.type === 'waiting') p.ready = true;
    });
    p.ws.send(JSON.stringify({ type: 'join', token: room.guest, precheck: { camera: false } }));
    patients.push(p);
}
for (let t = 0; t < 200 && patients.some((p) => !p.ready); t++) await sleep(50);
if (patients.some((p) => !p.ready)) throw new Error('not every patient got waiting');
await sleep(500);

// Peers by room, from the dashboard's own view: ask for the rooms again.
const snapshot = await new Promise((resolve) => {
    const ws2 = socket(cookie, (m) => {
        if (m.type === 'rooms') resolve(m);
    });
    ws2.then((w) => { w.send(JSON.stringify({ type: 'watch' })); setTimeout(() => w.close(), 2000); });
});
const peersOf = new Map(snapshot.rooms.map((r) => [r.id, r.waiting.map((w) => w.peer)]));
const counts = new Map();
for (const p of patients) {
    const list = peersOf.get(p.room) || [];
    const k = counts.get(p.room) || 0;
    p.peer = list[k];
    counts.set(p.room, k + 1);
}

// The changes: one patient at a time flips its camera check; the dashboard must see that flip.
const cpu0 = cpuSeconds(SERVER_PID);
const t0 = performance.now();
let changes = 0;
for (let n = 0; performance.now() - t0 < seconds * 1000; n++) {
    const due = t0 + (n * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const p = patients[n % patients.length];
    p.camera = !p.camera;
    const sent = performance.now();
    waitingFor.set(`${p.room} ${p.peer} ${p.camera}`, sent);
    p.ws.send(JSON.stringify({ type: 'precheck', precheck: { camera: p.camera } }));
    changes++;
}
await sleep(1500);
const cpu1 = cpuSeconds(SERVER_PID);
latencies.sort((a, b) => a - b);
const out = {
    rooms, waiting, rate, seconds, changes, missed: waitingFor.size,
    latency_ms: { p50: pct(latencies, 0.5), p90: pct(latencies, 0.9), p99: pct(latencies, 0.99), max: latencies[latencies.length - 1] ?? null },
    server_cpu_s: cpu0 === null ? null : cpu1 - cpu0,
};
console.log(JSON.stringify(out));
for (const p of patients) p.ws.close();
dash.close();
for (const r of made) await request('DELETE', `/api/v1/rooms/${r.id}`, undefined, auth);
agent.destroy();
process.exit(0);
