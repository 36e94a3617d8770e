#!/usr/bin/env bash
# Table-driven scope tests: every directory under cases/ is one case, run through the
# real engine (`scopecast --once`) and checked with `scopecast-dump --json`.
#
#   run.sh SCOPECAST SCOPECAST_DUMP SHARED_DIR [CASE-NAME-SUBSTRING]
#
# A case directory holds:
#   config/*.yaml   the manifests (applied in namespace "default" when they name none)
#   fixture-files   optional: paths under tests/fixtures (one per line), read in place
#   shared-files    optional: paths under SHARED_DIR, an outside corpus (one per line): the
#                   case is an extra, run only where SHARED_DIR/fixtures exists and skipped
#                   (saying so) elsewhere
#   mesh.yaml       optional MeshConfig (--mesh-config)
#   expect.json     {"description": "...", "rule": "Istio tests it ports; docs/semantics.md sections",
#                    "checks": [{"dump": [ARGS...], "match": JSON}            (1)
#                               {"dump": [ARGS...], "jq": FILTER, "equals": JSON}]}  (2)
#   (1) the dump output must match JSON: objects by the keys given (others ignored),
#       arrays element by element and of equal length, scalars equal.
#   (2) jq FILTER applied to the dump output must equal JSON exactly.
# Each check prints ok/FAIL; the last line is "N passed, M failed".
set -u
SCOPECAST=$1
DUMP=$2
SHARED=$3
FILTER=${4:-}
DIR=$(cd "$(dirname "$0")" && pwd)
FIXTURES=$(cd "$DIR/../fixtures" && pwd)
WORK=$(mktemp -d /tmp/sc-scopes-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
SKIPPED=0

# jq: does $a (actual) match $e (expected) as described above?
MATCH_DEF='def m($e): if ($e|type) == "object" then (type == "object") and
  (. as $a | all($e|to_entries[]; . as $kv | ($a|has($kv.key)) and ($a[$kv.key] | m($kv.value))))
  elif ($e|type) == "array" then (type == "array") and (length == ($e|length)) and
  (. as $a | all(range(0; $e|length); . as $i | $a[$i] | m($e[$i])))
  else . == $e end;'

for case in "$DIR"/cases/*/; do
  name=$(basename "$case")
  if [ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]]; then continue; fi
  snap="$WORK/$name"
  args=(--snapshot "$snap" --once --log-level warning)
  [ -d "$case/config" ] && args+=(--config-dir "$case/config")
  [ -f "$case/mesh.yaml" ] && args+=(--mesh-config "$case/mesh.yaml")
  if [ -f "$case/fixture-files" ]; then
    mkdir -p "$WORK/$name.fixtures"
    while read -r f; do
      [ -n "$f" ] || continue
      if [ ! -f "$FIXTURES/$f" ]; then echo "FAIL $name: no fixture $FIXTURES/$f"; FAILED=$((FAILED + 1)); continue 2; fi
      ln -s "$FIXTURES/$f" "$WORK/$name.fixtures/$(basename "$f")"
    done < "$case/fixture-files"
    args+=(--config-dir "$WORK/$name.fixtures")
  fi
  if [ -f "$case/shared-files" ]; then
    if [ ! -d "$SHARED/fixtures" ]; then
      SKIPPED=$((SKIPPED + 1))
      echo "skip $name: an extra on the outside corpus $SHARED/fixtures, which is absent"
      continue
    fi
    echo "extra $name: runs on the outside corpus $SHARED/fixtures"
    mkdir -p "$WORK/$name.shared"
    while read -r f; do
      [ -n "$f" ] && ln -s "$SHARED/$f" "$WORK/$name.shared/$(basename "$f")"
    done < "$case/shared-files"
    args+=(--config-dir "$WORK/$name.shared")
  fi
  if ! "$SCOPECAST" "${args[@]}" 2> "$WORK/$name.log"; then
    FAILED=$((FAILED + 1)); echo "FAIL $name: engine failed"; cat "$WORK/$name.log"; continue
  fi
  if grep -q "rejected" "$WORK/$name.log"; then
    FAILED=$((FAILED + 1)); echo "FAIL $name: input rejected"; cat "$WORK/$name.log"; continue
  fi
  nchecks=$(jq '.checks | length' "$case/expect.json")
  for ((i = 0; i < nchecks; i++)); do
    check=$(jq -c ".checks[$i]" "$case/expect.json")
    mapfile -t dargs < <(jq -r '.dump[]' <<< "$check")
    out="$WORK/$name.$i.json"
    if ! "$DUMP" --snapshot "$snap" "${dargs[@]}" --json > "$out" 2> "$out.err"; then
      FAILED=$((FAILED + 1)); echo "FAIL $name[$i] (${dargs[*]}): $(cat "$out.err")"; continue
    fi
    if jq -e 'has("jq")' <<< "$check" > /dev/null; then
      filter=$(jq -r '.jq' <<< "$check")
      actual=$(jq -c "$filter" "$out")
      if jq -e --argjson a "$actual" '.equals == $a' <<< "$check" > /dev/null; then
        PASSED=$((PASSED + 1)); echo "ok   $name[$i]"
      else
        FAILED=$((FAILED + 1))
        echo "FAIL $name[$i] (${dargs[*]} | $filter): expected $(jq -c .equals <<< "$check"), got $actual"
      fi
    else
      if jq -e --argjson e "$(jq -c .match <<< "$check")" "$MATCH_DEF m(\$e)" "$out" > /dev/null; then
        PASSED=$((PASSED + 1)); echo "ok   $name[$i]"
      else
        FAILED=$((FAILED + 1))
        echo "FAIL $name[$i] (${dargs[*]}): expected to match $(jq -c .match <<< "$check")"
        echo "     got $(jq -c . "$out")"
      fi
    fi
  done
done
echo "$PASSED passed, $FAILED failed, $SKIPPED extra cases skipped (outside corpus absent)"
[ $FAILED -eq 0 ] && [ $PASSED -gt 0 ]
