# Shared by the end-to-end tests. Each test script is called as
#   script.sh SCOPECAST SCOPECAST_DUMP SOURCE_DIR SHARED_DIR SERVE_FILE
# and prints "N passed, M failed" at the end; it exits non-zero when anything failed.
set -u
SCOPECAST=$1
DUMP=$2
SRC=$3
SHARED=$4
SERVE=$5
WORK=$(mktemp -d /tmp/sc-e2e-XXXXXX)
PASSED=0
FAILED=0
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }

# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# check_contains NAME FILE TEXT
check_contains() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: '$3' not found in $2"; sed 's/^/    /' "$2" | tail -20; fi
}

# info SNAPSHOT JQ-FILTER: a field of `scopecast-dump info --json`
info() { "$DUMP" --snapshot "$1" info --json 2>/dev/null | jq -r "$2"; }

# wait_for SECONDS COMMAND...: polls until COMMAND succeeds
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then return 1; fi
    sleep 0.05
  done
}

# info_is SNAPSHOT FILTER VALUE: for wait_for
info_is() { [ "$(info "$1" "$2")" == "$3" ]; }

# start_watch_engine SNAP EVENTS [ARGS...]: an engine following the watch file EVENTS, one
# event per batch; returns once it published its first version.
start_watch_engine() {
  local snap=$1 events=$2
  shift 2
  : > "$events"
  "$SCOPECAST" --snapshot "$snap" --watch "file:$events" --batch-max-events 1 --batch-quiet-ms 5 "$@" \
    2> "$WORK/engine.log" &
  PIDS+=($!)
  wait_for 10 info_is "$snap" .headVersion 1
}

# emit_event SNAP EVENTS JSON-OBJECT [TYPE]: append one event, wait until it is published
emit_event() {
  local snap=$1 before
  before=$(info "$snap" .headVersion)
  printf '{"type":"%s","object":%s}\n' "${4:-ADDED}" "$3" >> "$2"
  wait_for 10 eval '[ "$(info "$snap" .headVersion)" -gt "$before" ]' || fail "event not published: $3"
}

# The watch event that ends a stream's initial events (what the Kubernetes API sends after
# them with sendInitialEvents=true): put first in a stream, it makes the initial state empty,
# so that the engine publishes every later batch on its own instead of the whole stream in
# one first commit.
INITIAL_EVENTS_END='{"type":"BOOKMARK","object":{"kind":"Service","metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}'

# free_port: a loopback TCP port nothing listens on now
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then echo "$p"; return; fi
  done
  echo 1
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ $FAILED -eq 0 ]
}
