#!/usr/bin/env bash
# Benchmark of `reprise capture --pcap`: records wrk traffic against nginx with tcpdump
# (about REQUESTS requests, default 500000), then times, on the same file and in one run:
#   reprise capture --pcap   beside   a bare libpcap read loop   and   tshark -Y http.request
# (the best of 5 runs of the loop and of 3 of reprise) and checks that the exchanges found equal
# the requests nginx logged. Also timed: the read loop plus Beast's parser over every payload,
# with callbacks that keep nothing (bench/beast_parse_floor.cpp): what the parser capture must
# use costs before anything is kept. Needs root (tcpdump).
# Targets (issue 3): >= 0.25x the read loop (aim 0.5x), >= 100x tshark, peak RSS < 256 MiB.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
requests=${1:-500000}
build=$("$here/.ci/setup.sh")
cmake --build "$build" --target pcap_read_loop beast_parse_floor -j"$(nproc)" >/dev/null
source "$here/.ci/ensure_packages.sh"
ensure_packages wrk time
source "$here/.ci/free_port.sh"
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(free_port)
cat > "$work/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log $work/access.log; keepalive_requests 1000000;
  client_body_temp_path $work/b; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
  uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { listen 127.0.0.1:$port; location / { return 200 '{"id":42,"name":"lamp","price":25}'; } }
}
CONF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
sleep 0.5
tcpdump -i lo --immediate-mode -B 262144 -s 0 -U -n -w "$work/wrk.pcap" "tcp port $port" 2>"$work/tcpdump.err" &
dump=$!
for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" && break; sleep 0.05; done
# wrk at a fixed rate so tcpdump keeps up: REQUESTS over ~25 s on 32 connections.
rate=$((requests / 25))
if command -v wrk2 >/dev/null; then wrk2 -t2 -c32 -d25s -R"$rate" "http://127.0.0.1:$port/" >/dev/null
else timeout 60 wrk -t1 -c32 -d25s "http://127.0.0.1:$port/api?x=1" >/dev/null; fi
sleep 0.5; kill -INT $dump; wait $dump 2>/dev/null || true
kill -QUIT "$(cat "$work/nginx.pid")"; sleep 0.5
logged=$(wc -l < "$work/access.log")
grep -E "captured|dropped" "$work/tcpdump.err" | sed 's/^/tcpdump: /'

now() { date +%s.%N; }
# best_of N CMD...: the shortest of N runs, in seconds. Every timed command reads the pcap from
# the page cache (it was just written), and the best of several runs takes out this VM's noise.
best_of() {
  local n=$1 best="" t0 t1 d
  shift
  for _ in $(seq "$n"); do
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    d=$(echo "$t1 - $t0" | bc)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc)" -eq 1 ]; then best=$d; fi
  done
  echo "$best"
}
loop=$("$build/bench/pcap_read_loop" "$work/wrk.pcap")
t_loop=$(best_of 5 "$build/bench/pcap_read_loop" "$work/wrk.pcap")
/usr/bin/time -f "%M" -o "$work/rss" "$build/tools/reprise" capture --pcap "$work/wrk.pcap" \
  -o "$work/wrk.rtrace" --stats-json "$work/stats.json" 2>/dev/null
"$build/tools/reprise" trace info --json "$work/wrk.rtrace" > "$work/info.json"
t_floor=$(best_of 3 "$build/bench/beast_parse_floor" "$work/wrk.pcap")
t_reprise=$(best_of 3 "$build/tools/reprise" capture --pcap "$work/wrk.pcap" -o /dev/null)
found=$(grep -o '"records":[0-9]*' "$work/info.json" | cut -d: -f2)
size=$(stat -c %s "$work/wrk.pcap")
tshark_sample=""
if command -v tshark >/dev/null; then
  # tshark is far slower: time it on the first 20,000 packets and scale by packet count.
  packets=$(echo "$loop" | cut -d' ' -f1)
  head_pcap="$work/head.pcap"
  tcpdump -r "$work/wrk.pcap" -c 20000 -w "$head_pcap" 2>/dev/null
  t5=$(now); tshark -n -r "$head_pcap" -Y http.request > /dev/null 2>&1; t6=$(now)
  t_tshark=$(echo "($t6 - $t5) * $packets / 20000" | bc -l)
  tshark_sample="(measured on 20,000 packets, scaled)"
fi
mbs() { echo "scale=1; $size / $1 / 1000000" | bc; }
printf '%-36s %12s %12s %10s\n' "pcap: $(echo "$loop" | cut -d' ' -f1) packets, $((size / 1000000)) MB" "MB/s" "seconds" "ratio"
printf '%-36s %12s %12.3f %10s\n' "libpcap read loop" "$(mbs "$t_loop")" "$t_loop" "1.00"
printf '%-36s %12s %12.3f %10s\n' "read loop + Beast parser alone" "$(mbs "$t_floor")" "$t_floor" "$(echo "scale=2; $t_loop / $t_floor" | bc)"
printf '%-36s %12s %12.3f %10s\n' "reprise capture --pcap" "$(mbs "$t_reprise")" "$t_reprise" "$(echo "scale=2; $t_loop / $t_reprise" | bc)"
if [ -n "$tshark_sample" ]; then
  printf '%-36s %12s %12.3f %10s\n' "tshark -Y http.request $tshark_sample" "$(mbs "$t_tshark")" "$t_tshark" "$(echo "scale=4; $t_loop / $t_tshark" | bc)"
  printf '%-36s %12s\n' "reprise vs tshark" "$(echo "scale=1; $t_tshark / $t_reprise" | bc)x faster"
fi
printf '%-36s %12s\n' "requests nginx logged" "$logged"
printf '%-36s %12s\n' "exchanges reprise found" "$found"
printf '%-36s %12s\n' "reprise peak RSS" "$(( $(cat "$work/rss") / 1024 )) MiB"
