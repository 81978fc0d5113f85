#!/usr/bin/env bash
# Installs what reprise needs from Debian 12's packages (only if something is missing), then
# configures and builds. Safe to run again: a second run installs nothing and rebuilds only
# what changed.
#   .ci/setup.sh                   build in ./build
#   REPRISE_BUILD_DIR=DIR .ci/setup.sh
#   REPRISE_SANITIZE=address,undefined .ci/setup.sh   (a sanitizer build, in ./build-sanitize)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

source "$here/.ci/packages.sh"

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
