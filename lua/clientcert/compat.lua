--- clientcert.compat: the one place where clientcert's Lua code tells Lua 5.4 from
-- LuaJIT / Lua 5.1 (internal module; csrc/compat.h is its C counterpart). Every
-- other module reads as plain Lua that runs unchanged on both.
local M = {}

--- ... = compat.unpack(t[, i[, j]]): table.unpack (5.4) or unpack (LuaJIT / 5.1).
M.unpack = table.unpack or unpack -- luacheck: ignore 143

--- n = compat.tointeger(n): a number with an integral value as an integer on
-- 5.4 (math.tointeger), so that it prints without ".0"; LuaJIT's numbers are
-- doubles, returned as they are. Anything else is returned unchanged.
local tointeger = math.tointeger
if tointeger then
  function M.tointeger(n) return tointeger(n) or n end
else
  function M.tointeger(n) return n end
end

--- t = compat.math_type(x): math.type on 5.4 ("integer", "float", or nil for a
-- non-number); nil on LuaJIT / 5.1, whose numbers have one type.
M.math_type = math.type or function() return nil end

--- chunk, err = compat.load(src, name, env): a text chunk (never bytecode) bound
-- to the environment env: load with an env on 5.4, loadstring + setfenv on
-- LuaJIT / 5.1 (whose load takes no env).
if setfenv and loadstring then -- luacheck: ignore 113
  function M.load(src, name, env)
    if src:byte(1) == 27 then return nil, "attempt to load a binary chunk" end
    local chunk, err = loadstring(src, name) -- luacheck: ignore 113
    if chunk then setfenv(chunk, env) end -- luacheck: ignore 113
    return chunk, err
  end
else
  function M.load(src, name, env)
    return load(src, name, "t", env)
  end
end

--- compat.jit_off(f): on LuaJIT, keeps f and every function it defines out of
-- the JIT compiler (jit.off(f, true)), so that debug hooks fire in them; nothing
-- on 5.4. Never raises (a C function cannot be switched off).
local jit_ = rawget(_G, "jit")
if jit_ and jit_.off then
  local off = jit_.off
  function M.jit_off(f) pcall(off, f, true) end
else
  function M.jit_off() end
end

return M
