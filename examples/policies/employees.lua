-- Employees: any valid certificate issued by the company's issuing CA, with
-- revocation checked through the whole chain.
--   clientcert.load_policy("examples/policies/employees.lua", {roots = ..., intermediates = ..., crls = {...}})
--   clientcert check --policy examples/policies/employees.lua --param roots=/path/root.pem ... CERT
local p = params
return {
  mode = "require",
  trust = assert(clientcert.store{
    roots = p.roots or "/etc/clientcert/corp/root.pem",
    intermediates = p.intermediates or "/etc/clientcert/corp/issuing-ca.pem",
    crls = p.crls or { "/etc/clientcert/corp/root.crl", "/etc/clientcert/corp/issuing-ca.crl" },
  }),
  verify = { crl = "chain", crl_missing = "reject", purpose = "client", max_depth = 4 },
  allow = {
    { issuer = p.issuer or "CN=Corp Issuing CA,O=Example Corp" },
  },
}
