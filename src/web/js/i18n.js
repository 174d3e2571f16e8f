// Every word both pages show comes from here: the language (the choice made on this device, else
// the room's, else the browser's, else English), the catalogues in /i18n/LANG.json, ICU-style
// messages ({name}, plurals through Intl.PluralRules, select), times and durations through Intl,
// and text bound to elements, so that choosing another language redraws the page in place.

/* The languages the pages speak, with their own names (for the switcher) and direction. */
export const LANGUAGES = [
    {code: 'en', name: 'English', dir: 'ltr'},
    {code: 'cy', name: 'Cymraeg', dir: 'ltr'},
    {code: 'pl', name: 'Polski', dir: 'ltr'},
    {code: 'ro', name: 'Română', dir: 'ltr'},
    {code: 'ur', name: 'اردو', dir: 'rtl'},
    {code: 'ar', name: 'العربية', dir: 'rtl'},
];
const FALLBACK = 'en';
const CHOICE_KEY = 'vc.language'; // localStorage: the language picked on this device

const state = {
    lang: FALLBACK,
    locale: FALLBACK, // for Intl: the browser's own variant of lang ("en-GB"), else lang
    messages: {}, // the current language's catalogue
    english: {}, // the fallback for a key the current catalogue lacks
    cache: new Map(), // code -> catalogue
    parsed: new Map(), // `${code}\u0000${key}` -> parsed message
    used: new Set(), // every key looked up since the page opened (the tests read it)
    missing: new Set(), // `${code}:${key}` looked up but not in that catalogue
    listeners: new Set(),
    ready: false, // a catalogue has loaded: until then text is empty (bound text fills in later)
};
const bound = new WeakMap(); // element -> {text: Msg|null, attrs: Map(name -> Msg)}

/* A message to render later, in whatever language is current then. */
export class Msg {
    constructor(key, args) {
        this.key = key;
        this.args = args || {};
    }
}

/* msg('wait.title', {name: 'Ann'}): for h() and setText(), which keep it bound to the element. */
export function msg(key, args) {
    return new Msg(key, args);
}

/* The supported code for a BCP 47 tag ("cy-GB" -> "cy"), or null. */
export function matchLanguage(tag) {
    if (typeof tag !== 'string' || !tag) return null;
    const primary = tag.toLowerCase().split(/[-_]/)[0];
    return LANGUAGES.some((l) => l.code === primary) ? primary : null;
}

/* The language picked on this device, or null. */
export function chosenLanguage() {
    try {
        return matchLanguage(localStorage.getItem(CHOICE_KEY));
    } catch {
        return null;
    }
}

/* The language to speak: the device's choice, the room's, the browser's first we speak, else
 * English. */
export function pickLanguage({room = null, browser = navigator.languages || [navigator.language]} = {}) {
    const chosen = chosenLanguage();
    if (chosen) return chosen;
    const fromRoom = matchLanguage(room);
    if (fromRoom) return fromRoom;
    for (const tag of browser || []) {
        const m = matchLanguage(tag);
        if (m) return m;
    }
    return FALLBACK;
}

export function currentLanguage() {
    return state.lang;
}

export function languageInfo(code = state.lang) {
    return LANGUAGES.find((l) => l.code === code) || LANGUAGES[0];
}

async function fetchCatalogue(code) {
    if (state.cache.has(code)) return state.cache.get(code);
    let data = {};
    try {
        const res = await fetch(`/i18n/${code}.json`, {cache: 'no-cache', credentials: 'same-origin'});
        if (res.ok) data = await res.json();
    } catch {
        data = {};
    }
    state.cache.set(code, data);
    return data;
}

/* Switches every bound text on the page to code (a supported one, else English); with remember,
 * keeps the choice on this device. Resolves once the page shows the new language. */
export async function setLanguage(code, {remember = false} = {}) {
    const lang = matchLanguage(code) || FALLBACK;
    const [english, messages] = await Promise.all([fetchCatalogue(FALLBACK), fetchCatalogue(lang)]);
    state.english = english;
    state.messages = messages;
    state.lang = lang;
    state.ready = true;
    state.locale = (navigator.languages || []).find((tag) => matchLanguage(tag) === lang) || lang;
    if (remember) {
        try {
            localStorage.setItem(CHOICE_KEY, lang);
        } catch {
            /* remembered for this page only */
        }
    }
    const root = document.documentElement;
    root.lang = lang;
    root.dir = languageInfo(lang).dir;
    relabel(document);
    for (const fn of [...state.listeners]) {
        try {
            fn(lang);
        } catch (err) {
            console.error('language listener', err);
        }
    }
}

/* Calls fn(code) after each change of language; returns a function that stops it. */
export function onLanguage(fn) {
    state.listeners.add(fn);
    return () => state.listeners.delete(fn);
}

// ---- messages -------------------------------------------------------------------------------

/* Parses an ICU-style message into parts: strings, {arg}, {arg, plural|select, key {...}...}.
 * '#' inside a plural branch is the number. Throws on a malformed message. */
export function parseMessage(text) {
    let i = 0;
    const fail = (why) => {
        throw new SyntaxError(`${why} at ${i} in "${text}"`);
    };
    const name = () => {
        const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*/.exec(text.slice(i));
        if (!m) fail('a name expected');
        i += m[0].length;
        return m[1];
    };
    const parts = (inPlural) => {
        const out = [];
        let buf = '';
        while (i < text.length && text[i] !== '}') {
            const c = text[i];
            if (c === '{') {
                if (buf) out.push(buf);
                buf = '';
                i++;
                out.push(arg());
            } else if (c === '#' && inPlural) {
                if (buf) out.push(buf);
                buf = '';
                out.push({hash: true});
                i++;
            } else {
                buf += c;
                i++;
            }
        }
        if (buf) out.push(buf);
        return out;
    };
    const arg = () => {
        const a = {arg: name()};
        if (text[i] === '}') {
            i++;
            return a;
        }
        if (text[i] !== ',') fail('"," or "}" expected');
        i++;
        a.type = name();
        if (a.type !== 'plural' && a.type !== 'select') fail(`unknown type ${a.type}`);
        if (text[i] !== ',') fail('"," expected');
        i++;
        a.branches = {};
        for (;;) {
            const m = /^\s*(=\d+|[A-Za-z_][A-Za-z0-9_]*)\s*/.exec(text.slice(i));
            if (!m) break;
            i += m[0].length;
            if (text[i] !== '{') fail('"{" expected');
            i++;
            a.branches[m[1]] = parts(a.type === 'plural');
            if (text[i] !== '}') fail('"}" expected');
            i++;
        }
        while (/\s/.test(text[i] || '')) i++;
        if (text[i] !== '}') fail('"}" expected after the branches');
        if (!a.branches.other) fail('no "other" branch');
        i++;
        return a;
    };
    const out = parts(false);
    if (i !== text.length) fail('unbalanced "}"');
    return out;
}

function formatValue(v, lang) {
    const value = typeof v === 'function' ? v() : v;
    if (typeof value === 'number') return new Intl.NumberFormat(localeOf(lang)).format(value);
    return value === undefined || value === null ? '' : String(value);
}

/* The Intl locale for a catalogue's language: the browser's variant of the current one. */
function localeOf(lang) {
    return lang === state.lang ? state.locale : lang;
}

const rules = new Map();
function pluralRules(lang) {
    if (!rules.has(lang)) rules.set(lang, new Intl.PluralRules(lang));
    return rules.get(lang);
}

function render(parts, args, lang, count) {
    let out = '';
    for (const p of parts) {
        if (typeof p === 'string') out += p;
        else if (p.hash) out += formatValue(count, lang);
        else if (!p.type) out += formatValue(args[p.arg], lang);
        else {
            const raw = typeof args[p.arg] === 'function' ? args[p.arg]() : args[p.arg];
            let branch;
            if (p.type === 'plural') {
                const n = Number(raw) || 0;
                branch = p.branches[`=${n}`] || p.branches[pluralRules(lang).select(n)] || p.branches.other;
                out += render(branch, args, lang, n);
            } else {
                branch = p.branches[String(raw)] || p.branches.other;
                out += render(branch, args, lang, count);
            }
        }
    }
    return out;
}

function lookup(key) {
    state.used.add(key);
    if (Object.hasOwn(state.messages, key)) return [state.lang, state.messages[key]];
    if (state.lang !== FALLBACK || !Object.hasOwn(state.english, key)) {
        const miss = `${state.lang}:${key}`;
        if (!state.missing.has(miss)) console.warn(`i18n: no "${key}" in ${state.lang}`);
        state.missing.add(miss);
    }
    if (Object.hasOwn(state.english, key)) return [FALLBACK, state.english[key]];
    return [FALLBACK, key];
}

/* The text of key with args in the current language (English when its catalogue lacks it). */
export function t(key, args = {}) {
    if (!state.ready) return '';
    const [lang, text] = lookup(key);
    const id = `${lang}\u0000${key}`;
    let parsed = state.parsed.get(id);
    if (!parsed) {
        try {
            parsed = parseMessage(text);
        } catch (err) {
            console.error('i18n', err);
            parsed = [text];
        }
        state.parsed.set(id, parsed);
    }
    return render(parsed, args, lang);
}

/* A Msg or a plain string, as text now. */
export function text(m) {
    return m instanceof Msg ? t(m.key, m.args) : m === undefined || m === null ? '' : String(m);
}

// ---- elements -------------------------------------------------------------------------------

function binding(el) {
    let b = bound.get(el);
    if (!b) {
        b = {text: null, attrs: new Map()};
        bound.set(el, b);
    }
    return b;
}

/* Sets el's text to m (a Msg stays bound: it follows the language; a string does not). */
export function setText(el, m) {
    const b = binding(el);
    b.text = m instanceof Msg ? m : null;
    el.textContent = text(m);
    mark(el, b);
}

/* Sets (or with null, removes) attribute name of el to m, bound like setText. */
export function setAttr(el, name, m) {
    const b = binding(el);
    if (m === null || m === undefined) {
        b.attrs.delete(name);
        el.removeAttribute(name);
    } else {
        if (m instanceof Msg) b.attrs.set(name, m);
        else b.attrs.delete(name);
        el.setAttribute(name, text(m));
    }
    mark(el, b);
}

function mark(el, b) {
    const keys = [...(b.text ? [b.text.key] : []), ...[...b.attrs.values()].map((m) => m.key)];
    if (keys.length) el.setAttribute('data-i18n', keys.join(' '));
    else el.removeAttribute('data-i18n');
}

/* Static markup: data-i18n="key" for the text, data-i18n-attr="name=key name=key" for
 * attributes. Binds them once; relabel() keeps them in the current language. */
function bindStatic(el) {
    const attrs = el.getAttribute('data-i18n-attr');
    const key = el.getAttribute('data-i18n');
    el.removeAttribute('data-i18n-attr');
    const b = binding(el);
    if (key && !b.text && !b.attrs.size) b.text = new Msg(key);
    for (const pair of (attrs || '').split(/\s+/).filter(Boolean)) {
        const [name, k] = pair.split('=');
        if (name && k) b.attrs.set(name, new Msg(k));
    }
    return b;
}

/* Redraws every bound element under root in the current language. */
export function relabel(root = document) {
    for (const el of root.querySelectorAll('[data-i18n], [data-i18n-attr]')) {
        const b = el.hasAttribute('data-i18n-attr') || !bound.has(el) ? bindStatic(el) : bound.get(el);
        if (b.text) el.textContent = t(b.text.key, b.text.args);
        for (const [name, m] of b.attrs) el.setAttribute(name, t(m.key, m.args));
        mark(el, b);
    }
}

// ---- times, durations, numbers ----------------------------------------------------------------

/* The Intl locale for dates and sizes: the current one where the browser has its data (Welsh
 * often is not), else British English, whose 24-hour clock the UK reads. */
function intlLocale() {
    return Intl.DateTimeFormat.supportedLocalesOf([state.locale]).length ? state.locale : 'en-GB';
}

/* A clock time (hours and minutes) for an RFC 3339 time or milliseconds, or ''. */
export function formatTime(when) {
    const ms = typeof when === 'number' ? when : typeof when === 'string' ? Date.parse(when) : NaN;
    if (Number.isNaN(ms)) return '';
    return new Intl.DateTimeFormat(intlLocale(), {hour: '2-digit', minute: '2-digit'}).format(new Date(ms));
}

const UNITS = {
    long: {hour: 'time.hours', minute: 'time.minutes', second: 'time.seconds'},
    narrow: {hour: 'time.hours.short', minute: 'time.minutes.short', second: 'time.seconds.short'},
};

/* A duration of ms as words from the catalogue (plurals through Intl.PluralRules, which knows
 * every language here even where the browser has no unit names): hours and minutes past an
 * hour, else minutes and seconds, or seconds alone. style: 'long' ("2 minutes, 5 seconds") or
 * 'narrow' ("2 min 5 s"). */
export function formatDuration(ms, style = 'long') {
    const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const parts = h ? [['hour', h], ['minute', m]] : m ? [['minute', m], ['second', s]] : [['second', s]];
    const units = UNITS[style === 'narrow' ? 'narrow' : 'long'];
    const words = parts.filter(([, v], i) => i === 0 || v > 0).map(([unit, v]) => t(units[unit], {count: v}));
    if (words.length === 1) return words[0];
    return t(style === 'narrow' ? 'time.pair.short' : 'time.pair', {first: words[0], second: words[1]});
}

/* A file size: "1.5 MB", "300 kB", "12 byte" (the units' short names read in every language). */
export function formatSize(bytes) {
    const lang = intlLocale();
    if (bytes >= 1024 * 1024) return new Intl.NumberFormat(lang, {style: 'unit', unit: 'megabyte', maximumFractionDigits: 1}).format(bytes / (1024 * 1024));
    if (bytes >= 1024) return new Intl.NumberFormat(lang, {style: 'unit', unit: 'kilobyte', maximumFractionDigits: 0}).format(bytes / 1024);
    return new Intl.NumberFormat(lang, {style: 'unit', unit: 'byte'}).format(bytes);
}

/* "a, b and c" in the current language. */
export function formatList(items) {
    return new Intl.ListFormat(intlLocale(), {type: 'conjunction', style: 'long'}).format(items);
}

// ---- for the tests ------------------------------------------------------------------------------

/* Every key looked up since the page opened, and the `code:key` pairs a catalogue lacked. */
export function usedKeys() {
    return [...state.used];
}

export function missingKeys() {
    return [...state.missing];
}
