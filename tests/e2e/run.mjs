// Runs the browser tests one after another in one Chromium; prints "ok NAME" or "FAIL NAME: why"
// for each, then "N passed, N failed". VC_E2E_FILES names the test files (default: the call, the
// clinic day, the reports and the screenshots); VC_ONLY=REGEX runs only the tests whose names match.
import { launchBrowser, newParty, closeParties, reporter, Fail } from './lib.mjs';

const files = (process.env.VC_E2E_FILES || 'test_call.mjs test_clinic.mjs test_reports.mjs test_screens.mjs').split(/\s+/).filter(Boolean);
const all = [];
const teardowns = []; // a file's teardown(): ends what its tests shared (test_engines.mjs: Firefox)
for (const f of files) {
    const mod = await import(`./${f}`);
    all.push(...mod.tests);
    if (mod.teardown) teardowns.push(mod.teardown);
}
const only = process.env.VC_ONLY ? new RegExp(process.env.VC_ONLY) : null;
const results = reporter();
const report = results.report;

// t.check(NAME, FN): a named sub-result inside a test, reported on its own line.
// t.party(NAME, VIEWPORT, PERMISSIONS?): a browser context the runner closes when the test ends or
// times out.
function context(browser) {
    const parties = [];
    return {
        browser,
        parties,
        async party(name, viewport, permissions) {
            const p = await newParty(browser, name, viewport, permissions);
            parties.push(p);
            return p;
        },
        async check(name, fn) {
            try {
                await fn();
                report(name, null);
            } catch (e) {
                report(name, e);
            }
        },
    };
}

function withTimeout(promise, ms, name) {
    let timer;
    const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Fail(`${name} did not finish within ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

let browser;
try {
    browser = await launchBrowser();
    console.log(`# chromium ${browser.version()}`);
} catch (e) {
    report('e2e_browser_starts', e);
}
if (browser) {
    for (const t of all) {
        if (only && !only.test(t.name)) continue;
        const started = Date.now();
        const ctx = context(browser);
        try {
            await withTimeout(t.fn(ctx), t.timeout || 60000, t.name);
            report(t.name, null);
        } catch (e) {
            report(t.name, e);
        }
        await closeParties(...ctx.parties);
        console.log(`#   ${t.name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    await browser.close().catch(() => {});
}
for (const down of teardowns) await down().catch((e) => console.log(`# teardown: ${e.message}`));
results.summary();
process.exit(results.failed === 0 && results.passed > 0 ? 0 : 1);
