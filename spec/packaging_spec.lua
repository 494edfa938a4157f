-- Packaging (issue 8, item 14): `make install` puts both runtimes' files and the
-- command in place without building in the checkout, `make uninstall` removes
-- them, `luarocks make` leaves nothing in the checkout outside build/, and the
-- demo runs in its own directory, whatever the caller's holds.
-- Subprocesses run without LD_PRELOAD (make asan preloads ASan into this busted).
-- It drives make and luarocks from outside (both runtimes' files at once), so it runs
-- once (under lua5.4), not once per runtime, and not in the memory checks (Makefile).
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local q = require("helpers.sh").quote

-- ok, output = run(cmd): cmd's success and its stdout+stderr.
local function run(cmd)
  local f = assert(io.popen("env -u LD_PRELOAD sh -c " .. q(cmd) .. " 2>&1; echo \"__rc=$?\""))
  local out = f:read("*a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc == 0, (out:gsub("__rc=%d+%s*$", ""))
end

local function tmpdir()
  local ok, out = run("mktemp -d /tmp/cc-pkg.XXXXXX")
  assert(ok, out)
  return (out:gsub("%s+$", ""))
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local ROOT = (function()
  local ok, out = run("pwd")
  assert(ok, out)
  return (out:gsub("%s+$", ""))
end)()

local LUA_FILES = (function()
  local ok, out = run("cd lua/clientcert && ls *.lua cli/*.lua")
  assert(ok, out)
  local t = {}
  for name in out:gmatch("%S+") do t[#t + 1] = name end
  return t
end)()

-- Every path in the checkout outside build/, .git and the specs' output, sorted
-- (no git needed: a checkout may come from a tarball).
local function checkout_files()
  local ok, out = run("find . \\( -path ./build -o -path ./.git -o -path ./spec/fixtures/out \\) -prune "
    .. "-o -print | LC_ALL=C sort")
  assert(ok, out)
  return out
end

describe("packaging", function()
  it("make install puts both runtimes and the command under DESTDIR/PREFIX; make uninstall removes them", function()
    local dest = tmpdir()
    local ok, out = run("make -s install DESTDIR=" .. q(dest) .. " PREFIX=/usr/local")
    assert.is_true(ok, out)
    local p = dest .. "/usr/local"
    for _, rt in ipairs({ "5.4", "5.1" }) do
      assert.is_true(exists(p .. "/lib/lua/" .. rt .. "/clientcert/core.so"), rt .. " core.so")
      for _, name in ipairs(LUA_FILES) do
        assert.is_true(exists(p .. "/share/lua/" .. rt .. "/clientcert/" .. name), rt .. " " .. name)
      end
    end
    assert.is_true(exists(p .. "/bin/clientcert"))
    -- each runtime loads its own installed module, from a directory holding the
    -- other runtime's module where LuaJIT looks first ("./?.so")
    local decoy = tmpdir()
    ok, out = run("mkdir -p " .. q(decoy .. "/clientcert") .. " && cp build/lua5.4/clientcert/core.so "
      .. q(decoy .. "/clientcert/core.so"))
    assert.is_true(ok, out)
    for _, rt in ipairs({ { "lua5.4", "5.4", "_5_4" }, { "luajit", "5.1", "" } }) do
      local env = ("LUA_PATH%s=%s LUA_CPATH%s=%s"):format(rt[3],
        q(p .. "/share/lua/" .. rt[2] .. "/?.lua;" .. p .. "/share/lua/" .. rt[2] .. "/?/init.lua;;"), rt[3],
        q(p .. "/lib/lua/" .. rt[2] .. "/?.so;;"))
      ok, out = run("cd " .. q(decoy) .. " && " .. env .. " " .. rt[1]
        .. " -e 'local c = require \"clientcert\"; io.write(c.version, \" \", "
        .. "package.searchpath(\"clientcert.core\", package.cpath))'")
      assert.is_true(ok, out)
      assert.matches(p .. "/lib/lua/" .. rt[2] .. "/clientcert/core.so", out, 1, true)
    end
    ok, out = run("cd " .. q(decoy) .. " && LUA_PATH_5_4="
      .. q(p .. "/share/lua/5.4/?.lua;" .. p .. "/share/lua/5.4/?/init.lua;;") .. " LUA_CPATH_5_4="
      .. q(p .. "/lib/lua/5.4/?.so;;") .. " " .. q(p .. "/bin/clientcert") .. " --help")
    assert.is_true(ok, out)
    assert.matches("Usage", out)
    ok, out = run("make -s uninstall DESTDIR=" .. q(dest) .. " PREFIX=/usr/local")
    assert.is_true(ok, out)
    ok, out = run("find " .. q(dest) .. " -name '*clientcert*' -o -name core.so")
    assert.is_true(ok, out)
    assert.equals("", out)
    run("rm -rf " .. q(dest) .. " " .. q(decoy))
  end)

  it("luarocks make builds into build/ and leaves nothing else in the checkout", function()
    local before = checkout_files()
    local tree, cfg = tmpdir(), tmpdir() .. "/config.lua"
    -- argparse, the one rock the rockspec depends on, comes as a Debian package; tell
    -- LuaRocks so (no network). lua-cjson is not declared: only the specs use it.
    local f = assert(io.open(cfg, "w"))
    f:write('rocks_provided = { argparse = "0.7.1-1" }\n')
    f:close()
    local ok, out = run("LUAROCKS_CONFIG=" .. q(cfg) .. " luarocks --lua-version=5.4 --tree=" .. q(tree)
      .. " make clientcert-scm-1.rockspec")
    assert.is_true(ok, out)
    assert.not_matches("Missing dependencies", out, 1, true)
    assert.is_true(exists(tree .. "/lib/lua/5.4/clientcert/core.so"))
    for _, name in ipairs(LUA_FILES) do assert.is_true(exists(tree .. "/share/lua/5.4/clientcert/" .. name), name) end
    assert.is_false(exists("clientcert/core.so"))
    assert.equals(before, checkout_files())
    run("rm -rf " .. q(tree) .. " " .. q(cfg:match("^(.*)/")))
  end)

  it("the demo runs both runtimes in its own directory, not the caller's", function()
    local bin, caller, dir = tmpdir(), tmpdir(), tmpdir()
    -- interpreters that note where they run and use the checkout's build
    local wrap = {
      ["lua5.4"] = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
        q(ROOT .. "/build/lua5.4/?.so;;")),
      luajit = ("LUA_PATH=%s LUA_CPATH=%s"):format(q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"),
        q(ROOT .. "/build/luajit/?.so;;")),
    }
    for name, env in pairs(wrap) do
      local real = assert(select(2, run("command -v " .. name)):match("^(%S+)"))
      local f = assert(io.open(bin .. "/" .. name, "w"))
      f:write("#!/bin/sh\npwd >> " .. q(bin .. "/cwd") .. "\nexport " .. env .. "\nexec " .. q(real) .. ' "$@"\n')
      f:close()
      assert(run("chmod +x " .. q(bin .. "/" .. name)))
    end
    -- the caller's directory holds the Lua 5.4 module where LuaJIT looks first
    assert(run("mkdir -p " .. q(caller .. "/clientcert") .. " && cp build/lua5.4/clientcert/core.so "
      .. q(caller .. "/clientcert/core.so")))
    local ok, out = run("cd " .. q(caller) .. " && PATH=" .. q(bin) .. ":$PATH bash " .. q(ROOT .. "/examples/demo.sh")
      .. " " .. q(dir))
    assert.is_true(ok, out)
    local _, n = out:gsub("ACCEPTED", "")
    local _, m = out:gsub("REJECTED", "")
    assert.equals(2, n)
    assert.equals(6, m)
    local f = assert(io.open(bin .. "/cwd"))
    local cwd = f:read("*a")
    f:close()
    assert.equals(dir .. "\n" .. dir .. "\n", cwd)
    run("rm -rf " .. q(bin) .. " " .. q(caller) .. " " .. q(dir))
  end)

  it("the rockspec declares only what lua/ and bin/ require (lua-cjson is for the specs)", function()
    local ok, src = run("cat lua/clientcert/*.lua lua/clientcert/cli/*.lua bin/clientcert")
    assert(ok, src)
    local required = {}
    for name in src:gmatch("require%s*%(?%s*[\"']([%w_%.%-]+)[\"']") do required[name] = true end
    local spec = assert(io.open("clientcert-scm-1.rockspec")):read("*a")
    local deps = {}
    for name in assert(spec:match("\ndependencies = (%b{})")):gmatch('"([%w_%-]+)') do
      if name ~= "lua" then deps[#deps + 1] = name end
    end
    assert.is_true(#deps > 0)
    for _, name in ipairs(deps) do assert.is_true(required[name], name .. " is declared but never required") end
    assert.is_nil(required.cjson)
  end)
end)
