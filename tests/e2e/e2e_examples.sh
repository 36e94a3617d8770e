#!/usr/bin/env bash
# The bundled example meshes and the project's fixtures (tests/fixtures: the shop mesh and
# the validation corpus) load as they should: what is published matches what the manifests
# hold, and every invalid object is rejected naming its file, object, field and reason.
# Istio's own samples are an extra, run only where SHARED_DIR/fixtures/istio exists.
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

# The project's fixtures (tests/fixtures). The shop's platform file: applied in namespace
# default; ServiceAccounts, Deployments and an ordinary ConfigMap are kinds scopecast does
# not read.
FIX="$SRC/tests/fixtures"
SNAP="$WORK/shop"
mkdir -p "$WORK/shop-dir"
cp "$FIX/shop/shop.yaml" "$WORK/shop-dir/"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$WORK/shop-dir" --default-namespace default \
  --once 2> "$WORK/shop.log"
check "shop: exit 0" 0 $?
check "shop: services" 4 "$(info "$SNAP" .objectsByKind.Service)"
check "shop: ServiceAccounts, Deployments and the ConfigMap skipped" 11 "$(info "$SNAP" .skipped)"
check "shop: nothing rejected" 0 "$(info "$SNAP" .rejected)"

# The whole shop directory (platform, workloads, Sidecars): every object read.
SNAP="$WORK/shop-all"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$FIX/shop" --once 2> "$WORK/shop-all.log"
check "shop dir: exit 0" 0 $?
check "shop dir: nothing rejected" 0 "$(info "$SNAP" .rejected)"
check "shop dir: objects by kind" '{"Service":4,"Pod":6,"EndpointSlice":4,"Sidecar":2}' \
  "$(info "$SNAP" '.objectsByKind | {Service, Pod, EndpointSlice, Sidecar}' | jq -c .)"
check "shop dir: scopes" '["*/@default","default/default","default/inventory","istio-system/@default"]' \
  "$("$DUMP" --snapshot "$SNAP" scopes --json | jq -c '[.scopes[].id]')"
check "shop dir: inventory gets its own scope" default/inventory \
  "$(resolve "$SNAP" default --label app=inventory --label version=v1)"
check "shop dir: inventory imports only pricing on 8080" '["pricing.default.svc.cluster.local"]' \
  "$("$DUMP" --snapshot "$SNAP" scope default/inventory --json | jq -c '[.egressListeners[] | select(.port == 8080) | .services[]]')"

# The shop's networking samples (several files define the same objects: last one wins).
SNAP="$WORK/networking"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$FIX/shop/networking" \
  --default-namespace default --once 2> "$WORK/networking.log"
check "shop networking: exit 0" 0 $?
check "shop networking: nothing rejected" 0 "$(info "$SNAP" .rejected)"
check "shop networking: every sample read" 28 "$(sed -n 's/.*batch: \([0-9]*\) events.*/\1/p' "$WORK/networking.log" | head -1)"
check "shop networking: one VS and one DR per host, the payments ServiceEntry" \
  '{"VirtualService":5,"DestinationRule":5,"ServiceEntry":1}' \
  "$(info "$SNAP" '.objectsByKind | {VirtualService, DestinationRule, ServiceEntry}' | jq -c .)"

# Every object of the validation corpus's versions/ is accepted under every API version;
# each appears once per version under the same name, so one object per kind remains.
SNAP="$WORK/versions"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$FIX/validation/versions" --once \
  2> "$WORK/versions.log"
check "validation versions: exit 0" 0 $?
check "validation versions: nothing rejected" 0 "$(info "$SNAP" .rejected)"
for kind in Sidecar ServiceEntry VirtualService DestinationRule; do
  check "validation versions: $kind" 1 "$(info "$SNAP" ".objectsByKind.$kind")"
done
check_contains "validation versions: every version was read, the later ones no-ops" \
  "$WORK/versions.log" "12 events, 4 changed, 8 no-op"

# The valid part of the corpus: every object of every kind accepted.
SNAP="$WORK/valid"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$FIX/validation/valid" --once 2> "$WORK/valid.log"
check "validation valid: exit 0" 0 $?
check "validation valid: nothing rejected" 0 "$(info "$SNAP" .rejected)"
check "validation valid: nothing skipped" 0 "$(info "$SNAP" .skipped)"
check "validation valid: every object" "$(count_docs "$FIX"/validation/valid/*.yaml)" "$(info "$SNAP" .objects)"
for kind in Service Namespace Pod EndpointSlice ServiceEntry VirtualService DestinationRule Sidecar; do
  n=$(grep -h "^kind: $kind\$" "$FIX"/validation/valid/*.yaml | wc -l)
  if [ "$n" -gt 0 ]; then pass "validation valid: has a $kind"; else fail "validation valid: no $kind"; fi
  check "validation valid: $kind count" "$n" "$(info "$SNAP" ".objectsByKind.$kind")"
done
check "validation valid: the mesh config from the istio ConfigMap" 1 "$(info "$SNAP" .objectsByKind.MeshConfig)"

# The invalid part: each file's object rejected, the log naming the file, the object, the
# field and the reason its "# Rejected/Field/Reason" header gives.
SNAP="$WORK/invalid"
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$FIX/validation/invalid" --once 2> "$WORK/invalid.log"
check "validation invalid: exit 0" 0 $?
ninvalid=$(ls "$FIX"/validation/invalid/*.yaml | wc -l)
check "validation invalid: every file's object rejected" "$ninvalid" "$(info "$SNAP" .rejected)"
check "validation invalid: nothing published" 0 "$(info "$SNAP" .objects)"
header() { sed -n "s/^# $1: //p" "$2" | head -1; }
for f in "$FIX"/validation/invalid/*.yaml; do
  name=$(basename "$f")
  line=$(grep -F "rejected file $f:" "$WORK/invalid.log")
  expected="$(header Rejected "$f"): $(header Field "$f"): "
  reason=$(header Reason "$f")
  if [ -n "$line" ] && [[ "$line" == *"$expected"*"$reason"* ]]; then
    pass "validation invalid: $name"
  else
    fail "validation invalid: $name: expected '$expected...$reason...', got '$line'"
  fi
done

# The --mesh-config form: the valid file is used, each invalid one stops the engine with
# the field and the reason.
SNAP="$WORK/mesh-valid"
"$SCOPECAST" --snapshot "$SNAP" --mesh-config "$FIX/validation/mesh/valid.yaml" --once 2> "$WORK/mesh-valid.log"
check "mesh valid: exit 0" 0 $?
check "mesh valid: REGISTRY_ONLY from the file" REGISTRY_ONLY \
  "$("$DUMP" --snapshot "$SNAP" scope '*/@default' --json | jq -r .outboundTrafficPolicy)"
for f in "$FIX"/validation/mesh/invalid-*.yaml; do
  name=$(basename "$f")
  "$SCOPECAST" --snapshot "$WORK/mesh-$name" --mesh-config "$f" --once 2> "$WORK/mesh-$name.log"
  rc=$?
  msg=$(grep -F "$f:" "$WORK/mesh-$name.log")
  if [ $rc -ne 0 ] && [[ "$msg" == *"MeshConfig"*"$(header Field "$f"): "*"$(header Reason "$f")"* ]]; then
    pass "mesh invalid: $name"
  else
    fail "mesh invalid: $name: exit $rc, '$msg'"
  fi
done

# Extra: Istio's own samples, where the outside corpus exists (SHARED_DIR/fixtures/istio).
if [ -d "$SHARED/fixtures/istio" ]; then
  echo "extra: the outside corpus $SHARED/fixtures/istio is present: running its checks"
  SNAP="$WORK/istio-bookinfo"
  mkdir -p "$WORK/istio-bookinfo-dir"
  cp "$SHARED/fixtures/istio/bookinfo/bookinfo.yaml" "$WORK/istio-bookinfo-dir/"
  "$SCOPECAST" --snapshot "$SNAP" --config-dir "$WORK/istio-bookinfo-dir" --default-namespace default \
    --once 2> "$WORK/istio-bookinfo.log"
  check "extra istio bookinfo: exit 0" 0 $?
  check "extra istio bookinfo: services" 4 "$(info "$SNAP" .objectsByKind.Service)"
  check "extra istio bookinfo: ServiceAccounts and Deployments skipped" 10 "$(info "$SNAP" .skipped)"
  check "extra istio bookinfo: nothing rejected" 0 "$(info "$SNAP" .rejected)"
  SNAP="$WORK/istio-validation"
  "$SCOPECAST" --snapshot "$SNAP" --config-dir "$SHARED/fixtures/istio/validation-dataset" --once \
    2> "$WORK/istio-validation.log"
  check "extra istio validation dataset: exit 0" 0 $?
  check "extra istio validation dataset: nothing rejected" 0 "$(info "$SNAP" .rejected)"
  for kind in Sidecar ServiceEntry VirtualService DestinationRule; do
    check "extra istio validation dataset: $kind" 1 "$(info "$SNAP" ".objectsByKind.$kind")"
  done
  SNAP="$WORK/istio-networking"
  "$SCOPECAST" --snapshot "$SNAP" --config-dir "$SHARED/fixtures/istio/bookinfo/networking" \
    --default-namespace default --once 2> "$WORK/istio-networking.log"
  check "extra istio bookinfo networking: exit 0" 0 $?
  check "extra istio bookinfo networking: nothing rejected" 0 "$(info "$SNAP" .rejected)"
else
  echo "extra: skipped, the outside corpus $SHARED/fixtures/istio is absent (the checks above are complete without it)"
fi

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
