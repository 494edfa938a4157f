--- clientcert check [CERT] --policy FILE: a policy's verdict on a client.
local clientcert = require "clientcert"
local c = require "clientcert.cli.common"

local M = { name = "check", summary = "Apply a policy file to a client certificate and print the verdict." }

function M.define(cmd)
  cmd:argument("cert", "Client certificate (PEM or DER); '-' means the client sent none."):args("?")
  cmd:option("--policy", "Policy file (Lua, see examples/policies)."):count(1)
  cmd:option("--param", "KEY=VALUE passed to the policy file as params.KEY; repeat a key for a list.")
    :count("*")
  cmd:option("--chain", "Certificates the client sent besides its own."):count("*")
  cmd:option("--key", "The client's private key, to check that it matches the certificate.")
  cmd:option("--passphrase-env", "Environment variable holding the key's passphrase.")
  cmd:option("--time", "Check time instead of now.")
  cmd:flag("--json", "Print the verdict as one JSON object (the log format).")
end

function M.run(a, out, eout)
  local put = c.put
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  local params = {}
  for _, kv in ipairs(a.param or {}) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    if not k then put(eout, "clientcert: --param wants KEY=VALUE, got '%s'", kv) return c.EXIT_ERROR end
    local old = params[k]
    if old == nil then params[k] = v
    elseif type(old) == "table" then old[#old + 1] = v
    else params[k] = { old, v } end
  end
  local policy, perr = clientcert.load_policy(a.policy, params)
  if not policy then put(eout, "%s", perr) return c.EXIT_ERROR end
  local req = { time = when, chain = {} }
  if a.cert and a.cert ~= "-" then
    local data, err = c.read(a.cert, "check")
    if not data then put(eout, "%s", err) return c.EXIT_ERROR end
    req.cert = data
  end
  for _, path in ipairs(a.chain or {}) do
    local data, err = c.read(path, "check")
    if not data then put(eout, "%s", err) return c.EXIT_ERROR end
    req.chain[#req.chain + 1] = data
  end
  if a.key then
    local data, err = c.read(a.key, "check")
    if not data then put(eout, "%s", err) return c.EXIT_ERROR end
    local pass, ok = c.passphrase(a, eout)
    if not ok then return c.EXIT_ERROR end
    req.key, req.passphrase = data, pass
  end
  local verdict = policy:check(req)
  if a.json then
    out:write(clientcert.verdict_json(verdict), "\n")
  else
    -- the IIS-style status: "403.17" for a rejection, "200" for an acceptance
    put(out, "%s %s %s", verdict.accepted and "ACCEPTED" or "REJECTED", verdict.substatus or verdict.status,
      verdict.cause)
    put(out, "%s", verdict.title or "")
    put(out, "%s", verdict.message or "")
    if verdict.resolution and #verdict.resolution > 0 and not verdict.accepted then
      put(out, "How to fix:")
      for i, step in ipairs(verdict.resolution) do
        put(out, "  %d. %s", i, type(step) == "table" and
          (("[%s] %s"):format(tostring(step.who or ""), tostring(step.step or step.text or ""))) or tostring(step))
      end
    end
    if verdict.also and #verdict.also > 0 then
      local ids = {}
      for _, x in ipairs(verdict.also) do
        ids[#ids + 1] = type(x) == "table" and tostring(x.cause or x.id) or tostring(x)
      end
      put(out, "Also: %s", table.concat(ids, ", "))
    end
    if verdict.chain and #verdict.chain > 0 then
      c.print_path(out, { chain = verdict.chain, time = when })
    end
  end
  return verdict.accepted and c.EXIT_OK or c.EXIT_REJECT
end

return M
