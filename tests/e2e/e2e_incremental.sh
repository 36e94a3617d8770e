#!/usr/bin/env bash
# Negative dependencies end to end: one engine follows a watch file, each event its own
# batch; after each event, the scopes that must change have changedAt = the new head
# version, and unrelated scopes keep their version and changedAt.
. "$(dirname "$0")/lib.sh"

EVENTS="$WORK/events.jsonl"
SNAP="$WORK/snap"
: > "$EVENTS"
"$SCOPECAST" --snapshot "$SNAP" --watch "file:$EVENTS" --batch-max-events 1 --batch-quiet-ms 5 \
  2> "$WORK/engine.log" &
ENGINE=$!
PIDS+=($ENGINE)
wait_for 10 info_is "$SNAP" .headVersion 1

N=0
emit() { # emit JSON-OBJECT [TYPE]: append one event and wait until it is published
  local before
  before=$(info "$SNAP" .headVersion)
  printf '{"type":"%s","object":%s}\n' "${2:-ADDED}" "$1" >> "$EVENTS"
  N=$((N + 1))
  local deadline=$((SECONDS + 10))
  until [ "$(info "$SNAP" .headVersion)" -gt "$before" ]; do
    if [ $SECONDS -ge $deadline ]; then fail "event $N was not published"; return 1; fi
    sleep 0.05
  done
}
head_v() { info "$SNAP" .headVersion; }
changed_at() { "$DUMP" --snapshot "$SNAP" scope "$1" --json | jq -r .changedAt; }
services_of() { "$DUMP" --snapshot "$SNAP" scope "$1" --json | jq -c '[.services[].hostname] | sort'; }
drs_of() { "$DUMP" --snapshot "$SNAP" scope "$1" --json | jq -c ".destinationRules[\"$2\"]"; }
svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"%s},"spec":{"ports":[{"name":"http","port":80}]}}' "$1" "$2" "${3:-}"; }
sidecar() { printf '{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"%s","namespace":"%s"},"spec":{%s"egress":[{"hosts":[%s]}]}}' "$1" "$2" "${4:-}" "$3"; }
dr() { printf '{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"%s","namespace":"%s"},"spec":{"host":"%s"%s}}' "$1" "$2" "$3" "${4:-}"; }

# Setup: namespaces a, b, c. a imports only a; b imports everything; c imports b and c.
emit "$(svc x a)"
emit "$(svc y b)"
emit "$(svc z c)"
emit "$(sidecar only-a a '"./*"')"
emit "$(sidecar some c '"./*","b/*"')"
check "setup: a/only-a imports a" '["x.a.svc.cluster.local"]' "$(services_of a/only-a)"
check "setup: b gets the default scope" '["x.a.svc.cluster.local","y.b.svc.cluster.local","z.c.svc.cluster.local"]' "$(services_of b/@default)"

# 1. A new Service a wildcard import picks up: scopes importing its namespace change,
#    others keep their version.
A=$(changed_at a/only-a); C=$(changed_at c/some)
emit "$(svc w b)"
H=$(head_v)
check "new service: b/@default (imports */*) changed" "$H" "$(changed_at b/@default)"
check "new service: c/some (imports b/*) changed" "$H" "$(changed_at c/some)"
check "new service: a/only-a (imports a only) kept its version" "$A" "$(changed_at a/only-a)"
check "new service: c/some now has w" '["w.b.svc.cluster.local","y.b.svc.cluster.local","z.c.svc.cluster.local"]' "$(services_of c/some)"

# 2. A new and a deleted DestinationRule for an imported host.
A=$(changed_at a/only-a)
emit "$(dr y-rule b y.b.svc.cluster.local)"
H=$(head_v)
check "new DR: c/some changed" "$H" "$(changed_at c/some)"
check "new DR: c/some sees it" '["b/y-rule"]' "$(drs_of c/some y.b.svc.cluster.local)"
check "new DR: a/only-a kept its version" "$A" "$(changed_at a/only-a)"
emit "$(dr y-rule b y.b.svc.cluster.local)" DELETED
check "deleted DR: c/some changed" "$(head_v)" "$(changed_at c/some)"
check "deleted DR: gone" '[]' "$(drs_of c/some y.b.svc.cluster.local)"

# 3. A wildcard-host DestinationRule in the root namespace covers every imported host.
A=$(changed_at a/only-a)
emit "$(dr everything istio-system '*.svc.cluster.local')"
H=$(head_v)
check "wildcard DR: a/only-a changed" "$H" "$(changed_at a/only-a)"
check "wildcard DR: applies to x" '["istio-system/everything"]' "$(drs_of a/only-a x.a.svc.cluster.local)"
emit "$(dr everything istio-system '*.svc.cluster.local')" DELETED

# 4. A Sidecar added to a namespace: b's proxies move from the default scope to it.
emit "$(sidecar narrow b '"./*"')"
check "sidecar added: b/narrow exists" '["w.b.svc.cluster.local","y.b.svc.cluster.local"]' "$(services_of b/narrow)"
if "$DUMP" --snapshot "$SNAP" scope b/@default --json > /dev/null 2>&1; then
  fail "sidecar added: b/@default still exists"
else
  pass "sidecar added: b/@default is gone"
fi
check "sidecar added: b resolves to it" b/narrow "$("$DUMP" --snapshot "$SNAP" resolve --namespace b --json | jq -r .scope)"
emit "$(sidecar narrow b '"./*"')" DELETED
check "sidecar deleted: b resolves to the default again" b/@default "$("$DUMP" --snapshot "$SNAP" resolve --namespace b --json | jq -r .scope)"

# 5. A Sidecar in the root namespace: every namespace without its own gets it.
emit "$(sidecar root istio-system '"istio-system/*"')"
check "root sidecar: b now resolves to the root default" "b/root@istio-system" "$("$DUMP" --snapshot "$SNAP" resolve --namespace b --json | jq -r .scope)"
check "root sidecar: unknown namespaces too" "*/root@istio-system" "$("$DUMP" --snapshot "$SNAP" resolve --namespace elsewhere --json | jq -r .scope)"
check "root sidecar: b imports nothing from b" '[]' "$(services_of b/root@istio-system)"
emit "$(sidecar root istio-system '"istio-system/*"')" DELETED
check "root sidecar deleted: back to the built-in default" b/@default "$("$DUMP" --snapshot "$SNAP" resolve --namespace b --json | jq -r .scope)"

# 6. A selector change that moves proxies between scopes.
emit "$(sidecar pick a '"*/*"' '"workloadSelector":{"labels":{"app":"one"}},')"
check "selector: app=one in a gets a/pick" a/pick "$("$DUMP" --snapshot "$SNAP" resolve --namespace a --label app=one --json | jq -r .scope)"
emit "$(sidecar pick a '"*/*"' '"workloadSelector":{"labels":{"app":"two"}},')" MODIFIED
check "selector changed: app=one falls back to a/only-a" a/only-a "$("$DUMP" --snapshot "$SNAP" resolve --namespace a --label app=one --json | jq -r .scope)"
check "selector changed: app=two gets a/pick" a/pick "$("$DUMP" --snapshot "$SNAP" resolve --namespace a --label app=two --json | jq -r .scope)"

# 7. An exportTo change hides a service from other namespaces.
B=$(changed_at b/@default); A=$(changed_at a/only-a)
emit "$(svc z c ',"annotations":{"networking.istio.io/exportTo":"."}')" MODIFIED
H=$(head_v)
check "exportTo: b/@default changed" "$H" "$(changed_at b/@default)"
check "exportTo: b no longer sees z" '["w.b.svc.cluster.local","x.a.svc.cluster.local","y.b.svc.cluster.local"]' "$(services_of b/@default)"
check "exportTo: c still sees it" '["w.b.svc.cluster.local","y.b.svc.cluster.local","z.c.svc.cluster.local"]' "$(services_of c/some)"
check "exportTo: a/only-a kept its version" "$A" "$(changed_at a/only-a)"

# 8. A namespace appearing and disappearing.
emit '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fresh"}}'
check "namespace appears: fresh/@default exists" "fresh/@default" "$("$DUMP" --snapshot "$SNAP" resolve --namespace fresh --json | jq -r .scope)"
check "namespace appears: its scope shares the content for unmentioned namespaces" "*/@default" \
  "$("$DUMP" --snapshot "$SNAP" scope fresh/@default --json | jq -r .sameAs)"
check "namespace appears: and shows that content under its own id" \
  "$("$DUMP" --snapshot "$SNAP" scope '*/@default' --json | jq -c '.services')" \
  "$("$DUMP" --snapshot "$SNAP" scope fresh/@default --json | jq -c '.services')"
emit "$(svc own fresh)"
check "namespace gets a service: its scope has its own content" "null" \
  "$("$DUMP" --snapshot "$SNAP" scope fresh/@default --json | jq -r .sameAs)"
check "namespace gets a service: and sees it" "true" \
  "$("$DUMP" --snapshot "$SNAP" scope fresh/@default --json | jq '[.services[].hostname] | index("own.fresh.svc.cluster.local") != null')"
emit "$(svc own fresh)" DELETED
emit '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fresh"}}' DELETED
check "namespace gone: fresh falls back to */@default" "*/@default" "$("$DUMP" --snapshot "$SNAP" resolve --namespace fresh --json | jq -r .scope)"

# 9. The changelog says, per head version, what changed: an exact-host rule in a touches
# the scopes that see a's service, and the resources it adds come with it.
H=$(head_v)
emit "$(dr x-rule a x.a.svc.cluster.local ',"subsets":[{"name":"v9","labels":{"v":"9"}}]')"
log=$("$DUMP" --snapshot "$SNAP" changelog --since "$H" --json)
check "changelog: one record for the new head" "[$((H + 1))]" "$(jq -c '[.changes[].version]' <<< "$log")"
check "changelog: the scopes whose records changed" "true" \
  "$(jq --arg c "$(changed_at a/only-a)" '(.changes[0].scopes | index("a/only-a") != null) and ($c | tonumber) == .changes[0].version' <<< "$log")"
check "changelog: unrelated scopes are not listed" "false" \
  "$(jq '.changes[0].scopes | index("c/some") != null' <<< "$log")"
check "changelog: the subset clusters added" "true" "$(jq '.changes[0].resourcesAdded >= 1 and (.changes[0].resync | not)' <<< "$log")"

# 10. A no-op update publishes nothing; the head stays.
H=$(head_v)
printf '{"type":"MODIFIED","object":%s}\n' "$(svc x a)" >> "$EVENTS"
sleep 0.5
check "no-op: head version unchanged" "$H" "$(head_v)"
check_contains "batch statistics are logged" "$WORK/engine.log" "affected"

# 11. A service whose ports change leaves a port-80 egress listener: a VirtualService on its
# host then needs a virtual host of its own in the scope's head, as a fresh engine builds it
# (found by the differential test: the change was patched as a detail of the service).
pf_svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"pf","namespace":"pfcfg","annotations":{"networking.istio.io/exportTo":"pfns"}},"spec":{"ports":[%s]}}' "$1"; }
PF_EVENTS=(
  '{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"pf-vs","namespace":"pfcfg"},"spec":{"hosts":["pf"],"exportTo":["pfns"],"http":[{"route":[{"destination":{"host":"pf.pfcfg.svc.cluster.local"}}]}]}}'
  '{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"pf-sc","namespace":"pfns"},"spec":{"egress":[{"port":{"number":80,"protocol":"HTTP","name":"http"},"hosts":["pfcfg/*"]}]}}'
  "$(pf_svc '{"name":"http","port":80},{"name":"tcp","port":9000}')"
  "$(pf_svc '{"name":"http","port":81}')")
for ev in "${PF_EVENTS[@]}"; do emit "$ev"; done
: > "$WORK/pf-fresh.jsonl"
for ev in "${PF_EVENTS[@]:0:3}"; do printf '{"type":"ADDED","object":%s}\n' "$ev" >> "$WORK/pf-fresh.jsonl"; done
printf '{"type":"ADDED","object":%s}\n' "${PF_EVENTS[3]}" >> "$WORK/pf-fresh.jsonl"
"$SCOPECAST" --snapshot "$WORK/pf-snap" --watch "file:$WORK/pf-fresh.jsonl" --once 2> "$WORK/pf-fresh.log"
pf_routes() {
  "$DUMP" --snapshot "$1" resources pfns/pf-sc --type routes --json |
    jq -c '[.resources[].resource.virtual_hosts[]?.name] | sort'
}
check "ports changed under a port listener: the VirtualService host gets its virtual host" \
  "$(pf_routes "$WORK/pf-snap")" "$(pf_routes "$SNAP")"
check "ports changed under a port listener: the same scope as a fresh engine's" \
  "$("$DUMP" --snapshot "$WORK/pf-snap" scope pfns/pf-sc --json | jq -r .version)" \
  "$("$DUMP" --snapshot "$SNAP" scope pfns/pf-sc --json | jq -r .version)"

kill -TERM $ENGINE
wait $ENGINE
check "SIGTERM exits 0" 0 $?
finish
