/* raw_openssl.c: the baseline rows of bench/bench.lua: the same work done with
 * plain OpenSSL calls, on the PKI of bench/mkpki.sh, in loops; CPU time per op.
 * usage: raw_openssl PKI_DIR N N_BIG TIME
 * prints one line per row, "<row> <seconds per op>":
 *   raw        PEM parse of the leaf + X509_verify_cert (prebuilt store with the
 *              root, the intermediate parsed once and passed as untrusted)
 *   raw_crl    the same with root.crl and inter.crl in the store, CRL check of
 *              the whole chain (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)
 *   raw_100k   the same with root.crl and inter-100k.crl (N_BIG iterations)
 *   floor      the two signature checks of the chain alone: X509_verify of the
 *              leaf with the intermediate's key and of the intermediate with the
 *              root's key (certificates and keys parsed once) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* The contents of DIR/NAME, NUL-terminated; the caller frees it. */
static char *slurp(const char *dir, const char *name, long *len)
{
    char path[4096];
    FILE *f;
    char *buf;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    buf = malloc((size_t)*len + 1);
    if (buf == NULL || fread(buf, 1, (size_t)*len, f) != (size_t)*len) { perror(path); exit(2); }
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* An X509 from PEM text (the caller owns it). */
static X509 *pem_x509(const char *pem, long len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return x;
}

static X509 *load_cert(const char *dir, const char *name)
{
    long len;
    char *pem = slurp(dir, name, &len);
    X509 *x = pem_x509(pem, len);
    free(pem);
    if (x == NULL) { fprintf(stderr, "raw_openssl: cannot read %s\n", name); exit(2); }
    return x;
}

static X509_CRL *load_crl(const char *dir, const char *name)
{
    long len;
    char *der = slurp(dir, name, &len);
    const unsigned char *p = (const unsigned char *)der;
    X509_CRL *c = d2i_X509_CRL(NULL, &p, len);
    free(der);
    if (c == NULL) { fprintf(stderr, "raw_openssl: cannot read %s\n", name); exit(2); }
    return c;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A store holding root (one reference taken) and the CRLs named (NULL-terminated). */
static X509_STORE *make_store(const char *dir, X509 *root, const char **crls)
{
    X509_STORE *s = X509_STORE_new();
    if (s == NULL || X509_STORE_add_cert(s, root) != 1) exit(2);
    for (; crls && *crls; crls++) {
        X509_CRL *c = load_crl(dir, *crls);
        if (X509_STORE_add_crl(s, c) != 1) exit(2);
        X509_CRL_free(c); /* the store holds its own reference */
    }
    return s;
}

/* Seconds per op of: parse the leaf's PEM, verify it with inter as untrusted. */
static double verify_loop(X509_STORE *store, X509 *inter, const char *pem, long len, long n,
                          time_t when, unsigned long flags)
{
    long i;
    double t0;
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (chain == NULL || !sk_X509_push(chain, inter)) exit(2); /* borrows inter */
    t0 = now();
    for (i = 0; i < n; i++) {
        X509 *leaf = pem_x509(pem, len);
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        if (leaf == NULL || ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) exit(2);
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), when);
        if (flags) X509_STORE_CTX_set_flags(ctx, flags);
        if (X509_verify_cert(ctx) != 1) {
            fprintf(stderr, "raw_openssl: verification failed: %s\n",
                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
            exit(1);
        }
        X509_STORE_CTX_free(ctx);
        X509_free(leaf);
    }
    t0 = (now() - t0) / n;
    sk_X509_free(chain);
    return t0;
}

int main(int argc, char **argv)
{
    const char *dir;
    const char *crls[] = { "root.crl.der", "inter.crl.der", NULL };
    const char *crls_100k[] = { "root.crl.der", "inter-100k.crl.der", NULL };
    const unsigned long crl_flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    long n, n_big, len, i;
    time_t when;
    char *leaf_pem;
    X509 *root, *inter, *leaf;
    EVP_PKEY *inter_key, *root_key;
    X509_STORE *store;
    double t0;

    if (argc != 5) { fprintf(stderr, "usage: raw_openssl PKI_DIR N N_BIG TIME\n"); return 2; }
    dir = argv[1];
    n = atol(argv[2]);
    n_big = atol(argv[3]);
    when = (time_t)atol(argv[4]);
    if (n < 1 || n_big < 1) return 2;
    leaf_pem = slurp(dir, "alice.pem", &len);
    root = load_cert(dir, "root.pem");
    inter = load_cert(dir, "inter.pem");

    /* warm up (first calls load providers, build method caches) */
    store = make_store(dir, root, NULL);
    verify_loop(store, inter, leaf_pem, len, 2, when, 0);
    printf("raw %.9f\n", verify_loop(store, inter, leaf_pem, len, n, when, 0));
    X509_STORE_free(store);

    store = make_store(dir, root, crls);
    verify_loop(store, inter, leaf_pem, len, 2, when, crl_flags);
    printf("raw_crl %.9f\n", verify_loop(store, inter, leaf_pem, len, n, when, crl_flags));
    X509_STORE_free(store);

    store = make_store(dir, root, crls_100k);
    verify_loop(store, inter, leaf_pem, len, 1, when, crl_flags);
    printf("raw_100k %.9f\n", verify_loop(store, inter, leaf_pem, len, n_big, when, crl_flags));
    X509_STORE_free(store);

    /* the floor: the chain's two signatures, nothing else */
    leaf = pem_x509(leaf_pem, len);
    inter_key = X509_get0_pubkey(inter);   /* borrowed from inter */
    root_key = X509_get0_pubkey(root);     /* borrowed from root */
    if (leaf == NULL || inter_key == NULL || root_key == NULL) return 2;
    if (X509_verify(leaf, inter_key) != 1 || X509_verify(inter, root_key) != 1) {
        fprintf(stderr, "raw_openssl: a signature does not verify\n");
        return 1;
    }
    t0 = now();
    for (i = 0; i < n; i++) {
        if (X509_verify(leaf, inter_key) != 1 || X509_verify(inter, root_key) != 1) return 1;
    }
    printf("floor %.9f\n", (now() - t0) / n);

    X509_free(leaf);
    X509_free(inter);
    X509_free(root);
    free(leaf_pem);
    return 0;
}
