#!/usr/bin/env bash
# The side-by-side of issue 18: certgate serve, nginx and HAProxy doing the same
# client-certificate check on one pinned CPU each, oha on the other, one loopback backend.
#
#   benches/peers/run.sh [--seconds 10] [--rate REQ_PER_S]
#
# --rate offers every gateway the same load (oha -q, latency corrected for coordinated
# omission) instead of as much as it takes; the last column is then certgate's p99 over
# the better peer's (lower is better), the issue's "p99 no worse at the same load".
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
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--rate REQ_PER_S]" >&2; exit 2 ;;
  esac
done
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
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); gateways on CPU $gateway_cpu, oha and the backend on CPU $load_cpu; ${seconds} s per run${rate:+; $rate req/s offered}"
echo
if [[ -n "$rate" ]]; then
  echo "| mode | certgate serve | nginx | HAProxy | certgate p99 / better peer's |"
else
  echo "| mode | certgate serve | nginx | HAProxy | certgate / better peer |"
fi
echo "|---|---|---|---|---|"
for mode in "${modes[@]}"; do
  name=${mode%%|*}; args=${mode#*|}
  read -r c_rps c_p99 c_err < <(run $certgate_port $args)
  read -r n_rps n_p99 n_err < <(run $nginx_port $args)
  read -r h_rps h_p99 h_err < <(run $haproxy_port $args)
  if [[ -n "$rate" ]]; then
    ratio=$(python3 -c "print(f'{$c_p99 / max(min($n_p99, $h_p99), 0.001):.2f}')")
  else
    better=$(( n_rps > h_rps ? n_rps : h_rps ))
    ratio=$(python3 -c "print(f'{$c_rps / max($better, 1):.2f}')")
  fi
  echo "| $name | $c_rps req/s (p99 $c_p99 ms) | $n_rps ($n_p99 ms) | $h_rps ($h_p99 ms) | $ratio |"
  for e in "$c_err" "$n_err" "$h_err"; do
    [[ "$e" == 0 ]] || echo "  (non-200 answers or errors in this row: certgate $c_err, nginx $n_err, HAProxy $h_err)"
    break
  done
done
