/* pkits_openssl.c: OpenSSL's own verdicts on NIST PKITS runs, for the PKITS
 * conformance spec (spec/conformance/pkits_spec.lua), without clientcert: each
 * run's signed message gives the path and the CRLs, its signer is verified by
 * X509_verify_cert against the trust anchor at the given time.
 * Usage: pkits_openssl ANCHOR.crt TIME < runs; a run is one line
 * "id message.eml flag,flag,... policy,policy,..." ("-": none); prints
 * "id code" per run (the X509_V_ERR_* number, 0 = verified; -1 = the message
 * could not be read: the spec fails). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static const struct { const char *name; unsigned long flag; } flags[] = {
    {"crl_check", X509_V_FLAG_CRL_CHECK},
    {"crl_check_all", X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL},
    {"x509_strict", X509_V_FLAG_X509_STRICT},
    {"policy_check", X509_V_FLAG_POLICY_CHECK},
    {"explicit_policy", X509_V_FLAG_EXPLICIT_POLICY},
    {"inhibit_map", X509_V_FLAG_INHIBIT_MAP},
    {"inhibit_any", X509_V_FLAG_INHIBIT_ANY},
    {"extended_crl", X509_V_FLAG_EXTENDED_CRL_SUPPORT},
    {"use_deltas", X509_V_FLAG_USE_DELTAS},
    {NULL, 0}
};

/* The verify error of one run, or -1 when the message cannot be read. */
static int run(X509 *anchor, time_t when, const char *path, char *flaglist, char *policies)
{
    BIO *in = BIO_new_file(path, "rb");
    PKCS7 *p7 = NULL;
    STACK_OF(X509) *signers = NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_VERIFY_PARAM *param;
    unsigned long fl = 0;
    char *tok;
    int code = -1, i;

    if (in == NULL || store == NULL || ctx == NULL || !X509_STORE_add_cert(store, anchor))
        goto cleanup;
    p7 = SMIME_read_PKCS7(in, NULL);
    if (p7 == NULL || !PKCS7_type_is_signed(p7))
        goto cleanup;
    signers = PKCS7_get0_signers(p7, NULL, 0);               /* borrowed certs */
    if (signers == NULL || sk_X509_num(signers) != 1)
        goto cleanup;
    if (!X509_STORE_CTX_init(ctx, store, sk_X509_value(signers, 0), p7->d.sign->cert))
        goto cleanup;
    X509_STORE_CTX_set0_crls(ctx, p7->d.sign->crl);
    if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
        goto cleanup;
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, when);
    for (tok = strtok(flaglist, ","); tok != NULL; tok = strtok(NULL, ",")) {
        for (i = 0; flags[i].name != NULL && strcmp(flags[i].name, tok) != 0; i++)
            ;
        if (flags[i].name == NULL) {
            if (strcmp(tok, "-") != 0)
                goto cleanup;
            continue;
        }
        fl |= flags[i].flag;
    }
    X509_VERIFY_PARAM_set_flags(param, fl);
    for (tok = strtok(policies, ","); tok != NULL; tok = strtok(NULL, ",")) {
        ASN1_OBJECT *obj;
        if (strcmp(tok, "-") == 0)
            continue;
        obj = OBJ_txt2obj(tok, 1);
        if (obj == NULL || !X509_VERIFY_PARAM_add0_policy(param, obj)) {
            ASN1_OBJECT_free(obj);
            goto cleanup;
        }
    }
    code = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
cleanup:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(signers);
    PKCS7_free(p7);
    BIO_free(in);
    return code;
}

int main(int argc, char **argv)
{
    FILE *f;
    X509 *anchor;
    char line[4096], id[64], path[2048], fl[512], pol[1024];
    if (argc != 3) {
        fprintf(stderr, "usage: pkits_openssl ANCHOR.crt TIME < runs\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    anchor = f ? d2i_X509_fp(f, NULL) : NULL;
    if (f)
        fclose(f);
    if (anchor == NULL) {
        fprintf(stderr, "pkits_openssl: cannot read %s\n", argv[1]);
        return 1;
    }
    while (fgets(line, sizeof(line), stdin) != NULL) {
        if (sscanf(line, "%63s %2047s %511s %1023s", id, path, fl, pol) != 4)
            continue;
        printf("%s %d\n", id, run(anchor, (time_t)strtoll(argv[2], NULL, 10), path, fl, pol));
    }
    X509_free(anchor);
    return 0;
}
