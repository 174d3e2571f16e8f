// The call's chat panel: messages and files (shown as text, never HTML), the plain words that
// nothing is stored, and for the clinician a button that copies the chat for the record.
import {h, show, fill, announce, copyText, uid} from './ui.js';
import {TEXT_MAX, FILE_MAX} from './chat.js';

const IMAGE_TYPES = /^image\/(png|jpeg|gif|webp)$/;

export function sizeText(bytes) {
    if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
    if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${bytes} bytes`;
}

export function clock(ms) {
    const d = new Date(ms);
    return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

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
        this.list = h('ol', {class: 'chat-list', testid: 'chat-list', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages'});
        this.empty = h('p', {class: 'muted chat-empty', text: 'No messages yet.'});
        this.text = h('textarea', {id: inputId, class: 'chat-input', testid: 'chat-input', rows: '2', maxlength: String(TEXT_MAX), placeholder: 'Write a message'});
        this.fileInput = h('input', {type: 'file', class: 'visually-hidden', testid: 'chat-file', id: uid('chat-file')});
        this.error = h('p', {class: 'form-error', role: 'alert'});
        this.copy = h('button', {type: 'button', class: 'btn btn-secondary btn-small', testid: 'chat-copy', text: 'Copy chat', hidden: true,
            on: {click: () => this.copyAll()}});
        const send = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'chat-send', text: 'Send'});
        const attach = h('label', {class: 'btn btn-quiet btn-small chat-attach', for: this.fileInput.id, text: 'Send a file'});
        const form = h('form', {class: 'chat-form', novalidate: true},
            h('label', {class: 'visually-hidden', for: inputId, text: 'Message'}), this.text,
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
        this.el = h('section', {class: 'side-panel chat-panel', testid: 'chat-panel', 'aria-label': 'Chat', hidden: true},
            h('div', {class: 'side-head'}, h('h2', {text: 'Chat'}), this.copy,
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'chat-close', text: 'Close', on: {click: onClose}})),
            h('p', {class: 'hint', testid: 'chat-privacy',
                text: 'Messages and files go straight between the devices in this call, encrypted. Nothing is stored, not even by us: they are gone when you leave. Files up to 10 MB.'}),
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
        this.error.textContent = '';
        if (this.chat.open().length === 0) {
            this.error.textContent = 'Nobody else is connected yet.';
            return;
        }
        if (this.chat.sendText(this.text.value)) this.text.value = '';
    }

    async sendFile() {
        const file = this.fileInput.files && this.fileInput.files[0];
        this.fileInput.value = '';
        this.error.textContent = '';
        if (!file) return;
        if (file.size > FILE_MAX) {
            this.error.textContent = `"${file.name}" is ${sizeText(file.size)}: files can be at most 10 MB.`;
            return;
        }
        if (this.chat.open().length === 0) {
            this.error.textContent = 'Nobody else is connected yet.';
            return;
        }
        try {
            await this.chat.sendFile(file);
        } catch {
            this.error.textContent = 'The file could not be sent.';
        }
    }

    addEntry(e) {
        const who = h('span', {class: 'chat-who', text: e.mine ? 'You' : this.nameOf(e.from)});
        const when = h('time', {class: 'chat-time', text: clock(e.at)});
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
            announce(`${this.nameOf(e.from)}: ${e.kind === 'msg' ? e.text : `sent a file, ${e.file.name}`}`, true);
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
        const status = {
            sending: `sending… ${Math.floor((100 * f.got) / (f.size || 1))}%`,
            receiving: `arriving… ${Math.floor((100 * f.got) / (f.size || 1))}%`,
            ok: e.mine ? 'sent' : 'arrived complete and checked',
            bad: e.mine ? 'could not reach everyone' : 'arrived damaged or incomplete, so it is not shown',
        }[f.state];
        const parts = [h('p', {class: 'chat-file-name', text: `${f.name} (${sizeText(f.size)})`}), h('p', {class: 'chat-file-state hint', text: status})];
        if (f.state === 'ok' && f.blob && !e.mine) {
            const url = URL.createObjectURL(f.blob);
            this.urls.push(url);
            if (IMAGE_TYPES.test(f.mime)) parts.push(h('img', {class: 'chat-image', src: url, alt: `Picture: ${f.name}`}));
            parts.push(h('a', {class: 'btn btn-secondary btn-small', href: url, download: f.name, testid: 'chat-download', text: 'Save file', 'data-sha256': f.sha256}));
        }
        fill(body, ...parts);
    }

    async copyAll() {
        const ok = await copyText(this.chat.transcript(this.nameOf, clock));
        this.copy.textContent = ok ? 'Copied' : 'Copy failed';
        announce(ok ? 'Chat copied. You can paste it into the record.' : 'Could not copy the chat.');
        setTimeout(() => {
            this.copy.textContent = 'Copy chat';
        }, 2500);
    }

    clear() {
        for (const url of this.urls) URL.revokeObjectURL(url);
        this.urls = [];
        this.items.clear();
        fill(this.list);
        show(this.empty, true);
    }
}
