// The patient's pages for everyone (issue 18): every catalogue key in every language, axe-core's
// WCAG 2.2 A/AA rules in every state of both pages at phone and desktop sizes and right to left,
// plain words (no network jargon) in every language, the keyboard alone from the link to the
// call, reflow at 320 px and 200% text, target sizes, reduced motion and a dark scheme, the
// language from the room, the browser and the device, and the organisation's branding served
// by this server alone; the dashboard's knock alert, message composer, label editor, hand-over
// and invite panel; and every key of every catalogue formatted by the pages' own module with a
// sample for each plural form of its language. One browser, pages reused; a screenshot per
// language at 390x844 goes to $VC_SCREENSHOTS/lang-STATE-LANG.png.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
    cfg, PHONE, DESKTOP, WAIT_MS, assert, Fail, sleep, tid, visible, click, textOf, login, createRoom, hostJoin,
    patientOpen, videoFlowing, checkProblems, api, setHidden,
} from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(HERE, '../../src/web');
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const LANGS = ['en', 'cy', 'pl', 'ro', 'ur', 'ar'];
const RTL = new Set(['ur', 'ar']);
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
// Words a patient should never have to read (issue 18), as whole words.
const JARGON = /\b(relay|relayed|UDP|TCP|TLS|ICE|SDP)\b/i;
// The branding e2e_access.sh starts vc-signal with.
const BRAND = process.env.VC_BRAND_NAME || '';

const catalogues = Object.fromEntries(LANGS.map((l) => [l, JSON.parse(fs.readFileSync(path.join(WEB, 'i18n', `${l}.json`), 'utf8'))]));
const used = new Set(); // every key any page looked up in this file's walk
const missing = new Set(); // `lang:key` a page looked up and its catalogue lacked

// --- helpers -------------------------------------------------------------------------------------

async function until(fn, why, timeout = WAIT_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
        const v = await fn().catch(() => null);
        if (v) return v;
        if (Date.now() > deadline) throw new Fail(typeof why === 'function' ? await why() : why);
        await sleep(150);
    }
}

/* axe-core's serious and critical WCAG 2.2 A/AA violations on the page, as lines. */
async function axe(page) {
    if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE);
    const res = await page.evaluate(async (tags) => {
        const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
        return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id} (${v.impact}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    }, AXE_TAGS);
    return res;
}

async function setLang(page, lang) {
    await page.locator('[data-testid="language-select"]').first().selectOption(lang);
    await until(() => page.evaluate((l) => document.documentElement.lang === l, lang), `the page never switched to ${lang}`, 5000);
}

/* The keys the page looked up and the ones a catalogue lacked, added to the file's totals. */
async function collectKeys(page) {
    const got = await page.evaluate(async () => {
        const m = await import('/js/i18n.js');
        return { used: m.usedKeys(), missing: m.missingKeys() };
    });
    for (const k of got.used) used.add(k);
    for (const k of got.missing) missing.add(k);
}

/* Wider than the viewport means sideways scrolling. */
function overflow(page) {
    return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/* Visible controls smaller than 24x24 CSS px, and main buttons smaller than 44x44. */
function smallTargets(page) {
    return page.evaluate(() => {
        const main = new Set(['join-button', 'hangup-button', 'mute-button', 'camera-button', 'chat-button', 'end-action', 'admit-button', 'media-retry']);
        const out = [];
        for (const el of document.querySelectorAll('button, select, input, [role=button]')) {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
            const id = el.dataset.testid || el.id || el.className || el.tagName;
            const min = main.has(el.dataset.testid) ? 44 : 24;
            if (r.width < min - 0.5 || r.height < min - 0.5) out.push(`${id} ${Math.round(r.width)}x${Math.round(r.height)} (< ${min})`);
        }
        return out;
    });
}

/*
 * Audits one state of a page: axe at phone and desktop size, reflow at 320 px, 200% text, target
 * sizes; then in every language the rendered text (no jargon on the patient's pages, no key
 * looked up that a catalogue lacks), axe again right to left, and for the patient a screenshot
 * per language at 390x844. Problems go to t.check lines named a11y_STATE.
 */
async function audit(t, page, state, { patient = true, shots = true } = {}) {
    const orig = page.viewportSize();
    await t.check(`a11y_${state}_axe_reflow_targets`, async () => {
        const bad = [];
        for (const [label, size] of [['phone', PHONE], ['desktop', DESKTOP]]) {
            await page.setViewportSize(size);
            for (const v of await axe(page)) bad.push(`${label}: ${v}`);
            if (label === 'phone') for (const s of await smallTargets(page)) bad.push(`phone: small target ${s}`);
        }
        await page.setViewportSize({ width: 320, height: 640 });
        const wide = await overflow(page);
        if (wide > 1) bad.push(`at 320 px the page is ${wide} px too wide`);
        // 200% text: the root size doubled (as the browser's text-only zoom does) at desktop width.
        await page.setViewportSize(DESKTOP);
        await page.evaluate(() => { document.documentElement.style.fontSize = '200%'; });
        const wider = await overflow(page);
        await page.evaluate(() => { document.documentElement.style.fontSize = ''; });
        if (wider > 1) bad.push(`at 200% text the page is ${wider} px too wide`);
        assert(bad.length === 0, bad.slice(0, 6).join('; '));
    });
    await t.check(`a11y_${state}_every_language`, async () => {
        const bad = [];
        await page.setViewportSize(PHONE);
        for (const lang of LANGS) {
            await setLang(page, lang);
            const dir = await page.evaluate(() => document.documentElement.dir);
            if (dir !== (RTL.has(lang) ? 'rtl' : 'ltr')) bad.push(`${lang}: dir="${dir}"`);
            const text = await page.evaluate(() => document.body.innerText);
            const hit = patient && JARGON.exec(text);
            if (hit) bad.push(`${lang}: the patient reads "${hit[0]}" in "${text.slice(Math.max(0, hit.index - 40), hit.index + 40).replace(/\s+/g, ' ')}"`);
            if (RTL.has(lang) && lang === 'ar') for (const v of await axe(page)) bad.push(`${lang}: ${v}`);
            if (patient && shots) await page.screenshot({ path: path.join(cfg.shots, `lang-${state}-${lang}.png`) });
            await collectKeys(page);
        }
        await setLang(page, 'en');
        const lacks = [...missing];
        if (lacks.length) bad.push(`keys missing at run time: ${lacks.slice(0, 8).join(', ')}`);
        assert(bad.length === 0, bad.slice(0, 6).join('; '));
    });
    if (orig) await page.setViewportSize(orig);
}

/* Presses Tab until the focus is on testid (at most `tries` presses); returns the order seen. */
async function tabTo(page, testid, tries = 25) {
    const seen = [];
    for (let i = 0; i < tries; i++) {
        await page.keyboard.press('Tab');
        const at = await page.evaluate(() => {
            const el = document.activeElement;
            if (!el || el === document.body) return { id: 'body' };
            const style = getComputedStyle(el);
            const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
            return { id: el.dataset.testid || el.id || el.tagName.toLowerCase(), ring: ring || style.boxShadow !== 'none' };
        });
        seen.push(at.id);
        if (at.id === testid) {
            assert(at.ring, `${testid} has the keyboard focus but no visible focus ring`);
            return seen;
        }
    }
    throw new Fail(`${tries} presses of Tab never reached ${testid}: ${seen.join(' > ')}`);
}

/* An init script: the pre-call relay check finds no way through (no relay servers to try), as on
 * a network that blocks the call's media. */
const NO_RELAY = `(() => {
    const Orig = window.RTCPeerConnection;
    function Patched(config, ...rest) {
        if (config && config.iceTransportPolicy === 'relay') config = { ...config, iceServers: [] };
        return new Orig(config, ...rest);
    }
    Patched.prototype = Orig.prototype;
    Object.setPrototypeOf(Patched, Orig);
    window.RTCPeerConnection = Patched;
})();`;

// --- 1. the catalogues ---------------------------------------------------------------------------

/* Every quoted 'a.b' literal in the web code and every data-i18n key in its markup. */
function sourceKeys() {
    const prefixes = new Set(Object.keys(catalogues.en).map((k) => k.split('.')[0]));
    const refs = new Set();
    const files = [path.join(WEB, 'index.html'), path.join(WEB, 'join.html'),
        ...fs.readdirSync(path.join(WEB, 'js')).filter((f) => f.endsWith('.js')).map((f) => path.join(WEB, 'js', f))];
    for (const f of files) {
        const src = fs.readFileSync(f, 'utf8');
        for (const m of src.matchAll(/['"`]([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+)['"`]/g)) if (prefixes.has(m[1].split('.')[0])) refs.add(m[1]);
        for (const m of src.matchAll(/data-i18n(?:-attr)?="([^"]+)"/g))
            for (const part of m[1].split(/\s+/)) {
                const key = part.includes('=') ? part.split('=')[1] : part;
                if (key.includes('.')) refs.add(key);
            }
    }
    return refs;
}

async function catalogueKeys() {
    const english = Object.keys(catalogues.en);
    const bad = [];
    for (const lang of LANGS) {
        const keys = new Set(Object.keys(catalogues[lang]));
        const lacks = english.filter((k) => !keys.has(k));
        const extra = [...keys].filter((k) => !(k in catalogues.en));
        if (lacks.length) bad.push(`${lang}.json lacks ${lacks.slice(0, 5).join(', ')}${lacks.length > 5 ? ` and ${lacks.length - 5} more` : ''}`);
        if (extra.length) bad.push(`${lang}.json has keys English lacks: ${extra.slice(0, 5).join(', ')}`);
        // The same placeholders as English, so no translation drops a name or a number.
        for (const k of english) {
            if (!keys.has(k)) continue;
            const args = (s) => [...s.matchAll(/\{\s*([A-Za-z_]\w*)\s*[,}]/g)].map((m) => m[1]).sort().filter((v, i, a) => a.indexOf(v) === i).join(',');
            if (args(catalogues[lang][k]) !== args(catalogues.en[k])) bad.push(`${lang}:${k} has {${args(catalogues[lang][k])}}, English {${args(catalogues.en[k])}}`);
        }
    }
    const refs = sourceKeys();
    const unused = english.filter((k) => !refs.has(k));
    const undefinedRefs = [...refs].filter((k) => !(k in catalogues.en));
    if (unused.length) bad.push(`keys no page uses: ${unused.slice(0, 8).join(', ')}${unused.length > 8 ? ` and ${unused.length - 8} more` : ''}`);
    if (undefinedRefs.length) bad.push(`keys the pages use that English lacks: ${undefinedRefs.slice(0, 8).join(', ')}`);
    assert(bad.length === 0, bad.slice(0, 8).join('; '));
    console.log(`#   ${english.length} keys in each of ${LANGS.length} catalogues`);
}

// --- 2. the whole walk ---------------------------------------------------------------------------

// Placeholders that take a number (the rest get a marker text that must show in the result).
const NUMERIC = ['count', 'n', 'max', 'extra', 'capacity', 'pct', 'position'];

/*
 * Formats every key of every catalogue with the pages' own i18n module, in a page of its own:
 * each language in turn, every key with sample arguments (a marker text for a text placeholder,
 * a number for a numeric one, one number for each CLDR plural category of the language, each
 * branch of a select). Fails on a missing key, an ICU syntax error, a plural without a branch for
 * a category the language has, or a result with a placeholder left in it or a marker missing.
 */
async function formatAll(page) {
    const got = await page.evaluate(async ({ langs, numeric }) => {
        const m = await import('/js/i18n.js');
        const cats = {};
        for (const l of langs) cats[l] = await (await fetch(`/i18n/${l}.json`, { cache: 'no-cache' })).json();
        const bad = [];
        let formatted = 0;
        // Walks a parsed message: its plural and select arguments, and the text ones outside branches.
        const scan = (parts, acc, top) => {
            for (const p of parts) {
                if (typeof p === 'string' || p.hash) continue;
                if (!p.type) (top ? acc.shown : acc.inner).add(p.arg);
                else {
                    acc[p.type].set(p.arg, [...(acc[p.type].get(p.arg) || []), p]);
                    for (const b of Object.values(p.branches)) scan(b, acc, false);
                }
            }
            return acc;
        };
        const marker = (name) => `\u27e6${name}\u27e7`;
        for (const lang of langs) {
            const rules = new Intl.PluralRules(lang);
            const categories = rules.resolvedOptions().pluralCategories;
            // One sample number per category: the smallest whole number, else a fraction (Polish "other").
            const samples = categories.map((c) => [...Array(200).keys(), 0.5, 1.5, 2.5].find((n) => rules.select(n) === c));
            await m.setLanguage(lang);
            const before = new Set(m.missingKeys());
            for (const key of Object.keys(cats.en)) {
                const source = cats[lang][key];
                if (typeof source !== 'string') {
                    bad.push(`${lang}:${key} missing`);
                    continue;
                }
                let parsed;
                try {
                    parsed = m.parseMessage(source);
                } catch (e) {
                    bad.push(`${lang}:${key}: ${e.message}`);
                    continue;
                }
                const fresh = () => ({ shown: new Set(), inner: new Set(), plural: new Map(), select: new Map() });
                const acc = scan(parsed, fresh(), true);
                // The arguments the pages pass are English's; a name only the translation has stays unreplaced.
                let en;
                try {
                    en = scan(m.parseMessage(cats.en[key]), fresh(), true);
                } catch {
                    continue; // reported in English's turn
                }
                const given = new Set([...en.shown, ...en.inner, ...en.plural.keys(), ...en.select.keys()]);
                const unknown = [...acc.shown, ...acc.inner, ...acc.plural.keys(), ...acc.select.keys()].filter((a) => !given.has(a));
                if (unknown.length) bad.push(`${lang}:${key}: {${unknown.join('}, {')}} is not an argument the pages pass`);
                for (const [arg, uses] of acc.plural)
                    for (const u of uses) {
                        const lacks = categories.filter((c) => !(c in u.branches));
                        if (lacks.length) bad.push(`${lang}:${key}: {${arg}, plural} has no ${lacks.join(', ')} (${lang} has ${categories.join(' ')})`);
                    }
                const base = {};
                for (const a of given) base[a] = numeric.includes(a) ? 7 : marker(a);
                // Every plural sample and every select branch, one argument varied at a time.
                const runs = [base];
                for (const a of acc.plural.keys()) for (const n of samples) runs.push({ ...base, [a]: n });
                for (const [a, uses] of acc.select) for (const u of uses) for (const b of Object.keys(u.branches)) runs.push({ ...base, [a]: b });
                for (const args of runs) {
                    const out = m.t(key, args);
                    formatted++;
                    const left = /[{}]|undefined|NaN/.exec(out);
                    const lost = [...en.shown].filter((a) => !numeric.includes(a) && !acc.inner.has(a) && !out.includes(marker(a)));
                    if (left || lost.length || !out.trim())
                        bad.push(`${lang}:${key} with ${JSON.stringify(args)} reads "${out}"${lost.length ? `: no {${lost.join('}, {')}}` : ''}`);
                }
            }
            for (const k of m.missingKeys()) if (!before.has(k)) bad.push(`${k} fell back to English`);
        }
        await m.setLanguage('en');
        return { bad, formatted };
    }, { langs: LANGS, numeric: NUMERIC });
    assert(got.bad.length === 0, `${got.bad.length} problems: ${got.bad.slice(0, 6).join('; ')}`);
    console.log(`#   ${got.formatted} messages formatted in ${LANGS.length} languages`);
}

async function brandingShown(page, requests) {
    if (!BRAND) return;
    const name = await textOf(await visible(page, 'brand-name'));
    assert(name === BRAND, `the header names "${name}", want "${BRAND}"`);
    const logo = await page.locator('.brand-logo').first().evaluate((img) => ({ src: img.src, ok: img.complete && img.naturalWidth > 0 }));
    assert(logo.ok && logo.src.startsWith(cfg.baseUrl + '/'), `the logo is ${JSON.stringify(logo)}`);
    const elsewhere = requests.filter((u) => !u.startsWith(cfg.baseUrl + '/') && !/^(data|blob):/.test(u) && !u.startsWith('wss://localhost'));
    assert(elsewhere.length === 0, `the page asked other hosts: ${elsewhere.slice(0, 3).join(', ')}`);
}

async function walk(t) {
    // The clinician: the sign-in page, then the dashboard with a new consultation.
    const clin = await t.party('clinician', DESKTOP);
    const dash = clin.page;
    await dash.goto(cfg.baseUrl + '/', { waitUntil: 'domcontentloaded' });
    await visible(dash, 'login-email');
    await t.check('every_key_of_every_catalogue_formats_in_the_browser', async () => {
        const page = await clin.context.newPage();
        try {
            await page.goto(cfg.baseUrl + '/', { waitUntil: 'domcontentloaded' });
            await formatAll(page);
        } finally {
            await page.close();
        }
    });
    await t.check('axe_finds_a_planted_violation', async () => {
        // The audits below mean something only if axe runs here and reports what it finds.
        await dash.evaluate(() => document.body.append(Object.assign(document.createElement('img'), { id: 'planted', src: '/favicon.svg' })));
        const found = await axe(dash);
        await dash.evaluate(() => document.getElementById('planted').remove());
        assert(found.some((v) => v.startsWith('image-alt')), `axe did not report an image without alt text: ${found.join('; ')}`);
    });
    await audit(t, dash, 'dashboard-login', { patient: false });
    await login(clin);
    const link = await createRoom(clin);
    await audit(t, dash, 'dashboard-link', { patient: false });

    // The patient, with the keyboard alone: the link, the device check, the name, join. The
    // dashboard is a background tab meanwhile, so the knock raises its alert.
    await setHidden(dash, true);
    const pat = await t.party('patient', PHONE);
    const requests = [];
    pat.page.on('request', (r) => requests.push(r.url()));
    const guest = await patientOpen(pat, link);
    await t.check('patient_page_shows_the_branding_from_this_server_alone', () => brandingShown(guest, requests));
    await until(() => guest.locator('.checks li.ok').count().then((n) => n >= 2), 'the device check never passed');
    await audit(t, guest, 'patient-preview');
    await t.check('keyboard_tab_order_and_focus_ring_to_join', async () => {
        await guest.evaluate(() => document.activeElement && document.activeElement.blur());
        const order = await tabTo(guest, 'name-input');
        await guest.keyboard.type('Ann Keys');
        order.push(...(await tabTo(guest, 'join-button', 6)));
        console.log(`#   Tab order to join: ${order.join(' > ')}`);
        await guest.keyboard.press('Enter');
        await visible(guest, 'waiting');
    });
    if (!(await tid(guest, 'waiting').isVisible())) await click(guest, 'join-button'); // the walk goes on
    await visible(guest, 'waiting');
    await audit(t, guest, 'patient-waiting');

    // The dashboard's waiting list, and a message to the patient from it.
    const item = dash.locator('[data-testid="waiting-item"]').first();
    await item.waitFor({ timeout: WAIT_MS });
    await guest.locator('[data-testid="waiting-notified"][data-notified="true"]').waitFor({ timeout: WAIT_MS });
    await t.check('told_the_clinician_is_announced', async () => {
        const said = () => guest.evaluate(() => {
            const r = document.getElementById('announcer');
            return r.getAttribute('aria-live') === 'polite' && r.textContent.length > 0 ? r.textContent : null;
        });
        await until(said, 'the polite live region said nothing when the clinician was told', 3000);
    });
    await audit(t, guest, 'patient-waiting-told');
    // The knock alert: a count in the title and a badge, beside the sound and notification controls.
    await t.check('knock_alert_counts_in_the_title_and_badge', async () => {
        await until(async () => /^\(1\) /.test(await dash.title()), async () => `the title reads "${await dash.title()}", want "(1) ..."`, 5000);
        await visible(dash, 'alert-badge', 2000);
        await visible(dash, 'alert-toggle', 2000);
        const permission = await dash.evaluate(() => ['notify-button', 'notify-state']
            .filter((id) => !document.querySelector(`[data-testid="${id}"]`).hidden).join(' '));
        assert(permission, 'neither the notification button nor its state shows');
        console.log(`#   notification control shown: ${permission}`);
    });
    // A browser not asked yet shows the button that asks: this headless one has answered, so the
    // audit shows the button too, beside the answer's words.
    const askButton = (shown) => dash.evaluate((on) => { document.getElementById('notify-button').hidden = !on; }, shown);
    const asked = await tid(dash, 'notify-button').isVisible();
    await askButton(true);
    await audit(t, dash, 'dashboard-waiting-list-alert', { patient: false });
    await askButton(asked);
    await setHidden(dash, false);
    // The message composer to the waiting patient, with its ready-made messages, once it has sent.
    await item.locator('[data-testid="message-toggle"]').click();
    await item.locator('[data-testid="canned-message"]').first().waitFor({ timeout: WAIT_MS });
    await item.locator('[data-testid="message-input"]').fill('The doctor is running ten minutes late.');
    await item.locator('[data-testid="message-send"]').click();
    await visible(guest, 'lobby-message');
    await item.locator('[data-testid="message-sent"]').filter({ hasText: /\S/ }).waitFor({ timeout: WAIT_MS });
    await audit(t, dash, 'dashboard-message-composer', { patient: false });
    await audit(t, guest, 'patient-waiting-message');

    // Reduced motion and a dark scheme, on the waiting page.
    await t.check('reduced_motion_and_dark_scheme_are_honoured', async () => {
        await guest.emulateMedia({ reducedMotion: 'reduce', colorScheme: 'dark' });
        const got = await guest.evaluate(() => ({
            anim: getComputedStyle(document.querySelector('.pulse')).animationName,
            bg: getComputedStyle(document.documentElement).backgroundColor,
        }));
        const bad = (await axe(guest)).map((v) => `dark: ${v}`);
        await guest.emulateMedia({ reducedMotion: 'no-preference', colorScheme: 'light' });
        const light = await guest.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
        assert(got.anim === 'none', `the waiting pulse still moves (${got.anim}) with reduced motion`);
        assert(got.bg !== light, `the page stays ${light} in a dark scheme`);
        assert(bad.length === 0, bad.join('; '));
    });

    // A second patient on a network that carries no call: plain words, then turned away.
    const net = await t.party('patient-network', PHONE);
    await net.context.addInitScript(NO_RELAY);
    const far = await patientOpen(net, link);
    await click(far, 'join-button');
    await visible(far, 'waiting');
    await visible(far, 'network-help', 20000);
    await audit(t, far, 'patient-network');

    // The clinician joins the call from the dashboard and lets the first patient in.
    const host = await hostJoin(clin, link);
    await visible(host, 'admit-button');
    await audit(t, host, 'dashboard-call-knock', { patient: false });
    await guest.locator('[data-testid="waiting"]').waitFor({ state: 'visible' });
    const first = host.locator('.knock', { hasText: 'Ann Keys' }).locator('[data-testid="admit-button"]');
    await (await first.count() ? first : tid(host, 'admit-button').first()).click();
    await videoFlowing(guest, 25000).catch((e) => { throw new Fail(`patient: ${e.message}`); });
    await t.check('video_has_a_text_alternative_of_who_is_shown', async () => {
        const said = await textOf(tid(guest, 'people-text'));
        assert(/Dr Test/.test(said), `the text of who is shown reads "${said}"`);
    });
    await audit(t, guest, 'patient-call');
    await audit(t, host, 'dashboard-call', { patient: false });

    await t.check('keyboard_in_the_call_space_enter_escape', async () => {
        await tabTo(guest, 'mute-button', 30);
        await guest.keyboard.press('Space');
        await until(() => guest.evaluate(() => document.getElementById('app').dataset.muted === 'true'), 'Space did not mute');
        await guest.keyboard.press('Space');
        await tabTo(guest, 'chat-button', 6);
        await guest.keyboard.press('Enter');
        await until(() => tid(guest, 'chat-button').getAttribute('aria-expanded').then((v) => v === 'true'), 'Enter did not open the chat');
        await guest.keyboard.press('Escape');
        await until(() => tid(guest, 'chat-button').getAttribute('aria-expanded').then((v) => v === 'false'), 'Escape did not close the chat');
    });

    // The patient's connection drops for a moment.
    // (Chromium's offline emulation leaves open WebSockets alone, so they are closed too.)
    await pat.context.setOffline(true);
    await guest.evaluate(() => {
        for (const ws of window.__e2e.sockets) if (ws.readyState <= WebSocket.OPEN) ws.close(4000, 'e2e: network dropped');
    });
    await guest.locator('[data-testid="banner"][data-state="reconnecting"]').waitFor({ timeout: WAIT_MS });
    await audit(t, guest, 'patient-reconnecting');
    await pat.context.setOffline(false);
    await guest.locator('[data-testid="banner"]').waitFor({ state: 'hidden', timeout: 25000 });

    // The second patient is turned away; then the clinician ends the call.
    await tid(host, 'deny-button').first().click();
    await far.locator('[data-testid="call-ended"][data-reason="denied"]').waitFor({ timeout: WAIT_MS });
    await audit(t, far, 'patient-turned-away');
    await click(host, 'end-button');
    await guest.locator('[data-testid="call-ended"]').waitFor({ timeout: WAIT_MS });
    await audit(t, guest, 'patient-call-ended');

    // The dashboard's reports page.
    await click(dash, 'reports-button');
    await visible(dash, 'report-table', 20000);
    await audit(t, dash, 'dashboard-reports', { patient: false });
    await click(dash, 'reports-button');
    checkProblems(clin, pat, net);
}

// --- 3. blocked devices, dead links, the language's source -----------------------------------

async function otherStates(t) {
    const pat = await t.party('patient-blocked', PHONE);
    const page = pat.page;
    await page.goto(cfg.baseUrl + '/join', { waitUntil: 'domcontentloaded' });
    await visible(page, 'call-ended');
    await audit(t, page, 'patient-link-invalid');
    await page.goto(cfg.baseUrl + '/join#' + 'Z'.repeat(43), { waitUntil: 'domcontentloaded' });
    await page.reload({ waitUntil: 'domcontentloaded' }); // the fragment alone does not reload
    await page.locator('[data-testid="call-ended"][data-reason="invalid"]').waitFor({ timeout: WAIT_MS });
    await audit(t, page, 'patient-link-unknown');

    // The camera and microphone blocked in the browser.
    const made = await fetchRoom({});
    await pat.context.clearPermissions();
    await page.goto(made.guest_url, { waitUntil: 'domcontentloaded' });
    await page.reload({ waitUntil: 'domcontentloaded' });
    await visible(page, 'media-help');
    await audit(t, page, 'patient-devices-blocked');

    await t.check('language_from_the_room_then_the_browser_then_the_device', async () => {
        const welsh = await fetchRoom({ language: 'cy' });
        const a = await t.party('patient-cy', PHONE);
        await a.page.goto(welsh.guest_url, { waitUntil: 'domcontentloaded' });
        await until(() => a.page.evaluate(() => document.documentElement.lang === 'cy'), 'a room in Welsh did not open in Welsh');
        const polish = await t.browser.newContext({ viewport: PHONE, ignoreHTTPSErrors: true, locale: 'pl-PL' });
        try {
            const p = await polish.newPage();
            await p.goto(made.guest_url, { waitUntil: 'domcontentloaded' });
            await until(() => p.evaluate(() => document.documentElement.lang === 'pl'), 'a pl-PL browser did not get Polish');
            await setLang(p, 'ar');
            await p.reload({ waitUntil: 'domcontentloaded' });
            await until(() => p.evaluate(() => document.documentElement.lang === 'ar' && document.documentElement.dir === 'rtl'),
                'the choice of Arabic was not remembered on the device');
        } finally {
            await polish.close().catch(() => {});
        }
    });
}

// --- 4. the dashboard's tools: label, hand-over, invite ---------------------------------------

/*
 * Dr Ames (teams Clinic and Renal; Dr Bell is in Clinic) makes a consultation for three in Clinic
 * on the dashboard, then opens its tools at once: the label editor, the hand-over form listing
 * Dr Bell, and the invite panel with a link made for an interpreter.
 */
async function dashboardTools(t) {
    assert(cfg.amesEmail, 'no VC_AMES_EMAIL: e2e.sh sets up the clinic team');
    const clin = await t.party('clinician-team', DESKTOP);
    const dash = clin.page;
    await login(clin, cfg.amesEmail);
    await (await visible(dash, 'new-room-team')).selectOption('Clinic');
    await (await visible(dash, 'new-room-capacity')).selectOption('3');
    await createRoom(clin);
    const item = dash.locator('[data-testid="room-item"]').first();
    await item.waitFor({ timeout: WAIT_MS });
    await click(dash, 'invite-toggle');
    await (await visible(dash, 'invite-name')).fill('Interpreter');
    await click(dash, 'invite-create');
    await visible(dash, 'invite-link');
    await item.locator('[data-testid="label-edit"]').click();
    await item.locator('[data-testid="label-input"]').fill('10:30 follow-up');
    await item.locator('[data-testid="handover-toggle"]').click();
    await until(() => item.locator('[data-testid="handover-select"] option').allTextContents().then((o) => o.includes('Dr Bell')),
        'the hand-over form never listed Dr Bell', 5000);
    await audit(t, dash, 'dashboard-label-handover-invite', { patient: false });
}

/* A Welsh catalogue served without one key: the page shows that key in English and records it. */
async function fallback(t) {
    const welsh = await fetchRoom({ language: 'cy' });
    const p = await t.party('patient-fallback', PHONE);
    const lacking = { ...catalogues.cy };
    delete lacking['preview.join'];
    await p.context.route('**/i18n/cy.json', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(lacking) }));
    await p.page.goto(welsh.guest_url, { waitUntil: 'domcontentloaded' });
    const join = await visible(p.page, 'join-button');
    assert((await p.page.evaluate(() => document.documentElement.lang)) === 'cy', 'the page is not in Welsh');
    const said = await textOf(join);
    assert(said === catalogues.en['preview.join'], `the join button reads "${said}", want English "${catalogues.en['preview.join']}"`);
    const lacks = await p.page.evaluate(async () => (await import('/js/i18n.js')).missingKeys());
    assert(lacks.includes('cy:preview.join'), `the page recorded ${JSON.stringify(lacks)} as missing`);
    const heading = await textOf(p.page.locator('.panel-preview h2'));
    assert(heading === catalogues.cy['preview.title'], `the rest stays Welsh: "${heading}"`);
}

async function fetchRoom(extra) {
    const made = await api('POST', '/api/v1/rooms', { capacity: 2, ttl: 600, ...extra });
    assert(made.status === 201, `POST /api/v1/rooms: ${made.status} ${JSON.stringify(made.body)}`);
    return made.body;
}

async function keysWalked() {
    const lacks = [...missing];
    assert(lacks.length === 0, `keys looked up that a catalogue lacks: ${lacks.slice(0, 10).join(', ')}`);
    console.log(`#   ${used.size} of ${Object.keys(catalogues.en).length} keys drawn in the states walked, in ${LANGS.length} languages`);
}

export const tests = [
    { name: 'catalogues_have_every_key_the_same_placeholders_and_no_unused_key', fn: catalogueKeys },
    { name: 'patient_and_dashboard_states_accessible_in_every_language', fn: walk, timeout: 150000 },
    { name: 'blocked_devices_dead_links_and_the_language_source', fn: otherStates, timeout: 60000 },
    { name: 'a_key_missing_from_a_catalogue_shows_in_english', fn: fallback, timeout: 30000 },
    { name: 'dashboard_label_handover_and_invite_accessible', fn: dashboardTools, timeout: 60000 },
    { name: 'no_key_missing_in_any_state_walked', fn: keysWalked },
];
