// The call's chat panel: messages and files (shown as text, never HTML), the plain words that
// nothing is stored, and for the clinician a button that copies the chat for the record.
import {h, show, fill, announce, copyText, uid} from './ui.js';
import {TEXT_MAX, FILE_MAX} from './chat.js';
import {msg, t, setText, formatSize, formatTime} from './i18n.js';

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp)$/;

/*
 * chat: the Chat; nameOf(peer id) names a sender; canCopy() says whether to offer Copy (the
 * clinician); onClose() closes the panel; onUnread(n) tells the Chat button.
 */
export class ChatPanel {
    constructor(chat, {nameOf, canCopy, onClose, onUnread}) {
        this.chat = chat;
        this.nameOf = nameOf;
        this.canCopy = canCopy;
        this.onUnread = onUnread;
        this.unread = 0;
        this.visible = false;
        this.items = new Map(); // entry id -> its list item's refresh
        this.urls = [];
        const inputId = uid('chat-text');
        this.list = h('ol', {class: 'chat-list', testid: 'chat-list', role: 'log', 'aria-live': 'polite', 'aria-label': msg('chat.messages')});
        this.empty = h('p', {class: 'muted chat-empty', text: msg('chat.empty')});
        this.text = h('textarea', {id: inputId, class: 'chat-input', testid: 'chat-input', rows: '2', maxlength: String(TEXT_MAX), placeholder: msg('chat.placeholder')});
        this.fileInput = h('input', {type: 'file', class: 'visually-hidden', testid: 'chat-file', id: uid('chat-file')});
        this.error = h('p', {class: 'form-error', role: 'alert'});
        this.copy = h('button', {type: 'button', class: 'btn btn-secondary btn-small', testid: 'chat-copy', text: msg('chat.copy'), hidden: true,
            on: {click: () => this.copyAll()}});
        const send = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'chat-send', text: msg('chat.send')});
        const attach = h('label', {class: 'btn btn-quiet btn-small chat-attach', for: this.fileInput.id, text: msg('chat.attach')});
        const form = h('form', {class: 'chat-form', novalidate: true},
            h('label', {class: 'visually-hidden', for: inputId, text: msg('chat.message')}), this.text,
            h('div', {class: 'chat-buttons'}, send, attach, this.fileInput), this.error);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.sendText();
        });
        this.text.addEventListener('keydown', (ev) => {
            if (ev.key === 'Enter' && !ev.shiftKey) {
                ev.preventDefault();
                this.sendText();
            }
        });
        this.fileInput.addEventListener('change', () => this.sendFile());
        this.el = h('section', {class: 'side-panel chat-panel', testid: 'chat-panel', 'aria-label': msg('call.chat'), hidden: true},
            h('div', {class: 'side-head'}, h('h2', {text: msg('call.chat')}), this.copy,
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'chat-close', text: msg('common.close'), on: {click: onClose}})),
            h('p', {class: 'hint', testid: 'chat-privacy', text: msg('chat.privacy')}),
            this.empty, this.list, form);
        chat.on('entry', (e) => this.addEntry(e));
        chat.on('update', (e) => {
            const refresh = this.items.get(e.id);
            if (refresh) refresh();
        });
    }

    setVisible(visible) {
        this.visible = visible;
        show(this.el, visible);
        show(this.copy, Boolean(this.canCopy()));
        if (visible) {
            this.unread = 0;
            this.onUnread(0);
            this.text.focus();
        }
    }

    sendText() {
        setText(this.error, '');
        if (this.chat.open().length === 0) {
            setText(this.error, msg('chat.nobody'));
            return;
        }
        if (this.chat.sendText(this.text.value)) this.text.value = '';
    }

    async sendFile() {
        const file = this.fileInput.files && this.fileInput.files[0];
        this.fileInput.value = '';
        setText(this.error, '');
        if (!file) return;
        if (file.size > FILE_MAX) {
            setText(this.error, msg('chat.tooBig', {name: file.name, size: () => formatSize(file.size)}));
            return;
        }
        if (this.chat.open().length === 0) {
            setText(this.error, msg('chat.nobody'));
            return;
        }
        try {
            await this.chat.sendFile(file);
        } catch {
            setText(this.error, msg('chat.fileFailed'));
        }
    }

    addEntry(e) {
        const who = h('span', {class: 'chat-who', text: e.mine ? msg('chat.you') : msg('tiles.name', {name: () => this.nameOf(e.from)})});
        const when = h('time', {class: 'chat-time', text: msg('tiles.name', {name: () => formatTime(e.at)})});
        const body = h('div', {class: 'chat-body'});
        const li = h('li', {class: `chat-item${e.mine ? ' mine' : ''}`, testid: 'chat-item', 'data-kind': e.kind},
            h('p', {class: 'chat-meta'}, who, ' ', when), body);
        const refresh = () => this.renderBody(e, body, li);
        refresh();
        this.items.set(e.id, refresh);
        this.list.append(li);
        show(this.empty, false);
        li.scrollIntoView({block: 'nearest'});
        if (!e.mine) {
            announce(e.kind === 'msg' ? msg('chat.said', {name: this.nameOf(e.from), text: e.text})
                : msg('chat.sentFile', {name: this.nameOf(e.from), file: e.file.name}), true);
            if (!this.visible) this.onUnread(++this.unread);
        }
    }

    renderBody(e, body, li) {
        if (e.kind === 'msg') {
            fill(body, h('p', {class: 'chat-text', text: e.text}));
            return;
        }
        const f = e.file;
        li.dataset.state = f.state;
        const pct = Math.floor((100 * f.got) / (f.size || 1));
        const status = {
            sending: msg('chat.file.sending', {pct}),
            receiving: msg('chat.file.receiving', {pct}),
            ok: msg(e.mine ? 'chat.file.sent' : 'chat.file.arrived'),
            bad: msg(e.mine ? 'chat.file.notSent' : 'chat.file.damaged'),
        }[f.state];
        const parts = [h('p', {class: 'chat-file-name', text: msg('chat.file.name', {name: f.name, size: () => formatSize(f.size)})}),
            h('p', {class: 'chat-file-state hint', text: status})];
        if (f.state === 'ok' && f.blob && !e.mine) {
            const url = URL.createObjectURL(f.blob);
            this.urls.push(url);
            if (IMAGE_TYPES.test(f.mime)) parts.push(h('img', {class: 'chat-image', src: url, alt: msg('chat.picture', {name: f.name})}));
            parts.push(h('a', {class: 'btn btn-secondary btn-small', href: url, download: f.name, testid: 'chat-download', text: msg('chat.save'), 'data-sha256': f.sha256}));
        }
        fill(body, ...parts);
    }

    async copyAll() {
        const words = {me: t('chat.me'), file: (f) => t('chat.transcript.file', {name: f.name, size: formatSize(f.size)})};
        const ok = await copyText(this.chat.transcript(this.nameOf, formatTime, words));
        setText(this.copy, msg(ok ? 'common.copied' : 'common.copyFailed'));
        announce(msg(ok ? 'chat.copied' : 'chat.copyFailed'));
        setTimeout(() => setText(this.copy, msg('chat.copy')), 2500);
    }

    clear() {
        for (const url of this.urls) URL.revokeObjectURL(url);
        this.urls = [];
        this.items.clear();
        fill(this.list);
        show(this.empty, true);
    }
}
