--- clientcert check-policy FILE [--param KEY=VALUE]...: loads a policy file exactly
-- as the OpenResty gate does (policy.load_recorded: the sandbox, its budgets, the
-- roots, intermediates and CRLs it reads, its options checked): the test to run
-- before `nginx -s reload` (nginx -t does not run init_by_lua). Exit 0 and one
-- summary line, or exit 2 and the error on one line.
-- Not checked: whether its clients would be accepted (clientcert check), the
-- store's soundness (audit-store), the CRLs' dates (crl-status).
local policy_mod = require "clientcert.policy"
local c = require "clientcert.cli.common"

local M = { name = "check-policy",
            summary = "Load a policy file as the nginx gate would: exit 0 with a summary, or 2 with the error." }

function M.define(cmd)
  cmd:argument("file", "Policy file (Lua, see examples/policies and examples/openresty/policy.lua).")
  cmd:option("--param", "KEY=VALUE passed to the policy file as params.KEY (as gate.load_policy's params); "
    .. "repeat a key for a list."):count("*")
end

local function plural(n, one) return ("%d %s%s"):format(n, one, n == 1 and "" or "s") end

function M.run(a, out, eout)
  local params, perr = c.read_params(a.param)
  if not params then c.put(eout, "%s", perr) return c.EXIT_ERROR end
  local policy, files = policy_mod.load_recorded(a.file, params)
  if not policy then c.put(eout, "%s", files) return c.EXIT_ERROR end
  local paths = {}
  for i, f in ipairs(files) do paths[i] = f.path end
  local parts = { ("mode %s"):format(policy.mode) }
  local store = policy.trust
  if store then
    parts[#parts + 1] = ("%s, %s, %s"):format(plural(#store:roots(), "root"),
      plural(#store:intermediates(), "intermediate"), plural(store:crl_count(), "CRL"))
  end
  parts[#parts + 1] = ("%s read: %s"):format(plural(#paths, "file"), table.concat(paths, " "))
  c.put(out, "clientcert check-policy: %s: ok (%s)", a.file, table.concat(parts, "; "))
  return c.EXIT_OK
end

return M
