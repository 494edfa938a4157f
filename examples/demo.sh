#!/usr/bin/env bash
# Makes the demo PKI and runs the demo check under Lua 5.4 and, when present, LuaJIT.
# usage: bash examples/demo.sh [DIR]   (DIR defaults to a fresh temporary directory)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d)}
bash "$here/demo-pki.sh" "$dir" >/dev/null
lua5.4 "$here/demo.lua" "$dir"
if command -v luajit >/dev/null; then
  echo; echo "== the same under LuaJIT"
  luajit "$here/demo.lua" "$dir" | tail -n +2 | grep -E "ACCEPTED|REJECTED"
fi
