-- The revocation example's policy: the revocation test PKI's root and issuing CA,
-- and revocation fetched the way IIS does it: the OCSP responder each certificate
-- names (AIA), then its CRL distribution point; no source answering rejects
-- (revocation_unknown). params.dir: the PKI directory.
return {
  trust = assert(clientcert.store{ roots = params.dir .. "/root.pem",
                                   intermediates = params.dir .. "/inter.pem" }),
  revocation = { sources = { "ocsp", "crl" }, scope = "chain", unavailable = "reject", timeout = 2 },
}
