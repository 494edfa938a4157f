--- clientcert audit-store --roots FILE: is a trusted-root store sound?
local clientcert = require "clientcert"
local c = require "clientcert.cli.common"

local M = { name = "audit-store",
            summary = "Check a trusted-root store: every root must be a self-signed CA, in date." }

function M.define(cmd)
  cmd:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable."):count("+")
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the findings as one JSON object.")
end

function M.run(a, out, eout)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local store, err = clientcert.store{ roots = c.flat(a.roots) }
  if not store then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local report = require("clientcert.policy").audit_store(store, { time = when })
  if a.json then
    c.emit_json(out, report)
  else
    c.put(out, "%d trusted certificates checked at %s", report.count or 0, c.iso(when))
    for _, f in ipairs(report.findings or {}) do c.put(out, "- %s: %s", f.cause, f.message) end
    c.put(out, "%s", report.ok and "Result: OK" or "Result: PROBLEMS FOUND")
  end
  return report.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
