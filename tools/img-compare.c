/*
 * img-compare.c: hvmdm-img compare: are two images' guest contents equal?
 * Exit statuses as qemu-img compare: 0 identical, 1 different, 2 an image
 * could not be opened, 4 a read failed. Ranges both chains know to be zeros
 * are not read. Images of different sizes are equal when the extra part of
 * the bigger one reads as zeros, unless -s (strict).
 */
#include <getopt.h>
#include <stdio.h>

#include "img.h"

#define CMP_CHUNK DM_MiB
#define CMP_SECTOR 512
#define CMP_EXIT_DIFFERENT 1
#define CMP_EXIT_OPEN 2
#define CMP_EXIT_READ 4

struct cmp_side {
    struct blk *b;
    struct img_chain chain;
};

static bool cmp_is_zero_range(struct cmp_side *s, uint64_t off, uint64_t len,
                              uint64_t *n)
{
    struct img_extent e;

    if (img_chain_status(&s->chain, off, len, &e) < 0) {
        *n = MIN(len, CMP_CHUNK);
        return false;
    }
    *n = e.len;
    return e.zero || !e.present;
}

/* First byte where A and B differ, rounded down to a sector, or -1. */
static int64_t cmp_first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t s = 0; s < len; s += CMP_SECTOR) {
        size_t n = MIN((size_t)CMP_SECTOR, len - s);
        if (memcmp(a + s, b + s, n)) {
            return (int64_t)s;
        }
    }
    return -1;
}

/* Compare [off, end) of both; 0 equal, else an exit status. */
static int cmp_common(struct cmp_side *x, struct cmp_side *y, uint64_t end)
{
    uint8_t *ba = g_malloc(CMP_CHUNK), *bb = g_malloc(CMP_CHUNK);
    uint64_t off = 0;
    int ret = 0;

    while (off < end && ret == 0) {
        uint64_t na, nb, n;
        bool za = cmp_is_zero_range(x, off, end - off, &na);
        bool zb = cmp_is_zero_range(y, off, end - off, &nb);
        int64_t d;

        n = MIN(na, nb);
        if (za && zb) {
            off += n;
            continue;
        }
        n = MIN(n, CMP_CHUNK);
        if (blk_pread(x->b, off, ba, n) < 0 ||
            blk_pread(y->b, off, bb, n) < 0) {
            img_error("error while reading at byte %" PRIu64, off);
            ret = CMP_EXIT_READ;
            break;
        }
        d = cmp_first_diff(ba, bb, n);
        if (d >= 0) {
            printf("Content mismatch at offset %" PRIu64 "!\n",
                   off + (uint64_t)d);
            ret = CMP_EXIT_DIFFERENT;
        }
        off += n;
    }
    g_free(ba);
    g_free(bb);
    return ret;
}

/* The part of the bigger image S past START must read as zeros. */
static int cmp_tail(struct cmp_side *s, uint64_t start)
{
    uint8_t *buf = g_malloc(CMP_CHUNK);
    uint64_t off = start, end = blk_size(s->b);
    int ret = 0;

    while (off < end && ret == 0) {
        uint64_t n;
        if (cmp_is_zero_range(s, off, end - off, &n)) {
            off += n;
            continue;
        }
        n = MIN(n, CMP_CHUNK);
        if (blk_pread(s->b, off, buf, n) < 0) {
            img_error("error while reading at byte %" PRIu64, off);
            ret = CMP_EXIT_READ;
            break;
        }
        for (uint64_t k = 0; k < n; k++) {
            if (buf[k]) {
                printf("Content mismatch at offset %" PRIu64 "!\n",
                       off + (k & ~(uint64_t)(CMP_SECTOR - 1)));
                ret = CMP_EXIT_DIFFERENT;
                break;
            }
        }
        off += n;
    }
    g_free(buf);
    return ret;
}

static bool cmp_open(struct cmp_side *s, const char *file, enum blk_format f)
{
    GError *err = NULL;

    s->b = img_open(file, f, false, BLK_CACHE_WRITEBACK, &err);
    if (s->b && !img_chain_open(&s->chain, s->b, &err)) {
        blk_close(s->b);
        s->b = NULL;
    }
    if (!s->b) {
        img_fail(err);
        return false;
    }
    return true;
}

static void cmp_close(struct cmp_side *s)
{
    if (s->b) {
        img_chain_close(&s->chain);
        blk_close(s->b);
    }
}

int img_compare(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum blk_format fa = BLK_FORMAT_PROBE, fb = BLK_FORMAT_PROBE;
    struct cmp_side x = { 0 }, y = { 0 };
    bool strict = false, quiet = false;
    GError *err = NULL;
    uint64_t sa, sb;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":f:F:T:spqU", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
        case 'F':
            if (!img_parse_format(optarg, c == 'f' ? &fa : &fb, &err)) {
                img_fail(err);
                return CMP_EXIT_OPEN;
            }
            break;
        case 's':
            strict = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'p':
        case 'T':
        case 'U':
            break;
        case ':':
            img_usage_error("compare", "option -%c needs an argument", optopt);
            return CMP_EXIT_OPEN;
        default:
            img_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
            return CMP_EXIT_OPEN;
        }
    }
    if (argc - optind != 2) {
        img_usage_error("compare", "expected two image files");
        return CMP_EXIT_OPEN;
    }
    if (!cmp_open(&x, argv[optind], fa) ||
        !cmp_open(&y, argv[optind + 1], fb)) {
        cmp_close(&x);
        return CMP_EXIT_OPEN;
    }
    sa = blk_size(x.b);
    sb = blk_size(y.b);
    if (sa != sb && strict) {
        printf("Strict mode: Image size mismatch!\n");
        ret = CMP_EXIT_DIFFERENT;
        goto out;
    }
    if (sa != sb && !quiet) {
        printf("Warning: Image size mismatch!\n");
    }
    ret = cmp_common(&x, &y, MIN(sa, sb));
    if (ret == 0 && sa != sb) {
        ret = cmp_tail(sa > sb ? &x : &y, MIN(sa, sb));
    }
    if (ret == 0 && !quiet) {
        printf("Images are identical.\n");
    }
out:
    cmp_close(&x);
    cmp_close(&y);
    return ret;
}
