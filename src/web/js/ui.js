// Small DOM helpers for both pages: an element builder, visibility, aria-live announcements, and
// the language switcher.
import {Msg, text, setText, setAttr, LANGUAGES, currentLanguage, setLanguage, msg, onLanguage} from './i18n.js';

/* h('button', {class: 'btn', testid: 'x', text: msg('key'), on: {click: fn}}, child...) builds an
 * element. Text always goes in as text nodes, never as HTML; a Msg (i18n.js) as text or as an
 * attribute's value stays bound to the element and follows a change of language. */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'testid') el.dataset.testid = value;
        else if (key === 'text') setText(el, value);
        else if (value instanceof Msg) setAttr(el, key, value);
        else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
        else if (key in el && typeof value !== 'string') el[key] = value;
        else el.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) {
        if (child === null || child === undefined || child === false) continue;
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
}

export function byTestId(id, root = document) {
    return root.querySelector(`[data-testid="${id}"]`);
}

let lastId = 0;

/* A page-unique element id with this prefix, for label for= and aria-describedby. */
export function uid(prefix) {
    lastId++;
    return `${prefix}-${lastId}`;
}

export function show(el, visible = true) {
    el.hidden = !visible;
}

/* Replaces an element's children. */
export function fill(el, ...children) {
    el.replaceChildren();
    for (const child of children.flat()) if (child) el.append(child);
}

/* The words for the codes any request may fail with. */
const COMMON_ERRORS = {
    offline: 'common.offline',
    network: 'common.offline',
    timeout: 'common.noAnswer',
    unavailable: 'common.unavailable',
    rate_limited: 'common.tooFast',
    forbidden: 'common.forbidden',
    not_found: 'common.notFound',
};

/* A failed request in words (a Msg): known maps its own codes to keys, then the common ones,
 * else a generic failure. A server's English message is never shown. */
export function errorMsg(err, known = {}) {
    const code = err && err.code;
    return msg(known[code] || COMMON_ERRORS[code] || 'common.failed');
}

let lastAnnouncement = '';

/* Says m (a Msg or a string) through the page's polite live region (#announcer), once per
 * change (again, when repeat: a second knock in the same room is news too). */
export function announce(m, repeat = false) {
    const region = document.getElementById('announcer');
    const said = text(m);
    if (!region || (said === lastAnnouncement && !repeat)) return;
    lastAnnouncement = said;
    region.textContent = '';
    // A separate task makes screen readers notice a repeated region update.
    setTimeout(() => {
        region.textContent = said;
    }, 50);
}

/* The language switcher: a labelled select of every language in its own name. A choice is kept
 * on this device; onChange(code) runs after the page has switched. */
export function languagePicker(onChange = () => {}) {
    const id = uid('language');
    const select = h('select', {id, class: 'lang-select', testid: 'language-select', autocomplete: 'off'},
        LANGUAGES.map((l) => h('option', {value: l.code, lang: l.code, dir: l.dir, text: l.name})));
    select.value = currentLanguage();
    select.addEventListener('change', async () => {
        await setLanguage(select.value, {remember: true});
        announce(msg('lang.changed'));
        onChange(select.value);
    });
    onLanguage((code) => {
        select.value = code;
    });
    return h('div', {class: 'lang-picker'}, h('label', {for: id, text: msg('lang.label')}), select);
}

/* Copies text to the clipboard, falling back to a selected hidden textarea. */
export async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        const area = h('textarea', {class: 'visually-hidden', readonly: true});
        area.value = text;
        document.body.append(area);
        area.select();
        let ok = false;
        try {
            ok = document.execCommand('copy');
        } catch {
            ok = false;
        }
        area.remove();
        return ok;
    }
}
