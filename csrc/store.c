/* store.c: OpenSSL X509_STORE (+ an untrusted intermediate stack) as the Lua
 * class clientcert.store, and chain verification with X509_verify_cert that
 * records every problem of every element instead of stopping at the first. */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>

#define STORE_MAX_PROBLEMS 256   /* recorded problems per verification */
#define STORE_MAX_IGNORED 32     /* recorded ignored (forged) CRLs per verification */
#define STORE_MAX_SIGS 4096      /* remembered CRL signature checks per store */
/* max_depth above this is clamped: OpenSSL computes depth + 1 and more in int */
#define STORE_DEPTH_CLAMP (INT_MAX / 2)

typedef struct {
    int depth, code;
    int revoked;                 /* revocation details below are set */
    long long revoked_at;        /* 0 when unknown */
    int reason;                  /* RFC 5280 CRLReason, -1 when absent */
} store_problem;

typedef struct {
    X509_CRL *crl;               /* owns one reference */
    int depth;                   /* chain element whose revocation it claimed to cover */
} store_ignored;

typedef struct {
    int n, overflow;
    int ignore_missing_crl;      /* crl_missing = "allow" */
    int nignored;
    const X509_CRL *badsig_crl;  /* borrowed, only compared: the CRL whose signature
                                  * failed in OpenSSL's own check_crl just now */
    int badsig_depth;
    store_problem p[STORE_MAX_PROBLEMS];
    store_ignored ignored[STORE_MAX_IGNORED];
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

static STACK_OF(X509_CRL) *store_lookup_crls(const X509_STORE_CTX *ctx, const X509_NAME *nm);
static int store_check_crl(X509_STORE_CTX *ctx, X509_CRL *crl);
static int store_crl_verified(cc_store_box *b, int owned, const X509_CRL *crl, const X509 *issuer,
                              EVP_PKEY *key);

/* new_store(): pushes an empty clientcert.store, or nil, err. Its user value is
 * the facts table described in clientcert.h. */
static int store_new(lua_State *L)
{
    cc_store_box *b = (cc_store_box *)cc_newuserdata_uv(L, sizeof(*b)); /* box first */
    memset(b, 0, sizeof(*b));
    luaL_setmetatable(L, CC_STORE_MT);
    lua_createtable(L, 0, 4);                  /* store, facts */
    lua_newtable(L);
    lua_setfield(L, -2, "root_subjects");
    lua_newtable(L);
    lua_setfield(L, -2, "roots");
    lua_newtable(L);
    lua_setfield(L, -2, "fingerprints");
    lua_newtable(L);
    lua_setfield(L, -2, "self_signed");
    cc_setuservalue(L, -2);                    /* store */
    b->store = X509_STORE_new();               /* owns */
    b->inter = sk_X509_new_null();             /* owns */
    if (b->store == NULL || b->inter == NULL)
        return cc_fail(L, "store", "out of memory");
    /* only CRLs whose signature verifies reach OpenSSL's revocation check */
    X509_STORE_set_lookup_crls(b->store, store_lookup_crls);
    /* and a CRL's signature is verified once, not by every verification */
    X509_STORE_set_check_crl(b->store, store_check_crl);
    return 1;
}

/* Records what the store knows about a root just added (x is borrowed; the
 * store holds its own reference to x, or to an identical certificate added
 * before). Computes the self-signature once, here, not per verification. */
static void store_learn_root(lua_State *L, int sidx, cc_store_box *b, X509 *x)
{
    int ss = X509_self_signed(x, 1) == 1;
    ERR_clear_error();
    cc_getuservalue(L, sidx);                              /* facts */
    lua_getfield(L, -1, "self_signed");                    /* facts, ss */
    lua_pushlightuserdata(L, x);
    lua_pushboolean(L, ss);
    lua_rawset(L, -3);
    lua_pop(L, 1);                                         /* facts */
    lua_getfield(L, -1, "fingerprints");                   /* facts, fps */
    if (cert_push_digest(L, x, "SHA256") != 0)             /* facts, fps, fp */
        lua_pushliteral(L, "");
    lua_pushvalue(L, -1);                                  /* facts, fps, fp, fp */
    lua_rawget(L, -3);                                     /* facts, fps, fp, seen */
    if (lua_toboolean(L, -1)) {                            /* the same root again */
        lua_pop(L, 4);
        return;
    }
    lua_pop(L, 1);                                         /* facts, fps, fp */
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -4);                                     /* facts, fps, fp */
    lua_createtable(L, 0, 3);                              /* facts, fps, fp, root */
    lua_insert(L, -2);                                     /* facts, fps, root, fp */
    lua_setfield(L, -2, "fingerprint");                    /* facts, fps, root */
    cc_push_name_string(L, X509_get_subject_name(x));
    lua_setfield(L, -2, "subject");
    lua_pushboolean(L, ss);
    lua_setfield(L, -2, "self_signed");
    lua_getfield(L, -3, "roots");                          /* facts, fps, root, roots */
    lua_insert(L, -2);                                     /* facts, fps, roots, root */
    lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);        /* facts, fps, roots */
    lua_getfield(L, -3, "root_subjects");                  /* facts, fps, roots, subj */
    cc_push_name_string(L, X509_get_subject_name(x));
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 4);
    b->nroots++;
    if (!ss)
        b->nroots_not_ss++;
}

/* store:add_root(cert): true, or nil, err. The store takes its own reference. */
static int store_add_root(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    X509 *x = cert_check(L, 2);                /* borrowed */
    ERR_clear_error();
    if (!X509_STORE_add_cert(b->store, x))     /* up-refs x */
        return cc_fail(L, "store.add_root", "cannot add certificate");
    store_learn_root(L, 1, b, x);
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

static void store_free_certs(void *p)
{
    sk_X509_pop_free((STACK_OF(X509) *)p, X509_free);
}

static void store_free_crls(void *p)
{
    sk_X509_CRL_pop_free((STACK_OF(X509_CRL) *)p, X509_CRL_free);
}

/* store:roots(): list of the trusted certificates. */
static int store_roots(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    cc_tmp *tmp = cc_newtmp(L, store_free_certs);             /* store, tmp */
    STACK_OF(X509) *all;                                      /* owns, through tmp */
    tmp->p = all = X509_STORE_get1_all_certs(b->store);
    if (all == NULL)
        return cc_fail(L, "store.roots", "cannot list certificates");
    store_push_list(L, all);                                  /* store, tmp, list */
    cc_tmp_free(tmp);
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

/* store:stats(): {roots =, roots_not_self_signed =, intermediates =, crls =,
 * crl_signature_checks =, crl_openssl_checks =}, counts the store keeps as
 * certificates are added and verifications run (no certificate is read). */
static int store_stats(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, b->crl_sig_checks);
    lua_setfield(L, -2, "crl_signature_checks");
    lua_pushinteger(L, b->crl_openssl_checks);
    lua_setfield(L, -2, "crl_openssl_checks");
    lua_pushinteger(L, b->nroots);
    lua_setfield(L, -2, "roots");
    lua_pushinteger(L, b->nroots_not_ss);
    lua_setfield(L, -2, "roots_not_self_signed");
    lua_pushinteger(L, sk_X509_num(b->inter));
    lua_setfield(L, -2, "intermediates");
    lua_pushinteger(L, b->ncrl);
    lua_setfield(L, -2, "crls");
    return 1;
}

/* Does crl's signature verify with the key of a certificate named like its
 * issuer among sk (certificates the store owns)? 1 yes, 0 such certificates
 * exist but none verifies it, -1 none has that name. Checks are remembered. */
static int store_crl_signed_by(cc_store_box *b, X509_CRL *crl, STACK_OF(X509) *sk, int found)
{
    const X509_NAME *iss = X509_CRL_get_issuer(crl);
    int i;
    for (i = 0; i < sk_X509_num(sk); i++) {
        X509 *c = sk_X509_value(sk, i);                /* borrowed */
        EVP_PKEY *key;
        if (X509_NAME_cmp(X509_get_subject_name(c), iss) != 0)
            continue;
        found = 1;
        key = X509_get0_pubkey(c);                     /* borrowed */
        if (key != NULL && store_crl_verified(b, 1, crl, c, key))
            return 1;
    }
    return found ? 0 : -1;
}

/* store:crls(): a list of {issuer =, last_update =, next_update =, signature =}
 * for every CRL of the store; signature is "ok" (verified by the key of a root
 * or intermediate of the store with the CRL's issuer name), "bad" (certificates
 * with that name are in the store, and none signed it) or "no_issuer". */
static int store_crls(lua_State *L)
{
    cc_store_box *b = store_check(L, 1);
    cc_tmp *troots = cc_newtmp(L, store_free_certs);             /* store, troots */
    cc_tmp *tcrls = cc_newtmp(L, store_free_crls);               /* store, troots, tcrls */
    STACK_OF(X509) *roots;                                        /* owns, through troots */
    STACK_OF(X509_CRL) *crls;                                     /* owns one ref each, through tcrls */
    STACK_OF(X509_OBJECT) *objs;
    int i, n = 0;

    troots->p = roots = X509_STORE_get1_all_certs(b->store);
    tcrls->p = crls = sk_X509_CRL_new_null();
    if (roots == NULL || crls == NULL)
        return cc_fail(L, "store.crls", "out of memory");
    if (!X509_STORE_lock(b->store))
        return cc_fail(L, "store.crls", "cannot lock the store");
    objs = X509_STORE_get0_objects(b->store);                     /* borrowed, locked */
    for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
        if (crl != NULL && X509_CRL_up_ref(crl) && !sk_X509_CRL_push(crls, crl))
            X509_CRL_free(crl);
    }
    X509_STORE_unlock(b->store);
    lua_createtable(L, sk_X509_CRL_num(crls), 0);                 /* list */
    for (i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(crls, i);
        long long t;
        int v = store_crl_signed_by(b, crl, roots, 0);
        if (v != 1)
            v = store_crl_signed_by(b, crl, b->inter, v == 0);
        lua_createtable(L, 0, 4);                                 /* list, item */
        cc_push_name_string(L, X509_CRL_get_issuer(crl));
        lua_setfield(L, -2, "issuer");
        if (cc_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl), &t) == 0) {
            lua_pushinteger(L, (lua_Integer)t);
            lua_setfield(L, -2, "last_update");
        }
        if (X509_CRL_get0_nextUpdate(crl) != NULL
            && cc_asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl), &t) == 0) {
            lua_pushinteger(L, (lua_Integer)t);
            lua_setfield(L, -2, "next_update");
        }
        lua_pushstring(L, v == 1 ? "ok" : v == 0 ? "bad" : "no_issuer");
        lua_setfield(L, -2, "signature");
        lua_rawseti(L, -2, ++n);                                  /* list */
    }
    ERR_clear_error();
    cc_tmp_free(troots);
    cc_tmp_free(tcrls);
    return 1;                                                     /* list */
}

/* Options of one verification, copied out of the Lua table (raw access only)
 * before any certificate is borrowed: nothing a metamethod or a finalizer does
 * afterwards can change or free what the verification uses. */
typedef struct {
    int purpose;                 /* X509_PURPOSE_*, 0 = any */
    unsigned long flags;
    int depth, level, check_time, ignore_missing_crl, certs;
    int bad_policy;              /* an OID in opts.policies did not parse */
    long long when;
} store_opts;

/* Everything one verification owns, in a userdata whose __gc frees it: a
 * programmer error raised half-way (or an out-of-memory error from Lua) leaks
 * nothing. Freed explicitly when the verification ends. */
typedef struct {
    cc_store_box *box;                 /* borrowed: the store object is argument 1 of
                                        * store:verify for the whole verification */
    int ninter;                        /* untrusted[0 .. ninter-1] are the store's own */
    X509_STORE *store;                 /* owns one reference */
    X509 *leaf;                        /* owns one reference */
    STACK_OF(X509) *untrusted;         /* owns the stack and one reference per cert */
    STACK_OF(ASN1_OBJECT) *policies;   /* owns */
    X509_STORE_CTX *ctx;               /* owns */
    store_opts o;
    store_record rec;
} store_scratch;

#define STORE_SCRATCH_MT "clientcert.store.verification"

static int store_scratch_free(lua_State *L)
{
    store_scratch *s = (store_scratch *)lua_touserdata(L, 1);
    int i;
    if (s == NULL)
        return 0;
    X509_STORE_CTX_free(s->ctx);
    sk_X509_pop_free(s->untrusted, X509_free);
    sk_ASN1_OBJECT_pop_free(s->policies, ASN1_OBJECT_free);
    X509_free(s->leaf);
    X509_STORE_free(s->store);
    for (i = 0; i < s->rec.nignored; i++)
        X509_CRL_free(s->rec.ignored[i].crl);
    s->ctx = NULL;
    s->untrusted = NULL;
    s->policies = NULL;
    s->leaf = NULL;
    s->store = NULL;
    s->rec.nignored = 0;
    return 0;
}

/* Notes crl (whose reference the caller gives) as ignored at depth, once. */
static void store_note_ignored(store_record *rec, X509_CRL *crl, int depth)
{
    int i;
    for (i = 0; i < rec->nignored; i++)
        if (rec->ignored[i].crl == crl && rec->ignored[i].depth == depth)
            break;
    if (i < rec->nignored || rec->nignored >= STORE_MAX_IGNORED) {
        X509_CRL_free(crl);
        return;
    }
    rec->ignored[rec->nignored].crl = crl;       /* owns */
    rec->ignored[rec->nignored].depth = depth;
    rec->nignored++;
}

/* Empties rec for another verification (the ignored CRLs' references freed);
 * crl_missing is kept. */
static void store_record_reset(store_record *rec)
{
    int i, allow = rec->ignore_missing_crl;
    for (i = 0; i < rec->nignored; i++)
        X509_CRL_free(rec->ignored[i].crl);
    memset(rec, 0, sizeof(*rec));
    rec->ignore_missing_crl = allow;
}

/* Does crl verify with issuer's key? The answer is remembered in the box (see
 * cc_crl_sig) keyed by the CRL and the issuer's SubjectPublicKeyInfo, and reused
 * for every later verification. owned: issuer is owned by the store (its
 * X509_STORE or its intermediates), so its pointer may be remembered and a
 * failed check too; for a certificate the client sent, only a signature that
 * verifies is remembered (at most one entry per genuine key and CRL: a client
 * cannot fill the table with failures). crl must be owned by the store's
 * X509_STORE; b NULL: nothing remembered. key is issuer's key (borrowed). */
static int store_crl_verified(cc_store_box *b, int owned, const X509_CRL *crl, const X509 *issuer,
                              EVP_PKEY *key)
{
    unsigned char *spki = NULL;                 /* owns until moved into an entry */
    int i, ok, len = -1;
    if (b != NULL) {
        for (i = 0; owned && i < b->nsigs; i++)
            if (b->sigs[i].crl == crl && b->sigs[i].issuer == issuer)
                return b->sigs[i].ok;
        len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
        for (i = 0; len > 0 && i < b->nsigs; i++)
            if (b->sigs[i].crl == crl && b->sigs[i].spkilen == len
                && memcmp(b->sigs[i].spki, spki, (size_t)len) == 0) {
                OPENSSL_free(spki);
                return b->sigs[i].ok;
            }
        b->crl_sig_checks++;
    }
    ok = X509_CRL_verify((X509_CRL *)crl, key) == 1;
    ERR_clear_error();
    if (b != NULL && len > 0 && (owned || ok) && b->nsigs < STORE_MAX_SIGS) {
        if (b->nsigs == b->capsigs) {
            int cap = b->capsigs ? b->capsigs * 2 : 16;
            cc_crl_sig *p = (cc_crl_sig *)realloc(b->sigs, (size_t)cap * sizeof(*p));
            if (p == NULL) {
                OPENSSL_free(spki);
                return ok;                       /* not remembered; still correct */
            }
            b->sigs = p;
            b->capsigs = cap;
        }
        b->sigs[b->nsigs].crl = crl;
        b->sigs[b->nsigs].issuer = owned ? issuer : NULL;
        b->sigs[b->nsigs].spki = spki;          /* the entry owns it now */
        b->sigs[b->nsigs].spkilen = len;
        b->sigs[b->nsigs].ok = ok;
        b->nsigs++;
        return ok;
    }
    OPENSSL_free(spki);
    return ok;
}

/* Is issuer (an element of s->untrusted or the store's) owned by the store for
 * its whole life? depth_issuer: its index in the chain. */
static int store_owns_issuer(X509_STORE_CTX *ctx, const store_scratch *s, const X509 *issuer,
                             int depth_issuer)
{
    int i;
    if (depth_issuer >= X509_STORE_CTX_get_num_untrusted(ctx))
        return 1;                                                  /* from the X509_STORE */
    for (i = 0; i < s->ninter && i < sk_X509_num(s->untrusted); i++)
        if (sk_X509_value(s->untrusted, i) == issuer)
            return 1;                                              /* a store intermediate */
    return 0;
}

/* Adds to all (a new stack when NULL; returned) the store's CRLs named by the
 * cRLIssuer directoryNames of x's distribution points: indirect CRLs, which
 * OpenSSL's lookup by the certificate's issuer name does not find. Once each. */
static STACK_OF(X509_CRL) *store_add_indirect(X509_STORE_CTX *ctx, X509 *x, STACK_OF(X509_CRL) *all)
{
    STACK_OF(DIST_POINT) *dps;                                     /* owns */
    int i, j, k;
    dps = (STACK_OF(DIST_POINT) *)X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    for (i = 0; i < sk_DIST_POINT_num(dps); i++) {
        GENERAL_NAMES *gens = sk_DIST_POINT_value(dps, i)->CRLissuer; /* borrowed */
        for (j = 0; j < sk_GENERAL_NAME_num(gens); j++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
            STACK_OF(X509_CRL) *more;                              /* owns, one ref each */
            if (g->type != GEN_DIRNAME)
                continue;
            more = X509_STORE_CTX_get1_crls(ctx, g->d.directoryName);
            if (more != NULL && all == NULL)
                all = sk_X509_CRL_new_null();
            for (k = 0; k < sk_X509_CRL_num(more); k++) {
                X509_CRL *crl = sk_X509_CRL_value(more, k);
                if (all == NULL || sk_X509_CRL_find(all, crl) >= 0 || !sk_X509_CRL_push(all, crl))
                    X509_CRL_free(crl);                            /* else all owns it */
            }
            sk_X509_CRL_free(more);
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    ERR_clear_error();
    return all;
}

/* Does crl verify with the key of a certificate that could have signed it for the
 * chain element being checked? Those are the elements of the path from cidx (the
 * element's issuer) up named like the CRL's issuer -- the issuer, or the other key
 * of the same CA after a key rollover, where OpenSSL's crl_akid_check finds the
 * CRL's signer too (CRL_SCORE_SAME_PATH); with extended CRL support (ext) also the
 * certificates of that name among the untrusted ones and the store's (a CRL signer
 * outside the path, whose own path OpenSSL then validates). 1 yes, 0 no, -1 no
 * certificate of that name to tell (ext only: OpenSSL judges). */
static int store_crl_genuine(X509_STORE_CTX *ctx, store_scratch *s, X509_CRL *crl, int cidx, int ext)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);       /* borrowed */
    STACK_OF(X509) *certs;                                         /* owns */
    const X509_NAME *cnm = X509_CRL_get_issuer(crl);               /* borrowed */
    int j, seen = 0, ok = 0;
    for (j = cidx; j < sk_X509_num(chain); j++) {
        X509 *c = sk_X509_value(chain, j);                         /* borrowed */
        EVP_PKEY *key = X509_get0_pubkey(c);                       /* borrowed */
        if (key == NULL || X509_NAME_cmp(X509_get_subject_name(c), cnm) != 0)
            continue;
        seen = 1;
        if (store_crl_verified(s->box, store_owns_issuer(ctx, s, c, j), crl, c, key))
            return 1;
    }
    if (!ext)
        return 0;
    for (j = 0; j < sk_X509_num(s->untrusted); j++) {
        X509 *c = sk_X509_value(s->untrusted, j);                  /* borrowed */
        EVP_PKEY *key = X509_get0_pubkey(c);                       /* borrowed */
        if (key == NULL || X509_NAME_cmp(X509_get_subject_name(c), cnm) != 0)
            continue;
        seen = 1;
        if (store_crl_verified(s->box, j < s->ninter, crl, c, key))
            return 1;
    }
    certs = X509_STORE_CTX_get1_certs(ctx, (X509_NAME *)cnm);
    for (j = 0; !ok && j < sk_X509_num(certs); j++) {
        X509 *c = sk_X509_value(certs, j);                         /* borrowed from certs */
        EVP_PKEY *key = X509_get0_pubkey(c);                       /* borrowed */
        if (key == NULL)
            continue;
        seen = 1;
        ok = store_crl_verified(s->box, 1, crl, c, key);           /* the store keeps c */
    }
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return ok ? 1 : seen ? 0 : -1;
}

/* CRL lookup (X509_STORE_set_lookup_crls): the store's CRLs named nm (with
 * extended CRL support also those of the cRLIssuers of the certificate's
 * distribution points), less those that no certificate which could have signed
 * them verifies (store_crl_genuine) for the chain element being checked (OpenSSL's
 * check_cert sets error_depth to its index before looking CRLs up). When it cannot
 * be told simply (without extended CRL support: a partial chain ending below a
 * root, a name mismatch, no key), every CRL is returned and OpenSSL judges as
 * usual. A CRL dropped here is evidence of nothing: it cannot revoke, nor hide a
 * genuine CRL. */
static STACK_OF(X509_CRL) *store_lookup_crls(const X509_STORE_CTX *cctx, const X509_NAME *nm)
{
    X509_STORE_CTX *ctx = (X509_STORE_CTX *)cctx;                  /* only read */
    STACK_OF(X509_CRL) *all = X509_STORE_CTX_get1_crls(ctx, nm);  /* owns, returned */
    store_scratch *s = (store_scratch *)X509_STORE_CTX_get_app_data(ctx);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);       /* borrowed */
    int depth = X509_STORE_CTX_get_error_depth(ctx), n, i, cidx, ext;
    X509 *x, *issuer = NULL;                                       /* borrowed */

    if (s == NULL || chain == NULL)
        return all;
    ext = (s->o.flags & X509_V_FLAG_EXTENDED_CRL_SUPPORT) != 0;
    n = sk_X509_num(chain);
    if (depth < 0 || depth >= n)
        return all;
    x = sk_X509_value(chain, depth);
    if (ext)
        all = store_add_indirect(ctx, x, all);
    if (all == NULL)
        return NULL;
    cidx = depth + 1 < n ? depth + 1 : depth;                      /* as crl_akid_check */
    if (!ext) {
        if (depth + 1 < n)
            issuer = sk_X509_value(chain, cidx);
        else if (X509_check_issued(x, x) == X509_V_OK)
            issuer = x;
        if (issuer == NULL || X509_NAME_cmp(X509_get_subject_name(issuer), nm) != 0
            || X509_get0_pubkey(issuer) == NULL) {
            ERR_clear_error();
            return all;
        }
    }
    for (i = sk_X509_CRL_num(all) - 1; i >= 0; i--) {
        X509_CRL *crl = sk_X509_CRL_value(all, i);
        if (store_crl_genuine(ctx, s, crl, cidx, ext) == 0) {
            (void)sk_X509_CRL_delete(all, i);
            store_note_ignored(&s->rec, crl, depth);               /* takes the reference */
        }
    }
    ERR_clear_error();
    return all;
}

/* check_crl (X509_STORE_set_check_crl): the CRL OpenSSL's get_crl chose for the
 * chain element at error_depth. crlcheck.c tells when only the signature is left
 * to check (then OpenSSL's own check_crl would also return 1 without reporting
 * anything once it verifies), and store_crl_verified answers it (verified once
 * per CRL and issuer key). Every other case goes to OpenSSL's own check_crl. */
static int store_check_crl(X509_STORE_CTX *ctx, X509_CRL *crl)
{
    store_scratch *s = (store_scratch *)X509_STORE_CTX_get_app_data(ctx);
    X509 *issuer;                                                  /* borrowed */
    EVP_PKEY *key;                                                 /* borrowed */
    int cidx, ok;

    if (s == NULL || s->box == NULL)
        return crlcheck_openssl(ctx, crl);
    ok = crlcheck_plain(ctx, crl, &issuer, &cidx, &key)
         && store_crl_verified(s->box, store_owns_issuer(ctx, s, issuer, cidx), crl, issuer, key);
    ERR_clear_error();
    if (ok)
        return 1;
    s->box->crl_openssl_checks++;
    return crlcheck_openssl(ctx, crl);
}

/* Is nm the directoryName cRLIssuer of one of x's CRL distribution points? */
static int store_crl_issuer_named(X509 *x, const X509_NAME *nm)
{
    STACK_OF(DIST_POINT) *dps;                                     /* owns */
    int i, j, found = 0;
    dps = (STACK_OF(DIST_POINT) *)X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
    for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
        GENERAL_NAMES *gens = sk_DIST_POINT_value(dps, i)->CRLissuer; /* borrowed */
        for (j = 0; !found && j < sk_GENERAL_NAME_num(gens); j++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
            found = g->type == GEN_DIRNAME && X509_NAME_cmp(g->d.directoryName, nm) == 0;
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return found;
}

/* Does the store hold a CRL for the issuer of chain element depth: one named like
 * the element's issuer or like a cRLIssuer of its distribution points (an indirect
 * CRL), or whose authority key identifier names the key of the issuer (the next
 * element, the element itself at the top)? Then the CA publishes CRLs, and
 * UNABLE_TO_GET_CRL means that none of them could be used (a bad signature,
 * another scope): crl_missing = "allow" does not apply. */
static int store_has_crl_for(X509_STORE_CTX *ctx, int depth)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);       /* borrowed */
    X509_STORE *store = X509_STORE_CTX_get0_store(ctx);           /* borrowed */
    STACK_OF(X509_OBJECT) *objs;
    const ASN1_OCTET_STRING *skid = NULL;                          /* borrowed */
    const X509_NAME *nm;                                           /* borrowed */
    X509 *x;                                                       /* borrowed */
    int i, n = chain ? sk_X509_num(chain) : 0, found = 0;

    if (depth < 0 || depth >= n || store == NULL)
        return 1;                                                  /* unsure: not allowed */
    x = sk_X509_value(chain, depth);
    nm = X509_get_issuer_name(x);
    skid = X509_get0_subject_key_id(sk_X509_value(chain, depth + 1 < n ? depth + 1 : depth));
    if (!X509_STORE_lock(store))
        return 1;
    objs = X509_STORE_get0_objects(store);                         /* borrowed, locked */
    for (i = 0; !found && i < sk_X509_OBJECT_num(objs); i++) {
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
        AUTHORITY_KEYID *akid;                                     /* owns */
        if (crl == NULL)
            continue;
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), nm) == 0
            || store_crl_issuer_named(x, X509_CRL_get_issuer(crl))) {
            found = 1;
            break;
        }
        if (skid == NULL)
            continue;
        akid = (AUTHORITY_KEYID *)X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
        found = akid != NULL && akid->keyid != NULL && ASN1_OCTET_STRING_cmp(akid->keyid, skid) == 0;
        AUTHORITY_KEYID_free(akid);
    }
    X509_STORE_unlock(store);
    ERR_clear_error();
    return found;
}

/* Were CRLs set aside at depth by store_lookup_crls (their signature failed)? */
static int store_ignored_at(const store_record *rec, int depth)
{
    int i;
    for (i = 0; i < rec->nignored; i++)
        if (rec->ignored[i].depth == depth)
            return 1;
    return 0;
}

/* Verify callback: records each problem and lets verification go on, so the
 * whole path is reported. The final verdict is computed from the record. */
static int store_verify_cb(int ok, X509_STORE_CTX *ctx)
{
    store_scratch *s = (store_scratch *)X509_STORE_CTX_get_app_data(ctx);
    store_record *rec;
    store_problem *pb;
    int code, depth;

    if (ok)
        return 1;
    code = X509_STORE_CTX_get_error(ctx);
    if (s == NULL)
        return 0;
    rec = &s->rec;
    depth = X509_STORE_CTX_get_error_depth(ctx);
    if (code == X509_V_ERR_UNABLE_TO_GET_CRL && rec->ignore_missing_crl && !store_has_crl_for(ctx, depth))
        return 1;                  /* crl_missing = "allow": this CA publishes no CRL */
    if (code == X509_V_ERR_CERT_REVOKED && rec->badsig_crl != NULL
        && rec->badsig_crl == X509_STORE_CTX_get0_current_crl(ctx) && rec->badsig_depth == depth)
        return 1;   /* OpenSSL goes on past a CRL signature failure (recorded): no revocation from it */
    if (rec->n >= STORE_MAX_PROBLEMS) {
        rec->overflow = 1;
        return 0;                              /* stop: too many problems */
    }
    if (code == X509_V_ERR_CRL_SIGNATURE_FAILURE) {
        rec->badsig_crl = X509_STORE_CTX_get0_current_crl(ctx);
        rec->badsig_depth = depth;
    }
    /* no CRL could be used, and the CA's CRLs that were found failed their signature */
    if (code == X509_V_ERR_UNABLE_TO_GET_CRL && store_ignored_at(rec, depth))
        code = X509_V_ERR_CRL_SIGNATURE_FAILURE;
    pb = &rec->p[rec->n++];
    pb->depth = depth;
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

/* Pushes opts[k] read with raw access (no __index); returns its type. */
static int store_rawfield(lua_State *L, int idx, const char *k)
{
    lua_pushstring(L, k);
    lua_rawget(L, idx);
    return lua_type(L, -1);
}

/* Raises "clientcert.store.verify: <name> must be an integer between <min> and
 * <max>, got <v>" (or "<min> or more" when max is LLONG_MAX) for the value at
 * -1, in util.integer's words (%.17g for a number). */
static void store_int_error(lua_State *L, const char *name, long long min, long long max)
{
    char got[64], range[64];
    if (lua_type(L, -1) == LUA_TNUMBER)
        snprintf(got, sizeof(got), "%.17g", (double)lua_tonumber(L, -1));
    else
        snprintf(got, sizeof(got), "%s", luaL_typename(L, -1));
    if (max == LLONG_MAX)
        snprintf(range, sizeof(range), "%lld or more", min);
    else
        snprintf(range, sizeof(range), "between %lld and %lld", min, max);
    luaL_error(L, "clientcert.store.verify: %s must be an integer %s, got %s", name, range, got);
}

/* Reads an optional integer option in min..max; *v keeps its value when absent.
 * With max = LLONG_MAX (no upper bound), a whole float past lua_Integer's range
 * (2^63, 1e300) is an integer too, read as LLONG_MAX. */
static void store_opt_int(lua_State *L, int idx, const char *k, long long min, long long max,
                          long long *v)
{
    lua_Integer n = 0;
    if (store_rawfield(L, idx, k) != LUA_TNIL) {
        if (!cc_tointeger(L, -1, &n)) {
            lua_Number d = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
            if (max != LLONG_MAX || !(d >= 9223372036854775807.0 && d <= DBL_MAX))
                store_int_error(L, k, min, max);
            n = (lua_Integer)LLONG_MAX;
        }
        if ((long long)n < min || (long long)n > max)
            store_int_error(L, k, min, max);
        *v = (long long)n;
    }
    lua_pop(L, 1);
}

/* Reads an optional string option and returns the index of its value in
 * names (NULL-terminated), dflt when absent; raises for anything else. The
 * string is compared while anchored on the stack and not kept. */
static int store_opt_enum(lua_State *L, int idx, const char *k, const char *const names[],
                          int dflt, const char *expect)
{
    int i = dflt;
    int t = store_rawfield(L, idx, k);
    if (t != LUA_TNIL) {
        const char *v = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        for (i = 0; v != NULL && names[i] != NULL; i++)
            if (strcmp(names[i], v) == 0)
                break;
        if (v == NULL || names[i] == NULL)
            luaL_error(L, "clientcert.store.verify: %s must be %s", k, expect);
    }
    lua_pop(L, 1);
    return i;
}

static int store_opt_bool(lua_State *L, int idx, const char *k, int dflt)
{
    int v = dflt;
    if (store_rawfield(L, idx, k) != LUA_TNIL)
        v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Reads opts (the table at idx, raw access only) into s->o and s->policies.
 * May raise (a programmer error); s owns whatever was allocated. */
static void store_read_opts(lua_State *L, int idx, int ncrl, store_scratch *s)
{
    static const char *const purposes[] = {"client", "server", "any", NULL};
    static const char *const crls[] = {"none", "leaf", "chain", NULL};
    static const char *const missing[] = {"reject", "allow", NULL};
    store_opts *o = &s->o;
    long long depth = 10, level = -1, when = -1;
    int i, purpose, crl;

    purpose = store_opt_enum(L, idx, "purpose", purposes, 0, "\"client\", \"server\" or \"any\"");
    crl = store_opt_enum(L, idx, "crl", crls, ncrl > 0 ? 2 : 0, "\"none\", \"leaf\" or \"chain\"");
    o->ignore_missing_crl = store_opt_enum(L, idx, "crl_missing", missing, 0,
                                           "\"reject\" or \"allow\"") == 1;
    store_opt_int(L, idx, "max_depth", 0, LLONG_MAX, &depth);
    store_opt_int(L, idx, "auth_level", 0, 5, &level);
    store_opt_int(L, idx, "time", 0, CC_MAX_TIME, &when);
    o->purpose = purpose == 0 ? X509_PURPOSE_SSL_CLIENT : purpose == 1 ? X509_PURPOSE_SSL_SERVER : 0;
    /* delta CRLs the store holds are used with their base (newer revocations, holds lifted) */
    if (crl == 1)
        o->flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_USE_DELTAS;
    else if (crl == 2)
        o->flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_USE_DELTAS;
    o->depth = depth > STORE_DEPTH_CLAMP ? STORE_DEPTH_CLAMP : (int)depth;
    o->level = (int)level;
    o->when = when >= 0 ? when : (long long)time(NULL);
    if (store_opt_bool(L, idx, "partial_chain", 0))
        o->flags |= X509_V_FLAG_PARTIAL_CHAIN;
    o->check_time = store_opt_bool(L, idx, "check_time", 1);
    o->certs = store_opt_bool(L, idx, "certs", 0);
    if (!o->check_time)
        o->flags |= X509_V_FLAG_NO_CHECK_TIME;

    if (store_rawfield(L, idx, "flags") != LUA_TNIL) {              /* ..., flags */
        if (!lua_istable(L, -1))
            luaL_error(L, "clientcert.store.verify: flags must be a list of flag names");
        for (i = 1; cc_rawgeti(L, -1, i) != LUA_TNIL; i++) {        /* ..., flags, name */
            const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int j;
            for (j = 0; name != NULL && store_flags[j].name != NULL; j++)
                if (strcmp(store_flags[j].name, name) == 0)
                    break;
            if (name == NULL || store_flags[j].name == NULL)
                luaL_error(L, "clientcert.store.verify: unknown flag '%s'", name ? name : "?");
            o->flags |= store_flags[j].flag;
            lua_pop(L, 1);                                          /* ..., flags */
        }
        lua_pop(L, 1);                                              /* ..., flags */
    }
    lua_pop(L, 1);                                                  /* ... */

    if (store_rawfield(L, idx, "policies") != LUA_TNIL) {           /* ..., policies */
        if (!lua_istable(L, -1))
            luaL_error(L, "clientcert.store.verify: policies must be a list of OIDs");
        s->policies = sk_ASN1_OBJECT_new_null();                    /* owned by s */
        if (s->policies == NULL)
            luaL_error(L, "clientcert.store.verify: out of memory");
        for (i = 1; cc_rawgeti(L, -1, i) != LUA_TNIL; i++) {        /* ..., policies, oid */
            ASN1_OBJECT *obj;                                       /* owns */
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "clientcert.store.verify: policies[%d] must be an OID string", i);
            obj = OBJ_txt2obj(lua_tostring(L, -1), 0);
            if (obj == NULL || !sk_ASN1_OBJECT_push(s->policies, obj)) {
                ASN1_OBJECT_free(obj);
                o->bad_policy = 1;
            }
            lua_pop(L, 1);                                          /* ..., policies */
        }
        lua_pop(L, 1);                                              /* ..., policies */
    }
    lua_pop(L, 1);                                                  /* ... */
    ERR_clear_error();
}

/* Applies s->o and s->policies to s->ctx; never raises. Returns 0, or -1. */
static int store_apply_opts(store_scratch *s)
{
    const store_opts *o = &s->o;
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(s->ctx); /* borrowed */

    if (o->purpose != 0 && !X509_STORE_CTX_set_purpose(s->ctx, o->purpose))
        return -1;
    X509_VERIFY_PARAM_set_depth(param, o->depth);
    if (o->level >= 0)
        X509_VERIFY_PARAM_set_auth_level(param, o->level);
    if (o->check_time)
        X509_VERIFY_PARAM_set_time(param, (time_t)o->when);
    X509_VERIFY_PARAM_set_flags(param, o->flags);
    if (s->policies != NULL && !X509_VERIFY_PARAM_set1_policies(param, s->policies)) /* copies */
        return -1;
    return 0;
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

/* Pushes result.ignored_crls: {{issuer =, depth =, reason = "bad_signature", last_update =}}. */
static void store_push_ignored(lua_State *L, const store_record *rec)
{
    int i;
    lua_createtable(L, rec->nignored, 0);                     /* list */
    for (i = 0; i < rec->nignored; i++) {
        long long t;
        lua_createtable(L, 0, 4);                             /* list, item */
        cc_push_name_string(L, X509_CRL_get_issuer(rec->ignored[i].crl));
        lua_setfield(L, -2, "issuer");
        lua_pushinteger(L, rec->ignored[i].depth);
        lua_setfield(L, -2, "depth");
        lua_pushliteral(L, "bad_signature");
        lua_setfield(L, -2, "reason");
        if (cc_asn1_time_to_unix(X509_CRL_get0_lastUpdate(rec->ignored[i].crl), &t) == 0) {
            lua_pushinteger(L, (lua_Integer)t);
            lua_setfield(L, -2, "last_update");
        }
        lua_rawseti(L, -2, i + 1);                            /* list */
    }
}

/* Pushes the facts table (see cert_push_facts) for chain element x, or nothing
 * and returns 0 when none is known. The leaf and the client's chain are cert
 * objects (the leaf at stack index 2, the chain in opts.chain, opts at 3), each
 * with its own facts; the store's own certificates (trusted, or among its
 * intermediates) have theirs in the store's facts table, keyed by the X509
 * pointer, which the store keeps alive as long as itself. */
static int store_push_cert_facts(lua_State *L, const store_scratch *s, X509 *x, int trusted)
{
    int i, j, owned = trusted;
    if (x == s->leaf) {
        cert_push_facts(L, 2);
        return 1;
    }
    for (i = 0; !owned && i < sk_X509_num(s->untrusted); i++) {
        if (sk_X509_value(s->untrusted, i) != x)
            continue;
        if (i < s->ninter) {
            owned = 1;                                        /* one of the store's */
            break;
        }
        j = i - s->ninter + 1;                                /* opts.chain[j] */
        lua_pushliteral(L, "chain");
        lua_rawget(L, 3);                                     /* chain */
        if (lua_istable(L, -1)) {
            cc_rawgeti(L, -1, j);                             /* chain, cert */
            if (cert_test(L, -1) == x) {
                cert_push_facts(L, lua_gettop(L));            /* chain, cert, facts */
                lua_replace(L, -3);                           /* facts, cert */
                lua_pop(L, 1);                                /* facts */
                return 1;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        return 0;
    }
    if (!owned)
        return 0;
    cc_getuservalue(L, 1);                                    /* store facts */
    lua_getfield(L, -1, "certs");                             /* sf, certs */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "certs");                         /* sf, certs */
    }
    lua_remove(L, -2);                                        /* certs */
    lua_pushlightuserdata(L, x);
    lua_rawget(L, -2);                                        /* certs, facts? */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);                             /* certs, facts */
        lua_pushlightuserdata(L, x);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
    }
    lua_remove(L, -2);                                        /* facts */
    return 1;
}

/* Pushes the result table (see docs/api.md "Stores and verification"). The store is at stack
 * index 1 (its facts give the trust anchors' self-signature without a signature
 * check), the leaf at 2, opts at 3 (see store_push_cert_facts): each element's
 * fingerprint and names are computed once per certificate object. */
static void store_push_result(lua_State *L, const store_scratch *s, X509_STORE_CTX *ctx,
                              const store_record *rec, int ok, long long when)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx); /* borrowed */
    int n = chain ? sk_X509_num(chain) : 0;
    int nun = X509_STORE_CTX_get_num_untrusted(ctx);
    int i, j;

    cc_getuservalue(L, 1);                                    /* facts */
    lua_getfield(L, -1, "self_signed");                       /* facts, known */
    lua_remove(L, -2);                                        /* known */
    lua_createtable(L, 0, 9);                                 /* known, r */
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
    lua_pushinteger(L, (lua_Integer)when);
    lua_setfield(L, -2, "time");
    if (rec->overflow) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "truncated");
    }
    if (rec->nignored > 0) {
        store_push_ignored(L, rec);
        lua_setfield(L, -2, "ignored_crls");
    }
    lua_createtable(L, rec->n, 0);                            /* known, r, problems */
    for (i = 0; i < rec->n; i++) {
        store_push_problem(L, &rec->p[i], 1);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "problems");                          /* known, r */

    lua_createtable(L, n, 0);                                 /* known, r, chain */
    for (i = 0; i < n; i++) {
        X509 *x = sk_X509_value(chain, i);                    /* borrowed from ctx */
        int k = 0, ss = -1, fidx = 0;
        if (i >= nun && lua_istable(L, -3)) {                 /* a trust anchor: its fact */
            lua_pushlightuserdata(L, x);
            lua_rawget(L, -4);
            if (lua_isboolean(L, -1))
                ss = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
        if (store_push_cert_facts(L, s, x, i >= nun))         /* known, r, chain, facts */
            fidx = lua_gettop(L);
        cert_push_summary(L, x, ss, fidx);                    /* known, r, chain, [facts,] el */
        if (fidx != 0)
            lua_remove(L, fidx);                              /* known, r, chain, el */
        lua_pushinteger(L, i);
        lua_setfield(L, -2, "depth");
        lua_pushboolean(L, i >= nun);
        lua_setfield(L, -2, "trusted");
        lua_newtable(L);                                      /* known, r, chain, el, probs */
        for (j = 0; j < rec->n; j++) {
            int d = rec->p[j].depth;
            if (d == i || (i == n - 1 && d >= n)) {
                store_push_problem(L, &rec->p[j], 0);
                lua_rawseti(L, -2, ++k);
            }
        }
        lua_setfield(L, -2, "problems");                      /* known, r, chain, el */
        lua_rawseti(L, -2, i + 1);                            /* known, r, chain */
    }
    lua_setfield(L, -2, "chain");                             /* known, r */
    if (s->o.certs) {                                         /* the path's objects */
        lua_createtable(L, n, 0);                             /* known, r, certs */
        for (i = 0; i < n; i++) {
            X509 *x = sk_X509_value(chain, i);                /* borrowed from ctx */
            cc_cert_box *box = cert_newbox(L);                /* box first: a raise leaks nothing */
            if (X509_up_ref(x))
                box->x = x;                                   /* owns one reference */
            else
                luaL_error(L, "clientcert.store.verify: cannot reference certificate");
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "certs");                         /* known, r */
    }
    lua_remove(L, -2);                                        /* r */
}

/* One X509_verify_cert on s->ctx (initialised here) with s->o: 1 verified, 0
 * not (each problem in s->rec), -1 the context cannot be set up, -2 the options
 * cannot be applied. Never raises. */
static int store_run(store_scratch *s)
{
    int ret;
    if (!X509_STORE_CTX_init(s->ctx, s->store, s->leaf, s->untrusted))
        return -1;
    if (store_apply_opts(s) != 0)
        return -2;
    X509_STORE_CTX_set_app_data(s->ctx, s);
    X509_STORE_CTX_set_verify_cb(s->ctx, store_verify_cb);
    ret = X509_verify_cert(s->ctx);
    if (ret != 1 && s->rec.n == 0) {
        /* failed without reporting through the callback: record it anyway */
        int code = X509_STORE_CTX_get_error(s->ctx);
        s->rec.p[0].code = code != X509_V_OK ? code : X509_V_ERR_UNSPECIFIED;
        s->rec.p[0].depth = X509_STORE_CTX_get_error_depth(s->ctx);
        s->rec.p[0].reason = -1;
        s->rec.n = 1;
    }
    return ret == 1 ? 1 : 0;
}

/* Did a verification with CRL checks but without extended CRL support fail only
 * because OpenSSL's defaults could use no CRL of some CA -- no CRL of full scope,
 * another scope, no CRL issuer, a CRL whose signer is not in the path -- or on a
 * certificate on hold, which a delta CRL may lift? Then OpenSSL can tell more
 * with extended CRL support and delta CRLs. Any other problem decides. */
static int store_needs_extended(const store_scratch *s)
{
    const store_record *rec = &s->rec;
    int i;
    if ((s->o.flags & X509_V_FLAG_CRL_CHECK) == 0 || (s->o.flags & X509_V_FLAG_EXTENDED_CRL_SUPPORT) != 0
        || rec->n == 0 || rec->overflow)
        return 0;
    for (i = 0; i < rec->n; i++) {
        int c = rec->p[i].code;
        if (c != X509_V_ERR_UNABLE_TO_GET_CRL && c != X509_V_ERR_DIFFERENT_CRL_SCOPE
            && c != X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER && c != X509_V_ERR_CRL_SIGNATURE_FAILURE
            && !(c == X509_V_ERR_CERT_REVOKED && rec->p[i].reason == CRL_REASON_CERTIFICATE_HOLD))
            return 0;
    }
    return 1;
}

/* store:verify(cert, opts): opts.chain is a list of cert objects (the client's
 * chain); the other options are described in docs/api.md. Pushes the result table,
 * or nil, err when no decision could be made (out of memory, bad policy OID).
 * Order matters: options are copied (raw access) first; then the store, the
 * leaf and the chain are borrowed and at once referenced by the scratch
 * object, so no Lua code run later (a metamethod, a finalizer) can free them. */
static int store_verify(lua_State *L)
{
    cc_store_box *b = store_box(L, 1);
    store_scratch *s;
    X509 *leaf;
    int i, ret, nret;

    if (!lua_isnoneornil(L, 3))
        luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    if (lua_isnil(L, 3)) {
        lua_newtable(L);
        lua_replace(L, 3);
    }
    s = (store_scratch *)cc_newuserdata(L, sizeof(*s));   /* 4: freed by its __gc */
    memset(s, 0, sizeof(*s));
    luaL_setmetatable(L, STORE_SCRATCH_MT);
    if (b->store == NULL)
        luaL_error(L, "clientcert.store: object is closed");
    store_read_opts(L, 3, b->ncrl, s);                    /* may raise: s owns all */
    s->rec.ignore_missing_crl = s->o.ignore_missing_crl;

    /* borrow, and reference at once */
    if (b->store == NULL)                                 /* closed by a finalizer meanwhile */
        luaL_error(L, "clientcert.store: object is closed");
    if (!X509_STORE_up_ref(b->store))
        return cc_fail(L, "store.verify", "cannot reference the store");
    s->store = b->store;
    leaf = cert_check(L, 2);                              /* borrowed */
    if (!X509_up_ref(leaf))
        return cc_fail(L, "store.verify", "cannot reference certificate");
    s->leaf = leaf;                                       /* owns */
    s->untrusted = sk_X509_new_null();
    if (s->untrusted == NULL)
        return cc_fail(L, "store.verify", "out of memory");
    s->box = b;
    s->ninter = sk_X509_num(b->inter);
    for (i = 0; i < sk_X509_num(b->inter); i++) {
        X509 *x = sk_X509_value(b->inter, i);             /* borrowed from the store */
        if (!X509_up_ref(x))
            return cc_fail(L, "store.verify", "cannot reference certificate");
        if (!sk_X509_push(s->untrusted, x)) {
            X509_free(x);
            return cc_fail(L, "store.verify", "out of memory");
        }
    }
    if (store_rawfield(L, 3, "chain") != LUA_TNIL) {      /* opts, s, chain */
        luaL_argcheck(L, lua_istable(L, -1), 3, "opts.chain must be a list of certificates");
        for (i = 1; cc_rawgeti(L, -1, i) != LUA_TNIL; i++) {
            X509 *x = cert_test(L, -1);                   /* borrowed */
            if (x == NULL)
                luaL_error(L, "clientcert.store.verify: chain[%d] is not a certificate", i);
            if (!X509_up_ref(x))
                return cc_fail(L, "store.verify", "cannot reference certificate");
            if (!sk_X509_push(s->untrusted, x)) {
                X509_free(x);
                return cc_fail(L, "store.verify", "out of memory");
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);                                        /* opts, s */
    if (s->o.bad_policy)
        return cc_fail(L, "store.verify", "cannot apply options (invalid policy OID?)");

    ERR_clear_error();
    s->ctx = X509_STORE_CTX_new();
    if (s->ctx == NULL) {
        nret = cc_fail(L, "store.verify", "cannot set up verification");
        goto cleanup;
    }
    ret = store_run(s);
    if (ret == -2) {
        nret = cc_fail(L, "store.verify", "cannot apply options (invalid policy OID?)");
        goto cleanup;
    }
    if (ret >= 0 && store_needs_extended(s)) {
        /* OpenSSL's defaults could use no CRL of some CA (indirect CRLs, reasons,
         * another scope, a separate CRL signing key, a delta that lifts a hold):
         * verify again with extended CRL support and delta CRLs, and take that */
        s->o.flags |= X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
        store_record_reset(&s->rec);
        X509_STORE_CTX_cleanup(s->ctx);
        ret = store_run(s);
        if (ret == -2) {
            nret = cc_fail(L, "store.verify", "cannot apply options (invalid policy OID?)");
            goto cleanup;
        }
    }
    if (ret < 0) {
        nret = cc_fail(L, "store.verify", "cannot set up verification");
        goto cleanup;
    }
    ERR_clear_error();
    store_push_result(L, s, s->ctx, &s->rec,
                      ret == 1 && s->rec.n == 0 && !s->rec.overflow, s->o.when);
    nret = 1;
cleanup:
    lua_pushcfunction(L, store_scratch_free);             /* frees now, not at GC */
    lua_pushvalue(L, 4);
    lua_call(L, 1, 0);
    return nret;
}

/* close / __close / __gc: frees the store and the intermediates once. */
static int store_close(lua_State *L)
{
    cc_store_box *b = store_box(L, 1);
    int i;
    X509_STORE_free(b->store);
    sk_X509_pop_free(b->inter, X509_free);
    for (i = 0; i < b->nsigs; i++)
        OPENSSL_free(b->sigs[i].spki);
    free(b->sigs);
    b->store = NULL;
    b->inter = NULL;
    b->sigs = NULL;
    b->nsigs = b->capsigs = 0;
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
    {"stats", store_stats}, {"crls", store_crls},
    {"verify", store_verify}, {"close", store_close}, {NULL, NULL}
};

/* store_facts(store): the store's facts table (its user value; see
 * clientcert.h). Internal to clientcert's Lua modules: read, never modify. */
static int store_facts(lua_State *L)
{
    store_box(L, 1);
    cc_getuservalue(L, 1);
    return 1;
}

/* Registers the class and the verification scratch type; sets new_store,
 * store_methods (the class's method table, which clientcert/init.lua extends
 * with the Lua-level methods), _store_c (a separate table of the C methods,
 * which those Lua methods call) and _store_facts in the module table at -1. */
int store_open(lua_State *L)
{
    if (!crlcheck_init())                      /* OpenSSL's default check_crl */
        return luaL_error(L, "clientcert.core: cannot set up CRL checking");
    cc_new_class(L, CC_STORE_MT, store_meta, store_methods);
    luaL_newmetatable(L, STORE_SCRATCH_MT);   /* M, mt */
    lua_pushcfunction(L, store_scratch_free);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, STORE_SCRATCH_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);                            /* M */
    lua_pushcfunction(L, store_new);          /* M, new_store */
    lua_setfield(L, -2, "new_store");         /* M */
    lua_newtable(L);                          /* M, raw: the C methods, for init.lua */
    luaL_setfuncs(L, store_methods, 0);
    lua_setfield(L, -2, "_store_c");          /* M */
    luaL_getmetatable(L, CC_STORE_MT);        /* M, mt */
    lua_getfield(L, -1, "__index");           /* M, mt, methods */
    lua_setfield(L, -3, "store_methods");     /* M, mt */
    lua_pop(L, 1);                            /* M */
    lua_pushcfunction(L, store_facts);
    lua_setfield(L, -2, "_store_facts");
    return 0;
}
