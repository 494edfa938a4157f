--- clientcert.metrics: the OpenResty gate's counters, kept in one lua_shared_dict
-- (ngx.shared dict incr with an initial value: atomic across nginx workers), and
-- their Prometheus text exposition (format 0.0.4). Internal module: the gate
-- (clientcert.nginx) counts decisions, cache and resumption, and reloads.
--
--   metrics.use(dict_name)              -- this worker counts into that dict
--   metrics.incr(name[, labels[, by]])  -- a counter of the catalogue below
--   metrics.observe(name, value)        -- a histogram of the catalogue below
--   text = metrics.render(dict_name)    -- every worker's counts, Prometheus text
--
--   metrics.settle(dict_name)           -- before reading: every worker's counts written
--
-- Label cardinality is bounded: metric names are a closed catalogue (an unknown
-- name raises), a cause label is a catalogue cause id (clientcert.causes) or a
-- gate cause, a status one of their statuses; anything else is counted as
-- "other". Before use() (or with no dict) counts wait in the worker and are
-- added at use(). In nginx, counts are batched per worker: added up in the
-- worker and written to the dict (one incr per series) by a timer at most
-- FLUSH_DELAY seconds after the first count of a batch, so that a request costs
-- no dict operation; a worker with a batch not yet written says so in the dict
-- ("pending:<pid>", with a TTL), and settle() waits for those (see there).
-- Without ngx.timer (outside nginx) each count is written at once.
-- Not done here: per-client or per-file labels (unbounded).
local causes = require "clientcert.causes"

local M = {}

-- Causes the gate itself answers (not a policy verdict), with their statuses.
M.GATE_CAUSES = { sni_mismatch = "421" }

-- The histogram's upper bounds, seconds (a verdict-cache hit takes tens of
-- microseconds, a full verification with CRLs milliseconds).
M.BUCKETS = { "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
              "0.05", "0.1", "0.25", "1" }

-- The catalogue: name, type, help, labels (in output order).
local FAMILIES = {
  { name = "clientcert_decisions_total", type = "counter", labels = { "cause", "status" },
    help = "Decisions of the gate by cause id and status (403.x substatus, 200, 421, 500)." },
  { name = "clientcert_decision_seconds", type = "histogram",
    help = "Time the gate took to decide a request (reading the certificates, the policy, the verification)." },
  { name = "clientcert_cache_hits_total", type = "counter",
    help = "Decisions served from the policy's verdict cache." },
  { name = "clientcert_cache_misses_total", type = "counter",
    help = "Decisions on a certificate that the verdict cache did not hold." },
  { name = "clientcert_reloads_total", type = "counter",
    help = "Policies loaded again because one of their files changed." },
  { name = "clientcert_reload_failures_total", type = "counter",
    help = "Reloads that failed (the previous policy kept serving)." },
  { name = "clientcert_resumption_chain_hits_total", type = "counter",
    help = "Resumed TLS sessions whose chain the gate knew." },
  { name = "clientcert_resumption_chain_misses_total", type = "counter",
    help = "Resumed TLS sessions whose chain the gate did not know." },
}
local FAMILY = {}
for _, f in ipairs(FAMILIES) do FAMILY[f.name] = f end

-- The closed sets of label values.
local ALLOWED = { cause = {}, status = { ["200"] = true, ["421"] = true, ["500"] = true } }
for _, id in ipairs(causes.list()) do
  ALLOWED.cause[id] = true
  local c = causes.get(id)
  if c and c.substatus then ALLOWED.status[c.substatus] = true end
end
for id, status in pairs(M.GATE_CAUSES) do
  ALLOWED.cause[id] = true
  ALLOWED.status[status] = true
end

--- s = metrics.escape(value): a label value as Prometheus's text format writes it
-- (backslash, double quote and newline escaped).
function M.escape(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- The dict key of a series: its exposition name with labels, memoised by the
-- label values (nested tables: no string built on the hot path).
local keys = {}
local function series_key(name, labels)
  local f = FAMILY[name]
  if not f or f.type ~= "counter" then
    error(("clientcert.metrics: no counter named '%s'"):format(tostring(name)), 3)
  end
  local names = f.labels
  if not names then return name end
  local node = keys[name]
  if not node then node = {} keys[name] = node end
  for i = 1, #names do
    local v = labels and labels[names[i]]
    v = v ~= nil and tostring(v) or "other"
    if not ALLOWED[names[i]][v] then v = "other" end
    local nxt = node[v]
    if not nxt then nxt = {} node[v] = nxt end
    node = nxt
  end
  local key = node[0]
  if not key then
    local kv = {}
    for i, l in ipairs(names) do
      local v = labels and labels[l]
      v = v ~= nil and tostring(v) or "other"
      kv[i] = ('%s="%s"'):format(l, M.escape(ALLOWED[l][v] and v or "other"))
    end
    key = name .. "{" .. table.concat(kv, ",") .. "}"
    node[0] = key
  end
  return key
end

local ngx = rawget(_G, "ngx")
local dict, dict_name       -- this worker's dict (metrics.use)
local pending = {}          -- counts before use(), by key
local warned = false

--- Seconds between a batch's first count and its writing to the dict (at most;
-- later if the worker is busy); settle() waits at most SETTLE_MAX for the other
-- workers' batches, and a worker's "pending:<pid>" mark expires after as long
-- (a worker that died with a batch).
M.FLUSH_DELAY = 0.1
M.SETTLE_MAX = 1
M.PENDING_PREFIX = "pending:"

local function write(key, by)
  local ok, err = dict:incr(key, by, 0)
  if not ok and not warned and ngx then
    warned = true  -- once per worker: the dict is too small or not a lua_shared_dict
    ngx.log(ngx.ERR, "clientcert: cannot count ", key, " in lua_shared_dict '", dict_name, "': ", err)
  end
end

-- This worker's batch: counts not yet in the dict, by key; batched: whether a
-- batch is open (marked in the dict, its timer set); mark: this worker's key;
-- batch_no: the number of this worker's last batch (the mark's value: settle
-- tells the batch it waits for from a later one).
local batch, batched, mark, batch_no = {}, false, nil, 0

--- metrics.flush(): writes this worker's batch to the dict now.
function M.flush()
  if not batched then return end
  -- (no yield from here to the end: a count made meanwhile cannot be lost)
  local b = batch
  batch, batched = {}, false
  for key, by in pairs(b) do write(key, by) end
  dict:delete(mark)
end

local function flush_timer() M.flush() end -- also when premature: the worker is exiting

-- Opens a batch: marks this worker in the dict and sets the timer that writes it
-- (written at once when no timer can be set).
local function open_batch()
  batched = true
  mark = M.PENDING_PREFIX .. tostring(ngx.worker and ngx.worker.pid() or 0)
  batch_no = batch_no + 1
  dict:safe_set(mark, batch_no, M.SETTLE_MAX) -- (never evicts a count; unmarked, settle does not wait)
  local ok, timer = pcall(ngx.timer.at, M.FLUSH_DELAY, flush_timer)
  if not (ok and timer) then M.flush() end
end

local timers = ngx and ngx.timer and ngx.timer.at and true or false

local function add(key, by)
  if not dict then
    pending[key] = (pending[key] or 0) + by
    return
  end
  if not timers then return write(key, by) end
  batch[key] = (batch[key] or 0) + by
  if not batched then open_batch() end
end

--- ok, err = metrics.use(dict_name): this worker counts into that lua_shared_dict
-- from now on (the counts made before are added to it). nil, err when nginx has
-- no such dict.
function M.use(name)
  if name == dict_name and dict then return true end
  local d = ngx and ngx.shared and ngx.shared[name]
  if not d then return nil, ("clientcert.metrics: no lua_shared_dict named '%s'"):format(tostring(name)) end
  if dict then M.flush() end  -- (the counts so far belong to the previous dict)
  dict, dict_name = d, name
  local was = pending
  pending = {}
  for key, by in pairs(was) do add(key, by) end
  return true
end

--- metrics.settle(dict_name): before reading the dict (gate.metrics, in a request):
-- writes this worker's batch, then waits (ngx.sleep) while a batch another worker
-- had open at the call is not yet written, at most SETTLE_MAX seconds (a batch
-- opened later is not waited for: a busy worker always has one). Then every
-- decision made before the call is in the dict. Outside nginx (no ngx.sleep):
-- writes only.
function M.settle(name)
  if dict and name == dict_name then M.flush() end
  local d = ngx and ngx.shared and ngx.shared[name]
  if not (d and ngx.sleep and ngx.now) then return end
  local prefix, n = M.PENDING_PREFIX, #M.PENDING_PREFIX
  local open = {} -- mark -> the number of the batch open at the call
  for _, key in ipairs(d:get_keys(0)) do
    if key:sub(1, n) == prefix then open[key] = d:get(key) end
  end
  local deadline = ngx.now() + M.SETTLE_MAX
  while true do
    local waiting = false
    for key, no in pairs(open) do
      if d:get(key) == no then waiting = true else open[key] = nil end
    end
    if not waiting or ngx.now() >= deadline then return end
    if not pcall(ngx.sleep, 0.005) then return end -- (a phase that cannot sleep: read what is there)
  end
end

--- name = metrics.current(): the dict this worker counts into, or nil.
function M.current() return dict and dict_name or nil end

--- metrics.incr(name[, labels[, by]]): adds by (default 1) to a counter of the
-- catalogue (an unknown name raises); labels: {cause =, status =} for
-- clientcert_decisions_total.
function M.incr(name, labels, by)
  add(series_key(name, labels), by or 1)
end

-- The decision counter's keys by cause and status, for label values of the
-- closed sets (so bounded by the catalogue): no labels table per decision.
local decision_keys = {}

--- metrics.decision(cause, status): metrics.incr("clientcert_decisions_total",
-- {cause = cause, status = status}), without building the labels.
function M.decision(cause, status)
  local row = decision_keys[cause]
  local key = row and row[status]
  if not key then
    key = series_key("clientcert_decisions_total", { cause = cause, status = status })
    if ALLOWED.cause[cause] and ALLOWED.status[status] then
      if not row then row = {} decision_keys[cause] = row end
      row[status] = key
    end
  end
  add(key, 1)
end

local BUCKET_KEYS = {}
for i, le in ipairs(M.BUCKETS) do
  BUCKET_KEYS[i] = ('clientcert_decision_seconds_bucket{le="%s"}'):format(le)
end
local INF_KEY = 'clientcert_decision_seconds_bucket{le="+Inf"}'
-- The bucket key of a value: one comparison per bucket, straight-line (made once
-- from BUCKETS), not a loop, so that LuaJIT compiles it into the request's trace.
local bucket_key
do
  local src = { "local K, INF = ... return function(v)" }
  for i, le in ipairs(M.BUCKETS) do
    src[#src + 1] = ("if v <= %s then return K[%d] end"):format(le, i)
  end
  src[#src + 1] = "return INF end"
  bucket_key = assert(load(table.concat(src, "\n"), "=clientcert.metrics.buckets"))(BUCKET_KEYS, INF_KEY)
end
local SUM_KEY = {} -- histogram name -> its _sum series
for _, f in ipairs(FAMILIES) do if f.type == "histogram" then SUM_KEY[f.name] = f.name .. "_sum" end end

--- metrics.observe(name, seconds): one observation of a histogram of the
-- catalogue (clientcert_decision_seconds). Each bucket is stored on its own and
-- summed up when rendered: two dict operations per observation.
function M.observe(name, value)
  local f = FAMILY[name]
  if not f or f.type ~= "histogram" then
    error(("clientcert.metrics: no histogram named '%s'"):format(tostring(name)), 2)
  end
  add(bucket_key(value), 1)
  add(SUM_KEY[name], value)
end

local DECISION_SUM = SUM_KEY.clientcert_decision_seconds
local CACHE_KEY = { [true] = "clientcert_cache_hits_total", [false] = "clientcert_cache_misses_total" }

--- metrics.decided(cause, status, seconds[, cached]): one decision of the gate:
-- metrics.decision(cause, status), metrics.observe("clientcert_decision_seconds",
-- seconds) and, when cached is a boolean, a verdict-cache hit (true) or miss
-- (false). In one call and, while a batch is open, without a dict operation: the
-- request path's few table updates.
function M.decided(cause, status, seconds, cached)
  if not (dict and timers) then
    M.decision(cause, status)
    M.observe("clientcert_decision_seconds", seconds)
    if cached ~= nil then add(CACHE_KEY[cached], 1) end
    return
  end
  local row = decision_keys[cause]
  local key = row and row[status]
  if not key then return M.decided_slow(cause, status, seconds, cached) end
  local b = batch
  b[key] = (b[key] or 0) + 1
  key = bucket_key(seconds)
  b[key] = (b[key] or 0) + 1
  b[DECISION_SUM] = (b[DECISION_SUM] or 0) + seconds
  if cached ~= nil then
    key = CACHE_KEY[cached]
    b[key] = (b[key] or 0) + 1
  end
  if not batched then open_batch() end
end

-- (a cause and status not counted before in this worker)
function M.decided_slow(cause, status, seconds, cached)
  M.decision(cause, status)
  M.observe("clientcert_decision_seconds", seconds)
  if cached ~= nil then add(CACHE_KEY[cached], 1) end
end

-- A number as Prometheus's text format writes it.
local function num(v)
  if v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  return ("%.15g"):format(v)
end

--- text = metrics.render(dict_or_name): the Prometheus text exposition of the
-- counts in that dict (every worker's): HELP and TYPE for each metric of the
-- catalogue, counters without labels and the histogram written even at 0.
-- dict_or_name: a lua_shared_dict's name, or any table with get and get_keys.
function M.render(d)
  if type(d) == "string" then
    local name = d
    d = ngx and ngx.shared and ngx.shared[name]
    if not d then error(("clientcert.metrics: no lua_shared_dict named '%s'"):format(name), 2) end
  end
  local by_family = {}
  for _, key in ipairs(d:get_keys(0)) do
    local base = key:match("^([%w_]+)")
    if base then
      by_family[base] = by_family[base] or {}
      by_family[base][#by_family[base] + 1] = key
    end
  end
  local out = {}
  for _, f in ipairs(FAMILIES) do
    out[#out + 1] = ("# HELP %s %s"):format(f.name, f.help)
    out[#out + 1] = ("# TYPE %s %s"):format(f.name, f.type)
    if f.type == "histogram" then
      local total = 0
      for i, key in ipairs(BUCKET_KEYS) do
        total = total + (d:get(key) or 0)
        out[#out + 1] = ("%s_bucket{le=\"%s\"} %s"):format(f.name, M.BUCKETS[i], num(total))
      end
      total = total + (d:get(INF_KEY) or 0)
      out[#out + 1] = ("%s_bucket{le=\"+Inf\"} %s"):format(f.name, num(total))
      out[#out + 1] = ("%s_sum %s"):format(f.name, num(d:get(f.name .. "_sum") or 0))
      out[#out + 1] = ("%s_count %s"):format(f.name, num(total))
    elseif not f.labels then
      out[#out + 1] = ("%s %s"):format(f.name, num(d:get(f.name) or 0))
    else
      local list = by_family[f.name] or {}
      table.sort(list)
      for _, key in ipairs(list) do
        local v = d:get(key)
        if v then out[#out + 1] = ("%s %s"):format(key, num(v)) end
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

M.FAMILIES = FAMILIES

return M
