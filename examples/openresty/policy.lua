-- The policy of the OpenResty example (and of the nginx integration suite): the
-- demo PKI's root (clients send their issuing CA), revocation checked through the
-- chain with the CRLs of make-pki.sh, and a rule that turns bob away. params.dir:
-- the PKI directory; params.mode: "require" (default) or "optional".
local p = params
return {
  mode = p.mode or "require",
  trust = assert(clientcert.store{ roots = p.dir .. "/root.pem",
                                   crls = { p.dir .. "/root.crl", p.dir .. "/inter.crl",
                                            p.dir .. "/inter-revoked.crl" } }),
  verify = { crl = "chain", purpose = "client", max_depth = 4 },
  -- per worker: the chain verification of up to 10,000 clients, each for at most
  -- 5 minutes and never past a certificate's or CRL's dates (allow/rule still run);
  -- measured in nginx (make bench-nginx): about 1 KB of Lua heap and 2.3 KB of RSS
  -- per client, 10 MB of heap and 23 MB of RSS per worker when full
  cache = { size = 10000, ttl = 300 },
  rule = function(info)
    if info.subject:find("CN=bob,", 1, true) == 1 then return false, "bob is on leave" end
    return true
  end,
}
