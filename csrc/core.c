/* core.c: luaopen_clientcert_core, the only exported symbol of the module.
 * Builds the module table from each OpenSSL object family's *_open. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "clientcert.h"

#define CC_CORE_VERSION "0.1.0"

__attribute__((visibility("default"))) int luaopen_clientcert_core(lua_State *L);

/* typeof(v): "cert", "crl" or "store" for a clientcert object, else nil. */
static int core_typeof(lua_State *L)
{
    if (luaL_testudata(L, 1, CC_CERT_MT) != NULL)
        lua_pushliteral(L, "cert");
    else if (luaL_testudata(L, 1, CC_CRL_MT) != NULL)
        lua_pushliteral(L, "crl");
    else if (luaL_testudata(L, 1, CC_STORE_MT) != NULL)
        lua_pushliteral(L, "store");
    else
        lua_pushnil(L);
    return 1;
}

/* _openssl_error_pending(): true when the thread's OpenSSL error queue is not
 * empty (for the specs: every path must leave it drained). */
static int core_error_pending(lua_State *L)
{
    lua_pushboolean(L, ERR_peek_error() != 0);
    return 1;
}

int luaopen_clientcert_core(lua_State *L)
{
    lua_newtable(L);                                   /* M */
    cc_digests_open(L);
    cert_open(L);
    bundle_open(L);
    crl_open(L);
    pkcs12_open(L);
    store_open(L);
    codes_open(L);
    sysio_open(L);
    dir_open(L);
    calendar_open(L);
    probe_open(L);
    rev_open(L);
    bounded_open(L);
    pattern_open(L);
    lua_pushcfunction(L, core_error_pending);          /* M, fn */
    lua_setfield(L, -2, "_openssl_error_pending");     /* M */
    lua_pushcfunction(L, core_typeof);                 /* M, typeof */
    lua_setfield(L, -2, "typeof");                     /* M */
    lua_pushliteral(L, CC_CORE_VERSION);               /* M, version */
    lua_setfield(L, -2, "version");
    lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
    lua_setfield(L, -2, "openssl_version");
    return 1;
}
