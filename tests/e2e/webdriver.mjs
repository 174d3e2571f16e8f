// A minimal W3C WebDriver client (HTTP, JSON) for WebKitGTK's WebKitWebDriver, which no npm driver
// here speaks to: start the driver under xvfb-run, open a session on MiniBrowser, navigate, run a
// page function, end. Only loopback: the driver listens on 127.0.0.1.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Fail } from './lib.mjs';

// e2e_engines.sh finds it under the machine's multiarch directory.
export const MINIBROWSER = process.env.VC_MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/* One WebKitWebDriver under xvfb-run (its own X server); stop() ends both. */
export class WebKitDriver {
    static async start(driver = 'WebKitWebDriver') {
        const port = await freePort();
        // detached: its own process group, so stop() ends xvfb-run, Xvfb, the driver and MiniBrowser.
        const child = spawn('xvfb-run', ['-a', driver, `--port=${port}`], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
        const d = new WebKitDriver(`http://127.0.0.1:${port}`, child);
        const deadline = Date.now() + 15000;
        for (;;) {
            const up = await d.call('GET', '/status', undefined, 1000).catch(() => null);
            if (up && up.ready !== false) return d;
            if (child.exitCode !== null || Date.now() > deadline) {
                d.stop();
                throw new Fail(`${driver} did not start under xvfb-run: ${stderr.trim() || `exit ${child.exitCode}`}`);
            }
            await sleep(100);
        }
    }

    constructor(base, child) {
        this.base = base;
        this.child = child;
    }

    /* One command; resolves its value, throws a Fail with the driver's error. */
    async call(method, path, body, timeout = 30000) {
        const res = await fetch(this.base + path, {
            method,
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(timeout),
        });
        const json = await res.json();
        if (!res.ok) throw new Fail(`WebDriver ${method} ${path}: ${json.value && (json.value.error + ': ' + json.value.message)}`);
        return json.value;
    }

    /* A session on MiniBrowser with these extra command-line settings (WebKitSettings). With args
     * of its own the driver leaves out --automation, and without it MiniBrowser opens its home
     * page on the internet and never answers the driver. */
    async session(args = []) {
        const caps = {
            acceptInsecureCerts: true,
            'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', ...args] },
        };
        const value = await this.call('POST', '/session', { capabilities: { alwaysMatch: caps } }, 30000);
        this.version = (value.capabilities && value.capabilities.browserVersion) || '?';
        return new WebDriverSession(this, value.sessionId, value.capabilities || {});
    }

    stop() {
        try {
            process.kill(-this.child.pid, 'SIGTERM');
        } catch {
            /* already gone */
        }
    }
}

export class WebDriverSession {
    constructor(driver, id, caps) {
        this.driver = driver;
        this.id = id;
        this.caps = caps;
    }

    cmd(method, path, body, timeout) {
        return this.driver.call(method, `/session/${this.id}${path}`, body, timeout);
    }

    goto(url) {
        return this.cmd('POST', '/url', { url });
    }

    /* Runs fn(arg) in the page (fn sent as source, so it stands alone) and resolves its result. */
    async evaluate(fn, arg) {
        const script = `const done = arguments[arguments.length - 1];
            Promise.resolve().then(() => (${fn.toString()})(arguments[0]))
                .then((v) => done({ ok: true, v: v === undefined ? null : v }), (e) => done({ ok: false, e: String(e) }));`;
        const r = await this.cmd('POST', '/execute/async', { script, args: [arg === undefined ? null : arg] });
        if (!r.ok) throw new Fail(`script failed in WebKit: ${r.e}`);
        return r.v;
    }

    close() {
        return this.cmd('DELETE', '', undefined, 10000).catch(() => {});
    }
}
