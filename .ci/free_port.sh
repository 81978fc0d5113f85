# free_port: prints a TCP port on 127.0.0.1 that nothing listens on (bash only). It is drawn
# below the kernel's ephemeral range, where outgoing connections take their local ports: a
# port one of them holds cannot be listened on, and the check here would not see it (a
# benchmark's round once failed with "Address already in use" that way).
free_port() {
  local p low=32768 base=10000 span
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  span=$((low - base))
  if ((span < 1000)); then  # an unusual range: fall back to a wide one
    base=20000
    span=40000
  fi
  for _ in $(seq 200); do
    p=$((base + RANDOM % span))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}
