#!/usr/bin/env bash
# Hostile input (issue 7): deep nesting, a 10 MB line, numbers out of range, invalid
# UTF-8, duplicate keys, a huge string, garbage, YAML aliases, oversized files. Each must be
# rejected with a clear error naming where and why; the engine keeps running; what it
# accepted before stays; what comes after is read. Through a followed watch file, a unix
# socket and a followed config directory.
. "$(dirname "$0")/lib.sh"

SNAP=$WORK/snap
EVENTS=$WORK/events.jsonl
start_watch_engine "$SNAP" "$EVENTS"
svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"ns1"},"spec":{"clusterIP":"10.0.0.%s","ports":[{"name":"http","port":80}]}}' "$1" "$2"; }
emit_event "$SNAP" "$EVENTS" "$(svc a 1)"
check "accepted before" 1 "$(info "$SNAP" '.objectsByKind.Service')"
rejected0=$(info "$SNAP" .rejected)

repeat() { local s=$1 n=$2 out=""; out=$(printf "%${n}s" "" | tr ' ' "$s"); printf '%s' "$out"; }
HOSTILE=$WORK/hostile.jsonl
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
} > "$HOSTILE"
cat "$HOSTILE" >> "$EVENTS"
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

# ---- the same events over a unix socket, read in whatever pieces the kernel hands over ----
SOCK=$WORK/watch.sock
{ printf '{"type":"ADDED","object":%s}\n' "$(svc s1 11)"; cat "$HOSTILE"; printf '{"type":"ADDED","object":%s}\n' "$(svc s2 12)"; } \
  > "$WORK/socket.jsonl"
"$SERVE" "unix:$SOCK" "$WORK/socket.jsonl" > "$WORK/serve.out" &
PIDS+=($!)
wait_for 10 grep -q ready "$WORK/serve.out" || fail "serve_file did not start"
"$SCOPECAST" --snapshot "$WORK/socket" --watch "unix:$SOCK" --once 2> "$WORK/socket.log"
check "socket: the engine exits 0" 0 $?
check "socket: the valid events before and after are in" 2 "$(info "$WORK/socket" .objectsByKind.Service)"
check "socket: every hostile event rejected" 7 "$(info "$WORK/socket" .rejected)"
check_contains "socket: deep nesting, with where" "$WORK/socket.log" "unix:$SOCK:2:2164: JSON syntax error: maximum parsing depth reached"
check_contains "socket: 10 MB line" "$WORK/socket.log" "watch event exceeds the size limit (--max-object-bytes)"
check_contains "socket: garbage" "$WORK/socket.log" "unix:$SOCK:8 (byte 10010959): text that is not a JSON object was skipped"

# ---- hostile manifests in a followed config directory -------------------------------------
CFG=$WORK/config
mkdir -p "$CFG"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: keep, namespace: ns1}\nspec: {ports: [{name: http, port: 80}]}\n' \
  > "$CFG/keep.yaml"
"$SCOPECAST" --snapshot "$WORK/cfgsnap" --config-dir "$CFG" --max-file-bytes 8388608 --rescan-ms 200 \
  --batch-quiet-ms 5 2> "$WORK/cfg.log" &
PIDS+=($!)
wait_for 10 info_is "$WORK/cfgsnap" .objectsByKind.Service 1 || fail "config dir: keep.yaml not accepted"
{
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: deep, namespace: ns1}\nspec: {x: %s1%s}\n' "$(repeat '[' 5000)" "$(repeat ']' 5000)"
} > "$CFG/deep.yaml"
{
  printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: bomb\n  namespace: ns1\n  annotations:\n'
  printf '    a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
  prev=a # each anchor a list of ten of the one before: 10^9 scalars if expanded
  for l in b c d e f g h i; do
    printf '    %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' $l $l $prev $prev $prev $prev $prev $prev $prev $prev $prev $prev
    prev=$l
  done
  printf 'spec:\n  ports: *i\n'
} > "$CFG/bomb.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: num, namespace: ns1}\nspec: {ports: [{name: http, port: 99999999999999999999999}]}\n' > "$CFG/num.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: "bad\xff\xfe", namespace: ns1}\n' > "$CFG/utf.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: dup\n  name: dup2\n  namespace: ns1\n' > "$CFG/dup.yaml"
head -c 4096 /dev/urandom > "$CFG/garbage.yaml"
{ printf 'apiVersion: v1\nkind: Service\nmetadata: {name: big, namespace: ns1, annotations: {a: '; head -c 12000000 /dev/zero | tr '\0' a; printf '}}\n'; } \
  > "$CFG/big.yaml"
# keep.yaml itself turned hostile: what it held stays in force
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: keep, namespace: ns1}\nspec: {x: %s1%s}\n' "$(repeat '[' 100)" "$(repeat ']' 100)" \
  > "$CFG/keep.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: after, namespace: ns1}\nspec: {ports: [{name: http, port: 80}]}\n' \
  > "$CFG/zz-after.yaml"
wait_for 60 info_is "$WORK/cfgsnap" .objectsByKind.Service 2 || fail "config dir: the valid file after the hostile ones was not read"
sleep 0.5
check "config dir: keep (now hostile) and after, nothing hostile" 2 "$(info "$WORK/cfgsnap" .objectsByKind.Service)"
check_contains "config dir: deep nesting" "$WORK/cfg.log" "deep.yaml:4:73: nesting deeper than 64 levels"
check_contains "config dir: alias bomb" "$WORK/cfg.log" "bomb.yaml:8:12: YAML aliases are not supported"
check_contains "config dir: integer out of range" "$WORK/cfg.log" "num.yaml:4:35: Service ns1/num: spec.ports[0].port: 99999999999999999999999 is outside 1-65535"
check_contains "config dir: invalid UTF-8" "$WORK/cfg.log" "utf.yaml:3:22: YAML syntax error: invalid leading UTF-8 octet"
check_contains "config dir: duplicate key" "$WORK/cfg.log" 'dup.yaml:5:3: duplicate key "name"'
check_contains "config dir: garbage" "$WORK/cfg.log" "garbage.yaml:"
check_contains "config dir: a file over --max-file-bytes" "$WORK/cfg.log" "big.yaml is 12000"
check_contains "config dir: the file that turned hostile keeps its objects" "$WORK/cfg.log" "keep.yaml:4:"
if kill -0 "${PIDS[-1]}" 2>/dev/null; then pass "config dir: the engine is still running"; else fail "config dir: the engine died"; fi
finish
