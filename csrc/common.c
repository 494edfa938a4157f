/* common.c: helpers shared by the clientcert.core C files: error results
 * that drain the OpenSSL error queue, class registration, PEM detection,
 * temporary boxes that free an OpenSSL object if a Lua call raises. */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "clientcert.h"

/* Pushes nil, "clientcert.<where>: <what>: <reason>" with the oldest queued
 * OpenSSL reason (if any), then empties the queue. Returns 2. */
int cc_fail(lua_State *L, const char *where, const char *what)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;

    lua_pushnil(L);
    if (reason != NULL)
        lua_pushfstring(L, "clientcert.%s: %s: %s", where, what, reason);
    else
        lua_pushfstring(L, "clientcert.%s: %s", where, what);
    ERR_clear_error();
    return 2;
}

/* Pushes nil, "clientcert.<where>: <what>" and empties the queue. Returns 2. */
int cc_fail_plain(lua_State *L, const char *where, const char *what)
{
    ERR_clear_error();
    lua_pushnil(L);
    lua_pushfstring(L, "clientcert.%s: %s", where, what);
    return 2;
}

#define CC_TMP_MT "clientcert.tmp"

/* __gc of a temporary box: frees what it holds, once. */
static int cc_tmp_gc(lua_State *L)
{
    cc_tmp_free((cc_tmp *)luaL_checkudata(L, 1, CC_TMP_MT));
    return 0;
}

/* Pushes a temporary box (p = NULL) with its metatable, made on first use. */
cc_tmp *cc_newtmp(lua_State *L, void (*free_fn)(void *))
{
    cc_tmp *t = (cc_tmp *)cc_newuserdata(L, sizeof(*t));    /* tmp */
    t->p = NULL;
    t->free_fn = free_fn;
    if (luaL_newmetatable(L, CC_TMP_MT)) {                   /* tmp, mt */
        lua_pushcfunction(L, cc_tmp_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, CC_TMP_MT);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);                                 /* tmp */
    return t;
}

void cc_tmp_free(cc_tmp *t)
{
    if (t->p != NULL && t->free_fn != NULL)
        t->free_fn(t->p);
    t->p = NULL;
}

void cc_free_openssl(void *p)
{
    OPENSSL_free(p);
}

void cc_free_bio(void *p)
{
    BIO_free((BIO *)p);
}

/* Creates metatable tname: meta functions, __name, __index = methods, and
 * __metatable = tname, so that Lua code can neither get nor replace the class
 * (luaL_checkudata reads the registry, not __metatable). The methods table
 * holds only method names, so obj.__index / obj.__gc are nil from Lua. */
void cc_new_class(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods)
{
    luaL_newmetatable(L, tname);              /* mt */
    luaL_setfuncs(L, meta, 0);
    lua_pushstring(L, tname);                 /* mt, tname */
    lua_setfield(L, -2, "__name");            /* mt */
    if (methods != NULL) {
        lua_newtable(L);                      /* mt, methods */
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");       /* mt */
    }
    lua_pushstring(L, tname);                 /* mt, tname */
    lua_setfield(L, -2, "__metatable");       /* mt */
    lua_pop(L, 1);
}

/* True when the input holds a PEM armour line anywhere. */
int cc_is_pem(const char *data, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    size_t n = sizeof(tag) - 1, i;

    if (len < n)
        return 0;
    for (i = 0; i + n <= len; i++)
        if (data[i] == '-' && memcmp(data + i, tag, n) == 0)
            return 1;
    return 0;
}

/* Like luaL_checklstring, but a number is a programmer error too (no coercion). */
const char *cc_checkbytes(lua_State *L, int idx, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_argerror(L, idx, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, idx)));
    return lua_tolstring(L, idx, len);
}

/* SHA256 and SHA1 fetched from the default library context once per Lua state,
 * held by a registry userdata whose __gc frees them when the state closes
 * (before the module is unloaded: it was made after package's CLIBS table). */
typedef struct {
    EVP_MD *sha256, *sha1;
} cc_digests;

static const char cc_digests_key = 'D';

static int cc_digests_gc(lua_State *L)
{
    cc_digests *d = (cc_digests *)lua_touserdata(L, 1);
    if (d != NULL) {
        EVP_MD_free(d->sha256);
        EVP_MD_free(d->sha1);
        d->sha256 = d->sha1 = NULL;
    }
    return 0;
}

void cc_digests_open(lua_State *L)
{
    cc_digests *d;
    lua_pushlightuserdata(L, (void *)&cc_digests_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    d = (cc_digests *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (d != NULL)                                     /* the module opened again */
        return;
    d = (cc_digests *)cc_newuserdata(L, sizeof *d);    /* d */
    d->sha256 = d->sha1 = NULL;
    lua_newtable(L);
    lua_pushcfunction(L, cc_digests_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    d->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    d->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    ERR_clear_error();
    lua_pushlightuserdata(L, (void *)&cc_digests_key);
    lua_insert(L, -2);                                 /* key, d */
    lua_rawset(L, LUA_REGISTRYINDEX);
}

const EVP_MD *cc_digest(lua_State *L, const char *alg)
{
    int sha256 = strcmp(alg, "SHA256") == 0 || strcmp(alg, "sha256") == 0;
    int sha1 = !sha256 && (strcmp(alg, "SHA1") == 0 || strcmp(alg, "sha1") == 0);

    if (sha256 || sha1) {
        const cc_digests *d;
        lua_pushlightuserdata(L, (void *)&cc_digests_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
        d = (const cc_digests *)lua_touserdata(L, -1);
        lua_pop(L, 1);
        if (d != NULL && sha256 && d->sha256 != NULL)
            return d->sha256;
        if (d != NULL && sha1 && d->sha1 != NULL)
            return d->sha1;
    }
    return EVP_get_digestbyname(alg);                  /* borrowed */
}
