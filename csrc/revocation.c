/* revocation.c: revocation mechanism on OpenSSL's OCSP, CRL and X509v3 APIs (no Lua class).
 * A certificate's URLs (AIA OCSP and caIssuers, CRL distribution points), an
 * OCSP request for (certificate, issuer) as DER, and the check of a response:
 * signer, CertID, times and nonce. Fetching and policy live in Lua
 * (lua/clientcert/revocation.lua). */
#include <string.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

#define REV_MAX_URLS    16     /* URLs of one kind kept per certificate */
#define REV_MAX_URL_LEN 2048   /* longer ones are not kept (no client fetches them) */
#define REV_DEFAULT_SKEW 300   /* seconds of clock skew allowed on thisUpdate/nextUpdate */
#define REV_MAX_NONCE   64

static const char rev_hex[] = "0123456789ABCDEF";

/* Pushes a URI as a string with every byte outside printable ASCII, and the
 * space, percent-encoded (%XX): a URL stays a URL and carries no control byte. */
static void rev_push_url(lua_State *L, const ASN1_IA5STRING *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int i, n = ASN1_STRING_length(s);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c <= 0x20 || c >= 0x7F) {
            luaL_addchar(&b, '%');
            luaL_addchar(&b, rev_hex[c >> 4]);
            luaL_addchar(&b, rev_hex[c & 15]);
        } else {
            luaL_addchar(&b, (char)c);
        }
    }
    luaL_pushresult(&b);
}

/* A scratch box that frees whatever OpenSSL objects a function holds when the
 * Lua value is collected: set before any call that can raise, cleared (and the
 * objects freed) by the function on its way out. */
typedef struct {
    AUTHORITY_INFO_ACCESS *aia;
    CRL_DIST_POINTS *dps;
    unsigned char *der;
    OCSP_REQUEST *req;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *bs;
    OCSP_CERTID *id;
    STACK_OF(X509) *extra;
} rev_scratch;

static void rev_scratch_free(rev_scratch *s)
{
    AUTHORITY_INFO_ACCESS_free(s->aia);
    CRL_DIST_POINTS_free(s->dps);
    OPENSSL_free(s->der);
    OCSP_REQUEST_free(s->req);
    OCSP_RESPONSE_free(s->resp);
    OCSP_BASICRESP_free(s->bs);
    OCSP_CERTID_free(s->id);
    sk_X509_free(s->extra);                                  /* the stack only: borrowed X509s */
    memset(s, 0, sizeof(*s));
}

static int rev_scratch_gc(lua_State *L)
{
    rev_scratch_free((rev_scratch *)lua_touserdata(L, 1));
    return 0;
}

#define REV_SCRATCH_MT "clientcert.rev_scratch"

/* Pushes a new, empty scratch box (freed by __gc if the caller raises). */
static rev_scratch *rev_scratch_new(lua_State *L)
{
    rev_scratch *s = lua_newuserdata(L, sizeof(*s));
    memset(s, 0, sizeof(*s));
    luaL_setmetatable(L, REV_SCRATCH_MT);
    return s;
}

/* Appends the URI of g (when it is one, within the limits) to the list at -1. */
static void rev_add_uri(lua_State *L, const GENERAL_NAME *g, int *n)
{
    if (g == NULL || g->type != GEN_URI || *n >= REV_MAX_URLS)
        return;
    if (ASN1_STRING_length(g->d.uniformResourceIdentifier) > REV_MAX_URL_LEN)
        return;
    rev_push_url(L, g->d.uniformResourceIdentifier);
    lua_rawseti(L, -2, ++*n);
}

/* Sets ocsp_urls, ca_issuers_urls and crl_urls (lists, possibly empty) on the
 * table at -1, from x's Authority Information Access and CRL Distribution
 * Points. The decoded extensions are boxed in Lua first: a raise leaks nothing. */
void rev_push_cert_urls(lua_State *L, X509 *x)
{
    rev_scratch *s;
    int i, j, t, crit = 0, nocsp = 0, nissuers = 0, ncrl = 0;

    t = lua_gettop(L);                                      /* the table */
    s = rev_scratch_new(L);                                 /* t .. s */
    lua_newtable(L);                                         /* s, ocsp */
    lua_newtable(L);                                         /* s, ocsp, issuers */
    s->aia = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
    for (i = 0; s->aia != NULL && i < sk_ACCESS_DESCRIPTION_num(s->aia); i++) {
        ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(s->aia, i); /* borrowed */
        int nid = OBJ_obj2nid(ad->method);
        if (nid == NID_ad_OCSP) {
            lua_pushvalue(L, -2);                            /* s, ocsp, issuers, ocsp */
            rev_add_uri(L, ad->location, &nocsp);
            lua_pop(L, 1);
        } else if (nid == NID_ad_ca_issuers) {
            rev_add_uri(L, ad->location, &nissuers);
        }
    }
    lua_setfield(L, t, "ca_issuers_urls");                   /* s, ocsp */
    lua_setfield(L, t, "ocsp_urls");                         /* s */
    lua_newtable(L);                                         /* s, crl */
    s->dps = X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
    for (i = 0; s->dps != NULL && i < sk_DIST_POINT_num(s->dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(s->dps, i);     /* borrowed */
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;                                        /* only fullName URIs */
        for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++)
            rev_add_uri(L, sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j), &ncrl);
    }
    lua_setfield(L, t, "crl_urls");                          /* s */
    rev_scratch_free(s);
    lua_pop(L, 1);                                           /* t */
    ERR_clear_error();
}

/* ocsp_request(cert, issuer [, nonce]) -> DER of an OCSPRequest for cert (one
 * SHA-1 CertID, as RFC 6960 clients send); nonce: true for 16 random bytes, or
 * the nonce's bytes (1 to 64); nil, err on failure. */
static int rev_ocsp_request(lua_State *L)
{
    X509 *cert = cert_check(L, 1), *issuer = cert_check(L, 2);
    const char *nonce = NULL;
    size_t nlen = 0;
    int want_nonce = 0, n;
    rev_scratch *s;
    unsigned char *der = NULL;                               /* owned by s once set */

    if (lua_type(L, 3) == LUA_TSTRING) {
        nonce = lua_tolstring(L, 3, &nlen);
        luaL_argcheck(L, nlen >= 1 && nlen <= REV_MAX_NONCE, 3, "a nonce is 1 to 64 bytes");
        want_nonce = 1;
    } else if (!lua_isnoneornil(L, 3)) {
        luaL_argcheck(L, lua_type(L, 3) == LUA_TBOOLEAN, 3, "boolean or string expected");
        want_nonce = lua_toboolean(L, 3);
    }
    lua_settop(L, 3);
    ERR_clear_error();
    s = rev_scratch_new(L);                                 /* cert, issuer, nonce, s */
    s->req = OCSP_REQUEST_new();
    s->id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    if (s->req == NULL || s->id == NULL)
        goto fail;
    if (OCSP_request_add0_id(s->req, s->id) == NULL)
        goto fail;
    s->id = NULL;                                            /* owned by the request now */
    if (want_nonce
        && !OCSP_request_add1_nonce(s->req, (unsigned char *)nonce, nonce != NULL ? (int)nlen : 16))
        goto fail;
    n = i2d_OCSP_REQUEST(s->req, &der);
    if (n <= 0)
        goto fail;
    s->der = der;                                            /* freed with the scratch box */
    lua_pushlstring(L, (const char *)der, (size_t)n);        /* ..., s, der */
    rev_scratch_free(s);
    ERR_clear_error();
    return 1;
fail:
    rev_scratch_free(s);
    return cc_fail(L, "ocsp_request", "cannot build the OCSP request");
}

static const char *rev_status_name(int st)
{
    switch (st) {
    case V_OCSP_CERTSTATUS_GOOD: return "good";
    case V_OCSP_CERTSTATUS_REVOKED: return "revoked";
    default: return "unknown";
    }
}

static const char *rev_response_status_name(int st)
{
    switch (st) {
    case OCSP_RESPONSE_STATUS_SUCCESSFUL: return "successful";
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return "malformedRequest";
    case OCSP_RESPONSE_STATUS_INTERNALERROR: return "internalError";
    case OCSP_RESPONSE_STATUS_TRYLATER: return "tryLater";
    case OCSP_RESPONSE_STATUS_SIGREQUIRED: return "sigRequired";
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED: return "unauthorized";
    default: return "unknownStatus";
    }
}

/* How grave a certificate status is: revoked over unknown over good. */
static int rev_gravity(int st)
{
    return st == V_OCSP_CERTSTATUS_REVOKED ? 2 : st == V_OCSP_CERTSTATUS_GOOD ? 0 : 1;
}

/* Sets field k of the table at -1 to the Unix time of t (when t is readable). */
static int rev_set_time(lua_State *L, const ASN1_GENERALIZEDTIME *t, const char *k, long long *out)
{
    long long v;
    if (t == NULL || cc_asn1_time_to_unix(t, &v) != 0)
        return -1;
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
    if (out != NULL)
        *out = v;
    return 0;
}

/* Sets ok = false, problem = code, detail = text on the result table at -1;
 * returns 1 (the result). */
static int rev_problem(lua_State *L, rev_scratch *s, const char *code, const char *detail)
{
    if (s != NULL)
        rev_scratch_free(s);
    ERR_clear_error();
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "ok");
    lua_pushstring(L, code);
    lua_setfield(L, -2, "problem");
    lua_pushstring(L, detail);
    lua_setfield(L, -2, "detail");
    return 1;
}

/* Is signer, which is not issuer, a responder the issuer delegated to (RFC 6960
 * 4.2.2.2): issued by issuer (name and key identifier), signed by issuer's key,
 * with id-kp-OCSPSigning, within its validity at the time when (± skew)? */
static const char *rev_delegation_problem(X509 *signer, X509 *issuer, long long when, long long skew)
{
    long long nb, na;
    EVP_PKEY *ikey = X509_get0_pubkey(issuer);              /* borrowed */

    if (X509_check_issued(issuer, signer) != X509_V_OK)
        return "the responder certificate is not issued by the certificate's issuer";
    if (ikey == NULL || X509_verify(signer, ikey) != 1)
        return "the responder certificate's signature is not the issuer's";
    if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) == 0
        || (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0)
        return "the responder certificate lacks id-kp-OCSPSigning";
    if (cc_asn1_time_to_unix(X509_get0_notBefore(signer), &nb) != 0
        || cc_asn1_time_to_unix(X509_get0_notAfter(signer), &na) != 0)
        return "the responder certificate's dates cannot be read";
    if (nb > when + skew || na < when - skew)
        return "the responder certificate is not valid at the verification time";
    return NULL;
}

/* Reads the options table at argument 4, {time = T [, skew = S]}, of ocsp_check and
 * crl_status into when and skew (left as it is when absent); raises for a bad value. */
static void rev_check_time(lua_State *L, lua_Integer *when, lua_Integer *skew)
{
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_getfield(L, 4, "time");
    luaL_argcheck(L, cc_tointeger(L, -1, when) && *when >= 0 && *when <= CC_MAX_TIME, 4,
                  "time: integer Unix seconds between 0 and 253402300799 expected");
    lua_getfield(L, 4, "skew");
    luaL_argcheck(L, lua_isnil(L, -1) || (cc_tointeger(L, -1, skew) && *skew >= 0 && *skew <= 86400),
                  4, "skew: integer seconds between 0 and 86400 expected");
    lua_pop(L, 2);
}

/* ocsp_check(response_der, request_der, issuer, {time = T [, skew = S]}) ->
 * result table. Bad data is a result, never an error:
 *   {ok = true, response_status = "successful", status = "good"|"revoked"|"unknown",
 *    this_update, next_update?, revoked_at?, reason?, responder = "issuer"|"delegated",
 *    responder_subject, nonce = "ok"|"absent"|"not_echoed"}
 *   {ok = false, problem = "malformed"|"<responseStatus>"|"no_signer"|"unauthorized_responder"
 *    |"bad_signature"|"wrong_certificate"|"not_yet_valid"|"stale"|"nonce_mismatch", detail}
 * issuer must be the certificate's issuer as verified against the store: the
 * response is trusted only when it is signed by it or by its delegated responder. */
static int rev_ocsp_check(lua_State *L)
{
    size_t rlen, qlen;
    const char *rder = cc_checkbytes(L, 1, &rlen);
    const char *qder = cc_checkbytes(L, 2, &qlen);
    X509 *issuer = cert_check(L, 3), *signer = NULL;
    const unsigned char *p;
    lua_Integer when = 0, skew = REV_DEFAULT_SKEW;
    rev_scratch *s;
    OCSP_ONEREQ *one;
    OCSP_SINGLERESP *single;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    EVP_PKEY *skey;
    const char *why;
    int st, reason = -1, idx, next, status, nonce;
    long long tu, nu;

    rev_check_time(L, &when, &skew);
    lua_settop(L, 4);
    ERR_clear_error();
    s = rev_scratch_new(L);                                 /* 5: s */
    lua_newtable(L);                                         /* 6: result */
    if (rlen > (size_t)CC_MAX_INPUT || qlen > (size_t)CC_MAX_INPUT)
        return rev_problem(L, s, "malformed", "the OCSP response is too large");
    p = (const unsigned char *)qder;
    s->req = d2i_OCSP_REQUEST(NULL, &p, (long)qlen);
    if (s->req == NULL || p != (const unsigned char *)qder + qlen
        || OCSP_request_onereq_count(s->req) != 1)
        luaL_argerror(L, 2, "not an OCSP request from ocsp_request");
    p = (const unsigned char *)rder;
    s->resp = d2i_OCSP_RESPONSE(NULL, &p, (long)rlen);
    if (s->resp == NULL || p != (const unsigned char *)rder + rlen)
        return rev_problem(L, s, "malformed", "not a DER OCSP response");
    st = OCSP_response_status(s->resp);
    lua_pushstring(L, rev_response_status_name(st));
    lua_setfield(L, -2, "response_status");
    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL)
        return rev_problem(L, s, rev_response_status_name(st),
                            "the responder did not answer with a status (responseStatus)");
    s->bs = OCSP_response_get1_basic(s->resp);
    if (s->bs == NULL)
        return rev_problem(L, s, "malformed", "not a basic OCSP response");

    /* the signer: found by ResponderID among the response's certificates and the issuer */
    s->extra = sk_X509_new_null();
    if (s->extra == NULL || !sk_X509_push(s->extra, issuer))
        return rev_problem(L, s, "malformed", "out of memory");
    if (OCSP_resp_get0_signer(s->bs, &signer, s->extra) != 1 || signer == NULL)
        return rev_problem(L, s, "no_signer", "the responder's certificate is not in the response");
    if (X509_cmp(signer, issuer) == 0) {
        lua_pushliteral(L, "issuer");
    } else {
        why = rev_delegation_problem(signer, issuer, (long long)when, (long long)skew);
        if (why != NULL)
            return rev_problem(L, s, "unauthorized_responder", why);
        lua_pushliteral(L, "delegated");
    }
    lua_setfield(L, -2, "responder");
    cc_push_name_string(L, X509_get_subject_name(signer));
    lua_setfield(L, -2, "responder_subject");
    skey = X509_get0_pubkey(signer);                         /* borrowed */
    if (skey == NULL
        || ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(s->bs),
                            OCSP_resp_get0_signature(s->bs), OCSP_resp_get0_respdata(s->bs),
                            skey) != 1)
        return rev_problem(L, s, "bad_signature", "the response's signature does not verify");

    /* the single response for the CertID asked for; when the response holds
     * several, the gravest counts (revoked, then unknown), never the first */
    one = OCSP_request_onereq_get0(s->req, 0);               /* borrowed */
    idx = OCSP_resp_find(s->bs, OCSP_onereq_get0_id(one), -1);
    if (idx < 0)
        return rev_problem(L, s, "wrong_certificate",
                            "the response does not answer for the certificate asked about");
    for (next = idx; (next = OCSP_resp_find(s->bs, OCSP_onereq_get0_id(one), next)) >= 0;) {
        int now = OCSP_single_get0_status(OCSP_resp_get0(s->bs, next), NULL, NULL, NULL, NULL);
        int was = OCSP_single_get0_status(OCSP_resp_get0(s->bs, idx), NULL, NULL, NULL, NULL);
        if (now < 0 || was < 0)
            return rev_problem(L, s, "malformed", "a status of the response cannot be read");
        if (rev_gravity(now) > rev_gravity(was))
            idx = next;
    }
    single = OCSP_resp_get0(s->bs, idx);                     /* borrowed */
    status = OCSP_single_get0_status(single, &reason, &rev, &thisupd, &nextupd);
    if (status < 0 || rev_set_time(L, thisupd, "this_update", &tu) != 0)
        return rev_problem(L, s, "malformed", "the response's thisUpdate cannot be read");
    if (nextupd != NULL && rev_set_time(L, nextupd, "next_update", &nu) != 0)
        return rev_problem(L, s, "malformed", "the response's nextUpdate cannot be read");
    if (tu > (long long)when + skew)
        return rev_problem(L, s, "not_yet_valid", "the response's thisUpdate is in the future");
    if (nextupd != NULL && nu < (long long)when - skew)
        return rev_problem(L, s, "stale", "the response's nextUpdate has passed");
    if (nextupd != NULL && nu < tu)
        return rev_problem(L, s, "malformed", "the response's nextUpdate is before its thisUpdate");

    nonce = OCSP_check_nonce(s->req, s->bs);
    if (nonce == 0)
        return rev_problem(L, s, "nonce_mismatch", "the response's nonce is not the request's");
    lua_pushstring(L, nonce == 1 ? "ok" : nonce == -1 ? "not_echoed" : "absent");
    lua_setfield(L, -2, "nonce");

    lua_pushstring(L, rev_status_name(status));
    lua_setfield(L, -2, "status");
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
        if (rev != NULL)
            rev_set_time(L, rev, "revoked_at", NULL);
        lua_pushstring(L, crl_reason_name(reason));
        lua_setfield(L, -2, "reason");
    }
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    rev_scratch_free(s);
    ERR_clear_error();
    return 1;
}

/* Do two distribution point names name the same point (OpenSSL's idp_check_dp):
 * a fullName in both with a GeneralName in common, or the X.500 names (a
 * nameRelativeToCRLIssuer completed with iname, or a directoryName of a
 * fullName) equal? a and b are owned by the caller (their dpname is set here). */
static int rev_dpname_match(DIST_POINT_NAME *a, DIST_POINT_NAME *b, const X509_NAME *iname)
{
    GENERAL_NAMES *gens = NULL;                              /* borrowed */
    X509_NAME *nm = NULL;                                    /* borrowed */
    int i, j;

    if (a->type == 1 && !DIST_POINT_set_dpname(a, iname))
        return 0;
    if (b->type == 1 && !DIST_POINT_set_dpname(b, iname))
        return 0;
    if (a->type == 1 && b->type == 1)
        return a->dpname != NULL && b->dpname != NULL && X509_NAME_cmp(a->dpname, b->dpname) == 0;
    if (a->type == 1 || b->type == 1) {
        nm = a->type == 1 ? a->dpname : b->dpname;
        gens = a->type == 1 ? b->name.fullname : a->name.fullname;
        for (i = 0; nm != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
            if (g->type == GEN_DIRNAME && X509_NAME_cmp(nm, g->d.directoryName) == 0)
                return 1;
        }
        return 0;
    }
    for (i = 0; i < sk_GENERAL_NAME_num(a->name.fullname); i++)
        for (j = 0; j < sk_GENERAL_NAME_num(b->name.fullname); j++)
            if (GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a->name.fullname, i),
                                 sk_GENERAL_NAME_value(b->name.fullname, j)) == 0)
                return 1;
    return 0;
}

/* Does one of cert's CRL distribution points (without a cRLIssuer: the CRL's
 * issuer is cert's) name the distribution point idp_dp of a CRL issued by
 * cert's issuer (RFC 5280 6.3.3 b.2.i)? */
static int rev_crldp_names(X509 *cert, DIST_POINT_NAME *idp_dp)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL); /* owns */
    int i, found = 0;

    for (i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);        /* borrowed from dps */
        if (dp->distpoint != NULL && dp->CRLissuer == NULL)
            found = rev_dpname_match(dp->distpoint, idp_dp, X509_get_issuer_name(cert));
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return found;
}

/* Has the CRL, or one of its entries, a critical extension that this check
 * does not process (RFC 5280 5.2, 5.3: then the CRL cannot be used)? Handled,
 * as in OpenSSL's crl_cb and crl_set_issuers: issuingDistributionPoint,
 * authorityKeyIdentifier, deltaCRLIndicator; certificateIssuer on an entry. */
static int rev_crl_unhandled_critical(X509_CRL *crl)
{
    STACK_OF(X509_REVOKED) *revoked = X509_CRL_get_REVOKED(crl); /* borrowed */
    int i, j;

    for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        X509_EXTENSION *ext = X509_CRL_get_ext(crl, i);      /* borrowed */
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
        if (X509_EXTENSION_get_critical(ext) && nid != NID_issuing_distribution_point
            && nid != NID_authority_key_identifier && nid != NID_delta_crl)
            return 1;
    }
    for (i = 0; i < sk_X509_REVOKED_num(revoked); i++) {
        const STACK_OF(X509_EXTENSION) *exts = X509_REVOKED_get0_extensions(sk_X509_REVOKED_value(revoked, i));
        for (j = 0; j < sk_X509_EXTENSION_num(exts); j++) {
            X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, j); /* borrowed */
            if (X509_EXTENSION_get_critical(ext)
                && OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_certificate_issuer)
                return 1;
        }
    }
    return 0;
}

/* Why a CRL issued by issuer does not speak for cert (RFC 5280 5.2.5, 6.3.3),
 * or NULL when it is a complete CRL covering cert and every reason. */
static const char *rev_crl_scope_problem(X509_CRL *crl, X509 *cert)
{
    int crit = 0;
    ISSUING_DIST_POINT *idp;
    const char *why = NULL;
    void *delta = X509_CRL_get_ext_d2i(crl, NID_delta_crl, &crit, NULL);

    if (delta != NULL) {
        ASN1_INTEGER_free(delta);
        return "it is a delta CRL";
    }
    if (crit == -2)
        return "its deltaCRLIndicator appears twice";
    if (crit != -1)
        return "its deltaCRLIndicator cannot be read";
    if (rev_crl_unhandled_critical(crl))
        return "it has a critical extension that is not processed here";
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    if (idp == NULL)
        return crit == -1 ? NULL : "its issuingDistributionPoint cannot be read";
    if (idp->indirectCRL > 0)
        why = "it is an indirect CRL";
    else if (idp->onlysomereasons != NULL)
        why = "it covers only some revocation reasons";
    else if (idp->onlyattr > 0)
        why = "it covers attribute certificates only";
    else if (idp->onlyuser > 0 && (X509_get_extension_flags(cert) & EXFLAG_CA) != 0)
        why = "it covers end-entity certificates only";
    else if (idp->onlyCA > 0 && (X509_get_extension_flags(cert) & EXFLAG_CA) == 0)
        why = "it covers CA certificates only";
    else if (idp->distpoint != NULL && !rev_crldp_names(cert, idp->distpoint))
        why = "it covers the certificates of another distribution point";
    ISSUING_DIST_POINT_free(idp);
    return why;
}

/* crl_status(crl, cert, issuer, {time = T [, skew = S]}) -> result table for a
 * CRL fetched from cert's distribution point, never an error for bad data:
 *   {ok = true, status = "good"|"revoked", this_update, next_update?, revoked_at?, reason?}
 *   {ok = false, problem = "wrong_issuer"|"bad_signature"|"scope"|"not_yet_valid"|"stale"
 *    |"malformed", detail}
 * issuer must be cert's issuer as verified against the store. signature_verified
 * = true (internal, for lua/clientcert/revocation.lua's memo of this very CRL
 * object and issuer key) skips the signature check. */
static int rev_crl_status(lua_State *L)
{
    X509_CRL *crl = crl_check(L, 1);
    X509 *cert = cert_check(L, 2), *issuer = cert_check(L, 3);
    EVP_PKEY *ikey = X509_get0_pubkey(issuer);               /* borrowed */
    X509_REVOKED *rev = NULL;                                /* borrowed from crl */
    lua_Integer when = 0, skew = REV_DEFAULT_SKEW;
    long long tu, nu;
    const char *why;
    int crit = 0, sig_known;
    ASN1_ENUMERATED *code;

    rev_check_time(L, &when, &skew);
    lua_getfield(L, 4, "signature_verified");                /* internal: the caller's memo */
    sig_known = lua_toboolean(L, -1);
    lua_settop(L, 4);
    ERR_clear_error();
    lua_newtable(L);                                         /* result */
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0
        || X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
        return rev_problem(L, NULL, "wrong_issuer", "the CRL is not issued by the certificate's issuer");
    if (!sig_known && (ikey == NULL || X509_CRL_verify(crl, ikey) != 1))
        return rev_problem(L, NULL, "bad_signature", "the CRL's signature is not the issuer's");
    if ((why = rev_crl_scope_problem(crl, cert)) != NULL)
        return rev_problem(L, NULL, "scope", why);
    if (cc_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl), &tu) != 0)
        return rev_problem(L, NULL, "malformed", "the CRL's thisUpdate cannot be read");
    lua_pushinteger(L, (lua_Integer)tu);
    lua_setfield(L, -2, "this_update");
    if (X509_CRL_get0_nextUpdate(crl) != NULL) {
        if (cc_asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl), &nu) != 0)
            return rev_problem(L, NULL, "malformed", "the CRL's nextUpdate cannot be read");
        lua_pushinteger(L, (lua_Integer)nu);
        lua_setfield(L, -2, "next_update");
        if (nu < (long long)when - skew)
            return rev_problem(L, NULL, "stale", "the CRL's nextUpdate has passed");
    }
    if (tu > (long long)when + skew)
        return rev_problem(L, NULL, "not_yet_valid", "the CRL's thisUpdate is in the future");
    if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1 && rev != NULL) {
        long long at;
        lua_pushliteral(L, "revoked");
        lua_setfield(L, -2, "status");
        if (cc_asn1_time_to_unix(X509_REVOKED_get0_revocationDate(rev), &at) == 0) {
            lua_pushinteger(L, (lua_Integer)at);
            lua_setfield(L, -2, "revoked_at");
        }
        code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL); /* owns */
        why = crl_reason_name(code != NULL ? (int)ASN1_ENUMERATED_get(code) : -1); /* static */
        ASN1_ENUMERATED_free(code);
        lua_pushstring(L, why);
        lua_setfield(L, -2, "reason");
    } else {
        lua_pushliteral(L, "good");
        lua_setfield(L, -2, "status");
    }
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "ok");
    ERR_clear_error();
    return 1;
}

/* cert_urls(cert) -> {ocsp_urls = {...}, ca_issuers_urls = {...}, crl_urls = {...}} */
static int rev_cert_urls(lua_State *L)
{
    X509 *x = cert_check(L, 1);
    lua_newtable(L);
    rev_push_cert_urls(L, x);
    return 1;
}

int rev_open(lua_State *L)
{
    static const luaL_Reg scratch_meta[] = { { "__gc", rev_scratch_gc }, { NULL, NULL } };

    cc_new_class(L, REV_SCRATCH_MT, scratch_meta, NULL);
    lua_pushcfunction(L, rev_ocsp_request);
    lua_setfield(L, -2, "ocsp_request");
    lua_pushcfunction(L, rev_ocsp_check);
    lua_setfield(L, -2, "ocsp_check");
    lua_pushcfunction(L, rev_crl_status);
    lua_setfield(L, -2, "crl_status");
    lua_pushcfunction(L, rev_cert_urls);
    lua_setfield(L, -2, "cert_urls");
    return 0;
}
