/* crlcheck.c: the CRL check of a verification (X509_STORE_set_check_crl), a
 * mirror of OpenSSL 3.0's crypto/x509/x509_vfy.c (checked against 3.0.22):
 * check_crl, check_crl_time, crl_akid_check (via X509_check_akid) and
 * crl_crldp_check, for the one case where their outcome is known without them.
 * store.c answers the signature (verified once per CRL and issuer key). */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

#include <time.h>

/* OpenSSL's own check_crl (x509_vfy.c), taken from a context initialised on a
 * store without a check_crl of its own: every case crlcheck_plain does not
 * settle goes to it. A constant function address, set once per process by
 * crlcheck_find under CRYPTO_THREAD_run_once (several Lua states in several
 * threads may open the module at once: a plain test-and-set would race). */
static X509_STORE_CTX_check_crl_fn crlcheck_openssl_fn;
static CRYPTO_ONCE crlcheck_once = CRYPTO_ONCE_STATIC_INIT;

/* Is the CRL's time window valid at the verification time, exactly as OpenSSL's
 * check_crl_time(ctx, crl, 0) decides (USE_CHECK_TIME / NO_CHECK_TIME)? */
static int crlcheck_time_ok(X509_STORE_CTX *ctx, const X509_CRL *crl)
{
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);    /* borrowed */
    unsigned long flags = X509_VERIFY_PARAM_get_flags(param);
    time_t t, *pt = NULL;
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);       /* borrowed */
    if ((flags & X509_V_FLAG_USE_CHECK_TIME) != 0) {
        t = X509_VERIFY_PARAM_get_time(param);
        pt = &t;
    } else if ((flags & X509_V_FLAG_NO_CHECK_TIME) != 0) {
        return 1;
    }
    if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), pt) >= 0)   /* 0: bad field, 1: not yet */
        return 0;
    return next == NULL || X509_cmp_time(next, pt) > 0;           /* 0: bad field, -1: expired */
}

/* Does every CRL distribution point of x have neither reasons nor cRLIssuer (or
 * has x none)? Then a CRL without an issuing distribution point, named like x's
 * issuer, covers all of x's reasons (OpenSSL's crl_crldp_check: scope). */
static int crlcheck_crldp_plain(X509 *x)
{
    STACK_OF(DIST_POINT) *dps;                                     /* owns */
    int i, crit = -1, plain = 1;
    if (X509_get_ext_by_NID(x, NID_crl_distribution_points, -1) < 0)
        return 1;
    dps = (STACK_OF(DIST_POINT) *)X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
    if (dps == NULL)
        return 0;
    for (i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->reasons != NULL || dp->CRLissuer != NULL)
            plain = 0;
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return plain;
}

/* The CRL OpenSSL's get_crl chose for the chain element at error_depth. When
 * everything OpenSSL's check_crl looks at is known to pass -- the CRL has no
 * issuing distribution point and is no delta CRL; its issuer is the
 * certificate's issuer, which is the next chain element (the element itself at
 * the top), with a matching authority key identifier; the certificate's
 * distribution points are plain; the issuer may sign CRLs; the CRL is in date
 * at the verification time; the issuer's key is there and Suite B allows it --
 * only the signature is left, and check_crl would return 1 without reporting
 * anything once it verifies. Returns 1 and sets *issuer, *issuer_depth and *key
 * (borrowed) for the caller to verify the signature; 0 for every other case (a
 * CRL out of date, indirect or delta CRLs, extended CRL support, anything
 * unsure): hand it to crlcheck_openssl, so errors, their codes and their order
 * are OpenSSL's. Dates are compared at every call; nothing is remembered. */
int crlcheck_plain(X509_STORE_CTX *ctx, X509_CRL *crl, X509 **issuer, int *issuer_depth,
                   EVP_PKEY **key)
{
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);       /* borrowed */
    unsigned long flags = X509_VERIFY_PARAM_get_flags(X509_STORE_CTX_get0_param(ctx));
    int depth = X509_STORE_CTX_get_error_depth(ctx), n, cidx, crit = -1, ok = 0;
    X509 *x, *iss;                                                 /* borrowed */
    AUTHORITY_KEYID *akid = NULL;                                  /* owns */

    /* USE_DELTAS changes which CRLs get_crl chooses, not what check_crl does with a
     * base CRL; a delta CRL itself (its indicator, below) goes to OpenSSL */
    if (chain == NULL || crl == NULL || (flags & X509_V_FLAG_EXTENDED_CRL_SUPPORT) != 0)
        goto done;
    n = sk_X509_num(chain);
    if (depth < 0 || depth >= n)
        goto done;
    x = sk_X509_value(chain, depth);
    cidx = depth < n - 1 ? depth + 1 : depth;                      /* as crl_akid_check */
    iss = sk_X509_value(chain, cidx);
    if (x != X509_STORE_CTX_get_current_cert(ctx)
        || X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1) >= 0
        || X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0
        || X509_NAME_cmp(X509_get_issuer_name(x), X509_CRL_get_issuer(crl)) != 0
        || !crlcheck_crldp_plain(x))
        goto done;
    akid = (AUTHORITY_KEYID *)X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
    if ((akid == NULL && crit != -1) || X509_check_akid(iss, akid) != X509_V_OK)
        goto done;
    if ((X509_get_extension_flags(iss) & EXFLAG_KUSAGE) != 0
        && (X509_get_key_usage(iss) & KU_CRL_SIGN) == 0)
        goto done;
    if (!crlcheck_time_ok(ctx, crl) || (*key = X509_get0_pubkey(iss)) == NULL
        || X509_CRL_check_suiteb(crl, *key, flags) != X509_V_OK)
        goto done;
    *issuer = iss;
    *issuer_depth = cidx;
    ok = 1;
done:
    AUTHORITY_KEYID_free(akid);
    ERR_clear_error();
    return ok;
}

/* OpenSSL's own check_crl for ctx and crl. */
int crlcheck_openssl(X509_STORE_CTX *ctx, X509_CRL *crl)
{
    return crlcheck_openssl_fn(ctx, crl);
}

/* Run once per process: OpenSSL's default check_crl, from a plain store. */
static void crlcheck_find(void)
{
    X509_STORE *plain = X509_STORE_new();      /* owns, freed below */
    X509_STORE_CTX *ctx = X509_STORE_CTX_new(); /* owns, freed below */
    if (plain != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, plain, NULL, NULL))
        crlcheck_openssl_fn = X509_STORE_CTX_get_check_crl(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(plain);
    ERR_clear_error();
}

/* Finds OpenSSL's default check_crl (once per process); 0 when it cannot. */
int crlcheck_init(void)
{
    return CRYPTO_THREAD_run_once(&crlcheck_once, crlcheck_find) && crlcheck_openssl_fn != NULL;
}
