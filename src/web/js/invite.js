// Inviting another person (an interpreter, a carer) to a consultation: a name, a fresh guest link
// to copy, and Revoke. The link comes from the call (vc.v1 invite) or the dashboard (REST).
import {h, show, fill, announce, copyText, uid} from './ui.js';

const ERRORS = {
    room_full: 'The consultation is full: nobody else can join it.',
    rate_limited: 'There are 8 open invites already. Revoke one first.',
    quota_exceeded: 'There are 8 open invites already. Revoke one first.',
    too_large: 'A name is at most 40 characters.',
    bad_request: 'A name cannot hold line breaks or control characters.',
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
        this.name = h('input', {type: 'text', id: nameId, testid: 'invite-name', maxlength: '40', autocomplete: 'off', placeholder: 'e.g. Interpreter (Polish)'});
        this.button = h('button', {type: 'submit', class: 'btn btn-secondary btn-small', testid: 'invite-create', text: 'Create link'});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'invite-error'});
        this.list = h('ul', {class: 'invites', testid: 'invite-list'});
        const form = h('form', {class: 'invite-form', novalidate: true},
            h('label', {for: nameId}, 'Name ', h('span', {class: 'label-note', text: '(optional, shown to the others in the call)'})),
            h('div', {class: 'invite-row'}, this.name, this.button), this.error);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.create();
        });
        this.el = h('details', {class: 'invite-box', testid: 'invite-box'},
            h('summary', {class: 'btn btn-quiet btn-small', testid: 'invite-toggle', text: 'Invite someone'}),
            h('p', {class: 'hint', text: 'An interpreter, a carer or a parent gets their own link. They wait to be let in like the patient.'}),
            form, this.list);
    }

    async create() {
        this.error.textContent = '';
        this.button.disabled = true;
        try {
            const inv = await this.make(this.name.value.trim());
            this.name.value = '';
            this.add(inv);
            announce('Invite link created. Copy it and send it.');
        } catch (err) {
            this.error.textContent = ERRORS[err && err.code] || (err && err.message) || 'The link could not be made.';
        } finally {
            this.button.disabled = false;
        }
    }

    add(inv) {
        const status = h('span', {class: 'hint'});
        const copy = h('button', {type: 'button', class: 'btn btn-secondary btn-small', text: 'Copy link', on: {click: async () => {
            const ok = await copyText(inv.url);
            status.textContent = ok ? 'Copied' : 'Select the link to copy it';
        }}});
        const revoke = h('button', {type: 'button', class: 'btn btn-quiet btn-small', testid: 'invite-revoke', text: 'Revoke'});
        const li = h('li', {class: 'invite-item', 'data-invite': inv.id},
            h('p', {class: 'invite-who', text: inv.name || 'Guest (no name)'}),
            h('a', {class: 'link-box invite-link', testid: 'invite-link', href: inv.url, target: '_blank', rel: 'noopener noreferrer', text: inv.url}),
            h('div', {class: 'row'}, copy, revoke, status));
        revoke.addEventListener('click', async () => {
            revoke.disabled = true;
            try {
                await this.revokeFn(inv.id);
                li.remove();
                announce('The invite link was revoked: it no longer opens the consultation.');
            } catch (err) {
                status.textContent = (err && err.message) || 'It could not be revoked.';
                revoke.disabled = false;
            }
        });
        this.list.append(li);
    }

    clear() {
        fill(this.list);
        this.error.textContent = '';
        show(this.el, true);
    }
}
