--- clientcert.cli: the `clientcert` command (scripted audits of certificates,
-- chains, policies and trust stores). Exit codes: 0 = accepted / ok,
-- 1 = rejected / problems found, 2 = usage error or unreadable input.
-- Each subcommand is its own module, clientcert.cli.<name> (see clientcert.cli.common
-- for what a subcommand module returns and the helpers they share).
-- Not checked: anything the library does not check (see docs/api.md "Limits").
local argparse = require "argparse"
local common = require "clientcert.cli.common"
local text = require "clientcert.text"

local M = {}

-- The subcommands, in the order `clientcert --help` lists them.
local COMMANDS = { "info", "verify", "check", "check_policy", "audit_store", "audit_client", "crl_status",
                   "revocation", "scan", "match_key", "probe" }

--- secs, err = cli.parse_time(s): see clientcert.cli.common.parse_time.
M.parse_time = common.parse_time
--- s = cli.iso(secs): "YYYY-MM-DDTHH:MM:SSZ".
M.iso = common.iso
--- cli.print_path(out, result): the certification path, root first.
M.print_path = common.print_path

-- parser, runners = build(): the argparse parser and a table command name -> run function.
local function build()
  local p = argparse("clientcert", "Audit X.509 client certificates, chains, policies and trust stores.")
    :epilog("Exit status: 0 accepted/ok, 1 rejected/problems found, 2 usage error or unreadable input.\n"
      .. "Times are Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), up to 9999-12-31.")
  p:command_target("command")
  local runners = {}
  for _, mod in ipairs(COMMANDS) do
    local cmd = require("clientcert.cli." .. mod)
    cmd.define(p:command(cmd.name, cmd.summary))
    runners[cmd.name] = cmd.run
  end
  return p, runners
end

--- code = cli.main(argv[, out[, err]]): runs one command; returns the exit status.
-- Results go to out (default io.stdout), errors to err (default io.stderr): one
-- line "clientcert...: <what>" for an unreadable input or a usage error (exit 2;
-- for a bad command line: "clientcert: <what argparse says> (see clientcert --help)").
function M.main(argv, out, eout)
  out, eout = out or io.stdout, eout or io.stderr
  local parser, runners = build()
  local ok, a = parser:pparse(argv)
  if not ok then
    -- one line, as for every other usage or input error
    eout:write("clientcert: ", text.escape((tostring(a):gsub("\n", " "))), " (see clientcert --help)\n")
    return common.EXIT_ERROR
  end
  local run_ok, code = pcall(runners[a.command], a, out, eout)
  if not run_ok then
    -- a library check that raised names its own origin ("clientcert.probe: ...")
    code = tostring(code)
    common.put(eout, code:match("^clientcert[%.:]") and "%s" or "clientcert: %s", code)
    return common.EXIT_ERROR
  end
  return code
end

return M
