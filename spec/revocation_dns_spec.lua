-- The resolution of a revocation URL's host name under the fetch's deadline,
-- outside nginx (clientcert.dns, revocation.blocking_fetcher): a fake DNS server
-- on 127.0.0.1 (spec/fixtures/fake_dns.py: silent, NXDOMAIN, SERVFAIL, garbage,
-- a compression pointer loop, a good answer) and an HTTP peer that answers 500
-- (spec/fixtures/listener.py), both stopped by pid. Without the bound, LuaSocket's
-- getaddrinfo waits for the system resolver's own timeouts (5 s x attempts x
-- nameservers) whatever the deadline.
local clientcert = require "clientcert"
local dns = require "clientcert.dns"
local revocation = require "clientcert.revocation"
local socket = require "socket"
local live = require "helpers.live"

local q = live.q

local function elapsed(f)
  local t0 = socket.gettime()
  local a, b = f()
  return socket.gettime() - t0, a, b
end

describe("clientcert.dns", function()
  it("takes IP literals as they are, and nothing else", function()
    for _, h in ipairs({ "127.0.0.1", "255.255.255.255", "::1", "2001:db8::10", "::ffff:127.0.0.1" }) do
      assert.is_true(dns.is_ip(h), h)
    end
    for _, h in ipairs({ "256.0.0.1", "127.1", "localhost", "1.2.3.4.5", "", "a:b:g::" }) do
      assert.is_false(dns.is_ip(h), h)
    end
    assert.same({ "192.0.2.1" }, dns.resolve("192.0.2.1", 0))
    local r, err = dns.resolve("127.1", socket.gettime() + 1, { hosts = false, nameservers = { "127.0.0.1:1" } })
    assert.is_nil(r)
    assert.equals("neither a dotted-quad IPv4 address nor a DNS name", err)
  end)

  it("reads a hosts file (IPv4 first, case and comments aside) and a resolv.conf", function()
    local dir = live.tempdir("clientcert-dns")
    live.write(dir .. "/hosts", "# comment\n::1 pki.test\n127.0.0.2   other.test PKI.test # alias\n"
      .. "bogus pki.test\n10.0.0.1 notpki.test\n")
    assert.same({ "127.0.0.2", "::1" }, dns.hosts_lookup(dir .. "/hosts", "pki.test"))
    assert.is_nil(dns.hosts_lookup(dir .. "/hosts", "none.test"))
    assert.is_nil(dns.hosts_lookup(dir .. "/missing", "pki.test"))
    live.write(dir .. "/resolv.conf", "# c\nnameserver 192.0.2.53\nnameserver ::1\nnameserver fe80::1%eth0\n"
      .. "nameserver not-an-ip\nsearch a.test b.test\noptions ndots:2 timeout:30\nnameserver 192.0.2.54\n"
      .. "nameserver 192.0.2.55\n")
    local c = dns.resolv_conf(dir .. "/resolv.conf")
    assert.same({ { host = "192.0.2.53", port = 53 }, { host = "::1", port = 53 }, { host = "192.0.2.54", port = 53 } },
      c.nameservers)
    assert.same({ "a.test", "b.test" }, c.search)
    assert.equals(2, c.ndots)
    assert.same({ { host = "127.0.0.1", port = 53 } }, dns.resolv_conf(dir .. "/missing").nameservers)
    live.run("rm -rf " .. q(dir))
  end)

  it("reads a line with long runs of spaces in linear time (hosts, resolv.conf)", function()
    local dir = live.tempdir("clientcert-dns")
    local gap = (" "):rep(40000)
    live.write(dir .. "/hosts", "127.0.0.9 a.test" .. gap .. "long.test" .. gap .. "\n")
    live.write(dir .. "/resolv.conf", "search a.test" .. gap .. "b.test" .. gap .. "\noptions x" .. gap .. "ndots:3\n")
    local t0 = os.clock()
    assert.same({ "127.0.0.9" }, dns.hosts_lookup(dir .. "/hosts", "long.test"))
    local c = dns.resolv_conf(dir .. "/resolv.conf")
    assert.same({ "a.test", "b.test" }, c.search)
    assert.equals(3, c.ndots)
    local secs = os.clock() - t0
    live.run("rm -rf " .. q(dir))
    assert.is_true(secs < 1, secs) -- (was quadratic: minutes)
  end)

  it("reads the first MiB of a hosts file or resolv.conf, without the line cut there", function()
    local dir = live.tempdir("clientcert-dns")
    local MIB = 1024 * 1024
    -- text whose first MiB ends after the `kept` start of its last line
    local function cut(lines, last, kept)
      local head = ("# " .. ("x"):rep(97) .. "\n"):rep(10000) .. lines
      head = head .. "#" .. ("p"):rep(MIB - #head - #kept - 2) .. "\n"
      local text = head .. last
      assert.equals(kept, text:sub(#head + 1, MIB))
      return text
    end
    live.write(dir .. "/hosts", cut("10.0.0.9 before.test\n", "127.0.0.7 cut.test.example\n", "127.0.0.7 cut.test"))
    assert.same({ "10.0.0.9" }, dns.hosts_lookup(dir .. "/hosts", "before.test"))
    assert.is_nil(dns.hosts_lookup(dir .. "/hosts", "cut.test"))
    live.write(dir .. "/resolv.conf",
      cut("nameserver 192.0.2.53\n", "nameserver 192.0.2.100\n", "nameserver 192.0.2.1"))
    assert.same({ { host = "192.0.2.53", port = 53 } }, dns.resolv_conf(dir .. "/resolv.conf").nameservers)
    live.run("rm -rf " .. q(dir))
  end)

  it("a fetch with no time left is timed out before it resolves or connects (never raises)", function()
    for _, t in ipairs({ 0, -1 }) do
      for _, url in ipairs({ "http://127.0.0.1:1/", "http://nothing.revocation.test/" }) do
        local ok, body, err = pcall(revocation.blocking_fetch, url, nil, t, 100)
        assert.is_true(ok, body)
        assert.is_nil(body)
        assert.equals(("timed out after %g s"):format(t), err)
      end
    end
  end)

  it("reads only answers to its own question; skips compression pointers; stops at the end", function()
    local qname = "\3pki\4test\0"
    local question = qname .. "\0\1\0\1"
    local function hdr(id, flags, an)
      return string.char(math.floor(id / 256), id % 256, math.floor(flags / 256), flags % 256, 0, 1, 0, an, 0, 0, 0, 0)
    end
    local a = "\192\12\0\1\0\1\0\0\0\60\0\4\127\0\0\1"
    assert.same({ "127.0.0.1" }, dns.parse(hdr(7, 0x8180, 1) .. question .. a, 7, qname, 1).addrs)
    assert.is_nil(dns.parse(hdr(8, 0x8180, 1) .. question .. a, 7, qname, 1))   -- another id
    assert.is_nil(dns.parse(hdr(7, 0x0100, 1) .. question .. a, 7, qname, 1))   -- a query
    assert.is_nil(dns.parse(hdr(7, 0x8180, 1) .. "\3pkj\4test\0\0\1\0\1" .. a, 7, qname, 1)) -- another name
    assert.is_nil(dns.parse(hdr(7, 0x8180, 1) .. question .. a, 7, qname, 28)) -- another type
    assert.is_nil(dns.parse(hdr(7, 0x8180, 1):sub(1, 11), 7, qname, 1))
    assert.same({ "127.0.0.1" }, dns.parse(hdr(7, 0x8180, 1) .. "\3PKI\4Test\0\0\1\0\1" .. a, 7, qname, 1).addrs)
    -- a record count past the end, a record cut short, a label too long: what came before
    local r = dns.parse(hdr(7, 0x8180, 40) .. question .. a .. a:sub(1, 13), 7, qname, 1)
    assert.same({ "127.0.0.1" }, r.addrs)
    assert.same({}, dns.parse(hdr(7, 0x8180, 1) .. question .. "\64" .. a, 7, qname, 1).addrs)
    -- NXDOMAIN, truncated, AAAA
    assert.equals(3, dns.parse(hdr(7, 0x8183, 0) .. question, 7, qname, 1).rcode)
    assert.is_true(dns.parse(hdr(7, 0x8380, 0) .. question, 7, qname, 1).truncated)
    local six = "\192\12\0\28\0\1\0\0\0\60\0\16" .. ("\32\1\13\184" .. ("\0"):rep(11) .. "\1")
    assert.same({ "2001:db8:0:0:0:0:0:1" },
      dns.parse(hdr(7, 0x8180, 1) .. qname .. "\0\28\0\1" .. six, 7, qname, 28).addrs)
  end)
end)

describe("clientcert.dns.parse: hostile answers", function()
  local qname = "\3pki\4test\0"
  local question = qname .. "\0\1\0\1"
  local function u16(n) return string.char(math.floor(n / 256), n % 256) end
  local function answer(an, records)
    return u16(9) .. u16(0x8180) .. u16(1) .. u16(an) .. u16(0) .. u16(0) .. question .. table.concat(records)
  end
  local function rr(name, t, class, rdata, rdlength)
    return name .. u16(t) .. u16(class) .. "\0\0\0\60" .. u16(rdlength or #rdata) .. rdata
  end
  local A1, A2 = "\127\0\0\1", "\127\0\0\2"

  it("follows no compression pointer, backward or forward, and stops at a reserved label type", function()
    -- a forward pointer (past the end) and a pointer to itself are skipped, not followed
    assert.same({ "127.0.0.1", "127.0.0.2" }, dns.parse(answer(2, {
      rr("\192\255", 1, 1, A1), rr("\192\41", 1, 1, A2) }), 9, qname, 1).addrs)
    -- a pointer cut after its first byte; labels of type 0x40 and 0x80: what came before
    assert.same({ "127.0.0.1" }, dns.parse(answer(2, { rr("\192\12", 1, 1, A1), "\192" }), 9, qname, 1).addrs)
    for _, bad in ipairs({ "\64", "\128", "\191" }) do
      assert.same({ "127.0.0.1" },
        dns.parse(answer(2, { rr("\192\12", 1, 1, A1), rr(bad .. "x\0", 1, 1, A2) }), 9, qname, 1).addrs)
    end
    -- 128 labels and more without an end: no name, no record
    assert.same({}, dns.parse(answer(1, { rr(("\1a"):rep(200) .. "\0", 1, 1, A1) }), 9, qname, 1).addrs)
  end)

  it("takes only records of the type and class asked, of the right length, within the packet", function()
    local r = dns.parse(answer(6, {
      rr("\192\12", 5, 1, "\3cdn\192\12"),     -- a CNAME (the chain's A records follow it)
      rr("\3cdn\192\12", 1, 3, A2),              -- class CH
      rr("\192\12", 1, 1, "\127\0\0\1\0"),     -- an A of 5 bytes
      rr("\192\12", 28, 1, ("\0"):rep(16)),      -- an AAAA in an A answer
      rr("\3cdn\192\12", 1, 1, A1),              -- the CNAME's target
      rr("\192\12", 1, 1, A2, 9) }), 9, qname, 1)  -- RDLENGTH past the end
    assert.same({ "127.0.0.1" }, r.addrs)
    -- at most MAX_ADDRESSES, whatever the count says
    local many = {}
    for i = 1, 20 do many[i] = rr("\192\12", 1, 1, string.char(10, 0, 0, i)) end
    assert.equals(dns.MAX_ADDRESSES, #dns.parse(answer(65535, many), 9, qname, 1).addrs)
    -- a truncated answer keeps what it holds
    local t = answer(1, { rr("\192\12", 1, 1, A1) })
    t = t:sub(1, 2) .. u16(0x8380) .. t:sub(5)
    assert.same({ truncated = true, rcode = 0, addrs = { "127.0.0.1" } }, dns.parse(t, 9, qname, 1))
  end)

  it("never raises on bytes cut anywhere", function()
    local full = answer(3, { rr("\192\12", 5, 1, "\3cdn\192\12"), rr("\3cdn\192\12", 1, 1, A1),
                             rr("\192\12", 1, 1, A2) })
    for n = 0, #full do
      local ok, r = pcall(dns.parse, full:sub(1, n), 9, qname, 1)
      assert.is_true(ok, r)
      assert.is_true(r == nil or type(r.addrs) == "table")
    end
  end)
end)

describe("revocation.blocking_fetcher: name resolution within the deadline", function()
  local dir, fake, http, pki, store
  local log

  setup(function()
    dir = live.tempdir("clientcert-dns")
    fake = live.fake_dns(dir, 120)
    log = fake.queries
    -- (the HTTP peer's port may be taken before it binds it: 3 tries on new ones)
    live.tries(function() http = live.listener(dir, "http500", live.free_port(), 120) end,
      function() live.stop(http) end)
    pki = dir .. "/pki"
    live.fixture(pki, "dnsnames.sh")
    store = assert(clientcert.store{ roots = pki .. "/root.pem" })
  end)

  teardown(function()
    live.stop(fake)
    live.stop(http)
    if dir then live.run("rm -rf " .. q(dir)) end
  end)

  local function ns() return { ("127.0.0.1:%d"):format(fake.port) } end
  local function queries() return live.read(log) or "" end

  it("a nameserver that never answers: timed out at the deadline, naming the host", function()
    local fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false }
    local secs, body, err = elapsed(function() return fetch("http://silent.revocation.test/", nil, 1, 65536) end)
    assert.is_nil(body)
    assert.equals("timed out after 1 s resolving silent.revocation.test", err)
    assert.is_true(secs >= 0.9 and secs < 2, secs)
    assert.matches("1 silent.revocation.test\n", queries(), 1, true)
  end)

  it("the deadline holds across several silent nameservers; a silent one is asked again each RESEND", function()
    local three = { ns()[1], ns()[1], ns()[1] }
    local fetch = revocation.blocking_fetcher{ nameservers = three, hosts = false }
    local secs, body, err = elapsed(function()
      return fetch("http://silent-three.revocation.test/", nil, 1.5, 65536)
    end)
    assert.is_nil(body)
    assert.equals("timed out after 1.5 s resolving silent-three.revocation.test", err)
    assert.is_true(secs >= 1.4 and secs < 2, secs)
    local _, n = queries():gsub("1 silent%-three%.revocation%.test\n", "")
    assert.equals(3, n) -- one each (0.5 s each: no resend)
    fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false }
    secs = elapsed(function() return fetch("http://silent-again.revocation.test/", nil, dns.RESEND * 2.5, 65536) end)
    assert.is_true(secs < dns.RESEND * 2.5 + 0.5, secs)
    _, n = queries():gsub("1 silent%-again%.revocation%.test\n", "")
    assert.equals(3, n) -- at 0, RESEND and 2 x RESEND
  end)

  it("garbage, echoed queries and other ids are no answer: the deadline still holds", function()
    local fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false }
    local secs, body, err = elapsed(function() return fetch("http://garbage.revocation.test/", nil, 0.5, 65536) end)
    assert.is_nil(body)
    assert.equals("timed out after 0.5 s resolving garbage.revocation.test", err)
    assert.is_true(secs < 1.5, secs)
  end)

  it("NXDOMAIN and SERVFAIL end the fetch at once, with what the nameserver said", function()
    local fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false }
    local secs, body, err = elapsed(function() return fetch("http://nx.revocation.test/", nil, 3, 65536) end)
    assert.is_nil(body)
    assert.equals("cannot resolve nx.revocation.test: no such host", err)
    assert.is_true(secs < 2, secs)
    local _, _, e2 = elapsed(function() return fetch("http://servfail.revocation.test/", nil, 3, 65536) end)
    assert.equals("cannot resolve servfail.revocation.test: the nameserver 127.0.0.1 answered SERVFAIL", e2)
  end)

  it("connects to the address resolved (a pointer loop in the answer skipped), the next server when one refuses",
    function()
      local dead = live.free_port()  -- nothing listens there: the kernel answers "refused"
      local fetch = revocation.blocking_fetcher{ hosts = false,
        nameservers = { ("127.0.0.1:%d"):format(dead), ("127.0.0.1:%d"):format(fake.port) } }
      assert.same({ nil, "HTTP 500" },
        { fetch(("http://local.revocation.test:%d/x"):format(http.port), nil, 3, 65536) })
      assert.same({ nil, "HTTP 500" },
        { fetch(("http://ptr.revocation.test:%d/x"):format(http.port), nil, 3, 65536) })
    end)

  it("a name in the hosts file is not asked of DNS; localhost works with the system's files", function()
    live.write(dir .. "/hosts", "127.0.0.1 pki.hosts.test\n")
    local before = queries()
    local fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = dir .. "/hosts" }
    assert.same({ nil, "HTTP 500" }, { fetch(("http://pki.hosts.test:%d/x"):format(http.port), nil, 3, 65536) })
    assert.equals(before, queries())
    assert.same({ nil, "HTTP 500" },
      { revocation.blocking_fetch(("http://localhost:%d/x"):format(http.port), nil, 3, 65536) })
  end)

  it("search domains for a name with fewer dots than ndots", function()
    live.write(dir .. "/resolv.conf", ("nameserver 127.0.0.1:%d\nsearch revocation.test\n"):format(fake.port))
    local fetch = revocation.blocking_fetcher{ resolv_conf = dir .. "/resolv.conf", hosts = false }
    assert.same({ nil, "HTTP 500" }, { fetch(("http://local:%d/x"):format(http.port), nil, 3, 65536) })
    assert.matches("1 local.revocation.test\n", queries(), 1, true)
  end)

  it("policy: a responder whose name never resolves is revocation_unknown within the deadlines", function()
    local p = clientcert.policy{ trust = store, revocation = { timeout = 0.5,
      fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false } } }
    local pem = assert(live.read(pki .. "/leaf-silent.pem"))
    -- two sources, one URL each: at most 2 x timeout, plus 1 s
    local secs, v = elapsed(function() return p:check{ cert = pem, time = os.time() } end)
    assert.equals("revocation_unknown", v.cause)
    assert.is_false(v.accepted)
    assert.matches("timed out after 0.5 s resolving silent.revocation.test", v.message, 1, true)
    assert.is_true(secs < 2, secs)
    local soft = clientcert.policy{ trust = store, revocation = { timeout = 0.5, unavailable = "accept",
      fetch = revocation.blocking_fetcher{ nameservers = ns(), hosts = false } } }
    local s = soft:check{ cert = assert(live.read(pki .. "/leaf-nx.pem")), time = os.time() }
    assert.is_true(s.accepted)
    assert.same({ "revocation_unknown" }, s.also)
    assert.matches("cannot resolve nx.revocation.test: no such host", s.revocation.error, 1, true)
  end)

  it("raises for bad options", function()
    for _, o in ipairs({ { nameservers = {} }, { nameservers = { "dns.example" } }, { hosts = 1 }, { other = 1 },
                         { resolv_conf = true }, { nameservers = { "127.0.0.1:0" } },
                         { nameservers = { nil, "127.0.0.1" } },
                         { nameservers = { "127.0.0.1", x = "127.0.0.1" } } }) do
      assert.has_error(function() revocation.blocking_fetcher(o) end)
    end
  end)
end)
