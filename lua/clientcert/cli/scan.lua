--- clientcert scan DIR --roots FILE: verify every certificate file under a directory.
-- Streams: one file read, parsed, verified and released at a time, with the store
-- built once; what is kept is the count by cause and the lists it prints.
local causes = require "clientcert.causes"
local input = require "clientcert.input"
local c = require "clientcert.cli.common"

local DAY = 86400
-- Rejected and unreadable files listed in the text output (the JSON lists all).
local TEXT_LIST_MAX = 50

local M = { name = "scan",
            summary = "Verify every certificate file under a directory: counts by cause, what expires soon." }

function M.define(cmd)
  cmd:argument("dir", "Directory to scan, recursively (links to files are read, links to directories are not "
    .. "followed). A PEM bundle's further certificates count as its chain.")
  cmd:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable."):count("+")
  cmd:option("--intermediates", "Intermediate CAs the server holds; repeatable."):count("*")
  cmd:option("--crl", "CRL file (PEM bundle or DER); repeatable."):count("*")
  cmd:option("--warn-days", "Report certificates expiring, and CRLs going stale, within N days (0 .. 36500).", "30")
    :convert(c.warn_days)
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the summary as one JSON object.")
end

-- progress(eout): a progress bar on eout when it is a terminal (nil otherwise):
-- bar.total(n), bar.step(done), bar.done().
local function progress(eout)
  if not c.is_terminal(eout) then return nil end
  local total, last = 0, -1
  local bar = {}
  function bar.total(n) total = n end
  function bar.step(done)
    local width = 40
    local filled = total > 0 and math.floor(width * done / total) or 0
    if filled == last and done ~= total then return end
    last = filled
    eout:write(("\r[%s%s] %d/%d files"):format(("#"):rep(filled), ("."):rep(width - filled), done, total))
    eout:flush()
  end
  function bar.done() eout:write("\r", (" "):rep(64), "\r") eout:flush() end
  return bar
end

-- certs, err = parse(data): every certificate of a PEM file, or one DER certificate.
local function parse(data)
  return input.parse("cert", data, "parse_all")
end

local function close_all(list)
  for _, x in ipairs(list) do x:close() end
end

function M.run(a, out, eout)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local store, err = c.server_store(a)
  if not store then c.put(eout, "%s", err) return c.EXIT_ERROR end
  local horizon = when + a.warn_days * DAY

  -- CRLs stale now or within warn_days, by issuer name
  local stale_crls, stale_by_issuer = {}, {}
  for _, crl in ipairs(store:crls()) do
    if crl.next_update and crl.next_update < horizon then
      local e = { issuer = crl.issuer, next_update = crl.next_update, stale = crl.next_update < when,
                  certificates = 0 }
      stale_crls[#stale_crls + 1] = e
      stale_by_issuer[crl.issuer] = e
    end
  end

  local counts, order = {}, {}
  local rejected, expiring, unreadable = {}, {}, {}
  local stats = { files = 0, certificates = 0, accepted = 0, rejected = 0, unreadable = 0 }
  local function unread(file, why)
    stats.unreadable = stats.unreadable + 1
    local msg = tostring(why):gsub("^clientcert%.[%w_%.]+: ", "")
    if msg:sub(1, #file + 2) == file .. ": " then msg = msg:sub(#file + 3) end
    unreadable[#unreadable + 1] = { file = file, error = msg }
  end
  local opts = { time = when, purpose = "client" }

  local function visit(file)
    stats.files = stats.files + 1
    local data, rerr = c.read(file, "scan")
    if not data then return unread(file, rerr) end
    local certs, perr = parse(data)
    if not certs then return unread(file, perr) end
    local leaf = certs[1]
    local chain = {}
    for i = 2, #certs do chain[i - 1] = certs[i] end
    opts.chain = chain
    local result, verr = store:verify(leaf, opts)
    close_all(certs)
    if not result then return unread(file, verr) end
    stats.certificates = stats.certificates + 1
    local cause = result.cause
    if not counts[cause] then counts[cause] = 0 order[#order + 1] = cause end
    counts[cause] = counts[cause] + 1
    local el = result.chain[1]
    if result.ok then
      stats.accepted = stats.accepted + 1
    else
      stats.rejected = stats.rejected + 1
      rejected[#rejected + 1] = { file = file, cause = cause, subject = el and el.subject }
    end
    if el and el.not_after and el.not_after >= when and el.not_after < horizon then
      expiring[#expiring + 1] = { file = file, subject = el.subject, not_after = el.not_after,
                                  days_left = math.floor((el.not_after - when) / DAY) }
    end
    if #stale_crls > 0 then
      -- each CA of the path whose CRL goes stale: its clients depend on it
      local seen = {}
      for i = 1, #result.chain - 1 do
        local issuer = result.chain[i].issuer
        local s = issuer and stale_by_issuer[issuer]
        if s and not seen[s] then
          seen[s] = true
          s.certificates = s.certificates + 1
        end
      end
    end
  end

  local bar = progress(eout)
  local walk_opts = { recursive = true, where = "scan", on_error = function(path, e) unread(path, e) end }
  if bar then
    local ok, n = c.walk(a.dir, function() end, { recursive = true, where = "scan" })
    if ok then bar.total(n.files) end
    local inner = visit
    visit = function(file) inner(file) bar.step(stats.files) end
  end
  local ok, werr = c.walk(a.dir, visit, walk_opts)
  if bar then bar.done() end
  if not ok then c.put(eout, "%s", werr) return c.EXIT_ERROR end
  if stats.certificates == 0 then
    c.put(eout, "clientcert.scan: %s: no certificate file under this directory (%d files, none a certificate)",
      a.dir, stats.files)
    return c.EXIT_ERROR
  end

  table.sort(order, function(x, y) return counts[x] > counts[y] or (counts[x] == counts[y] and x < y) end)
  local by_cause = {}
  for _, id in ipairs(order) do
    local entry = causes.get(id)
    by_cause[#by_cause + 1] = { cause = id, count = counts[id], substatus = entry and entry.substatus,
                                title = entry and entry.title }
  end
  table.sort(expiring, function(x, y) return x.not_after < y.not_after or (x.not_after == y.not_after
    and x.file < y.file) end)
  local clean = stats.rejected == 0 and stats.unreadable == 0 and #expiring == 0 and #stale_crls == 0
  local report = { ok = clean, dir = a.dir, time = when, warn_days = a.warn_days, files = stats.files,
                   certificates = stats.certificates, accepted = stats.accepted, rejected = stats.rejected,
                   unreadable = stats.unreadable, by_cause = by_cause, rejected_files = rejected,
                   expiring = expiring, stale_crls = stale_crls, unreadable_files = unreadable }
  if a.json then
    c.emit_json(out, report)
    return clean and c.EXIT_OK or c.EXIT_REJECT
  end

  local paint = c.painter(out)
  c.put(out, "Scanned %s at %s: %d files, %d certificates: %d accepted, %d rejected, %d unreadable", a.dir,
    c.iso(when), stats.files, stats.certificates, stats.accepted, stats.rejected, stats.unreadable)
  c.put(out, "")
  c.put(out, "%8s  %-7s  %s", "count", "status", "cause")
  for _, b in ipairs(by_cause) do
    c.put(out, "%8d  %-7s  %s (%s)", b.count, b.substatus or "?", b.cause, b.title or "")
  end
  if stats.unreadable > 0 then c.put(out, "%8d  %-7s  %s", stats.unreadable, "-", "unreadable (not a certificate)") end
  local function list(title, items, line)
    if #items == 0 then return end
    c.put(out, "")
    c.put(out, "%s", title)
    for i, x in ipairs(items) do
      if i > TEXT_LIST_MAX then
        c.put(out, "  ... %d more (--json lists all)", #items - TEXT_LIST_MAX)
        break
      end
      line(x)
    end
  end
  list(("Rejected (%d):"):format(#rejected), rejected, function(x)
    c.put(out, "  %s: %s (%s)", x.file, x.cause, x.subject or "?")
  end)
  list(("Expiring within %d days (%d):"):format(a.warn_days, #expiring), expiring, function(x)
    c.put(out, "  %s: %s expires %s (%d days)", x.file, x.subject, c.iso(x.not_after), x.days_left)
  end)
  list(("CRLs stale or going stale within %d days (%d):"):format(a.warn_days, #stale_crls), stale_crls, function(x)
    c.put(out, "  CRL of %s: %s %s; %d scanned certificates depend on it", x.issuer,
      x.stale and "stale since" or "next update", c.iso(x.next_update), x.certificates)
  end)
  list(("Unreadable (%d):"):format(#unreadable), unreadable, function(x)
    c.put(out, "  %s: %s", x.file, x.error)
  end)
  out:write(clean and paint("green", "Result: OK") or paint("red", "Result: PROBLEMS FOUND"), "\n")
  return clean and c.EXIT_OK or c.EXIT_REJECT
end

return M
