--- clientcert.verdict: builds verdicts, the tables that name the documented
-- cause (clientcert.causes) of an acceptance or a rejection, with its status,
-- title, message and the steps that fix it, worded for where the verdict is
-- read (its deployment). Every verdict is built here: the policy's, the
-- OpenResty gate's own, the CLI's. (internal module)
--
--   v = verdict.new(base, deployment)          base's fields kept; steps worded for deployment
--   v = verdict.build(id, accepted, facts, v[, message])
--   v = verdict.invalid(v, info, err)          invalid_certificate
--   v = verdict.internal(v, detail)            internal_error (detail for the log only)
--   facts = verdict.facts(info, el, extra)     the facts a cause's message and steps read
local causes = require "clientcert.causes"

local M = {}

-- verdict table -> the deployment its steps are worded for (a side table, so
-- that no verdict carries a field it did not have before); weak keys
local DEPLOYMENT_OF = setmetatable({}, { __mode = "k" })

--- v = verdict.new(base, deployment): base (a table of fields the verdict starts
-- with, or nil) as a verdict whose resolution steps are worded for deployment
-- (causes.DEPLOYMENTS; nil: "library").
function M.new(base, deployment)
  base = base or {}
  DEPLOYMENT_OF[base] = deployment
  return base
end

--- facts = verdict.facts(info, el, extra): facts for message templates, from the
-- client's info (cert:info()) and the element of the path a problem is on.
function M.facts(info, el, extra)
  local f = {}
  if info then
    f.subject, f.issuer, f.serial = info.subject, info.issuer, info.serial
    f.fingerprint, f.eku = info.fingerprint, info.eku
  end
  if el then
    local role
    if el.depth == 0 then role = "the client certificate"
    elseif el.self_signed then role = "the root CA"
    else role = "the intermediate CA" end
    f.element = ("%s %s"):format(role, el.subject or "?")
    if el.depth and el.depth > 0 then f.element = ("%s (chain depth %d)"):format(f.element, el.depth) end
    f.depth = el.depth
    f.element_issuer, f.element_serial = el.issuer, el.serial
    f.element_not_before, f.element_not_after = el.not_before, el.not_after
  else
    f.element = info and ("the client certificate " .. tostring(info.subject)) or "the client certificate"
  end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

--- v = verdict.build(id, accepted, facts, v[, message]): v (from verdict.new, or
-- nil) with the fields of cause id (message: the rendered message when the
-- caller has it already).
function M.build(id, accepted, facts, base, message)
  local c = causes.get(id) or causes.get("invalid_certificate")
  local v = base or {}
  v.accepted = accepted
  v.cause = id
  v.status = accepted and 200 or c.status
  v.substatus = accepted and "200" or c.substatus
  v.title = c.title
  v.message = message or causes.render(id, facts)
  v.resolution = accepted and {} or causes.resolution(id, facts, DEPLOYMENT_OF[v] or "library")
  v.also = v.also or {}
  return v
end

--- v = verdict.invalid(v, info, err): the rejection of a certificate or chain
-- that cannot be read or verified (err: why).
function M.invalid(base, info, err)
  return M.build("invalid_certificate", false, M.facts(info, nil, { error = err }), base)
end

--- v = verdict.internal(v, detail): the rejection of a check that could not be
-- completed (a bug, a closed store, a raising rule): cause internal_error;
-- detail (which may hold file paths and Lua error text) goes to v.error for the
-- server's log, never into the message.
function M.internal(base, detail)
  base.error = detail
  return M.build("internal_error", false, {}, base)
end

return M
