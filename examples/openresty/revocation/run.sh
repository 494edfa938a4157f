#!/usr/bin/env bash
# Starts the revocation example on 127.0.0.1: a test PKI whose client certificates
# name an OCSP responder and a CRL distribution point on local ports
# (spec/fixtures/revocation.sh), `openssl ocsp` as the responder (a delegated
# responder certificate), python3's http.server for the CRLs and CA certificates,
# and nginx (2 workers) with the gate and policy.lua's revocation block. Prints the
# curl command for each case and what the server answers; the last line says how
# to stop everything (each server is also bounded by `timeout 3600`).
#
# usage: bash examples/openresty/revocation/run.sh [--quiet] [PREFIX]
# Needs: nginx libnginx-mod-http-lua lua-resty-core, openssl, python3, curl; the
# checkout built (make) or clientcert installed (make install).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
quiet=0 prefix=
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
    *) prefix=$a ;;
  esac
done
for c in nginx openssl python3 curl; do
  command -v "$c" >/dev/null || { echo "run.sh: $c not found" >&2; exit 2; }
done
[ -n "$prefix" ] || prefix=$(mktemp -d /tmp/clientcert-revocation.XXXXXX)
mkdir -p "$prefix/logs" "$prefix/conf" "$prefix/tmp"
prefix=$(cd "$prefix" && pwd)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ocsp=$(free_port) http=$(free_port) dead=$(free_port) hang=$(free_port) trap=$(free_port) port=$(free_port)

bash "$root/spec/fixtures/revocation.sh" "$prefix/pki" "$ocsp" "$http" "$dead" "$hang" "$trap" > /dev/null
cp "$here/policy.lua" "$prefix/policy.lua"
paths=""
if [ -f "$root/build/luajit/clientcert/core.so" ]; then
  rm -rf "$prefix/app" && mkdir -p "$prefix/app/lib"
  cp -R "$root/lua" "$prefix/app/lua" && cp -R "$root/build/luajit/clientcert" "$prefix/app/lib/"
  paths="lua_package_path \"$prefix/app/lua/?.lua;$prefix/app/lua/?/init.lua;;\"; lua_package_cpath \"$prefix/app/lib/?.so;;\";"
fi
chmod 755 "$prefix" && chmod -R a+rX "$prefix"

# the responder and the CRL server, each bounded in time; their pids in PREFIX/*.pid
(cd "$prefix/pki" && exec timeout 3600 openssl ocsp -index index.txt -port "$ocsp" -rsigner responder.pem \
  -rkey responder.key -CA inter.pem -nmin 60) > "$prefix/logs/ocsp.log" 2>&1 < /dev/null &
echo $! > "$prefix/ocsp.pid"
timeout 3600 python3 -u -m http.server --bind 127.0.0.1 "$http" --directory "$prefix/pki/www" \
  > "$prefix/logs/http.log" 2>&1 < /dev/null &
echo $! > "$prefix/http.pid"
for _ in $(seq 1 100); do
  grep -q ACCEPT "$prefix/logs/ocsp.log" 2>/dev/null && grep -q Serving "$prefix/logs/http.log" 2>/dev/null && break
  sleep 0.05
done

sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@LUA_PATHS@|$paths|" "$here/nginx.conf" > "$prefix/conf/nginx.conf"
if ! timeout 20 nginx -p "$prefix/" -c conf/nginx.conf -e logs/error.log 2> "$prefix/logs/start.log"; then
  echo "run.sh: nginx did not start:" >&2
  cat "$prefix/logs/start.log" >&2
  kill "$(cat "$prefix/ocsp.pid")" "$(cat "$prefix/http.pid")" 2>/dev/null || true
  exit 1
fi
for _ in $(seq 1 50); do [ -s "$prefix/logs/nginx.pid" ] && break; sleep 0.1; done
echo "$port" > "$prefix/port"
stop="nginx -p $prefix/ -c conf/nginx.conf -s quit; kill \$(cat $prefix/ocsp.pid $prefix/http.pid)"
[ "$quiet" = 1 ] && exit 0

pki="$prefix/pki"
show() {  # show DESCRIPTION LEAF
  local cmd="curl -s --cacert $pki/root.pem --cert $pki/$2.pem --key $pki/$2.key https://127.0.0.1:$port/"
  printf '\n# %s\n%s\n' "$1" "$cmd"
  $cmd -w '  -> HTTP %{http_code}\n' -o "$prefix/tmp/body" || true
  head -c 200 "$prefix/tmp/body" | head -n 1 | sed 's/^/     /'
}
echo "clientcert revocation example on https://127.0.0.1:$port (prefix $prefix)"
echo "OCSP responder http://127.0.0.1:$ocsp/, CRLs and CA certificates http://127.0.0.1:$http/"
show "good: the responder answers good (cached in the shared dict until its nextUpdate)" leaf-good
show "revoked at the responder and in the CRL: 403.13"                             leaf-revoked
show "revoked at the responder only: OCSP is asked first, 403.13"                 leaf-ocsponly
show "the responder says unknown; its CRL says nothing against it: accepted"      leaf-unknown
show "its responder and CRL server are down: 403.16 revocation_unknown"           leaf-dead
echo
echo "the log names where each answer came from: grep revocation= $prefix/logs/error.log"
echo "stop: $stop"
