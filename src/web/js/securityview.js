// The call security panel: per pair, the security code both sides read out, and whether the path
// is direct or through the relay; in plain words, that media is encrypted and nothing recorded.
import {h, show, fill} from './ui.js';
import {pairCode, formatCode} from './safety.js';
import {displayName} from './mesh.js';

/* call: the Call (links, people, pairs, region); onClose() closes the panel. */
export class SecurityPanel {
    constructor(call, {onClose}) {
        this.call = call;
        this.visible = false;
        this.codes = new WeakMap(); // RTCPeerConnection -> code (a new connection, a new certificate)
        this.list = h('ul', {class: 'security-list', testid: 'security-list'});
        this.empty = h('p', {class: 'muted', text: 'The code appears once someone else is connected.'});
        this.el = h('section', {class: 'side-panel security-panel', testid: 'security-panel', 'aria-label': 'Call security', hidden: true},
            h('div', {class: 'side-head'}, h('h2', {text: 'Call security'}),
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'security-close', text: 'Close', on: {click: onClose}})),
            h('p', {text: 'Sound, video, messages and files are encrypted from your device to theirs. Nothing is recorded.'}),
            h('p', {class: 'hint', text: 'Read your code out loud. If the other person sees the same numbers, nobody in between, not even our server, can see or hear the call.'}),
            this.empty, this.list);
        call.on('pairs', () => this.visible && this.refresh());
    }

    setVisible(visible) {
        this.visible = visible;
        show(this.el, visible);
        if (visible) this.refresh();
    }

    pathText(id) {
        const r = this.call.pairs.get(id);
        if (!r || !r.path) return 'Connecting…';
        if (r.path === 'p2p') return 'Direct connection between your devices.';
        const region = this.call.region ? ` in ${this.call.region}` : '';
        return `Through our secure relay${region}: it passes the encrypted media on and cannot read it.`;
    }

    /* The codes of every pair (computed once each side's SDP is known). */
    async refresh() {
        const items = [];
        for (const [id, link] of this.call.links) {
            const pc = link.pc;
            if (!this.codes.has(pc)) {
                const {local, remote} = link.descriptions();
                const code = await pairCode(local, remote);
                if (code) this.codes.set(pc, code);
            }
            const person = this.call.mesh.people.get(id);
            const code = this.codes.get(pc);
            items.push(h('li', {class: 'security-item', testid: 'security-item', 'data-peer': id},
                h('p', {class: 'security-who', text: `With ${displayName(person)}`}),
                h('p', {class: 'security-code', testid: 'security-code', 'data-code': code || '', 'aria-label': code ? `Security code ${code.split('').join(' ')}` : 'Security code not ready yet',
                    text: code ? formatCode(code) : '… …'}),
                h('p', {class: 'hint security-path', text: this.pathText(id)})));
        }
        fill(this.list, ...items);
        show(this.empty, items.length === 0);
    }
}
