// The canary call: a scripted consultation whose secrets must never reach a log (or, for call
// content, the database and its consultation report); then the metadata log's events for that
// call.
import fs from 'node:fs';
import path from 'node:path';
import {
    cfg, request, createRoom, connect, login, assert, eq, show, Fail, sleep, randomHex,
    CHROME_WINDOWS_UA, FIREFOX_LINUX_UA,
} from './lib.mjs';
import { canaryViolations, filesUnder } from './scan.mjs';
import { PRECHECK } from './test_ws.mjs';

const tag = randomHex(6);
const C = {
    sdpOffer: `CANARY-SDP-OFFER-${tag}`,
    sdpAnswer: `CANARY-SDP-ANSWER-${tag}`,
    ufrag: `CANARYUFRAG${tag}`,
    cand: `CANARY-CAND-${tag}`,
    candIp: '198.51.100.173',
    nameField: `CANARY-PEERNAME-${tag}`,
    badKey: `CANARY-APIKEY-${tag}`,
    badPassword: `CANARY-PASSWORD-${tag}`,
    label: `CANARY-LABEL-${tag} 10:30 Mrs K`,
    relabel: `CANARY-RELABEL-${tag}`,
    lobbyText: `CANARY-LOBBY-WS-${tag} running late`,
    lobbyRest: `CANARY-LOBBY-REST-${tag} two minutes`,
    guestName: `CANARY-GUESTNAME-${tag}`,
    inviteName: `CANARY-INVITENAME-${tag}`,
    lockedEmail: `canary-locked-${tag}@example.test`,
    lockedPassword: `CANARY-LOCKED-PW-${tag}`,
};
// The refused logins come from their own address, so the suite's other logins keep their budget.
const REFUSED_FROM = '127.0.0.50';

// What the canary call leaves behind for the metadata test.
const state = { roomId: null, done: false };

function sdp(marker) {
    return `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=${marker}\r\nt=0 0\r\n` +
        `a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n` +
        `a=ice-ufrag:${C.ufrag}\r\na=ice-pwd:${marker}-pwd\r\na=fingerprint:sha-256 AA:BB\r\n` +
        `a=setup:actpass\r\na=mid:0\r\na=x-note:${marker}\r\n`;
}

function candidate(n) {
    return {
        candidate: `candidate:${842163049 + n} 1 udp 1677729535 ${C.candIp} ${50000 + n} typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag ${C.ufrag} network-cost 999 ${C.cand}-${n}`,
        sdpMid: '0',
        sdpMLineIndex: 0,
        usernameFragment: C.ufrag,
    };
}

async function send(from, to, data) {
    const raw = JSON.stringify(data);
    from.send(`{"type":"signal","to":"${to.peer}","data":${raw}}`);
    const m = await to.next('signal').catch((e) => {
        throw new Fail(`${e.message}; sender ${from.describe()}`);
    });
    eq(m.from, from.peer, 'signal.from');
    assert(to.lastRaw.includes(raw), `signal data changed on the way: ${show(to.lastRaw)}`);
}

async function canaryCall() {
    const who = cfg.clinicians.canary;
    // Failed auth with canary secrets: logged as auth.failed, but never with the secret.
    eq((await request({ path: '/api/v1/rooms', key: C.badKey })).status, 401, 'wrong key');
    eq((await request({ method: 'POST', path: '/api/v1/session', body: { email: who.email, password: C.badPassword } })).status, 401, 'wrong password');
    // Refused logins (an account locked after five failures): logged as auth.refused, metadata only.
    const locked = { email: C.lockedEmail, password: C.lockedPassword };
    for (let i = 0; i < 5; i++) eq((await request({ method: 'POST', path: '/api/v1/session', from: REFUSED_FROM, body: locked })).status, 401, 'failure before the lockout');
    eq((await request({ method: 'POST', path: '/api/v1/session', from: REFUSED_FROM, body: locked })).status, 429, 'login of a locked account');

    const s = await login(who);
    eq(s.res.json.name, who.name, 'the login answer carries the display name');
    const room = await createRoom({ capacity: 3, label: C.label }, { cookie: s.cookie, csrf: s.csrf });
    // An invite with a name: the name goes to the others in the call, never to a log or a disk.
    const inv = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/invites`, body: { role: 'guest', name: C.inviteName }, cookie: s.cookie, csrf: s.csrf });
    eq(inv.status, 201, 'POST invites');
    const inviteToken = inv.json.url.split('#')[1];
    const relabel = await request({ method: 'PATCH', path: `/api/v1/rooms/${room.id}`, body: { label: C.relabel }, cookie: s.cookie, csrf: s.csrf });
    eq(relabel.status, 200, 'PATCH label');
    state.roomId = room.id;
    const resumes = [];

    const host = await connect({ name: 'host', ua: CHROME_WINDOWS_UA });
    const hj = await host.joinAs(room.hostToken);
    resumes.push(hj.resume);
    const guest = await connect({ name: 'guest', ua: FIREFOX_LINUX_UA });
    eq((await guest.join(room.guestToken, { precheck: PRECHECK, name: C.guestName })).type, 'waiting', 'guest answer');
    const k = await host.next('knock');
    eq(k.name, C.guestName, 'the knock carries the typed name');
    // Messages to the waiting patient, over the socket and over REST: delivered, never kept.
    host.send({ type: 'lobby-message', text: C.lobbyText });
    eq((await guest.waitFor('message')).text, C.lobbyText, 'lobby message over the socket');
    const sent = await request({ method: 'POST', path: `/api/v1/rooms/${room.id}/messages`, body: { text: C.lobbyRest }, cookie: s.cookie, csrf: s.csrf });
    eq(sent.status, 202, 'POST messages');
    eq((await guest.waitFor('message')).text, C.lobbyRest, 'lobby message over REST');
    host.send({ type: 'admit', peer: k.peer });
    await guest.next('admitted');
    const gj = await guest.next('joined');
    resumes.push(gj.resume);
    await host.next('peer-joined');

    await send(host, guest, { description: { type: 'offer', sdp: sdp(C.sdpOffer) } });
    await send(guest, host, { description: { type: 'answer', sdp: sdp(C.sdpAnswer) } });
    for (let i = 0; i < 3; i++) {
        await send(host, guest, { candidate: candidate(i) });
        await send(guest, host, { candidate: candidate(10 + i) });
    }
    await send(host, guest, { candidate: null });
    await send(guest, host, { name: C.nameField, displayName: C.nameField });
    guest.send({ type: 'stats', path: 'relay', rtt_ms: 42, loss_pct: 0.25, bitrate_kbps: 1200 });
    host.send({ type: 'stats', path: 'relay', rtt_ms: 41, loss_pct: 0, bitrate_kbps: 1300 });
    await guest.alive();
    await host.alive();

    // A drop and a resume, so resume tokens are exercised too.
    guest.terminate();
    await host.next('peer-away');
    const back = await connect({ name: 'back', ua: FIREFOX_LINUX_UA });
    const bj = await back.joinAs(room.guestToken, { resume: gj.resume });
    eq(bj.peer, gj.peer, 'resumed peer id');
    resumes.push(bj.resume);
    await host.next('peer-back');
    back.peer = bj.peer;
    await send(back, host, { candidate: candidate(20) });

    back.send({ type: 'leave' });
    await host.next('peer-left');
    host.send({ type: 'end' });
    await host.next('room-ended');
    await host.closed();
    state.done = true;
    await sleep(1000); // let the log writers and SQLite catch up
    // The call is in the consultation reports, so the search below covers its row too.
    const day = new Date().toISOString().slice(0, 10);
    const rep = await request({ path: `/api/v1/reports/consultations?from=${day}&to=${day}`, cookie: s.cookie });
    eq([rep.status, rep.json && rep.json.days[0].completed], [200, 1], `the canary call's report ${show(rep.text)}`);

    const needles = (o) => Object.entries(o).map(([label, value]) => ({ label, value }));
    const canaries = {
        logs: [cfg.metaLog, cfg.serverLog],
        dataDir: cfg.dataDir,
        // Call content: nowhere at all.
        nowhere: needles({
            'SDP offer canary': C.sdpOffer,
            'SDP answer canary': C.sdpAnswer,
            'ICE ufrag canary': C.ufrag,
            'candidate canary': C.cand,
            'candidate address': C.candIp,
            'name field canary': C.nameField,
            'wrong API key': C.badKey,
            'wrong password': C.badPassword,
            'refused login email': C.lockedEmail,
            'refused login password': C.lockedPassword,
            password: who.password,
            'room label': C.label,
            'changed room label': C.relabel,
            'lobby message (socket)': C.lobbyText,
            'lobby message (REST)': C.lobbyRest,
            'typed display name': C.guestName,
            'invite name': C.inviteName,
        }),
        // Account data and secrets: never in a log (the display name may live in the database).
        notInLogs: needles({
            'display name': who.name,
            'host token': room.hostToken,
            'guest token': room.guestToken,
            'invite token': inviteToken,
            'host resume token': resumes[0],
            'guest resume token': resumes[1],
            'fresh resume token': resumes[2],
            'session cookie': s.token,
            'CSRF token': s.csrf,
            'API key': cfg.apiKey,
            'TURN secret': cfg.turnSecret,
        }),
        notInDb: needles({ 'session cookie (should be stored hashed)': s.token }),
    };
    fs.writeFileSync(cfg.canaryFile, JSON.stringify(canaries));
    const files = [...canaries.logs.flatMap(filesUnder), ...filesUnder(cfg.dataDir)];
    assert(filesUnder(cfg.metaLog).length === 1, `the metadata log ${cfg.metaLog} is missing`);
    assert(filesUnder(cfg.dataDir).length >= 1, `nothing in the data dir ${cfg.dataDir}`);
    const bad = canaryViolations(canaries);
    assert(bad.length === 0, `found: ${bad.join('; ')} (searched ${files.map((f) => path.basename(f)).join(', ')})`);
}

async function metadataLog() {
    assert(state.done, 'the canary call did not complete, so its events cannot be checked');
    const text = fs.readFileSync(cfg.metaLog, 'utf8');
    const lines = text.split('\n').filter((l) => l.length);
    assert(lines.length > 0, 'the metadata log is empty');
    const events = [];
    for (const l of lines) {
        let j;
        try {
            j = JSON.parse(l);
        } catch {
            throw new Fail(`a metadata log line is not JSON: ${show(l)}`);
        }
        assert(j && typeof j.event === 'string', `a line without "event": ${show(l)}`);
        assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(j.ts || ''), `ts ${show(j.ts)} is not RFC 3339 UTC with ms`);
        events.push(j);
    }
    const ofRoom = events.filter((e) => Object.values(e).includes(state.roomId));
    const names = ofRoom.map((e) => e.event);
    for (const ev of ['room.created', 'lobby.message', 'peer.joined', 'call.stats', 'peer.left', 'room.ended']) {
        assert(names.includes(ev), `no ${ev} line for room ${state.roomId}; its lines: ${names.join(' ')}`);
    }
    const joined = ofRoom.filter((e) => e.event === 'peer.joined');
    assert(joined.length >= 2, `${joined.length} peer.joined lines, want host and guest`);
    const hostJ = joined.find((e) => e.browser === 'chrome'), guestJ = joined.find((e) => e.browser === 'firefox');
    assert(hostJ && hostJ.os === 'windows', `no peer.joined with browser chrome, os windows: ${show(joined)}`);
    assert(guestJ && guestJ.os === 'linux', `no peer.joined with browser firefox, os linux: ${show(joined)}`);
    const msgs = ofRoom.filter((e) => e.event === 'lobby.message');
    eq(msgs.map((e) => e.length).sort(), [C.lobbyRest.length, C.lobbyText.length].sort(), 'lobby.message lengths');
    for (const m of msgs) eq(Object.keys(m).sort(), ['event', 'length', 'room', 'ts'], 'lobby.message fields');
    const stats = ofRoom.filter((e) => e.event === 'call.stats');
    assert(stats.some((e) => e.path === 'relay'), `call.stats without path relay: ${show(stats)}`);
    assert(events.some((e) => e.event === 'auth.failed'), 'no auth.failed line after a wrong API key and a wrong password');
    const refused = events.filter((e) => e.event === 'auth.refused' && e.ip === REFUSED_FROM);
    assert(refused.length === 1, `${refused.length} auth.refused lines for the refused canary login, want 1`);
    eq(Object.keys(refused[0]).sort(), ['event', 'ip', 'reason', 'suppressed', 'ts'], 'auth.refused fields');
    eq(refused[0].reason, 'locked', 'auth.refused reason');
}

export const tests = [
    { name: 'canary_call_leaves_no_secret_in_logs_or_database', fn: canaryCall },
    { name: 'metadata_log_events_of_the_canary_call', fn: metadataLog },
];
