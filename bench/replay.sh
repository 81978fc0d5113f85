#!/usr/bin/env bash
# Benchmark of `reprise replay` against nginx (`return 200 "ok"`, one worker), in one run:
#   1. throughput: wrk -t1 -c64 beside reprise --rate max --loop on 64 connections, 10 s each,
#      requests counted by nginx's access log (the delta across each run), in ROUNDS alternating
#      rounds (the median ratio is the result), with the nginx worker's CPU share during each
#      run: near 100 % it is the server that bounds both clients;
#   2. lateness at a fixed 20000 req/s, beside a bare clock_nanosleep(TIMER_ABSTIME) loop on a
#      50 us grid (bench/deadline_loop.c): the floor this machine's scheduler allows;
#   3. peak RSS replaying a trace of N small GETs and one of 10N (whole trace once, --rate max).
#   bench/replay.sh [N] [ROUNDS]   (default 100000 and 3)
# REPRISE_BUILD_LOCK=FILE builds under `flock FILE` (a checkout shared by several builders).
# Targets (issue 5): throughput >= 1.0x wrk at the same connections, lateness p99 <= 1 ms,
# peak RSS about the same for N and 10N and < 256 MiB.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
rounds=${2:-3}
seconds=10
lock=()
[ -z "${REPRISE_BUILD_LOCK:-}" ] || lock=(flock "$REPRISE_BUILD_LOCK")
build=$("${lock[@]}" "$here/.ci/setup.sh")
"${lock[@]}" cmake --build "$build" --target reprise reprise_make_get_trace deadline_loop \
  -j"$(nproc)" >/dev/null
source "$here/.ci/ensure_packages.sh"
ensure_packages wrk time bc jq
source "$here/.ci/free_port.sh"
source "$here/bench/median.sh"
reprise=$build/tools/reprise
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

"$build/bench/reprise_make_get_trace" "$work/n.rtrace" "$n" >/dev/null
"$build/bench/reprise_make_get_trace" "$work/10n.rtrace" "$((n * 10))" >/dev/null

port=$(free_port)
target=http://127.0.0.1:$port
# A one-field log line, written in 256 KiB blocks: nginx counts requests at little cost, the
# same for every client. (Unbuffered, nginx makes one write() per request, 12 % of its
# throughput here: the server is then the bottleneck even more, and what is measured is how
# much CPU each client leaves it.)
cat > "$work/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 1024; }
http {
  log_format n '\$status'; access_log $work/access.log n buffer=256k flush=100ms;
  keepalive_requests 1000000;
  client_body_temp_path $work/b; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
  uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$port; location / { return 200 "ok"; } }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
for _ in $(seq 100); do curl -sf "$target/" >/dev/null && break; sleep 0.05; done

logged() { wc -l < "$work/access.log"; }
# Requests nginx logged while "$@" ran (it logs each one as it answers; the pause lets the
# last answers land before counting).
count() {
  local before after
  before=$(logged)
  "$@"
  sleep 0.5
  after=$(logged)
  echo $((after - before))
}
wrk_run() { wrk "$@" >/dev/null; }
# busy FILE PID CMD...: runs CMD; writes into FILE the CPU share (%) PID had meanwhile.
busy() {
  local file=$1 pid=$2 t0 t1 c0 c1
  shift 2
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(date +%s.%N)
  "$@"
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(date +%s.%N)
  echo "($c1 - $c0) * 100 / $(getconf CLK_TCK) / ($t1 - $t0)" | bc -l > "$file"
}
# json FILE PATH: one value of a stats JSON, e.g. json s.json '.lateness_ms.p99'
json() { jq -r "$2" "$1"; }
replay() {  # replay NAME TRACE ARGS...: run file and stats JSON named after NAME
  local name=$1 trace=$2
  shift 2
  "$reprise" replay "$trace" --target "$target" -o "$work/$name.rrun" \
    --stats-json "$work/$name.json" "$@" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; return 1; }
}

# Other work on the machine moves every figure here; the load average is printed with them.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Throughput. Both clients keep 64 connections busy; nginx's count is divided by each
# client's own sending time (wrk: -d; reprise: duration_s, from run time 0 to the end of drain).
# Each round runs the three clients back to back, so a drift of this VM's speed shows within a
# round rather than between the clients; the summary is the median over rounds.
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
for r in $(seq "$rounds"); do
  count busy "$work/wrk.$r.cpu" "$worker" wrk_run -t1 -c64 -d${seconds}s "$target/item/1" \
    > "$work/wrk.$r.count"
  count busy "$work/max.$r.cpu" "$worker" replay "max$r" "$work/n.rtrace" --rate max --loop \
    --duration ${seconds}s --max-connections 64 --max-inflight 64 --no-default-aborts \
    --keep-bodies 0 > "$work/max.$r.count"
  count busy "$work/wrk2.$r.cpu" "$worker" wrk_run -t2 -c64 -d${seconds}s "$target/item/1" \
    > "$work/wrk2.$r.count"
done
# 2. Lateness: the floor first, on a machine otherwise idle, then reprise at 20000/s.
read -r floor_wakeups floor_p50 floor_p99 floor_max < <("$build/bench/deadline_loop" $seconds 50)
fixed_count=$(count replay fixed "$work/n.rtrace" --rate 20000/s --loop --duration ${seconds}s \
  --max-connections 64 --max-inflight 256 --no-default-aborts --keep-bodies 0)

# 3. Memory by trace length: each whole trace once, as fast as 64 connections go.
rss() {  # rss NAME TRACE: peak KiB, into $work/NAME.rss
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/$1.rss" "$reprise" replay "$2" --target "$target" \
    -o "$work/$1.rrun" --stats-json "$work/$1.json" --rate max --max-connections 64 \
    --no-default-aborts 2>"$work/$1.err" || { cat "$work/$1.err" >&2; return 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$work/$1.seconds"
}
rss mem_n "$work/n.rtrace"
rss mem_10n "$work/10n.rtrace"

errors() { json "$1" '[.errors[]] | add'; }
fmt() { printf '%.3f' "$1"; }
row() { printf '%-44s %14s %14s %10s\n' "$@"; }
echo "machine: $(nproc) CPUs, load average $load_before before the run, $(cut -d' ' -f1-3 /proc/loadavg) after"
echo "== throughput: nginx 1 worker, return 200 \"ok\", ${seconds} s each, counted by nginx; $rounds rounds"
printf '%-6s %-37s %10s %10s %7s %12s\n' "round" "client" "requests" "req/s" "ratio" "nginx CPU %"
for r in $(seq "$rounds"); do
  wrk_count=$(cat "$work/wrk.$r.count"); max_count=$(cat "$work/max.$r.count")
  wrk2_count=$(cat "$work/wrk2.$r.count")
  wrk_rps=$(echo "$wrk_count / $seconds" | bc -l)
  max_rps=$(echo "$max_count / $(json "$work/max$r.json" .duration_s)" | bc -l)
  wrk2_rps=$(echo "$wrk2_count / $seconds" | bc -l)
  echo "$max_rps / $wrk_rps" | bc -l >> "$work/max.ratios"
  echo "$wrk2_rps / $wrk_rps" | bc -l >> "$work/wrk2.ratios"
  for c in wrk max wrk2; do
    case $c in
      wrk) label="wrk -t1 -c64"; cnt=$wrk_count; rps=$wrk_rps ;;
      max) label="reprise --rate max --loop, 64 conn"; cnt=$max_count; rps=$max_rps ;;
      wrk2) label="wrk -t2 -c64 (reference)"; cnt=$wrk2_count; rps=$wrk2_rps ;;
    esac
    printf '%-6s %-37s %10s %10.0f %7.2f %12.0f\n' "$r" "$label" "$cnt" "$rps" \
      "$(echo "$rps / $wrk_rps" | bc -l)" "$(cat "$work/$c.$r.cpu")"
  done
  printf '%-6s reprise: outcomes %s, sent %s, errors %s, dropped at stop %s\n' "$r" \
    "$(json "$work/max$r.json" .outcomes)" "$(json "$work/max$r.json" .sent)" \
    "$(errors "$work/max$r.json")" "$(json "$work/max$r.json" .dropped_at_stop)"
done
printf 'median over %s rounds: reprise %.2fx wrk -t1 (wrk -t2: %.2fx)\n' "$rounds" \
  "$(median < "$work/max.ratios")" "$(median < "$work/wrk2.ratios")"
echo
echo "== lateness (ms, sent - intended) at 20000/s; floor: clock_nanosleep every 50 us"
row "" "p50" "p99" "max"
row "deadline_loop ($floor_wakeups wake-ups)" "$floor_p50" "$floor_p99" "$floor_max"
row "reprise --rate 20000/s --loop" "$(fmt "$(json "$work/fixed.json" '.lateness_ms.p50')")" \
  "$(fmt "$(json "$work/fixed.json" '.lateness_ms.p99')")" \
  "$(fmt "$(json "$work/fixed.json" '.lateness_ms.max')")"
row "  latency from send" "$(fmt "$(json "$work/fixed.json" '.latency_ms.p50')")" \
  "$(fmt "$(json "$work/fixed.json" '.latency_ms.p99')")" \
  "$(fmt "$(json "$work/fixed.json" '.latency_ms.max')")"
row "  achieved rate/s, outcomes, nginx count" \
  "$(printf '%.0f' "$(json "$work/fixed.json" .rate_per_s)")" \
  "$(json "$work/fixed.json" .outcomes)" "$fixed_count"
row "  errors, shed, 2xx" "$(errors "$work/fixed.json")" "$(json "$work/fixed.json" .shed)" \
  "$(json "$work/fixed.json" '.status_classes["2xx"]')"
echo
echo "== memory: whole trace once, --rate max, 64 connections"
row "" "peak RSS MiB" "seconds" "outcomes"
row "trace of $n GETs" "$(( $(cat "$work/mem_n.rss") / 1024 ))" \
  "$(fmt "$(cat "$work/mem_n.seconds")")" "$(json "$work/mem_n.json" .outcomes)"
row "trace of $((n * 10)) GETs" "$(( $(cat "$work/mem_10n.rss") / 1024 ))" \
  "$(fmt "$(cat "$work/mem_10n.seconds")")" "$(json "$work/mem_10n.json" .outcomes)"
row "  errors (N / 10N)" "$(errors "$work/mem_n.json")" "$(errors "$work/mem_10n.json")" ""
