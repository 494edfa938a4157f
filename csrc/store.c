/* store.c: OpenSSL X509_STORE (+ an untrusted intermediate stack) as the Lua
 * class clientcert.store, and chain verification with X509_verify_cert that
 * records every problem of every element instead of stopping at the first. */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

#define STORE_MAX_PROBLEMS 256   /* recorded problems per verification */

typedef struct {
    int depth, code;
    int revoked;                 /* revocation details below are set */
    long long revoked_at;        /* 0 when unknown */
    int reason;                  /* RFC 5280 CRLReason, -1 when absent */
} store_problem;

typedef struct {
    int n, overflow;
    int ignore_missing_crl;      /* crl_missing = "allow" */
    store_problem p[STORE_MAX_PROBLEMS];
} store_record;

/* Verify flags a caller may add by name (opts.flags). */
static const struct { const char *name; unsigned long flag; } store_flags[] = {
    {"x509_strict", X509_V_FLAG_X509_STRICT},
    {"policy_check", X509_V_FLAG_POLICY_CHECK},
    {"explicit_policy", X509_V_FLAG_EXPLICIT_POLICY},
    {"inhibit_any", X509_V_FLAG_INHIBIT_ANY},
    {"inhibit_map", X509_V_FLAG_INHIBIT_MAP},
    {"allow_proxy_certs", X509_V_FLAG_ALLOW_PROXY_CERTS},
    {"use_deltas", X509_V_FLAG_USE_DELTAS},
    {"extended_crl_support", X509_V_FLAG_EXTENDED_CRL_SUPPORT},
    {"check_ss_signature", X509_V_FLAG_CHECK_SS_SIGNATURE},
    {"ignore_critical", X509_V_FLAG_IGNORE_CRITICAL},
    {"no_alt_chains", X509_V_FLAG_NO_ALT_CHAINS},
    {NULL, 0}
};

static cc_store_box *store_box(lua_State *L, int idx)
{
    return (cc_store_box *)luaL_checkudata(L, idx, CC_STORE_MT);
}

static cc_store_box *store_check(lua_State *L, int idx)
{
    cc_store_box *b = store_box(L, idx);
    if (b->store == NULL)
        luaL_error(L, "clientcert.store: object is closed");
    return b;
}

/* new_store(): pushes an empty clientcert.store, or nil, err. */
static int store_new(lua_State *L)
{
    cc_store_box *b = (cc_store_box *)cc_newuserdata(L, sizeof(*b)); /* box first */
    memset(b, 0, sizeof(*b));
    luaL_setmetatable(L, CC_STORE_MT);
    b->store = X509_STORE_new();               /* owns */
    b->inter = sk_X509_new_null();             /* owns */
    if (b->store == NULL || b->inter == NULL)
        return cc_fail(L, "store", "out of memory");
    return 1;
}

/* store:add_root(cert): true, or nil, err. The store takes its own reference. */
static int store_add_root(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    X509 *x = cert_check(L, 2);                /* borrowed */
    ERR_clear_error();
    if (!X509_STORE_add_cert(b->store, x))     /* up-refs x */
        return cc_fail(L, "store.add_root", "cannot add certificate");
    lua_pushboolean(L, 1);
    return 1;
}

/* store:add_intermediate(cert): true, or nil, err. */
static int store_add_intermediate(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    X509 *x = cert_check(L, 2);                /* borrowed */
    if (!X509_up_ref(x))
        return cc_fail(L, "store.add_intermediate", "cannot reference certificate");
    if (!sk_X509_push(b->inter, x)) {          /* owns one reference on success */
        X509_free(x);
        return cc_fail(L, "store.add_intermediate", "out of memory");
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* store:add_crl(crl): true, or nil, err. */
static int store_add_crl(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    X509_CRL *crl = crl_check(L, 2);           /* borrowed */
    ERR_clear_error();
    if (!X509_STORE_add_crl(b->store, crl))    /* up-refs crl */
        return cc_fail(L, "store.add_crl", "cannot add CRL");
    b->ncrl++;
    lua_pushboolean(L, 1);
    return 1;
}

/* Pushes a list of cert objects, each holding a new reference. */
static void store_push_list(lua_State *L, STACK_OF(X509) *sk)
{
    int i, n = sk ? sk_X509_num(sk) : 0;
    lua_createtable(L, n, 0);
    for (i = 0; i < n; i++) {
        cc_cert_box *cb = cert_newbox(L);      /* list, box */
        X509 *x = sk_X509_value(sk, i);
        if (X509_up_ref(x))
            cb->x = x;                         /* owns */
        lua_rawseti(L, -2, i + 1);             /* list */
    }
}

/* store:roots(): list of the trusted certificates. */
static int store_roots(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    STACK_OF(X509) *all = X509_STORE_get1_all_certs(b->store); /* owns */
    if (all == NULL)
        return cc_fail(L, "store.roots", "cannot list certificates");
    store_push_list(L, all);
    sk_X509_pop_free(all, X509_free);
    return 1;
}

/* store:intermediates(): list of the untrusted intermediates. */
static int store_intermediates(lua_State *L)
{
    store_push_list(L, store_check(L, 1)->inter);
    return 1;
}

/* store:crl_count(): number of CRLs added. */
static int store_crl_count(lua_State *L)
{
    lua_pushinteger(L, store_check(L, 1)->ncrl);
    return 1;
}

/* Verify callback: records each problem and lets verification go on, so the
 * whole path is reported. The final verdict is computed from the record. */
static int store_verify_cb(int ok, X509_STORE_CTX *ctx)
{
    store_record *rec = (store_record *)X509_STORE_CTX_get_app_data(ctx);
    store_problem *pb;
    int code;

    if (ok)
        return 1;
    code = X509_STORE_CTX_get_error(ctx);
    if (rec == NULL)
        return 0;
    if (code == X509_V_ERR_UNABLE_TO_GET_CRL && rec->ignore_missing_crl)
        return 1;
    if (rec->n >= STORE_MAX_PROBLEMS) {
        rec->overflow = 1;
        return 0;                              /* stop: too many problems */
    }
    pb = &rec->p[rec->n++];
    pb->depth = X509_STORE_CTX_get_error_depth(ctx);
    pb->code = code;
    pb->revoked = 0;
    pb->revoked_at = 0;
    pb->reason = -1;
    if (code == X509_V_ERR_CERT_REVOKED) {
        X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);  /* borrowed */
        X509 *x = X509_STORE_CTX_get_current_cert(ctx);        /* borrowed */
        X509_REVOKED *rev = NULL;                              /* borrowed */
        if (crl != NULL && x != NULL && X509_CRL_get0_by_cert(crl, &rev, x) == 1 && rev) {
            ASN1_ENUMERATED *r = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL);
            pb->revoked = 1;
            if (cc_asn1_time_to_unix(X509_REVOKED_get0_revocationDate(rev), &pb->revoked_at) != 0)
                pb->revoked_at = 0;
            pb->reason = r ? (int)ASN1_ENUMERATED_get(r) : -1;
            ASN1_ENUMERATED_free(r);
        }
    }
    return 1;
}

/* Reads an optional integer field of the options table at idx. */
static lua_Integer store_opt_int(lua_State *L, int idx, const char *k, lua_Integer dflt)
{
    lua_Integer v = dflt;
    if (cc_getfield(L, idx, k) != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "clientcert.store.verify: option '%s' must be an integer", k);
        v = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

static const char *store_opt_str(lua_State *L, int idx, const char *k, const char *dflt)
{
    const char *v = dflt;
    if (cc_getfield(L, idx, k) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "clientcert.store.verify: option '%s' must be a string", k);
        v = lua_tostring(L, -1);   /* kept alive by the options table */
    }
    lua_pop(L, 1);
    return v;
}

static int store_opt_bool(lua_State *L, int idx, const char *k, int dflt)
{
    int v = dflt;
    if (cc_getfield(L, idx, k) != LUA_TNIL)
        v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Options of one verification, read from the Lua table before any OpenSSL
 * object is allocated (reading may raise for a programmer error). */
typedef struct {
    int purpose;                 /* X509_PURPOSE_*, 0 = any */
    unsigned long flags;
    int depth, level, check_time, ignore_missing_crl;
    lua_Integer when;
} store_opts;

static void store_read_opts(lua_State *L, int idx, const cc_store_box *b, store_opts *o)
{
    const char *purpose = store_opt_str(L, idx, "purpose", "client");
    const char *crl = store_opt_str(L, idx, "crl", b->ncrl > 0 ? "chain" : "none");
    const char *missing = store_opt_str(L, idx, "crl_missing", "reject");
    lua_Integer depth = store_opt_int(L, idx, "max_depth", 10);
    lua_Integer level = store_opt_int(L, idx, "auth_level", -1);
    int i;

    memset(o, 0, sizeof(*o));
    if (strcmp(purpose, "client") == 0)
        o->purpose = X509_PURPOSE_SSL_CLIENT;
    else if (strcmp(purpose, "server") == 0)
        o->purpose = X509_PURPOSE_SSL_SERVER;
    else if (strcmp(purpose, "any") != 0)
        luaL_error(L, "clientcert.store.verify: purpose must be \"client\", \"server\" or \"any\"");
    if (strcmp(crl, "leaf") == 0)
        o->flags |= X509_V_FLAG_CRL_CHECK;
    else if (strcmp(crl, "chain") == 0)
        o->flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    else if (strcmp(crl, "none") != 0)
        luaL_error(L, "clientcert.store.verify: crl must be \"none\", \"leaf\" or \"chain\"");
    if (strcmp(missing, "allow") == 0)
        o->ignore_missing_crl = 1;
    else if (strcmp(missing, "reject") != 0)
        luaL_error(L, "clientcert.store.verify: crl_missing must be \"reject\" or \"allow\"");
    if (depth < 0 || depth > 100)
        luaL_error(L, "clientcert.store.verify: max_depth must be between 0 and 100");
    o->depth = (int)depth;
    o->level = level < 0 ? -1 : (int)(level > 5 ? 5 : level);
    if (store_opt_bool(L, idx, "partial_chain", 0))
        o->flags |= X509_V_FLAG_PARTIAL_CHAIN;
    o->check_time = store_opt_bool(L, idx, "check_time", 1);
    if (!o->check_time)
        o->flags |= X509_V_FLAG_NO_CHECK_TIME;
    o->when = store_opt_int(L, idx, "time", 0);

    if (cc_getfield(L, idx, "flags") == LUA_TTABLE) {           /* ..., flags */
        for (i = 1; cc_rawgeti(L, -1, i) != LUA_TNIL; i++) {    /* ..., flags, name */
            const char *name = lua_tostring(L, -1);
            int j;
            for (j = 0; name != NULL && store_flags[j].name != NULL; j++)
                if (strcmp(store_flags[j].name, name) == 0)
                    break;
            if (name == NULL || store_flags[j].name == NULL)
                luaL_error(L, "clientcert.store.verify: unknown flag '%s'", name ? name : "?");
            o->flags |= store_flags[j].flag;
            lua_pop(L, 1);                                      /* ..., flags */
        }
        lua_pop(L, 1);                                          /* ..., flags */
    }
    lua_pop(L, 1);                                              /* ... */
}

/* Applies o and opts.policies to ctx; never raises. Returns 0, or -1. */
static int store_apply_opts(lua_State *L, int idx, const store_opts *o, X509_STORE_CTX *ctx)
{
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx); /* borrowed */
    STACK_OF(ASN1_OBJECT) *pol = NULL;                          /* owns */
    int i, ret = -1;

    if (o->purpose != 0 && !X509_STORE_CTX_set_purpose(ctx, o->purpose))
        goto cleanup;
    X509_VERIFY_PARAM_set_depth(param, o->depth);
    if (o->level >= 0)
        X509_VERIFY_PARAM_set_auth_level(param, o->level);
    if (o->check_time)
        X509_VERIFY_PARAM_set_time(param, (time_t)o->when);
    X509_VERIFY_PARAM_set_flags(param, o->flags);
    lua_getfield(L, idx, "policies");                           /* ..., policies */
    if (lua_istable(L, -1)) {
        pol = sk_ASN1_OBJECT_new_null();
        if (pol == NULL)
            goto cleanup;
        for (i = 1; ; i++) {
            ASN1_OBJECT *obj;                                   /* owns */
            const char *txt;
            lua_rawgeti(L, -1, i);                              /* ..., policies, oid */
            txt = lua_tostring(L, -1);
            lua_pop(L, 1);                                      /* ..., policies */
            if (txt == NULL)
                break;
            obj = OBJ_txt2obj(txt, 0);
            if (obj == NULL || !sk_ASN1_OBJECT_push(pol, obj)) {
                ASN1_OBJECT_free(obj);
                goto cleanup;
            }
        }
        if (!X509_VERIFY_PARAM_set1_policies(param, pol))      /* copies */
            goto cleanup;
    }
    ret = 0;
cleanup:
    lua_pop(L, 1);                                              /* ... */
    sk_ASN1_OBJECT_pop_free(pol, ASN1_OBJECT_free);
    return ret;
}

/* Pushes {code=, error=[, revoked_at=, reason=]} for one problem. */
static void store_push_problem(lua_State *L, const store_problem *pb, int with_depth)
{
    lua_createtable(L, 0, 5);
    if (with_depth) {
        lua_pushinteger(L, pb->depth);
        lua_setfield(L, -2, "depth");
    }
    lua_pushinteger(L, pb->code);
    lua_setfield(L, -2, "code");
    cc_push_code_name(L, pb->code);
    lua_setfield(L, -2, "code_name");
    lua_pushstring(L, X509_verify_cert_error_string(pb->code));
    lua_setfield(L, -2, "error");
    if (pb->revoked) {
        if (pb->revoked_at != 0) {
            lua_pushinteger(L, (lua_Integer)pb->revoked_at);
            lua_setfield(L, -2, "revoked_at");
        }
        lua_pushstring(L, crl_reason_name(pb->reason < 0 ? 0 : pb->reason));
        lua_setfield(L, -2, "reason");
    }
}

/* Pushes the result table (see README "store:verify"). */
static void store_push_result(lua_State *L, X509_STORE_CTX *ctx, const store_record *rec,
                              int ok, lua_Integer when)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx); /* borrowed */
    int n = chain ? sk_X509_num(chain) : 0;
    int nun = X509_STORE_CTX_get_num_untrusted(ctx);
    int i, j;

    lua_createtable(L, 0, 8);                                 /* r */
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "ok");
    lua_pushinteger(L, rec->n ? rec->p[0].code : X509_V_OK);
    lua_setfield(L, -2, "code");
    cc_push_code_name(L, rec->n ? rec->p[0].code : X509_V_OK);
    lua_setfield(L, -2, "code_name");
    lua_pushstring(L, X509_verify_cert_error_string(rec->n ? rec->p[0].code : X509_V_OK));
    lua_setfield(L, -2, "error");
    if (rec->n) {
        lua_pushinteger(L, rec->p[0].depth);
        lua_setfield(L, -2, "depth");
    }
    lua_pushinteger(L, when);
    lua_setfield(L, -2, "time");
    if (rec->overflow) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "truncated");
    }
    lua_createtable(L, rec->n, 0);                            /* r, problems */
    for (i = 0; i < rec->n; i++) {
        store_push_problem(L, &rec->p[i], 1);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "problems");                          /* r */

    lua_createtable(L, n, 0);                                 /* r, chain */
    for (i = 0; i < n; i++) {
        int k = 0;
        cert_push_summary(L, sk_X509_value(chain, i));       /* r, chain, el */
        lua_pushinteger(L, i);
        lua_setfield(L, -2, "depth");
        lua_pushboolean(L, i >= nun);
        lua_setfield(L, -2, "trusted");
        lua_newtable(L);                                      /* r, chain, el, probs */
        for (j = 0; j < rec->n; j++) {
            int d = rec->p[j].depth;
            if (d == i || (i == n - 1 && d >= n)) {
                store_push_problem(L, &rec->p[j], 0);
                lua_rawseti(L, -2, ++k);
            }
        }
        lua_setfield(L, -2, "problems");                      /* r, chain, el */
        lua_rawseti(L, -2, i + 1);                            /* r, chain */
    }
    lua_setfield(L, -2, "chain");                             /* r */
}

/* store:verify(cert, opts): opts.chain is a list of cert objects (the client's
 * chain); the other options are described in README. Pushes the result table,
 * or nil, err when no decision could be made (out of memory, bad policy OID). */
static int store_verify(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    X509 *leaf = cert_check(L, 2);                     /* borrowed */
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;                  /* owns the stack, borrows its certs */
    store_record *rec;
    store_opts o;
    int i, nchain = 0, ret, nret;

    if (lua_isnoneornil(L, 3)) {
        lua_settop(L, 2);
        lua_newtable(L);
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    store_read_opts(L, 3, b, &o);                      /* may raise: nothing allocated yet */
    cc_getfield(L, 3, "chain");                        /* opts, chain */
    if (!lua_isnil(L, 4)) {
        luaL_argcheck(L, lua_istable(L, 4), 3, "opts.chain must be a list of certificates");
        for (i = 1; cc_rawgeti(L, 4, i) != LUA_TNIL; i++) {
            if (cert_test(L, -1) == NULL)
                luaL_error(L, "clientcert.store.verify: chain[%d] is not a certificate", i);
            lua_pop(L, 1);
            nchain = i;
        }
        lua_pop(L, 1);
    }
    rec = (store_record *)cc_newuserdata(L, sizeof(*rec)); /* opts, chain, rec: freed by the GC */
    memset(rec, 0, sizeof(*rec));
    rec->ignore_missing_crl = o.ignore_missing_crl;

    untrusted = sk_X509_dup(b->inter);
    if (untrusted == NULL) {
        nret = cc_fail(L, "store.verify", "out of memory");
        goto cleanup;
    }
    for (i = 1; i <= nchain; i++) {
        lua_rawgeti(L, 4, i);                          /* stays alive in opts.chain */
        if (!sk_X509_push(untrusted, cert_test(L, -1))) {
            lua_pop(L, 1);
            nret = cc_fail(L, "store.verify", "out of memory");
            goto cleanup;
        }
        lua_pop(L, 1);
    }
    ctx = X509_STORE_CTX_new();
    ERR_clear_error();
    if (ctx == NULL || !X509_STORE_CTX_init(ctx, b->store, leaf, untrusted)) {
        nret = cc_fail(L, "store.verify", "cannot set up verification");
        goto cleanup;
    }
    if (store_apply_opts(L, 3, &o, ctx) != 0) {
        nret = cc_fail(L, "store.verify", "cannot apply options (invalid policy OID?)");
        goto cleanup;
    }
    X509_STORE_CTX_set_app_data(ctx, rec);
    X509_STORE_CTX_set_verify_cb(ctx, store_verify_cb);
    ret = X509_verify_cert(ctx);
    if (ret != 1 && rec->n == 0) {
        /* failed without reporting through the callback: record it anyway */
        int code = X509_STORE_CTX_get_error(ctx);
        rec->p[0].code = code != X509_V_OK ? code : X509_V_ERR_UNSPECIFIED;
        rec->p[0].depth = X509_STORE_CTX_get_error_depth(ctx);
        rec->p[0].reason = -1;
        rec->n = 1;
    }
    ERR_clear_error();
    store_push_result(L, ctx, rec, ret == 1 && rec->n == 0 && !rec->overflow, o.when);
    nret = 1;
cleanup:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    return nret;
}

/* close / __close / __gc: frees the store and the intermediates once. */
static int store_close(lua_State *L)
{
    cc_store_box *b = store_box(L, 1);
    X509_STORE_free(b->store);
    sk_X509_pop_free(b->inter, X509_free);
    b->store = NULL;
    b->inter = NULL;
    return 0;
}

static int store_tostring(lua_State *L)
{
    cc_store_box *b = store_box(L, 1);
    if (b->store == NULL)
        lua_pushliteral(L, "clientcert.store (closed)");
    else
        lua_pushfstring(L, "clientcert.store: %d intermediates, %d CRLs",
                        sk_X509_num(b->inter), b->ncrl);
    return 1;
}

static const luaL_Reg store_meta[] = {
    {"__gc", store_close}, {"__close", store_close}, {"__tostring", store_tostring},
    {NULL, NULL}
};

static const luaL_Reg store_methods[] = {
    {"add_root", store_add_root}, {"add_intermediate", store_add_intermediate},
    {"add_crl", store_add_crl}, {"roots", store_roots},
    {"intermediates", store_intermediates}, {"crl_count", store_crl_count},
    {"verify", store_verify}, {"close", store_close}, {NULL, NULL}
};

int store_open(lua_State *L)
{
    cc_new_class(L, CC_STORE_MT, store_meta, store_methods);
    lua_pushcfunction(L, store_new);          /* M, new_store */
    lua_setfield(L, -2, "new_store");         /* M */
    return 0;
}
