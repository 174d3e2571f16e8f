// The consultation reports over the real server: a scripted day of calls in the team "Reports"
// (known waits between knock and admit, known call lengths, a relayed call, a call without media,
// no-shows) must come back as the report's figures, in JSON and CSV; a clinician outside the team
// sees none of it; bad ranges get 400.
import {
    cfg, request, createRoom, connect, login, assert, eq, show, Fail, sleep,
    CHROME_WINDOWS_UA, FIREFOX_LINUX_UA,
} from './lib.mjs';
import { PRECHECK } from './test_ws.mjs';

const REPORT = '/api/v1/reports/consultations';
// Opera on ChromeOS: no other test's browsers, so its calls show in the API key's report.
const OPERA_CROS_UA = 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 ' +
    '(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/112.0.0.0';
// How far a measured wait may exceed the scripted one (two messages' travel on a busy machine).
const WAIT_SLACK_MS = 300;

function today() {
    return new Date().toISOString().slice(0, 10);
}

// One consultation: the host joins; unless noGuest, a guest knocks, the host admits (or denies)
// it waitMs after the knock; the two report path in stats (none when path is null) and stay
// together holdMs; then the host ends the room.
async function consult(auth, body, { waitMs = 0, holdMs = 0, path = null, deny = false, noGuest = false, ua = CHROME_WINDOWS_UA, guestUa = FIREFOX_LINUX_UA }) {
    const room = await createRoom(body, auth, false);
    const host = await connect({ name: 'report-host', ua });
    await host.joinAs(room.hostToken);
    if (!noGuest) {
        const guest = await connect({ name: 'report-guest', ua: guestUa });
        eq((await guest.join(room.guestToken, { precheck: PRECHECK })).type, 'waiting', 'the guest waits');
        const k = await host.waitFor('knock');
        await sleep(waitMs);
        host.send({ type: deny ? 'deny' : 'admit', peer: k.peer });
        if (!deny) {
            await guest.waitFor('joined');
            await host.waitFor('peer-joined');
            if (path) {
                for (const c of [host, guest]) c.send({ type: 'stats', path, rtt_ms: 30, loss_pct: 0, bitrate_kbps: 600 });
            }
            await sleep(holdMs);
        }
    }
    host.send({ type: 'end' });
    await host.waitFor('room-ended');
    return room;
}

// The report of one day for auth ({key} or {cookie}); resolves the day's object.
async function dayOf(auth, date) {
    const r = await request({ path: `${REPORT}?from=${date}&to=${date}`, ...auth });
    eq(r.status, 200, `report status (${show(r.text)})`);
    eq(r.json.days.length, 1, 'days in a one-day report');
    eq(r.json.days[0].date, date, 'the day');
    return r.json.days[0];
}

function within(got, want, what) {
    assert(typeof got === 'number' && got >= want && got <= want + WAIT_SLACK_MS,
        `${what}: ${got} ms, want ${want} to ${want + WAIT_SLACK_MS}`);
}

async function scriptedDay() {
    const dana = await login(cfg.clinicians.dana);
    const danaAuth = { cookie: dana.cookie, csrf: dana.csrf };
    const key = { key: true };
    const team = { team: 'Reports' };
    const day = today();
    // Five consultations of the team (three of Dana's, two of the platform's for the team), and
    // one of the platform's outside it, all at once.
    await Promise.all([
        consult(danaAuth, {}, { waitMs: 300, holdMs: 1500, path: 'p2p' }),
        consult(key, team, { waitMs: 1500, holdMs: 2500, path: 'relay' }),
        consult(danaAuth, {}, { waitMs: 900, holdMs: 1500 }), // together, but no media path
        consult(danaAuth, {}, { noGuest: true }), // the patient never came
        consult(key, team, { waitMs: 200, deny: true }), // turned away
        consult(key, {}, { waitMs: 100, holdMs: 1200, path: 'p2p', ua: OPERA_CROS_UA, guestUa: OPERA_CROS_UA }),
    ]);
    if (today() !== day) throw new Fail('the scripted day crossed UTC midnight: run it again');

    const d = await dayOf({ cookie: dana.cookie }, day);
    console.log(`#   the team's day: ${JSON.stringify(d)}`);
    eq([d.consultations, d.completed, d.no_shows, d.media_failed], [5, 3, 2, 1],
        `consultations, completed, no-shows, media failed (${show(d)})`);
    // Waits 300, 900, 1500 ms: nearest-rank p50 is the second, p90 the third.
    within(d.wait_ms.p50, 900, 'wait p50');
    within(d.wait_ms.p90, 1500, 'wait p90');
    // Calls of 1, 1 and 2 whole seconds together.
    eq(d.call_s, { p50: 1, p90: 2 }, 'call length p50, p90');
    eq([d.direct_pct, d.relayed_pct], [50, 50], 'direct and relayed shares of the calls with a path');
    eq(d.browsers, { chrome: 5, firefox: 3 }, 'browsers (hosts of all five, three guests admitted)');
    eq(d.os, { windows: 5, linux: 3 }, 'OS families');

    // The same day as CSV.
    const csv = await request({ path: `${REPORT}?from=${day}&to=${day}`, cookie: dana.cookie, headers: { Accept: 'text/csv' } });
    eq(csv.status, 200, 'CSV status');
    eq(csv.headers['content-type'], 'text/csv; charset=utf-8', 'CSV content type');
    const lines = csv.text.split('\r\n');
    eq(lines.length, 3, `CSV lines (header, the day, the final CRLF): ${show(csv.text)}`);
    const head = lines[0].split(','), row = lines[1].split(',');
    eq(head.length, row.length, 'CSV columns');
    const col = (name) => row[head.indexOf(name)];
    eq([col('date'), col('consultations'), col('completed'), col('no_shows'), col('media_failed')],
        [day, '5', '3', '2', '1'], 'CSV counts');
    eq([col('wait_ms_p50'), col('call_s_p90'), col('direct_pct'), col('relayed_pct')],
        [String(d.wait_ms.p50), '2', '50.0', '50.0'], 'CSV figures');
    eq([col('browser_chrome'), col('browser_firefox'), col('os_windows'), col('os_linux'), col('os_other')],
        ['5', '3', '5', '3', '0'], 'CSV mix');

    // Outside the team: none of it. The API key: all of it, the other team's call included.
    const erin = await login(cfg.clinicians.erin);
    const e = await dayOf({ cookie: erin.cookie }, day);
    eq([e.consultations, e.browsers], [0, {}], 'a clinician of another team sees no consultation');
    const all = await dayOf(key, day);
    assert(all.consultations >= 6 && all.completed >= 4, `the API key's day: ${show(all)}`);
    assert(all.browsers.opera >= 2 && all.os.chromeos >= 2, `the API key sees the call outside the team: ${show(all)}`);
}

async function badRanges() {
    const day = today();
    const bad = [
        '', `?from=${day}`, `?to=${day}`, '?from=2026-02-30&to=2026-03-01', `?from=${day}&to=2020-01-01`,
        '?from=2025-01-01&to=2026-02-05', `?from=${day}&to=${day}&from=${day}`, `?from=${day}&to=${day}&team=x`,
        '?from=26-01-01&to=2026-01-02',
    ];
    for (const q of bad) {
        const r = await request({ path: REPORT + q, key: true });
        eq([r.status, r.json && r.json.error.code], [400, 'bad_request'], `GET ${REPORT}${q}`);
    }
    eq((await request({ path: `${REPORT}?from=${day}&to=${day}` })).status, 401, 'without credentials');
    const long = await request({ path: `${REPORT}?from=2025-01-01&to=2026-02-04`, key: true });
    eq([long.status, long.json.days.length], [200, 400], 'a report of 400 days');
}

export const tests = [
    { name: 'reports_figures_of_a_scripted_day_in_json_and_csv_and_scoped_to_the_team', fn: scriptedDay },
    { name: 'reports_bad_ranges_get_400', fn: badRanges },
];
