#!/usr/bin/env bash
# The main job on the embedded sample, after doing all the set-up (.ci/setup.sh):
#   1. record: `reprise capture` turns samples/demo.pcap (real traffic: three users logging in
#      to a small shop on nginx and browsing it) into a trace, and shows it;
#   2. replay: starts the same shop (nginx, samples/nginx-demo.conf.in) on a free loopback
#      port, prints the plan with --dry-run, then replays the trace against it with a ramp from
#      50% to 200% over 10 s (the trace looped, sessions cloned), and prints the summary and
#      where the run file is;
#   3. report: `reprise report` on the run (text, and a self-contained HTML page);
#   4. compare: two more runs of the same shop (base and candidate, two clones per session) go
#      through `reprise compare` with a release gate — the same release, so it passes.
# REPRISE_DEMO_DIR keeps the files somewhere known.
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

source "$here/../.ci/free_port.sh"
port=$(free_port)
shop="$out/shop"
mkdir -p "$shop"
chmod 0755 "$shop"
sed -e "s|@DIR@|$shop|g" -e "s|@PORT@|$port|g" -e "s|@SITE@|$here/site|g" \
  "$here/nginx-demo.conf.in" > "$shop/nginx.conf"
/usr/sbin/nginx -c "$shop/nginx.conf" -p "$shop" &
trap 'kill $(cat "$shop/nginx.pid" 2>/dev/null) 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$shop/nginx.pid" ] && break; sleep 0.1; done

plan=(--stage 0s:50% --stage 10s:200% --loop)
step "the plan, nothing sent: reprise replay --dry-run ${plan[*]}"
"$reprise" replay "$out/demo.rtrace" --target "http://127.0.0.1:$port" --dry-run "${plan[@]}"

step "replay against the shop on 127.0.0.1:$port: reprise replay ${plan[*]} -o $out/demo.rrun"
"$reprise" replay "$out/demo.rtrace" --target "http://127.0.0.1:$port" -o "$out/demo.rrun" \
  "${plan[@]}" --progress

step "report: reprise report $out/demo.rrun --html $out/report.html"
"$reprise" report "$out/demo.rrun" --html "$out/report.html"

twice=(--multiplier 2 --loop --duration 3s)
step "two more runs of the same release: reprise replay ${twice[*]} -o base.rrun / candidate.rrun"
for name in base candidate; do
  "$reprise" replay "$out/demo.rtrace" --target "http://127.0.0.1:$port" -o "$out/$name.rrun" "${twice[@]}"
done

gate=(--fail-on 'p95>+25%' --fail-on 'errors>+1pp' --fail-on 'status_changes>0' --fail-on 'body_diffs>1%')
step "compare: reprise compare base.rrun --candidate candidate.rrun --trace demo.rtrace ${gate[*]}"
set +e
"$reprise" compare "$out/base.rrun" --candidate "$out/candidate.rrun" --trace "$out/demo.rtrace" \
  "${gate[@]}" --html "$out/compare.html" --junit "$out/compare.xml"
verdict=$?
set -e
echo "(exit code $verdict: 0 the gate passed, 1 a rule failed)"

printf '\nThe trace is %s, the run file %s, the reports %s and %s\n(the committed trace: samples/demo.rtrace).\n' \
  "$out/demo.rtrace" "$out/demo.rrun" "$out/report.html" "$out/compare.html"
