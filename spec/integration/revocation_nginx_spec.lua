-- Revocation fetched inside nginx (worker_processes 2): the gate asks the OCSP
-- responder and the CRL distribution point over cosockets, keeps the answers in a
-- lua_shared_dict shared by the workers, and a slow responder for one client does
-- not delay another. Real components only: nginx with the lua module, `openssl
-- ocsp`, python3's http.server, spec/fixtures/listener.py, curl.
local live = require "helpers.live"

local q = live.q

-- the http block of the gate's nginx (live.nginx with the lua module, 2 workers)
local HTTP = [[
  lua_shared_dict clientcert_revocation 1m;
  init_by_lua_block {
    local clientcert = require "clientcert"
    local store = assert(clientcert.store{ roots = "@PKI@/root.pem", intermediates = "@PKI@/inter.pem" })
    package.loaded.rev_policy = clientcert.policy{ trust = store, revocation = { timeout = 2 } }
  }
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_certificate @PKI@/server.pem;
    ssl_certificate_key @PKI@/server.key;
    ssl_verify_client optional_no_ca;
    location / {
      access_by_lua_block {
        require("clientcert.nginx").enforce(package.loaded.rev_policy, { revocation_dict = "clientcert_revocation" })
      }
      content_by_lua_block { ngx.say("ok ", ngx.ctx.clientcert.cause) }
    }
  }]]

describe("the gate with revocation = {...} (nginx, 2 workers)", function()
  local dir, pki, ports, servers, nginx

  local function curl(leaf, max)
    local out = os.tmpname()
    local _, code = live.run(("curl -s --max-time %d --cacert %s --cert %s --key %s -o %s "
      .. "-w '%%{http_code} %%{time_total}' https://127.0.0.1:%d/"):format(max or 10, q(pki .. "/root.pem"),
      q(pki .. "/" .. leaf .. ".pem"), q(pki .. "/" .. leaf .. ".key"), q(out), nginx.port))
    local body = live.read(out) or ""
    os.remove(out)
    local status, secs = code:match("(%d+) ([%d.]+)")
    return tonumber(status), body, tonumber(secs)
  end

  setup(function()
    dir = live.tempdir("clientcert-revnginx")
    pki = dir .. "/pki"
    -- a free port can be taken by another process before a server binds it: a
    -- failed start makes the PKI and the servers again on other ports (3 tries)
    live.tries(function()
      ports = {}
      for _, k in ipairs({ "ocsp", "http", "dead", "hang", "trap" }) do ports[k] = live.free_port() end
      live.fixture(pki, "revocation.sh", ports.ocsp, ports.http, ports.dead, ports.hang, ports.trap)
      servers = {}
      servers.ocsp = live.start{ dir = pki, name = "ocsp", ready = "ACCEPT", cmd = ("openssl ocsp -index index.txt "
        .. "-port %d -rsigner responder.pem -rkey responder.key -CA inter.pem -nmin 60"):format(ports.ocsp) }
      servers.http = live.start{ dir = pki, name = "http", ready = "Serving HTTP",
        cmd = ("python3 -u -m http.server --bind 127.0.0.1 %d --directory www"):format(ports.http) }
      servers.hang = live.listener(pki, "hang", ports.hang)
      live.run("chmod -R a+rX " .. q(dir))        -- readable by nginx's workers
      nginx = live.nginx(HTTP:gsub("@PKI@", pki), {}, { lua = true, workers = 2 })
    end, function()
      live.discard(nginx)
      for _, s in pairs(servers or {}) do live.stop(s) end
    end)
  end)

  teardown(function()
    live.discard(nginx)
    for _, s in pairs(servers or {}) do live.stop(s) end
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  it("accepts a good client and refuses a revoked one (403.13), the log naming source and URL", function()
    local status, body = curl("leaf-good")
    assert.equals(200, status, body)
    assert.matches("ok ok", body, 1, true)
    status, body = curl("leaf-revoked")
    assert.equals(403, status)
    assert.matches("revoked", body, 1, true)
    local line = ("revocation=ocsp,http://127.0.0.1:%d/"):format(ports.ocsp)
    assert.is_true(live.wait_for(function() return (live.read(nginx.log) or ""):find(line, 1, true) ~= nil end, 5),
      "no log line naming the source and URL")
    status, body = curl("leaf-dead")
    assert.equals(403, status)
    assert.matches("Revocation status unknown", body, 1, true)
  end)

  it("answers a client's second request from the shared cache with the responder stopped", function()
    assert.equals(200, (curl("leaf-good")))
    live.stop(servers.ocsp)
    live.stop(servers.http)
    for _ = 1, 4 do -- both workers: the answer is in the shared dict
      local status, body = curl("leaf-good")
      assert.equals(200, status, body)
    end
  end)

  it("a slow responder for client A does not delay a cached client B", function()
    assert.equals(200, (curl("leaf-good")))
    -- four requests of A wait on the listener that never answers (2 s timeout each)
    local pids = {}
    for i = 1, 4 do
      local _, out = live.run(("(curl -s --max-time 10 --cacert %s --cert %s --key %s -o /dev/null "
        .. "https://127.0.0.1:%d/ > /dev/null 2>&1 & echo $!)"):format(q(pki .. "/root.pem"),
        q(pki .. "/leaf-hang.pem"), q(pki .. "/leaf-hang.key"), nginx.port))
      pids[i] = out:match("%d+")
    end
    live.run(("for i in $(seq 1 100); do [ $(grep -c connection %s) -ge 2 ] && break; sleep 0.02; done")
      :format(q(pki .. "/hang.conns")))
    local status, body, secs = curl("leaf-good")
    assert.equals(200, status, body)
    assert.is_true(secs < 0.5, ("B took %s s while A waited"):format(secs))
    for _, pid in ipairs(pids) do live.run("wait " .. pid .. " 2>/dev/null; kill " .. pid .. " 2>/dev/null") end
  end)
end)
