-- Throughput of `clientcert scan` (files per second, CPU time of the whole command:
-- walk, bounded reads, parse, verify, summary) against bench/raw_scan.c doing the
-- same walk, reads, parses and verifications with plain OpenSSL, on the same tree,
-- in the same run (medians of interleaved rounds; the ratio is what to watch).
-- usage: make bench   (or: lua5.4|luajit bench/scan.lua PKI_DIR RAW_SCAN_BIN [FILES])
-- PKI_DIR is spec/fixtures/mkpki.sh's output (made there when it has no alice.pem);
-- the tree of FILES files (default 5000) is written beside it.
local cli = require "clientcert.cli"

local dir, raw_bin, nfiles = arg[1], arg[2], tonumber(arg[3] or "5000")
local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end
if not exists(dir .. "/alice.pem") then
  assert(os.execute("bash spec/fixtures/mkpki.sh '" .. dir .. "' > /dev/null"))
end
local T = "1906502400"
local ROUNDS = 3

local read = require("bench.common").reader(dir)

-- the tree: nfiles files, 250 per directory, a mix of what a certificate share holds
local tree = dir .. "/scan-bench-" .. nfiles
local kinds = {
  { "pem", read("alice.pem") },                                       -- accepted
  { "der", read("alice.der") },                                       -- accepted, DER
  { "pem", read("bob.pem") },                                         -- accepted, RSA
  { "pem", read("chain-alice.pem") },                                 -- a bundle with its chain
  { "pem", read("old.pem") },                                         -- expired
  { "pem", read("oscar.pem") },                                       -- untrusted
  { "pem", read("scan/team-b/longleaf-bundle.pem") },                 -- 4 intermediates in the file
  { "txt", "not a certificate\n" },                                   -- garbage
}
if not exists(tree .. ".done") then
  assert(os.execute("rm -rf '" .. tree .. "' && mkdir -p '" .. tree .. "'"))
  for d = 0, math.ceil(nfiles / 250) - 1 do assert(os.execute(("mkdir -p '%s/d%03d'"):format(tree, d))) end
  for i = 0, nfiles - 1 do
    local k = kinds[i % #kinds + 1]
    local f = assert(io.open(("%s/d%03d/f%05d.%s"):format(tree, math.floor(i / 250), i, k[1]), "wb"))
    f:write(k[2])
    f:close()
  end
  io.open(tree .. ".done", "wb"):close()
end

local sink = { write = function(self) return self end, flush = function(self) return self end }

local function lua_scan()
  local t0 = os.clock()
  local code = cli.main({ "scan", tree, "--roots", dir .. "/root.pem", "--intermediates", dir .. "/inter.pem",
                          "--time", T }, sink, sink)
  local dt = os.clock() - t0
  assert(code == 1, "scan exit " .. tostring(code))   -- the tree holds rejections and garbage
  return dt
end

local function raw_scan()
  local p = assert(io.popen(("%s %s/root.pem %s/inter.pem %s %s"):format(raw_bin, dir, dir, tree, T)))
  local s = p:read("*a")
  p:close()
  local files, certs, cpu = s:match("files (%d+) certificates (%d+) ok %d+ cpu ([%d%.]+)")
  assert(tonumber(files) == nfiles, "raw_scan: " .. s)
  return tonumber(cpu), tonumber(certs)
end

local function median(t)
  table.sort(t)
  return t[math.floor((#t + 1) / 2)]
end

lua_scan() -- warm up (page cache, JIT)
local lua_t, raw_t = {}, {}
for _ = 1, ROUNDS do
  raw_t[#raw_t + 1] = raw_scan()
  lua_t[#lua_t + 1] = lua_scan()
end
local lt, rt = median(lua_t), median(raw_t)
local runtime = jit and jit.version or _VERSION
print(("scan (%s): %d files, clientcert scan %.0f files/s, raw C parse+verify %.0f files/s, ratio %.2fx "
  .. "(target >= 0.8x)"):format(runtime, nfiles, nfiles / lt, nfiles / rt, rt / lt))
