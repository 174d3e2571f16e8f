// A short message to waiting patients from the dashboard: free text with a counter, ready-made
// messages, and the server's refusals shown next to the box.
import {h, show, announce, uid, errorMsg} from './ui.js';
import {msg, setText, formatTime} from './i18n.js';

export const MESSAGE_MAX = 280; // characters (code points), as the server counts them

const ERRORS = {
    too_large: 'compose.error.tooLong',
    unknown_peer: 'list.gone',
    rate_limited: 'compose.error.rate',
    bad_request: 'compose.error.characters',
};

export function chars(text) {
    return [...text].length;
}

/*
 * A collapsible box (details) holding the form. send(text) resolves null when the message went,
 * else {code, message}. title: the summary's text (a Msg); label: the text box's label (a Msg).
 */
export class Composer {
    constructor({title, label, canned, send}) {
        this.send = send;
        const inputId = uid('msg');
        const counterId = uid('msg-count');
        this.input = h('textarea', {id: inputId, class: 'message-input', testid: 'message-input', rows: 2,
            'aria-describedby': counterId, autocomplete: 'off'});
        this.counter = h('p', {id: counterId, class: 'counter hint', testid: 'message-counter'});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'message-error'});
        this.sent = h('p', {class: 'hint message-sent', role: 'status', testid: 'message-sent'});
        this.button = h('button', {type: 'submit', class: 'btn btn-primary', testid: 'message-send', text: msg('chat.send')});
        this.canned = h('div', {class: 'canned', role: 'group', 'aria-label': msg('compose.canned'), hidden: true});
        this.setCanned(canned);
        this.input.addEventListener('input', () => this.count());
        const form = h('form', {class: 'composer-form', novalidate: true},
            h('label', {for: inputId, text: label}),
            this.canned, this.input, this.counter,
            h('div', {class: 'composer-actions'}, this.button),
            this.error, this.sent);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.submit();
        });
        this.el = h('details', {class: 'composer', testid: 'message-box'},
            h('summary', {class: 'btn btn-quiet btn-small', testid: 'message-toggle', text: title}), form);
        this.count();
    }

    /* Ready-made messages: a click puts one in the box, to send or change. */
    setCanned(list) {
        const texts = Array.isArray(list) ? list.filter((t) => typeof t === 'string' && t) : [];
        this.canned.replaceChildren(...texts.map((t) => h('button', {type: 'button', class: 'btn btn-secondary btn-small canned-message',
            testid: 'canned-message', text: t, on: {click: () => {
                this.input.value = t;
                this.count();
                this.input.focus();
            }}})));
        show(this.canned, texts.length > 0);
    }

    count() {
        const n = chars(this.input.value);
        const over = n > MESSAGE_MAX;
        setText(this.counter, over ? msg('compose.over', {n, max: MESSAGE_MAX, extra: n - MESSAGE_MAX}) : msg('compose.count', {n, max: MESSAGE_MAX}));
        this.counter.classList.toggle('over', over);
        this.input.setAttribute('aria-invalid', String(over));
    }

    async submit() {
        const text = this.input.value.trim();
        setText(this.error, '');
        setText(this.sent, '');
        if (!text) {
            setText(this.error, msg('compose.empty'));
            this.input.focus();
            return;
        }
        this.button.disabled = true;
        const err = await this.send(text);
        this.button.disabled = false;
        if (err) {
            setText(this.error, errorMsg(err, ERRORS));
            this.error.dataset.code = err.code;
            return;
        }
        this.input.value = '';
        this.count();
        const at = Date.now();
        setText(this.sent, msg('compose.sent', {time: () => formatTime(at)}));
        announce(msg('compose.sentAnnounce'));
    }
}
