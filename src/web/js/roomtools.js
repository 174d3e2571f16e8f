// Two tools of a consultation in the dashboard's list: its label, edited in place, and handing
// it over to a team mate.
import {h, show, announce, uid, errorMsg} from './ui.js';
import {roomName, roomTitle} from './alerts.js';
import {msg, setText, setAttr} from './i18n.js';

export const LABEL_MAX = 80;

const LABEL_ERRORS = {
    too_large: 'label.error.tooLong',
    bad_request: 'label.error.characters',
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
        this.edit = h('button', {type: 'button', class: 'btn btn-quiet btn-small label-edit', testid: 'label-edit', text: msg('label.edit'),
            on: {click: () => this.open()}});
        this.view = h('div', {class: 'label-view'}, this.heading, this.edit);
        this.input = h('input', {id: inputId, type: 'text', class: 'label-input', testid: 'label-input', maxlength: String(LABEL_MAX),
            autocomplete: 'off', placeholder: msg('label.example')});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'label-error'});
        this.saveButton = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'label-save', text: msg('label.save')});
        this.form = h('form', {class: 'label-form', hidden: true, novalidate: true},
            h('label', {for: inputId, text: msg('label.label')}), this.input,
            h('div', {class: 'row'}, this.saveButton,
                h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: msg('common.cancel'), on: {click: () => this.close(true)}})),
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
        setText(this.text, roomTitle(entry));
        this.text.classList.toggle('unlabelled', !entry.label);
        setText(this.edit, msg(entry.label ? 'label.edit' : 'label.add'));
        setAttr(this.edit, 'aria-label', msg(entry.label ? 'label.editWhich' : 'label.addWhich', {room: () => roomName(entry)}));
    }

    open() {
        this.input.value = (this.entry && this.entry.label) || '';
        setText(this.error, '');
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
            setText(this.error, errorMsg(err, LABEL_ERRORS));
            return;
        }
        this.close(true);
        announce(msg('label.saved'));
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
        this.button = h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'handover-button', text: msg('handover.button')});
        this.error = h('p', {class: 'form-error', role: 'alert', testid: 'handover-error'});
        this.none = h('p', {class: 'hint', hidden: true});
        this.fields = h('div', {class: 'handover-fields'}, h('label', {for: selectId, text: msg('handover.to')}), this.select, this.button);
        const form = h('form', {class: 'handover-form', novalidate: true}, this.fields, this.none, this.error);
        form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.submit();
        });
        this.el = h('details', {class: 'handover', testid: 'handover'},
            h('summary', {class: 'btn btn-quiet btn-small', testid: 'handover-toggle', text: msg('handover.button')}), form);
        this.el.addEventListener('toggle', () => this.el.open && this.load());
    }

    update(entry) {
        this.entry = entry;
    }

    /* The team's members but the clinician it is with now, fetched afresh on each opening. */
    async load() {
        const entry = this.entry;
        setText(this.error, '');
        if (!entry.team) return this.empty(msg('handover.noTeam'));
        let people = [];
        try {
            people = await this.members(entry.team);
        } catch {
            return this.empty(msg('handover.loadFailed'));
        }
        const current = entry.assignee && entry.assignee.id;
        people = people.filter((p) => p.id !== current);
        if (people.length === 0) return this.empty(msg('handover.nobody'));
        const me = this.me();
        this.select.replaceChildren(...people.map((p) => h('option', {value: p.id,
            text: p.id === (me && me.id) ? msg('handover.you', {name: p.name}) : p.name})));
        show(this.fields, true);
        show(this.none, false);
        return undefined;
    }

    empty(text) {
        setText(this.none, text);
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
            setText(this.error, errorMsg(err, {forbidden: 'handover.notInTeam'}));
            return;
        }
        this.el.open = false;
        announce(msg('handover.done', {name}));
    }
}
