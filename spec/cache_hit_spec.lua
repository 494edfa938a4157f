-- The verdict cache's hit path: each hit hands out tables of its own, built by a
-- copier compiled for the entry's shape (verdict_cache.template_copier), and the JSON
-- parts of the gate's log line are built once per entry (verdict_cache.json_parts).
local clientcert = require "clientcert"
local verdict_cache = require "clientcert.verdict_cache"
local text = require "clientcert.text"
local pki = require "helpers.pki"

local function req(name, chain)
  local r = { cert = pki.read(name .. ".pem"), chain = {}, time = pki.T }
  for _, c in ipairs(chain or {}) do r.chain[#r.chain + 1] = pki.read(c .. ".pem") end
  return r
end

local function cached_policy(opts)
  opts = opts or {}
  opts.trust = opts.trust or assert(clientcert.store{ roots = pki.path("root.pem") })
  opts.verify = opts.verify or { crl = "none" }
  opts.cache = { size = 8 }
  return clientcert.policy(opts)
end

-- Changes every table of a verdict a caller could reach.
local function vandalize(v)
  v.message, v.cause, v.accepted = "vandalized", "ok", true
  v.client.subject = "CN=admin"
  v.client.subject_fields[#v.client.subject_fields].value = "admin"
  v.client.san = {}
  v.client.eku[1] = "serverAuth"
  v.client.key_usage[1] = "keyCertSign"
  v.client.public_key.bits = 1
  v.client.extensions[1] = "vandal"
  v.client.critical_extensions[1] = "vandal"
  for _, el in ipairs(v.chain) do
    el.subject, el.status, el.trusted = "CN=x", "ok", true
    el.problems[#el.problems + 1] = { cause = "vandal" }
  end
  v.problems[#v.problems + 1] = { cause = "vandal" }
  v.also[#v.also + 1] = "vandal"
  v.chain[#v.chain + 1] = { subject = "CN=extra" }
end

local function without_cached(v)
  local out = {}
  for k, x in pairs(v) do if k ~= "cached" then out[k] = x end end
  return out
end

-- A verdict's keys, sorted, as one string.
local function keys(v)
  local out = {}
  for k in pairs(v) do out[#out + 1] = k end
  table.sort(out)
  return table.concat(out, ",")
end

describe("the verdict cache's hit path", function()
  it("hands out verdicts with the fields set for them only (the verdict table is sized beforehand)", function()
    local p = cached_policy()
    local before = "accepted,also,cause,chain,message,mode,resolution,status,substatus,time,title"
    local none = p:check{ time = pki.T }
    assert.are.equal("no_certificate", none.cause)
    assert.are.equal(before, keys(none))
    assert.are.same({}, none.chain)
    local garbage = p:check{ cert = "garbage", time = pki.T }
    assert.are.equal("invalid_certificate", garbage.cause)
    assert.are.equal(before, keys(garbage))
    assert.are.same({}, garbage.chain)
    local off = clientcert.policy{ mode = "off" }:check{ time = pki.T }
    assert.are.equal(before, keys(off))
    assert.are.same({}, off.chain)
    local after = "accepted,also,cause,chain,client,message,mode,problems,resolution,status,substatus,time,title"
    local miss = p:check(req("alice", { "inter" }))
    assert.are.equal(after, keys(miss))
    local hit = p:check(req("alice", { "inter" }))
    assert.is_true(hit.cached)
    assert.are.equal("accepted,also,cached,cause,chain,client,message,mode,problems,resolution,status,substatus,"
      .. "time,title", keys(hit))
    assert.are.same(without_cached(miss), without_cached(hit))
  end)

  it("serves the same verdict as a policy without a cache, in tables of its own", function()
    local plain = clientcert.policy{ trust = assert(clientcert.store{ roots = pki.path("root.pem") }),
                                     verify = { crl = "none" } }
    local p = cached_policy()
    for _, case in ipairs({ { "alice", { "inter" } }, { "mallory", { "inter" } }, { "alice", nil },
                            { "forger", { "forged-inter" } }, { "bmp", { "inter" } } }) do
      local want = plain:check(req(case[1], case[2]))
      p:check(req(case[1], case[2]))
      local a, b = p:check(req(case[1], case[2])), p:check(req(case[1], case[2]))
      assert.is_true(a.cached, case[1])
      assert.are.same(without_cached(want), without_cached(a))
      assert.are_not.equal(a.client, b.client)
      assert.are_not.equal(a.client.subject_fields, b.client.subject_fields)
      assert.are_not.equal(a.chain, b.chain)
      assert.are_not.equal(a.chain[1], b.chain[1])
      assert.are_not.equal(a.problems, b.problems)
    end
  end)

  it("is not changed by a caller that changes a verdict it got, on a miss or on a hit", function()
    local p = cached_policy()
    local want = p:check(req("alice", { "inter" }))
    local pristine = p:check(req("alice", { "inter" }))
    vandalize(want)          -- the verdict of the miss that filled the entry
    local hit = p:check(req("alice", { "inter" }))
    assert.are.same(pristine, hit)
    vandalize(hit)           -- a verdict served from the entry
    assert.are.same(pristine, p:check(req("alice", { "inter" })))
  end)

  it("matches the allow list against the entry's data, not what a caller changed", function()
    local p = cached_policy{ allow = { { subject_cn = "admin" } } }
    local v = p:check(req("alice", { "inter" }))
    assert.are.equal("denied_by_rule", v.cause)
    vandalize(v)
    local again = p:check(req("alice", { "inter" }))
    vandalize(again)
    local third = p:check(req("alice", { "inter" }))
    assert.is_true(third.cached)
    assert.is_false(third.accepted)
    assert.are.equal("denied_by_rule", third.cause)
  end)

  it("gives the rule copies on a hit: what it changes reaches neither the verdict nor the cache", function()
    local seen = {}
    local p = cached_policy{ rule = function(info, verdict)
      seen[#seen + 1] = info.subject .. "|" .. verdict.client.subject .. "|" .. #verdict.chain
      info.subject = "CN=admin"
      verdict.client.subject, verdict.chain[1].subject, verdict.message = "CN=admin", "CN=admin", "changed"
      verdict.chain[#verdict.chain + 1] = {}
      return true
    end }
    for _ = 1, 3 do
      local v = p:check(req("alice", { "inter" }))
      assert.is_true(v.accepted)
      assert.are.equal("CN=alice,O=clientcert tests", v.client.subject)
      assert.are.equal(3, #v.chain)
      assert.are_not.equal("changed", v.message)
    end
    assert.are.equal(3, #seen)
    for i = 1, 3 do
      assert.are.equal("CN=alice,O=clientcert tests|CN=alice,O=clientcert tests|3", seen[i])
    end
  end)

  it("gives the gate the JSON parts of the last verdict served from an entry, and only of that", function()
    local p = cached_policy()
    local miss = p:check(req("alice", { "inter" }))
    assert.is_nil(verdict_cache.json_parts(miss))
    local hit = p:check(req("alice", { "inter" }))
    local parts = verdict_cache.json_parts(hit)
    assert.is_table(parts)
    assert.are.equal(text.verdict_json(hit), text.verdict_json(hit, parts))
    assert.are.equal(text.verdict_json(miss), text.verdict_json(hit, parts))
    p:check(req("mallory", { "inter" }))
    local later = p:check(req("mallory", { "inter" }))
    assert.is_nil(verdict_cache.json_parts(hit))                     -- no longer the last one served
    assert.are.equal(text.verdict_json(later), text.verdict_json(later, verdict_cache.json_parts(later)))
    later.client = { subject = "CN=replaced" }
    assert.is_nil(verdict_cache.json_parts(later))                   -- its client table was replaced
    assert.is_nil(verdict_cache.json_parts(nil))
  end)
end)

describe("verdict_cache.template_copier", function()
  local copier = verdict_cache.template_copier

  it("returns fresh deep copies of the data as it was when the copier was made", function()
    local data = { a = 1, b = "two", c = true, list = { 1, 2, { x = "y" } }, nested = { deeper = { deepest = {} } },
                   ["end"] = "reserved word", ["not an identifier"] = 5, [10] = "sparse", [false] = "boolean key",
                   [1.5] = "float key" }
    local copy = copier(data)
    local a, b = copy(), copy()
    assert.are.same(data, a)
    assert.are.same(data, b)
    assert.are_not.equal(a, b)
    assert.are_not.equal(a.list, b.list)
    assert.are_not.equal(a.list[3], data.list[3])
    data.a, data.list[3].x, data.nested.deeper.deepest.z = 2, "changed", 1
    a.b = "changed"
    local c = copy()
    assert.are.equal(1, c.a)
    assert.are.equal("y", c.list[3].x)
    assert.is_nil(c.nested.deeper.deepest.z)
    assert.are.equal("two", c.b)
  end)

  it("copies data too large or too deep for a template as well", function()
    local big = {}
    for i = 1, 2000 do big[i] = { type = "dns", value = "host" .. i .. ".example.test" } end
    local deep = {}
    local t = deep
    for i = 1, 40 do t.next = { level = i } t = t.next end
    for _, data in ipairs({ big, deep }) do
      local copy = copier(data)
      local a = copy()
      assert.are.same(data, a)
      assert.are_not.equal(a, copy())
      if data == big then
        big[1].value = "changed"
        assert.are.equal("host1.example.test", copy()[1].value)
      end
    end
  end)

  it("copies data whose sequence has a hole as well", function()
    local data = { 1, nil, 3, x = { "a", nil, "c" } }
    data[4] = 4
    local a = copier(data)()
    assert.are.same(data, a)
    assert.are.equal(3, a[3])
    assert.are.equal("c", a.x[3])
  end)

  it("copies data of the same shape (one compiled constructor) with each one's own values", function()
    local a = copier({ x = 1, y = { "a", "b" } })
    local b = copier({ x = 2, y = { "c", "d" } })
    assert.are.same({ x = 1, y = { "a", "b" } }, a())
    assert.are.same({ x = 2, y = { "c", "d" } }, b())
  end)
end)
