#!/usr/bin/env bash
# Fuzzing: builds the libFuzzer targets (tests/fuzz/targets.hpp) with clang, ASan and UBSan, and
# runs each for SECONDS (default 60), two at a time, starting from its saved inputs
# (tests/fuzz/corpus/<target>/ and the samples). An input that breaks a contract or crashes is
# saved under $REPRISE_FUZZ_WORK/<target>/ (default /tmp/reprise-fuzz) and printed; once the
# defect is fixed, copy it into tests/fuzz/corpus/<target>/ so the test suite keeps it fixed.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
# Exit status: 0 when no target found anything, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
# Every target by default: the names in kTargets (targets.hpp).
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n '/kTargets\[\]/,/};/p' "$here/tests/fuzz/targets.hpp" |
  grep -o '{"[a-z_]*"' | tr -d '{"')
source "$here/.ci/ensure_packages.sh"
source "$here/.ci/packages.sh"
ensure_packages "${packages[@]}" clang
build=${REPRISE_FUZZ_BUILD_DIR:-$here/build-fuzz}
work=${REPRISE_FUZZ_WORK:-/tmp/reprise-fuzz}
lock=()
[ -z "${REPRISE_BUILD_LOCK:-}" ] || lock=(flock "$REPRISE_BUILD_LOCK")
"${lock[@]}" cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DREPRISE_FUZZ=ON -DREPRISE_SANITIZE=address,undefined -DREPRISE_BUILD_TESTS=OFF \
  -DREPRISE_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
"${lock[@]}" cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

extra_seeds() {  # inputs outside the corpus folder that a target starts from
  case $1 in
    pcap_file) echo "$here/samples/demo.pcap" ;;
    trace_file) echo "$here/samples/demo.rtrace" ;;
  esac
}
run_one() {
  local t=$1 dir=$work/$1
  mkdir -p "$dir/corpus"
  if [ -d "$here/tests/fuzz/corpus/$t" ]; then cp "$here/tests/fuzz/corpus/$t"/* "$dir/corpus/"; fi
  for s in $(extra_seeds "$t"); do  # whole, and cut in half as corpus_test.cpp runs them
    cp "$s" "$dir/corpus/"
    head -c $(($(stat -c %s "$s") / 2)) "$s" > "$dir/corpus/cut-$(basename "$s")"
  done
  # -max_len 64 KiB: room for the sample pcap; -timeout: a hang is a defect too.
  (cd "$dir" && "$build/tests/fuzz/fuzz_$t" corpus -max_total_time="$seconds" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 > log 2>&1) || true
  local runs found
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo 0)
  found=$(ls "$dir" | grep -E '^(crash|leak|timeout|oom)-' || true)
  if [ -n "$found" ]; then
    printf '%-12s %10s runs  FOUND: %s\n' "$t" "$runs" "$(echo "$found" | tr '\n' ' ')"
    grep -m1 -E 'fuzz check failed|ERROR: (Address|Leak|libFuzzer)|runtime error' "$dir/log" | sed 's/^/             /'
  else
    printf '%-12s %10s runs  clean\n' "$t" "$runs"
  fi
}
mkdir -p "$work"
for t in "${targets[@]}"; do rm -rf "${work:?}/$t" "$work/$t.result"; done
echo "fuzzing ${#targets[@]} targets, ${seconds} s each, $(nproc) at a time; inputs in $work"
pids=()
for t in "${targets[@]}"; do
  run_one "$t" > "$work/$t.result" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$(nproc)" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
status=0
for t in "${targets[@]}"; do
  cat "$work/$t.result"
  grep -q FOUND "$work/$t.result" && status=1
done
exit $status
