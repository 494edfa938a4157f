-- The fetch's deadline bounds the resolution of a host name over nginx's cosockets
-- too: nginx resolves with its `resolver` under `resolver_timeout` (30 s by
-- default), and revocation.cosocket_fetch gives up at its own deadline. Real
-- components: nginx with the lua module whose `resolver` is a fake DNS server
-- (spec/fixtures/fake_dns.py: silent, NXDOMAIN, a good answer), and an HTTP peer
-- that answers 500 (spec/fixtures/listener.py), all stopped by pid.
local live = require "helpers.live"

local q = live.q

local HTTP = [[
  resolver 127.0.0.1:@DNS@ ipv6=off;
  lua_shared_dict clientcert_revocation 1m;
  init_by_lua_block {
    local clientcert = require "clientcert"
    local store = assert(clientcert.store{ roots = "@PREFIX@/root.pem" })
    package.loaded.rev_policy = clientcert.policy{ trust = store, revocation = { timeout = 0.5 } }
  }
  server {
    listen 127.0.0.1:@GATE@ ssl;
    ssl_certificate @PREFIX@/server.pem;
    ssl_certificate_key @PREFIX@/server.key;
    ssl_verify_client optional_no_ca;
    location / {
      access_by_lua_block {
        require("clientcert.nginx").enforce(package.loaded.rev_policy, { revocation_dict = "clientcert_revocation" })
      }
      content_by_lua_block { ngx.say("ok ", ngx.ctx.clientcert.cause) }
    }
  }
  server {
    listen 127.0.0.1:@PORT@;
    location /fetch {
      content_by_lua_block {
        local revocation = require "clientcert.revocation"
        ngx.update_time()
        local t0 = ngx.now()
        local body, err = revocation.cosocket_fetch("http://" .. ngx.var.arg_host .. ":@PEER@/x", nil,
          tonumber(ngx.var.arg_t), 65536)
        ngx.update_time()
        ngx.say(("%.2f %s"):format(ngx.now() - t0, tostring(body and "body" or err)))
      }
    }
    location /check {
      content_by_lua_block {
        local clientcert = require "clientcert"
        local store = assert(clientcert.store{ roots = "@PREFIX@/root.pem" })
        local p = clientcert.policy{ trust = store, revocation = { timeout = 0.5 } }
        local f = assert(io.open("@PREFIX@/leaf-silent.pem", "rb"))
        local pem = f:read("*a")
        f:close()
        ngx.update_time()
        local t0 = ngx.now()
        local v = p:check{ cert = pem, time = ngx.time() }
        ngx.update_time()
        ngx.say(("%.2f %s %s"):format(ngx.now() - t0, v.cause, v.message))
      }
    }
  }]]

describe("revocation.cosocket_fetch (nginx): name resolution within the deadline", function()
  local dir, fake, peer, nginx

  setup(function()
    dir = live.tempdir("clientcert-dnsnginx")
    fake = live.fake_dns(dir, 120)
    live.fixture(dir .. "/pki", "dnsnames.sh")
    -- (a port may be taken before its server binds it: 3 tries on new ones)
    live.tries(function()
      local port = live.free_port()
      peer = live.listener(dir, "http500", port, 120)
      local gate = live.free_port()
      local files = {}
      for i, f in ipairs({ "root.pem", "leaf-silent.pem", "server.pem", "server.key" }) do
        files[i] = dir .. "/pki/" .. f
      end
      nginx = live.nginx(HTTP:gsub("@PEER@", tostring(port)):gsub("@DNS@", tostring(fake.port))
        :gsub("@GATE@", tostring(gate)), files, { lua = true })
      nginx.gate = gate
    end, function()
      live.discard(nginx)
      live.stop(peer)
    end)
  end)

  teardown(function()
    live.discard(nginx)
    live.stop(peer)
    live.stop(fake)
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  local function get(path)
    local _, out = live.run(("curl -s --max-time 40 'http://127.0.0.1:%d%s'"):format(nginx.port, path))
    local secs, what = out:match("^([%d.]+) (.-)%s*$")
    assert.is_not_nil(secs, out)
    return tonumber(secs), what
  end

  it("a resolver that never answers: timed out at the deadline (1 s), not at resolver_timeout (30 s)", function()
    local secs, what = get("/fetch?host=silent.revocation.test&t=1")
    assert.equals("timed out after 1 s resolving or connecting to silent.revocation.test", what)
    assert.is_true(secs >= 0.9 and secs < 2, secs)
    -- again, while nginx's resolver still waits for the first query
    secs, what = get("/fetch?host=silent2.revocation.test&t=0.5")
    assert.equals("timed out after 0.5 s resolving or connecting to silent2.revocation.test", what)
    assert.is_true(secs < 1.5, secs)
  end)

  it("the worker goes on: a name that resolves is fetched, NXDOMAIN is said at once", function()
    local secs, what = get("/fetch?host=local.revocation.test&t=3")
    assert.equals("HTTP 500", what)
    assert.is_true(secs < 2, secs)
    secs, what = get("/fetch?host=nx.revocation.test&t=3")
    assert.matches("^cannot connect: nx%.revocation%.test could not be resolved", what)
    assert.is_true(secs < 2, secs)
  end)

  it("policy in nginx (cosockets by default): revocation_unknown within the deadlines", function()
    local secs, what = get("/check")
    assert.matches("^revocation_unknown ", what)
    assert.matches("timed out after 0.5 s resolving or connecting to silent.revocation.test", what, 1, true)
    -- two sources, one URL each: at most 2 x timeout, plus 1 s
    assert.is_true(secs < 2, secs)
  end)

  it("the gate (access phase, shared dict): 403 revocation_unknown within the deadlines, logged", function()
    local pki = dir .. "/pki"
    local _, code = live.run(("curl -s --max-time 40 -k --cert %s --key %s -o /dev/null "
      .. "-w '%%{http_code} %%{time_total}' https://127.0.0.1:%d/"):format(q(pki .. "/leaf-silent.pem"),
      q(pki .. "/leaf-silent.key"), nginx.gate))
    local status, secs = code:match("(%d+) ([%d.]+)")
    assert.equals("403", status, code)
    assert.is_true(tonumber(secs) < 2, code)
    assert.is_true(live.wait_for(function()
      local log = live.read(nginx.log) or ""
      return log:find("clientcert: revocation_unknown", 1, true) ~= nil
        and log:find("timed out after 0.5 s resolving or connecting to silent.revocation.test", 1, true) ~= nil
    end, 5), live.read(nginx.log))
  end)

  it("leaves nothing alarming in nginx's error log", function()
    local log = live.read(nginx.log) or ""
    assert.is_nil(log:find("[alert]", 1, true), log)
    assert.is_nil(log:find("[crit]", 1, true), log)
    assert.is_nil(log:find("exited on signal", 1, true), log)
    assert.equals(1, #live.workers(nginx))
  end)
end)
