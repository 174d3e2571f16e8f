// The call's security code: 6 digits from the two DTLS certificate fingerprints of a connection.
// Pure functions (no DOM), so node can import them too (tests/e2e/test_safety.mjs).
//
// Both ends of a pair see the same code only when each holds the certificate the other presents:
// someone in between (the signalling server included, which carries the SDP) would have to
// show each side its own certificate, and each side would hash a different pair of
// fingerprints. The derivation is in docs/protocol.md, "The security code".

/* The sha-256 fingerprint of an SDP (its first a=fingerprint:sha-256 line), lowercased
 * colon-separated hex, or null when there is none. */
export function sdpFingerprint(sdp) {
    if (typeof sdp !== 'string') return null;
    const m = /^a=fingerprint:sha-256[ \t]+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})[ \t]*\r?$/m.exec(sdp);
    return m ? m[1].toLowerCase() : null;
}

async function sha256(text) {
    const bytes = new TextEncoder().encode(text);
    return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
}

/* The code (6 digits, a string) of two fingerprints, in either order. */
export async function securityCode(fpA, fpB) {
    const text = [fpA.toLowerCase(), fpB.toLowerCase()].sort().join('\n');
    const h = await sha256(text);
    const n = ((h[0] << 24) >>> 0) + (h[1] << 16) + (h[2] << 8) + h[3];
    return String(n % 1000000).padStart(6, '0');
}

/* "042917" -> "042 917". */
export function formatCode(code) {
    return `${code.slice(0, 3)} ${code.slice(3)}`;
}

/* The code of a connection from its local and remote SDP, or null until both carry one. */
export async function pairCode(localSdp, remoteSdp) {
    const a = sdpFingerprint(localSdp);
    const b = sdpFingerprint(remoteSdp);
    return a && b ? securityCode(a, b) : null;
}
