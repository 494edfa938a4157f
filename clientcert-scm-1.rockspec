rockspec_format = "3.0"
package = "clientcert"
version = "scm-1"
-- From a checkout: `luarocks make` (see docs/internals.md "Building and installing"; `sudo make install` needs no LuaRocks).
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
  "argparse",
}
external_dependencies = {
  OPENSSL = { header = "openssl/x509_vfy.h" },
}
build = {
  -- The Makefile builds into build/rock/ (never a clientcert/core.so in the
  -- checkout, where LuaJIT's "./?.so" would load it) with the project's flags.
  type = "make",
  build_target = "rock",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    OPENSSL_INCDIR = "$(OPENSSL_INCDIR)",
    OPENSSL_LIBDIR = "$(OPENSSL_LIBDIR)",
  },
  install_target = "rock-install",
  install_variables = {
    LUA_INCDIR = "$(LUA_INCDIR)",
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
  install = {
    bin = { clientcert = "bin/clientcert" },
  },
}
test = {
  type = "command",
  command = "make test",
}
