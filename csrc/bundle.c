/* bundle.c: input as lists of clientcert.cert or clientcert.crl, the one place
 * that splits a PEM bundle into blocks (X509 via PEM_read_bio_X509_AUX, X509_CRL
 * via PEM_read_bio_X509_CRL, one block at a time) or reads one DER object.
 *   list, err = core.parse_bundle(kind, data[, where[, ctx]])  -- kind "cert" | "crl"
 *   list, err = core.parse_all(data)    -- parse_bundle("cert", data, "parse_all")
 *   list, err = core.parse_crls(data)   -- parse_bundle("crl", data, "parse_crls")
 *   hex = core.sha256(data)             -- lowercase hex SHA-256 of the bytes
 *   core.MAX_INPUT                      -- CC_MAX_INPUT, the most bytes one input may hold
 * A bundle is PEM text: blocks of another kind are skipped, text outside blocks
 * is ignored, and every "-----BEGIN" must end with its "-----END <label>-----"
 * line: a truncated block anywhere, or input that ends inside "-----BEGIN" (a
 * file still being written), is an error, never a shorter list. Input without "-----BEGIN " is one DER object that must
 * span it all. */
#include <string.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "clientcert.h"

enum { BUNDLE_CERT, BUNDLE_CRL };

static const char *const bundle_kinds[] = { "cert", "crl", NULL };
static const char *const bundle_nouns[] = { "certificate", "CRL" };

/* The first occurrence of s (n bytes) in [p, end), or NULL. */
static const char *bundle_find(const char *p, const char *end, const char *s, size_t n)
{
    while (p < end && (size_t)(end - p) >= n) {
        const char *q = memchr(p, s[0], (size_t)(end - p) - n + 1);
        if (q == NULL)
            return NULL;
        if (memcmp(q, s, n) == 0)
            return q;
        p = q + 1;
    }
    return NULL;
}

/* Pushes a new empty box of kind (x or crl = NULL, class metatable set). */
static void bundle_newbox(lua_State *L, int kind)
{
    if (kind == BUNDLE_CERT) {
        cert_newbox(L);
    } else {
        cc_crl_box *b = (cc_crl_box *)cc_newuserdata(L, sizeof(*b));
        b->crl = NULL;
        luaL_setmetatable(L, CC_CRL_MT);
    }
}

/* Reads one PEM object of kind from the n bytes at p into the empty box at the
 * top of the stack. Returns 1 when read; 0 when the block is of another kind;
 * -1 on an error (the OpenSSL queue says why). */
static int bundle_read_pem(lua_State *L, int kind, const char *p, size_t n)
{
    BIO *bio = BIO_new_mem_buf(p, (int)n); /* owns; no Lua call until freed */
    unsigned long e;
    int ok;

    if (bio == NULL)
        return -1;
    if (kind == BUNDLE_CERT) {
        cc_cert_box *b = (cc_cert_box *)lua_touserdata(L, -1);
        b->x = PEM_read_bio_X509_AUX(bio, NULL, cert_no_pass_cb, NULL); /* owns */
        ok = b->x != NULL;
    } else {
        cc_crl_box *b = (cc_crl_box *)lua_touserdata(L, -1);
        b->crl = PEM_read_bio_X509_CRL(bio, NULL, cert_no_pass_cb, NULL); /* owns */
        ok = b->crl != NULL;
    }
    BIO_free(bio);
    if (ok)
        return 1;
    e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error(); /* a complete block of another kind: skipped */
        return 0;
    }
    return -1;
}

/* Reads one DER object of kind spanning all len bytes into the empty box at the
 * top of the stack. Returns NULL, or what is wrong. */
static const char *bundle_read_der(lua_State *L, int kind, const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;

    if (kind == BUNDLE_CERT) {
        cc_cert_box *b = (cc_cert_box *)lua_touserdata(L, -1);
        b->x = d2i_X509(NULL, &p, (long)len); /* owns */
        if (b->x == NULL)
            return "invalid DER certificate";
        if (p != (const unsigned char *)data + len) {
            X509_free(b->x);
            b->x = NULL;
            return "trailing data after DER certificate";
        }
    } else {
        cc_crl_box *b = (cc_crl_box *)lua_touserdata(L, -1);
        b->crl = d2i_X509_CRL(NULL, &p, (long)len); /* owns */
        if (b->crl == NULL)
            return "invalid DER CRL";
        if (p != (const unsigned char *)data + len) {
            X509_CRL_free(b->crl);
            b->crl = NULL;
            return "trailing data after DER CRL";
        }
    }
    return NULL;
}

/* Where the block starting at b ("-----BEGIN") ends (after its END line and
 * that line's newline), or NULL when it is truncated or its header malformed. */
static const char *bundle_block_end(const char *b, const char *end)
{
    const char *eol = memchr(b, '\n', (size_t)(end - b));
    const char *lab = b + 10, *labend, *e;
    size_t lablen;

    if (eol == NULL)
        eol = end;
    if (lab >= eol || *lab != ' ')
        return NULL;
    lab++;
    labend = bundle_find(lab, eol, "-----", 5);
    if (labend == NULL)
        return NULL;
    lablen = (size_t)(labend - lab);
    for (e = eol; (e = bundle_find(e, end, "-----END ", 9)) != NULL; e += 9) {
        const char *tail = e + 9 + lablen;
        if ((size_t)(end - (e + 9)) >= lablen + 5 && memcmp(e + 9, lab, lablen) == 0
            && memcmp(tail, "-----", 5) == 0) {
            tail += 5;
            if (tail < end && *tail == '\r')
                tail++;
            if (tail < end && *tail == '\n')
                tail++;
            return tail;
        }
    }
    return NULL;
}

/* Is PEM text cut short? Every "-----BEGIN" must end with its "-----END <label>-----"
 * line, and the input must not end inside "-----BEGIN" itself (a file cut right
 * there). Returns 0, or pushes the description of the first cut and returns 1.
 * Structural only (no OpenSSL call): the one check for bundles and core.parse. */
int cc_pem_truncated(lua_State *L, const char *data, size_t len)
{
    const char *pos = data, *end = data + len, *b;
    size_t r;

    while ((b = bundle_find(pos, end, "-----BEGIN", 10)) != NULL) {
        pos = bundle_block_end(b, end);
        if (pos == NULL)
            goto cut;
    }
    for (r = 9; r >= 1; r--) {
        if ((size_t)(end - pos) >= r && memcmp(end - r, "-----BEGIN", r) == 0) {
            b = end - r;
            goto cut;
        }
    }
    return 0;
cut:
    lua_pushfstring(L, "truncated PEM block at byte %d (a \"-----BEGIN\" without its \"-----END\" line)",
                    (int)(b - data));
    return 1;
}

/* Pushes the list of kind's objects in data, or nil, "clientcert.<where>: <what>"
 * (where already holds the context). */
static int bundle_parse(lua_State *L, int kind, const char *data, size_t len, const char *where)
{
    const char *noun = bundle_nouns[kind], *pos = data, *end = data + len, *what;
    int n = 0, r;

    if (len == 0)
        return cc_fail_plain(L, where, "empty input");
    if (len > (size_t)CC_MAX_INPUT)
        return cc_fail_plain(L, where, "input larger than 64 MiB");
    if (cc_is_pem(data, len) && cc_pem_truncated(L, data, len))
        return cc_fail_plain(L, where, lua_tostring(L, -1));
    lua_newtable(L);                                   /* list */
    ERR_clear_error();
    if (!cc_is_pem(data, len)) {
        bundle_newbox(L, kind);                        /* list, box */
        what = bundle_read_der(L, kind, data, len);
        if (what != NULL)
            return cc_fail(L, where, what);
        lua_rawseti(L, -2, 1);                         /* list */
        return 1;
    }
    for (;;) {
        const char *b = bundle_find(pos, end, "-----BEGIN", 10), *bend;
        if (b == NULL)
            break;
        bend = bundle_block_end(b, end);               /* not NULL: checked above */
        bundle_newbox(L, kind);                        /* list, box: before any OpenSSL allocation */
        r = bundle_read_pem(L, kind, b, (size_t)(bend - b));
        if (r < 0) {
            lua_pushfstring(L, "%s %d: invalid PEM %s", noun, n + 1, noun);
            return cc_fail(L, where, lua_tostring(L, -1));
        }
        if (r == 0) {
            lua_pop(L, 1);                             /* list */
        } else {
            if (n >= CC_MAX_BUNDLE) {                  /* the box beyond the cap: __gc frees it */
                lua_pushfstring(L, "more than %d %ss in input", CC_MAX_BUNDLE, noun);
                return cc_fail_plain(L, where, lua_tostring(L, -1));
            }
            lua_rawseti(L, -2, ++n);                   /* list */
        }
        pos = bend;
    }
    if (n == 0) {
        lua_pushfstring(L, "no %s found in input", noun);
        return cc_fail_plain(L, where, lua_tostring(L, -1));
    }
    return 1;
}

/* parse_bundle(kind, data[, where[, ctx]]): errors read "clientcert.<where>: [<ctx>: ]<what>". */
static int bundle_parse_bundle(lua_State *L)
{
    int kind = luaL_checkoption(L, 1, NULL, bundle_kinds);
    size_t len;
    const char *data = cc_checkbytes(L, 2, &len);
    const char *where = luaL_optstring(L, 3, "parse_bundle");

    if (!lua_isnoneornil(L, 4))
        where = lua_pushfstring(L, "%s: %s", where, luaL_checkstring(L, 4)); /* kept below the results */
    return bundle_parse(L, kind, data, len, where);
}

static int bundle_parse_all(lua_State *L)
{
    size_t len;
    const char *data = cc_checkbytes(L, 1, &len);
    return bundle_parse(L, BUNDLE_CERT, data, len, "parse_all");
}

static int bundle_parse_crls(lua_State *L)
{
    size_t len;
    const char *data = cc_checkbytes(L, 1, &len);
    return bundle_parse(L, BUNDLE_CRL, data, len, "parse_crls");
}

/* sha256(data): pushes the lowercase hex SHA-256 of the bytes (nil, err when OpenSSL fails). */
static int bundle_sha256(lua_State *L)
{
    static const char digits[] = "0123456789abcdef";
    size_t len, i;
    const char *data = cc_checkbytes(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    ERR_clear_error();
    if (!EVP_Digest(data, len, md, &n, cc_digest(L, "SHA256"), NULL))
        return cc_fail(L, "sha256", "cannot compute the digest");
    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * (size_t)n);
    return 1;
}

int bundle_open(lua_State *L)
{
    lua_pushcfunction(L, bundle_parse_bundle);
    lua_setfield(L, -2, "parse_bundle");               /* M */
    lua_pushcfunction(L, bundle_parse_all);
    lua_setfield(L, -2, "parse_all");                  /* M */
    lua_pushcfunction(L, bundle_parse_crls);
    lua_setfield(L, -2, "parse_crls");                 /* M */
    lua_pushcfunction(L, bundle_sha256);
    lua_setfield(L, -2, "sha256");                     /* M */
    lua_pushinteger(L, (lua_Integer)CC_MAX_INPUT);
    lua_setfield(L, -2, "MAX_INPUT");                  /* M */
    return 0;
}
