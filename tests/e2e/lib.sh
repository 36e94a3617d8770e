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

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ $FAILED -eq 0 ]
}
