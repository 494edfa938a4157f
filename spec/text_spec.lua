-- Terminal and log safety (issue 8, item 9): certificate-derived text is
-- escaped in every text output and in JSON, and the verdict log line is bounded.
local clientcert = require "clientcert"
local text = require "clientcert.text"
local causes = require "clientcert.causes"
local runner = require "helpers.cli"
local run = runner.run
local cjson = require "cjson"
local pki = require "helpers.pki"

-- Fails when s holds anything a terminal acts on or that hides or reorders text:
-- C0 controls other than the newline between lines, DEL, C1 (as UTF-8),
-- Bidi_Control characters, U+2028/2029, or bytes that are not valid UTF-8.
local function assert_inert(s, what)
  assert.is_nil(s:find("[%z\1-\9\11-\31\127]"), what .. ": raw control byte")
  assert.is_nil(s:find("\194[\128-\159]"), what .. ": raw C1 control")
  assert.is_nil(s:find("\226\128[\170-\174\168\169\142\143]"), what .. ": raw bidi control or line separator")
  assert.is_nil(s:find("\226\129[\166-\169]"), what .. ": raw bidi isolate")
  assert.is_nil(s:find("\216\156"), what .. ": raw U+061C")
  for line in s:gmatch("[^\n]+") do assert.equals(line, text.escape(line), what .. ": not inert (invalid UTF-8?)") end
end

describe("text.escape", function()
  it("shows controls, DEL, C1, bidi controls, line separators and invalid bytes visibly", function()
    assert.equals("a\\x1b[2Jb\\x0ac\\x00d\\x7f", text.escape("a\27[2Jb\nc\0d\127"))
    assert.equals("\\u0080\\u009b\\u009f", text.escape("\194\128\194\155\194\159"))
    assert.equals("x\\u202ey\\u202az\\u2066w\\u2069",
      text.escape("x\226\128\174y\226\128\170z\226\129\166w\226\129\169"))
    assert.equals("\\u2028\\u2029\\u200e\\u200f\\u061c",
      text.escape("\226\128\168\226\128\169\226\128\142\226\128\143\216\156"))
    -- not UTF-8: a lone byte, an overlong form, a surrogate, a truncated sequence
    assert.equals("\\xff", text.escape("\255"))
    assert.equals("\\xc0\\x80", text.escape("\192\128"))
    assert.equals("\\xed\\xa0\\x80", text.escape("\237\160\128"))
    assert.equals("\\xe2\\x80", text.escape("\226\128"))
    assert.equals("\\xf4\\x90\\x80\\x80", text.escape("\244\144\128\128"))     -- above U+10FFFF
  end)

  it("keeps printable ASCII and valid UTF-8 as they are, and is idempotent", function()
    local s = "CN=Zoë 東京 \240\159\152\128,O=a\\,b"
    assert.equals(s, text.escape(s))
    local hostile = "\27]8;;http://x\27\\\255\226\128\174\n"
    assert.equals(text.escape(hostile), text.escape(text.escape(hostile)))
    assert.equals("42", text.escape(42))
  end)
end)

describe("text.json", function()
  it("round-trips ordinary values through cjson", function()
    local v = { a = 1, b = { 1, 2, 3 }, c = "Zoë 東京 \"q\" \\ /", d = true, e = false, f = -2.5,
                g = { x = { y = "z" } }, h = 1906502400, i = {} }
    local back = cjson.decode(text.json(v))
    assert.same({ a = 1, b = { 1, 2, 3 }, c = v.c, d = true, e = false, f = -2.5, g = v.g, h = 1906502400, i = {} },
      back)
    assert.equals('{"a":[1,"x"],"b":null}', text.json({ a = { 1, "x" }, b = 0 / 0 }))
  end)

  it("escapes controls, DEL, C1, bidi and U+2028/2029 in \\u form, and invalid bytes as \\u00XX", function()
    local s = "\27[2J\n\0\127\194\155\226\128\174\226\129\166\226\128\168\226\128\169\255"
    local j = text.json(s)
    assert.equals('"\\u001b[2J\\n\\u0000\\u007f\\u009b\\u202e\\u2066\\u2028\\u2029\\u00ff"', j)
    assert_inert(j, "json")
    -- the invalid byte decodes as its Latin-1 character; every valid character round-trips
    assert.equals("\27[2J\n\0\127\194\155\226\128\174\226\129\166\226\128\168\226\128\169\195\191", cjson.decode(j))
  end)

  it("raises for what JSON cannot hold", function()
    assert.has_error(function() text.json({ f = print }) end, "clientcert.json: cannot encode a function")
    local t = {}
    t.self = t
    assert.has_error(function() text.json(t) end, "clientcert.json: tables nested deeper than 64 (a cycle?)")
  end)
end)

describe("the clientcert command with hostile certificate text", function()
  local hostile = pki.path("hostile-text.pem")

  it("info escapes every SAN type and the subject: no control reaches the terminal, no forged line", function()
    local code, out, err = run("info", hostile)
    assert.equals(0, code)
    assert.equals("", err)
    assert_inert(out, "info")
    for line in out:gmatch("[^\n]+") do assert.not_matches("^%s*Result:", line) end
    assert.matches("dns:evil\\x1b[2J\\x1b]8;;http://evil.test/\\x1b\\click", out, 1, true)
    assert.matches("\\xff.test", out, 1, true)
    assert.matches("email:a@b.test\\x0aResult: OK", out, 1, true)
    assert.matches("uri:https://x.test/\\u202egpj.exe\\u2066", out, 1, true)
    assert.matches("other:1.3.6.1.4.1.311.20.2.3:admin\\u009b31m@corp\\x7f\\u2028", out, 1, true)
    assert.matches("subject:     CN=hostile\\u202e\\u009btxt,O=clientcert tests", out, 1, true)
  end)

  it("info --json escapes in \\u form and decodes to the certificate's values", function()
    local code, out = run("info", "--json", hostile)
    assert.equals(0, code)
    assert_inert(out, "info --json")
    local info = cjson.decode(out)
    local c = assert(clientcert.load(hostile)):info()
    assert.equals(c.subject, info.subject)
    assert.equals(c.san[2].value, info.san[2].value)                 -- newline and all
    assert.equals(c.san[3].value, info.san[3].value)                 -- U+202E, U+2066
    assert.equals(c.san[4].value, info.san[4].value)                 -- C1, DEL, U+2028
    assert.equals((c.san[1].value:gsub("\255", "\195\191")), info.san[1].value) -- 0xFF as U+00FF
  end)

  it("verify and check print no raw control either, and accept the (valid) certificate", function()
    local code, out = run("verify", hostile, "--roots", pki.path("root.pem"), "--intermediates", pki.path("inter.pem"),
      "--time", "2030-06-01")
    assert.equals(0, code)
    assert_inert(out, "verify")
    assert.matches("CN=hostile\\u202e\\u009btxt", out, 1, true)
    local policy = os.tmpname()
    local f = assert(io.open(policy, "wb"))
    f:write([[return { trust = clientcert.store{ roots = params.roots, intermediates = params.intermediates },
                       verify = { crl = "none" }, allow = { { subject_cn = "nobody" } } }]])
    f:close()
    local args = { "--policy", policy, "--param", "roots=" .. pki.path("root.pem"),
                   "--param", "intermediates=" .. pki.path("inter.pem"), "--time", "2030-06-01" }
    local unpack_ = require("clientcert.compat").unpack
    code, out = run("check", hostile, unpack_(args))
    os.remove(policy .. ".x")
    assert.equals(1, code)
    assert_inert(out, "check")
    assert.matches("^403%.12 Forbidden: Client certificate denied by policy\nCause: denied_by_rule\n", out)
    assert.matches("The certificate CN=hostile\\u202e\\u009btxt,O=clientcert tests", out, 1, true)
    code, out = run("check", hostile, "--json", unpack_(args))
    os.remove(policy)
    assert.equals(1, code)
    assert_inert(out, "check --json")
    assert.equals("denied_by_rule", cjson.decode(out).cause)
  end)
end)

describe("causes.render", function()
  it("escapes the facts it interpolates and cuts a huge one visibly", function()
    local msg = causes.render("denied_by_rule", { subject = "CN=a\27[2J\226\128\174", issuer = "CN=i\n",
                                                  rule_reason = "r\194\155" })
    assert_inert(msg, "message")
    assert.matches("CN=a\\x1b[2J\\u202e (issuer CN=i\\x0a)", msg, 1, true)
    local big = causes.render("denied_by_rule", { subject = "CN=" .. string.rep("x", 200000), issuer = "i",
                                                  rule_reason = "r" })
    assert.is_true(#big < 1000)
    assert.matches("\226\128\166[cut 199747 bytes]", big, 1, true)
  end)
end)

describe("verdict_json is bounded", function()
  local store = clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") }
  local policy = clientcert.policy{ trust = store, verify = { crl = "none" } }

  it("a 200 KB OU gives one line under the cap that decodes, with visible cuts", function()
    local v = policy:check{ cert = pki.read("big-ou.pem"), time = pki.T }
    assert.is_true(v.accepted)
    assert.is_true(#v.client.subject > 200000)
    local line = clientcert.verdict_json(v)
    assert.is_true(#line <= text.VERDICT_JSON_MAX, "line of " .. #line .. " bytes")
    assert.equals(1536, text.VERDICT_JSON_MAX)
    local back = cjson.decode(line)
    assert.is_true(back.accepted)
    assert.equals("ok", back.cause)
    assert.matches("\226\128\166%[cut %d+ bytes%]", back.message)
    assert.equals(v.client.fingerprint, back.client.fingerprint)
  end)

  it("an ordinary chain keeps every detail, the subject written at most twice", function()
    for _, name in ipairs({ "alice.pem", "mallory.pem" }) do
      local v = clientcert.policy{ trust = clientcert.store{ roots = pki.path("root.pem"),
        intermediates = pki.path("inter.pem"), crls = pki.path("crls.pem") } }:check{
        cert = pki.read(name), time = pki.T }
      local line = clientcert.verdict_json(v)
      assert.is_true(#line <= text.VERDICT_JSON_MAX)
      local back = cjson.decode(line)
      assert.is_nil(back.omitted)
      assert.equals(3, #back.chain)
      assert.equals(v.client.subject, back.client.subject)
      assert.equals("CN=Test Issuing CA,O=clientcert tests", back.chain[2].subject)
      assert.is_nil(back.chain[1].subject)                 -- the client's names are in client
      local _, n = line:gsub(v.client.subject:gsub("%p", "%%%0"), "")
      assert.is_true(n <= 2, "subject written " .. n .. " times")
    end
  end)

  it("stays under the cap whatever the verdict holds (escaping included)", function()
    local huge = string.rep("\27\226\128\174", 50000)
    local chain = {}
    for i = 1, 40 do
      chain[i] = { depth = i - 1, subject = huge, issuer = huge, serial = huge, status = huge, trusted = false }
    end
    local v = { time = pki.T, accepted = false, status = 403, substatus = huge, cause = huge, title = huge,
                message = huge, mode = huge, also = { huge, huge, huge }, rule_reason = huge, rule_error = huge,
                error = huge, client = { subject = huge, issuer = huge, serial = huge, fingerprint = huge },
                chain = chain }
    local line = clientcert.verdict_json(v)
    assert.is_true(#line <= text.VERDICT_JSON_MAX, "line of " .. #line .. " bytes")
    assert_inert(line, "verdict_json")
    local back = cjson.decode(line)
    assert.is_false(back.accepted)
    assert.equals(403, back.status)
    assert.same({ "chain", "client names", "texts" }, back.omitted)
  end)
end)
