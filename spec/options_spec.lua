-- clientcert.options: one schema for the verification options, so that
-- store:verify (per call), policy{verify = ...} and the CLI judge a value alike.
local clientcert = require "clientcert"
local options = require "clientcert.options"
local pki = require "spec.helpers.pki"

describe("clientcert.options (one verify schema)", function()
  local store, leaf
  setup(function()
    store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
    leaf = assert(clientcert.load(pki.path("alice.pem")))
  end)

  local function verify_err(o)
    local copy = { time = pki.T }
    for k, v in pairs(o) do copy[k] = v end
    local ok, err = pcall(store.verify, store, leaf, copy)
    assert.is_false(ok)
    return (tostring(err):gsub("^.-clientcert%.store%.verify: ", ""))
  end
  local function policy_err(o)
    local ok, err = pcall(clientcert.policy, { trust = store, verify = o })
    assert.is_false(ok)
    return (tostring(err):gsub("^.-clientcert%.policy: ", ""))
  end

  it("gives store:verify and a policy the same message for the same bad value", function()
    for _, o in ipairs({ { crl = "all" }, { crl_missing = "alow" }, { purpose = 1 }, { partial_chain = 1 },
                         { max_depth = -1 }, { auth_level = 6 }, { flags = { "x509_strikt" } },
                         { flags = "x509_strict" }, { policies = { "1.2." } }, { check_time = "no" } }) do
      local v, p = verify_err(o), policy_err(o)
      assert.equals(v, (p:gsub("^verify%.", "")), next(o))
    end
  end)

  it("refuses a single flag name where a list is wanted, in both (store:verify took it before)", function()
    assert.matches("flags must be a list", verify_err{ flags = "x509_strict" }, 1, true)
    assert.matches("verify.flags must be a list", policy_err{ flags = "x509_strict" }, 1, true)
  end)

  it("keeps per-call options out of a policy", function()
    assert.matches("unknown verify option 'time'", policy_err{ time = 1 }, 1, true)
    assert.matches("unknown verify option 'certs'", policy_err{ certs = true }, 1, true)
    assert.matches("unknown option 'bogus'", verify_err{ bogus = 1 }, 1, true)
  end)

  it("lists every flag store:verify takes, and gives the CLI its choices", function()
    for _, f in ipairs(options.FLAGS) do
      assert.is_table(store:verify(leaf, { time = pki.T, flags = { f } }), f)
    end
    assert.same({ "client", "server", "any" }, options.values("purpose"))
    assert.same({ "none", "leaf", "chain" }, options.values("crl"))
  end)
end)

-- The option tables a host gives clientcert.policy and clientcert.store are read
-- with raw access, as store:verify's are: no metamethod of theirs runs (one that
-- raised escaped as its own error, and one that looped hung the caller).
describe("host option tables: read raw, no metamethod runs", function()
  local store, ran
  setup(function()
    store = assert(clientcert.store{ roots = pki.path("root.pem"), intermediates = pki.path("inter.pem") })
  end)
  before_each(function() ran = {} end)

  -- t with a metatable whose metamethods note that they ran, then raise
  local function trap(t)
    local function hit(name)
      return function(_, k)
        ran[#ran + 1] = name .. " " .. tostring(k)
        error("a metamethod ran", 0)
      end
    end
    return setmetatable(t, { __index = hit("__index"), __pairs = hit("__pairs"), __len = hit("__len"),
                             __newindex = hit("__newindex") })
  end

  local function build_err(opts)
    local p, err = require("clientcert.policy").build(opts)
    assert.is_nil(p)
    local ok, raised = pcall(clientcert.policy, opts)
    assert.is_false(ok)
    assert.equals("clientcert.policy: " .. err, (tostring(raised):gsub("^[^\n]-:%d+: ", "")))
    return err
  end

  it("clientcert.policy: the tables' own contents, as plain tables give them", function()
    local p = clientcert.policy(trap{ trust = store, name = "trapped",
      allow = trap{ trap{ fingerprint = "AA:bb" }, trap{ subject_cn = "alice", san_dns_pattern = "%.test$" } },
      cache = trap{ size = 10 }, verify = trap{ crl = "none", flags = trap{ "x509_strict" } },
      revocation = trap{ sources = trap{ "crl" }, urls = trap{ "http://pki.test/" }, issuers = true,
                         unavailable = "accept" } })
    assert.same({}, ran)
    assert.equals("clientcert.policy (trapped)", tostring(p))
    assert.same({ { fingerprint = "AA:bb" }, { subject_cn = "alice", san_dns_pattern = "%.test$" } }, p.allow)
    assert.same({ crl = "none", flags = { "x509_strict" } }, p.verify)
    assert.equals(10, p:cache_info().size)
    assert.equals("require", p.mode)
    local v = p:check{ cert = pki.read("alice.pem"), chain = { pki.read("inter.pem") }, time = pki.T }
    assert.is_true(v.accepted, v.message)
  end)

  it("clientcert.policy: what is wrong with them, in its own words (policy.build: nil, err)", function()
    assert.equals("unknown option 'bogus'", build_err(trap{ trust = store, bogus = 1 }))
    assert.equals("trust must be a clientcert.store (unless mode = \"off\")", build_err(trap{}))
    assert.equals("allow[1] is empty (it would admit everyone)",
      build_err(trap{ trust = store, allow = trap{ trap{} } }))
    assert.matches("allow must be a list %(keys 1..n with no holes%)",
      build_err{ trust = store, allow = trap{ [2] = { subject_cn = "a" } } })
    assert.matches("^cache.size must be an integer", build_err{ trust = store, cache = trap{} })
    assert.equals("unknown cache option 'x'", build_err{ trust = store, cache = trap{ size = 1, x = 1 } })
    assert.equals("verify.flags[1]: unknown flag 'nope'",
      build_err{ trust = store, verify = { flags = trap{ "nope" } } })
    assert.matches("^revocation.sources must be", build_err{ trust = store, revocation = trap{ sources = trap{} } })
    assert.matches("^revocation.urls%[1%] must be",
      build_err{ trust = store, revocation = trap{ urls = trap{ "ftp://x/" } } })
    -- a list with a hole or another key: refused, never read short (a source or a prefix dropped unseen)
    assert.matches("^revocation.sources must be a list %(keys 1..n with no holes%)",
      build_err{ trust = store, revocation = { sources = { "ocsp", nil, "crl" } } })
    assert.equals("revocation.urls must be a list (keys 1..n with no holes): found key 'x'",
      build_err{ trust = store, revocation = { urls = trap{ "http://pki.test/", x = "http://evil.test/" } } })
    assert.same({}, ran)
  end)

  it("clientcert.probe: its options (checked before any connection)", function()
    local ok, err = pcall(clientcert.probe, trap{ host = "127.0.0.1", port = 1, bogus = 1 })
    assert.is_false(ok)
    assert.matches("clientcert.probe: unknown option 'bogus'", err, 1, true)
    ok, err = pcall(clientcert.probe, trap{ host = "127.0.0.1", port = 1, path = "no-slash" })
    assert.is_false(ok)
    assert.matches("clientcert.probe: path must start with /", err, 1, true)
    assert.same({}, ran)
  end)

  it("clientcert.store: its spec and lists", function()
    local s = clientcert.store(trap{ roots = trap{ pki.path("root.pem") },
                                     intermediates = trap{ pki.path("inter.pem") } })
    assert.same({}, ran)
    assert.is_true(clientcert.is_store(s))
    assert.equals(1, #s:roots())
    assert.equals(1, #s:intermediates())
    local ok, err = pcall(clientcert.store, trap{ bogus = 1 })
    assert.is_false(ok)
    assert.matches("clientcert.store: unknown key 'bogus'", err, 1, true)
    ok, err = pcall(clientcert.store, { roots = trap{ [2] = pki.path("root.pem") } })
    assert.is_false(ok)
    assert.matches("clientcert.store: roots must be a list", err, 1, true)
    assert.same({}, ran)
  end)
end)
