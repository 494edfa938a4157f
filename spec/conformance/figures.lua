-- Agreement figures recorded in the repository. A runner fails when its agreement
-- drops below its figure (a regression); a gain is recorded by raising the figure.
-- See spec/conformance/EXPECTED.md for every disagreement and its reason.
return {
  openssl_verify = 162, -- of 162
  limbo = 129,          -- of 176, default options
  limbo_strict = 136,   -- of 176, flags = {"x509_strict"} (OpenSSL 3.0's own figure: 136)
  parse_corpus = 147,   -- of 147
}
