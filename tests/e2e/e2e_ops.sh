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

finish
