#!/usr/bin/env bash
# The patient's pages for everyone (tests/e2e/test_access.mjs, issue 18): catalogues, axe-core in
# every state at two sizes and right to left, plain words in six languages, the keyboard alone,
# the language's source, on servers of their own (e2e.sh sets them up) with an organisation's
# branding; a screenshot per language at 390x844 goes to $VC_BUILD/screenshots/access. Chromium's
# own permissions decide, so a test can block a patient's camera and microphone.
# Environment: as e2e.sh (VC_BUILD, VC_ONLY, CHROMIUM).
set -u
brand_dir=$(mktemp -d)
trap 'rm -rf "$brand_dir"' EXIT
printf '%s\n' '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="18" fill="#ffffff"/></svg>' \
    >"$brand_dir/logo.svg"
printf '{"name":"Riverside Surgery","logo":"%s","colour":"#005a30","text-colour":"#ffffff",
"phone":"020 7946 0000","privacy-url":"https://localhost/privacy"}\n' "$brand_dir/logo.svg" >"$brand_dir/branding.json"
E2E_SUITE=e2e_access E2E_FILES='test_access.mjs' E2E_SHOTS=access VC_E2E_REAL_PERMISSIONS=1 \
    E2E_BRANDING=$brand_dir/branding.json VC_BRAND_NAME='Riverside Surgery' \
    "$(dirname "$0")/e2e.sh" "$@"
