#!/usr/bin/env bash
# Golden tests: the clusters, endpoints and routes of chosen scopes of the example meshes, as scopecast-dump
# decodes them, must equal the reviewed files in this directory byte for byte.
#
#   run.sh SCOPECAST SCOPECAST_DUMP SOURCE_DIR        compare
#   SC_UPDATE_GOLDEN=1 run.sh ...                     rewrite the files (then review them)
set -u
SCOPECAST=$1 DUMP=$2 SRC=$3
DIR=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/sc-golden-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0 FAILED=0
for mesh in seeds bookinfo; do
  "$SCOPECAST" --snapshot "$WORK/$mesh" --config-dir "$SRC/examples/$mesh/config" \
    --mesh-config "$SRC/examples/$mesh/mesh.yaml" --once --log-level warning || exit 1
done
# mesh scope type file [labels...]
while read -r mesh scope type file labels; do
  [ -z "$mesh" ] && continue
  args=()
  for l in $labels; do args+=(--label "$l"); done
  out="$WORK/$file"
  "$DUMP" --snapshot "$WORK/$mesh" resources "$scope" --type "$type" --json "${args[@]}" > "$out" || exit 1
  if [ "${SC_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$out" "$DIR/$file"
    echo "updated $file"
  elif cmp -s "$out" "$DIR/$file"; then
    PASSED=$((PASSED + 1)); echo "ok   $file"
  else
    FAILED=$((FAILED + 1)); echo "FAIL $file differs:"; diff -u "$DIR/$file" "$out" | head -40
  fi
done <<'LIST'
bookinfo bookinfo/default clusters bookinfo-default-clusters.json
bookinfo bookinfo/ratings clusters bookinfo-ratings-clusters.json
seeds prod-us1/ratings clusters seeds-prod-us1-ratings-clusters.json app=ratings
seeds prod-us1/no-ip-tables clusters seeds-prod-us1-no-ip-tables-clusters.json
bookinfo bookinfo/default endpoints bookinfo-default-endpoints.json
bookinfo bookinfo/default routes bookinfo-default-routes.json
bookinfo istio-system/@default routes bookinfo-istio-system-routes.json
seeds prod-us1/ratings routes seeds-prod-us1-ratings-routes.json app=ratings
bookinfo bookinfo/default listeners bookinfo-default-listeners.json
bookinfo bookinfo/default listeners bookinfo-default-reviews-listeners.json app=reviews version=v2
bookinfo bookinfo/default clusters bookinfo-default-reviews-clusters.json app=reviews version=v2
seeds prod-us1/ratings listeners seeds-prod-us1-ratings-listeners.json app=ratings
seeds prod-us1/no-ip-tables listeners seeds-prod-us1-no-ip-tables-listeners.json app=productpage
seeds prod-us1/partial-ip-tables listeners seeds-prod-us1-partial-ip-tables-listeners.json
LIST
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
