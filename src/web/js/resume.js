// A waiting patient's resume token on this device, for a few minutes: reopening the link (in this
// tab after a reload, or in a new tab from the text message) within the server's resume grace
// brings the patient back to the same place in the queue.

const PREFIX = 'vc.resume.';
const KEEP_MS = 10 * 60 * 1000; // longer than any resume grace; useless to anyone afterwards

/* The storage key for a link: a hash of its token, so the device keeps no copy of the token. */
function keyOf(token) {
    let h = 0xcbf29ce484222325n;
    for (const c of token) h = BigInt.asUintN(64, (h ^ BigInt(c.charCodeAt(0))) * 0x100000001b3n);
    return PREFIX + h.toString(16);
}

/* Drops every kept token whose time is up. */
function sweep(now) {
    try {
        for (let i = localStorage.length - 1; i >= 0; i--) {
            const k = localStorage.key(i);
            if (!k || !k.startsWith(PREFIX)) continue;
            const v = JSON.parse(localStorage.getItem(k) || 'null');
            if (!v || typeof v.until !== 'number' || v.until < now) localStorage.removeItem(k);
        }
    } catch {
        /* storage unavailable: nothing kept */
    }
}

/* {load, save, clear} for the resume token of the link with this token; storage errors (private
 * modes, quotas) only mean the place is not kept. */
export function resumeStore(token) {
    const key = keyOf(token);
    return {
        load() {
            sweep(Date.now());
            try {
                const v = JSON.parse(localStorage.getItem(key) || 'null');
                return v && typeof v.resume === 'string' ? v.resume : null;
            } catch {
                return null;
            }
        },
        save(resume) {
            try {
                localStorage.setItem(key, JSON.stringify({resume, until: Date.now() + KEEP_MS}));
            } catch {
                /* not kept */
            }
        },
        clear() {
            try {
                localStorage.removeItem(key);
            } catch {
                /* nothing kept */
            }
        },
    };
}
