-- The first real check: a server trusting the demo root decides on four clients.
-- usage: lua5.4 examples/demo.lua DIR   (DIR made by examples/demo-pki.sh)
local clientcert = require "clientcert"

local dir = assert(arg[1], "usage: demo.lua DIR")
local function path(name) return dir .. "/" .. name end
local function read(name)
  local f = assert(io.open(path(name), "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- The server's trust: the demo root, and the issuing CA it holds itself.
local trust = assert(clientcert.store{ roots = path("root.pem"), intermediates = path("inter.pem") })
local policy = assert(clientcert.policy{ mode = "require", trust = trust })

-- Checked on a fixed date so the demo's answers do not change with the years.
local when = 1906502400 -- 2030-06-01T00:00:00Z
local clients = {
  { "alice (good client)", { cert = read("alice.pem") } },
  { "bob (expired certificate)", { cert = read("expired.pem") } },
  { "mallory (root CA not trusted)", { cert = read("stranger.pem"), chain = { read("stranger-root.pem") } } },
  { "anonymous (no certificate)", {} },
}
print(("clientcert %s on %s, checking at 2030-06-01"):format(clientcert.version, clientcert.openssl_version))
for _, c in ipairs(clients) do
  local req = c[2]
  req.time = when
  local v = policy:check(req)
  print()
  print(("%-32s %s  HTTP %s  cause=%s"):format(c[1], v.accepted and "ACCEPTED" or "REJECTED", v.substatus, v.cause))
  if not v.accepted then
    print("  " .. v.message)
    for i, step in ipairs(v.resolution) do
      print(("  %d. %s"):format(i, type(step) == "table" and ("[" .. step.who .. "] " .. step.step) or step))
    end
  end
end
