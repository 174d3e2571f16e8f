// Limits of vc-signal: frames over 64 KiB, message floods and the keepalive for silent peers.
import { cfg, request, createRoom, connect, pair, Client, assert, eq, show, Fail, sleep } from './lib.mjs';

// Sends a numbered signal every 20 ms from one peer to the other until stopped; check() then
// proves every one arrived, in order.
function steadyFlow(from, to) {
    let n = 0, stop = false;
    const timer = setInterval(() => {
        if (!stop && from.ws.readyState === 1) from.send(`{"type":"signal","to":"${to.peer}","data":{"seq":${n++}}}`);
    }, 20);
    return {
        async check() {
            stop = true;
            clearInterval(timer);
            for (let i = 0; i < n; i++) {
                const m = await to.next('signal', 3000);
                eq(m.data, { seq: i }, 'signal of the other room during the oversized frame');
            }
            return n;
        },
    };
}

async function tooLarge() {
    const a = await pair();
    const b = await pair();
    const flow = steadyFlow(b.host, b.guest);
    const back = steadyFlow(b.guest, b.host);
    await sleep(200);
    const big = `{"type":"signal","to":"${a.host.peer}","data":"${'x'.repeat(70 * 1024)}"}`;
    a.guest.send(big);
    const e = await a.guest.next('error', 5000);
    eq(e.code, 'too_large', `answer to a ${big.length}-byte frame`);
    const c = await a.guest.closed(5000);
    eq(c.code, 1009, 'close code after too_large');
    await a.host.waitFor('peer-away', 3000).catch(() => {}); // the sender's connection is gone
    assert(!a.host.seen.some((f) => f.msg.type === 'signal'), 'the oversized signal was forwarded');
    await sleep(300);
    const n = await flow.check();
    const m = await back.check();
    assert(n > 10 && m > 10, `only ${n} and ${m} signals flowed in the other room`);
    // And afterwards.
    b.host.send(`{"type":"signal","to":"${b.guest.peer}","data":"after"}`);
    eq((await b.guest.next('signal')).data, 'after', 'signal after the oversized frame');
    await b.host.alive();
    // The other peer of the first room still works too.
    await a.host.alive();
}

async function tooLargeBeforeJoin() {
    const c = await connect();
    c.send(`{"type":"ping","pad":"${'y'.repeat(65 * 1024)}"}`);
    eq((await c.next('error', 5000)).code, 'too_large', 'oversized frame before join');
    eq((await c.closed(5000)).code, 1009, 'close code');
}

async function frameCapBoundary() {
    // Exactly 64 KiB is allowed; one byte more is not.
    const frame = (len) => {
        const head = '{"type":"ping","pad":"', tail = '"}';
        return head + 'z'.repeat(len - head.length - tail.length) + tail;
    };
    const a = await connect();
    a.send(frame(65536));
    const m = await a.next(null, 5000);
    assert(m.type === 'pong', `a frame of exactly 65536 bytes: ${show(a.lastRaw)}, want pong`);
    const b = await connect();
    b.send(frame(65537));
    eq((await b.next('error', 5000)).code, 'too_large', 'a frame of 65537 bytes');
    eq((await b.closed(5000)).code, 1009, 'close code');
}

async function fragmentedOverCap() {
    // The cap applies to the message, not to each fragment.
    const c = await connect();
    const part = 'f'.repeat(30 * 1024);
    c.ws.send(`{"type":"ping","pad":"${part}`, { fin: false });
    c.ws.send(part, { fin: false });
    c.ws.send(`${part}"}`, { fin: true });
    eq((await c.next('error', 5000)).code, 'too_large', 'a 90 KiB message in three 30 KiB fragments');
    eq((await c.closed(5000)).code, 1009, 'close code');
    // Small fragments that add up to a valid message are fine.
    const d = await connect();
    d.ws.send('{"type":', { fin: false });
    d.ws.send('"ping"}', { fin: true });
    await d.next('pong');
}

async function flood() {
    const { host, guest } = await pair();
    const c = await connect({ name: 'flooder' });
    const N = 5000;
    for (let i = 0; i < N && c.ws.readyState === 1; i++) c.send('{"type":"ping"}');
    const closed = await c.closed(10000);
    const pongs = c.seen.filter((f) => f.msg.type === 'pong').length;
    const limited = c.seen.filter((f) => f.msg.type === 'error' && f.msg.code === 'rate_limited').length;
    const others = c.seen.filter((f) => f.msg.type !== 'pong' && !(f.msg.type === 'error' && f.msg.code === 'rate_limited'));
    assert(limited >= 1, `no rate_limited error; ${c.describe()}`);
    assert(limited <= 20, `${limited} rate_limited errors for one flood: not throttled`);
    assert(pongs >= 1 && pongs < N / 2, `${pongs} pongs for ${N} pings with --max-msg-rate 50`);
    assert(others.length === 0, `unexpected frames: ${others.length ? show(others[0].raw) : ''}`);
    eq(closed.code, 1008, 'close code after a sustained flood');
    // The flood did not hurt anybody else.
    await host.alive();
    host.send(`{"type":"signal","to":"${guest.peer}","data":1}`);
    eq((await guest.next('signal')).data, 1, 'signal after the flood');
}

async function rateLimitedNotClosed() {
    // A short burst over the limit: errors, but the connection stays open and recovers.
    const c = await connect();
    for (let i = 0; i < 150; i++) c.send('{"type":"ping"}');
    await sleep(1500);
    assert(c.seen.some((f) => f.msg.code === 'rate_limited'), `150 pings at once got no rate_limited; ${c.describe()}`);
    assert(!c.closeInfo, `a 150-message burst closed the connection (${c.closeInfo && c.closeInfo.code})`);
    c.queue.length = 0;
    await c.alive();
}

async function keepalive() {
    // Concurrent: a guest whose client never answers pings must be noticed within 15 s.
    const cs = [];
    try {
        const room = await createRoom({ lobby: false }, { key: true }, false);
        const host = await Client.open({ name: 'ka-host' });
        cs.push(host);
        await host.joinAs(room.hostToken);
        const silent = await Client.open({ name: 'ka-silent', autoPong: false });
        cs.push(silent);
        let pings = 0;
        silent.ws.on('ping', () => pings++);
        const sj = await silent.joinAs(room.guestToken);
        await host.next('peer-joined');
        const t0 = Date.now();
        const away = await host.waitFor('peer-away', 16500);
        const dt = (Date.now() - t0) / 1000;
        eq(away.peer, sj.peer, 'peer-away.peer');
        assert(dt <= 16, `peer-away after ${dt.toFixed(1)} s`);
        assert(pings >= 1, 'the server never pinged the silent client');
        // The host answered every ping and is still connected.
        assert(!host.closeInfo, `the host (which answers pings) was closed: ${host.closeInfo && host.closeInfo.code}`);
        await host.alive();
        await request({ method: 'DELETE', path: `/api/v1/rooms/${room.id}`, key: true });
    } finally {
        for (const c of cs) c.terminate();
    }
}

export const tests = [
    { name: 'limit_frame_over_64k_too_large_then_1009_other_room_unaffected', fn: tooLarge },
    { name: 'limit_frame_over_64k_before_join', fn: tooLargeBeforeJoin },
    { name: 'limit_frame_cap_is_exactly_64k', fn: frameCapBoundary },
    { name: 'limit_fragmented_message_over_64k', fn: fragmentedOverCap },
    { name: 'limit_short_burst_rate_limited_connection_stays', fn: rateLimitedNotClosed },
    { name: 'limit_message_flood_rate_limited_then_1008', fn: flood },
    { name: 'limit_keepalive_silent_peer_away_within_16s', fn: keepalive, concurrent: true, timeout: 25000 },
];

export { Fail };
