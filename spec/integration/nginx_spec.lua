-- The OpenResty gate against a real nginx (Debian's nginx + lua module + resty-core):
-- the example of examples/openresty (its nginx.conf, policy and demo PKI) in a
-- temporary prefix on a free 127.0.0.1 port, with curl and openssl s_client as
-- real clients. It drives nginx from outside, so it runs once (under lua5.4), not
-- once per runtime; nginx itself runs the LuaJIT build (build/luajit).
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"
local cjson = require "cjson"

-- The last line of the example's access log (one JSON object per request),
-- decoded; with mark (a byte offset), the last line written after it, waited for
-- (at most 10 s: nginx writes it when the request ends).
local function last_access(dir, mark)
  local last = live.wait_for(function()
    return (live.read(dir .. "/logs/access.log") or ""):sub((mark or 0) + 1):match("([^\n]*)\n$")
  end) or ""
  local ok, entry = pcall(cjson.decode, last)
  assert(ok, "not JSON: " .. last)
  return entry, last
end

-- Runs the OpenResty example (live.openresty(opts)) for the tests of the enclosing
-- describe block: set(server) gets it before they run; it is stopped and removed after.
local function with_example(opts, set)
  local server
  setup(function()
    server = live.openresty(opts)
    set(server)
  end)
  teardown(function() live.discard(server) end)
end

describe("the OpenResty gate in a real nginx", function()
  local dir, pki, server
  with_example(nil, function(s) server, dir, pki = s, s.dir, s.pki end)

  -- One request; checks the HTTP status, the body's first line and the logged cause.
  local function expect(path, who, want_status, want_first, want_cause, opts)
    opts = opts or {}
    local mark = live.log_size(server)
    local amark = #(live.read(dir .. "/logs/access.log") or "")
    local status, body
    if who then
      status, body = live.curl(server, path, { cert = pki .. "/" .. who .. ".pem", key = pki .. "/"
        .. (opts.key or who:gsub("%-chain$", "")) .. ".key" })
    else
      status, body = live.curl(server, path, {})
    end
    assert.are.equal(want_status, status, body)
    local first = body:match("^[^\n]*")
    if want_first then assert.are.equal(want_first, first) end
    -- every request: its cause first in the access log's clientcert field (nginx
    -- writes it when the request ends: waited for); a refusal also in the error
    -- log (error_log warn, log_accepted = false), an acceptance not
    local entry, line = last_access(dir, amark)
    assert.truthy(tostring(entry.clientcert):find(want_cause .. " ", 1, true) == 1, line)
    local log
    if want_status ~= 200 then
      log = live.wait_for(function()
        local text = live.log_since(server, mark)
        return text:find("clientcert: " .. want_cause .. " ", 1, true) and text
      end) or live.log_since(server, mark)
      assert.truthy(log:find("clientcert: " .. want_cause .. " ", 1, true),
        "no log line with cause " .. want_cause .. " in:\n" .. log)
    else
      log = live.log_since(server, mark)
      assert.falsy(log:find("clientcert: " .. want_cause .. " ", 1, true), "an accepted client logged:\n" .. log)
    end
    return body, log
  end

  it("accepts a good client that sends its intermediate", function()
    local body = expect("/", "alice-chain", 200, nil, "ok")
    assert.truthy(body:find("welcome O=clientcert live,CN=alice", 1, true) or
                  body:find("welcome CN=alice,O=clientcert live", 1, true), body)
    assert.truthy(body:find("chain_from=handshake", 1, true), body)
    -- Debian's nginx and clientcert share one libcrypto: nginx's decoded certificates are used
    assert.truthy(body:find("source=ssl shared=true", 1, true), body)
  end)

  it("names a missing intermediate when the client sends only its leaf", function()
    expect("/", "alice", 403, "403.16 " .. require("clientcert.causes").get("missing_intermediate").title,
      "missing_intermediate")
  end)

  it("answers 403.7 for no certificate under require, and accepts it under optional", function()
    local body = expect("/", nil, 403, nil, "no_certificate")
    assert.truthy(body:match("^403%.7 "), body)
    local status, obody = live.curl(server, "/optional", {})
    assert.are.equal(200, status)
    assert.truthy(obody:find("cause=no_certificate", 1, true), obody)
  end)

  it("turns nginx's 495 for an expired or not yet valid client into 403.17", function()
    local body = expect("/", "old-chain", 403, nil, "expired", { key = "old" })
    assert.truthy(body:match("^403%.17 "), body)
    body = expect("/", "future-chain", 403, nil, "not_yet_valid", { key = "future" })
    assert.truthy(body:match("^403%.17 "), body)
  end)

  it("names an untrusted root sent by the client, and a forged root with a trusted root's name", function()
    local body = expect("/", "oscar-chain", 403, nil, "untrusted_root", { key = "oscar" })
    assert.truthy(body:match("^403%.16 "), body)
    expect("/", "forger-chain", 403, nil, "untrusted_root", { key = "forger" })
  end)

  it("cannot tell an untrusted CA from a missing one when only the leaf is sent", function()
    -- the issuer is neither sent nor known: the server can only say it is missing
    expect("/", "oscar", 403, nil, "missing_intermediate")
  end)

  it("names a revoked leaf and a leaf under a revoked intermediate", function()
    local body = expect("/", "mallory-chain", 403, nil, "revoked", { key = "mallory" })
    assert.truthy(body:match("^403%.13 "), body)
    expect("/", "dave-chain", 403, nil, "revoked", { key = "dave" })
  end)

  it("names a serverAuth-only certificate and a rule denial", function()
    expect("/", "server-only-chain", 403, nil, "wrong_purpose", { key = "server-only" })
    local body = expect("/", "bob-chain", 403, nil, "denied_by_rule", { key = "bob" })
    assert.truthy(body:match("^403%.12 "), body)
  end)

  it("keeps operator steps out of the client's body and puts them in the log", function()
    local body, log = expect("/", "oscar-chain", 403, nil, "untrusted_root", { key = "oscar" })
    assert.falsy(body:find("[server operator]", 1, true))
    assert.truthy(log:find("operator: (1)", 1, true), log)
    for line in log:gmatch("[^\n]+") do assert.truthy(#line <= 2047, "log line over 2,047 bytes") end
  end)

  it("words the steps for the gate: the policy file's trust, not nginx's or IIS's settings", function()
    -- the operator adds a root to the policy, never to nginx (that makes the gate answer 500)
    local _, log = expect("/", "oscar-chain", 403, nil, "untrusted_root", { key = "oscar" })
    assert.truthy(log:find("operator: (1) If clients of this CA should be accepted, add its root CA certificate to "
      .. "the roots of the policy file's trust", 1, true), log)
    assert.falsy(log:find("nginx: ssl_client_certificate", 1, true), log)
    assert.falsy(log:find("IIS", 1, true), log)
    -- the client is told to send its chain; the operator's one step stands alone, numbered (1)
    local body
    body, log = expect("/", "alice", 403, nil, "missing_intermediate")
    assert.truthy(body:find("\nWhat you can do:\n1. Send the full chain", 1, true), body)
    assert.truthy(log:find("operator: (1) If clients cannot send it, add the intermediate CA certificate to the "
      .. "intermediates of the policy file's trust", 1, true), log)
    -- no certificate: nothing about IIS for the client or the operator
    body, log = expect("/", nil, 403, nil, "no_certificate")
    assert.falsy(body:find("IIS", 1, true), body)
    assert.falsy(log:find("IIS", 1, true), log)
    assert.truthy(log:find("operator: (1) If this location does not need client certificates", 1, true), log)
  end)

  it("writes a JSON access log: cause, status and the client's SHA-256 in one short field", function()
    expect("/", "alice-chain", 200, nil, "ok", { key = "alice" })
    local _, fp = live.run("openssl x509 -in " .. live.q(pki .. "/alice.pem") .. " -noout -fingerprint -sha256")
    fp = fp:match("=([%x:]+)"):gsub(":", ""):lower()
    local entry = last_access(dir)
    assert.are.equal("ok 200 " .. fp, entry.clientcert)
    assert.are.equal(200, entry.status)
    assert.are.equal("GET / HTTP/1.1", entry.request)
    expect("/", "bob-chain", 403, nil, "denied_by_rule", { key = "bob" })
    assert.truthy(last_access(dir).clientcert:match("^denied_by_rule 403%.12 %x+$"))
    expect("/", nil, 403, nil, "no_certificate")
    assert.are.equal("no_certificate 403.7 -", last_access(dir).clientcert)
  end)

  it("puts the compact verdict JSON in an nginx variable (var)", function()
    local status, body = live.curl(server, "/optional", {})
    assert.are.equal(200, status, body)
    local verdict = cjson.decode(body:match("\nverdict=([^\n]*)"))
    assert.are.equal("no_certificate", verdict.cause)
    assert.are.equal(true, verdict.accepted)
  end)

  for _, tls in ipairs({ "1.2", "1.3" }) do
    it("rebuilds a resumed TLS " .. tls .. " session's chain from the intermediates accepted clients proved", function()
      local sess = dir .. "/alice-" .. tls .. ".sess"
      local status, body, out = live.s_client(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
        chain = pki .. "/inter.pem", sess_out = sess, tls = tls })
      assert.are.equal(200, status, out)
      assert.truthy(body:find("resumed=false", 1, true), body)
      assert.truthy(body:find("chain_from=handshake", 1, true), body)
      status, body, out = live.s_client(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
        sess_in = sess, tls = tls })
      assert.are.equal(200, status, out)
      assert.truthy(body:find("resumed=true", 1, true), body)
      assert.truthy(body:find("chain_from=learned", 1, true), body)
    end)
  end

  it("answers a resumed session whose CA no accepted client proved with session_chain_unknown", function()
    -- dave's CA is revoked, so no client of it is ever accepted and nothing of it is
    -- learned: a full handshake with his leaf only is a missing intermediate, and its
    -- resumption (which carries the leaf only, whatever was sent) is told to reconnect
    local sess = dir .. "/dave-leaf.sess"
    local mark = live.log_size(server)
    local status, body, out = live.s_client(server, "/", { cert = pki .. "/dave.pem", key = pki .. "/dave.key",
      sess_out = sess, tls = "1.2" })
    assert.are.equal(403, status, out)
    assert.truthy(body:match("^403%.16 Intermediate CA missing"), body)
    status, body, out = live.s_client(server, "/", { cert = pki .. "/dave.pem", key = pki .. "/dave.key",
      sess_in = sess, tls = "1.2" })
    assert.are.equal(403, status, out)
    local c = require("clientcert.causes").get("session_chain_unknown")
    assert.are.equal("403.16 " .. c.title, body:match("^[^\r\n]*"))
    assert.truthy(body:find("Reconnect", 1, true), body)
    local log = live.log_since(server, mark)
    for _ = 1, 20 do
      if log:find("clientcert: session_chain_unknown ", 1, true) then break end
      live.sleep(0.05)
      log = live.log_since(server, mark)
    end
    assert.truthy(log:find("clientcert: session_chain_unknown 403.16 tls=ssl,none,resumed", 1, true), log)
  end)

  it("falls back to $ssl_client_raw_cert (the leaf only) and says so in the verdict", function()
    local body, log = expect("/leaf-only", "alice-chain", 403, nil, "missing_intermediate", { key = "alice" })
    assert.truthy(body:match("^403%.16 "), body)
    assert.truthy(log:find("clientcert: missing_intermediate 403.16 tls=ssl_client_raw_cert,none", 1, true), log)
    local status, obody = live.curl(server, "/leaf-only", { cert = pki .. "/alice.pem", key = pki .. "/alice.key" })
    assert.are.equal(403, status, obody)
  end)

  it("picks up a CRL replaced on disk without an nginx reload", function()
    expect("/", "alice-chain", 200, nil, "ok", { key = "alice" })
    local crl = pki .. "/inter.crl"
    local saved = live.read(crl)
    live.write(crl .. ".new", live.read(pki .. "/inter-revokes-alice.crl"))
    assert(os.rename(crl .. ".new", crl))
    local status, body
    for _ = 1, 60 do                          -- the example checks every 2 s: wait at most 6 s
      status, body = live.curl(server, "/", { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key" })
      if status == 403 then break end
      live.sleep(0.1)
    end
    live.write(crl, saved)
    assert.are.equal(403, status, body)
    assert.truthy(body:match("^403%.13 "), body)
    -- the next tests start from the CRL as it was: wait (bounded) until alice is
    -- accepted again, by both workers (two requests in a row, each maybe on either)
    local back = live.wait_for(function()
      for _ = 1, 4 do
        if live.curl(server, "/", { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key" }) ~= 200 then
          return false
        end
      end
      return true
    end, 8)
    assert.truthy(back, "alice still refused after the CRL was put back")
    local _, metrics = live.curl(server, "/metrics", {})
    assert.truthy(tonumber(metrics:match("\nclientcert_reloads_total (%d+)")) >= 1, metrics)
  end)

  -- Polls the error log after byte mark until pred(log) holds, for at most secs
  -- seconds: true and the log, or false and the log when it never held.
  local function wait_log(mark, pred, secs)
    local log = ""
    local held = live.wait_for(function()
      log = live.log_since(server, mark)
      return pred(log)
    end, secs)
    return held and true or false, log
  end

  -- The lines of log holding s, and the most of them any one worker wrote.
  local function lines_with(log, s)
    local lines, per_pid, most = {}, {}, 0
    for line in log:gmatch("[^\n]+") do
      if line:find(s, 1, true) then
        lines[#lines + 1] = line
        local pid = line:match(" (%d+)#%d+: ") or "?"
        per_pid[pid] = (per_pid[pid] or 0) + 1
        if per_pid[pid] > most then most = per_pid[pid] end
      end
    end
    return lines, most
  end

  it("keeps the previous policy when the changed file does not load, tries it once per change, says so once", function()
    local file = dir .. "/policy.lua"
    local saved = live.read(file)
    -- every worker watches the file once per handle (gate.load_policy in nginx.conf)
    local handles = select(2, live.read(dir .. "/conf/nginx.conf"):gsub("gate%.load_policy%(", ""))
    local FAILED = "failed, the previous policy stays"
    local mark = live.log_size(server)
    live.write(file, "return {mode = \"off\"\n")        -- a syntax error
    local failed, log = wait_log(mark, function(l) return #lines_with(l, FAILED) > 0 end, 8)
    local status, body = live.curl(server, "/", { cert = pki .. "/oscar-chain.pem", key = pki .. "/oscar.key" })
    -- the watch checks every 2 s: over 5 s, a retry per check would log again
    local again, later = wait_log(mark, function(l) return select(2, lines_with(l, FAILED)) > handles end, 5)
    live.write(file, saved)
    -- every worker watches for itself: wait until each of them has reloaded
    local workers = tonumber(live.read(dir .. "/conf/nginx.conf"):match("worker_processes%s+(%d+)")) or 1
    local reloaded, rlog = wait_log(mark, function(l)
      local pids, n = {}, 0
      for _, line in ipairs((lines_with(l, "clientcert: reloaded"))) do
        local pid = line:match(" (%d+)#%d+: ")
        if pid and not pids[pid] then pids[pid], n = true, n + 1 end
      end
      return n >= workers
    end, 8)
    assert.truthy(failed, "no failed reload in the log:\n" .. log)
    assert.are.equal(403, status, body)         -- not "off": the old policy still decides
    assert.is_false(again, "a broken policy file was tried again without a change:\n" .. later)
    assert.truthy(reloaded, "no reload once the file was fixed:\n" .. rlog)
    for _, line in ipairs((lines_with(rlog, "clientcert: reloaded"))) do
      assert.truthy(line:find("[warn]", 1, true), line)
      assert.truthy(line:find("changed: " .. file, 1, true), line)
    end
    expect("/", "alice-chain", 200, nil, "ok", { key = "alice" })
  end)

  -- the example's nginx.conf with every `good` replaced by `typo` while fn runs
  local function with_typo(good, typo, fn)
    assert.truthy(live.read(dir .. "/conf/nginx.conf"):find(good, 1, true), "the example's options changed")
    live.reconfigure(server, function(c) return (c:gsub(good:gsub("%p", "%%%0"), typo)) end)
    local ok, err = pcall(fn)
    live.reconfigure(server, function(c) return (c:gsub(typo:gsub("%p", "%%%0"), good)) end)
    assert(ok, err)
  end

  it("logs a gate option that names no lua_shared_dict at ERR when the workers start", function()
    local mark = live.log_size(server)
    with_typo('chain_dict = "clientcert_chains", var', 'chain_dict = "clientcert_chainz", var', function()
      local found, log = wait_log(mark, function(l)
        return l:find("no lua_shared_dict named 'clientcert_chainz'", 1, true) ~= nil end, 8)
      assert.truthy(found, log)
      local line = lines_with(log, "no lua_shared_dict named 'clientcert_chainz'")[1]
      assert.truthy(line:find("[error]", 1, true), line)
      assert.truthy(line:find("option chain_dict", 1, true), line)
    end)
  end)

  it("refuses every client as internal_error (500, the gate's own body) when a dict named in enforce is missing",
    function()
      for _, o in ipairs({ { "chain_dict", "clientcert_chains", "clientcert_chainz" },
                           { "metrics", "clientcert_metrics", "clientcert_metricz" } }) do
        local key, good, typo = o[1], o[2], o[3]
        with_typo(('%s = "%s"'):format(key, good), ('%s = "%s"'):format(key, typo), function()
          local body, log = expect("/", "alice-chain", 500, nil, "internal_error", { key = "alice" })
          assert.truthy(body:match("^500 "), body)
          assert.truthy(log:find("no lua_shared_dict named '" .. typo .. "'", 1, true), log)
        end)
      end
    end)

  it("fails closed and logs a misconfiguration when nginx refuses a client the policy accepts", function()
    -- "optional" with nginx's own CA file and depth 0: nginx refuses every chain (495)
    local before = "ssl_verify_client optional_no_ca;"
    local after = "ssl_verify_client optional; ssl_client_certificate " .. pki .. "/root.pem;"
    local function swap(a, b) return function(c) return (c:gsub(a:gsub("%p", "%%%0"), b)) end end
    live.reconfigure(server, function(c)
      return swap("ssl_verify_depth 10;", "ssl_verify_depth 0;")(swap(before, after)(c)) end)
    local ok, err = pcall(function()
      local body, log = expect("/", "alice-chain", 500, nil, "internal_error", { key = "alice" })
      assert.truthy(body:match("^500 "), body)
      assert.truthy(log:find("misconfiguration", 1, true), log)
      assert.truthy(log:find("ssl_verify_depth", 1, true), log)
      assert.falsy(body:find("ssl_verify_depth", 1, true), "the client is not told the server's settings")
    end)
    live.reconfigure(server, function(c)
      return swap("ssl_verify_depth 0;", "ssl_verify_depth 10;")(swap(after, before)(c)) end)
    assert(ok, err)
    expect("/", "alice-chain", 200, nil, "ok", { key = "alice" })
  end)
end)

-- Identity to the upstream: the example's /app/, /app-xfcc/, /app-optional/ and
-- /public/ proxy to a second server block of the same nginx (a unix socket) that
-- echoes the identity headers it received.
describe("the gate's identity headers for a real upstream", function()
  local dir, pki, server
  with_example({ workers = 2 }, function(s) server, dir, pki = s, s.dir, s.pki end)

  -- What the application received: {client_cert =, client_cert_chain =, xfcc =}.
  local function received(body)
    assert.truthy(body:match("^app: "), body)
    return { client_cert = body:match("client%-cert=%[(.-)%]\n"),
             client_cert_chain = body:match("client%-cert%-chain=%[(.-)%]\n"),
             xfcc = body:match("xfcc=%[(.-)%]\n") }
  end

  -- The RFC 9440 byte sequence of the first certificate of a PEM file (PEM's body
  -- is the base64 of the DER).
  local function byte_sequence(file)
    local pem = live.read(file)
    local b64 = pem:match("%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-(.-)%-%-%-%-%-END")
    return ":" .. b64:gsub("%s", "") .. ":"
  end

  local forged = { "Client-Cert: :Zm9yZ2Vk:", "Client-Cert-Chain: :Zm9yZ2Vk:",
                   "X-Forwarded-Client-Cert: Hash=00;Subject=\"CN=admin\"" }

  it("gives the upstream the verified leaf and the chain sent, as RFC 9440 byte sequences", function()
    local status, body = live.curl(server, "/app/x", { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key",
      headers = forged })
    assert.are.equal(200, status, body)
    local got = received(body)
    assert.are.equal(byte_sequence(pki .. "/alice.pem"), got.client_cert)
    assert.are.equal(byte_sequence(pki .. "/inter.pem"), got.client_cert_chain)
    assert.are.equal("", got.xfcc)                      -- the client's own copy is gone
  end)

  it("lists every certificate the client sent besides its leaf in Client-Cert-Chain", function()
    local chain = dir .. "/inter-root.pem"
    live.write(chain, live.read(pki .. "/inter.pem") .. live.read(pki .. "/root.pem"))
    local status, body = live.s_client(server, "/app/x", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
      chain = chain })
    assert.are.equal(200, status, body)
    assert.are.equal(byte_sequence(pki .. "/inter.pem") .. ", " .. byte_sequence(pki .. "/root.pem"),
      received(body).client_cert_chain)
  end)

  it("forwards the leaf on a resumed session too", function()
    local sess = dir .. "/alice-app.sess"
    local status, body = live.s_client(server, "/app/x", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
      chain = pki .. "/inter.pem", sess_out = sess, tls = "1.2" })
    assert.are.equal(200, status, body)
    status, body = live.s_client(server, "/app/x", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
      sess_in = sess, tls = "1.2" })
    assert.are.equal(200, status, body)
    assert.are.equal(byte_sequence(pki .. "/alice.pem"), received(body).client_cert)
  end)

  it("removes client-sent identity headers from an anonymous client's request", function()
    local status, body = live.curl(server, "/app-optional/x", { headers = forged })
    assert.are.equal(200, status, body)
    local got = received(body)
    assert.are.same({ client_cert = "", client_cert_chain = "", xfcc = "" }, got)
  end)

  it("does not reach the upstream for a refused client", function()
    local status, body = live.curl(server, "/app/x", { cert = pki .. "/bob-chain.pem", key = pki .. "/bob.key",
      headers = forged })
    assert.are.equal(403, status, body)
    assert.truthy(body:match("^403%.12 "), body)
    status, body = live.curl(server, "/app/x", { headers = forged })
    assert.are.equal(403, status, body)
    assert.truthy(body:match("^403%.7 "), body)
  end)

  it("lets proxy_set_header clear them in a location without the gate", function()
    local status, body = live.curl(server, "/public/x", { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key",
      headers = forged })
    assert.are.equal(200, status, body)
    assert.are.same({ client_cert = "", client_cert_chain = "", xfcc = "" }, received(body))
  end)

  it("writes Envoy's x-forwarded-client-cert: Hash, quoted Subject, every URI and DNS name", function()
    local status, body = live.curl(server, "/app-xfcc/x", { cert = pki .. "/carol-chain.pem", key = pki .. "/carol.key",
      headers = forged })
    assert.are.equal(200, status, body)
    local got = received(body)
    local _, fp = live.run("openssl x509 -in " .. live.q(pki .. "/carol.pem") .. " -noout -fingerprint -sha256")
    fp = fp:match("=([%x:]+)"):gsub(":", ""):lower()
    -- the subject's '"' (RFC 4514: \") as \22: no quote inside the quotes; the URI
    -- holding ';' and '=' quoted
    assert.are.equal("Hash=" .. fp .. ';Subject="CN=carol \\22c\\22\\, x,O=clientcert live";'
      .. 'URI="spiffe://live.example/ns/a;b=c";URI=https://carol.example/;DNS=carol.example;DNS=carol2.example',
      got.xfcc)
    assert.are.equal("", got.client_cert)
    assert.are.equal("", got.client_cert_chain)
  end)
end)

-- Metrics (gate.metrics, counted by 2 workers into one lua_shared_dict), the TLS
-- server name against the Host header (sni = "match"), and a policy per server name.
describe("the gate's metrics and server names in a real nginx with 2 workers", function()
  local dir, pki, server
  with_example({ workers = 2 }, function(s) server, dir, pki = s, s.dir, s.pki end)

  local function alice() return { cert = pki .. "/alice-chain.pem", key = pki .. "/alice.key" } end

  -- The /metrics page as {series = value}, and its text.
  local function scrape()
    local status, body = live.curl(server, "/metrics", {})
    assert.are.equal(200, status, body)
    local out = {}
    for line in body:gmatch("[^\n]+") do
      local series, value = line:match("^([^#%s][^ ]*) (%S+)$")
      if series then out[series] = tonumber(value) end
    end
    return out, body
  end

  local function delta(before, after, series) return (after[series] or 0) - (before[series] or 0) end
  local OK = 'clientcert_decisions_total{cause="ok",status="200"}'

  it("runs 2 workers", function()
    local _, out = live.run("pgrep -P " .. server.pid)
    local n = 0
    for _ in out:gmatch("%d+") do n = n + 1 end
    assert.are.equal(2, n, out)
  end)

  it("counts every worker's decisions by cause and status, with their time", function()
    local before = scrape()
    for _ = 1, 6 do assert.are.equal(200, (live.curl(server, "/", alice()))) end
    assert.are.equal(403, (live.curl(server, "/", { cert = pki .. "/bob-chain.pem", key = pki .. "/bob.key" })))
    assert.are.equal(403, (live.curl(server, "/", {})))
    assert.are.equal(403, (live.curl(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key" })))
    local after, text = scrape()
    assert.are.equal(6, delta(before, after, OK), text)
    assert.are.equal(1, delta(before, after, 'clientcert_decisions_total{cause="denied_by_rule",status="403.12"}'))
    assert.are.equal(1, delta(before, after, 'clientcert_decisions_total{cause="no_certificate",status="403.7"}'))
    assert.are.equal(1, delta(before, after,
      'clientcert_decisions_total{cause="missing_intermediate",status="403.16"}'))
    assert.are.equal(9, delta(before, after, "clientcert_decision_seconds_count"))
    assert.are.equal(9, delta(before, after, 'clientcert_decision_seconds_bucket{le="+Inf"}'))
    assert.truthy(delta(before, after, "clientcert_decision_seconds_sum") > 0)
  end)

  it("writes Prometheus's text format: HELP and TYPE once per metric, its content type", function()
    local _, text = scrape()
    for _, name in ipairs({ "clientcert_decisions_total", "clientcert_decision_seconds", "clientcert_cache_hits_total",
      "clientcert_cache_misses_total", "clientcert_reloads_total", "clientcert_reload_failures_total",
      "clientcert_resumption_chain_hits_total", "clientcert_resumption_chain_misses_total" }) do
      local _, helps = text:gsub("\n?# HELP " .. name .. " ", "")
      local _, types = text:gsub("\n?# TYPE " .. name .. " ", "")
      assert.are.equal(1, helps, name)
      assert.are.equal(1, types, name)
    end
    assert.truthy(text:find("# TYPE clientcert_decision_seconds histogram\n", 1, true), text)
    -- every sample line: name{labels} value, with a number
    for line in text:gmatch("[^\n]+") do
      if line:sub(1, 1) ~= "#" then
        assert.truthy(line:match('^clientcert_[%w_]+ %-?[%d.e+-]+$') or
          line:match('^clientcert_[%w_]+{[%w_]+="[^"]*"[^}]*} %-?[%d.e+-]+$'), line)
      end
    end
    local _, headers = live.run(("curl -s -k -o /dev/null -D - --max-time 10 https://127.0.0.1:%d/metrics")
      :format(server.port))
    assert.truthy(headers:lower():find("content-type: text/plain; version=0.0.4", 1, true), headers)
  end)

  it("counts verdict-cache hits and misses", function()
    local before = scrape()
    -- one connection (one worker): the second and third requests are cache hits
    local url = ("https://127.0.0.1:%d/"):format(server.port)
    local ok, out = live.run(("curl -s -k --max-time 10 --cert %s --key %s -o /dev/null -o /dev/null -o /dev/null "
      .. "-w '%%{http_code} ' %s %s %s"):format(live.q(pki .. "/alice-chain.pem"), live.q(pki .. "/alice.key"),
      url, url, url))
    assert(ok, out)
    assert.are.equal("200 200 200", out:gsub("%s+$", ""))
    local after = scrape()
    local hits = delta(before, after, "clientcert_cache_hits_total")
    assert.are.equal(3, hits + delta(before, after, "clientcert_cache_misses_total"))
    assert.truthy(hits >= 2, "hits: " .. hits)
  end)

  it("counts resumed sessions whose chain was known and not", function()
    local before = scrape()
    -- carol's full handshake keeps her chain; her resumed session finds it
    local sess = dir .. "/carol-metrics.sess"
    local status, body = live.s_client(server, "/", { cert = pki .. "/carol.pem", key = pki .. "/carol.key",
      chain = pki .. "/inter.pem", sess_out = sess, tls = "1.2" })
    assert.are.equal(200, status, body)
    status, body = live.s_client(server, "/", { cert = pki .. "/carol.pem", key = pki .. "/carol.key",
      sess_in = sess, tls = "1.2" })
    assert.are.equal(200, status, body)
    -- dave's full handshake only reached a location without chain_dict: nothing kept
    local dsess = dir .. "/dave-metrics.sess"
    live.s_client(server, "/leaf-only", { cert = pki .. "/dave.pem", key = pki .. "/dave.key",
      chain = pki .. "/inter-revoked.pem", sess_out = dsess, tls = "1.2" })
    live.s_client(server, "/", { cert = pki .. "/dave.pem", key = pki .. "/dave.key", sess_in = dsess, tls = "1.2" })
    local after = scrape()
    assert.are.equal(1, delta(before, after, "clientcert_resumption_chain_hits_total"))
    assert.are.equal(1, delta(before, after, "clientcert_resumption_chain_misses_total"))
  end)

  it("counts reloads and failed reloads", function()
    local before = scrape()
    local file = dir .. "/policy.lua"
    local saved = live.read(file)
    local function wait_for(series)
      local now
      for _ = 1, 80 do                      -- the example checks every 2 s: at most 8 s
        now = scrape()
        if delta(before, now, series) >= 1 then return now end
        live.sleep(0.1)
      end
      return now
    end
    live.write(file, saved .. "\n-- changed\n")
    local reloaded = wait_for("clientcert_reloads_total")
    live.write(file, "return {mode = \"off\"\n")   -- a syntax error
    local failed = wait_for("clientcert_reload_failures_total")
    live.write(file, saved)
    assert.truthy(delta(before, reloaded, "clientcert_reloads_total") >= 1)
    assert.truthy(delta(before, failed, "clientcert_reload_failures_total") >= 1)
  end)

  it("answers 421 when the Host header names another server than the TLS server name", function()
    local mark = live.log_size(server)
    local status, body = live.s_client(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
      chain = pki .. "/inter.pem", servername = "localhost", host = "other.localhost" })
    assert.are.equal(421, status, body)
    assert.are.equal("421 Misdirected Request", body:match("^[^\n]*"))
    live.sleep(0.05)
    assert.truthy(live.log_since(server, mark):find("clientcert: sni_mismatch 421 ", 1, true))
    -- no TLS server name: only an IP address may be named
    status, body = live.s_client(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
      chain = pki .. "/inter.pem", servername = false, host = "localhost" })
    assert.are.equal(421, status, body)
  end)

  it("accepts the same name in another case, with a port, an IP address without SNI, and no Host", function()
    for _, c in ipairs({ { "localhost", "LocalHost:443" }, { "localhost.", "localhost" }, { false, "127.0.0.1" },
                         { false, "127.0.0.1:8443" }, { "localhost", false } }) do
      local status, body = live.s_client(server, "/", { cert = pki .. "/alice.pem", key = pki .. "/alice.key",
        chain = pki .. "/inter.pem", servername = c[1], host = c[2] })
      assert.are.equal(200, status, tostring(c[1]) .. " " .. tostring(c[2]) .. ": " .. body)
    end
  end)

  it("counts 421s as decisions of their own", function()
    local before = scrape()
    live.s_client(server, "/", { servername = "localhost", host = "other.localhost" })
    local after = scrape()
    assert.are.equal(1, delta(before, after, 'clientcert_decisions_total{cause="sni_mismatch",status="421"}'))
  end)

  it("picks the policy by TLS server name and keeps the request on that name", function()
    local status, body = live.s_client(server, "/by-name", { servername = "optional.localhost",
      host = "optional.localhost" })
    assert.are.equal(200, status, body)
    assert.truthy(body:find("cause=no_certificate", 1, true), body)
    status, body = live.s_client(server, "/by-name", { servername = "localhost", host = "localhost" })
    assert.are.equal(403, status, body)
    assert.truthy(body:match("^403%.7 "), body)
    -- a connection for the lenient name cannot carry a request for the strict one
    status, body = live.s_client(server, "/by-name", { servername = "optional.localhost", host = "localhost" })
    assert.are.equal(421, status, body)
  end)
end)
