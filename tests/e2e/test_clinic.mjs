// Browser tests of the clinic day: the live waiting area, knock alerts in a background tab, admit
// and messages from the list, a feed that survives a dropped network, hand-over, and the
// patient's side of the wait (told, how long, place in the queue, kept across a reopen).
import crypto from 'node:crypto';
import {
    cfg,
    PHONE,
    DESKTOP,
    assert,
    Fail,
    sleep,
    tid,
    visible,
    click,
    textOf,
    shoot,
    login,
    createRoom,
    patientOpen,
    videoFlowing,
    api,
    checkProblems,
    setHidden,
    WAIT_MS,
} from './lib.mjs';

// Runs before the page's scripts: records every Web Notification the page makes (a subclass of
// the real one, so permission and the rest stay the browser's) and every oscillator it starts
// (the knock chime is made with WebAudio).
const SPIES = `(() => {
    const notes = [];
    Object.defineProperty(window, '__notes', { value: notes, enumerable: false });
    window.__sounds = 0;
    const Real = window.Notification;
    if (Real) {
        window.Notification = class extends Real {
            constructor(title, options) {
                super(title, options);
                notes.push({ title, body: (options && options.body) || '', note: this });
            }
        };
    }
    const Osc = window.OscillatorNode;
    if (Osc) {
        const start = Osc.prototype.start;
        Osc.prototype.start = function (...args) {
            window.__sounds++;
            return start.apply(this, args);
        };
    }
})();`;

const tag = () => crypto.randomBytes(3).toString('hex');

// A clinician signed in on the dashboard, with notifications granted and the spies in place.
async function clinician(t, name, email) {
    const party = await t.party(name, DESKTOP, ['notifications']);
    await party.context.addInitScript(SPIES);
    await login(party, email);
    await feedLive(party.page);
    return party;
}

async function feedLive(page, timeout = WAIT_MS) {
    await page.locator('[data-testid="feed-status"][data-state="online"]').waitFor({ timeout }).catch(() => {
        throw new Fail(`the dashboard's feed-status never read online within ${timeout} ms`);
    });
}

function roomItem(page, id) {
    return page.locator(`[data-testid="room-item"][data-room="${id}"]`);
}

// Polls fn() until it returns a truthy value; fails with why() after timeout ms.
async function until(fn, why, timeout = WAIT_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Fail(await why());
        await sleep(200);
    }
}

// Holds back what the dashboard's feed socket receives until window.__releaseFeed() (the page's
// only socket while no call is open).
async function holdFeed(page) {
    const held = await page.evaluate(() => {
        const open = window.__e2e.sockets.filter((w) => w.readyState === WebSocket.OPEN);
        if (open.length !== 1) return open.length;
        const ws = open[0];
        const deliver = ws.onmessage;
        const queue = [];
        ws.onmessage = (ev) => queue.push(ev);
        window.__releaseFeed = () => {
            ws.onmessage = deliver;
            for (const ev of queue) deliver.call(ws, ev);
        };
        return 1;
    });
    assert(held === 1, `the dashboard has ${held} open sockets, want its feed's only`);
}

const spied = (page) => page.evaluate(() => ({ sounds: window.__sounds, notes: window.__notes.map((n) => ({ title: n.title, body: n.body })) }));

// A room made with the API key for team Clinic (its waiting area is Dr Ames's and Dr Bell's).
async function teamRoom(label) {
    const res = await api('POST', '/api/v1/rooms', { team: 'Clinic', label });
    assert(res.status === 201 && res.body && res.body.id, `POST /api/v1/rooms {team: Clinic}: ${res.status} ${res.text}`);
    return res.body;
}

async function endRoom(id) {
    await api('DELETE', `/api/v1/rooms/${id}`).catch(() => {});
}

// The patient opens the link and knocks; returns the page once it shows the waiting screen.
async function knock(t, name, link) {
    const pat = await t.party(name, PHONE);
    const page = await patientOpen(pat, link);
    await click(page, 'join-button');
    await visible(page, 'waiting');
    return { pat, page };
}

// --- 1. a knock on a background tab, a message, admit from the list -----------------------------

async function backgroundKnock(t) {
    const ames = await clinician(t, 'clinician', cfg.amesEmail);
    const dash = ames.page;
    const label = `10:30 Mrs K, follow-up ${tag()}`;
    await t.check('dashboard_offers_a_team_for_a_clinician_in_two', async () => {
        const team = await visible(dash, 'new-room-team');
        const options = await team.locator('option').allTextContents();
        assert(options.includes('Clinic') && options.includes('Renal'), `new-room-team offers ${options.join(', ')}`);
        await team.selectOption('Clinic');
    });
    await (await visible(dash, 'new-room-label')).fill(label);
    const link = await createRoom(ames);
    const item = dash.locator('[data-testid="room-item"]', { has: dash.locator('[data-testid="room-label"]', { hasText: label }) });
    await item.waitFor({ timeout: WAIT_MS }).catch(() => {
        throw new Fail(`no room-item labelled "${label}" in the list after creating it`);
    });
    const roomId = await item.getAttribute('data-room');
    try {
        await setHidden(dash, true);
        const { pat, page: guest } = await knock(t, 'patient', link);
        const waiting = item.locator('[data-testid="waiting-item"]');
        await waiting.waitFor({ timeout: WAIT_MS }).catch(() => {
            throw new Fail('the knock never showed in the list of the backgrounded dashboard');
        });
        await t.check('background_knock_counts_in_title_badge_notification_and_sound', async () => {
            await until(async () => /^\(1\) /.test(await dash.title()), async () => `the title reads "${await dash.title()}", want "(1) ..."`);
            await visible(dash, 'alert-badge', 2000);
            const s = await until(async () => {
                const v = await spied(dash);
                return v.notes.length > 0 && v.sounds > 0 ? v : null;
            }, async () => `no notification and chime: ${JSON.stringify(await spied(dash))}`);
            assert(s.notes.some((n) => n.body.includes(label)), `the notification says ${JSON.stringify(s.notes)}, want the label`);
        });
        await t.check('patient_is_told_the_clinician_knows', async () => {
            await guest.locator('[data-testid="waiting-notified"][data-notified="true"]').waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('the waiting page never said the clinician was told');
            });
        });
        await t.check('list_shows_wait_ticking_and_the_device_check', async () => {
            const since = waiting.locator('[data-testid="waiting-since"]');
            const a = await textOf(since);
            assert(/\d/.test(a), `waiting-since reads "${a}"`);
            // Ticks once a second; a loaded machine may hold a page's timers back a little.
            await until(async () => (await textOf(since)) !== a, async () => {
                const at = await since.getAttribute('datetime');
                const now = await dash.evaluate(() => new Date().toISOString());
                return `waiting-since still reads "${a}" after 5 s: not ticking (since ${at}, page clock ${now})`;
            }, 5000);
            await waiting.getByText(/Relay reachable over UDP/).waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('the list never showed the patient\'s relay check');
            });
        });
        await shoot(dash, 'dashboard-waiting-list');
        await shoot(guest, 'patient-waiting-notified');

        await t.check('message_reaches_waiting_page_as_text_and_is_announced', async () => {
            const text = '<b>x</b> The clinic is running 10 minutes late';
            await waiting.locator('[data-testid="message-toggle"]').click();
            const canned = await waiting.locator('[data-testid="canned-message"]').count();
            assert(canned > 0, 'the message box offers no ready-made messages');
            await waiting.locator('[data-testid="message-input"]').fill(text);
            await waiting.locator('[data-testid="message-send"]').click();
            await waiting.locator('[data-testid="message-sent"]').filter({ hasText: /Sent/ }).waitFor({ timeout: WAIT_MS }).catch(async () => {
                throw new Fail(`the message was not sent: "${await textOf(waiting.locator('[data-testid="message-error"]'))}"`);
            });
            const shown = tid(guest, 'lobby-message').first();
            await shown.waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('the message never showed on the waiting page');
            });
            const got = await guest.evaluate(() => {
                const region = document.querySelector('[data-testid="lobby-messages"]');
                return {
                    live: region && region.getAttribute('aria-live'),
                    text: region ? region.textContent : '',
                    bold: region ? region.querySelectorAll('b').length : -1,
                };
            });
            assert(got.live === 'polite' || got.live === 'assertive', `the messages region has aria-live="${got.live}"`);
            assert(got.text.includes(text), `the live region holds "${got.text}", want the literal "${text}"`);
            assert(got.bold === 0, `the message made ${got.bold} <b> element(s): it was rendered as HTML`);
            await shoot(guest, 'patient-waiting-message');
        });

        await t.check('clicking_the_notification_focuses_the_consultation', async () => {
            const inRoom = await dash.evaluate((id) => {
                const n = window.__notes[window.__notes.length - 1];
                if (!n || typeof n.note.onclick !== 'function') return 'no onclick';
                n.note.onclick();
                const a = document.activeElement;
                const room = a && a.closest('[data-testid="room-item"]');
                return room ? room.dataset.room === id : 'focus is not in a room';
            }, roomId);
            assert(inRoom === true, `after the notification click: ${inRoom}`);
        });

        await setHidden(dash, false);
        await t.check('looking_at_the_tab_clears_the_count', async () => {
            await until(async () => !/^\(\d+\)/.test(await dash.title()), async () => `the title still reads "${await dash.title()}"`, 5000);
            await tid(dash, 'alert-badge').waitFor({ state: 'hidden', timeout: 5000 });
        });

        await waiting.locator('[data-testid="list-admit-button"]').click();
        await videoFlowing(guest, 20000).catch((e) => {
            throw new Fail(`patient after an admit from the list: ${e.message}`);
        });
        await videoFlowing(dash, 20000).catch((e) => {
            throw new Fail(`clinician after an admit from the list: ${e.message}`);
        });
        await until(async () => (await item.getAttribute('data-state')) === 'in-call',
            async () => `the room's entry reads ${await item.getAttribute('data-state')}, want in-call`);
        checkProblems(ames, pat);
    } finally {
        await dash.evaluate(async (id) => {
            const me = await (await fetch('/api/v1/me')).json();
            await fetch(`/api/v1/rooms/${id}`, { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf } });
        }, roomId).catch(() => {});
    }
}

// --- 2. the feed drops, a patient knocks meanwhile; a second tab admits; hand-over ----------------

async function feedSurvives(t) {
    const label = `E2E offline ${tag()}`;
    const room = await teamRoom(label);
    const rooms = [room.id];
    try {
        const ames = await clinician(t, 'clinician', cfg.amesEmail);
        const dash = ames.page;
        const item = roomItem(dash, room.id);
        await item.waitFor({ timeout: WAIT_MS });

        // The network goes, and the feed's socket with it (offline emulation leaves open sockets).
        await ames.context.setOffline(true);
        await dash.evaluate(() => {
            for (const ws of window.__e2e.sockets) if (ws.readyState <= 1) ws.close(4000, 'e2e: network dropped');
        });
        await t.check('feed_shows_offline_while_the_socket_is_down', async () => {
            const status = await dash.locator('[data-testid="feed-status"][data-state="offline"]').waitFor({ timeout: 5000 })
                .then(() => tid(dash, 'feed-status'), () => null);
            assert(status, 'feed-status never said offline');
            const text = await textOf(status);
            assert(/offline|reconnect/i.test(text), `feed-status reads "${text}"`);
        });
        await shoot(dash, 'dashboard-feed-offline');
        const before = await spied(dash);
        const { pat, page: guest } = await knock(t, 'patient', room.guest_url);
        await sleep(1000);
        await ames.context.setOffline(false);

        await t.check('feed_reconnects_and_the_knock_made_offline_shows_and_alerts', async () => {
            await feedLive(dash, 20000);
            await item.locator('[data-testid="waiting-item"]').waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('after the reconnect the list does not show the patient who knocked meanwhile');
            });
            await until(async () => (await spied(dash)).sounds > before.sounds, async () => 'no chime for the knock made while offline', 5000);
            const said = () => dash.evaluate(() => document.getElementById('announcer').textContent);
            await until(async () => (await said()).includes(label),
                async () => `the live region says "${await said()}", want the knock in "${label}"`, 3000);
        });

        // Dr Bell sees the patient too, and will try to let them in after Dr Ames did: Dr Bell's
        // feed is held back meanwhile, so the list still offers the admit.
        const bell = await clinician(t, 'colleague', cfg.bellEmail);
        const bellItem = roomItem(bell.page, room.id);
        await bellItem.locator('[data-testid="waiting-item"]').waitFor({ timeout: WAIT_MS });
        await holdFeed(bell.page);
        const tab = await ames.context.newPage();
        await t.check('a_second_tab_sees_the_room_and_admits_from_its_list', async () => {
            await tab.goto(cfg.baseUrl + '/', { waitUntil: 'domcontentloaded' });
            const other = roomItem(tab, room.id).locator('[data-testid="list-admit-button"]');
            await other.waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('the second tab does not list the waiting patient');
            });
            await other.click();
            await until(async () => (await item.getAttribute('data-state')) === 'in-call',
                async () => `the first tab's entry reads ${await item.getAttribute('data-state')}, want in-call`);
        });
        await t.check('colleague_admitting_second_is_told_who_did', async () => {
            await bellItem.locator('[data-testid="list-admit-button"]').click();
            await sleep(300);
            await bell.page.evaluate(() => window.__releaseFeed());
            const notice = bellItem.locator('[data-testid="room-notice"]');
            await until(async () => /Dr Ames has already admitted this patient/.test(await textOf(notice)),
                async () => `Dr Bell's room-notice reads "${await textOf(notice)}"`);
            const facts = await textOf(bellItem.locator('.room-facts'));
            assert(/Dr Ames/.test(facts), `Dr Bell's list says "${facts}", want who took the patient (Dr Ames)`);
        });
        await videoFlowing(guest, 20000).catch((e) => {
            throw new Fail(`patient after the second tab's admit: ${e.message}`);
        });

        await t.check('hand_over_reaches_the_colleague_with_an_alert', async () => {
            const bellBefore = await spied(bell.page);
            await item.locator('[data-testid="handover-toggle"]').click();
            const select = item.locator('[data-testid="handover-select"]');
            await select.locator('option', { hasText: 'Dr Bell' }).waitFor({ state: 'attached', timeout: WAIT_MS });
            await select.selectOption({ label: 'Dr Bell' });
            await item.locator('[data-testid="handover-button"]').click();
            await until(async () => /with you/.test(await textOf(roomItem(bell.page, room.id).locator('.room-facts'))),
                async () => `Dr Bell's entry says "${await textOf(roomItem(bell.page, room.id).locator('.room-facts'))}"`);
            await until(async () => (await spied(bell.page)).sounds > bellBefore.sounds, async () => 'Dr Bell got no chime for the hand-over', 5000);
        });
        await t.check('sound_toggle_is_remembered', async () => {
            await (await visible(bell.page, 'alert-toggle')).uncheck();
            await bell.page.reload({ waitUntil: 'domcontentloaded' });
            await feedLive(bell.page);
            const on = await tid(bell.page, 'alert-toggle').isChecked();
            assert(!on, 'the sound toggle is back on after a reload');
        });
        await t.check('knock_in_another_room_shows_over_the_call', async () => {
            const otherLabel = `E2E other ${tag()}`;
            const other = await teamRoom(otherLabel);
            rooms.push(other.id);
            await knock(t, 'patient-2', other.guest_url);
            const banner = await visible(tab, 'knock-banner').catch(() => {
                throw new Fail('the tab in a call shows no knock-banner for a knock in another room');
            });
            const text = await textOf(banner);
            assert(text.includes(otherLabel), `knock-banner reads "${text}", want "${otherLabel}"`);
            await shoot(tab, 'dashboard-call-knock-banner');
        });
        checkProblems(ames, pat, bell);
    } finally {
        for (const id of rooms) await endRoom(id);
    }
}

// --- 3. the patient's side: told, queue place, wait kept across a reopen -------------------------

async function placeKept(t) {
    const first = await teamRoom(`E2E queue A ${tag()}`);
    const second = await teamRoom(`E2E queue B ${tag()}`);
    try {
        const a = await knock(t, 'patient-a', first.guest_url);
        const b = await knock(t, 'patient-b', second.guest_url);
        const place = tid(b.page, 'queue-position');
        await t.check('second_patient_is_number_two_in_the_queue', async () => {
            await until(async () => (await place.getAttribute('data-position')) === '2' && (await place.isVisible()),
                async () => `queue-position reads "${await textOf(place)}"`);
            const text = await textOf(place);
            assert(/number 2/.test(text), `queue-position reads "${text}"`);
            const told = await tid(b.page, 'waiting-notified').getAttribute('data-notified');
            assert(told === 'false', 'the waiting page says the clinician was told while no clinician watches');
            await shoot(b.page, 'patient-waiting-queue');
        });

        let placeNow = place;
        await t.check('patient_reopening_the_link_keeps_place_and_wait', async () => {
            await sleep(2000);
            // The patient closes the tab, then taps the link in the text message again: a new tab.
            await b.page.close();
            await sleep(1000);
            b.page = await b.pat.context.newPage();
            await b.page.goto(second.guest_url, { waitUntil: 'domcontentloaded' });
            placeNow = tid(b.page, 'queue-position');
            // Straight back to the waiting screen: no Join press, the kept resume token.
            await visible(b.page, 'waiting', WAIT_MS);
            const resumed = await b.page.evaluate(() => window.__e2e.sent.some((m) => m.type === 'join' && m.resume));
            assert(resumed, 'the reopened page joined without its resume token');
            await until(async () => (await placeNow.getAttribute('data-position')) === '2' && (await placeNow.isVisible()),
                async () => `after reopening, queue-position reads "${await textOf(placeNow)}"`);
            // The device keeps a hash of the link's token as the key, never the token itself.
            const kept = await b.page.evaluate(() => JSON.stringify({ ...localStorage }));
            const token = second.guest_url.split('#')[1];
            assert(!kept.includes(token), 'the link token is kept in localStorage');
            // Over 3 s waited (2 s before closing, 1 s closed): the wait did not start again.
            const time = await textOf(tid(b.page, 'waiting-time'));
            const min = /(\d+) minutes?/.exec(time);
            const sec = /(\d+) seconds?/.exec(time);
            const secs = (min ? Number(min[1]) * 60 : 0) + (sec ? Number(sec[1]) : 0);
            assert(secs >= 3, `after reopening the page says "${time}": the wait started again`);
        });

        await t.check('queue_moves_up_when_the_first_patient_leaves', async () => {
            await click(a.page, 'hangup-button');
            await until(async () => !(await placeNow.isVisible()), async () => `queue-position still reads "${await textOf(placeNow)}"`);
        });

        await t.check('patient_is_told_once_a_clinician_watches', async () => {
            await clinician(t, 'colleague', cfg.bellEmail);
            await b.page.locator('[data-testid="waiting-notified"][data-notified="true"]').waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail('the waiting page never said the clinician was told after Dr Bell opened the dashboard');
            });
        });
        checkProblems(a.pat, b.pat);
    } finally {
        await endRoom(first.id);
        await endRoom(second.id);
    }
}

export const tests = [
    { name: 'clinic_background_knock_alerts_message_and_admit_from_list', fn: backgroundKnock, timeout: 90000 },
    { name: 'clinic_feed_survives_dropped_network_second_tab_and_handover', fn: feedSurvives, timeout: 90000 },
    { name: 'clinic_patient_queue_place_kept_across_reopen', fn: placeKept, timeout: 60000 },
];
