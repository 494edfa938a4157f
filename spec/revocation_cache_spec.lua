-- revocation.memory_cache (the plain-Lua cache of revocation answers): bounded by
-- size, entries kept for their ttl, on a clock the spec controls.
local revocation = require "clientcert.revocation"

describe("revocation.memory_cache", function()
  it("keeps size live entries: an answer set again after it expired is not evicted for its old self", function()
    local t = 1000
    local c = revocation.memory_cache(2, function() return t end)
    c:set("a", "old", 10)
    t = 1020
    assert.is_nil(c:get("a"))          -- expired
    c:set("a", "new", 10)
    c:set("b", "b", 10)                -- two live entries in a cache of two
    assert.equals("new", c:get("a"))
    assert.equals("b", c:get("b"))
    c:set("c", "c", 10)                -- a third: the oldest inserted goes
    assert.is_nil(c:get("a"))
    assert.equals("b", c:get("b"))
    assert.equals("c", c:get("c"))
  end)
end)
