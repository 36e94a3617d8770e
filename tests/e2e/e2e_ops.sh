#!/usr/bin/env bash
# Running the engine for real: one writer per snapshot directory, no partial first state,
# --strict, signals, --version and --log-format json, skipped kinds counted.
. "$(dirname "$0")/lib.sh"

ns_event() { # ns_event TYPE NAME
  printf '{"type":"%s","object":{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s"}}}\n' "$1" "$2"
}

# ---- one writer --------------------------------------------------------------------------
# A second engine on a directory an engine writes exits 1 at once, names the lock and the
# holder's pid, and writes nothing; the first goes on.
: > "$WORK/one.jsonl"
"$SCOPECAST" --snapshot "$WORK/one" --watch "file:$WORK/one.jsonl" --batch-quiet-ms 5 2> "$WORK/one-a.log" &
A=$!
PIDS+=($A)
ns_event ADDED first >> "$WORK/one.jsonl"
wait_for 10 info_is "$WORK/one" .objects 1 || fail "first engine did not publish"
HEAD=$(info "$WORK/one" .headVersion)
ID=$(info "$WORK/one" .instanceId)
ns_event ADDED second > "$WORK/two.jsonl"
T0=$SECONDS
timeout 10 "$SCOPECAST" --snapshot "$WORK/one" --watch "file:$WORK/two.jsonl" 2> "$WORK/one-b.log"
check "second engine on the directory: exit 1" 1 $?
[ $((SECONDS - T0)) -le 2 ] && pass "second engine: exits at once" || fail "second engine took $((SECONDS - T0)) s"
check_contains "second engine: names the lock" "$WORK/one-b.log" "$WORK/one/writer.lock is locked by pid $A"
check "second engine: head unchanged" "$HEAD" "$(info "$WORK/one" .headVersion)"
check "second engine: instance unchanged" "$ID" "$(info "$WORK/one" .instanceId)"
"$DUMP" --snapshot "$WORK/one" check > "$WORK/check.txt" 2>&1
check "second engine: snapshot checks" 0 $?
[ -S "$WORK/one/notify.sock" ] && pass "second engine: the notify socket is the first's" || fail "notify socket gone"
ns_event ADDED third >> "$WORK/one.jsonl"
wait_for 10 info_is "$WORK/one" .objects 2 && pass "first engine still publishes" || fail "first engine stopped: $(info "$WORK/one" .objects)"
kill -TERM $A; wait $A
check "first engine: SIGTERM exit 0" 0 $?
"$SCOPECAST" --snapshot "$WORK/one" --watch "file:$WORK/two.jsonl" --once 2> "$WORK/one-c.log"
check "after the first engine exits, another may write: exit 0" 0 $?
check "the new engine's objects" 1 "$(info "$WORK/one" .objects)"


# ---- several config dirs with --once ----------------------------------------------------------
# The first directory done is not the last input: both are read, then it exits 0 (it used
# to stop after the first and crash at exit).
mkdir -p "$WORK/d1" "$WORK/d2"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: from-d1}\n' > "$WORK/d1/ns.yaml"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: from-d2}\n' > "$WORK/d2/ns.yaml"
"$SCOPECAST" --snapshot "$WORK/two" --config-dir "$WORK/d1" --config-dir "$WORK/d2" --once 2> "$WORK/two.log"
check "two --config-dir with --once: exit 0" 0 $?
check "two --config-dir: both read" 2 "$(info "$WORK/two" .objectsByKind.Namespace)"

# ---- no partial first state ---------------------------------------------------------------------
# A stream (stdin from a FIFO) on a directory an earlier engine left: nothing is published,
# the old head stays, until a BOOKMARK ends the initial events; a bookmark without the
# annotation does not.
"$SCOPECAST" --snapshot "$WORK/sync" --config-dir "$WORK/d1" --once 2> /dev/null
OLD_HEAD=$(info "$WORK/sync" .headVersion)
mkfifo "$WORK/sync.fifo"
"$SCOPECAST" --snapshot "$WORK/sync" --watch - --batch-quiet-ms 5 --sync-timeout-ms 600000 \
  < "$WORK/sync.fifo" 2> "$WORK/sync.log" &
SYNC_ENGINE=$!
PIDS+=($SYNC_ENGINE)
exec 7> "$WORK/sync.fifo"
{ ns_event ADDED new-1; ns_event ADDED new-2; ns_event ADDED new-3; } >&7
printf '{"type":"BOOKMARK","object":{"kind":"Namespace","metadata":{"resourceVersion":"7"}}}\n' >&7
wait_for 10 grep -q "batch: .* applied, published once every input" "$WORK/sync.log" ||
  fail "the initial events were not applied"
sleep 0.5
check "before the initial-events-end bookmark: old head in place" "$OLD_HEAD" "$(info "$WORK/sync" .headVersion)"
check "before the bookmark: the old state is served" 1 "$(info "$WORK/sync" .objectsByKind.Namespace)"
printf '{"type":"BOOKMARK","object":{"kind":"Namespace","metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}}\n' >&7
if wait_for 10 info_is "$WORK/sync" .headVersion $((OLD_HEAD + 1)); then
  pass "the bookmark ending the initial events publishes, in one commit"
else
  fail "not published after the bookmark: head $(info "$WORK/sync" .headVersion)"
fi
check "after the bookmark: exactly the stream's state" 3 "$(info "$WORK/sync" .objectsByKind.Namespace)"
check_contains "the sync is logged" "$WORK/sync.log" "watch -: initial state delivered"
ns_event ADDED new-4 >&7
wait_for 10 info_is "$WORK/sync" .objectsByKind.Namespace 4 && pass "later events publish as they come" ||
  fail "later event not published"
exec 7>&-
kill -TERM $SYNC_ENGINE; wait $SYNC_ENGINE
check "synced engine: SIGTERM exit 0" 0 $?

# --sync-timeout-ms: an input that never syncs (a socket nobody serves) delays the first
# publish by the timeout, then it is published with a warning naming the input.
"$SCOPECAST" --snapshot "$WORK/late" --config-dir "$WORK/d1" --watch "unix:$WORK/nobody.sock" \
  --sync-timeout-ms 1500 2> "$WORK/late.log" &
LATE=$!
PIDS+=($LATE)
sleep 0.7
h=$(info "$WORK/late" .headVersion)
if [ -z "$h" ] || [ "$h" = 0 ]; then pass "an input not synced: nothing published yet"; else fail "published before the sync: head $h"; fi
if wait_for 10 info_is "$WORK/late" .headVersion 1; then pass "published after --sync-timeout-ms"; else fail "not published after the timeout"; fi
check_contains "the timeout names the input not synced" "$WORK/late.log" "publishing without the initial state of 1 input(s): watch unix:$WORK/nobody.sock"
grep -q "warning: sync: after 1500 ms" "$WORK/late.log" && pass "the timeout is a warning" || fail "no warning for the timeout"
check "the synced input's objects are in" 1 "$(info "$WORK/late" .objectsByKind.Namespace)"
kill -TERM $LATE; wait $LATE

# SIGTERM before the sync: nothing is published, the old head stays, exit 0.
OLD_HEAD=$(info "$WORK/sync" .headVersion)
"$SCOPECAST" --snapshot "$WORK/sync" --watch "unix:$WORK/nobody.sock" 2> "$WORK/early.log" &
EARLY=$!
PIDS+=($EARLY)
wait_for 10 grep -q "notify: commit notifications" "$WORK/early.log"
kill -TERM $EARLY; wait $EARLY
check "SIGTERM before the sync: exit 0" 0 $?
check "SIGTERM before the sync: the old head stays" "$OLD_HEAD" "$(info "$WORK/sync" .headVersion)"
check_contains "SIGTERM before the sync: says so" "$WORK/early.log" "stopping before every input delivered its initial state"

# ---- --once needs an input; --strict ---------------------------------------------------------------
"$SCOPECAST" --snapshot "$WORK/none" --once 2> "$WORK/e.txt"
check "--once without an input: exit 2" 2 $?
check_contains "--once without an input: says so" "$WORK/e.txt" "--once needs an input"
[ ! -e "$WORK/none" ] && pass "--once without an input: writes nothing" || fail "--once without an input created the snapshot"
"$SCOPECAST" --snapshot "$WORK/st" --config-dir "$WORK/d1" --strict 2> "$WORK/e.txt"
check "--strict without --once: exit 2" 2 $?
mkdir -p "$WORK/bad"
cp "$WORK/d1/ns.yaml" "$WORK/bad/"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: from-d1}\nspec: {ports: [{name: http, port: 99999}]}\n' > "$WORK/bad/svc.yaml"
"$SCOPECAST" --snapshot "$WORK/st" --config-dir "$WORK/bad" --once --strict 2> "$WORK/strict.log"
check "--strict with a rejected object: exit 3" 3 $?
check "--strict: the accepted objects are published" 1 "$(info "$WORK/st" .objectsByKind.Namespace)"
check "--strict: the rejection is counted" 1 "$(info "$WORK/st" .rejected)"
"$SCOPECAST" --snapshot "$WORK/st2" --config-dir "$WORK/d1" --once --strict 2> /dev/null
check "--strict without rejections: exit 0" 0 $?
"$SCOPECAST" --snapshot "$WORK/st3" --config-dir "$WORK/bad" --once 2> /dev/null
check "a rejection without --strict: exit 0" 0 $?

# ---- skipped kinds: warned once per kind and source, counted by kind --------------------------------
mkdir -p "$WORK/skip"
cp "$WORK/d1/ns.yaml" "$WORK/skip/"
{
  printf 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a1, namespace: from-d1}\nspec: {}\n---\n'
  printf 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a2, namespace: from-d1}\nspec: {}\n---\n'
  printf 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: from-d1}\nspec: {}\n---\n'
  printf 'apiVersion: networking.istio.io/v1\nkind: VirtualSerivce\nmetadata: {name: typo, namespace: from-d1}\nspec: {}\n'
} > "$WORK/skip/policies.yaml"
printf 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: from-d1}\nspec: {}\n' > "$WORK/skip/gw.yaml"
"$SCOPECAST" --snapshot "$WORK/skipped" --config-dir "$WORK/skip" --once 2> "$WORK/skip.log"
check "skipped kinds: exit 0" 0 $?
check "skipped: total" 5 "$(info "$WORK/skipped" .skipped)"
check "skippedByKind" '{"AuthorizationPolicy":2,"Gateway":1,"PeerAuthentication":1,"VirtualSerivce":1}' \
  "$(info "$WORK/skipped" '.skippedByKind | to_entries | sort_by(.key) | from_entries' | jq -c .)"
check "a kind is warned about once per source" 1 "$(grep -c 'warning: skipped .*AuthorizationPolicy' "$WORK/skip.log")"
check "every skipped kind is warned about" 4 "$(grep -c 'warning: skipped' "$WORK/skip.log")"
check_contains "the typo is named" "$WORK/skip.log" "networking.istio.io/v1/VirtualSerivce"
"$DUMP" --snapshot "$WORK/skipped" info > "$WORK/info.txt"
check_contains "dump info (text) lists the skipped kinds" "$WORK/info.txt" "AuthorizationPolicy"

# ---- --version and --log-format json --------------------------------------------------------------
XDS_BIN=$(dirname "$SCOPECAST")/scopecast-xds
for b in "$SCOPECAST" "$XDS_BIN" "$DUMP"; do
  v=$("$b" --version 2> /dev/null); rc=$?
  if [ $rc -eq 0 ] && [[ "$v" =~ ^scopecast(-xds|-dump)?\ [0-9]+\.[0-9]+\.[0-9]+\  ]]; then
    pass "$(basename "$b") --version: $v"
  else
    fail "$(basename "$b") --version: exit $rc, '$v'"
  fi
done
"$SCOPECAST" --snapshot "$WORK/json" --config-dir "$WORK/bad" --once --log-format json 2> "$WORK/json.log"
check "--log-format json: exit 0" 0 $?
if jq -e -s 'length > 3 and all(.[]; (.time | test("^20[0-9-]+T[0-9:.]+Z$")) and (.level | IN("debug","info","warning","error"))
                                  and .program == "scopecast" and (.pid | type == "number") and (.message | type == "string"))' \
     "$WORK/json.log" > /dev/null; then
  pass "--log-format json: every line an object with time, level, program, pid, message"
else
  fail "--log-format json: $(head -3 "$WORK/json.log")"
fi
if jq -e -s 'map(select(.level == "warning" and (.message | startswith("rejected")))) | length == 1 and
             (.[0] | .kind == "Service" and .namespace == "from-d1" and .name == "svc" and .field == "spec.ports[0].port"
                     and (.reason | test("99999")) and (.source | test("svc.yaml$")) and .line == "4")' "$WORK/json.log" > /dev/null; then
  pass "--log-format json: a rejection carries source, line, kind, namespace, name, field, reason"
else
  fail "--log-format json: rejection line: $(grep rejected "$WORK/json.log")"
fi
"$SCOPECAST" --snapshot "$WORK/json" --log-format yaml --once 2> "$WORK/e.txt"
check "--log-format yaml: exit 2" 2 $?

# ---- signals: SIGHUP reloads, never kills --------------------------------------------------------
# Engine: SIGHUP reads the mesh file again (nothing else watches it) and rescans the
# config dirs; a mesh file broken meanwhile keeps the mesh config in force. Frontend:
# SIGHUP reads the head again and goes on serving.
mkdir -p "$WORK/hup"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {clusterIP: 10.0.0.9, ports: [{name: http, port: 80}]}\n' > "$WORK/hup/web.yaml"
printf 'outboundTrafficPolicy:\n  mode: ALLOW_ANY\n' > "$WORK/mesh.yaml"
"$SCOPECAST" --snapshot "$WORK/hups" --config-dir "$WORK/hup" --mesh-config "$WORK/mesh.yaml" \
  --rescan-ms 0 --batch-quiet-ms 5 2> "$WORK/hup.log" &
HUP=$!
PIDS+=($HUP)
wait_for 10 info_is "$WORK/hups" .objectsByKind.Service 1 || fail "hup engine did not publish"
# ALLOW_ANY: unknown destinations go to PassthroughCluster; REGISTRY_ONLY: to BlackHoleCluster.
passthrough() { "$DUMP" --snapshot "$WORK/hups" resources shop/@default --type listeners --json 2> /dev/null |
                grep -q '"cluster": *"PassthroughCluster"' && echo true || echo false; }
check "ALLOW_ANY: listeners pass unknown destinations through" true "$(passthrough)"
printf 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' > "$WORK/mesh.yaml"
HEAD=$(info "$WORK/hups" .headVersion)
kill -HUP $HUP
if wait_for 10 eval '[ "$(info "$WORK/hups" .headVersion)" -gt "$HEAD" ]'; then pass "engine SIGHUP: the changed mesh file is read and published"; else fail "engine SIGHUP: nothing published"; fi
check "engine SIGHUP: REGISTRY_ONLY in force (no PassthroughCluster route)" false "$(passthrough)"
kill -0 $HUP 2> /dev/null && pass "engine SIGHUP: still running" || fail "engine SIGHUP: the engine exited"
check_contains "engine SIGHUP: logged" "$WORK/hup.log" "SIGHUP: rescanning the config directories and reading the mesh config again"
printf 'outboundTrafficPolicy:\n  mode: NEVER\n' > "$WORK/mesh.yaml"
kill -HUP $HUP
wait_for 10 grep -q 'mode: unknown value "NEVER" .*(the mesh config in force stays)' "$WORK/hup.log" &&
  pass "engine SIGHUP: a broken mesh file is an error that keeps what is in force" || fail "engine SIGHUP: no error for the broken mesh file"
sleep 0.3
kill -0 $HUP 2> /dev/null && pass "engine SIGHUP with a broken mesh file: still running" || fail "engine exited on a broken mesh file"
check "engine SIGHUP with a broken mesh file: REGISTRY_ONLY stays" false "$(passthrough)"

XPORT=$(free_port)
"$XDS_BIN" --snapshot "$WORK/hups" --listen "127.0.0.1:$XPORT" 2> "$WORK/hup-xds.log" &
HUPX=$!
PIDS+=($HUPX)
fetch_ok() { "$DUMP" fetch --server "127.0.0.1:$1" --node "web-1.shop" --label app=web --type clusters --timeout-ms 3000 > "$WORK/fetch.out" 2>&1; }
wait_for 10 fetch_ok $XPORT || fail "frontend does not answer"
kill -HUP $HUPX
sleep 0.3
kill -0 $HUPX 2> /dev/null && pass "frontend SIGHUP: still running" || fail "frontend SIGHUP: exited"
check_contains "frontend SIGHUP: logged" "$WORK/hup-xds.log" "SIGHUP: reading the snapshot head again"
fetch_ok $XPORT && pass "frontend SIGHUP: still serves" || fail "frontend SIGHUP: no answer after it"
kill -TERM $HUPX; wait $HUPX
check "frontend: SIGTERM after SIGHUP exits 0" 0 $?
kill -TERM $HUP; wait $HUP
check "engine: SIGTERM after SIGHUP exits 0" 0 $?
[ ! -e "$WORK/hups/notify.sock" ] && pass "engine: the notify socket is removed at exit" || fail "notify socket left behind"

# ---- a frontend serves or stays out of the way ------------------------------------------------------
# Started before the engine, it binds nothing (its SO_REUSEPORT peers keep every
# connection, nobody gets an empty configuration); it binds once it serves a head.
BPORT=$(free_port)
"$XDS_BIN" --snapshot "$WORK/later" --listen "127.0.0.1:$BPORT" --poll-ms 100 2> "$WORK/later-xds.log" &
LATER=$!
PIDS+=($LATER)
wait_for 10 grep -q "waiting for the engine before listening" "$WORK/later-xds.log" || fail "no waiting message"
sleep 0.3
if (exec 3<> "/dev/tcp/127.0.0.1/$BPORT") 2> /dev/null; then fail "a frontend without a head accepts connections"; else pass "a frontend without a head does not listen"; fi
# A peer on the same port that serves: every connection lands on it.
"$XDS_BIN" --snapshot "$WORK/hups" --listen "127.0.0.1:$BPORT" 2> "$WORK/peer-xds.log" &
PEER=$!
PIDS+=($PEER)
wait_for 10 fetch_ok $BPORT || fail "the serving peer does not answer"
good=0
for i in $(seq 1 20); do fetch_ok $BPORT && grep -q "outbound|80||web.shop.svc.cluster.local" "$WORK/fetch.out" && good=$((good + 1)); done
check "20 connections to the shared port: all served by the peer with a head" 20 $good
"$SCOPECAST" --snapshot "$WORK/later" --config-dir "$WORK/hup" --once 2> /dev/null
wait_for 10 grep -q "listening on 127.0.0.1:$BPORT" "$WORK/later-xds.log" && pass "the frontend binds once the engine published" || fail "the frontend did not bind"
kill -TERM $LATER $PEER; wait $LATER; r1=$?; wait $PEER; r2=$?
check "both frontends: SIGTERM exit 0" "0 0" "$r1 $r2"

finish
