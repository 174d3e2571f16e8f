// Checks that the other tests wrote a screenshot of every screen at phone and desktop sizes.
import fs from 'node:fs';
import path from 'node:path';
import { cfg, assert } from './lib.mjs';

export const SCREENS = [
    'login',
    'dashboard-link',
    'patient-preview',
    'patient-waiting',
    'clinician-knock',
    'clinician-call',
    'patient-call',
    'call-ended-hangup',
    'call-ended-by-host',
    'call-ended-denied',
    'expired-link',
    'dashboard-waiting-list',
    'dashboard-feed-offline',
    'dashboard-call-knock-banner',
    'patient-waiting-notified',
    'patient-waiting-message',
    'patient-waiting-queue',
];

async function screenshots() {
    const missing = [];
    for (const s of SCREENS)
        for (const size of ['phone', 'desktop']) {
            const f = path.join(cfg.shots, `${s}-${size}.png`);
            let st = null;
            try {
                st = fs.statSync(f);
            } catch (e) {
                /* missing */
            }
            if (!st || st.size < 2000) missing.push(`${s}-${size}`);
        }
    assert(missing.length === 0, `no screenshot (or an empty one) of: ${missing.join(', ')}`);
    console.log(`#   ${SCREENS.length * 2} screenshots in ${cfg.shots}`);
}

export const tests = [{ name: 'screenshots_of_every_screen_at_phone_and_desktop', fn: screenshots }];
