// The clinic day over a real server: dashboards watching their waiting area, admits from the
// list, first admit wins within a team, hand-over, labels and messages to waiting patients.
import {
    cfg, request, createRoom, connect, login, assert, eq, show, Fail, sleep,
} from './lib.mjs';
import { PRECHECK } from './test_ws.mjs';

// A signed-in clinician: their session and a dashboard socket that sent watch.
async function clinician(who, name) {
    const s = await login(who);
    const d = await connect({ name, cookie: s.cookie });
    d.send({ type: 'watch' });
    const rooms = await d.next('rooms');
    return { ...s, d, rooms, me: rooms.me };
}

// Waits for error CODE on c, skipping other frames.
function refused(c, code, ms = 1000) {
    return c.waitFor('error', ms, (m) => m.code === code);
}

function auth(c) {
    return { cookie: c.cookie, csrf: c.csrf };
}

// A guest knocking in room; returns the client and its waiting frame.
async function knock(room, name = 'patient') {
    const g = await connect({ name });
    const w = await g.join(room.guestToken, { precheck: PRECHECK });
    eq(w.type, 'waiting', `${name}'s answer`);
    return { g, w };
}

// The next room entry for id on dashboard d that satisfies pred, within ms.
function entry(d, id, pred = () => true, ms = 1000) {
    return d.waitFor('room', ms, (m) => m.id === id && pred(m));
}

async function watchNeedsASession() {
    const anon = await connect({ name: 'anon' });
    anon.send({ type: 'watch' });
    await anon.error('forbidden');
    await anon.alive();
    const room = await createRoom({ lobby: false });
    const host = await connect({ name: 'host-token' });
    await host.joinAs(room.hostToken);
    host.send({ type: 'watch' });
    await host.error('forbidden');
    await host.alive();
    // A stale cookie is no session either.
    const stale = await connect({ name: 'stale', cookie: 'vc_session=not-a-real-session' });
    stale.send({ type: 'watch' });
    await stale.error('forbidden');
    await stale.alive();
}

async function liveListWithinASecond() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    eq(a.me.name, 'Alice Example', 'me.name');
    assert(a.me.teams.includes('Cardiology'), `me.teams ${show(a.me.teams)}`);
    const started = Date.now();
    const room = await createRoom({ label: '10:30 Mrs K, follow-up' }, auth(a));
    let e = await entry(a.d, room.id);
    eq(e.label, '10:30 Mrs K, follow-up', 'label');
    eq(e.state, 'open', 'state');
    eq(e.team, 'Cardiology', 'team');
    eq(e.capacity, 2, 'capacity');
    assert(Date.parse(e.expires_at) > Date.now(), `expires_at ${e.expires_at}`);
    const { g, w } = await knock(room);
    e = await entry(a.d, room.id, (m) => m.waiting.length === 1);
    assert(Date.now() - started < 2000, 'the knock took over a second to show');
    eq(e.state, 'waiting', 'state after the knock');
    eq(e.waiting[0].browser, 'firefox', 'waiting[0].browser');
    eq(e.waiting[0].os, 'linux', 'waiting[0].os');
    eq(e.waiting[0].since, w.since, 'waiting[0].since');
    eq(e.waiting[0].precheck.camera, true, 'waiting[0].precheck');
    const q = await g.waitFor('queue', 1000, (m) => m.notified);
    eq(q.position, 1, 'queue position');
    assert(!g.seen.some((f) => f.raw.includes('Mrs K')), 'the label reached the patient');
    // The label changes: the list hears of it; over 80 characters is refused.
    const p = await request({ method: 'PATCH', path: `/api/v1/rooms/${room.id}`, body: { label: '10:45 Mrs K' }, ...auth(a) });
    eq(p.status, 200, `PATCH ${show(p.text)}`);
    eq(p.json.label, '10:45 Mrs K', 'PATCH answer label');
    await entry(a.d, room.id, (m) => m.label === '10:45 Mrs K');
    const long = await request({ method: 'PATCH', path: `/api/v1/rooms/${room.id}`, body: { label: 'x'.repeat(81) }, ...auth(a) });
    eq(long.status, 413, 'PATCH with 81 characters');
    eq(long.json.error.code, 'too_large', 'error code');
    // Ended: room-gone.
    eq((await request({ method: 'DELETE', path: `/api/v1/rooms/${room.id}`, ...auth(a) })).status, 204, 'DELETE');
    const gone = await a.d.waitFor('room-gone', 1000, (m) => m.id === room.id);
    eq(gone.id, room.id, 'room-gone id');
}

async function admitFromTheListAndJoinById() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    const room = await createRoom({}, auth(a));
    const { g } = await knock(room);
    const e = await entry(a.d, room.id, (m) => m.waiting.length === 1);
    const peer = e.waiting[0].peer;
    a.d.send({ type: 'admit', room: room.id, peer });
    const ack = await a.d.waitFor('admitted');
    eq(ack.peer, peer, 'admitted.peer');
    await g.next('admitted');
    await g.waitFor('joined');
    // The clinician takes the call from another tab, by the room's id: no host link needed.
    const tab = await connect({ name: 'tab2', cookie: a.cookie });
    const j = await tab.joinAs(undefined, { room: room.id });
    eq(j.role, 'host', 'role of a clinician joining by id');
    eq(j.peers.length, 1, 'peers');
    await g.waitFor('peer-joined');
    const after = await entry(a.d, room.id, (m) => m.state === 'in-call');
    eq(after.clinician.name, 'Alice Example', 'clinician on the entry');
}

async function firstAdmitWinsAndOutsidersSeeNothing() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    const b = await clinician(cfg.clinicians.bob, 'bob');
    const c = await clinician(cfg.clinicians.carol, 'carol');
    const room = await createRoom({ label: 'team room' }, auth(a));
    await entry(b.d, room.id);
    const { g } = await knock(room);
    const eb = await entry(b.d, room.id, (m) => m.waiting.length === 1);
    const peer = eb.waiting[0].peer;
    a.d.send({ type: 'admit', room: room.id, peer });
    b.d.send({ type: 'admit', room: room.id, peer });
    const answers = await Promise.all([a, b].map((x) => x.d.waitFor('admitted', 2000).then(() => 'won', () => 'lost')));
    eq(answers.filter((x) => x === 'won').length, 1, `winners (${answers})`);
    const loser = answers[0] === 'won' ? b : a;
    const winner = answers[0] === 'won' ? a : b;
    const err = loser.d.seen.map((f) => f.msg).find((m) => m.type === 'error');
    eq(err && err.code, 'already_admitted', `the loser's answer ${show(err)}`);
    assert(err.message.includes(winner.me.name), `the loser is not told who: ${err.message}`);
    await g.next('admitted');
    // Carol is in another team: she saw nothing, and the room's id gets forbidden.
    assert(!c.d.seen.some((f) => f.raw.includes(room.id)), 'carol saw the room');
    c.d.send({ type: 'admit', room: room.id, peer });
    await refused(c.d, 'forbidden');
    c.d.send({ type: 'lobby-message', room: room.id, text: 'hello' });
    await refused(c.d, 'forbidden');
    const tab = await connect({ name: 'carol-tab', cookie: c.cookie });
    tab.send({ type: 'join', room: room.id });
    await tab.error('forbidden');
    const patch = await request({ method: 'PATCH', path: `/api/v1/rooms/${room.id}`, body: { label: 'x' }, ...auth(c) });
    eq(patch.status, 404, 'carol PATCH');
    await c.d.alive();
}

async function handOverToATeamMate() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    const b = await clinician(cfg.clinicians.bob, 'bob');
    const c = await clinician(cfg.clinicians.carol, 'carol');
    const room = await createRoom({}, auth(a));
    const e = await entry(b.d, room.id);
    eq(e.assignee.id, a.me.id, 'first assignee');
    a.d.send({ type: 'handover', room: room.id, to: c.me.id });
    await refused(a.d, 'forbidden');
    a.d.send({ type: 'handover', room: room.id, to: b.me.id });
    const moved = await entry(b.d, room.id, (m) => m.assignee && m.assignee.id === b.me.id);
    eq(moved.assignee.name, 'Dr Bob', 'assignee name');
    const teams = await request({ path: '/api/v1/teams', ...auth(a) });
    eq(teams.status, 200, 'GET /api/v1/teams');
    const card = teams.json.teams.find((t) => t.name === 'Cardiology');
    assert(card && card.members.some((m) => m.id === b.me.id && m.name === 'Dr Bob'), `teams ${show(teams.json)}`);
    assert(!teams.json.teams.some((t) => t.name === 'Renal'), 'alice sees Renal');
}

async function messagesToWaitingPatients() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    const room = await createRoom({}, auth(a));
    const p1 = await knock(room, 'p1');
    const p2 = await knock(room, 'p2');
    const e = await entry(a.d, room.id, (m) => m.waiting.length === 2);
    const html = '<img src=x onerror=alert(1)> running 10 minutes late';
    a.d.send({ type: 'lobby-message', room: room.id, text: html });
    eq((await p1.g.waitFor('message')).text, html, 'p1 text');
    eq((await p2.g.waitFor('message')).text, html, 'p2 text');
    // To one patient over REST with the session: 202. The API key does not own the room: 404.
    const target = e.waiting[0].peer;
    const r = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/messages`, body: { text: 'just you', peer: target }, ...auth(a) });
    eq(r.status, 202, `POST messages ${show(r.text)}`);
    eq(r.json.delivered, 1, 'delivered');
    const byKey = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/messages`, body: { text: 'x' }, key: true });
    eq(byKey.status, 404, 'another owner');
    // Bad input: errors, the socket stays open, nothing is delivered.
    a.d.send({ type: 'lobby-message', room: room.id, text: 'x'.repeat(281) });
    await a.d.waitFor('error', 1000, (m) => m.code === 'too_large');
    a.d.send({ type: 'lobby-message', room: room.id, peer: 'nobody', text: 'x' });
    await a.d.waitFor('error', 1000, (m) => m.code === 'unknown_peer');
    const big = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/messages`, body: { text: 'y'.repeat(281) }, ...auth(a) });
    eq(big.status, 413, 'REST 281 characters');
    eq(big.json.error.code, 'too_large', 'REST too_large');
    const unknown = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/messages`, body: { text: 'y', peer: 'nobody' }, ...auth(a) });
    eq(unknown.status, 404, 'REST unknown peer');
    eq(unknown.json.error.code, 'unknown_peer', 'REST unknown_peer');
    await a.d.alive();
    await sleep(200);
    const texts = [...p1.g.seen, ...p2.g.seen].filter((f) => f.msg.type === 'message').map((f) => f.msg.text);
    eq(texts.filter((t) => t === 'just you').length, 1, 'the one-patient message went to one');
    assert(!texts.some((t) => t.startsWith('x') || t.startsWith('y')), 'a refused message was delivered');
    // The canned messages come with the clinician's details.
    const me = await request({ path: '/api/v1/me', ...auth(a) });
    assert(me.json.canned_messages.length >= 1, `canned_messages ${show(me.json)}`);
}

async function aDroppedPatientKeepsItsPlace() {
    const a = await clinician(cfg.clinicians.alice, 'alice');
    const room = await createRoom({ capacity: 3 }, auth(a));
    const first = await knock(room, 'first');
    await sleep(20);
    const second = await knock(room, 'second');
    eq((await second.g.waitFor('queue', 1000, (m) => m.position === 2)).waiting, 2, 'queue of two');
    first.g.terminate();
    const back = await connect({ name: 'back' });
    const w = await back.join(room.guestToken, { resume: first.w.resume });
    eq(w.type, 'waiting', 'resumed answer');
    eq(w.since, first.w.since, 'since kept');
    eq((await back.waitFor('queue')).position, 1, 'place kept');
    await second.g.quiet(300).catch(() => {}); // its place did not change
    assert(!second.g.queue.some((f) => f.msg.type === 'queue' && f.msg.position === 1), 'second jumped the queue');
}

export const tests = [
    { name: 'watch_needs_a_clinician_session', fn: watchNeedsASession },
    { name: 'dashboard_list_is_live_within_a_second', fn: liveListWithinASecond },
    { name: 'admit_from_the_list_then_join_by_room_id', fn: admitFromTheListAndJoinById },
    { name: 'team_first_admit_wins_outsiders_get_forbidden', fn: firstAdmitWinsAndOutsidersSeeNothing },
    { name: 'hand_over_to_a_team_mate_only', fn: handOverToATeamMate },
    { name: 'messages_reach_waiting_patients_bad_input_refused', fn: messagesToWaitingPatients },
    { name: 'a_dropped_patient_keeps_its_place', fn: aDroppedPatientKeepsItsPlace },
];
