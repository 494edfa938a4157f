-- The gate's per-connection memo in a real nginx (the OpenResty example, 2
-- workers): the keepalive requests of a TLS connection whose client was accepted
-- are served that verdict again within the same second, and it fails closed: a
-- policy reloaded within that second to refuse the client refuses it on the same
-- connection, and a certificate whose notAfter passes while the connection stays
-- open is refused on it. spec/helpers/keepalive.py drives one connection step by
-- step. Runs once (under lua5.4); nginx runs the LuaJIT build.
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"
local cjson = require "cjson"

describe("the gate's per-connection memo in a real nginx", function()
  local server, dir, pki, has_python

  -- The responses of keepalive.py's steps on one connection.
  local function connection(cert, key, steps)
    local args = {}
    for i, s in ipairs(steps) do args[i] = live.q(s) end
    local ok, out = live.run(("timeout 60 python3 spec/helpers/keepalive.py %d %s %s %s"):format(server.port,
      live.q(cert), live.q(key), table.concat(args, " ")))
    local responses = {}
    for line in out:gmatch("[^\n]+") do
      local dok, r = pcall(cjson.decode, line)
      assert(dok, out)
      assert(r.error == nil, out)
      responses[#responses + 1] = r
    end
    assert(ok, out)
    return responses, out
  end

  local function alice() return pki .. "/alice-chain.pem", pki .. "/alice.key" end

  setup(function()
    has_python = live.run("python3 -c 'import ssl'")
    server = live.openresty()
    dir, pki = server.dir, server.pki
    -- /memo: the gate, then the verdict's cause, whether it was served from the
    -- memo, its time; /memo-reload: gate.reload (forced) of the policy in this
    -- worker; both answer with the second they ran in (X-Now)
    live.add_locations(server, [[
    location = /memo {
      access_by_lua_block {
        require("clientcert.nginx").enforce(package.loaded.gate_policies.require,
          { chain_dict = "clientcert_chains", short_var = "clientcert", metrics = "clientcert_metrics",
            log_accepted = false })
      }
      header_filter_by_lua_block { ngx.header["X-Now"] = ngx.time() }
      content_by_lua_block {
        local v = ngx.ctx.clientcert
        ngx.say("cause=", v.cause, " memo=", tostring(v.tls.memo), " time=", v.time)
      }
    }
    location = /memo-reload {
      header_filter_by_lua_block { ngx.header["X-Now"] = ngx.time() }
      content_by_lua_block {
        local ok, err = require("clientcert.nginx").reload(package.loaded.gate_policies.require, true)
        ngx.say("reloaded=", tostring(ok), " ", tostring(err))
      }
    }
]])
    -- the example's policy, with its rule turning alice away instead of bob
    local policy = live.read(dir .. "/policy.lua")
    local deny = policy:gsub('"CN=bob,"', '"CN=alice,"')
    assert(deny ~= policy)
    live.write(dir .. "/deny-alice.lua", deny)
    live.write(dir .. "/policy-saved.lua", policy)
  end)

  teardown(function() live.discard(server) end)

  it("serves the accepted client's verdict again to its next requests of the same second", function()
    if not has_python then return pending("python3 is needed") end
    local seen = false
    for _ = 1, 5 do
      local cert, key = alice()
      local r = connection(cert, key, { "GET /memo", "GET /memo", "GET /memo", "GET /memo" })
      assert.are.equal(4, #r)
      assert.truthy(r[1].body:find("cause=ok memo=nil ", 1, true), r[1].body)
      for i = 2, #r do
        assert.are.equal(200, r[i].status, r[i].body)
        -- each request either finds the verdict of its second or makes one
        local same = r[i].headers["x-now"] == r[i - 1].headers["x-now"]
        assert.truthy(r[i].body:find("cause=ok memo=" .. tostring(same or nil) .. " ", 1, true), r[i].body)
        seen = seen or same
      end
      if seen then break end
    end
    assert.truthy(seen, "no two requests of a connection in the same second")
  end)

  it("refuses on the same connection, within the second, a client that a reloaded policy refuses", function()
    if not has_python then return pending("python3 is needed") end
    local within = false
    for _ = 1, 5 do
      local cert, key = alice()
      local r = connection(cert, key, { "GET /memo", "GET /memo",
        "run cp " .. live.q(dir .. "/deny-alice.lua") .. " " .. live.q(dir .. "/policy.lua"),
        "GET /memo-reload", "GET /memo" })
      -- put the example's policy back (this worker at once, the other by its watch)
      live.run(("cp %s %s"):format(live.q(dir .. "/policy-saved.lua"), live.q(dir .. "/policy.lua")))
      connection(cert, key, { "GET /memo-reload" })
      assert.are.equal(4, #r)
      assert.are.equal(200, r[1].status, r[1].body)
      assert.truthy(r[3].body:find("reloaded=true", 1, true), r[3].body)
      assert.are.equal(403, r[4].status, r[4].body)
      assert.are.equal("403.12 Client certificate denied by policy", r[4].body:match("^[^\n]*"))
      -- the memo was in play: the refusal came in the second of an accepted request
      within = within or r[2].headers["x-now"] == r[4].headers["x-now"] and r[2].body:find("memo=true", 1, true)
      if within then break end
    end
    assert.truthy(within, "the reload never fell within the second of a memo")
    -- and the example's policy accepts alice again
    local cert, key = alice()
    assert.are.equal(200, connection(cert, key, { "GET /memo" })[1].status)
  end)

  it("refuses on the same connection a certificate whose notAfter passed while it was open", function()
    if not has_python or not live.run("python3 -c 'import cryptography'") then
      return pending("python3 with the cryptography package is needed")
    end
    -- a client of the demo's issuing CA whose certificate ends in 3 seconds
    live.write(dir .. "/brief.py", [[
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
pki = sys.argv[1]
inter_pem = open(pki + "/inter.pem", "rb").read()
inter = x509.load_pem_x509_certificate(inter_pem)
ikey = serialization.load_pem_private_key(open(pki + "/inter.key", "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
end = now + datetime.timedelta(seconds=3)
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "brief")]))
        .issuer_name(inter.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(end)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ikey, hashes.SHA256()))
open(pki + "/brief-chain.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM) + inter_pem)
open(pki + "/brief.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
print(int(end.timestamp()))
]])
    local ok, out = live.run(("python3 %s %s"):format(live.q(dir .. "/brief.py"), live.q(pki)))
    assert(ok, out)
    local not_after = tonumber(out:match("(%d+)%s*$"))
    -- accepted (and served from the memo), then past notAfter on the same connection
    local wait = not_after - os.time() + 1.5
    local r = connection(pki .. "/brief-chain.pem", pki .. "/brief.key",
      { "GET /memo", "GET /memo", "sleep " .. wait, "GET /memo" })
    assert.are.equal(3, #r)
    assert.are.equal(200, r[1].status, r[1].body)
    assert.are.equal(200, r[2].status, r[2].body)
    assert.are.equal(403, r[3].status, r[3].body)
    assert.are.equal("403.17 Certificate expired", r[3].body:match("^[^\n]*"))
  end)
end)
