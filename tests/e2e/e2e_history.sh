#!/usr/bin/env bash
# History: a scope put together as it was at a retained head version (`--version`), what
# changed between two (`diff`), resources kept while a retained version names them, and
# versions outside the window refused.
. "$(dirname "$0")/lib.sh"

EVENTS="$WORK/events.jsonl"
SNAP="$WORK/snap"
start_watch_engine "$SNAP" "$EVENTS" --history 4
emit() { emit_event "$SNAP" "$EVENTS" "$@"; }
svc='{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"a"},"spec":{"clusterIP":"10.0.0.9","ports":[{"name":"http","port":80}]}}'
dr='{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"s","namespace":"a"},"spec":{"host":"s","subsets":[{"name":"v1","labels":{"version":"v1"}}]}}'
vs='{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"s","namespace":"a"},"spec":{"hosts":["s"],"http":[{"route":[{"destination":{"host":"s","subset":"v1"}}]}]}}'
names() { "$DUMP" --snapshot "$SNAP" resources a/@default --type "$1" --json "${@:2}" | jq -c '[.resources[].name | select(contains("s.a.svc"))]'; }
V1="outbound|80|v1|s.a.svc.cluster.local"

emit "$svc"
emit "$dr"
A=$(info "$SNAP" .headVersion)
emit "$vs"
B=$(info "$SNAP" .headVersion)
emit "$dr" DELETED
C=$(info "$SNAP" .headVersion)
check "info: the history window" 4 "$(info "$SNAP" .historyVersions)"
types_at() { "$DUMP" --snapshot "$SNAP" changelog --since $(($1 - 1)) --json | jq -c --arg v "$1" '.changes[] | select(.version == ($v | tonumber)) | .types["a/@default"]'; }
# A subset adds an EDS cluster: the assignments the proxy gets change with the clusters.
check "changelog: a DestinationRule with a subset changes the scope's clusters and endpoints" \
  '["clusters","endpoints"]' "$(types_at "$A")"
check "changelog: a VirtualService its routes only" '["routes"]' "$(types_at "$B")"
check "latest: the subset's cluster is gone" '["outbound|80||s.a.svc.cluster.local"]' "$(names clusters)"
check "--version: the scope as it was, subset cluster included" \
  '["outbound|80||s.a.svc.cluster.local","'"$V1"'"]' "$(names clusters --version "$A")"
check "--version: a resource nothing names now still decodes" '"EDS"' \
  "$("$DUMP" --snapshot "$SNAP" resources a/@default --type clusters --json --version "$A" | jq -c --arg n "$V1" '.resources[] | select(.name == $n) | .resource.type')"
check "--version: routes as they were (before the VirtualService)" '"outbound|80||s.a.svc.cluster.local"' \
  "$("$DUMP" --snapshot "$SNAP" resources a/@default --type routes --json --version "$A" | jq -c '.resources[] | select(.name == "80") | .resource.virtual_hosts[] | select(.name == "s.a.svc.cluster.local:80") | .routes[0].route.cluster')"
check "--version: routes at the VirtualService's version" "\"$V1\"" \
  "$("$DUMP" --snapshot "$SNAP" resources a/@default --type routes --json --version "$B" | jq -c '.resources[] | select(.name == "80") | .resource.virtual_hosts[] | select(.name == "s.a.svc.cluster.local:80") | .routes[0].route.cluster')"
check "--version of the head: the same as without" "$(names listeners)" "$(names listeners --version "$C")"
check "diff: the subset cluster removed, route configuration 80 changed" \
  '{"clusters":{"added":[],"removed":["'"$V1"'"],"changed":[]},"routes":["80"]}' \
  "$("$DUMP" --snapshot "$SNAP" diff a/@default --from "$A" --to "$C" --json | jq -c '{clusters: {added: [.clusters.added[] | select(contains("s.a.svc"))], removed: .clusters.removed, changed: .clusters.changed}, routes: .routes.changed}')"
check "diff: text form" "- clusters  $V1" \
  "$("$DUMP" --snapshot "$SNAP" diff a/@default --from "$A" --to "$C" | grep '^-')"

stored() { mdb_stat -s resources "$SNAP" | awk '/Entries/ {print $2}'; }
check "resources only old versions name are still stored" "true" \
  "$([ "$(stored)" -gt "$(info "$SNAP" .resources)" ] && echo true)"

# Four more versions: A falls out of the window; its resources go with it.
for i in 1 2 3 4; do
  emit '{"apiVersion":"v1","kind":"Service","metadata":{"name":"t'$i'","namespace":"b"},"spec":{"ports":[{"name":"tcp","port":'$((9000 + i))'}]}}'
done
"$DUMP" --snapshot "$SNAP" resources a/@default --type clusters --version "$A" > /dev/null 2> "$WORK/old.err"
check "a version out of the window: exit 1" 1 $?
check_contains "... saying which are kept" "$WORK/old.err" "is not retained"
check "... and the resources only it named left the snapshot: stored = named" "$(info "$SNAP" .resources)" "$(stored)"
"$DUMP" --snapshot "$SNAP" diff a/@default --from 1 > /dev/null 2>&1
check "diff without --to: usage, exit 2" 2 $?
finish
