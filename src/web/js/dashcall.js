// The dashboard's call card: a consultation's camera preview, then its call, joined by room id.
import {Emitter} from './emitter.js';
import {h, fill, show, announce, copyText} from './ui.js';
import {LocalMedia} from './media.js';
import {CallView} from './callview.js';
import {Call} from './call.js';
import {msg} from './i18n.js';

const LIVE = new Set(['connecting', 'waiting', 'call']);

/*
 * One consultation at a time. Events: 'change' (the room or the call's phase changed), 'back'
 * (the clinician left the end screen for the list).
 */
export class DashCall extends Emitter {
    constructor(root) {
        super();
        this.root = root;
        this.room = null; // the room shown, or null
        this.link = null; // its patient link, when this tab created it
        this.call = null;
        this.view = null;
        this.media = null;
    }

    /* True while a call is being joined or held (not in the preview, not ended). */
    get active() {
        return Boolean(this.call && LIVE.has(this.call.phase));
    }

    /* The room on show, unless its call has ended (the end screen only waits to be closed). */
    get showing() {
        return this.call && this.call.phase === 'ended' ? null : this.room;
    }

    /* Shows room's preview (title: its name, a Msg or text); with join, starts the call as soon
     * as the camera is up. */
    async open(room, {title = msg('dash.consultation'), link = null, join = false} = {}) {
        if (this.room === room && this.view && (!this.call || this.active)) {
            if (join) this.start(); // the preview on show: join it (a live call: nothing to do)
            return;
        }
        this.close();
        this.room = room;
        this.link = link;
        this.media = new LocalMedia();
        this.view = new CallView(this.root, {
            media: this.media,
            isHost: true,
            onJoin: () => this.start(),
            endAction: {label: msg('ended.backToList'), run: () => {
                this.close();
                this.emit('back');
            }},
        });
        this.view.setTitle(title, msg('preview.host.title'), msg('preview.host.text'), msg('preview.host.join'));
        show(this.root, true);
        this.emit('change');
        const media = this.media;
        await media.start();
        if (join && media === this.media && !this.call) this.start();
    }

    /* The room's name changed (its label). */
    retitle(title) {
        if (this.view) this.view.setTitle(title);
    }

    start() {
        if (!this.view || this.call) return;
        const call = new Call({room: this.room, media: this.media});
        this.call = call;
        this.view.attach(call);
        if (this.link) {
            const guestUrl = this.link;
            fill(this.view.b.hostExtra, h('button', {type: 'button', class: 'btn btn-secondary', text: msg('dash.copyPatientLink'), on: {click: async () => {
                const ok = await copyText(guestUrl);
                announce(msg(ok ? 'newroom.copiedAnnounce' : 'newroom.copyFailedAnnounce'));
            }}}));
        }
        call.on('phase', (phase) => {
            document.body.classList.toggle('in-call', LIVE.has(phase));
            if (phase === 'ended') this.media.stop();
            this.emit('change');
        });
        call.join();
        this.emit('change');
    }

    /* Leaves any call (asked first when one is live); false when the clinician said no. */
    leave(question) {
        if (!this.active) return true;
        if (question && !confirm(question)) return false;
        this.call.hangup();
        return true;
    }

    close() {
        document.body.classList.remove('in-call');
        if (this.call && this.call.phase !== 'ended') this.call.hangup();
        if (this.view) this.view.destroy();
        if (this.media) this.media.stop();
        this.view = null;
        this.media = null;
        this.call = null;
        this.room = null;
        this.link = null;
        show(this.root, false);
        this.emit('change');
    }
}
