// A relay-only Chromium call (clinician + patient, as tests/e2e test 2) that a fault scenario
// steers: prints "ready" once both sides decode relayed video, then waits for "go EPOCH_MS" on
// stdin (the moment the shell injected the fault) and checks what MODE expects:
//   recover  vc-turn was killed and restarted: both sides ICE-restart, read "relayed" again and
//            decode advancing video within RECOVER_MS of the kill, without a page reload.
//   steady   both daemons reloaded (SIGHUP): video keeps advancing on both sides with no stall
//            over STALL_MS, no peer-away, no WebSocket closed, no ICE restart, for WATCH_MS.
//   signalkill  the signalling node was killed (kill -9): both sides join again (resume) through
//            the load balancer within RECOVER_MS, and relayed video never stalls over STALL_MS.
// Prints "ok NAME" / "FAIL NAME: why" lines and "N passed, N failed". Environment as tests/e2e.
import readline from 'node:readline';
import {
    DESKTOP,
    PHONE,
    Fail,
    assert,
    sleep,
    tid,
    visible,
    click,
    textOf,
    launchBrowser,
    newParty,
    closeParties,
    login,
    createRoom,
    hostJoin,
    patientOpen,
    videoFlowing,
    pathReads,
    selectedPair,
    localUfrag,
    reporter,
} from '../e2e/lib.mjs';

const MODE = process.argv[2];
const RECOVER_MS = 10000;
const STALL_MS = 1500;
const WATCH_MS = 8000;
const SAMPLE_MS = 250;
const results = reporter();
const report = results.report;

// Lines from the shell, one promise per line; bounded by the caller.
const lines = [];
const lineWaiters = [];
readline.createInterface({ input: process.stdin }).on('line', (l) => {
    const w = lineWaiters.shift();
    if (w) w(l);
    else lines.push(l);
});
function nextLine(ms) {
    if (lines.length) return Promise.resolve(lines.shift());
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Fail(`no command on stdin within ${ms} ms`)), ms);
        lineWaiters.push((l) => {
            clearTimeout(t);
            resolve(l);
        });
    });
}

// Decoded frames, ICE state and page facts of one side, in one evaluate.
function facts(page) {
    return page.evaluate(() => {
        const v = document.querySelector('[data-testid="remote-video"]');
        const list = window.__e2e.pcs;
        const pc = list.length ? list[list.length - 1].pc : null;
        const away = [...document.querySelectorAll('.tile-away')].filter((e) => !e.hidden).length;
        return {
            frames: v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
            t: v ? v.currentTime : -1,
            ice: pc ? pc.iceConnectionState : 'none',
            open: window.__e2e.sockets.filter((w) => w.readyState === WebSocket.OPEN).length,
            closed: window.__e2e.sockets.filter((w) => w.readyState === WebSocket.CLOSED).length,
            joins: window.__e2e.sent.filter((m) => m.type === 'join').length,
            away,
            marker: window.__faultMarker || '',
            ended: !!document.querySelector('[data-testid="call-ended"]:not([hidden])') &&
                document.querySelector('[data-testid="call-ended"]').offsetParent !== null,
        };
    });
}

async function setUp(t) {
    const clin = await t.party('clinician', DESKTOP);
    await login(clin);
    const link = await createRoom(clin, { relayOnly: true });
    const host = await hostJoin(clin, link);
    const pat = await t.party('patient', PHONE);
    const guest = await patientOpen(pat, link);
    await click(guest, 'join-button');
    await visible(guest, 'waiting');
    await click(host, 'admit-button');
    for (const [who, page] of [['patient', guest], ['clinician', host]]) {
        await videoFlowing(page, 20000).catch((e) => {
            throw new Fail(`${who} before the fault: ${e.message}`);
        });
        const got = await pathReads(page, ['direct', 'relayed'], 20000);
        const pair = await selectedPair(page);
        assert(got === 'relayed' && pair.local === 'relay',
            `${who} before the fault: path "${got}", selected local candidate ${pair.local}`);
        await page.evaluate(() => {
            window.__faultMarker = 'still-here';
        });
    }
    return { sides: [['clinician', host], ['patient', guest]], clin, pat };
}

// recover: polls until, on both sides, the ICE ufrag changed (an ICE restart ran), ICE is connected
// over a relay candidate, connection-path reads relayed and decoded frames advance.
async function recover(sides, t0) {
    const before = {};
    for (const [who, page] of sides) before[who] = await localUfrag(page);
    const done = {};
    const deadline = t0 + RECOVER_MS + 10000; // measure late recoveries too, then fail them
    const last = {};
    while (Object.keys(done).length < sides.length && Date.now() < deadline) {
        for (const [who, page] of sides) {
            if (done[who]) continue;
            const f = await facts(page);
            const ufrag = await localUfrag(page);
            const pair = await selectedPair(page);
            const path = (await tid(page, 'connection-path').first().getAttribute('data-path')) || '';
            const prev = last[who];
            last[who] = { ...f, ufrag, pair, path };
            if (!prev || prev.ice !== f.ice || prev.ufrag !== ufrag || prev.pair.local !== pair.local)
                console.log(`#   ${who} +${Date.now() - t0} ms: ice ${f.ice}, ufrag ${ufrag}, ` +
                    `pair ${pair.local}->${pair.remote}, frames ${f.frames}, t ${f.t.toFixed(1)}`);
            if (prev && ufrag && ufrag !== before[who] && pair.local === 'relay' &&
                /\brelayed\b/.test(path) && (f.ice === 'connected' || f.ice === 'completed') &&
                f.frames > prev.frames && f.t > prev.t)
                done[who] = Date.now() - t0;
        }
        await sleep(SAMPLE_MS);
    }
    const ms = Math.max(...sides.map(([who]) => done[who] ?? Infinity));
    console.log(`# recovery_ms ${Number.isFinite(ms) ? ms : 'none'} ` +
        sides.map(([who]) => `${who}=${done[who] ?? 'none'}`).join(' '));
    for (const [who] of sides) {
        const l = last[who] || {};
        assert(done[who] !== undefined,
            `${who} did not recover within ${(deadline - t0) / 1000} s: ufrag ${before[who]}->${l.ufrag}, ` +
            `ice ${l.ice}, pair ${l.pair && l.pair.local}, path "${l.path}", frames ${l.frames}, ` +
            `currentTime ${l.t}`);
    }
    assert(ms <= RECOVER_MS, `recovery took ${ms} ms, want <= ${RECOVER_MS}`);
}

// Samples both sides for watchMs; frames must never stall for more than STALL_MS. With rejoin
// (the signalling node was killed), each side must have joined again and be connected, with no
// peer shown away, within RECOVER_MS; otherwise (a reload) nothing may be closed or joined again.
async function watch(sides, t0, { rejoin, watchMs }) {
    const first = {}, lastAdvance = {}, prev = {}, worst = {}, back = {};
    for (const [who, page] of sides) {
        first[who] = await facts(page);
        first[who].ufrag = await localUfrag(page);
        prev[who] = first[who];
        lastAdvance[who] = Date.now();
        worst[who] = 0;
    }
    while (Date.now() < t0 + watchMs) {
        await sleep(SAMPLE_MS);
        for (const [who, page] of sides) {
            const f = await facts(page);
            const now = Date.now();
            if (f.frames > prev[who].frames) lastAdvance[who] = now;
            worst[who] = Math.max(worst[who], now - lastAdvance[who]);
            if (rejoin) {
                if (!back[who] && f.joins > first[who].joins && f.open >= 1 && f.away === 0) back[who] = now - t0;
            } else {
                assert(f.away === 0, `${who} shows peer-away ("Reconnecting…") ${now - t0} ms after the reload`);
                assert(f.closed === first[who].closed && f.open === first[who].open,
                    `${who}: WebSocket closed after the reload (open ${first[who].open}->${f.open})`);
                assert(f.joins === first[who].joins, `${who} sent join again after the reload`);
            }
            prev[who] = f;
        }
    }
    console.log(`# longest_frame_gap_ms ` + sides.map(([who]) => `${who}=${worst[who]}`).join(' '));
    if (rejoin) console.log(`# rejoined_ms ` + sides.map(([who]) => `${who}=${back[who] ?? 'never'}`).join(' '));
    for (const [who, page] of sides) {
        assert(worst[who] <= STALL_MS, `${who}: no new frame for ${worst[who]} ms, want <= ${STALL_MS}`);
        assert(prev[who].frames > first[who].frames + 50,
            `${who}: frames ${first[who].frames}->${prev[who].frames} over ${watchMs} ms`);
        assert(prev[who].ice === 'connected' || prev[who].ice === 'completed', `${who}: ICE ${prev[who].ice}`);
        if (rejoin) {
            assert(back[who] !== undefined && back[who] <= RECOVER_MS,
                `${who} did not resume within ${RECOVER_MS} ms (joins ${first[who].joins}->${prev[who].joins}, open ${prev[who].open})`);
        } else {
            const ufrag = await localUfrag(page);
            assert(ufrag === first[who].ufrag, `${who}: ICE restarted (ufrag ${first[who].ufrag}->${ufrag})`);
        }
    }
}

async function noReload(sides) {
    for (const [who, page] of sides) {
        const f = await facts(page);
        assert(f.marker === 'still-here', `${who}'s page reloaded`);
        assert(!f.ended, `${who}'s page shows call-ended`);
    }
}

const parties = [];
const t = {
    async party(name, viewport) {
        const p = await newParty(browser, name, viewport);
        parties.push(p);
        return p;
    },
};
let browser;
try {
    assert(['recover', 'steady', 'signalkill'].includes(MODE), `usage: node call.mjs recover|steady|signalkill`);
    browser = await launchBrowser();
    const { sides } = await setUp(t);
    report('fault_call_relay_only_video_before_fault', null);
    console.log('ready');
    const line = await nextLine(60000);
    const m = /^go (\d+)$/.exec(line.trim());
    assert(m, `bad command "${line}"`);
    const t0 = Number(m[1]);
    const name = {
        recover: 'turn_kill_call_recovers_by_ice_restart_within_10s',
        steady: 'reload_call_video_keeps_advancing_no_peer_away',
        signalkill: 'signal_kill_both_resume_within_10s_video_never_stalls',
    }[MODE];
    try {
        await (MODE === 'recover' ? recover(sides, t0)
            : watch(sides, t0, { rejoin: MODE === 'signalkill', watchMs: MODE === 'signalkill' ? 14000 : WATCH_MS }));
        report(name, null);
    } catch (e) {
        report(name, e);
    }
    try {
        await noReload(sides);
        report(`${MODE}_call_pages_not_reloaded`, null);
    } catch (e) {
        report(`${MODE}_call_pages_not_reloaded`, e);
    }
} catch (e) {
    report('fault_call_relay_only_video_before_fault', e);
    console.log('ready'); // let the shell go on; the failure is counted
}
await closeParties(...parties);
if (browser) await browser.close().catch(() => {});
results.summary();
process.exit(0);
