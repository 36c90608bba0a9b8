#!/usr/bin/env bash
# The side-by-side of issue 18: certgate serve, nginx and HAProxy doing the same
# client-certificate check on one pinned CPU each, oha on the other, one loopback backend.
#
#   benches/peers/run.sh [--seconds 10] [--rate REQ_PER_S] [--rounds 1]
#
# --rate offers every gateway the same load (oha -q, latency corrected for coordinated
# omission) instead of as much as it takes; the last column is then certgate's p99 over
# the better peer's (lower is better), the issue's "p99 no worse at the same load".
# --rounds N runs each mode N times, the three gateways taking turns within each round,
# and prints the medians over the rounds with the range of the last column: on a shared
# machine one run's p99 moves by a fifth with what the neighbours do, a median of
# alternated runs much less.
#
# Needs: nginx and haproxy (Debian: apt-get install nginx-light haproxy), oha
# (cargo install oha), taskset (util-linux), and a 2-core or larger machine. A measurement
# to run by hand, never a CI step: the numbers depend on the machine and its neighbours.
# CERTGATE=path measures that binary instead of building this checkout's.
# instructions.sh, beside it, counts a request's instructions with the same setup.
#
# The check, the same for all three: the client's chain verified to the demo root with
# both CRLs, the leaf's SHA-1 thumbprint compared with the uploaded one, then the request
# proxied to the backend over a kept-alive HTTP/1.1 pool (certgate runs the APIM
# article's policy from `certgate demo`'s deployment).
set -euo pipefail

seconds=10
rate=""
rounds=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--rate REQ_PER_S] [--rounds N]" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "error: --rounds takes a whole number, 1 or more" >&2; exit 2; }
paced=()
[[ -z "$rate" ]] || paced=(-q "$rate" --latency-correction)

tools=(nginx haproxy oha taskset curl)
source "$(dirname "$0")/setup.sh"

source "$(dirname "$0")/gateways.sh"

# One oha run: prints "req/s p99_ms errors". Requests still in flight when the run's time
# is up ("aborted due to deadline") are not errors: oha cuts them off.
run() {
  local port=$1; shift
  taskset -c "$load_cpu" oha -z "${seconds}s" --no-tui --output-format json \
    --cacert "$client/ca.pem" --cert "$client/good.pem" --key "$client/good.key" \
    "${paced[@]}" "$@" "https://localhost:$port/echo" >"$work/oha.json"
  python3 - "$work/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["statusCodeDistribution"].get("200", 0)
other = sum(v for k, v in r["statusCodeDistribution"].items() if k != "200") + sum(
    v for k, v in r["errorDistribution"].items() if k != "aborted due to deadline")
print(f'{r["summary"]["requestsPerSec"]:.0f} {r["latencyPercentiles"]["p99"] * 1000:.2f} {other}')
PY
}

modes=("HTTP/1.1 keep-alive, 32 connections|-c 32"
       "new TLS connection per request, 8 clients|-c 8 --disable-keepalive"
       "HTTP/2, 8 connections x 8 streams|-c 8 -p 8 --http2")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); gateways on CPU $gateway_cpu, oha and the backend on CPU $load_cpu; ${seconds} s per run${rate:+; $rate req/s offered}$( ((rounds > 1)) && echo "; medians of $rounds rounds")"
echo
if [[ -n "$rate" ]]; then
  echo "| mode | certgate serve | nginx | HAProxy | certgate p99 / better peer's |"
else
  echo "| mode | certgate serve | nginx | HAProxy | certgate / better peer |"
fi
echo "|---|---|---|---|---|"
for mode in "${modes[@]}"; do
  name=${mode%%|*}; args=${mode#*|}
  rows=()
  for _ in $(seq "$rounds"); do
    read -r c_rps c_p99 c_err < <(run $certgate_port $args)
    read -r n_rps n_p99 n_err < <(run $nginx_port $args)
    read -r h_rps h_p99 h_err < <(run $haproxy_port $args)
    rows+=("$c_rps $c_p99 $c_err $n_rps $n_p99 $n_err $h_rps $h_p99 $h_err")
  done
  # Per gateway the median req/s and p99 over the rounds; the last column is the median
  # (and, over several rounds, the range) of each round's own ratio.
  python3 - "$name" "${rate:-}" "${rows[@]}" <<'PY'
import statistics, sys
name, rate, rows = sys.argv[1], sys.argv[2], [list(map(float, r.split())) for r in sys.argv[3:]]
med = lambda i: statistics.median(r[i] for r in rows)
if rate:
    ratios = [r[1] / max(min(r[4], r[7]), 0.001) for r in rows]
else:
    ratios = [r[0] / max(r[3], r[6], 1) for r in rows]
ratio = f"{statistics.median(ratios):.2f}"
if len(rows) > 1:
    ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
print(f"| {name} | {med(0):.0f} req/s (p99 {med(1):.2f} ms) | {med(3):.0f} ({med(4):.2f} ms) "
      f"| {med(6):.0f} ({med(7):.2f} ms) | {ratio} |")
errors = [sum(r[i] for r in rows) for i in (2, 5, 8)]
if any(errors):
    print("  (non-200 answers or errors in this row: certgate {:.0f}, nginx {:.0f}, HAProxy {:.0f})".format(*errors))
PY
done
