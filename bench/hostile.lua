-- Time and peak memory of clientcert on hostile inputs (built by bench/mkhostile.sh).
-- Each line: what was done, the answer (a value or nil, err), CPU seconds, and the
-- growth of the process's peak RSS. usage: make bench-hostile
local clientcert = require "clientcert"
local dir = assert(arg[1], "usage: hostile.lua DIR")

local read = require("bench.common").reader(dir)
local function peak_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return 0 end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0
end

local function run(what, f)
  collectgarbage()
  local before = peak_kb()
  local t0 = os.clock()
  local ok, a, b = pcall(f)
  local secs = os.clock() - t0
  collectgarbage()
  local answer = not ok and ("RAISED " .. tostring(a)) or (a == nil and ("nil, " .. tostring(b)) or tostring(a))
  print(("%-44s %8.3fs %+8d KB peak  %s"):format(what, secs, peak_kb() - before, answer:sub(1, 70)))
end

print(("clientcert %s on %s"):format(clientcert.version, clientcert.openssl_version))
local root = clientcert.load(dir .. "/root.pem")
run("parse_all: 10,000 certificates in one bundle", function()
  local l, e = clientcert.parse_all(read("bundle-10k.pem"))
  return l and (#l .. " certificates"), e
end)
run("parse_all: a 10 MB PEM bundle", function()
  local l, e = clientcert.parse_all(read("bundle-10mb.pem"))
  return l and (#l .. " certificates"), e
end)
run("verify: a chain of 100 (max_depth 10)", function()
  local s = clientcert.store{ roots = root }
  local r, e = s:verify(clientcert.load(dir .. "/chain100/c99.pem"), { chain = { read("chain100/chain.pem") } })
  return r and ("ok=" .. tostring(r.ok) .. " cause=" .. r.cause), e
end)
run("verify: a chain of 100 (max_depth 100)", function()
  local s = clientcert.store{ roots = root }
  local r, e = s:verify(clientcert.load(dir .. "/chain100/c99.pem"),
    { chain = { read("chain100/chain.pem") }, max_depth = 100 })
  return r and ("ok=" .. tostring(r.ok) .. " cause=" .. r.cause .. " chain=" .. #r.chain), e
end)
run("parse_crl: 1,000,000 entries", function()
  local c, e = clientcert.parse_crl(read("crl-1m.der"))
  return c and (c:info().count .. " entries"), e
end)
run("store with that CRL + verify (crl = leaf)", function()
  local s = clientcert.store{ roots = root, crls = dir .. "/crl-1m.der" }
  local r, e = s:verify(clientcert.load(dir .. "/chain100/c1.pem"), { crl = "leaf", purpose = "any" })
  return r and ("ok=" .. tostring(r.ok) .. " cause=" .. r.cause), e
end)
run("parse + info: 10,000 SAN entries", function()
  local c, e = clientcert.load(dir .. "/san10k.pem")
  if not c then return nil, e end
  return #c:info().san .. " SANs"
end)
run("parse + info: a subject of 2,000 RDNs", function()
  local c, e = clientcert.load(dir .. "/deepname.pem")
  if not c then return nil, e end
  return #c:info().subject_fields .. " fields"
end)
