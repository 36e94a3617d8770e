#!/usr/bin/env bash
# The bundled example meshes and the shared Istio fixtures load without rejections, and
# what is published matches what the manifests hold.
. "$(dirname "$0")/lib.sh"

count_docs() { cat "$@" | grep -c '^kind:'; }

for mesh in seeds bookinfo; do
  SNAP="$WORK/$mesh"
  "$SCOPECAST" --snapshot "$SNAP" --config-dir "$SRC/examples/$mesh/config" \
    --mesh-config "$SRC/examples/$mesh/mesh.yaml" --once 2> "$WORK/$mesh.log"
  check "$mesh: exit 0" 0 $?
  check "$mesh: nothing rejected" 0 "$(info "$SNAP" .rejected)"
  check "$mesh: nothing skipped" 0 "$(info "$SNAP" .skipped)"
  expected=$(( $(count_docs "$SRC"/examples/$mesh/config/*.yaml) + 1 ))
  check "$mesh: every manifest object and the mesh config published" "$expected" "$(info "$SNAP" .objects)"
  check "$mesh: mesh config" 1 "$(info "$SNAP" .objectsByKind.MeshConfig)"
  for kind in Service Sidecar VirtualService DestinationRule ServiceEntry EndpointSlice Pod Namespace; do
    n=$(grep -h "^kind: $kind\$" "$SRC"/examples/$mesh/config/*.yaml | wc -l)
    check "$mesh: $kind count" "$n" "$(info "$SNAP" ".objectsByKind.$kind")"
  done
  "$DUMP" --snapshot "$SNAP" info > "$WORK/$mesh.txt"
  check_contains "$mesh: text info" "$WORK/$mesh.txt" "head version       1"
done

# The scopes the seeds describe (seed 002): the root default applied per namespace, the
# prod-us1 default, and the workload scopes picked by labels.
SNAP="$WORK/seeds"
check "seeds: scope ids" \
  '["*/default@istio-config","istio-config/default","istio-system/default@istio-config","legacy/default@istio-config","ns1/default@istio-config","prod-apis/default@istio-config","prod-us1/default","prod-us1/no-ip-tables","prod-us1/partial-ip-tables","prod-us1/ratings"]' \
  "$("$DUMP" --snapshot "$SNAP" scopes --json | jq -c '[.scopes[].id]')"
resolve() { "$DUMP" --snapshot "$1" resolve --json --namespace "$2" "${@:3}" | jq -r .scope; }
check "seeds: ratings pods get the ratings scope" prod-us1/ratings "$(resolve "$SNAP" prod-us1 --label app=ratings --label version=v1)"
check "seeds: productpage gets no-ip-tables" prod-us1/no-ip-tables "$(resolve "$SNAP" prod-us1 --label app=productpage)"
check "seeds: other prod-us1 workloads get prod-us1/default" prod-us1/default "$(resolve "$SNAP" prod-us1 --label app=reviews)"
check "seeds: a namespace without Sidecar gets the root default" legacy/default@istio-config "$(resolve "$SNAP" legacy)"
check "seeds: an unknown namespace gets the root default" "*/default@istio-config" "$(resolve "$SNAP" somewhere-else)"
check "seeds: prod-us1/default imports prod-us1, prod-apis and istio-system" \
  '["api.prod-apis.svc.cluster.local","istiod.istio-system.svc.cluster.local","productpage.prod-us1.svc.cluster.local","ratings.prod-us1.svc.cluster.local","reviews.prod-us1.svc.cluster.local"]' \
  "$("$DUMP" --snapshot "$SNAP" scope prod-us1/default --json | jq -c '[.services[].hostname] | sort')"
check "seeds: the ratings scope's 9080 listener" \
  '{"port":9080,"hosts":["prod-us1/*"],"vs":["prod-us1/ratings"]}' \
  "$("$DUMP" --snapshot "$SNAP" scope prod-us1/ratings --json | jq -c '.egressListeners[0] | {port, hosts, vs: .virtualServices}')"
check "seeds: no-ip-tables imports only mysql.foo.com" '["mysql.foo.com"]' \
  "$("$DUMP" --snapshot "$SNAP" scope prod-us1/no-ip-tables --json | jq -c '[.services[].hostname]')"
SNAP="$WORK/bookinfo"
check "bookinfo: ratings gets its own scope with ALLOW_ANY" "bookinfo/ratings ALLOW_ANY" \
  "$(resolve "$SNAP" bookinfo --label app=ratings) $("$DUMP" --snapshot "$SNAP" scope bookinfo/ratings --json | jq -r .outboundTrafficPolicy)"
check "bookinfo: reviews gets bookinfo/default with REGISTRY_ONLY" "bookinfo/default REGISTRY_ONLY" \
  "$(resolve "$SNAP" bookinfo --label app=reviews) $("$DUMP" --snapshot "$SNAP" scope bookinfo/default --json | jq -r .outboundTrafficPolicy)"
check "bookinfo: reviews' DestinationRule for a reviews proxy" '["bookinfo/reviews"]' \
  "$("$DUMP" --snapshot "$SNAP" resolve --namespace bookinfo --label app=reviews --json | jq -c '.destinationRules["reviews.bookinfo.svc.cluster.local"]')"

# Istio's Bookinfo sample: applied in namespace default; ServiceAccounts and Deployments
# are kinds scopecast does not read.
SNAP="$WORK/fixture-bookinfo"
mkdir -p "$WORK/bookinfo-dir"
cp "$SHARED/fixtures/istio/bookinfo/bookinfo.yaml" "$WORK/bookinfo-dir/"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$WORK/bookinfo-dir" --default-namespace default \
  --once 2> "$WORK/fixture.log"
check "fixture bookinfo: exit 0" 0 $?
check "fixture bookinfo: services" 4 "$(info "$SNAP" .objectsByKind.Service)"
check "fixture bookinfo: ServiceAccounts and Deployments skipped" 10 "$(info "$SNAP" .skipped)"
check "fixture bookinfo: nothing rejected" 0 "$(info "$SNAP" .rejected)"

# Every valid example of every API version is accepted.
SNAP="$WORK/validation"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$SHARED/fixtures/istio/validation-dataset" --once \
  2> "$WORK/validation.log"
check "validation dataset: exit 0" 0 $?
check "validation dataset: nothing rejected" 0 "$(info "$SNAP" .rejected)"
# Each example appears once per API version under the same name, so each version's
# object replaces the previous one: one object per kind remains.
for kind in Sidecar ServiceEntry VirtualService DestinationRule; do
  check "validation dataset: $kind" 1 "$(info "$SNAP" ".objectsByKind.$kind")"
done
check_contains "validation dataset: every version was read" "$WORK/validation.log" "12 events"

# Bookinfo's networking samples (several files define the same objects: last one wins).
SNAP="$WORK/networking"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$SHARED/fixtures/istio/bookinfo/networking" \
  --default-namespace default --once 2> "$WORK/networking.log"
check "bookinfo networking: exit 0" 0 $?
check "bookinfo networking: nothing rejected" 0 "$(info "$SNAP" .rejected)"
if [ "$(info "$SNAP" .objectsByKind.VirtualService)" -ge 4 ]; then pass "bookinfo networking: VirtualServices"; else fail "bookinfo networking: VirtualServices"; fi

# Mesh config from the istio ConfigMap of the system namespace.
mkdir -p "$WORK/cm"
cat > "$WORK/cm/istio.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    rootNamespace: istio-config
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
  namespace: istio-system
data:
  foo: bar
YAML
"$SCOPECAST" --snapshot "$WORK/cm-snap" --config-dir "$WORK/cm" --once 2> "$WORK/cm.log"
check "configmap: mesh config read" 1 "$(info "$WORK/cm-snap" .objectsByKind.MeshConfig)"
check "configmap: other ConfigMaps skipped" 1 "$(info "$WORK/cm-snap" .skipped)"
# With --mesh-config the ConfigMap is ignored (the file wins), and the file is read.
"$SCOPECAST" --snapshot "$WORK/cm-snap2" --config-dir "$WORK/cm" \
  --mesh-config "$SRC/examples/bookinfo/mesh.yaml" --once --log-level debug 2> "$WORK/cm2.log"
check "configmap with --mesh-config: one mesh config" 1 "$(info "$WORK/cm-snap2" .objectsByKind.MeshConfig)"
check_contains "configmap with --mesh-config: ConfigMap ignored" "$WORK/cm2.log" "the mesh config comes from --mesh-config"
# A ConfigMap with broken mesh YAML is rejected with the field path inside data.mesh.
sed -i 's/mode: REGISTRY_ONLY/mode: SOMETIMES/' "$WORK/cm/istio.yaml"
"$SCOPECAST" --snapshot "$WORK/cm-snap3" --config-dir "$WORK/cm" --once 2> "$WORK/cm3.log"
check "configmap: bad mesh rejected" 1 "$(info "$WORK/cm-snap3" .rejected)"
check_contains "configmap: bad mesh names the field" "$WORK/cm3.log" "data.mesh.outboundTrafficPolicy.mode"

finish
