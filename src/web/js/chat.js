// Chat and files between the browsers of a call, over each pair's RTCDataChannel ("chat"): never
// through vc-signal, never stored. Every message goes to every other participant on its own
// pair. The wire format is in docs/protocol.md, "Calls of more than two". No DOM.
import {Emitter} from './emitter.js';

export const TEXT_MAX = 2000; // characters of one message
export const FILE_MAX = 10 * 1024 * 1024; // bytes of one file
export const CHUNK = 16 * 1024; // bytes of one binary message
const HIGH_WATER = 1024 * 1024; // stop sending above this bufferedAmount ...
const LOW_WATER = 256 * 1024; // ... until it falls to this
const NAME_MAX = 200;

export async function sha256Hex(buf) {
    const h = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', buf));
    return Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('');
}

/* A file announcement from the wire, checked: {id, name, size, mime, sha256}, or null. */
export function fileMeta(m) {
    if (!m || typeof m.id !== 'string' || m.id.length > 64 || typeof m.name !== 'string') return null;
    if (!Number.isInteger(m.size) || m.size < 0 || m.size > FILE_MAX) return null;
    if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) return null;
    const name = m.name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').slice(0, NAME_MAX) || 'file';
    const mime = typeof m.mime === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(m.mime) ? m.mime.slice(0, 100) : 'application/octet-stream';
    return {id: m.id, name, size: m.size, mime, sha256: m.sha256};
}

/* Resolves once channel's bufferedAmount is down to LOW_WATER (or it closed). */
function drained(channel) {
    return new Promise((resolve) => {
        const done = () => {
            channel.removeEventListener('bufferedamountlow', done);
            channel.removeEventListener('close', done);
            resolve();
        };
        channel.addEventListener('bufferedamountlow', done);
        channel.addEventListener('close', done);
    });
}

/* Sends buf on channel in CHUNK pieces, keeping its buffer under HIGH_WATER. */
export async function sendChunked(channel, buf, onProgress = () => {}) {
    channel.bufferedAmountLowThreshold = LOW_WATER;
    for (let off = 0; off < buf.byteLength; off += CHUNK) {
        if (channel.bufferedAmount > HIGH_WATER) await drained(channel);
        if (channel.readyState !== 'open') throw new Error('the connection closed');
        channel.send(buf.slice(off, off + CHUNK));
        onProgress(Math.min(buf.byteLength, off + CHUNK));
    }
}

let seq = 0;
const newId = () => `${Date.now().toString(36)}-${(++seq).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/*
 * Entries: {id, mine, from (peer id, null for ours), at (ms), kind: 'msg' | 'file', text, file:
 * {name, size, mime, sha256, got (bytes), state: 'sending' | 'receiving' | 'ok' | 'bad',
 * blob}, sentTo (peers a message of ours reached)}.
 * Events: 'entry' (entry), 'update' (entry), 'state' (peer id, {video, screen}).
 */
export class Chat extends Emitter {
    constructor() {
        super();
        this.channels = new Map(); // peer id -> RTCDataChannel
        this.incoming = new Map(); // peer id -> the file entry whose bytes arrive now
        this.queues = new Map(); // peer id -> the promise of its last file send
        this.entries = [];
        this.myState = {video: true, screen: false};
    }

    /* A pair's channel (replacing one it had). */
    attach(peer, channel) {
        channel.binaryType = 'arraybuffer';
        this.channels.set(peer, channel);
        const onOpen = () => this.sendJson(channel, {t: 'state', ...this.myState});
        channel.addEventListener('open', onOpen);
        if (channel.readyState === 'open') onOpen();
        channel.addEventListener('message', (ev) => {
            if (this.channels.get(peer) === channel) this.receive(peer, ev.data);
        });
        channel.addEventListener('close', () => {
            if (this.channels.get(peer) !== channel) return;
            this.failIncoming(peer);
        });
    }

    detach(peer) {
        this.channels.delete(peer);
        this.queues.delete(peer);
        this.failIncoming(peer);
    }

    open() {
        return [...this.channels.entries()].filter(([, ch]) => ch.readyState === 'open');
    }

    sendJson(channel, obj) {
        try {
            channel.send(JSON.stringify(obj));
            return true;
        } catch {
            return false;
        }
    }

    /* Tells every pair what this side sends (video on or off, a shared screen). */
    setState(state) {
        this.myState = {...this.myState, ...state};
        for (const [, ch] of this.open()) this.sendJson(ch, {t: 'state', ...this.myState});
    }

    add(entry) {
        this.entries.push(entry);
        this.emit('entry', entry);
        return entry;
    }

    /* Sends text to everyone; returns the entry, or null for empty text. */
    sendText(text) {
        const t = String(text).slice(0, TEXT_MAX);
        if (!t.trim()) return null;
        const msg = {t: 'msg', id: newId(), text: t, at: Date.now()};
        const sentTo = this.open().filter(([, ch]) => this.sendJson(ch, msg)).map(([id]) => id);
        return this.add({id: msg.id, mine: true, from: null, at: msg.at, kind: 'msg', text: t, sentTo});
    }

    /* Sends a File (or Blob with a name) to everyone. Throws RangeError past FILE_MAX. */
    async sendFile(file) {
        if (file.size > FILE_MAX) throw new RangeError('too large');
        const buf = await file.arrayBuffer();
        const meta = {t: 'file', id: newId(), name: file.name || 'file', size: buf.byteLength, mime: file.type || 'application/octet-stream', sha256: await sha256Hex(buf)};
        const targets = this.open();
        const entry = this.add({id: meta.id, mine: true, from: null, at: Date.now(), kind: 'file', sentTo: targets.map(([id]) => id),
            file: {name: meta.name, size: meta.size, mime: meta.mime, sha256: meta.sha256, got: 0, state: 'sending', blob: new Blob([buf], {type: meta.mime})}});
        const progress = new Map(targets.map(([id]) => [id, 0]));
        const sends = targets.map(([id, ch]) => this.enqueue(id, async () => {
            if (!this.sendJson(ch, meta)) throw new Error('closed');
            await sendChunked(ch, buf, (n) => {
                progress.set(id, n);
                entry.file.got = Math.min(...progress.values());
                this.emit('update', entry);
            });
        }));
        const results = await Promise.allSettled(sends);
        entry.file.state = results.every((r) => r.status === 'fulfilled') ? 'ok' : 'bad';
        entry.file.got = meta.size;
        this.emit('update', entry);
        return entry;
    }

    /* Files to one peer go one after another: its bytes follow its announcement. */
    enqueue(peer, fn) {
        const next = (this.queues.get(peer) || Promise.resolve()).catch(() => {}).then(fn);
        this.queues.set(peer, next);
        return next;
    }

    receive(peer, data) {
        if (typeof data !== 'string') return this.receiveBytes(peer, data);
        let m;
        try {
            m = JSON.parse(data);
        } catch {
            return undefined;
        }
        if (!m || typeof m !== 'object') return undefined;
        if (m.t === 'state') return this.emit('state', peer, {video: m.video !== false, screen: m.screen === true});
        if (m.t === 'msg' && typeof m.text === 'string' && m.text.length <= TEXT_MAX) {
            return this.add({id: String(m.id).slice(0, 64), mine: false, from: peer, at: Date.now(), kind: 'msg', text: m.text});
        }
        if (m.t !== 'file') return undefined;
        const meta = fileMeta(m);
        this.failIncoming(peer); // a new announcement ends any file cut short
        if (!meta) return undefined;
        const entry = this.add({id: meta.id, mine: false, from: peer, at: Date.now(), kind: 'file',
            file: {...meta, got: 0, state: 'receiving', blob: null, parts: []}});
        this.incoming.set(peer, entry);
        if (meta.size === 0) this.finish(peer, entry);
        return undefined;
    }

    receiveBytes(peer, data) {
        const entry = this.incoming.get(peer);
        if (!entry || !(data instanceof ArrayBuffer)) return;
        const f = entry.file;
        if (f.got + data.byteLength > f.size) {
            this.failIncoming(peer);
            return;
        }
        f.parts.push(data);
        f.got += data.byteLength;
        if (f.got === f.size) this.finish(peer, entry);
        else this.emit('update', entry);
    }

    /* The last byte arrived: its hash decides whether the file is offered. */
    async finish(peer, entry) {
        this.incoming.delete(peer);
        const f = entry.file;
        const blob = new Blob(f.parts, {type: f.mime});
        f.parts = null;
        const ok = (await sha256Hex(await blob.arrayBuffer())) === f.sha256;
        f.state = ok ? 'ok' : 'bad';
        f.blob = ok ? blob : null;
        this.emit('update', entry);
    }

    failIncoming(peer) {
        const entry = this.incoming.get(peer);
        if (!entry) return;
        this.incoming.delete(peer);
        entry.file.state = 'bad';
        entry.file.parts = null;
        this.emit('update', entry);
    }

    /* The chat as plain text, for the clinician to paste into the record: "[10:32] Name: text".
     * words: {me (the clinician's own name for the record), file(file): a sent file's line}. */
    transcript(nameOf, timeOf, words) {
        return this.entries.map((e) => {
            const who = e.mine ? words.me : nameOf(e.from);
            const what = e.kind === 'msg' ? e.text : words.file(e.file);
            return `[${timeOf(e.at)}] ${who}: ${what}`;
        }).join('\n');
    }

    clear() {
        this.entries = [];
        this.incoming.clear();
    }
}
