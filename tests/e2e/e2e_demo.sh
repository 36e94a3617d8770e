#!/usr/bin/env bash
# The demo (tools/demo.sh) on a build: it exits 0; its output shows both meshes published,
# the two frontends serving on one port, what the productpage sidecar receives, the pushed
# change (a routes version after the first, with the new reviews split), and every process
# stopped with exit 0; it leaves no temporary directory behind.
#   e2e_demo.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1
SRC=$2
OUT=$(mktemp /tmp/sc-demo-test-XXXXXX)
PASSED=0
FAILED=0
trap 'rm -f "$OUT"' EXIT
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }
shows() { # shows NAME EXTENDED-REGEX
  if grep -qE -- "$2" "$OUT"; then pass "$1"; else fail "$1: /$2/ not in the output"; fi
}

before=$(ls -d /tmp/scopecast-demo-* 2> /dev/null | sort)
start=$SECONDS
rc=0
bash "$SRC/tools/demo.sh" "$BUILD" > "$OUT" 2>&1 || rc=$?
took=$((SECONDS - start))
if [ $rc -eq 0 ]; then pass "the demo exits 0 (${took} s)"; else fail "the demo exited $rc"; tail -40 "$OUT"; fi
if [ $took -le 60 ]; then pass "the demo takes seconds, not minutes"; else fail "the demo took $took s"; fi
shows "the seeds engine published" "^== scopecast-dump --snapshot \.\.\. scopes \(seeds\) ==$"
shows "the bookinfo scopes" "^bookinfo/ratings +bookinfo +bookinfo/ratings "
shows "both frontends serve" "^frontend 2 serves \(pid [0-9]+\)$"
shows "the productpage sidecar's clusters over ADS" "^outbound\|9080\|v3\|reviews\.bookinfo\.svc\.cluster\.local +[0-9a-f]{32}$"
shows "its route configurations" "^9080 +[0-9a-f]{16}$"
shows "the split before" "weight 50, outbound\|9080\|v3\|reviews\.bookinfo\.svc\.cluster\.local weight 50"
shows "the push seen" "^--- routes version_info [0-9a-f]{16} at [0-9T:.-]+Z \(push 1 of 1\)$"
shows "the split after" "weight 10, outbound\|9080\|v3\|reviews\.bookinfo\.svc\.cluster\.local weight 90"
first=$(grep -m1 -oE 'routes version_info [0-9a-f]{16}\)$' "$OUT" | awk '{print $3}' | tr -d ')')
pushed=$(grep -m1 -oE '^--- routes version_info [0-9a-f]{16}' "$OUT" | awk '{print $4}')
if [ -n "$first" ] && [ -n "$pushed" ] && [ "$first" != "$pushed" ]; then
  pass "the pushed version ($pushed) is not the first ($first)"
else
  fail "the versions: first '$first', pushed '$pushed'"
fi
for p in "engine (seeds)" "engine (bookinfo)" "frontend 1" "frontend 2"; do
  shows "$p stopped with exit 0" "^$(printf '%s' "$p" | sed 's/[()]/\\&/g'): exit 0$"
done
shows "done" "^demo: done$"
after=$(ls -d /tmp/scopecast-demo-* 2> /dev/null | sort)
new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
if [ -z "$new" ]; then pass "no temporary directory left"; else fail "left behind: $new"; fi
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
