#!/usr/bin/env bash
# The man pages in $VC_BUILD/man: groff and man render them without a warning, and every option
# that the binaries' --help prints is in its page with the same value name and the same text.
. "$(dirname "$0")/lib.sh"

for tool in man groff; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install man-db groff-base)"
done
MAN=$VC_BUILD/man
BIN=$VC_BUILD/bin
WORK=$(mktemp -d)
trap 'cleanup; rm -rf "$WORK"' EXIT

# help_entries CMD...: "--key ARG<TAB>text" for every option `CMD --help` prints, its wrapped
# text joined; --[no-]key is printed as --key.
help_entries() {
    "$@" --help | awk -v pad="$(printf '%31s' '')" '
        function flush() { if (key != "") print key "\t" text; key = "" }
        /^  --/ {
            flush()
            line = substr($0, 3)
            split(line, w, " ")
            key = w[1]
            rest = substr(line, length(w[1]) + 1)
            if (!sub(/^--\[no-\]/, "--", key) && rest ~ /^ [^ ]/) {
                split(rest, a, " ")
                key = key " " a[1]
                rest = substr(rest, length(a[1]) + 3)
            }
            text = rest; gsub(/^ +/, "", text); next
        }
        index($0, pad) == 1 && substr($0, 32, 1) != " " && key != "" {
            t = substr($0, 32); text = text (text == "" ? "" : " ") t; next
        }
        { flush() }
        END { flush() }'
}

# rendered PAGE: the page as man shows it, without hyphenation or justification, one line, with
# runs of white space as one space and Unicode hyphens and minus signs as '-'.
rendered() {
    MANWIDTH=200 man --nh --nj -l "$1" 2>/dev/null | sed 's/\xe2\x80\x90/-/g; s/\xe2\x88\x92/-/g' |
        tr -s ' \n' '  '
}

# page_ok PAGE CMD...: no warning from groff -ww or man; every option of each CMD (";"-separated
# commands) with its value name and text in the page.
page_ok() {
    local page=$MAN/$1 text warn bad=0 key desc cmd n=0
    shift
    [ -s "$page" ] || { echo "# $page is missing (make man)"; return 1; }
    warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1; MANWIDTH=100 man -l "$page" 2>&1 >/dev/null)
    [ -z "$warn" ] || { echo "# $page: $warn" | head -n 5; bad=1; }
    text=$(rendered "$page")
    for cmd in "$@"; do
        read -ra c <<<"$cmd"
        while IFS=$'\t' read -r key desc; do
            n=$((n + 1))
            case $key in --help | --version) continue ;; esac
            grep -qF -- " ${key/--/--[no-]} " <<<" $text " || grep -qF -- " $key " <<<" $text " ||
                { echo "# $page lacks $key (from $cmd --help)"; bad=1; continue; }
            [ -z "$desc" ] || grep -qF -- "$desc" <<<"$text" ||
                { echo "# $page: the text of $key differs from $cmd --help: $desc"; bad=1; }
        done < <(help_entries "${c[@]}")
    done
    [ "$n" -gt 5 ] || { echo "# only $n options found in --help"; bad=1; }
    return $bad
}

check man_vc_turn_8_renders_and_lists_every_option "see above" page_ok vc-turn.8 "$BIN/vc-turn"
check man_vc_signal_8_renders_and_lists_every_option "see above" page_ok vc-signal.8 \
    "$BIN/vc-signal" "$BIN/vc-signal user" "$BIN/vc-signal team"
check man_vc_load_1_renders_and_lists_every_option "see above" page_ok vc-load.1 \
    "$BIN/vc-load relay" "$BIN/vc-load signal"

# The check itself fails on a page that lacks an option: the vc-turn page without --bps.
awk '/^\\fB\\-\\-bps\\fR/ { skip = 2 } skip { skip--; next } { print }' "$MAN/vc-turn.8" \
    >"$WORK/vc-turn.8"
page_ok_in() {
    MAN=$WORK page_ok "$@" >/dev/null
}
check man_check_catches_a_missing_option "a page without --bps passed" \
    eval '! page_ok_in vc-turn.8 "$BIN/vc-turn"'

finish
