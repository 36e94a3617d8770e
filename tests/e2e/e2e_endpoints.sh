#!/usr/bin/env bash
# EDS end to end: one ClusterLoadAssignment per EDS cluster in the endpoints table, shared
# by every scope that means the same one; an endpoint or Pod change rewrites assignments
# and touches no scope; a scope whose rule defines a subset differently gets its own.
. "$(dirname "$0")/lib.sh"

EVENTS="$WORK/events.jsonl"
SNAP="$WORK/snap"
start_watch_engine "$SNAP" "$EVENTS"
emit() { emit_event "$SNAP" "$EVENTS" "$@"; }
svc() { printf '{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"%s"},"spec":{"ports":[{"name":"http","port":80}]}}' "$1" "$2"; }
pod() { printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"a","labels":{"app":"s","version":"%s"}},"status":{"podIP":"%s","phase":"Running"}}' "$1" "$2" "$3"; }
slice() { # slice ENDPOINTS-JSON
  printf '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"s-1","namespace":"a","labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":%s}' "$1"
}
ep() { printf '{"addresses":["%s"],"conditions":{"ready":true},"zone":"%s","targetRef":{"kind":"Pod","name":"%s","namespace":"a"}}' "$1" "$2" "$3"; }
dr() { printf '{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"%s","namespace":"%s"},"spec":{"host":"s.a.svc.cluster.local","subsets":[{"name":"v1","labels":{"version":"%s"}}]}}' "$1" "$2" "$3"; }
# endpoints SCOPE CLUSTER: "address:port zone" of the assignment a proxy of SCOPE gets
endpoints() {
  "$DUMP" --snapshot "$SNAP" resources "$1" --type endpoints --json |
    jq -c --arg n "$2" '[.resources[] | select(.name == $n) | .resource.endpoints[] | .locality.zone as $z |
      .lb_endpoints[] | "\(.endpoint.address.socket_address.address):\(.endpoint.address.socket_address.port_value) \($z)"]'
}
versions() { "$DUMP" --snapshot "$SNAP" scopes --json | jq -c '[.scopes[] | [.id, .version]]'; }
last_change() { "$DUMP" --snapshot "$SNAP" changelog --json | jq -c ".changes[-1] | $1"; }
D="outbound|80||s.a.svc.cluster.local"
V1="outbound|80|v1|s.a.svc.cluster.local"

emit '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}'
emit "$(svc s a)"
emit "$(pod p1 v1 10.0.0.1)"
emit "$(pod p2 v2 10.0.0.2)"
emit "$(slice "[$(ep 10.0.0.1 z1 p1),$(ep 10.0.0.2 z2 p2)]")"
emit "$(dr rule a v1)"
check "default cluster: every ready endpoint, by zone, on the slice's port" \
  '["10.0.0.1:8080 z1","10.0.0.2:8080 z2"]' "$(endpoints a/@default "$D")"
check "subset cluster: the endpoints whose Pod carries the subset's labels" \
  '["10.0.0.1:8080 z1"]' "$(endpoints a/@default "$V1")"
check "the endpoints key names the cluster and its recipe" "true" \
  "$(last_change '.endpoints | length == 1 and (.[0] | test("^outbound\\|80\\|v1\\|s\\.a\\.svc\\.cluster\\.local#[0-9a-f]{16}$"))')"
n=$(info "$SNAP" .endpoints)

# An endpoint change: assignments rewritten, no scope touched.
before=$(versions)
emit "$(slice "[$(ep 10.0.0.1 z1 p1),$(ep 10.0.0.2 z2 p2),$(ep 10.0.0.3 z1 p3)]")" MODIFIED
check "endpoint added: in the default assignment" '["10.0.0.1:8080 z1","10.0.0.3:8080 z1","10.0.0.2:8080 z2"]' \
  "$(endpoints a/@default "$D")"
check "endpoint added: not in the subset while its Pod is unknown" '["10.0.0.1:8080 z1"]' "$(endpoints a/@default "$V1")"
check "endpoint added: no scope changed" "$before" "$(versions)"
check "endpoint added: the changelog names the one assignment that changed, no scope" '[[],["'"$D"'"]]' \
  "$(last_change '[.scopes, [.endpoints[] | sub("#.*"; "")]]')"
check "endpoint added: as many assignments as before" "$n" "$(info "$SNAP" .endpoints)"

# A Pod's labels decide subset membership.
emit "$(pod p3 v1 10.0.0.3)"
check "pod added: its endpoint joins the subset" '["10.0.0.1:8080 z1","10.0.0.3:8080 z1"]' "$(endpoints a/@default "$V1")"
check "pod added: no scope changed" "$before" "$(versions)"
check "pod added: only the subset's assignment rewritten" '[[],["'"$V1"'"]]' \
  "$(last_change '[.scopes, [.endpoints[] | sub("#.*"; "")]]')"

# A rule in b defines subset v1 differently: b's proxies get an assignment of their own.
emit "$(dr rule b v2)"
check "a scope whose rule differs: its own assignment" '["10.0.0.2:8080 z2"]' "$(endpoints b/@default "$V1")"
check "... while a's proxies keep theirs" '["10.0.0.1:8080 z1","10.0.0.3:8080 z1"]' "$(endpoints a/@default "$V1")"
check "... both stored" "$((n + 1))" "$(info "$SNAP" .endpoints)"

# An assignment no cluster names any more goes in the same commit.
emit "$(dr rule b v2)" DELETED
check "rule deleted: its assignment removed" "$n" "$(info "$SNAP" .endpoints)"
check "rule deleted: the changelog says which" '["'"$V1"'"]' "$(last_change '[.endpointsRemoved[] | sub("#.*"; "")]')"
check "rule deleted: b's proxies share a's assignment again" "$(endpoints a/@default "$V1")" "$(endpoints b/@default "$V1")"
emit "$(svc s a)" DELETED
check "service deleted: no assignment left" "0" "$(info "$SNAP" .endpoints)"
finish
