-- Agreement figures recorded in the repository. A runner fails when its agreement
-- drops below its figure (a regression); a gain is recorded by raising the figure.
-- See spec/conformance/EXPECTED.md for every disagreement and its reason.
return {
  openssl_verify = 162, -- of 162
  limbo = 129,          -- of 176, default options
  limbo_strict = 136,   -- of 176, flags = {"x509_strict"} (OpenSSL 3.0's own figure: 136)
  limbo_profile_strict = 166, -- of 176, profile = "strict" (clientcert.profile)
  parse_corpus = 147,   -- of 147
  pkits_client = 159,         -- of 161 (outside 4.8-4.12), crl = "chain" (OpenSSL's X509_verify_cert: 146)
  pkits_client_allow = 156,   -- of 161, crl_missing = "allow"
  pkits_client_pkits = 244,   -- of 247 (161 + 86 policy runs), OpenSSL's PKITS settings (OpenSSL: 244)
}
