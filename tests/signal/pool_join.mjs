// For tests/integration/turn_pool.sh: creates a room (in REGION, or the default for "-") and joins
// it as the host; prints "urls URL..." from the joined message's ice_servers (one "+cred" suffix
// per URL that came with a username and credential), or "status N CODE" if the room was refused.
// usage: node pool_join.mjs PORT API_KEY REGION|-   (VC_CA: the dev CA certificate)
import fs from 'node:fs';
import https from 'node:https';
import WebSocket from 'ws';

const [port, apiKey, region] = process.argv.slice(2);
const ca = fs.readFileSync(process.env.VC_CA);

function post(body) {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: '127.0.0.1', servername: 'localhost', port, ca, method: 'POST',
            path: '/api/v1/rooms',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        }, (res) => {
            let data = '';
            res.on('data', (c) => { data += c; });
            res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(data || '{}') }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
    });
}

function joined(token) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, 'vc.v1',
            { ca, servername: 'localhost', origin: `https://localhost:${port}` });
        const timer = setTimeout(() => reject(new Error('no joined within 5 s')), 5000);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'join', token })));
        ws.on('message', (m) => {
            const msg = JSON.parse(m.toString());
            if (msg.type !== 'joined') return;
            clearTimeout(timer);
            ws.close();
            resolve(msg);
        });
        ws.on('error', reject);
    });
}

const res = await post({ lobby: false, ...(region && region !== '-' ? { region } : {}) });
if (res.status !== 201) {
    console.log(`status ${res.status} ${res.body.error?.code ?? ''}`);
    process.exit(0);
}
const msg = await joined(res.body.host_url.split('#')[1]);
const urls = [];
for (const s of msg.ice_servers) {
    const cred = s.username && s.credential ? '+cred' : '';
    for (const u of [].concat(s.urls)) urls.push(u + cred);
}
console.log(`urls ${urls.join(' ')}`);
