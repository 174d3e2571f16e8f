#!/usr/bin/env bash
# The browser tests of calls of more than two (tests/e2e/test_mesh.mjs) and the web client's pure
# parts (test_safety.mjs), on servers of their own (e2e.sh sets them up), so that the two suites
# each keep within their time; screenshots go to $VC_BUILD/screenshots/mesh. Chromium's own
# permissions decide (no fake UI accepting every prompt), so a test can deny a patient's camera.
# Environment: as e2e.sh (VC_BUILD, VC_ONLY, CHROMIUM).
E2E_SUITE=e2e_mesh E2E_FILES='test_safety.mjs test_mesh.mjs' E2E_SHOTS=mesh VC_E2E_REAL_PERMISSIONS=1 \
    exec "$(dirname "$0")/e2e.sh" "$@"
