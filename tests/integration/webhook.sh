#!/usr/bin/env bash
# Signed webhooks against a real HTTPS receiver on loopback (tests/signal/webhook.mjs): every
# event of a scripted call in order with a signature that verifies, retries after 500s, nothing
# lost across kill -9 while the receiver is down, no canary in any body; then the queue file.
# Environment: VC_BUILD (default build), NODE (default node).
. "$(dirname "$0")/lib.sh"

TESTS_DIR=tests/signal
WORK=$(mktemp -d)
ROOT=$PWD
trap 'cleanup; rm -rf "$WORK"' EXIT

need_node
[ -x "$VC_BUILD/bin/vc-signal" ] || die "$VC_BUILD/bin/vc-signal is missing (make $VC_BUILD/bin/vc-signal)"
need_dev_certs
npm_ci "$TESTS_DIR" ws

port=$(free_port) && hook_port=$(free_port) || die "no free TCP port found after 30 tries"
[ "$port" != "$hook_port" ] || hook_port=$(free_port) || die "no second free TCP port"

API_KEY=key-$(openssl rand -hex 20)
SECRET=whsec-$(openssl rand -hex 24)
printf '%s\n' "$SECRET" >"$WORK/webhook-secret"
canary=$(openssl rand -hex 6)
CLINICIAN_EMAIL=hooks-$canary@example.test
CLINICIAN_PASSWORD=hooks-pw-$(openssl rand -hex 12)
CLINICIAN_NAME="Dr CANARY-HOOK-NAME-$canary"
DATA_DIR=$WORK/data
SERVER_LOG=$(cd "$TEST_LOGS" && pwd)/webhook-server.log
: >"$SERVER_LOG"
signal_user_add "$DATA_DIR" "$CLINICIAN_EMAIL" "$CLINICIAN_NAME" "$CLINICIAN_PASSWORD"

# Retries in milliseconds rather than seconds, so that the suite takes seconds.
jq -n --arg listen "127.0.0.1:$port" --arg url "https://localhost:$port" --arg key "$API_KEY" \
    --arg data "$DATA_DIR" --arg log "$WORK/meta.log" --arg root "$ROOT" \
    --arg hook "https://localhost:$hook_port/hooks/vc" --arg secret "$WORK/webhook-secret" \
    '{listen: $listen, "public-url": $url, cert: ($root + "/certs/server.crt"),
      key: ($root + "/certs/server.key"), "web-root": ($root + "/src/web"), "api-key": $key,
      "turn-secret": "turn-secret-for-webhook-tests", "data-dir": $data, log: $log,
      "max-conns-per-ip-per-min": 100000, "webhook-url": $hook, "webhook-secret-file": $secret,
      "webhook-ca": ($root + "/certs/ca.crt"), "webhook-retry-min-ms": 40,
      "webhook-retry-max-ms": 300, "webhook-timeout": 2}' >"$WORK/config.json" ||
    die "jq cannot write the config"

out=$WORK/node.out
(
    cd "$TESTS_DIR" &&
        VC_SIGNAL_BIN=$ROOT/$VC_BUILD/bin/vc-signal VC_CONFIG=$WORK/config.json VC_PORT=$port \
            VC_HOOK_PORT=$hook_port VC_API_KEY=$API_KEY VC_SECRET=$SECRET VC_CA=$ROOT/certs/ca.crt \
            VC_CERT=$ROOT/certs/server.crt VC_KEY=$ROOT/certs/server.key VC_DATA_DIR=$DATA_DIR \
            VC_SERVER_LOG=$SERVER_LOG VC_META_LOG=$WORK/meta.log VC_EMAIL=$CLINICIAN_EMAIL \
            VC_PASSWORD=$CLINICIAN_PASSWORD VC_NAME=$CLINICIAN_NAME \
            timeout 120 "$NODE" webhook.mjs
) 2>&1 | tee "$out"
counts_from "$out" webhook_node_tests

db=$DATA_DIR/webhooks.db
check webhook_queue_file_is_private "mode $(stat -c %a "$db" 2>/dev/null)" \
    test "$(stat -c %a "$db" 2>/dev/null)" = 600
check webhook_server_log_has_no_sanitizer_report "see $SERVER_LOG" no_sanitizer_report "$SERVER_LOG"
check webhook_secret_not_in_server_log "the secret is in $SERVER_LOG" not_grep -qF "$SECRET" "$SERVER_LOG"
finish
