--- clientcert.lru: a bounded least-recently-used map whose entries are valid
-- only inside a window of check times and for a time-to-live of real time
-- (internal module; the policy's verdict and parse caches).
--
--   local cache = lru.new(size[, ttl])          -- size >= 1 entries, ttl seconds (nil: none)
--   cache:set(key, value[, lo, hi, now])        -- valid for check times lo..hi (inclusive)
--   local value = cache:get(key[, time, now])   -- nil when absent, outside lo..hi, or older than ttl
--
-- `time` is the check time of the request (which an audit may set in the past or
-- future); `now` is the real clock (default os.time()), against which ttl counts.
-- Get and set are O(1); the map never holds more than `size` entries. A node is
-- a 7-slot array (no hash part): about 170 bytes on Lua 5.4, 100 on LuaJIT.
local M = {}

local Cache = {}
local methods = {}
Cache.__index = methods
Cache.__metatable = "clientcert.lru"

-- node slots
local NEWER, OLDER, KEY, VALUE, LO, HI, STORED = 1, 2, 3, 4, 5, 6, 7

--- cache = lru.new(size[, ttl])
function M.new(size, ttl)
  if type(size) ~= "number" or size < 1 or size ~= math.floor(size) or size == math.huge then
    error("clientcert.lru: size must be an integer >= 1", 2)
  end
  if ttl ~= nil and (type(ttl) ~= "number" or ttl ~= ttl or ttl < 0) then
    error("clientcert.lru: ttl must be a number of seconds >= 0", 2)
  end
  -- a sentinel node: head[NEWER] is the most recently used entry, head[OLDER] the least
  local head = { false, false }
  head[NEWER], head[OLDER] = head, head
  return setmetatable({ size = size, ttl = ttl, map = {}, count = 0, head = head }, Cache)
end

local function unlink(node)
  node[OLDER][NEWER] = node[NEWER]
  node[NEWER][OLDER] = node[OLDER]
end

local function push_front(head, node)
  node[OLDER] = head
  node[NEWER] = head[NEWER]
  head[NEWER][OLDER] = node
  head[NEWER] = node
end

local function drop(self, node)
  unlink(node)
  self.map[node[KEY]] = nil
  self.count = self.count - 1
end

--- cache:set(key, value[, lo, hi, now]): stores value for check times lo..hi
-- (nil bounds: unbounded), evicting the least recently used entry when full.
function methods:set(key, value, lo, hi, now)
  local node = self.map[key]
  if node then
    unlink(node)
  else
    if self.count >= self.size then drop(self, self.head[OLDER]) end
    node = { false, false, key, false, false, false, false }
    self.map[key] = node
    self.count = self.count + 1
  end
  node[VALUE], node[LO], node[HI], node[STORED] = value, lo or false, hi or false, now or os.time()
  push_front(self.head, node)
end

--- value = cache:get(key[, time, now]): the value when present, time within its
-- window and the entry younger than ttl; a stale entry is removed.
function methods:get(key, time, now)
  local node = self.map[key]
  if not node then return nil end
  local fresh = (self.ttl == nil or (now or os.time()) - node[STORED] <= self.ttl)
  if not fresh then
    drop(self, node)
    return nil
  end
  if time ~= nil then
    local lo, hi = node[LO], node[HI]
    if (lo and time < lo) or (hi and time > hi) then return nil end
  end
  unlink(node)
  push_front(self.head, node)
  return node[VALUE]
end

--- cache:delete(key)
function methods:delete(key)
  local node = self.map[key]
  if node then drop(self, node) end
end

--- cache:clear(): removes every entry.
function methods:clear()
  self.map, self.count = {}, 0
  self.head[NEWER], self.head[OLDER] = self.head, self.head
end

--- n = cache:len()
function methods:len() return self.count end

return M
