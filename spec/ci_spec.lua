-- The test runners' contracts: spec/run ends with "N passed, N failed" and counts a
-- skipped (pending) test as neither, listing it; .ci/tests (the last step of .ci/run)
-- ends with that line and exits non-zero unless the test command passed and said so;
-- .ci/run ends with "0 passed, 1 failed" when a step before the tests fails. They
-- run the scripts from outside, so this runs once (under lua5.4), not per runtime.
if os.getenv("CLIENTCERT_LUA") == "luajit" then return end

local live = require "helpers.live"
local q = live.q

local function tmpdir() return live.tempdir("clientcert-ci") end

local function last_line(out)
  return out:match("([^\n]*)\n?$")
end

describe("spec/run", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() live.run("rm -rf " .. q(dir)) end)

  -- runs spec/run lua5.4 on a spec file holding body
  local function run_spec(name, body)
    live.run("rm -f " .. q(dir) .. "/*_spec.lua")
    live.write(dir .. "/" .. name .. "_spec.lua", body)
    return live.run(("CLIENTCERT_SPEC_ROOT=%s bash spec/run lua5.4"):format(q(dir)))
  end

  it("counts a skipped test apart and lists it before the summary", function()
    local ok, out = run_spec("skip", [[
describe("x", function()
  it("passes", function() assert.is_true(true) end)
  pending("needs a thing that is not installed")
end)]])
    assert.is_true(ok, out)
    assert.are.equal("1 passed, 0 failed", last_line(out))
    assert.truthy(out:find("\n# 1 skipped:\n#   lua5.4: x needs a thing that is not installed\n1 passed, 0 failed\n",
      1, true), out)
  end)

  it("fails for a failing test, and prints no skip list without skips", function()
    local ok, out = run_spec("fail", [[
describe("x", function()
  it("passes", function() assert.is_true(true) end)
  it("fails", function() assert.is_true(false) end)
end)]])
    assert.is_false(ok, out)
    assert.are.equal("1 passed, 1 failed", last_line(out))
    assert.falsy(out:find("skipped:", 1, true), out)
  end)

  it("a run of nothing but skips fails: no test ran", function()
    local ok, out = run_spec("onlyskip", [[pending("everything skipped")]])
    assert.is_false(ok, out)
    assert.are.equal("0 passed, 1 failed", last_line(out))
  end)
end)

describe(".ci/tests (the test step of .ci/run)", function()
  local cases = {
    { "echo no summary", false, "0 passed, 1 failed" },
    { "echo '3 passed, 0 failed'", true, "3 passed, 0 failed" },
    { "echo '3 passed, 1 failed'", false, "3 passed, 1 failed" },
    { "echo '3 passed, 0 failed'; exit 3", false, "3 passed, 1 failed" },
    { "echo '0 passed, 0 failed'", false, "0 passed, 1 failed" },
    { "echo '3 passed, 0 failed'; echo trailing output", true, "3 passed, 0 failed" },
    { "exit 0", false, "0 passed, 1 failed" },
  }
  for _, c in ipairs(cases) do
    it(("%s: %s, last line %q"):format(c[1], c[2] and "exit 0" or "non-zero exit", c[3]), function()
      local ok, out = live.run("bash .ci/tests " .. q(c[1]))
      assert.are.equal(c[2], ok, out)
      assert.are.equal(c[3], last_line(out))
    end)
  end
end)

describe(".ci/run", function()
  it("ends with 0 passed, 1 failed and a non-zero exit when a step before the tests fails", function()
    local dir = tmpdir()
    live.run(("mkdir -p %s/.ci && cp .ci/run .ci/tests %s/.ci/"):format(q(dir), q(dir)))
    live.write(dir .. "/README.md",
      "# x\n\n```sh\necho building; false\n```\n\n```sh\necho '1 passed, 0 failed'\n```\n")
    local ok, out = live.run("bash " .. q(dir .. "/.ci/run"))
    live.run("rm -rf " .. q(dir))
    assert.is_false(ok, out)
    assert.truthy(out:find("ci: the README's first command exited 1", 1, true), out)
    assert.are.equal("0 passed, 1 failed", last_line(out))
  end)
end)
