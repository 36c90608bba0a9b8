#!/usr/bin/env bash
# The side-by-side of issue 18: certgate serve, nginx and HAProxy doing the same
# client-certificate check on one pinned CPU each, oha on the other, one loopback backend.
#
#   benches/peers/run.sh [--seconds 10]
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
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
done

tools=(nginx haproxy oha taskset curl)
source "$(dirname "$0")/setup.sh"

# certgate: the demo deployment, request log to a file as nginx's access log below.
taskset -c "$gateway_cpu" "$certgate" serve --config "$dep" \
  --listen "127.0.0.1:$certgate_port" >"$work/certgate.log" 2>&1 &
pids+=($!)

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port ssl http2;
    keepalive_requests 1000000;
    ssl_certificate $dep/tls/server.pem;
    ssl_certificate_key $dep/tls/server.key;
    ssl_client_certificate $work/cas.pem;
    ssl_crl $work/crls.pem;
    ssl_verify_client on;
    ssl_verify_depth 3;
    location / {
      if (\$ssl_client_fingerprint != "$thumb_lower") { return 403; }
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://backend;
    }
  }
}
CONF
taskset -c "$gateway_cpu" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)

cat "$dep/tls/server.pem" "$dep/tls/server.key" >"$work/haproxy-server.pem"
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend gate
  bind 127.0.0.1:$haproxy_port ssl crt $work/haproxy-server.pem ca-file $work/cas.pem crl-file $work/crls.pem verify required alpn h2,http/1.1
  http-request deny deny_status 403 unless { ssl_c_sha1,hex -m str $thumbprint }
  default_backend api
backend api
  server b1 127.0.0.1:$backend_port
CONF
taskset -c "$gateway_cpu" haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!)

for port in $certgate_port $nginx_port $haproxy_port; do
  wait_for_200 "$port" 100 0.1
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$client/ca.pem" \
    --cert "$client/revoked.pem" --key "$client/revoked.key" "https://localhost:$port/echo" || true)
  [[ "$code" != 200 ]] || { echo "error: port $port lets a revoked certificate through" >&2; exit 1; }
done

# One oha run: prints "req/s p99_ms errors".
run() {
  local port=$1; shift
  taskset -c "$load_cpu" oha -z "${seconds}s" --no-tui --output-format json \
    --cacert "$client/ca.pem" --cert "$client/good.pem" --key "$client/good.key" \
    "$@" "https://localhost:$port/echo" >"$work/oha.json"
  python3 - "$work/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ok = r["statusCodeDistribution"].get("200", 0)
other = sum(v for k, v in r["statusCodeDistribution"].items() if k != "200") + sum(r["errorDistribution"].values())
print(f'{r["summary"]["requestsPerSec"]:.0f} {r["latencyPercentiles"]["p99"] * 1000:.2f} {other}')
PY
}

modes=("HTTP/1.1 keep-alive, 32 connections|-c 32"
       "new TLS connection per request, 8 clients|-c 8 --disable-keepalive"
       "HTTP/2, 8 connections x 8 streams|-c 8 -p 8 --http2")
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); gateways on CPU $gateway_cpu, oha and the backend on CPU $load_cpu; ${seconds} s per run"
echo
echo "| mode | certgate serve | nginx | HAProxy | certgate / better peer |"
echo "|---|---|---|---|---|"
for mode in "${modes[@]}"; do
  name=${mode%%|*}; args=${mode#*|}
  read -r c_rps c_p99 c_err < <(run $certgate_port $args)
  read -r n_rps n_p99 n_err < <(run $nginx_port $args)
  read -r h_rps h_p99 h_err < <(run $haproxy_port $args)
  better=$(( n_rps > h_rps ? n_rps : h_rps ))
  ratio=$(python3 -c "print(f'{$c_rps / max($better, 1):.2f}')")
  echo "| $name | $c_rps req/s (p99 $c_p99 ms) | $n_rps ($n_p99 ms) | $h_rps ($h_p99 ms) | $ratio |"
  for e in "$c_err" "$n_err" "$h_err"; do
    [[ "$e" == 0 ]] || echo "  (non-200 answers or errors in this row: certgate $c_err, nginx $n_err, HAProxy $h_err)"
    break
  done
done
