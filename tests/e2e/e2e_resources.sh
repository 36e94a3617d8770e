#!/usr/bin/env bash
# Envoy clusters published per scope (docs/semantics.md "Envoy configuration of a scope") and stored by content hash: what
# `scopecast-dump resources` decodes for Bookinfo, the variant a proxy's labels select,
# sharing between scopes, and that a resource nothing names any more is removed.
. "$(dirname "$0")/lib.sh"

# resources SNAPSHOT SCOPE [ARGS...]: the decoded clusters, as JSON
resources() { local s=$1 id=$2; shift 2; "$DUMP" --snapshot "$s" resources "$id" --type clusters --json "$@"; }
# cluster SNAPSHOT SCOPE NAME JQ [ARGS...]: a field of one decoded cluster
cluster() {
  local s=$1 id=$2 name=$3 filter=$4; shift 4
  resources "$s" "$id" "$@" | jq -c --arg n "$name" ".resources[] | select(.name == \$n) | .resource | $filter"
}

SNAP="$WORK/bookinfo"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$SRC/examples/bookinfo/config" \
  --mesh-config "$SRC/examples/bookinfo/mesh.yaml" --once 2> "$WORK/bookinfo.log"
check "bookinfo: exit 0" 0 $?
R=outbound
check "static clusters first" '["BlackHoleCluster","PassthroughCluster","InboundPassthroughCluster"]' \
  "$(resources "$SNAP" bookinfo/default | jq -c '[.resources[:3][].name]')"
check "a subset cluster per DestinationRule subset" \
  '["outbound|9080||reviews.bookinfo.svc.cluster.local","outbound|9080|v1|reviews.bookinfo.svc.cluster.local","outbound|9080|v2|reviews.bookinfo.svc.cluster.local","outbound|9080|v3|reviews.bookinfo.svc.cluster.local"]' \
  "$(resources "$SNAP" bookinfo/default | jq -c '[.resources[].name | select(endswith("|reviews.bookinfo.svc.cluster.local"))]')"
check "EDS through ADS, named after the cluster" \
  '{"type":"EDS","service_name":"outbound|9080|v2|reviews.bookinfo.svc.cluster.local","ads":{},"api":"V3"}' \
  "$(cluster "$SNAP" bookinfo/default "$R|9080|v2|reviews.bookinfo.svc.cluster.local" \
     '{type, service_name: .eds_cluster_config.service_name, ads: .eds_cluster_config.eds_config.ads, api: .eds_cluster_config.eds_config.resource_api_version}')"
check "a DNS ServiceEntry is STRICT_DNS with its host as endpoint" \
  '{"type":"STRICT_DNS","address":"www.googleapis.com","port":443}' \
  "$(cluster "$SNAP" bookinfo/default "$R|443||www.googleapis.com" \
     '{type, address: .load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address, port: .load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value}')"
check "type URL and version (content hash) of every resource" "true" \
  "$(resources "$SNAP" bookinfo/default | jq '[.resources[] | (.resource["@type"] == "type.googleapis.com/envoy.config.cluster.v3.Cluster") and (.version | test("^[0-9a-f]{32}$"))] | all')"
n_json=$(resources "$SNAP" bookinfo/default | jq '.resources | length')
n_raw=$("$DUMP" --snapshot "$SNAP" resources bookinfo/default --type clusters --raw | wc -l)
check "--raw: one line per resource" "$n_json" "$n_raw"
check "--raw: name, type URL and base64 bytes" "true" \
  "$("$DUMP" --snapshot "$SNAP" resources bookinfo/default --type clusters --raw | head -1 | jq '(.name == "BlackHoleCluster") and (.type_url | endswith(".Cluster")) and (.bytes | test("^[A-Za-z0-9+/]+=*$"))')"
check "one static cluster stored once for every scope" \
  "$(resources "$SNAP" bookinfo/ratings | jq -r '.resources[0].version')" \
  "$(resources "$SNAP" '*/@default' | jq -r '.resources[0].version')"
"$DUMP" --snapshot "$SNAP" resources bookinfo/default --type secrets > /dev/null 2> "$WORK/type.err"
check "an unknown type: exit 2" 2 $?
check_contains "an unknown type: says which exist" "$WORK/type.err" "--type must be clusters, listeners, routes or endpoints"
"$DUMP" --snapshot "$SNAP" resources bookinfo/default --type secrets > /dev/null 2>&1
check "an unknown type: exit 2" 2 $?

# Inbound clusters of a Sidecar's ingress listeners (7.3, seed 001): a Unix socket.
"$SCOPECAST" --snapshot "$WORK/seeds" --config-dir "$SRC/examples/seeds/config" \
  --mesh-config "$SRC/examples/seeds/mesh.yaml" --once 2> "$WORK/seeds.log"
check "seeds: the ingress listener's inbound cluster, to a Unix socket" \
  '{"type":"STATIC","pipe":"/var/run/someuds.sock","from":"127.0.0.6"}' \
  "$(cluster "$WORK/seeds" prod-us1/ratings "inbound|9080||" \
     '{type, pipe: .load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path, from: .upstream_bind_config.source_address.address}')"

# Variants: a selector DestinationRule applies only to the proxies it selects (6.3).
mkdir -p "$WORK/v"
cat > "$WORK/v/mesh.yaml" <<'YAML'
kind: Service
apiVersion: v1
metadata: {name: api, namespace: shop}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-all, namespace: shop}
spec:
  host: api.shop.svc.cluster.local
  subsets: [{name: stable, labels: {track: stable}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-canary-clients, namespace: shop}
spec:
  host: api.shop.svc.cluster.local
  workloadSelector: {matchLabels: {app: canary-client}}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: canary, labels: {track: canary}}]
YAML
"$SCOPECAST" --snapshot "$WORK/vs" --config-dir "$WORK/v" --once 2> "$WORK/v.log"
names() { resources "$WORK/vs" shop/@default "$@" | jq -c '[.resources[].name | select(endswith("|api.shop.svc.cluster.local"))]'; }
check "a proxy no selector rule matches: the namespace-wide rule's subsets" \
  '["outbound|8080||api.shop.svc.cluster.local","outbound|8080|stable|api.shop.svc.cluster.local"]' "$(names)"
check "a proxy the selector rule matches: its subsets" \
  '["outbound|8080||api.shop.svc.cluster.local","outbound|8080|canary|api.shop.svc.cluster.local"]' \
  "$(names --label app=canary-client --label version=v1)"
check "... and its traffic policy" '"RANDOM"' \
  "$(cluster "$WORK/vs" shop/@default "outbound|8080||api.shop.svc.cluster.local" .lb_policy --label app=canary-client)"
check "... which other proxies never get (Istio's default instead)" '"LEAST_REQUEST"' \
  "$(cluster "$WORK/vs" shop/@default "outbound|8080||api.shop.svc.cluster.local" .lb_policy --label app=other)"

# Routes and listeners (docs/semantics.md "Envoy configuration of a scope"), composed from the stored parts.
routes() { "$DUMP" --snapshot "$1" resources "$2" --type routes --json "${@:3}"; }
listeners() { "$DUMP" --snapshot "$1" resources "$2" --type listeners --json "${@:3}" | jq -c '[.resources[].name]'; }
check "route configurations per HTTP port" '["9080","15010","15014"]' "$(routes "$SNAP" bookinfo/default | jq -c '[.resources[].name]')"
check "a weighted VirtualService route to subset clusters" \
  '[["outbound|9080|v1|reviews.bookinfo.svc.cluster.local",50],["outbound|9080|v3|reviews.bookinfo.svc.cluster.local",50]]' \
  "$(routes "$SNAP" bookinfo/default | jq -c '.resources[0].resource.virtual_hosts[] | select(.name == "reviews.bookinfo.svc.cluster.local:9080") | .routes[-1].route.weighted_clusters.clusters | map([.name, .weight])')"
check "service domains: FQDN, short names in its namespace, the VIP" \
  '["details.bookinfo.svc.cluster.local","details.bookinfo.svc.cluster.local.","details","details.bookinfo.svc","details.bookinfo","10.96.40.11"]' \
  "$(routes "$SNAP" bookinfo/default | jq -c '.resources[0].resource.virtual_hosts[0].domains')"
check "REGISTRY_ONLY: the catch-all virtual host answers 502" '{"name":"block_all","status":502}' \
  "$(routes "$SNAP" bookinfo/default | jq -c '.resources[0].resource.virtual_hosts[-1] | {name, status: .routes[0].direct_response.status}')"
check "outbound listeners by port, then the virtual ones" \
  '["0.0.0.0_15010","0.0.0.0_15014","0.0.0.0_443","0.0.0.0_9080","10.96.0.10_15012","10.96.0.10_443","virtualOutbound","virtualInbound"]' \
  "$(listeners "$SNAP" bookinfo/default)"
check "interception mode NONE: no virtual listeners" "false" \
  "$(listeners "$SNAP" bookinfo/default --interception-mode NONE | jq 'any(.[]; startswith("virtual"))')"
check "an HTTP listener routes through RDS named by its port" '"9080"' \
  "$("$DUMP" --snapshot "$SNAP" resources bookinfo/default --type listeners --json | jq -c '.resources[] | select(.name == "0.0.0.0_9080") | .resource.filter_chains[0].filters[0].typed_config.rds.route_config_name')"
check "a TCP listener on the service's VIP proxies to its cluster" '"outbound|15012||istiod.istio-system.svc.cluster.local"' \
  "$("$DUMP" --snapshot "$SNAP" resources bookinfo/default --type listeners --json | jq -c '.resources[] | select(.name == "10.96.0.10_15012") | .resource.filter_chains[0].filters[0].typed_config.cluster')"

# A proxy that is a target of a service (its labels hold the service's selector) gets
# the service's inbound cluster and a virtualInbound chain for its target port (7.3);
# other proxies of the scope do not.
inbound_of() {
  "$DUMP" --snapshot "$SNAP" resources bookinfo/default --type listeners --json "$@" |
    jq -c '[.resources[] | select(.name == "virtualInbound") | .resource.filter_chains[] | [.name, .filter_chain_match.destination_port]]'
}
check "service target: its inbound chain in virtualInbound" '[["virtualInbound-blackhole",15006],["virtualInbound",null],["inbound_9080",9080]]' \
  "$(inbound_of --label app=reviews --label version=v2)"
check "... and its inbound cluster (original destination, mesh default)" '["ORIGINAL_DST","127.0.0.6"]' \
  "$(resources "$SNAP" bookinfo/default --label app=reviews | jq -c '.resources[] | select(.name == "inbound|9080||") | [.resource.type, .resource.upstream_bind_config.source_address.address]')"
check "a proxy no service selects: neither" '[["virtualInbound-blackhole",15006],["virtualInbound",null]]' "$(inbound_of --label app=unknown)"
check "... no inbound cluster" '[]' \
  "$(resources "$SNAP" bookinfo/default --label app=unknown | jq -c '[.resources[] | select(.name | startswith("inbound|"))]')"

# TLS modes of a DestinationRule: ISTIO_MUTUAL with the agent's SDS secrets, Istio's ALPN
# and SNI; SIMPLE with the rule's CA file and SNI; DISABLE without a transport socket.
mkdir -p "$WORK/t"
cat > "$WORK/t/tls.yaml" <<'YAML'
kind: Service
apiVersion: v1
metadata: {name: api, namespace: shop}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bank, namespace: shop}
spec: {hosts: [bank.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: shop}
spec:
  host: api
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets: [{name: plain, labels: {v: p}, trafficPolicy: {tls: {mode: DISABLE}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bank, namespace: shop}
spec:
  host: bank.example.com
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/certs/bank-ca.pem, sni: bank.example.com}}
YAML
"$SCOPECAST" --snapshot "$WORK/ts" --config-dir "$WORK/t" --once 2> "$WORK/t.log"
tls_of() {
  "$DUMP" --snapshot "$WORK/ts" resources shop/@default --type clusters --json |
    jq -c --arg n "$1" '.resources[] | select(.name == $n) | .resource.transport_socket'
}
check "ISTIO_MUTUAL: SDS certificate and root from the agent, ALPN, SNI" \
  '["envoy.transport_sockets.tls","default","ROOTCA","sds-grpc",["istio-peer-exchange","istio"],"outbound_.8080_._.api.shop.svc.cluster.local"]' \
  "$(tls_of "outbound|8080||api.shop.svc.cluster.local" | jq -c '[.name, .typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name, .typed_config.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, .typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name, .typed_config.common_tls_context.alpn_protocols, .typed_config.sni]')"
check "a subset's DISABLE: no transport socket" 'null' "$(tls_of "outbound|8080|plain|api.shop.svc.cluster.local")"
check "SIMPLE: the rule's CA file and SNI" '["/etc/certs/bank-ca.pem","bank.example.com"]' \
  "$(tls_of "outbound|443||bank.example.com" | jq -c '[.typed_config.common_tls_context.validation_context.trusted_ca.filename, .typed_config.sni]')"

# Capture modes (docs/semantics.md "Envoy configuration of a scope"): ingress ports of mode NONE and egress listeners of mode
# NONE are sockets of their own; a proxy capturing nothing gets no virtual listeners but
# every ingress port as a listener.
SEEDS="$WORK/seeds"
"$SCOPECAST" --snapshot "$SEEDS" --config-dir "$SRC/examples/seeds/config" \
  --mesh-config "$SRC/examples/seeds/mesh.yaml" --once 2> "$WORK/seeds.log"
lnames() { "$DUMP" --snapshot "$SEEDS" resources "$@" --type listeners --json | jq -c '[.resources[] | [.name, .resource.bind_to_port]]'; }
check "capture NONE: bound egress and ingress listeners beside the virtual ones" \
  '[["127.0.0.1_3306",true],["virtualOutbound",null],["virtualInbound",null],["0.0.0.0_9080",true]]' \
  "$(lnames prod-us1/no-ip-tables)"
check "interception NONE: no virtual listeners" '[["127.0.0.1_3306",true],["0.0.0.0_9080",true]]' \
  "$(lnames prod-us1/no-ip-tables --interception-mode NONE)"
check "mode DEFAULT ingress: a virtualInbound chain when captured" '["virtualInbound-blackhole","inbound_9080","virtualInbound"]' \
  "$("$DUMP" --snapshot "$SEEDS" resources prod-us1/ratings --type listeners --json | jq -c '[.resources[] | select(.name == "virtualInbound") | .resource.filter_chains[].name]')"
check "... a listener of its own when the proxy captures nothing" '[["0.0.0.0_9080",true]]' \
  "$(lnames prod-us1/ratings --interception-mode NONE | jq -c '[.[] | select(.[0] == "0.0.0.0_9080")]')"

# VirtualService matches with sourceLabels are per proxy: each label class gets its own
# routes, and a proxy outside every class never gets theirs.
cat > "$WORK/v/vs.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: shop}
spec:
  hosts: [api]
  http:
  - name: canary-clients
    match: [{sourceLabels: {app: canary-client}}]
    route: [{destination: {host: api, subset: canary}}]
  - name: gold
    match: [{sourceLabels: {tier: gold}}]
    route: [{destination: {host: api, subset: stable}, weight: 70}, {destination: {host: api, subset: canary}, weight: 30}]
  - name: rest
    route: [{destination: {host: api, subset: stable}}]
YAML
"$SCOPECAST" --snapshot "$WORK/vs" --config-dir "$WORK/v" --once 2> "$WORK/v3.log"
route_names() {
  "$DUMP" --snapshot "$WORK/vs" resources shop/@default --type routes --json "$@" |
    jq -c '[.resources[] | select(.name == "8080") | .resource.virtual_hosts[] | select(.name == "api.shop.svc.cluster.local:8080") | .routes[].name]'
}
check "sourceLabels: a proxy in no class gets only the routes without them" '["rest"]' "$(route_names)"
check "sourceLabels: a canary client gets its route first" '["canary-clients","rest"]' "$(route_names --label app=canary-client)"
check "sourceLabels: a gold proxy gets its own" '["gold","rest"]' "$(route_names --label tier=gold --label version=v1)"
check "sourceLabels: a proxy in both classes gets both, in order" '["canary-clients","gold","rest"]' \
  "$(route_names --label app=canary-client --label tier=gold)"
rm "$WORK/v/vs.yaml"
"$SCOPECAST" --snapshot "$WORK/vs" --config-dir "$WORK/v" --once 2> "$WORK/v4.log"

# A resource no record names any more is removed in the same commit.
before=$(info "$WORK/vs" .resources)
sed -i 's/subsets: \[{name: stable, labels: {track: stable}}\]/subsets: []/' "$WORK/v/mesh.yaml"
"$SCOPECAST" --snapshot "$WORK/vs" --config-dir "$WORK/v" --once 2> "$WORK/v2.log"
after=$(info "$WORK/vs" .resources)
check "a removed subset's cluster is no longer counted (deleted once no retained version names it: e2e_history)" "$((before - 1))" "$after"
check "... and from what the proxy gets" '["outbound|8080||api.shop.svc.cluster.local"]' "$(names)"
finish
