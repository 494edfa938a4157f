-- Admin console: a short list of people, each named by the e-mail address in
-- their certificate's SAN (not by CN, which any CA under the root could reuse),
-- issued by the company's issuing CA, with revocation checked through the chain
-- and a floor on key strength.
--   clientcert.load_policy("examples/policies/admins.lua",
--                          {roots = ..., intermediates = ..., crls = {...}, admins = {"ops@example.com"}})
local p = params
local allow = {}
-- list(): one --param admins=X on the command line arrives as a string, several as a list
for _, email in ipairs(list(p.admins or { "ops@example.com", "security@example.com" })) do
  allow[#allow + 1] = { san_email = email, issuer = p.issuer or "CN=Corp Issuing CA,O=Example Corp" }
end
return {
  name = "admin console",
  mode = "require",
  trust = assert(clientcert.store{
    roots = p.roots or "/etc/clientcert/corp/root.pem",
    intermediates = p.intermediates or "/etc/clientcert/corp/issuing-ca.pem",
    crls = p.crls,
  }),
  verify = { crl = p.crls and "chain" or "none", purpose = "client", max_depth = 3 },
  allow = allow,
  rule = function(info)
    local key = info.public_key or {}
    if key.type == "RSA" and (key.bits or 0) < 3072 then
      return false, ("an RSA key of %d bits; admins need 3072 or more, or EC"):format(key.bits or 0)
    end
    return true
  end,
}
