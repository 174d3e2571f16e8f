// The dashboard's Reports page: a date range, then the consultations of each day as two SVG
// charts drawn here (the wait from knock to admission, p50 and p90; and the volume, completed and
// no-shows) and a table with every figure, which is also the charts' text for screen readers.
// Data from GET /api/v1/reports/consultations (JSON; CSV for the download).
import {h, show, fill, announce, errorMsg} from './ui.js';
import {msg, t, setText, onLanguage} from './i18n.js';

const REPORT = '/api/v1/reports/consultations';
const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86400000;
const DEFAULT_DAYS = 14;
const MAX_DAYS = 400;
// The charts' drawing box (the SVG scales to its container).
const W = 720, H = 240, LEFT = 48, RIGHT = 12, TOP = 12, BOTTOM = 34;

/* "YYYY-MM-DD" of a Date, in UTC (report days are UTC days). */
function isoDay(d) {
    return d.toISOString().slice(0, 10);
}

function svg(tag, attrs = {}, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
}

/* A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least max. */
function niceMax(max) {
    if (!(max > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

/* The same for counts, whose middle tick must be a whole number too: twice a round step. */
function niceCount(max) {
    return 2 * Math.max(1, Math.ceil(niceMax(max / 2)));
}

function seconds(ms) {
    return ms === null || ms === undefined ? '–' : t('time.seconds.short', {count: (ms / 1000).toFixed(1)});
}

function orDash(v, unit = '') {
    if (v === null || v === undefined) return '–';
    return unit === ' s' ? t('time.seconds.short', {count: String(v)}) : `${v}${unit}`;
}

function mix(o) {
    const parts = Object.entries(o || {}).map(([k, n]) => `${k} ${n}`);
    return parts.length ? parts.join(', ') : '–';
}

/*
 * A bar chart of days: series [{key, cls, label, value(day)}]; stacked bars when stacked, else
 * side by side. Returns an <svg role="img"> titled title, its text in the table (describedBy).
 */
function barChart(days, series, {title, unit, stacked, counts, describedBy, format}) {
    const n = Math.max(days.length, 1);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const totals = days.map((d) => (stacked
        ? series.reduce((s, x) => s + (x.value(d) || 0), 0)
        : Math.max(0, ...series.map((x) => x.value(d) || 0))));
    const top = (counts ? niceCount : niceMax)(Math.max(0, ...totals));
    const y = (v) => TOP + plotH - (v / top) * plotH;
    const slot = plotW / n, gap = Math.min(4, slot * 0.2);
    const titleId = `chart-title-${Math.random().toString(36).slice(2, 8)}`;
    const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': titleId, 'aria-describedby': describedBy, class: 'chart'});
    root.append(svg('title', {id: titleId}, title));
    for (const frac of [0, 0.5, 1]) {
        const v = top * frac;
        root.append(svg('line', {x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: frac ? 'chart-grid' : 'chart-axis'}));
        root.append(svg('text', {x: LEFT - 6, y: y(v) + 4, class: 'chart-tick chart-tick-y'}, `${format(v)}${unit}`));
    }
    days.forEach((d, i) => {
        const x0 = LEFT + i * slot + gap / 2, width = Math.max(slot - gap, 0.5);
        let base = 0;
        const g = svg('g', {class: 'chart-day'});
        series.forEach((s, k) => {
            const v = s.value(d) || 0;
            if (!v) return;
            const bw = stacked ? width : width / series.length;
            const bx = stacked ? x0 : x0 + k * bw;
            const from = stacked ? base : 0;
            g.append(svg('rect', {x: bx, y: y(from + v), width: bw, height: y(from) - y(from + v), class: `chart-bar ${s.cls}`},
                svg('title', {}, t('report.bar', {date: d.date, label: s.label, value: `${format(v)}${unit}`}))));
            if (stacked) base += v;
        });
        root.append(g);
    });
    const every = Math.ceil(n / 6);
    days.forEach((d, i) => {
        if (i % every && i !== days.length - 1) return;
        root.append(svg('text', {x: LEFT + (i + 0.5) * slot, y: H - BOTTOM + 18, class: 'chart-tick chart-tick-x'}, d.date.slice(5)));
    });
    return root;
}

function legend(series) {
    return h('ul', {class: 'chart-legend'}, series.map((s) => h('li', {}, h('span', {class: `chart-key ${s.cls}`, 'aria-hidden': 'true'}), s.label)));
}

/* The table of every figure, a row a day. */
function table(days, id) {
    const head = ['report.col.date', 'report.col.consultations', 'report.col.completed', 'report.col.noShows',
        'report.col.waitP50', 'report.col.waitP90', 'report.col.callP50', 'report.col.callP90', 'report.col.direct',
        'report.col.relayed', 'report.col.noMedia', 'report.col.browsers', 'report.col.systems'].map((k) => msg(k));
    // A region that scrolls sideways on a narrow screen: focusable, so the keyboard scrolls it.
    return h('div', {class: 'report-table-wrap', tabindex: '0', role: 'region', 'aria-label': msg('report.caption')},
        h('table', {class: 'report-table', id, testid: 'report-table'},
            h('caption', {text: msg('report.caption')}),
            h('thead', {}, h('tr', {}, head.map((m) => h('th', {scope: 'col', text: m})))),
            h('tbody', {}, days.map((d) => h('tr', {'data-date': d.date},
                h('th', {scope: 'row', text: d.date}),
                [d.consultations, d.completed, d.no_shows, seconds(d.wait_ms.p50), seconds(d.wait_ms.p90),
                    orDash(d.call_s.p50, ' s'), orDash(d.call_s.p90, ' s'), orDash(d.direct_pct, '%'),
                    orDash(d.relayed_pct, '%'), d.media_failed, mix(d.browsers), mix(d.os)]
                    .map((v) => h('td', {text: String(v)})))))));
}

/*
 * els: {button (the app bar's Reports button), section (the page's empty <section>), dash (the
 * dashboard it replaces while open)}. api: the dashboard's Api. onSignedOut(): a 401.
 */
export class ReportsPage {
    constructor(els, {api, onSignedOut}) {
        this.els = els;
        this.api = api;
        this.onSignedOut = onSignedOut;
        this.build();
        els.button.addEventListener('click', () => this.open(!this.isOpen));
    }

    get isOpen() {
        return !this.els.section.hidden;
    }

    build() {
        const to = new Date(), from = new Date(to.getTime() - (DEFAULT_DAYS - 1) * DAY_MS);
        this.from = h('input', {type: 'date', id: 'report-from', testid: 'report-from', value: isoDay(from), max: isoDay(to), required: true});
        this.to = h('input', {type: 'date', id: 'report-to', testid: 'report-to', value: isoDay(to), max: isoDay(to), required: true});
        this.status = h('p', {class: 'hint', role: 'status', testid: 'report-status'});
        this.charts = h('div', {class: 'report-charts'});
        this.tableBox = h('div', {});
        const form = h('form', {class: 'report-form', novalidate: true, on: {submit: (ev) => {
            ev.preventDefault();
            this.load();
        }}},
        h('div', {}, h('label', {for: 'report-from', text: msg('report.from')}), this.from),
        h('div', {}, h('label', {for: 'report-to', text: msg('report.to')}), this.to),
        h('button', {type: 'submit', class: 'btn btn-primary btn-small', testid: 'report-show', text: msg('report.show')}),
        h('button', {type: 'button', class: 'btn btn-secondary btn-small', testid: 'report-csv', text: msg('report.csv'), on: {click: () => this.download()}}));
        fill(this.els.section,
            h('div', {class: 'card'},
                h('div', {class: 'rooms-head'},
                    h('h1', {id: 'reports-heading', tabindex: '-1', text: msg('report.title')}),
                    h('button', {type: 'button', class: 'btn btn-quiet btn-small', text: msg('report.back'), on: {click: () => this.open(false)}})),
                h('p', {class: 'hint', text: msg('report.hint', {max: MAX_DAYS})}),
                form, this.status, this.charts, this.tableBox));
    }

    /* Shows the button once signed in; hides page and button when signed out. */
    enable(on) {
        show(this.els.button, on);
        if (!on) this.open(false);
    }

    open(on) {
        show(this.els.section, on);
        show(this.els.dash, !on);
        this.els.button.setAttribute('aria-expanded', String(on));
        setText(this.els.button, msg(on ? 'dash.list' : 'report.title'));
        if (!on) return;
        this.els.section.querySelector('h1').focus();
        this.load();
    }

    /* The range in the form, or null (with the reason shown) when it is not one. */
    range() {
        const from = this.from.value, to = this.to.value;
        const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
        if (!from || !to || !(days >= 1)) setText(this.status, msg('report.range.bad'));
        else if (days > MAX_DAYS) setText(this.status, msg('report.range.tooLong', {max: MAX_DAYS}));
        else return {from, to};
        return null;
    }

    async load() {
        const r = this.range();
        if (!r) return;
        setText(this.status, msg('report.loading'));
        let data;
        try {
            data = await this.api.request('GET', `${REPORT}?from=${r.from}&to=${r.to}`);
        } catch (err) {
            if (err.status === 401) this.onSignedOut();
            setText(this.status, errorMsg(err, {bad_request: 'report.loadFailed', internal: 'report.loadFailed'}));
            return;
        }
        this.render(data.days || []);
    }

    /* Draws the days' charts and table; they are drawn again in a new language. */
    render(days) {
        if (!this.days) onLanguage(() => this.days && this.render(this.days));
        this.days = days;
        const total = days.reduce((s, d) => s + d.consultations, 0);
        const waits = [
            {cls: 'bar-p50', label: t('report.wait.p50'), value: (d) => d.wait_ms.p50 / 1000},
            {cls: 'bar-p90', label: t('report.wait.p90'), value: (d) => d.wait_ms.p90 / 1000},
        ];
        const volume = [
            {cls: 'bar-completed', label: t('report.col.completed'), value: (d) => d.completed},
            {cls: 'bar-noshow', label: t('report.col.noShows'), value: (d) => d.no_shows},
            {cls: 'bar-other', label: t('report.vol.other'), value: (d) => d.consultations - d.completed - d.no_shows},
        ];
        const tableId = 'report-table';
        fill(this.charts,
            h('figure', {class: 'report-figure', testid: 'report-wait-chart'},
                h('figcaption', {text: msg('report.wait.caption')}),
                barChart(days, waits, {title: t('report.wait.title'), unit: ' s', stacked: false, describedBy: tableId, format: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1))}),
                legend(waits)),
            h('figure', {class: 'report-figure', testid: 'report-volume-chart'},
                h('figcaption', {text: msg('report.vol.caption')}),
                barChart(days, volume, {title: t('report.vol.title'), unit: '', stacked: true, counts: true, describedBy: tableId, format: (v) => String(Math.round(v))}),
                legend(volume)));
        fill(this.tableBox, table(days, tableId));
        const said = msg('report.total', {count: total, from: days.length ? days[0].date : '', to: days.length ? days[days.length - 1].date : ''});
        setText(this.status, said);
        announce(said);
    }

    /* The same range as CSV, saved by the browser. */
    async download() {
        const r = this.range();
        if (!r) return;
        let res;
        try {
            res = await fetch(`${REPORT}?from=${r.from}&to=${r.to}`, {headers: {Accept: 'text/csv'}, credentials: 'same-origin', cache: 'no-store'});
        } catch {
            setText(this.status, msg('common.offline'));
            return;
        }
        if (res.status === 401) return this.onSignedOut();
        if (!res.ok) {
            setText(this.status, msg('report.csvFailed'));
            return;
        }
        const url = URL.createObjectURL(await res.blob());
        const a = h('a', {href: url, download: `consultations-${r.from}-to-${r.to}.csv`, class: 'visually-hidden'});
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
        return undefined;
    }
}
