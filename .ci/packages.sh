# Sourced by .ci/setup.sh and tests/fuzz/run.sh: the Debian 12 packages reprise needs to build,
# test and benchmark (installed with ensure_packages, .ci/ensure_packages.sh).
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
