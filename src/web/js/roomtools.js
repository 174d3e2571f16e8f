// Two tools of a consultation in the dashboard's list: its label, edited in place, and handing
// it over to a team mate.
import {h, show, announce, uid} from './ui.js';
import {roomName} from './alerts.js';

export const LABEL_MAX = 80;

const LABEL_ERRORS = {
    too_large: `A label is at most ${LABEL_MAX} characters.`,
    bad_request: 'A label cannot hold line breaks or control characters.',
    not_found: 'This consultation has ended.',
};

/* The label as a heading with an Edit button; editing swaps in a small form. save(text) resolves
 * null or {code, message}. */
export class LabelEditor {
    constructor({save}) {
        this.save = save;
        this.entry = null;
        const inputId = uid('label');
        this.text = h('span', {class: 'room-label', testid: 'room-label'});
        this.heading = h('h3', {class: 'room-name', tabindex: '-1'}, this.text);
        this.edit = h('button', {type: 'button', class: 'btn btn-quiet btn-small label-edit', testid: 'label-edit', text: 'Edit label',
            on: {click: () => this.open()}});
        this.view = h('div', {class: 'label-view'}, this.heading, this.edit);
        this.input = h('input', {id: inputId, type: 'text', class: 'label-input', testid: 'label-input', maxlength: String(LABEL_MAX),
            autocomplete: 'off', placeholder: 'e.g. 10:30 Mrs K, follow-up'});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'label-error'});
        this.saveButton = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'label-save', text: 'Save'});
        this.form = h('form', {class: 'label-form', hidden: true, novalidate: true},
            h('label', {for: inputId, text: 'Label (only your team sees it)'}), this.input,
            h('div', {class: 'row'}, this.saveButton,
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: 'Cancel', on: {click: () => this.close(true)}})),
            this.error);
        this.form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.submit();
        });
        this.input.addEventListener('keydown', (ev) => {
            if (ev.key === 'Escape') this.close(true);
        });
        this.el = h('div', {class: 'label-editor'}, this.view, this.form);
    }

    update(entry) {
        this.entry = entry;
        this.text.textContent = roomName(entry);
        this.text.classList.toggle('unlabelled', !entry.label);
        this.edit.textContent = entry.label ? 'Edit label' : 'Add label';
        this.edit.setAttribute('aria-label', `${this.edit.textContent}: ${roomName(entry)}`);
    }

    open() {
        this.input.value = (this.entry && this.entry.label) || '';
        this.error.textContent = '';
        show(this.view, false);
        show(this.form, true);
        this.input.focus();
        this.input.select();
    }

    close(refocus) {
        show(this.form, false);
        show(this.view, true);
        if (refocus) this.edit.focus();
    }

    async submit() {
        this.saveButton.disabled = true;
        const err = await this.save(this.input.value.trim());
        this.saveButton.disabled = false;
        if (err) {
            this.error.textContent = LABEL_ERRORS[err.code] || err.message || 'The label could not be saved.';
            return;
        }
        this.close(true);
        announce('Label saved.');
    }
}

/* "Hand over to" a team mate: members(team) resolves [{id, name}]; send(to) resolves null or
 * {code, message}. */
export class Handover {
    constructor({me, members, send}) {
        this.me = me;
        this.members = members;
        this.send = send;
        this.entry = null;
        const selectId = uid('handover');
        this.select = h('select', {id: selectId, testid: 'handover-select'});
        this.button = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'handover-button', text: 'Hand over'});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'handover-error'});
        this.none = h('p', {class: 'hint', hidden: true});
        this.fields = h('div', {class: 'handover-fields'}, h('label', {for: selectId, text: 'Hand over to'}), this.select, this.button);
        const form = h('form', {class: 'handover-form', novalidate: true}, this.fields, this.none, this.error);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.submit();
        });
        this.el = h('details', {class: 'handover', testid: 'handover'},
            h('summary', {class: 'btn btn-quiet btn-small', testid: 'handover-toggle', text: 'Hand over'}), form);
        this.el.addEventListener('toggle', () => this.el.open && this.load());
    }

    update(entry) {
        this.entry = entry;
    }

    /* The team's members but the clinician it is with now, fetched afresh on each opening. */
    async load() {
        const entry = this.entry;
        this.error.textContent = '';
        if (!entry.team) return this.empty('This consultation is not in a team: there is nobody to hand it to.');
        let people = [];
        try {
            people = await this.members(entry.team);
        } catch {
            return this.empty('The team could not be loaded. Try again.');
        }
        const current = entry.assignee && entry.assignee.id;
        people = people.filter((p) => p.id !== current);
        if (people.length === 0) return this.empty('Nobody else is in this team.');
        const me = this.me();
        this.select.replaceChildren(...people.map((p) => h('option', {value: p.id, text: p.id === (me && me.id) ? `${p.name} (you)` : p.name})));
        show(this.fields, true);
        show(this.none, false);
        return undefined;
    }

    empty(text) {
        this.none.textContent = text;
        show(this.none, true);
        show(this.fields, false);
    }

    async submit() {
        const to = this.select.value;
        if (!to) return;
        const name = this.select.selectedOptions[0] ? this.select.selectedOptions[0].textContent : '';
        this.button.disabled = true;
        const err = await this.send(to);
        this.button.disabled = false;
        if (err) {
            this.error.textContent = err.code === 'forbidden' ? 'That clinician is not in this consultation\'s team.' : err.message || 'It could not be handed over.';
            return;
        }
        this.el.open = false;
        announce(`Handed over to ${name}.`);
    }
}
