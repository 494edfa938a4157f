-- spec/helpers/der.lua: a small DER tree editor for building hostile files at
-- test time (PKCS#12 files whose iteration counts no tool would write quickly).
-- node = {tag = <first octet>, children = {node, ...}} for a constructed value,
-- {tag =, content = <bytes>} for a primitive one; an OCTET STRING whose content
-- is itself complete DER (PKCS#12 wraps its safes so) gets children and
-- wrapped = true. Definite lengths only; tags below 31 only (all PKCS#12 uses).
local M = {}

local parse_list

-- node, next = parse_one(s, i): the TLV at byte i of s.
local function parse_one(s, i)
  local tag = s:byte(i)
  if not tag or tag % 32 == 31 then return nil end
  local l = s:byte(i + 1)
  if not l or l == 128 then return nil end
  local start = i + 2
  if l > 128 then
    local n = l - 128
    if n > 4 then return nil end
    l = 0
    for k = 1, n do
      local b = s:byte(i + 1 + k)
      if not b then return nil end
      l = l * 256 + b
    end
    start = i + 2 + n
  end
  local stop = start + l - 1
  if stop > #s then return nil end
  local content = s:sub(start, stop)
  local node = { tag = tag }
  if math.floor(tag / 32) % 2 == 1 then
    node.children = parse_list(content)
    if not node.children then return nil end
  else
    node.content = content
    if tag == 4 and #content > 1 then
      local inner = parse_list(content)
      if inner and #inner > 0 and inner[1].children then
        node.children, node.wrapped, node.content = inner, true, nil
      end
    end
  end
  return node, stop + 1
end

-- list = parse_list(s): every TLV of s, nil unless they span s exactly.
function parse_list(s)
  local list, i = {}, 1
  while i <= #s do
    local node, nxt = parse_one(s, i)
    if not node then return nil end
    list[#list + 1] = node
    i = nxt
  end
  return list
end

local function encode_length(n)
  if n < 128 then return string.char(n) end
  local bytes = {}
  while n > 0 do
    table.insert(bytes, 1, string.char(n % 256))
    n = math.floor(n / 256)
  end
  return string.char(128 + #bytes) .. table.concat(bytes)
end

--- bytes = der.encode(node): the DER of a node (lengths computed again).
function M.encode(node)
  local content = node.content
  if node.children then
    local parts = {}
    for k, c in ipairs(node.children) do parts[k] = M.encode(c) end
    content = table.concat(parts)
  end
  return string.char(node.tag) .. encode_length(#content) .. content
end

--- node = der.parse(bytes): the tree of one DER value spanning bytes (raises if not).
function M.parse(s)
  local node, nxt = parse_one(s, 1)
  assert(node and nxt == #s + 1, "der.parse: not one DER value")
  return node
end

--- n = der.integer(node): the value of a small non-negative INTEGER node.
function M.integer(node)
  local v = 0
  for k = 1, #node.content do v = v * 256 + node.content:byte(k) end
  return v
end

--- der.set_integer(node, n): makes an INTEGER node hold n (0 <= n < 2^53).
function M.set_integer(node, n)
  local bytes = {}
  repeat
    table.insert(bytes, 1, n % 256)
    n = math.floor(n / 256)
  until n == 0
  if bytes[1] >= 128 then table.insert(bytes, 1, 0) end
  node.content = string.char((table.unpack or unpack)(bytes))
end

--- list = der.find_integers(node, value): every INTEGER node holding value, in encoding order.
function M.find_integers(node, value, list)
  list = list or {}
  if node.tag == 2 and node.content and M.integer(node) == value then list[#list + 1] = node end
  for _, c in ipairs(node.children or {}) do M.find_integers(c, value, list) end
  return list
end

return M
