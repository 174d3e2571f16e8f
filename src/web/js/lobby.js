// The clinician's lobby list in the call: one card per waiting patient with browser, pre-check,
// admit and deny (the browser and pre-check lines serve the dashboard's waiting list too).
import {h, announce} from './ui.js';

const BROWSERS = {chrome: 'Chrome', firefox: 'Firefox', safari: 'Safari', edge: 'Edge', samsung: 'Samsung Internet', opera: 'Opera'};
const OSES = {android: 'Android', ios: 'iPhone/iPad', windows: 'Windows', macos: 'macOS', linux: 'Linux', chromeos: 'ChromeOS'};

export function browserText(knock) {
    const b = BROWSERS[knock.browser] || (knock.browser && knock.browser !== 'unknown' ? knock.browser : 'Unknown browser');
    const major = String(knock.browser_version || '').split('.')[0];
    const os = OSES[knock.os] || (knock.os && knock.os !== 'unknown' ? knock.os : 'unknown system');
    return `${b}${major && major !== '0' ? ` ${major}` : ''} on ${os}`;
}

function check(label, ok) {
    return h('li', {class: ok ? 'ok' : 'bad'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: ok ? '✓' : '✗'}), `${label}: ${ok ? 'working' : 'not working'}`);
}

export function precheckList(pc) {
    if (!pc) return h('p', {class: 'muted', text: 'No pre-call check was sent.'});
    const anyTurn = pc.turn_udp || pc.turn_tcp || pc.turn_tls;
    const relay = anyTurn
        ? h('li', {class: 'ok'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '✓'}),
            `Relay reachable over ${['udp', 'tcp', 'tls'].filter((k) => pc[`turn_${k}`]).map((k) => k.toUpperCase()).join(', ')}`)
        : h('li', {class: 'muted'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '…'}), 'Network: being checked');
    return h('ul', {class: 'checks compact'}, check('Camera', pc.camera), check('Microphone', pc.microphone), relay);
}

/* "Mrs K is waiting", "A guest is waiting" (came with an invite), or "A patient is waiting". */
export function knockTitle(knock) {
    if (knock.name) return `${knock.name} is waiting${knock.invited ? ' (invited)' : ''}`;
    return knock.invited ? 'A guest is waiting' : 'A patient is waiting';
}

/* Renders knocks into listEl; onAdmit/onDeny get the peer id. */
export class Lobby {
    constructor(listEl, {onAdmit, onDeny, onChange}) {
        this.listEl = listEl;
        this.onAdmit = onAdmit;
        this.onDeny = onDeny;
        this.onChange = onChange || (() => {});
        this.cards = new Map();
    }

    add(knock) {
        const update = this.cards.has(knock.peer); // a fresher pre-call check for the same patient
        this.remove(knock.peer, true);
        const card = h('li', {class: 'knock'},
            h('p', {class: 'knock-title'}, h('strong', {text: knockTitle(knock)})),
            h('p', {class: 'knock-browser', text: browserText(knock)}),
            precheckList(knock.precheck),
            h('div', {class: 'knock-actions'},
                h('button', {type: 'button', class: 'btn btn-primary', testid: 'admit-button', text: 'Let in', on: {click: () => this.onAdmit(knock.peer)}}),
                h('button', {type: 'button', class: 'btn btn-quiet', testid: 'deny-button', text: 'Decline', on: {click: () => this.onDeny(knock.peer)}})));
        this.cards.set(knock.peer, card);
        this.listEl.append(card);
        if (!update) announce(`${knockTitle(knock)} to join.`);
        this.onChange(this.cards.size);
    }

    remove(peer, quiet = false) {
        const card = this.cards.get(peer);
        if (!card) return;
        card.remove();
        this.cards.delete(peer);
        if (!quiet) this.onChange(this.cards.size);
    }

    clear() {
        for (const peer of [...this.cards.keys()]) this.remove(peer, true);
        this.onChange(0);
    }
}
