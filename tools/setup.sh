#!/usr/bin/env bash
# Sets up, builds and runs scopecast on a Debian 12 machine (as root).
#
#   tools/setup.sh demo   install what is missing, build, and run tools/demo.sh: engines
#                         following the bundled example meshes, two frontends on one port,
#                         what a proxy receives over ADS, one change pushed
#   tools/setup.sh test   install what is missing, build (plain and with ASan+UBSan) and
#                         run every test, then each fuzz target for FUZZ_SECONDS (60)
#
# Installing is idempotent: packages already present are not touched, so a second run
# costs only the build.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libuv1-dev libprotobuf-c-dev protobuf-c-compiler
          libprotobuf-dev libxxhash-dev liblmdb-dev libyaml-dev libjansson-dev libyajl-dev
          libnghttp2-dev jq lmdb-utils clang libclang-rt-14-dev libmicrohttpd-dev
          python3-prometheus-client curl)

install_deps() {
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    return
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

build() { # build DIR [cmake options...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" > /dev/null
  cmake --build "$dir" -j"$(nproc)"
}

demo() {
  build build
  bash tools/demo.sh build
}

# The conformance test decodes what the engine publishes with Envoy's own protos in Node.js
# (tests/node, packages pinned by its package-lock.json).
install_node() {
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    install_deps nodejs npm
  fi
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
}

run_tests() {
  install_node
  build build
  (cd build && ctest --output-on-failure -j2)
  # The same suite under AddressSanitizer (with LeakSanitizer) and UBSan.
  build build-asan -DCMAKE_BUILD_TYPE=Debug -DSC_ASAN=ON -DSC_UBSAN=ON
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2)
  run_fuzzers
}

# The fuzz targets (fuzz/, libFuzzer with ASan+UBSan), each for FUZZ_SECONDS (default 60)
# from its seed corpus; what they find new goes to a scratch directory, not the repository.
run_fuzzers() {
  CC=clang build build-fuzz -DSC_FUZZ=ON -DSC_BUILD_TESTS=OFF -DSC_BUILD_BENCH=OFF
  local t scratch
  for t in manifest watch_framing discovery grpc_frame; do
    scratch=$(mktemp -d /tmp/scopecast-fuzz-$t-XXXXXX)
    echo "fuzz_$t: ${FUZZ_SECONDS:-60} s"
    (cd "$scratch" && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$OLDPWD/build-fuzz/fuzz_$t" -max_total_time="${FUZZ_SECONDS:-60}" -max_len=65536 \
       -rss_limit_mb=4096 -print_final_stats=1 "$scratch" "$OLDPWD/fuzz/corpus/$t" > fuzz.log 2>&1) || {
      echo "fuzz_$t FAILED (the crashing input and log are in $scratch):"; tail -40 "$scratch/fuzz.log"; return 1; }
    grep -E "number_of_executed_units|new_units_added" "$scratch/fuzz.log" | sed "s/^/  /"
    rm -rf "$scratch"
  done
}

case "${1:-}" in
  demo) install_deps; demo ;;
  test) install_deps; run_tests ;;
  deps) install_deps ;;
  *) echo "usage: tools/setup.sh demo|test|deps" >&2; exit 2 ;;
esac
