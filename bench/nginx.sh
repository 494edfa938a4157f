#!/usr/bin/env bash
# make bench-nginx: requests per second of a gated location against a static one,
# in one run on the same nginx (the OpenResty example, its worker_processes), with ab
# (apache2-utils; -E sends a client certificate chain and key), once with
# keepalive and once with a new connection and full handshake per request.
# Both locations serve the same small file; the gated one adds only the gate
# (access_by_lua: gate.enforce with the example's policy and options: metrics,
# the short $clientcert for the JSON access log, which both locations write, no
# error-log line for an accepted client). The client is the demo PKI's alice,
# sending her issuing CA.
# Rounds alternate static and gated; the figures are the medians of 3 rounds.
# usage: bash bench/nginx.sh [REQUESTS]   (default 3000 with keepalive, a third of
# that with a handshake per request; concurrency 4)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
nh=$(( n / 3 ))
command -v ab >/dev/null || { echo "bench/nginx.sh: ab not found (apt-get install apache2-utils)" >&2; exit 2; }
dir=$(mktemp -d /tmp/clientcert-bench-nginx.XXXXXX)
stop() {
  [ -s "$dir/logs/nginx.pid" ] && kill -QUIT "$(cat "$dir/logs/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap stop EXIT
bash examples/openresty/run.sh --quiet "$dir"
mkdir -p "$dir/html" && echo static > "$dir/html/static.txt" && chmod -R a+rX "$dir/html"
# the two locations, and no per-request error-log lines for accepted clients
gate='require("clientcert.nginx").enforce(package.loaded.gate_policies.require, { chain_dict = "clientcert_chains", short_var = "clientcert", metrics = "clientcert_metrics", log_accepted = false, sni = "match" })'
sed -i -e "s|    location / {|    location = /static { alias $dir/html/static.txt; }\n    location = /gated { access_by_lua_block { $gate } alias $dir/html/static.txt; }\n    location / {|" \
       -e 's|error_log logs/error.log info;|error_log logs/error.log warn;|' "$dir/conf/nginx.conf"
kill -HUP "$(cat "$dir/logs/nginx.pid")"
sleep 1
port=$(cat "$dir/port")
cat "$dir/pki/alice-chain.pem" "$dir/pki/alice.key" > "$dir/alice-ab.pem"

rps() {  # rps PATH N [ab options...]
  local path=$1 count=$2; shift 2
  ab -q -n "$count" -c 4 "$@" -E "$dir/alice-ab.pem" "https://127.0.0.1:$port$path" 2>&1 \
    | awk '/^Requests per second/ {print $4} /^Non-2xx responses/ {bad=1} END {if (bad) print "non-2xx"}'
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
# warm up, then static / gated alternated, 3 rounds of each
rps /static "$n" -k >/dev/null; rps /gated "$n" -k >/dev/null
s=(); g=(); sh=(); gh=()
for _ in 1 2 3; do
  s+=("$(rps /static "$n" -k)"); g+=("$(rps /gated "$n" -k)")
done
for _ in 1 2 3; do
  sh+=("$(rps /static "$nh")"); gh+=("$(rps /gated "$nh")")
done
case "${s[*]}${g[*]}${sh[*]}${gh[*]}" in *non-2xx*) echo "bench/nginx.sh: some requests were not answered 200" >&2; exit 1 ;; esac
grep -F '"GET /gated ' "$dir/logs/access.log" > "$dir/gated.log" || true
grep -qF '"clientcert":"ok 200 ' "$dir/gated.log" || { echo "bench/nginx.sh: the gate did not log an accepted verdict" >&2; exit 1; }
sk=$(median3 "${s[@]}"); gk=$(median3 "${g[@]}"); sn=$(median3 "${sh[@]}"); gn=$(median3 "${gh[@]}")
workers=$(sed -n 's/^worker_processes \([0-9]*\);.*/\1/p' "$dir/conf/nginx.conf")
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), $workers worker(s), ab -c 4, client alice (leaf + issuing CA, P-256); medians of 3 alternated rounds"
printf '%-40s %12s %12s %8s %8s\n' "" "static r/s" "gated r/s" "ratio" "target"
printf '%-40s %12.0f %12.0f %7.3fx %8s\n' "keepalive ($n requests)" "$sk" "$gk" \
  "$(awk -v a="$gk" -v b="$sk" 'BEGIN {print a / b}')" ">= 0.5x"
printf '%-40s %12.0f %12.0f %7.3fx %8s\n' "new handshake per request ($nh requests)" "$sn" "$gn" \
  "$(awk -v a="$gn" -v b="$sn" 'BEGIN {print a / b}')" ">= 0.9x"
echo "rounds (static/gated r/s): keepalive ${s[*]} / ${g[*]}; new handshake ${sh[*]} / ${gh[*]}"
