/* crl.c: OpenSSL X509_CRL as the Lua class clientcert.crl.
 * parse_crl reads one CRL (PEM or DER); crl:info() reports issuer, dates and
 * entry count; crl:lookup(cert) finds a certificate's revocation entry. */
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

static const char *const crl_reasons[] = {
    "unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
    "superseded", "cessationOfOperation", "certificateHold", "unspecified",
    "removeFromCRL", "privilegeWithdrawn", "aACompromise"
};

const char *crl_reason_name(int code)
{
    if (code < 0 || code >= (int)(sizeof(crl_reasons) / sizeof(crl_reasons[0])))
        return "unspecified";
    return crl_reasons[code];
}

static cc_crl_box *crl_box(lua_State *L, int idx)
{
    return (cc_crl_box *)luaL_checkudata(L, idx, CC_CRL_MT);
}

X509_CRL *crl_check(lua_State *L, int idx)
{
    cc_crl_box *b = crl_box(L, idx);
    if (b->crl == NULL)
        luaL_error(L, "clientcert.crl: object is closed");
    return b->crl; /* borrowed */
}

/* parse_crl(data): pushes a clientcert.crl, or nil, err. */
static int crl_parse(lua_State *L)
{
    size_t len;
    const char *data = cc_checkbytes(L, 1, &len);
    cc_crl_box *b;
    BIO *bio;

    if (len == 0)
        return cc_fail_plain(L, "parse_crl", "empty input");
    if (len > (size_t)CC_MAX_INPUT)
        return cc_fail_plain(L, "parse_crl", "input larger than 64 MiB");
    b = (cc_crl_box *)cc_newuserdata(L, sizeof(*b)); /* box first: __gc finds NULL */
    b->crl = NULL;
    luaL_setmetatable(L, CC_CRL_MT);
    ERR_clear_error();
    if (cc_is_pem(data, len)) {
        bio = BIO_new_mem_buf(data, (int)len);       /* owns */
        if (bio == NULL)
            return cc_fail(L, "parse_crl", "out of memory");
        b->crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL); /* owns */
        BIO_free(bio);                               /* before anything is pushed */
        if (b->crl == NULL) {
            unsigned long e = ERR_peek_last_error();
            return (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                ? cc_fail_plain(L, "parse_crl", "no CRL found in input")
                : cc_fail(L, "parse_crl", "invalid PEM CRL");
        }
    } else {
        const unsigned char *p = (const unsigned char *)data;
        b->crl = d2i_X509_CRL(NULL, &p, (long)len); /* owns */
        if (b->crl == NULL)
            return cc_fail(L, "parse_crl", "invalid DER CRL");
        if (p != (const unsigned char *)data + len) {
            X509_CRL_free(b->crl);
            b->crl = NULL;
            return cc_fail_plain(L, "parse_crl", "trailing data after DER CRL");
        }
    }
    ERR_clear_error();
    return 1; /* the box */
}

static void crl_free_integer(void *p)
{
    ASN1_INTEGER_free((ASN1_INTEGER *)p);
}

/* crl:info(): issuer, issuer_fields, last_update, next_update (nil when
 * absent), count, signature_algorithm, crl_number (hex, nil when absent). */
static int crl_info(lua_State *L)
{
    X509_CRL *crl = crl_check(L, 1);
    const ASN1_TIME *t;
    long long secs;
    cc_tmp *tmp;
    ASN1_INTEGER *num;
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl); /* borrowed */

    tmp = cc_newtmp(L, crl_free_integer);                   /* tmp: the CRL number */
    lua_createtable(L, 0, 8);                               /* tmp, info */
    cc_push_name_string(L, X509_CRL_get_issuer(crl));
    lua_setfield(L, -2, "issuer");
    cc_push_name_fields(L, X509_CRL_get_issuer(crl));
    lua_setfield(L, -2, "issuer_fields");
    t = X509_CRL_get0_lastUpdate(crl);
    if (t != NULL && cc_asn1_time_to_unix(t, &secs) == 0) {
        lua_pushinteger(L, (lua_Integer)secs);
        lua_setfield(L, -2, "last_update");
    }
    t = X509_CRL_get0_nextUpdate(crl);
    if (t != NULL && cc_asn1_time_to_unix(t, &secs) == 0) {
        lua_pushinteger(L, (lua_Integer)secs);
        lua_setfield(L, -2, "next_update");
    }
    lua_pushinteger(L, revs ? sk_X509_REVOKED_num(revs) : 0);
    lua_setfield(L, -2, "count");
    lua_pushstring(L, OBJ_nid2ln(X509_CRL_get_signature_nid(crl)));
    lua_setfield(L, -2, "signature_algorithm");
    tmp->p = num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL); /* owns, through tmp */
    if (num != NULL) {
        cc_push_serial(L, num);
        lua_setfield(L, -2, "crl_number");
    }
    cc_tmp_free(tmp);
    ERR_clear_error();
    return 1;                                               /* info */
}

/* crl:lookup(cert): pushes {serial, revoked_at, reason} when the CRL lists
 * the certificate (matching issuer name and serial), else false. */
static int crl_lookup(lua_State *L)
{
    X509_CRL *crl = crl_check(L, 1);
    X509 *x = cert_check(L, 2);
    X509_REVOKED *rev = NULL; /* borrowed from crl */
    ASN1_ENUMERATED *reason;
    const char *name;
    long long secs;

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) != 0
        || X509_CRL_get0_by_cert(crl, &rev, x) != 1 || rev == NULL) {
        ERR_clear_error();
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_createtable(L, 0, 3);
    cc_push_serial(L, X509_REVOKED_get0_serialNumber(rev));
    lua_setfield(L, -2, "serial");
    if (cc_asn1_time_to_unix(X509_REVOKED_get0_revocationDate(rev), &secs) == 0) {
        lua_pushinteger(L, (lua_Integer)secs);
        lua_setfield(L, -2, "revoked_at");
    }
    reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL); /* owns */
    name = crl_reason_name(reason ? (int)ASN1_ENUMERATED_get(reason) : 0);
    ASN1_ENUMERATED_free(reason);                           /* before the push (a raise) */
    lua_pushstring(L, name);
    lua_setfield(L, -2, "reason");
    ERR_clear_error();
    return 1;
}

/* crl:der() -> DER bytes, encoded into Lua memory (nothing to free on a raise). */
static int crl_der(lua_State *L)
{
    X509_CRL *crl = crl_check(L, 1);
    unsigned char *buf, *p;
    int n;

    ERR_clear_error();
    n = i2d_X509_CRL(crl, NULL);
    if (n <= 0)
        return cc_fail(L, "crl.der", "cannot encode CRL");
    buf = p = (unsigned char *)cc_newuserdata(L, (size_t)n); /* ud */
    if (i2d_X509_CRL(crl, &p) != n)
        return cc_fail(L, "crl.der", "cannot encode CRL");
    lua_pushlstring(L, (const char *)buf, (size_t)n);       /* ud, der */
    return 1;
}

/* crl:pem() -> PEM text. */
static int crl_pem(lua_State *L)
{
    X509_CRL *crl = crl_check(L, 1);
    cc_tmp *tmp;
    BIO *bio;                                               /* owns, through tmp */
    BUF_MEM *mem;

    ERR_clear_error();
    tmp = cc_newtmp(L, cc_free_bio);                        /* tmp */
    tmp->p = bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509_CRL(bio, crl))
        return cc_fail(L, "crl.pem", "cannot encode CRL");
    BIO_get_mem_ptr(bio, &mem);
    lua_pushlstring(L, mem->data, mem->length);             /* tmp, pem */
    cc_tmp_free(tmp);
    return 1;
}

/* close / __close / __gc: frees the CRL once. */
static int crl_close(lua_State *L)
{
    cc_crl_box *b = crl_box(L, 1);
    X509_CRL_free(b->crl);
    b->crl = NULL;
    return 0;
}

static int crl_tostring(lua_State *L)
{
    cc_crl_box *b = crl_box(L, 1);
    if (b->crl == NULL) {
        lua_pushliteral(L, "clientcert.crl (closed)");
        return 1;
    }
    lua_pushliteral(L, "clientcert.crl: ");
    cc_push_name_string(L, X509_CRL_get_issuer(b->crl));
    lua_concat(L, 2);
    return 1;
}

static const luaL_Reg crl_meta[] = {
    {"__gc", crl_close}, {"__close", crl_close}, {"__tostring", crl_tostring},
    {NULL, NULL}
};

static const luaL_Reg crl_methods[] = {
    {"info", crl_info}, {"lookup", crl_lookup}, {"der", crl_der},
    {"pem", crl_pem}, {"close", crl_close}, {NULL, NULL}
};

int crl_open(lua_State *L)
{
    cc_new_class(L, CC_CRL_MT, crl_meta, crl_methods);
    lua_pushcfunction(L, crl_parse);          /* M, parse_crl */
    lua_setfield(L, -2, "parse_crl");         /* M */
    return 0;
}
