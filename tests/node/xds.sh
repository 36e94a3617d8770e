#!/usr/bin/env bash
# The xDS frontend test: the real engine and three real frontends (two sharing one TCP
# port) driven by xDS clients built on Envoy's protos (xds.test.mjs, node:test).
#
#   xds.sh SCOPECAST SCOPECAST_XDS SCOPECAST_DUMP SOURCE_DIR
# Needs Node.js and `npm ci` in tests/node (tools/setup.sh test does both). By hand:
# XDS_TEST_PATTERN=REGEX runs the tests whose names match; XDS_KEEP=1 keeps the work
# directory (snapshot, events, every process's log).
set -u
export SCOPECAST=$1 SCOPECAST_XDS=$2 SCOPECAST_DUMP=$3 SOURCE_DIR=$4
DIR=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$DIR/node_modules/@grpc/grpc-js" ] || [ ! -d "$DIR/node_modules/@grpc/grpc-js-xds" ]; then
  echo "FAIL: no node_modules in $DIR: run 'npm ci' there (tools/setup.sh test does)"
  exit 1
fi
for b in "$SCOPECAST" "$SCOPECAST_XDS" "$SCOPECAST_DUMP"; do
  [ -x "$b" ] || { echo "FAIL: $b is not an executable"; exit 1; }
done
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
SCOPECAST=$(abs "$SCOPECAST") SCOPECAST_XDS=$(abs "$SCOPECAST_XDS") SCOPECAST_DUMP=$(abs "$SCOPECAST_DUMP")
SOURCE_DIR=$(cd "$SOURCE_DIR" && pwd)
export XDS_WORK=$(mktemp -d /tmp/sc-xds-XXXXXX)
cleanup() {
  # whatever the test left running (it kills its children itself; this is the safety net)
  if [ -f "$XDS_WORK/pids" ]; then
    while read -r p; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done < "$XDS_WORK/pids"
  fi
  if [ -n "${XDS_KEEP:-}" ]; then echo "kept $XDS_WORK"; else rm -rf "$XDS_WORK"; fi
}
trap cleanup EXIT
# A smaller ASan quarantine, so that freed response buffers do not read as growth in the
# slow-reader test's memory bound (the sanitizer checks stay on).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
cd "$DIR"
node --test --test-reporter=spec --test-concurrency=1 ${XDS_TEST_PATTERN:+--test-name-pattern="$XDS_TEST_PATTERN"} xds.test.mjs
rc=$?
if [ $rc -ne 0 ]; then
  for f in "$XDS_WORK"/*.log; do
    [ -f "$f" ] || continue
    echo "=== $(basename "$f") (last 40 lines)"
    tail -n 40 "$f"
  done
fi
exit $rc
