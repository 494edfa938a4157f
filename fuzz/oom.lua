-- fuzz/oom.lua: the cases fuzz/oom.c runs with a failing Lua allocator (make oom).
-- Argument: a test PKI made by spec/fixtures/mkpki.sh. Returns {{name, fn}, ...};
-- each fn calls one clientcert.core function that allocates OpenSSL objects and
-- pushes Lua values, and must run the same way at any allocation that fails.
local core = require "clientcert.core"
local dir = ...

local function read(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- a certificate with every kind of SAN value clientcert pushes, a dotted
-- attribute type (#hex) and an EKU, made once in the PKI directory
local rich = dir .. "/oom-rich.pem"
if not io.open(rich, "rb") then
  local cmd = table.concat({
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes",
    "-keyout " .. dir .. "/oom-rich.key -out " .. rich .. " -days 1",
    "-subj '/1.2.3.4=dotted/CN=rich/O=clientcert oom'",
    "-addext 'subjectAltName=DNS:a.test,email:a@b.test,URI:urn:x,IP:192.0.2.1,IP:2001:db8::1,"
      .. "RID:1.2.3.4,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn@corp,otherName:1.2.3.5;INTEGER:7,"
      .. "dirName:dir_sect'",
    "-addext 'extendedKeyUsage=clientAuth,1.2.3.6'",
    "-config " .. dir .. "/oom-req.cnf >/dev/null 2>&1",
  }, " ")
  local f = assert(io.open(dir .. "/oom-req.cnf", "w"))
  f:write("[req]\ndistinguished_name = dn\n[dn]\n[dir_sect]\nCN = in a dirName\nO = oom\n")
  f:close()
  local ok = os.execute(cmd)
  assert(ok == true or ok == 0, "cannot make " .. rich)
end

-- a CA certificate with name constraints, an AIA and a CRL distribution point
-- (cert:info() decodes them), made once in the PKI directory
local nc = dir .. "/oom-nc.pem"
if not io.open(nc, "rb") then
  local ok = os.execute(table.concat({
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes",
    "-keyout " .. dir .. "/oom-nc.key -out " .. nc .. " -days 1 -subj '/CN=oom nc'",
    "-addext 'basicConstraints=critical,CA:TRUE'",
    "-addext 'nameConstraints=critical,permitted;DNS:a.test,permitted;email:b.test,excluded;IP:192.0.2.0/255.255.255.0'",
    "-addext 'authorityInfoAccess=OCSP;URI:http://ocsp.test/,caIssuers;URI:http://ca.test/ca.cer'",
    "-addext 'crlDistributionPoints=URI:http://ca.test/ca.crl'",
    "-config " .. dir .. "/oom-req.cnf >/dev/null 2>&1",
  }, " "))
  assert(ok == true or ok == 0, "cannot make " .. nc)
end

local alice_pem, bundle = read("alice.pem"), read("alice.pem") .. read("inter.pem") .. read("root.pem")
local crl_pem = read("inter.crl")
local alice = assert(core.parse(alice_pem))
local mallory = assert(core.parse(read("mallory.pem")))            -- revoked in inter.crl
local rich_cert = assert(core.parse(read("oom-rich.pem")))
local rich_key = read("oom-rich.key")
local crl = assert(core.parse_crl(crl_pem))
local p12 = read("alice.p12")
local C = core._store_c

local store = core.new_store()
assert(C.add_root(store, assert(core.parse(read("root.pem")))))
assert(C.add_intermediate(store, assert(core.parse(read("inter.pem")))))
assert(C.add_crl(store, crl))

return {
  { "parse (PEM)", function() core.parse(alice_pem) end },
  { "parse (bad PEM)", function() core.parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") end },
  { "parse_all", function() core.parse_all(bundle) end },
  { "parse_all (bad block)", function() core.parse_all(alice_pem .. "-----BEGIN CERTIFICATE-----\n@@\n") end },
  { "parse_crl", function() core.parse_crl(crl_pem) end },
  { "parse_crl (bad PEM)", function() core.parse_crl("-----BEGIN X509 CRL-----\n@@\n-----END X509 CRL-----\n") end },
  { "cert:info (rich SAN)", function() rich_cert:info() end },
  { "cert:info", function() alice:info() end },
  { "cert:info (name constraints, AIA, CRL DP)", function() core.parse(read("oom-nc.pem")):info() end },
  { "cert:der", function() rich_cert:der() end },
  { "cert:pem", function() rich_cert:pem() end },
  { "cert:matches_key", function() rich_cert:matches_key(rich_key) end },
  { "cert:matches_key (bad)", function() rich_cert:matches_key("not a key") end },
  { "cert:matches_key (bad, where and ctx)",
    function() rich_cert:matches_key("not a key", nil, "audit_client", "k.pem") end },
  { "tostring(cert)", function() return tostring(rich_cert) end },
  { "crl:info", function() crl:info() end },
  { "crl:der", function() crl:der() end },
  { "crl:pem", function() crl:pem() end },
  { "crl:lookup", function() assert(crl:lookup(mallory)) end },
  { "parse_pkcs12", function() core.parse_pkcs12(p12, "secret") end },
  { "store:roots", function() C.roots(store) end },
  { "store:crls", function() C.crls(store) end },
  { "store:verify", function() C.verify(store, alice, { time = 1906502400 }) end },
  { "store:verify (revoked)", function() C.verify(store, mallory, { time = 1906502400 }) end },
}
