#!/usr/bin/env bash
# Every watch source end to end through the engine: stdin, file, unix socket, TCP;
# one-event-per-line and pretty-printed streams; malformed events in the middle; deletes;
# socket reconnects with backoff.
. "$(dirname "$0")/lib.sh"

ev() { # ev TYPE NAME NAMESPACE [PORT]: one Service watch event on one line
  printf '{"type":"%s","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"},"spec":{"ports":[{"name":"http","port":%s}]}}}\n' "$1" "$2" "$3" "${4:-80}"
}

# A stream with 3 Services, a malformed line in the middle, an update, a no-op, a delete of
# a known and of an unknown object, a Sidecar, and an unknown kind.
{
  ev ADDED a ns1
  ev ADDED b ns1
  echo '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"broken"'
  ev ADDED c ns2
  ev MODIFIED a ns1 81
  ev MODIFIED a ns1 81
  ev DELETED b ns1
  ev DELETED nobody ns9
  echo '{"type":"ADDED","object":{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"default","namespace":"ns1"},"spec":{"egress":[{"hosts":["./*"]}]}}}'
  echo '{"type":"ADDED","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"ns1"}}}'
  echo '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad","namespace":"ns1"},"spec":{"ports":[{"port":70000}]}}}'
  echo '{"type":"BOOKMARK","object":{"kind":"Service","metadata":{"resourceVersion":"12"}}}'
} > "$WORK/events.jsonl"

check_stream_result() { # NAME SNAPSHOT LOG
  check "$1: services" 2 "$(info "$2" '.objectsByKind.Service')"
  check "$1: sidecars" 1 "$(info "$2" '.objectsByKind.Sidecar')"
  check "$1: rejected counter (malformed line + invalid port)" 2 "$(info "$2" '.rejected')"
  check "$1: skipped counter (unknown kind)" 1 "$(info "$2" '.skipped')"
  check_contains "$1: malformed line logged with its line number" "$3" ":3 (byte"
  check_contains "$1: invalid object logged with field and reason" "$3" "Service ns1/bad: spec.ports[0].port: 70000 is outside 1-65535"
}

# stdin, one batch per event
"$SCOPECAST" --snapshot "$WORK/s-stdin" --watch - --once --batch-max-events 1 \
  < "$WORK/events.jsonl" 2> "$WORK/stdin.log"
check "stdin: exit status" 0 $?
check_stream_result stdin "$WORK/s-stdin" "$WORK/stdin.log"
# Each event is its own batch, applied as it comes; nothing is published before the input
# has delivered its initial state (a file on stdin: its size at start), so the whole
# stream is one commit, and no proxy ever sees a part of it.
check "stdin: the initial state is published once, whole" 1 "$(info "$WORK/s-stdin" '.headVersion')"
check "stdin: every event its own batch" 8 "$(grep -c 'batch: 1 events' "$WORK/stdin.log")"

# stdin from a pipe, not a file
cat "$WORK/events.jsonl" | "$SCOPECAST" --snapshot "$WORK/s-pipe" --watch - --once 2> "$WORK/pipe.log"
check "stdin pipe: exit status" 0 $?
check_stream_result "stdin pipe" "$WORK/s-pipe" "$WORK/pipe.log"

# file source with pretty-printed (kubectl -o json style) events
jq . < <(grep -v broken "$WORK/events.jsonl" | grep -v BOOKMARK) > "$WORK/pretty.json"
"$SCOPECAST" --snapshot "$WORK/s-file" --watch "file:$WORK/pretty.json" --once 2> "$WORK/file.log"
check "file pretty: exit status" 0 $?
check "file pretty: services" 2 "$(info "$WORK/s-file" '.objectsByKind.Service')"
check "file pretty: sidecars" 1 "$(info "$WORK/s-file" '.objectsByKind.Sidecar')"
check "file pretty: rejected" 1 "$(info "$WORK/s-file" '.rejected')"

# unix socket
"$SERVE" "unix:$WORK/sock" "$WORK/events.jsonl" > "$WORK/serve1.out" &
PIDS+=($!)
wait_for 5 grep -q ready "$WORK/serve1.out"
"$SCOPECAST" --snapshot "$WORK/s-unix" --watch "unix:$WORK/sock" --once 2> "$WORK/unix.log"
check "unix: exit status" 0 $?
check_stream_result unix "$WORK/s-unix" "$WORK/unix.log"

# TCP
# A port free when picked may be taken by a concurrent test before serve_file binds it:
# pick another until one binds.
for attempt in 1 2 3 4 5; do
  PORT=$(free_port)
  "$SERVE" "tcp:$PORT" "$WORK/events.jsonl" > "$WORK/serve2.out" 2>&1 &
  SERVE_PID=$!
  wait_for 5 eval 'grep -q ready "$WORK/serve2.out" || ! kill -0 $SERVE_PID 2> /dev/null'
  grep -q ready "$WORK/serve2.out" && break
done
PIDS+=($SERVE_PID)
"$SCOPECAST" --snapshot "$WORK/s-tcp" --watch "tcp:127.0.0.1:$PORT" --once 2> "$WORK/tcp.log"
check "tcp: exit status" 0 $?
check_stream_result tcp "$WORK/s-tcp" "$WORK/tcp.log"

# --once with an unreachable socket is a fatal input error
"$SCOPECAST" --snapshot "$WORK/s-none" --watch "unix:$WORK/nothing-here" --once 2> "$WORK/none.log"
check "unreachable socket in --once: exit 1" 1 $?
check_contains "unreachable socket: logged" "$WORK/none.log" "cannot connect"

# Reconnect: the server closes after each file; the engine reconnects and reads the next.
ev ADDED later ns3 > "$WORK/second.jsonl"
"$SERVE" "unix:$WORK/sock2" "$WORK/events.jsonl" "$WORK/second.jsonl" > "$WORK/serve3.out" &
PIDS+=($!)
wait_for 5 grep -q ready "$WORK/serve3.out"
"$SCOPECAST" --snapshot "$WORK/s-re" --watch "unix:$WORK/sock2" --batch-quiet-ms 10 \
  --reconnect-max-ms 200 2> "$WORK/re.log" &
ENGINE=$!
PIDS+=($ENGINE)
if wait_for 20 info_is "$WORK/s-re" '.objectsByKind.Service' 3; then
  pass "reconnect: events of the second connection arrive"
else
  fail "reconnect: services are $(info "$WORK/s-re" '.objectsByKind.Service'), expected 3"
fi
check_contains "reconnect: logged" "$WORK/re.log" "reconnecting"
# The server is gone now: the engine keeps retrying with backoff until told to stop.
sleep 0.5
kill -TERM $ENGINE
wait $ENGINE
check "reconnect: SIGTERM exits 0" 0 $?
check_contains "reconnect: retries are logged" "$WORK/re.log" "cannot connect"

# file following (tail -f): events appended later are read
: > "$WORK/follow.jsonl"
"$SCOPECAST" --snapshot "$WORK/s-follow" --watch "file:$WORK/follow.jsonl" --batch-quiet-ms 10 \
  2> "$WORK/follow.log" &
ENGINE=$!
PIDS+=($ENGINE)
wait_for 10 info_is "$WORK/s-follow" '.headVersion' 1
ev ADDED x ns1 >> "$WORK/follow.jsonl"
if wait_for 10 info_is "$WORK/s-follow" '.objectsByKind.Service' 1; then pass "file follow: appended event read"; else fail "file follow: appended event not read"; fi
# half an event, then the rest: the framer waits for the whole value
printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service",' >> "$WORK/follow.jsonl"
sleep 0.3
printf '"metadata":{"name":"y","namespace":"ns1"}}}\n' >> "$WORK/follow.jsonl"
if wait_for 10 info_is "$WORK/s-follow" '.objectsByKind.Service' 2; then pass "file follow: split event read"; else fail "file follow: split event not read"; fi
check "file follow: nothing rejected" 0 "$(info "$WORK/s-follow" '.rejected')"
# The name is followed, as tail -F does: replaced by rename (`mv tmp PATH`, log rotation, a
# ConfigMap volume's ..data swap), the new file is read from its start as a new stream.
{ ev ADDED x ns1; ev ADDED y ns1; ev ADDED w ns1; } > "$WORK/follow.tmp"
mv "$WORK/follow.tmp" "$WORK/follow.jsonl"
if wait_for 10 info_is "$WORK/s-follow" '.objectsByKind.Service' 3; then pass "file follow: a file replaced by rename is read from its start"; else fail "file follow: the replacement was not read ($(info "$WORK/s-follow" '.objectsByKind.Service') Services)"; fi
check_contains "file follow: the replacement is logged" "$WORK/follow.log" "was replaced (a new file): reading it from the start"
ev ADDED v ns1 >> "$WORK/follow.jsonl"
if wait_for 10 info_is "$WORK/s-follow" '.objectsByKind.Service' 4; then pass "file follow: the new file is followed"; else fail "file follow: appended to the new file, not read"; fi
# Rotation: the file moves away and a new one takes its name.
mv "$WORK/follow.jsonl" "$WORK/follow.jsonl.1"
ev DELETED v ns1 > "$WORK/follow.jsonl"
if wait_for 10 info_is "$WORK/s-follow" '.objectsByKind.Service' 3; then pass "file follow: after rotation the new file is read"; else fail "file follow: after rotation: $(info "$WORK/s-follow" '.objectsByKind.Service') Services"; fi
kill -INT $ENGINE
wait $ENGINE
check "file follow: SIGINT exits 0" 0 $?

# restart on an existing snapshot: the inputs' initial state replaces what was there, in
# one commit (e2e_ops: nothing is published before it)
ev ADDED z ns1 > "$WORK/restart.jsonl"
head_before=$(info "$WORK/s-follow" .headVersion)
"$SCOPECAST" --snapshot "$WORK/s-follow" --watch "file:$WORK/restart.jsonl" --batch-quiet-ms 10 \
  2> "$WORK/restart.log" &
ENGINE=$!
PIDS+=($ENGINE)
if wait_for 10 info_is "$WORK/s-follow" '.headVersion' $((head_before + 1)); then pass "restart: the first batch is published"; else fail "restart: the first batch was not published"; fi
check "restart: the snapshot holds what the new run read" 1 "$(info "$WORK/s-follow" '.objectsByKind.Service')"
kill -TERM $ENGINE
wait $ENGINE
check "restart: SIGTERM exits 0" 0 $?

finish
