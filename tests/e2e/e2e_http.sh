#!/usr/bin/env bash
# Metrics and health over HTTP (--http; obs/): the engine and a frontend on loopback with
# port 0 (the port read from their logs). /healthz 200; /ready 503 before the engine's first
# publish (its only input a unix socket not yet served; a frontend before any snapshot
# exists) and 200 after; /metrics parsed with prometheus_client's parser (Debian's
# python3-prometheus-client, tests/e2e/prom_parse.py): the engine's events, rejects, batches
# and their duration histogram, head version as `scopecast-dump info` says, objects by kind;
# the frontend's connections, streams, pushes, NACKs by type and scope and push latency
# while an ADS client (tests/node/xds_watch.mjs) holds a stream across a commit; 404, 405
# with Allow, HEAD; a second process on a port in use and a bad address fail with a clear
# error; SIGTERM closes the port.
# Called as lib.sh says, with a sixth argument: the scopecast-xds binary.
. "$(dirname "$0")/lib.sh"
XDS=$6
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client (a pyenv python3 lacks it)
PROM=$SRC/tests/e2e/prom_parse.py
NODE_DIR=$SRC/tests/node
CDS=type.googleapis.com/envoy.config.cluster.v3.Cluster
NODE_ID="sidecar~10.0.0.1~pod.ns1~ns1.svc.cluster.local"

if ! "$PY" -c 'import prometheus_client.parser' 2> /dev/null; then
  fail "needs /usr/bin/python3 with prometheus_client (apt-get install python3-prometheus-client)"
  finish
  exit 1
fi
command -v curl > /dev/null || { fail "needs curl"; finish; exit 1; }

# port_of LOG: the port a process logged it serves HTTP on
port_of() { sed -n 's/.*http: serving .* (port \([0-9]*\)).*/\1/p' "$1" | head -n1; }
has_port() { [ -n "$(port_of "$1")" ]; }
# code PORT PATH [CURL ARGS...]: the HTTP status
code() { local p=$1 path=$2; shift 2; curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$p$path"; }
code_is() { [ "$(code "$1" "$2")" == "$3" ]; }
# scrape PORT NAME: fetches /metrics into $WORK/NAME.txt and parses it into $WORK/NAME.json
scrape() {
  curl -sf "http://127.0.0.1:$1/metrics" > "$WORK/$2.txt" &&
    "$PY" "$PROM" "$WORK/$2.txt" > "$WORK/$2.json" 2> "$WORK/$2.err"
}
# val NAME SAMPLE [LABELS-JSON]: a sample's value in $WORK/NAME.json (integers as such)
val() {
  jq -r --arg n "$2" --argjson l "${3:-{\}}" \
    '[.samples[] | select(.name == $n and .labels == $l) | .value] | if length == 1 then
       (.[0] | if type == "number" and . == floor then floor else . end) else "missing" end' "$WORK/$1.json"
}
# check_scrape NAME PORT WHAT: the scrape parses and has no format errors
check_scrape() {
  if scrape "$2" "$1"; then pass "$3: /metrics parses (prometheus_client)"; else
    fail "$3: /metrics does not parse"; cat "$WORK/$1.err"; head -20 "$WORK/$1.txt"; return; fi
  check "$3: no format errors" "[]" "$(jq -c .errors "$WORK/$1.json")"
}
# family_type NAME FAMILY: the TYPE the parser read (counter names without _total)
family_type() { jq -r --arg f "$2" '.families[$f].type // "missing"' "$WORK/$1.json"; }
val_is() { scrape "$1" "$2" && [ "$(val "$2" "$3" "${5:-{\}}")" == "$4" ]; }
val_ge() { scrape "$1" "$2" && v=$(val "$2" "$3" "${5:-{\}}") && [ "$v" != missing ] && [ "$v" -ge "$4" ]; }

svc() { # svc NAME [PORT]: an ADDED event of a Service in ns1
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s","namespace":"ns1"},"spec":{"ports":[{"name":"http","port":%s}]}}}\n' \
    "$1" "${2:-80}"
}

SNAP=$WORK/snap
mkdir -p "$WORK/empty"

# ---- a frontend before any snapshot exists ----------------------------------------------
"$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds.sock" --poll-ms 100 --http 127.0.0.1:0 \
  --stats-interval-ms 0 2> "$WORK/xds.log" &
XDS_PID=$!
PIDS+=($XDS_PID)
wait_for 10 has_port "$WORK/xds.log" || fail "frontend: no 'http: serving' line in its log"
XP=$(port_of "$WORK/xds.log")
check "frontend: /healthz 200" 200 "$(code "$XP" /healthz)"
check "frontend: /ready 503 without a snapshot" 503 "$(code "$XP" /ready)"
check_scrape xds0 "$XP" "frontend, no snapshot"
check "frontend, no snapshot: head_version 0" 0 "$(val xds0 scopecast_xds_head_version)"
check "frontend, no snapshot: ready 0" 0 "$(val xds0 scopecast_xds_ready)"
check "frontend: pushes is a counter" counter "$(family_type xds0 scopecast_xds_pushes)"
check "frontend: push latency is a histogram" histogram "$(family_type xds0 scopecast_xds_push_latency_seconds)"
for t in clusters endpoints listeners routes; do
  check "frontend: pushes_total{type=$t} 0" 0 "$(val xds0 scopecast_xds_pushes_total "{\"type\":\"$t\"}")"
  check "frontend: nacks_total{type=$t} 0" 0 "$(val xds0 scopecast_xds_nacks_total "{\"type\":\"$t\"}")"
done

# ---- an engine restarted on a snapshot, before and after its first publish --------------
"$SCOPECAST" --snapshot "$SNAP" --config-dir "$WORK/empty" --once --no-sync 2> "$WORK/once.log" ||
  fail "the --once engine failed"
check "snapshot: head 1" 1 "$(info "$SNAP" .headVersion)"
if wait_for 10 code_is "$XP" /ready 200; then pass "frontend: /ready 200 once a head exists"; else
  fail "frontend: /ready $(code "$XP" /ready) with a snapshot"; fi

: > "$WORK/more.jsonl"
"$SCOPECAST" --snapshot "$SNAP" --watch "unix:$WORK/w.sock" --watch "file:$WORK/more.jsonl" --no-sync \
  --batch-quiet-ms 5 --reconnect-max-ms 200 --http 127.0.0.1:0 2> "$WORK/engine.log" &
ENGINE=$!
PIDS+=($ENGINE)
wait_for 10 has_port "$WORK/engine.log" || fail "engine: no 'http: serving' line in its log"
EP=$(port_of "$WORK/engine.log")
check "engine: /healthz 200" 200 "$(code "$EP" /healthz)"
check "engine: /ready 503 before its first publish" 503 "$(code "$EP" /ready)"
curl -s "http://127.0.0.1:$EP/ready" > "$WORK/ready.txt"
check_contains "engine: /ready says why" "$WORK/ready.txt" "nothing published since the engine started"
check_scrape e0 "$EP" "engine, before publishing"
check "engine, before publishing: ready 0" 0 "$(val e0 scopecast_engine_ready)"
check "engine, before publishing: batches_total 0" 0 "$(val e0 scopecast_engine_batches_total)"
check "engine, before publishing: head_version 1" 1 "$(val e0 scopecast_engine_head_version)"
check "engine, before publishing: histogram count 0" 0 "$(val e0 scopecast_engine_batch_duration_seconds_count)"
curl -s -D "$WORK/headers.txt" -o /dev/null "http://127.0.0.1:$EP/metrics"
check_contains "engine: the 0.0.4 content type" "$WORK/headers.txt" "Content-Type: text/plain; version=0.0.4"
for f in scopecast_engine_events scopecast_engine_batches scopecast_engine_rejected scopecast_engine_skipped \
  scopecast_engine_warnings scopecast_engine_publish_failures; do
  check "engine: $f is a counter" counter "$(family_type e0 "$f")"
done
for f in scopecast_engine_head_version scopecast_engine_scopes scopecast_engine_objects \
  scopecast_engine_last_publish_timestamp_seconds; do
  check "engine: $f is a gauge" gauge "$(family_type e0 "$f")"
done
check "engine: batch duration is a histogram" histogram "$(family_type e0 scopecast_engine_batch_duration_seconds)"

# The watch socket delivers: a Namespace, three Services, one invalid Service and one
# accepted with a warning (a name longer than a DNS label: Kubernetes' admission refuses
# it, istiod processes it).
LONG=$(printf 'l%.0s' $(seq 64))
{
  printf '{"type":"ADDED","object":{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns1"}}}\n'
  svc a; svc b; svc c; svc bad '"x"'; svc "$LONG"
} > "$WORK/ev1.jsonl"
"$SERVE" "unix:$WORK/w.sock" "$WORK/ev1.jsonl" > "$WORK/serve.out" &
PIDS+=($!)
if wait_for 10 code_is "$EP" /ready 200; then pass "engine: /ready 200 after its first publish"; else
  fail "engine: /ready $(code "$EP" /ready) after the events"; tail -5 "$WORK/engine.log"; fi
check_scrape e1 "$EP" "engine, published"
HEAD=$(info "$SNAP" .headVersion)
check "engine: head_version is the dump's" "$HEAD" "$(val e1 scopecast_engine_head_version)"
check "engine: events_total counts the 5 valid events" 5 "$(val e1 scopecast_engine_events_total)"
check "engine: warnings_total 1" 1 "$(val e1 scopecast_engine_warnings_total)"
check "engine: the dump's warnings" 1 "$(info "$SNAP" .warnings)"
check "engine: rejected_total{kind=Service} 1" 1 "$(val e1 scopecast_engine_rejected_total '{"kind":"Service"}')"
check "engine: rejected_total{kind=Namespace} 0" 0 "$(val e1 scopecast_engine_rejected_total '{"kind":"Namespace"}')"
check "engine: objects{kind=Service} 4" 4 "$(val e1 scopecast_engine_objects '{"kind":"Service"}')"
check "engine: objects{kind=Namespace} 1" 1 "$(val e1 scopecast_engine_objects '{"kind":"Namespace"}')"
check "engine: scopes as the dump says" "$(info "$SNAP" .scopes)" "$(val e1 scopecast_engine_scopes)"
check "engine: ready 1" 1 "$(val e1 scopecast_engine_ready)"
B=$(val e1 scopecast_engine_batches_total)
if [ "$B" != missing ] && [ "$B" -ge 1 ]; then pass "engine: batches_total $B > 0"; else fail "engine: batches_total $B"; fi
check "engine: histogram count equals batches_total" "$B" "$(val e1 scopecast_engine_batch_duration_seconds_count)"
check "engine: +Inf bucket equals batches_total" "$B" \
  "$(val e1 scopecast_engine_batch_duration_seconds_bucket '{"le":"+Inf"}')"
T=$(val e1 scopecast_engine_last_publish_timestamp_seconds)
NOW=$(date +%s)
if awk -v t="$T" -v n="$NOW" 'BEGIN { exit !(t > n - 60 && t < n + 60) }'; then
  pass "engine: last publish time is now ($T)"; else fail "engine: last publish time $T, now $NOW"; fi

# ---- HTTP itself ------------------------------------------------------------------------
check "engine: 404 for an unknown path" 404 "$(code "$EP" /nope)"
check "engine: 404 for a path with a suffix" 404 "$(code "$EP" /metrics/x)"
check "engine: 405 for POST" 405 "$(code "$EP" /metrics -X POST -d x=1)"
check "engine: 405 for DELETE" 405 "$(code "$EP" /ready -X DELETE)"
curl -s -D "$WORK/h405.txt" -o /dev/null -X POST -d x=1 "http://127.0.0.1:$EP/metrics"
check_contains "engine: 405 says what is allowed" "$WORK/h405.txt" "Allow: GET, HEAD"
curl -s -I "http://127.0.0.1:$EP/metrics" > "$WORK/head.txt"
check_contains "engine: HEAD /metrics 200" "$WORK/head.txt" "HTTP/1.1 200"
check_contains "engine: HEAD has the content type" "$WORK/head.txt" "version=0.0.4"
check "engine: HEAD has no body" 0 "$(curl -s -I "http://127.0.0.1:$EP/metrics" | sed '1,/^\r$/d' | wc -c)"
check "engine: HTTP/1.0 GET" 200 "$(code "$EP" /healthz --http1.0)"
check "frontend: 404 for an unknown path" 404 "$(code "$XP" /)"
check "frontend: 405 for PUT" 405 "$(code "$XP" /ready -X PUT -d x)"

# ---- the frontend with a client across a commit -----------------------------------------
if ! command -v node > /dev/null || [ ! -d "$NODE_DIR/node_modules/@grpc/grpc-js" ]; then
  fail "needs Node.js and tests/node/node_modules (cd tests/node && npm ci)"
else
  # the frontend follows the engine's notices (commit time known: push latency measured)
  if wait_for 10 val_ge "$EP" en scopecast_engine_notify_subscribers 1; then
    pass "engine: notify_subscribers counts the frontend"; else fail "engine: no notify subscriber"; fi
  wait_for 10 val_is "$XP" x1 scopecast_xds_head_version "$HEAD" ||
    fail "frontend: head_version $(val x1 scopecast_xds_head_version), the dump says $HEAD"
  node "$NODE_DIR/xds_watch.mjs" "unix:$WORK/xds.sock" "$NODE_ID" "$CDS" 2 20000 nack \
    > "$WORK/watch.out" 2> "$WORK/watch.err" &
  WATCH=$!
  PIDS+=($WATCH)
  wait_for 15 test -s "$WORK/watch.out" || fail "the ADS client got no response"
  if wait_for 10 val_is "$XP" x2 scopecast_xds_nacks_total 1 '{"type":"clusters"}'; then
    pass "frontend: nacks_total{type=clusters} 1"; else
    fail "frontend: nacks_total{type=clusters} $(val x2 scopecast_xds_nacks_total '{"type":"clusters"}')"; fi
  check_scrape x2 "$XP" "frontend, one stream"
  check "frontend: connections 1" 1 "$(val x2 scopecast_xds_connections)"
  check "frontend: streams 1" 1 "$(val x2 scopecast_xds_streams)"
  check "frontend: streams_opened_total 1" 1 "$(val x2 scopecast_xds_streams_opened_total)"
  check "frontend: pushes_total{type=clusters} 1" 1 "$(val x2 scopecast_xds_pushes_total '{"type":"clusters"}')"
  check "frontend: pushes_total{type=routes} 0" 0 "$(val x2 scopecast_xds_pushes_total '{"type":"routes"}')"
  SCOPE=$("$DUMP" --snapshot "$SNAP" resolve --namespace ns1 --json | jq -r .scope)
  check "frontend: nacks_by_scope_total{scope=$SCOPE,type=clusters} 1" 1 \
    "$(val x2 scopecast_xds_nacks_by_scope_total "{\"scope\":\"$SCOPE\",\"type\":\"clusters\"}")"
  check "frontend: nacks_total{type=listeners} 0" 0 "$(val x2 scopecast_xds_nacks_total '{"type":"listeners"}')"
  check "frontend: no push latency before a commit" 0 \
    "$(val x2 scopecast_xds_push_latency_seconds_count '{"type":"clusters"}')"
  # a commit that adds a cluster: pushed to the open stream, its latency observed
  svc d >> "$WORK/more.jsonl"
  if wait "$WATCH"; then pass "the ADS client got the push after the commit"; else
    fail "the ADS client: $(cat "$WORK/watch.err")"; fi
  HEAD2=$(info "$SNAP" .headVersion)
  [ "$HEAD2" -gt "$HEAD" ] || fail "the engine did not publish the new Service"
  check_scrape x3 "$XP" "frontend, after the commit"
  check "frontend: head_version follows the engine" "$HEAD2" "$(val x3 scopecast_xds_head_version)"
  check "frontend: pushes_total{type=clusters} 2" 2 "$(val x3 scopecast_xds_pushes_total '{"type":"clusters"}')"
  check "frontend: one push latency observed" 1 \
    "$(val x3 scopecast_xds_push_latency_seconds_count '{"type":"clusters"}')"
  check "frontend: ... in the +Inf bucket too" 1 \
    "$(val x3 scopecast_xds_push_latency_seconds_bucket '{"type":"clusters","le":"+Inf"}')"
  check "frontend: ... within 10 s" 1 \
    "$(val x3 scopecast_xds_push_latency_seconds_bucket '{"type":"clusters","le":"10"}')"
  check "frontend: acks_total 1" 1 "$(val x3 scopecast_xds_acks_total)"
  if wait_for 10 val_is "$XP" x4 scopecast_xds_streams 0; then pass "frontend: streams 0 after the client left"; else
    fail "frontend: streams $(val x4 scopecast_xds_streams) after the client left"; fi
  check_scrape e2 "$EP" "engine, second batch"
  check "engine: events_total 6 after one more event" 6 "$(val e2 scopecast_engine_events_total)"
  check "engine: histogram count follows batches_total" "$(val e2 scopecast_engine_batches_total)" \
    "$(val e2 scopecast_engine_batch_duration_seconds_count)"
fi

# ---- a port in use, a bad address ------------------------------------------------------
timeout 10 "$SCOPECAST" --snapshot "$WORK/snap2" --config-dir "$WORK/empty" --http "127.0.0.1:$EP" \
  2> "$WORK/engine2.log"
check "engine on a port in use: exit 1" 1 "$?"
check_contains "engine on a port in use: says so" "$WORK/engine2.log" \
  "--http 127.0.0.1:$EP: cannot listen: Address already in use"
"$DUMP" --snapshot "$WORK/snap2" info > "$WORK/dump2.txt" 2>&1
check_contains "engine on a port in use: publishes nothing" "$WORK/dump2.txt" "nothing published yet"
timeout 10 "$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds2.sock" --http "127.0.0.1:$XP" 2> "$WORK/xds2.log"
check "frontend on a port in use: exit 1" 1 "$?"
check_contains "frontend on a port in use: says so" "$WORK/xds2.log" \
  "--http 127.0.0.1:$XP: cannot listen: Address already in use"
timeout 10 "$SCOPECAST" --snapshot "$WORK/snap3" --config-dir "$WORK/empty" --http "::1:80" 2> "$WORK/engine3.log"
check "engine with a bad --http: exit 1" 1 "$?"
check_contains "engine with a bad --http: says why" "$WORK/engine3.log" "an IPv6 address needs brackets"
timeout 10 "$XDS" --snapshot "$SNAP" --listen "unix:$WORK/xds3.sock" --http "127.0.0.1:99999" 2> "$WORK/xds3.log"
check "frontend with a bad --http: exit 1" 1 "$?"
check_contains "frontend with a bad --http: says why" "$WORK/xds3.log" "port \"99999\" is not a number"
# IPv6 loopback, when the machine has it
if "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2> /dev/null; then
  "$SCOPECAST" --snapshot "$WORK/snap6" --config-dir "$WORK/empty" --http "[::1]:0" --no-sync \
    2> "$WORK/engine6.log" &
  E6=$!
  PIDS+=($E6)
  wait_for 10 has_port "$WORK/engine6.log"
  P6=$(port_of "$WORK/engine6.log")
  check "engine on [::1]: /healthz 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$P6/healthz")"
  kill -TERM "$E6"
  wait "$E6"
  check "engine on [::1]: exit 0 on SIGTERM" 0 "$?"
fi

# ---- SIGTERM closes the port ------------------------------------------------------------
kill -TERM "$ENGINE"
wait "$ENGINE"
check "engine: exit 0 on SIGTERM" 0 "$?"
check "engine: the port is closed" 000 "$(code "$EP" /healthz)"
kill -TERM "$XDS_PID"
wait "$XDS_PID"
check "frontend: exit 0 on SIGTERM" 0 "$?"
check "frontend: the port is closed" 000 "$(code "$XP" /healthz)"

finish
