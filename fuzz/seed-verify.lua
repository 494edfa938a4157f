-- Writes seed inputs for the store:verify fuzzer: length-prefixed DER parts
-- (root, client certificate, chain...) taken from the test PKI.
-- usage: lua5.4 fuzz/seed-verify.lua PKI_DIR OUT_DIR
local pki, out = arg[1], arg[2]
local function der(name)
  local p = io.popen(("openssl x509 -in %s/%s.pem -outform DER"):format(pki, name), "r")
  local s = p:read("*a")
  p:close()
  return s
end
local function part(s) return string.char(math.floor(#s / 256), #s % 256) .. s end
local seeds = {
  good = { "root", "alice", "inter" }, expired = { "root", "old", "inter" },
  forged = { "root", "forger", "forged-inter", "forged-root" }, notca = { "root", "victim", "notca", "inter" },
  pathlen = { "root", "deep", "sub-inter", "inter-pl0" }, nul = { "root", "nul", "inter" },
}
for name, list in pairs(seeds) do
  local f = assert(io.open(out .. "/" .. name, "wb"))
  for _, n in ipairs(list) do f:write(part(der(n))) end
  f:close()
end
