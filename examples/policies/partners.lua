-- Partners: only certificates pinned by SHA-256 fingerprint (each partner
-- registers its certificate), whatever CA in the trusted bundle issued them.
local p = params
local pinned = {
  -- Acme Ltd, registered 2026-03-02, ticket PARTNER-118
  { fingerprint = "3b5f1c0e4a7d9e2b6c8f0a1d3e5b7c9d1f2a4b6c8e0d2f4a6b8c0e2d4f6a8b0c" },
  -- Globex, registered 2026-05-19, ticket PARTNER-131
  { fingerprint = "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f" },
}
-- list(): one --param extra_fingerprints=FP arrives as a string, several as a list
for _, fp in ipairs(list(p.extra_fingerprints)) do pinned[#pinned + 1] = { fingerprint = fp } end
return {
  mode = "require",
  trust = assert(clientcert.store{ roots = p.roots or "/etc/ssl/certs/ca-certificates.crt",
                                   intermediates = p.intermediates }),
  allow = pinned,
}
