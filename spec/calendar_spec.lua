-- One calendar (issue 8, item 7): core.time_format / core.time_parse are the
-- only date arithmetic; the catalogue and the CLI use them, and the CLI's
-- --time and --max-depth refuse what is not a real time or depth (exit 2).
local core = require "clientcert.core"
local causes = require "clientcert.causes"
local runner = require "helpers.cli"
local run = runner.run
local util = require "clientcert.util"
local pki = require "helpers.pki"

describe("the calendar", function()
  it("formats integer Unix seconds in years 0000 .. 9999", function()
    assert.equals("1970-01-01T00:00:00Z", core.time_format(0))
    assert.equals("1969-12-31T23:59:59Z", core.time_format(-1))
    assert.equals("2000-02-29T00:00:00Z", core.time_format(951782400))
    assert.equals("2030-06-01T00:00:00Z", core.time_format(pki.T))
    assert.equals("9999-12-31T23:59:59Z", core.time_format(util.MAX_TIME))
    assert.equals("0000-01-01T00:00:00Z", core.time_format(-62167219200))
    for _, bad in ipairs({ util.MAX_TIME + 1, -62167219201, 1.5, math.huge, -math.huge, 0 / 0, 2 ^ 63, 1e300 }) do
      local s, err = core.time_format(bad)
      assert.is_nil(s)
      assert.matches("^clientcert%.time_format: time must be an integer", err)
    end
    assert.has_error(function() core.time_format("0") end)
  end)

  it("agrees with the C library's gmtime over the whole range", function()
    local seed = 12345
    local function rand(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n end
    for _ = 1, 3000 do
      local t = rand(2147483647) * 118 + rand(118)           -- 0 .. ~2.5e11, every second reachable
      if t <= util.MAX_TIME then
        assert.equals(os.date("!%Y-%m-%dT%H:%M:%SZ", t), core.time_format(t))
        assert.equals(t, core.time_parse(core.time_format(t)))
      end
    end
  end)

  it("parses only YYYY-MM-DD and YYYY-MM-DDTHH:MM:SSZ, real dates, 1970 .. 9999", function()
    assert.equals(pki.T, core.time_parse("2030-06-01"))
    assert.equals(pki.T + 61, core.time_parse("2030-06-01T00:01:01Z"))
    assert.equals(951782400, core.time_parse("2000-02-29"))
    assert.equals(1709164800, core.time_parse("2024-02-29"))
    assert.equals(0, core.time_parse("1970-01-01T00:00:00Z"))
    assert.equals(util.MAX_TIME, core.time_parse("9999-12-31T23:59:59Z"))
    local bad = {
      ["2030-02-31"] = "2030-02 has no day 31", ["2023-02-29"] = "2023-02 has no day 29",
      ["1900-02-29"] = "1900-02 has no day 29", ["2030-04-31"] = "2030-04 has no day 31",
      ["2030-06-00"] = "2030-06 has no day 0", ["2030-13-01"] = "there is no month 13",
      ["2030-00-10"] = "there is no month 0",
      ["2030-06-01T24:00:00Z"] = "the time of day", ["2030-06-01T23:59:60Z"] = "the time of day",
      ["2030-06-01T12:60:00Z"] = "the time of day",
      ["1969-12-31"] = "not within 1970-01-01", ["0000-01-01"] = "not within 1970-01-01",
      ["12:3405"] = "not YYYY-MM-DD", ["2030-06-01T00:00:00"] = "not YYYY-MM-DD",
      ["2030-06-01 00:00:00Z"] = "not YYYY-MM-DD", ["2030-6-1"] = "not YYYY-MM-DD",
      ["2030-06-01T00:00Z"] = "not YYYY-MM-DD", ["+030-06-01"] = "not YYYY-MM-DD",
      ["2030-06-01T00:00:00+01:00"] = "not YYYY-MM-DD", [""] = "not YYYY-MM-DD",
      ["2030-06-01\0"] = "not YYYY-MM-DD",
    }
    for text, why in pairs(bad) do
      local t, err = core.time_parse(text)
      assert.is_nil(t, text)
      assert.matches("^clientcert%.time_parse: .*" .. why:gsub("%p", "%%%0"), err)
    end
  end)

  it("is the one the catalogue uses (no date arithmetic left in Lua)", function()
    assert.equals("2000-02-29T00:00:00Z", causes.iso(951782400))
    assert.equals("unknown date", causes.iso(math.huge))
    assert.equals("unknown date", causes.iso(nil))
    assert.equals("expired on 2000-02-29T00:00:00Z (checked at 2030-06-01T00:00:00Z)",
      causes.render("expired", { element = "x", element_not_after = 951782400, time = pki.T }):match("expired on .*%)"))
    local files = {}
    local ls = assert(io.popen("ls lua/clientcert/*.lua lua/clientcert/cli/*.lua"))
    for name in ls:lines() do files[#files + 1] = name end
    ls:close()
    assert.is_true(#files >= 10)
    for _, file in ipairs(files) do
      local f = assert(io.open(file, "rb"))
      local src = f:read("*a")
      f:close()
      assert.is_nil(src:find("146097", 1, true), file .. " has its own calendar")
      assert.is_nil(src:find("719468", 1, true), file .. " has its own calendar")
    end
  end)
end)

describe("the command's --time and --max-depth", function()
  local verify = { "verify", pki.path("chain-alice.pem"), "--roots", pki.path("root.pem") }
  local function with(...)
    local args = {}
    for _, a in ipairs(verify) do args[#args + 1] = a end
    for _, a in ipairs({ ... }) do args[#args + 1] = a end
    return run(require("clientcert.compat").unpack(args))
  end

  it("refuse a time that is not one (exit 2, one line on stderr, nothing checked)", function()
    for text, why in pairs({
      ["99999999999999999999"] = "past 9999-12-31T23:59:59Z", ["253402300800"] = "past 9999-12-31T23:59:59Z",
      ["2030-02-31"] = "2030-02 has no day 31", ["12:3405"] = "not Unix seconds, YYYY-MM-DD",
      ["-5"] = "not Unix seconds", ["1e9"] = "not Unix seconds", ["0x10"] = "not Unix seconds",
      ["2030-06-01T10:00"] = "not Unix seconds",
    }) do
      local code, out, err = with("--time=" .. text)
      assert.equals(2, code, text)
      assert.equals("", out, text)
      assert.equals(("clientcert: time '%s': "):format(text), err:sub(1, #text + 21), text)
      assert.matches(why, err, 1, true)
      assert.equals(1, select(2, err:gsub("\n", "")), text)
      -- and check and audit-store read --time the same way
      assert.equals(2, (run("audit-store", "--roots", pki.path("root.pem"), "--time=" .. text)))
      assert.equals(2, (run("check", "-", "--policy", "examples/policies/optional-api.lua", "--time=" .. text)))
    end
  end)

  it("take Unix seconds up to the end of 9999 and both date forms", function()
    assert.equals(0, (with("--time", "1906502400")))
    assert.equals(0, (with("--time", "2030-06-01")))
    assert.equals(0, (with("--time", "2030-06-01T12:00:00Z")))
    local code, out = with("--time", "253402300799")
    assert.equals(1, code)                                  -- long expired by then
    assert.matches("checked at 9999-12-31T23:59:59Z", out, 1, true)
  end)

  it("refuse a depth that is not an integer >= 0, accept any that is", function()
    for _, bad in ipairs({ "1.5", "-1", "x", "nan", "inf", "1e300", "0x10", "99999999999999999999", "" }) do
      local code, out, err = with("--time", "2030-06-01", "--max-depth=" .. bad)
      assert.equals(2, code, bad)
      assert.equals("", out)
      assert.matches("--max-depth must be an integer 0 or more", err, 1, true)
    end
    assert.equals(0, (with("--time", "2030-06-01", "--max-depth", "255")))
    assert.equals(0, (with("--time", "2030-06-01", "--max-depth", "100")))
    assert.equals(0, (with("--time", "2030-06-01", "--max-depth", "1")))
    assert.equals(1, (with("--time", "2030-06-01", "--max-depth", "0")))
  end)
end)
