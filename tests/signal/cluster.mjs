// Two vc-signal nodes sharing rooms through a real redis-server (tests/integration/cluster.sh):
// cross-node calls, registry REST on any node, resume on the other node, kill -9 of the room's
// home, Redis lost and back. Prints "ok NAME" / "FAIL NAME (why)" and "N passed, N failed".
import fs from 'node:fs';
import crypto from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import {
    assert, client as vcClient, dashboard as watchOn, entry, request, results,
} from './vcnode.mjs';

const env = (k) => {
    if (!process.env[k]) throw new Error(`${k} is not set (run tests/integration/cluster.sh)`);
    return process.env[k];
};
const ca = fs.readFileSync(env('VC_CA'));
const P1 = Number(env('VC_PORT1')), P2 = Number(env('VC_PORT2')), KEY = env('VC_API_KEY');
const REDIS_PORT = env('VC_REDIS_PORT');
let redisPid = Number(env('VC_REDIS_PID'));
const node1Pid = Number(env('VC_NODE1_PID'));
const redisArgs = ['--port', REDIS_PORT, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
const { test, summary } = results();

// One request, with the API key unless auth gives a clinician's {cookie, csrf}.
function http(port, method, path, body, auth = null) {
    const headers = auth ? { cookie: auth.cookie, 'x-csrf-token': auth.csrf } : { authorization: `Bearer ${KEY}` };
    return request({ port, ca, method, path, body, headers });
}
const room = async (port, opts = {}) => {
    const r = await http(port, 'POST', '/api/v1/rooms', opts);
    assert(r.status === 201, `POST /api/v1/rooms on ${port}: ${r.status} ${r.text}`);
    return { id: r.json.id, host: r.json.host_url.split('#')[1], guest: r.json.guest_url.split('#')[1] };
};

const client = (port, label) => vcClient({ port, ca, origin: `https://localhost:${port}`, label });
async function join(port, token, label, extra = {}) {
    const c = client(port, label);
    await c.open;
    c.send({ type: 'join', token, ...extra });
    return c;
}

// A lobby call with the host on hostPort and the guest on guestPort, admitted and joined.
async function call(hostPort, guestPort) {
    const r = await room(hostPort);
    const host = await join(hostPort, r.host, 'host');
    const hj = await host.next('joined');
    const guest = await join(guestPort, r.guest, 'guest');
    await guest.next('waiting');
    const knock = await host.next('knock');
    host.send({ type: 'admit', peer: knock.peer });
    await guest.next('admitted');
    const gj = await guest.next('joined');
    await host.next('peer-joined');
    return { r, host, guest, hj, gj };
}

// n numbered signals from a to b: all arrive, in order.
async function signalsInOrder(a, aj, b, bj, n) {
    for (let i = 0; i < n; i++) a.send({ type: 'signal', to: bj.peer, data: { seq: i } });
    for (let i = 0; i < n; i++) {
        const s = await b.next('signal');
        assert(s.from === aj.peer && s.data.seq === i, `signal ${i}: got ${JSON.stringify(s)}`);
    }
}

async function readyz(port) {
    try {
        return (await http(port, 'GET', '/readyz')).status;
    } catch {
        return 0;
    }
}
const redis = (...args) => execFileSync('redis-cli', ['-p', REDIS_PORT, ...args]).toString().trim();

// ---- cross-node -----------------------------------------------------------------------------

let c1;
await test('cluster_both_nodes_ready', async () => {
    assert(await readyz(P1) === 200 && await readyz(P2) === 200, 'a node is not ready');
});
await test('cluster_room_created_on_one_node_is_seen_on_the_other', async () => {
    const r = await room(P1, { capacity: 3 });
    const got = await http(P2, 'GET', `/api/v1/rooms/${r.id}`);
    assert(got.status === 200 && got.json.id === r.id, `GET on node 2: ${got.status} ${got.text}`);
    const list = await http(P2, 'GET', '/api/v1/rooms');
    assert(list.json.rooms.some((x) => x.id === r.id && x.capacity === 3), `list on node 2: ${list.text.slice(0, 200)}`);
    const del = await http(P2, 'DELETE', `/api/v1/rooms/${r.id}`);
    assert(del.status === 204, `DELETE on node 2: ${del.status}`);
    const gone = await http(P1, 'GET', `/api/v1/rooms/${r.id}`);
    assert(gone.status === 404, `after DELETE, node 1 still has it: ${gone.status}`);
});
// Clinicians are numbered by each node's own database; their rooms belong to their email (hashed).
async function login(port, email) {
    const r = await http(port, 'POST', '/api/v1/session', { email, password: env('VC_PASSWORD') });
    assert(r.status === 200, `login of ${email} on ${port}: ${r.status} ${r.text}`);
    return { cookie: [].concat(r.cookie)[0].split(';')[0], csrf: r.json.csrf };
}
await test('cluster_clinician_rooms_follow_the_clinician_across_nodes', async () => {
    const a1 = await login(P1, 'a@example.org'), a2 = await login(P2, 'a@example.org');
    const b2 = await login(P2, 'b@example.org');
    const made = await http(P1, 'POST', '/api/v1/rooms', {}, a1);
    assert(made.status === 201, `create as a@ on node 1: ${made.status} ${made.text}`);
    const mine = await http(P2, 'GET', '/api/v1/rooms', undefined, a2);
    assert(mine.json.rooms.some((x) => x.id === made.json.id), `a@ does not see its room on node 2: ${mine.text.slice(0, 200)}`);
    const theirs = await http(P2, 'GET', '/api/v1/rooms', undefined, b2);
    assert(!theirs.json.rooms.some((x) => x.id === made.json.id), 'b@ (user 1 on node 2) sees a@\'s room');
    const del = await http(P2, 'DELETE', `/api/v1/rooms/${made.json.id}`, undefined, b2);
    assert(del.status === 404, `b@ deleted a@'s room: ${del.status}`);
    assert((await http(P2, 'DELETE', `/api/v1/rooms/${made.json.id}`, undefined, a2)).status === 204, 'a@ cannot end its room on node 2');
});
await test('cluster_clinician_session_works_on_every_node_and_logout_ends_it_everywhere', async () => {
    const s = await login(P1, 'a@example.org');
    const me = await http(P2, 'GET', '/api/v1/me', undefined, s);
    assert(me.status === 200 && me.json.email === 'a@example.org', `node 2 with node 1's cookie: ${me.status} ${me.text}`);
    const made = await http(P2, 'POST', '/api/v1/rooms', {}, s); // the CSRF token travels too
    assert(made.status === 201, `create on node 2 with node 1's session: ${made.status} ${made.text}`);
    const token = s.cookie.split('=')[1];
    assert(!redis('--scan', '--pattern', 'vc:sess:*').includes(token), 'a session token is stored in clear');
    const out = await http(P2, 'DELETE', '/api/v1/session', undefined, s);
    assert(out.status === 204, `logout on node 2: ${out.status}`);
    for (const port of [P1, P2]) {
        const after = await http(port, 'GET', '/api/v1/rooms', undefined, s);
        assert(after.status === 401, `node ${port} still takes the cookie after logout: ${after.status}`);
    }
    await http(P1, 'DELETE', `/api/v1/rooms/${made.json.id}`);
});
await test('cluster_tokens_are_stored_hashed', async () => {
    const r = await room(P1);
    const dump = redis('--no-raw', 'EVAL', "local o='' for _,k in ipairs(redis.call('KEYS','vc:*')) do o=o..k..' '..(redis.call('TYPE',k).ok=='string' and redis.call('GET',k) or '')..'\\n' end return o", '0');
    assert(dump.includes(r.id), 'the room is not in Redis');
    assert(!dump.includes(r.host) && !dump.includes(r.guest), 'a room token is stored in clear in Redis');
    await http(P1, 'DELETE', `/api/v1/rooms/${r.id}`);
});
await test('cluster_call_across_nodes_lobby_admit_and_signals_in_order', async () => {
    c1 = await call(P1, P2);
    await signalsInOrder(c1.guest, c1.gj, c1.host, c1.hj, 50);
    await signalsInOrder(c1.host, c1.hj, c1.guest, c1.gj, 50);
});
await test('cluster_resume_on_the_other_node', async () => {
    c1.guest.close();
    await c1.host.next('peer-away', 15000);
    // The guest comes back through node 1 this time, with its resume token.
    const g = await join(P1, c1.r.guest, 'guest-again', { resume: c1.gj.resume });
    const j = await g.next('joined');
    assert(j.peer === c1.gj.peer, `resumed as ${j.peer}, not ${c1.gj.peer}`);
    await c1.host.next('peer-back');
    c1.guest = g; c1.gj = j;
    await signalsInOrder(c1.host, c1.hj, c1.guest, c1.gj, 5);
});
await test('cluster_end_from_the_other_node_reaches_everyone', async () => {
    const del = await http(P2, 'DELETE', `/api/v1/rooms/${c1.r.id}`);
    assert(del.status === 204, `DELETE: ${del.status}`);
    await c1.host.next('room-ended');
    await c1.guest.next('room-ended');
});
await test('cluster_unknown_token_is_invalid_on_both_nodes', async () => {
    for (const port of [P1, P2]) {
        const c = await join(port, 'f'.repeat(32), 'stranger');
        const e = await c.next('error');
        assert(e.code === 'invalid_token', `node ${port}: ${JSON.stringify(e)}`);
        c.close();
    }
});

// Polls Redis until vc:tok:HASH of token holds want (a room id, or '' for gone), up to 3 s.
async function tokenKey(token, want) {
    const key = `vc:tok:${crypto.createHash('sha256').update(token).digest('hex')}`;
    let got = '';
    for (let i = 0; i < 30; i++) {
        got = redis('GET', key);
        if (got === want) return;
        await sleep(100);
    }
    assert(false, `${key} holds "${got}", want "${want}"`);
}
await test('cluster_invite_made_on_node_1_opens_the_room_through_node_2', async () => {
    const r = await room(P1, { capacity: 4, lobby: false });
    const host = await join(P1, r.host, 'host');
    const hj = await host.next('joined');
    const made = await http(P1, 'POST', `/api/v1/rooms/${r.id}/invites`, { role: 'guest', name: 'Interpreter' });
    assert(made.status === 201, `POST invites on node 1: ${made.status} ${made.text}`);
    const token = made.json.url.split('#')[1];
    await tokenKey(token, r.id);
    const dump = redis('--no-raw', 'EVAL', "local o='' for _,k in ipairs(redis.call('KEYS','vc:*')) do o=o..k..' '..(redis.call('TYPE',k).ok=='string' and redis.call('GET',k) or '')..'\\n' end return o", '0');
    assert(!dump.includes(token) && !dump.includes('Interpreter'), 'an invite token or name is stored in Redis');
    const g = await join(P2, token, 'interpreter');
    const gj = await g.next('joined');
    assert(gj.name === 'Interpreter' && gj.peers.some((p) => p.peer === hj.peer), `joined through node 2: ${JSON.stringify(gj)}`);
    const pj = await host.next('peer-joined');
    assert(pj.peer === gj.peer && pj.invited === true, `peer-joined: ${JSON.stringify(pj)}`);
    // Made on node 2 (not the room's home): its hash goes to node 1, and the link works there.
    const far = await http(P2, 'POST', `/api/v1/rooms/${r.id}/invites`, { role: 'guest' });
    assert(far.status === 202 && far.json.forwarded === true, `POST invites on node 2: ${far.status} ${far.text}`);
    const farToken = far.json.url.split('#')[1];
    await tokenKey(farToken, r.id);
    const del = await http(P2, 'DELETE', `/api/v1/rooms/${r.id}/invites/${far.json.id}`);
    assert(del.status === 202, `DELETE invite on node 2: ${del.status} ${del.text}`);
    await tokenKey(farToken, '');
    // Revoked on node 1: its key goes, and node 2 answers as for an unknown token.
    assert((await http(P1, 'DELETE', `/api/v1/rooms/${r.id}/invites/${made.json.id}`)).status === 204, 'DELETE invite on node 1');
    await tokenKey(token, '');
    for (const t of [token, farToken]) {
        const late = await join(P2, t, 'late');
        const e = await late.next('error');
        assert(e.code === 'invalid_token', `a revoked invite through node 2: ${JSON.stringify(e)}`);
        late.close();
    }
    await http(P1, 'DELETE', `/api/v1/rooms/${r.id}`);
    host.close();
    g.close();
});

// ---- the clinic day across nodes ----------------------------------------------------------------

// A signed-in clinician's dashboard on port: its watch socket, after the rooms answer.
const dashboard = (port, session, label) => watchOn({ port, ca, session, label });
// A knock on port for room r; returns the guest and its waiting frame.
async function knock(port, r, label = 'patient') {
    const g = await join(port, r.guest, label);
    return { g, w: await g.next('waiting') };
}
let a1, b2;
await test('cluster_a_knock_on_one_node_reaches_a_dashboard_on_the_other_within_1s', async () => {
    a1 = await login(P1, 'a@example.org');
    b2 = await login(P2, 'b@example.org');
    const d = await dashboard(P2, b2, 'bob-dashboard');
    assert(d.rooms.me.teams.includes('Cardiology'), `me: ${JSON.stringify(d.rooms.me)}`);
    const made = await http(P1, 'POST', '/api/v1/rooms', { label: 'cross-node' }, a1);
    assert(made.status === 201, `create: ${made.status} ${made.text}`);
    const id = made.json.id;
    await entry(d, id);
    const t0 = Date.now();
    const { g } = await knock(P1, { guest: made.json.guest_url.split('#')[1] });
    const e = await entry(d, id, (m) => m.waiting.length === 1);
    const took = Date.now() - t0;
    assert(took < 1000, `the knock reached the other node's dashboard after ${took} ms`);
    console.log(`# knock on node 1 shown on node 2 after ${took} ms`);
    assert(e.label === 'cross-node', `label ${e.label}`);
    const q = await g.next('queue', 3000);
    for (let i = 0; i < 10 && !q.notified; i++) Object.assign(q, await g.next('queue', 3000));
    assert(q.notified, 'the patient was not told a clinician had seen the knock');
    g.close();
    d.close();
    await http(P1, 'DELETE', `/api/v1/rooms/${id}`, undefined, a1);
});
await test('cluster_team_mates_on_two_nodes_race_to_admit_exactly_one_wins', async () => {
    const da = await dashboard(P1, a1, 'alice-dashboard');
    const db = await dashboard(P2, b2, 'bob-dashboard');
    const made = await http(P2, 'POST', '/api/v1/rooms', {}, b2); // home: node 2
    const r = { id: made.json.id, guest: made.json.guest_url.split('#')[1] };
    const { g } = await knock(P1, r); // the patient reaches node 2 through node 1
    const e = await entry(da, r.id, (m) => m.waiting.length === 1);
    await entry(db, r.id, (m) => m.waiting.length === 1);
    const peer = e.waiting[0].peer;
    da.send({ type: 'admit', room: r.id, peer });
    db.send({ type: 'admit', room: r.id, peer });
    const outcome = async (d) => {
        const ok = d.next('admitted', 4000).then(() => 'won', () => null);
        const no = d.next('error', 4000).then((m) => m.code, () => null);
        return (await ok) || (await no);
    };
    const [oa, ob] = await Promise.all([outcome(da), outcome(db)]);
    assert([oa, ob].sort().join() === 'already_admitted,won', `outcomes: alice ${oa}, bob ${ob}`);
    await g.next('admitted');
    await g.next('joined');
    // A team mate takes the call through node 1, by the room's id (node 2 holds it).
    const host = vcClient({ port: P1, ca, origin: `https://localhost:${P1}`, label: 'host-by-id', cookie: a1.cookie });
    await host.open;
    host.send({ type: 'join', room: r.id });
    const hj = await host.next('joined');
    assert(hj.role === 'host' && hj.peers.length === 1, `joined: ${JSON.stringify(hj)}`);
    await g.next('peer-joined');
    for (const c of [da, db, g, host]) c.close();
    await http(P2, 'DELETE', `/api/v1/rooms/${r.id}`, undefined, b2);
});
await test('cluster_messages_labels_and_queue_places_cross_nodes', async () => {
    const da = await dashboard(P1, a1, 'alice-dashboard');
    const m1 = await http(P1, 'POST', '/api/v1/rooms', {}, a1); // home: node 1
    const m2 = await http(P2, 'POST', '/api/v1/rooms', {}, b2); // home: node 2, same team
    const p1 = await knock(P1, { guest: m1.json.guest_url.split('#')[1] }, 'first');
    await sleep(50);
    const p2 = await knock(P2, { guest: m2.json.guest_url.split('#')[1] }, 'second');
    let q = await p2.g.next('queue', 3000);
    for (let i = 0; i < 10 && q.position !== 2; i++) q = await p2.g.next('queue', 3000);
    assert(q.position === 2 && q.waiting === 2, `second's place: ${JSON.stringify(q)}`);
    // A message and a label from node 1's dashboard for the room node 2 holds.
    da.send({ type: 'lobby-message', room: m2.json.id, text: 'Running <b>late</b>' });
    const msg = await p2.g.next('message', 3000);
    assert(msg.text === 'Running <b>late</b>', `message ${JSON.stringify(msg)}`);
    const patch = await http(P1, 'PATCH', `/api/v1/rooms/${m2.json.id}`, { label: 'relabelled' }, a1);
    assert(patch.status === 202 && patch.json.forwarded === true, `PATCH via node 1: ${patch.status} ${patch.text}`);
    await entry(da, m2.json.id, (m) => m.label === 'relabelled');
    const rest = await http(P1, 'POST', `/api/v1/rooms/${m2.json.id}/messages`, { text: 'via REST' }, a1);
    assert(rest.status === 202, `POST messages via node 1: ${rest.status} ${rest.text}`);
    assert((await p2.g.next('message', 3000)).text === 'via REST', 'REST message through the other node');
    for (const c of [da, p1.g, p2.g]) c.close();
    await http(P1, 'DELETE', `/api/v1/rooms/${m1.json.id}`, undefined, a1);
    await http(P2, 'DELETE', `/api/v1/rooms/${m2.json.id}`, undefined, b2);
});
// A dashboard on node 1, which the next test kills: after it, the knock made meanwhile shows.
await test('cluster_dashboard_watches_on_the_node_about_to_die', async () => {
    const made = await http(P2, 'POST', '/api/v1/rooms', { label: 'survives' }, b2);
    globalThis.watched = { d: await dashboard(P1, a1, 'doomed-dashboard'), id: made.json.id, guest: made.json.guest_url.split('#')[1] };
    assert(globalThis.watched.d.rooms.rooms.some((x) => x.id === made.json.id), 'node 1 does not show node 2\'s room');
});

// ---- kill -9 of the room's home -----------------------------------------------------------------

await test('cluster_kill9_of_the_home_node_both_resume_on_the_other_within_10s', async () => {
    const c = await call(P1, P2); // home: node 1 (the room was created there)
    await signalsInOrder(c.guest, c.gj, c.host, c.hj, 3);
    const t0 = Date.now();
    process.kill(node1Pid, 'SIGKILL');
    await c.host.closedP;
    // The host's browser would retry at once through the load balancer: here, on node 2.
    let host = null, hj = null;
    while (!hj && Date.now() - t0 < 10000) {
        host = await join(P2, c.r.host, 'host-resumed', { resume: c.hj.resume });
        try {
            hj = await host.next('joined', 2500);
        } catch {
            host.close();
            await sleep(300);
        }
    }
    assert(hj && hj.peer === c.hj.peer, 'the host did not resume on node 2 within 10 s');
    // The guest, proxied through node 2 to the dead node, is told to reconnect (1012).
    const code = await Promise.race([c.guest.closedP, sleep(10000 - (Date.now() - t0)).then(() => 'none')]);
    assert(code === 1012, `the guest's connection ended with ${code}, want 1012`);
    const guest = await join(P2, c.r.guest, 'guest-resumed', { resume: c.gj.resume });
    const gj = await guest.next('joined', 10000 - (Date.now() - t0));
    const took = Date.now() - t0;
    assert(gj.peer === c.gj.peer, 'the guest came back as another peer');
    assert(took < 10000, `took ${took} ms`);
    console.log(`# both resumed on node 2 ${took} ms after kill -9 of node 1`);
    await signalsInOrder(guest, gj, host, hj, 5);
    await signalsInOrder(host, hj, guest, gj, 5);
    globalThis.survivor = { host, guest, hj, gj, r: c.r };
});
await test('cluster_knock_while_the_dashboards_node_is_dead_shows_after_reconnecting', async () => {
    const w = globalThis.watched;
    assert(w, 'needs the dashboard of the test before the kill');
    assert(await w.d.closedWithin(5000) !== 'open', 'the dashboard on the dead node is still open');
    const { g } = await knock(P2, { guest: w.guest }, 'late-patient');
    // The dashboard reconnects by itself, through the load balancer: here, to node 2.
    const d = await dashboard(P2, a1, 'dashboard-again');
    const e = d.rooms.rooms.find((x) => x.id === w.id);
    assert(e && e.waiting.length === 1 && e.label === 'survives', `after reconnecting: ${JSON.stringify(e)}`);
    g.close();
    d.close();
});

// ---- Redis lost and back ----------------------------------------------------------------------

await test('cluster_redis_lost_readyz_fails_joins_refused_calls_carry_on', async () => {
    const s = globalThis.survivor;
    assert(s, 'needs the previous test');
    const fresh = await room(P2);
    process.kill(redisPid, 'SIGKILL');
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
        await sleep(250);
        status = await readyz(P2);
    }
    assert(status === 503, `/readyz still ${status} 10 s after Redis died`);
    const create = await http(P2, 'POST', '/api/v1/rooms', {});
    assert(create.status === 503 && create.json?.error?.code === 'unavailable', `POST: ${create.status} ${create.text}`);
    const j = await join(P2, fresh.guest, 'joiner');
    const e = await j.next('error');
    assert(e.code === 'unavailable', `join while Redis is down: ${JSON.stringify(e)}`);
    j.close();
    await signalsInOrder(s.host, s.hj, s.guest, s.gj, 5); // the call held here carries on
});
await test('cluster_redis_back_service_recovers_by_itself', async () => {
    const s = globalThis.survivor;
    const child = spawn('redis-server', redisArgs, { detached: true, stdio: 'ignore' });
    redisPid = child.pid;
    fs.writeFileSync(env('VC_REDIS_PIDFILE'), String(child.pid));
    child.unref();
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
        await sleep(250);
        status = await readyz(P2);
    }
    assert(status === 200, `/readyz ${status} 10 s after Redis came back`);
    const r = await room(P2);
    const h = await join(P2, r.host, 'after');
    await h.next('joined');
    h.close();
    // The room held through the outage is registered again: another node would find it.
    assert(redis('EXISTS', `vc:room:${s.r.id}`) === '1', 'the held room was not written back');
    s.host.send({ type: 'leave' });
    s.guest.send({ type: 'leave' });
    await sleep(300);
});

process.exit(summary() ? 1 : 0);
