/* clientcert.h: what the C files of clientcert.core share.
 * Nothing here is exported from the shared object: the build uses
 * -fvisibility=hidden and only luaopen_clientcert_core is marked visible. */
#ifndef CLIENTCERT_H
#define CLIENTCERT_H

#include "compat.h"
#include <openssl/x509.h>

/* Every declaration below is internal to the shared object, whatever flags a
 * build system passes (luarocks' builtin build sets no -fvisibility). */
#pragma GCC visibility push(hidden)

#define CC_CERT_MT  "clientcert.cert"
#define CC_CRL_MT   "clientcert.crl"
#define CC_STORE_MT "clientcert.store"

/* Limits on hostile input (documented in docs/api.md "Parsing"). */
#define CC_MAX_INPUT      (64L * 1024 * 1024) /* bytes of PEM/DER accepted by one parse call or file
                                               * (Lua: core.MAX_INPUT, the one definition) */
#define CC_MAX_BUNDLE     100000              /* certificates in one parse_all */
#define CC_MAX_TIME       253402300799LL      /* 9999-12-31T23:59:59Z, the last time clientcert takes
                                               * (Lua: core.MAX_TIME, the one definition) */
#define CC_MIN_DATE       (-62167219200LL)    /* 0000-01-01T00:00:00Z, the first date it can print */
/* PKCS#12: the iteration count of any one key derivation (PBKDF2, the PKCS#12
 * KDF; scrypt's N*r*p), all of a file's derivations together, nesting of bags */
#define CC_P12_MAX_ITER   10000000LL
#define CC_P12_MAX_WORK   40000000LL
#define CC_P12_MAX_DEPTH  8

typedef struct { X509 *x; } cc_cert_box;         /* owns one X509 reference */
typedef struct { X509_CRL *crl; } cc_crl_box;    /* owns one X509_CRL reference */
/* A store's Lua user value (a table) keeps the facts learnt when certificates
 * were added, so that no verification or rejection has to recompute them:
 *   root_subjects = {[RFC 4514 subject] = true}      (trusted roots)
 *   roots = {{subject=, fingerprint=, self_signed=}}  (one per distinct root)
 *   fingerprints = {[fingerprint] = true}             (roots, for duplicates)
 *   self_signed = {[lightuserdata X509*] = boolean}   (every root as added)
 * The X509 pointers are the store's own references, alive as long as the store. */
/* A remembered CRL signature check: does crl verify with the public key whose
 * SubjectPublicKeyInfo DER is spki? The outcome depends on nothing else, so the
 * entry never goes stale. crl is owned by the store's X509_STORE (CRLs are never
 * removed from it), alive as long as the store; issuer is set only when the
 * issuer certificate is owned by the store (its X509_STORE or intermediates), a
 * shortcut compared as a pointer, never dereferenced or freed. */
typedef struct {
    const X509_CRL *crl;
    const X509 *issuer;       /* store-owned issuer, or NULL */
    unsigned char *spki;      /* owns (OPENSSL_malloc'd by i2d) */
    int spkilen;
    int ok;
} cc_crl_sig;

typedef struct {
    X509_STORE *store;        /* owns: trusted roots and CRLs */
    STACK_OF(X509) *inter;    /* owns: untrusted intermediates, one reference each */
    int ncrl;                 /* CRLs added, for the crl = "chain" default */
    int nroots;               /* distinct trusted roots added */
    int nroots_not_ss;        /* of those, how many are not self-signed */
    cc_crl_sig *sigs;         /* owns (malloc): CRL signature checks done so far */
    int nsigs, capsigs;
    /* counters for store:stats(): CRL signatures verified by clientcert itself,
     * and CRL checks handed to OpenSSL's own check_crl (which verifies the CRL's
     * signature again every time) */
    lua_Integer crl_sig_checks, crl_openssl_checks;
} cc_store_box;

/* A temporary box: a userdata holding one OpenSSL pointer (p) and the function
 * that frees it. Push it (cc_newtmp) BEFORE the allocation and store the pointer
 * in it at once: a raise (out of memory in lua_push*, lua_createtable, a
 * luaL_Buffer) before the free then leaks nothing, as __gc frees p. cc_tmp_free
 * frees it early (idempotent); the caller then removes the box from the stack. */
typedef struct {
    void *p;                  /* owns, or NULL */
    void (*free_fn)(void *);
} cc_tmp;

/* common.c */
/* Pushes an empty temporary box whose __gc calls free_fn(p) once. */
cc_tmp *cc_newtmp(lua_State *L, void (*free_fn)(void *));
/* Frees t->p now (if set) and sets it to NULL. */
void cc_tmp_free(cc_tmp *t);
/* free_fn for cc_newtmp: OPENSSL_free (i2d output, ASN1_STRING_to_UTF8 output), BIO_free. */
void cc_free_openssl(void *p);
void cc_free_bio(void *p);
/* Pushes nil, "clientcert.<where>: <what>[: <first OpenSSL reason>]"; drains the
 * OpenSSL error queue. Returns 2 (the number of values pushed). */
int cc_fail(lua_State *L, const char *where, const char *what);
/* Same, with no OpenSSL reason appended (the queue is still drained). */
int cc_fail_plain(lua_State *L, const char *where, const char *what);
/* Registers metatable tname with __index = methods, __name, __metatable = tname
 * (getmetatable from Lua gives that string, never the class) and the given
 * metamethods (__gc, __close, __tostring ...). methods must hold no "__" name;
 * NULL: no __index (a private box that only frees what it holds).
 * Leaves nothing on the stack. */
void cc_new_class(lua_State *L, const char *tname, const luaL_Reg *meta,
                  const luaL_Reg *methods);
/* luaL_checklstring without number coercion: a non-string raises. */
const char *cc_checkbytes(lua_State *L, int idx, size_t *len);
/* Does the input look like PEM text (contains "-----BEGIN ")? */
int cc_is_pem(const char *data, size_t len);
int cc_pem_truncated(lua_State *L, const char *data, size_t len);
/* The digest named alg: for SHA256 and SHA1 the one fetched for this Lua state
 * when the module was opened (an EVP_MD from EVP_sha256() or
 * EVP_get_digestbyname is looked up again by name, under the provider store's
 * locks, inside every digest in OpenSSL 3: most of a certificate fingerprint's
 * cost); other names: EVP_get_digestbyname's. NULL when unknown. Borrowed: never
 * freed by the caller. Never raises. */
const EVP_MD *cc_digest(lua_State *L, const char *alg);
/* Fetches this state's digests for cc_digest (freed with the state); luaopen. */
void cc_digests_open(lua_State *L);
/* Integer Unix seconds for an ASN1_TIME, via ASN1_TIME_to_tm (any year
 * 0..9999, GeneralizedTime past 2050). Returns 0 and sets *out on success. */
int cc_asn1_time_to_unix(const ASN1_TIME *t, long long *out);
/* Pushes a name as an RFC 4514 string with control bytes escaped as \XX. */
void cc_push_name_string(lua_State *L, const X509_NAME *name);
/* Pushes s converted to UTF-8 (ASN1_STRING_to_UTF8) and returns 1; pushes
 * nothing and returns 0 when s is not a string OpenSSL converts. t: a box of
 * cc_newtmp(L, cc_free_openssl) on the stack, empty, which holds the converted
 * copy while it is pushed (emptied again on return). */
int cc_push_utf8(lua_State *L, const ASN1_STRING *s, cc_tmp *t);
/* Pushes a list of {name = <short name or dotted OID>, value = <UTF-8 bytes>}. */
void cc_push_name_fields(lua_State *L, const X509_NAME *name);
/* Pushes uppercase hex of an ASN1_INTEGER as its DER content octets (with the
 * 00 sign octet when the top bit is set); "-" and the magnitude if negative. */
void cc_push_serial(lua_State *L, const ASN1_INTEGER *serial);
/* Pushes an OID's short name ("CN", "clientAuth"), or its dotted form when it
 * is unnamed or dotted is non-zero. */
void cc_push_oid(lua_State *L, const ASN1_OBJECT *obj, int dotted);

/* cert.c */
int cert_open(lua_State *L);                 /* adds parse to the module table at -1 */
X509 *cert_check(lua_State *L, int idx);     /* raises unless a live clientcert.cert; borrowed */
X509 *cert_test(lua_State *L, int idx);      /* NULL unless a live clientcert.cert; borrowed */
void cert_push(lua_State *L, X509 *x);       /* takes ownership of one reference of x */
/* Creates the box first, then pushes it; returns it so the caller can fill box->x. */
cc_cert_box *cert_newbox(lua_State *L);
/* Pushes a new table: subject, issuer, serial, not_before, not_after,
 * fingerprint, self_signed, is_ca (a certification-path element's facts).
 * self_signed: the known fact (0/1), or -1 to compute it (a signature check).
 * fidx: absolute stack index of x's facts table, whose kept fingerprint, names
 * and self-signature are used (and completed when missing); 0 for none. */
void cert_push_summary(lua_State *L, X509 *x, int self_signed, int fidx);
/* Pushes the facts table kept for the clientcert.cert at absolute index idx
 * (created empty on first use; held weakly by the object). */
void cert_push_facts(lua_State *L, int idx);
/* Pushes the lowercase hex digest (alg, e.g. "SHA256") of x's DER and returns 0;
 * pushes nothing and returns -1 for an unknown alg, -2 when OpenSSL fails. */
int cert_push_digest(lua_State *L, X509 *x, const char *alg);
/* PEM passphrase callback that never prompts (an encrypted block fails). */
int cert_no_pass_cb(char *buf, int size, int rwflag, void *u);

/* bundle.c */
int bundle_open(lua_State *L);               /* adds parse_bundle, parse_all, parse_crls, sha256, MAX_INPUT */

/* crl.c */
int crl_open(lua_State *L);                  /* adds parse_crl */
X509_CRL *crl_check(lua_State *L, int idx);  /* raises unless a live clientcert.crl; borrowed */
/* Name of an RFC 5280 CRLReason code ("keyCompromise" ...), "unspecified" when unknown. */
const char *crl_reason_name(int code);

/* pkcs12.c */
int pkcs12_open(lua_State *L);               /* adds parse_pkcs12 */

/* sysio.c */
int sysio_open(lua_State *L);                /* adds read_file, isatty */

/* dir.c */
int dir_open(lua_State *L);                  /* adds list_dir */

/* calendar.c */
int calendar_open(lua_State *L);             /* adds time_format, time_parse, MAX_TIME */
/* Days since 1970-01-01 of a proleptic Gregorian date (the one calendar). */
long long cc_days_from_civil(long long y, int m, int d);

/* probe.c */
int probe_open(lua_State *L);                /* adds probe (a TLS client's view of a live server) */

/* bounded.c */
int bounded_open(lua_State *L);              /* adds _run_bounded (policy code under budgets) */
int pattern_open(lua_State *L);              /* adds _pattern_cost (what a pattern match would cost) */
/* the steps string.find/match/gmatch/gsub (kind) would take, or limit + 1 once over limit */
double pattern_cost(const char *kind, const char *s, size_t ls, const char *p, size_t lp, double init, int plain,
                    double limit);

/* store.c */
int store_open(lua_State *L);                /* adds new_store */

/* crlcheck.c: OpenSSL 3.0's check_crl (x509_vfy.c), mirrored for the case where
 * only the CRL's signature is left to check (see the file's header). */
int crlcheck_init(void);                     /* finds OpenSSL's check_crl; 0 on failure */
/* 1 when check_crl would pass crl once its signature by *issuer (the chain
 * element at *issuer_depth, key *key; all borrowed) verifies; 0: ask OpenSSL. */
int crlcheck_plain(X509_STORE_CTX *ctx, X509_CRL *crl, X509 **issuer, int *issuer_depth,
                   EVP_PKEY **key);
int crlcheck_openssl(X509_STORE_CTX *ctx, X509_CRL *crl);  /* OpenSSL's own check_crl */

/* revocation.c */
int rev_open(lua_State *L);                 /* adds ocsp_request, ocsp_check, cert_urls */
/* Sets ocsp_urls, ca_issuers_urls, crl_urls (lists of URL strings, bytes outside
 * printable ASCII percent-encoded) on the table at -1. */
void rev_push_cert_urls(lua_State *L, X509 *x);

/* codes.c */
int codes_open(lua_State *L);                /* adds verify_codes, verify_code_names, verify_error_string */
/* Pushes the X509_V_ERR_* name of a verify code, or nil if the build's headers name none. */
void cc_push_code_name(lua_State *L, int code);

#pragma GCC visibility pop

#endif
