// The pre-call check: a microphone level meter and whether the TURN relay answers over UDP, TCP, TLS.

/* {level} for a checkTurn result: 'good' (the relay answers over UDP, so a direct path is
 * likely too), 'relay' (only over TCP or TLS), 'blocked' (not at all), or null when nothing was
 * tested (no TURN URL) or the check still runs. */
export function networkVerdict(r) {
    if (!r || r.pending || !Array.isArray(r.tested) || r.tested.length === 0) return null;
    const level = r.turn_udp ? 'good' : r.turn_tcp || r.turn_tls ? 'relay' : 'blocked';
    return {level};
}

/* Calls onLevel(0..1) about ten times a second from the stream's audio. Returns a stop function. */
export function startLevelMeter(stream, onLevel) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx || !stream || stream.getAudioTracks().length === 0) return () => {};
    const ctx = new Ctx();
    const source = ctx.createMediaStreamSource(stream);
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    // Browsers start audio contexts suspended until the user interacts with the page.
    const wake = () => ctx.state === 'suspended' && ctx.resume().catch(() => {});
    wake();
    document.addEventListener('pointerdown', wake);
    document.addEventListener('keydown', wake);
    const timer = setInterval(() => {
        analyser.getByteTimeDomainData(data);
        let sum = 0;
        for (const v of data) sum += (v - 128) * (v - 128);
        const rms = Math.sqrt(sum / data.length) / 128;
        onLevel(Math.min(1, rms * 4));
    }, 100);
    return () => {
        clearInterval(timer);
        document.removeEventListener('pointerdown', wake);
        document.removeEventListener('keydown', wake);
        source.disconnect();
        ctx.close().catch(() => {});
    };
}

/* 'udp', 'tcp' or 'tls' for a TURN URL, or null for anything else (stun:). */
export function turnTransport(url) {
    if (/^turns:/i.test(url)) return 'tls';
    if (!/^turn:/i.test(url)) return null;
    return /[?&]transport=tcp/i.test(url) ? 'tcp' : 'udp';
}

/* True when a relay candidate appears through this one TURN server within timeoutMs (false, never
 * a hang, for a URL the browser cannot reach or refuses). */
async function relayAnswers(server, url, timeoutMs) {
    const pc = new RTCPeerConnection({
        iceServers: [{urls: url, username: server.username, credential: server.credential}],
        iceTransportPolicy: 'relay',
    });
    try {
        const found = new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), timeoutMs);
            pc.onicecandidate = ({candidate}) => {
                if (candidate &&(candidate.type === 'relay' || / typ relay /.test(candidate.candidate))) {
                    clearTimeout(timer);
                    resolve(true);
                } else if (!candidate) {
                    clearTimeout(timer);
                    resolve(false);
                }
            };
        });
        pc.createDataChannel('precheck');
        await pc.setLocalDescription(await pc.createOffer());
        return await found;
    } catch {
        return false;
    } finally {
        pc.close();
    }
}

/* {turn_udp, turn_tcp, turn_tls}: each true when that kind of TURN URL gave a relay candidate. */
export async function checkTurn(iceServers, timeoutMs = 5000) {
    const result = {turn_udp: false, turn_tcp: false, turn_tls: false};
    const tests = [];
    const seen = new Set();
    for (const server of iceServers || []) {
        const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
        for (const url of urls) {
            const kind = turnTransport(url);
            if (!kind || seen.has(kind)) continue;
            seen.add(kind);
            tests.push(relayAnswers(server, url, timeoutMs).then((ok) => {
                result[`turn_${kind}`] = ok;
            }));
        }
    }
    await Promise.all(tests);
    result.tested = [...seen];
    return result;
}
