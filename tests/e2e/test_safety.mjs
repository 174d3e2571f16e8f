// The web client's pure parts in node, no browser: the security code's derivation pinned with
// vectors, the low-data watch, and the chat's file checks and chunked sending with backpressure.
import { assert } from './lib.mjs';
import { sdpFingerprint, securityCode, formatCode, pairCode } from '../../src/web/js/safety.js';
import { LowDataWatch } from '../../src/web/js/stats.js';
import { fileMeta, sendChunked, CHUNK, FILE_MAX, sha256Hex } from '../../src/web/js/chat.js';

// Fingerprints and codes worked out apart from safety.js (node's crypto, readUInt32BE): the
// fingerprints are the SHA-256 of "vc-a", "vc-b", "vc-c" as colon hex; Z and F are all zeros and
// all ones.
const A = '64:6e:10:2b:c9:0a:0b:15:72:03:05:65:9e:19:45:71:07:8d:8e:64:1f:a7:3b:00:b6:2d:fd:e8:92:78:85:b5';
const B = '1a:c9:1e:1f:31:c6:71:85:53:4f:02:b5:c6:2d:ac:da:60:f4:73:0e:64:c7:7e:38:ab:b7:b0:01:03:32:aa:e3';
const C = '94:85:c6:a9:e2:9b:83:cf:94:96:0d:eb:20:25:0e:7f:a4:f8:c3:d9:74:68:77:aa:8c:05:bd:c9:c8:4d:77:b9';
const Z = Array(32).fill('00').join(':');
const F = Array(32).fill('ff').join(':');
const VECTORS = [
    [A, B, '824827'],
    [A, C, '719845'],
    [B, C, '108023'],
    [Z, F, '997688'],
    [Z, Z, '880887'],
];

async function codeVectors() {
    for (const [x, y, want] of VECTORS) {
        const one = await securityCode(x, y);
        const other = await securityCode(y, x);
        assert(one === want, `securityCode(${x.slice(0, 8)}…, ${y.slice(0, 8)}…) = ${one}, want ${want}`);
        assert(other === want, `the code depends on the order: ${other} and ${one}`);
    }
    assert((await securityCode(A.toUpperCase(), B)) === '824827', 'upper-case hex gives another code');
    assert(formatCode('042917') === '042 917', `formatCode: ${formatCode('042917')}`);
}

async function codeFromSdp() {
    const sdp = (fp) =>
        'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-1 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD\r\n' +
        `m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 ${fp.toUpperCase()}\r\na=setup:actpass\r\n`;
    assert(sdpFingerprint(sdp(A)) === A, `sdpFingerprint: ${sdpFingerprint(sdp(A))}`);
    assert(sdpFingerprint('v=0\r\na=fingerprint:sha-256 AB:CD\r\n') === null, 'a short fingerprint was taken');
    assert(sdpFingerprint(null) === null, 'no SDP, yet a fingerprint');
    assert((await pairCode(sdp(A), sdp(B))) === '824827', 'pairCode(A, B)');
    assert((await pairCode(sdp(B), sdp(A))) === '824827', 'pairCode(B, A): the other side of the pair');
    assert((await pairCode(sdp(A), 'v=0\r\n')) === null, 'a code without the remote fingerprint');
    // Someone in between shows each side its own certificate: the two sides' codes differ.
    const M = C;
    assert((await pairCode(sdp(A), sdp(M))) !== (await pairCode(sdp(B), sdp(M))), 'a man in the middle goes unseen');
}

function lowData() {
    const w = new LowDataWatch();
    const bad = { sendingVideo: true, outKbps: 120, outLossPct: 0 };
    let t = 0;
    for (; t < 10000; t += 1000) assert(!w.sample(bad, t), `suggested after ${t / 1000} s`);
    assert(w.sample(bad, t), 'no suggestion after 10 s under 150 kbit/s');
    assert(!w.sample(bad, t + 1000), 'suggested twice in a row');
    const w2 = new LowDataWatch();
    for (t = 0; t < 9000; t += 1000) w2.sample({ sendingVideo: true, outKbps: 900, outLossPct: 12 }, t);
    w2.sample({ sendingVideo: true, outKbps: 900, outLossPct: 2 }, t); // a good second starts over
    for (t += 1000; t < 20000; t += 1000) assert(!w2.sample({ sendingVideo: true, outKbps: 900, outLossPct: 12 }, t), 'the count did not start over');
    assert(w2.sample({ sendingVideo: true, outKbps: 900, outLossPct: 12 }, t), 'no suggestion after 10 s over 10% loss');
    const w3 = new LowDataWatch();
    for (t = 0; t < 20000; t += 1000) assert(!w3.sample({ sendingVideo: false, outKbps: 30, outLossPct: 50 }, t), 'suggested with video off');
}

// A data channel that buffers what it is sent and drains when told.
class FakeChannel extends EventTarget {
    constructor() {
        super();
        this.readyState = 'open';
        this.bufferedAmount = 0;
        this.bufferedAmountLowThreshold = 0;
        this.sent = [];
        this.maxBuffered = 0;
    }
    send(b) {
        this.sent.push(b);
        this.bufferedAmount += b.byteLength;
        this.maxBuffered = Math.max(this.maxBuffered, this.bufferedAmount);
    }
    drain() {
        this.bufferedAmount = 0;
        this.dispatchEvent(new Event('bufferedamountlow'));
    }
}

async function chunkedWithBackpressure() {
    const data = new Uint8Array(5 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 13)) & 0xff;
    const ch = new FakeChannel();
    let drains = 0;
    const timer = setInterval(() => {
        drains++;
        ch.drain();
    }, 2);
    await sendChunked(ch, data.buffer);
    clearInterval(timer);
    assert(ch.sent.every((b) => b.byteLength <= CHUNK), 'a piece over 16 KiB');
    assert(ch.maxBuffered <= 1024 * 1024 + CHUNK, `bufferedAmount reached ${ch.maxBuffered}, want at most 1 MiB and a piece`);
    assert(drains > 3, 'the sender never waited for bufferedamountlow');
    assert(ch.bufferedAmountLowThreshold === 256 * 1024, `bufferedAmountLowThreshold ${ch.bufferedAmountLowThreshold}`);
    const joined = new Uint8Array(await new Blob(ch.sent).arrayBuffer());
    assert((await sha256Hex(joined)) === (await sha256Hex(data)), 'the pieces do not add up to the file');
    // Announcements from the wire are checked before anything is kept.
    const ok = { id: 'f1', name: '../x\u0000.png', size: 10, mime: 'image/png', sha256: 'a'.repeat(64) };
    assert(fileMeta(ok).name === '.._x_.png', `name ${fileMeta(ok).name}`);
    for (const bad of [{ ...ok, size: FILE_MAX + 1 }, { ...ok, size: -1 }, { ...ok, size: 1.5 }, { ...ok, sha256: 'zz' }, { ...ok, id: 5 }]) {
        assert(fileMeta(bad) === null, `accepted ${JSON.stringify(bad)}`);
    }
    assert(fileMeta({ ...ok, mime: '<script>' }).mime === 'application/octet-stream', 'a strange type was kept');
}

export const tests = [
    { name: 'security_code_derivation_matches_the_vectors', fn: codeVectors },
    { name: 'security_code_from_sdp_is_the_same_on_both_sides_of_a_pair', fn: codeFromSdp },
    { name: 'low_data_watch_suggests_audio_only_after_10_s', fn: lowData },
    { name: 'files_go_in_16_kib_pieces_under_1_mib_buffered', fn: chunkedWithBackpressure, timeout: 30000 },
];
