-- The OpenResty gate at scale: the example (its nginx.conf, dict sizes, policy and
-- demo PKI) with 2 workers, and thousands of generated clients of the demo's
-- issuing CA (spec/helpers/tls_clients.py, python3 + cryptography), each making a
-- full handshake and then resuming its TLS session. Resumption must not depend on
-- per-client memory, and handshakes of refused clients must change nothing.
-- Runs once (under lua5.4); nginx runs the LuaJIT build. CLIENTCERT_SCALE_CLIENTS
-- sets the number of clients (default 1,200: past the ~1,000 chains of the
-- example's 1 MiB dict, where one entry per client broke down).
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"

local CLIENTS = tonumber(os.getenv("CLIENTCERT_SCALE_CLIENTS") or "") or 1200
local PY = "python3 spec/helpers/tls_clients.py"

describe("the OpenResty gate with 2 workers and " .. CLIENTS .. " clients", function()
  local server, dir, pki, has_python

  -- counts[outcome] of one tls_clients.py run (its JSON: flat string -> number pairs)
  local function clients(args)
    local ok, out = live.run(("timeout 600 %s run %d %s"):format(PY, server.port, args))
    assert(ok, out)
    local counts = {}
    for k, n in out:match('"counts": (%b{})'):gmatch('"([^"]+)": (%d+)') do counts[k] = tonumber(n) end
    return counts, out
  end

  -- The learned-intermediates dict as this server's /dict location shows it:
  -- "<keys> <md5 of every key and value, sorted>".
  local function dict_state()
    local status, body = live.curl(server, "/dict", {})
    assert.are.equal(200, status, body)
    return body
  end

  setup(function()
    has_python = live.run("python3 -c 'import cryptography'")
    if not has_python then return end
    server = live.openresty{ workers = 2 }
    dir, pki = server.dir, server.pki
    -- an ungated location; a location that shows the chain dict
    live.add_locations(server, [[
    location = /open { return 200 "open\n"; }
    location = /dict {
      content_by_lua_block {
        local d = ngx.shared.clientcert_chains
        local keys = d:get_keys(0)
        table.sort(keys)
        local all = {}
        for _, k in ipairs(keys) do all[#all + 1] = k .. "=" .. ngx.md5(d:get(k) or "") end
        ngx.say(#keys, " ", ngx.md5(table.concat(all, ";")))
      }
    }
]])
    local ok, out = live.run(("%s gen %s %d %s/clients && %s junk %s/junk 40"):format(PY, live.q(pki), CLIENTS,
      live.q(dir), PY, live.q(dir)))
    assert(ok, out)
  end)

  teardown(function() live.discard(server) end)

  it("resumes the session of every client, from one learned CA entry shared by the workers", function()
    if not has_python then return pending("python3 with the cryptography package is needed") end
    assert.are.equal(2, #live.workers(server))
    local counts, out = clients(("%s/clients %d"):format(live.q(dir), CLIENTS))
    assert.are.equal(CLIENTS, counts["full 200 ok"], out)
    assert.are.equal(CLIENTS, counts["resumed 200 reused ok"], out)
    -- bounded by the number of CAs, not of clients: the one issuing CA
    assert.truthy(dict_state():match("^1 "), dict_state())
  end)

  it("changes nothing for refused handshakes: 40 self-signed leaves with 60 KB junk chains", function()
    if not has_python then return pending("python3 with the cryptography package is needed") end
    local before = dict_state()
    -- 200 clients make a full handshake; then the junk; then they resume
    local junk = ("%s run %d %s/junk 40 --names junk > %s/junk.json"):format(PY, server.port, live.q(dir), live.q(dir))
    local counts, out = clients(("%s/clients 200 --between %s"):format(live.q(dir), live.q(junk)))
    assert.are.equal(200, counts["full 200 ok"], out)
    assert.are.equal(200, counts["resumed 200 reused ok"], out)
    local jout = live.read(dir .. "/junk.json") or ""
    assert.truthy(jout:find('"full 403 403.16": 40', 1, true), jout)
    assert.are.equal(before, dict_state())
  end)

  it("resumes every session across a reload (nginx -s reload between the full handshakes and the resumptions)",
    function()
      if not has_python then return pending("python3 with the cryptography package is needed") end
      -- session tickets outlive a reload only with a key file of the operator's (nginx makes new keys at
      -- each load otherwise, and the clients make full handshakes: docs/gate.md)
      assert(live.run(("openssl rand 80 > %s/ticket.key"):format(live.q(dir))))
      live.reconfigure(server, function(c)
        local conf, k = c:gsub("(\n%s*ssl_session_cache [^\n]*)", ("%%1\n    ssl_session_ticket_key %s/ticket.key;")
          :format(dir), 1)
        assert(k == 1, "the example has no ssl_session_cache line")
        return conf
      end)
      local before = live.workers(server)
      -- HUP: new workers, with no per-worker memory (the intermediates they learned are gone); the chain
      -- dict is a shared zone that the reload keeps
      local n = math.min(CLIENTS, 1000)
      local reload = ("kill -HUP %d && sleep 1"):format(server.pid)
      local counts, out = clients(("%s/clients %d --between %s"):format(live.q(dir), n, live.q(reload)))
      local after = live.workers(server)
      assert.are.equal(2, #after)
      for _, pid in ipairs(after) do
        for _, old in ipairs(before) do assert.are_not.equal(old, pid, "no reload happened") end
      end
      assert.are.equal(n, counts["full 200 ok"], out)
      assert.are.equal(n, counts["resumed 200 reused ok"], out)
      assert.truthy(dict_state():match("^1 "), dict_state())
    end)

  it("resumes at a gated location a session whose full handshake was at an ungated one", function()
    if not has_python then return pending("python3 with the cryptography package is needed") end
    local counts, out = clients(("%s/clients 100 --full-path /open"):format(live.q(dir)))
    assert.are.equal(100, counts["full 200 ok"], out)
    assert.are.equal(100, counts["resumed 200 reused ok"], out)
  end)
end)
