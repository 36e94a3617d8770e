#!/usr/bin/env bash
# The scopecast demo, on the bundled meshes (examples/seeds, examples/bookinfo):
#
#   tools/demo.sh BUILD_DIR      (tools/setup.sh demo builds, then runs it on build/)
#
# For each mesh an engine follows a copy of its config directory and publishes into its own
# snapshot; `scopecast-dump` shows what it published. On bookinfo, two scopecast-xds
# frontends share one TCP port (SO_REUSEPORT); `scopecast-dump fetch` asks them over ADS
# what the productpage pod's sidecar receives, as Envoy would; one change to a
# VirtualService in the followed directory reaches a proxy that keeps its stream open
# (`fetch --follow 1`). Everything is stopped with SIGTERM at the end and must exit 0; the
# temporary directory goes in any case. Loopback only; takes a few seconds.
set -euo pipefail
BUILD=$(cd "${1:?usage: tools/demo.sh BUILD_DIR}" && pwd)
cd "$(dirname "$0")/.."
SCOPECAST=$BUILD/scopecast
XDS=$BUILD/scopecast-xds
DUMP=$BUILD/scopecast-dump
for b in "$SCOPECAST" "$XDS" "$DUMP"; do
  [ -x "$b" ] || { echo "demo: $b is not an executable: build first" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/scopecast-demo-XXXXXX)
NAMES=() # what each started process is, by index into PIDS
PIDS=()
FOLLOW=

cleanup() {
  local rc=$? i
  for i in "${!PIDS[@]}"; do kill -TERM "${PIDS[$i]}" 2> /dev/null || true; done
  [ -z "$FOLLOW" ] || kill -TERM "$FOLLOW" 2> /dev/null || true
  wait 2> /dev/null || true
  if [ $rc -ne 0 ]; then
    echo
    echo "demo: FAILED; the last lines of each log:"
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      echo "--- $(basename "$f")"
      tail -n 15 "$f"
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

section() { printf '\n== %s ==\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
# start NAME LOG COMMAND...: runs COMMAND in the background, its stderr into LOG
start() {
  local name=$1 log=$2
  shift 2
  "$@" 2> "$log" &
  PIDS+=($!)
  NAMES+=("$name")
}
alive() { kill -0 "$1" 2> /dev/null; }
# wait_until SECONDS PID WHAT COMMAND...: polls COMMAND until it succeeds; fails when PID died
wait_until() {
  local deadline=$((SECONDS + $1)) pid=$2 what=$3
  shift 3
  until "$@" > /dev/null 2>&1; do
    alive "$pid" || die "$what: the process exited"
    [ $SECONDS -lt $deadline ] || die "$what: not within $1 s"
    sleep 0.05
  done
}
head_version() { "$DUMP" --snapshot "$1" info 2> /dev/null | awk '$1 == "head" && $2 == "version" { print $3 }'; }
published() { [ "$(head_version "$1")" -ge "${2:-1}" ] 2> /dev/null; }
# A TCP port on 127.0.0.1 that nothing accepts on now.
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then echo "$p"; return; fi
  done
  die "no free TCP port found"
}

# ---- the engines ---------------------------------------------------------------------------
for mesh in seeds bookinfo; do
  mkdir -p "$WORK/$mesh"
  cp -r "examples/$mesh/config" "$WORK/$mesh/config"
  section "scopecast: an engine following a copy of examples/$mesh/config"
  echo "$SCOPECAST --snapshot $WORK/$mesh/snap --config-dir $WORK/$mesh/config --mesh-config examples/$mesh/mesh.yaml"
  start "engine ($mesh)" "$WORK/engine-$mesh.log" "$SCOPECAST" --snapshot "$WORK/$mesh/snap" \
    --config-dir "$WORK/$mesh/config" --mesh-config "examples/$mesh/mesh.yaml"
  wait_until 20 "${PIDS[-1]}" "the $mesh engine's first publish" published "$WORK/$mesh/snap"
  grep -m1 "batch:" "$WORK/engine-$mesh.log" | sed 's/^/  /'
  section "scopecast-dump --snapshot ... info ($mesh)"
  "$DUMP" --snapshot "$WORK/$mesh/snap" info
  section "scopecast-dump --snapshot ... scopes ($mesh)"
  "$DUMP" --snapshot "$WORK/$mesh/snap" scopes
done
section "the scope a ratings pod in prod-us1 gets (seeds)"
"$DUMP" --snapshot "$WORK/seeds/snap" resolve --namespace prod-us1 --label app=ratings
echo
"$DUMP" --snapshot "$WORK/seeds/snap" scope prod-us1/ratings

# ---- two frontends on one port ---------------------------------------------------------------
SNAP=$WORK/bookinfo/snap
PORT=$(free_port)
ADDR=127.0.0.1:$PORT
section "scopecast-xds: two frontends sharing $ADDR (SO_REUSEPORT), each also on its own unix socket"
FRONTEND_PIDS=()
for n in 1 2; do
  echo "$XDS --snapshot $SNAP --listen $ADDR --listen unix:$WORK/xds-$n.sock"
  start "frontend $n" "$WORK/xds-$n.log" "$XDS" --snapshot "$SNAP" --listen "$ADDR" --listen "unix:$WORK/xds-$n.sock" \
    --stats-interval-ms 0
  FRONTEND_PIDS+=("${PIDS[-1]}")
done
# Ready when each answers on its own socket (a frontend may bind only once it serves a head).
NODE=(--node "productpage-v1-58b4c9bff8-w6c2d.bookinfo" --label app=productpage --label version=v1)
for n in 1 2; do
  wait_until 20 "${FRONTEND_PIDS[$((n - 1))]}" "frontend $n serving" \
    "$DUMP" fetch --server "unix:$WORK/xds-$n.sock" "${NODE[@]}" --type clusters --timeout-ms 1000
  echo "frontend $n serves (pid ${FRONTEND_PIDS[$((n - 1))]})"
done
wait_until 20 "${FRONTEND_PIDS[0]}" "the shared port" "$DUMP" fetch --server "$ADDR" "${NODE[@]}" --type clusters \
  --timeout-ms 1000

# ---- what a proxy receives ---------------------------------------------------------------------
FETCH=("$DUMP" fetch --server "$ADDR" "${NODE[@]}")
show_fetch() { # the command as one would type it, then its output
  echo "\$ scopecast-dump fetch --server $ADDR ${NODE[*]} $*"
  "${FETCH[@]}" "$@"
}
section "what the productpage pod's sidecar receives over ADS: its clusters (CDS)"
show_fetch --type clusters
section "... and its route configurations (RDS, for the names its listeners give)"
show_fetch --type routes
# The reviews split of route configuration 9080, from the decoded RouteConfiguration.
reviews_split() {
  "${FETCH[@]}" --type routes --json | jq -r '.version_info as $v | .resources[] | select(.name == "9080")
    | .resource.virtual_hosts[] | select(.name | startswith("reviews."))
    | .routes[] | select(.route.weighted_clusters != null)
    | "route \(.name // "-"): " + ([.route.weighted_clusters.clusters[] | "\(.name) weight \(.weight)"] | join(", "))
      + "  (routes version_info \($v))"'
}
section "the reviews split in route configuration 9080"
reviews_split

# ---- one change, pushed ---------------------------------------------------------------------------
section "a proxy that keeps its stream open (Delta xDS), in the background"
echo "\$ scopecast-dump fetch --server $ADDR ${NODE[*]} --type routes --delta --follow 1"
"${FETCH[@]}" --type routes --delta --follow 1 --timeout-ms 15000 > "$WORK/follow.out" 2> "$WORK/follow.log" &
FOLLOW=$! # waited for below
wait_until 20 "$FOLLOW" "the following fetch's first answer" grep -q '^9080 ' "$WORK/follow.out"
sed 's/^/  /' "$WORK/follow.out"
VS=$WORK/bookinfo/config/virtualservices.yaml
cp "$VS" "$WORK/virtualservices.before"
# reviews "default": v1 50 / v3 50 -> v1 10 / v3 90 (the first two weights in the file)
awk '/weight: 50/ && n < 2 { sub(/weight: 50/, n == 0 ? "weight: 10" : "weight: 90"); n++ } { print }' \
  "$WORK/virtualservices.before" > "$WORK/virtualservices.new"
mv "$WORK/virtualservices.new" "$VS"
section "the change: $VS (the engine follows the directory)"
diff -u --label before --label after "$WORK/virtualservices.before" "$VS" || true
rc=0
wait "$FOLLOW" || rc=$?
FOLLOW=
section "what the following proxy was pushed"
cat "$WORK/follow.out"
[ $rc -eq 0 ] || { cat "$WORK/follow.log"; die "the following fetch exited $rc"; }
grep -q '^--- routes version_info' "$WORK/follow.out" || die "no push seen"
section "the reviews split in route configuration 9080 now"
reviews_split
echo
echo "bookinfo head version now $(head_version "$SNAP")"
section "connections each frontend accepted on $ADDR"
for n in 1 2; do
  echo "frontend $n: $(grep -c "connection on $ADDR" "$WORK/xds-$n.log" || true)"
done

# ---- stop -----------------------------------------------------------------------------------------
section "stopping everything (SIGTERM; each must exit 0)"
failed=0
for i in "${!PIDS[@]}"; do kill -TERM "${PIDS[$i]}" 2> /dev/null || true; done
for i in "${!PIDS[@]}"; do
  rc=0
  wait "${PIDS[$i]}" || rc=$?
  echo "${NAMES[$i]}: exit $rc"
  [ $rc -eq 0 ] || failed=1
done
PIDS=()
[ $failed -eq 0 ] || die "a process did not exit 0"
echo
echo "demo: done"
