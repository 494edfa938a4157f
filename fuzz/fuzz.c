/* fuzz.c: libFuzzer targets that drive clientcert.core through the Lua C API,
 * exactly as Lua code calls it. Built once per target with -DFUZZ_TARGET=n:
 *   1 parse + info   2 parse_all + info   3 parse_crl + info   4 store:verify
 *   5 ocsp_check of the input as an OCSP response (and crl_status of it as a
 *     CRL), for a request about build/fuzz/rev/leaf-good.pem (fuzz-seeds makes it)
 * Target 4 reads the input as length-prefixed DER parts (2-byte big-endian
 * length each): part 1 is added as a trusted root, part 2 is the client's
 * certificate, the rest its chain; verification runs at a fixed time. */
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_clientcert_core(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *fuzz_state(void)
{
    static lua_State *L = NULL;
    if (L == NULL) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "clientcert.core", luaopen_clientcert_core, 0);
        lua_setglobal(L, "core");
        /* the Lua side of each target, given the input as ... */
        luaL_loadstring(L,
            "local target, data = ...\n"
            "local function info_all(list) for _, c in ipairs(list) do c:info(); c:der(); c:pem() end end\n"
            "if target == 1 then local c = core.parse(data); if c then c:info(); c:fingerprint('sha1');\n"
            "  c:matches_key(data) end\n"
            "elseif target == 2 then local l = core.parse_all(data); if l then info_all(l) end\n"
            "elseif target == 3 then local c = core.parse_crl(data); if c then c:info(); c:der() end\n"
            "elseif target == 5 then\n"
            "  if not ocsp_ctx then\n"
            "    local function rd(p) local f = assert(io.open(p, 'rb')); local s = f:read('a'); f:close(); return s end\n"
            "    local issuer = assert(core.parse(rd('build/fuzz/rev/inter.pem')))\n"
            "    local leaf = assert(core.parse(rd('build/fuzz/rev/leaf-good.pem')))\n"
            "    ocsp_ctx = { issuer = issuer, leaf = leaf, req = assert(core.ocsp_request(leaf, issuer)) }\n"
            "  end\n"
            "  local r = core.ocsp_check(data, ocsp_ctx.req, ocsp_ctx.issuer, { time = os.time() })\n"
            "  assert(r.ok == true or type(r.problem) == 'string')\n"
            "  local crl = core.parse_crl(data)\n"
            "  if crl then core.crl_status(crl, ocsp_ctx.leaf, ocsp_ctx.issuer, { time = os.time() }) end\n"
            "else\n"
            "  local parts, i = {}, 1\n"
            "  while i + 1 <= #data and #parts < 12 do\n"
            "    local n = data:byte(i) * 256 + data:byte(i + 1)\n"
            "    parts[#parts + 1] = data:sub(i + 2, i + 1 + n); i = i + 2 + n\n"
            "  end\n"
            "  local certs = {}\n"
            "  for _, p in ipairs(parts) do certs[#certs + 1] = core.parse(p) or nil end\n"
            "  if #certs >= 2 then\n"
            "    local s = core.new_store(); s:add_root(certs[1])\n"
            "    local chain = {}\n"
            "    for k = 3, #certs do chain[#chain + 1] = certs[k]; s:add_intermediate(certs[k]) end\n"
            "    local r = s:verify(certs[2], {chain = chain, time = 1906502400, purpose = 'client'})\n"
            "    assert(r.ok == (#r.problems == 0))\n"
            "  end\n"
            "end\n"
            "collectgarbage()\n");
        lua_setglobal(L, "fuzz_body");
    }
    return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_state();
    lua_getglobal(L, "fuzz_body");
    lua_pushinteger(L, FUZZ_TARGET);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        /* a raise on bad data breaks the contract (nil, err is expected) */
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "clientcert raised on fuzz input: %s\n", msg ? msg : "?");
        abort();
    }
    return 0;
}
