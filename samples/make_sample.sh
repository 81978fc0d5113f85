#!/usr/bin/env bash
# Regenerates samples/demo.pcap and samples/demo.rtrace from real traffic: starts the demo shop
# (nginx, nginx-demo.conf.in) on loopback, captures with tcpdump while three users log in and
# browse with curl, then runs `reprise capture` on the pcap. Needs root (tcpdump).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$("$here/../.ci/setup.sh")
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$here/../.ci/free_port.sh"
port=$(free_port)
sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$port|g" -e "s|@SITE@|$here/site|g" \
  "$here/nginx-demo.conf.in" > "$work/nginx.conf"
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" &
tcpdump -i lo --immediate-mode -B 131072 -s 0 -U -n -w "$work/demo.pcap" "tcp port $port" 2>"$work/tcpdump.err" &
dump=$!
for _ in $(seq 100); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.05; done
sleep 0.3

base="http://127.0.0.1:$port"
user() {  # one user's visit: log in, browse, add to the cart, with their own cookie jar
  local jar="$work/jar$1"
  curl -s -c "$jar" -X POST -d "user=user$1&password=secret$1" "$base/login" >/dev/null
  sleep 0.$((RANDOM % 3 + 1))
  curl -s -b "$jar" "$base/static/app.js" -o /dev/null "$base/api/items" -o /dev/null
  sleep 0.$((RANDOM % 3 + 1))
  curl -s -b "$jar" "$base/api/items/$1" >/dev/null
  curl -s -b "$jar" -X POST -H 'Content-Type: application/json' \
    -d "{\"item\":$1,\"qty\":1}" "$base/api/cart" >/dev/null
}
user 1 & u1=$!
user 2 & u2=$!
user 3 & u3=$!
wait $u1 $u2 $u3

sleep 0.3
kill -INT $dump; wait $dump 2>/dev/null || true
cp "$work/demo.pcap" "$here/demo.pcap"
(cd "$here" && "$build/tools/reprise" capture --pcap demo.pcap -o demo.rtrace)
echo "wrote $here/demo.pcap and $here/demo.rtrace"
