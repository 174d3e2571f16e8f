// Runs every vc-signal integration test against the server tests/integration/signal.sh started.
import { run } from './lib.mjs';
import { tests as rest } from './test_rest.mjs';
import { tests as ws } from './test_ws.mjs';
import { tests as limits } from './test_limits.mjs';
import { tests as canary } from './test_canary.mjs';
import { tests as clinic } from './test_clinic.mjs';
import { tests as edge } from './test_edge.mjs';
import { tests as members } from './test_members.mjs';
import { tests as reports } from './test_reports.mjs';

// Concurrent tests (long waits: keepalive, grace period, expiry) start first and run alongside.
const concurrent = (ts) => ts.filter((t) => t.concurrent), sequential = (ts) => ts.filter((t) => !t.concurrent);
const ok = await run([...concurrent(limits), ...concurrent(edge), ...rest, ...ws, ...clinic, ...members, ...sequential(limits), ...sequential(edge), ...reports, ...canary]);
process.exit(ok ? 0 : 1);
