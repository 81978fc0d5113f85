#!/usr/bin/env bash
# Installs what reprise needs from Debian 12's packages (only if something is missing), then
# configures and builds. Safe to run again: a second run installs nothing and rebuilds only
# what changed.
#   .ci/setup.sh                   build in ./build
#   REPRISE_BUILD_DIR=DIR .ci/setup.sh
#   REPRISE_SANITIZE=address,undefined .ci/setup.sh   (a sanitizer build, in ./build-sanitize)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  build-essential cmake pkg-config          # toolchain
  libzstd-dev zstd                          # trace compression (zstd CLI: tests and bench)
  flatbuffers-compiler libflatbuffers-dev   # record schemas (flatc runs at build time)
  libcli11-dev nlohmann-json3-dev           # command line, JSON output
  libboost-dev libpcap-dev                  # HTTP parsing (Beast), packet capture
  libssl-dev openssl                        # the proxy's HTTPS (and test certificates)
  libjemalloc-dev                           # the reprise executable's allocator (CMakeLists.txt)
  catch2                                    # tests
  nginx-light tcpdump curl apache2-utils    # integration tests: a real server, real packets
  tshark                                    # a second opinion on captures
  iproute2 ethtool                          # test namespaces with a 1500-byte-MTU loopback
  bc                                        # bench scripts
  chromium                                  # tests: HTML reports open in a headless browser
)

source "$here/.ci/ensure_packages.sh"
ensure_packages "${packages[@]}"

sanitize=${REPRISE_SANITIZE:-}
default_dir=$here/build
[ -z "$sanitize" ] || default_dir=$here/build-sanitize
build=${REPRISE_BUILD_DIR:-$default_dir}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREPRISE_WERROR=ON \
  -DREPRISE_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j"$(nproc)" >&2
echo "$build"
