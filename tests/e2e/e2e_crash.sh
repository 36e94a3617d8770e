#!/usr/bin/env bash
# Crash safety (tests/RELIABILITY.md): the engine is killed with SIGKILL at random moments
# while it publishes a heavy event stream in small batches (a commit every 1-20 events).
# After every kill the snapshot must check (`scopecast-dump check`: it opens read-only, its
# head is committed, every scope is complete, every resource is there and decodes); an
# engine restarted on the same inputs with --once must exit 0, above the head the killed
# one left, with the content digest of a fresh engine; and a frontend serving the snapshot
# all along keeps serving the last committed version while the engine is down.
#   e2e_crash.sh SCOPECAST DUMP SRC SHARED SERVE SCOPECAST_XDS TEST_INCREMENTAL [KILLS] [--long]
# KILLS defaults to 50. --long: a stream four times as long, kills up to 14 s in.
# SC_CRASH_SEED=N repeats a run's batch sizes and delays (it is printed).
. "$(dirname "$0")/lib.sh"
XDS=${6:-}
GEN=${7:-}
KILLS=${8:-50}
LONG=${9:-}
START=$SECONDS
NODE_DIR=$SRC/tests/node
CDS=type.googleapis.com/envoy.config.cluster.v3.Cluster
NODE_NS=ns1 # a namespace of test_incremental's streams
NODE_ID="sidecar~10.0.0.1~pod.$NODE_NS~$NODE_NS.svc.cluster.local"

[ -x "$XDS" ] || { fail "needs the scopecast-xds binary"; finish; exit 1; }
[ -x "$GEN" ] || { fail "needs the test_incremental binary"; finish; exit 1; }
if ! command -v node > /dev/null || [ ! -d "$NODE_DIR/node_modules/@grpc/grpc-js" ]; then
  fail "needs Node.js and tests/node/node_modules (tools/setup.sh test installs both)"
  finish
  exit 1
fi
SEED=${SC_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$SEED
EVENTS_N=3000 MAX_DELAY_MS=400 LATE_MS=3500
[ "$LONG" == "--long" ] && EVENTS_N=12000 MAX_DELAY_MS=2000 LATE_MS=14000
EVENTS=$WORK/events.jsonl
SNAP=$WORK/snap
"$GEN" --write-events "$EVENTS" --seed 11 --events "$EVENTS_N" > /dev/null
# The killed engines read the stream after an empty initial state, so that they commit
# every batch (a commit every 1-20 events) and the kills land between commits.
EVENTS_BATCHED=$WORK/events-batched.jsonl
{ printf '%s\n' "$INITIAL_EVENTS_END"; cat "$EVENTS"; } > "$EVENTS_BATCHED"
echo "# seed $SEED, $(wc -l < "$EVENTS") events, $KILLS kills"

# check_json SNAP OUT: `check --json` into OUT; its status
check_json() { "$DUMP" --snapshot "$1" check --json > "$2" 2> "$2.err"; }
field() { jq -r "$2" "$1"; }
# what check found, for messages
check_errors() { { jq -r '.errors[:3][] | "\(.scope) \(.type) \(.resource): \(.error)"' "$1" 2>/dev/null; head -3 "$1.err"; } | head -4; }

# ---- the reference: a fresh engine on the whole stream, and what check must tell apart -----

"$SCOPECAST" --snapshot "$WORK/fresh" --watch "file:$EVENTS" --once --log-level warning 2> "$WORK/fresh.log"
check "a fresh engine on the whole stream exits 0" 0 $?
check_json "$WORK/fresh" "$WORK/fresh.json"
check "the fresh snapshot checks" 0 $?
FRESH=$(field "$WORK/fresh.json" .digest)
"$SCOPECAST" --snapshot "$WORK/fresh7" --watch "file:$EVENTS" --once --batch-max-events 7 --log-level warning \
  2> "$WORK/fresh7.log"
check_json "$WORK/fresh7" "$WORK/fresh7.json"
check "the same stream in batches of 7: same digest at another head version ($(field "$WORK/fresh.json" .headVersion) and $(field "$WORK/fresh7.json" .headVersion))" \
  "$FRESH" "$(field "$WORK/fresh7.json" .digest)"
head -n $((EVENTS_N - 50)) "$EVENTS" > "$WORK/shorter.jsonl"
"$SCOPECAST" --snapshot "$WORK/shorter" --watch "file:$WORK/shorter.jsonl" --once --log-level warning 2> /dev/null
check_json "$WORK/shorter" "$WORK/shorter.json"
if [ "$(field "$WORK/shorter.json" .digest)" != "$FRESH" ]; then pass "without the last 50 events: another digest"
else fail "the stream without its last 50 events has the digest of the whole"; fi

# corrupt_copy changed|deleted HASH: the fresh snapshot with one byte of the resource HASH
# changed, or its record deleted, in $WORK/corrupt (mdb_dump's hex format: key and value
# lines)
corrupt_copy() {
  mdb_dump -a "$WORK/fresh" | awk -v mode="$1" -v k=" $2" '
    /^database=/ { db = substr($0, 10); n = 0 }
    db == "resources" && /^ / {
      if (++n % 2 == 1) { hit = $0 == k; if (hit && mode == "deleted") next }
      else if (hit && mode == "deleted") next
      else if (hit) $0 = substr($0, 1, length($0) - 2) (substr($0, length($0) - 1) == "00" ? "01" : "00")
    }
    { print }' > "$WORK/corrupt.dump"
  rm -rf "$WORK/corrupt" && mkdir "$WORK/corrupt" && mdb_load -f "$WORK/corrupt.dump" "$WORK/corrupt" 2> /dev/null
}
if command -v mdb_dump > /dev/null && command -v mdb_load > /dev/null; then
  scope=$("$DUMP" --snapshot "$WORK/fresh" resolve --namespace "$NODE_NS" --json | jq -r .scope)
  read -r name hash < <("$DUMP" --snapshot "$WORK/fresh" resources "$scope" --type clusters --json |
    jq -r '.resources[-1] | "\(.name) \(.version)"')
  for mode in changed deleted; do
    corrupt_copy "$mode" "$hash"
    check_json "$WORK/corrupt" "$WORK/corrupt.json"
    status=$?
    if [ $status -eq 1 ] && jq -e --arg n "$name" '[.errors[] | select(.resource == $n and .type == "clusters")] | length > 0' \
        "$WORK/corrupt.json" > /dev/null; then
      pass "check finds a resource $mode ($name): $(jq -r --arg n "$name" \
        '[.errors[] | select(.resource == $n)][0].error' "$WORK/corrupt.json")"
    else
      fail "check (status $status) missed the resource $name $mode"; check_errors "$WORK/corrupt.json"
    fi
  done
else
  fail "needs mdb_dump and mdb_load (lmdb-utils; tools/setup.sh installs it) to corrupt a copy"
fi

# ---- a frontend serving the snapshot throughout ---------------------------------------------

"$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds.sock" --poll-ms 100 2> "$WORK/xds.log" &
PIDS+=($!)
XDS_PID=$!
served_is() {
  [ "$(node "$NODE_DIR/xds_fetch.mjs" "unix:$WORK/xds.sock" "$NODE_ID" "$CDS" 3000 2>> "$WORK/fetch.log" |
    jq -r .version_info)" == "$1" ]
}
# frontend_serves WHAT: the frontend's CDS version for the proxy is the dump's for its scope
FRONTEND_CHECKS=0
frontend_serves() {
  local scope want
  scope=$("$DUMP" --snapshot "$SNAP" resolve --namespace "$NODE_NS" --json | jq -r .scope)
  want=$("$DUMP" --snapshot "$SNAP" resources "$scope" --type clusters --json | jq -r .version_info)
  if wait_for 20 served_is "$want"; then
    FRONTEND_CHECKS=$((FRONTEND_CHECKS + 1))
    return 0
  fi
  fail "$1: the frontend does not serve CDS $want of scope $scope (last: $(tail -1 "$WORK/fetch.log"))"
  return 1
}

# ---- kills while the snapshot file is created ---------------------------------------------
# LMDB writes a new file's meta pages after creating it; the writer makes the file aside and
# renames it in, so a kill then leaves no data.mdb or a whole one, never one that fails to open.
created=0
for ((i = 1; i <= 30; i++)); do
  dir=$WORK/create-$i
  "$SCOPECAST" --snapshot "$dir" --watch "file:$EVENTS" --log-level error 2> /dev/null &
  pid=$!
  sleep "0.00$((RANDOM % 4))"
  kill -9 "$pid"
  wait "$pid" 2> /dev/null
  if [ ! -e "$dir/data.mdb" ]; then continue; fi
  created=$((created + 1))
  check_json "$dir" "$WORK/create.json" || { fail "killed while creating ($i): the snapshot does not check"; check_errors "$WORK/create.json"; }
done
pass "30 kills 0-3 ms after start: $created left a data.mdb, each checks; the rest none"

# ---- kills ---------------------------------------------------------------------------------

early=0 mid=0 after=0 converged=0 restarts=0 min_head= max_head=0
for ((i = 1; i <= KILLS; i++)); do
  batch=$((1 + RANDOM % 20))
  # Mostly 20-400 ms in, while it publishes the first part of the stream (the whole takes
  # 1-3 s); the first time and one in eight within 5 ms of the start, before or at its first
  # commit (the first time: maybe before it created the snapshot); one in eight later, to
  # the end of the stream and beyond.
  pick=$((RANDOM % 8))
  if [ $i -eq 1 ] || [ $pick -eq 0 ]; then delay_us=$((RANDOM % 5000))
  elif [ $pick -eq 1 ]; then delay_us=$(( (MAX_DELAY_MS + RANDOM % (LATE_MS - MAX_DELAY_MS)) * 1000 ))
  else delay_us=$(( (20 + RANDOM % (MAX_DELAY_MS - 19)) * 1000 )); fi
  before=0
  [ -e "$SNAP/data.mdb" ] && before=$(info "$SNAP" .headVersion)
  "$SCOPECAST" --snapshot "$SNAP" --watch "file:$EVENTS_BATCHED" --batch-max-events "$batch" --batch-quiet-ms 5 \
    --log-level warning 2>> "$WORK/engine.log" &
  pid=$!
  sleep "$(printf '%d.%06d' $((delay_us / 1000000)) $((delay_us % 1000000)))"
  kill -9 "$pid"
  wait "$pid" 2> /dev/null
  what="kill $i (batches of $batch, after $((delay_us / 1000)) ms)"
  ok=1
  if [ ! -e "$SNAP/data.mdb" ]; then
    head=0 digest=none
  elif check_json "$SNAP" "$WORK/kill.json"; then
    head=$(field "$WORK/kill.json" .headVersion) digest=$(field "$WORK/kill.json" .digest)
  else
    fail "$what: the snapshot does not check"; check_errors "$WORK/kill.json"
    ok=0 head=$(field "$WORK/kill.json" .headVersion) digest=none
  fi
  [ -n "$head" ] && [ "$head" != null ] || head=0
  if [ "$head" -lt "$before" ]; then fail "$what: head went back from $before to $head"; ok=0; fi
  if [ "$head" -eq "$before" ]; then early=$((early + 1)) stage="before the first commit"
  elif [ "$digest" == "$FRESH" ]; then after=$((after + 1)) stage="after the whole stream"
  else mid=$((mid + 1)) stage="mid-stream"; fi
  [ -z "$min_head" ] || [ "$head" -lt "$min_head" ] && min_head=$head
  [ "$head" -gt "$max_head" ] && max_head=$head
  # While the engine is down the frontend serves the last commit.
  if [ "$head" -gt 0 ] && { [ $((i % 10)) -eq 0 ] || [ $i -eq "$KILLS" ]; }; then
    frontend_serves "$what" || ok=0
  fi
  # A restart on the same inputs converges to the fresh engine's content.
  "$SCOPECAST" --snapshot "$SNAP" --watch "file:$EVENTS" --once --log-level warning 2>> "$WORK/restart.log"
  status=$?
  restarts=$((restarts + 1))
  if [ $status -ne 0 ]; then fail "$what: the restarted engine exited $status"; ok=0
  elif ! check_json "$SNAP" "$WORK/restart.json"; then fail "$what: after the restart the snapshot does not check"
    check_errors "$WORK/restart.json"; ok=0
  elif [ "$(field "$WORK/restart.json" .headVersion)" -le "$head" ]; then
    fail "$what: the restarted engine's head $(field "$WORK/restart.json" .headVersion) is not above $head"; ok=0
  elif [ "$(field "$WORK/restart.json" .digest)" != "$FRESH" ]; then
    fail "$what: the restarted engine's digest $(field "$WORK/restart.json" .digest) is not the fresh one's $FRESH"; ok=0
  else
    converged=$((converged + 1))
  fi
  [ $ok -eq 1 ] && pass "$what: head $before -> $head ($stage), restart -> $(field "$WORK/restart.json" .headVersion)"
  if ! kill -0 "$XDS_PID" 2> /dev/null; then fail "the frontend exited"; tail -5 "$WORK/xds.log"; break; fi
done
# The frontend follows the last restarted engine too.
frontend_serves "after the last restart" && pass "the frontend serves the last restarted engine's version"
kill -TERM "$XDS_PID"
wait "$XDS_PID"
check "the frontend exits 0 on SIGTERM" 0 $?
# What only the logs would tell: errors of the engines and the frontend, sanitizer reports.
if grep -hE " error: |Sanitizer|runtime error" "$WORK/engine.log" "$WORK/restart.log" "$WORK/xds.log" > "$WORK/errors.log"; then
  fail "errors in the logs:"; head -5 "$WORK/errors.log" | sed 's/^/    /'
else
  pass "no errors in the engines' and the frontend's logs"
fi

echo "crash summary: $KILLS kills ($early before the first commit, $mid mid-stream, $after after the whole stream)," \
  "$converged/$restarts restarts converged to the fresh digest, heads after kills $min_head..$max_head," \
  "frontend checked $FRONTEND_CHECKS times, $((SECONDS - START)) s (seed $SEED, $(wc -l < "$EVENTS") events)"
finish
