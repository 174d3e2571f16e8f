// Two vc-signal nodes on one PostgreSQL and one Redis (tests/integration/postgres.sh): clinicians
// added by the command log in on either node at once, sessions live in the database (not in
// Redis) and survive kill -9 of the node that started them, a dashboard watches on the survivor,
// and a call across both nodes is one consultation in the reports of either.
// Prints "ok NAME" / "FAIL NAME (why)" and "N passed, N failed"; writes the secrets it used to
// VC_SECRETS_FILE (none may be in the database) and a live session to VC_SESSION_FILE.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
    assert, client as vcClient, dashboard as watchOn, entry, request, results,
} from './vcnode.mjs';

const env = (k) => {
    if (!process.env[k]) throw new Error(`${k} is not set (run tests/integration/postgres.sh)`);
    return process.env[k];
};
const ca = fs.readFileSync(env('VC_CA'));
const P1 = Number(env('VC_PORT1')), P2 = Number(env('VC_PORT2')), KEY = env('VC_API_KEY');
const node1Pid = Number(env('VC_NODE1_PID'));
const PASSWORD = env('VC_PASSWORD');
const { test, summary } = results();
const secrets = { passwords: [PASSWORD], tokens: [] };

function http(port, method, path, body, auth = null) {
    const headers = auth ? { cookie: auth.cookie, 'x-csrf-token': auth.csrf } : { authorization: `Bearer ${KEY}` };
    return request({ port, ca, method, path, body, headers });
}
async function login(port, email, password = PASSWORD) {
    const r = await http(port, 'POST', '/api/v1/session', { email, password });
    assert(r.status === 200, `login of ${email} on ${port}: ${r.status} ${r.text}`);
    const cookie = [].concat(r.cookie)[0].split(';')[0];
    secrets.tokens.push(cookie.split('=')[1]);
    return { cookie, csrf: r.json.csrf, me: r.json };
}
const redis = (...args) => execFileSync('redis-cli', ['-p', env('VC_REDIS_PORT'), ...args]).toString().trim();
// `vc-signal user ...` on the shared database, as an operator runs it beside node 1.
function userCommand(args, input) {
    execFileSync(env('VC_SIGNAL_BIN'), ['user', ...args, '--database', env('VC_DATABASE'),
        '--database-password-file', env('VC_DATABASE_PASSWORD_FILE')], { input, stdio: ['pipe', 'ignore', 'pipe'] });
}
const dashboard = (port, session, label) => watchOn({ port, ca, session, label });

await test('pg_clinician_added_by_the_command_logs_in_on_node_b', async () => {
    const s = await login(P2, 'a@example.org');
    assert(s.me.email === 'a@example.org' && s.me.name === 'Dr A', `me: ${JSON.stringify(s.me)}`);
    assert(s.me.teams.includes('Cardiology'), `teams: ${JSON.stringify(s.me.teams)}`);
});
await test('pg_a_clinician_added_while_the_nodes_run_logs_in_at_once_and_deleted_is_out', async () => {
    const pw = 'late-password-0123';
    secrets.passwords.push(pw);
    userCommand(['add', 'late@example.org', '--name', 'Dr Late', '--team', 'Cardiology'], `${pw}\n`);
    const s = await login(P2, 'late@example.org', pw);
    assert((await http(P1, 'GET', '/api/v1/me', undefined, s)).status === 200, 'node 1 does not know the session');
    userCommand(['del', 'late@example.org']);
    for (const port of [P1, P2]) {
        const after = await http(port, 'GET', '/api/v1/me', undefined, s);
        assert(after.status === 401, `node ${port} still takes a deleted clinician's session: ${after.status}`);
    }
});
await test('pg_sessions_live_in_the_database_not_in_redis', async () => {
    await login(P1, 'a@example.org');
    const keys = redis('--scan', '--pattern', 'vc:sess:*');
    assert(keys === '', `sessions in Redis: ${keys.slice(0, 200)}`);
});
await test('pg_a_session_from_node_a_works_on_b_and_logout_ends_it_everywhere', async () => {
    const s = await login(P1, 'a@example.org');
    const me = await http(P2, 'GET', '/api/v1/me', undefined, s);
    assert(me.status === 200 && me.json.csrf === s.csrf, `node 2 with node 1's cookie: ${me.status} ${me.text}`);
    const made = await http(P2, 'POST', '/api/v1/rooms', {}, s);
    assert(made.status === 201, `create on node 2 with node 1's session: ${made.status} ${made.text}`);
    const out = await http(P2, 'DELETE', '/api/v1/session', undefined, s);
    assert(out.status === 204, `logout on node 2: ${out.status}`);
    for (const port of [P1, P2]) {
        const after = await http(port, 'GET', '/api/v1/me', undefined, s);
        assert(after.status === 401, `node ${port} still takes the cookie after logout: ${after.status}`);
    }
    await http(P1, 'DELETE', `/api/v1/rooms/${made.json.id}`);
});
// The API key's report of today from node port.
async function reportToday(port) {
    const day = new Date().toISOString().slice(0, 10);
    const r = await http(port, 'GET', `/api/v1/reports/consultations?from=${day}&to=${day}`);
    assert(r.status === 200, `report on ${port}: ${r.status} ${r.text}`);
    return r.json.days[0];
}
await test('pg_a_call_across_both_nodes_is_reported_once_by_either', async () => {
    const before = await reportToday(P1);
    const made = await http(P1, 'POST', '/api/v1/rooms', { lobby: false });
    assert(made.status === 201, `create on node 1: ${made.status} ${made.text}`);
    const origin = (port) => `https://localhost:${port}`;
    const host = vcClient({ port: P1, ca, origin: origin(P1), label: 'host-on-a' });
    const guest = vcClient({ port: P2, ca, origin: origin(P2), label: 'guest-on-b' });
    await Promise.all([host.open, guest.open]);
    host.send({ type: 'join', token: made.json.host_url.split('#')[1] });
    await host.next('joined');
    guest.send({ type: 'join', token: made.json.guest_url.split('#')[1] });
    await guest.next('joined');
    for (const c of [host, guest]) c.send({ type: 'stats', path: 'relay', rtt_ms: 20, loss_pct: 0, bitrate_kbps: 500 });
    await new Promise((r) => setTimeout(r, 1300));
    host.send({ type: 'end' });
    await host.next('room-ended');
    host.close();
    guest.close();
    for (const port of [P1, P2]) {
        const after = await reportToday(port);
        const got = [after.consultations - before.consultations, after.completed - before.completed];
        assert(got[0] === 1 && got[1] === 1 && after.relayed_pct !== null,
            `node ${port}: consultations and completed calls grew by ${got} (want 1,1): ${JSON.stringify(after)}`);
    }
});
let survivor;
await test('pg_a_room_made_on_a_shows_on_the_dashboard_watching_on_b', async () => {
    const b = await login(P2, 'b@example.org'), a = await login(P1, 'a@example.org');
    const d = await dashboard(P2, b, 'dash-b');
    assert(d.rooms.me && d.rooms.me.name === 'Dr B', `rooms.me: ${JSON.stringify(d.rooms.me)}`);
    const made = await http(P1, 'POST', '/api/v1/rooms', { label: 'pg follow-up' }, a);
    assert(made.status === 201, `create on node 1: ${made.status} ${made.text}`);
    const e = await entry(d, made.json.id);
    assert(e.team === 'Cardiology' && e.label === 'pg follow-up', `entry: ${JSON.stringify(e)}`);
    const guest = vcClient({ port: P1, ca, origin: `https://localhost:${P1}`, label: 'guest' });
    await guest.open;
    guest.send({ type: 'join', token: made.json.guest_url.split('#')[1] });
    await guest.next('waiting');
    await entry(d, made.json.id, (m) => m.waiting.length === 1);
    survivor = { a, d, room: made.json.id, guest };
});
await test('pg_a_session_survives_kill_9_of_the_node_that_started_it', async () => {
    assert(survivor, 'needs the session of the test before');
    process.kill(node1Pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const me = await http(P2, 'GET', '/api/v1/me', undefined, survivor.a);
    assert(me.status === 200 && me.json.email === 'a@example.org', `node 2 after kill -9 of node 1: ${me.status} ${me.text}`);
    const made = await http(P2, 'POST', '/api/v1/rooms', {}, survivor.a);
    assert(made.status === 201, `create on node 2: ${made.status} ${made.text}`);
    const d = await dashboard(P2, survivor.a, 'dash-a-on-b');
    assert(d.rooms.me && d.rooms.me.name === 'Dr A', `rooms.me: ${JSON.stringify(d.rooms.me)}`);
    fs.writeFileSync(env('VC_SESSION_FILE'), JSON.stringify({ cookie: survivor.a.cookie, csrf: survivor.a.csrf }));
    d.close();
    survivor.d.close();
    survivor.guest.close();
});

fs.writeFileSync(env('VC_SECRETS_FILE'), JSON.stringify(secrets));
process.exit(summary() ? 1 : 0);
