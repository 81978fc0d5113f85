#!/usr/bin/env bash
# Benchmark of `reprise proxy` against nginx's own reverse proxy, in one run. The upstream is
# nginx (`return 200 "ok"`, one worker); in front of it, in turn:
#   1. nginx as a plain `proxy_pass` reverse proxy (keep-alive upstream, one worker per core),
#      which records nothing;
#   2. `reprise proxy` recording every exchange into a trace;
#   3. `reprise proxy --no-record` (the cost of recording is the difference);
# each driven by wrk (64 connections, 10 s). Printed: requests/s, p50 and p99 latency from wrk,
# their ratios to nginx's, and the trace's exchange count against wrk's request count.
#   bench/proxy.sh [SECONDS] [ROUNDS]    (default 10 s, 3 rounds; the median is the result)
# REPRISE_BUILD_LOCK=FILE builds under `flock FILE` (a checkout shared by several builders).
# Targets (issue 4): throughput >= 1.0x nginx proxy_pass, p50 added latency <= nginx's, every
# request recorded.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-10}
rounds=${2:-3}
lock=()
[ -z "${REPRISE_BUILD_LOCK:-}" ] || lock=(flock "$REPRISE_BUILD_LOCK")
build=$("${lock[@]}" "$here/.ci/setup.sh")
"${lock[@]}" cmake --build "$build" --target reprise -j"$(nproc)" >/dev/null
source "$here/.ci/ensure_packages.sh"
ensure_packages wrk jq
source "$here/.ci/free_port.sh"
source "$here/bench/median.sh"
reprise=$build/tools/reprise
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

upstream=$(free_port)
front=$(free_port)
cores=$(nproc)
cat > "$work/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/b; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
  uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$upstream; location / { return 200 "ok"; } }
}
CONF
cat > "$work/front.conf" <<CONF
daemon off; worker_processes $cores; pid $work/front.pid; error_log $work/front-error.log;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/fb; proxy_temp_path $work/fp; fastcgi_temp_path $work/ff;
  uwsgi_temp_path $work/fu; scgi_temp_path $work/fs;
  upstream up { server 127.0.0.1:$upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$front;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
# wait_up PORT LOG: until something answers on PORT; else says so, with LOG, and fails.
wait_up() {
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/" >/dev/null && return 0; sleep 0.05; done
  echo "bench/proxy.sh: nothing answers on 127.0.0.1:$1 after 5 s; $2:" >&2
  cat "$2" >&2 2>/dev/null || true
  return 1
}
wait_up "$upstream" "$work/error.log"

# wrk_run NAME PORT: requests/s, p50 ms, p99 ms and the request count, into $work/NAME.
wrk_run() {
  wrk -t1 -c64 -d"${seconds}s" --latency "http://127.0.0.1:$2/bench" > "$work/$1.wrk"
  local rps p50 p99 n
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$1.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.wrk")
  n=$(awk '/requests in/ {print $1}' "$work/$1.wrk")
  echo "$rps $p50 $p99 $n" > "$work/$1"
}
ms() {  # wrk's "1.23ms" / "456.00us" / "1.02s" -> milliseconds
  case $1 in *us) echo "${1%us} / 1000" | bc -l ;; *ms) echo "${1%ms}" ;; *s) echo "${1%s} * 1000" | bc -l ;; esac
}

# One round: the three fronts in turn, each result in $work/NAME.ROUND.
round() {
  local r=$1
  /usr/sbin/nginx -c "$work/front.conf" -p "$work" & local front_pid=$!; pids+=("$front_pid")
  wait_up "$front" "$work/front-error.log"
  wrk_run "nginx.$r" "$front"
  kill "$front_pid"; wait "$front_pid" 2>/dev/null || true

  proxy_front "reprise.$r" -o "$work/bench.rtrace"
  "$reprise" trace info --json "$work/bench.rtrace" | jq -r .records > "$work/recorded.$r"
  proxy_front "plain.$r" --no-record
}

# proxy_front NAME FLAGS...: wrk against `reprise proxy FLAGS`, the result in $work/NAME.
proxy_front() {
  local name=$1 port pid
  shift
  port=$(free_port)
  "$reprise" proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$upstream" \
    --threads "$cores" "$@" 2>"$work/$name.err" & pid=$!; pids+=("$pid")
  wait_up "$port" "$work/$name.err"
  wrk_run "$name" "$port"
  kill -TERM "$pid"; wait "$pid"
}


printf 'proxy benchmark: wrk -t1 -c64 -d%ss, upstream nginx (1 worker), %s cores, %s rounds, load before %s\n' \
  "$seconds" "$cores" "$rounds" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-6s %-34s %10s %10s %10s %8s\n' "round" "front" "req/s" "p50 ms" "p99 ms" "x nginx"
for r in $(seq "$rounds"); do
  round "$r"
  read -r n_rps n_p50 n_p99 n_n < "$work/nginx.$r"
  for name in nginx reprise plain; do
    read -r rps p50 p99 n < "$work/$name.$r"
    case $name in
      nginx) label="nginx proxy_pass (records nothing)" ;;
      reprise) label="reprise proxy (recording)" ;;
      plain) label="reprise proxy --no-record" ;;
    esac
    ratio=$(echo "$rps / $n_rps" | bc -l)
    p50_ratio=$(echo "$(ms "$p50") / $(ms "$n_p50")" | bc -l)
    printf '  %-6s %-34s %10.0f %10.3f %10.3f %8.2f\n' "$r" "$label" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$ratio"
    echo "$ratio" >> "$work/$name.ratios"
    echo "$p50_ratio" >> "$work/$name.p50ratios"
  done
  read -r _ _ _ r_n < "$work/reprise.$r"
  printf '  %-6s recorded: %s exchanges in the trace for %s requests wrk counted as answered\n' \
    "$r" "$(cat "$work/recorded.$r")" "$r_n"
done
# The VM's noise moves single runs by +-10 %: each round compares fronts measured minutes apart
# at most, and the summary is the median over rounds.
printf '  median over %s rounds: recording %.2fx nginx req/s (p50 %.2fx), --no-record %.2fx (p50 %.2fx)\n' \
  "$rounds" "$(median < "$work/reprise.ratios")" "$(median < "$work/reprise.p50ratios")" \
  "$(median < "$work/plain.ratios")" "$(median < "$work/plain.p50ratios")"
