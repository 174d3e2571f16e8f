// The organisation on the patient's pages (vc-signal --branding): its name and logo in the header,
// its colours, whom to ring and its privacy notice; from /branding.json on this same server, so
// the page asks no other host for anything. Without branding the page is neutral.
import {h, languagePicker} from './ui.js';
import {msg, t, onLanguage} from './i18n.js';

const COLOUR = /^#[0-9a-f]{6}$/;
let brand = {};

/* Fetches the branding once and applies its colours; resolves it ({} when there is none). */
export async function loadBranding() {
    try {
        const res = await fetch('/branding.json', {cache: 'no-cache', credentials: 'same-origin'});
        brand = res.ok ? await res.json() : {};
    } catch {
        brand = {};
    }
    if (!brand || typeof brand !== 'object') brand = {};
    const root = document.documentElement.style;
    if (COLOUR.test(brand.colour || '')) root.setProperty('--brand', brand.colour);
    if (COLOUR.test(brand.text_colour || '')) root.setProperty('--brand-text', brand.text_colour);
    return brand;
}

/* The organisation's name, or '' without branding. */
export function brandName() {
    return typeof brand.name === 'string' ? brand.name : '';
}

/* A sentence from the catalogue with one placeholder drawn as a link (redrawn on a change of
 * language). */
function linkedSentence(key, args, linkArg, link, attrs) {
    const p = h('p', attrs);
    const draw = () => {
        const [before, after = ''] = t(key, {...args, [linkArg]: '\u0001'}).split('\u0001');
        p.replaceChildren(before, link, after);
        p.setAttribute('data-i18n', key);
    };
    draw();
    onLanguage(draw);
    return p;
}

/* "If you need help, ring Riverside Surgery on 020 7946 0000." with the number as a tel: link;
 * null without a phone number. A new element each call. */
export function supportLine() {
    if (!brand.phone) return null;
    const number = h('a', {class: 'support-phone', href: `tel:${brand.phone.replace(/[^0-9+]/g, '')}`, dir: 'ltr', text: brand.phone});
    return linkedSentence(brand.name ? 'brand.support.named' : 'brand.support', {name: brandName()}, 'phone', number,
        {class: 'support-line', testid: 'support-line'});
}

/* The header: the logo and the organisation's name (or the service's), and the language picker. */
export function buildHeader(el, onLanguageChosen) {
    const logo = brand.logo ? h('img', {class: 'brand-logo', src: brand.logo, alt: brand.name ? '' : msg('brand.logo'), width: '40', height: '40'}) : null;
    const name = h('span', {class: 'brand-name', testid: 'brand-name', text: brand.name ? brand.name : msg('brand.service')});
    el.replaceChildren(h('p', {class: 'brand'}, logo, name), languagePicker(onLanguageChosen));
}

/* The footer: whom to ring, and the privacy notice. */
export function buildFooter(el) {
    const parts = [supportLine()];
    if (brand.privacy_url) {
        parts.push(h('p', {class: 'privacy-line'}, h('a', {href: brand.privacy_url, target: '_blank', rel: 'noopener noreferrer', testid: 'privacy-link',
            text: brand.name ? msg('brand.privacy.named', {name: brandName()}) : msg('brand.privacy')})));
    }
    parts.push(h('p', {class: 'hint', text: msg('brand.nothingRecorded')}));
    el.replaceChildren(...parts.filter(Boolean));
}
