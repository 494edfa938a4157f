-- The verdict cache's memory: every cached client costs at most 2 KB of Lua heap
-- (its entry, the verdict message and JSON parts made for it, the key; the
-- certificate objects are the caller's). 2,000 distinct clients of one CA
-- (spec/fixtures/many_clients.py, python3 + cryptography), each checked twice
-- (a miss that fills the entry, a hit) with the gate's JSON parts and line, as
-- the OpenResty gate does; the heap is measured after full collections.
local clientcert = require "clientcert"
local verdict_cache = require "clientcert.verdict_cache"
local text = require "clientcert.text"

local CLIENTS, MAX_KB = 2000, 2
local T = 1906502400 -- 2030-06-01: inside every certificate's dates

local function run(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

describe("the verdict cache's memory", function()
  local dir, leaves, inter, root

  setup(function()
    if not run("env -u LD_PRELOAD python3 -c 'import cryptography' >/dev/null 2>&1") then return end
    dir = os.tmpname()
    os.remove(dir)
    assert(run(("env -u LD_PRELOAD python3 spec/fixtures/many_clients.py '%s' %d"):format(dir, CLIENTS)))
    local function read(name)
      local f = assert(io.open(dir .. "/" .. name, "rb"))
      local s = f:read("*a")
      f:close()
      return s
    end
    leaves = assert(clientcert.parse_all(read("leaves.pem")))
    inter = assert(clientcert.parse(read("inter.pem")))
    root = read("root.pem")
  end)

  teardown(function()
    if dir then run("rm -rf '" .. dir .. "'") end
  end)

  it("holds each cached client in at most 2 KB of Lua heap", function()
    if not leaves then return pending("python3 with the cryptography package is needed") end
    assert.are.equal(CLIENTS, #leaves)
    local p = clientcert.policy{ trust = assert(clientcert.store{ roots = root }), cache = { size = 10000 },
                                 verify = { crl = "none", purpose = "client" },
                                 rule = function(info) return info.subject ~= "CN=nobody" end }
    local function serve(c)
      local v = p:check{ cert = c, chain = { inter }, time = T }
      assert.is_true(v.accepted, v.cause)
      text.verdict_json(v, verdict_cache.json_parts(v))
    end
    for i = 1, 20 do serve(leaves[i]) serve(leaves[i]) end  -- the shapes' constructors, the shared parts
    collectgarbage() collectgarbage()
    local before = collectgarbage("count")
    for i = 21, CLIENTS do serve(leaves[i]) serve(leaves[i]) end
    collectgarbage() collectgarbage()
    local per = (collectgarbage("count") - before) / (CLIENTS - 20)
    local info = p:cache_info()
    assert.are.equal(CLIENTS, info.count)
    assert.are.equal(CLIENTS, info.hits)
    print(("# %.2f KB of Lua heap per cached client (%s)"):format(per, _VERSION))
    assert.is_true(per <= MAX_KB, ("%.2f KB of Lua heap per cached client"):format(per))
  end)
end)
