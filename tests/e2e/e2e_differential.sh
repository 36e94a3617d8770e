#!/usr/bin/env bash
# The differential test at the level of the real engine and its snapshot: random event
# sequences (from test_incremental --write-events) are fed to one engine in batches of
# 1-4 events and to a fresh engine in one batch; the two snapshots must hold the same
# scopes and selector records (changedAt aside).
#   e2e_differential.sh SCOPECAST DUMP SRC SHARED SERVE [TEST_INCREMENTAL] [COUNT]
. "$(dirname "$0")/lib.sh"
GEN=${6:-}
COUNT=${7:-20}
[ -x "$GEN" ] || { fail "needs the test_incremental binary"; finish; exit 1; }

# Every scope record without changedAt, one per line, sorted; and the selector records.
scopes_of() {
  local snap=$1
  "$DUMP" --snapshot "$snap" scopes --json | jq -r '.scopes[].id' | while read -r id; do
    "$DUMP" --snapshot "$snap" scope "$id" --json | jq -c 'del(.changedAt)'
  done | sort
  for ns in $("$DUMP" --snapshot "$snap" scopes --json | jq -r '.scopes[].namespace' | sort -u); do
    "$DUMP" --snapshot "$snap" resolve --namespace "$ns" --json | jq -c '{namespace, scope}'
  done
}

for ((seed = 1; seed <= COUNT; seed++)); do
  "$GEN" --write-events "$WORK/events-$seed.jsonl" --seed "$seed" --events 40 > /dev/null
  batch=$((1 + seed % 4))
  # The incremental run's stream starts with the bookmark that ends a watch's initial
  # events: its initial state is empty, and every later batch is published on its own
  # (without it the engine would publish the file's whole initial content in one commit).
  { printf '%s\n' "$INITIAL_EVENTS_END"; cat "$WORK/events-$seed.jsonl"; } > "$WORK/inc-events-$seed.jsonl"
  "$SCOPECAST" --snapshot "$WORK/inc-$seed" --watch "file:$WORK/inc-events-$seed.jsonl" --once \
    --batch-max-events "$batch" --log-level warning 2> "$WORK/inc-$seed.log"
  "$SCOPECAST" --snapshot "$WORK/fresh-$seed" --watch "file:$WORK/events-$seed.jsonl" --once \
    --log-level warning 2> "$WORK/fresh-$seed.log"
  scopes_of "$WORK/inc-$seed" > "$WORK/inc-$seed.txt"
  scopes_of "$WORK/fresh-$seed" > "$WORK/fresh-$seed.txt"
  if cmp -s "$WORK/inc-$seed.txt" "$WORK/fresh-$seed.txt" && [ -s "$WORK/inc-$seed.txt" ]; then
    pass "seed $seed ($(wc -l < "$WORK/inc-$seed.txt") records, batches of $batch)"
  else
    fail "seed $seed: incremental snapshot differs from a fresh one (batches of $batch)"
    diff "$WORK/inc-$seed.txt" "$WORK/fresh-$seed.txt" | head -5
  fi
  if [ "$(info "$WORK/inc-$seed" .headVersion)" -le "$(info "$WORK/fresh-$seed" .headVersion)" ] &&
     [ "$batch" -lt 4 ]; then
    fail "seed $seed: the incremental engine published no more often than the fresh one"
  fi
done
finish
