#!/usr/bin/env bash
# Benchmark of the trace format: write and read a realistic mix with reprise, beside plain
# `zstd -3` / `zstd -dc` on the same content (the exchanges as raw HTTP bytes), in one run.
#   bench/format.sh [RECORDS]      (default 200000, about 400 MB of content)
# Targets (issue 2): read >= 0.8x zstd -dc, write >= 0.8x zstd -3, size within 10% of zstd -3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
records=${1:-200000}
"$here/.ci/setup.sh" >/dev/null
build=${REPRISE_BUILD_DIR:-$here/build}
cmake --build "$build" --target reprise_format_bench -j"$(nproc)" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

"$build/bench/reprise_format_bench" "$work" "$records" > "$work/figures"
get() { awk -v k="$1" '$1 == k { print $2 }' "$work/figures"; }
content=$(get content_bytes)

# The reference, best of three each (the page cache is warm for both sides).
best() { sort -g | head -1; }
for _ in 1 2 3; do t0=$(now); zstd -q -3 -c "$work/raw.bin" > "$work/raw.zst"; t1=$(now); echo "$t1 - $t0" | bc; done | best > "$work/zc"
for _ in 1 2 3; do t0=$(now); zstd -q -dc "$work/raw.zst" > /dev/null; t1=$(now); echo "$t1 - $t0" | bc; done | best > "$work/zd"
zstd_c=$(cat "$work/zc"); zstd_d=$(cat "$work/zd")
zstd_size=$(stat -c %s "$work/raw.zst")

mbs() { echo "scale=1; $content / $1 / 1000000" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
printf '%-34s %14s %14s %8s\n' "content: $(get records) exchanges" "reprise" "zstd -3" "ratio"
printf '%-34s %14s %14s %8s\n' "write MB/s (2 compress threads)" "$(mbs "$(get write_seconds)")" "$(mbs "$zstd_c")" "$(ratio "$zstd_c" "$(get write_seconds)")"
printf '%-34s %14s %14s %8s\n' "write MB/s (inline, 1 thread)" "$(mbs "$(get write_inline_seconds)")" "$(mbs "$zstd_c")" "$(ratio "$zstd_c" "$(get write_inline_seconds)")"
printf '%-34s %14s %14s %8s\n' "read+verify+visit MB/s vs -dc" "$(mbs "$(get read_seconds)")" "$(mbs "$zstd_d")" "$(ratio "$zstd_d" "$(get read_seconds)")"
printf '%-34s %14s %14s %8s\n' "records/s written (2 threads)" "$(echo "$(get records) / $(get write_seconds)" | bc)" "" ""
printf '%-34s %14s %14s %8s\n' "records/s read" "$(echo "$(get records) / $(get read_seconds)" | bc)" "" ""
printf '%-34s %14s %14s %8s\n' "compressed bytes" "$(get trace_bytes)" "$zstd_size" "$(ratio "$(get trace_bytes)" "$zstd_size")"
printf '%-34s %14s\n' "compression ratio (content/file)" "$(ratio "$content" "$(get trace_bytes)")x vs $(ratio "$content" "$zstd_size")x"
