#!/usr/bin/env bash
# Soak (issue 7): thousands of xDS streams (SotW and Delta, every other one) on two
# frontends sharing a port, under sustained mixed churn written to the engine's watch
# socket, one frontend SIGKILLed a third of the way in and started again on the same port.
# At the end every stream must hold what scopecast-dump gives for its proxy class at the
# final head; no NACKs, no protocol errors; the RSS of the engine and of each frontend
# bounded over the second half; every process exits 0 on SIGTERM with no sanitizer
# report (with the ASan binaries: LeakSanitizer runs at their exit). Loopback only.
#   e2e_soak.sh SCOPECAST DUMP SRC SHARED SERVE [BENCH_XDS] [SECONDS] [RATE] [PROXIES]
# Defaults: 60 s at 200 events/s with 2,000 streams; SOAK_LONG=1: 300 s at 300 events/s
# with 5,000 streams. bench_xds takes scopecast-xds and scopecast-dump beside SCOPECAST.
# SOAK_JSON=FILE: a copy of bench_xds's JSON.
. "$(dirname "$0")/lib.sh"
BENCH=${6:-}
if [ "${SOAK_LONG:-0}" = 1 ]; then
  SECS=${7:-300} RATE=${8:-300} PROXIES=${9:-5000}
else
  SECS=${7:-60} RATE=${8:-200} PROXIES=${9:-2000}
fi
[ -x "$BENCH" ] || { fail "needs the bench_xds binary"; finish; exit 1; }
[ "$(dirname "$DUMP")" == "$(dirname "$SCOPECAST")" ] ||
  echo "note: bench_xds uses $(dirname "$SCOPECAST")/scopecast-dump, not $DUMP"

# A socket per stream here and one in a frontend (bench_xds raises its soft limit to
# PROXIES + 1024, which the frontends inherit; the hard limit must allow it).
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $((PROXIES + 1024)) ]; then
  fail "the open files hard limit ($(ulimit -Hn)) is below $((PROXIES + 1024))"
  finish
  exit 1
fi
# With ASan binaries: a small quarantine, so that RSS reflects what is allocated rather
# than freed memory held back (leak detection stays as it is: on by default).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16

t0=$SECONDS
"$BENCH" soak seconds="$SECS" rate="$RATE" proxies="$PROXIES" scopecast="$SCOPECAST" \
  > "$WORK/soak.json" 2> "$WORK/soak.err"
rc=$?
echo "bench_xds soak seconds=$SECS rate=$RATE proxies=$PROXIES: exit $rc after $((SECONDS - t0)) s"
if ! jq -e .checks "$WORK/soak.json" > /dev/null 2>&1; then
  fail "bench_xds printed no result"
  tail -20 "$WORK/soak.err"
  finish
  exit 1
fi
j() { jq -r "$1" "$WORK/soak.json"; }

# check_soak KEY TEXT: one criterion of the run's "checks".
check_soak() {
  if [ "$(j ".checks.$1")" == true ]; then pass "$2"; else fail "$2"; fi
}

check_soak storm_complete "connect storm: $(j .storm.synced) of $PROXIES streams synced ($(j .params.mode))"
check_soak both_frontends_had_streams "both frontends got streams: $(j '.streams_per_frontend_after_storm | join(" + ")')"
check_soak churn_rate_sustained "churn: $(j .churn.events) events in $SECS s ($(j .churn.events_per_s)/s; \
$(j '.churn.by_kind | to_entries | map("\(.key) \(.value)") | join(", ")'); \
$(j .churn.added) added, $(j .churn.modified) modified, $(j .churn.deleted) deleted), $(j .churn.commits) commits"
check_soak engine_rejected_nothing "the engine rejected and skipped nothing ($(j .engine.rejected), $(j .engine.skipped))"
if [ "$(j .params.restart)" == true ]; then
  check_soak restart_recovered "frontend SIGKILLed at $(j .restart.at_s) s, restarted listening after \
$(j .restart.listening_after_ms) ms; $(j .restart.streams_dropped) streams dropped, every stream served again \
after $(j .restart.every_stream_served_again_after_ms) ms"
fi
check_soak every_stream_converged "every stream converged to head $(j .final.head_version): \
$(j .final.streams_checked) streams of $(j .final.classes) classes checked against scopecast-dump, \
$(j .final.streams_mismatched) mismatched, $(j .final.after_last_event_ms) ms after the last event \
(dump $(j .final.dump_ms) ms)"
check_soak frontends_at_final_head "both frontends serve the final head"
check_soak both_frontends_have_streams_at_end "both frontends serve streams at the end: \
$(j '.streams_per_frontend_end | join(" + ")')"
check_soak no_nacks "no NACKs (frontends' stats, the killed one's included: $(j .frontend_nacks))"
check_soak no_protocol_errors "no protocol errors (client: $(j .client.protocol_errors), invalid nodes: \
$(j .frontend_invalid_nodes))"
check_soak rss_bounded "RSS bounded, $(j .rss.rule): \
$(j '.rss.processes | to_entries | map("\(.key) \(.value.start_kb)/\(.value.middle_kb)/\(.value.peak_kb)/\(.value.end_kb) kB (bound \(.value.bound_kb))") | join("; ")') (start/middle/peak/end)"
check_soak clean_exit_on_sigterm "the engine and the frontends exit 0 on SIGTERM"
check_soak no_sanitizer_reports "no sanitizer report in any log ($(j '.sanitizer_report_lines | tostring'))"
# Any check this script does not know yet still counts.
for k in $(j '.checks | keys[]'); do
  case $k in
    storm_complete | both_frontends_had_streams | churn_rate_sustained | engine_rejected_nothing | \
      restart_recovered | every_stream_converged | frontends_at_final_head | \
      both_frontends_have_streams_at_end | no_nacks | no_protocol_errors | rss_bounded | \
      clean_exit_on_sigterm | no_sanitizer_reports) ;;
    *) check_soak "$k" "$k" ;;
  esac
done
check "bench_xds exit status" 0 "$rc"
# SOAK_JSON=FILE keeps the whole result; on failure it goes beside the bench's work dir.
[ -n "${SOAK_JSON:-}" ] && cp "$WORK/soak.json" "$SOAK_JSON"
if [ "$(j .ok)" != true ]; then
  [ -d "$(j .work_dir)" ] && cp "$WORK/soak.json" "$WORK/soak.err" "$(j .work_dir)/"
  echo "error: $(j .error); work dir kept: $(j .work_dir)"
  j '.final.first_mismatches[]?' | head -5
  j '.client.first_errors[]?' | head -5
fi
echo "snapshot file: $(j .snapshot_bytes.start) -> $(j .snapshot_bytes.end) bytes;" \
  "client: $(j .client.drops) drops, $(j .client.reconnects) reconnects, $(j .client.cpu_ms) ms CPU;" \
  "wall $(j .wall_s) s"
finish
