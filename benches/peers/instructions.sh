#!/usr/bin/env bash
# Instructions per request of `certgate serve` (or nginx), counted by callgrind:
# repeatable on a shared, noisy machine where req/s move by a tenth between runs. The
# setup of run.sh (the demo deployment, the APIM article's policy, a loopback nginx
# backend, oha with the good client certificate); the gateway runs under callgrind twice,
# for FEW and for MANY requests, and (MANY - FEW) / (MANY - FEW requests) leaves out
# start-up, loading and the connections' handshakes.
#
#   benches/peers/instructions.sh [--http2] [--answer] [--gateway certgate|nginx]
#                                 [--few 1000] [--many 3000] [--keep DIR]
#
# --http2 sends 4 connections x 8 streams, else 8 HTTP/1.1 connections. --answer makes
# the gateway answer 200 itself after the check instead of proxying (the front half
# alone; a full count minus this one is the backend leg). --gateway nginx counts nginx
# doing the same check as run.sh's (`master_process off`: one process). --keep copies
# the two callgrind files to DIR (`callgrind_annotate --inclusive=yes DIR/many.out`
# shows where a request's instructions go; CERTGATE=a build with line tables names
# the lines). Needs valgrind, nginx, oha, curl (see run.sh). Several minutes: callgrind
# runs the gateway about fifty times slower.
set -euo pipefail

few=1000
many=3000
http2=0
answer=0
gateway=certgate
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --http2) http2=1; shift ;;
    --answer) answer=1; shift ;;
    --gateway) gateway="$2"; shift 2 ;;
    --few) few="$2"; shift 2 ;;
    --many) many="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) echo "usage: $0 [--http2] [--answer] [--gateway certgate|nginx] [--few N] [--many N] [--keep DIR]" >&2; exit 2 ;;
  esac
done
(( many > few )) || { echo "error: --many must be above --few" >&2; exit 2; }

tools=(valgrind nginx oha taskset curl)
source "$(dirname "$0")/setup.sh"

case "$gateway" in
  certgate)
    (( answer )) && answer_in_policy
    port=$certgate_port
    command=("$certgate" serve --config "$dep" --listen "127.0.0.1:$port")
    stop=INT # certgate drains and exits, and callgrind writes its counts
    ;;
  nginx)
    nginx_config "$( (( answer )) && echo answer || echo proxy)"
    port=$nginx_port
    command=(nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;')
    stop=QUIT # nginx's graceful shutdown
    ;;
  *) echo "error: --gateway is certgate or nginx, not $gateway" >&2; exit 2 ;;
esac

if (( http2 )); then load=(-c 4 -p 8 --http2); else load=(-c 8); fi

# The gateway under callgrind for `requests` requests; prints the instructions it ran.
count() {
  local requests=$1 out="$work/callgrind.$1.out"
  taskset -c "$gateway_cpu" valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${command[@]}" >"$work/gateway.$requests.log" 2>&1 &
  local pid=$!
  wait_for_200 "$port" 600 0.5
  taskset -c "$load_cpu" oha -n "$requests" --no-tui --output-format json "${load[@]}" \
    --cacert "$client/ca.pem" --cert "$client/good.pem" --key "$client/good.key" \
    "https://localhost:$port/echo" >"$work/oha.$requests.json"
  python3 - "$work/oha.$requests.json" "$requests" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["statusCodeDistribution"].get("200", 0)
if ok != int(sys.argv[2]):
    sys.exit(f"error: {ok} of {sys.argv[2]} requests answered 200: {r['statusCodeDistribution']} {r['errorDistribution']}")
PY
  kill -"$stop" "$pid"
  wait "$pid" || true
  [[ -n "$keep" ]] && { mkdir -p "$keep"; cp "$out" "$keep/$([[ $requests == "$few" ]] && echo few || echo many).out"; }
  sed -n 's/^summary: \([0-9]*\).*/\1/p; s/^totals: \([0-9]*\).*/\1/p' "$out" | head -1
}

echo "# $gateway under callgrind, $few then $many requests ($(if (( http2 )); then echo 'HTTP/2, 4 x 8 streams'; else echo 'HTTP/1.1, 8 connections'; fi)$( (( answer )) && echo ', answering itself'))" >&2
low=$(count "$few")
high=$(count "$many")
python3 -c "print(f'{($high - $low) / ($many - $few):,.0f} instructions per request ($high - $low over {$many - $few:,} requests)')"
