// The clinician's lobby list in the call: one card per waiting patient with browser, pre-check,
// admit and deny (the browser and pre-check lines serve the dashboard's waiting list too).
import {h, announce} from './ui.js';
import {msg, t, formatList} from './i18n.js';

const BROWSERS = {chrome: 'Chrome', firefox: 'Firefox', safari: 'Safari', edge: 'Edge', samsung: 'Samsung Internet', opera: 'Opera'};
const OSES = {android: 'Android', ios: 'iOS', windows: 'Windows', macos: 'macOS', linux: 'Linux', chromeos: 'ChromeOS'};

/* "Chrome 131 on Android": the names are the products' own; the rest is the page's language. */
export function browserText(knock) {
    const known = (v) => v && v !== 'unknown' && v !== 'other';
    const major = String(knock.browser_version || '').split('.')[0];
    const name = BROWSERS[knock.browser] || (known(knock.browser) ? knock.browser : null);
    const version = major && major !== '0' ? major : '';
    return msg('lobby.browser', {
        browser: () => (name ? `${name}${version ? ` ${version}` : ''}` : t('lobby.browser.unknown')),
        os: () => OSES[knock.os] || (known(knock.os) ? knock.os : t('lobby.os.unknown')),
    });
}

// Which way the patient's call will go, from their pre-call check: the key of its words.
const PATH_TEXT = {
    checking: 'lobby.check.network',
    udp: 'lobby.path.udp',
    tcp: 'lobby.path.tcp',
    tls: 'lobby.path.tls',
    none: 'lobby.path.none',
};

/* The path the patient's call will take ('checking', 'udp', 'tcp', 'tls' or 'none'), from the
 * relay checks. */
export function pathFromPrecheck(pc) {
    const checked = pc.turn_checked || pc.turn_udp || pc.turn_tcp || pc.turn_tls;
    return !checked ? 'checking' : pc.turn_udp ? 'udp' : pc.turn_tcp ? 'tcp' : pc.turn_tls ? 'tls' : 'none';
}

function check(ok, good, bad) {
    return h('li', {class: ok ? 'ok' : 'bad'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: ok ? '✓' : '✗'}),
        h('span', {text: msg(ok ? good : bad)}));
}

/* The patient's pre-call check for the clinician: camera, microphone, and which ways the relay
 * answered (the technical detail belongs here, not on the patient's page). */
export function precheckList(pc) {
    if (!pc) return h('p', {class: 'muted', text: msg('lobby.check.none')});
    const ways = ['udp', 'tcp', 'tls'].filter((k) => pc[`turn_${k}`]).map((k) => k.toUpperCase());
    const relay = ways.length
        ? h('li', {class: 'ok'}, h('span', {class: 'mark', 'aria-hidden': 'true', text: '✓'}),
            h('span', {text: msg('lobby.check.relay', {ways: () => formatList(ways)})}))
        : null;
    const path = pathFromPrecheck(pc);
    const mark = path === 'checking' ? '…' : path === 'none' ? '✗' : '→';
    const way = h('li', {class: path === 'checking' ? 'muted' : path === 'none' ? 'bad' : 'ok', testid: 'knock-path', 'data-path': path},
        h('span', {class: 'mark', 'aria-hidden': 'true', text: mark}), h('span', {text: msg(PATH_TEXT[path])}));
    return h('ul', {class: 'checks compact'},
        check(pc.camera, 'lobby.check.camera.ok', 'lobby.check.camera.bad'),
        check(pc.microphone, 'lobby.check.mic.ok', 'lobby.check.mic.bad'), relay, way);
}

/* "Mrs K is waiting", "A guest is waiting" (came with an invite), or "A patient is waiting". */
export function knockTitle(knock) {
    if (knock.name) return msg(knock.invited ? 'lobby.waiting.namedInvited' : 'lobby.waiting.named', {name: knock.name});
    return msg(knock.invited ? 'lobby.waiting.guest' : 'lobby.waiting.patient');
}

function knockAnnouncement(knock) {
    if (knock.name) return msg('lobby.announce.named', {name: knock.name});
    return msg(knock.invited ? 'lobby.announce.guest' : 'lobby.announce.patient');
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
                h('button', {type: 'button', class: 'btn btn-primary', testid: 'admit-button', text: msg('lobby.admit'), on: {click: () => this.onAdmit(knock.peer)}}),
                h('button', {type: 'button', class: 'btn btn-quiet', testid: 'deny-button', text: msg('lobby.deny'), on: {click: () => this.onDeny(knock.peer)}})));
        this.cards.set(knock.peer, card);
        this.listEl.append(card);
        if (!update) announce(knockAnnouncement(knock));
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
