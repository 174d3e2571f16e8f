// The call security panel: per pair, the security code both sides read out, and whether the path
// is direct or through the relay; in plain words, that media is encrypted and nothing recorded.
import {h, show, fill} from './ui.js';
import {pairCode, formatCode} from './safety.js';
import {displayName} from './mesh.js';
import {msg} from './i18n.js';

/* call: the Call (links, people, pairs, region); onClose() closes the panel. */
export class SecurityPanel {
    constructor(call, {onClose}) {
        this.call = call;
        this.visible = false;
        this.codes = new WeakMap(); // RTCPeerConnection -> code (a new connection, a new certificate)
        this.list = h('ul', {class: 'security-list', testid: 'security-list'});
        this.empty = h('p', {class: 'muted', text: msg('security.empty')});
        this.el = h('section', {class: 'side-panel security-panel', testid: 'security-panel', 'aria-label': msg('security.title'), hidden: true},
            h('div', {class: 'side-head'}, h('h2', {text: msg('security.title')}),
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'security-close', text: msg('common.close'), on: {click: onClose}})),
            h('p', {text: msg('security.encrypted')}),
            h('p', {class: 'hint', text: msg('security.readOut')}),
            this.empty, this.list);
        call.on('pairs', () => this.visible && this.refresh());
    }

    setVisible(visible) {
        this.visible = visible;
        show(this.el, visible);
        if (visible) this.refresh();
    }

    /* The clinician reads where the media goes; the patient, in plain words, that it is safe. */
    pathText(id) {
        const r = this.call.pairs.get(id);
        if (!r || !r.path) return msg('call.path.connecting');
        if (r.path === 'p2p') return msg('security.direct');
        if (this.call.role !== 'host') return msg('security.server');
        return this.call.region ? msg('security.relay.region', {region: this.call.region}) : msg('security.relay');
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
                h('p', {class: 'security-who', text: msg('security.with', {name: () => displayName(person)})}),
                h('p', {class: 'security-code', testid: 'security-code', 'data-code': code || ''},
                    h('span', {'aria-hidden': 'true', text: code ? formatCode(code) : '… …'}),
                    h('span', {class: 'visually-hidden', text: code ? msg('security.code', {digits: code.split('').join(' ')}) : msg('security.notReady')})),
                h('p', {class: 'hint security-path', text: this.pathText(id)})));
        }
        fill(this.list, ...items);
        show(this.empty, items.length === 0);
    }
}
