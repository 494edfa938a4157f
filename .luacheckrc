-- luacheck configuration: code runs unchanged on Lua 5.4 and LuaJIT.
std = "max"
max_line_length = 120
files["spec/"] = { std = "+busted" }
files["bench/"] = { std = "max" }
exclude_files = { "spec/fixtures/out/", "build/" }
