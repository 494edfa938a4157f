-- The policy of the nginx integration suite: the live PKI's root and issuing CA
-- (the issuing CA is also a server-held intermediate only when params.inter is
-- given), CRLs through the chain, and a rule that turns bob away.
local p = params
return {
  mode = p.mode or "require",
  trust = assert(clientcert.store{ roots = p.dir .. "/root.pem",
                                   crls = { p.dir .. "/root.crl", p.dir .. "/inter.crl",
                                            p.dir .. "/inter-revoked.crl" } }),
  verify = { crl = "chain", purpose = "client", max_depth = 4 },
  rule = function(info)
    if info.subject:find("CN=bob,", 1, true) == 1 then return false, "bob is on leave" end
    return true
  end,
}
