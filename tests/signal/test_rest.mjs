// REST API, security headers and TLS versions of vc-signal, checked from outside.
import tls from 'node:tls';
import { cfg, request, createRoom, login, assert, eq, show, Fail, withTimeout } from './lib.mjs';

const TOKEN_URL = new RegExp(`^https://localhost:${cfg.port}/join#([A-Za-z0-9_-]{22,})$`);
const RFC3339_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function errorShape(r, status, what) {
    if (r.status !== status) throw new Fail(`${what}: status ${r.status}, want ${status}; body ${show(r.text)}`);
    const e = r.json && r.json.error;
    assert(e && typeof e.code === 'string' && typeof e.message === 'string',
        `${what}: body is not {"error":{"code","message"}}: ${show(r.text)}`);
}

async function restCreateRoom() {
    const before = Date.now();
    const r = await request({ method: 'POST', path: '/api/v1/rooms', key: true, body: {} });
    eq(r.status, 201, `POST /api/v1/rooms status (body ${show(r.text)})`);
    const b = r.json || {};
    for (const f of ['id', 'host_url', 'guest_url', 'expires_at']) assert(typeof b[f] === 'string', `field ${f} missing: ${show(r.text)}`);
    const h = TOKEN_URL.exec(b.host_url), g = TOKEN_URL.exec(b.guest_url);
    assert(h, `host_url ${b.host_url} is not https://localhost:${cfg.port}/join#TOKEN`);
    assert(g, `guest_url ${b.guest_url} is not https://localhost:${cfg.port}/join#TOKEN`);
    assert(h[1] !== g[1], 'host and guest tokens are equal');
    assert(!b.host_url.includes(b.id) && !b.guest_url.includes(b.id), 'a token contains the room id');
    assert(RFC3339_UTC.test(b.expires_at), `expires_at ${b.expires_at} is not RFC 3339 UTC`);
    const exp = Date.parse(b.expires_at);
    // Default ttl 3600 s.
    assert(Math.abs(exp - (before + 3600e3)) < 10e3, `default expiry ${b.expires_at} is not now + 3600 s`);
    // A second room gets other tokens.
    const r2 = await createRoom({ ttl: 60, capacity: 8, lobby: false, relay_only: true });
    assert(r2.hostToken !== h[1] && r2.guestToken !== g[1] && r2.id !== b.id, 'a second room reused an id or token');
    assert(Math.abs(Date.parse(r2.body.expires_at) - (Date.now() + 60e3)) < 10e3, `ttl 60 gave expires_at ${r2.body.expires_at}`);
    await request({ method: 'DELETE', path: `/api/v1/rooms/${b.id}`, key: true });
}

async function restBadBodies() {
    const bad = [
        ['{', 'not JSON'],
        ['[]', 'an array'],
        ['"x"', 'a string'],
        [{ ttl: 0 }, 'ttl 0'],
        [{ ttl: 86401 }, 'ttl 86401'],
        [{ ttl: -5 }, 'ttl -5'],
        [{ ttl: '60' }, 'ttl as a string'],
        [{ capacity: 1 }, 'capacity 1'],
        [{ capacity: 9 }, 'capacity 9'],
        [{ lobby: 'yes' }, 'lobby as a string'],
        [{ relay_only: 1 }, 'relay_only as a number'],
    ];
    const wrong = [];
    for (const [body, what] of bad) {
        const r = await request({ method: 'POST', path: '/api/v1/rooms', key: true, body });
        if (r.status === 201) {
            wrong.push(`${what} -> 201`);
            await request({ method: 'DELETE', path: `/api/v1/rooms/${r.json.id}`, key: true });
        } else if (r.status !== 400) {
            wrong.push(`${what} -> ${r.status}`);
        } else {
            try {
                errorShape(r, 400, what);
            } catch (e) {
                wrong.push(e.message);
            }
        }
    }
    assert(wrong.length === 0, `want 400 with an error body: ${wrong.join('; ')}`);
    // The edges are valid.
    await createRoom({ ttl: 1, capacity: 2 });
    await createRoom({ ttl: 86400, capacity: 8, lobby: true, relay_only: false });
}

async function restAuthRequired() {
    const cases = [
        [{}, 'no Authorization'],
        [{ key: 'wrong-key' }, 'a wrong key'],
        [{ key: `${cfg.apiKey}x` }, 'the key plus a character'],
        [{ headers: { Authorization: `Basic ${cfg.apiKey}` } }, 'the key with scheme Basic'],
        [{ cookie: 'vc_session=0123456789abcdef0123456789abcdef' }, 'a made-up session cookie'],
    ];
    for (const [auth, what] of cases) {
        for (const [method, path, body] of [['POST', '/api/v1/rooms', {}], ['GET', '/api/v1/rooms'], ['GET', '/api/v1/rooms/0123456789abcdef'], ['DELETE', '/api/v1/rooms/0123456789abcdef']]) {
            const r = await request({ method, path, body, ...auth });
            errorShape(r, 401, `${method} ${path} with ${what}`);
        }
    }
}

async function restListGetDelete() {
    const a = await createRoom({ capacity: 3 });
    const b = await createRoom({ lobby: false });
    const l = await request({ path: '/api/v1/rooms', key: true });
    eq(l.status, 200, 'GET /api/v1/rooms status');
    assert(l.json && Array.isArray(l.json.rooms), `list body ${show(l.text)}`);
    const ids = l.json.rooms.map((x) => x.id);
    assert(ids.includes(a.id) && ids.includes(b.id), `list ${show(ids)} lacks ${a.id} or ${b.id}`);
    for (const t of [a.hostToken, a.guestToken, b.hostToken, b.guestToken]) assert(!l.text.includes(t), 'the list carries a room token');
    const entry = l.json.rooms.find((x) => x.id === a.id);
    assert(typeof entry.participants === 'number' && typeof entry.waiting === 'number', `list entry lacks counts: ${show(entry)}`);

    const g = await request({ path: `/api/v1/rooms/${a.id}`, key: true });
    eq(g.status, 200, 'GET room status');
    for (const f of ['id', 'created_at', 'expires_at']) assert(typeof g.json[f] === 'string', `GET room lacks ${f}: ${show(g.text)}`);
    eq(g.json.id, a.id, 'GET room id');
    eq([g.json.participants, g.json.waiting], [0, 0], 'participants and waiting of an empty room');
    assert(RFC3339_UTC.test(g.json.created_at) && RFC3339_UTC.test(g.json.expires_at), `times not RFC 3339 UTC: ${show(g.text)}`);
    assert(!g.text.includes(a.hostToken) && !g.text.includes(a.guestToken), 'GET room carries a token');

    const d = await request({ method: 'DELETE', path: `/api/v1/rooms/${a.id}`, key: true });
    eq(d.status, 204, 'DELETE status');
    eq(d.text, '', 'DELETE body');
    errorShape(await request({ path: `/api/v1/rooms/${a.id}`, key: true }), 404, 'GET after DELETE');
    errorShape(await request({ method: 'DELETE', path: `/api/v1/rooms/${a.id}`, key: true }), 404, 'DELETE twice');
    errorShape(await request({ path: '/api/v1/rooms/ffffffffffffffff', key: true }), 404, 'GET unknown room');
    const l2 = await request({ path: '/api/v1/rooms', key: true });
    assert(!l2.json.rooms.some((x) => x.id === a.id), 'a deleted room is still listed');
}

async function restClinicianSession() {
    const alice = cfg.clinicians.alice;
    // Wrong password and unknown user: 401 alike.
    const wp = await request({ method: 'POST', path: '/api/v1/session', body: { email: alice.email, password: `${alice.password}x` } });
    errorShape(wp, 401, 'login with a wrong password');
    const nu = await request({ method: 'POST', path: '/api/v1/session', body: { email: 'nobody@example.invalid', password: 'whatever-123' } });
    errorShape(nu, 401, 'login of an unknown user');
    eq(nu.json.error, wp.json.error, 'unknown user and wrong password answers');
    assert(!wp.headers['set-cookie'] || ![].concat(wp.headers['set-cookie']).some((c) => /vc_session=[^;]/.test(c)), 'a failed login set a session cookie');

    for (const body of [{}, { email: alice.email }, { email: 5, password: 'x' }, '{']) {
        const r = await request({ method: 'POST', path: '/api/v1/session', body });
        assert(r.status === 400 || r.status === 401, `login body ${show(body)}: ${r.status}, want 400`);
    }
    const s = await login(alice);
    const attrs = s.setCookie.split(';').map((x) => x.trim().toLowerCase());
    for (const a of ['httponly', 'secure', 'samesite=strict']) assert(attrs.includes(a), `Set-Cookie ${s.setCookie} lacks ${a}`);
    assert(s.token.length >= 22, `session token ${s.token.length} characters is short`);
    assert(typeof s.csrf === 'string' && s.csrf.length >= 16, `login body carries no csrf token: ${show(s.res.text)}`);
    assert(!s.res.text.includes(s.token), 'the login body repeats the session cookie');

    // Session-authenticated creation needs the CSRF header.
    const no = await request({ method: 'POST', path: '/api/v1/rooms', cookie: s.cookie, body: {} });
    errorShape(no, 403, 'POST room with a session but no X-CSRF-Token');
    const badc = await request({ method: 'POST', path: '/api/v1/rooms', cookie: s.cookie, csrf: 'x'.repeat(s.csrf.length), body: {} });
    errorShape(badc, 403, 'POST room with a wrong X-CSRF-Token');
    const mine = await createRoom({}, { cookie: s.cookie, csrf: s.csrf });
    assert(TOKEN_URL.test(mine.body.host_url), `clinician room host_url ${mine.body.host_url}`);

    // Kept apart: the clinician sees only their rooms, the API key only its own.
    const keyRoom = await createRoom({});
    const l = await request({ path: '/api/v1/rooms', cookie: s.cookie });
    eq(l.status, 200, 'clinician list status');
    const ids = l.json.rooms.map((x) => x.id);
    assert(ids.includes(mine.id), `clinician list ${show(ids)} lacks their room`);
    assert(!ids.includes(keyRoom.id), "clinician list shows the API key's room");
    errorShape(await request({ path: `/api/v1/rooms/${keyRoom.id}`, cookie: s.cookie }), 404, "clinician GET of the API key's room");
    errorShape(await request({ method: 'DELETE', path: `/api/v1/rooms/${keyRoom.id}`, cookie: s.cookie, csrf: s.csrf }), 404, "clinician DELETE of the API key's room");
    errorShape(await request({ path: `/api/v1/rooms/${mine.id}`, key: true }), 404, "API key GET of the clinician's room");
    errorShape(await request({ method: 'DELETE', path: `/api/v1/rooms/${mine.id}`, cookie: s.cookie }), 403, 'clinician DELETE of a room without X-CSRF-Token');
    const kl = await request({ path: '/api/v1/rooms', key: true });
    assert(!kl.json.rooms.some((x) => x.id === mine.id), "the API key's list shows the clinician's room");
    const g = await request({ path: `/api/v1/rooms/${mine.id}`, cookie: s.cookie });
    eq(g.status, 200, 'clinician GET of their room');

    // Logout: needs CSRF too, then the cookie is dead.
    const lo0 = await request({ method: 'DELETE', path: '/api/v1/session', cookie: s.cookie });
    errorShape(lo0, 403, 'logout without X-CSRF-Token');
    const lo = await request({ method: 'DELETE', path: '/api/v1/session', cookie: s.cookie, csrf: s.csrf });
    assert(lo.status === 204 || lo.status === 200, `logout status ${lo.status} ${show(lo.text)}`);
    const clear = [].concat(lo.headers['set-cookie'] || []).find((c) => c.startsWith('vc_session='));
    assert(clear && /max-age=0|expires=thu, 01 jan 1970/i.test(clear), `logout does not clear the cookie: ${show(clear)}`);
    errorShape(await request({ path: '/api/v1/rooms', cookie: s.cookie }), 401, 'GET rooms with a logged-out cookie');
    errorShape(await request({ method: 'POST', path: '/api/v1/rooms', cookie: s.cookie, csrf: s.csrf, body: {} }), 401, 'POST room with a logged-out cookie');
    await request({ method: 'DELETE', path: `/api/v1/rooms/${mine.id}`, cookie: (await login(alice)).cookie });
}

function checkHeaders(r, what) {
    const h = r.headers, bad = [];
    const hsts = h['strict-transport-security'] || '';
    if (!/max-age=\d+/.test(hsts) || Number(/max-age=(\d+)/.exec(hsts)?.[1]) < 86400) bad.push(`HSTS "${hsts}"`);
    const csp = h['content-security-policy'] || '';
    if (!csp) bad.push('no Content-Security-Policy');
    if (/unsafe-inline/.test(csp)) bad.push(`CSP allows 'unsafe-inline': ${csp}`);
    if (/unsafe-eval/.test(csp)) bad.push(`CSP allows 'unsafe-eval': ${csp}`);
    if (!/frame-ancestors/.test(csp)) bad.push(`CSP lacks frame-ancestors: ${csp}`);
    if ((h['x-content-type-options'] || '').toLowerCase() !== 'nosniff') bad.push(`X-Content-Type-Options "${h['x-content-type-options']}"`);
    if ((h['referrer-policy'] || '').toLowerCase() !== 'no-referrer') bad.push(`Referrer-Policy "${h['referrer-policy']}"`);
    if (bad.length) throw new Fail(`${what}: ${bad.join('; ')}`);
}

async function securityHeaders() {
    const cases = [
        [{ path: '/' }, 200, 'GET /'],
        [{ path: '/join' }, 200, 'GET /join'],
        [{ path: '/api/v1/rooms', key: true }, 200, 'GET /api/v1/rooms'],
        [{ path: '/api/v1/rooms' }, 401, 'GET /api/v1/rooms without a key'],
    ];
    for (const [o, status, what] of cases) {
        const r = await request(o);
        eq(r.status, status, `${what} status`);
        checkHeaders(r, what);
    }
    const j = await request({ path: '/join' });
    assert(/text\/html/.test(j.headers['content-type'] || ''), `/join content-type ${j.headers['content-type']}`);
    assert(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(j.text), '/join has an inline script');
}

function tlsTry(opts) {
    return withTimeout(new Promise((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: cfg.port, servername: 'localhost', ca: cfg.ca, ...opts });
        s.on('secureConnect', () => {
            const v = s.getProtocol();
            s.destroy();
            resolve({ ok: true, version: v });
        });
        s.on('error', (e) => resolve({ ok: false, code: e.code, message: e.message }));
    }), 5000, 'TLS handshake');
}

async function tlsVersions() {
    // SECLEVEL=0 so the client really offers TLS 1.0/1.1: the refusal must come from the server.
    const old = await tlsTry({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    assert(!old.ok, `TLS ${old.version} was accepted`);
    assert(old.code !== 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', `the client itself refused to offer TLS 1.1 (${old.message}); the test proves nothing`);
    const v12 = await tlsTry({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    assert(v12.ok && v12.version === 'TLSv1.2', `TLS 1.2 refused: ${show(v12)}`);
    const v13 = await tlsTry({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    assert(v13.ok && v13.version === 'TLSv1.3', `TLS 1.3 refused: ${show(v13)}`);
}

async function unknownApiPath() {
    for (const [method, path] of [['GET', '/api/v1/nope'], ['GET', '/api/v2/rooms'], ['POST', '/api/v1/rooms/abc/extra']]) {
        const r = await request({ method, path, key: true, body: method === 'POST' ? {} : undefined });
        errorShape(r, 404, `${method} ${path}`);
    }
    const r = await request({ method: 'PUT', path: '/api/v1/rooms', key: true, body: {} });
    assert(r.status === 405 || r.status === 404, `PUT /api/v1/rooms: ${r.status}, want 405`);
}

async function bodyTooLarge() {
    const body = JSON.stringify({ ttl: 60, pad: 'p'.repeat(40 * 1024) });
    const r = await request({ method: 'POST', path: '/api/v1/rooms', key: true, body, agent: false });
    assert(r.status === 413 || r.status === 400, `a 40 KiB body: ${r.status} ${show(r.text)}, want 413`);
    await healthz();
}

async function pathTraversal() {
    for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd',
        '/join/../../../etc/passwd', '/.git/config', '/../Makefile', '/%2e%2e/Makefile']) {
        const r = await request({ path, agent: false });
        assert(!/root:.*:0:0:/.test(r.text) && !/\[core\]|^BUILD \?=/m.test(r.text), `GET ${path} served a file outside the web root`);
        assert(r.status === 404 || r.status === 400 || r.status === 403, `GET ${path}: ${r.status}`);
    }
}

async function metricsReadyz() {
    const r = await request({ path: '/readyz' });
    eq(r.status, 200, '/readyz status');
    const m = await request({ path: '/metrics' });
    eq(m.status, 200, '/metrics status from loopback');
    assert(/^vc_signal_\w+/m.test(m.text), `/metrics has no vc_signal_ metric: ${show(m.text)}`);
    for (const secret of [cfg.apiKey, cfg.turnSecret]) assert(!m.text.includes(secret), '/metrics shows a secret');
}

async function healthz() {
    const r = await request({ path: '/healthz' });
    eq(r.status, 200, '/healthz status');
    eq(r.text.trim(), 'ok', '/healthz body');
}

export const tests = [
    { name: 'rest_healthz_ok', fn: healthz },
    { name: 'rest_create_room_returns_links_and_expiry', fn: restCreateRoom },
    { name: 'rest_bad_bodies_get_400', fn: restBadBodies },
    { name: 'rest_no_or_wrong_key_gets_401', fn: restAuthRequired },
    { name: 'rest_list_get_delete_then_404', fn: restListGetDelete },
    { name: 'rest_clinician_session_csrf_and_separation', fn: restClinicianSession },
    { name: 'http_security_headers_on_pages_and_api', fn: securityHeaders },
    { name: 'tls_1_1_refused_1_2_and_1_3_accepted', fn: tlsVersions },
    { name: 'rest_unknown_path_404_json', fn: unknownApiPath },
    { name: 'rest_body_over_cap_refused', fn: bodyTooLarge },
    { name: 'http_static_path_traversal_refused', fn: pathTraversal },
    { name: 'http_readyz_and_metrics', fn: metricsReadyz },
];
