// Inviting another person (an interpreter, a carer) to a consultation: a name, a fresh guest link
// to copy, and Revoke. The link comes from the call (vc.v1 invite) or the dashboard (REST).
import {h, show, fill, announce, copyText, uid} from './ui.js';
import {msg, setText} from './i18n.js';

/* The words for each refusal's code; anything else is a generic failure. */
const ERRORS = {
    room_full: 'invite.error.full',
    rate_limited: 'invite.error.quota',
    quota_exceeded: 'invite.error.quota',
    too_large: 'invite.error.tooLong',
    bad_request: 'invite.error.characters',
    offline: 'common.offline',
    network: 'common.offline',
    timeout: 'common.noAnswer',
};

/*
 * make(name) resolves {id, url, name} or rejects with {code, message}; revoke(id) resolves or
 * rejects the same way.
 */
export class InviteBox {
    constructor({make, revoke}) {
        this.make = make;
        this.revokeFn = revoke;
        const nameId = uid('invite-name');
        this.name = h('input', {type: 'text', id: nameId, testid: 'invite-name', maxlength: '40', autocomplete: 'off', placeholder: msg('invite.name.example')});
        this.button = h('button', {type: 'submit', class: 'btn btn-secondary btn-small', testid: 'invite-create', text: msg('invite.create')});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'invite-error'});
        this.list = h('ul', {class: 'invites', testid: 'invite-list'});
        const form = h('form', {class: 'invite-form', novalidate: true},
            h('label', {for: nameId}, h('span', {text: msg('invite.name')}), ' ', h('span', {class: 'label-note', text: msg('invite.name.note')})),
            h('div', {class: 'invite-row'}, this.name, this.button), this.error);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.create();
        });
        this.el = h('details', {class: 'invite-box', testid: 'invite-box'},
            h('summary', {class: 'btn btn-quiet btn-small', testid: 'invite-toggle', text: msg('invite.toggle')}),
            h('p', {class: 'hint', text: msg('invite.hint')}),
            form, this.list);
    }

    async create() {
        setText(this.error, '');
        this.button.disabled = true;
        try {
            const inv = await this.make(this.name.value.trim());
            this.name.value = '';
            this.add(inv);
            announce(msg('invite.created'));
        } catch (err) {
            setText(this.error, msg(ERRORS[err && err.code] || 'invite.error.other'));
        } finally {
            this.button.disabled = false;
        }
    }

    add(inv) {
        const status = h('span', {class: 'hint'});
        const copy = h('button', {type: 'button', class: 'btn btn-secondary btn-small', text: msg('common.copyLink'), on: {click: async () => {
            const ok = await copyText(inv.url);
            setText(status, msg(ok ? 'common.copied' : 'common.selectToCopy'));
        }}});
        const revoke = h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'invite-revoke', text: msg('invite.revoke')});
        const li = h('li', {class: 'invite-item', 'data-invite': inv.id},
            h('p', {class: 'invite-who', text: inv.name || msg('invite.noName')}),
            h('a', {class: 'link-box invite-link', testid: 'invite-link', href: inv.url, target: '_blank', rel: 'noopener noreferrer', text: inv.url}),
            h('div', {class: 'row'}, copy, revoke, status));
        revoke.addEventListener('click', async () => {
            revoke.disabled = true;
            try {
                await this.revokeFn(inv.id);
                li.remove();
                announce(msg('invite.revoked'));
            } catch (err) {
                setText(status, msg(ERRORS[err && err.code] || 'invite.error.revoke'));
                revoke.disabled = false;
            }
        });
        this.list.append(li);
    }

    clear() {
        fill(this.list);
        setText(this.error, '');
        show(this.el, true);
    }
}
