--- clientcert verify CERT: verify a client certificate's chain against a store.
local c = require "clientcert.cli.common"
local options = require "clientcert.options"

local M = { name = "verify", summary = "Verify a client certificate's chain and print the certification path." }

function M.define(cmd)
  cmd:argument("cert", "Client certificate (PEM or DER). A PEM bundle's further certificates count as its chain.")
  cmd:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable."):count("*")
  cmd:option("--intermediates", "Intermediate CAs the server holds; repeatable."):count("*")
  cmd:option("--crl", "CRL file (PEM bundle or DER); repeatable."):count("*")
  cmd:option("--chain", "Certificates the client sent besides its own (PEM bundle or DER); repeatable."):count("*")
  cmd:option("--time", "Check time instead of now (audit: would it be accepted then?).")
  cmd:option("--purpose", "Required purpose: client, server or any.", "client")
    :choices(options.values("purpose"))
  cmd:option("--crl-check", "Revocation check: none, leaf or chain (default: chain when a CRL is given).")
    :choices(options.values("crl"))
  cmd:option("--crl-missing", "When an issuer has no CRL: reject or allow.", "reject")
    :choices({ "reject", "allow" })
  cmd:option("--max-depth", "Longest path allowed (intermediates); an integer >= 0.", "10"):convert(c.max_depth)
  cmd:flag("--partial-chain", "Accept a path that ends at a trusted intermediate.")
  cmd:flag("--json", "Print the result as one JSON object.")
end

function M.run(a, out, eout)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local store, err = c.server_store(a)
  if not store then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local certs, lerr = c.read_certs(a.cert, "verify")
  if not certs then c.put(eout, "%s", lerr) return c.EXIT_ERROR end
  local chain = {}
  for i = 2, #certs do chain[#chain + 1] = certs[i] end
  for _, path in ipairs(a.chain or {}) do
    local more, cerr = c.read_certs(path, "verify")
    if not more then c.put(eout, "%s", cerr) return c.EXIT_ERROR end
    for _, x in ipairs(more) do chain[#chain + 1] = x end
  end
  local result, verr = store:verify(certs[1], {
    chain = chain, time = when, purpose = a.purpose, crl = a.crl_check,
    crl_missing = a.crl_missing, max_depth = a.max_depth, partial_chain = a.partial_chain,
  })
  if not result then c.put(eout, "%s", verr) return c.EXIT_ERROR end
  if a.json then
    c.emit_json(out, result)
  else
    c.print_path(out, result)
    -- the error of the problem that gave "the" cause (causes.primary), not OpenSSL's first
    local why = result.error
    for _, p in ipairs(result.problems or {}) do
      if p.cause == result.cause then why = p.error break end
    end
    if result.ok then c.put(out, "Result: OK") else c.put(out, "Result: FAILED (%s: %s)", result.cause, why) end
  end
  return result.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
