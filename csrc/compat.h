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
/* One Lua value attached to a userdata: LuaJIT's environment table (a table
 * is required there, which is all clientcert stores). */
#define cc_newuserdata_uv(L, sz) lua_newuserdata((L), (sz))
#define cc_setuservalue(L, i) lua_setfenv((L), (i))
#define cc_getuservalue(L, i) lua_getfenv((L), (i))
/* Integer value of the number at i when it is a finite whole number within
 * lua_Integer's range (LuaJIT's lua_tointegerx truncates fractions). */
static inline int cc_tointeger(lua_State *L, int i, lua_Integer *out)
{
    lua_Number d;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    d = lua_tonumber(L, i);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (lua_Number)(lua_Integer)d)
        return 0;
    *out = (lua_Integer)d;
    return 1;
}
#else
#define cc_getfield(L, i, k) lua_getfield((L), (i), (k))
#define cc_rawgeti(L, i, n) lua_rawgeti((L), (i), (n))
#if LUA_VERSION_NUM >= 504
#define cc_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 0)
#define cc_newuserdata_uv(L, sz) lua_newuserdatauv((L), (sz), 1)
#define cc_setuservalue(L, i) lua_setiuservalue((L), (i), 1)
#define cc_getuservalue(L, i) ((void)lua_getiuservalue((L), (i), 1))
#else
#define cc_newuserdata(L, sz) lua_newuserdata((L), (sz))
#define cc_newuserdata_uv(L, sz) lua_newuserdata((L), (sz))
#define cc_setuservalue(L, i) lua_setuservalue((L), (i))
#define cc_getuservalue(L, i) ((void)lua_getuservalue((L), (i)))
#endif
/* Integer value of the number at i when it has an exact integer
 * representation (a float such as 10.5, inf, NaN or 2^63 has none). */
static inline int cc_tointeger(lua_State *L, int i, lua_Integer *out)
{
    int ok = 0;
    lua_Integer v;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    v = lua_tointegerx(L, i, &ok);
    if (ok)
        *out = v;
    return ok;
}
#endif

/* Whether string.find, match, gmatch and gsub run Lua 5.1's matcher (LuaJIT):
 * a pattern ends at its first NUL, and an item with '*' or '-' that does not
 * match at a position still goes one call (one level of nesting) deeper. */
#if LUA_VERSION_NUM == 501
#define CC_PATTERN_LUA51 1
#else
#define CC_PATTERN_LUA51 0
#endif

/* Whether Lua tries a refused allocation once more, with the same arguments,
 * after a full (emergency) collection: Lua 5.2 on; LuaJIT raises at once. */
#if LUA_VERSION_NUM >= 502
#define CC_ALLOC_TRIES_AGAIN 1
#else
#define CC_ALLOC_TRIES_AGAIN 0
#endif

/* The number of arguments of the function whose call hook runs (ar: its
 * frame), or -1 when unknown: Lua 5.4 tells it (ntransfer); on both runtimes
 * lua_getlocal also reaches temporaries above the arguments of a C function. */
#if LUA_VERSION_NUM >= 504
static inline int cc_hook_nargs(lua_State *L, lua_Debug *ar)
{
    if (!lua_getinfo(L, "r", ar))
        return 0;
    return ar->ntransfer;
}
#else
static inline int cc_hook_nargs(lua_State *L, lua_Debug *ar)
{
    (void)L;
    (void)ar;
    return -1;
}
#endif

#endif
