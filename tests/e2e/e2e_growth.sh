#!/usr/bin/env bash
# The snapshot file over time (issue 7, items 2 and 3):
#  1. the map grows on demand: an engine started with a 1 MiB map publishes a mesh that
#     needs 16 times that, while a frontend reads it;
#  2. the file stays bounded over churn: COMMITS single-event commits cycling the mesh's
#     services through three states, read by the frontend as they come, never grow it past
#     twice the size it had before them;
#  3. a reader killed with SIGKILL in the middle of a read transaction leaves a reader slot
#     that the engine clears at its next commit, so the file does not grow; a reader that
#     stays alive in its transaction does grow it (the control that shows the check can
#     fail), and a killed frontend leaves no slot either.
#   e2e_growth.sh SCOPECAST DUMP SRC SHARED SERVE SNAPSHOT_HOLD SCOPECAST_XDS [COMMITS]
. "$(dirname "$0")/lib.sh"
HOLD=$6
XDS=$7
COMMITS=${8:-6000}
NS=40   # namespaces, each with a Sidecar: 42 scopes
SVC=25  # services per namespace
SNAP=$WORK/snap
EVENTS=$WORK/events.jsonl
MIB=1048576

# gen_mesh: namespaces with a Sidecar each (its own scope, importing the next namespace)
# and their services, as watch events.
gen_mesh() {
  local ns svc
  for ((ns = 0; ns < NS; ns++)); do
    printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns-%d"}}}\n' $ns
    printf '{"type":"ADDED","object":{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"default","namespace":"ns-%d"},"spec":{"egress":[{"hosts":["./*","ns-%d/*","istio-system/*"]}]}}}\n' \
      $ns $(((ns + 1) % NS))
    for ((svc = 0; svc < SVC; svc++)); do
      printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-%d","namespace":"ns-%d"},"spec":{"ports":[{"name":"http","port":8080},{"name":"grpc","port":9090}],"selector":{"app":"svc-%d"}}}}\n' \
        $svc $ns $svc
    done
  done
}

# gen_churn COUNT FIRST: services modified round robin; each round moves every service's
# http port to the next of three values, so the state cycles and the live data stays the
# same size.
gen_churn() {
  local i
  for ((i = $2; i < $2 + $1; i++)); do
    printf '{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-%d","namespace":"ns-%d"},"spec":{"ports":[{"name":"http","port":%d},{"name":"grpc","port":9090}],"selector":{"app":"svc-%d","round":"r%d"}}}}\n' \
      $((i % SVC)) $((i / SVC % NS)) $((8080 + i / (NS * SVC) % 3)) $((i % SVC)) $((i % 7))
  done
}

file_size() { stat -c %s "$SNAP/data.mdb"; }
map_size() { mdb_stat -e "$SNAP" | awk '/Map size:/ {print $3}'; }
readers() { mdb_stat -r "$SNAP" | awk 'NR > 2 && $1 ~ /^[0-9]+$/ {print $1}'; }
entries() { mdb_stat -s "$1" "$SNAP" | awk '/Entries:/ {print $2}'; }

# The engine's last published head, from its log: opening the snapshot (scopecast-dump)
# would clear stale reader slots itself, and section 3 wants to see the engine do it.
engine_head() { grep -o 'head [0-9]*,' "$WORK/engine.log" | tail -1 | tr -dc 0-9; }
engine_head_is() { [ "$(engine_head)" == "$1" ]; }

CHURNED=0
# churn COUNT: append COUNT churn events and wait until each is its own commit.
churn() {
  local target=$(($(engine_head) + $1))
  gen_churn "$1" $CHURNED >> "$EVENTS"
  CHURNED=$((CHURNED + $1))
  wait_for 300 engine_head_is "$target" || fail "churn: head did not reach $target"
}

stats_lines() { grep -c '"head_version"' "$1"; }
more_stats_lines() { [ "$(stats_lines "$1")" -gt "$2" ]; }
# frontend_head PID LOG: the head version in the frontend's stats line (SIGUSR1).
frontend_head() {
  local lines
  lines=$(stats_lines "$2")
  kill -USR1 "$1"
  wait_for 10 more_stats_lines "$2" "$lines" || return
  grep '"head_version"' "$2" | tail -1 | sed 's/^[^{]*//' | jq -r .head_version
}

# ---- 1. the map grows on demand, under a reading frontend -------------------------------
: > "$EVENTS"
"$SCOPECAST" --snapshot "$SNAP" --watch "file:$EVENTS" --snapshot-map-size $MIB \
  --batch-max-events 1 --batch-quiet-ms 5 --no-sync 2> "$WORK/engine.log" &
ENGINE=$!
PIDS+=($ENGINE)
wait_for 10 info_is "$SNAP" .headVersion 1 || fail "the engine published nothing"
"$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds.sock" --poll-ms 50 --stats-interval-ms 0 \
  2> "$WORK/xds.log" &
FRONTEND=$!
PIDS+=($FRONTEND)
gen_mesh >> "$EVENTS"
objects=$((NS * (SVC + 2)))
wait_for 60 info_is "$SNAP" .objects "$objects" || fail "the mesh was not published"
sleep 0.2
head=$(info "$SNAP" .headVersion)
grown=$(grep -c 'map grown' "$WORK/engine.log")
if [ "$(map_size)" -ge $((16 * MIB)) ] && [ "$grown" -ge 4 ]; then
  pass "map grown on demand: 1 MiB -> $(($(map_size) / MIB)) MiB in $grown steps, file $(($(file_size) / 1024)) KiB"
else
  fail "map: $(map_size) bytes after $grown steps"
fi
check "the mesh published (objects)" "$objects" "$(info "$SNAP" .objects)"
check "the frontend read every grown version" "$head" "$(frontend_head $FRONTEND "$WORK/xds.log")"

# ---- 2. bounded over churn -------------------------------------------------------------
before=$(file_size)
history_before=$(entries history)
t0=$SECONDS
sizes=""
max=$before
done_commits=0
while [ $done_commits -lt "$COMMITS" ]; do
  step=$((COMMITS - done_commits < 1000 ? COMMITS - done_commits : 1000))
  churn $step
  done_commits=$((done_commits + step))
  size=$(file_size)
  [ "$size" -gt "$max" ] && max=$size
  sizes="$sizes $((size / 1024))"
done
echo "     file size (KiB) every 1000 commits:$sizes"
# Pages a commit frees are reused once no reader's transaction is older; the frontend reads
# while the engine commits, so the file settles somewhat above the live data. The bound:
# twice the size after the initial load.
if [ "$max" -le $((2 * before)) ]; then
  pass "$COMMITS commits in $((SECONDS - t0)) s: the file stayed under twice its $((before / 1024)) KiB (max $((max / 1024)) KiB)"
else
  fail "the file grew past its bound over churn: $before -> $max bytes"
fi
changelog=$(entries changelog)
history_after=$(entries history)
if [ "$changelog" -le 1024 ] && [ "$history_after" -le $((history_before * 2)) ]; then
  pass "old versions trimmed: changelog $changelog records (<= 1024), history $history_before -> $history_after records"
else
  fail "old versions kept: changelog $changelog, history $history_before -> $history_after"
fi
if "$DUMP" --snapshot "$SNAP" check > "$WORK/check.out" 2>&1; then
  pass "after the churn the snapshot checks ($(awk '/^digest/ {print $2}' "$WORK/check.out"))"
else
  fail "after the churn the snapshot does not check:"; head -5 "$WORK/check.out" | sed 's/^/    /'
fi
sleep 0.2
check "the frontend follows the churn" "$(engine_head)" "$(frontend_head $FRONTEND "$WORK/xds.log")"

# ---- 3. reader slots of killed readers ----------------------------------------------------
# The control: a live reader holding its transaction pins the pages, the file grows.
"$HOLD" "$SNAP" > "$WORK/hold.out" &
HOLDER=$!
wait_for 10 test -s "$WORK/hold.out" || fail "snapshot_hold did not start"
before=$(file_size)
churn 500
pinned=$(($(file_size) - before))
if [ $pinned -ge $((8 * MIB)) ]; then
  pass "a live reader in its transaction pins old pages: the file grew $((pinned / MIB)) MiB over 500 commits"
else
  fail "a live reader should have made the file grow (grew $pinned bytes)"
fi
kill -9 $HOLDER
wait $HOLDER 2>/dev/null
if readers | grep -qx "$HOLDER"; then
  pass "the killed reader left its slot (pid $HOLDER)"
else
  fail "the killed reader's slot was not there to clear"
fi
cleared_before=$(grep -c 'reader slots of dead processes' "$WORK/engine.log")
before=$(file_size)
churn 500
if ! readers | grep -qx "$HOLDER"; then pass "the engine cleared it at its next commit"; else fail "stale slot of pid $HOLDER kept"; fi
check "the engine logged the clearing" "$((cleared_before + 1))" "$(grep -c 'reader slots of dead processes' "$WORK/engine.log")"
check "no growth after the kill (bytes over 500 commits)" 0 "$(($(file_size) - before))"

# A real frontend killed while it serves: no slot of it survives the next commit.
kill -9 $FRONTEND
wait $FRONTEND 2>/dev/null
churn 10
if ! readers | grep -qx "$FRONTEND"; then pass "no reader slot of the killed frontend"; else fail "frontend $FRONTEND left a slot"; fi
check "the engine survived it all" 0 "$(kill -0 $ENGINE 2>/dev/null; echo $?)"
finish
