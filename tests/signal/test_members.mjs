// Calls of more than two over REST and vc.v1: invites, display names, remove, and their refusals.
import {
    request, createRoom, connect, login, cfg, assert, eq, show, randomHex,
} from './lib.mjs';

// POST /api/v1/rooms/{id}/invites with the API key (or auth {cookie, csrf}).
function invite(room, body, auth = { key: true }) {
    return request({ method: 'POST', path: `/api/v1/rooms/${room.id}/invites`, body, ...auth });
}

function revoke(room, id, auth = { key: true }) {
    return request({ method: 'DELETE', path: `/api/v1/rooms/${room.id}/invites/${id}`, ...auth });
}

const tokenOf = (url) => url.split('#')[1];

// A room for four without a lobby, its host joined as "Dr Host".
async function hostedRoom(opts = {}) {
    const room = await createRoom({ lobby: false, capacity: 4, ...opts });
    const host = await connect({ name: 'host' });
    const hj = await host.joinAs(room.hostToken, { name: 'Dr Host' });
    eq([hj.name, hj.region], ['Dr Host', ''], 'host joined {name, region}');
    return { room, host, hj };
}

async function restInvite() {
    const { room } = await hostedRoom();
    const r = await invite(room, { role: 'guest', name: 'Interpreter (Polish)' });
    eq(r.status, 201, `POST invites: ${show(r.text)}`);
    eq(Object.keys(r.json).sort(), ['expires_at', 'id', 'name', 'role', 'url'], 'invite answer fields');
    assert(/^[0-9a-f]{8}$/.test(r.json.id), `invite id ${show(r.json.id)}`);
    assert(new RegExp(`^https://localhost:${cfg.port}/join#[0-9a-f]{32}$`).test(r.json.url), `invite url ${show(r.json.url)}`);
    const t = tokenOf(r.json.url);
    assert(t !== room.guestToken && t !== room.hostToken, 'the invite reuses a room token');
    eq(r.json.expires_at, room.body.expires_at.replace(/\.\d+Z$/, 'Z'), 'expires_at is the room\'s');
    // A clinician of the room (session + CSRF) may invite too; without CSRF it is refused.
    const who = cfg.clinicians.alice;
    const s = await login(who);
    const mine = await createRoom({ capacity: 3 }, { cookie: s.cookie, csrf: s.csrf });
    eq((await invite(mine, { role: 'guest' }, { cookie: s.cookie, csrf: s.csrf })).status, 201, 'a clinician invites');
    eq((await invite(mine, { role: 'guest' }, { cookie: s.cookie })).status, 403, 'an invite without CSRF');
    // Another owner's room is not found, as an unknown one.
    eq((await invite(mine, { role: 'guest' })).status, 404, 'the API key invites to a clinician\'s room');
    for (const [body, status] of [
        [{}, 400], [{ role: 'host' }, 400], [{ role: 'guest', x: 1 }, 400], [{ role: 'guest', name: 'a\u0001b' }, 400],
        [{ role: 'guest', name: 'n'.repeat(41) }, 413], [{ role: 5 }, 400],
    ]) {
        const b = await invite(room, body);
        eq(b.status, status, `POST invites ${show(body)}: ${show(b.text)}`);
        assert(b.json && b.json.error && b.json.error.message, `${show(body)}: no error message`);
    }
    eq((await revoke(room, r.json.id)).status, 204, 'DELETE invite');
    const again = await revoke(room, r.json.id);
    eq([again.status, again.json.error.code], [404, 'not_found'], 'DELETE of a revoked invite');
}

async function revokedSameAsUnknown() {
    const { room } = await hostedRoom();
    const r = await invite(room, { role: 'guest' });
    eq((await revoke(room, r.json.id)).status, 204, 'DELETE invite');
    const a = await connect({ name: 'revoked' });
    const b = await connect({ name: 'unknown' });
    eq((await a.join(tokenOf(r.json.url))).code, 'invalid_token', 'a revoked invite');
    eq((await b.join(randomHex(16))).code, 'invalid_token', 'an unknown token');
    eq(a.lastRaw, b.lastRaw, 'the answers to a revoked invite and an unknown token');
    await a.alive();
}

async function namesAndRemove() {
    const { room, host, hj } = await hostedRoom();
    const r = await invite(room, { role: 'guest', name: 'Interpreter' });
    const patient = await connect({ name: 'patient' });
    const pj = await patient.joinAs(room.guestToken, { name: 'Mrs K' });
    eq(pj.peers, [{ peer: hj.peer, role: 'host', name: 'Dr Host', invited: false }], 'patient joined.peers');
    const hp = await host.next('peer-joined');
    eq([hp.name, hp.invited], ['Mrs K', false], 'peer-joined {name, invited} of the patient');
    const interp = await connect({ name: 'interpreter' });
    const ij = await interp.joinAs(tokenOf(r.json.url));
    eq([ij.name, ij.role, ij.polite], ['Interpreter', 'guest', true], 'interpreter joined {name, role, polite}');
    eq(ij.peers.map((p) => [p.name, p.invited]), [['Dr Host', false], ['Mrs K', false]], 'interpreter joined.peers');
    for (const c of [host, patient]) {
        const m = await c.next('peer-joined');
        eq([m.peer, m.name, m.invited], [ij.peer, 'Interpreter', true], `${c.name}: peer-joined of the interpreter`);
    }
    // Bad input: a guest's remove, an unknown peer, oneself; the call goes on.
    patient.send({ type: 'remove', peer: ij.peer });
    await patient.error('forbidden');
    host.send({ type: 'remove', peer: 'abcdefabcdef' });
    await host.error('unknown_peer');
    host.send({ type: 'remove', peer: hj.peer });
    await host.error('unknown_peer');
    host.send({ type: 'signal', to: ij.peer, data: { probe: 1 } });
    eq((await interp.next('signal')).data, { probe: 1 }, 'a signal after the refusals');
    // The host removes the interpreter: removed and closed; the others get peer-left.
    host.send({ type: 'remove', peer: ij.peer });
    await interp.next('removed');
    eq((await interp.closed()).code, 1000, 'close code of the removed peer');
    eq((await host.next('peer-left')).peer, ij.peer, 'host: peer-left');
    eq((await patient.next('peer-left')).peer, ij.peer, 'patient: peer-left');
    // Its invite opens nothing any more, with the answer of an unknown token.
    const back = await connect({ name: 'back' });
    eq((await back.join(tokenOf(r.json.url), { resume: ij.resume })).code, 'invalid_token', 'the removed guest\'s link');
    eq((await revoke(room, r.json.id)).status, 404, 'DELETE of the invite its removal revoked');
    patient.send({ type: 'signal', to: hj.peer, data: { still: true } });
    eq((await host.next('signal')).data, { still: true }, 'the call goes on');
}

async function fullRoomRefusesInvites() {
    const room = await createRoom({ lobby: false, capacity: 2 });
    const host = await connect();
    await host.joinAs(room.hostToken);
    const early = await invite(room, { role: 'guest' });
    eq(early.status, 201, 'an invite while a place is free');
    const guest = await connect();
    await guest.joinAs(room.guestToken);
    await host.next('peer-joined');
    const r = await invite(room, { role: 'guest' });
    eq([r.status, r.json.error.code], [409, 'room_full'], 'an invite to a full room');
    assert(/full/.test(r.json.error.message), `message ${show(r.json.error.message)}`);
    // The invite made earlier meets a full room: room_full, as any guest would.
    const late = await connect();
    eq((await late.join(tokenOf(early.json.url))).code, 'room_full', 'joining a full room with an invite');
    host.send({ type: 'invite' });
    await host.error('room_full');
    // Eight live invites at most.
    const big = await createRoom({ lobby: false, capacity: 4 });
    for (let i = 0; i < 8; i++) eq((await invite(big, { role: 'guest' })).status, 201, `invite ${i + 1}`);
    const ninth = await invite(big, { role: 'guest' });
    eq([ninth.status, ninth.json.error.code], [429, 'quota_exceeded'], 'a ninth invite');
    await host.alive();
}

async function invitesOverTheSocket() {
    const { room, host } = await hostedRoom({ lobby: true });
    host.send({ type: 'invite', name: 'Carer' });
    const m = await host.next('invite');
    eq([m.room, m.name], [room.id, 'Carer'], 'invite {room, name}');
    assert(/^[0-9a-f]{8}$/.test(m.id) && m.url.includes('/join#'), `invite answer ${show(m)}`);
    // The lobby applies to an invitee as to any guest: it knocks, with its name.
    const carer = await connect({ name: 'carer' });
    eq((await carer.join(tokenOf(m.url))).type, 'waiting', 'an invitee in a room with a lobby');
    const k = await host.next('knock');
    eq([k.name, k.invited], ['Carer', true], 'knock {name, invited}');
    host.send({ type: 'revoke', invite: m.id });
    host.send({ type: 'revoke', invite: m.id });
    await host.error('unknown_invite');
    host.send({ type: 'admit', peer: k.peer });
    await carer.next('admitted');
    eq((await carer.next('joined')).name, 'Carer', 'the admitted invitee keeps its name');
    eq((await host.next('peer-joined')).name, 'Carer', 'peer-joined of the admitted invitee');
    // A browser may not bring its own token.
    host.send({ type: 'invite', invite: '0a0b0c0d', hash: 'ab'.repeat(32) });
    await host.error('bad_request');
    carer.send({ type: 'invite' });
    await carer.error('forbidden');
}

export const tests = [
    { name: 'rest_invite_makes_a_guest_link_and_refuses_bad_input', fn: restInvite },
    { name: 'ws_revoked_invite_same_answer_as_unknown_token', fn: revokedSameAsUnknown },
    { name: 'ws_names_reach_the_others_and_host_removes_an_invitee', fn: namesAndRemove },
    { name: 'rest_invite_to_a_full_room_409_and_at_most_8', fn: fullRoomRefusesInvites },
    { name: 'ws_invite_and_revoke_from_the_call_lobby_applies', fn: invitesOverTheSocket },
];
