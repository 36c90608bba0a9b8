# Sourced by run.sh and instructions.sh: the demo PKI and deployment, one loopback
# backend, and the names both scripts use. Expects `tools` (the commands the caller
# needs) and leaves the backend running until the caller exits.

for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (see the header of $0)" >&2; exit 1; }
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /tmp/certgate-peers.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

gateway_cpu=0
load_cpu=1
backend_port=18080
certgate_port=18443
nginx_port=18444
haproxy_port=18445

# CERTGATE names a binary to measure (a build with line tables, another commit's);
# without it, the release build of this checkout.
if [[ -n "${CERTGATE:-}" ]]; then
  certgate=$CERTGATE
else
  echo "# building certgate (release)" >&2
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin certgate
  certgate="${CARGO_TARGET_DIR:-$root/target}/release/certgate"
fi

echo "# writing the demo PKI and deployment to $work/demo" >&2
"$certgate" demo --dir "$work/demo" --listen 127.0.0.1:0 >"$work/demo.log" 2>&1 &
demo=$!
for _ in $(seq 100); do [[ -s "$work/demo/client/good.key" ]] && break; sleep 0.1; done
kill "$demo"; wait "$demo" 2>/dev/null || true
dep="$work/demo/deployment"
client="$work/demo/client"
sed -i "s|^backend = .*|backend = \"http://127.0.0.1:$backend_port\"|" "$dep/gateway.toml"
cat "$dep/ca/root/"*.pem "$dep/ca/intermediate/"*.pem >"$work/cas.pem"
# PEM CRLs, one after the other, as nginx and HAProxy read them.
cat "$dep/crl/"*.crl >"$work/crls.pem"
thumbprint=$(openssl x509 -in "$client/good.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
thumb_lower=$(tr 'A-F' 'a-f' <<<"$thumbprint")

# The backend: nginx answering 200 itself, on the load generator's CPU.
mkdir -p "$work/backend"
cat >"$work/backend/nginx.conf" <<CONF
worker_processes 1;
pid $work/backend/nginx.pid;
error_log $work/backend/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$backend_port;
    keepalive_requests 1000000;
    location / { return 200 "ok\n"; }
  }
}
CONF
# Waits until `https://localhost:PORT/echo` answers 200 to the good client certificate,
# trying TRIES times DELAY seconds apart; fails the script if it never does.
wait_for_200() {
  local port=$1 tries=$2 delay=$3 code=""
  for _ in $(seq "$tries"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$client/ca.pem" \
      --cert "$client/good.pem" --key "$client/good.key" "https://localhost:$port/echo" || true)
    [[ "$code" == 200 ]] && return 0
    sleep "$delay"
  done
  echo "error: port $port answers $code, not 200" >&2
  exit 1
}

# Writes $work/nginx/nginx.conf: nginx doing the check on nginx_port, then `proxy` to the
# backend over a kept-alive pool or, with `answer`, answering 200 itself (the front half
# alone, as answer_in_policy makes certgate's).
nginx_config() {
  local then
  case "$1" in
    proxy) then='proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://backend;' ;;
    answer) then='return 200 "ok\n";' ;;
    *) echo "error: nginx_config takes proxy or answer, not $1" >&2; exit 2 ;;
  esac
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
# One process doing the work, whose CPU time cpu.sh can read.
master_process off;
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
      $then
    }
  }
}
CONF
}

# certgate's policy answers 200 itself where it forwarded: the front half alone (TLS,
# HTTP, the check, the log line), with no backend leg.
answer_in_policy() {
  sed -i 's#<forward-request />#<return-response><set-status code="200" reason="OK" /><set-body>ok</set-body></return-response>#' \
    "$dep/policies/global.xml"
  grep -q '<return-response><set-status code="200"' "$dep/policies/global.xml" ||
    { echo "error: no <forward-request /> to replace in $dep/policies/global.xml" >&2; exit 1; }
}

taskset -c "$load_cpu" nginx -p "$work/backend" -c "$work/backend/nginx.conf" -g 'daemon off;' &
pids+=($!)
