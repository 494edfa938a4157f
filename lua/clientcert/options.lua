--- clientcert.options: the one schema of the verification options, used by
-- store:verify (per call), policy{verify = ...} (checked once, at construction)
-- and the CLI's flags (their choices). C (csrc/store.c) reads the checked copy
-- with raw access; its own checks stay only as the last line for direct calls.
local util = require "clientcert.util"

local M = {}

-- The flag names store:verify takes in verify.flags (csrc/store.c store_flags;
-- spec/policy_spec.lua checks that store:verify takes each of them).
M.FLAGS = {
  "x509_strict", "policy_check", "explicit_policy", "inhibit_any", "inhibit_map", "allow_proxy_certs",
  "use_deltas", "extended_crl_support", "check_ss_signature", "ignore_critical", "no_alt_chains",
}
local FLAG_SET = {}
for _, f in ipairs(M.FLAGS) do FLAG_SET[f] = true end

-- name -> {kind, values (enum), min/max (integer), per_call (store:verify only)}
M.VERIFY = {
  purpose = { kind = "enum", values = { "client", "server", "any" } },
  crl = { kind = "enum", values = { "none", "leaf", "chain" } },
  crl_missing = { kind = "enum", values = { "reject", "allow" } },
  -- "strict": x509_strict plus the RFC 5280 / CA/B rules of clientcert.profile
  profile = { kind = "enum", values = { "default", "strict" } },
  max_depth = { kind = "integer", min = 0 },
  auth_level = { kind = "integer", min = 0, max = 5 },
  partial_chain = { kind = "boolean" },
  check_time = { kind = "boolean" },
  flags = { kind = "list", item = "flag" },
  policies = { kind = "list", item = "oid" },
  -- per call only (a policy sets them itself for each check)
  time = { kind = "time", per_call = true },
  chain = { kind = "any", per_call = true },
  certs = { kind = "boolean", per_call = true },
}

for _, spec in pairs(M.VERIFY) do
  if spec.values then
    spec.set = {}
    for _, v in ipairs(spec.values) do spec.set[v] = true end
    local q = {}
    for i, v in ipairs(spec.values) do q[i] = '"' .. v .. '"' end
    spec.text = #q > 1 and (table.concat(q, ", ", 1, #q - 1) .. " or " .. q[#q]) or q[1]
  end
end

--- list = options.values(name): the allowed values of an enum option (CLI choices).
function M.values(name)
  local spec = assert(M.VERIFY[name], name)
  local out = {}
  for i, v in ipairs(spec.values) do out[i] = v end
  return out
end

local function is_oid(s)
  return s:match("^[0-2]%.%d+[%.%d]*$") and not s:match("%.%.") and not s:match("%.$")
end

--- copy | nil, err = options.check_verify(t, ctx): the checked copy of verify
-- options t (raw access; nothing of t is kept). ctx.per_call: store:verify's own
-- options (time, chain, certs) are allowed; ctx.label(k) names an option in a
-- message ("verify.crl" for a policy, "crl" for store:verify); ctx.where for
-- util's checks. err is the message without the "clientcert.<where>: " prefix.
function M.check_verify(t, ctx)
  if type(t) ~= "table" then return nil, ctx.label(nil) .. " must be a table" end
  local out = {}
  for k, v in next, t do
    local spec = type(k) == "string" and M.VERIFY[k] or nil
    if not spec or (spec.per_call and not ctx.per_call) then
      return nil, ctx.unknown(tostring(k))
    end
    local label = ctx.label(k)
    if spec.kind == "enum" then
      if not spec.set[v] then
        return nil, ("%s cannot be %s (%s)"):format(label, tostring(v), spec.text)
      end
      out[k] = v
    elseif spec.kind == "boolean" then
      if type(v) ~= "boolean" then return nil, ("%s must be a boolean, got %s"):format(label, type(v)) end
      out[k] = v
    elseif spec.kind == "integer" then
      local ok, n = pcall(util.integer, v, ctx.where, label, spec.min, spec.max, 1)
      if not ok then return nil, (tostring(n):gsub("^clientcert%.[%w_.]+: ", "")) end
      out[k] = n
    elseif spec.kind == "time" then
      local ok, n = pcall(util.time, v, ctx.where, 1)
      if not ok then return nil, (tostring(n):gsub("^clientcert%.[%w_.]+: ", "")) end
      out[k] = n
    elseif spec.kind == "list" then
      if type(v) ~= "table" then return nil, ("%s must be a list, got %s"):format(label, type(v)) end
      local ok, list = pcall(util.list, v, ctx.where, label, 1)
      if not ok then return nil, (tostring(list):gsub("^clientcert%.[%w_.]+: ", "")) end
      local copy = {}
      for i, name in ipairs(list) do
        if spec.item == "flag" and not FLAG_SET[name] then
          return nil, ("%s[%d]: unknown flag '%s'"):format(label, i, tostring(name))
        end
        if type(name) ~= "string" then return nil, ("%s[%d] must be a string"):format(label, i) end
        if spec.item == "oid" and not is_oid(name) then
          return nil, ("%s[%d] must be a dotted OID such as \"1.3.6.1.4.1.99999.1\", got '%s'"):format(label, i, name)
        end
        copy[i] = name
      end
      out[k] = copy
    else
      out[k] = v
    end
  end
  return out
end

return M
