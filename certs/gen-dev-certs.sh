#!/usr/bin/env bash
# Generates a development CA and a localhost server certificate into certs/ (once; never committed).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir"
if [ -s server.crt ] && [ -s server.key ] && [ -s ca.crt ] &&
    openssl x509 -checkend 86400 -noout -in server.crt >/dev/null 2>&1; then
    exit 0
fi
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 825 -subj "/CN=vc development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out server.key 2>/dev/null
openssl req -new -key server.key -subj "/CN=localhost" -out "$tmp/server.csr" 2>/dev/null
cat >"$tmp/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days 397 -sha256 -extfile "$tmp/ext.cnf" -out server.crt 2>/dev/null
chmod 644 ca.crt server.crt
rm -f ca.srl
echo "certs: wrote certs/ca.crt, certs/server.crt, certs/server.key"
