#!/usr/bin/env bash
# The tree follows the data path: each folder may include the headers of the folders before
# it and no others (docs/architecture.md, "Layout"). Internal headers are always included by
# folder ("store/mem.h"), so the folder a header comes from is in its include line; public
# headers (<scopecast/...>, "scopecast/...") and Envoy's generated messages ("envoy/...",
# "google/...") are named below where a folder may use them.
#
#   layers.sh REPO     fails, listing every include that crosses a layer the wrong way
set -euo pipefail
repo=${1:?usage: layers.sh REPO}
cd "$repo"

declare -A allowed=(
  [store]=""
  [snapshot]="store"
  [wire]="store envoy google"
  [obs]="store"
  [model]="store"
  [incr]="store model"
  [scope]="store model incr"
  [xds]="store model incr scope wire envoy google"
  [publish]="store model incr scope xds wire obs"
  [ingest]="store obs"
  [reader]="store wire envoy google"
  [frontend]="store wire obs reader envoy google"
  [engine]="store obs ingest publish"
  [tools]="store wire envoy google"
)

bad=0 checked=0
for dir in "${!allowed[@]}"; do
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<< "${line#*:}")
    case "$inc" in */*) ;; *) continue ;; esac # a header beside the file
    from=${inc%%/*}
    checked=$((checked + 1))
    [ "$from" = "$dir" ] || [ "$from" = scopecast ] && continue
    if ! grep -qw -- "$from" <<< "${allowed[$dir]}"; then
      echo "FAIL $file includes \"$inc\": $dir/ may include only: ${allowed[$dir]:-(nothing)}"
      bad=$((bad + 1))
    fi
  done < <(grep -H '^#include "' "$dir"/*.c "$dir"/*.h 2>/dev/null || true)
done
# Every folder with C sources is in the table (a new one must say where it sits).
for dir in $(git ls-files '*.c' '*.h' | cut -d/ -f1 | sort -u); do
  case "$dir" in include|tests|bench|fuzz) continue ;; esac
  if [ -z "${allowed[$dir]+set}" ]; then
    echo "FAIL $dir/ is not in the layer table of tests/layers.sh"
    bad=$((bad + 1))
  fi
done
if [ "$bad" -gt 0 ]; then
  echo "$bad include(s) cross the layers the wrong way"
  exit 1
fi
echo "ok   $checked includes follow the layers"
