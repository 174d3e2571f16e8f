// A waiting patient's resume token in sessionStorage, keyed by the link's token: reopening the
// page within the server's resume grace brings the patient back to the same place in the queue.

const PREFIX = 'vc.resume.';

/* {load, save, clear} for the resume token of the link with this token; storage errors (private
 * modes, quotas) only mean the place is not kept. */
export function resumeStore(token) {
    const key = PREFIX + token;
    return {
        load() {
            try {
                return sessionStorage.getItem(key);
            } catch {
                return null;
            }
        },
        save(resume) {
            try {
                sessionStorage.setItem(key, resume);
            } catch {
                /* not kept */
            }
        },
        clear() {
            try {
                sessionStorage.removeItem(key);
            } catch {
                /* nothing kept */
            }
        },
    };
}
