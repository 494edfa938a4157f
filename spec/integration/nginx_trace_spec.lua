-- The gate's keepalive path as LuaJIT compiles it, in a real nginx (the OpenResty
-- example, 1 worker, its "/" location: sni = "match", metrics, short_var): over
-- 1,200 requests no trace starting at gate.enforce, nor any recording through its
-- lines, is aborted (a loop in its path, or more IR constants than LuaJIT's maxirconst:
-- then each request runs in pieces with the interpreter between them, 2,000-4,000
-- instructions more; docs/gate.md, "Speed and memory"). Runs once (under lua5.4);
-- nginx runs the LuaJIT build.
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"

describe("the gate's keepalive path in LuaJIT, in a real nginx", function()
  local server, dir, pki

  setup(function()
    server = live.openresty({ workers = 1 })
    dir, pki = server.dir, server.pki
    local conf = dir .. "/conf/nginx.conf"
    local c = live.read(conf)
    -- every trace abort of the worker's VM, with where its trace started
    local n
    c, n = c:gsub("  init_by_lua_block {\n", function() return [[
  init_by_lua_block {
    do
      local util, vmdef = require "jit.util", require "jit.vmdef"
      local starts, aborts = {}, {}
      package.loaded.spec_trace_aborts = aborts
      local function where(func, pc)
        local i = util.funcinfo(func, pc)
        return (i.source or "?") .. ":" .. tostring(i.currentline), i
      end
      require("jit").attach(function(what, tr, func, pc, otr, oex)
        if what == "start" then
          starts[tr] = where(func, pc)
        elseif what == "abort" then
          local at = where(func, pc)
          local fmt = vmdef.traceerr[otr] or tostring(otr)
          local ok, msg = pcall(string.format, fmt, oex)
          aborts[#aborts + 1] = { start = starts[tr] or "?", at = at, msg = ok and msg or fmt }
        end
      end, "trace")
    end
]] end, 1)
    assert(n == 1, "no init_by_lua_block in the example")
    -- /trace-aborts: the aborts so far, and enforce's lines and first instruction
    c, n = c:gsub("    location / {", function() return [[
    location = /trace-aborts {
      content_by_lua_block {
        local aborts = package.loaded.spec_trace_aborts
        local enforce = require("clientcert.nginx").enforce
        local info = require("jit.util").funcinfo(enforce)
        local op = require("jit.util").funcbc(enforce, 0) % 256
        ngx.say("enforce ", info.source, " ", info.linedefined, " ", info.lastlinedefined, " ",
          require("jit.vmdef").bcnames:sub(op * 6 + 1, op * 6 + 6):match("%S+"))
        for _, a in ipairs(aborts) do ngx.say("abort ", a.start, " | ", a.at, " | ", a.msg) end
      }
    }
    location / {]] end, 1)
    assert(n == 1, "no location / in the example")
    live.write(conf, c)
    live.reload(server)
  end)

  teardown(function() live.discard(server) end)

  -- n requests to "/" on one keepalive connection (curl reuses it for each URL)
  local function keepalive(n)
    local url = ("https://127.0.0.1:%d/"):format(server.port)
    local ok, out = live.run(("curl -s -k --max-time 60 --cert %s --key %s -w '%%{http_code}\\n' %s")
      :format(live.q(pki .. "/alice-chain.pem"), live.q(pki .. "/alice.key"),
        (("-o /dev/null " .. url .. " "):rep(n))))
    assert(ok, out)
    local _, ok200 = out:gsub("200\n", "")
    assert.are.equal(n, ok200, out)
  end

  local function report()
    local status, body = live.curl(server, "/trace-aborts", {})
    assert.are.equal(200, status, body)
    local source, first, last, op = body:match("^enforce (%S+) (%d+) (%d+) (%S+)")
    assert(source, body)
    local aborts = {}
    for line in body:gmatch("abort ([^\n]*)") do aborts[#aborts + 1] = line end
    return { source = source, first = tonumber(first), last = tonumber(last), op = op, aborts = aborts }, body
  end

  it("compiles enforce's path of an accepted keepalive request into a root trace, never aborted", function()
    for _ = 1, 8 do keepalive(150) end          -- LuaJIT compiles what is hot, from the first request on
    local r, body = report()
    assert.are_not.equal("IFUNCF", r.op, body)   -- (enforce blacklisted: its traces were aborted again and again)
    local file = r.source:match("[^/]+$")
    for _, a in ipairs(r.aborts) do
      local start, at = a:match("^(%S+) | (%S+) | ")
      local function in_enforce(loc)
        local f, line = (loc or ""):match("([^/]+):(%d+)$")
        line = tonumber(line)
        return f == file and line and line >= r.first and line <= r.last
      end
      assert.falsy(in_enforce(start) or in_enforce(at), "a trace through enforce was aborted: " .. a .. "\n" .. body)
    end
  end)
end)
