#!/usr/bin/env bash
# make bench-nginx: requests per second of a gated location against a static one,
# in one run on the same nginx (the OpenResty example: its worker_processes, dict
# sizes and policy, whose verdict cache holds 10,000 clients), with ab
# (apache2-utils; -E sends a client certificate chain and key), once with
# keepalive and once with a new connection and full handshake per request.
# Three locations serve the same small file: static; "empty", with an
# access_by_lua handler that does nothing (the floor: what any Lua handler costs);
# gated, which adds only the gate (access_by_lua: gate.enforce with the example's
# policy and options: metrics, sni = "match", the short $clientcert for the JSON
# access log, which all write, no error-log line for an accepted client). The
# client is the demo PKI's alice, sending her issuing CA.
# Then BENCH_NGINX_CLIENTS (default 10,000) generated clients of the demo's issuing
# CA: each connects once as a real TLS client (a full handshake and a request to
# the gated location, then a resumed session), which the workers share out; then
# every worker checks all of them (its verdict cache full: the example's size);
# then keepalive again. Each worker's verdict-cache entries, Lua heap and RSS
# are shown before and after, and their growth per entry.
# Rounds alternate static, empty and gated (reversed every other round); figures
# are medians of BENCH_NGINX_ROUNDS (default 5) rounds, ratios medians of each
# round's ratios; the nginx workers' CPU time per request (/proc/PID/schedstat)
# is shown too: unlike requests/s it does not depend on what else the machine runs.
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
# with 10,000 cached clients (BENCH_NGINX_CLIENTS; 0: not): generated clients of the
# demo's issuing CA (spec/helpers/tls_clients.py, python3 + cryptography)
clients=${BENCH_NGINX_CLIENTS:-10000}
if [ "$clients" -gt 0 ] && ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "bench/nginx.sh: python3 with the cryptography package not found: no run with $clients cached clients" >&2
  clients=0
fi
if [ "$clients" -gt 0 ]; then
  python3 spec/helpers/tls_clients.py gen "$dir/pki" "$clients" "$dir/clients"
  chmod -R a+rX "$dir/clients"
fi
# /bench-stats: this worker's pid, verdict-cache entries, Lua heap (KB, after a full
# collection) and RSS (KB); /bench-fill: this worker checks every generated client
# once with the gated location's policy (as the gate does on a miss: certificate
# objects, the issuing CA sent), so that its verdict cache holds them
cat > "$dir/bench-stats.lua" <<'LUA'
collectgarbage() collectgarbage()
local info = require("clientcert.nginx").current(package.loaded.gate_policies.require):cache_info()
local f = io.open("/proc/self/statm")
local pages = tonumber(f:read("*l"):match("^%d+ (%d+)"))
f:close()
ngx.say(ngx.worker.pid(), " ", info and info.count or 0, " ", math.floor(collectgarbage("count")), " ", pages * 4)
LUA
cat > "$dir/bench-fill.lua" <<LUA
local clientcert = require "clientcert"
if not package.loaded.bench_filled then
  local policy = require("clientcert.nginx").current(package.loaded.gate_policies.require)
  local function read(path) local f = assert(io.open(path)) local s = f:read("*a") f:close() return s end
  local inter = assert(clientcert.parse(read("$dir/pki/inter.pem")))
  for i = 0, $clients - 1 do
    local leaf = assert(clientcert.parse(read(("$dir/clients/c%05d.pem"):format(i))))
    assert(policy:check({ cert = leaf, chain = { inter }, time = ngx.time(), deployment = "gate" }).accepted)
  end
  package.loaded.bench_filled = true
end
ngx.say(ngx.worker.pid())
LUA
chmod a+r "$dir"/bench-*.lua
# the locations (the example logs at warn: no per-request error-log line for an accepted client)
gate='require("clientcert.nginx").enforce(package.loaded.gate_policies.require, { chain_dict = "clientcert_chains", short_var = "clientcert", metrics = "clientcert_metrics", log_accepted = false, sni = "match" })'
sed -i -e "s|    location / {|    location = /static { alias $dir/html/static.txt; }\n    location = /bench-stats { content_by_lua_file $dir/bench-stats.lua; }\n    location = /bench-fill { content_by_lua_file $dir/bench-fill.lua; }\n    location = /empty { access_by_lua_block { local _ = 1 } alias $dir/html/static.txt; }\n    location = /gated { access_by_lua_block { $gate } alias $dir/html/static.txt; }\n    location / {|" "$dir/conf/nginx.conf"
kill -HUP "$(cat "$dir/logs/nginx.pid")"
sleep 1
port=$(cat "$dir/port")
cat "$dir/pki/alice-chain.pem" "$dir/pki/alice.key" > "$dir/alice-ab.pem"

# nginx workers' CPU time so far, ns (/proc/PID/schedstat: not the load's, only theirs)
cpu_ns() {
  local t=0 pid
  for pid in $(pgrep -P "$(cat "$dir/logs/nginx.pid")"); do
    t=$((t + $(cut -d' ' -f1 "/proc/$pid/schedstat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
rps() {  # rps PATH N [ab options...]: "<requests/s> <workers' CPU µs per request>"
  local path=$1 count=$2 t0 out; shift 2
  t0=$(cpu_ns)
  out=$(ab -q -n "$count" -c 4 "$@" -E "$dir/alice-ab.pem" "https://127.0.0.1:$port$path" 2>&1 \
    | awk '/^Requests per second/ {print $4} /^Non-2xx responses/ {bad=1} END {if (bad) print "non-2xx"}')
  echo "$out $(( ($(cpu_ns) - t0) / count / 1000 ))"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
bad=0
# row LABEL N TARGET [ab options...]: ROUNDS rounds of static, empty and gated
# (the order reversed every other round); the ratios are medians of each round's ratios
row() {
  local label=$1 count=$2 target=$3; shift 3
  local s=() e=() g=() rg=() re=() rge=() cs=() ce=() cg=() a b c i
  for i in $(seq 1 "$rounds"); do
    if [ $((i % 2)) = 1 ]; then a=$(rps /static "$count" "$@"); b=$(rps /empty "$count" "$@"); c=$(rps /gated "$count" "$@")
    else c=$(rps /gated "$count" "$@"); b=$(rps /empty "$count" "$@"); a=$(rps /static "$count" "$@"); fi
    case "$a$b$c" in *non-2xx*) bad=1; continue ;; esac
    s+=("${a% *}"); e+=("${b% *}"); g+=("${c% *}"); cs+=("${a#* }"); ce+=("${b#* }"); cg+=("${c#* }")
    rg+=("$(ratio "${c% *}" "${a% *}")"); re+=("$(ratio "${b% *}" "${a% *}")"); rge+=("$(ratio "${c% *}" "${b% *}")")
  done
  [ "${#s[@]}" -gt 0 ] || { echo "bench/nginx.sh: no round of '$label' was answered 200" >&2; exit 1; }
  printf '%-44s %9.0f %9.0f %9.0f %8sx %8sx %8sx %7s\n' "$label" "$(median "${s[@]}")" "$(median "${e[@]}")" \
    "$(median "${g[@]}")" "$(median "${re[@]}")" "$(median "${rg[@]}")" "$(median "${rge[@]}")" "$target"
  printf '%-44s %9s %9s %9s\n' "  nginx workers' CPU µs per request" "$(median "${cs[@]}")" "$(median "${ce[@]}")" \
    "$(median "${cg[@]}")"
  detail+=("$label: static ${s[*]} / empty ${e[*]} / gated ${g[*]} r/s; gated/static ${rg[*]}; CPU µs static ${cs[*]} / empty ${ce[*]} / gated ${cg[*]}")
}
# stats: one line per worker (asked until both answered, each on a new connection):
# "<pid> <verdict-cache entries> <Lua heap KB after a full collection> <RSS KB>"
stats() {
  local seen="" i line
  for i in $(seq 1 60); do
    line=$(curl -s --cacert "$dir/pki/root.pem" "https://127.0.0.1:$port/bench-stats") || continue
    case " $seen " in *" ${line%% *} "*) ;; *) seen="$seen ${line%% *}"; echo "$line" ;; esac
    [ "$(echo $seen | wc -w)" -ge "$workers" ] && break
  done
}
# fill: every worker's verdict cache checks the CLIENTS generated clients (policy:check
# as the gate calls it, with their certificate objects), asked until each answered
fill() {
  local seen="" i line
  for i in $(seq 1 60); do
    line=$(curl -s --max-time 300 --cacert "$dir/pki/root.pem" "https://127.0.0.1:$port/bench-fill") || continue
    case " $seen " in *" ${line%% *} "*) ;; *) seen="$seen ${line%% *}" ;; esac
    [ "$(echo $seen | wc -w)" -ge "$workers" ] && break
  done
}

workers=$(sed -n 's/^worker_processes \([0-9]*\);.*/\1/p' "$dir/conf/nginx.conf")
rounds=${BENCH_NGINX_ROUNDS:-5}
detail=()
# warm up
rps /static "$n" -k >/dev/null; rps /empty "$n" -k >/dev/null; rps /gated "$n" -k >/dev/null
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), $workers worker(s) (the OpenResty example's configuration), ab -c 4, client alice (leaf + issuing CA, P-256)"
echo "medians of $rounds rounds (static, empty access_by_lua and gated alternated); ratios: medians of each round's ratios"
echo "load average before: $(load)"
printf '%-44s %9s %9s %9s %9s %9s %9s %7s\n' "" "static" "empty" "gated" "empty/st" "gated/st" "gated/em" "target"
row "keepalive ($n requests)" "$n" ">= 0.8x" -k
row "new handshake per request ($nh requests)" "$nh" "noise" 
# per-entry: the growth from one stats file to another, per worker (same pid)
per_entry() {
  awk 'NR == FNR {e[$1] = $2; h[$1] = $3; r[$1] = $4; next}
       ($1 in e) && $2 > e[$1] {printf "  worker %s: %d entries more, %.2f KB of Lua heap and %.2f KB of RSS per entry\n",
         $1, $2 - e[$1], ($3 - h[$1]) / ($2 - e[$1]), ($4 - r[$1]) / ($2 - e[$1])}' "$1" "$2"
}
if [ "$clients" -gt 0 ]; then
  echo "per worker: pid, verdict-cache entries, Lua heap KB (after a full collection), RSS KB"
  stats > "$dir/stats0"; sed 's/^/  before: /' "$dir/stats0"
  # each client once through TLS as a real client: a full handshake and a request at the
  # gated location, then a resumed session at / (gated too); the workers share them out
  python3 spec/helpers/tls_clients.py run "$port" "$dir/clients" "$clients" --full-path /gated --threads 4 \
    > "$dir/tls-run.json"
  grep -qF "\"full 200 ok\": $clients" "$dir/tls-run.json" || { echo "bench/nginx.sh: not every generated client was accepted: $(cat "$dir/tls-run.json")" >&2; exit 1; }
  stats > "$dir/stats1"; sed "s/^/  after $clients clients over TLS: /" "$dir/stats1"
  per_entry "$dir/stats0" "$dir/stats1"
  fill
  stats > "$dir/stats2"; sed "s/^/  after every worker checked all $clients: /" "$dir/stats2"
  per_entry "$dir/stats0" "$dir/stats2"
  row "keepalive, $clients cached clients ($n requests)" "$n" ">= 0.8x" -k
  stats | sed 's/^/  after the run: /'
fi
echo "load average after: $(load)"
[ "$bad" = 0 ] || { echo "bench/nginx.sh: some requests were not answered 200" >&2; exit 1; }
grep -F '"GET /gated ' "$dir/logs/access.log" > "$dir/gated.log" || true
grep -qF '"clientcert":"ok 200 ' "$dir/gated.log" || { echo "bench/nginx.sh: the gate did not log an accepted verdict" >&2; exit 1; }
printf '%s\n' "${detail[@]}"
