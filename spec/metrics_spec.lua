-- The OpenResty gate's counters (clientcert.metrics) with a stand-in for a
-- lua_shared_dict (incr with an initial value, get, get_keys), outside nginx.
-- The live side (2 workers, gate.metrics) is in spec/integration/nginx_spec.lua.

-- A stand-in for ngx.shared.DICT: what the metrics module uses of it.
local function fake_dict()
  local data = {}
  return {
    data = data,
    incr = function(_, key, by, init)
      if data[key] == nil then
        if init == nil then return nil, "not found" end
        data[key] = init
      end
      data[key] = data[key] + by
      return data[key]
    end,
    get = function(_, key) return data[key] end,
    safe_set = function(_, key, value) data[key] = value return true end,
    delete = function(_, key) data[key] = nil end,
    get_keys = function()
      local out = {}
      for k in pairs(data) do out[#out + 1] = k end
      return out
    end,
  }
end

describe("clientcert.metrics", function()
  local metrics, dict, saved_ngx

  before_each(function()
    saved_ngx = rawget(_G, "ngx")
    dict = fake_dict()
    _G.ngx = { shared = { m = dict }, log = function() end, ERR = 4 }
    package.loaded["clientcert.metrics"] = nil
    metrics = require "clientcert.metrics"
  end)

  after_each(function()
    _G.ngx = saved_ngx
    package.loaded["clientcert.metrics"] = nil
  end)

  it("writes HELP and TYPE for every metric, unlabelled counters and the histogram at 0", function()
    assert.is_true(metrics.use("m"))
    local text = metrics.render("m")
    for _, f in ipairs(metrics.FAMILIES) do
      assert.truthy(text:find("# HELP " .. f.name .. " ", 1, true), f.name)
      assert.truthy(text:find("# TYPE " .. f.name .. " " .. f.type .. "\n", 1, true), f.name)
    end
    assert.truthy(text:find("\nclientcert_reloads_total 0\n", 1, true), text)
    assert.truthy(text:find('\nclientcert_decision_seconds_bucket{le="+Inf"} 0\n', 1, true), text)
    assert.truthy(text:find("\nclientcert_decision_seconds_count 0\n", 1, true), text)
    assert.are.equal("\n", text:sub(-1))
  end)

  it("counts decisions by cause and status, and writes cumulative histogram buckets", function()
    assert.is_true(metrics.use("m"))
    metrics.incr("clientcert_decisions_total", { cause = "expired", status = "403.17" })
    metrics.incr("clientcert_decisions_total", { cause = "expired", status = "403.17" })
    metrics.incr("clientcert_decisions_total", { cause = "ok", status = "200" })
    metrics.observe("clientcert_decision_seconds", 0.00003)
    metrics.observe("clientcert_decision_seconds", 0.0003)
    metrics.observe("clientcert_decision_seconds", 7)
    local text = metrics.render("m")
    assert.truthy(text:find('\nclientcert_decisions_total{cause="expired",status="403.17"} 2\n', 1, true), text)
    assert.truthy(text:find('\nclientcert_decisions_total{cause="ok",status="200"} 1\n', 1, true), text)
    assert.truthy(text:find('\nclientcert_decision_seconds_bucket{le="0.00005"} 1\n', 1, true), text)
    assert.truthy(text:find('\nclientcert_decision_seconds_bucket{le="0.0005"} 2\n', 1, true), text)
    assert.truthy(text:find('\nclientcert_decision_seconds_bucket{le="1"} 2\n', 1, true), text)
    assert.truthy(text:find('\nclientcert_decision_seconds_bucket{le="+Inf"} 3\n', 1, true), text)
    assert.truthy(text:find("\nclientcert_decision_seconds_count 3\n", 1, true), text)
    assert.truthy(text:find("\nclientcert_decision_seconds_sum 7.00033\n", 1, true), text)
  end)

  it("bounds label values: an unknown cause or status is counted as other", function()
    assert.is_true(metrics.use("m"))
    for i = 1, 50 do
      metrics.incr("clientcert_decisions_total", { cause = "made_up_" .. i, status = "403." .. i + 100 })
    end
    metrics.incr("clientcert_decisions_total", { cause = 'a"b\\c\nd', status = "200" })
    metrics.incr("clientcert_decisions_total", { cause = "sni_mismatch", status = "421" })
    local n = 0
    for _ in pairs(dict.data) do n = n + 1 end
    assert.are.equal(3, n)
    assert.are.equal(50, dict.data['clientcert_decisions_total{cause="other",status="other"}'])
    assert.are.equal(1, dict.data['clientcert_decisions_total{cause="other",status="200"}'])
    assert.are.equal(1, dict.data['clientcert_decisions_total{cause="sni_mismatch",status="421"}'])
  end)

  it("accepts every catalogue cause with its own substatus", function()
    assert.is_true(metrics.use("m"))
    local causes = require "clientcert.causes"
    for _, id in ipairs(causes.list()) do
      local sub = causes.get(id).substatus
      metrics.incr("clientcert_decisions_total", { cause = id, status = sub })
      assert.are.equal(1, dict.data[('clientcert_decisions_total{cause="%s",status="%s"}'):format(id, sub)], id)
    end
  end)

  it("escapes label values as the text format wants", function()
    assert.are.equal('a\\"b\\\\c\\nd', metrics.escape('a"b\\c\nd'))
  end)

  it("raises for a metric name outside the catalogue", function()
    assert.has_error(function() metrics.incr("clientcert_made_up_total") end,
      "clientcert.metrics: no counter named 'clientcert_made_up_total'")
    assert.has_error(function() metrics.observe("clientcert_decisions_total", 1) end,
      "clientcert.metrics: no histogram named 'clientcert_decisions_total'")
  end)

  it("keeps counts made before use() and adds them to the dict then", function()
    metrics.incr("clientcert_reloads_total")
    metrics.incr("clientcert_reloads_total")
    assert.is_nil(dict.data.clientcert_reloads_total)
    assert.is_true(metrics.use("m"))
    assert.are.equal(2, dict.data.clientcert_reloads_total)
    metrics.incr("clientcert_reloads_total")
    assert.are.equal(3, dict.data.clientcert_reloads_total)
  end)

  it("returns nil, err for a dict nginx does not have", function()
    local ok, err = metrics.use("nope")
    assert.is_nil(ok)
    assert.are.equal("clientcert.metrics: no lua_shared_dict named 'nope'", err)
    assert.has_error(function() metrics.render("nope") end, "clientcert.metrics: no lua_shared_dict named 'nope'")
  end)

  -- In nginx (ngx.timer): counts batched per worker, written by a timer, and
  -- gate.metrics (settle) waits for every worker's batch.
  describe("batched per worker (with ngx.timer)", function()
    local timers, sleeps, now

    before_each(function()
      timers, sleeps, now = {}, 0, 1000
      _G.ngx.timer = { at = function(delay, f) timers[#timers + 1] = { delay = delay, f = f } return true end }
      _G.ngx.worker = { pid = function() return 4242 end }
      _G.ngx.now = function() return now end
      _G.ngx.sleep = function(s) sleeps = sleeps + 1 now = now + s end
      package.loaded["clientcert.metrics"] = nil
      metrics = require "clientcert.metrics"
    end)

    local function run_timers()
      local list = timers
      timers = {}
      for _, t in ipairs(list) do t.f(false) end
    end

    it("writes no dict entry per decision: the batch goes to the dict by one timer, FLUSH_DELAY later", function()
      assert.is_true(metrics.use("m"))
      for _ = 1, 5 do metrics.decided("ok", "200", 0.00002, true) end
      metrics.decided("expired", "403.17", 0.0003, false)
      metrics.incr("clientcert_reloads_total")
      assert.is_nil(dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
      assert.are.equal(1, dict.data["pending:4242"])      -- this worker has counts not yet written (batch 1)
      assert.are.equal(1, #timers)                          -- one timer per batch, not per count
      assert.are.equal(metrics.FLUSH_DELAY, timers[1].delay)
      run_timers()
      assert.are.equal(5, dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
      assert.are.equal(1, dict.data['clientcert_decisions_total{cause="expired",status="403.17"}'])
      assert.are.equal(5, dict.data['clientcert_decision_seconds_bucket{le="0.00005"}'])
      assert.are.equal(1, dict.data['clientcert_decision_seconds_bucket{le="0.0005"}'])
      assert.are.equal(5, dict.data.clientcert_cache_hits_total)
      assert.are.equal(1, dict.data.clientcert_cache_misses_total)
      assert.are.equal(1, dict.data.clientcert_reloads_total)
      assert.is_true(math.abs(dict.data.clientcert_decision_seconds_sum - 0.0004) < 1e-12)
      assert.is_nil(dict.data["pending:4242"])
      -- the next count opens a new batch
      metrics.decided("ok", "200", 0.00002)
      assert.are.equal(1, #timers)
      run_timers()
      assert.are.equal(6, dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
      assert.are.equal(5, dict.data.clientcert_cache_hits_total)
    end)

    it("renders the same counts as counting one by one", function()
      assert.is_true(metrics.use("m"))
      metrics.decided("expired", "403.17", 0.00003, false)
      metrics.decided("expired", "403.17", 0.0003, true)
      metrics.decided("ok", "200", 7)
      metrics.settle("m")
      local batched = metrics.render("m")
      local one_by_one = fake_dict()
      _G.ngx = { shared = { m = one_by_one }, log = function() end, ERR = 4 }
      package.loaded["clientcert.metrics"] = nil
      local direct = require "clientcert.metrics"
      assert.is_true(direct.use("m"))
      direct.decision("expired", "403.17") direct.observe("clientcert_decision_seconds", 0.00003)
      direct.incr("clientcert_cache_misses_total")
      direct.decision("expired", "403.17") direct.observe("clientcert_decision_seconds", 0.0003)
      direct.incr("clientcert_cache_hits_total")
      direct.decision("ok", "200") direct.observe("clientcert_decision_seconds", 7)
      assert.are.equal(direct.render("m"), batched)
    end)

    it("writes at once when no timer can be set", function()
      _G.ngx.timer.at = function() return nil, "too many pending timers" end
      assert.is_true(metrics.use("m"))
      metrics.decided("ok", "200", 0.00002, true)
      assert.are.equal(1, dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
      assert.is_nil(dict.data["pending:4242"])
    end)

    it("writes the batch when the timer runs early (the worker is exiting)", function()
      assert.is_true(metrics.use("m"))
      metrics.decided("ok", "200", 0.00002)
      timers[1].f(true)                                     -- premature
      assert.are.equal(1, dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
    end)

    it("settle: writes this worker's batch and waits while another worker has one (at most SETTLE_MAX)", function()
      assert.is_true(metrics.use("m"))
      metrics.decided("ok", "200", 0.00002)
      dict.data["pending:777"] = true                       -- another worker's batch, written after 3 sleeps
      _G.ngx.sleep = function(s)
        sleeps = sleeps + 1
        now = now + s
        if sleeps == 3 then
          dict.data["pending:777"] = nil
          dict.data['clientcert_decisions_total{cause="ok",status="200"}'] =
            dict.data['clientcert_decisions_total{cause="ok",status="200"}'] + 2
        end
      end
      metrics.settle("m")
      assert.are.equal(3, sleeps)
      assert.are.equal(3, dict.data['clientcert_decisions_total{cause="ok",status="200"}'])
      assert.is_nil(dict.data["pending:4242"])
      assert.falsy(metrics.render("m"):find("pending", 1, true))
      -- a busy worker opens its next batch as soon as it wrote one: settle waits for the
      -- batch open when it was called, not for one made after (else every scrape under
      -- load waited SETTLE_MAX)
      dict.data["pending:779"] = 41
      _G.ngx.sleep = function(s)
        sleeps = sleeps + 1
        now = now + s
        dict.data["pending:779"] = dict.data["pending:779"] + 1 -- written, and the next batch opened
      end
      sleeps = 0
      metrics.settle("m")
      assert.are.equal(1, sleeps)
      dict.data["pending:779"] = nil
      -- a mark that stays (a worker that died with a batch): settle gives up after SETTLE_MAX
      dict.data["pending:778"] = true
      _G.ngx.sleep = function(s) sleeps = sleeps + 1 now = now + s end
      local t0 = now
      metrics.settle("m")
      assert.truthy(now - t0 >= metrics.SETTLE_MAX and now - t0 < metrics.SETTLE_MAX + 0.1, now - t0)
    end)
  end)
end)
