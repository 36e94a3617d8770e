#!/usr/bin/env bash
# The conformance test: the engine on every example mesh, the shop fixture (tests/fixtures)
# and a mesh with every DestinationRule TLS mode (tls/), plus Istio's Bookinfo as an extra
# where the outside corpus SHARED_DIR/fixtures exists,
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
# The shop (tests/fixtures/shop: Services, Pods, EndpointSlices, Sidecars) with a
# consistent set of its networking samples: mutual TLS subsets, weighted and faulted routes,
# the external payments gateway.
mkdir -p "$WORK/shop-config"
cp "$SRC"/tests/fixtures/shop/*.yaml "$WORK/shop-config/" || exit 1
for f in destination-rule-all-mtls virtual-service-pricing-90-10 virtual-service-inventory-test-delay \
         virtual-service-catalog-v2 egress-payments-gateway; do
  cp "$SRC/tests/fixtures/shop/networking/$f.yaml" "$WORK/shop-config/" || exit 1
done
"$SCOPECAST" --snapshot "$WORK/shop" --config-dir "$WORK/shop-config" --once --log-level warning || exit 1
snaps+=("$WORK/shop")
# Extra: Istio's Bookinfo from the outside corpus, where it exists.
if [ -d "$SHARED/fixtures/istio/bookinfo" ]; then
  echo "extra: Istio's Bookinfo from the outside corpus $SHARED/fixtures/istio/bookinfo"
  "$SCOPECAST" --snapshot "$WORK/istio-bookinfo" --config-dir "$SHARED/fixtures/istio/bookinfo" --once \
    --log-level error || exit 1
  snaps+=("$WORK/istio-bookinfo")
else
  echo "extra: skipped, the outside corpus $SHARED/fixtures/istio/bookinfo is absent"
fi
"$SCOPECAST" --snapshot "$WORK/tls" --config-dir "$DIR/tls" --once --log-level warning || exit 1
snaps+=("$WORK/tls")
node "$DIR/conformance.mjs" "$DUMP" "${snaps[@]}"
