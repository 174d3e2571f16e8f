// Time for people: waits as "3 minutes, 5 seconds" (Intl), and one shared one-second tick.

const subscribers = new Set();
let timer = 0;

function lang() {
    return document.documentElement.lang || 'en';
}

/* Milliseconds since the epoch of an RFC 3339 time, or NaN. */
export function parseTime(iso) {
    return typeof iso === 'string' ? Date.parse(iso) : NaN;
}

/* A duration of ms as text: hours and minutes past an hour, else minutes and seconds, or
 * seconds alone. style is Intl's: 'long' ("2 minutes, 5 seconds") or 'narrow' ("2m 5s"). */
export function durationText(ms, style = 'long') {
    const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const parts = h ? [['hour', h], ['minute', m]] : m ? [['minute', m], ['second', s]] : [['second', s]];
    const shown = parts.filter(([, v], i) => i === 0 || v > 0);
    if (typeof Intl.DurationFormat === 'function') {
        const d = {};
        for (const [unit, v] of shown) d[`${unit}s`] = v;
        // A lone zero would be left out: show "0 seconds" rather than nothing.
        const opts = {style, ...(total === 0 ? {secondsDisplay: 'always'} : {})};
        return new Intl.DurationFormat(lang(), opts).format(d);
    }
    const display = style === 'narrow' ? 'narrow' : 'long';
    const words = shown.map(([unit, v]) => new Intl.NumberFormat(lang(), {style: 'unit', unit, unitDisplay: display}).format(v));
    return style === 'narrow' ? words.join(' ') : new Intl.ListFormat(lang(), {type: 'unit', style: 'long'}).format(words);
}

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

/* A clock time (hours and minutes) for an RFC 3339 time, or ''. */
export function timeText(iso) {
    const t = parseTime(iso);
    return Number.isNaN(t) ? '' : new Date(t).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
}
