/* pkcs12.c: OpenSSL PKCS12 (its PKCS7 safes, PKCS12_SAFEBAG and PBE parameters)
 * read into clientcert.cert objects and a PEM key: parse_pkcs12. Every key
 * derivation the file asks for (MAC, encrypted safes, shrouded key bags) is read
 * and bounded before it runs: a hostile iteration count must not hang the caller. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

/* What parse_pkcs12 holds while it works, in a userdata whose __gc frees it, so
 * that a Lua error (out of memory while pushing a result) leaks nothing. Every
 * pointer is owned by the guard until it is moved out (set to NULL). */
#define P12_GUARD_MT "clientcert.pkcs12_guard"
typedef struct {
    PKCS12 *p12;              /* owns */
    EVP_PKEY *key;            /* owns */
    X509 *leaf;               /* owns one reference */
    STACK_OF(X509) *ca;       /* owns the stack and one reference per element */
    BIO *bio;                 /* owns (the key's PEM, in secure memory) */
} p12_guard;

/* The state of one walk over the safes (no Lua call happens during a walk). */
typedef struct {
    p12_guard *g;             /* the key and certificates go to g->key, g->ca */
    const char *pass;         /* the password the MAC accepted (NULL: none) */
    int passlen;
    long long work;           /* iterations derived so far (or planned, when not decrypting) */
    int decrypt;              /* 0: read the parameters only; 1: derive, decrypt, collect */
    int key_seen;             /* a key bag was met (only the first key is decrypted) */
    char err[200];            /* why the walk stopped */
} p12_walk;

static int p12_guard_gc(lua_State *L)
{
    p12_guard *g = (p12_guard *)luaL_checkudata(L, 1, P12_GUARD_MT);
    PKCS12_free(g->p12);
    EVP_PKEY_free(g->key);
    X509_free(g->leaf);
    sk_X509_pop_free(g->ca, X509_free);
    BIO_free(g->bio);
    memset(g, 0, sizeof(*g));
    return 0;
}

/* An iteration count as the work it costs: an absent or non-positive count is
 * one round (as OpenSSL runs it); a value beyond 64 bits is LLONG_MAX. */
static long long p12_count(const ASN1_INTEGER *a)
{
    int64_t v;
    if (a == NULL)
        return 1;
    if (!ASN1_INTEGER_get_int64(&v, a)) {
        ERR_clear_error();
        return ASN1_STRING_type(a) == V_ASN1_NEG_INTEGER ? 1 : LLONG_MAX;
    }
    return v < 1 ? 1 : (long long)v;
}

/* a * b, saturating at LLONG_MAX (both positive). */
static long long p12_mul(long long a, long long b)
{
    return a > LLONG_MAX / b ? LLONG_MAX : a * b;
}

/* Sets w->err to "<what>'s iteration count N exceeds ..." and returns 0. */
static int p12_too_many(p12_walk *w, const char *what, const char *kind, long long n)
{
    if (n == LLONG_MAX)
        snprintf(w->err, sizeof(w->err), "%s's %s above 2^63 exceeds the maximum %lld",
                 what, kind, (long long)CC_P12_MAX_ITER);
    else
        snprintf(w->err, sizeof(w->err), "%s's %s %lld exceeds the maximum %lld",
                 what, kind, n, (long long)CC_P12_MAX_ITER);
    return 0;
}

/* Adds n iterations to the walk's work; returns 0 (w->err set) beyond the file's budget. */
static int p12_spend(p12_walk *w, long long n)
{
    if (n > CC_P12_MAX_WORK - w->work) {
            snprintf(w->err, sizeof(w->err),
                 "the key derivations of the file need more than %lld iterations in all "
                 "(the maximum)", (long long)CC_P12_MAX_WORK);
        return 0;
    }
    w->work += n;
    return 1;
}

/* Reads the cost of the password-based encryption alg (PBES1 or PKCS#12 PBE:
 * the iteration count; PBES2: PBKDF2's iteration count or scrypt's N*r*p) and
 * checks it against CC_P12_MAX_ITER, then against the file's budget when spend
 * is set. what names the item in the error. Returns 1, or 0 with w->err set. */
static int p12_check_pbe(p12_walk *w, const X509_ALGOR *alg, const char *what, int spend)
{
    const ASN1_OBJECT *oid = NULL;                       /* borrowed */
    int ok = 0;
    long long cost = 1;
    const char *kind = "PBE iteration count";
    PBE2PARAM *pbe2 = NULL;                              /* owns */
    PBKDF2PARAM *kdf = NULL;                             /* owns */
    SCRYPT_PARAMS *sp = NULL;                            /* owns */
    PBEPARAM *pbe = NULL;                                /* owns */

    if (alg == NULL)
        goto unreadable;
    X509_ALGOR_get0(&oid, NULL, NULL, alg);
    if (OBJ_obj2nid(oid) == NID_pbes2) {
        const ASN1_OBJECT *koid = NULL;                  /* borrowed */
        pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        if (pbe2 == NULL || pbe2->keyfunc == NULL)
            goto unreadable;
        X509_ALGOR_get0(&koid, NULL, NULL, pbe2->keyfunc);
        if (OBJ_obj2nid(koid) == NID_id_pbkdf2) {
            kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
            if (kdf == NULL)
                goto unreadable;
            kind = "PBKDF2 iteration count";
            cost = p12_count(kdf->iter);
        } else if (OBJ_obj2nid(koid) == NID_id_scrypt) {
            sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS), pbe2->keyfunc->parameter);
            if (sp == NULL)
                goto unreadable;
            kind = "scrypt cost N*r*p";
            cost = p12_mul(p12_mul(p12_count(sp->costParameter), p12_count(sp->blockSize)),
                           p12_count(sp->parallelizationParameter));
        } else {
            goto unreadable;                             /* no other KDF exists for PBES2 */
        }
    } else {                                             /* PBES1 and PKCS#12 PBE: PBEParameter */
        pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
        if (pbe == NULL)
            goto unreadable;
        cost = p12_count(pbe->iter);
    }
    if (cost > CC_P12_MAX_ITER)
        ok = p12_too_many(w, what, kind, cost);
    else
        ok = spend ? p12_spend(w, cost) : 1;
    goto cleanup;
unreadable:
    snprintf(w->err, sizeof(w->err), "cannot decrypt the PKCS#12 contents: unreadable "
             "password-based encryption parameters of %s", what);
cleanup:
    ERR_clear_error();
    PBE2PARAM_free(pbe2);
    PBKDF2PARAM_free(kdf);
    SCRYPT_PARAMS_free(sp);
    PBEPARAM_free(pbe);
    return ok;
}

/* Sets w->err to "cannot decrypt the PKCS#12 contents" (with OpenSSL's reason) and returns 0. */
static int p12_cannot(p12_walk *w)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(w->err, sizeof(w->err), "cannot decrypt the PKCS#12 contents%s%s",
             reason ? ": " : "", reason ? reason : "");
    ERR_clear_error();
    return 0;
}

/* Walks a list of bags: checks every shrouded key bag's parameters; when
 * decrypting, reads the first key (plain or shrouded) into g->key and every
 * X.509 certificate, in order, into g->ca. Returns 1, or 0 with w->err set. */
static int p12_walk_bags(p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, int depth)
{
    int i;

    if (depth > CC_P12_MAX_DEPTH) {
            snprintf(w->err, sizeof(w->err), "safe contents nested more than %d deep", CC_P12_MAX_DEPTH);
        return 0;
    }
    for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i); /* borrowed */
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag:
            if (w->decrypt && !w->key_seen) {
                w->g->key = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag)); /* owns */
                if (w->g->key == NULL)
                    return p12_cannot(w);
            }
            w->key_seen = 1;
            break;
        case NID_pkcs8ShroudedKeyBag: {
            const X509_ALGOR *alg = NULL;                /* borrowed */
            int first = !w->key_seen;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            if (!p12_check_pbe(w, alg, "a shrouded key bag", first))
                return 0;
            w->key_seen = 1;
            if (w->decrypt && first) {
                PKCS8_PRIV_KEY_INFO *p8 = PKCS12_decrypt_skey(bag, w->pass, w->passlen); /* owns */
                if (p8 == NULL)
                    return p12_cannot(w);
                w->g->key = EVP_PKCS82PKEY(p8);          /* owns */
                PKCS8_PRIV_KEY_INFO_free(p8);
                if (w->g->key == NULL)
                    return p12_cannot(w);
            }
            break;
        }
        case NID_certBag:
            if (w->decrypt && PKCS12_SAFEBAG_get_bag_nid(bag) == NID_x509Certificate) {
                X509 *x = PKCS12_SAFEBAG_get1_cert(bag); /* owns */
                if (x == NULL)
                    return p12_cannot(w);
                if (!sk_X509_push(w->g->ca, x)) {        /* the stack owns it from here */
                    X509_free(x);
                    return p12_cannot(w);
                }
            }
            break;
        case NID_safeContentsBag:
            if (!p12_walk_bags(w, PKCS12_SAFEBAG_get0_safes(bag), depth + 1))
                return 0;
            break;
        default:                                         /* CRL, secret and other bags: ignored */
            break;
        }
    }
    return 1;
}

/* Walks the file's safes (PKCS7 data and encryptedData; others are ignored, as
 * PKCS12_parse does). Not decrypting, it reads and bounds every parameter it can
 * see without a key derivation, planning the work of a decrypting walk in
 * w->work; decrypting, it checks again (the bags of an encrypted safe are seen
 * only now) and collects. Returns 1, or 0 with w->err set. */
static int p12_walk_safes(p12_walk *w, const PKCS12 *p12)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);   /* owns */
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;                   /* owns */
    int i, ok = 0;

    if (safes == NULL) {
        p12_cannot(w);
        goto cleanup;
    }
    for (i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);                /* borrowed */
        int nid = OBJ_obj2nid(p7->type);
        if (nid == NID_pkcs7_data) {
            bags = PKCS12_unpack_p7data(p7);
        } else if (nid == NID_pkcs7_encrypted) {
            const X509_ALGOR *alg = p7->d.encrypted != NULL && p7->d.encrypted->enc_data != NULL
                ? p7->d.encrypted->enc_data->algorithm : NULL;
            if (!p12_check_pbe(w, alg, "an encrypted safe", 1))
                goto cleanup;
            if (!w->decrypt)
                continue;
            bags = PKCS12_unpack_p7encdata(p7, w->pass, w->passlen);
        } else {
            continue;
        }
        if (bags == NULL) {
            p12_cannot(w);
            goto cleanup;
        }
        if (!p12_walk_bags(w, bags, 0))
            goto cleanup;
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        bags = NULL;
    }
    ok = 1;
cleanup:
    sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    ERR_clear_error();
    return ok;
}

/* Verifies the MAC (when the file has one) and chooses the password that opens
 * the contents: without a password (nil or ""), none then the empty one, as
 * PKCS12_parse does. Counts the derivations in w->work. Returns 1, or 0 with
 * w->err set. */
static int p12_check_mac(p12_walk *w, PKCS12 *p12, long long iter)
{
    if (!PKCS12_mac_present(p12))
        return 1;
    if (w->pass != NULL && w->passlen > 0) {
        w->work += iter;
        if (PKCS12_verify_mac(p12, w->pass, w->passlen))
            return 1;
    } else {
        w->work += iter;
        if (PKCS12_verify_mac(p12, NULL, 0)) {
            w->pass = NULL;
            return 1;
        }
        w->work += iter;
        if (PKCS12_verify_mac(p12, "", 0)) {
            w->pass = "";
            return 1;
        }
    }
    snprintf(w->err, sizeof(w->err), "wrong or missing password (the PKCS#12 integrity check failed)");
    return 0;
}

/* Pushes nil, "clientcert.parse_pkcs12: <w->err>" and returns 2. */
static int p12_fail(lua_State *L, const p12_walk *w)
{
    return cc_fail_plain(L, "parse_pkcs12", w->err);
}

/* parse_pkcs12(data[, password]) -> {cert = clientcert.cert, chain = {cert, ...},
 * key = PEM text | nil}, or nil, err. data: a DER PKCS#12 (.p12/.pfx) file;
 * password: absent, nil or "" tries no password and the empty one. cert is the
 * certificate of the private key when the file holds one, else the first
 * certificate that is not a CA (else the first); chain: the other certificates
 * in file order; key: that private key as unencrypted PKCS#8 PEM. Errors:
 * "not a PKCS#12 file", "wrong or missing password (the PKCS#12 integrity check failed)",
 * "... iteration count N exceeds the maximum 10000000" (any one key derivation,
 * read before any runs), "the key derivations of the file need more than ...",
 * "cannot decrypt ..." (e.g. a legacy algorithm OpenSSL's default provider
 * lacks), "no certificate in the PKCS#12 file". */
static int p12_parse(lua_State *L)
{
    size_t len, passlen = 0;
    const char *data = cc_checkbytes(L, 1, &len);
    const unsigned char *p = (const unsigned char *)data;
    const ASN1_INTEGER *maciter = NULL;                   /* borrowed from g->p12 */
    long long mac = 0;
    p12_guard *g;
    p12_walk w;
    BUF_MEM *mem = NULL;                                  /* borrowed from g->bio */
    int i, n, pick = -1;

    memset(&w, 0, sizeof(w));
    if (!lua_isnoneornil(L, 2)) {
        w.pass = cc_checkbytes(L, 2, &passlen);
        if (strlen(w.pass) != passlen)
            return cc_fail_plain(L, "parse_pkcs12", "the password holds a NUL byte");
        if (passlen > INT_MAX)
            return cc_fail_plain(L, "parse_pkcs12", "password too long");
        w.passlen = (int)passlen;
    }
    if (len == 0)
        return cc_fail_plain(L, "parse_pkcs12", "empty input");
    if (len > (size_t)CC_MAX_INPUT)
        return cc_fail_plain(L, "parse_pkcs12", "input larger than 64 MiB");
    g = (p12_guard *)cc_newuserdata(L, sizeof(*g));      /* guard first: nothing can leak */
    memset(g, 0, sizeof(*g));
    luaL_setmetatable(L, P12_GUARD_MT);
    w.g = g;
    ERR_clear_error();
    g->p12 = d2i_PKCS12(NULL, &p, (long)len);            /* owns */
    if (g->p12 == NULL)
        return cc_fail_plain(L, "parse_pkcs12", "not a PKCS#12 file");
    if (p != (const unsigned char *)data + len)
        return cc_fail_plain(L, "parse_pkcs12", "trailing data after the PKCS#12 structure");
    /* 1. read every cost visible without a key derivation: the MAC's, the
     * encrypted safes', the shrouded key bags' of the plain safes */
    if (PKCS12_mac_present(g->p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &maciter, g->p12);
        mac = p12_count(maciter);
        if (mac > CC_P12_MAX_ITER) {
            p12_too_many(&w, "the MAC", "iteration count", mac);
            return p12_fail(L, &w);
        }
        w.work = w.pass != NULL && w.passlen > 0 ? mac : 2 * mac;
    }
    if (!p12_walk_safes(&w, g->p12))
        return p12_fail(L, &w);
    /* 2. derive: the MAC, then each safe and the key, counting again */
    w.work = 0;
    w.key_seen = 0;
    w.decrypt = 1;
    if (!p12_check_mac(&w, g->p12, mac))
        return p12_fail(L, &w);
    g->ca = sk_X509_new_null();                          /* owns */
    if (g->ca == NULL)
        return cc_fail(L, "parse_pkcs12", "out of memory");
    if (!p12_walk_safes(&w, g->p12))
        return p12_fail(L, &w);
    n = sk_X509_num(g->ca);
    for (i = 0; i < n && g->key != NULL && pick < 0; i++) { /* the certificate of the key */
        ERR_set_mark();
        if (X509_check_private_key(sk_X509_value(g->ca, i), g->key) == 1)
            pick = i;
        ERR_pop_to_mark();
    }
    for (i = 0; i < n && pick < 0; i++)                  /* else the first that is not a CA */
        if (X509_check_ca(sk_X509_value(g->ca, i)) == 0)
            pick = i;
    if (n == 0)
        return cc_fail_plain(L, "parse_pkcs12", "no certificate in the PKCS#12 file");
    g->leaf = sk_X509_delete(g->ca, pick < 0 ? 0 : pick); /* the guard's reference moves */
    n--;
    lua_createtable(L, 0, 3);                            /* guard, t */
    cert_newbox(L)->x = g->leaf;                         /* the box owns the reference now */
    g->leaf = NULL;
    lua_setfield(L, -2, "cert");
    lua_createtable(L, n, 0);                            /* guard, t, chain */
    for (i = 0; i < n; i++) {
        cc_cert_box *b = cert_newbox(L);                 /* box first, then move the reference */
        b->x = sk_X509_value(g->ca, i);
        sk_X509_set(g->ca, i, NULL);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "chain");                        /* guard, t */
    if (g->key != NULL) {
        g->bio = BIO_new(BIO_s_secmem());
        if (g->bio == NULL || !PEM_write_bio_PrivateKey(g->bio, g->key, NULL, NULL, 0, NULL, NULL))
            return cc_fail(L, "parse_pkcs12", "cannot encode the private key");
        BIO_get_mem_ptr(g->bio, &mem);
        lua_pushlstring(L, mem->data, mem->length);
        lua_setfield(L, -2, "key");
    }
    ERR_clear_error();
    return 1;                                            /* the guard is freed by its __gc */
}

/* Registers the guard's metatable and sets parse_pkcs12 in the module table at -1. */
int pkcs12_open(lua_State *L)
{
    luaL_newmetatable(L, P12_GUARD_MT);       /* M, mt */
    lua_pushcfunction(L, p12_guard_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, P12_GUARD_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);                            /* M */
    lua_pushcfunction(L, p12_parse);
    lua_setfield(L, -2, "parse_pkcs12");      /* M */
    return 0;
}
