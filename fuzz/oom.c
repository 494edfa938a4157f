/* fuzz/oom.c: clientcert.core under a Lua allocator that fails. Each case of
 * the script (fuzz/oom.lua: it returns a list of {name, fn}) runs with the
 * allocator refusing the (n+1)th allocation, for n = 0, 1, 2 ... until fn
 * completes: an out-of-memory raise at every point where the C code calls Lua.
 * Built with AddressSanitizer and LeakSanitizer (make oom): an OpenSSL object
 * left behind by a raise shows as a leak at exit, a double free as a crash.
 * Usage: oom SCRIPT [ARG]. Exit 0 when every case completed and nothing leaked. */
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_clientcert_core(lua_State *L);

static long oom_left = -1;        /* allocations still granted; -1: no limit */
static long oom_refused;          /* allocations refused so far */

/* lua_Alloc that refuses new blocks and growth once oom_left reaches 0. */
static void *oom_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (oom_left >= 0 && (ptr == NULL || nsize > osize)) {
        if (oom_left == 0) {
            oom_refused++;
            return NULL;
        }
        oom_left--;
    }
    return realloc(ptr, nsize);
}

int main(int argc, char **argv)
{
    lua_State *L;
    int ncases, i, failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: oom SCRIPT [ARG]\n");
        return 2;
    }
    L = lua_newstate(oom_alloc, NULL);
    if (L == NULL)
        return 2;
    luaL_openlibs(L);
    luaL_requiref(L, "clientcert.core", luaopen_clientcert_core, 0);
    lua_pop(L, 1);
    if (luaL_loadfile(L, argv[1]) != LUA_OK) {
        fprintf(stderr, "oom: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 2;
    }
    lua_pushstring(L, argc > 2 ? argv[2] : ".");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        fprintf(stderr, "oom: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "the script returns no list");
        lua_close(L);
        return 2;
    }
    ncases = (int)luaL_len(L, -1);                          /* cases */
    for (i = 1; i <= ncases; i++) {
        const char *name;
        long n;
        lua_rawgeti(L, 1, i);                               /* cases, case */
        lua_rawgeti(L, 2, 1);                               /* cases, case, name */
        name = lua_tostring(L, 3);
        for (n = 0; n < 1000000; n++) {
            int status;
            lua_rawgeti(L, 2, 2);                           /* cases, case, name, fn */
            oom_refused = 0;
            oom_left = n;
            status = lua_pcall(L, 0, 0, 0);
            oom_left = -1;
            if (status == LUA_OK && oom_refused == 0)
                break;                                      /* ran to the end */
            if (status != LUA_OK && status != LUA_ERRMEM && oom_refused == 0) {
                fprintf(stderr, "oom: %s: %s\n", name, lua_tostring(L, -1));
                failed = 1;
                lua_pop(L, 1);
                break;
            }
            if (status != LUA_OK)
                lua_pop(L, 1);                              /* the error */
            lua_gc(L, LUA_GCCOLLECT, 0);                    /* finalizers free the boxes */
        }
        printf("oom: %-28s completed after %ld failing runs\n", name, n);
        fflush(stdout);
        lua_settop(L, 1);                                   /* cases */
    }
    lua_close(L);
    return failed;
}
