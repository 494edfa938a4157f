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
