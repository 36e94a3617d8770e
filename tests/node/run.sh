#!/usr/bin/env bash
# The conformance test: the engine on every example mesh, Istio's Bookinfo fixture and a
# mesh with every DestinationRule TLS mode (tls/),
# then conformance.mjs decodes everything published with Envoy's own protos.
#
#   run.sh SCOPECAST SCOPECAST_DUMP SOURCE_DIR SHARED_DIR
# Needs Node.js and `npm ci` in tests/node (tools/setup.sh test does both).
set -u
SCOPECAST=$1 DUMP=$2 SRC=$3 SHARED=$4
DIR=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$DIR/node_modules/@grpc/grpc-js-xds" ]; then
  echo "FAIL: no node_modules in $DIR: run 'npm ci' there (tools/setup.sh test does)"
  exit 1
fi
WORK=$(mktemp -d /tmp/sc-conformance-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
snaps=()
for mesh in seeds bookinfo; do
  "$SCOPECAST" --snapshot "$WORK/$mesh" --config-dir "$SRC/examples/$mesh/config" \
    --mesh-config "$SRC/examples/$mesh/mesh.yaml" --once --log-level warning || exit 1
  snaps+=("$WORK/$mesh")
done
"$SCOPECAST" --snapshot "$WORK/fixture" --config-dir "$SHARED/fixtures/istio/bookinfo" --once \
  --log-level error || exit 1
snaps+=("$WORK/fixture")
"$SCOPECAST" --snapshot "$WORK/tls" --config-dir "$DIR/tls" --once --log-level warning || exit 1
snaps+=("$WORK/tls")
node "$DIR/conformance.mjs" "$DUMP" "${snaps[@]}"
