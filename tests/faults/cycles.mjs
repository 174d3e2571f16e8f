// create/join/leave cycles against vc-signal for 4_signal_cycles_rss.sh: each cycle creates a room
// (POST /api/v1/rooms), joins it as host over a fresh vc.v1 WebSocket, sends leave, closes and
// DELETEs the room. WORKERS cycles run at once. Prints "progress N" after every STEP cycles
// and waits for a line on stdin at each MARK (so the shell can sample RSS), then "done N FAILED MS".
//   node cycles.mjs COUNT MARK
// Environment: VC_PORT, VC_API_KEY, VC_CA. Loopback only (127.0.0.1).
import fs from 'node:fs';
import https from 'node:https';
import readline from 'node:readline';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../signal/package.json', import.meta.url));
const WebSocket = require('ws');

const COUNT = Number(process.argv[2]);
const MARK = Number(process.argv[3]);
const WORKERS = Number(process.env.VC_WORKERS || 16);
const port = Number(process.env.VC_PORT);
const apiKey = process.env.VC_API_KEY;
const ca = fs.readFileSync(process.env.VC_CA);
const agent = new https.Agent({ keepAlive: true, maxSockets: WORKERS, ca });
const origin = `https://localhost:${port}`;

function request(method, path, body) {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: '127.0.0.1', port, servername: 'localhost', agent, method, path, timeout: 5000,
                headers: {
                    Host: `localhost:${port}`, Authorization: `Bearer ${apiKey}`,
                    ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}),
                },
            },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (c) => (text += c));
                res.on('end', () => resolve({ status: res.statusCode, text }));
            });
        req.on('timeout', () => req.destroy(new Error('request timed out')));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

// One cycle; resolves to '' or a reason.
async function cycle() {
    const r = await request('POST', '/api/v1/rooms', {});
    if (r.status !== 201) return `create ${r.status} ${r.text.slice(0, 100)}`;
    const room = JSON.parse(r.text);
    const token = /#(.+)$/.exec(room.host_url)[1];
    const why = await new Promise((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, ['vc.v1'], {
            ca, servername: 'localhost', origin, headers: { Host: `localhost:${port}` },
            handshakeTimeout: 5000, perMessageDeflate: false,
        });
        const t = setTimeout(() => { ws.terminate(); resolve('no joined within 5 s'); }, 5000);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'join', token })));
        ws.on('message', (d) => {
            const m = JSON.parse(d.toString());
            if (m.type === 'joined') {
                ws.send(JSON.stringify({ type: 'leave' }));
                ws.close(1000);
            } else if (m.type === 'error') {
                ws.terminate();
                resolve(`join error ${m.code}`);
            }
        });
        ws.on('close', () => { clearTimeout(t); resolve(''); });
        ws.on('error', (e) => { clearTimeout(t); resolve(`ws ${e.message}`); });
    });
    const d = await request('DELETE', `/api/v1/rooms/${room.id}`);
    if (d.status >= 300 && d.status !== 404) return why || `delete ${d.status}`;
    return why;
}

const lines = [];
let lineWaiter = null;
readline.createInterface({ input: process.stdin }).on('line', (l) => {
    if (lineWaiter) { const w = lineWaiter; lineWaiter = null; w(l); } else lines.push(l);
});
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => (lineWaiter = r)));

let started = 0, done = 0, failed = 0, firstWhy = '';
let gate = null; // a promise all workers wait on while the shell samples at MARK
const t0 = Date.now();
async function worker() {
    while (started < COUNT) {
        if (gate) await gate;
        if (started >= COUNT) break;
        started++;
        let why;
        try { why = await cycle(); } catch (e) { why = e.message; }
        if (why) { failed++; firstWhy ||= why; }
        done++;
        if (done === MARK) {
            gate = (async () => {
                while (done < started) await new Promise((r) => setTimeout(r, 10));
                console.log(`mark ${done} ${failed} ${Date.now() - t0}`);
                await nextLine();
                gate = null;
            })();
        }
        if (failed > 1000) { started = COUNT; break; }
    }
}
await Promise.all(Array.from({ length: WORKERS }, worker));
console.log(`done ${done} ${failed} ${Date.now() - t0}${firstWhy ? ` first failure: ${firstWhy}` : ''}`);
process.exit(0);
