#!/usr/bin/env bash
# The main job on the embedded sample, after doing all the set-up (.ci/setup.sh):
#   1. record: `reprise capture` turns samples/demo.pcap (real traffic: three users logging in
#      to a small shop on nginx and browsing it) into a trace;
#   2. look at it: `trace info`, a few `trace cat` lines, `trace verify`.
# Replay and report join here as they land.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$("$here/../.ci/setup.sh")
reprise="$build/tools/reprise"
out=${REPRISE_DEMO_DIR:-$(mktemp -d)}
mkdir -p "$out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "record: reprise capture --pcap samples/demo.pcap -o $out/demo.rtrace"
"$reprise" capture --pcap "$here/demo.pcap" -o "$out/demo.rtrace"

step "reprise trace info $out/demo.rtrace"
"$reprise" trace info "$out/demo.rtrace"

step "the first three exchanges: reprise trace cat --limit 3 --no-bodies (method, target, status, session)"
"$reprise" trace cat "$out/demo.rtrace" --limit 3 --no-bodies

step "reprise trace verify"
"$reprise" trace verify "$out/demo.rtrace"

printf '\nThe trace is %s; the committed copy is samples/demo.rtrace.\n' "$out/demo.rtrace"
