#!/usr/bin/env bash
# A Ray cluster on this machine: a head and N worker nodes on 127.0.0.1, each a separate
# raylet with its own CPU count and a custom resource naming it, to try multi-node training
# and tuning without hardware (and for the tests).
#
#   cluster/local.sh up [N] [CPUS_PER_NODE]   start the head (+ N workers); prints RAY_ADDRESS
#   cluster/local.sh status                   nodes and resources
#   cluster/local.sh down                     stop every node this script started
#
# Environment: GENMODELS_RAY_PORT (default 6389), GENMODELS_RAY_TEMP (default /tmp/gm-ray),
# GENMODELS_RAY_GPUS_PER_WORKER (fake GPU count to test GPU placement; default 0).
# Node i carries the custom resource "genmodels_node_<i>" = 1 (the head is node 0).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ray_bin="${RAY_BIN:-$here/.venv/bin/ray}"
[ -x "$ray_bin" ] || ray_bin="$(command -v ray || true)"
[ -n "$ray_bin" ] || { echo "error: ray not found (run make install)" >&2; exit 2; }
port="${GENMODELS_RAY_PORT:-6389}"
temp="${GENMODELS_RAY_TEMP:-/tmp/gm-ray}"
address="127.0.0.1:$port"
export RAY_USAGE_STATS_ENABLED=0
# Token authentication on every side (nodes, drivers): clients need RAY_AUTH_MODE=token too.
export RAY_AUTH_MODE=token

up() {
  local workers="${1:-2}" cpus="${2:-1}" gpus="${GENMODELS_RAY_GPUS_PER_WORKER:-0}"
  [[ "$workers" =~ ^[0-9]+$ && "$cpus" =~ ^[0-9]+$ && "$cpus" -ge 1 ]] || { echo "error: usage: $0 up [N] [CPUS_PER_NODE]" >&2; exit 2; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is taken (a cluster is up? run '$0 down', or set GENMODELS_RAY_PORT)" >&2; exit 1
  fi
  "$ray_bin" get-auth-token --generate >/dev/null 2>&1 || true  # ~/.ray/auth_token, kept if present
  local common=(--num-cpus="$cpus" --node-ip-address=127.0.0.1 --disable-usage-stats)
  "$ray_bin" start --head --port="$port" --temp-dir="$temp" --include-dashboard=false \
    --resources='{"genmodels_node_0": 1}' "${common[@]}" >/dev/null 2>&1 ||
    { echo "error: the head node did not start on $address (see $temp/session_latest/logs)" >&2; exit 1; }
  for i in $(seq 1 "$workers"); do
    "$ray_bin" start --address="$address" --num-gpus="$gpus" --resources="{\"genmodels_node_$i\": 1}" "${common[@]}" >/dev/null 2>&1 ||
      { echo "error: worker node $i did not join $address (see $temp/session_latest/logs)" >&2; exit 1; }
  done
  echo "export RAY_ADDRESS=$address RAY_AUTH_MODE=token   # head + $workers worker node(s), $cpus CPU(s) each"
}

# Stop this cluster's processes in dependency order: raylets first, then the head's helpers
# (autoscaler monitor, dashboard, log monitors), the GCS last. Each goes within a second that
# way; sent SIGTERM all at once, raylets and the monitor keep retrying the GCS for ~30 s.
down() {
  local match="(127\.0\.0\.1:$port|$temp)"
  stop_matching "raylet/raylet.*($port|$temp)"
  stop_matching "$match" "gcs_server"
  stop_matching "$match"
  echo "stopped the cluster at $address"
}

# stop_matching PATTERN [EXCEPT]: SIGTERM the processes whose command line matches PATTERN (and
# not EXCEPT), wait up to 10 s, then SIGKILL the rest.
stop_matching() {
  local pattern="$1" except="${2:-}" pids
  list() { pgrep -fa -- "$pattern" | { if [ -n "$except" ]; then grep -v -- "$except"; else cat; fi; } | cut -d' ' -f1 || true; }
  pids="$(list)"
  [ -n "$pids" ] || return 0
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 100); do [ -n "$(list)" ] || return 0; sleep 0.1; done
  pids="$(list)"
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) RAY_ADDRESS="$address" "$ray_bin" status ;;
  *) echo "error: usage: $0 up [N] [CPUS_PER_NODE] | status | down" >&2; exit 2 ;;
esac
