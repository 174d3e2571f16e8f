#!/usr/bin/env bash
# Installs the Debian packages a make target needs, if any are missing (root, apt-get).
# Usage: deploy/install-deps.sh [run|test|lint|fuzz|bench|cluster|deb]
set -eu
group=${1:-run}
build=(make gcc pkg-config openssl libssl-dev libjansson-dev libsqlite3-dev libpq-dev libwebsockets-dev
    libev-dev libhiredis-dev libnice-dev libglib2.0-dev libsrtp2-dev libnss3-dev libcurl4-openssl-dev
    clang libbpf-dev bpftool)
# firefox-esr, webkit2gtk-driver (WebKitGTK's MiniBrowser), xvfb and xauth: the pages in other
# engines (e2e_engines); nftables and iproute2: the hostile networks (e2e_networks).
# `make deb`: dpkg-buildpackage with debhelper; adduser for the package's postinst.
# fonts-nafees: Urdu's letters for Chromium (DejaVu has Arabic but not all of Urdu), so the
# screenshots of the pages in Urdu (e2e_access) show words, not boxes.
deb=(debhelper dpkg-dev fakeroot adduser)
case $group in
    run) pkgs=("${build[@]}") ;;
    test) pkgs=("${build[@]}" coturn iproute2 curl procps jq chromium fonts-liberation fonts-nafees strace logrotate ethtool libclang-rt-14-dev
        redis-server haproxy nftables postgresql man-db groff-base firefox-esr webkit2gtk-driver xvfb xauth
        "${deb[@]}") ;;
    cluster) pkgs=("${build[@]}" redis-server haproxy curl postgresql) ;;
    lint) pkgs=(clang-format git) ;;
    fuzz) pkgs=("${build[@]}" clang libclang-rt-14-dev) ;;
    deb) pkgs=("${build[@]}" "${deb[@]}") ;;
    bench) pkgs=("${build[@]}" coturn gnuplot-nox jq procps) ;;
    *) echo "install-deps: unknown group '$group'" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done
# Node.js may come from outside Debian (a machine image): only ask apt when the commands are absent.
if [ "$group" = test ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi
if { [ "$group" = bench ] || [ "$group" = test ]; } && ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
