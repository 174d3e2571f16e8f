// Reads an RTCPeerConnection's stats: the media path of the selected pair, RTT, loss, bitrates
// both ways; and the low-data watch that suggests audio only. No DOM: node imports it in tests.

/* Returns {path: 'p2p'|'relay'|null, rtt_ms, loss_pct, bitrate_kbps, out_kbps, out_loss_pct,
 * sample}. path is null until a candidate pair is selected and media has arrived. prev is the
 * sample of the last call. out_loss_pct is the loss the other side reports of what we send. */
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
    let bytesOut = 0;
    let outLoss = 0;
    report.forEach((s) => {
        if (s.type === 'inbound-rtp') {
            received += s.packetsReceived || 0;
            lost += Math.max(0, s.packetsLost || 0);
            bytesIn += s.bytesReceived || 0;
        } else if (s.type === 'outbound-rtp') {
            bytesOut += s.bytesSent || 0;
        } else if (s.type === 'remote-inbound-rtp' && typeof s.fractionLost === 'number') {
            outLoss = Math.max(outLoss, s.fractionLost * 100);
        }
    });
    const sample = {at: performance.now(), received, lost, bytesIn, bytesOut};
    let path = null;
    let rtt = 0;
    let relayLocal = false;
    if (pair) {
        const local = byId.get(pair.localCandidateId);
        const remote = byId.get(pair.remoteCandidateId);
        relayLocal = Boolean(local && local.candidateType === 'relay');
        const relay = [local, remote].some((c) => c && c.candidateType === 'relay');
        if ((pair.bytesReceived || 0) > 0 || bytesIn > 0) path = relay ? 'relay' : 'p2p';
        rtt = typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : 0;
    }
    let loss = 0;
    let kbps = 0;
    let outKbps = 0;
    if (prev) {
        const dRecv = received - prev.received;
        const dLost = lost - prev.lost;
        if (dRecv + dLost > 0) loss = (100 * Math.max(0, dLost)) / (dRecv + dLost);
        const dt = (sample.at - prev.at) / 1000;
        if (dt > 0) {
            kbps = Math.max(0, ((bytesIn - prev.bytesIn) * 8) / 1000 / dt);
            outKbps = Math.max(0, ((bytesOut - (prev.bytesOut || 0)) * 8) / 1000 / dt);
        }
    }
    return {
        path,
        relay_local: relayLocal,
        rtt_ms: Math.round(rtt),
        loss_pct: Math.round(loss * 100) / 100,
        bitrate_kbps: Math.round(kbps),
        out_kbps: prev ? Math.round(outKbps) : null,
        out_loss_pct: Math.round(outLoss * 100) / 100,
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

export const LOW_KBPS = 150;
export const LOW_LOSS_PCT = 10;
export const LOW_SECONDS = 10;

/*
 * Suggests audio only when, while video is being sent, the outgoing bitrate stays under LOW_KBPS
 * or the loss the other side reports over LOW_LOSS_PCT for LOW_SECONDS in a row (on any pair).
 * sample({sendingVideo, outKbps, outLossPct}, nowMs) returns true once, when the suggestion is
 * due; it is not made again until the connection has been good, or video off, for a while.
 */
export class LowDataWatch {
    constructor({kbps = LOW_KBPS, lossPct = LOW_LOSS_PCT, seconds = LOW_SECONDS} = {}) {
        this.kbps = kbps;
        this.lossPct = lossPct;
        this.ms = seconds * 1000;
        this.badSince = null;
        this.suggested = false;
    }

    sample({sendingVideo, outKbps, outLossPct}, nowMs) {
        const known = typeof outKbps === 'number';
        const bad = sendingVideo && ((known && outKbps < this.kbps) || (outLossPct || 0) > this.lossPct);
        if (!bad) {
            if (!sendingVideo || (known && outKbps >= this.kbps * 2)) this.suggested = false;
            this.badSince = null;
            return false;
        }
        if (this.badSince === null) this.badSince = nowMs;
        if (this.suggested || nowMs - this.badSince < this.ms) return false;
        this.suggested = true;
        return true;
    }
}
