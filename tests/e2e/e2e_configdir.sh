#!/usr/bin/env bash
# Directory following: a file added, changed or removed becomes ADDED/MODIFIED/DELETED
# events of the objects in it; a broken edit keeps the last accepted objects.
. "$(dirname "$0")/lib.sh"

svc() { # svc NAME NAMESPACE PORT
  printf -- '---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  ports:\n  - name: http\n    port: %s\n' "$1" "$2" "$3"
}

DIR="$WORK/config"
SNAP="$WORK/snap"
mkdir -p "$DIR"
svc a ns1 80 > "$DIR/a.yaml"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$DIR" --batch-quiet-ms 20 --rescan-ms 0 \
  --log-level debug 2> "$WORK/engine.log" &
ENGINE=$!
PIDS+=($ENGINE)

if wait_for 10 info_is "$SNAP" '.objectsByKind.Service' 1; then pass "initial load"; else fail "initial load"; fi

# add a file with two objects
{ svc b ns1 80; svc c ns2 80; } > "$DIR/bc.yaml"
if wait_for 10 info_is "$SNAP" '.objectsByKind.Service' 3; then pass "file added"; else fail "file added: $(info "$SNAP" .objectsByKind.Service)"; fi

# modify: drop c, change b, add d; the head version moves once per batch
HEAD=$(info "$SNAP" .headVersion)
{ svc b ns1 81; svc d ns3 80; } > "$DIR/bc.yaml.tmp" && mv "$DIR/bc.yaml.tmp" "$DIR/bc.yaml"
head_above() { [ "$(info "$SNAP" .headVersion)" -gt "$1" ]; }
if wait_for 10 head_above "$HEAD"; then pass "head version moved"; else fail "head version did not move"; fi
check "file modified: c gone, d added" 3 "$(info "$SNAP" .objects)"
check_contains "file modified: the change was one batch" "$WORK/engine.log" "batch: 3 events, 3 changed"

# a broken edit: the file's objects stay as they were, the error is logged
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: ns1\n' > "$DIR/bc.yaml"
if wait_for 10 grep -q "bc.yaml" "$WORK/engine.log" && wait_for 10 grep -q "YAML syntax error" "$WORK/engine.log"; then
  pass "broken file: syntax error logged"
else
  fail "broken file: no syntax error logged"
fi
sleep 0.3
check "broken file: objects kept" 3 "$(info "$SNAP" .objects)"

# an invalid object in an otherwise good file: rejected, last accepted version stays
{ svc b ns1 99999; svc d ns3 80; } > "$DIR/bc.yaml"
if wait_for 10 grep -q "spec.ports\[0\].port: 99999 is outside 1-65535" "$WORK/engine.log"; then
  pass "invalid object: rejection logged with field"
else
  fail "invalid object: rejection not logged"
fi
sleep 0.3
check "invalid object: nothing deleted" 3 "$(info "$SNAP" .objects)"
if [ "$(info "$SNAP" .rejected)" -ge 2 ]; then pass "rejections counted"; else fail "rejections not counted"; fi


# A rejected object owns no key: a name with an embedded NUL, or a namespace one character
# too long, must not be cut down to the key of a valid object that removing its file then
# deletes. ns63 is the longest namespace there is (63 characters); the evil one has 64.
NS63=$(printf 'n%.0s' $(seq 63))
NSVC=$(info "$SNAP" .objectsByKind.Service)
svc x "$NS63" 80 > "$DIR/x63.yaml"
if wait_for 10 info_is "$SNAP" '.objectsByKind.Service' $((NSVC + 1)); then pass "a Service in a 63-character namespace"; else fail "x63.yaml not loaded"; fi
REJ=$(info "$SNAP" .rejected)
printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"a\\u0000evil","namespace":"ns1"},"spec":{"ports":[{"name":"http","port":80}]}}\n' > "$DIR/evil-nul.json"
svc x "${NS63}n" 80 > "$DIR/evil-ns64.yaml"
if wait_for 10 info_is "$SNAP" '.rejected' $((REJ + 2)); then pass "NUL name and 64-character namespace rejected"; else fail "rejections: $(info "$SNAP" .rejected), expected $((REJ + 2))"; fi
rm "$DIR/evil-nul.json" "$DIR/evil-ns64.yaml"
sleep 1
check "removing the rejected objects' files deletes no valid object" $((NSVC + 1)) "$(info "$SNAP" .objectsByKind.Service)"
rm "$DIR/x63.yaml"
if wait_for 10 info_is "$SNAP" '.objectsByKind.Service' "$NSVC"; then pass "x63.yaml removed: its object deleted"; else fail "x63.yaml removed: $(info "$SNAP" .objectsByKind.Service) Services"; fi

# remove a file: its objects go
rm "$DIR/bc.yaml"
if wait_for 10 info_is "$SNAP" '.objects' 1; then pass "file removed: its objects deleted"; else fail "file removed: $(info "$SNAP" .objects) objects"; fi

# JSON manifests and non-manifest files
printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns9"}}\n' > "$DIR/ns.json"
echo "not config" > "$DIR/README.txt"
if wait_for 10 info_is "$SNAP" '.objectsByKind.Namespace' 1; then pass "json manifest loaded"; else fail "json manifest not loaded"; fi
check "non-manifest files ignored" 0 "$(info "$SNAP" .rejected | awk '{print ($1 >= 2) ? 0 : 1}')"

kill -TERM $ENGINE
wait $ENGINE
check "SIGTERM exits 0" 0 $?

# A second engine on the same directory and snapshot (restart) converges, with a higher head.
HEAD=$(info "$SNAP" .headVersion)
ID=$(info "$SNAP" .instanceId)
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$DIR" --once 2> "$WORK/restart.log"
check "restart: exit 0" 0 $?
check "restart: same objects" 2 "$(info "$SNAP" .objects)"
if [ "$(info "$SNAP" .headVersion)" -gt "$HEAD" ]; then pass "restart: head version increased"; else fail "restart: head did not increase"; fi
if [ "$(info "$SNAP" .instanceId)" != "$ID" ]; then pass "restart: new instance id"; else fail "restart: same instance id"; fi

finish
