-- clientcert.lru: bounded LRU with check-time windows and a real-time ttl.
local lru = require "clientcert.lru"

describe("clientcert.lru", function()
  it("never holds more than size entries and evicts the least recently used", function()
    local c = lru.new(3)
    c:set("a", 1) c:set("b", 2) c:set("c", 3)
    assert.are.equal(1, c:get("a"))          -- a is now the most recent
    c:set("d", 4)                            -- evicts b
    assert.are.equal(3, c:len())
    assert.is_nil(c:get("b"))
    assert.are.equal(1, c:get("a"))
    assert.are.equal(3, c:get("c"))
    assert.are.equal(4, c:get("d"))
    for i = 1, 100 do c:set("k" .. i, i) end
    assert.are.equal(3, c:len())
    assert.are.equal(100, c:get("k100"))
    assert.is_nil(c:get("k97"))
  end)

  it("replaces a value in place without growing", function()
    local c = lru.new(2)
    c:set("a", 1) c:set("a", 2)
    assert.are.equal(1, c:len())
    assert.are.equal(2, c:get("a"))
  end)

  it("serves an entry only for check times inside its window", function()
    local c = lru.new(4)
    c:set("k", "v", 100, 200, 0)
    assert.are.equal("v", c:get("k", 100, 0))
    assert.are.equal("v", c:get("k", 200, 0))
    assert.is_nil(c:get("k", 99, 0))
    assert.is_nil(c:get("k", 201, 0))
    assert.are.equal("v", c:get("k", 150, 0))  -- still there: a window miss does not evict
  end)

  it("drops an entry older than ttl in real time", function()
    local c = lru.new(4, 10)
    c:set("k", "v", nil, nil, 1000)
    assert.are.equal("v", c:get("k", nil, 1010))
    assert.is_nil(c:get("k", nil, 1011))
    assert.are.equal(0, c:len())
  end)

  it("deletes and clears", function()
    local c = lru.new(4)
    c:set("a", 1) c:set("b", 2)
    c:delete("a")
    assert.is_nil(c:get("a"))
    assert.are.equal(1, c:len())
    c:clear()
    assert.are.equal(0, c:len())
    assert.is_nil(c:get("b"))
    c:set("c", 3)
    assert.are.equal(3, c:get("c"))
  end)

  it("refuses a size or ttl that is not a proper number", function()
    for _, bad in ipairs({ 0, -1, 1.5, math.huge, "3" }) do
      assert.has_error(function() lru.new(bad) end, "clientcert.lru: size must be an integer >= 1")
    end
    assert.has_error(function() lru.new(2, -1) end, "clientcert.lru: ttl must be a number of seconds >= 0")
    assert.has_error(function() lru.new(2, 0 / 0) end, "clientcert.lru: ttl must be a number of seconds >= 0")
  end)
end)
