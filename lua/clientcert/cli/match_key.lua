--- clientcert match-key CERT KEY: does a private key belong to a certificate?
local clientcert = require "clientcert"
local c = require "clientcert.cli.common"

local M = { name = "match-key", summary = "Does a private key belong to a certificate?" }

function M.define(cmd)
  cmd:argument("cert", "Certificate file.")
  cmd:argument("key", "Private key file (PEM or DER, PKCS#8 or traditional, encrypted or not).")
  cmd:option("--passphrase-env", "Environment variable holding the key's passphrase.")
end

function M.run(a, out, eout)
  local cert, err = clientcert.load(a.cert)
  if not cert then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local key, kerr = c.read(a.key, "match_key")
  if not key then c.put(eout, "%s", kerr) return c.EXIT_ERROR end
  local pass, ok = c.passphrase(a, eout)
  if not ok then return c.EXIT_ERROR end
  local match, merr = cert:matches_key(key, pass, "match_key", a.key)
  if match == nil then c.put(eout, "%s", merr) return c.EXIT_ERROR end
  c.put(out, "%s", match and "the key matches the certificate" or "the key does NOT match the certificate")
  return match and c.EXIT_OK or c.EXIT_REJECT
end

return M
