--- clientcert check [CERT] (--roots FILE | --policy FILE): the verdict a server
-- would give this client, why, how to fix it, and the certification path.
-- With --roots (no policy file): the implicit policy mode = "require",
-- intermediate_in_roots = "reject" (--intermediate-in-roots) over the given
-- roots, intermediates and CRLs: a store holding a certificate that is not
-- self-signed among its roots rejects every client, as IIS does.
-- With --policy: the policy file decides (its own intermediate_in_roots, as the
-- gate and policy:check use it). CERT omitted: the client sent none.
-- Resolution steps are worded for this command (deployment "cli").
local clientcert = require "clientcert"
local causes = require "clientcert.causes"
local c = require "clientcert.cli.common"
local options = require "clientcert.options"
local policy_mod = require "clientcert.policy"
local verdicts = require "clientcert.verdict"

local M = { name = "check",
            summary = "Would a server accept this client? Verdict, cause, how to fix it, certification path." }

function M.define(cmd)
  cmd:argument("cert", "Client certificate: PEM (a bundle's further certificates count as the chain it sends), "
    .. "DER, PKCS#12 (.p12/.pfx), or '-' to read it from standard input. Omit it to check a client that "
    .. "sent no certificate."):args("?")
  cmd:option("--roots", "Trusted root certificates (PEM bundle or DER); repeatable. Without --policy: "
    .. "the implicit policy mode = \"require\" over these."):count("*")
  cmd:option("--intermediates", "Intermediate CAs the server holds (with --roots); repeatable."):count("*")
  cmd:option("--crl", "CRL file (PEM bundle or DER, with --roots); repeatable. Revocation is then checked "
    .. "for the whole chain."):count("*")
  cmd:option("--purpose", "Required purpose (with --roots): client (default), server or any.")
    :choices(options.values("purpose"))
  cmd:option("--profile", "Certificate profile (with --roots): default (OpenSSL's checks) or strict "
    .. "(x509_strict plus RFC 5280 / CA/B rules: serial, AKI/SKI, SAN syntax, name constraints, EKU, weak "
    .. "keys and hashes; cause profile_violation).")
    :choices(options.values("profile"))
  cmd:option("--intermediate-in-roots", "With --roots: reject (default) refuses every client while a root "
    .. "is not self-signed, as IIS does; warn accepts a valid path and names it in Also.")
    :choices({ "reject", "warn" })
  cmd:option("--policy", "Policy file (Lua, see examples/policies) instead of --roots.")
  cmd:option("--param", "KEY=VALUE passed to the policy file as params.KEY; repeat a key for a list.")
    :count("*")
  cmd:option("--chain", "Certificates the client sent besides its own (PEM bundle or DER); repeatable.")
    :count("*")
  cmd:option("--key", "The client's private key, to check that it matches the certificate.")
  cmd:option("--passphrase-env", "Environment variable holding the --key file's passphrase.")
  cmd:option("--password-env", "Environment variable holding the PKCS#12 file's password.")
  cmd:option("--time", "Check time instead of now.")
  cmd:option("--revocation", "Fetch revocation (with --roots): ocsp, crl or ocsp,crl (the order tried): the "
    .. "OCSP responder and CRL distribution point the certificates name.")
  cmd:flag("--soft-fail", "With --revocation: accept when no source answers (revocation_unknown in Also).")
  cmd:flag("--fetch-issuers", "With --revocation: fetch a missing intermediate from the leaf's caIssuers URL "
    .. "(only URLs that --allow-url allows).")
  cmd:option("--allow-url", "With --revocation: fetch only URLs starting with this prefix; repeatable.")
    :count("*")
  cmd:option("--timeout", "With --revocation: seconds for each fetch (name resolution, connect and read), at most 60 "
    .. "(default: 3).")
  cmd:flag("--json", "Print the verdict as one JSON object.")
  cmd:flag("--ascii", "Draw the certification path with ASCII marks (+, x) instead of UTF-8 (✓, ✗).")
end

-- revocation | nil, nil | nil, err: the implicit policy's revocation option from
-- --revocation, --soft-fail, --fetch-issuers, --allow-url and --timeout.
local function revocation_option(a)
  local allow = c.flat(a.allow_url)
  if not a.revocation then
    if a.soft_fail or a.fetch_issuers or #allow > 0 or a.timeout then
      return nil, "clientcert: --soft-fail, --fetch-issuers, --allow-url and --timeout go with --revocation"
    end
    return nil
  end
  local sources = {}
  for s in (a.revocation .. ","):gmatch("([^,]*),") do sources[#sources + 1] = s end
  local timeout
  if a.timeout then
    timeout = tonumber(a.timeout)
    if not timeout or timeout <= 0 or timeout > 60 then
      return nil, ("clientcert: --timeout wants seconds between 0 and 60, got '%s'"):format(a.timeout)
    end
  end
  return { sources = sources, unavailable = a.soft_fail and "accept" or "reject", timeout = timeout,
           issuers = a.fetch_issuers or nil, urls = #allow > 0 and allow or nil }
end

-- policy, store | nil, err: the policy to apply (store: the implicit policy's store).
local function load_policy(a)
  local implicit = #a.roots > 0 or #a.intermediates > 0 or #a.crl > 0 or a.purpose or a.intermediate_in_roots
    or a.revocation or a.profile or a.soft_fail or a.fetch_issuers or #a.allow_url > 0 or a.timeout
  if a.policy then
    if implicit then
      return nil, nil, "clientcert: --roots, --intermediates, --crl, --purpose, --profile, "
        .. "--intermediate-in-roots and --revocation (with its flags) make the implicit policy; a --policy "
        .. "file names its own trust and revocation (give one or the other)"
    end
    local params, perr = c.read_params(a.param)
    if not params then return nil, nil, perr end
    local policy, err = clientcert.load_policy(a.policy, params)
    return policy, nil, err
  end
  if #a.roots == 0 then
    return nil, nil, "clientcert: check needs --roots FILE (the server's trusted roots) or --policy FILE"
  end
  if #a.param > 0 then return nil, nil, "clientcert: --param is for a --policy file" end
  local store, err = c.server_store(a)
  if not store then return nil, nil, err end
  local rev, rerr = revocation_option(a)
  if rerr then return nil, nil, rerr end
  local policy, err2 = policy_mod.build{ mode = "require", trust = store, revocation = rev,
    verify = { purpose = a.purpose or "client", profile = a.profile },
    intermediate_in_roots = a.intermediate_in_roots or "reject" }
  if not policy then return nil, nil, "clientcert: " .. err2 end
  return policy, store
end

-- facts | nil: the certificate that is not self-signed among the policy's roots,
-- for the Also: line of intermediate_in_roots (the path's own element when the
-- client's chain reached it).
local function in_roots_facts(v, policy)
  local el = verdicts.in_roots_element(v.chain, policy.trust)
  return el and verdicts.in_roots_facts(nil, el) or nil
end

-- Problems found outside the chain verification, by depth, for the path tree.
local function extra_problems(v)
  local extra = {}
  local function add(depth, cause, err)
    extra[depth] = extra[depth] or {}
    table.insert(extra[depth], { cause = cause, error = err })
  end
  local ids = { v.cause }
  for _, id in ipairs(v.also or {}) do ids[#ids + 1] = id end
  for _, id in ipairs(ids) do
    if id == "no_private_key" then add(0, id, "the private key given does not belong to it") end
  end
  local named = v.cause == "intermediate_in_roots"
  for _, id in ipairs(v.also or {}) do if id == "intermediate_in_roots" then named = true end end
  for _, el in ipairs(v.chain or {}) do
    local own = false -- the verification's own problem for it (the path stopped there)
    for _, p in ipairs(el.problems or {}) do if p.cause == "intermediate_in_roots" then own = true end end
    if named and not own and el.trusted and el.self_signed == false then
      add(el.depth, "intermediate_in_roots", "among the trusted roots, but not self-signed")
    end
  end
  return extra
end

local function print_text(out, v, a, when, policy)
  local paint = c.painter(out)
  local esc = require("clientcert.text").escape
  out:write(paint(v.accepted and "green" or "red", esc(c.status_line(v))), "\n")
  c.put(out, "Cause: %s", v.cause)
  c.put(out, "%s", v.message or "")
  if v.note then c.put(out, "Note: %s", v.note) end
  -- internal_error: what failed (the verdict's error and rule_error; the gate logs them, and here
  -- the terminal is the log)
  if v.cause == "internal_error" then
    if v.error then c.put(out, "Error: %s", v.error) end
    if v.rule_error then c.put(out, "Rule error: %s", v.rule_error) end
  end
  if not v.accepted and v.resolution and #v.resolution > 0 then
    c.put(out, "How to fix:")
    c.print_steps(out, v.resolution)
  end
  if v.revocation and v.revocation.source then
    local r = v.revocation
    c.put(out, "Revocation: %s%s%s%s", r.source, r.url and (" " .. r.url) or "",
      r.next_update and (", next update " .. c.iso(r.next_update)) or "",
      r.status == "unknown" and r.error and (": no answer: " .. r.error) or "")
  end
  for _, id in ipairs(v.also or {}) do
    local cause = causes.get(id)
    c.put(out, "Also: %s (%s %s)", id, cause and cause.substatus or "?", cause and cause.title or "")
    local facts = id == "intermediate_in_roots" and in_roots_facts(v, policy) or nil
    if facts then
      c.put(out, "  %s", causes.render(id, facts))
      c.print_steps(out, causes.resolution(id, facts, "cli"), "    ")
    elseif cause then
      c.print_steps(out, causes.resolution(id, {}, "cli"), "    ")
    end
  end
  if v.mode ~= "off" then
    out:write("\n")
    c.path_tree(out, v.chain, { time = when, ascii = a.ascii, paint = paint, extra = extra_problems(v) })
  end
end

function M.run(a, out, eout)
  local put = c.put
  a.roots, a.intermediates, a.crl, a.param = c.flat(a.roots), c.flat(a.intermediates), c.flat(a.crl),
    c.flat(a.param)
  local when = c.load_time(a, eout)
  if not when then return c.EXIT_ERROR end
  if not c.passphrase_with_key(a, eout) then return c.EXIT_ERROR end
  local policy, _, perr = load_policy(a)
  if not policy then put(eout, "%s", perr) return c.EXIT_ERROR end
  local req = { time = when, chain = {}, deployment = "cli" }
  if a.cert then
    local password, pok = c.password(a, eout)
    if not pok then return c.EXIT_ERROR end
    local client, err = c.read_client(a.cert, "check", password)
    if not client then put(eout, "%s", err) return c.EXIT_ERROR end
    req.cert, req.chain, req.key = client.cert, client.chain, client.key
  end
  for _, path in ipairs(a.chain or {}) do
    local more, err = c.read_certs(path, "check")
    if not more then put(eout, "%s", err) return c.EXIT_ERROR end
    for _, x in ipairs(more) do req.chain[#req.chain + 1] = x end
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
    c.emit_json(out, verdict)
  else
    print_text(out, verdict, a, when, policy)
  end
  return verdict.accepted and c.EXIT_OK or c.EXIT_REJECT
end

return M
