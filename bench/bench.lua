-- make bench: clientcert's per-request cost against raw OpenSSL, as one table:
-- Lua 5.4 and LuaJIT, RSA-2048 and P-256 PKIs (bench/mkpki.sh), CPU time per
-- operation, medians of interleaved rounds. Each round runs, for each PKI, the raw
-- C baseline (bench/raw_openssl.c) and one worker process per Lua runtime; a row's
-- ratio is the median over the rounds of (row / its raw C row of the same round).
--
-- usage (the driver, run by make bench):
--   lua5.4 bench/bench.lua RSA_DIR EC_DIR RAW_BIN [ROUNDS [N]]
-- a worker (run by the driver with its runtime's module paths):
--   lua5.4|luajit bench/bench.lua --worker PKI_DIR N N_BIG
-- prints "<row> <seconds per op>" lines.
local T = 1906502400 -- 2030-06-01T00:00:00Z: every check of the bench is at this time

-- The rows of the table: id, label, reference row (ratio), target (text).
local ROWS = {
  { "raw", "raw C: PEM leaf + X509_verify_cert" },
  { "raw_crl", "raw C: the same with the 2 CRLs (whole chain)" },
  { "raw_100k", "raw C: the same with a 100,000-entry CRL" },
  { "floor", "raw C: the chain's 2 signature checks alone", "raw" },
  { "miss_pem", "check miss, PEM leaf", "raw", "<= 1.05x" },
  { "miss_decoded", "check miss, certificates already decoded", "raw", "<= 0.6x" },
  { "crl2", "check with 2 CRLs, crl = \"chain\"", "raw_crl", "<= 0.8x" },
  { "hit", "check hit (verdict cache), PEM leaf", "raw", "<= 0.02x" },
  { "hit_decoded", "check hit, certificates already decoded", "raw", "<= 0.02x" },
  { "crl100k", "check against a 100,000-entry CRL", "raw_100k", "<= 0.15x" },
  { "miss_floor", "check miss, PEM leaf / the floor", "floor" },
  { "accept150", "150 roots: accepted (leaf + intermediate, DER)" },
  { "untrusted150", "150 roots: untrusted_root, forged root's chain", "accept150", "<= 1.5x" },
  { "untrusted3", "150 roots: untrusted_root, own root sent too", "accept150", "<= 1.5x" },
  { "missing150", "150 roots: missing_intermediate, leaf only", "accept150", "<= 1.5x" },
}

-- The worker -----------------------------------------------------------------

local function worker(dir, n, n_big)
  local clientcert = require "clientcert"
  local read = require("bench.common").reader(dir)
  local function path(name) return dir .. "/" .. name end
  local function per_op(iterations, f)
    for _ = 1, 3 do f() end -- warm up
    local t0 = os.clock()
    for _ = 1, iterations do f() end
    return (os.clock() - t0) / iterations
  end

  local leaf_pem = read("alice.pem")
  local inter = clientcert.load(path("inter.pem"))
  local leaf = clientcert.load(path("alice.pem"))
  local store = assert(clientcert.store{ roots = path("root.pem") })
  local crl_store = assert(clientcert.store{ roots = path("root.pem"),
                                             crls = { path("root.crl"), path("inter.crl") } })
  local big_store = assert(clientcert.store{ roots = path("root.pem"),
                                             crls = { path("root.crl"), path("inter-100k.crl") } })
  local many = assert(clientcert.store{ roots = { path("root.pem"), path("pads.pem") } })
  assert(#many:roots() == 150, "the 150-root store")
  local plain = clientcert.policy{ trust = store, verify = { crl = "none" } }
  local cached = clientcert.policy{ trust = store, verify = { crl = "none" }, cache = { size = 1000 } }
  local crl_policy = clientcert.policy{ trust = crl_store, verify = { crl = "chain" } }
  local big_policy = clientcert.policy{ trust = big_store, verify = { crl = "chain" } }
  local many_policy = clientcert.policy{ trust = many, verify = { crl = "none" } }

  -- certificates already decoded: on LuaJIT, X509 objects decoded by the process's
  -- libcrypto through the FFI, adopted per check with core._from_x509_address (what
  -- the OpenResty gate does with nginx's); on Lua 5.4, certificate objects parsed once
  local decoded
  if jit then
    local core = require "clientcert.core"
    local ffi = require "ffi"
    pcall(ffi.cdef, [[
      void *d2i_X509(void **px, const unsigned char **in, long len);
      int X509_up_ref(void *x);
    ]])
    local ok, crypto = pcall(ffi.load, "libcrypto.so.3")
    if ok and core.x509_api_address() == tonumber(ffi.cast("uintptr_t", ffi.cast("void *", crypto.X509_up_ref))) then
      local function d2i(der)
        local buf = ffi.new("unsigned char[?]", #der)
        ffi.copy(buf, der, #der)
        local p = ffi.new("const unsigned char *[1]", buf)
        local x = crypto.d2i_X509(nil, p, #der)
        assert(x ~= nil)
        return tonumber(ffi.cast("uintptr_t", x)) -- never freed: "nginx" holds these
      end
      local leaf_x, inter_x = d2i(read("alice.der")), d2i(read("inter.der"))
      decoded = function()
        return core._from_x509_address(leaf_x), { core._from_x509_address(inter_x) }
      end
    end
  else
    decoded = function() return leaf, { inter } end
  end

  local leaf_der, inter_der = read("alice.der"), read("inter.der")
  local forger_der, forged_inter_der = read("forger.der"), read("forged-inter.der")
  local oscar_der, other_inter_der, other_root_der = read("oscar.der"), read("other-inter.der"), read("other-root.der")

  local function accepted(v) if not v.accepted then error("bench: rejected: " .. v.cause) end end
  local function cause(v, want) if v.cause ~= want then error("bench: " .. v.cause .. " for " .. want) end end
  local hit_n = n * 20
  cached:check{ cert = leaf_pem, chain = { inter }, time = T } -- fills the verdict cache for the hit rows
  local rows = {
    miss_pem = { n, function() accepted(plain:check{ cert = leaf_pem, chain = { inter }, time = T }) end },
    miss_decoded = decoded and { n, function()
      local c, chain = decoded()
      accepted(plain:check{ cert = c, chain = chain, time = T })
    end },
    crl2 = { n, function() accepted(crl_policy:check{ cert = leaf_pem, chain = { inter }, time = T }) end },
    hit = { hit_n, function()
      local v = cached:check{ cert = leaf_pem, chain = { inter }, time = T }
      if not v.cached then error("bench: not served from the cache") end
    end },
    hit_decoded = decoded and { hit_n, function()
      local c, chain = decoded()
      local v = cached:check{ cert = c, chain = chain, time = T }
      if not v.cached then error("bench: not served from the cache") end
    end },
    crl100k = { n_big, function() accepted(big_policy:check{ cert = leaf_pem, chain = { inter }, time = T }) end },
    accept150 = { n, function() accepted(many_policy:check{ cert = leaf_der, chain = { inter_der }, time = T }) end },
    -- the same two certificates sent as for the acceptance, under a forged root
    -- bearing the trusted root's name
    untrusted150 = { n, function()
      cause(many_policy:check{ cert = forger_der, chain = { forged_inter_der }, time = T }, "untrusted_root")
    end },
    untrusted3 = { n, function()
      cause(many_policy:check{ cert = oscar_der, chain = { other_inter_der, other_root_der }, time = T },
        "untrusted_root")
    end },
    missing150 = { n, function() cause(many_policy:check{ cert = oscar_der, time = T }, "missing_intermediate") end },
  }
  for _, r in ipairs(ROWS) do
    local row = rows[r[1]]
    if row then print(("%s %.9f"):format(r[1], per_op(row[1], row[2]))) end
  end
  print(("version %s"):format((jit and jit.version or _VERSION):gsub(" ", "_")))
end

-- The driver -----------------------------------------------------------------

local function median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local k = #t
  if k == 0 then return nil end
  if k % 2 == 1 then return t[(k + 1) / 2] end
  return (t[k / 2] + t[k / 2 + 1]) / 2
end

local function run(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do
    local k, v = line:match("^(%S+) (%S+)$")
    if k then out[k] = tonumber(v) or v end
  end
  local ok = p:close()
  if not ok then error("bench: failed: " .. cmd) end
  return out
end

local function driver(rsa_dir, ec_dir, raw_bin, rounds, n)
  local script = arg[0]
  local runtimes = {
    { id = "lua54", label = "Lua 5.4", cmd = "LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' "
      .. "LUA_CPATH='./build/lua5.4/?.so;;' lua5.4" },
    { id = "jit", label = "LuaJIT", cmd = "LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' "
      .. "LUA_CPATH='./build/luajit/?.so;;' luajit" },
  }
  local pkis = { { id = "rsa", label = "RSA-2048", dir = rsa_dir }, { id = "ec", label = "P-256", dir = ec_dir } }
  local n_big = math.max(2, math.floor(n / 100))
  -- samples[pki][runtime][row] = {seconds, ...}; ratios likewise (per round)
  local samples, ratios, versions = {}, {}, {}
  for _, p in ipairs(pkis) do
    samples[p.id], ratios[p.id] = {}, {}
    for _, rt in ipairs(runtimes) do samples[p.id][rt.id], ratios[p.id][rt.id] = {}, {} end
  end
  local t_start = os.time()
  for round = 1, rounds do
    io.stderr:write(("bench: round %d of %d\n"):format(round, rounds))
    for _, p in ipairs(pkis) do
      local raw = run(("%s %s %d %d %d"):format(raw_bin, p.dir, n, n_big, T))
      for _, rt in ipairs(runtimes) do
        local got = run(("%s %s --worker %s %d %d"):format(rt.cmd, script, p.dir, n, n_big))
        versions[rt.id] = got.version
        for k, v in pairs(raw) do got[k] = v end
        got.miss_floor = got.miss_pem -- shown against the floor
        for _, r in ipairs(ROWS) do
          local id, ref = r[1], r[3]
          local v = got[id]
          if type(v) == "number" then
            local s = samples[p.id][rt.id]
            s[id] = s[id] or {}
            s[id][#s[id] + 1] = v
            if ref and type(got[ref]) == "number" then
              local q = ratios[p.id][rt.id]
              q[id] = q[id] or {}
              q[id][#q[id] + 1] = v / got[ref]
            end
          end
        end
      end
    end
  end

  local clientcert = require "clientcert"
  local function fmt_time(s)
    if not s then return "n/a" end
    if s >= 1e-3 then return ("%.2fms"):format(s * 1e3) end
    return ("%.1fus"):format(s * 1e6)
  end
  print(("clientcert bench: %s; Lua 5.4 (%s) and LuaJIT (%s); %d interleaved rounds, medians of CPU time"
    .. " per operation; ratio = median over rounds of row / its reference row (in brackets) of the same round")
    :format(clientcert.openssl_version, tostring(versions.lua54), tostring(versions.jit), rounds))
  local head = ("%-58s %-9s"):format("", "")
  local sub = ("%-58s %-9s"):format("row [reference row]", "target")
  for _, p in ipairs(pkis) do
    for _, rt in ipairs(runtimes) do
      head = head .. ("| %-17s"):format(p.label)
      sub = sub .. ("| %-17s"):format(rt.label)
    end
  end
  print(head)
  print(sub)
  for _, r in ipairs(ROWS) do
    local id, label, ref, target = r[1], r[2], r[3], r[4]
    local line = ("%-58s %-9s"):format(label .. (ref and (" [" .. ref .. "]") or ""), target or "")
    for _, p in ipairs(pkis) do
      for _, rt in ipairs(runtimes) do
        local t = median(samples[p.id][rt.id][id] or {})
        local q = ref and median(ratios[p.id][rt.id][id] or {})
        local cell = id == "miss_floor" and "" or fmt_time(t)
        if q then cell = cell .. (" %.3fx"):format(q) end
        line = line .. ("| %-17s"):format(cell)
      end
    end
    print(line)
  end
  print(("(%d s; N = %d per row per round, %d for the 100,000-entry CRL, %d for hits;"
    .. " miss_decoded on LuaJIT adopts FFI-decoded X509s with core._from_x509_address per check,"
    .. " on Lua 5.4 reuses certificate objects parsed once)"):format(os.time() - t_start, n, n_big, n * 20))
end

if arg[1] == "--worker" then
  worker(arg[2], tonumber(arg[3]), tonumber(arg[4]))
else
  local rsa_dir, ec_dir, raw_bin = arg[1], arg[2], arg[3]
  if not (rsa_dir and ec_dir and raw_bin) then
    io.stderr:write("usage: lua5.4 bench/bench.lua RSA_DIR EC_DIR RAW_BIN [ROUNDS [N]]\n")
    os.exit(2)
  end
  driver(rsa_dir, ec_dir, raw_bin, tonumber(arg[4] or "7"), tonumber(arg[5] or "300"))
end
