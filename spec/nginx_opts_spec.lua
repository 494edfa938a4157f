-- The OpenResty gate's option checks (clientcert.nginx), outside nginx: an
-- unknown option or value raises before the gate touches the request.
describe("clientcert.nginx options", function()
  local gate, saved_ngx

  setup(function()
    saved_ngx = rawget(_G, "ngx")
    _G.ngx = {}          -- the module captures ngx at load; nothing here reaches it
    package.loaded["clientcert.nginx"] = nil
    gate = require "clientcert.nginx"
  end)

  teardown(function()
    _G.ngx = saved_ngx
    package.loaded["clientcert.nginx"] = nil
  end)

  local cases = {
    { { forward = "pem" }, "clientcert.nginx.enforce: option 'forward' must be \"rfc9440\" or \"xfcc\", got 'pem'" },
    { { forward = true }, "clientcert.nginx.enforce: option 'forward' must be a string" },
    { { sni = "strict" }, "clientcert.nginx.enforce: option 'sni' must be \"match\", got 'strict'" },
    { { metrics = 1 }, "clientcert.nginx.enforce: option 'metrics' must be a string" },
    { { short_var = false }, "clientcert.nginx.enforce: option 'short_var' must be a string" },
    { { metric = "m" }, "clientcert.nginx.enforce: unknown option 'metric'" },
  }
  for _, c in ipairs(cases) do
    local opts, want = c[1], c[2]
    it("raises " .. want, function()
      assert.has_error(function() gate.enforce({}, opts) end, want)
    end)
  end

  it("names a missing policy (a misspelled package.loaded name) instead of indexing nil", function()
    for _, p in ipairs({ false, "policy" }) do
      assert.has_error(function() gate.verdict(p or nil) end, ("clientcert.nginx: no policy (got %s): give a "
        .. "gate.load_policy handle or a clientcert.policy; is the name read here (package.loaded.<name>) the "
        .. "one init_by_lua set?"):format(p and "string" or "nil"))
    end
  end)

  it("logs tls=none,none, not nil,nil, for a failure that read no certificate", function()
    local lines, stub = {}, rawget(_G, "ngx") -- the table the module captured at load
    stub.INFO, stub.WARN = 7, 5
    stub.log = function(_, line) lines[#lines + 1] = line end
    gate.log({ accepted = false, status = 500, substatus = "500", cause = "internal_error", error = "x", tls = {} })
    stub.log, stub.INFO, stub.WARN = nil, nil, nil
    assert.equals(1, #lines)
    assert.matches("^clientcert: internal_error 500 tls=none,none error=x {", lines[1])
  end)

  it("keeps enforce's own options out of gate.verdict", function()
    for _, k in ipairs({ "forward", "metrics", "sni", "short_var" }) do
      assert.has_error(function() gate.verdict({}, { [k] = k == "sni" and "match" or "rfc9440" }) end,
        ("clientcert.nginx.verdict: option '%s' is for gate.enforce"):format(k))
    end
  end)

  it("raises for gate.metrics without a dict name", function()
    assert.has_error(function() gate.metrics(nil) end, "clientcert.nginx.metrics: expected a lua_shared_dict name")
  end)
end)
