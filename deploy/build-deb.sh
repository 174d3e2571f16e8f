#!/usr/bin/env bash
# Builds the Debian package (debian/, dpkg-buildpackage) from a copy of the tree into OUT.
# Usage: deploy/build-deb.sh OUT   (make deb: build/deb)
# The copy keeps the working tree clean and leaves its build/ alone, so a make running in the
# tree at the same time is not disturbed. Objects live in OUT/obj between builds: the copy keeps
# each file's time, so make recompiles only what changed since the last package.
set -euo pipefail
out=${1:-build/deb}
cd "$(dirname "$0")/.."
version=$(sed -n 's/^#define VC_VERSION "\(.*\)"/\1/p' include/vc/version.h)
logged=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$logged" ]; then
    echo "build-deb: include/vc/version.h says $version but debian/changelog $logged" >&2
    exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/vc-$version
rm -rf "$src" "$out"/vc_* "$out"/vc-dbgsym_*
mkdir -p "$src"
# The tracked files (less those deleted) and the new ones git does not ignore, as they are now.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude=./build -cf - . | tar -xf - -C "$src"
fi
echo "build-deb: vc $version in $src (objects in $out/obj)"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" VC_DEB_OBJ=$out/obj \
    dpkg-buildpackage -us -uc -b -nc)
rm -rf "$src"
ls "$out"/vc_"$version"_*.deb
