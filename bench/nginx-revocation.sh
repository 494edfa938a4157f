#!/usr/bin/env bash
# make bench-nginx (revocation row): keepalive requests per second of a gated
# location with revocation = {...} (answers from the shared dict after the first
# request) against the same gate without revocation, in the revocation example
# (examples/openresty/revocation/run.sh: nginx with 2 workers, openssl ocsp, a CRL
# server). Client: leaf-good (P-256). Rounds alternate; medians of 3 rounds.
# usage: bash bench/nginx-revocation.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
command -v ab >/dev/null || { echo "bench/nginx-revocation.sh: ab not found (apt-get install apache2-utils)" >&2; exit 2; }
dir=$(mktemp -d /tmp/clientcert-benchrev.XXXXXX)
bash examples/openresty/revocation/run.sh --quiet "$dir"
stop() {
  nginx -p "$dir/" -c conf/nginx.conf -s quit 2>/dev/null || true
  kill "$(cat "$dir/ocsp.pid")" "$(cat "$dir/http.pid")" 2>/dev/null || true
}
trap stop EXIT
port=$(cat "$dir/port")
# the same gate without revocation, beside the example's location
mkdir -p "$dir/html" && echo static > "$dir/html/static.txt" && chmod -R a+rX "$dir/html"
sed -i -e "s|    location / {|    location = /rev { access_by_lua_block { require('clientcert.nginx').enforce(package.loaded.revocation_policy, { revocation_dict = 'clientcert_revocation' }) } alias $dir/html/static.txt; }\n    location = /plain { access_by_lua_block { require('clientcert.nginx').enforce(package.loaded.plain_policy) } alias $dir/html/static.txt; }\n    location / {|" \
  -e "s|^  init_by_lua_block {|  init_by_lua_block {\n    package.loaded.plain_policy = require('clientcert').policy{ trust = assert(require('clientcert').store{ roots = '$dir/pki/root.pem', intermediates = '$dir/pki/inter.pem' }) }|" \
  "$dir/conf/nginx.conf"
nginx -p "$dir/" -c conf/nginx.conf -s reload
sleep 1
cat "$dir/pki/leaf-good.pem" "$dir/pki/leaf-good.key" > "$dir/ab.pem"
rps() {  # rps PATH
  ab -q -k -n "$n" -c 4 -E "$dir/ab.pem" "https://127.0.0.1:$port$1" 2>&1 | awk '/^Requests per second/ { print $4 }'
}
rps /rev > /dev/null; rps /plain > /dev/null
r=() p=()
for _ in 1 2 3; do p+=("$(rps /plain)"); r+=("$(rps /rev)"); done
grep -q 'revocation=' "$dir/logs/error.log" 2>/dev/null || true
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
mp=$(median "${p[@]}") mr=$(median "${r[@]}")
echo "revocation in nginx (2 workers, ab -k -c 4, leaf-good, answers from the shared dict): medians of 3 alternated rounds"
printf '%-44s %10s %10s %8s %8s\n' "" "plain r/s" "rev r/s" "ratio" "target"
printf '%-44s %10s %10s %8s %8s\n' "keepalive, gate with / without revocation" "$mp" "$mr" \
  "$(awk -v a="$mr" -v b="$mp" 'BEGIN { printf "%.2fx", a / b }')" ">= 0.9x"
echo "rounds (plain/rev r/s): ${p[*]} / ${r[*]}"
