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
end)
