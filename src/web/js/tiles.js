// The call's grid: one tile per other participant (video, name tag, sound-only and reconnecting
// notes, the host's Remove), the self view's tag, and a text alternative of who is shown.
import {h, show, fill, announce} from './ui.js';
import {displayName, roleLabel} from './mesh.js';
import {msg, t, setText, setAttr} from './i18n.js';

function initials(person) {
    const words = displayName(person).split(/\s+/).filter((w) => /^\p{L}/u.test(w));
    return (words.slice(0, 2).map((w) => w[0]).join('') || '?').toUpperCase();
}

/* "Mrs K, patient, sound only": who a tile shows, in words (its text alternative). */
function describe(person) {
    const name = displayName(person);
    const role = person.name ? roleLabel(person) : '';
    const state = person.away || person.link === 'reconnecting' ? 'away' : person.screen ? 'screen' : person.video === false ? 'sound' : 'video';
    return t(role ? 'tiles.describe.role' : 'tiles.describe', {name, role, state});
}

/*
 * els: {remotes, empty, selfBox, people} (the grid, its empty note, the self view, the text
 * alternative). onRemove(id) is the host's confirmed Remove; onRetry(id) the "Try again" of a
 * lost connection.
 */
export class TileGrid {
    constructor(els, {onRemove, onRetry}) {
        this.els = els;
        this.onRemove = onRemove;
        this.onRetry = onRetry;
        this.tiles = new Map(); // id -> {tile, video, label, ...}
        this.people = new Map(); // id -> person
        this.isHost = false;
        this.self = {name: '', video: true, screen: false};
        this.selfTag = h('p', {class: 'tile-label self-label', testid: 'self-name'});
        els.selfBox.append(this.selfTag);
        this.emptyText = '';
        this.update();
    }

    get size() {
        return this.tiles.size;
    }

    setHost(isHost) {
        this.isHost = isHost;
        for (const t of this.tiles.values()) show(t.actions, isHost);
    }

    setEmptyText(text) {
        this.emptyText = text;
        this.update();
    }

    /* A remote participant's tile, bound to its link's stream. */
    add(link, person) {
        this.remove(link.id, true);
        const video = h('video', {class: 'remote-video', testid: 'remote-video', autoplay: true, playsinline: true, 'data-peer': link.id});
        const novideo = h('div', {class: 'tile-novideo', 'aria-hidden': 'true', hidden: true},
            h('span', {class: 'avatar'}), h('span', {class: 'novideo-text', text: msg('tiles.soundOnly')}));
        const name = h('span', {class: 'tag-name'});
        const role = h('span', {class: 'tag-role'});
        const badge = h('span', {class: 'tag-badge', hidden: true});
        const actions = this.removeControls(link.id);
        const label = h('div', {class: 'tile-label', testid: 'tile-name'}, name, role, badge, actions.el);
        const away = h('p', {class: 'tile-away', testid: 'tile-reconnecting', hidden: true, text: msg('tiles.away')});
        const retry = h('button', {type: 'button', class: 'btn btn-primary', testid: 'retry-button', text: msg('media.tryAgain'),
            on: {click: () => this.onRetry(link.id)}});
        const lost = h('div', {class: 'tile-lost', testid: 'connection-lost', role: 'alert', hidden: true},
            h('p', {class: 'tile-lost-title', text: msg('tiles.lost.title')}), h('p', {text: msg('tiles.lost.help')}), retry);
        const sound = h('button', {type: 'button', class: 'btn btn-secondary tile-sound', hidden: true, text: msg('tiles.sound')});
        const tile = h('div', {class: 'tile', testid: 'tile', 'data-peer': link.id, 'data-link': link.health, role: 'group'},
            video, novideo, away, lost, sound, label);
        const t = {tile, video, novideo, name, role, badge, away, lost, link: link.health, actions: actions.el, reset: actions.reset};
        show(t.actions, this.isHost);
        sound.addEventListener('click', () => {
            video.muted = false;
            video.play().catch(() => {});
            show(sound, false);
        });
        const play = () => video.play().catch((err) => {
            if (err.name !== 'NotAllowedError') return;
            // Autoplay with sound was refused: play muted and offer a button for the sound.
            video.muted = true;
            video.play().catch(() => {});
            show(sound, true);
        });
        video.srcObject = link.remoteStream;
        // A new remote track (not a renegotiated one): bind the stream again so the element
        // switches to it instead of freezing on the old track's last frame.
        link.on('track', () => {
            video.srcObject = null;
            video.srcObject = link.remoteStream;
            play();
        });
        video.addEventListener('loadedmetadata', () => video.paused && play());
        play();
        link.on('health', (state) => this.linkHealth(link.id, state));
        this.tiles.set(link.id, t);
        this.els.remotes.append(tile);
        this.person(person);
        announce(msg('tiles.joined', {who: () => describe(person)}));
    }

    /* The host's Remove, confirmed by a second button. */
    removeControls(id) {
        const ask = h('button', {type: 'button', class: 'btn btn-small tile-remove', testid: 'remove-button', text: msg('tiles.remove')});
        const yes = h('button', {type: 'button', class: 'btn btn-danger btn-small', testid: 'remove-confirm', text: msg('tiles.removeYes')});
        const no = h('button', {type: 'button', class: 'btn btn-quiet btn-small tile-cancel', text: msg('common.cancel')});
        const confirm = h('div', {class: 'tile-confirm', hidden: true}, yes, no);
        const reset = () => {
            show(confirm, false);
            show(ask, true);
        };
        ask.addEventListener('click', () => {
            show(ask, false);
            show(confirm, true);
            yes.focus();
        });
        no.addEventListener('click', () => {
            reset();
            ask.focus();
        });
        yes.addEventListener('click', () => {
            reset();
            this.onRemove(id);
        });
        return {el: h('div', {class: 'tile-actions'}, ask, confirm), reset, ask};
    }

    /* A person's name, role and what they send changed. */
    person(person) {
        const t = this.tiles.get(person.id);
        const p = t ? {...person, link: t.link} : person;
        this.people.set(p.id, p);
        if (t) {
            setText(t.name, msg('tiles.name', {name: () => displayName(p)}));
            setText(t.role, p.name ? msg('tiles.name', {name: () => roleLabel(p)}) : '');
            const noVideo = p.video === false && !p.screen;
            setText(t.badge, p.screen ? msg('tiles.badge.screen') : noVideo ? msg('tiles.badge.sound') : '');
            show(t.badge, p.screen || noVideo);
            show(t.novideo, noVideo);
            t.novideo.firstChild.textContent = initials(p);
            t.tile.dataset.video = String(!noVideo);
            setAttr(t.tile, 'aria-label', msg('tiles.name', {name: () => describe(p)}));
            t.tile.dataset.link = t.link;
            show(t.away, Boolean(p.away) || t.link === 'reconnecting');
            // Lost: no frozen picture, but what happened and what to do.
            show(t.lost, t.link === 'lost' && !p.away);
            t.tile.classList.toggle('tile-down', t.link === 'lost' || t.link === 'reconnecting');
            setAttr(t.actions.querySelector('.tile-remove'), 'aria-label', msg('tiles.removeWho', {name: () => displayName(p)}));
        }
        this.update();
    }

    /* A link's health changed ('new' | 'ok' | 'reconnecting' | 'lost', health.js). */
    linkHealth(id, state) {
        const t = this.tiles.get(id);
        const p = this.people.get(id);
        if (!t || !p || t.link === state) return;
        const was = t.link;
        t.link = state;
        this.person(p);
        if (state === 'lost') announce(msg('tiles.lost.announce', {name: () => displayName(p)}));
        else if (state === 'ok' && (was === 'reconnecting' || was === 'lost')) announce(msg('tiles.back', {name: () => displayName(p)}));
    }

    setAway(id, away) {
        const p = this.people.get(id);
        if (p) this.person({...p, away});
    }

    remove(id, quiet = false) {
        const t = this.tiles.get(id);
        const p = this.people.get(id);
        if (t) t.tile.remove();
        this.tiles.delete(id);
        this.people.delete(id);
        this.update();
        if (t && !quiet && p) announce(msg('tiles.left', {name: displayName(p)}));
    }

    /* This side's own tag: "You", and what it sends. */
    setSelf(state) {
        this.self = {...this.self, ...state};
        const s = this.self;
        const what = s.screen ? 'screen' : !s.video ? 'sound' : 'video';
        setText(this.selfTag, s.name ? msg('tiles.selfNamed', {name: s.name, state: what}) : msg('tiles.self', {state: what}));
        this.update();
    }

    /* The grid's size for the layout, the empty note, and the sentence of who is on screen. */
    update() {
        const n = this.tiles.size;
        this.els.remotes.dataset.count = String(n);
        this.els.stage.dataset.count = String(n);
        setText(this.els.empty, this.emptyText);
        show(this.els.empty, n === 0);
        const people = [...this.tiles.keys()].map((id) => this.people.get(id)).filter(Boolean);
        const you = this.self.screen ? 'screen' : !this.self.video ? 'sound' : 'video';
        const others = () => people.map(describe).join('; ');
        const words = people.length ? msg('tiles.people', {others, you}) : msg('tiles.alone', {you});
        setText(this.els.people, words);
        setAttr(this.els.stage, 'aria-label', words);
    }

    clear() {
        for (const id of [...this.tiles.keys()]) this.remove(id, true);
        fill(this.els.remotes, this.els.empty);
    }
}
