// The patient's waiting screen: whether the clinician knows, how long, the place in the queue,
// and the clinic's messages (as text, in a live region screen readers announce).
import {h, show, announce} from './ui.js';
import {durationText, everySecond, parseTime, timeText} from './clock.js';

const MESSAGES_KEPT = 5;

export class WaitPanel {
    constructor() {
        this.sinceMs = NaN;
        this.notified = false;
        this.stopTick = () => {};
        this.notice = h('p', {class: 'lead wait-notice', testid: 'waiting-notified', 'data-notified': 'false',
            text: 'We are letting the clinician know you are here…'});
        this.time = h('p', {class: 'wait-time', testid: 'waiting-time', hidden: true});
        this.place = h('p', {class: 'wait-place', testid: 'queue-position', hidden: true});
        // Always rendered (empty takes no room), so a screen reader hears each message added.
        this.messages = h('div', {class: 'lobby-messages', testid: 'lobby-messages', role: 'log', 'aria-live': 'polite',
            'aria-relevant': 'additions', 'aria-label': 'Messages from the clinic'});
        this.el = h('div', {class: 'panel panel-waiting', testid: 'waiting'},
            h('div', {class: 'pulse', 'aria-hidden': 'true'}),
            h('h2', {text: 'Please wait'}),
            this.messages,
            this.notice,
            this.time,
            this.place,
            h('p', {class: 'muted', text: 'Keep this page open. You do not need to do anything.'}));
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
        this.time.textContent = `You have been waiting ${durationText(Date.now() - this.sinceMs)}.`;
        show(this.time, true);
    }

    /* From `queue`: {position, waiting, notified}. */
    setQueue({position, waiting, notified}) {
        if (notified && !this.notified) {
            this.notified = true;
            this.notice.textContent = 'The clinician has been told you are here. They will let you in as soon as they can.';
            this.notice.dataset.notified = 'true';
            announce('The clinician has been told you are here.');
        }
        const several = Number.isInteger(position) && Number.isInteger(waiting) && waiting > 1 && position >= 1;
        if (several) {
            this.place.textContent = position === 1
                ? `You are next in the queue (${waiting} people are waiting).`
                : `You are number ${position} in the queue.`;
            this.place.dataset.position = String(position);
        }
        show(this.place, several);
    }

    /* A clinician's message: shown on top, as text only. */
    addMessage(text) {
        for (const old of this.messages.children) old.classList.add('lobby-message-old');
        const when = timeText(new Date().toISOString());
        const item = h('div', {class: 'lobby-message', testid: 'lobby-message'},
            h('p', {class: 'lobby-message-from', text: `Message from the clinic${when ? `, ${when}` : ''}`}),
            h('p', {class: 'lobby-message-text', text}));
        this.messages.prepend(item);
        while (this.messages.children.length > MESSAGES_KEPT) this.messages.lastChild.remove();
    }

    stop() {
        this.stopTick();
        this.stopTick = () => {};
    }
}
