// Time for people: one shared one-second tick, and waits and clock times in the page's language.

const subscribers = new Set();
let timer = 0;

/* Milliseconds since the epoch of an RFC 3339 time, or NaN. */
export function parseTime(iso) {
    return typeof iso === 'string' ? Date.parse(iso) : NaN;
}

/* Durations and clock times in the page's language (i18n.js). */
export {formatDuration as durationText, formatTime as timeText} from './i18n.js';

/* Calls fn() once a second (one timer for the whole page) until the returned stop is called. */
export function everySecond(fn) {
    subscribers.add(fn);
    if (!timer) {
        timer = setInterval(() => {
            for (const f of [...subscribers]) {
                try {
                    f();
                } catch (err) {
                    console.error('tick', err);
                }
            }
        }, 1000);
    }
    return () => {
        subscribers.delete(fn);
        if (subscribers.size === 0) {
            clearInterval(timer);
            timer = 0;
        }
    };
}
