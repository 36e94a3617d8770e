#!/usr/bin/env bash
# Hostile watch events (issue 7): deep nesting, a 10 MB line, numbers out of range,
# invalid UTF-8, duplicate keys, a huge string, garbage. Each must be rejected with a clear
# error naming why; the engine keeps running; what it accepted before stays; what comes
# after is read.
. "$(dirname "$0")/lib.sh"

SNAP=$WORK/snap
EVENTS=$WORK/events.jsonl
start_watch_engine "$SNAP" "$EVENTS"
svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"ns1"},"spec":{"clusterIP":"10.0.0.%s","ports":[{"name":"http","port":80}]}}' "$1" "$2"; }
emit_event "$SNAP" "$EVENTS" "$(svc a 1)"
check "accepted before" 1 "$(info "$SNAP" '.objectsByKind.Service')"
rejected0=$(info "$SNAP" .rejected)

repeat() { local s=$1 n=$2 out=""; out=$(printf "%${n}s" "" | tr ' ' "$s"); printf '%s' "$out"; }
{
  # nesting far beyond --max-depth
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"deep","namespace":"ns1"},"spec":{"x":%s1%s}}}\n' \
    "$(repeat '[' 5000)" "$(repeat ']' 5000)"
  # a 10 MB line (above --max-object-bytes)
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"big","namespace":"ns1","annotations":{"a":"'
  head -c 10000000 /dev/zero | tr '\0' 'a'
  printf '"}}}}\n'
  # numbers out of range
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"num","namespace":"ns1"},"spec":{"ports":[{"port":1e400}]}}}\n'
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"num2","namespace":"ns1"},"spec":{"ports":[{"port":99999999999999999999999}]}}}\n'
  # invalid UTF-8 in a name
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad\xff\xfe","namespace":"ns1"}}}\n'
  # duplicate keys
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"dup","name":"dup2","namespace":"ns1"}}}\n'
  # garbage between events
  printf 'not json at all\n'
} >> "$EVENTS"
emit_event "$SNAP" "$EVENTS" "$(svc b 2)"
if wait_for 20 eval '[ "$(info "$SNAP" .objectsByKind.Service)" = 2 ]'; then pass "after: the next valid event is read"; else fail "after: the next valid event was not read"; fi
check "the accepted object stays, no hostile one got in" 2 "$(info "$SNAP" '.objectsByKind.Service')"
rejected=$(( $(info "$SNAP" .rejected) - rejected0 ))
if [ "$rejected" -ge 5 ]; then pass "hostile events counted as rejected ($rejected)"; else fail "rejected counter went up by $rejected, expected at least 5"; fi
if kill -0 "${PIDS[0]}" 2>/dev/null; then pass "the engine is still running"; else fail "the engine died"; fi
log=$WORK/engine.log
# each rejection names the source and line, and why
check_contains "deep nesting: line and reason" "$log" "events.jsonl:2:2164: JSON syntax error: maximum parsing depth reached"
check_contains "10 MB line: dropped for its size" "$log" "events.jsonl:3 (byte 10296): watch event exceeds the size limit (--max-object-bytes)"
check_contains "real out of range" "$log" "events.jsonl:4:135: JSON syntax error: real number overflow"
check_contains "integer out of range" "$log" "events.jsonl:5:154: JSON syntax error: too big integer"
check_contains "invalid UTF-8" "$log" "events.jsonl:6:84: JSON syntax error: unable to decode byte 0xff"
check_contains "duplicate key" "$log" "events.jsonl:7:92: JSON syntax error: duplicate object key"
check_contains "garbage skipped" "$log" "events.jsonl:8 (byte 10010957): text that is not a JSON object was skipped"
finish
