#!/usr/bin/env bash
# Starts the OpenResty example on 127.0.0.1 (a free port) in a temporary prefix:
# a demo PKI with dates around now, examples/openresty/policy.lua, nginx.conf with
# the gate. Then prints, for each cause, the curl command that shows it and what
# the server answers. nginx keeps running; the last line says how to stop it.
#
# usage: bash examples/openresty/run.sh [--quiet] [--installed] [--workers=N] [PREFIX]
#   PREFIX       directory to run in (default: a new one under /tmp); made readable
#                by nginx's workers, which run as nobody when nginx starts as root
#   --installed  use clientcert as installed by `make install` (default: the
#                checkout's lua/ and build/luajit/ when built, else the installed one)
#   --workers=N  nginx worker processes (default: nginx.conf's worker_processes)
#   --quiet      start only; print nothing but errors (the integration suite's mode)
# Needs: nginx libnginx-mod-http-lua lua-resty-core (Debian 12), curl, openssl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quiet=0 installed=0 prefix= workers=
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    --installed) installed=1 ;;
    --workers=[1-9]|--workers=[1-9][0-9]) workers=${a#--workers=} ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $a" >&2; exit 2 ;;
    *) prefix=$a ;;
  esac
done
command -v nginx >/dev/null || { echo "run.sh: nginx not found (apt-get install nginx libnginx-mod-http-lua lua-resty-core)" >&2; exit 2; }
[ -n "$prefix" ] || prefix=$(mktemp -d /tmp/clientcert-openresty.XXXXXX)
mkdir -p "$prefix/logs" "$prefix/conf"
prefix=$(cd "$prefix" && pwd)

bash "$here/make-pki.sh" "$prefix/pki" >/dev/null
cp "$here/policy.lua" "$prefix/policy.lua"
paths=""
if [ "$installed" = 0 ] && [ -f "$root/build/luajit/clientcert/core.so" ]; then
  rm -rf "$prefix/app" && mkdir -p "$prefix/app/lib"
  cp -R "$root/lua" "$prefix/app/lua" && cp -R "$root/build/luajit/clientcert" "$prefix/app/lib/"
  paths="lua_package_path \"$prefix/app/lua/?.lua;$prefix/app/lua/?/init.lua;;\"; lua_package_cpath \"$prefix/app/lib/?.so;;\";"
fi
chmod 755 "$prefix"
chmod -R a+rX "$prefix"

started=0
for _ in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@LUA_PATHS@|$paths|" \
      ${workers:+-e "s|^worker_processes [^;]*;|worker_processes $workers;|"} "$here/nginx.conf" > "$prefix/conf/nginx.conf"
  # a failed start (its port taken) leaves the application's unix socket behind
  rm -f "$prefix/logs/nginx.pid" "$prefix/logs/app.sock"
  if timeout 20 nginx -p "$prefix/" -c conf/nginx.conf -e logs/error.log 2> "$prefix/logs/start.log"; then
    started=1
    break
  fi
  grep -q "Address already in use" "$prefix/logs/start.log" "$prefix/logs/error.log" 2>/dev/null || break
done
if [ "$started" = 0 ]; then
  echo "run.sh: nginx did not start:" >&2
  cat "$prefix/logs/start.log" >&2
  tail -5 "$prefix/logs/error.log" >&2 2>/dev/null || true
  exit 1
fi
for _ in $(seq 1 50); do [ -s "$prefix/logs/nginx.pid" ] && break; sleep 0.1; done
[ -s "$prefix/logs/nginx.pid" ] || { echo "run.sh: nginx wrote no pid file" >&2; exit 1; }
echo "$port" > "$prefix/port"
[ "$quiet" = 1 ] && exit 0

url="https://127.0.0.1:$port"
pki="$prefix/pki"
show() {  # show DESCRIPTION CERT-FILE KEY-FILE [PATH [CURL-ARGS]]
  # the server's certificate is checked against the demo root (never -k)
  local cmd="curl -s --cacert $pki/root.pem"
  [ -n "$2" ] && cmd="$cmd --cert $pki/$2 --key $pki/$3"
  [ -n "${5:-}" ] && cmd="$cmd $5"
  cmd="$cmd $url${4:-/}"
  printf '\n# %s\n%s\n' "$1" "$cmd"
  local out status
  out=$($cmd -w '\n%{http_code}' 2>&1) || true
  status=${out##*$'\n'}
  printf '  -> HTTP %s: %s\n' "$status" "$(printf '%s\n' "$out" | head -n 1)"
}
echo "clientcert OpenResty example on $url (prefix $prefix)"
show "good client, sends its issuing CA"              alice-chain.pem alice.key
show "missing_intermediate: sends only its leaf"      alice.pem alice.key
show "no_certificate (require)"                       "" ""
show "no_certificate accepted (optional location)"    "" "" /optional
show "expired (nginx's 495, answered by the gate)"    old-chain.pem old.key
show "not_yet_valid"                                  future-chain.pem future.key
show "untrusted_root: a CA the server does not trust" oscar-chain.pem oscar.key
show "untrusted_root: a forged root with a trusted root's name" forger-chain.pem forger.key
show "revoked leaf"                                   mallory-chain.pem mallory.key
show "revoked intermediate"                           dave-chain.pem dave.key
show "wrong_purpose: a serverAuth-only certificate"   server-only-chain.pem server-only.key
show "denied_by_rule: the policy's rule turns bob away" bob-chain.pem bob.key
url_ip=$url url="https://localhost:$port"   # a TLS server name (curl sends none for an IP address)
show "sni_mismatch: a Host that is not the TLS server name (421)" alice-chain.pem alice.key / \
  "--resolve localhost:$port:127.0.0.1 -H Host:other.localhost"
url=$url_ip
printf '\nmetrics: curl -s --cacert %s/root.pem %s/metrics\n' "$pki" "$url"
printf 'logs: %s/logs/error.log (refusals: cause, verdict, operator steps), %s/logs/access.log (JSON: cause, status, fingerprint)\n' "$prefix" "$prefix"
echo "stop: kill -QUIT \$(cat $prefix/logs/nginx.pid)"
