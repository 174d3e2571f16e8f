// Browser tests of calls of more than two: clinician, patient and an interpreter invited by link
// see each other on every pair (also relay only), chat and a 5 MB file end to end, the security
// code, removal, bad input, a patient without a camera, video off, screen sharing, low data.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import {
    cfg, PHONE, DESKTOP, assert, Fail, sleep, tid, visible, click, textOf, shoot, login, createRoom,
    hostJoin, videoFlowing, pathReads, api, checkProblems, WAIT_MS,
} from './lib.mjs';
import { filesUnder, findIn } from '../signal/scan.mjs';
import { SCREENS as DEFAULT_SCREENS } from './test_screens.mjs';

const MB5 = 5 * 1024 * 1024;
const PATIENT = 'Mrs Kowalska';
const INTERPRETER = 'Interpreter (Polish)';

// --- helpers ---------------------------------------------------------------------------------

// Opens a join link, types a display name (when given) and joins.
async function joinAs(party, url, name = '') {
    const page = party.page;
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await visible(page, 'join-button');
    if (name) await (await visible(page, 'name-input')).fill(name);
    await click(page, 'join-button');
    return page;
}

// The remote videos of a page: [{peer, w, t, frames}].
function sampleVideos(page) {
    return page.evaluate(() => [...document.querySelectorAll('[data-testid="remote-video"]')].map((v) => ({
        peer: v.dataset.peer,
        w: v.videoWidth,
        t: v.currentTime,
        frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
    })));
}

// Every one of n remote videos on the page decodes frames (size known, frames and time advancing
// over 1.5 s). Polls until timeout.
async function allVideosFlowing(page, who, n, timeout = 25000) {
    const deadline = Date.now() + timeout;
    let a = [];
    let b = [];
    for (;;) {
        a = await sampleVideos(page);
        await sleep(1500);
        b = await sampleVideos(page);
        const good = b.filter((v) => {
            const before = a.find((x) => x.peer === v.peer);
            return before && v.w > 0 && v.t > before.t && (v.frames < 0 || v.frames > before.frames);
        });
        if (b.length === n && good.length === n) return;
        if (Date.now() > deadline) break;
    }
    throw new Fail(`${who}: ${b.length} remote video(s), want ${n} decoding: ${JSON.stringify(b)}`);
}

// Lets in the next person waiting, as the clinician's page shows them.
async function admitNext(host, title) {
    const card = host.locator('.knock').filter({ hasText: title }).first();
    await card.waitFor({ timeout: WAIT_MS }).catch(() => {
        throw new Fail(`no knock card "${title}" on the clinician's page`);
    });
    await card.locator('[data-testid="admit-button"]').click();
}

// {peer id -> name} of the tiles on a page.
function tileNames(page) {
    return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid="tile"]')]
        .map((t) => [t.dataset.peer, t.querySelector('.tag-name').textContent])));
}

// Opens the security panel and reads {other's name -> code} once every pair has one.
async function securityCodes(page, who, n) {
    if (!(await tid(page, 'security-panel').isVisible())) await click(page, 'security-button');
    const deadline = Date.now() + WAIT_MS;
    let codes = {};
    for (;;) {
        codes = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid="security-item"]')]
            .map((li) => [li.querySelector('.security-who').textContent.replace(/^With /, ''), li.querySelector('[data-testid="security-code"]').dataset.code])));
        if (Object.keys(codes).length === n && Object.values(codes).every((c) => /^\d{6}$/.test(c))) return codes;
        if (Date.now() > deadline) throw new Fail(`${who}: security codes ${JSON.stringify(codes)}, want ${n}`);
        await sleep(300);
    }
}

// What went over a page's signalling sockets: {bytes (both ways), frames, marked (frames holding
// the test's marker)}.
function socketTraffic(page) {
    return page.evaluate(() => {
        const all = [...window.__e2e.sent, ...window.__e2e.received];
        return { bytes: all.reduce((n, m) => n + (m.len || 0), 0), frames: all.length, marked: all.filter((m) => m.canary).length };
    });
}

// Sends a raw vc.v1 frame on the page's open socket; resolves the next error code it receives.
async function rawErrorFor(page, frame) {
    const before = await page.evaluate(() => window.__e2e.received.length);
    await page.evaluate((f) => {
        const ws = window.__e2e.sockets.filter((s) => s.readyState === WebSocket.OPEN).pop();
        ws.send(JSON.stringify(f));
    }, frame);
    for (let i = 0; i < 40; i++) {
        const code = await page.evaluate((n) => {
            const e = window.__e2e.received.slice(n).find((m) => m.type === 'error');
            return e ? e.code : null;
        }, before);
        if (code) return code;
        await sleep(100);
    }
    throw new Fail(`no error answered ${JSON.stringify(frame)}`);
}

// Saves the file behind the page's newest Save link, as its user would: {size, sha} of what the
// browser wrote to disk.
async function downloadedHash(page, who, sender) {
    const link = tid(page, 'chat-download').last();
    await link.waitFor({ timeout: 90000 }).catch(async () => {
        const state = await tid(page, 'chat-item').last().innerText().catch(() => '(no chat item)');
        const err = await sender.locator('[data-testid="chat-panel"] .form-error').first().innerText().catch(() => '');
        throw new Fail(`${who}: the file never arrived (no Save link); its last entry reads "${state.replace(/\s+/g, ' ')}"; the sender says "${err}"`);
    });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), link.click()]);
    const buf = fs.readFileSync(await download.path());
    await download.delete();
    return { size: buf.length, sha: crypto.createHash('sha256').update(buf).digest('hex'), name: download.suggestedFilename() };
}

// A file of n bytes with the marker in it, and its SHA-256.
function markedFile(n, marker) {
    const buf = crypto.randomBytes(n);
    for (let at = 0; at + marker.length < n; at += 256 * 1024) buf.write(marker, at, 'ascii');
    return { buf, sha: crypto.createHash('sha256').update(buf).digest('hex') };
}

// --- 1. three people: invite, every pair, names, security codes, chat, a file, bad input, remove ---

async function threePeople(t) {
    const tag = crypto.randomBytes(6).toString('hex');
    const canary = `CANARY-MESH-${tag}`;
    const clin = await t.party('clinician', DESKTOP, ['clipboard-read', 'clipboard-write']);
    await login(clin);
    await clin.page.selectOption('[data-testid="new-room-capacity"]', '3');
    const link = await createRoom(clin);
    const host = await hostJoin(clin, link);
    await visible(host, 'connection-path');

    // The clinician invites the interpreter from the call.
    const tools = host.locator('.host-panel');
    await tools.locator('[data-testid="invite-toggle"]').click();
    await tools.locator('[data-testid="invite-name"]').fill(INTERPRETER);
    await tools.locator('[data-testid="invite-create"]').click();
    const inviteUrl = await tools.locator('[data-testid="invite-link"]').getAttribute('href');
    assert(/\/join#[0-9a-f]{32}$/.test(inviteUrl) && !inviteUrl.endsWith(link.split('#')[1]), `invite link ${inviteUrl}`);
    await shoot(host, 'mesh-invite');

    const pat = await t.party('patient', PHONE);
    const patient = await joinAs(pat, link, PATIENT);
    await admitNext(host, PATIENT);
    const int = await t.party('interpreter', PHONE);
    const interp = await joinAs(int, inviteUrl);
    await admitNext(host, `${INTERPRETER} is waiting (invited)`);

    for (const [who, page] of [['clinician', host], ['patient', patient], ['interpreter', interp]]) await allVideosFlowing(page, who, 2);
    const names = Object.values(await tileNames(host)).sort();
    assert(JSON.stringify(names) === JSON.stringify([INTERPRETER, PATIENT].sort()), `the clinician's name tags: ${names}`);
    const patNames = Object.values(await tileNames(patient)).sort();
    assert(JSON.stringify(patNames) === JSON.stringify(['Dr Test', INTERPRETER].sort()), `the patient's name tags: ${patNames}`);
    const who = await textOf(tid(host, 'people-text'));
    assert(who.includes(PATIENT) && who.includes(INTERPRETER), `the text of who is shown: "${who}"`);
    await shoot(host, 'mesh-call-clinician');
    await shoot(patient, 'mesh-call-patient');

    await t.check('mesh_every_pair_shows_the_same_security_code', async () => {
        const c = await securityCodes(host, 'clinician', 2);
        const p = await securityCodes(patient, 'patient', 2);
        const i = await securityCodes(interp, 'interpreter', 2);
        assert(c[PATIENT] === p['Dr Test'], `clinician-patient: ${c[PATIENT]} and ${p['Dr Test']}`);
        assert(c[INTERPRETER] === i['Dr Test'], `clinician-interpreter: ${c[INTERPRETER]} and ${i['Dr Test']}`);
        assert(p[INTERPRETER] === i[PATIENT], `patient-interpreter: ${p[INTERPRETER]} and ${i[PATIENT]}`);
        assert(new Set([c[PATIENT], c[INTERPRETER], p[INTERPRETER]]).size === 3, 'two pairs share a code');
        const words = await textOf(tid(patient, 'security-panel'));
        assert(/encrypted/i.test(words) && /not recorded|nothing is recorded/i.test(words) && /direct/i.test(words), `the security panel says "${words}"`);
        await shoot(interp, 'mesh-security');
        for (const page of [host, patient, interp]) await click(page, 'security-close');
    });

    await t.check('mesh_chat_and_a_5_mb_file_reach_every_page_and_never_the_server', async () => {
        for (const page of [host, patient, interp]) await page.evaluate((c) => { window.__e2e.canary = c; }, canary);
        const before = await Promise.all([host, patient, interp].map(socketTraffic));
        await click(patient, 'chat-button');
        await (await visible(patient, 'chat-input')).fill(`Hello from the patient ${canary}`);
        await click(patient, 'chat-send');
        for (const [name, page] of [['clinician', host], ['interpreter', interp]]) {
            const badge = await visible(page, 'chat-unread').catch(() => { throw new Fail(`${name}: no unread count on the Chat button`); });
            // The badge shows the number; a screen reader hears it in words (visually hidden).
            const count = (await badge.locator('[aria-hidden="true"]').textContent()) || '';
            assert(count.trim() === '1', `${name}: unread count "${count}" ("${await textOf(badge)}")`);
            await click(page, 'chat-button');
            await tid(page, 'chat-list').getByText(`Hello from the patient ${canary}`).waitFor({ timeout: WAIT_MS }).catch(() => {
                throw new Fail(`${name}: the message never showed`);
            });
        }
        const privacy = await textOf(tid(patient, 'chat-privacy'));
        assert(/nothing is stored/i.test(privacy), `the chat panel says "${privacy}"`);
        const file = markedFile(MB5, canary);
        const path = `${os.tmpdir()}/scan-${tag}.bin`;
        fs.writeFileSync(path, file.buf);
        const sentAt = Date.now();
        await tid(host, 'chat-file').setInputFiles(path); // the browser reads it later: keep it till the end
        for (const [name, page] of [['patient', patient], ['interpreter', interp]]) {
            const got = await downloadedHash(page, name, host);
            assert(got.size === MB5 && got.sha === file.sha, `${name}: the file arrived with ${got.size} bytes, SHA-256 ${got.sha}, want ${file.sha}`);
            assert(got.name === `scan-${tag}.bin`, `${name}: the file is saved as ${got.name}`);
        }
        console.log(`#   the 5 MB file reached both pages in ${((Date.now() - sentAt) / 1000).toFixed(1)} s`);
        fs.unlinkSync(path);
        await shoot(patient, 'mesh-chat');
        const after = await Promise.all([host, patient, interp].map(socketTraffic));
        for (let k = 0; k < 3; k++) {
            const grew = after[k].bytes - before[k].bytes;
            assert(grew < 200 * 1024, `page ${k}: ${grew} bytes went over the signalling socket during the chat and the file`);
            assert(after[k].marked === 0, `page ${k}: ${after[k].marked} signalling frame(s) held the chat's or the file's marker`);
        }
        console.log(`#   signalling bytes during the 5 MB file: ${after.map((a, k) => a.bytes - before[k].bytes).join(', ')}`);
        // The clinician copies the chat for the record.
        await click(host, 'chat-copy');
        const copied = await host.evaluate(() => navigator.clipboard.readText());
        assert(copied.includes(`Hello from the patient ${canary}`) && copied.includes(`scan-${tag}.bin`), `copied chat: ${copied.slice(0, 200)}`);
        await sleep(500);
        const files = [cfg.signalMeta, cfg.signalLog, cfg.dataDir].flatMap(filesUnder);
        assert(files.length >= 2, `found no server files to search (${files.join(', ')})`);
        const hits = findIn(files, [{ label: 'chat or file marker', value: canary }, { label: 'file name', value: `scan-${tag}` },
            { label: 'typed display name', value: 'Kowalska' }, { label: 'invite name', value: 'Polish' }]);
        assert(hits.length === 0, `found ${hits.join('; ')}`);
        for (const page of [host, patient, interp]) await click(page, 'chat-close');
    });

    await t.check('mesh_bad_input_gets_clear_errors_and_the_call_goes_on', async () => {
        for (const page of [host, patient, interp]) if (await tid(page, 'chat-panel').isVisible()) await click(page, 'chat-close');
        // A full room: no invite.
        const tools = host.locator('.host-panel');
        await tools.locator('[data-testid="invite-name"]').fill('Another person');
        await tools.locator('[data-testid="invite-create"]').click();
        await host.getByText(/consultation is full/).first().waitFor({ timeout: WAIT_MS }).catch(() => {
            throw new Fail('the clinician was not told that an invite to a full room is refused');
        });
        const interpId = Object.entries(await tileNames(patient)).find(([, n]) => n === INTERPRETER)[0];
        assert((await rawErrorFor(patient, { type: 'remove', peer: interpId })) === 'forbidden', 'a guest\'s remove');
        assert((await rawErrorFor(host, { type: 'remove', peer: 'abcdefabcdef' })) === 'unknown_peer', 'a remove of nobody');
        await allVideosFlowing(interp, 'interpreter after the refusals', 2, 10000);
    });

    await t.check('mesh_host_removes_the_interpreter_who_is_gone_everywhere', async () => {
        const interpId = Object.entries(await tileNames(host)).find(([, n]) => n === INTERPRETER)[0];
        const tile = host.locator(`[data-testid="tile"][data-peer="${interpId}"]`);
        await tile.locator('[data-testid="remove-button"]').click();
        await tile.locator('[data-testid="remove-confirm"]').click();
        const ended = await visible(interp, 'call-ended');
        assert((await ended.getAttribute('data-reason')) === 'removed',
            `the interpreter's page ended with ${await ended.getAttribute('data-reason')}: "${await textOf(ended)}"`);
        assert(/taken out/i.test(await textOf(ended)), `the interpreter's page says "${await textOf(ended)}"`);
        await shoot(interp, 'mesh-removed');
        for (const [name, page] of [['clinician', host], ['patient', patient]]) {
            await page.locator(`[data-testid="tile"][data-peer="${interpId}"]`).waitFor({ state: 'detached', timeout: WAIT_MS }).catch(() => {
                throw new Fail(`${name}: the interpreter's tile is still there`);
            });
        }
        await allVideosFlowing(host, 'clinician after the removal', 1, 10000);
        // The invite's link is dead, and says what an unknown link says.
        for (const url of [inviteUrl, `${cfg.baseUrl}/join#${crypto.randomBytes(16).toString('hex')}`]) {
            await interp.goto('about:blank'); // a new fragment alone would not load the page again
            await interp.goto(url, { waitUntil: 'domcontentloaded' });
            // The page asks what the link opens before it offers to join (POST /api/v1/link): a
            // dead link ends at once; should the server not say, the join tells.
            await interp.locator('[data-testid="call-ended"]:visible, [data-testid="join-button"]:visible').first().waitFor({ timeout: WAIT_MS });
            if (await tid(interp, 'join-button').isVisible()) await click(interp, 'join-button');
            const e = await visible(interp, 'call-ended');
            const reason = await e.getAttribute('data-reason');
            assert(reason === 'invalid', `${url === inviteUrl ? 'the revoked invite' : 'an unknown token'}: ended with ${reason}`);
        }
    });
    checkProblems(clin, pat, int);
}

// --- 2. relay only on every pair ---------------------------------------------------------------

// Every connected RTCPeerConnection of the page: its policy, selected pair and the types of the
// remote candidates it ever got.
function pairsOf(page) {
    return page.evaluate(async () => {
        const out = [];
        for (const { pc, policy } of window.__e2e.pcs) {
            if (pc.connectionState !== 'connected') continue;
            const stats = await pc.getStats();
            let pair = null;
            const remote = [];
            stats.forEach((s) => {
                if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
                if (s.type === 'remote-candidate') remote.push(s.candidateType);
            });
            out.push({ policy, local: pair && stats.get(pair.localCandidateId).candidateType, remote });
        }
        return out;
    });
}

async function relayOnly(t) {
    const made = await api('POST', '/api/v1/rooms', { relay_only: true, capacity: 4, lobby: false, ttl: 600 });
    assert(made.status === 201, `POST /api/v1/rooms: ${made.status} ${made.text}`);
    const invites = [];
    for (const name of ['Carer', 'Parent']) {
        const inv = await api('POST', `/api/v1/rooms/${made.body.id}/invites`, { role: 'guest', name });
        assert(inv.status === 201, `POST invites: ${inv.status} ${inv.text}`);
        invites.push(inv.body.url);
    }
    const parties = [];
    const pages = [];
    const who = [['clinician', made.body.host_url, DESKTOP], ['patient', made.body.guest_url, PHONE], ['carer', invites[0], PHONE], ['parent', invites[1], PHONE]];
    for (const [name, url, size] of who) {
        const p = await t.party(name, size);
        parties.push(p);
        pages.push([name, await joinAs(p, url)]);
    }
    for (const [name, page] of pages) await allVideosFlowing(page, name, 3, 40000); // four relayed pairs: slower to start on a loaded machine
    for (const [name, page] of pages) {
        assert((await pathReads(page, ['direct', 'relayed'], 20000)) === 'relayed', `${name}: the path does not read relayed`);
        const pairs = await pairsOf(page);
        assert(pairs.length === 3, `${name}: ${pairs.length} connected peer connections, want 3`);
        for (const p of pairs) {
            assert(p.policy === 'relay' && p.local === 'relay', `${name}: a pair with policy ${p.policy} and local ${p.local}`);
            const bad = p.remote.filter((c) => c !== 'relay');
            assert(bad.length === 0, `${name}: remote candidates of type ${bad.join(', ')} reached this page`);
        }
    }
    await shoot(pages[0][1], 'mesh-four-relayed');

    await t.check('mesh_a_dropped_guest_resumes_on_every_pair_of_four', async () => {
        const patient = pages[1][1];
        const t0 = await patient.evaluate(() => Date.now());
        await patient.evaluate(() => {
            for (const ws of window.__e2e.sockets) if (ws.readyState === WebSocket.OPEN) ws.close(4000, 'e2e: network dropped');
        });
        await waitFor(() => patient.evaluate((since) => window.__e2e.sent.some((m) => m.type === 'join' && m.resume && m.t > since), t0),
            'the patient never resumed', 20000);
        for (const [name, page] of pages) await allVideosFlowing(page, `${name} after the patient's resume`, 3, 20000);
        const ended = await tid(patient, 'call-ended').filter({ visible: true }).count();
        assert(ended === 0, 'the patient page ended instead of resuming');
    });
    checkProblems(...parties);
    await api('DELETE', `/api/v1/rooms/${made.body.id}`);
}

// --- 3. no camera, video off, screen sharing, low data -------------------------------------------

// Whether the page's first remote video shows mostly magenta (the shared canvas) just now.
function showsMagenta(page) {
    return tid(page, 'remote-video').first().evaluate((v) => {
        const c = document.createElement('canvas');
        c.width = 32;
        c.height = 32;
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0, 32, 32);
        const d = g.getImageData(0, 0, 32, 32).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 180 && d[i + 1] < 80 && d[i + 2] > 180) n++;
        return n > 600;
    });
}

async function waitFor(fn, what, timeout = WAIT_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
        if (await fn()) return;
        if (Date.now() > deadline) throw new Fail(`${what} within ${timeout / 1000} s`);
        await sleep(250);
    }
}

// The clinician's screen is a magenta canvas: getDisplayMedia cannot show a picker headless.
const FAKE_SCREEN = `(() => {
    if (!navigator.mediaDevices) return;
    navigator.mediaDevices.getDisplayMedia = async () => {
        const c = document.createElement('canvas');
        c.width = 640;
        c.height = 360;
        const g = c.getContext('2d');
        setInterval(() => { g.fillStyle = '#ff00ff'; g.fillRect(0, 0, 640, 360); }, 100);
        g.fillStyle = '#ff00ff';
        g.fillRect(0, 0, 640, 360);
        return c.captureStream(10);
    };
})();`;

async function audioOnly(t) {
    const made = await api('POST', '/api/v1/rooms', { capacity: 2, lobby: false, ttl: 600 });
    assert(made.status === 201, `POST /api/v1/rooms: ${made.status}`);
    const clin = await t.party('clinician', DESKTOP);
    await clin.context.addInitScript(FAKE_SCREEN);
    const host = await joinAs(clin, made.body.host_url);
    // The patient's browser denies the camera (the microphone is allowed).
    const pat = await t.party('patient', PHONE);
    await pat.context.clearPermissions();
    await pat.context.grantPermissions(['microphone'], { origin: cfg.baseUrl });
    await pat.page.goto(made.body.guest_url, { waitUntil: 'domcontentloaded' });
    const state = await pat.page.evaluate(async () => (await navigator.permissions.query({ name: 'camera' })).state);
    assert(state !== 'granted', `the patient's camera permission is ${state}`);
    const note = await visible(pat.page, 'audio-only-note');
    assert(/sound only/i.test(await textOf(note)), `the patient is told "${await textOf(note)}"`);
    await shoot(pat.page, 'mesh-audio-only-preview');
    await click(pat.page, 'join-button');
    const patient = pat.page;
    await videoFlowing(patient, 20000).catch((e) => { throw new Fail(`patient: ${e.message}`); });
    const tile = tid(host, 'tile').first();
    await waitFor(async () => (await tile.getAttribute('data-video')) === 'false', 'the clinician sees no "sound only" on the patient');
    assert(/sound only/i.test(await textOf(tile)), `the patient's tile says "${await textOf(tile)}"`);
    assert(/sound only/.test(await textOf(tid(host, 'people-text'))), 'the text of who is shown does not say sound only');
    await shoot(host, 'mesh-audio-only-clinician');
    await waitFor(() => patient.evaluate(() => window.__e2e.sent.some((m) => m.type === 'stats' && m.video === false)),
        'no stats with video: false from the patient', 12000);

    await t.check('mesh_video_off_and_on_reaches_the_other_side', async () => {
        const their = tid(patient, 'tile').first();
        await click(host, 'camera-button');
        await waitFor(async () => (await their.getAttribute('data-video')) === 'false', 'the patient sees the clinician\'s video off');
        await click(host, 'camera-button');
        await waitFor(async () => (await their.getAttribute('data-video')) === 'true', 'the patient sees the clinician\'s video back');
    });

    await t.check('mesh_screen_sharing_replaces_the_camera_and_switches_back', async () => {
        await click(host, 'share-button');
        await waitFor(() => showsMagenta(patient), 'the patient never saw the shared screen', 15000);
        await click(host, 'share-button');
        await waitFor(async () => !(await showsMagenta(patient)), 'the camera never came back after sharing', 15000);
    });

    await t.check('mesh_weak_outgoing_video_suggests_audio_only', async () => {
        await host.evaluate(async () => {
            for (const { pc } of window.__e2e.pcs) {
                for (const s of pc.getSenders()) {
                    if (!s.track || s.track.kind !== 'video') continue;
                    const p = s.getParameters();
                    if (!p.encodings || !p.encodings.length) continue;
                    p.encodings[0].maxBitrate = 50000;
                    await s.setParameters(p);
                }
            }
        });
        await visible(host, 'low-data-advice', 25000);
        await shoot(host, 'mesh-low-data');
        await click(host, 'low-data-off');
        await waitFor(async () => (await tid(patient, 'tile').first().getAttribute('data-video')) === 'false', 'video off after the suggestion');
    });
    checkProblems(clin, pat);
    await api('DELETE', `/api/v1/rooms/${made.body.id}`);
}

const SCREENS = ['mesh-four-relayed', 'mesh-invite', 'mesh-call-clinician', 'mesh-call-patient', 'mesh-security', 'mesh-chat', 'mesh-removed',
    'mesh-audio-only-preview', 'mesh-audio-only-clinician', 'mesh-low-data'];

async function screenshots() {
    const missing = SCREENS.flatMap((s) => ['phone', 'desktop'].map((size) => `${s}-${size}`))
        .filter((f) => !fs.existsSync(`${cfg.shots}/${f}.png`));
    assert(missing.length === 0, `no screenshot of: ${missing.join(', ')}`);
    assert(!SCREENS.some((s) => DEFAULT_SCREENS.includes(s)), 'a name clashes with the other suite\'s screenshots');
}

export const tests = [
    { name: 'mesh_three_people_invite_every_pair_chat_file_codes_remove', fn: threePeople, timeout: 180000 },
    { name: 'mesh_relay_only_four_people_every_pair_relayed', fn: relayOnly, timeout: 90000 },
    { name: 'mesh_patient_without_camera_joins_with_sound_only', fn: audioOnly, timeout: 90000 },
    { name: 'mesh_screenshots_at_phone_and_desktop', fn: screenshots },
];
