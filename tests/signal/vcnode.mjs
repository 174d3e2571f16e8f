// Shared by the multi-node scripts (tests/signal/cluster.mjs, postgres.mjs,
// tests/faults/partition.mjs): results ("ok NAME" / "FAIL NAME (why)", then "N passed, N
// failed"), HTTPS JSON requests, a vc.v1 client over the `ws` package of tests/signal, and a
// clinician's dashboard.
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export class Fail extends Error {}

export function assert(cond, why) {
    if (!cond) throw new Fail(why);
}

// test(name, fn) runs and reports one check; summary() prints the totals and returns the count
// of failures.
export function results() {
    let passed = 0, failed = 0;
    return {
        async test(name, fn) {
            try {
                await fn();
                passed++;
                console.log(`ok ${name}`);
            } catch (e) {
                failed++;
                console.log(`FAIL ${name} (${e instanceof Fail ? e.message : e.stack || e})`);
            }
        },
        summary() {
            console.log(`${passed} passed, ${failed} failed`);
            return failed;
        },
    };
}

// One HTTPS request to addr:port with SNI and certificate checks for "localhost". headers are
// added to a JSON content type. Resolves {status, text, json, cookie}.
export function request({ addr = '127.0.0.1', port, ca, method, path, body, headers = {} }) {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: addr, servername: 'localhost', port, ca, method, path, agent: false,
            headers: { host: `localhost:${port}`, 'content-type': 'application/json', ...headers },
        }, (res) => {
            let d = '';
            res.on('data', (c) => { d += c; });
            res.on('end', () => {
                let json = null;
                try { json = JSON.parse(d); } catch { /* text */ }
                resolve({ status: res.statusCode, text: d, json, cookie: res.headers['set-cookie'] });
            });
        });
        req.on('error', reject);
        req.setTimeout(3000, () => req.destroy(new Error(`${method} ${path} on port ${port} timed out`)));
        req.end(body === undefined ? undefined : JSON.stringify(body));
    });
}

// A vc.v1 WebSocket. next(type) takes the first queued message of that type; closedP resolves
// the close code; closedWithin(ms) the code, or 'open'. `live` (a Set), if given, holds the
// client while it is open. cookie: a clinician's session, for a dashboard; ua: a User-Agent.
export function client({ addr = '127.0.0.1', port, ca, origin, label, live = null, cookie = null, ua = null }) {
    const ws = new WebSocket(`wss://${addr}:${port}/ws`, 'vc.v1', {
        ca, servername: 'localhost', origin, handshakeTimeout: 5000, perMessageDeflate: false,
        headers: { ...(cookie ? { cookie } : {}), ...(ua ? { 'user-agent': ua } : {}) },
    });
    const c = { ws, label, msgs: [], waiters: new Set(), closed: null };
    if (live) live.add(c);
    ws.on('message', (m) => {
        c.msgs.push(JSON.parse(m.toString()));
        for (const w of c.waiters) w();
    });
    c.closedP = new Promise((resolve) => ws.on('close', (code) => {
        c.closed = code;
        if (live) live.delete(c);
        for (const w of c.waiters) w();
        resolve(code);
    }));
    ws.on('error', () => {});
    c.open = new Promise((resolve, reject) => {
        ws.on('open', resolve);
        ws.on('close', () => reject(new Fail(`${label}: closed before open`)));
    });
    c.send = (o) => ws.send(JSON.stringify(o));
    c.next = (type, ms = 5000) => new Promise((resolve, reject) => {
        const done = () => {
            const i = c.msgs.findIndex((m) => m.type === type);
            if (i >= 0 || c.closed !== null) {
                c.waiters.delete(done);
                clearTimeout(t);
                if (i >= 0) resolve(c.msgs.splice(i, 1)[0]);
                else reject(new Fail(`${label}: closed (${c.closed}) while waiting for ${type}`));
            }
        };
        const t = setTimeout(() => {
            c.waiters.delete(done);
            reject(new Fail(`${label}: no ${type} within ${ms} ms (got ${JSON.stringify(c.msgs).slice(0, 200)})`));
        }, ms);
        c.waiters.add(done);
        done();
    });
    c.closedWithin = (ms) => Promise.race([c.closedP, sleep(ms).then(() => 'open')]);
    c.close = () => ws.close();
    return c;
}

// A signed-in clinician's dashboard on port (session: {cookie}): its watch socket, after the
// rooms answer (in d.rooms).
export async function dashboard({ port, ca, session, label }) {
    const d = client({ port, ca, origin: `https://localhost:${port}`, label, cookie: session.cookie });
    await d.open;
    d.send({ type: 'watch' });
    d.rooms = await d.next('rooms');
    return d;
}

// The next room entry for id on dashboard d that pred accepts, within ms.
export async function entry(d, id, pred = () => true, ms = 3000) {
    const t0 = Date.now();
    for (;;) {
        const m = await d.next('room', Math.max(1, ms - (Date.now() - t0)));
        if (m.id === id && pred(m)) return m;
    }
}
