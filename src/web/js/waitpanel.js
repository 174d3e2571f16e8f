// The patient's waiting screen: whether the clinician knows, how long, the place in the queue,
// the clinic's messages (as text, in a live region screen readers announce), and a plain warning
// when the network may not carry the call.
import {h, show, announce} from './ui.js';
import {everySecond, parseTime} from './clock.js';
import {msg, setText, formatDuration, formatTime} from './i18n.js';

const MESSAGES_KEPT = 5;

export class WaitPanel {
    /* support: a function returning an element with whom to ring (branding), or null. */
    constructor({support = () => null} = {}) {
        this.sinceMs = NaN;
        this.notified = false;
        this.stopTick = () => {};
        this.notice = h('p', {class: 'lead wait-notice', testid: 'waiting-notified', 'data-notified': 'false',
            text: msg('wait.telling')});
        this.time = h('p', {class: 'wait-time', testid: 'waiting-time', hidden: true});
        this.place = h('p', {class: 'wait-place', testid: 'queue-position', hidden: true});
        // Always rendered (empty takes no room), so a screen reader hears each message added.
        this.messages = h('div', {class: 'lobby-messages', testid: 'lobby-messages', role: 'log', 'aria-live': 'polite',
            'aria-relevant': 'additions', 'aria-label': msg('wait.messages')});
        this.network = h('div', {class: 'media-help network-help', testid: 'network-help', role: 'alert', hidden: true},
            h('h3', {text: msg('wait.network.title')}), h('p', {text: msg('wait.network.step')}), support());
        this.networkOk = h('p', {class: 'wait-network', testid: 'network-ok', role: 'status', hidden: true, text: msg('wait.network.ok')});
        this.el = h('div', {class: 'panel panel-waiting', testid: 'waiting'},
            h('div', {class: 'pulse', 'aria-hidden': 'true'}),
            h('h2', {text: msg('wait.title')}),
            this.messages,
            this.notice,
            this.time,
            this.place,
            this.network,
            this.networkOk,
            h('p', {class: 'muted', text: msg('wait.keepOpen')}));
    }

    /* From `waiting`: when the patient first knocked (kept across a reload within the grace). */
    setSince(iso) {
        const t = parseTime(iso);
        if (Number.isNaN(t)) return;
        this.sinceMs = t;
        this.tick();
        this.stopTick();
        this.stopTick = everySecond(() => this.tick());
    }

    tick() {
        if (Number.isNaN(this.sinceMs)) return;
        const since = this.sinceMs;
        setText(this.time, msg('wait.time', {wait: () => formatDuration(Date.now() - since)}));
        show(this.time, true);
    }

    /* From `queue`: {position, waiting, notified}. */
    setQueue({position, waiting, notified}) {
        if (notified && !this.notified) {
            this.notified = true;
            setText(this.notice, msg('wait.told'));
            this.notice.dataset.notified = 'true';
            announce(msg('wait.told.announce'));
        }
        const several = Number.isInteger(position) && Number.isInteger(waiting) && waiting > 1 && position >= 1;
        if (several) {
            setText(this.place, position === 1 ? msg('wait.next', {count: waiting}) : msg('wait.place', {position}));
            this.place.dataset.position = String(position);
        }
        show(this.place, several);
    }

    /* The pre-call check's verdict: the network carries the call (level 'good': directly too,
     * 'relay': only through the relay) or not ('blocked'); the panel's data-network keeps the level. */
    setNetwork(works, level = works ? 'good' : 'blocked') {
        const was = !this.network.hidden;
        this.el.dataset.network = level;
        show(this.network, !works);
        show(this.networkOk, works);
        if (!works && !was) announce(msg('wait.network.title'));
    }

    /* A clinician's message: shown on top, as text only. */
    addMessage(text) {
        for (const old of this.messages.children) old.classList.add('lobby-message-old');
        const at = Date.now();
        const item = h('div', {class: 'lobby-message', testid: 'lobby-message'},
            h('p', {class: 'lobby-message-from', text: msg('wait.message.from', {time: () => formatTime(at)})}),
            h('p', {class: 'lobby-message-text', text}));
        this.messages.prepend(item);
        while (this.messages.children.length > MESSAGES_KEPT) this.messages.lastChild.remove();
    }

    stop() {
        this.stopTick();
        this.stopTick = () => {};
    }
}
