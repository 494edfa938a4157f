#!/usr/bin/env bash
# make bench-nginx: requests per second of a gated location against a static one,
# in one run on the same nginx (the OpenResty example, one worker), with ab
# (apache2-utils; -E sends a client certificate chain and key), once with
# keepalive and once with a new connection and full handshake per request.
# The client is the demo PKI's alice, sending her issuing CA.
# usage: bash bench/nginx.sh [REQUESTS]   (default 3000; concurrency 4)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
command -v ab >/dev/null || { echo "bench/nginx.sh: ab not found (apt-get install apache2-utils)" >&2; exit 2; }
dir=$(mktemp -d /tmp/clientcert-bench-nginx.XXXXXX)
stop() {
  [ -s "$dir/logs/nginx.pid" ] && kill -QUIT "$(cat "$dir/logs/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$dir"
}
trap stop EXIT
bash examples/openresty/run.sh --quiet "$dir"
# an ungated location for comparison, and no per-request log lines for accepted clients
sed -i -e 's|    location / {|    location /static { return 200 "static\\n"; }\n    location / {|' \
       -e 's|error_log logs/error.log info;|error_log logs/error.log warn;|' "$dir/conf/nginx.conf"
kill -HUP "$(cat "$dir/logs/nginx.pid")"
sleep 1
port=$(cat "$dir/port")
cat "$dir/pki/alice-chain.pem" "$dir/pki/alice.key" > "$dir/alice-ab.pem"

rps() {  # rps PATH [ab options...]
  local path=$1; shift
  ab -q -n "$n" -c 4 "$@" -E "$dir/alice-ab.pem" "https://127.0.0.1:$port$path" 2>&1 \
    | awk '/^Requests per second/ {print $4} /^Non-2xx responses/ {bad=1} END {if (bad) print "non-2xx"}'
}
# warm up, then static / gated interleaved twice, keeping the better figure of each
rps /static -k >/dev/null; rps / -k >/dev/null
best() { local a=$1 b=$2; awk -v a="$a" -v b="$b" 'BEGIN {print (a > b ? a : b)}'; }
s1=$(rps /static -k); g1=$(rps / -k); s2=$(rps /static -k); g2=$(rps / -k)
sk=$(best "$s1" "$s2"); gk=$(best "$g1" "$g2")
s1=$(rps /static); g1=$(rps /); s2=$(rps /static); g2=$(rps /)
sn=$(best "$s1" "$s2"); gn=$(best "$g1" "$g2")
case "$sk$gk$sn$gn" in *non-2xx*) echo "bench/nginx.sh: some requests were not answered 200" >&2; exit 1 ;; esac
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), 1 worker, ab -c 4 -n $n, client alice (leaf + issuing CA, P-256)"
printf '%-34s %12s %12s %8s\n' "" "static r/s" "gated r/s" "ratio"
printf '%-34s %12.0f %12.0f %7.3fx\n' "keepalive" "$sk" "$gk" "$(awk -v a="$gk" -v b="$sk" 'BEGIN {print a / b}')"
printf '%-34s %12.0f %12.0f %7.3fx\n' "new handshake per request" "$sn" "$gn" "$(awk -v a="$gn" -v b="$sn" 'BEGIN {print a / b}')"
