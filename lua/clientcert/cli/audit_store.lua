--- clientcert audit-store --roots FILE|DIR: is a trusted-root store sound?
local clientcert = require "clientcert"
local c = require "clientcert.cli.common"

local M = { name = "audit-store",
            summary = "Check a trusted-root store: self-signed CAs, in date, no duplicates or weak ones, "
              .. "a CA names list clients accept." }

function M.define(cmd)
  cmd:option("--roots", "Trusted root certificates: a PEM bundle, a DER file, or a directory (every "
    .. "certificate file in it); repeatable."):count("+")
  cmd:option("--warn-days", "Report certificates expiring within N days (0 .. 36500).", "30"):convert(c.warn_days)
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the findings as one JSON object.")
end

-- certs, files, unreadable = load(paths, eout): every certificate of the files and
-- directories given; nil after printing the error when one cannot be read.
-- unreadable: files inside a directory that hold no certificate ({file, error}).
local function load(paths, eout)
  local certs, files, unreadable = {}, 0, {}
  for _, path in ipairs(paths) do
    local from_dir = 0
    local ok, err, code = c.walk(path, function(file)
      local list, lerr = c.read_certs(file, "audit_store")
      if list then
        from_dir = from_dir + 1
        for _, x in ipairs(list) do certs[#certs + 1] = x end
      else
        unreadable[#unreadable + 1] = { file = file, error = lerr }
      end
    end, { where = "audit_store" })
    if ok then
      files = files + from_dir
      if from_dir == 0 then
        c.put(eout, "clientcert.audit_store: %s: no certificate file in this directory", path)
        return nil
      end
    elseif code == "not_a_directory" then
      local list, lerr = c.read_certs(path, "audit_store")
      if not list then c.put(eout, "%s", lerr) return nil end
      files = files + 1
      for _, x in ipairs(list) do certs[#certs + 1] = x end
    else
      -- a path that does not exist: say so the way a file read does
      local _, rerr = c.read(path, "audit_store")
      c.put(eout, "%s", rerr or err)
      return nil
    end
  end
  return certs, files, unreadable
end

function M.run(a, out, eout)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local certs, files, unreadable = load(c.flat(a.roots), eout)
  if not certs then return c.EXIT_ERROR end
  local store, err = clientcert.store{ roots = certs }
  if not store then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local report = clientcert.audit_store(store, { time = when, warn_days = a.warn_days })
  for _, u in ipairs(unreadable) do
    table.insert(report.findings, { check = "not_a_certificate", file = u.file,
      message = ("%s: no certificate read, so it is not part of the store"):format(
        (tostring(u.error):gsub("^clientcert%.[%w_]+: ", ""))) })
  end
  report.ok = #report.findings == 0
  report.files = files
  if a.json then
    c.emit_json(out, report)
  else
    local paint = c.painter(out)
    local n = report.ca_names
    c.put(out, "%d trusted certificates from %d files checked at %s (expiry warning: %d days)", report.count,
      files, c.iso(when), report.warn_days)
    c.put(out, "CA names a server sends in its CertificateRequest: %d names, %d bytes "
      .. "(Windows/Schannel clients accept up to %d, TLS carries up to %d)", n.count, n.bytes, n.schannel_limit,
      n.tls_limit)
    for _, f in ipairs(report.findings) do
      out:write(paint("yellow", "- " .. c.escape(f.check)), c.escape(": " .. tostring(f.message)), "\n")
    end
    c.print_profile_findings(out, report.profile_findings, paint)
    if report.ok then
      out:write(paint("green", "Result: OK"), "\n")
    else
      out:write(paint("red", ("Result: PROBLEMS FOUND (%d)"):format(#report.findings)), "\n")
    end
  end
  return report.ok and c.EXIT_OK or c.EXIT_REJECT
end

return M
