#!/usr/bin/env bash
# Bad configuration stops both daemons at start-up with exit 2 and a message naming the key.
. "$(dirname "$0")/lib.sh"

turn=$VC_BUILD/bin/vc-turn
signal=$VC_BUILD/bin/vc-signal
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; cleanup' EXIT
printf '{"threads": "many"}' >"$tmp/turn-bad-type.json"
printf '{"listen": ["127.0.0.1:3478"], "colour": "blue"}' >"$tmp/turn-unknown-key.json"
printf '{"ports": "49152-65535",' >"$tmp/turn-broken.json"

# refused NAME KEY COMMAND...: the command exits 2 within 5 s and its stderr names KEY.
refused() {
    local name=$1 key=$2 out rc
    shift 2
    out=$(timeout 5 "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q -- "$key" <<<"$out"; then
        ok "$name"
    else
        fail "$name" "exit $rc, stderr: $(head -c 300 <<<"$out")"
    fi
}

t=(--listen 127.0.0.1:1 --relay-ip 127.0.0.1 --secret s3cret-for-tests)
refused turn_threads_zero threads "$turn" "${t[@]}" --threads 0
refused turn_ports_reversed ports "$turn" "${t[@]}" --ports 5000-4000
refused turn_relay_ip_not_an_ip relay-ip "$turn" "${t[@]}" --relay-ip not-an-ip
refused turn_missing_secret secret "$turn" --listen 127.0.0.1:1 --relay-ip 127.0.0.1
refused turn_missing_cert cert "$turn" "${t[@]}" --tls-listen 127.0.0.1:2 --cert "$tmp/none.crt" \
    --key certs/server.key
refused turn_unknown_flag bogus "$turn" "${t[@]}" --bogus 1
refused turn_config_wrong_type threads "$turn" --config "$tmp/turn-bad-type.json"
refused turn_config_unknown_key colour "$turn" --config "$tmp/turn-unknown-key.json"
refused turn_config_broken_json turn-broken.json "$turn" --config "$tmp/turn-broken.json"

s=(--listen 127.0.0.1:1 --api-key k-0123456789abcdef --turn-secret s3cret --data-dir "$tmp/data")
refused signal_public_url_not_https public-url "$signal" "${s[@]}" --public-url http://x
refused signal_missing_cert cert "$signal" "${s[@]}" --cert "$tmp/none.crt"
refused signal_bad_ice_server ice-server "$signal" "${s[@]}" --ice-server http://x
refused signal_turn_ttl_zero turn-ttl "$signal" "${s[@]}" --turn-ttl 0
refused signal_short_api_key api-key "$signal" "${s[@]}" --api-key short
refused signal_max_conns_per_ip_zero max-conns-per-ip "$signal" "${s[@]}" --max-conns-per-ip 0
refused signal_http_header_timeout_zero http-header-timeout "$signal" "${s[@]}" \
    --http-header-timeout 0
refused signal_http_body_timeout_too_long http-body-timeout "$signal" "${s[@]}" \
    --http-body-timeout 99999
refused signal_listen_not_an_address listen "$signal" "${s[@]}" --listen localhost:8443
refused signal_database_not_postgresql database "$signal" "${s[@]}" --database mysql://vc@127.0.0.1/vc
refused signal_database_unreachable database "$signal" "${s[@]}" \
    --database postgresql://vc:pw-not-to-print@127.0.0.1:1/vc
refused signal_database_timeout_zero database-timeout "$signal" "${s[@]}" --database-timeout 0
refused signal_retention_days_zero retention-days "$signal" "${s[@]}" --retention-days 0
refused signal_retention_days_over_ten_years retention-days "$signal" "${s[@]}" --retention-days 3651
refused signal_retention_days_not_a_number retention-days "$signal" "${s[@]}" --retention-days forever
printf '{"retention-days": 5000}' >"$tmp/signal-retention.json"
refused signal_config_retention_days_too_long retention-days "$signal" "${s[@]}" \
    --config "$tmp/signal-retention.json"
refused signal_database_password_file_missing database-password-file "$signal" "${s[@]}" \
    --database postgresql://vc@127.0.0.1:1/vc --database-password-file "$tmp/none"
refused signal_database_password_file_without_database database-password-file "$signal" "${s[@]}" \
    --database-password-file "$tmp/turn-broken.json"

# Branding: a colour pair under AA contrast, and a logo that is too big, not a PNG or SVG by its
# bytes (whatever its name), or an SVG with script, each named with the branding file's key.
printf '{"name":"Riverside Surgery","colour":"#777777","text-colour":"#ffffff"}' >"$tmp/low.json"
{ printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR'; head -c 250000 /dev/zero; } >"$tmp/big.png"
printf 'GIF89a\1\0\1\0\200\0\0' >"$tmp/gif.png"
printf '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' >"$tmp/script.svg"
for f in big.png gif.png script.svg; do
    printf '{"name":"Riverside Surgery","logo":"%s"}' "$f" >"$tmp/logo-${f%.*}.json"
done
refused signal_branding_low_contrast 'branding: colour and text-colour: #ffffff text on #777777 has a contrast of 4.47:1' \
    "$signal" "${s[@]}" --branding "$tmp/low.json"
refused signal_branding_logo_over_200_kb 'branding: logo: .*big.png is over 200 KB' \
    "$signal" "${s[@]}" --branding "$tmp/logo-big.json"
refused signal_branding_logo_not_png_or_svg 'branding: logo: .*gif.png is not a PNG or SVG' \
    "$signal" "${s[@]}" --branding "$tmp/logo-gif.json"
refused signal_branding_svg_logo_with_script 'branding: logo: .*an SVG with script' \
    "$signal" "${s[@]}" --branding "$tmp/logo-script.json"
refused signal_branding_file_missing 'branding: cannot read' "$signal" "${s[@]}" \
    --branding "$tmp/none.json"

# Webhooks: an https URL that parses and resolves, a secret file with a first line, a PEM CA.
printf 'whsec-for-refusals\n' >"$tmp/webhook-secret"
: >"$tmp/empty-secret"
printf 'not a certificate\n' >"$tmp/bad-ca.pem"
w=(--webhook-secret-file "$tmp/webhook-secret")
refused signal_webhook_url_not_https webhook-url "$signal" "${s[@]}" "${w[@]}" \
    --webhook-url http://localhost:1/hook
refused signal_webhook_url_does_not_parse webhook-url "$signal" "${s[@]}" "${w[@]}" \
    --webhook-url 'https://exa mple/hook'
refused signal_webhook_url_without_host webhook-url "$signal" "${s[@]}" "${w[@]}" \
    --webhook-url 'https://:443/hook'
refused signal_webhook_secret_file_missing webhook-secret-file "$signal" "${s[@]}" \
    --webhook-url https://localhost:1/hook --webhook-secret-file "$tmp/none"
refused signal_webhook_secret_file_empty webhook-secret-file "$signal" "${s[@]}" \
    --webhook-url https://localhost:1/hook --webhook-secret-file "$tmp/empty-secret"
refused signal_webhook_secret_file_required webhook-secret-file "$signal" "${s[@]}" \
    --webhook-url https://localhost:1/hook
refused signal_webhook_ca_not_pem webhook-ca "$signal" "${s[@]}" "${w[@]}" \
    --webhook-url https://localhost:1/hook --webhook-ca "$tmp/bad-ca.pem"
refused signal_webhook_ca_missing webhook-ca "$signal" "${s[@]}" "${w[@]}" \
    --webhook-url https://localhost:1/hook --webhook-ca "$tmp/none.pem"
refused signal_webhook_secret_without_url webhook-secret-file "$signal" "${s[@]}" "${w[@]}"
# A host that does not resolve, looked up in a network namespace of its own (nothing but a
# loopback that is down), so no query leaves the machine.
if timeout 5 unshare -n true 2>/dev/null; then
    refused signal_webhook_url_does_not_resolve webhook-url unshare -n "$signal" "${s[@]}" \
        "${w[@]}" --webhook-url https://hooks.example.invalid/vc
else
    skip signal_webhook_url_does_not_resolve "unshare -n is not permitted here"
fi
out=$(timeout 5 "$signal" "${s[@]}" --webhook-secret-file "$tmp/webhook-secret" \
    --webhook-url 'http://user:pw-not-to-print@localhost/x' 2>&1)
check signal_webhook_refusal_does_not_echo_the_url "printed: $out" not_grep -q pw-not-to-print <<<"$out"

# More WebSockets allowed than descriptors: held to the limit with a warning, so that clients
# past it are refused at once instead of waiting unaccepted in the listen backlog.
pick_ports
out=$( (
    ulimit -n 600
    timeout 3 "$signal" "${s[@]/127.0.0.1:1/127.0.0.1:$TURN_PORT}" --public-url "https://127.0.0.1:$TURN_PORT" \
        --max-connections 1000
) 2>&1)
check signal_max_connections_held_to_the_descriptor_limit "stderr: $(head -c 400 <<<"$out")" \
    grep -q 'max-connections 1000 is more than 600 open files allow; holding at most 344' <<<"$out"

# A secret never appears in a refusal message, nor a database URL's password.
out=$(timeout 5 "$signal" "${s[@]}" --database 'postgresql://vc:pw-not-to-print@127.0.0.1:1/vc?x=y' 2>&1)
check signal_database_refusal_does_not_echo_the_password "printed: $out" \
    not_grep -q pw-not-to-print <<<"$out"
out=$(timeout 5 "$turn" "${t[@]}" --secret s3cret-not-to-print --threads 0 2>&1)
check turn_refusal_does_not_echo_the_secret "secret printed: $out" not_grep -q s3cret-not-to-print <<<"$out"
finish
