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
