--- clientcert info CERT: what a certificate says.
local c = require "clientcert.cli.common"

local M = { name = "info", summary = "Print what a certificate says (subject, issuer, dates, SAN, EKU, ...)." }

function M.define(cmd)
  cmd:argument("cert", "Certificate file (PEM or DER); every certificate of a PEM bundle is shown.")
  cmd:flag("--json", "One JSON object per certificate, one per line.")
end

local function print_info(out, info, idx)
  local put = c.put
  local lines = {
    { "subject", info.subject }, { "issuer", info.issuer }, { "serial", info.serial },
    { "not before", c.iso(info.not_before) }, { "not after", c.iso(info.not_after) },
    { "self-signed", tostring(info.self_signed) },
    { "CA", tostring(info.is_ca) .. (info.path_len and (" (pathlen " .. info.path_len .. ")") or "") },
    { "key", ("%s %s%s"):format(info.public_key.type, tostring(info.public_key.bits or "?"),
      info.public_key.curve and (" " .. info.public_key.curve) or "") },
    { "signature", info.signature_algorithm }, { "sha256", info.fingerprint },
    { "key id", info.subject_key_id or "(none)" }, { "issuer key", info.authority_key_id or "(none)" },
  }
  if idx then put(out, "certificate %d", idx) end
  for _, l in ipairs(lines) do put(out, "  %-12s %s", l[1] .. ":", l[2]) end
  local san = {}
  for _, s in ipairs(info.san or {}) do
    san[#san + 1] = tostring(s.type) .. ":" .. (s.oid and (tostring(s.oid) .. ":") or "") .. tostring(s.value)
  end
  put(out, "  %-12s %s", "SAN:", #san > 0 and table.concat(san, ", ") or "(none)")
  put(out, "  %-12s %s", "EKU:", #info.eku > 0 and table.concat(info.eku, ", ") or "(none: any purpose)")
  put(out, "  %-12s %s", "key usage:", #info.key_usage > 0 and table.concat(info.key_usage, ", ") or "(none)")
end

function M.run(a, out, eout)
  local list, err = c.read_certs(a.cert, "info")
  if not list then c.put(eout, "%s", err) return c.EXIT_ERROR end
  for i, cert in ipairs(list) do
    local info, ierr = cert:info()
    if not info then c.put(eout, "%s", ierr) return c.EXIT_ERROR end
    if a.json then
      c.emit_json(out, info)
    else
      print_info(out, info, #list > 1 and i or nil)
    end
  end
  return c.EXIT_OK
end

return M
