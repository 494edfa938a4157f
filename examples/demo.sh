#!/usr/bin/env bash
# Makes the demo PKI and runs the demo check under Lua 5.4 and, when present, LuaJIT,
# with the installed clientcert (`sudo make install`).
# usage: bash examples/demo.sh [DIR]   (DIR defaults to a fresh temporary directory)
# The interpreters run inside DIR, never in the caller's directory: LuaJIT searches
# "./?.so" and "./?.lua" first, so a stray clientcert/core.so where the demo is
# started from (a checkout built in place, for one) must not replace the installed one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bash "$here/demo-pki.sh" "$dir" >/dev/null
cd "$dir"
lua5.4 "$here/demo.lua" "$dir"
if command -v luajit >/dev/null; then
  echo; echo "== the same under LuaJIT"
  luajit "$here/demo.lua" "$dir" | tail -n +2 | grep -E "ACCEPTED|REJECTED"
fi
