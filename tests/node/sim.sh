#!/usr/bin/env bash
# The traffic-simulation test: the simulator's unit checks (sim_unit.mjs), then every ported
# Istio simulation case (sim_cases/) through the real engine and dump (sim_run.mjs).
# docs/simulation.md describes both.
#
#   sim.sh SCOPECAST SCOPECAST_DUMP [CASE-NAME-SUBSTRING]
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "FAIL: node is not installed"; exit 1; }
node "$DIR/sim_unit.mjs" || exit 1
node "$DIR/sim_run.mjs" "$@"
