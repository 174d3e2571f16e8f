#!/usr/bin/env bash
# Calls across browser engines (tests/e2e/test_engines.mjs) on servers of their own (e2e.sh sets
# them up): Debian's Firefox ESR (puppeteer-core over WebDriver BiDi) with Chromium both ways,
# direct and relay-only, and WebKitGTK's MiniBrowser (WebKitWebDriver under xvfb-run) on the
# patient page. Environment: as e2e.sh (VC_BUILD, VC_ONLY, CHROMIUM), and FIREFOX (default
# /usr/bin/firefox-esr).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
FIREFOX=${FIREFOX:-/usr/bin/firefox-esr}
[ -x "$FIREFOX" ] || die "$FIREFOX is missing: install firefox-esr (deploy/install-deps.sh test)"
for c in WebKitWebDriver xvfb-run; do
    command -v "$c" >/dev/null || die "$c is missing: install webkit2gtk-driver, xvfb and xauth (deploy/install-deps.sh test)"
done
# WebKitWebDriver drives WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0, a dependency of the driver).
MINIBROWSER=
for f in /usr/lib/*/webkit2gtk-4.*/MiniBrowser; do
    [ -x "$f" ] && MINIBROWSER=$f
done
[ -n "$MINIBROWSER" ] || die "WebKitGTK's MiniBrowser is missing: install webkit2gtk-driver (deploy/install-deps.sh test)"
E2E_SUITE=e2e_engines E2E_FILES=test_engines.mjs E2E_SHOTS=engines VC_FIREFOX=$FIREFOX \
    VC_MINIBROWSER=$MINIBROWSER exec "$(dirname "$0")/e2e.sh" "$@"
