/* raw_scan.c: the baseline of bench/scan.lua: what `clientcert scan` does, with
 * plain OpenSSL calls: walk a directory tree (nftw, links not followed), read each
 * regular file, parse it (PEM: every certificate; else one DER certificate), and
 * verify the first certificate against a store of ROOTS, the rest of the file and
 * INTERMEDIATES as untrusted, at TIME, for client authentication.
 * usage: raw_scan ROOTS.pem INTERMEDIATES.pem|- DIR TIME
 * prints: files <n> certificates <n> ok <n> cpu <seconds> */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define MAX_FILE (1024 * 1024)

static X509_STORE *store;
static STACK_OF(X509) *inters;     /* owned: the --intermediates certificates */
static time_t when;
static long files, certs, ok;
static unsigned char buf[MAX_FILE + 1];

static STACK_OF(X509) *read_pem(const unsigned char *data, long len)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    STACK_OF(X509) *list = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        sk_X509_push(list, x);
    BIO_free(bio);
    return list;
}

static void scan_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t len;
    STACK_OF(X509) *list, *untrusted;
    X509_STORE_CTX *ctx;
    int i;

    files++;
    if (f == NULL)
        return;
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (len > MAX_FILE)
        return;
    buf[len] = 0;
    if (strstr((const char *)buf, "-----BEGIN ") != NULL) {
        list = read_pem(buf, (long)len);
    } else {
        const unsigned char *p = buf;
        X509 *x = d2i_X509(NULL, &p, (long)len);
        list = sk_X509_new_null();
        if (x != NULL)
            sk_X509_push(list, x);
    }
    if (sk_X509_num(list) == 0) {
        sk_X509_free(list);
        return;
    }
    certs++;
    untrusted = sk_X509_new_null();
    for (i = 1; i < sk_X509_num(list); i++)
        sk_X509_push(untrusted, sk_X509_value(list, i));
    for (i = 0; i < sk_X509_num(inters); i++)
        sk_X509_push(untrusted, sk_X509_value(inters, i));
    ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, sk_X509_value(list, 0), untrusted);
    X509_STORE_CTX_set_time(ctx, 0, when);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx) == 1)
        ok++;
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_pop_free(list, X509_free);
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_F && S_ISREG(st->st_mode))
        scan_file(path);
    return 0;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    FILE *f;
    double t0;
    long len;
    STACK_OF(X509) *roots;
    int i;

    if (argc != 5) {
        fprintf(stderr, "usage: raw_scan ROOTS INTERMEDIATES|- DIR TIME\n");
        return 2;
    }
    when = (time_t)atol(argv[4]);
    t0 = cpu();
    store = X509_STORE_new();
    f = fopen(argv[1], "rb");
    if (f == NULL) { perror(argv[1]); return 2; }
    len = (long)fread(buf, 1, sizeof(buf), f);
    fclose(f);
    roots = read_pem(buf, len);
    for (i = 0; i < sk_X509_num(roots); i++)
        X509_STORE_add_cert(store, sk_X509_value(roots, i));
    sk_X509_pop_free(roots, X509_free);
    inters = sk_X509_new_null();
    if (strcmp(argv[2], "-") != 0) {
        f = fopen(argv[2], "rb");
        if (f == NULL) { perror(argv[2]); return 2; }
        len = (long)fread(buf, 1, sizeof(buf), f);
        fclose(f);
        sk_X509_pop_free(inters, X509_free);
        inters = read_pem(buf, len);
    }
    nftw(argv[3], visit, 64, FTW_PHYS);
    printf("files %ld certificates %ld ok %ld cpu %.6f\n", files, certs, ok, cpu() - t0);
    sk_X509_pop_free(inters, X509_free);
    X509_STORE_free(store);
    return 0;
}
