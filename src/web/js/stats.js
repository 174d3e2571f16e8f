// Reads an RTCPeerConnection's stats: the media path of the selected pair, RTT, loss and bitrate.

/* Returns {path: 'p2p'|'relay'|null, rtt_ms, loss_pct, bitrate_kbps, sample}. path is null until
 * a candidate pair is selected and media has arrived. prev is the sample of the last call. */
export async function readStats(pc, prev) {
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let pair = null;
    report.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId) || pair;
    });
    if (!pair) {
        report.forEach((s) => {
            if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s;
        });
    }
    let received = 0;
    let lost = 0;
    let bytesIn = 0;
    report.forEach((s) => {
        if (s.type === 'inbound-rtp') {
            received += s.packetsReceived || 0;
            lost += Math.max(0, s.packetsLost || 0);
            bytesIn += s.bytesReceived || 0;
        }
    });
    const sample = {at: performance.now(), received, lost, bytesIn};
    let path = null;
    let rtt = 0;
    if (pair) {
        const local = byId.get(pair.localCandidateId);
        const remote = byId.get(pair.remoteCandidateId);
        const relay = [local, remote].some((c) => c && c.candidateType === 'relay');
        if ((pair.bytesReceived || 0) > 0 || bytesIn > 0) path = relay ? 'relay' : 'p2p';
        rtt = typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : 0;
    }
    let loss = 0;
    let kbps = 0;
    if (prev) {
        const dRecv = received - prev.received;
        const dLost = lost - prev.lost;
        if (dRecv + dLost > 0) loss = (100 * Math.max(0, dLost)) / (dRecv + dLost);
        const dt = (sample.at - prev.at) / 1000;
        if (dt > 0) kbps = Math.max(0, ((bytesIn - prev.bytesIn) * 8) / 1000 / dt);
    }
    return {
        path,
        rtt_ms: Math.round(rtt),
        loss_pct: Math.round(loss * 100) / 100,
        bitrate_kbps: Math.round(kbps),
        sample,
    };
}

/* One report for the stats message out of several links' results. */
export function combineStats(results) {
    const known = results.filter((r) => r && r.path);
    if (known.length === 0) return null;
    return {
        path: known.some((r) => r.path === 'relay') ? 'relay' : 'p2p',
        rtt_ms: Math.max(...known.map((r) => r.rtt_ms)),
        loss_pct: Math.max(...known.map((r) => r.loss_pct)),
        bitrate_kbps: known.reduce((sum, r) => sum + r.bitrate_kbps, 0),
    };
}
