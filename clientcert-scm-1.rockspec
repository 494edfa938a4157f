rockspec_format = "3.0"
package = "clientcert"
version = "scm-1"
-- Built from a checkout: `luarocks --lua-version=5.4 make --deps-mode=none` (see README).
source = {
  url = "git+https://clientcert.invalid/clientcert.git",
}
description = {
  summary = "X.509 client-certificate parsing, chain verification and documented rejection causes",
  detailed = [[
clientcert is a C extension on OpenSSL 3 that parses X.509 certificates and verifies
client-certificate chains, reporting every problem of every element of the path, plus Lua
policies that accept or reject a TLS client and name the documented cause (untrusted root,
expired, revoked, no certificate, ...) with an IIS-style substatus and the steps that fix it.
Works under Lua 5.4 and LuaJIT (OpenResty), and as the `clientcert` audit command.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse",
}
external_dependencies = {
  OPENSSL = { header = "openssl/x509_vfy.h" },
}
build = {
  type = "builtin",
  modules = {
    ["clientcert.core"] = {
      sources = {
        "csrc/common.c", "csrc/names.c", "csrc/cert.c",
        "csrc/crl.c", "csrc/store.c", "csrc/codes.c", "csrc/sysio.c", "csrc/core.c",
      },
      libraries = { "ssl", "crypto" },
      incdirs = { "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
    },
    ["clientcert"] = "lua/clientcert/init.lua",
    ["clientcert.causes"] = "lua/clientcert/causes.lua",
    ["clientcert.policy"] = "lua/clientcert/policy.lua",
    ["clientcert.cli"] = "lua/clientcert/cli.lua",
    ["clientcert.util"] = "lua/clientcert/util.lua",
    ["clientcert.lru"] = "lua/clientcert/lru.lua",
    ["clientcert.nginx"] = "lua/clientcert/nginx.lua",
  },
  install = {
    bin = { clientcert = "bin/clientcert" },
  },
}
test = {
  type = "command",
  command = "make test",
}
