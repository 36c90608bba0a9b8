# Sourced after setup.sh by run.sh and cpu.sh: the three gateways doing the same
# client-certificate check, each pinned to the gateway CPU, in front of setup.sh's
# backend; sets certgate_pid, nginx_pid and haproxy_pid, and returns once each answers
# the good certificate with 200 and refuses the revoked one. With answer=1 each answers
# 200 itself after the check instead of proxying (the front half alone).

answering=${answer:-0}
(( answering )) && answer_in_policy

# certgate: the demo deployment, request log to a file as nginx's access log below.
taskset -c "$gateway_cpu" "$certgate" serve --config "$dep" \
  --listen "127.0.0.1:$certgate_port" >"$work/certgate.log" 2>&1 &
certgate_pid=$!
pids+=("$certgate_pid")

nginx_config "$( (( answering )) && echo answer || echo proxy)"
taskset -c "$gateway_cpu" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")

cat "$dep/tls/server.pem" "$dep/tls/server.key" >"$work/haproxy-server.pem"
cat >"$work/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
  # A line per request, as nginx's access log and certgate's request log write.
  log stdout format raw local0 info
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend gate
  bind 127.0.0.1:$haproxy_port ssl crt $work/haproxy-server.pem ca-file $work/cas.pem crl-file $work/crls.pem verify required alpn h2,http/1.1
  http-request deny deny_status 403 unless { ssl_c_sha1,hex -m str $thumbprint }
$( (( answering )) && echo '  http-request return status 200 content-type text/plain string "ok"')
  default_backend api
backend api
  server b1 127.0.0.1:$backend_port
CONF
taskset -c "$gateway_cpu" haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=("$haproxy_pid")

for port in $certgate_port $nginx_port $haproxy_port; do
  wait_for_200 "$port" 100 0.1
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$client/ca.pem" \
    --cert "$client/revoked.pem" --key "$client/revoked.key" "https://localhost:$port/echo" || true)
  [[ "$code" != 200 ]] || { echo "error: port $port lets a revoked certificate through" >&2; exit 1; }
done
