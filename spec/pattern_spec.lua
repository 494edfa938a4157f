-- csrc/pattern.c, the copy of Lua's pattern matcher that costs a string.find,
-- match, gmatch or gsub before policy code runs it (and an allow list's
-- *_pattern matchers): its verdicts must be the interpreter's (where it matches,
-- what it captures, where it raises), or its cost is that of another search;
-- its cost must grow with the work the real matcher does; hostile patterns give
-- a verdict, never a crash or a hang.
local core = require "clientcert.core"

local find, cost = core._pattern_find, core._pattern_cost
local unpack_ = table.unpack or unpack

-- A readable form of a list of results (strings quoted, embedded bytes escaped).
local function show(t, from, to)
  local out = {}
  for i = from, to do
    local v = t[i]
    out[#out + 1] = type(v) == "string" and ("%q"):format(v):gsub("\n", "n") or tostring(v)
  end
  return "(" .. table.concat(out, ", ") .. ")"
end

local function pack(...) return { n = select("#", ...), ... } end

-- Whether string.find searches for p as plain text (no special character in it).
local function plain(p)
  return not p:find("[%^%$%*%+%?%.%(%[%%%-]")
end

-- string.match's results from string.find's (start, end, captures...).
local function as_match(s, r, from)
  if r[from] == nil or r[from] == false then return { n = r.n - from + 1, unpack_(r, from, r.n) } end
  if r.n - from + 1 == 2 then return { n = 1, s:sub(r[from], r[from + 1]) } end
  return { n = r.n - from - 1, unpack_(r, from + 2, r.n) }
end

-- nil when the copy agrees with this interpreter's string.find (when it uses the
-- matcher) and string.match on (s, p, init), else what each gave.
local function disagreement(s, p, init)
  local mine = pack(find(s, p, init))
  local got = show(mine, 1, mine.n)
  local function differs(f, name, shape)
    local real = pack(pcall(f, s, p, init))
    local want = real[1] and show(real, 2, real.n) or show({ false, "error" }, 1, 2)
    local have = shape and show(shape, 1, shape.n) or got
    if want == have then return nil end
    return ("s=%q p=%q init=%s: string.%s %s (%s), pattern.c %s"):format(s, p, tostring(init), name, want,
      tostring(real[2]), have)
  end
  return (not plain(p) and differs(string.find, "find")) or differs(string.match, "match", as_match(s, mine, 1))
end

-- Hand-picked: each feature of Lua's patterns, and each way to get one wrong.
local CASES = {
  -- plain characters, anchors, init
  { "hello world", "o w" }, { "hello", "" }, { "", "" }, { "", "a" }, { "abc", "^b" }, { "abc", "^a" },
  { "abc", "c$" }, { "abc", "b$" }, { "a$b", "$b" }, { "a$b", "a$b" }, { "a^b", "a^b" }, { "^", "^^" },
  { "abc", "^" }, { "abc", "$" }, { "abc", "^$" }, { "", "^$" },
  { "abcabc", "b", 3 }, { "abcabc", "b", -2 }, { "abcabc", "b", -20 }, { "abc", "", 4 }, { "abc", "c", 0 },
  -- classes, upper case negated, %z (kept by Lua 5.4 as deprecated)
  { "a1 _.\t\0\255Z", "%a+" }, { "a1 _", "%d" }, { "ab \t\r\n", "%s+" }, { "a_1", "%w+" }, { "fF9g", "%x+" },
  { "a.!~", "%p+" }, { "\1\31\127 ", "%c+" }, { " a~\127", "%g+" }, { "aB", "%l%u" }, { "aB", "%L%U" },
  { "a1", "%A" }, { "a1", "%D" }, { "1a", "%S" }, { "..a", "%W" }, { "\0\0a", "%z+" }, { "\0a", "%Z" },
  { "a%b", "%%" }, { "a.b", "%." }, { "(x)", "%(x%)" }, { "a\255b", "\255" }, { "\200\201", "[\128-\255]+" },
  -- sets: ranges, negation, escapes, ] and - at the edges, classes inside
  { "xbay", "[ab]+" }, { "xbay", "[^ab]" }, { "b-c", "[a-c]+" }, { "a-z", "[a-]+" }, { "-z", "[-z]+" },
  { "]a]", "[]]" }, { "]a]", "[^]]" }, { "a]b", "[%]]" }, { "a%b", "[%%]" }, { "x_1", "[%a_]+" },
  { "x_1", "[^%a_]" }, { "a^b", "[%^]" }, { "a^b", "[b^]" }, { "z", "[z-a]" }, { "b", "[a-c-e]" },
  { "-", "[a-c-e]" }, { "\0", "[\0]" }, { "a", "[a\0]" }, { "ab", "[^\0]+" },
  -- repetitions
  { "aaab", "a*" }, { "aaab", "a*b" }, { "b", "a*b" }, { "aaab", "a+b" }, { "b", "a+b" }, { "aaab", "a-b" },
  { "aaab", "a-" }, { "ab", "a?b" }, { "b", "a?b" }, { "aab", "a?ab" }, { "xaaay", "x.-y" }, { "xaaay", "x.*y" },
  { "aaa", ".-$" }, { "abcabc", "(.*)c" }, { "abcabc", "(.-)c" }, { "abc", "a*?" }, { "a+", "a+%+" },
  -- captures: nested, position, empty, back references
  { "hello world", "(h)(e)(l)" }, { "hello", "((l)(l))" }, { "hello", "()ll()" }, { "hello", "()" },
  { "abab", "(ab)%1" }, { "abac", "(ab)%1" }, { "aa", "(a*)%1" }, { "abcabc", "(a(b)c)%1%2?" },
  { "xx", "()%1" }, { "xx", "(x)()%2" }, { "abba", "(a)(b)%2%1" }, { "key = val", "(%w+)%s*=%s*(%w+)" },
  { "abc", "()a()b()c()" }, { "aaa", ("(a?)"):rep(3) },
  -- %b and %f
  { "f(a(b)c)d", "%b()" }, { "f(a(b)c", "%b()" }, { "[[x]]", "%b[]" }, { "aaxbb", "%bab" }, { "xx", "%bxx" },
  { "THE (quick) fox", "%f[%a]%a+" }, { "THE (quick) fox", "%f[%A]" }, { "abc", "%f[%z]" }, { "", "%f[%z]" },
  { "a b", "%f[^%s]%S+" }, { "x", "%f[x]" }, { "ax", "%f[x]" },
  -- errors: malformed, too many captures, too complex, bad captures
  { "a", "%" }, { "a", "a%" }, { "a", "[a" }, { "a", "[^" }, { "a", "[" }, { "a", "[%" }, { "a", "[%]" },
  { "a", "[a-" }, { "a", "%b" }, { "a", "%ba" }, { "ab", "x%ba" }, { "a", "%f" }, { "a", "%fa" }, { "a", "%f[" },
  { "a", "(" }, { "a", "a(" }, { "a", ")" }, { "a", "a)" }, { "a", "(()" }, { "a", "%1" }, { "a", "(a)%2" },
  { "a", "(a%1)" }, { "a", "%0" }, { "a", "(a)%0" }, { "b", "a%1" }, { "b", "(a)%1" },
  { ("a"):rep(40), ("(a)"):rep(32) }, { ("a"):rep(40), ("(a)"):rep(33) }, { "a", ("()"):rep(33) },
  { ("a"):rep(300), ("a?"):rep(300) }, { ("a"):rep(300), ("a?"):rep(198) }, { ("a"):rep(300), ("a?"):rep(199) },
  { ("a"):rep(300), ("a?"):rep(200) }, { ("a"):rep(300), ("a?"):rep(201) }, { "b", ("a?"):rep(300) },
  { ("a"):rep(300), ("(a)"):rep(20) .. ("a?"):rep(200) },
  { "b", ("a*"):rep(199) }, { "b", ("a*"):rep(200) }, { "b", ("a*"):rep(201) }, { "b", ("a-"):rep(201) },
  { "b", ("a+"):rep(201) }, { "b", ("a?"):rep(201) },
  -- embedded NULs (LuaJIT's patterns end at the first one)
  { "a\0b", "a\0." }, { "ab", "a\0x*" }, { "a\0", "%b\0a" }, { "a", "a\0[" }, { "a\0b", "a%z." },
}

describe("pattern.c's matcher", function()
  it("agrees with string.find on hand-picked subjects and patterns", function()
    local failures = {}
    for _, c in ipairs(CASES) do failures[#failures + 1] = disagreement(c[1], c[2], c[3]) end
    assert.same({}, failures)
  end)

  it("agrees with string.find on random subjects and patterns", function()
    -- a generator of its own (Park-Miller), the same sequence on both runtimes
    local seed = 20261204
    local function rand(n)
      seed = seed * 16807 % 2147483647
      return seed % n + 1
    end
    local PTOK = { "a", "b", "x", "\0", "\255", " ", ".", "%a", "%d", "%s", "%w", "%x", "%p", "%z", "%A", "%S",
      "%%", "%.", "%(", "[ab]", "[^a]", "[a-c]", "[%a_]", "[]]", "[^]]", "[a-]", "[%]]", "[^%s]",
      "%b()", "%bab", "%f[a]", "%f[%w]", "%f[^a]", "(", ")", "()", "%1", "%2", "%0", "*", "+", "-", "?",
      "^", "$", "%", "[", "]", "%b", "%f", "-", "*", "(", ")" }
    local STOK = { "a", "b", "x", "(", ")", "\0", "\255", " ", "1", "_", "]", "-", "a", "b" }
    local failures = {}
    for _ = 1, 4000 do
      local s, p = {}, {}
      for i = 1, rand(11) - 1 do s[i] = STOK[rand(#STOK)] end
      for i = 1, rand(9) - 1 do p[i] = PTOK[rand(#PTOK)] end
      s, p = table.concat(s), table.concat(p)
      -- past the end LuaJIT searches at the end, Lua 5.4 not at all (and pattern.c
      -- costs from the start on LuaJIT, whose init it does not read)
      local inits = { nil, 1, math.min(2, #s + 1), -1, -3, 0, #s + 1, -(#s + 5) }
      local d = disagreement(s, p, inits[rand(#inits)])
      if d and #failures < 10 then failures[#failures + 1] = d end
      -- and every kind is costed without a crash
      for _, kind in ipairs{ "find", "match", "gmatch", "gsub" } do
        local c = cost(kind, s, p, 1, rand(2) == 1, 1e6)
        assert(c == false or (type(c) == "number" and c > 0), kind)
      end
    end
    assert.same({}, failures)
  end)
end)

describe("pattern.c's cost", function()
  -- the copy's verdicts are its costs: where it matched and Lua does not, it
  -- stopped at once while Lua backtracks through every position (minutes)
  it("of a search through %z or a back reference to a position is that of Lua's failing search", function()
    assert.is_nil(("a"):rep(60):find(".-.-.-()%1"))
    assert.is_false(cost("find", ("a"):rep(200), ".-.-.-()%1", 1, false, 1e7))
    assert.is_false(cost("find", ("\0"):rep(200), "%z*%z*%z*y", 1, false, 1e7))
    assert.is_false(cost("gsub", ("\0"):rep(200), "%z-%z-%z-y", 1, false, 1e7))
  end)

  -- one step was one call of the matcher or one character a repetition read:
  -- a literal item and a set's bytes were free, so a rule could take minutes in
  -- one call costed at a few thousand steps (2,000 bytes of "a" then "$" on
  -- 4,000 bytes of "a", 0.3 s at 4,001 steps; a 100,000-byte set repeated on
  -- 2,000 bytes, 78 s at 4,008,003 steps, under a rule's 10,000,000)
  it("grows with the pattern items Lua compares at each position", function()
    assert.is_false(cost("find", ("a"):rep(4000), ("a"):rep(2000) .. "$", 1, false, 1e6))
    assert.is_false(cost("match", ("a"):rep(4000), ("a"):rep(2000) .. "b", 1, false, 1e6))
    assert.is_false(cost("gsub", ("a"):rep(4000), ("%a"):rep(2000) .. "b", 1, false, 1e6))
  end)

  it("grows with the length of a set each time Lua reads it", function()
    local set = "[" .. ("x"):rep(5000) .. "a]"
    assert.is_false(cost("find", ("a"):rep(200) .. "b", set .. "*$", 1, false, 1e6))
    assert.is_false(cost("find", ("a"):rep(200) .. "b", set .. "-$", 1, false, 1e6))
    assert.is_false(cost("find", ("b"):rep(3000), "%f" .. set, 1, false, 1e6))
    assert.is_false(cost("gmatch", ("b"):rep(3000), set, 1, false, 1e6))
  end)

  it("still lets ordinary patterns through at a few steps a byte", function()
    local subject = "CN=alice.example,OU=Engineering,O=Example Corp,L=Somewhere,C=XX"
    for _, p in ipairs{ "^CN=([^,]+)", "O=(.-),", "[%w%.%-]+", "%f[%w]%w+",
        "^CN=[%w%.%-_]+,OU=[^,]*,O=Example Corp" } do
      for _, kind in ipairs{ "find", "match", "gmatch", "gsub" } do
        local c = cost(kind, subject, p, 1, false, 1e6)
        assert(c and c < 20 * #subject, ("%s %s: %s"):format(kind, p, tostring(c)))
      end
    end
  end)
end)

describe("hostile patterns", function()
  -- 100,000 bytes each, on short subjects: a verdict (Lua's), never a crash or a hang
  local PATTERNS = {
    ("("):rep(100000), ("()"):rep(50000), "[" .. ("a"):rep(100000), "[^" .. ("%]"):rep(50000),
    ("%"):rep(100001), ("a"):rep(100000) .. "%", ("a?"):rep(50000), ("a*"):rep(50000), ("a-"):rep(50000),
    ("%b()"):rep(25000), ("%f[a]"):rep(20000), "%f" .. ("x"):rep(100000), ("%b"):rep(50000),
    ("(a"):rep(1000) .. (")"):rep(1000), ("(a?)"):rep(25000), ("[a]"):rep(33333), ("%1"):rep(50000),
    ("x"):rep(100000), ("^"):rep(100000), ("$"):rep(100000), ("."):rep(100000),
  }
  local SUBJECTS = { "", "a", "ab(a)b", ("a"):rep(50), "(((a)))", "\0a\0" }

  it("get Lua's verdict, or the copy gives up within its limit", function()
    local failures = {}
    for i, p in ipairs(PATTERNS) do
      for _, s in ipairs(SUBJECTS) do
        local d = disagreement(s, p)
        if d then failures[#failures + 1] = ("pattern %d on %q: %s"):format(i, s, d:sub(-100)) end
      end
    end
    assert.same({}, failures)
  end)

  it("are costed for every kind, past the limit or within it", function()
    for _, p in ipairs(PATTERNS) do
      for _, s in ipairs(SUBJECTS) do
        for _, kind in ipairs{ "find", "match", "gmatch", "gsub" } do
          local c = cost(kind, s .. s:rep(100), p, 1, false, 1e6)
          assert(c == false or (type(c) == "number" and c > 0), kind)
        end
      end
    end
  end)
end)
