// The vc.v1 WebSocket protocol end to end: handshake, every message type and error path, resume.
import {
    cfg, request, withTimeout, WebSocket, createRoom, connect, pair, Client, assert, eq, show, Fail, sleep, hmacB64,
    CHROME_WINDOWS_UA, randomHex,
} from './lib.mjs';

const PRECHECK = { camera: true, microphone: false, turn_udp: true, turn_tcp: false, turn_tls: true, turn_checked: true };

// --- handshake ---------------------------------------------------------------------------------

async function refused(opts, what) {
    let c;
    try {
        c = await Client.open(opts);
    } catch (e) {
        if (e.status === undefined) throw new Fail(`${what}: not an HTTP refusal: ${e.message}`);
        eq(e.status, 403, `${what}: HTTP status`);
        return;
    }
    c.terminate();
    throw new Fail(`${what}: the upgrade was accepted (protocol "${c.ws.protocol}")`);
}

async function wsSubprotocol() {
    await refused({ protocols: [] }, 'no subprotocol');
    await refused({ protocols: ['chat'] }, 'subprotocol chat');
    await refused({ protocols: ['vc.v2'] }, 'subprotocol vc.v2');
    const c = await connect({ protocols: ['chat', 'vc.v1'] });
    eq(c.ws.protocol, 'vc.v1', 'negotiated subprotocol');
    await c.alive();
}

async function wsOrigin() {
    await refused({ origin: null }, 'no Origin');
    await refused({ origin: 'https://evil.example' }, 'Origin https://evil.example');
    await refused({ origin: `http://localhost:${cfg.port}` }, 'Origin with scheme http');
    await refused({ origin: 'https://localhost:1' }, 'Origin with another port');
    await refused({ origin: `https://localhost:${cfg.port}.evil.example` }, 'Origin with the public origin as a prefix');
    const c = await connect({ origin: cfg.origin });
    eq(c.ws.protocol, 'vc.v1', 'negotiated subprotocol');
    await c.alive();
    // Each --allowed-origin is accepted too (signal.sh passes one).
    const extra = await connect({ origin: cfg.allowedOrigin });
    await extra.alive();
}

async function wsOtherPath() {
    for (const p of ['/', '/ws/', '/wsx', '/join', '/api/v1/rooms']) {
        const ws = new WebSocket(`wss://127.0.0.1:${cfg.port}${p}`, ['vc.v1'], {
            ca: cfg.ca, servername: 'localhost', origin: cfg.origin, headers: { Host: `localhost:${cfg.port}` },
        });
        const r = await withTimeout(new Promise((resolve) => {
            ws.on('open', () => resolve('open'));
            ws.on('unexpected-response', (req, res) => {
                res.resume();
                resolve(`HTTP ${res.statusCode}`);
            });
            ws.on('error', (e) => resolve(`error ${e.message}`));
        }), 5000, `upgrade on ${p}`);
        ws.terminate();
        assert(r !== 'open', `a WebSocket upgrade on ${p} was accepted`);
    }
}

// --- before join -------------------------------------------------------------------------------

async function pingBeforeJoin() {
    const c = await connect();
    for (let i = 0; i < 3; i++) await c.alive();
}

async function notJoined() {
    const c = await connect();
    const msgs = [
        { type: 'signal', to: 'abc', data: { x: 1 } },
        { type: 'admit', peer: 'abc' },
        { type: 'deny', peer: 'abc' },
        { type: 'stats', path: 'p2p', rtt_ms: 1, loss_pct: 0, bitrate_kbps: 10 },
        { type: 'leave' },
        { type: 'end' },
    ];
    for (const m of msgs) {
        c.send(m);
        try {
            await c.error('not_joined');
        } catch (e) {
            throw new Fail(`${m.type} before join: ${e.message}`);
        }
    }
    await c.alive();
}

async function badJson() {
    const c = await connect();
    for (const raw of ['not json', '{', '{"type":"ping"', '[1,2]', '"ping"', '42', '']) {
        c.send(raw);
        try {
            await c.error('bad_json');
        } catch (e) {
            throw new Fail(`frame ${JSON.stringify(raw)}: ${e.message}`);
        }
    }
    await c.alive(); // errors leave the connection open
}

async function unknownType() {
    const c = await connect();
    c.send({ type: 'dance' });
    await c.error('unknown_type');
    c.send({ type: 'PING' });
    await c.error('unknown_type');
    await c.alive();
}

async function badRequest() {
    const c = await connect();
    for (const m of [{ type: 'join' }, { type: 'join', token: 5 }, { type: 'join', token: 'x'.repeat(200) }, { type: 5 }]) {
        c.send(m);
        const e = await c.next('error');
        assert(e.code === 'bad_request' || (m.type === 5 && e.code === 'unknown_type') || (m.token && e.code === 'invalid_token' && typeof m.token === 'string'),
            `${show(m)} answered ${show(c.lastRaw)}, want bad_request`);
    }
    await c.alive();
    // And once joined: fields missing or of the wrong type.
    const { host, guest } = await pair();
    const joinedBad = [
        { type: 'signal', data: {} },
        { type: 'signal', to: 5, data: {} },
        { type: 'signal', to: guest.peer },
        { type: 'admit' },
        { type: 'deny', peer: 7 },
        { type: 'stats', path: 'pigeon', rtt_ms: 1, loss_pct: 0, bitrate_kbps: 1 },
        { type: 'stats', path: 'p2p', rtt_ms: 'fast', loss_pct: 0, bitrate_kbps: 1 },
    ];
    for (const m of joinedBad) {
        host.send(m);
        try {
            await host.error('bad_request');
        } catch (e) {
            throw new Fail(`${show(m)}: ${e.message}`);
        }
    }
    host.send({ type: 'join', token: 'whatever' });
    await host.error('bad_request'); // already joined
    await host.alive();
    await guest.quiet(100);
}

async function invalidTokenSameAnswer() {
    // Runs concurrently: the ttl-1 room needs 2 s to expire.
    const cs = [];
    const open = async () => {
        const c = await Client.open();
        cs.push(c);
        return c;
    };
    try {
        const short = await createRoom({ ttl: 1 }, { key: true }, false);
        const ended = await createRoom({}, { key: true }, false);
        const endedByHost = await createRoom({ lobby: false }, { key: true }, false);
        eq((await request({ method: 'DELETE', path: `/api/v1/rooms/${ended.id}`, key: true })).status, 204, 'DELETE status');
        const h = await open();
        await h.joinAs(endedByHost.hostToken);
        h.send({ type: 'end' });
        await h.next('room-ended');
        await sleep(2200);
        const answers = [];
        const cases = [
            ['unknown token', randomHex(16)],
            ['expired room guest token', short.guestToken],
            ['expired room host token', short.hostToken],
            ['deleted room host token', ended.hostToken],
            ['deleted room guest token', ended.guestToken],
            ['ended room host token', endedByHost.hostToken],
            ['ended room guest token', endedByHost.guestToken],
        ];
        for (const [what, token] of cases) {
            const c = await open();
            const m = await c.join(token);
            if (m.type !== 'error' || m.code !== 'invalid_token') throw new Fail(`${what}: ${show(c.lastRaw)}, want error invalid_token`);
            answers.push([what, c.lastRaw]);
            await c.alive();
        }
        for (const [what, raw] of answers) {
            if (raw !== answers[0][1]) throw new Fail(`${what} answered ${raw}, ${answers[0][0]} answered ${answers[0][1]}`);
        }
        const g = await request({ path: `/api/v1/rooms/${short.id}`, key: true });
        eq(g.status, 404, 'GET of an expired room');
    } finally {
        for (const c of cs) c.terminate();
    }
}

// --- lobby -------------------------------------------------------------------------------------

async function roomCounts(id) {
    const r = await request({ path: `/api/v1/rooms/${id}`, key: true });
    eq(r.status, 200, `GET room ${id}`);
    return [r.json.participants, r.json.waiting];
}

async function lobbyKnockAdmit() {
    const room = await createRoom({}); // lobby is the default
    const host = await connect({ name: 'host' });
    const j = await host.joinAs(room.hostToken);
    eq([j.role, j.polite, j.peers, j.relay_only], ['host', false, [], false], 'host joined {role, polite, peers, relay_only}');
    eq(await roomCounts(room.id), [1, 0], 'participants, waiting after the host joined');

    const guest = await connect({ name: 'guest', ua: CHROME_WINDOWS_UA });
    const w = await guest.join(room.guestToken, { precheck: PRECHECK });
    eq(w.type, 'waiting', 'first answer to a guest in a lobby room');
    const k = await host.next('knock');
    assert(typeof k.peer === 'string' && k.peer.length > 0, `knock without a peer: ${show(k)}`);
    eq(k.browser, 'chrome', 'knock.browser');
    eq(k.os, 'windows', 'knock.os');
    eq(k.precheck, PRECHECK, 'knock.precheck (relayed booleans)');
    assert(!host.lastRaw.includes(room.guestToken), 'the knock carries the guest token');
    eq(await roomCounts(room.id), [1, 1], 'participants, waiting with a guest in the lobby');

    // A waiting guest cannot signal the host yet.
    guest.send({ type: 'signal', to: j.peer, data: { x: 1 } });
    await guest.error('forbidden');
    await host.quiet(100);

    host.send({ type: 'admit', peer: k.peer });
    await guest.next('admitted');
    const gj = await guest.next('joined');
    eq([gj.peer, gj.role, gj.polite], [k.peer, 'guest', true], 'guest joined {peer, role, polite}');
    eq(gj.peers, [{ peer: j.peer, role: 'host', name: '', invited: false }], 'guest joined.peers');
    const pj = await host.waitFor('peer-joined');
    eq([pj.peer, pj.role], [k.peer, 'guest'], 'peer-joined {peer, role}');
    eq(await roomCounts(room.id), [2, 0], 'participants, waiting after admit');
}

async function lobbyPrecheckAbsentIsFalse() {
    const room = await createRoom({});
    const host = await connect();
    await host.joinAs(room.hostToken);
    const guest = await connect();
    eq((await guest.join(room.guestToken, { precheck: { camera: true, bogus: 'x' } })).type, 'waiting', 'guest answer');
    const k = await host.next('knock');
    eq(k.browser, 'firefox', 'knock.browser');
    eq(k.os, 'linux', 'knock.os');
    eq(k.precheck, { camera: true, microphone: false, turn_udp: false, turn_tcp: false, turn_tls: false, turn_checked: false }, 'knock.precheck');
}

async function knockFieldsSanitised() {
    // precheck is booleans only and browser/os come from fixed sets: nothing a guest types
    // reaches the clinician's page.
    const room = await createRoom({});
    const host = await connect();
    await host.joinAs(room.hostToken);
    const evilUa = '<img src=x onerror=alert(1)> Mozilla/5.0 (X11; Linux x86_64) Firefox/99999999999999999999.1.2.3 "}';
    const guest = await connect({ ua: evilUa });
    guest.send({ type: 'join', token: room.guestToken, precheck: { camera: '<b>yes</b>', microphone: 1, turn_udp: true, turn_tcp: null, turn_tls: { x: 1 } } });
    const first = await guest.next(null);
    if (first.type === 'error') {
        eq(first.code, 'bad_request', 'join with a non-boolean precheck');
        await host.quiet(200);
        return;
    }
    eq(first.type, 'waiting', `guest answer (${show(guest.lastRaw)})`);
    const k = await host.next('knock');
    for (const [f, v] of Object.entries(k.precheck || {})) assert(typeof v === 'boolean', `knock.precheck.${f} is ${show(v)}, not a boolean`);
    const known = ['chrome', 'firefox', 'safari', 'edge', 'samsung', 'opera', 'other'];
    assert(known.includes(k.browser), `knock.browser ${show(k.browser)} is not a known family`);
    assert(['android', 'ios', 'windows', 'macos', 'linux', 'chromeos', 'other'].includes(k.os), `knock.os ${show(k.os)}`);
    assert(!/[<>"]|onerror/.test(host.lastRaw.replace(/\\"/g, '')), `the knock carries User-Agent text: ${show(host.lastRaw)}`);
}

async function twoHosts() {
    const room = await createRoom({ capacity: 3 }); // both hosts count
    const h1 = await connect({ name: 'h1' });
    await h1.joinAs(room.hostToken);
    const h2 = await connect({ name: 'h2' });
    const j2 = await h2.joinAs(room.hostToken);
    eq(j2.role, 'host', 'second host role');
    await h1.waitFor('peer-joined');
    const g = await connect({ name: 'g' });
    await g.join(room.guestToken);
    const k1 = await h1.next('knock');
    const k2 = await h2.next('knock');
    eq(k1.peer, k2.peer, 'both hosts see the same knock');
    h1.send({ type: 'admit', peer: k1.peer });
    await g.next('admitted');
    await g.next('joined');
    const kc = await h2.waitFor('knock-cancelled');
    eq(kc.peer, k1.peer, 'the other host is told the knock is handled');
    await h2.waitFor('peer-joined');
    h2.send({ type: 'admit', peer: k1.peer });
    await h2.error('unknown_peer');
}

async function hostLeavesAndReturns() {
    const { room, host, guest } = await pair();
    host.send({ type: 'leave' });
    eq((await guest.next('peer-left')).peer, host.peer, 'peer-left.peer for the host');
    await guest.alive(); // the room lives on
    const again = await connect();
    const j = await again.joinAs(room.hostToken);
    eq(j.role, 'host', 'returning host role');
    eq(j.peers, [{ peer: guest.peer, role: 'guest', name: '', invited: false }], 'returning host peers');
    const pj = await guest.next('peer-joined');
    eq([pj.peer, pj.role], [j.peer, 'host'], 'peer-joined for the returning host');
}

async function hostResumeSeesKnock() {
    const room = await createRoom({});
    const host = await connect({ name: 'host' });
    const hj = await host.joinAs(room.hostToken);
    const guest = await connect({ name: 'guest' });
    await guest.join(room.guestToken);
    host.send({ type: 'admit', peer: (await host.next('knock')).peer });
    await guest.waitFor('joined');
    await host.next('peer-joined');
    host.terminate();
    eq((await guest.next('peer-away')).peer, hj.peer, 'peer-away.peer for the host');
    const knocker = await connect({ name: 'knocker' });
    eq((await knocker.join(room.guestToken)).type, 'waiting', 'a knock while the host is away');
    const back = await connect({ name: 'back' });
    back.send({ type: 'join', token: room.hostToken, resume: hj.resume });
    const j = await back.next('joined');
    eq([j.peer, j.role, j.polite], [hj.peer, 'host', false], 'resumed host {peer, role, polite}');
    // Like a host arriving later, a resumed host must learn of the guest who knocked meanwhile.
    await back.next('knock').catch((e) => {
        throw new Fail(`a guest knocked while the host was away; the resumed host never got the knock (${e.message})`);
    });
    eq((await guest.next('peer-back')).peer, hj.peer, 'peer-back.peer for the host');
}

async function lobbyHostArrivesLater() {
    const room = await createRoom({});
    const guest = await connect();
    eq((await guest.join(room.guestToken)).type, 'waiting', 'guest answer');
    const host = await connect();
    await host.joinAs(room.hostToken);
    const k = await host.next('knock');
    host.send({ type: 'admit', peer: k.peer });
    await guest.next('admitted');
    await guest.next('joined');
}

async function knocksLimited() {
    // --max-knocks-per-min defaults to 10 a room; the 11th knock within a minute is refused.
    const room = await createRoom({ capacity: 8 });
    const answers = [];
    for (let i = 0; i < 11; i++) {
        const g = await connect({ name: `knock${i}` });
        const m = await g.join(room.guestToken);
        answers.push(m.type === 'error' ? m.code : m.type);
    }
    eq(answers.slice(0, 10), Array(10).fill('waiting'), 'first 10 knocks');
    eq(answers[10], 'rate_limited', '11th knock within a minute');
    // A host is not a knock: it still gets in and sees the ten waiting guests.
    const host = await connect();
    await host.joinAs(room.hostToken);
    for (let i = 0; i < 10; i++) await host.next('knock');
}

async function lobbyDeny() {
    const room = await createRoom({});
    const host = await connect();
    await host.joinAs(room.hostToken);
    const guest = await connect();
    await guest.join(room.guestToken);
    const k = await host.next('knock');
    host.send({ type: 'deny', peer: k.peer });
    await guest.next('denied');
    const c = await guest.closed();
    assert(c.code === 1000, `denied guest closed with ${c.code}, want 1000`);
    host.send({ type: 'admit', peer: k.peer });
    const e = await host.waitFor('error');
    eq(e.code, 'unknown_peer', 'admit after deny');
    eq(await roomCounts(room.id), [1, 0], 'participants, waiting after deny');
}

// A waiting guest who leaves is gone at once; one whose connection drops keeps its place for the
// resume grace, then is gone too.
async function knockCancelled() {
    const room = await createRoom({});
    const host = await connect();
    await host.joinAs(room.hostToken);
    for (const how of ['leave', 'close', 'terminate']) {
        const guest = await connect();
        await guest.join(room.guestToken);
        const k = await host.next('knock');
        const t0 = Date.now();
        if (how === 'leave') guest.send({ type: 'leave' });
        else guest[how]();
        const kc = await host.next('knock-cancelled', (cfg.resumeGrace + 3) * 1000);
        eq(kc.peer, k.peer, `knock-cancelled.peer after ${how}`);
        const waited = Date.now() - t0;
        if (how === 'leave') assert(waited < 1000, `a leave took ${waited} ms to cancel the knock`);
        else assert(waited >= cfg.resumeGrace * 1000 - 500, `a ${how} cancelled the knock after ${waited} ms, within the grace`);
        host.send({ type: 'admit', peer: k.peer });
        await host.error('unknown_peer');
    }
    eq(await roomCounts(room.id), [1, 0], 'participants, waiting');
}

// --- brokering ---------------------------------------------------------------------------------

// The raw text of data must appear verbatim in the forwarded frame, and parse to the same value.
async function relayed(from, to, dataRaw) {
    from.send(`{"type":"signal","to":"${to.peer}","data":${dataRaw}}`);
    const m = await to.next('signal');
    eq(m.from, from.peer, 'signal.from');
    assert('to' in m === false, `forwarded signal carries "to": ${show(to.lastRaw)}`);
    if (!to.lastRaw.includes(`${dataRaw}`)) throw new Fail(`data not forwarded byte for byte: sent ${show(dataRaw)}, got frame ${show(to.lastRaw)}`);
    eq(m.data, JSON.parse(dataRaw), 'parsed data');
}

async function signalRelay() {
    const { host, guest } = await pair();
    await relayed(host, guest, '{ "description" : {"type":"offer","sdp":"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n"},"x":[1, 2.50, 1.0e2, -0, "}\\"{"], "u":"\\u00e9 é \\/ 😀"}');
    await relayed(guest, host, '"a\\/b\\u0041 \\ud83d\\ude00"');
    await relayed(guest, host, 'null');
    await relayed(host, guest, '[ ]');
    await relayed(guest, host, '12.50');
    await relayed(host, guest, '{"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}');
    await relayed(guest, host, '{"candidate":null}');
    // Close to the 64 KiB frame cap, still forwarded whole.
    await relayed(host, guest, `{"sdp":"${'a'.repeat(60000)}"}`);
    // Order is kept.
    for (let i = 0; i < 20; i++) host.send(`{"type":"signal","to":"${guest.peer}","data":{"n":${i}}}`);
    for (let i = 0; i < 20; i++) eq((await guest.next('signal')).data, { n: i }, 'signal order');
    await host.quiet(100);
}

async function unknownPeer() {
    const { host, guest } = await pair();
    for (const to of ['nobody', host.peer, '']) {
        host.send({ type: 'signal', to, data: {} });
        const e = await host.next('error');
        assert(e.code === 'unknown_peer' || (to === '' && e.code === 'bad_request'), `signal to ${JSON.stringify(to)}: ${show(host.lastRaw)}`);
    }
    host.send({ type: 'admit', peer: 'nobody' });
    await host.error('unknown_peer');
    host.send({ type: 'admit', peer: guest.peer }); // joined, not waiting
    await host.error('unknown_peer');
    host.send({ type: 'deny', peer: guest.peer });
    await host.error('unknown_peer');
    await guest.quiet(100);

    // A guest still in the lobby gets no signal (no SDP before admission).
    const lob = await createRoom({});
    const h = await connect();
    await h.joinAs(lob.hostToken);
    const w = await connect();
    await w.join(lob.guestToken);
    const k = await h.next('knock');
    h.send({ type: 'signal', to: k.peer, data: { sdp: 'secret' } });
    await h.error('unknown_peer');
    await w.quiet(200);
}

async function forbidden() {
    const room = await createRoom({ capacity: 3 });
    const host = await connect();
    await host.joinAs(room.hostToken);
    const guest = await connect();
    await guest.join(room.guestToken);
    host.send({ type: 'admit', peer: (await host.next('knock')).peer });
    await guest.next('admitted');
    await guest.next('joined');
    await host.next('peer-joined');
    const other = await connect();
    await other.join(room.guestToken);
    const k = await host.next('knock');
    for (const m of [{ type: 'admit', peer: k.peer }, { type: 'deny', peer: k.peer }, { type: 'end' }]) {
        guest.send(m);
        try {
            await guest.error('forbidden');
        } catch (e) {
            throw new Fail(`guest ${m.type}: ${e.message}`);
        }
    }
    await other.quiet(200); // still waiting, neither admitted nor denied
    await guest.alive();
    await host.alive();
}

async function statsAccepted() {
    const { host, guest } = await pair();
    guest.send({ type: 'stats', path: 'relay', rtt_ms: 20, loss_pct: 0.5, bitrate_kbps: 900 });
    host.send({ type: 'stats', path: 'p2p', rtt_ms: 3.25, loss_pct: 0, bitrate_kbps: 2500 });
    await guest.alive(); // no error before the pong
    await host.alive();
    await host.quiet(100);
}

async function leave() {
    const { room, host, guest } = await pair();
    const g = guest.peer;
    guest.send({ type: 'leave' });
    const pl = await host.next('peer-left');
    eq(pl.peer, g, 'peer-left.peer');
    const c = await guest.closed();
    eq(c.code, 1000, 'close code after leave');
    eq(await roomCounts(room.id), [1, 0], 'participants, waiting after leave');
    // The place is free again: a fresh join is a new peer.
    const again = await connect();
    const j = await again.joinAs(room.guestToken);
    assert(j.peer !== g, 'a fresh join after leave reused the peer id');
    eq((await host.next('peer-joined')).peer, j.peer, 'peer-joined.peer');
}

async function endForEveryone() {
    const room = await createRoom({ capacity: 3 });
    const host = await connect({ name: 'host' });
    await host.joinAs(room.hostToken);
    const guest = await connect({ name: 'guest' });
    await guest.join(room.guestToken);
    host.send({ type: 'admit', peer: (await host.next('knock')).peer });
    await guest.waitFor('joined');
    await host.next('peer-joined');
    const waiting = await connect({ name: 'waiting' });
    await waiting.join(room.guestToken);
    await host.next('knock');
    host.send({ type: 'end' });
    for (const c of [host, guest, waiting]) {
        await c.waitFor('room-ended');
        const cl = await c.closed();
        eq(cl.code, 1000, `${c.name} close code after end`);
    }
    const late = await connect();
    eq((await late.join(room.hostToken)).code, 'invalid_token', 'join after end');
    const lateResume = await connect();
    eq((await lateResume.join(room.guestToken, { resume: guest.resume })).code, 'invalid_token', 'resume after end');
    eq((await request({ path: `/api/v1/rooms/${room.id}`, key: true })).status, 404, 'GET after end');
}

async function restDeleteEndsRoom() {
    const { room, host, guest } = await pair();
    eq((await request({ method: 'DELETE', path: `/api/v1/rooms/${room.id}`, key: true })).status, 204, 'DELETE status');
    for (const c of [host, guest]) {
        await c.next('room-ended');
        await c.closed();
    }
}

// --- capacity ----------------------------------------------------------------------------------

async function capacity() {
    // A direct join to a full room without a lobby (default capacity: 2).
    const { room } = await pair();
    const third = await connect({ name: 'third' });
    eq((await third.join(room.guestToken)).code, 'room_full', 'direct join to a full room');
    await third.alive();
    eq(await roomCounts(room.id), [2, 0], 'participants, waiting of the full room');

    // An admit that would overfill: both the host and that guest get room_full.
    const lob = await createRoom({ capacity: 2 });
    const host = await connect({ name: 'lobbyhost' });
    await host.joinAs(lob.hostToken);
    const a = await connect({ name: 'a' });
    await a.join(lob.guestToken);
    host.send({ type: 'admit', peer: (await host.next('knock')).peer });
    await a.next('admitted');
    await a.next('joined');
    await host.next('peer-joined');
    const b = await connect({ name: 'b' });
    eq((await b.join(lob.guestToken)).type, 'waiting', 'a knock to a full lobby room waits');
    const kb = await host.next('knock');
    host.send({ type: 'admit', peer: kb.peer });
    await host.error('room_full');
    await b.error('room_full');
    eq(await roomCounts(lob.id), [2, 1], 'participants, waiting after the refused admit');

    // Capacity 3 takes a host and two guests.
    const { room: r3 } = await pair({ capacity: 3 });
    const g2 = await connect();
    await g2.joinAs(r3.guestToken);
    const g3 = await connect();
    eq((await g3.join(r3.guestToken)).code, 'room_full', 'fourth join to a capacity-3 room');
}

async function politeFlags() {
    const room = await createRoom({ lobby: false, capacity: 3 });
    const host = await connect();
    const hj = await host.joinAs(room.hostToken);
    eq([hj.role, hj.polite], ['host', false], 'host role, polite');
    const g1 = await connect();
    const j1 = await g1.joinAs(room.guestToken);
    eq([j1.role, j1.polite], ['guest', true], 'first guest role, polite');
    eq(j1.peers, [{ peer: hj.peer, role: 'host', name: '', invited: false }], 'first guest peers');
    const g2 = await connect();
    const j2 = await g2.joinAs(room.guestToken);
    eq([j2.role, j2.polite], ['guest', true], 'later guest role, polite');
    const peers = [...j2.peers].sort((x, y) => (x.peer < y.peer ? -1 : 1));
    const want = [{ peer: hj.peer, role: 'host', name: '', invited: false }, { peer: j1.peer, role: 'guest', name: '', invited: false }].sort((x, y) => (x.peer < y.peer ? -1 : 1));
    eq(peers, want, 'later guest peers');
    eq((await g1.next('peer-joined')).peer, j2.peer, 'first guest sees the later guest join');
    assert(new Set([hj.peer, j1.peer, j2.peer]).size === 3, 'peer ids repeat');
    for (const id of [hj.peer, j1.peer, j2.peer]) assert(!id.includes(room.id), 'a peer id contains the room id');
}

function turnEntry(j, what) {
    assert(Array.isArray(j.ice_servers), `${what}: ice_servers is not a list: ${show(j)}`);
    const urls = (s) => [].concat(s.urls || []);
    const all = j.ice_servers.flatMap(urls);
    assert(all.includes('stun:127.0.0.1:3478'), `${what}: ice_servers lack stun:127.0.0.1:3478: ${show(j.ice_servers)}`);
    const t = j.ice_servers.find((s) => urls(s).includes('turn:127.0.0.1:3478?transport=udp'));
    assert(t, `${what}: ice_servers lack turn:127.0.0.1:3478?transport=udp: ${show(j.ice_servers)}`);
    return t;
}

function checkTurnCred(t, room, what) {
    const m = /^(\d+):([^:]+)$/.exec(t.username || '');
    assert(m, `${what}: TURN username ${show(t.username)} is not EXPIRY:ID`);
    eq(t.credential, hmacB64(cfg.turnSecret, t.username), `${what}: credential vs base64(HMAC-SHA1(secret, username))`);
    const expiry = Number(m[1]), now = Date.now() / 1000, roomExp = Date.parse(room.body.expires_at) / 1000;
    // The room's expiry plus a margin (a call never loses its relay mid-way), capped at 4 h.
    assert(expiry > roomExp || expiry >= now + 4 * 3600 - 5, `${what}: EXPIRY ${expiry} does not outlive the room's expiry ${roomExp}`);
    assert(expiry <= now + 4 * 3600 + 5, `${what}: EXPIRY ${expiry} is beyond now + 4 h (${Math.round(now)})`);
    for (const secret of [room.hostToken, room.guestToken, room.id]) assert(!m[2].includes(secret), `${what}: the TURN username carries a room id or token`);
    return m[2];
}

async function iceServers() {
    const { room, host, guest } = await pair({ ttl: 3600 });
    const hid = checkTurnCred(turnEntry(host.joined, 'host'), room, 'host');
    const gid = checkTurnCred(turnEntry(guest.joined, 'guest'), room, 'guest');
    assert(hid !== gid, 'host and guest share the TURN username ID');
    const stun = host.joined.ice_servers.find((s) => [].concat(s.urls).includes('stun:127.0.0.1:3478'));
    assert(stun.credential === undefined, 'the STUN entry carries a credential');
    // A short room: the credential still outlives the room (margin) yet stays capped.
    const s = await pair({ ttl: 60 });
    checkTurnCred(turnEntry(s.host.joined, 'short room host'), s.room, 'short room host');
    // A day-long room: the credential is capped by --turn-ttl (default 4 h).
    const long = await pair({ ttl: 86400 });
    const lu = Number(turnEntry(long.host.joined, 'long room').username.split(':')[0]);
    assert(lu <= Date.now() / 1000 + 4 * 3600 + 5 && lu >= Date.now() / 1000 + 4 * 3600 - 60,
        `a 24 h room's TURN EXPIRY ${lu} is not capped at now + 4 h`);
    checkTurnCred(turnEntry(long.guest.joined, 'long room guest'), long.room, 'long room guest');
    // relay_only is passed on.
    const r = await pair({ relay_only: true });
    eq([r.host.joined.relay_only, r.guest.joined.relay_only], [true, true], 'joined.relay_only in a relay-only room');
    eq(host.joined.relay_only, false, 'joined.relay_only in a normal room');
}

// --- resume ------------------------------------------------------------------------------------

async function resume() {
    const room = await createRoom({}); // a lobby room: resume must skip the lobby
    const host = await connect({ name: 'host' });
    await host.joinAs(room.hostToken);
    const guest = await connect({ name: 'guest' });
    await guest.join(room.guestToken);
    host.send({ type: 'admit', peer: (await host.next('knock')).peer });
    await guest.next('admitted');
    const gj = await guest.next('joined');
    await host.next('peer-joined');
    const g = gj.peer, r1 = gj.resume;
    assert(typeof r1 === 'string' && r1.length >= 22, `resume token ${show(r1)}`);
    assert(r1 !== room.guestToken && r1 !== room.hostToken, 'the resume token is a room token');

    guest.terminate();
    eq((await host.next('peer-away')).peer, g, 'peer-away.peer');
    const buffered = ['{"description":{"type":"offer","sdp":"v=0 resume 1"}}', '{ "candidate" : null }'];
    for (const d of buffered) host.send(`{"type":"signal","to":"${g}","data":${d}}`);
    await host.quiet(300); // buffered, not refused

    const back = await connect({ name: 'back' });
    back.send({ type: 'join', token: room.guestToken, resume: r1 });
    const j = await back.next(null);
    eq(j.type, 'joined', `resumed guest's first frame (${show(back.lastRaw)})`);
    eq([j.peer, j.role, j.polite], [g, 'guest', true], 'resumed joined {peer, role, polite}');
    assert(typeof j.resume === 'string' && j.resume.length >= 22 && j.resume !== r1, `resume token not fresh: ${show(j.resume)}`);
    eq(j.peers, [{ peer: host.peer, role: 'host', name: '', invited: false }], 'resumed joined.peers');
    checkTurnCred(turnEntry(j, 'resumed guest'), room, 'resumed guest');
    for (const d of buffered) {
        const m = await back.next('signal');
        eq(m.from, host.peer, 'buffered signal.from');
        assert(back.lastRaw.includes(d), `buffered signal not byte for byte: ${show(back.lastRaw)}`);
    }
    eq((await host.next('peer-back')).peer, g, 'peer-back.peer');
    back.peer = g;
    await relayed(back, host, '{"after":"resume"}');
    await relayed(host, back, '{"after":"resume too"}');
    eq(await roomCounts(room.id), [2, 0], 'participants, waiting after resume');

    // The spent resume token is a fresh join: here that means the lobby again.
    const stale = await connect({ name: 'stale' });
    stale.send({ type: 'join', token: room.guestToken, resume: r1 });
    eq((await stale.next(null)).type, 'waiting', `join with a spent resume token (${show(stale.lastRaw)})`);
    const k = await host.next('knock');
    assert(k.peer !== g, 'the stale resume knocked as the old peer id');
    // A resume token does not cross rooms or roles.
    const host2 = await connect({ name: 'host2' });
    host2.send({ type: 'join', token: room.hostToken, resume: j.resume });
    const h2 = await host2.next('joined');
    assert(h2.peer !== g && h2.role === 'host', `host token with the guest's resume token joined as ${show(h2)}`);
}

async function graceExpires() {
    // Concurrent: waits out the grace period.
    const cs = [];
    try {
        const room = await createRoom({ lobby: false }, { key: true }, false);
        const host = await Client.open({ name: 'grace-host' });
        cs.push(host);
        await host.joinAs(room.hostToken);
        const guest = await Client.open({ name: 'grace-guest' });
        cs.push(guest);
        const gj = await guest.joinAs(room.guestToken);
        await host.next('peer-joined');
        const t0 = Date.now();
        guest.terminate();
        eq((await host.next('peer-away')).peer, gj.peer, 'peer-away.peer');
        // The away guest's place is held during the grace period.
        const other = await Client.open({ name: 'grace-other' });
        cs.push(other);
        eq((await other.join(room.guestToken)).code, 'room_full', 'a fresh guest while the old one is away');
        const pl = await host.next('peer-left', (cfg.resumeGrace + 4) * 1000);
        const dt = (Date.now() - t0) / 1000;
        eq(pl.peer, gj.peer, 'peer-left.peer');
        assert(dt >= cfg.resumeGrace - 1, `peer-left after ${dt.toFixed(1)} s, before the ${cfg.resumeGrace} s grace`);
        const late = await Client.open({ name: 'grace-late' });
        cs.push(late);
        late.send({ type: 'join', token: room.guestToken, resume: gj.resume });
        const j = await late.next('joined');
        assert(j.peer !== gj.peer, 'a resume after the grace period came back as the old peer');
        await request({ method: 'DELETE', path: `/api/v1/rooms/${room.id}`, key: true });
    } finally {
        for (const c of cs) c.terminate();
    }
}

export const tests = [
    { name: 'ws_subprotocol_vc_v1_required', fn: wsSubprotocol },
    { name: 'ws_origin_missing_or_foreign_refused_403_public_accepted', fn: wsOrigin },
    { name: 'ws_upgrade_on_other_paths_refused', fn: wsOtherPath },
    { name: 'ws_ping_answered_before_join', fn: pingBeforeJoin },
    { name: 'ws_messages_before_join_get_not_joined', fn: notJoined },
    { name: 'ws_bad_json', fn: badJson },
    { name: 'ws_unknown_type', fn: unknownType },
    { name: 'ws_bad_request', fn: badRequest },
    { name: 'ws_invalid_token_same_for_unknown_expired_ended', fn: invalidTokenSameAnswer, concurrent: true },
    { name: 'ws_lobby_knock_relays_precheck_and_admit', fn: lobbyKnockAdmit },
    { name: 'ws_lobby_precheck_absent_fields_are_false', fn: lobbyPrecheckAbsentIsFalse },
    { name: 'ws_lobby_host_arriving_later_gets_knock', fn: lobbyHostArrivesLater },
    { name: 'ws_lobby_deny_closes_guest', fn: lobbyDeny },
    { name: 'ws_knock_fields_sanitised', fn: knockFieldsSanitised },
    { name: 'ws_two_hosts_share_the_lobby', fn: twoHosts },
    { name: 'ws_host_leaves_room_lives_on_host_returns', fn: hostLeavesAndReturns },
    { name: 'ws_host_resume_then_sees_knock', fn: hostResumeSeesKnock },
    { name: 'ws_knock_cancelled_when_waiting_guest_leaves_or_grace_ends', fn: knockCancelled, timeout: 30000 },
    { name: 'ws_knocks_limited_per_room', fn: knocksLimited },
    { name: 'ws_signal_relayed_byte_for_byte_both_ways', fn: signalRelay },
    { name: 'ws_unknown_peer', fn: unknownPeer },
    { name: 'ws_guest_admit_deny_end_forbidden', fn: forbidden },
    { name: 'ws_stats_accepted', fn: statsAccepted },
    { name: 'ws_leave_sends_peer_left', fn: leave },
    { name: 'ws_end_ends_room_for_everyone', fn: endForEveryone },
    { name: 'rest_delete_sends_room_ended', fn: restDeleteEndsRoom },
    { name: 'ws_capacity_room_full_direct_and_admit', fn: capacity },
    { name: 'ws_polite_flags_and_peers', fn: politeFlags },
    { name: 'ws_ice_servers_turn_rest_credentials', fn: iceServers },
    { name: 'ws_resume_same_peer_fresh_token_buffered_signals', fn: resume },
    { name: 'ws_grace_period_ends_with_peer_left', fn: graceExpires, concurrent: true },
];

export { relayed, turnEntry, checkTurnCred, PRECHECK };
