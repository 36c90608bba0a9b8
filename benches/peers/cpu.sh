#!/usr/bin/env bash
# CPU time per request of certgate serve, nginx and HAProxy, with run.sh's setup: each
# gateway pinned to one CPU, oha and the backend on the other, the same check. Where
# run.sh's req/s move by a tenth between runs on a shared machine, the gateway's own
# CPU time (user + system, from /proc/PID/stat) over a fixed number of requests moves
# far less: it is the steadier measure of what a request costs.
#
#   benches/peers/cpu.sh [--requests 200000] [--runs 3] [--answer]
#
# --answer: each gateway answers 200 itself after the check instead of proxying to the
# backend, so a full run minus an --answer run is what the backend leg costs.
#
# Needs what run.sh needs. Prints, per mode and gateway, the median of RUNS runs in µs
# of CPU per request, split into user and system time (the run of the median), then
# every run. A measurement to run by hand, never a CI step.
set -euo pipefail

requests=200000
runs=3
answer=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --answer) answer=1; shift ;;
    *) echo "usage: $0 [--requests N] [--runs N] [--answer]" >&2; exit 2 ;;
  esac
done

tools=(nginx haproxy oha taskset curl)
source "$(dirname "$0")/setup.sh"
source "$(dirname "$0")/gateways.sh"

tick=$(getconf CLK_TCK)
# CPU seconds in user and in system mode (all threads) the process has used so far.
cpu_of() { awk -v tick="$tick" '{ printf "%.3f %.3f", $14 / tick, $15 / tick }' "/proc/$1/stat"; }

# One oha run against `port`; prints the µs of the gateway's CPU per 200 answer as
# `total/user/system`.
per_request() {
  local pid=$1 port=$2; shift 2
  local before after
  before=$(cpu_of "$pid")
  taskset -c "$load_cpu" oha -n "$requests" --no-tui --output-format json "$@" \
    --cacert "$client/ca.pem" --cert "$client/good.pem" --key "$client/good.key" \
    "https://localhost:$port/echo" >"$work/oha.json"
  after=$(cpu_of "$pid")
  python3 - "$work/oha.json" "$before" "$after" <<'PY'
import json, sys
ok = json.load(open(sys.argv[1]))["statusCodeDistribution"].get("200", 0)
(user0, sys0), (user1, sys1) = (map(float, a.split()) for a in sys.argv[2:4])
user, system = ((b - a) / max(ok, 1) * 1e6 for a, b in ((user0, user1), (sys0, sys1)))
print(f"{user + system:.1f}/{user:.1f}/{system:.1f}")
PY
}

modes=("HTTP/1.1 keep-alive, 32 connections|-c 32"
       "HTTP/2, 8 connections x 8 streams|-c 8 -p 8 --http2")
gateways=("certgate|$certgate_pid|$certgate_port" "nginx|$nginx_pid|$nginx_port"
          "HAProxy|$haproxy_pid|$haproxy_port")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $requests requests a run, $runs runs, gateways taking turns"
echo
echo "| mode | certgate serve | nginx | HAProxy |"
echo "|---|---|---|---|"
for mode in "${modes[@]}"; do
  name=${mode%%|*}; read -r -a args <<<"${mode#*|}"
  declare -A all=()
  for _ in $(seq "$runs"); do
    for gateway in "${gateways[@]}"; do
      IFS='|' read -r label pid port <<<"$gateway"
      all[$label]+="$(per_request "$pid" "$port" "${args[@]}") "
    done
  done
  row="| $name |"
  for gateway in "${gateways[@]}"; do
    label=${gateway%%|*}
    row+=" $(python3 - ${all[$label]} <<'PY'
import sys
runs = sorted(tuple(map(float, run.split("/"))) for run in sys.argv[1:])
total, user, system = runs[(len(runs) - 1) // 2]
every = ", ".join(f"{run[0]:.1f}" for run in runs)
print(f"{total:.1f} µs (user {user:.1f} + system {system:.1f}; runs {every})")
PY
) |"
  done
  echo "$row"
  unset all
done
