/* compat.h: the only place that tests LUA_VERSION_NUM and OPENSSL_VERSION_NUMBER.
 * Supplies the Lua 5.4 C API names used by clientcert on LuaJIT / Lua 5.1,
 * and stops the build below the OpenSSL floor (3.0). */
#ifndef CLIENTCERT_COMPAT_H
#define CLIENTCERT_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <openssl/opensslv.h>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "clientcert needs OpenSSL 3.0 or later"
#endif

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501
#error "clientcert needs LuaJIT 2.1 or Lua 5.3/5.4"
#endif

#if LUA_VERSION_NUM == 501
/* LuaJIT 2.1 already has luaL_setfuncs, luaL_testudata, luaL_setmetatable
 * and luaL_newlib; plain Lua 5.1 is not supported. */
#ifndef LUAJIT_VERSION
#include <luajit.h>
#endif
#define lua_rawlen(L, i) lua_objlen((L), (i))
/* lua_getfield and lua_rawgeti return the value's type from 5.3 on. */
static inline int cc_compat_getfield(lua_State *L, int i, const char *k)
{
    lua_getfield(L, i, k);
    return lua_type(L, -1);
}
#define cc_getfield(L, i, k) cc_compat_getfield((L), (i), (k))
static inline int cc_compat_rawgeti(lua_State *L, int i, lua_Integer n)
{
    lua_rawgeti(L, i, (int)n);
    return lua_type(L, -1);
}
#define cc_rawgeti(L, i, n) cc_compat_rawgeti((L), (i), (n))
#define cc_newuserdata(L, sz) lua_newuserdata((L), (sz))
#else
#define cc_getfield(L, i, k) lua_getfield((L), (i), (k))
#define cc_rawgeti(L, i, n) lua_rawgeti((L), (i), (n))
#if LUA_VERSION_NUM >= 504
#define cc_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 0)
#else
#define cc_newuserdata(L, sz) lua_newuserdata((L), (sz))
#endif
#endif

#endif
