// The call's grid: one tile per other participant (video, name tag, sound-only and reconnecting
// notes, the host's Remove), the self view's tag, and a text alternative of who is shown.
import {h, show, fill, announce} from './ui.js';
import {displayName, roleLabel} from './mesh.js';

function initials(person) {
    const words = displayName(person).split(/\s+/).filter((w) => /^\p{L}/u.test(w));
    return (words.slice(0, 2).map((w) => w[0]).join('') || '?').toUpperCase();
}

/* "Mrs K, patient, sound only" */
function describe(person) {
    const parts = [displayName(person)];
    if (person.name) parts.push(roleLabel(person).toLowerCase());
    if (person.away) parts.push('reconnecting');
    else if (person.screen) parts.push('sharing their screen');
    else if (person.video === false) parts.push('sound only');
    return parts.join(', ');
}

/*
 * els: {remotes, empty, selfBox, people} (the grid, its empty note, the self view, the text
 * alternative). onRemove(id) is the host's confirmed Remove.
 */
export class TileGrid {
    constructor(els, {onRemove}) {
        this.els = els;
        this.onRemove = onRemove;
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
        const video = h('video', {class: 'remote-video', testid: 'remote-video', autoplay: true, playsInline: true, 'data-peer': link.id});
        const novideo = h('div', {class: 'tile-novideo', 'aria-hidden': 'true', hidden: true},
            h('span', {class: 'avatar'}), h('span', {class: 'novideo-text', text: 'Sound only'}));
        const name = h('span', {class: 'tag-name'});
        const role = h('span', {class: 'tag-role'});
        const badge = h('span', {class: 'tag-badge', hidden: true});
        const actions = this.removeControls(link.id);
        const label = h('div', {class: 'tile-label', testid: 'tile-name'}, name, role, badge, actions.el);
        const away = h('p', {class: 'tile-away', hidden: true, text: 'Reconnecting…'});
        const sound = h('button', {type: 'button', class: 'btn btn-secondary tile-sound', hidden: true, text: 'Tap to turn on sound'});
        const tile = h('div', {class: 'tile', testid: 'tile', 'data-peer': link.id, role: 'group'}, video, novideo, away, sound, label);
        const t = {tile, video, novideo, name, role, badge, away, actions: actions.el, reset: actions.reset};
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
        this.tiles.set(link.id, t);
        this.els.remotes.append(tile);
        this.person(person);
        announce(`${describe(person)} has joined.`);
    }

    /* The host's Remove, confirmed by a second button. */
    removeControls(id) {
        const ask = h('button', {type: 'button', class: 'btn btn-small tile-remove', testid: 'remove-button', text: 'Remove'});
        const yes = h('button', {type: 'button', class: 'btn btn-danger btn-small', testid: 'remove-confirm', text: 'Yes, remove'});
        const no = h('button', {type: 'button', class: 'btn btn-quiet btn-small tile-cancel', text: 'Cancel'});
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
    person(p) {
        this.people.set(p.id, p);
        const t = this.tiles.get(p.id);
        if (t) {
            t.name.textContent = displayName(p);
            t.role.textContent = p.name ? roleLabel(p) : '';
            const noVideo = p.video === false && !p.screen;
            t.badge.textContent = p.screen ? 'sharing screen' : noVideo ? 'sound only' : '';
            show(t.badge, Boolean(t.badge.textContent));
            show(t.novideo, noVideo);
            t.novideo.firstChild.textContent = initials(p);
            t.tile.dataset.video = String(!noVideo);
            t.tile.setAttribute('aria-label', describe(p));
            show(t.away, Boolean(p.away));
            t.actions.querySelector('.tile-remove').setAttribute('aria-label', `Remove ${displayName(p)} from the call`);
        }
        this.update();
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
        if (t && !quiet && p) announce(`${displayName(p)} has left.`);
    }

    /* This side's own tag: "You", and what it sends. */
    setSelf(state) {
        this.self = {...this.self, ...state};
        const s = this.self;
        this.selfTag.textContent = `You${s.name ? ` (${s.name})` : ''}${s.screen ? ' · sharing screen' : !s.video ? ' · sound only' : ''}`;
        this.update();
    }

    /* The grid's size for the layout, the empty note, and the sentence of who is on screen. */
    update() {
        const n = this.tiles.size;
        this.els.remotes.dataset.count = String(n);
        this.els.stage.dataset.count = String(n);
        this.els.empty.textContent = this.emptyText;
        show(this.els.empty, n === 0);
        const others = [...this.tiles.keys()].map((id) => this.people.get(id)).filter(Boolean).map(describe);
        const you = `you${this.self.screen ? ', sharing your screen' : !this.self.video ? ', sound only' : ''}`;
        this.els.people.textContent = others.length
            ? `In this call: ${others.join('; ')}; and ${you}.`
            : `Only you are in the call so far (${you}).`;
        this.els.stage.setAttribute('aria-label', this.els.people.textContent);
    }

    clear() {
        for (const id of [...this.tiles.keys()]) this.remove(id, true);
        fill(this.els.remotes, this.els.empty);
    }
}
