-- luacheck configuration: code runs unchanged on Lua 5.4 and LuaJIT.
std = "max"
max_line_length = 120
files["spec/"] = { std = "+busted" }
files["bench/"] = { std = "max" }
exclude_files = { "spec/fixtures/out/", "build/" }
-- policy files run in clientcert's sandbox, which provides these globals
files["examples/policies/"] = { std = "min", read_globals = { "clientcert", "params", "list" } }
-- the OpenResty gate runs inside nginx, which provides ngx
files["lua/clientcert/nginx.lua"] = { globals = { "ngx" } }
files["examples/openresty/policy.lua"] = { std = "min", read_globals = { "clientcert", "params", "list" } }
files["examples/openresty/revocation/policy.lua"] = { std = "min", read_globals = { "clientcert", "params", "list" } }
