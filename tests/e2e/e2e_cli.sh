#!/usr/bin/env bash
# Command lines: --help documents every option, usage errors exit 2, fatal input errors
# exit 1, rejected objects do not fail --once, and SIGTERM publishes the pending batch.
. "$(dirname "$0")/lib.sh"

# Every long option in a getopt table must be documented in --help.
check_help() { # NAME BINARY SOURCE
  "$2" --help > "$WORK/help.txt"
  check "$1 --help exits 0" 0 $?
  local missing=""
  for opt in $(grep -o '{"[a-z-]*", \(no\|required\)_argument' "$3" | cut -d'"' -f2); do
    grep -q -- "--$opt" "$WORK/help.txt" || missing="$missing --$opt"
  done
  check "$1 --help documents every option" "" "$missing"
}
check_help scopecast "$SCOPECAST" "$SRC/engine/main.c"
check_help scopecast-dump "$DUMP" "$SRC/tools/dump.c"

"$SCOPECAST" --once 2> "$WORK/e.txt"; check "no --snapshot: exit 2" 2 $?
check_contains "no --snapshot: says so" "$WORK/e.txt" "--snapshot DIR is required"
"$SCOPECAST" --snapshot "$WORK/s" --batch-max-ms ten 2> "$WORK/e.txt"; check "bad number: exit 2" 2 $?
check_contains "bad number: names the option" "$WORK/e.txt" "--batch-max-ms"
"$SCOPECAST" --snapshot "$WORK/s" --bogus 2> /dev/null; check "unknown option: exit 2" 2 $?
"$SCOPECAST" --snapshot "$WORK/s" --watch ftp:x --once 2> "$WORK/e.txt"; check "bad watch source: exit 1" 1 $?
check_contains "bad watch source: says what is expected" "$WORK/e.txt" "expected -, file:PATH, unix:PATH or tcp:HOST:PORT"

"$SCOPECAST" --snapshot "$WORK/s" --watch "file:$WORK/missing.json" --once 2> "$WORK/e.txt"
check "unreadable watch file in --once: exit 1" 1 $?
check_contains "unreadable watch file: says why" "$WORK/e.txt" "cannot open"
"$SCOPECAST" --snapshot "$WORK/s" --config-dir "$WORK/no-such-dir" --once 2> "$WORK/e.txt"
check "unreadable config dir: exit 1" 1 $?
mkdir -p "$WORK/empty"
"$SCOPECAST" --snapshot /proc/scopecast-cannot-write --config-dir "$WORK/empty" --once 2> "$WORK/e.txt"
check "unwritable snapshot: exit 1" 1 $?
check_contains "unwritable snapshot: says why" "$WORK/e.txt" "cannot open snapshot"
printf 'outboundTrafficPolicy:\n  mode: NEVER\n' > "$WORK/bad-mesh.yaml"
"$SCOPECAST" --snapshot "$WORK/s" --mesh-config "$WORK/bad-mesh.yaml" --once 2> "$WORK/e.txt"
check "invalid --mesh-config: exit 1" 1 $?
check_contains "invalid --mesh-config: names the field" "$WORK/e.txt" "outboundTrafficPolicy.mode: unknown value \"NEVER\""

# Rejected objects are not a failure of --once.
printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"Bad_Name"}}}\n' \
  > "$WORK/bad.jsonl"
"$SCOPECAST" --snapshot "$WORK/s2" --watch "file:$WORK/bad.jsonl" --once 2> "$WORK/e.txt"
check "rejected objects: --once still exits 0" 0 $?
check "rejected objects: counted" 1 "$(info "$WORK/s2" .rejected)"
check_contains "rejected objects: one line with source, line, kind and field" "$WORK/e.txt" \
  "rejected watch file:$WORK/bad.jsonl:1 (byte 0): Service default/Bad_Name: metadata.name:"

# Accepted with warnings: an unknown spec field is named, logged at warning level once per
# object version (the same version delivered again is not logged again) and counted.
VS='{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"vs","namespace":"default"},"spec":{"hosts":["r"],"http":[{"route":[{"destination":{"host":"r"}}],"retry":{"attempts":3}}]}}'
printf '{"type":"ADDED","object":%s}\n{"type":"MODIFIED","object":%s}\n' "$VS" "$VS" > "$WORK/warn.jsonl"
"$SCOPECAST" --snapshot "$WORK/s4" --watch "file:$WORK/warn.jsonl" --once 2> "$WORK/w.txt"
check "unknown field: --once exits 0" 0 $?
check "unknown field: the object is accepted" 1 "$(info "$WORK/s4" .objectsByKind.VirtualService)"
check "unknown field: nothing rejected" 0 "$(info "$WORK/s4" .rejected)"
check "unknown field: one warning counted" 1 "$(info "$WORK/s4" .warnings)"
check_contains "unknown field: the line names source, object and field" "$WORK/w.txt" \
  "accepted with a warning: watch file:$WORK/warn.jsonl:1 (byte 0): VirtualService default/vs: spec.http[0].retry: unknown field \"retry\""
check "unknown field: logged once per object version" 1 "$(grep -c 'accepted with a warning' "$WORK/w.txt")"
"$DUMP" --snapshot "$WORK/s4" info | grep -q '^warnings  *1$'
check "dump info prints the warnings" 0 $?

# The dump tool
"$DUMP" --snapshot "$WORK/nothing" info 2> "$WORK/e.txt"; check "dump without snapshot: exit 1" 1 $?
check_contains "dump without snapshot: says so" "$WORK/e.txt" "no snapshot in"
"$DUMP" info 2> /dev/null; check "dump without --snapshot: exit 2" 2 $?
"$DUMP" --snapshot "$WORK/s2" frobnicate 2> /dev/null; check "dump unknown command: exit 2" 2 $?
# No objects: the root namespace and "every other namespace" still get default scopes.
"$DUMP" --snapshot "$WORK/s2" info --json | jq -e '.formatVersion == 4 and .headVersion >= 1 and
  (.instanceId | test("^[0-9a-f]{16}$")) and (.lastPublish | test("^20[0-9-]+T")) and
  .objects == 0 and .objectsByKind.Service == 0 and .scopes == 2' > /dev/null
check "dump info --json has the contract's fields" 0 $?

# SIGTERM publishes what is pending: a long batch window that only shutdown closes.
: > "$WORK/follow.jsonl"
"$SCOPECAST" --snapshot "$WORK/s3" --watch "file:$WORK/follow.jsonl" --batch-quiet-ms 600000 \
  --batch-max-ms 600000 2> "$WORK/term.log" &
ENGINE=$!
PIDS+=($ENGINE)
wait_for 10 info_is "$WORK/s3" .headVersion 1
printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"late"}}}\n' >> "$WORK/follow.jsonl"
sleep 1.5 # the file is polled every 200 ms; leave time for several polls under load
check "before SIGTERM: batch still open" 0 "$(info "$WORK/s3" .objects)"
kill -TERM $ENGINE
wait $ENGINE
check "SIGTERM: exit 0" 0 $?
check "SIGTERM: pending batch published" 1 "$(info "$WORK/s3" .objects)"

finish
