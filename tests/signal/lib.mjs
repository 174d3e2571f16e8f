// Helpers for the vc-signal integration tests: config, HTTPS requests, a vc.v1 client, the runner.
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export { sleep, WebSocket };

function need(name) {
    const v = process.env[name];
    if (!v) throw new Error(`environment variable ${name} is not set (run tests/integration/signal.sh)`);
    return v;
}

// Everything the shell script set up. Connections go to 127.0.0.1 with SNI and certificate
// checks for "localhost" (the dev certificate covers both), verified against the dev CA.
export const cfg = {
    port: Number(need('VC_PORT')),
    apiKey: need('VC_API_KEY'),
    turnSecret: need('VC_TURN_SECRET'),
    ca: fs.readFileSync(need('VC_CA')),
    metaLog: need('VC_META_LOG'),
    serverLog: need('VC_SERVER_LOG'),
    dataDir: need('VC_DATA_DIR'),
    canaryFile: need('VC_CANARY_FILE'),
    resumeGrace: Number(process.env.VC_RESUME_GRACE || 5),
    clinicians: {
        alice: { email: need('VC_ALICE_EMAIL'), password: need('VC_ALICE_PASSWORD'), name: 'Alice Example' },
        bob: { email: need('VC_BOB_EMAIL'), password: need('VC_BOB_PASSWORD'), name: 'Dr Bob' },
        carol: { email: need('VC_CAROL_EMAIL'), password: need('VC_CAROL_PASSWORD'), name: 'Dr Carol' },
        // The reports' clinicians: Dana in team Reports, Erin in team Audit (test_reports.mjs).
        dana: { email: need('VC_DANA_EMAIL'), password: need('VC_DANA_PASSWORD'), name: 'Dr Dana' },
        erin: { email: need('VC_ERIN_EMAIL'), password: need('VC_ERIN_PASSWORD'), name: 'Dr Erin' },
        canary: {
            email: need('VC_CANARY_EMAIL'),
            password: need('VC_CANARY_PASSWORD'),
            name: need('VC_CANARY_NAME'),
        },
    },
};
// The HTTP edge's limits as signal.sh set them (--http-header-timeout and friends).
cfg.headerTimeout = Number(process.env.VC_HTTP_HEADER_TIMEOUT || 10);
cfg.bodyTimeout = Number(process.env.VC_HTTP_BODY_TIMEOUT || 10);
cfg.maxConnsPerIp = Number(process.env.VC_MAX_CONNS_PER_IP || 500);
cfg.origin = `https://localhost:${cfg.port}`;
cfg.allowedOrigin = process.env.VC_ALLOWED_ORIGIN || 'https://app.example.test';
cfg.wsUrl = `wss://127.0.0.1:${cfg.port}/ws`;

export const FIREFOX_LINUX_UA =
    'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
export const CHROME_WINDOWS_UA =
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/126.0.0.0 Safari/537.36';

const agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: cfg.ca });

// A failed expectation: the message says what the server did.
export class Fail extends Error {}

export function assert(cond, why) {
    if (!cond) throw new Fail(why);
}

export function eq(got, want, what) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g !== w) throw new Fail(`${what}: got ${g}, want ${w}`);
}

export function show(x, max = 300) {
    const s = typeof x === 'string' ? x : JSON.stringify(x);
    return s.length > max ? `${s.slice(0, max)}...(${s.length} chars)` : s;
}

// Rejects after ms with why, unless p settles first.
export function withTimeout(p, ms, why) {
    let t;
    return Promise.race([
        p.finally(() => clearTimeout(t)),
        new Promise((_, rej) => {
            t = setTimeout(() => rej(new Fail(`timed out after ${ms} ms: ${why}`)), ms);
        }),
    ]);
}

// One HTTPS request. opts: method, path, headers, body (object: JSON; string: raw), key (API
// key, true for the configured one), cookie, csrf, agent (false for a fresh connection, or an
// https.Agent), from (a local loopback address to connect from: tests that count per client IP
// use their own, 127.0.0.N). Resolves {status, headers, text, json}.
export function request(opts) {
    const headers = { Host: `localhost:${cfg.port}`, ...(opts.headers || {}) };
    let body = opts.body;
    if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
    if (body !== undefined) {
        headers['Content-Type'] ??= 'application/json';
        headers['Content-Length'] = Buffer.byteLength(body);
    }
    if (opts.key) headers.Authorization = `Bearer ${opts.key === true ? cfg.apiKey : opts.key}`;
    if (opts.cookie) headers.Cookie = opts.cookie;
    if (opts.csrf) headers['X-CSRF-Token'] = opts.csrf;
    const p = new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: '127.0.0.1',
                port: cfg.port,
                servername: 'localhost',
                ca: cfg.ca,
                agent: opts.agent === false || (opts.from && !opts.agent) ? false : opts.agent || agent,
                localAddress: opts.from,
                method: opts.method || 'GET',
                path: opts.path,
                headers,
            },
            (res) => {
                const chunks = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () => {
                    const text = Buffer.concat(chunks).toString('utf8');
                    let json;
                    try {
                        json = text ? JSON.parse(text) : undefined;
                    } catch {
                        json = undefined;
                    }
                    resolve({ status: res.statusCode, headers: res.headers, text, json });
                });
                res.on('error', reject);
            },
        );
        req.on('error', reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
    return withTimeout(p, opts.timeout || 5000, `${opts.method || 'GET'} ${opts.path}`);
}

// The complete HTTP responses in text, in order: [{status, headers, body, json}] (bodies by
// Content-Length).
export function parseResponses(text) {
    const out = [];
    let at = 0;
    for (;;) {
        const m = /HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/y;
        m.lastIndex = at;
        const line = m.exec(text);
        const end = line ? text.indexOf('\r\n\r\n', at) : -1;
        if (!line || end < 0) return out;
        const headers = {};
        for (const h of text.slice(m.lastIndex, end).split('\r\n')) {
            const i = h.indexOf(':');
            if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
        }
        const len = Number(headers['content-length'] || 0);
        if (text.length < end + 4 + len) return out; /* the body is still on its way */
        const body = text.slice(end + 4, end + 4 + len);
        out.push({ status: Number(line[1]), headers, body, json: tryJson(body) });
        at = end + 4 + len;
    }
}

function tryJson(text) {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

// What curl will not send: a raw exchange over TLS. parts are strings (written in turn) and
// numbers (pauses, ms). Reads until the server closes, `answers` responses are in, or ms pass.
// opts: from (local address), ms, answers. Resolves {text, responses, closed (by the server),
// handshake (TLS completed), ms}.
export function raw(parts, { from, ms = 5000, answers = 0 } = {}) {
    return new Promise((resolve) => {
        const t0 = Date.now(), chunks = [];
        let closed = false, handshake = false, done = false;
        const s = tls.connect({ host: '127.0.0.1', port: cfg.port, servername: 'localhost', ca: cfg.ca, localAddress: from });
        const finish = () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            s.destroy();
            const text = Buffer.concat(chunks).toString('latin1');
            resolve({ text, responses: parseResponses(text), closed, handshake, ms: Date.now() - t0 });
        };
        const timer = setTimeout(finish, ms);
        s.on('secureConnect', async () => {
            handshake = true;
            for (const p of parts) {
                if (typeof p === 'number') await sleep(p);
                else if (!done && !closed) s.write(p);
            }
        });
        s.on('data', (d) => {
            chunks.push(d);
            if (answers && parseResponses(Buffer.concat(chunks).toString('latin1')).length >= answers) finish();
        });
        s.on('end', () => {
            closed = true;
            finish();
        });
        s.on('close', () => {
            closed = true;
            finish();
        });
        s.on('error', () => {
            closed = true;
            finish();
        });
    });
}

// Opens a TLS connection from a local address and keeps it; resolves the socket once the
// handshake is done, or null when the server closes it first.
export function tlsOpen(from, ms = 5000) {
    return new Promise((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: cfg.port, servername: 'localhost', ca: cfg.ca, localAddress: from });
        const t = setTimeout(() => {
            s.destroy();
            resolve(null);
        }, ms);
        s.once('secureConnect', () => {
            clearTimeout(t);
            resolve(s);
        });
        const gone = () => {
            clearTimeout(t);
            s.destroy();
            resolve(null);
        };
        s.once('error', gone);
        s.once('close', gone);
    });
}

// The value of one sample of /metrics: name with its labels, e.g. 'x_total{reason="per_ip"}';
// NaN when the server has no such sample (then every comparison with it fails).
export async function metric(sample) {
    const m = await request({ path: '/metrics', agent: false });
    if (m.status !== 200) throw new Fail(`/metrics: ${m.status}`);
    const line = m.text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : NaN;
}

// Rooms created through createRoom, deleted again by the runner after each test.
const liveRooms = new Set();

// Creates a room with the API key (or auth {cookie, csrf}); returns {id, hostToken, guestToken,
// body}. Fails the test unless the answer is 201.
// Concurrent tests pass track = false and delete their rooms themselves.
export async function createRoom(body = {}, auth = { key: true }, track = true) {
    const r = await request({ method: 'POST', path: '/api/v1/rooms', body, ...auth });
    if (r.status !== 201) throw new Fail(`POST /api/v1/rooms ${show(body)}: ${r.status} ${show(r.text)}`);
    const tok = (u) => {
        const m = /#(.+)$/.exec(u || '');
        return m ? m[1] : '';
    };
    const room = { id: r.json.id, hostToken: tok(r.json.host_url), guestToken: tok(r.json.guest_url), body: r.json };
    if (track) liveRooms.add(JSON.stringify([room.id, auth]));
    return room;
}

export async function deleteLiveRooms() {
    for (const item of [...liveRooms]) {
        const [id, auth] = JSON.parse(item);
        liveRooms.delete(item);
        try {
            await request({ method: 'DELETE', path: `/api/v1/rooms/${id}`, ...auth });
        } catch {
            /* best effort */
        }
    }
}

// Logs a clinician in; returns {cookie, csrf, token, res}.
export async function login(who) {
    const res = await request({ method: 'POST', path: '/api/v1/session', body: { email: who.email, password: who.password } });
    if (res.status !== 200) throw new Fail(`login ${who.email}: ${res.status} ${show(res.text)}`);
    const sc = [].concat(res.headers['set-cookie'] || []);
    const line = sc.find((c) => c.startsWith('vc_session='));
    if (!line) throw new Fail(`login: no vc_session cookie in Set-Cookie ${show(sc)}`);
    const token = line.slice('vc_session='.length).split(';')[0];
    const csrf = res.json && (res.json.csrf || res.json.csrf_token);
    return { cookie: `vc_session=${token}`, csrf, token, setCookie: line, res };
}

// --- the vc.v1 client ---------------------------------------------------------------------------

let clientSeq = 0;
const SIDE_TYPES = new Set(['queue']);

// One WebSocket connection with a queue of received frames. Every wait has a timeout.
export class Client {
    constructor(ws, name) {
        this.ws = ws;
        this.name = name;
        this.queue = []; // {raw, msg}
        this.side = []; // frames of SIDE_TYPES
        this.seen = []; // every frame, for failure messages
        this.waiters = [];
        this.closeInfo = null;
        this.closeWaiters = [];
        ws.on('message', (data, isBinary) => {
            const raw = isBinary ? `<binary ${data.length} bytes>` : data.toString('utf8');
            let msg;
            try {
                msg = JSON.parse(raw);
            } catch {
                msg = { type: '<not json>' };
            }
            const item = { raw, msg };
            if (msg.type === 'joined') {
                this.peer = msg.peer;
                this.resume = msg.resume;
                this.joined = msg;
            }
            this.seen.push(item);
            // A waiting guest's place (queue) may change at any time: such frames wait apart,
            // for waitFor('queue'), so they never break the strict order next() checks.
            (SIDE_TYPES.has(msg.type) ? this.side : this.queue).push(item);
            this.wake();
        });
        ws.on('close', (code, reason) => {
            this.closeInfo = { code, reason: reason.toString() };
            this.wake();
            for (const w of this.closeWaiters.splice(0)) w(this.closeInfo);
        });
        ws.on('error', (e) => {
            this.lastError = e;
        });
    }

    // opts: origin (default the public one; null for none), protocols (default ['vc.v1']),
    // ua, cookie (a clinician's session), autoPong, timeout, from (local address). Resolves a Client once open; rejects with the HTTP status otherwise.
    static open(opts = {}) {
        const name = opts.name || `c${++clientSeq}`;
        const protocols = opts.protocols === undefined ? ['vc.v1'] : opts.protocols;
        const wsOpts = {
            ca: cfg.ca,
            servername: 'localhost',
            headers: {
                Host: `localhost:${cfg.port}`,
                'User-Agent': opts.ua || FIREFOX_LINUX_UA,
                ...(opts.cookie ? { Cookie: opts.cookie } : {}),
            },
            handshakeTimeout: opts.timeout || 5000,
            autoPong: opts.autoPong !== false,
            maxPayload: 1 << 20,
            perMessageDeflate: false,
        };
        if (opts.origin !== null) wsOpts.origin = opts.origin === undefined ? cfg.origin : opts.origin;
        if (opts.from) wsOpts.localAddress = opts.from;
        const ws = new WebSocket(cfg.wsUrl, protocols, wsOpts);
        const client = new Client(ws, name);
        const p = new Promise((resolve, reject) => {
            ws.once('open', () => resolve(client));
            ws.once('unexpected-response', (req, res) => {
                const e = new Fail(`handshake refused with HTTP ${res.statusCode}`);
                e.status = res.statusCode;
                res.resume();
                req.destroy();
                reject(e);
            });
            ws.once('error', (err) => reject(err));
            ws.once('close', (code) => reject(new Fail(`closed during handshake (${code})`)));
        });
        return withTimeout(p, (opts.timeout || 5000) + 500, `WebSocket handshake of ${name}`).catch((e) => {
            ws.terminate();
            throw e;
        });
    }

    wake() {
        for (const w of this.waiters.splice(0)) w();
    }

    send(x) {
        this.ws.send(typeof x === 'string' ? x : JSON.stringify(x));
    }

    describe() {
        const types = this.seen.map((f) => f.msg.type + (f.msg.code ? `:${f.msg.code}` : ''));
        return `${this.name} received [${types.join(' ')}]${this.closeInfo ? ` closed ${this.closeInfo.code}` : ''}`;
    }

    // Waits until a frame arrives (or the connection closes); fails, naming the `type` wanted
    // within `ms`, when the connection is closed or `deadline` has passed.
    async arrival(type, deadline, ms) {
        if (this.closeInfo) throw new Fail(`${this.name}: wanted ${type}, connection closed (${this.closeInfo.code}); ${this.describe()}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Fail(`${this.name}: no ${type} within ${ms} ms; ${this.describe()}`);
        await new Promise((resolve) => {
            const t = setTimeout(resolve, left);
            this.waiters.push(() => {
                clearTimeout(t);
                resolve();
            });
        });
    }

    // Takes the next frame (strictly in order); fails unless its type is `type`.
    async next(type, ms = 3000) {
        const deadline = Date.now() + ms;
        while (this.queue.length === 0) await this.arrival(type, deadline, ms);
        const item = this.queue.shift();
        if (type && item.msg.type !== type) {
            throw new Fail(`${this.name}: wanted ${type}, got ${show(item.raw)}; ${this.describe()}`);
        }
        this.lastRaw = item.raw;
        return item.msg;
    }

    // Skips frames until one of type `type` (and matching pred) arrives.
    async waitFor(type, ms = 3000, pred = () => true) {
        const deadline = Date.now() + ms;
        const list = SIDE_TYPES.has(type) ? this.side : this.queue;
        for (;;) {
            const i = list.findIndex((f) => f.msg.type === type && pred(f.msg));
            if (i >= 0) {
                const item = list.splice(0, i + 1).pop();
                this.lastRaw = item.raw;
                return item.msg;
            }
            await this.arrival(type, deadline, ms);
        }
    }

    // Fails unless the next frame is error CODE.
    async error(code, ms = 3000) {
        const m = await this.next('error', ms);
        if (m.code !== code) throw new Fail(`${this.name}: wanted error ${code}, got ${show(this.lastRaw)}`);
        assert(typeof m.message === 'string' && m.message.length > 0, `error ${code} without a message`);
        return m;
    }

    // Fails if any frame arrives within ms.
    async quiet(ms = 300) {
        await sleep(ms);
        if (this.queue.length) throw new Fail(`${this.name}: unexpected ${show(this.queue[0].raw)}`);
    }

    // A ping answered by pong proves the connection is open and nothing is queued before it.
    async alive(ms = 3000) {
        this.send({ type: 'ping' });
        await this.next('pong', ms);
    }

    // Resolves {code, reason} when the connection closes, failing after ms.
    closed(ms = 3000) {
        if (this.closeInfo) return Promise.resolve(this.closeInfo);
        return withTimeout(new Promise((r) => this.closeWaiters.push(r)), ms, `${this.name} to be closed; ${this.describe()}`);
    }

    // join {token, resume?, precheck?}; returns the first answer (not consumed for waiting).
    async join(token, extra = {}) {
        this.send({ type: 'join', token, ...extra });
        return this.next(null);
    }

    async joinAs(token, extra = {}) {
        const m = await this.join(token, extra);
        if (m.type !== 'joined') throw new Fail(`${this.name}: join answered ${show(this.lastRaw)}`);
        return m;
    }

    close() {
        try {
            this.ws.close(1000);
        } catch {
            /* already gone */
        }
    }

    terminate() {
        this.ws.terminate();
    }
}

// Every client opened through connect() is terminated after its (sequential) test; concurrent
// tests use Client.open and terminate their own.
const openClients = new Set();

export async function connect(opts) {
    const c = await Client.open(opts);
    openClients.add(c);
    return c;
}

export function dropClients() {
    for (const c of openClients) c.terminate();
    openClients.clear();
}

// A host and a guest joined in a new room without a lobby (opts go to the room's body).
export async function pair(opts = {}) {
    const room = await createRoom({ lobby: false, ...opts });
    const host = await connect({ name: 'host' });
    const guest = await connect({ name: 'guest' });
    await host.joinAs(room.hostToken);
    await guest.joinAs(room.guestToken);
    await host.next('peer-joined');
    return { room, host, guest };
}

export function hmacB64(secret, text) {
    return crypto.createHmac('sha1', secret).update(text).digest('base64');
}

export function randomHex(bytes = 8) {
    return crypto.randomBytes(bytes).toString('hex');
}

// --- the runner ---------------------------------------------------------------------------------

// Runs tests [{name, fn, concurrent}] : concurrent ones start first and run alongside the
// sequential ones (they are long waits). Prints "ok NAME" / "FAIL NAME: why" and the totals.
export async function run(tests, perTestMs = 20000) {
    let passed = 0, failed = 0;
    const only = process.env.VC_ONLY ? new RegExp(process.env.VC_ONLY) : null;
    const selected = tests.filter((t) => !only || only.test(t.name));
    const one = async (t) => {
        const started = Date.now();
        try {
            await withTimeout(Promise.resolve().then(t.fn), t.timeout || perTestMs, `test ${t.name}`);
            passed++;
            console.log(`ok ${t.name} (${Date.now() - started} ms)`);
        } catch (e) {
            failed++;
            const why = e instanceof Fail ? e.message : (e && e.stack) || String(e);
            console.log(`FAIL ${t.name}: ${why.replace(/\n/g, '\n#   ')}`);
        }
    };
    // A stuck server must not stretch the suite: after the deadline the rest fail at once.
    const deadline = Date.now() + Number(process.env.VC_SUITE_SECONDS || 100) * 1000;
    const background = selected.filter((t) => t.concurrent).map(one);
    for (const t of selected.filter((x) => !x.concurrent)) {
        if (Date.now() > deadline) {
            failed++;
            console.log(`FAIL ${t.name}: not run, the suite passed its deadline`);
            continue;
        }
        await one(t);
        if (!t.keepClients) dropClients();
        await deleteLiveRooms();
    }
    await Promise.all(background);
    dropClients();
    await deleteLiveRooms();
    agent.destroy();
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0;
}
