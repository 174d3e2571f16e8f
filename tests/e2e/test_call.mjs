// Browser tests of a consultation: admit and video, relay-only, deny, dropped connection, expired link.
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
    hostJoin,
    patientOpen,
    videoFlowing,
    pathReads,
    selectedPair,
    localUfrag,
    metric,
    api,
    checkProblems,
    WAIT_MS,
} from './lib.mjs';

// Logs in, creates a room, joins as host, brings the patient to the waiting screen. Shots are
// taken when `shots` is true; inTab: the clinician joins through the host link in a second tab
// instead of the dashboard's own call view. Returns {clin, pat, host, guest, link}.
async function upToKnock(t, { relayOnly = false, shots = false, inTab = false } = {}) {
    const clin = await t.party('clinician', DESKTOP);
    clin.shootLogin = shots;
    await login(clin);
    const link = await createRoom(clin, { relayOnly, shotName: shots ? 'dashboard-link' : null });
    const host = await hostJoin(clin, link, { inTab });
    const pat = await t.party('patient', PHONE);
    const guest = await patientOpen(pat, link, shots ? 'patient-preview' : null);
    await click(guest, 'join-button');
    await visible(guest, 'waiting');
    if (shots) await shoot(guest, 'patient-waiting');
    await visible(host, 'admit-button');
    // The lobby hands out short-lived relay credentials: the patient's TURN check runs while it
    // waits and the clinician's knock card is updated with the result.
    await host.getByText(/Relay reachable over UDP/).first().waitFor({ timeout: WAIT_MS })
        .catch(() => { throw new Fail('the knock card never showed the relay check result'); });
    if (shots) await shoot(host, 'clinician-knock');
    return { clin, pat, host, guest, link };
}

// Admits the waiting patient and waits until both sides decode the other's video.
async function admitAndConnect(host, guest) {
    await click(host, 'admit-button');
    await videoFlowing(guest, 20000).catch((e) => {
        throw new Fail(`patient side: ${e.message}`);
    });
    await videoFlowing(host, 20000).catch((e) => {
        throw new Fail(`clinician side: ${e.message}`);
    });
}

// Reads connection-path on both sides once it leaves "connecting"; checks it against getStats().
async function pathOnBoth(host, guest, want) {
    for (const [who, page] of [['clinician', host], ['patient', guest]]) {
        const got = await pathReads(page, ['direct', 'relayed'], 20000);
        const pair = await selectedPair(page);
        const viaRelay = pair.local === 'relay' || pair.remote === 'relay';
        assert(
            got === want,
            `${who}: connection-path reads "${got}", want "${want}" ` +
                `(selected pair ${pair.local} -> ${pair.remote}, state ${pair.state})`
        );
        if (pair.local)
            assert(
                viaRelay === (want === 'relayed'),
                `${who}: connection-path reads "${got}" but the selected pair is ${pair.local} -> ${pair.remote}`
            );
    }
}

async function callControls(page, who) {
    for (const id of ['mute-button', 'camera-button', 'hangup-button'])
        await visible(page, id, 5000).catch(() => {
            throw new Fail(`${who}: no visible ${id} in the call`);
        });
}

// --- 1. admit, video, direct ---------------------------------------------------------------------

async function admitDirect(t) {
    const { clin, pat, host, guest } = await upToKnock(t, { shots: true });
    await admitAndConnect(host, guest);
    await pathOnBoth(host, guest, 'direct');
    await callControls(host, 'clinician');
    await callControls(guest, 'patient');
    await sleep(500);
    await shoot(host, 'clinician-call');
    await shoot(guest, 'patient-call');

    await t.check('patient_hangup_shows_call_ended', async () => {
        await click(guest, 'hangup-button');
        const ended = await visible(guest, 'call-ended');
        const text = await textOf(ended);
        assert(text.length > 0, 'call-ended is empty after hanging up');
        await shoot(guest, 'call-ended-hangup');
    });
    checkProblems(clin, pat);
}

// --- 2. relay only -------------------------------------------------------------------------------

async function relayOnly(t) {
    const { clin, pat, host, guest } = await upToKnock(t, { relayOnly: true });
    const before = await metric('vc_turn_relayed_bytes_total');
    await admitAndConnect(host, guest);
    await pathOnBoth(host, guest, 'relayed');
    for (const [who, page] of [['clinician', host], ['patient', guest]]) {
        const pair = await selectedPair(page);
        assert(pair.policy === 'relay', `${who}: RTCPeerConnection iceTransportPolicy is "${pair.policy}", want "relay"`);
        assert(
            pair.local === 'relay',
            `${who}: selected local candidate is ${pair.local}, want relay (relay-only hides the IP)`
        );
    }
    await sleep(3000);
    const after = await metric('vc_turn_relayed_bytes_total');
    assert(
        after - before > 100000,
        `vc_turn_relayed_bytes_total rose by ${after - before} bytes during the call, want > 100000`
    );
    console.log(`#   relayed ${after - before} bytes`);

    await t.check('host_end_for_everyone_ends_patient_call', async () => {
        await click(host, 'end-button');
        const ended = await visible(guest, 'call-ended');
        const text = await textOf(ended);
        assert(/end|over|finish|close/i.test(text), `patient's call-ended says "${text}", want it to say the consultation ended`);
        await shoot(guest, 'call-ended-by-host');
        await visible(host, 'call-ended', 5000).catch(async () => {
            await host.screenshot({ path: `${cfg.shots}/debug-host-after-end.png` }).catch(() => {});
            throw new Fail("the clinician's page shows no call-ended after end for everyone");
        });
    });
    checkProblems(clin, pat);
}

// --- 3. deny -------------------------------------------------------------------------------------

async function deny(t) {
    const { clin, pat, host, guest } = await upToKnock(t, { inTab: true });
    await click(host, 'deny-button');
    const ended = await visible(guest, 'call-ended');
    const text = await textOf(ended);
    assert(
        /(not|n't|unable to)\b.{0,40}\b(admit|let (you )?in|join)|denied|declined|refused/i.test(text),
        `denied patient's call-ended says "${text}", want a message that they were not let in`
    );
    await shoot(guest, 'call-ended-denied');
    const left = await tid(host, 'admit-button').count();
    let knocks = left;
    for (let i = 0; i < 20 && knocks > 0; i++) {
        await sleep(250);
        knocks = await tid(host, 'admit-button').filter({ visible: true }).count();
    }
    assert(knocks === 0, `the clinician still sees ${knocks} admit-button(s) after denying the only knock`);
    checkProblems(clin, pat);
}

// --- 4. dropped connection -----------------------------------------------------------------------

async function reconnect(t) {
    const { clin, pat, host, guest } = await upToKnock(t);
    await admitAndConnect(host, guest);
    await pathReads(guest, ['direct', 'relayed'], 20000);

    let navigations = 0;
    guest.on('framenavigated', (f) => {
        if (f === guest.mainFrame()) navigations++;
    });
    await guest.evaluate(() => {
        window.__e2eMarker = 'still-here';
    });
    const dropAt = await guest.evaluate(() => Date.now());
    const ufragBefore = await localUfrag(guest);

    // The network goes away and the signalling connection with it: new connections fail while
    // offline (Chromium's offline emulation leaves open WebSockets alone, so close them too).
    await pat.context.setOffline(true);
    const closed = await guest.evaluate(() => {
        let n = 0;
        for (const ws of window.__e2e.sockets)
            if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
                ws.close(4000, 'e2e: network dropped');
                n++;
            }
        return n;
    });
    assert(closed > 0, 'the patient page had no open WebSocket to drop');
    await sleep(3000);
    await pat.context.setOffline(false);

    // Within 20 s: a new WebSocket is open and has sent join with resume; path and video are back.
    const deadline = Date.now() + 20000;
    let st;
    for (;;) {
        st = await guest.evaluate((t0) => {
            const open = window.__e2e.sockets.filter((w) => w.readyState === WebSocket.OPEN).length;
            const joins = window.__e2e.sent.filter((m) => m.type === 'join' && m.t > t0);
            const list = window.__e2e.pcs;
            const ice = list.length ? list[list.length - 1].pc.iceConnectionState : 'none';
            return { open, joins: joins.length, resumed: joins.some((m) => m.resume), ice };
        }, dropAt);
        if (st.open > 0 && st.resumed) break;
        if (Date.now() > deadline)
            throw new Fail(
                `no resumed signalling within 20 s of reconnecting: ${st.open} open socket(s), ` +
                    `${st.joins} join(s) sent since the drop, resume ${st.resumed}`
            );
        await sleep(250);
    }
    await pathReads(guest, ['direct', 'relayed'], 20000).catch((e) => {
        throw new Fail(`patient after the drop: ${e.message}`);
    });
    await videoFlowing(guest, 20000).catch((e) => {
        throw new Fail(`patient after the drop: ${e.message}`);
    });
    await videoFlowing(host, 20000).catch((e) => {
        throw new Fail(`clinician after the drop: ${e.message}`);
    });
    const marker = await guest.evaluate(() => window.__e2eMarker);
    assert(marker === 'still-here' && navigations === 0, `the patient page reloaded (${navigations} navigation(s))`);
    const ended = await tid(guest, 'call-ended').filter({ visible: true }).count();
    assert(ended === 0, 'the patient page shows call-ended after recovering');

    // A resume restarts ICE only when ICE is not connected: media that survived the drop is left
    // alone (two sides restarting at once, as after a signalling node is lost, froze video).
    const iceAtResume = st.ice;
    const mustRestart = iceAtResume !== 'connected' && iceAtResume !== 'completed';
    await t.check(mustRestart ? 'patient_resume_runs_ice_restart' : 'patient_resume_leaves_connected_ice_alone', async () => {
        let ufrag = '';
        for (let i = 0; i < 20; i++) {
            ufrag = await localUfrag(guest);
            if (!mustRestart && ufrag !== ufragBefore)
                throw new Fail(`ICE was ${iceAtResume} at the resume, yet it restarted (ufrag ${ufragBefore} -> ${ufrag})`);
            if (mustRestart && ufrag && ufrag !== ufragBefore) return;
            await sleep(250);
        }
        if (!mustRestart) return;
        const kinds = await guest.evaluate(
            (t0) => window.__e2e.sent.filter((m) => m.type === 'signal' && m.t > t0).map((m) => m.kind),
            dropAt
        );
        throw new Fail(
            `ICE was ${iceAtResume} at the resume, yet the ufrag is still ${ufrag || '(none)'} (no ICE restart); ` +
                `signals sent since the drop: ${kinds.join(',') || 'none'}`
        );
    });
    checkProblems(clin, pat);
}

// --- 5. expired link -----------------------------------------------------------------------------

async function expired(t) {
    const res = await api('POST', '/api/v1/rooms', { ttl: 1 });
    assert(res.status === 201 && res.body && res.body.guest_url, `POST /api/v1/rooms: ${res.status} ${res.text}`);
    const url = res.body.guest_url;
    assert(url.startsWith(cfg.baseUrl + '/join#'), `guest_url ${url} is not under ${cfg.baseUrl}/join#`);
    await sleep(2200);
    const pat = await t.party('patient', PHONE);
    const page = pat.page;
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    // The page may tell at once, or only after the patient asks to join.
    const first = await Promise.race([
        visible(page, 'call-ended').then(() => 'ended', () => null),
        visible(page, 'join-button').then(() => 'join', () => null),
    ]);
    assert(first, 'the expired link shows neither join-button nor call-ended within 15 s');
    if (first === 'join') await click(page, 'join-button');
    const ended = await visible(page, 'call-ended');
    const text = await textOf(ended);
    assert(
        /expired|no longer (valid|active|available)|not valid|invalid/i.test(text),
        `expired link: call-ended says "${text}", want it to say the link expired or is not valid`
    );
    const waiting = await tid(page, 'waiting').filter({ visible: true }).count();
    assert(waiting === 0, 'the expired link shows the waiting screen too');
    await shoot(page, 'expired-link');
    checkProblems(pat);
}

// The join link's token leaves the address bar and the history entry as soon as the page has it;
// a reload in the same tab still joins (the tab keeps it), another tab without the link does not.
async function tokenLeavesAddressBar(t) {
    const res = await api('POST', '/api/v1/rooms', { ttl: 600 });
    assert(res.status === 201 && res.body && res.body.guest_url, `POST /api/v1/rooms: ${res.status} ${res.text}`);
    const token = res.body.guest_url.split('#')[1];
    const pat = await t.party('patient', PHONE);
    const page = pat.page;
    await patientOpen(pat, res.body.guest_url);
    const where = () => page.evaluate(() => ({ hash: location.hash, href: location.href }));
    let w = await where();
    assert(w.hash === '' && !w.href.includes(token), `after loading the link the address bar reads ${w.href}`);
    await click(page, 'join-button');
    await visible(page, 'waiting');
    w = await where();
    assert(w.hash === '' && !w.href.includes(token), `after joining the address bar reads ${w.href}`);
    // A reload joins again: the tab kept the token (and, the patient having waited, goes straight
    // back to its place in the queue without a second Join).
    await page.reload({ waitUntil: 'domcontentloaded' });
    await visible(page, 'waiting');
    w = await where();
    assert(w.hash === '', `after the reload the address bar reads ${w.href}`);
    // Another tab of the same browser, opening the bare page, has no token.
    const other = await pat.context.newPage();
    await other.goto(`${cfg.baseUrl}/join`, { waitUntil: 'domcontentloaded' });
    const ended = await visible(other, 'call-ended');
    const text = await textOf(ended);
    assert(/invalid|expired/i.test(text), `a new tab on /join says "${text}", want the invalid-link message`);
    await other.close();
    checkProblems(pat);
    await api('DELETE', `/api/v1/rooms/${res.body.id}`);
}

export const tests = [
    { name: 'clinician_admits_patient_both_see_video_direct', fn: admitDirect, timeout: 70000 },
    { name: 'relay_only_call_reads_relayed_and_turn_counts_bytes', fn: relayOnly, timeout: 60000 },
    { name: 'denied_patient_sees_not_admitted_message', fn: deny, timeout: 40000 },
    { name: 'patient_recovers_from_dropped_connection_without_reload', fn: reconnect, timeout: 80000 },
    { name: 'expired_link_shows_clear_message', fn: expired, timeout: 30000 },
    { name: 'join_token_leaves_the_address_bar_and_survives_a_reload', fn: tokenLeavesAddressBar, timeout: 40000 },
];
