#!/usr/bin/env bash
# The suite stands alone: in a copy of the repository with nothing beside it (what a user's
# fresh clone is), the tests that read fixtures pass on the project's own fixtures
# (tests/fixtures), and every run over an outside corpus (../shared/fixtures) says it was
# skipped.
#
#   e2e_standalone.sh SCOPECAST SCOPECAST_DUMP SOURCE_DIR [CMAKE-ARGS...]
#
# The copy holds the files git tracks (staged ones too; the whole tree when SOURCE_DIR is not
# a git checkout), in TMP/repo with nothing else in TMP. test_parse is configured and built
# there (its SC_SHARED_DIR is the fresh default, TMP/repo/../shared, which does not exist);
# e2e_examples, the fixture cases of scopes and conformance run from the copy's scripts with
# the executables given.
set -u
SCOPECAST=$1
DUMP=$2
SRC=$3
shift 3
WORK=$(mktemp -d /tmp/sc-standalone-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }
# expect_ok NAME LOG COMMAND...: the command succeeds (its output in LOG, shown on failure)
expect_ok() {
  local name=$1 log=$2
  shift 2
  if "$@" > "$log" 2>&1; then pass "$name"; else fail "$name (exit $?)"; sed 's/^/    /' "$log" | grep -v '^    ok ' | tail -30; fi
}
# expect_line NAME LOG TEXT: LOG has a line with TEXT
expect_line() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: '$3' not in the output"; fi
}

REPO="$WORK/repo"
mkdir -p "$REPO"
if git -C "$SRC" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z --cached | tar --null -T - -cf -) | tar -xf - -C "$REPO"
  echo "copied the $(git -C "$SRC" ls-files --cached | wc -l) files git tracks in $SRC to $REPO"
else
  tar -C "$SRC" --exclude='./build*' --exclude=node_modules -cf - . | tar -xf - -C "$REPO"
  echo "$SRC is not a git checkout: copied its tree to $REPO"
fi
if [ "$(ls -A "$WORK")" == "repo" ]; then pass "nothing beside the copy"; else fail "beside the copy: $(ls -A "$WORK")"; fi
if [ -f "$REPO/tests/test_parse.c" ] && [ -f "$REPO/CMakeLists.txt" ]; then pass "the copy has the sources"; else fail "the copy has no sources"; fi

# test_parse, built in the copy with the defaults of a fresh configure.
if cmake -S "$REPO" -B "$WORK/build" -DSC_BUILD_BENCH=OFF "$@" > "$WORK/cmake.log" 2>&1 &&
   cmake --build "$WORK/build" --target test_parse -j2 > "$WORK/build.log" 2>&1; then
  pass "test_parse built in the copy"
  shared=$(sed -n 's/^SC_SHARED_DIR:PATH=//p' "$WORK/build/CMakeCache.txt")
  if [ -n "$shared" ] && [ ! -e "$shared" ]; then pass "the default outside corpus $shared is absent"; else fail "outside corpus '$shared' should be absent"; fi
  expect_ok "test_parse in the copy" "$WORK/test_parse.log" "$WORK/build/tests/test_parse"
  expect_line "test_parse: the shop fixture read" "$WORK/test_parse.log" "ok   fixture_shop_networking"
  expect_line "test_parse: the invalid corpus read" "$WORK/test_parse.log" "ok   fixture_validation_invalid_rejected_as_written"
  expect_line "test_parse: the extras say they were skipped" "$WORK/test_parse.log" "extra extra_istio_bookinfo: skipped"
else
  fail "test_parse built in the copy"
  tail -30 "$WORK/cmake.log" "$WORK/build.log"
  shared="$REPO/../shared"
fi

# The script tests that read fixtures, from the copy, given the copy's default SC_SHARED_DIR.
expect_ok "e2e_examples in the copy" "$WORK/examples.log" \
  bash "$REPO/tests/e2e/e2e_examples.sh" "$SCOPECAST" "$DUMP" "$REPO" "$shared" /bin/false
expect_line "e2e_examples: the extra says it was skipped" "$WORK/examples.log" "extra: skipped"
for c in e28 e29; do
  expect_ok "scopes $c cases in the copy" "$WORK/scopes-$c.log" \
    bash "$REPO/tests/scopes/run.sh" "$SCOPECAST" "$DUMP" "$shared" "$c"
  expect_line "scopes $c: the extra case says it was skipped" "$WORK/scopes-$c.log" "1 extra cases skipped"
done
if [ -d "$SRC/tests/node/node_modules" ]; then
  ln -s "$SRC/tests/node/node_modules" "$REPO/tests/node/node_modules"
  expect_ok "conformance in the copy" "$WORK/conformance.log" \
    bash "$REPO/tests/node/run.sh" "$SCOPECAST" "$DUMP" "$REPO" "$shared"
  expect_line "conformance: the extra says it was skipped" "$WORK/conformance.log" "extra: skipped"
else
  fail "conformance: no node_modules in $SRC/tests/node (run 'npm ci' there; tools/setup.sh test does)"
fi

echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
