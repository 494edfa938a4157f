-- The README and docs/ say only what is true: links resolve, what they name exists, what
-- exists is documented, and the output they show is what the code prints.
local cli = require "helpers.cli"
local q = require("helpers.sh").quote
local causes = require "clientcert.causes"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- the lines a shell command prints (without a sanitizer runtime this process may have)
local function lines_of(cmd)
  local p = assert(io.popen("exec env -u LD_PRELOAD sh -c " .. q(cmd)))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

-- The documentation: README.md and every docs/*.md.
local DOCS = { "README.md" }
for _, f in ipairs(lines_of("ls docs/*.md")) do DOCS[#DOCS + 1] = f end
local TEXT = {}
for _, f in ipairs(DOCS) do TEXT[f] = read(f) end
local ALL_DOCS = {}
for _, f in ipairs(DOCS) do if f:match("^docs/") then ALL_DOCS[#ALL_DOCS + 1] = TEXT[f] end end
ALL_DOCS = table.concat(ALL_DOCS, "\n")

-- s = without_code(md): md with its fenced code blocks and inline code spans blanked.
local function without_code(md)
  md = md:gsub("\n```.-\n```", "\n")
  return (md:gsub("`[^`\n]*`", "``"))
end

-- The GitHub anchor of a heading: lower case, punctuation but - and _ dropped,
-- each space a hyphen; a repeated anchor gets -1, -2, ...
local function anchors(md)
  local set, seen = {}, {}
  md = md:gsub("\n```.-\n```", "\n")
  for h in ("\n" .. md):gmatch("\n#+ ([^\n]+)") do
    local a = h:lower():gsub("[^%w%- _]", ""):gsub(" ", "-")
    local n = seen[a]
    seen[a] = (n or -1) + 1
    set[n and (a .. "-" .. (n + 1)) or a] = true
  end
  return set
end

-- the block after the marker <!-- NAME... --> (its fenced code), or nil
local function block_after(md, name)
  local marker = "<!%-%- " .. name:gsub("%-", "%%-") .. "[^\n]*%-%->\n```[%w]*\n(.-)```"
  return md:match(marker)
end

-- The demo PKI, once for this file.
local demo = os.tmpname()
os.remove(demo)
do
  local ok = os.execute("env -u LD_PRELOAD bash examples/demo-pki.sh " .. q(demo) .. " >/dev/null 2>&1")
  assert(ok == true or ok == 0, "examples/demo-pki.sh failed")
end

teardown(function() os.execute("rm -rf " .. q(demo)) end)

-- out = run_lua(dir, file, args...): a Lua file under this interpreter, in dir, with the
-- checkout's modules; stdout and stderr.
local function run_lua(dir, file, ...)
  local lua = os.getenv("CLIENTCERT_LUA") or "lua5.4"
  local cwd = lines_of("pwd")[1]
  local path = ("%s/lua/?.lua;%s/lua/?/init.lua;;"):format(cwd, cwd)
  local cpath = package.cpath:gsub("%./", cwd .. "/")
  local words = { q(file) }
  for i, a in ipairs({ ... }) do words[i + 1] = q(a) end
  -- a sanitizer runtime this process was started with (make asan) goes to the
  -- interpreter, which loads the sanitized module, and not to the shell around it
  local preload = os.getenv("LD_PRELOAD") or ""
  local p = assert(io.popen(("cd %s && exec env -u LD_PRELOAD sh -c %s 2>&1"):format(q(dir),
    q(("exec env LD_PRELOAD=%s LUA_PATH=%s LUA_CPATH=%s %s %s"):format(q(preload), q(path), q(cpath), lua,
      table.concat(words, " "))))))
  local out = p:read("*a")
  p:close()
  return out
end

describe("the README", function()
  it("stays a front door: at most 160 lines, the reference in docs/", function()
    local n = select(2, TEXT["README.md"]:gsub("\n", ""))
    assert.is_true(n <= 160, "README.md has " .. n .. " lines: move the reference to docs/")
  end)

  it("opens with the two commands CI runs: the first sh block works with and without sudo, the second tests", function()
    local blocks = {}
    for b in TEXT["README.md"]:gmatch("\n```sh\n(.-)\n```") do blocks[#blocks + 1] = b end
    assert.truthy(blocks[1]:find("^sudo=%$%(command %-v sudo || true%); %$sudo apt%-get "), blocks[1])
    local rest = blocks[1]:gsub("^sudo=%$%(command %-v sudo || true%); ", "")
    assert.is_nil(rest:find("%f[%w$]sudo%s"), "a bare sudo in the first command: " .. blocks[1])
    assert.equals("make test", blocks[2])
  end)
end)

describe("the documentation's links", function()
  it("point at files that exist, and at headings that exist", function()
    local bad = {}
    for _, f in ipairs(DOCS) do
      local dir = f:match("^(.*)/") or "."
      for target in without_code(TEXT[f]):gmatch("%]%(([^)%s]+)%)") do
        if not target:match("^%a[%w+.-]*:") then      -- http:, https:, mailto: are not checked
          local path, anchor = target:match("^([^#]*)#?(.*)$")
          local full = path == "" and f or (dir .. "/" .. path)
          local fh = io.open(full, "rb")
          if not fh then
            bad[#bad + 1] = f .. ": " .. target .. " (no such file)"
          else
            fh:close()
            if anchor ~= "" and not (full:match("%.md$") and anchors(read(full))[anchor]) then
              bad[#bad + 1] = f .. ": " .. target .. " (no such heading)"
            end
          end
        end
      end
    end
    assert.same({}, bad)
  end)

  it("name only files of the checkout that exist", function()
    local bad = {}
    for _, f in ipairs(DOCS) do
      for path in TEXT[f]:gmatch("[`%(%s](%.?[%w_]+/[%w_%-%./]*)") do
        local top = path:match("^([^/]+)/")
        local known = { csrc = 1, lua = 1, spec = 1, bench = 1, examples = 1, fuzz = 1, bin = 1, docs = 1,
                        [".ci"] = 1 }
        path = path:gsub("[%.,]$", "")
        if known[top] and not path:match("%u%u") and not path:match("%*") then
          local fh = io.open(path, "rb")
          if fh then fh:close() else bad[#bad + 1] = f .. ": " .. path end
        end
      end
    end
    assert.same({}, bad)
  end)
end)

describe("docs/internals.md's layout", function()
  it("lists every file of csrc/ and lua/clientcert/", function()
    local text = TEXT["docs/internals.md"]
    local missing = {}
    local files = lines_of("find csrc lua/clientcert -type f \\( -name '*.c' -o -name '*.h' -o -name '*.lua' \\)")
    for _, path in ipairs(files) do
      if not text:find("`" .. path .. "`", 1, true) then missing[#missing + 1] = path end
    end
    assert.same({}, missing)
  end)
end)

describe("the documented API", function()
  -- does `name` appear as a word of the docs?
  local function mentioned(name, text)
    return (text or ALL_DOCS):find("%f[%w_]" .. name:gsub("%p", "%%%0") .. "%f[^%w_]") ~= nil
  end

  it("documents every export of clientcert, clientcert.nginx and clientcert.policy", function()
    local missing = {}
    for name in pairs(require "clientcert") do
      if not name:match("^_") and not mentioned("clientcert." .. name) then
        missing[#missing + 1] = "clientcert." .. name
      end
    end
    for name in pairs(require "clientcert.nginx") do
      if not name:match("^_") and not mentioned("gate." .. name, TEXT["docs/gate.md"]) then
        missing[#missing + 1] = "gate." .. name
      end
    end
    for name in pairs(require "clientcert.policy") do
      if not name:match("^_") and not mentioned(name) then missing[#missing + 1] = "clientcert.policy." .. name end
    end
    table.sort(missing)
    assert.same({}, missing)
  end)

  it("documents every method of a certificate, a CRL, a store and a policy", function()
    local missing = {}
    for class, file in pairs({ cert = "csrc/cert.c", crl = "csrc/crl.c", store = "csrc/store.c" }) do
      local reg = read(file):match("luaL_Reg " .. class .. "_methods%[%] = {(.-)};")
      assert.truthy(reg, file)
      for name in reg:gmatch('{"([%w_]+)"') do
        local call = class .. ":" .. name
        if not mentioned(call, TEXT["docs/api.md"]) then missing[#missing + 1] = call end
      end
    end
    for _, name in ipairs({ "generation" }) do   -- the store's methods written in Lua (init.lua)
      if not mentioned("store:" .. name, TEXT["docs/api.md"]) then missing[#missing + 1] = "store:" .. name end
    end
    for name in read("lua/clientcert/policy.lua"):gmatch("\nfunction methods%.([%w_]+)") do
      if not mentioned("policy:" .. name) then missing[#missing + 1] = "policy:" .. name end
    end
    assert.same({}, missing)
  end)

  it("documents every field of cert:info() and crl:info() over the test PKI", function()
    local clientcert = require "clientcert"
    local pki = require "helpers.pki"
    local text, missing, seen = TEXT["docs/api.md"], {}, {}
    local function note(kind, info)
      for k in pairs(info) do
        if not seen[kind .. k] and not text:find("`" .. k .. "`", 1, true) then missing[#missing + 1] = kind .. k end
        seen[kind .. k] = true
      end
    end
    local n = 0
    for _, file in ipairs(lines_of("find " .. q(pki.dir) .. " -name '*.pem' -o -name '*.crl'")) do
      if file:match("%.crl$") then
        local crl = clientcert.load_crl(file)
        if crl then note("crl:info().", crl:info()) n = n + 1 end
      else
        for _, cert in ipairs(clientcert.load_all(file) or {}) do note("cert:info().", cert:info()) n = n + 1 end
      end
    end
    assert.is_true(n > 50)
    table.sort(missing)
    assert.same({}, missing)
  end)

  it("documents every option of store:verify, clientcert.policy, its matchers and revocation, gate.enforce, gate.watch",
    function()
    -- keys = table_keys(name): the keys of the table constructor `local NAME = {...}` in lua/clientcert/
    local function table_keys(name, only)
      local keys = {}
      for _, file in ipairs(only and { only } or lines_of("find lua/clientcert -name '*.lua' | sort")) do
        local body = read(file):match("\nlocal " .. name .. " = (%b{})")
        if body then
          for k in body:gmatch("([%a_][%w_]*) = ") do keys[#keys + 1] = k end
          return keys
        end
      end
      error("no table " .. name .. " in lua/clientcert/")
    end
    local missing = {}
    -- in backquotes, or (in_code) as a word anywhere, the commented example of revocation.md included
    local function need(list, text, what, in_code)
      for _, k in ipairs(list) do
        local found = text:find("`" .. k .. "`", 1, true) or (in_code and mentioned(k, text))
        if not found then missing[#missing + 1] = what .. "." .. k end
      end
    end
    local verify = {}
    for k in pairs(require("clientcert.options").VERIFY) do verify[#verify + 1] = k end
    need(verify, TEXT["docs/api.md"], "store:verify")
    need(require("clientcert.options").FLAGS, TEXT["docs/api.md"], "flags")
    need(table_keys("POLICY_KEYS"), TEXT["docs/api.md"], "clientcert.policy")
    need(table_keys("MATCH_KEYS"), TEXT["docs/api.md"], "allow")
    need(table_keys("OPTS"), TEXT["docs/gate.md"], "gate.enforce")
    need(table_keys("WATCH_OPTS"), TEXT["docs/gate.md"], "gate.watch")
    need(table_keys("KEYS", "lua/clientcert/revocation.lua"), TEXT["docs/revocation.md"], "policy.revocation", true)
    table.sort(missing)
    assert.same({}, missing)
  end)

  it("names only modules and fields that exist", function()
    local exports = require "clientcert"
    local classes = { cert = true, crl = true, store = true, core = true, x = true }  -- x: "clientcert.x:" prefixes
    local bad = {}
    for f, text in pairs(TEXT) do
      for name in text:gmatch("%f[%w_]clientcert%.([%a_][%w_%.]*[%w_])") do
        local first, rest = name:match("^([%w_]+)%.?(.*)$")
        local file = io.open("lua/clientcert/" .. first:gsub("%.", "/") .. ".lua", "rb")
          or io.open("lua/clientcert/" .. first .. "/init.lua", "rb")
        if file then
          file:close()
          -- a module: its field (or a submodule, or an error prefix "clientcert.mod.fn: ...")
          local sub = rest:match("^([%w_]+)")
          if sub and first ~= "cli" then
            local ok, mod = pcall(require, "clientcert." .. first)
            if ok and type(mod) == "table" and mod[sub] == nil then bad[#bad + 1] = f .. ": clientcert." .. name end
          elseif sub and first == "cli" and not io.open("lua/clientcert/cli/" .. sub .. ".lua", "rb") then
            bad[#bad + 1] = f .. ": clientcert." .. name
          end
        elseif exports[first] == nil and not classes[first]
          and not io.open("lua/clientcert/cli/" .. first .. ".lua", "rb") then  -- "clientcert.scan: ..." (the CLI)
          bad[#bad + 1] = f .. ": clientcert." .. name
        end
      end
    end
    table.sort(bad)
    assert.same({}, bad)
  end)
end)

describe("docs/gate.md", function()
  it("names only the tls.chain_from values the gate sets, and each of them", function()
    local code, bad = read("lua/clientcert/nginx.lua"), {}
    for _, f in ipairs(DOCS) do
      for key, value in TEXT[f]:gmatch('(chain_from) = "([%w_]+)"') do
        if not code:find('"' .. value .. '"', 1, true) then bad[#bad + 1] = f .. ": " .. key .. " " .. value end
      end
    end
    local text = TEXT["docs/gate.md"]
    for _, value in ipairs({ "handshake", "learned", "none" }) do
      assert.truthy(text:find('`"' .. value .. '"`', 1, true), "chain_from " .. value .. " is not documented")
    end
    assert.same({}, bad)
  end)
end)

describe("the policy file the docs load in nginx and the one they test with check-policy", function()
  it("are given the same params (check-policy passing on params nginx does not give proves nothing)", function()
    local wanted, bad, n = {}, {}, 0
    for _, f in ipairs(DOCS) do
      for path, rest in TEXT[f]:gmatch("check%-policy ([%w_./-]+)([^\n]*)") do
        wanted[path] = wanted[path] or {}
        for k, v in rest:gmatch("%-%-param ([%w_]+)=([^%s]+)") do wanted[path][k] = v end
      end
    end
    for _, f in ipairs(DOCS) do
      for path, args in TEXT[f]:gmatch('load_policy%(%s*"([^"]+)"%s*([^)]*)%)') do
        for k, v in pairs(wanted[path] or {}) do
          n = n + 1
          if not args:find(('%s = "%s"'):format(k, v), 1, true) then
            bad[#bad + 1] = ("%s: load_policy(%q) without %s = %q"):format(f, path, k, v)
          end
        end
      end
    end
    assert.is_true(n >= 2)
    assert.same({}, bad)
  end)
end)

describe("the code the docs show", function()
  it("compiles in every nginx *_by_lua_block (an nginx # comment there fails init_by_lua; nginx -t passes)",
    function()
    local bad, n = {}, 0
    for _, f in ipairs(DOCS) do
      for block in TEXT[f]:gmatch("\n```nginx\n(.-)\n```") do
        for body in block:gmatch("_by_lua_block%s*(%b{})") do
          n = n + 1
          local ok, err = (loadstring or load)(body:sub(2, -2), "=" .. f)  -- luacheck: ignore 113
          if not ok then bad[#bad + 1] = f .. ": " .. err end
        end
      end
    end
    assert.is_true(n >= 10)
    assert.same({}, bad)
  end)

  it("compiles in every ```lua block", function()
    local bad, n = {}, 0
    for _, f in ipairs(DOCS) do
      for code in TEXT[f]:gmatch("\n```lua\n(.-)\n```") do
        n = n + 1
        local ok, err = (loadstring or load)(code, "=" .. f)  -- luacheck: ignore 113
        if not ok then bad[#bad + 1] = f .. ": " .. err end
      end
    end
    assert.is_true(n >= 3)
    assert.same({}, bad)
  end)
end)

describe("docs/cli.md", function()
  local commands = {}
  local _, help = cli.exec({ "--help" })
  for name in help:match("Commands:\n(.-)\n\n"):gmatch("\n?%s+([%w%-]+)%s%s+") do commands[#commands + 1] = name end

  it("documents every subcommand of clientcert --help, and only those", function()
    assert.is_true(#commands >= 11)
    local text = TEXT["docs/cli.md"]
    local synopsis = assert(block_after(text, "cli-synopsis"), "docs/cli.md: no cli-synopsis block")
    local listed, missing = {}, {}
    for name in synopsis:gmatch("%f[^\n%z]clientcert ([%w%-]+)") do listed[name] = true end
    for _, name in ipairs(commands) do
      if not listed[name] then missing[#missing + 1] = name end
      listed[name] = nil
    end
    assert.same({}, missing)
    assert.same({}, listed)
    for _, name in ipairs(commands) do
      assert.truthy(text:find("`clientcert " .. name .. "`", 1, true) or text:find("`" .. name .. "`", 1, true), name)
    end
  end)

  it("shows in its synopsis every option of each subcommand's --help, and only those", function()
    local synopsis = block_after(TEXT["docs/cli.md"], "cli-synopsis")
    -- the options of each subcommand in the synopsis (a line "clientcert NAME" starts one)
    local shown, current = {}, nil
    for line in synopsis:gmatch("[^\n]+") do
      current = line:match("^clientcert ([%w%-]+)") or current
      shown[current] = shown[current] or {}
      for opt in line:gmatch("%-%-[%w%-]+") do shown[current][opt] = true end
    end
    for _, name in ipairs(commands) do
      local _, out = cli.exec({ name, "--help" })
      local want = {}
      for opt in out:gmatch("%-%-[%w%-]+") do if opt ~= "--help" then want[opt] = true end end
      local extra = {}
      for opt in pairs(shown[name] or {}) do
        if not want[opt] then extra[#extra + 1] = opt end
        want[opt] = nil
      end
      local missing = {}
      for opt in pairs(want) do missing[#missing + 1] = opt end
      table.sort(missing)
      table.sort(extra)
      assert.same({ name = name, missing = {}, extra = {} }, { name = name, missing = missing, extra = extra })
    end
  end)

  it("marks with ... in its synopsis exactly the options that may be repeated", function()
    local synopsis = block_after(TEXT["docs/cli.md"], "cli-synopsis")
    -- each option's count, as the subcommand's module defines it
    local function counts_of(name)
      local counts = {}
      local chain = setmetatable({}, { __index = function(o) return function() return o end end })
      local cmd = {}
      function cmd.argument() return chain end
      function cmd.flag(_, opt) counts[opt] = false return chain end
      function cmd.option(_, opt)
        counts[opt] = false
        return setmetatable({ count = function(self, c) counts[opt] = c ~= 1 and c ~= "?" return self end },
          { __index = chain })
      end
      require("clientcert.cli." .. name:gsub("%-", "_")).define(cmd)
      return counts
    end
    local shown, current = {}, nil
    for line in synopsis:gmatch("[^\n]+") do
      current = line:match("^clientcert ([%w%-]+)") or current
      shown[current] = shown[current] or {}
      -- "--opt ARG..." or "[--opt ARG]...": repeated; "--opt ARG" (or a flag): once
      for opt, rest in line:gmatch("(%-%-[%w%-]+)([^%[%-]*)") do
        local arg_end = rest:match("^ ?[^%s%]]*(%]?%.%.%.)")
        shown[current][opt] = shown[current][opt] or arg_end ~= nil
      end
    end
    for _, name in ipairs(commands) do
      local want, got = {}, {}
      for opt, repeated in pairs(counts_of(name)) do
        if repeated then want[#want + 1] = opt end
      end
      for opt, repeated in pairs(shown[name]) do
        if repeated then got[#got + 1] = opt end
      end
      table.sort(want)
      table.sort(got)
      assert.same({ name = name, repeated = want }, { name = name, repeated = got })
    end
  end)
end)

describe("what the docs show", function()
  it("docs/internals.md's make targets are what make help prints", function()
    local block = assert(block_after(TEXT["docs/internals.md"], "make-help"), "no make-help block")
    local out = table.concat(lines_of("make --no-print-directory -s help"), "\n") .. "\n"
    assert.equals(out, block)
  end)

  it("docs/causes.md's table is the catalogue: ids in precedence order, substatus, who fixes it", function()
    local block = TEXT["docs/causes.md"]:match("<!%-%- causes%-table[^\n]*%-%->\n(.-)\n\n")
    assert.truthy(block, "no causes-table")
    local rows = {}
    for line in block:gmatch("[^\n]+") do
      local n, id, sub, who = line:match("^| (%d+) | `([%w_]+)` | ([%d%.]+) | .* |([^|]*)|$")
      if n then rows[#rows + 1] = { tonumber(n), id, sub, (who:gsub("^%s+", ""):gsub("%s+$", "")) } end
    end
    local short = { ["server operator"] = "server", ["client owner"] = "client", ["certificate authority"] = "CA" }
    local want = {}
    for i, id in ipairs(causes.list()) do
      local c = causes.get(id)
      local seen, who = {}, {}
      for _, r in ipairs(c.resolution or {}) do
        local s = short[r.who] or r.who
        if not seen[s] then seen[s] = true who[#who + 1] = s end
      end
      want[i] = { i, id, c.substatus, table.concat(who, " / ") }
    end
    assert.same(want, rows)
  end)

  it("docs/conformance.md's figures are spec/conformance/EXPECTED.md's", function()
    local expected = read("spec/conformance/EXPECTED.md"):match("\n(| suite | agreement |.-)\n\n")
    local shown = TEXT["docs/conformance.md"]:match("<!%-%- conformance%-table[^\n]*%-%->\n(.-)\n\n")
    assert.truthy(expected)
    assert.equals(expected, shown)
  end)

  it("docs/cli.md's check-policy runs print what it shows", function()
    local block = assert(block_after(TEXT["docs/cli.md"], "check-policy"), "docs/cli.md: no check-policy block")
    local cwd = lines_of("pwd")[1]
    local dir = os.tmpname()
    os.remove(dir)
    local ok = os.execute(("mkdir -p %s && ln -s %s %s && env -u LD_PRELOAD bash examples/openresty/make-pki.sh %s"
      .. " >/dev/null 2>&1"):format(q(dir), q(cwd .. "/examples"), q(dir .. "/examples"), q(dir .. "/pki")))
    assert(ok == true or ok == 0, "examples/openresty/make-pki.sh failed")
    local f = assert(io.open(dir .. "/broken.lua", "wb"))
    f:write('return { mode = "required" }\n')
    f:close()
    local n = 0
    for cmd, shown in block:gmatch("%$ clientcert ([^\n]+)\n([^$]*)") do
      local args = {}
      for w in cmd:gmatch("%S+") do args[#args + 1] = w end
      assert.equals(shown, run_lua(dir, cwd .. "/bin/clientcert", (table.unpack or unpack)(args)))
      n = n + 1
    end
    assert.equals(2, n)
    os.execute("rm -rf " .. q(dir))
  end)

  it("the README's demo lines are lines the demo prints", function()
    local block = assert(block_after(TEXT["README.md"], "demo"), "README: no demo block")
    local out = run_lua(demo, lines_of("pwd")[1] .. "/examples/demo.lua", demo)
    local have = {}
    for l in out:gmatch("[^\n]+") do have[l] = true end
    for l in block:gmatch("[^\n]+") do assert.truthy(have[l], "the demo does not print: " .. l .. "\n" .. out) end
  end)

  it("the README's Lua example prints what the README shows", function()
    local code, shown = TEXT["README.md"]:match("<!%-%- readme%-lua[^\n]*%-%->\n```lua\n(.-)```\n\n```\n(.-)```")
    assert.truthy(code, "README: no readme-lua block")
    local file = demo .. "/readme-example.lua"
    local f = assert(io.open(file, "wb"))
    f:write(code)
    f:close()
    assert.equals(shown, run_lua(demo, file))
  end)

  it("the README's clientcert check shows the first lines of its output", function()
    local block = assert(block_after(TEXT["README.md"], "readme-cli"), "README: no readme-cli block")
    local cmd, shown = block:match("^%$ clientcert ([^\n]+)\n(.-)%.%.%.\n$")
    assert.truthy(cmd, block)
    local args = {}
    for w in cmd:gmatch("%S+") do args[#args + 1] = w:match("%.pem$") and (demo .. "/" .. w) or w end
    local code, out = cli.exec(args)
    assert.equals(1, code)
    assert.equals(shown, out:sub(1, #shown))
  end)
end)
