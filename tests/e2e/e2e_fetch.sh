#!/usr/bin/env bash
# scopecast-dump fetch against a real frontend: for proxies of four scopes (labels,
# --namespace, --interception-mode NONE), every type fetched over ADS, state of the world and
# Delta, prints exactly what `scopecast-dump resources` prints for the same proxy (JSON and
# text; over a unix socket, TCP and, where the machine has it, IPv6); --follow sees one change
# of each kind (routes, endpoints, a new EDS cluster) with the version `resources` then shows;
# and the errors: no server, a server that is not HTTP/2, a response that does not decode
# (NACKed), a stream ended with a grpc-status, a follow that times out, a gateway's node and
# bad arguments (usage, exit 2).
# Called as lib.sh says, with a sixth argument: scopecast-xds.
. "$(dirname "$0")/lib.sh"
XDS=$6

# ---- the engine (following a copy of bookinfo) and a frontend --------------------------------
cp -r "$SRC/examples/bookinfo/config" "$WORK/config"
SNAP=$WORK/snap
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$WORK/config" --mesh-config "$SRC/examples/bookinfo/mesh.yaml" \
  2> "$WORK/engine.log" &
PIDS+=($!)
wait_for 20 info_is "$SNAP" .headVersion 1 || fail "the engine published nothing"

PORT=$(free_port)
SOCK=$WORK/xds.sock
IPV6=
if grep -qsE '^0{31}1 ' /proc/net/if_inet6; then IPV6="[::1]:$PORT"; fi
"$XDS" --snapshot "$SNAP" --listen "unix:$SOCK" --listen "127.0.0.1:$PORT" ${IPV6:+--listen "$IPV6"} \
  --stats-interval-ms 0 2> "$WORK/xds.log" &
XDS_PID=$!
PIDS+=($XDS_PID)
# Ready when it answers (it may bind only once it serves a head).
serves() { "$DUMP" fetch --server "$1" --node a.bookinfo --type clusters --timeout-ms 1000 > /dev/null 2>&1; }
if wait_for 20 serves "unix:$SOCK"; then pass "the frontend answers on its unix socket"; else
  fail "the frontend never answered"; tail "$WORK/xds.log"; finish; exit 1; fi

# ---- fetch equals resources ---------------------------------------------------------------------
# compare NAME SERVER RESOLVE-ARGS -- PROXY-ARGS...: every type, SotW and Delta, JSON and text.
# RESOLVE-ARGS: the namespace and labels resolve takes; PROXY-ARGS: --node and the rest.
compare() {
  local name=$1 server=$2 ns=$3 labels=() node=() mode=() t delta scope
  shift 3
  while [ "$1" != -- ]; do labels+=(--label "$1"); shift; done
  shift
  node=("$@")
  for a in "$@"; do [ "$a" == NONE ] && mode=(--interception-mode NONE); done
  scope=$("$DUMP" --snapshot "$SNAP" resolve --namespace "$ns" "${labels[@]}" --json | jq -r .scope)
  [ -n "$scope" ] && [ "$scope" != null ] || { fail "$name: no scope resolved"; return; }
  for t in clusters endpoints listeners routes; do
    "$DUMP" --snapshot "$SNAP" resources "$scope" --type "$t" "${labels[@]}" "${mode[@]}" --json > "$WORK/want.json"
    "$DUMP" --snapshot "$SNAP" resources "$scope" --type "$t" "${labels[@]}" "${mode[@]}" > "$WORK/want.txt"
    local n
    n=$(jq '.resources | length' "$WORK/want.json")
    [ "$t" == routes ] || [ "$n" -gt 0 ] || fail "$name $t: precondition: resources lists none"
    for delta in "" --delta; do
      local what="$name ($scope) $t ${delta:-sotw}"
      if "$DUMP" fetch --server "$server" "${node[@]}" --type "$t" $delta --json > "$WORK/got.json" 2> "$WORK/got.err" &&
        cmp -s "$WORK/want.json" "$WORK/got.json"; then
        pass "$what: JSON as resources ($n resources)"
      else
        fail "$what: JSON differs from resources"
        diff <(jq -c '.version_info, (.resources[]? | [.name, .version])' "$WORK/want.json") \
          <(jq -c '.version_info, (.resources[]? | [.name, .version])' "$WORK/got.json") | head -8
        cat "$WORK/got.err"
      fi
      if "$DUMP" fetch --server "$server" "${node[@]}" --type "$t" $delta > "$WORK/got.txt" 2>> "$WORK/got.err" &&
        cmp -s "$WORK/want.txt" "$WORK/got.txt"; then
        pass "$what: text as resources"
      else
        fail "$what: text differs from resources"
        diff "$WORK/want.txt" "$WORK/got.txt" | head -8
      fi
    done
  done
}
compare "productpage pod" "unix:$SOCK" bookinfo app=productpage version=v1 -- \
  --node productpage-v1-58b4c9bff8-w6c2d.bookinfo --label app=productpage --label version=v1
compare "ratings pod (its own Sidecar)" "127.0.0.1:$PORT" bookinfo app=ratings -- \
  --node 'sidecar~10.244.2.32~ratings-v1-85c74b6cb4-5xw9r.bookinfo~bookinfo.svc.cluster.local' --label app=ratings
compare "an istio-system proxy, no labels" "unix:$SOCK" istio-system -- \
  --node 'sidecar~10.0.0.9~istiod-1.istio-system~istio-system.svc.cluster.local'
compare "a proxy of an unknown namespace (metadata NAMESPACE), interception NONE" "127.0.0.1:$PORT" elsewhere app=x -- \
  --node 'sidecar~10.0.0.7~app-1.other~other.svc.cluster.local' --namespace elsewhere --label app=x \
  --interception-mode NONE
if [ -n "$IPV6" ]; then
  "$DUMP" --snapshot "$SNAP" resources bookinfo/default --type listeners --label app=reviews --json > "$WORK/want.json"
  "$DUMP" fetch --server "$IPV6" --node reviews-v1.bookinfo --label app=reviews --type listeners --json > "$WORK/got.json"
  if cmp -s "$WORK/want.json" "$WORK/got.json"; then pass "over IPv6 ($IPV6)"; else fail "over IPv6 ($IPV6)"; fi
else
  echo "(no ::1 on this machine: IPv6 not tried)"
fi
"$DUMP" --snapshot "$SNAP" resources bookinfo/default --type clusters --label app=reviews --raw > "$WORK/want.raw"
"$DUMP" fetch --server "unix:$SOCK" --node reviews-v1.bookinfo --label app=reviews --type clusters --raw --delta \
  > "$WORK/got.raw"
if [ -s "$WORK/want.raw" ] && cmp -s "$WORK/want.raw" "$WORK/got.raw"; then pass "--raw as resources --raw"; else
  fail "--raw differs from resources --raw"; fi

# ---- --follow sees a change ---------------------------------------------------------------------
PP=(--node productpage-v1-58b4c9bff8-w6c2d.bookinfo --label app=productpage --label version=v1)
has_first() { [ -s "$1" ]; }
# follow NAME TYPE [fetch options...]: a fetch --follow 1 in the background (FOLLOW_PID), its
# stdout in $WORK/NAME.out, started once it printed its first answer.
follow() {
  local name=$1 t=$2
  shift 2
  "$DUMP" fetch --server "unix:$SOCK" "${PP[@]}" --type "$t" --follow 1 --timeout-ms 20000 "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.err" &
  FOLLOW_PID=$!
  wait_for 20 has_first "$WORK/$name.out" || fail "$name: no first answer"
}
# settled NAME TYPE PID [--json|--delta]: the follow exited 0 and its last answer is what
# resources says now (--delta: as a set; Delta carries no order, so a resource added after the
# first answer is printed last).
settled() {
  local name=$1 t=$2 pid=$3 json=${4:-} rc=0 order=cat
  wait "$pid" || rc=$?
  check "$name: exit status" 0 "$rc"
  "$DUMP" --snapshot "$SNAP" resources bookinfo/default --type "$t" --label app=productpage --label version=v1 \
    --json > "$WORK/$name.want.json"
  local vi
  vi=$(jq -r .version_info "$WORK/$name.want.json")
  if [ "$json" == --delta ]; then
    json=
    order=sort
  fi
  if [ -n "$json" ]; then
    check_contains "$name: the header line on stderr" "$WORK/$name.err" "--- $t version_info $vi at "
    jq -s '.[1]' "$WORK/$name.out" > "$WORK/$name.got.json"
    check "$name: two answers, the second as resources now" "2 same" \
      "$(jq -s length "$WORK/$name.out") $(cmp -s "$WORK/$name.want.json" "$WORK/$name.got.json" && echo same)"
    check "$name: the first answer was the version before" "different" \
      "$(jq -s -r 'if .[0].version_info == .[1].version_info then "same" else "different" end' "$WORK/$name.out")"
  else
    check_contains "$name: the header line" "$WORK/$name.out" "--- $t version_info $vi at "
    "$DUMP" --snapshot "$SNAP" resources bookinfo/default --type "$t" --label app=productpage --label version=v1 \
      | $order > "$WORK/$name.want.txt"
    sed -n '/^--- /,$p' "$WORK/$name.out" | tail -n +2 | $order > "$WORK/$name.got.txt"
    if cmp -s "$WORK/$name.want.txt" "$WORK/$name.got.txt"; then pass "$name: the pushed answer as resources now"
    else fail "$name: the pushed answer differs"; diff "$WORK/$name.want.txt" "$WORK/$name.got.txt" | head; fi
  fi
}

# routes: the reviews split 50/50 -> 10/90, SotW (text) and Delta (JSON) at once
follow routes-sotw routes
A=$FOLLOW_PID
follow routes-delta routes --delta --json
B=$FOLLOW_PID
before=$(info "$SNAP" .headVersion)
VS=$WORK/config/virtualservices.yaml
awk '/weight: 50/ && n < 2 { sub(/weight: 50/, n == 0 ? "weight: 10" : "weight: 90"); n++ } { print }' "$VS" \
  > "$WORK/vs.new" && mv "$WORK/vs.new" "$VS"
settled routes-sotw routes "$A"
settled routes-delta routes "$B" --json
check_contains "routes: the pushed route configuration has the new weights" "$WORK/routes-delta.out" '"weight": 90'

# endpoints: one address of details changes
follow endpoints-sotw endpoints --json
A=$FOLLOW_PID
follow endpoints-delta endpoints --delta
B=$FOLLOW_PID
sed '0,/10.244.1.31/s//10.244.1.99/' "$WORK/config/endpointslices.yaml" > "$WORK/es.new" &&
  mv "$WORK/es.new" "$WORK/config/endpointslices.yaml"
settled endpoints-sotw endpoints "$A" --json
settled endpoints-delta endpoints "$B" --delta
check_contains "endpoints: the new address pushed" "$WORK/endpoints-sotw.out" '"address": "10.244.1.99"'

# a new EDS cluster (a STATIC ServiceEntry): the client subscribes its assignment too
follow new-cluster-sotw endpoints
A=$FOLLOW_PID
follow new-cluster-delta endpoints --delta
B=$FOLLOW_PID
follow new-cluster-clusters clusters --delta
C=$FOLLOW_PID
cat > "$WORK/config/db.yaml" <<'EOF'
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: db
  namespace: bookinfo
  creationTimestamp: "2026-02-01T02:00:00Z"
spec:
  hosts: [db.example.internal]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 5432, name: tcp-postgres, protocol: TCP}
  endpoints:
  - address: 192.0.2.10
EOF
settled new-cluster-sotw endpoints "$A"
settled new-cluster-delta endpoints "$B" --delta
settled new-cluster-clusters clusters "$C" --delta
check_contains "a new EDS cluster: its assignment pushed" "$WORK/new-cluster-sotw.out" \
  "outbound|5432||db.example.internal"
[ "$(info "$SNAP" .headVersion)" -gt "$before" ] || fail "the changes were not published"

# ---- errors ---------------------------------------------------------------------------------------
# expect NAME STATUS TEXT COMMAND...: COMMAND exits STATUS and says TEXT on stderr
expect() {
  local name=$1 status=$2 text=$3 rc=0
  shift 3
  "$@" > "$WORK/err.out" 2> "$WORK/err.txt" || rc=$?
  if [ "$rc" -eq "$status" ] && grep -qF -- "$text" "$WORK/err.txt"; then pass "$name"; else
    fail "$name: exit $rc (want $status), stderr:"; sed 's/^/    /' "$WORK/err.txt" | head -5; fi
}
F=("$DUMP" fetch --node a.bookinfo --type clusters)
expect "no server (unix)" 1 "cannot connect: No such file or directory" "${F[@]}" --server "unix:$WORK/none.sock"
CLOSED=$(free_port)
expect "no server (TCP)" 1 "cannot connect: Connection refused" "${F[@]}" --server "127.0.0.1:$CLOSED"
printf 'hello\n' > "$WORK/hello.txt"
"$SERVE" "unix:$WORK/hello.sock" "$WORK/hello.txt" > "$WORK/serve1.out" &
PIDS+=($!)
wait_for 5 grep -q ready "$WORK/serve1.out"
expect "a server that is not HTTP/2" 1 "(is it a scopecast-xds frontend?)" "${F[@]}" --server "unix:$WORK/hello.sock"

# A server that answers the CDS request with a Cluster that does not decode: the server's
# SETTINGS, HEADERS (:status 200) and one DATA frame with a DiscoveryResponse, then close.
url=type.googleapis.com/envoy.config.cluster.v3.Cluster
hex() { printf '\\x%02x' "$@"; }
any="$(hex 0x0a ${#url})$url$(hex 0x12 3 0xff 0xff 0xff)"
anylen=$((2 + ${#url} + 5))
resp="$(hex 0x0a 1)7$(hex 0x12 $anylen)$any$(hex 0x22 ${#url})$url$(hex 0x2a 1)1"
resplen=$((3 + 2 + anylen + 2 + ${#url} + 3))
msglen=$((5 + resplen))
{
  printf '\x00\x00\x00\x04\x00\x00\x00\x00\x00'
  printf '\x00\x00\x01\x01\x04\x00\x00\x00\x01\x88'
  printf "$(hex 0 0 $msglen 0 0 0 0 0 1)"
  printf "$(hex 0 0 0 0 $resplen)"
  printf "$resp"
} > "$WORK/garbage.bin"
"$SERVE" "unix:$WORK/garbage.sock" "$WORK/garbage.bin" > "$WORK/serve2.out" &
PIDS+=($!)
wait_for 5 grep -q ready "$WORK/serve2.out"
expect "a resource that does not decode: NACKed, exit 1" 1 \
  "the clusters response (version_info 7) is invalid: resource 0: a resource that does not decode as its type, with a name; NACKed" \
  "${F[@]}" --server "unix:$WORK/garbage.sock"

expect "--follow: no further version within the timeout" 1 "0 of 1 further routes versions within 300 ms" \
  "$DUMP" fetch --server "unix:$SOCK" "${PP[@]}" --type routes --follow 1 --timeout-ms 300

# A stream the frontend ends (SIGTERM): the grpc-status and message.
"$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds2.sock" --stats-interval-ms 0 2> "$WORK/xds2.log" &
X2=$!
PIDS+=($X2)
wait_for 20 serves "unix:$WORK/xds2.sock" || fail "the second frontend never answered"
"$DUMP" fetch --server "unix:$WORK/xds2.sock" "${PP[@]}" --type listeners --delta --follow 1 --timeout-ms 20000 \
  > "$WORK/ended.out" 2> "$WORK/ended.err" &
E=$!
wait_for 20 has_first "$WORK/ended.out" || fail "ended: no first answer"
kill -TERM "$X2"
rc=0
wait "$E" || rc=$?
check "a stream ended by the frontend: exit 1" 1 "$rc"
check_contains "a stream ended by the frontend: its grpc-status and message" "$WORK/ended.err" \
  "the stream ended with grpc-status 14 (UNAVAILABLE): "
rc=0
wait "$X2" || rc=$?
check "the second frontend exits 0 on SIGTERM" 0 "$rc"

S=(--server "unix:$SOCK")
expect "a gateway's node: usage" 2 "a router (gateway) node" \
  "$DUMP" fetch "${S[@]}" --node 'router~10.0.0.1~gw-1.istio-system~istio-system.svc.cluster.local' --type clusters
expect "a malformed node id: usage" 2 "node.id must be TYPE~IP~POD.NAMESPACE~DOMAIN" \
  "$DUMP" fetch "${S[@]}" --node 'sidecar~10.0.0.1' --type clusters
expect "a node id of neither form: usage" 2 "expected TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.DOMAIN, or POD.NAMESPACE" \
  "$DUMP" fetch "${S[@]}" --node productpage --type clusters
expect "no --server: usage" 2 "fetch needs --server" "$DUMP" fetch --node a.b --type clusters
expect "no --node: usage" 2 "fetch needs --node" "$DUMP" fetch "${S[@]}" --type clusters
expect "no --type: usage" 2 "fetch needs --type" "$DUMP" fetch "${S[@]}" --node a.b
expect "a bad --type: usage" 2 "--type must be" "$DUMP" fetch "${S[@]}" --node a.b --type secrets
expect "a bad --follow: usage" 2 "--follow x: expected" "$DUMP" fetch "${S[@]}" --node a.b --type routes --follow x
expect "a bad --timeout-ms: usage" 2 "--timeout-ms 0: expected" \
  "$DUMP" fetch "${S[@]}" --node a.b --type routes --timeout-ms 0
expect "a bad --interception-mode: usage" 2 "--interception-mode must be" \
  "$DUMP" fetch "${S[@]}" --node a.b --type routes --interception-mode BOTH
expect "a bad --label: usage" 2 "expected KEY=VALUE" "$DUMP" fetch "${S[@]}" --node a.b --type routes --label app
expect "--snapshot with fetch: usage" 2 "--snapshot is not for it" \
  "$DUMP" --snapshot "$SNAP" fetch "${S[@]}" --node a.b --type routes
expect "an argument to fetch: usage" 2 "fetch takes no argument" "$DUMP" fetch bookinfo/default "${S[@]}" --node a.b \
  --type routes
expect "--server with another command: usage" 2 "are for fetch" "$DUMP" --snapshot "$SNAP" info "${S[@]}"

# ---- the frontend and the engine stop cleanly; nothing reported by a sanitizer -----------------------
kill -TERM "$XDS_PID"
rc=0
wait "$XDS_PID" || rc=$?
check "the frontend exits 0 on SIGTERM" 0 "$rc"
if grep -l -E "runtime error|Sanitizer|LeakSanitizer" "$WORK"/*.err "$WORK"/*.log "$WORK/got.err" 2> /dev/null; then
  fail "a sanitizer report (files above)"
else
  pass "no sanitizer report from any fetch, the frontends or the engine"
fi
finish
