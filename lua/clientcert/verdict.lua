--- clientcert.verdict: builds verdicts, the tables that name the documented
-- cause (clientcert.causes) of an acceptance or a rejection, with its status,
-- title, message and the steps that fix it, worded for where the verdict is
-- read (its deployment). Every verdict is built here: the policy's, the
-- OpenResty gate's own (internal_error, session_chain_unknown, the 421 of a
-- misdirected request), and the findings of the CLI's audit-client, so that one
-- input gets one wording wherever it is judged. (internal module)
--
--   v = verdict.new(base, deployment)          base's fields kept; steps worded for deployment
--   v = verdict.build(id, accepted, facts, v[, message])
--   v = verdict.invalid(v, info, err)          invalid_certificate
--   v = verdict.internal(v, detail)            internal_error (detail for the log only)
--   v = verdict.misdirected(v, sni, host)      the gate's 421 (not a catalogue cause)
--   f = verdict.finding(id, facts, deployment) a cause's fields without a decision
--   facts = verdict.facts(info, el, extra)     the facts a cause's message and steps read
--   el = verdict.in_roots_element(chain, store), facts = verdict.in_roots_facts(info, el[, extra])
local causes = require "clientcert.causes"

local M = {}

-- verdict table -> the deployment its steps are worded for (a side table, so
-- that no verdict carries a field it did not have before); weak keys.
-- verdict.DEPLOYMENT_OF: what verdict.new writes, for policy:check to write
-- without a call on the verdict cache's hit path.
local DEPLOYMENT_OF = setmetatable({}, { __mode = "k" })
M.DEPLOYMENT_OF = DEPLOYMENT_OF

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

--- el | nil = verdict.in_roots_element(chain, store): the certificate that is not
-- self-signed among store's trusted roots that intermediate_in_roots names: the
-- element of the verified path chain that is one (the client's path stopped
-- there), else the first such root of the store, as an element without depth.
function M.in_roots_element(chain, store)
  for _, el in ipairs(chain or {}) do
    if el.trusted and el.self_signed == false then return el end
  end
  if not store then return nil end
  for _, r in ipairs(store:roots()) do
    local info = r:info()
    if info and not info.self_signed then
      return { subject = info.subject, issuer = info.issuer, serial = info.serial, self_signed = false,
               not_before = info.not_before, not_after = info.not_after }
    end
  end
  return nil
end

--- facts = verdict.in_roots_facts(info, el[, extra]): the facts of
-- intermediate_in_roots for el, a certificate of the store: named as the store
-- holds it, not by its place in a path.
function M.in_roots_facts(info, el, extra)
  local facts = M.facts(info, el, extra)
  if el then facts.element = "the intermediate CA " .. tostring(el.subject) end
  return facts
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

--- f = verdict.finding(id, facts, deployment): what cause id says about facts,
-- without a decision: {cause, substatus, title, message, resolution} (the
-- findings of an audit; deployment as for verdict.new).
function M.finding(id, facts, deployment)
  local c = causes.get(id) or causes.get("invalid_certificate")
  return { cause = id, substatus = c.substatus, title = c.title, message = causes.render(id, facts),
           resolution = causes.resolution(id, facts, deployment or "library") }
end

--- v = verdict.misdirected(v, sni, host): the OpenResty gate's verdict on a request
-- for another name (host) than the connection's TLS server name (sni; "" when
-- the client sent none): 421, cause sni_mismatch (the gate's own, not a catalogue
-- cause: the certificate is not looked at).
function M.misdirected(base, sni, host)
  local v = base or {}
  if sni == "" then
    v.message = ("The connection named no server (no TLS server name) but the request is for %s: connect "
      .. "to %s by its name."):format(host, host)
  else
    v.message = ("This connection was opened for %s, but the request is for %s: a connection (and the "
      .. "client certificate accepted on it) serves only the name it was opened for."):format(sni, host)
  end
  v.accepted, v.cause, v.status, v.substatus, v.title = false, "sni_mismatch", 421, "421", "Misdirected Request"
  v.also = v.also or {}
  v.resolution = {
    { who = "client owner", step = ("Open a new connection to %s (most HTTP clients do this by themselves "
      .. "after a 421), or use the URL of %s."):format(host, sni ~= "" and sni or "the server") },
    { who = "server operator", step = "Links and redirects must name the host the client connects to; "
      .. "a client reusing one connection for several names (HTTP/2 coalescing) retries after this 421." },
  }
  return v
end

return M
