#!/usr/bin/env bash
# Back-pressure (issue 7, item 6): a watch stream that sends far faster than the engine
# applies is read only as fast as batches are applied, so the engine's memory stays bounded
# by --batch-max-bytes, not by the size of the stream; nothing is lost on the way.
#   e2e_backpressure.sh SCOPECAST DUMP SRC SHARED SERVE [EVENTS]
# Batches close only on --batch-max-bytes here (the event count and timers are set out of
# reach), and the same stream is run with a 1 GiB bound as the control.
. "$(dirname "$0")/lib.sh"
EVENTS=${6:-100000}
MIB=1048576
NEVER="--batch-max-events 1000000000 --batch-max-ms 3600000 --batch-quiet-ms 3600000"
# A small quarantine, so that an ASan build's peak memory reflects what the engine holds
# (the plain build ignores it).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4

# events N: N updates cycling over 10 Services, about 1 KB each (40 labels that change
# every time), so the stream is large and the state stays small.
events() {
  awk -v n="$1" 'BEGIN {
    for (i = 0; i < n; i++) {
      labels = ""
      for (l = 0; l < 40; l++) labels = labels sprintf(",\"label-%02d\":\"v%07d\"", l, i)
      printf "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"svc-%d\",\"namespace\":\"ns\",\"labels\":{\"gen\":\"g%d\"%s}},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":%d}],\"selector\":{\"app\":\"svc-%d\"}}}}\n", i % 10, i, labels, 8000 + i % 7, i % 10
    }
  }'
}

# peak_kb PID: VmHWM of PID until it exits (the last reading, in KiB)
peak_kb() {
  local kb=0 v
  while v=$(awk '/VmHWM/ {print $2}' "/proc/$1/status" 2> /dev/null) && [ -n "$v" ]; do
    kb=$v
    sleep 0.02
  done
  echo $kb
}

events_read() { grep -o 'batch: [0-9]* events' "$1" | awk '{n += $2} END {print n + 0}'; }
batches() { grep -c 'batch: [1-9]' "$1"; }

# run NAME MAX_BYTES SOURCE-ARGS...: the engine with --once on the source; sets RC and PEAK
run() {
  local name=$1 max=$2
  shift 2
  # <&0: a background command's standard input is /dev/null unless it is redirected
  "$SCOPECAST" --snapshot "$WORK/$name" --once --no-sync $NEVER --batch-max-bytes "$max" "$@" \
    <&0 2> "$WORK/$name.log" &
  local pid=$!
  PEAK=$(peak_kb $pid)
  wait $pid
  RC=$?
}

# The last event of each Service decides its port: svc-9's is event EVENTS-1.
LAST_PORT=$((8000 + (EVENTS - 1) % 7))
has_last_port() {
  "$DUMP" --snapshot "$1" resources ns/@default --type clusters --json 2> /dev/null |
    jq -e --arg n "outbound|$LAST_PORT||svc-9.ns.svc.cluster.local" '[.resources[].name] | index($n)' > /dev/null
}

# ---- a pipe (standard input) ----------------------------------------------------------
t0=$SECONDS
run pipe $((4 * MIB)) --watch - < <(events "$EVENTS")
stream_mb=$((EVENTS * 1087 / MIB))
check "pipe: the engine exits 0" 0 $RC
check "pipe: every event read" "$EVENTS" "$(events_read "$WORK/pipe.log")"
if [ "$PEAK" -lt $((64 * 1024)) ] && [ "$(batches "$WORK/pipe.log")" -ge $((stream_mb / 4)) ]; then
  pass "pipe: a ${stream_mb} MB stream in $(batches "$WORK/pipe.log") batches of <= 4 MiB, peak memory $((PEAK / 1024)) MiB, $((SECONDS - t0)) s"
else
  fail "pipe: peak memory $PEAK KiB in $(batches "$WORK/pipe.log") batches"
fi
if has_last_port "$WORK/pipe"; then pass "pipe: the last event is in force"; else fail "pipe: svc-9 lacks port $LAST_PORT"; fi

# ---- a unix socket written as fast as the kernel takes it --------------------------------
events "$EVENTS" > "$WORK/stream.jsonl"
"$SERVE" "unix:$WORK/watch.sock" "$WORK/stream.jsonl" > "$WORK/serve.out" &
PIDS+=($!)
wait_for 10 grep -q ready "$WORK/serve.out" || fail "serve_file did not start"
run socket $((4 * MIB)) --watch "unix:$WORK/watch.sock"
check "socket: the engine exits 0" 0 $RC
check "socket: every event read" "$EVENTS" "$(events_read "$WORK/socket.log")"
if [ "$PEAK" -lt $((64 * 1024)) ]; then
  pass "socket: peak memory $((PEAK / 1024)) MiB in $(batches "$WORK/socket.log") batches"
else
  fail "socket: peak memory $PEAK KiB"
fi
if has_last_port "$WORK/socket"; then pass "socket: the last event is in force"; else fail "socket: svc-9 lacks port $LAST_PORT"; fi

# ---- the control: the same stream under a 1 GiB bound is held at once ---------------------
bounded=$PEAK
run control $((1024 * MIB)) --watch - < <(events $((EVENTS / 2)))
check "control: the engine exits 0" 0 $RC
if [ "$PEAK" -gt $((3 * bounded)) ] && [ "$(batches "$WORK/control.log")" -eq 1 ]; then
  pass "control: half the stream in one batch peaks at $((PEAK / 1024)) MiB (the bound: $((bounded / 1024)) MiB)"
else
  fail "control: peak $PEAK KiB in $(batches "$WORK/control.log") batches (bounded: $bounded KiB)"
fi
finish
