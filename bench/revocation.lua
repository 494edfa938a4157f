-- make bench (revocation rows): the cost of revocation = {...} once its answer is
-- cached, against the same check without revocation, on the same PKI and runtime.
-- The PKI is spec/fixtures/revocation.sh's; the OCSP answer is made once with
-- `openssl ocsp -reqin/-respout` (no server), handed out by the policy's fetch the
-- first time, then served from the revocation cache. Checks are at the current
-- time (the answer's thisUpdate is now). Medians of interleaved rounds; CPU time.
--
-- usage: lua5.4|luajit bench/revocation.lua PKI_DIR [ROUNDS [N]]
local clientcert = require "clientcert"

local dir = assert(arg[1], "usage: bench/revocation.lua PKI_DIR [ROUNDS [N]]")
local rounds, n = tonumber(arg[2]) or 7, tonumber(arg[3]) or 300

local read = require("bench.common").reader(dir)

local response = read("bench-good.ocsp")
local fetches = 0
local store = assert(clientcert.store{ roots = dir .. "/root.pem", intermediates = dir .. "/inter.pem" })
local rev = { sources = { "ocsp" }, scope = "leaf", fetch = function()
  fetches = fetches + 1
  return response
end }
local policies = {
  plain = clientcert.policy{ trust = store },
  ocsp = clientcert.policy{ trust = store, revocation = rev },
  plain_hit = clientcert.policy{ trust = store, cache = { size = 100 } },
  ocsp_hit = clientcert.policy{ trust = store, cache = { size = 100 }, revocation = rev },
}
local leaf = read("leaf-good.pem")
local now = os.time()
for name, p in pairs(policies) do
  local v = p:check{ cert = leaf, time = now }
  assert(v.accepted, name .. ": " .. tostring(v.message))
end
assert(fetches == 2, "one fetch per policy, then the cache")

local function per_op(p)
  local t0 = os.clock()
  for _ = 1, n do p:check{ cert = leaf, time = now } end
  return (os.clock() - t0) / n
end

local ratios = { miss = {}, hit = {} }
local abs = { plain = {}, ocsp = {}, plain_hit = {}, ocsp_hit = {} }
for _ = 1, rounds do
  local t = {}
  for _, k in ipairs({ "plain", "ocsp", "plain_hit", "ocsp_hit" }) do
    t[k] = per_op(policies[k])
    table.insert(abs[k], t[k])
  end
  table.insert(ratios.miss, t.ocsp / t.plain)
  table.insert(ratios.hit, t.ocsp_hit / t.plain_hit)
end
assert(fetches == 2, "nothing fetched again while measuring")

local function median(list)
  table.sort(list)
  return list[math.floor((#list + 1) / 2)]
end
local runtime = (jit and jit.version) or _VERSION
print(("revocation (%s, P-256, %d rounds x %d checks; target <= 1.1x):"):format(runtime, rounds, n))
print(("  check with a cached OCSP answer / without revocation:  %.3fx  (%.1f us vs %.1f us)")
  :format(median(ratios.miss), median(abs.ocsp) * 1e6, median(abs.plain) * 1e6))
print(("  the same on a verdict-cache hit:                       %.3fx  (%.1f us vs %.1f us)")
  :format(median(ratios.hit), median(abs.ocsp_hit) * 1e6, median(abs.plain_hit) * 1e6))
