// Small DOM helpers for both pages: an element builder, visibility, and aria-live announcements.

/* h('button', {class: 'btn', testid: 'x', on: {click: fn}}, 'text', child...) builds an element.
 * Text always goes in as text nodes, never as HTML. */
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'testid') el.dataset.testid = value;
        else if (key === 'text') el.textContent = value;
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

let lastAnnouncement = '';

/* Says text through the page's polite live region (#announcer), once per change (again, when
 * repeat: a second knock in the same room is news too). */
export function announce(text, repeat = false) {
    const region = document.getElementById('announcer');
    if (!region || (text === lastAnnouncement && !repeat)) return;
    lastAnnouncement = text;
    region.textContent = '';
    // A separate task makes screen readers notice a repeated region update.
    setTimeout(() => {
        region.textContent = text;
    }, 50);
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
