#!/usr/bin/env bash
# Commit notifications (publish/notify.c; snapshot/FORMAT.md, "Commit notifications"): the
# notice a subscriber gets on connect, one per published event with a plausible commit
# time, several subscribers, one that never reads (skipped, not buffered for; the others
# unaffected), one that dies mid-stream, --notify none and --notify PATH, a stale socket
# left by a killed engine, a live socket of another engine, a regular file at the path
# (warning, still publishing), and the socket removed at exit.
# Called as lib.sh says, with a sixth argument: the notify_client test program.
. "$(dirname "$0")/lib.sh"
CLIENT=$6

# A SIGSTOPped client would hold up lib.sh's cleanup (SIGTERM waits for SIGCONT).
notify_cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; done
  cleanup
}
trap notify_cleanup EXIT

svc() { # svc NAME [NAMESPACE]: a Service object
  printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"},"spec":{"ports":[{"name":"http","port":80}]}}' \
    "$1" "${2:-ns1}"
}
now_ns() { date +%s%N; }
head_of() { info "$1" .headVersion; }
# subscribe SOCKET OUT: a notify_client printing "VERSION NANOS" lines into OUT; SUB is its pid
subscribe() {
  "$CLIENT" "$1" > "$2" 2> "$2.err" &
  SUB=$!
  PIDS+=($SUB)
}
has_lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
has_version() { grep -q "^$2 " "$1" 2>/dev/null; }
nanos_of() { grep "^$2 " "$1" | head -n1 | cut -d' ' -f2; }
# in_window LOW NANOS HIGH: LOW - 1 s <= NANOS <= HIGH + 1 s
in_window() { [ "$2" -ge $(($1 - 1000000000)) ] && [ "$2" -le $(($3 + 1000000000)) ]; }
# increasing FILE: versions strictly increase and every line is "VERSION NANOS"
increasing() {
  awk 'NF != 2 || $1 !~ /^[0-9]+$/ || $2 !~ /^[0-9]+$/ || (NR > 1 && $1 <= prev) { bad = 1 }
       { prev = $1 } END { exit bad }' "$1"
}
# expect_notice NAME FILE VERSION: FILE gets a notice of VERSION within 10 s
expect_notice() {
  if wait_for 10 has_version "$2" "$3"; then pass "$1"; else
    fail "$1: no notice of version $3 in $2"; sed 's/^/    /' "$2" | tail -5; fi
}

# ---- the default socket, the initial notice, one notice per commit ----------------------
SNAP=$WORK/s1
EV=$WORK/ev1.jsonl
start_watch_engine "$SNAP" "$EV" --no-sync
ENGINE=${PIDS[-1]}
SOCK=$SNAP/notify.sock
if wait_for 5 test -S "$SOCK"; then pass "default: a socket in the snapshot directory"; else
  fail "default: no socket at $SOCK"; fi
check_contains "default: logged" "$WORK/engine.log" "notify: commit notifications on $SOCK"

subscribe "$SOCK" "$WORK/a.out"
A=$SUB
wait_for 10 has_lines "$WORK/a.out" 1
read -r v t < "$WORK/a.out"
check "on connect: one notice with the current head" "1 $(head_of "$SNAP")" "$(wc -l < "$WORK/a.out") $v"
now=$(now_ns)
if [ "${t:-0}" -gt 0 ] && in_window $((now - 60000000000)) "$t" "$now"; then
  pass "on connect: the time of the last commit"; else fail "on connect: commit time $t, now $now"; fi

for i in 1 2 3; do
  t0=$(now_ns)
  emit_event "$SNAP" "$EV" "$(svc s$i)"
  t1=$(now_ns)
  h=$(head_of "$SNAP")
  expect_notice "event $i: a notice of head $h" "$WORK/a.out" "$h"
  t=$(nanos_of "$WORK/a.out" "$h")
  if in_window "$t0" "${t:-0}" "$t1"; then pass "event $i: commit time within the publish"; else
    fail "event $i: commit time $t outside [$t0, $t1]"; fi
done
check "one notice per commit, in order" "1 2 3 4 " "$(cut -d' ' -f1 "$WORK/a.out" | tr '\n' ' ')"

# ---- two subscribers ---------------------------------------------------------------------
subscribe "$SOCK" "$WORK/b.out"
B=$SUB
wait_for 10 has_lines "$WORK/b.out" 1
check "second subscriber: the current head on connect" "$(head_of "$SNAP")" "$(cut -d' ' -f1 "$WORK/b.out")"
emit_event "$SNAP" "$EV" "$(svc s4)"
h=$(head_of "$SNAP")
expect_notice "two subscribers: the first gets head $h" "$WORK/a.out" "$h"
expect_notice "two subscribers: the second gets head $h" "$WORK/b.out" "$h"
check "two subscribers: the same notice" "$(grep "^$h " "$WORK/a.out")" "$(grep "^$h " "$WORK/b.out")"

# ---- a subscriber that never reads, one that dies mid-stream -----------------------------
subscribe "$SOCK" "$WORK/c.out"
C=$SUB
wait_for 10 has_lines "$WORK/c.out" 1
kill -STOP "$C"
subscribe "$SOCK" "$WORK/d.out"
D=$SUB
wait_for 10 has_lines "$WORK/d.out" 1
# More notices than the stopped one's socket buffer holds (about 280 with Linux's
# default 212992-byte wmem_default), appended at once: one batch each.
WMEM=$(cat /proc/sys/net/core/wmem_default 2>/dev/null || echo 0)
N=1000
if [ "$WMEM" -gt 300000 ]; then N=$((WMEM / 100)); fi
before=$(head_of "$SNAP")
seq 1 "$N" | awk '{printf "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"f%d\",\"namespace\":\"flood\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}}\n", $1}' >> "$EV"
wait_for 60 eval '[ "$(head_of "$SNAP")" -ge $((before + N / 4)) ]'
{ kill -KILL "$D" && wait "$D"; } 2>/dev/null # gone while notices are sent: EPIPE, not SIGPIPE
if wait_for 180 info_is "$SNAP" .headVersion $((before + N)); then pass "flood: $N events published"; else
  fail "flood: head $(head_of "$SNAP"), expected $((before + N))"; fi
if kill -0 "$ENGINE" 2>/dev/null; then pass "flood: the engine survives a subscriber that died"; else
  fail "flood: the engine is gone"; fi
expect_notice "flood: a reading subscriber gets the last head" "$WORK/a.out" $((before + N))
expect_notice "flood: so does the other" "$WORK/b.out" $((before + N))
kill -CONT "$C"
emit_event "$SNAP" "$EV" "$(svc s5)"
h=$(head_of "$SNAP")
expect_notice "not reading: still subscribed, gets the next head once it reads" "$WORK/c.out" "$h"
got=$(wc -l < "$WORK/c.out")
if [ "$got" -lt $((N / 2)) ]; then
  pass "not reading: skipped, not buffered for ($got notices of $((N + 2)) commits)"; else
  fail "not reading: got $got notices of $((N + 2)) commits: the engine buffered for it"; fi
for f in a b c; do
  if increasing "$WORK/$f.out"; then pass "subscriber $f: whole notices, versions increasing"; else
    fail "subscriber $f: broken stream"; sed 's/^/    /' "$WORK/$f.out" | head -5; fi
done

# ---- clean shutdown: subscribers read EOF, the socket goes --------------------------------
kill -TERM "$ENGINE"
wait "$ENGINE"
check "shutdown: exit 0" 0 $?
if [ ! -e "$SOCK" ]; then pass "shutdown: socket removed"; else fail "shutdown: $SOCK is still there"; fi
for p in "$A" "$B" "$C"; do
  wait "$p"
  check "shutdown: subscriber $p reads EOF and exits 0" 0 $?
done

# ---- --notify none -------------------------------------------------------------------------
start_watch_engine "$WORK/s2" "$WORK/ev2.jsonl" --no-sync --notify none
E=${PIDS[-1]}
emit_event "$WORK/s2" "$WORK/ev2.jsonl" "$(svc x)"
check "--notify none: no socket file" "" "$(find "$WORK/s2" -type s)"
if grep -q "notify:" "$WORK/engine.log"; then fail "--notify none: notify logged"; else
  pass "--notify none: nothing logged"; fi
kill -TERM "$E"
wait "$E"

# ---- --notify PATH -------------------------------------------------------------------------
start_watch_engine "$WORK/s3" "$WORK/ev3.jsonl" --no-sync --notify "$WORK/custom.sock"
E=${PIDS[-1]}
check "--notify PATH: no socket in the snapshot" "" "$(find "$WORK/s3" -type s)"
subscribe "$WORK/custom.sock" "$WORK/p.out"
P=$SUB
wait_for 10 has_lines "$WORK/p.out" 1
check "--notify PATH: the current head on connect" "$(head_of "$WORK/s3")" "$(cut -d' ' -f1 "$WORK/p.out")"
emit_event "$WORK/s3" "$WORK/ev3.jsonl" "$(svc y)"
expect_notice "--notify PATH: a notice per commit" "$WORK/p.out" "$(head_of "$WORK/s3")"
# Another engine must not take over a socket someone listens on.
mkdir -p "$WORK/empty"
"$SCOPECAST" --snapshot "$WORK/s3b" --config-dir "$WORK/empty" --once --notify "$WORK/custom.sock" 2> "$WORK/live.log"
check "live socket: the other engine still runs (--once exits 0)" 0 $?
check_contains "live socket: a clear warning" "$WORK/live.log" \
  "warning: notify: $WORK/custom.sock is in use: another process"
if [ -S "$WORK/custom.sock" ]; then pass "live socket: left in place"; else fail "live socket: removed"; fi
emit_event "$WORK/s3" "$WORK/ev3.jsonl" "$(svc y2)"
expect_notice "live socket: its subscribers still notified" "$WORK/p.out" "$(head_of "$WORK/s3")"
kill -TERM "$E"
wait "$E"
wait "$P"
if [ ! -e "$WORK/custom.sock" ]; then pass "--notify PATH: removed at exit"; else fail "--notify PATH: left at exit"; fi

# ---- a stale socket left by a killed engine --------------------------------------------------
SNAP=$WORK/s4
EV=$WORK/ev4.jsonl
start_watch_engine "$SNAP" "$EV" --no-sync
E=${PIDS[-1]}
emit_event "$SNAP" "$EV" "$(svc z)"
{ kill -KILL "$E" && wait "$E"; } 2>/dev/null
if [ -S "$SNAP/notify.sock" ]; then pass "kill -9: the socket file stays behind"; else
  fail "kill -9: no stale socket to test with"; fi
h=$(head_of "$SNAP")
"$SCOPECAST" --snapshot "$SNAP" --watch "file:$EV" --batch-max-events 1 --batch-quiet-ms 5 --no-sync \
  2> "$WORK/restart.log" &
E=$!
PIDS+=($E)
wait_for 10 eval '[ "$(head_of "$SNAP")" -gt "$h" ]'
check_contains "stale socket: removed" "$WORK/restart.log" "notify: removed the stale socket $SNAP/notify.sock"
check_contains "stale socket: listening again" "$WORK/restart.log" "notify: commit notifications on $SNAP/notify.sock"
subscribe "$SNAP/notify.sock" "$WORK/r.out"
wait_for 10 has_lines "$WORK/r.out" 1
check "stale socket: a new subscriber gets the current head" "$(head_of "$SNAP")" "$(cut -d' ' -f1 "$WORK/r.out")"
emit_event "$SNAP" "$EV" "$(svc z2)"
expect_notice "stale socket: and the next commit" "$WORK/r.out" "$(head_of "$SNAP")"
kill -TERM "$E"
wait "$E"

# ---- something that is not a socket at the path ------------------------------------------------
mkdir -p "$WORK/s5"
echo "not a socket" > "$WORK/s5/notify.sock"
if start_watch_engine "$WORK/s5" "$WORK/ev5.jsonl" --no-sync; then
  pass "regular file: the engine still publishes"; else fail "regular file: nothing published"; fi
E=${PIDS[-1]}
check_contains "regular file: a clear warning" "$WORK/engine.log" \
  "warning: notify: $WORK/s5/notify.sock exists and is not a socket"
check_contains "regular file: says the engine goes on without" "$WORK/engine.log" \
  "running without commit notifications"
emit_event "$WORK/s5" "$WORK/ev5.jsonl" "$(svc w)"
check "regular file: publishes events" 2 "$(head_of "$WORK/s5")"
kill -TERM "$E"
wait "$E"
check "regular file: clean exit" 0 $?
check "regular file: left untouched" "not a socket" "$(cat "$WORK/s5/notify.sock")"

# A path too long for a unix socket: a warning, not a failure.
LONG=$WORK/$(printf 'x%.0s' $(seq 1 120)).sock
"$SCOPECAST" --snapshot "$WORK/s6" --config-dir "$WORK/empty" --once --notify "$LONG" 2> "$WORK/long.log"
check "long path: --once still exits 0" 0 $?
check_contains "long path: says why" "$WORK/long.log" "a unix socket path has at most 107 bytes"
check "long path: published" 1 "$(head_of "$WORK/s6")"

finish
