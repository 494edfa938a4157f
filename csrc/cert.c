/* cert.c: OpenSSL X509 (with GENERAL_NAMES, EXTENDED_KEY_USAGE, EVP_PKEY and
 * OSSL_DECODER for keys) as the Lua class clientcert.cert. parse / parse_all
 * read PEM (with X509_AUX trust settings) or DER (parse_all: bundle.c); info() reports the
 * certificate's facts as plain Lua values. */
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <openssl/decoder.h>
#include "clientcert.h"

/* The box at idx (raises unless a clientcert.cert, open or closed). */
static cc_cert_box *cert_box(lua_State *L, int idx)
{
    return (cc_cert_box *)luaL_checkudata(L, idx, CC_CERT_MT);
}

/* Pushes an empty box (x = NULL) with the class metatable. */
cc_cert_box *cert_newbox(lua_State *L)
{
    cc_cert_box *b = (cc_cert_box *)cc_newuserdata(L, sizeof(*b));
    b->x = NULL;
    luaL_setmetatable(L, CC_CERT_MT);
    return b;
}

/* Pushes a clientcert.cert holding x; the box owns the caller's reference. */
void cert_push(lua_State *L, X509 *x)
{
    cert_newbox(L)->x = x; /* owns */
}

/* The live X509 at idx; raises on a wrong type or a closed object. */
X509 *cert_check(lua_State *L, int idx)
{
    cc_cert_box *b = cert_box(L, idx);
    if (b->x == NULL)
        luaL_error(L, "clientcert.cert: object is closed");
    return b->x; /* borrowed */
}

/* The live X509 at idx, or NULL (not a clientcert.cert, or closed). */
X509 *cert_test(lua_State *L, int idx)
{
    cc_cert_box *b = (cc_cert_box *)luaL_testudata(L, idx, CC_CERT_MT);
    return b ? b->x : NULL; /* borrowed */
}

/* PEM passphrase callback that never prompts: an encrypted PEM block from a
 * peer must fail, not wait on the terminal (PEM_def_callback would prompt). */
int cert_no_pass_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* Was the PEM read stopped by the end of input rather than a bad block? */
static int cert_pem_at_end(void)
{
    unsigned long e = ERR_peek_last_error();
    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

/* Reads one DER certificate that must span the whole input. */
static X509 *cert_d2i_exact(const char *data, size_t len, const char **what)
{
    const unsigned char *p = (const unsigned char *)data;
    X509 *x = d2i_X509(NULL, &p, (long)len); /* owns */
    if (x == NULL) {
        *what = "invalid DER certificate";
        return NULL;
    }
    if (p != (const unsigned char *)data + len) {
        X509_free(x);
        *what = "trailing data after DER certificate";
        return NULL;
    }
    return x;
}

/* Refuses empty and oversized inputs: pushes nil, err and returns 2, else 0. */
static int cert_check_input(lua_State *L, const char *where, size_t len)
{
    if (len == 0)
        return cc_fail_plain(L, where, "empty input");
    if (len > (size_t)CC_MAX_INPUT)
        return cc_fail_plain(L, where, "input larger than 64 MiB");
    return 0;
}

/* parse(data): pushes one clientcert.cert (the first of a PEM bundle, whose blocks must all be
 * complete), or nil, err. */
static int cert_parse(lua_State *L)
{
    size_t len;
    const char *data = cc_checkbytes(L, 1, &len);
    const char *what = NULL;
    cc_cert_box *b;
    BIO *bio;
    int nret;

    if ((nret = cert_check_input(L, "parse", len)) != 0)
        return nret;
    b = cert_newbox(L); /* box first: __gc finds NULL on any failure */
    ERR_clear_error();
    if (!cc_is_pem(data, len)) {
        b->x = cert_d2i_exact(data, len, &what); /* owns */
        return b->x ? 1 : cc_fail(L, "parse", what);
    }
    if (cc_pem_truncated(L, data, len))    /* a cut block anywhere: a file being written */
        return cc_fail_plain(L, "parse", lua_tostring(L, -1));
    bio = BIO_new_mem_buf(data, (int)len);               /* owns */
    if (bio == NULL)
        return cc_fail(L, "parse", "out of memory");
    b->x = PEM_read_bio_X509_AUX(bio, NULL, cert_no_pass_cb, NULL); /* owns; skips other blocks */
    BIO_free(bio);                                       /* before anything is pushed */
    if (b->x == NULL)
        return cert_pem_at_end() ? cc_fail_plain(L, "parse", "no certificate found in input")
                                 : cc_fail(L, "parse", "invalid PEM certificate");
    ERR_clear_error();
    return 1;
}

/* Pushes prefix and the hex of n bytes (digits: "0123456789abcdef" or upper case). */
static void cert_push_hex(lua_State *L, const char *prefix, const unsigned char *p, size_t n,
                          const char *digits)
{
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, prefix);
    for (i = 0; i < n; i++) {
        luaL_addchar(&b, digits[p[i] >> 4]);
        luaL_addchar(&b, digits[p[i] & 15]);
    }
    luaL_pushresult(&b);
}

/* Pushes the lowercase hex digest of the DER and returns 0; pushes nothing and
 * returns -1 for an unknown alg, -2 when OpenSSL fails. */
int cert_push_digest(lua_State *L, X509 *x, const char *alg)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned char *der = NULL;
    unsigned int n = 0;
    int len, ok;
    const EVP_MD *type = cc_digest(L, alg);              /* borrowed */

    if (type == NULL)
        return -1;
    /* the digest of the DER (what X509_digest computes, without its lookups) */
    len = i2d_X509(x, &der);
    ok = len > 0 && EVP_Digest(der, (size_t)len, md, &n, type, NULL);
    OPENSSL_free(der);
    if (!ok) {
        ERR_clear_error();
        return -2;
    }
    cert_push_hex(L, "", md, n, "0123456789abcdef");
    return 0;
}

/* Sets info[k] to the time as integer Unix seconds; leaves it nil when unreadable. */
static void cert_set_time(lua_State *L, const ASN1_TIME *t, const char *k)
{
    long long secs;
    if (cc_asn1_time_to_unix(t, &secs) == 0) {
        lua_pushinteger(L, (lua_Integer)secs);
        lua_setfield(L, -2, k);
    }
}

/* Facts computed once per certificate object (issue 9 item 4): a weak-keyed
 * registry table maps each clientcert.cert (its box) to a plain table
 * {fingerprint =, subject =, issuer =, self_signed =}, each fact filled when it
 * is first needed; the entry goes with the object. The address of
 * cert_facts_key is the registry key. A certificate's bytes never change after
 * parsing (nothing in clientcert modifies an X509), so a fact never goes stale. */
static const char cert_facts_key = 'F';

void cert_push_facts(lua_State *L, int idx)
{
    lua_pushlightuserdata(L, (void *)&cert_facts_key);
    lua_rawget(L, LUA_REGISTRYINDEX);                 /* weak */
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);                                /* weak, facts or nil */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);                                /* weak */
        lua_createtable(L, 0, 4);                     /* weak, facts */
        lua_pushvalue(L, idx);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);                            /* weak[box] = facts */
    }
    lua_remove(L, -2);                                /* facts */
}

/* Pushes facts[k] when it is a string (fidx: absolute index of a facts table,
 * 0 for none) and returns 1; else pushes nothing and returns 0. */
static int cert_fact(lua_State *L, int fidx, const char *k, int type)
{
    if (fidx == 0)
        return 0;
    lua_pushstring(L, k);
    lua_rawget(L, fidx);
    if (lua_type(L, -1) == type)
        return 1;
    lua_pop(L, 1);
    return 0;
}

/* facts[k] = the value at -1 (left on the stack), when fidx is not 0. */
static void cert_keep_fact(lua_State *L, int fidx, const char *k)
{
    if (fidx == 0)
        return;
    lua_pushstring(L, k);
    lua_pushvalue(L, -2);
    lua_rawset(L, fidx);
}

/* Pushes x's name (subject or issuer) as a string, from the facts when known. */
static void cert_push_name_fact(lua_State *L, int fidx, const char *k, const X509_NAME *nm)
{
    if (cert_fact(L, fidx, k, LUA_TSTRING))
        return;
    cc_push_name_string(L, nm);
    cert_keep_fact(L, fidx, k);
}

/* Pushes x's SHA-256 fingerprint (lowercase hex) from the facts, computing and
 * keeping it when unknown; returns cert_push_digest's code (0: pushed). */
static int cert_push_fingerprint_fact(lua_State *L, X509 *x, int fidx)
{
    int r;
    if (cert_fact(L, fidx, "fingerprint", LUA_TSTRING))
        return 0;
    r = cert_push_digest(L, x, "SHA256");
    if (r == 0)
        cert_keep_fact(L, fidx, "fingerprint");
    return r;
}

/* Sets t[k] (t at -1) to the lowercase hex of a key identifier (the SKID, or the
 * keyIdentifier of the AKID); leaves it nil when absent or empty. Hex only, so
 * nothing a peer put there reaches a log or a terminal as it is. */
static void cert_push_keyid(lua_State *L, const ASN1_OCTET_STRING *id, const char *k)
{
    if (id == NULL || ASN1_STRING_length(id) <= 0)
        return;
    cert_push_hex(L, "", ASN1_STRING_get0_data(id), (size_t)ASN1_STRING_length(id), "0123456789abcdef");
    lua_setfield(L, -2, k);
}

/* Pushes a new table with the facts a certification-path element shows:
 * subject, issuer, serial, not_before, not_after, fingerprint, self_signed, is_ca,
 * subject_key_id and authority_key_id (hex, when present). self_signed: 0 or 1 when the caller already knows it (a trust anchor's fact
 * kept by the store), -1 to compute it (a signature check). fidx: absolute
 * index of x's facts table (cert_push_facts, or the store's for its own
 * certificates), whose facts are used and completed; 0 for none. */
void cert_push_summary(lua_State *L, X509 *x, int self_signed, int fidx)
{
    uint32_t flags = X509_get_extension_flags(x);     /* also caches extensions */

    lua_createtable(L, 0, 16);
    cert_push_name_fact(L, fidx, "subject", X509_get_subject_name(x));
    lua_setfield(L, -2, "subject");
    cert_push_name_fact(L, fidx, "issuer", X509_get_issuer_name(x));
    lua_setfield(L, -2, "issuer");
    cc_push_serial(L, X509_get0_serialNumber(x));
    lua_setfield(L, -2, "serial");
    cert_set_time(L, X509_get0_notBefore(x), "not_before");
    cert_set_time(L, X509_get0_notAfter(x), "not_after");
    if (cert_push_fingerprint_fact(L, x, fidx) == 0)
        lua_setfield(L, -2, "fingerprint");
    /* self_signed: names match (and AKID/SKID when present) AND its own key verifies its signature */
    if (self_signed >= 0)
        lua_pushboolean(L, self_signed);
    else if (!cert_fact(L, fidx, "self_signed", LUA_TBOOLEAN)) {
        lua_pushboolean(L, X509_self_signed(x, 1) == 1);
        cert_keep_fact(L, fidx, "self_signed");
    }
    lua_setfield(L, -2, "self_signed");
    lua_pushboolean(L, (flags & EXFLAG_CA) != 0);
    lua_setfield(L, -2, "is_ca");
    cert_push_keyid(L, X509_get0_subject_key_id(x), "subject_key_id");        /* borrowed */
    cert_push_keyid(L, X509_get0_authority_key_id(x), "authority_key_id");    /* borrowed */
    ERR_clear_error();
}

/* Pushes "#" and the uppercase hex of the DER of val (an it, e.g. ASN1_ANY or
 * GENERAL_NAME): RFC 4514's form for a value that is not text; "#" alone if it
 * cannot be encoded. A temporary box holds the DER while it is pushed. */
static void cert_push_der_hex(lua_State *L, const void *val, const ASN1_ITEM *it)
{
    cc_tmp *tmp = cc_newtmp(L, cc_free_openssl);                /* tmp */
    unsigned char *der = NULL;                                  /* owns, through tmp */
    int n = ASN1_item_i2d((const ASN1_VALUE *)val, &der, it);
    tmp->p = der;
    if (n > 0)
        cert_push_hex(L, "#", der, (size_t)n, "0123456789ABCDEF");
    else
        lua_pushliteral(L, "#");                                /* tmp, value */
    cc_tmp_free(tmp);
    lua_remove(L, -2);                                          /* value */
    ERR_clear_error();
}

/* Pushes s as UTF-8 and returns 1, or nothing and 0 when it is not text. */
static int cert_push_text(lua_State *L, const ASN1_STRING *s)
{
    cc_tmp *tmp = cc_newtmp(L, cc_free_openssl);                /* tmp */
    int ok = cc_push_utf8(L, s, tmp);                           /* tmp[, value] */
    lua_remove(L, ok ? -2 : -1);
    return ok;
}

/* Pushes the value of an otherName: UTF-8 text when it is a character
 * string (UPN, SRVName ...), else "#" + the hex of its DER. */
static void cert_push_othername_value(lua_State *L, const ASN1_TYPE *v)
{
    if (v == NULL) {
        lua_pushliteral(L, "");
        return;
    }
    switch (v->type) {
    case V_ASN1_UTF8STRING: case V_ASN1_IA5STRING: case V_ASN1_PRINTABLESTRING:
    case V_ASN1_VISIBLESTRING: case V_ASN1_NUMERICSTRING: case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING: case V_ASN1_T61STRING:
        if (cert_push_text(L, v->value.asn1_string))            /* NUL bytes kept */
            return;
        break;
    default:
        break;
    }
    cert_push_der_hex(L, v, ASN1_ITEM_rptr(ASN1_ANY));
}

/* Pushes one GENERAL_NAME as {type, value}; type "other" also carries kind
 * ("othername"|"x400"|"edi"|"rid") and, for othername and rid, oid. */
static void cert_push_general_name(lua_State *L, const GENERAL_NAME *g)
{
    const char *type = "other";

    lua_createtable(L, 0, 4);                                   /* e */
    switch (g->type) {
    case GEN_DNS:
    case GEN_EMAIL:
    case GEN_URI: {
        const ASN1_IA5STRING *s = g->d.ia5;
        type = g->type == GEN_DNS ? "dns" : g->type == GEN_EMAIL ? "email" : "uri";
        lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
        break;                                                  /* exact bytes, NUL kept */
    }
    case GEN_IPADD: {
        char buf[64];
        const ASN1_OCTET_STRING *ip = g->d.ip;
        int len = ASN1_STRING_length(ip);
        type = "ip";
        if ((len == 4 && inet_ntop(AF_INET, ASN1_STRING_get0_data(ip), buf, sizeof(buf)))
            || (len == 16 && inet_ntop(AF_INET6, ASN1_STRING_get0_data(ip), buf, sizeof(buf))))
            lua_pushstring(L, buf);
        else                                                    /* not an address: raw bytes */
            lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(ip), (size_t)(len > 0 ? len : 0));
        break;
    }
    case GEN_DIRNAME:
        type = "dirname";
        cc_push_name_string(L, g->d.directoryName);
        break;
    case GEN_RID:
        lua_pushliteral(L, "rid");
        lua_setfield(L, -2, "kind");
        cc_push_oid(L, g->d.registeredID, 1);                   /* e, oid */
        lua_pushvalue(L, -1);                                   /* e, oid, oid */
        lua_setfield(L, -3, "oid");                             /* e, oid (the value) */
        break;
    case GEN_OTHERNAME:
        lua_pushliteral(L, "othername");
        lua_setfield(L, -2, "kind");
        cc_push_oid(L, g->d.otherName->type_id, 1);             /* e, oid */
        lua_setfield(L, -2, "oid");                             /* e */
        cert_push_othername_value(L, g->d.otherName->value);
        break;
    case GEN_EDIPARTY: {
        const ASN1_STRING *party = g->d.ediPartyName->partyName;
        lua_pushliteral(L, "edi");
        lua_setfield(L, -2, "kind");
        if (party == NULL || !cert_push_text(L, party))         /* the partyName as text */
            cert_push_der_hex(L, g, ASN1_ITEM_rptr(GENERAL_NAME));
        break;
    }
    case GEN_X400:
        lua_pushliteral(L, "x400");
        lua_setfield(L, -2, "kind");
        cert_push_der_hex(L, g, ASN1_ITEM_rptr(GENERAL_NAME));
        break;
    default:
        lua_pushliteral(L, "");
        break;
    }
    lua_setfield(L, -2, "value");                               /* e */
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    ERR_clear_error();
}

/* Pushes the SAN list {{type = "dns"|"email"|"uri"|"ip"|"dirname"|"other", value}, ...};
 * sets *invalid when the extension is present but cannot be decoded. */
static void cert_free_gens(void *p)
{
    GENERAL_NAMES_free((GENERAL_NAMES *)p);
}

static void cert_push_san(lua_State *L, X509 *x, int *invalid)
{
    int crit = 0, i;
    cc_tmp *tmp;
    GENERAL_NAMES *gens;

    if (X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0) {
        lua_newtable(L);                                        /* san: none */
        return;
    }
    tmp = cc_newtmp(L, cert_free_gens);                         /* tmp */
    tmp->p = gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL); /* owns, through tmp */
    lua_newtable(L);                                            /* tmp, san */
    if (gens == NULL) {
        if (crit != -1)            /* -1: absent; -2: duplicated; else undecodable */
            *invalid = 1;
        ERR_clear_error();
    }
    for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        cert_push_general_name(L, sk_GENERAL_NAME_value(gens, i)); /* tmp, san, e */
        lua_rawseti(L, -2, i + 1);                              /* tmp, san */
    }
    cc_tmp_free(tmp);
    lua_remove(L, -2);                                          /* san */
}

/* Pushes the EKU list (short names such as "clientAuth", dotted OID when
 * unnamed); sets *invalid when the extension is present but undecodable. */
static void cert_free_eku(void *p)
{
    EXTENDED_KEY_USAGE_free((EXTENDED_KEY_USAGE *)p);
}

static void cert_push_eku(lua_State *L, X509 *x, int *invalid)
{
    int crit = 0, i;
    cc_tmp *tmp;
    EXTENDED_KEY_USAGE *eku;

    if (X509_get_ext_by_NID(x, NID_ext_key_usage, -1) < 0) {
        lua_newtable(L);                                        /* eku: none */
        return;
    }
    tmp = cc_newtmp(L, cert_free_eku);                          /* tmp */
    tmp->p = eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL); /* owns, through tmp */
    lua_newtable(L);                                            /* tmp, eku */
    if (eku == NULL) {
        if (crit != -1)
            *invalid = 1;
        ERR_clear_error();
    }
    for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
        cc_push_oid(L, sk_ASN1_OBJECT_value(eku, i), 0);        /* tmp, eku, name */
        lua_rawseti(L, -2, i + 1);                              /* tmp, eku */
    }
    cc_tmp_free(tmp);
    lua_remove(L, -2);                                          /* eku */
}

static const struct { uint32_t bit; const char *name; } cert_ku_names[] = {
    {KU_DIGITAL_SIGNATURE, "digitalSignature"}, {KU_NON_REPUDIATION, "nonRepudiation"},
    {KU_KEY_ENCIPHERMENT, "keyEncipherment"}, {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
    {KU_KEY_AGREEMENT, "keyAgreement"}, {KU_KEY_CERT_SIGN, "keyCertSign"},
    {KU_CRL_SIGN, "cRLSign"}, {KU_ENCIPHER_ONLY, "encipherOnly"},
    {KU_DECIPHER_ONLY, "decipherOnly"}, {0, NULL}
};

/* Pushes {type, bits, curve} of the public key; {type = "unknown"} when undecodable. */
static void cert_push_pubkey(lua_State *L, X509 *x)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);                 /* borrowed */
    lua_createtable(L, 0, 3);
    if (pk == NULL) {
        ERR_clear_error();
        lua_pushliteral(L, "unknown");
        lua_setfield(L, -2, "type");
        return;
    }
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA: lua_pushliteral(L, "RSA"); break;
    case EVP_PKEY_RSA_PSS: lua_pushliteral(L, "RSA-PSS"); break;
    case EVP_PKEY_EC: lua_pushliteral(L, "EC"); break;
    case EVP_PKEY_ED25519: lua_pushliteral(L, "Ed25519"); break;
    case EVP_PKEY_ED448: lua_pushliteral(L, "Ed448"); break;
    case EVP_PKEY_DSA: lua_pushliteral(L, "DSA"); break;
    case EVP_PKEY_X25519: lua_pushliteral(L, "X25519"); break;
    case EVP_PKEY_X448: lua_pushliteral(L, "X448"); break;
    default: {
        const char *name = EVP_PKEY_get0_type_name(pk);
        lua_pushstring(L, name ? name : "unknown");
    }
    }
    lua_setfield(L, -2, "type");
    if (EVP_PKEY_get_bits(pk) > 0) {
        lua_pushinteger(L, EVP_PKEY_get_bits(pk));
        lua_setfield(L, -2, "bits");
    }
    if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        char curve[80];
        size_t clen = 0;
        if (EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), &clen)) {
            lua_pushstring(L, curve);
            lua_setfield(L, -2, "curve");
        }
    }
    ERR_clear_error();
}

/* Pushes the signature algorithm's long name ("sha256WithRSAEncryption"), its
 * dotted OID when OpenSSL does not know it. */
static void cert_push_sigalg(lua_State *L, X509 *x)
{
    const X509_ALGOR *alg = NULL;                        /* borrowed */
    const ASN1_OBJECT *obj = NULL;                       /* borrowed */
    int nid = X509_get_signature_nid(x);

    if (nid != NID_undef && OBJ_nid2ln(nid) != NULL) {
        lua_pushstring(L, OBJ_nid2ln(nid));
        return;
    }
    X509_get0_signature(NULL, &alg, x);
    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    cc_push_oid(L, obj, 1);
}

/* Sets info.extensions = {name, ...}: every extension in order (short name or
 * dotted OID); info.critical_extensions = {name, ...}: those marked critical
 * (absent when none is); info.aia_count: the access descriptions of the first
 * authorityInfoAccess (0 when undecodable; absent without one). Profile checks:
 * presence, criticality, an empty AIA. Plain lists of strings: a verdict cache
 * hit copies them (two tables, not one per extension). */
static void cert_set_extensions(lua_State *L, X509 *x)
{
    int i, n = X509_get_ext_count(x), ncrit = 0, aia_seen = 0;

    lua_createtable(L, n > 0 ? n : 0, 0);                       /* info, exts */
    for (i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);               /* borrowed */
        cc_push_oid(L, X509_EXTENSION_get_object(ext), 0);
        lua_rawseti(L, -2, i + 1);
        if (X509_EXTENSION_get_critical(ext))
            ncrit++;
        if (!aia_seen && OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_info_access) {
            AUTHORITY_INFO_ACCESS *aia = X509V3_EXT_d2i(ext);   /* owns; freed before any Lua call */
            int count = aia != NULL ? sk_ACCESS_DESCRIPTION_num(aia) : 0; /* undecodable: none usable */
            AUTHORITY_INFO_ACCESS_free(aia);
            ERR_clear_error();
            aia_seen = 1;
            lua_pushinteger(L, count);                          /* info, exts, count */
            lua_setfield(L, -3, "aia_count");
        }
    }
    if (ncrit > 0) {
        int k = 0;
        lua_createtable(L, ncrit, 0);                           /* info, exts, crit */
        for (i = 0; i < n; i++)
            if (X509_EXTENSION_get_critical(X509_get_ext(x, i))) {
                lua_rawgeti(L, -2, i + 1);                      /* the name pushed above */
                lua_rawseti(L, -2, ++k);
            }
        lua_setfield(L, -3, "critical_extensions");             /* info, exts */
    }
    lua_setfield(L, -2, "extensions");                          /* info */
}

/* Pushes one subtree list of a name constraint as general names. */
static void cert_push_subtrees(lua_State *L, const STACK_OF(GENERAL_SUBTREE) *st)
{
    int i;
    lua_newtable(L);                                            /* list */
    for (i = 0; st != NULL && i < sk_GENERAL_SUBTREE_num(st); i++) {
        cert_push_general_name(L, sk_GENERAL_SUBTREE_value(st, i)->base);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Sets info.name_constraints = {permitted = {...}, excluded = {...}, permitted_present,
 * excluded_present} when the extension is present and decodable. */
static void cert_free_nc(void *p)
{
    NAME_CONSTRAINTS_free((NAME_CONSTRAINTS *)p);
}

static void cert_set_name_constraints(lua_State *L, X509 *x, int *invalid)
{
    int crit = 0;
    cc_tmp *tmp = cc_newtmp(L, cert_free_nc);                   /* info, tmp: box first */
    NAME_CONSTRAINTS *nc;                                       /* owns, through tmp */

    tmp->p = nc = X509_get_ext_d2i(x, NID_name_constraints, &crit, NULL);
    if (nc == NULL) {
        if (crit != -1)
            *invalid = 1;
        ERR_clear_error();
        lua_pop(L, 1);                                          /* info */
        return;
    }
    lua_createtable(L, 0, 4);                                   /* info, tmp, nc */
    cert_push_subtrees(L, nc->permittedSubtrees);
    lua_setfield(L, -2, "permitted");
    cert_push_subtrees(L, nc->excludedSubtrees);
    lua_setfield(L, -2, "excluded");
    lua_pushboolean(L, nc->permittedSubtrees != NULL);
    lua_setfield(L, -2, "permitted_present");
    lua_pushboolean(L, nc->excludedSubtrees != NULL);
    lua_setfield(L, -2, "excluded_present");
    lua_setfield(L, -3, "name_constraints");                    /* info, tmp */
    cc_tmp_free(tmp);
    lua_pop(L, 1);                                              /* info */
}

/* cert:info(): pushes the plain table described in docs/api.md "Parsing". */
static int cert_info(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    uint32_t flags, ku;
    int invalid = 0, i, n = 0;
    long pathlen;

    ERR_clear_error();
    lua_settop(L, 1);
    cert_push_facts(L, 1);                               /* facts: 2 */
    cert_push_summary(L, x, -1, 2);                      /* facts, info */
    lua_remove(L, 2);                                    /* info */
    flags = X509_get_extension_flags(x);
    if ((flags & EXFLAG_INVALID) != 0)
        invalid = 1;
    cc_push_name_fields(L, X509_get_subject_name(x));
    lua_setfield(L, -2, "subject_fields");
    cc_push_name_fields(L, X509_get_issuer_name(x));
    lua_setfield(L, -2, "issuer_fields");
    cert_push_san(L, x, &invalid);
    lua_setfield(L, -2, "san");
    cert_push_eku(L, x, &invalid);
    lua_setfield(L, -2, "eku");
    lua_newtable(L);                                     /* info, ku */
    if ((flags & EXFLAG_KUSAGE) != 0) {
        ku = X509_get_key_usage(x);
        for (i = 0; cert_ku_names[i].name != NULL; i++)
            if ((ku & cert_ku_names[i].bit) != 0) {
                lua_pushstring(L, cert_ku_names[i].name);
                lua_rawseti(L, -2, ++n);
            }
    }
    lua_setfield(L, -2, "key_usage");                    /* info */
    pathlen = X509_get_pathlen(x);
    if (pathlen >= 0) {
        lua_pushinteger(L, (lua_Integer)pathlen);
        lua_setfield(L, -2, "path_len");
    }
    cert_push_sigalg(L, x);
    lua_setfield(L, -2, "signature_algorithm");
    cert_push_pubkey(L, x);
    lua_setfield(L, -2, "public_key");
    lua_pushinteger(L, X509_get_version(x) + 1);
    lua_setfield(L, -2, "version");
    cert_set_extensions(L, x);
    cert_set_name_constraints(L, x, &invalid);
    rev_push_cert_urls(L, x);                           /* info (+ the URL lists) */
    if ((flags & EXFLAG_CRITICAL) != 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "extensions_unsupported_critical");
    }
    if (invalid) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "invalid_extensions");
    }
    lua_getfield(L, -1, "not_before");
    lua_getfield(L, -2, "not_after");
    if (lua_isnil(L, -1) || lua_isnil(L, -2))
        return cc_fail_plain(L, "info", "certificate validity dates cannot be read");
    lua_pop(L, 2);
    ERR_clear_error();
    return 1;
}

/* cert:der() -> DER bytes, or nil, err. */
static int cert_der(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    unsigned char *buf, *p;
    int n;

    ERR_clear_error();
    n = i2d_X509(x, NULL);
    if (n <= 0)
        return cc_fail(L, "der", "cannot encode certificate");
    buf = p = (unsigned char *)cc_newuserdata(L, (size_t)n); /* Lua memory: nothing to free */
    if (i2d_X509(x, &p) != n)
        return cc_fail(L, "der", "cannot encode certificate");
    lua_pushlstring(L, (const char *)buf, (size_t)n);    /* ud, der */
    return 1;
}

/* cert:pem() -> PEM text ("CERTIFICATE", without trust settings), or nil, err. */
static int cert_pem(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    cc_tmp *tmp;
    BIO *bio;                                            /* owns, through tmp */
    BUF_MEM *mem = NULL;                                 /* borrowed from bio */

    ERR_clear_error();
    tmp = cc_newtmp(L, cc_free_bio);                     /* tmp */
    tmp->p = bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509(bio, x))
        return cc_fail(L, "pem", "cannot encode certificate");
    BIO_get_mem_ptr(bio, &mem);
    lua_pushlstring(L, mem->data, mem->length);          /* tmp, pem */
    cc_tmp_free(tmp);
    return 1;
}

/* cert:fingerprint([alg]) -> lowercase hex digest of the DER (default SHA-256). */
static int cert_fingerprint(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    const char *alg = luaL_optstring(L, 2, "SHA256");
    int r;
    if (strcmp(alg, "SHA256") == 0) {                    /* the default: a kept fact */
        lua_settop(L, 1);
        cert_push_facts(L, 1);                           /* cert, facts */
        r = cert_push_fingerprint_fact(L, x, 2);
    } else {
        r = cert_push_digest(L, x, alg);
    }
    if (r == -1)
        return luaL_argerror(L, 2, "unknown digest algorithm");
    if (r != 0)
        return cc_fail(L, "fingerprint", "cannot compute digest");
    return 1;
}

/* cert:der_part(part) -> the DER of one part of the certificate: "subject" or
 * "issuer" (the Name), "public_key" (the SubjectPublicKeyInfo); nil, err when
 * OpenSSL cannot encode it. Encoded into a Lua scratch buffer: nothing to free. */
static int cert_der_part(lua_State *L)
{
    static const char *const parts[] = {"subject", "issuer", "public_key", NULL};
    X509 *x = cert_check(L, 1);
    int part = luaL_checkoption(L, 2, NULL, parts), n;
    const X509_NAME *nm = part == 0 ? X509_get_subject_name(x) : X509_get_issuer_name(x); /* borrowed */
    const X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);                                       /* borrowed */
    unsigned char *buf, *p;

    ERR_clear_error();
    n = part == 2 ? i2d_X509_PUBKEY(pk, NULL) : i2d_X509_NAME(nm, NULL);
    if (n <= 0)
        return cc_fail(L, "der_part", "cannot encode");
    buf = p = (unsigned char *)cc_newuserdata(L, (size_t)n);                      /* scratch */
    n = part == 2 ? i2d_X509_PUBKEY(pk, &p) : i2d_X509_NAME(nm, &p);
    if (n <= 0)
        return cc_fail(L, "der_part", "cannot encode");
    lua_pushlstring(L, (const char *)buf, (size_t)n);                            /* scratch, der */
    return 1;
}

/* cert:matches_key(key[, passphrase[, where[, ctx]]]): true/false, or nil, err when the
 * key cannot be read ("clientcert.<where>: [<ctx>: ]<what>", where defaults to
 * "matches_key": a caller that read the key names itself and the file). Compares the
 * public halves with EVP_PKEY_eq. */
static int cert_matches_key(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    size_t len;
    const char *key = cc_checkbytes(L, 2, &len);
    size_t passlen = 0;
    const char *pass = luaL_optlstring(L, 3, NULL, &passlen);
    const char *where = luaL_optstring(L, 4, "matches_key");
    EVP_PKEY *pk = NULL;                                  /* owns */
    OSSL_DECODER_CTX *dctx = NULL;                        /* owns */
    const unsigned char *p = (const unsigned char *)key;
    size_t left = len;
    int match = 0, oom = 0, unreadable = 0;

    if (!lua_isnoneornil(L, 5))
        where = lua_pushfstring(L, "%s: %s", where, luaL_checkstring(L, 5)); /* kept below the results */
    if (len == 0 || len > (size_t)CC_MAX_INPUT)
        return cc_fail_plain(L, where, "empty or oversized key input");
    ERR_clear_error();
    /* no Lua call until both are freed: a raise there would leak them */
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pk, NULL, NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL) {
        oom = 1;
        goto cleanup;
    }
    if (pass != NULL)
        OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)pass, passlen);
    else                                   /* never prompt: an encrypted key just fails */
        OSSL_DECODER_CTX_set_pem_password_cb(dctx, cert_no_pass_cb, NULL);
    if (!OSSL_DECODER_from_data(dctx, &p, &left) || pk == NULL) {
        unreadable = 1;
        goto cleanup;
    }
    match = X509_get0_pubkey(x) != NULL                   /* borrowed */
        && EVP_PKEY_eq(X509_get0_pubkey(x), pk) == 1;
cleanup:
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(pk);
    if (oom)
        return cc_fail(L, where, "out of memory");
    ERR_clear_error();
    if (unreadable)
        return cc_fail_plain(L, where,
                             "cannot read private key (unsupported format, or wrong or missing passphrase)");
    lua_pushboolean(L, match);
    return 1;
}

/* close / __close / __gc: frees the certificate once. */
static int cert_close(lua_State *L)
{
    cc_cert_box *b = cert_box(L, 1);
    X509_free(b->x);
    b->x = NULL;
    return 0;
}

/* __tostring: "clientcert.cert: <subject>" or "clientcert.cert (closed)". */
static int cert_tostring(lua_State *L)
{
    cc_cert_box *b = cert_box(L, 1);
    if (b->x == NULL) {
        lua_pushliteral(L, "clientcert.cert (closed)");
        return 1;
    }
    lua_pushliteral(L, "clientcert.cert: ");
    cc_push_name_string(L, X509_get_subject_name(b->x));
    lua_concat(L, 2);
    return 1;
}

/* _from_x509_address(addr): UNSAFE, for clientcert.nginx only: it dereferences
 * any address it is given (a wrong one crashes the process or worse), so it is
 * kept off the public names. A clientcert.cert sharing an X509 that another part
 * of this process decoded (nginx's client certificate, read through LuaJIT's FFI
 * from the request's SSL object), given as its address (an integer). Takes its
 * own reference (X509_up_ref), so the object outlives the connection safely.
 * The caller vouches that addr is a live X509 * of the SAME libcrypto as this
 * module (see x509_api_address): nothing can check that here. */
static int cert_from_x509_address(lua_State *L)
{
    lua_Number n;
    X509 *x;
    cc_cert_box *b;

    luaL_checktype(L, 1, LUA_TNUMBER);         /* no string coercion */
    n = lua_tonumber(L, 1);
    /* addresses are exact in a double up to 2^53 (user space on 64-bit Linux is 2^47) */
    if (!(n > 0 && n < 9007199254740992.0) || n != (lua_Number)(uintptr_t)n)
        return luaL_argerror(L, 1, "an X509 address (a positive integer)");
    x = (X509 *)(uintptr_t)n;                  /* borrowed until up-ref'd below */
    b = cert_newbox(L);                        /* box first: an error cannot leak */
    if (!X509_up_ref(x))
        return cc_fail(L, "_from_x509_address", "cannot reference the certificate");
    b->x = x;                                  /* owns one reference */
    return 1;
}

/* x509_api_address(): the address of X509_up_ref as this module calls it, so a
 * caller can check (by comparing it with the symbol its FFI resolves) that it
 * and this module share one libcrypto before handing over X509 addresses. */
static int cert_x509_api_address(lua_State *L)
{
    int (*up_ref)(X509 *) = X509_up_ref;
    uintptr_t a = (uintptr_t)up_ref;
    lua_pushnumber(L, (lua_Number)a);
    return 1;
}

static const luaL_Reg cert_meta[] = {
    {"__gc", cert_close}, {"__close", cert_close}, {"__tostring", cert_tostring},
    {NULL, NULL}
};

static const luaL_Reg cert_methods[] = {
    {"info", cert_info}, {"der", cert_der}, {"pem", cert_pem},
    {"fingerprint", cert_fingerprint}, {"matches_key", cert_matches_key}, {"der_part", cert_der_part},
    {"close", cert_close}, {NULL, NULL}
};

/* _cert_facts(cert): the facts table kept for a certificate object (see
 * cert_push_facts). Internal to clientcert and its specs: read, never modify. */
static int cert_facts(lua_State *L)
{
    cert_box(L, 1);
    lua_settop(L, 1);
    cert_push_facts(L, 1);
    return 1;
}

/* Registers the class and sets parse, parse_all ... in the module table at -1. */
int cert_open(lua_State *L)
{
    cc_new_class(L, CC_CERT_MT, cert_meta, cert_methods);
    lua_pushlightuserdata(L, (void *)&cert_facts_key);  /* M, key */
    lua_rawget(L, LUA_REGISTRYINDEX);                  /* M, weak? (kept across reloads) */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);                               /* M, weak */
        lua_createtable(L, 0, 1);                      /* M, weak, mt */
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushlightuserdata(L, (void *)&cert_facts_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);              /* M, weak */
    }
    lua_setfield(L, -2, "_cert_facts_of");             /* M: cert -> facts, read-only (util.fingerprint) */
    lua_pushcfunction(L, cert_facts);
    lua_setfield(L, -2, "_cert_facts");       /* M */
    lua_pushcfunction(L, cert_parse);         /* M, parse */
    lua_setfield(L, -2, "parse");             /* M */
    lua_pushcfunction(L, cert_from_x509_address);
    lua_setfield(L, -2, "_from_x509_address"); /* M: unsafe, see above */
    lua_pushcfunction(L, cert_x509_api_address);
    lua_setfield(L, -2, "x509_api_address");  /* M */
    return 0;
}
