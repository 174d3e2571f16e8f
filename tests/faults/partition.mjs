// The calls of 6_signal_partition.sh: rooms homed on node A (in a network namespace), clients on
// both nodes, then node A's link to Redis taken down for PARTITION_SECONDS and brought back up.
// Asserts what README.md ("Several vc-signal nodes (Redis)") promises for each kind of room, ends
// every room and closes every client. Prints "ok NAME" / "FAIL NAME (why)" and "N passed, N failed".
// Environment (set by the shell script): VC_CA, VC_API_KEY, VC_A_ADDR, VC_A_PORT, VC_B_PORT,
// VC_REDIS_PORT, REDISCLI_AUTH, VC_LINK (the host end of node A's Redis link), VC_PARTITION_SECONDS.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Fail, assert, client, request, results } from '../signal/vcnode.mjs';

function env(name) {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set (run tests/faults/6_signal_partition.sh)`);
    return v;
}
const ca = fs.readFileSync(env('VC_CA'));
const KEY = env('VC_API_KEY');
const A = { name: 'A', addr: env('VC_A_ADDR'), port: Number(env('VC_A_PORT')), id: 'nodeA' };
const B = { name: 'B', addr: '127.0.0.1', port: Number(env('VC_B_PORT')), id: 'nodeB' };
const REDIS_PORT = env('VC_REDIS_PORT');
const LINK = env('VC_LINK');
const PARTITION_MS = Number(env('VC_PARTITION_SECONDS')) * 1000;
const ORIGIN = `https://localhost:${A.port}`; // allowed by both nodes

// ---- results, HTTPS, Redis and the partition --------------------------------------------------

const { test, summary } = results();
const note = (s) => console.log(`# ${s}`);

const http = (node, method, path, body) =>
    request({ addr: node.addr, port: node.port, ca, method, path, body, headers: { authorization: `Bearer ${KEY}` } });
async function readyz(node) {
    try {
        const r = await http(node, 'GET', '/readyz');
        return `${r.status} ${r.text.trim()}`;
    } catch (e) {
        return `0 ${e.message}`;
    }
}
// Polls readyz until its status is want; resolves the milliseconds taken, or fails after ms.
async function readyzBecomes(node, want, ms, since) {
    let got = '';
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
        got = await readyz(node);
        if (got.startsWith(`${want} `)) return { ms: Date.now() - since, text: got };
    }
    throw new Fail(`node ${node.name} /readyz is "${got}" ${ms} ms on, want ${want}`);
}
async function createRoom(node) {
    const r = await http(node, 'POST', '/api/v1/rooms', { lobby: false });
    assert(r.status === 201, `POST /api/v1/rooms on node ${node.name}: ${r.status} ${r.text}`);
    return { id: r.json.id, host: r.json.host_url.split('#')[1], guest: r.json.guest_url.split('#')[1] };
}
const redis = (...args) =>
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', REDIS_PORT, '--no-auth-warning', ...args]).toString().trim();
const link = (state) => execFileSync('ip', ['link', 'set', LINK, state]);

// ---- a vc.v1 client ----------------------------------------------------------------------------

const clients = new Set();

// One WebSocket to node, kept in `clients` while it is open.
function connect(node, label) {
    const c = client({ addr: node.addr, port: node.port, ca, origin: ORIGIN, label, live: clients });
    c.node = node;
    return c;
}
async function join(node, token, label, resume) {
    const c = connect(node, label);
    await c.open;
    c.send({ type: 'join', token, ...(resume ? { resume } : {}) });
    return c;
}
// Joins and waits for joined; c.me is the joined message (peer id, resume token).
async function joined(node, token, label, resume) {
    const c = await join(node, token, label, resume);
    c.me = await c.next('joined');
    return c;
}
// n numbered signals from a to b, all delivered in order.
async function signals(a, b, n, tag) {
    for (let i = 0; i < n; i++) a.send({ type: 'signal', to: b.me.peer, data: { tag, seq: i } });
    for (let i = 0; i < n; i++) {
        const s = await b.next('signal');
        assert(s.from === a.me.peer && s.data.tag === tag && s.data.seq === i,
            `${a.label} -> ${b.label} signal ${i} (${tag}): got ${JSON.stringify(s)}`);
    }
}
async function bothWays(x, y, tag) {
    await signals(x, y, 3, `${tag}>`);
    await signals(y, x, 3, `${tag}<`);
}
// The client comes back (as a browser would) with its resume token; the same peer.
async function resume(c, node, label) {
    const n = await joined(node, c.token, label, c.me.resume);
    assert(n.me.peer === c.me.peer, `${label} resumed as ${n.me.peer}, not ${c.me.peer}`);
    n.token = c.token;
    return n;
}
// Hosts on node A, guests on guestNode, in a room homed on node A.
async function call(kind, guestNode) {
    const r = await createRoom(A);
    const host = await joined(A, r.host, `${kind}-host@A`);
    host.token = r.host;
    const guest = await joined(guestNode, r.guest, `${kind}-guest@${guestNode.name}`);
    guest.token = r.guest;
    await host.next('peer-joined');
    return { kind, r, host, guest };
}

// ---- before: rooms homed on node A ------------------------------------------------------------
// taken (T): host on A, guest on B, which comes back on B during the partition (B takes it over);
// kept (K): as T, but the guest waits for the heal (A writes the room back);
// ended (E): as T, ended through node B during the partition; local (L): both on node A.

const rooms = {};
await test('partition_both_nodes_ready', async () => {
    for (const n of [A, B]) assert((await readyz(n)).startsWith('200 '), `node ${n.name}: ${await readyz(n)}`);
});
await test('partition_calls_across_nodes_before', async () => {
    for (const k of ['T1', 'T2', 'K1', 'K2', 'E1']) rooms[k] = await call(k, B);
    rooms.L1 = await call('L1', A);
    for (const c of Object.values(rooms)) await bothWays(c.host, c.guest, `${c.kind}-before`);
});
await test('partition_rooms_homed_on_node_a_with_both_peers_recorded', async () => {
    for (const c of Object.values(rooms)) {
        assert(redis('GET', `vc:home:${c.r.id}`) === A.id, `room ${c.kind}: home ${redis('GET', `vc:home:${c.r.id}`)}`);
        const rec = JSON.parse(redis('GET', `vc:room:${c.r.id}`) || '{}');
        assert(Array.isArray(rec.peers) && rec.peers.length === 2, `room ${c.kind}: record ${JSON.stringify(rec).slice(0, 200)}`);
    }
});
const crossNode = () => ['T1', 'T2', 'K1', 'K2', 'E1'].map((k) => rooms[k]).filter(Boolean);

// ---- the partition ------------------------------------------------------------------------------

link('down');
const t0 = Date.now();
note(`partition: ${LINK} down at ${new Date(t0).toISOString()} for ${PARTITION_MS / 1000} s`);
try {
    await test('partition_node_a_not_ready_within_5s', async () => {
        const r = await readyzBecomes(A, 503, 5000, t0);
        assert(r.text.includes('redis unreachable'), `/readyz: ${r.text}`);
        note(`node A /readyz 503 after ${r.ms} ms`);
    });
    await test('partition_node_b_stays_ready', async () => {
        assert((await readyz(B)).startsWith('200 '), `node B /readyz: ${await readyz(B)}`);
    });
    await test('partition_guests_proxied_to_node_a_closed_1012_within_10s', async () => {
        for (const c of crossNode()) {
            const code = await c.guest.closedWithin(Math.max(0, t0 + 10000 - Date.now()));
            assert(code === 1012, `${c.guest.label}: ${code === 'open' ? 'still open' : `closed ${code}`} 10 s on, want 1012`);
        }
        note(`every guest on node B closed with 1012 ${Date.now() - t0} ms after the link went down`);
    });
    await test('partition_call_held_by_node_a_carries_on_resume_included', async () => {
        const L = rooms.L1;
        await bothWays(L.host, L.guest, 'L1-during');
        L.guest.ws.close();
        await L.host.next('peer-away');
        L.guest = await resume(L.guest, A, 'L1-guest@A-resumed');
        await L.host.next('peer-back');
        await bothWays(L.host, L.guest, 'L1-during-resumed');
    });
    await test('partition_node_a_refuses_new_rooms_503_unavailable', async () => {
        const r = await http(A, 'POST', '/api/v1/rooms', {});
        assert(r.status === 503 && r.json?.error?.code === 'unavailable', `POST on node A: ${r.status} ${r.text}`);
    });
    await test('partition_node_b_creates_rooms_node_a_refuses_their_joins', async () => {
        const r = await createRoom(B);
        const host = await joined(B, r.host, 'RB-host@B');
        host.token = r.host;
        rooms.RB = { kind: 'RB', r, host };
        const g = await join(A, r.guest, 'RB-guest@A-during');
        const e = await g.next('error');
        assert(e.code === 'unavailable', `a new join on node A: ${JSON.stringify(e)}`);
        g.ws.close();
    });
    await test('partition_node_b_takes_rooms_over_when_their_guests_come_back', async () => {
        for (const k of ['T1', 'T2']) {
            const T = rooms[k];
            T.guest = await resume(T.guest, B, `${k}-guest@B-resumed`);
            assert(redis('GET', `vc:home:${T.r.id}`) === B.id, `room ${k}: home ${redis('GET', `vc:home:${T.r.id}`)}`);
            // The host is away on node B: these wait for it there.
            for (let i = 0; i < 3; i++) T.guest.send({ type: 'signal', to: T.host.me.peer, data: { tag: `${k}-queued`, seq: i } });
        }
    });
    await test('partition_room_ended_through_node_b', async () => {
        const E = rooms.E1;
        const del = await http(B, 'DELETE', `/api/v1/rooms/${E.r.id}`);
        assert(del.status === 204, `DELETE on node B: ${del.status} ${del.text}`);
        assert(redis('EXISTS', `vc:room:${E.r.id}`) === '0', 'the ended room is still in Redis');
    });
    const left = t0 + PARTITION_MS - Date.now();
    if (left < 0) note(`the partition steps took ${Date.now() - t0} ms, longer than PARTITION_SECONDS`);
    await sleep(Math.max(0, left));
    await test('partition_node_a_clients_kept_through_the_partition', async () => {
        const gone = [...crossNode().map((c) => c.host), rooms.L1.host, rooms.L1.guest].filter((c) => c.closed !== null);
        assert(gone.length === 0, `closed: ${gone.map((c) => `${c.label} ${c.closed}`).join(', ')}`);
        assert((await readyz(A)).startsWith('503 '), `node A /readyz during the partition: ${await readyz(A)}`);
    });
} finally {
    link('up');
}
const t1 = Date.now();
note(`heal: ${LINK} up after ${t1 - t0} ms`);

// ---- after the heal -----------------------------------------------------------------------------

await test('heal_node_a_ready_within_10s', async () => {
    const r = await readyzBecomes(A, 200, 10000, t1);
    note(`node A /readyz 200 ${r.ms} ms after the heal`);
    for (let i = 0; i < 20 && redis('EXISTS', `vc:node:${A.id}`) !== '1'; i++) await sleep(100);
    assert(redis('EXISTS', `vc:node:${A.id}`) === '1', 'node A wrote no heartbeat');
});
await test('heal_node_a_forgets_rooms_taken_over_clients_1012', async () => {
    for (const k of ['T1', 'T2']) {
        const code = await rooms[k].host.closedWithin(Math.max(0, t1 + 10000 - Date.now()));
        assert(code === 1012, `${rooms[k].host.label}: ${code === 'open' ? 'still open' : `closed ${code}`} 10 s after the heal, want 1012`);
    }
});
await test('heal_room_ended_during_partition_ends_on_node_a', async () => {
    const E = rooms.E1;
    const m = await E.host.next('room-ended', Math.max(1000, t1 + 10000 - Date.now()));
    assert(m.reason === 'ended', `room-ended ${JSON.stringify(m)}`);
    assert(redis('EXISTS', `vc:room:${E.r.id}`, `vc:home:${E.r.id}`) === '0', 'the ended room came back in Redis');
    await E.host.closedWithin(3000);
});
await test('heal_rooms_nobody_took_written_back_homed_on_node_a', async () => {
    for (const k of ['K1', 'K2', 'L1']) {
        const c = rooms[k];
        assert(redis('GET', `vc:home:${c.r.id}`) === A.id, `room ${k}: home ${redis('GET', `vc:home:${c.r.id}`)}`);
        assert(c.host.closed === null, `${c.host.label} closed ${c.host.closed}`);
    }
});
await test('heal_taken_rooms_hosts_resume_through_a_and_get_queued_signals', async () => {
    for (const k of ['T1', 'T2']) {
        const T = rooms[k];
        T.host = await resume(T.host, A, `${k}-host@A-resumed`); // proxied to node B, its home now
        await T.guest.next('peer-back');
        for (let i = 0; i < 3; i++) {
            const s = await T.host.next('signal');
            assert(s.data.tag === `${k}-queued` && s.data.seq === i, `queued signal ${i}: ${JSON.stringify(s)}`);
        }
        await bothWays(T.host, T.guest, `${k}-after`);
    }
});
await test('heal_kept_rooms_guests_resume_through_b', async () => {
    for (const k of ['K1', 'K2']) {
        const K = rooms[k];
        // Node B closed the guest's connection during the partition: these wait for its resume.
        for (let i = 0; i < 3; i++) K.host.send({ type: 'signal', to: K.guest.me.peer, data: { tag: `${k}-away`, seq: i } });
        K.guest = await resume(K.guest, B, `${k}-guest@B-resumed`); // proxied to node A again
        await sleep(1000);
        K.away = K.guest.msgs.filter((m) => m.type === 'signal' && m.data?.tag === `${k}-away`).map((m) => m.data.seq);
        K.guest.msgs = K.guest.msgs.filter((m) => !(m.type === 'signal' && m.data?.tag === `${k}-away`));
        await bothWays(K.host, K.guest, `${k}-after`);
    }
});
await test('heal_signals_for_a_guest_lost_in_the_partition_wait_for_its_resume', async () => {
    for (const k of ['K1', 'K2'])
        assert(JSON.stringify(rooms[k].away) === '[0,1,2]',
            `${k}: the guest got ${JSON.stringify(rooms[k].away)} of the 3 signals its host sent after the heal, before it resumed`);
});
await test('heal_node_b_room_joined_through_node_a', async () => {
    const RB = rooms.RB;
    assert(RB, 'needs partition_node_b_creates_rooms_node_a_refuses_their_joins');
    RB.guest = await joined(A, RB.r.guest, 'RB-guest@A');
    await RB.host.next('peer-joined');
    await bothWays(RB.host, RB.guest, 'RB-after');
});
await test('heal_local_call_carries_on', async () => {
    await bothWays(rooms.L1.host, rooms.L1.guest, 'L1-after');
});

// ---- the end: every room ended through one node or the other, every client closed ------------------

await test('end_every_room_reaches_everyone', async () => {
    const live = Object.values(rooms).filter((c) => c.kind !== 'E1');
    let i = 0;
    for (const c of live) {
        const via = i++ % 2 ? B : A;
        const del = await http(via, 'DELETE', `/api/v1/rooms/${c.r.id}`);
        assert(del.status === 204, `DELETE ${c.kind} on node ${via.name}: ${del.status} ${del.text}`);
    }
    for (const c of live)
        for (const p of [c.host, c.guest].filter((x) => x && x.closed === null))
            await p.next('room-ended');
});
await test('end_every_client_closes_within_5s', async () => {
    const open = [...clients];
    const deadline = Date.now() + 5000;
    for (const c of open) c.ws.close();
    for (const c of open) await c.closedWithin(Math.max(0, deadline - Date.now()));
    const stuck = open.filter((c) => c.closed === null);
    for (const c of stuck) c.ws.terminate();
    assert(stuck.length === 0, `still open: ${stuck.map((c) => c.label).join(', ')}`);
});
process.exit(summary() ? 1 : 0);
