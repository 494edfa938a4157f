-- Throughput of clientcert against raw OpenSSL, measured in the same run on the
-- same certificates (CPU time per operation; the ratio is what to watch).
-- usage: make bench   (or: lua5.4|luajit bench/bench.lua PKI_DIR RAW_BIN [N])
local clientcert = require "clientcert"

local dir, raw_bin, n = arg[1], arg[2], tonumber(arg[3] or "2000")
local T = 1906502400
local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end
local function der_file(name)
  local path = dir .. "/" .. name .. ".der"
  assert(os.execute(("openssl x509 -in %s/%s.pem -outform DER -out %s"):format(dir, name, path)))
  return path
end

local function per_op(f)
  f() -- warm up
  local t0 = os.clock()
  for _ = 1, n do f() end
  return (os.clock() - t0) / n
end

local leaf_der, inter_der = read("alice.der"), clientcert.load(dir .. "/inter.pem"):der()
local store = assert(clientcert.store{ roots = dir .. "/root.pem" })
local policy = clientcert.policy{ trust = store }
local crl_store = assert(clientcert.store{ roots = dir .. "/root.pem",
                                           crls = { dir .. "/root.crl", dir .. "/inter.crl" } })

-- Rejection amplification: a store of about 150 roots (the system bundle when present,
-- padded with roots generated here), rejections against an acceptance in the same run.
local BIG = 150
local function big_store()
  local roots = { dir .. "/root.pem" }
  local bundle = io.open("/etc/ssl/certs/ca-certificates.crt", "rb")
  if bundle then
    bundle:close()
    for _, c in ipairs(assert(clientcert.load_all("/etc/ssl/certs/ca-certificates.crt"))) do
      if #roots >= BIG then break end
      roots[#roots + 1] = c
    end
  end
  for i = #roots + 1, BIG do
    local path = ("%s/bench-root-%d.pem"):format(dir, i)
    local f = io.open(path, "rb")
    if f then f:close() else
      assert(os.execute(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key "
        .. "-out %s -subj '/O=bench/CN=Bench Root %d' -days 36500 2>/dev/null"):format(path, path, i)))
    end
    roots[#roots + 1] = path
  end
  return assert(clientcert.store{ roots = roots }), #roots
end
local many, nroots = big_store()
local many_policy = clientcert.policy{ trust = many }
local forger_der = clientcert.load(dir .. "/forger.pem"):der()
local forged_inter_der = clientcert.load(dir .. "/forged-inter.pem"):der()
local oscar_der = clientcert.load(dir .. "/oscar.pem"):der()
local other_inter_der = clientcert.load(dir .. "/other-inter.pem"):der()
local other_root_der = clientcert.load(dir .. "/other-root.pem"):der()
local amp = {
  accept = per_op(function()
    assert(many_policy:check{ cert = leaf_der, chain = { inter_der }, time = T }.accepted)
  end),
  -- the same two certificates sent as for the acceptance, issued under a forged root
  -- that bears the trusted root's name (the store's root-subject refinement)
  untrusted_root = per_op(function()
    local v = many_policy:check{ cert = forger_der, chain = { forged_inter_der }, time = T }
    assert(v.cause == "untrusted_root")
  end),
  -- a client that also sends its (untrusted) root: one more certificate to parse and check
  untrusted_root_3 = per_op(function()
    local v = many_policy:check{ cert = oscar_der, chain = { other_inter_der, other_root_der }, time = T }
    assert(v.cause == "untrusted_root")
  end),
  missing_intermediate = per_op(function()
    local v = many_policy:check{ cert = oscar_der, time = T }
    assert(v.cause == "missing_intermediate")
  end),
}

local results = {
  parse = per_op(function() clientcert.parse(leaf_der) end),
  ["parse+info"] = per_op(function() clientcert.parse(leaf_der):info() end),
  verify = per_op(function()
    local r = store:verify(leaf_der, { chain = { inter_der }, time = T })
    assert(r.ok)
  end),
  ["verify+CRLs"] = per_op(function()
    local r = crl_store:verify(leaf_der, { chain = { inter_der }, time = T })
    assert(r.ok)
  end),
  ["policy:check"] = per_op(function()
    assert(policy:check{ cert = leaf_der, chain = { inter_der }, time = T }.accepted)
  end),
}

local raw = {}
local p = io.popen(("%s %s %s %s %d %d"):format(raw_bin, der_file("alice"), der_file("inter"), der_file("root"), n, T))
for line in p:lines() do
  local k, v = line:match("^(%S+) (%S+)$")
  raw[k] = tonumber(v)
end
p:close()

print(("clientcert bench on %s, %s, %d iterations (CPU time per operation)"):format(
  _VERSION .. (jit and (" / " .. jit.version) or ""), clientcert.openssl_version, n))
print(("%-14s %12s %12s %8s"):format("operation", "clientcert", "raw OpenSSL", "ratio"))
local rows = { { "parse", "parse" }, { "parse+info", "parse" }, { "verify", "verify" }, { "verify+CRLs", "verify" },
               { "policy:check", "verify" } }
for _, r in ipairs(rows) do
  local mine, base = results[r[1]], raw[r[2]]
  print(("%-14s %10.1fus %10.1fus %7.2fx"):format(r[1], mine * 1e6, base * 1e6, mine / base))
end
print("(raw OpenSSL: d2i_X509 for parse rows; d2i of leaf and chain + X509_verify_cert for verify rows)")

print(("rejection vs acceptance, policy:check with a %d-root store (target <= 1.50x):"):format(nroots))
print(("%-30s %10.1fus"):format("accepted (2 certificates)", amp.accept * 1e6))
for _, r in ipairs({ { "untrusted_root", "untrusted_root (2 certificates)" },
                     { "missing_intermediate", "missing_intermediate (1)" },
                     { "untrusted_root_3", "untrusted_root (3, own root)" } }) do
  print(("%-30s %10.1fus %7.2fx"):format(r[2], amp[r[1]] * 1e6, amp[r[1]] / amp.accept))
end
