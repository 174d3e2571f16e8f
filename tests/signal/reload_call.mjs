// A host+guest vc.v1 call that tests/integration/signal_reload.sh steers through stdin while it
// reloads and drains the server.
//   node reload_call.mjs call HOST_TOKEN GUEST_TOKEN
//     prints "ready" once both are joined, then answers one line per command on stdin:
//     "relay" (host -> guest and back: "ok relay"), "resume" (the guest drops its socket and
//     resumes: "ok resume"), "quit". A problem prints "error WHY"; an unexpected close of either
//     socket prints "closed NAME CODE" at once.
//   node reload_call.mjs join TOKEN
//     joins once and prints "USERNAME CREDENTIAL" of the first TURN server it is given.
// Environment: VC_PORT, VC_CA (the dev CA). Loopback only: wss://127.0.0.1:VC_PORT/ws.
import fs from 'node:fs';
import readline from 'node:readline';
import WebSocket from 'ws';

const port = Number(process.env.VC_PORT);
const ca = fs.readFileSync(process.env.VC_CA);
const origin = `https://localhost:${port}`;

// One vc.v1 connection with a queue of received messages.
class Peer {
    constructor(name) {
        this.name = name;
        this.inbox = [];
        this.waiters = [];
        this.expectClose = false;
    }

    open() {
        this.ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, ['vc.v1'], {
            ca,
            servername: 'localhost',
            origin,
            headers: { Host: `localhost:${port}` },
            handshakeTimeout: 5000,
            perMessageDeflate: false,
        });
        this.ws.on('message', (data) => {
            this.inbox.push(JSON.parse(data.toString()));
            for (const w of this.waiters.splice(0)) w();
        });
        this.ws.on('close', (code) => {
            if (!this.expectClose) console.log(`closed ${this.name} ${code}`);
        });
        return new Promise((resolve, reject) => {
            this.ws.once('open', resolve);
            this.ws.once('error', reject);
        });
    }

    send(m) {
        this.ws.send(JSON.stringify(m));
    }

    // The next message of the given type (others before it are dropped), within ms.
    async next(type, ms = 5000) {
        const end = Date.now() + ms;
        for (;;) {
            const i = this.inbox.findIndex((m) => m.type === type);
            if (i >= 0) return this.inbox.splice(0, i + 1)[i];
            const left = end - Date.now();
            if (left <= 0) {
                const seen = this.inbox.map((m) => m.type + (m.code ? `:${m.code}` : '')).join(' ');
                throw new Error(`${this.name}: no ${type} within ${ms} ms (saw: ${seen || 'nothing'})`);
            }
            await new Promise((r) => {
                const t = setTimeout(r, left);
                this.waiters.push(() => {
                    clearTimeout(t);
                    r();
                });
            });
        }
    }

    async join(token, resume) {
        this.send(resume ? { type: 'join', token, resume } : { type: 'join', token });
        const j = await this.next('joined');
        this.peer = j.peer;
        this.resume = j.resume;
        return j;
    }

    close() {
        this.expectClose = true;
        this.ws.close();
    }
}

async function relay(host, guest, n) {
    host.send({ type: 'signal', to: guest.peer, data: { n } });
    const a = await guest.next('signal');
    if (a.from !== host.peer || a.data.n !== n) throw new Error(`guest got ${JSON.stringify(a)}`);
    guest.send({ type: 'signal', to: host.peer, data: { n: -n } });
    const b = await host.next('signal');
    if (b.from !== guest.peer || b.data.n !== -n) throw new Error(`host got ${JSON.stringify(b)}`);
}

async function call(hostToken, guestToken) {
    const host = new Peer('host');
    let guest = new Peer('guest');
    await host.open();
    await host.join(hostToken);
    await guest.open();
    await guest.join(guestToken);
    await host.next('peer-joined');
    console.log('ready');
    let n = 0;
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
        try {
            if (line === 'relay') {
                await relay(host, guest, ++n);
                console.log('ok relay');
            } else if (line === 'resume') {
                const again = new Peer('guest');
                guest.close();
                await host.next('peer-away');
                await again.open();
                await again.join(guestToken, guest.resume);
                if (again.peer !== guest.peer) throw new Error('resumed as another peer');
                await host.next('peer-back');
                guest = again;
                await relay(host, guest, ++n);
                console.log('ok resume');
            } else if (line === 'quit') {
                break;
            } else {
                console.log(`error unknown command ${line}`);
            }
        } catch (e) {
            console.log(`error ${e.message}`);
        }
    }
    host.close();
    guest.close();
}

async function joinOnce(token) {
    const p = new Peer('joiner');
    await p.open();
    const j = await p.join(token);
    const turn = j.ice_servers.find((s) => String(s.urls).startsWith('turn'));
    console.log(turn ? `${turn.username} ${turn.credential}` : 'error no TURN server');
    p.close();
}

const [mode, a, b] = process.argv.slice(2);
try {
    if (mode === 'call') await call(a, b);
    else if (mode === 'join') await joinOnce(a);
    else throw new Error('usage: reload_call.mjs call HOST GUEST | join TOKEN');
} catch (e) {
    console.log(`error ${e.message}`);
    process.exitCode = 1;
}
